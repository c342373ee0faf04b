"""The one rules implementation on real sessions of ../shared/data, for every board.

Each case is a real stock-session: the limit price the rules compute from the real previous
close must be the price the real bar sat at, and the session flags (closed at the limit, locked
all day, board opened) must describe the real bar. The arrays (``limits_array``/``limit_flags``,
used by the engine's feed and the study's panel) and the scalars (``limits_for``/``is_locked``,
used by order checks) are compared on whole real histories. Last, on the Sora event over the
whole market, the study's locked-day flags are the engine's ``locked_limit_up`` refusals.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hypebt.engine import backtest as engine
from hypebt.engine.spec import load_spec
from hypebt.market import rules as R
from hypebt.research import study
from helpers_engine import write_spec

REPO = Path(__file__).resolve().parents[1]
COLUMNS = ["code", "date", "open", "close", "high", "low"]


@pytest.fixture(scope="module")
def market(shared_data) -> pd.DataFrame:
    """The whole shared market as canonical columns, with each stock's previous close and its
    session count (sessions since its first bar; ``listed`` False when it traded before 2021-01-04,
    the first date of the data, i.e. its listing day is unknown)."""
    frame = pd.read_parquet(shared_data / "ashare" / "market.parquet").iloc[:, :6]
    frame.columns = COLUMNS
    frame["date"] = pd.to_datetime(frame["date"])
    frame = frame.sort_values(["code", "date"]).reset_index(drop=True)
    frame["prev"] = frame.groupby("code")["close"].shift()
    frame["n"] = frame.groupby("code").cumcount() + 1
    frame["listed"] = frame.groupby("code")["date"].transform("min") > frame["date"].min()
    return frame


def history(market, code):
    g = market[market["code"] == code]
    assert len(g), code
    return g


def session_state(market, code, st=False, rules=R.DEFAULT):
    """The rules' arrays over one stock's whole history, as the engine's feed builds them."""
    g = history(market, code)
    n = g["n"].to_numpy() if bool(g["listed"].iloc[0]) else None
    up, down = R.limits_array(code, g["date"].values, g["prev"].to_numpy(), st=st, session_no=n, rules=rules)
    flags = R.limit_flags(code, g["open"], g["high"], g["low"], g["close"], up, down,
                          prev_close=g["prev"].to_numpy(), days=g["date"].values, st=st, rules=rules)
    return g.assign(up=up, down=down, **flags).set_index(g["date"].dt.strftime("%Y-%m-%d"))


# (code, session, board, st, previous close, limit-up, limit-down, flags that are True on that bar)
# A limit of None: no limit that session. Every price below is the real bar's.
CASES = [
    # SH main board, 10 %: 5.29 * 1.1 = 5.819 -> 5.82; a one-price session at it.
    ("600083", "2024-02-23", "sh_main", False, 5.29, 5.82, 4.76, {"locked_up", "closed_up"}),
    # SZ main board, 10 %: 5.41 * 1.1 = 5.951 -> 5.95.
    ("000017", "2024-01-11", "sz_main", False, 5.41, 5.95, 4.87, {"locked_up", "closed_up"}),
    # ChiNext, 20 % (since 2020-08-24): 7.68 * 1.2 = 9.216 -> 9.22.
    ("300133", "2024-03-21", "chinext", False, 7.68, 9.22, 6.14, {"locked_up", "closed_up"}),
    # STAR, 20 %: 19.69 * 1.2 = 23.628 -> 23.63 (the Sora day-0 一字板 of 688039).
    ("688039", "2024-02-19", "star", False, 19.69, 23.63, 15.75, {"locked_up", "closed_up"}),
    # Beijing, 30 %, rounded toward the inside: 6.56 * 1.3 = 8.528 -> 8.52 (half up would say 8.53);
    # the real bars closed at their high at the limit, having traded below it (the board was open).
    ("430198", "2023-12-12", "bse", False, 6.56, 8.52, 4.60, {"closed_up", "opened_up"}),
    ("430047", "2021-12-13", "bse", False, 20.06, 26.07, 14.05, {"closed_up", "opened_up"}),
    # Beijing limit-down inward: 70.49 * 0.7 = 49.343 -> 49.35 (half up: 49.34); one price all day.
    ("873693", "2023-10-30", "bse", False, 70.49, 91.63, 49.35, {"closed_down", "locked_down"}),
    # ST (main board, 5 %): 2.25 * 1.05 = 2.3625 -> 2.36, locked; 3.61 * 0.95 = 3.4295 -> 3.43, locked down.
    ("000615", "2024-04-26", "sz_main", True, 2.25, 2.36, 2.14, {"locked_up", "closed_up"}),
    ("000023", "2024-04-16", "sz_main", True, 3.61, 3.79, 3.43, {"locked_down", "closed_down"}),
    # A pre-reform main-board listing (2022): limited from its second session, 2.65 * 1.1 = 2.915 -> 2.92
    # (half up: the decimal rule, not binary round()).
    ("001236", "2022-08-08", "sz_main", False, 2.65, 2.92, 2.39, {"locked_up", "closed_up"}),
    # A registration main-board listing (2023-05): no limit in its first five sessions (+13 %, then -13 %) ...
    ("001282", "2023-05-25", "sz_main", False, 30.15, None, None, set()),
    ("001282", "2023-05-26", "sz_main", False, 34.18, None, None, set()),
    # ... and 10 % from the sixth: 001239's seventh session, 18.93 * 1.1 = 20.823 -> 20.82.
    ("001239", "2023-12-20", "sz_main", False, 18.93, 20.82, 17.04, {"locked_up", "closed_up"}),
    # STAR listing: +30 % on its second session, no limit.
    ("688062", "2022-01-19", "star", False, 24.50, None, None, set()),
    # ChiNext registration listing, seventh session, 20 %: 54.05 * 1.2 = 64.86.
    ("301293", "2023-05-15", "chinext", False, 54.05, 64.86, 43.24, {"closed_up", "opened_up"}),
]


@pytest.mark.realdata
@pytest.mark.parametrize("code, day, board, st, prev, up, down, true_flags", CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_real_session_limits_and_flags(market, code, day, board, st, prev, up, down, true_flags):
    assert R.board_of(code) == board
    row = session_state(market, code, st=st).loc[day]
    assert row["prev"] == prev
    assert (None if np.isnan(row["up"]) else row["up"]) == up
    assert (None if np.isnan(row["down"]) else row["down"]) == down
    flags = {"closed_up", "closed_down", "locked_up", "locked_down", "opened_up", "opened_down"}
    assert {f for f in flags if row[f]} == true_flags
    # The scalar path of the order checks says the same.
    n = int(row["n"]) if bool(row["listed"]) else None
    lim = R.limits_for(code, dt.date.fromisoformat(day), prev, st=st, session_no=n)
    assert (lim.up, lim.down) == (up, down)
    bar = R.Bar(row["open"], row["high"], row["low"], row["close"])
    assert R.is_locked(bar, lim, "buy") == ("locked_up" in true_flags)
    assert R.is_locked(bar, lim, "sell") == ("locked_down" in true_flags)
    assert R.closed_at_limit(row["close"], lim, "buy") == ("closed_up" in true_flags)
    assert R.board_opened(bar, lim, "buy") == ("opened_up" in true_flags)


@pytest.mark.realdata
def test_an_st_lock_is_inferred_from_the_bar_when_the_status_is_unknown(market):
    """000615 on 2024-04-26 sat all day at its ST limit 2.36 (+4.89 %): without the ST flag the 10 %
    band does not lock it, the evidence rule (``st_lock_evidence``) does; switched off, it is not
    locked. (The study's old "+4.9 %" heuristic missed this one.)"""
    assert session_state(market, "000615", st=False).loc["2024-04-26", "locked_up"]
    assert session_state(market, "000023", st=False).loc["2024-04-16", "locked_down"]
    off = R.Rules(st_lock_evidence=False)
    assert not session_state(market, "000615", st=False, rules=off).loc["2024-04-26", "locked_up"]


@pytest.mark.realdata
def test_arrays_equal_the_scalar_rules_on_real_histories(market):
    """The vectorised limits (fen x basis-point integers) equal the decimal scalar rule session by
    session, on real histories of every board, new listings included."""
    codes = []
    for board in R.BOARDS:
        on_board = market.loc[market["code"].map(R.board_of) == board, "code"].unique()
        codes += list(on_board[:: max(1, len(on_board) // 12)][:12])
    codes += ["001282", "001239", "688062", "001236"]
    for code in codes:
        s = session_state(market, code, st=code == "000615")
        for day, row in s.iloc[::7].iterrows():
            if not row["prev"] > 0:
                continue
            n = int(row["n"]) if bool(row["listed"]) else None
            lim = R.limits_for(code, dt.date.fromisoformat(day), row["prev"], st=code == "000615", session_no=n)
            assert (lim.up, lim.down) == (None if np.isnan(row["up"]) else row["up"],
                                          None if np.isnan(row["down"]) else row["down"]), (code, day)


# ------------------------------------------------ the study and the engine agree ---

BUY_EVERY_OPEN = '''
from hypebt import Strategy


class BuyEveryOpen(Strategy):
    """Try to buy 200 shares of every code at every open (valid on every board)."""

    def on_open(self, day):
        for code in self.universe:
            self.buy_shares(code, 200)
'''


@pytest.fixture(scope="module")
def sora_market(real_store, tmp_path_factory):
    inputs = study.prepare(load_spec(REPO / "backtests" / "market_sora_study.toml"), REPO, real_store)
    return tmp_path_factory.mktemp("sora_market"), real_store, inputs


@pytest.mark.realdata
def test_sora_market_study_locks_are_the_engines_refusals(sora_market):
    """Over the Sora window, every stock-session the whole-market study flags as locked at
    limit-up is refused ``locked_limit_up`` by the engine, and no other session is."""
    root, store, inputs = sora_market
    p, cfg = inputs.panel, inputs.cfg
    i0 = p.sessions.get_indexer([inputs.tradables[0].session])[0]
    rows = np.arange(i0 + cfg.window[0], i0 + cfg.window[1] + 1)
    locked = study.locked_limit_up(p)[rows]
    hit = np.flatnonzero(locked.any(axis=0))
    assert len(hit) > 50  # a hype week: many 一字板
    rng = np.random.default_rng(0)
    others = rng.choice(np.setdiff1d(np.arange(len(p.codes)), hit), size=40, replace=False)
    cols = np.sort(np.concatenate([hit, others]))
    codes = [p.codes[j] for j in cols]
    ws = root / "ws"
    (ws / "strategies").mkdir(parents=True)
    (ws / "strategies" / "buy_every_open.py").write_text(BUY_EVERY_OPEN, "utf-8")
    days = p.sessions[rows]
    spec = load_spec(write_spec(ws, "every_open", {
        "strategy": "buy_every_open", "codes": codes, "start": days[0].date(), "end": days[-1].date(),
        "cash": 1e12, "benchmark": "sh000300"}))
    prep = engine.prepare(spec, ws, store)
    res = engine.run(prep, timereturn=False)
    orders = res.orders
    orders = orders.assign(key=orders["code"] + " " + orders["date"].astype(str))
    engine_locked = set(orders.loc[orders["reason"] == "locked_limit_up", "key"])
    ii, jj = np.nonzero(locked[:, cols])
    study_locked = {f"{codes[j]} {days[i].date()}" for i, j in zip(ii, jj)}
    assert len(orders) == len(codes) * len(days)  # one order per stock-session, each with its outcome
    assert study_locked == engine_locked


# --------------------------------------- hype_buy's streak exit on the real Sora run ---

def _limit_up_independently(code: str, prev: float) -> float:
    """Limit-up from first principles (no hypebt.market.rules): 20 % on ChiNext/STAR, else 10 %,
    half up to the fen in integers (the concept stocks here are neither ST nor on Beijing)."""
    pct = 20 if code[:2] in ("30", "68") else 10
    return (round(prev * 100) * (100 + pct) + 50) // 100 / 100


@pytest.mark.realdata
def test_sora_hype_sells_exactly_when_a_limit_up_streak_breaks(sora_market):
    """In the shipped Sora run, a held stock that closed at limit-up and then failed to is sold at
    the next open with note ``streak_broke``, and no other sale carries that note. The expected
    sales are derived from the bars with independent limit arithmetic."""
    _, store, _ = sora_market
    prep = engine.prepare(load_spec(REPO / "backtests" / "sora_hype.toml"), REPO, store)
    res = engine.run(prep, timereturn=False)
    tol, hold = prep.rules.limit_tolerance, res.params["hold_days"]
    days = prep.days
    fills = res.fills
    expected = set()
    for buy in fills[fills["side"] == "buy"].itertuples():
        c = prep.arrays[buy.code].columns
        entry = days.index(buy.date)
        hit = False
        for i in range(entry, min(entry + hold, len(days) - 1)):
            if c["suspended"][i]:
                continue
            at_limit = c["close"][i] >= _limit_up_independently(buy.code, c["prev_close"][i]) - tol
            if at_limit:
                hit = True
            elif hit:
                if i + 1 - entry < hold:  # the hold_days sale comes first otherwise
                    expected.add((buy.code, days[i + 1]))
                break
    sells = res.orders[(res.orders["side"] == "sell") & (res.orders["note"] == "streak_broke")]
    got = set(zip(sells["code"], sells["date"]))
    assert len(expected) >= 5
    assert got == expected
