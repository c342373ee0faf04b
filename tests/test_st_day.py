"""A risk warning (ST) and its removal apply from the session the exchange announced them for, before
its open: the engine's limit and fill checks take that session's own status (its one-price bar at
the 5 % price is evidence of ST, a bar beyond the 5 % band evidence of not ST), while a strategy
sees the status known before the open (hypebt.market.status). Real cases of the shared raw data,
found by the limit audit (benchmarks/bench_limits_raw.py) as st_unknown and st_stale misses."""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers_engine import make_workspace, write_spec
from hypebt.data.calendar import Calendar, store_sessions
from hypebt.engine import backtest as engine
from hypebt.engine.spec import load_spec
from hypebt.market import status as MS


def run_orders(store, tmp_path, code, start, end, plan, rules=None):
    """The engine's order rows and the prepared run of a Script plan on ``code``."""
    ws = tmp_path / "ws"
    if not (ws / "strategies").exists():
        make_workspace(ws)
    name = f"st{len(list((ws / 'backtests').glob('*.toml'))) if (ws / 'backtests').exists() else 0}"
    spec = write_spec(ws, name, {"strategy": "script", "codes": [code], "start": start, "end": end,
                                 "benchmark": "sh000300"}, {"rules": rules} if rules else None)
    prep = engine.prepare(load_spec(spec), ws, store)
    res = engine.run(prep, {"plan": [list(p) for p in plan]})
    return prep, [(str(r["date"]), r["side"], r["status"], r["reason"], r["price"]) for r in res.orders.to_dict("records")]


def session(prep, day):
    return prep.sessions.get_loc(pd.Timestamp(day))


def test_the_first_session_of_a_risk_warning_is_locked_at_its_5_percent_limit(raw_store, tmp_path):
    """002354 on 2021-01-14: one price all day, 2.80 = 2.67 x 1.05 (the 10 % price is 2.94), with no
    earlier evidence of its warning. The exchange's band that day is 5 %: a buy at the open is refused
    locked at the limit-up 2.80, even with the lock evidence rule off (before: filled at 2.80 under a
    2.94 limit). A strategy at that open is still shown the 10 % limits (the warning shows from the
    next session): the day's own bar tells nothing before its close."""
    plan = [(1, "open", "buy_shares", "002354", 1000)]
    for rules in (None, {"st_lock_evidence": False}):
        prep, orders = run_orders(raw_store, tmp_path, "002354", "2021-01-13", "2021-01-20", plan, rules)
        assert orders == [("2021-01-14", "buy", "refused", "locked_limit_up", 2.80)], (rules, orders)
    cols, i = prep.arrays["002354"].columns, session(prep, "2021-01-14")
    assert (cols["st"][i], cols["st_day"][i], cols["limit_up"][i], cols["limit_down"][i]) == (False, True, 2.94, 2.40)
    up, down = MS.day_limits("002354", [prep.sessions[i]], [cols["prev_close"][i]], [cols["limit_up"][i]],
                             [cols["limit_down"][i]], [cols["st"][i]], [cols["st_day"][i]], prep.rules)
    assert (up[0], down[0]) == (2.80, 2.54)
    assert cols["st"][i + 1] and cols["limit_up"][i + 1] == 2.94  # from the next session: 2.80 x 1.05


def test_a_sale_on_the_first_session_of_a_warning_is_locked_at_its_5_percent_limit_down(raw_store, tmp_path):
    """603721 on 2025-05-06 (annual-report season): one price all day, 17.27 = 18.18 x 0.95 (the 10 %
    price is 16.36), after a session suspended (2025-04-30: the warning announced). Held from
    2025-04-29, a sale at that open is refused locked at the limit-down."""
    plan = [(0, "open", "buy_shares", "603721", 1000), (2, "open", "sell_all", "603721")]
    prep, orders = run_orders(raw_store, tmp_path, "603721", "2025-04-29", "2025-05-09", plan,
                              {"st_lock_evidence": False})
    assert orders[1] == ("2025-05-06", "sell", "refused", "locked_limit_down", 17.27), orders
    cols, i = prep.arrays["603721"].columns, session(prep, "2025-05-06")
    assert (cols["st"][i], cols["st_day"][i], cols["limit_down"][i]) == (False, True, 16.36)


def test_the_session_a_warning_is_lifted_trades_under_the_10_percent_band(raw_store, tmp_path):
    """002354 on 2021-05-25, taken as ST from its earlier 5 % locks, back from a session suspended
    (2021-05-24: the removal announced), opened at 3.91 and traded up to 3.95: beyond the 5 % band
    (3.80 from 3.62), so the warning was lifted for that session. A buy at the open
    fills at 3.91 under the 10 % limit 3.98 (before: refused at the stale 5 % limit 3.80). The strategy
    was shown 3.80 at that open, the status known then."""
    prep, orders = run_orders(raw_store, tmp_path, "002354", "2021-05-21", "2021-05-28",
                              [(2, "open", "buy_shares", "002354", 1000)])
    assert orders == [("2021-05-25", "buy", "filled", "", 3.91)], orders
    cols, i = prep.arrays["002354"].columns, session(prep, "2021-05-25")
    assert (cols["st"][i], cols["st_day"][i], cols["limit_up"][i]) == (True, False, 3.80)
    assert not cols["st"][i + 1]


def test_the_day_status_is_the_same_from_any_start(raw_store):
    """st_day, like st, reads the code's bars up to the session only: built from the data's start
    or from a later first session, the same values on the sessions both cover."""
    from hypebt.market import panel as MP

    bars = raw_store.load("stock_raw", codes=["002354", "603721"])
    sessions = pd.DatetimeIndex(np.unique(bars["date"].to_numpy()))
    whole = MP.build(bars, sessions, first_store_date=sessions[0])
    for cut in (sessions.get_loc(pd.Timestamp("2021-01-14")), sessions.get_loc(pd.Timestamp("2025-05-06"))):
        later = MP.build(bars, sessions[cut:], first_store_date=sessions[0])
        for name in ("st", "st_day", "limit_up", "limit_down", "locked_up", "locked_down"):
            assert np.array_equal(later.columns[name], whole.columns[name][:, cut:], equal_nan=True), (name, cut)
