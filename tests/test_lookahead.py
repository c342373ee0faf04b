"""Look-ahead safety and what a strategy may see: hand-made bars, values derived by hand.

Each probe strategy is a class defined here (an inline class, as in a notebook) that writes what
it saw into ``SEEN``; the run goes through the engine's real prepare/run.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from helpers_engine import BENCH, WEEK_ROWS, bars, make_workspace, write_spec, write_store
from hypebt import Strategy
from hypebt.cli.main import main
from hypebt.core.errors import LookAheadError
from hypebt.engine import backtest as engine
from hypebt.engine.spec import load_spec

ROWS = WEEK_ROWS[:6]  # date, open, high, low, close
CODE = "600000"
SEEN: list = []


def prepare(tmp_path, cls, stocks=None, top=None, rules=None, adj=None):
    """Prepared run of ``cls`` on ``stocks`` (default: CODE on ROWS); ``adj``: adj_factor per row."""
    stocks = stocks or {CODE: bars(10.0, ROWS)}
    store = write_store(tmp_path / "store", stocks)
    if adj is not None:
        frame = bars(10.0, ROWS)
        frame.insert(0, "code", CODE)
        frame["adj_factor"] = adj
        frame["date"] = frame["date"].astype("datetime64[ns]")
        store.write("stock_raw", frame, source="test", adjust="raw")
    ws = make_workspace(tmp_path / "ws")
    spec = write_spec(ws, "t", {"strategy": "script", "codes": list(stocks), "benchmark": BENCH,
                                **(top or {})}, {"rules": rules or {}})  # no margin list: nothing shorts
    return engine.prepare(load_spec(spec), ws, store, strategy_cls=cls)


def run(tmp_path, cls, **kw):
    SEEN.clear()
    prep = prepare(tmp_path, cls, **kw)
    return prep, engine.run(prep, strategy_cls=cls)


# --- today's bar before the open ---------------------------------------------------------------

class CloseAtOpen(Strategy):
    def on_open(self, day):
        if self.session_no == 1 and self.bar(CODE).close > 0:  # the +224 % strategy of issue 10
            self.buy_shares(CODE, 100)


@pytest.mark.parametrize("field", ["high", "low", "close", "adjclose", "volume"])
def test_today_unknown_fields_raise_in_on_open(tmp_path, field):
    class Probe(Strategy):
        def on_open(self, day):
            if self.session_no == 2:
                getattr(self.bar(CODE), field)

    with pytest.raises(LookAheadError, match=f"today's {field} .*not known in on_open"):
        run(tmp_path, Probe)


def test_pre_open_bar_has_open_limits_and_suspension(tmp_path):
    class Probe(Strategy):
        def on_open(self, day):
            b = self.bar(CODE)
            SEEN.append((b.date, b.open, b.limit_up, b.suspended, self.bar(CODE, 1).close if self.session_no else None))

    run(tmp_path, Probe)
    # Session 2 (2024-01-04): open 10.6; limit from the previous close 10.6 -> 11.66; yesterday closed 10.6.
    assert SEEN[2][0].isoformat() == "2024-01-04" and SEEN[2][1] == 10.6
    assert SEEN[2][2] == pytest.approx(11.66) and SEEN[2][3] is False and SEEN[2][4] == 10.6


def test_whole_bar_known_at_the_close(tmp_path):
    class Probe(Strategy):
        def on_close(self, day):
            b = self.bar(CODE)
            SEEN.append((b.high, b.low, b.close, b.volume))

    run(tmp_path, Probe)
    assert SEEN[3] == (11.2, 10.7, 11.0, 1_000_000.0)


def test_negative_ago_is_refused(tmp_path):
    class Probe(Strategy):
        def on_close(self, day):
            self.bar(CODE, -1)  # tomorrow's bar in 0.1

    with pytest.raises(LookAheadError, match="negative ago"):
        run(tmp_path, Probe)


def test_look_ahead_error_names_the_strategy_file_and_line(tmp_path):
    with pytest.raises(LookAheadError) as info:
        run(tmp_path, CloseAtOpen)
    line = CloseAtOpen.on_open.__code__.co_firstlineno + 1
    assert f"test_lookahead.py:{line}" in str(info.value)
    assert "looked ahead" in str(info.value) and "close" in str(info.value)


def test_cli_exits_2_with_one_line_naming_file_and_line(tmp_path, capsys):
    store = write_store(tmp_path / "store", {CODE: bars(10.0, ROWS)})
    src = (
        "from hypebt import Strategy\n\n\n"
        "class Peek(Strategy):\n"
        "    def on_open(self, day):\n"
        f"        if self.bar('{CODE}').close > 0:\n"
        f"            self.buy_shares('{CODE}', 100)\n"
    )
    ws = make_workspace(tmp_path / "ws", strategies={"peek": src})
    spec = write_spec(ws, "peek", {"strategy": "peek", "codes": [CODE], "benchmark": BENCH})
    code = main(["--workspace", str(ws), "--home", str(store.root), "run", str(spec), "--offline", "--no-html"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "peek.py:6" in err[0] and "today's close" in err[0], err


# --- Context.arrays and history ----------------------------------------------------------------

def test_context_arrays_stop_at_the_moment(tmp_path):
    class Probe(Strategy):
        def _look(self, hook):
            cols = self.ctx.arrays[CODE].columns
            close, opens = cols["close"], cols["open"]
            SEEN.append((hook, self.session_no, len(close), len(opens), close.base is None,
                         len(self.ctx.arrays[CODE].sessions)))

        def on_open(self, day):
            self._look("open")

        def on_close(self, day):
            self._look("close")

    run(tmp_path, Probe)
    # Before the open of session n: n closes, n + 1 opens; at its close n + 1 of each. Copies, not views.
    assert SEEN[4] == ("open", 2, 2, 3, True, 3)
    assert SEEN[5] == ("close", 2, 3, 3, True, 3)


def test_history_windows(tmp_path):
    class Probe(Strategy):
        def on_open(self, day):
            if self.session_no == 3:
                SEEN.append(("open", self.history(CODE, "close", 2).tolist(), self.history(CODE, "open", 2).tolist(),
                             list(self.history(CODE, "close", 10).index.strftime("%m-%d"))))

        def on_close(self, day):
            if self.session_no == 3:
                SEEN.append(("close", self.history(CODE, "close", 2).tolist()))
                SEEN.append(("array", self.history(CODE, "close", 2, array=True).tolist(),
                             self.history([CODE, CODE], "open", 2, array=True).shape))

    run(tmp_path, Probe)
    # Before the open of 01-05: closes up to 01-04, opens up to today's; only 3 bars exist yet.
    assert SEEN[0] == ("open", [10.6, 10.9], [10.6, 10.9], ["01-02", "01-03", "01-04"])
    assert SEEN[1] == ("close", [10.9, 11.0])
    assert SEEN[2] == ("array", [10.9, 11.0], (2, 2))


def test_history_adjusted_and_traded_and_several_codes(tmp_path):
    class Probe(Strategy):
        def on_close(self, day):
            if self.session_no == 2:
                SEEN.append((self.history(CODE, "close", 3).tolist(),
                             self.history(CODE, "close", 3, adjusted=False).tolist(),
                             self.history(CODE, "open", 1).tolist()))

    # A dividend-like factor move (2 %) after the first session: adjusted closes = close x factor. (A
    # 2:1 split's factor with no price drop would be a move the prices contradict: taken out of the
    # factor before the run reads it, hypebt.market.exdates.)
    run(tmp_path, Probe, adj=[0.98, 1.0, 1.0, 1.0, 1.0, 1.0])
    adj, raw, opens = SEEN[0]
    assert adj == pytest.approx([9.996, 10.6, 10.9]) and raw == [10.2, 10.6, 10.9] and opens == [10.6]

    class Two(Strategy):
        def on_close(self, day):
            if self.session_no == 1:
                SEEN.append(self.history([CODE, "000001"], "close", 2))

    SEEN.clear()
    prep = prepare(tmp_path / "two", Two, stocks={CODE: bars(10.0, ROWS), "000001": bars(5.0, [
        (d, o / 2, h / 2, l / 2, c / 2) for d, o, h, l, c in ROWS])})
    engine.run(prep, strategy_cls=Two)
    frame = SEEN[0]
    assert list(frame.columns) == [CODE, "000001"] and frame.loc["2024-01-03", "000001"] == pytest.approx(5.3)


# --- warm-up -----------------------------------------------------------------------------------

def test_warmup_bars_before_start_no_trading_no_returns(tmp_path):
    class Probe(Strategy):
        def on_open(self, day):
            if self.session_no == 0:
                SEEN.append((day.isoformat(), self.history(CODE, "close", 3).tolist(), self.bar(CODE, 1).close))
                self.buy_shares(CODE, 100)

    prep, res = run(tmp_path, Probe, top={"start": "2024-01-05", "warmup": 3})
    # Three warm-up sessions (01-02..01-04) before start: known at the first open, never traded.
    assert SEEN[0] == ("2024-01-05", [10.2, 10.6, 10.9], 10.9)
    assert [d.isoformat() for d in prep.days] == ["2024-01-05", "2024-01-08", "2024-01-09"]
    assert len(res.returns) == 3 and res.equity["date"].iloc[0].isoformat() == "2024-01-05"
    assert res.fills["date"].iloc[0].isoformat() == "2024-01-05" and res.fills["price"].iloc[0] == 10.9


def test_warmup_does_not_change_a_run(tmp_path):
    class Buy(Strategy):
        def on_open(self, day):
            if self.session_no == 0:
                self.buy_shares(CODE, 1000)

    _, plain = run(tmp_path / "a", Buy, top={"start": "2024-01-04"})
    _, warm = run(tmp_path / "b", Buy, top={"start": "2024-01-04", "warmup": 2})
    pd.testing.assert_series_equal(plain.returns, warm.returns)
    pd.testing.assert_frame_equal(plain.fills, warm.fills)


def test_without_warmup_the_first_session_has_no_past(tmp_path):
    class Probe(Strategy):
        def on_open(self, day):
            self.bar(CODE, 6)

    with pytest.raises(Exception, match="add warmup"):
        run(tmp_path, Probe)


# --- indicators --------------------------------------------------------------------------------

def test_indicator_revealed_bar_by_bar(tmp_path):
    class Probe(Strategy):
        def __init__(self):
            super().__init__()
            self.sma = self.I(lambda s, n: s.rolling(n).mean(), CODE, 2)
            self.opens = self.I(lambda s: s, CODE, field="open")

        def on_open(self, day):
            SEEN.append(("open", self.session_no, self.sma[0], self.opens[0], len(self.sma)))

        def on_close(self, day):
            SEEN.append(("close", self.session_no, self.sma[0], self.sma[1]))

    run(tmp_path, Probe)
    # Before the open of 01-04: the SMA of the closes of 01-02 and 01-03; today's open is known.
    assert SEEN[4][:2] == ("open", 2) and SEEN[4][2] == pytest.approx((10.2 + 10.6) / 2)
    assert SEEN[4][3] == 10.6 and SEEN[4][4] == 2
    assert SEEN[5][2] == pytest.approx((10.6 + 10.9) / 2) and SEEN[5][3] == pytest.approx(10.4)
    assert math.isnan(SEEN[1][2])  # one close known: a 2-session mean does not exist yet


@pytest.mark.parametrize("fn", [lambda s: s.shift(-1), lambda s: s - s.mean(),
                                lambda s: s.rolling(3, center=True).mean()])
def test_indicator_reading_later_bars_is_refused(tmp_path, fn):
    class Probe(Strategy):
        def __init__(self):
            super().__init__()
            self.bad = self.I(fn, CODE)

    with pytest.raises(LookAheadError, match="reads later bars"):
        run(tmp_path, Probe)


def test_indicator_negative_index_refused(tmp_path):
    class Probe(Strategy):
        def __init__(self):
            super().__init__()
            self.ind = self.I(lambda s: s, CODE)

        def on_close(self, day):
            self.ind[-1]

    with pytest.raises(LookAheadError, match="negative ago"):
        run(tmp_path, Probe)


# --- state: holdings, names, benchmark, record, log --------------------------------------------

def test_holding_cost_basis_includes_slippage_and_fees(tmp_path):
    class Probe(Strategy):
        def on_open(self, day):
            if self.session_no == 1:
                self.buy_shares(CODE, 1000)
            if self.session_no == 2:
                self.buy_shares(CODE, 500)

        def on_close(self, day):
            SEEN.append(self.holding(CODE))

    run(tmp_path, Probe, rules={"slippage_ticks": 1})
    # 1000 at 10.20 + 1 tick = 10.21: 10210 + commission 5.00 (minimum) + transfer 0.10 = 10215.10.
    first = SEEN[1]
    assert first.shares == 1000 and first.cost == pytest.approx(10215.10) and first.cost_basis == pytest.approx(10.2151)
    assert first.entry_date.isoformat() == "2024-01-03" and first.entry_session == 1 and first.sessions_held == 0
    # + 500 at 10.61: 5305 + 5.00 + 0.05 = 5310.05; 1500 shares cost 15525.15.
    both = SEEN[4]
    assert both.shares == 1500 and both.cost_basis == pytest.approx(15525.15 / 1500)
    assert both.entry_session == 1 and both.sessions_held == 3
    assert first.avg_price == pytest.approx(10.21) and both.avg_price == pytest.approx((10210 + 5305) / 1500)
    assert SEEN[0].shares == 0 and not SEEN[0].is_open


def test_names_benchmark_record_log(tmp_path):
    class Probe(Strategy):
        def on_open(self, day):
            SEEN.append(("open", len(self.benchmark_returns())))
            self.log("open", self.session_no)
            Probe.ctx_benchmark = self.ctx.benchmark

        def on_close(self, day):
            SEEN.append(("close", self.benchmark_returns().iloc[-1]))
            self.record("seen_close", self.bar(CODE).close)
            if self.session_no == 1:
                self.record("flag", 1)

    prep, res = run(tmp_path, Probe)
    assert SEEN[2] == ("open", 1)  # before the open of session 1: session 0's return only
    assert Probe.ctx_benchmark is None  # the whole series is not handed out
    assert SEEN[3][1] == pytest.approx(3501 / 3500 - 1)  # the test CSI 300 closes 3500, 3501, ...
    assert res.equity.columns.tolist() == ["date", "cash", "value", "seen_close", "flag"]
    assert res.equity["seen_close"].tolist() == [r[4] for r in ROWS]
    assert res.equity["flag"].isna().tolist() == [True, False, True, True, True, True]
    assert res.log[0] == "2024-01-02 on_open: open 0" and len(res.log) == 6


def test_record_refuses_reserved_names(tmp_path):
    class Probe(Strategy):
        def on_close(self, day):
            self.record("value", 1.0)

    with pytest.raises(Exception, match="record"):
        run(tmp_path, Probe)


def test_name_of_a_code(tmp_path):
    class Probe(Strategy):
        def on_open(self, day):
            SEEN.append((self.name(CODE), self.name("000001")))

    SEEN.clear()
    prep = prepare(tmp_path, Probe)
    prep.names = {CODE: "浦发银行"}
    engine.run(prep, strategy_cls=Probe)
    assert SEEN[0] == ("浦发银行", "")


def test_revealed_values_are_copies(tmp_path):
    class Probe(Strategy):
        def on_close(self, day):
            h = self.history(CODE, "close", 2)
            h.iloc[-1] = -1.0  # a strategy writing into what it was given must not change the run
            SEEN.append(self.bar(CODE).close)

    _, res = run(tmp_path, Probe)
    assert SEEN == [r[4] for r in ROWS]
    assert np.isfinite(res.returns).all()


def test_events_are_revealed_at_their_first_tradable_moment(tmp_path):
    class Probe(Strategy):
        def __init__(self):
            super().__init__()
            SEEN.append(("init", sorted(t.event.id for t in self.events),
                         sorted(t.event.id for t in self.ctx.events)))

        def on_open(self, day):
            SEEN.append(("open", self.session_no, sorted(t.event.id for t in self.events)))

        def on_close(self, day):
            SEEN.append(("close", self.session_no, sorted(t.event.id for t in self.events)))

    SEEN.clear()
    store = write_store(tmp_path / "store", {CODE: bars(10.0, ROWS)})
    ws = make_workspace(tmp_path / "ws")
    (ws / "data" / "events" / "hand.csv").write_text(
        "id,name,company,time,scheduled,tags\n"
        "surprise,Before the open,Co,2024-01-05T08:00+08:00,false,x\n"   # session 3, at the open
        "intraday,During trading,Co,2024-01-05T10:00+08:00,false,x\n"    # session 3, at the close
        "planned,A launch date,Co,2024-01-08,true,x\n", "utf-8")         # scheduled: known in advance
    spec = write_spec(ws, "t", {"strategy": "script", "codes": [CODE], "benchmark": BENCH},
                      {"events": {"catalogue": "hand"}})
    prep = engine.prepare(load_spec(spec), ws, store, strategy_cls=Probe)
    engine.run(prep, strategy_cls=Probe)
    seen = {(s[0], s[1]) if s[0] != "init" else "init": s[-1] for s in SEEN}
    assert seen["init"] == ["planned"] and SEEN[0][1] == ["planned"]
    assert seen[("open", 2)] == ["planned"] and seen[("close", 2)] == ["planned"]
    assert seen[("open", 3)] == ["planned", "surprise"]
    assert seen[("close", 3)] == ["intraday", "planned", "surprise"]
