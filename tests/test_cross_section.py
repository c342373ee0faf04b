"""Cross-sections of the market (hypebt.engine.cross): hand-made bars with values derived by hand,
what a strategy sees of many codes at once before the open and at the close; and the shipped
weekly momentum on the whole real market, its picks recomputed independently from the bars."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers_engine import BENCH, WEEK_ROWS, bars, make_workspace, write_spec, write_store
from hypebt import Strategy
from hypebt.engine import backtest as engine
from hypebt.engine.spec import load_spec

REPO = Path(__file__).resolve().parents[1]
ROWS = WEEK_ROWS[:6]
SEEN: list = []


def market():
    """600000 trades every session; 000001 at half its prices, suspended on 01-04 (no row); 300001
    lists on 01-05 (its first row)."""
    half = [(d, o / 2, h / 2, lo / 2, c / 2) for d, o, h, lo, c in ROWS if d != "2024-01-04"]
    late = [(d, 20.0, 21.0, 19.5, 20.5) for d, *_ in ROWS[3:]]
    return {"600000": bars(10.0, ROWS), "000001": bars(5.0, half), "300001": bars(20.0, late)}


def run(tmp_path, cls, top=None):
    SEEN.clear()
    store = write_store(tmp_path / "store", market(), sessions=[d for d, *_ in ROWS])
    ws = make_workspace(tmp_path / "ws")
    spec = write_spec(ws, "t", {"strategy": "script", "codes": ["600000", "000001", "300001"], "benchmark": BENCH,
                                **(top or {})})
    prep = engine.prepare(load_spec(spec), ws, store, strategy_cls=cls)
    return prep, engine.run(prep, strategy_cls=cls)


def test_cross_section_before_the_open_and_at_the_close(tmp_path):
    class Probe(Strategy):
        def on_open(self, day):
            if self.session_no == 2:  # 01-04: 000001 suspended, 300001 not listed yet
                cs = self.cross_section("close", 2)
                SEEN.append(("open", list(cs.codes), cs.values.tolist(), list(cs.sessions.strftime("%m-%d")),
                             self.members(), self.tradable_mask().tolist()))
                SEEN.append(("open_today", self.cross_section("open", 1, codes=["600000", "000001"]).values.tolist()))

        def on_close(self, day):
            if self.session_no == 3:  # 01-05
                cs = self.cross_section("close", 3)
                SEEN.append(("close", list(cs.codes), cs.values.tolist(), cs.frame().index[-1].strftime("%m-%d")))

    run(tmp_path, Probe)
    # Before the open of 01-04: closes up to 01-03; members are those with a bar today.
    assert SEEN[0] == ("open", ["600000"], [[10.2], [10.6]], ["01-02", "01-03"], ("600000",), [True, False, False])
    # today's open is known before the open; a suspended stock shows its last close
    assert SEEN[1] == ("open_today", [[10.6, 5.3]])
    # At the close of 01-05: every stock with a bar today (300001's first), closes up to today's.
    code_order, values, last = SEEN[2][1], np.array(SEEN[2][2]), SEEN[2][3]
    assert code_order == ["600000", "000001", "300001"] and last == "01-05"
    assert values[:, 0].tolist() == [10.6, 10.9, 11.0] and values[:, 1].tolist() == [5.3, 5.3, 5.5]
    assert values[-1, 2] == 20.5


def test_members_follow_the_specs_exclude_as_of_each_session(tmp_path):
    class Probe(Strategy):
        def __init__(self):
            super().__init__()
            SEEN.append(("init", self.members()))  # nothing of the first session is known yet

        def on_open(self, day):
            SEEN.append((day.isoformat(), self.members()))

    run(tmp_path, Probe, top={"exclude": ["chinext", "new_listing"], "new_listing_sessions": 2})
    seen = dict(SEEN)
    assert seen["init"] == ()
    assert seen["2024-01-04"] == ("600000",)  # 000001 suspended
    # 000001 traded before the store's first date (seasoned); 300001 is ChiNext: excluded whatever its age
    assert seen["2024-01-09"] == ("600000", "000001")


def test_history_of_many_codes_is_the_same_slice(tmp_path):
    class Probe(Strategy):
        def on_close(self, day):
            if self.session_no == 4:
                many = self.history(["000001", "600000"], "close", 3, array=True)
                one = [self.history(c, "close", 3, array=True) for c in ("000001", "600000")]
                SEEN.append((many.tolist(), np.column_stack(one).tolist(),
                             self.history(["000001", "600000"], "suspended", 3).values.tolist()))

    run(tmp_path, Probe)
    many, stacked, suspended = SEEN[0]
    assert many == stacked
    assert suspended == [[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]


# --- the shipped weekly momentum on the whole real market ------------------------------------------

@pytest.fixture(scope="module")
def momentum(real_store):
    """The shipped spec, its first two months (weekly rebalances), on the whole market."""
    spec = load_spec(REPO / "backtests" / "market_momentum.toml", ["end=2021-04-30"])
    prep = engine.prepare(spec, REPO, real_store)
    return prep, engine.run(prep)


def test_weekly_momentum_picks_are_the_top_members_by_their_own_bars(momentum, real_store):
    """Recomputed from the stored bars alone: each week's first session, the members (a bar that
    day, 60 sessions since listing, not ST as the engine dates it) ranked by close(d-1) /
    close(d-lookback) - 1; the strategy's logged picks are exactly the top 50."""
    prep, res = momentum
    bars = real_store.load(real_store.stock_dataset(), columns=["code", "date", "close"], end="2021-04-30")
    closes = bars.pivot(index="date", columns="code", values="close").ffill()
    picked = {line.split()[0]: line.split(": picked")[1].split() for line in res.log if ": picked" in line}
    days = prep.sessions
    weeks = [i for i in range(len(days)) if i == 0 or days[i].isocalendar()[:2] != days[i - 1].isocalendar()[:2]]
    assert [days[i].date().isoformat() for i in weeks] == list(picked)
    lookback = prep.spec.params["lookback"]
    st = pd.DataFrame(prep.panel.columns["st"].T, index=prep.panel.sessions, columns=prep.panel.codes)
    count = (~pd.DataFrame(prep.panel.columns["suspended"].T, index=prep.panel.sessions,
                           columns=prep.panel.codes)).cumsum()
    seasoned = pd.Series(prep.panel.listed_before_data, index=prep.panel.codes)
    for i in weeks[:4]:
        day = days[i]
        traded = bars[bars["date"] == day]["code"]
        members = [c for c in sorted(traded) if not st.loc[day, c] and (seasoned[c] or count.loc[day, c] >= 60)]
        at = closes.index.get_loc(day)
        momentum = (closes.iloc[at - 1] / closes.iloc[at - lookback] - 1)[members].dropna()
        want = momentum.sort_values(ascending=False, kind="stable").index[:50].tolist()
        assert picked[day.date().isoformat()] == want, day


def test_weekly_momentum_holds_at_most_top_n_and_trades_only_on_rebalance_days(momentum):
    prep, res = momentum
    orders = res.orders
    days = {d.date() for i, d in enumerate(prep.sessions)
            if i == 0 or d.isocalendar()[:2] != prep.sessions[i - 1].isocalendar()[:2]}
    assert set(pd.to_datetime(orders["date"]).dt.date) <= days
    assert orders["at"].isin(["open", "close"]).all() and (orders["note"] == "rebalance").all()
    assert not ((orders["at"] == "open") & (orders["side"] == "buy") & (orders["reason"] == "cash")).any()
    assert set(pd.to_datetime(res.fills["date"]).dt.date) <= days
    held = set(res.trades[res.trades["status"] == "open"]["code"])
    last = [line for line in res.log if ": picked" in line][-1]
    stuck = set(orders[(orders["date"] == orders["date"].max()) & (orders["side"] == "sell") &
                       (orders["filled"] < orders["size"])]["code"])  # a sale refused or cut (suspended, limits, volume)
    assert held and len(held - stuck) <= prep.spec.params["top_n"] and held - stuck <= set(last.split()[3:])


def test_weekly_momentum_stays_invested_each_week(momentum):
    """The week's sales at the open pay for the purchases the cash held before it could not (at the
    close): no purchase is refused for cash and each rebalance ends about ``fraction`` invested (not
    the ~60 % of rebalances that bought everything at the open, with only the cash held before its
    sales filled)."""
    prep, res = momentum
    assert not (res.orders["reason"] == "cash").any(), res.orders[res.orders["reason"] == "cash"]
    picked = {line.split()[0] for line in res.log if ": picked" in line}
    eq = res.equity.assign(day=pd.to_datetime(res.equity["date"]).dt.date.astype(str)).set_index("day")
    invested = 1 - eq.loc[sorted(picked), "cash"] / eq.loc[sorted(picked), "value"]
    assert (invested > 0.78).all() and invested.mean() > 0.85, invested  # (the rest: picks closing at limit-up)


def test_a_new_listing_joins_after_its_first_sessions(tmp_path):
    class Probe(Strategy):
        def on_open(self, day):
            SEEN.append((day.isoformat(), self.members()))

    run(tmp_path, Probe, top={"exclude": ["new_listing"], "new_listing_sessions": 2})
    seen = dict(SEEN)
    # 300001 lists on 01-05 (its first session), is still new then, a member from its second (01-08)
    assert "300001" not in seen["2024-01-05"] and "300001" in seen["2024-01-08"]


def test_a_whole_market_sweep_shares_the_prepared_market_and_equals_single_runs(momentum, tmp_path):
    """Two combinations on two forked workers: each row is the single run with its parameters. What a
    worker (or a Dask worker) is sent is the panel once: the arrays come back as views of it."""
    import pickle

    from hypebt.research import sweep

    prep, _ = momentum
    blob = pickle.dumps(prep, protocol=pickle.HIGHEST_PROTOCOL)
    assert len(blob) < 1.2 * prep.panel.nbytes()  # the market once, not once more per code
    back = pickle.loads(blob)
    j = back.panel.index["600519"]
    assert np.shares_memory(back.arrays["600519"].columns["close"], back.panel.columns["close"])
    assert np.array_equal(back.history["600519"].columns["close"], back.panel.columns["close"][j, :len(back.history["600519"].sessions)],
                          equal_nan=True)  # (warm-up sessions before the data: no price)
    combos = [{"lookback": 10, "top_n": 20}, {"lookback": 20, "top_n": 10}]
    plan = sweep.Plan(axes={"lookback": [10, 20], "top_n": [20, 10]}, combos=combos, grid_size=2, method="grid")
    sweep.execute(prep, plan, tmp_path / "sweep", workers=2, progress=False)
    db = sweep.ResultStore(tmp_path / "sweep" / "results.sqlite")
    rows = db.frame().set_index(["lookback", "top_n"])
    db.close()
    for combo in combos:
        single = engine.run(prep, combo)
        assert rows.loc[(combo["lookback"], combo["top_n"]), "final_value"] == single.stats["final_value"]


def test_bars_of_many_codes_are_each_codes_bar(tmp_path):
    from hypebt.core.errors import LookAheadError

    class Probe(Strategy):
        def on_open(self, day):
            if self.session_no == 2:
                today = self.bars(["600000", "000001"])
                SEEN.append(("open", today.open.tolist(), today.suspended.tolist(), today.limit_up.tolist()))
                try:
                    today.close
                except LookAheadError as exc:
                    SEEN.append(("refused", "close" in str(exc)))
                last = self.bars(["600000", "000001"], 1)
                SEEN.append(("last", last.close.tolist(), [self.bar(c, 1).close for c in last.codes], str(last.date)))

        def on_close(self, day):
            if self.session_no == 3:
                b = self.bars()  # today's members
                SEEN.append(("members", list(b.codes), b.high.tolist(), b.locked_up.tolist()))

    run(tmp_path, Probe)
    assert SEEN[0] == ("open", [10.6, 5.3], [False, True], [11.66, 5.83])
    assert SEEN[1] == ("refused", True)
    assert SEEN[2] == ("last", [10.6, 5.3], [10.6, 5.3], "2024-01-03")
    assert SEEN[3] == ("members", ["600000", "000001", "300001"], [11.2, 5.6, 21.0], [False, False, False])


def test_nothing_of_a_stock_is_known_before_its_first_bar(tmp_path):
    """300001 lists on 01-05 at an open of 20.0: before that, every reader shows no price (NaN), not
    its future first open (a ranking over self.universe must not learn a listing's price early)."""

    class Probe(Strategy):
        def __init__(self):
            super().__init__()
            self.sma = self.I(lambda s: s.rolling(1).mean(), "300001", field="open")

        def on_open(self, day):
            if self.session_no == 1:  # 01-03, two sessions before 300001's first bar
                seen = {
                    "history many": self.history(["600000", "300001"], "open", 2, array=True)[:, 1].tolist(),
                    "history one": self.history("300001", "close", 1).tolist(),
                    "cross_section": self.cross_section("open", 2, codes=["300001"]).values[:, 0].tolist(),
                    "bars": self.bars(["300001"]).open.tolist(),
                    "bar": [self.bar("300001").open, self.bar("300001", 1).close],
                    "indicator": [self.sma[0]],
                    "arrays": self.ctx.arrays["300001"].columns["open"].tolist(),
                }
                SEEN.append({k: [x for x in v if x == x] for k, v in seen.items()})  # the non-NaN values
                self.buy_value("300001", 100_000)  # no price to size it at: 0 shares, refused (suspended)
                self.order_target_weights({"300001": 0.1})  # nothing to do
            if self.session_no == 3:  # 01-05, its first bar: its open is known before the open
                SEEN.append(self.bars(["300001"]).open.tolist())

    _, res = run(tmp_path, Probe)
    assert SEEN[0] == {k: [] for k in SEEN[0]}, SEEN[0]
    assert SEEN[1] == [20.0]
    # (sized at its future first open, the refused order's size would have told it too)
    assert res.orders[["code", "size", "reason"]].values.tolist() == [["300001", 0, "suspended"]]
