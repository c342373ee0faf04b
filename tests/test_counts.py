"""Honest counts: refused by the market apart from cancelled by the strategy and from expired;
closed trades apart from positions still open at the end; sweep ranks by the figures shown.

Hand-made bars (helpers_engine.WEEK_ROWS) with exact expectations; the same counts from the ledger
tables (a run) and from the rows a sweep keeps (``ledgers=False``).
"""

from __future__ import annotations

import pandas as pd
import pytest

from helpers_engine import BENCH, WEEK_ROWS, bars, make_workspace, write_spec, write_store
from hypebt.engine import backtest as engine
from hypebt.engine import metrics
from hypebt.engine.spec import load_spec

ORDERS = '''
from hypebt import Strategy


class Orders(Strategy):
    PARAMS = {}

    def on_open(self, day):
        if self.session_no == 0:
            self.buy_shares("600000", 1000)            # filled: a position kept to the end
            self.buy_shares("600000", 50)              # refused by the market: not a whole lot
            self.buy_limit("600000", 5.0, shares=100)  # a day order far below: expires
        if self.session_no == 2:
            self.ticket = self.sell_stop("600000", 1.0)  # a stop-loss far below...
        if self.session_no == 3:
            self.cancel(self.ticket)                   # ...that the strategy cancels
'''


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("counts")
    store = write_store(root / "store", {"600000": bars(10.0, WEEK_ROWS)})
    ws = make_workspace(root / "ws", strategies={"orders": ORDERS})
    spec = load_spec(write_spec(ws, "orders", {"strategy": "orders", "codes": ["600000"], "benchmark": BENCH}))
    return engine.prepare(spec, ws, store)


def test_who_ended_each_order_is_counted_apart(prepared):
    result = engine.run(prepared)
    outcomes = {(r.status, r.reason) for r in result.orders.itertuples() if r.status != "filled"}
    assert outcomes == {("refused", "lot_size"), ("expired", "good_for"), ("cancelled", "cancelled")}
    s = result.stats
    assert (s["refused_orders"], s["cancelled_orders"], s["expired_orders"]) == (1, 1, 1)
    assert s["n_trades"] == 0 and s["open_positions"] == 1  # nothing closed, one position still held


def test_a_sweep_counts_the_same_without_ledgers(prepared):
    run = engine.run(prepared).stats
    lean = engine.run(prepared, ledgers=False, timereturn=False).stats
    for key in ("refused_orders", "cancelled_orders", "expired_orders", "n_trades", "open_positions"):
        assert lean[key] == run[key], key


@pytest.mark.parametrize("status, reason, outcome", [
    ("refused", "limit_up", "refused"), ("refused", "cash", "refused"), ("cancelled", "suspended", "refused"),
    ("partial", "volume_limit", "refused"), ("cancelled", "cancelled", "cancelled"),
    ("expired", "good_for", "expired"), ("cancelled", "end_of_data", "expired"), ("filled", "", "filled"),
])
def test_order_outcomes_table(status, reason, outcome):
    assert metrics.outcome_of(status, reason) == outcome
    counts = metrics.order_outcomes([(status, reason)])
    assert sum(counts.values()) == (outcome != "filled")
    if outcome != "filled":
        assert counts[f"{outcome}_orders"] == 1


def test_the_run_page_shows_the_counts_apart(prepared):
    from hypebt.reports import run_page

    result = engine.run(prepared)
    page = run_page.page(prepared, result, {}, title="t", notes=[], warning="", tearsheet=None, plotly_src="x.js")
    for text in ("closed trades: <strong>0</strong>", "open positions at the end: <strong>1</strong>",
                 "refused by the market: <strong>1</strong>", "cancelled by the strategy: <strong>1</strong>",
                 "expired: <strong>1</strong>", "Open positions at the end (1)"):
        assert text in page, text
    for why in ("order size is not a whole lot for its board", "cancelled by the strategy (cancel)",
                "expired: its good_for sessions ran out"):
        assert why in page, why


def test_sweep_ranks_with_the_same_shown_figures_are_one():
    """Figures equal as the page shows them (differences below the 2 decimals shown) are one rank; a
    difference the page shows makes two."""
    from hypebt.reports.sweep_page import groups

    base = {"total_return": 0.0456, "cagr": 0.033, "sharpe": 0.776, "sortino": 10.02, "max_drawdown": -0.0039,
            "win_rate": 1.0, "n_trades": 1, "exposure": 0.006, "refused_orders": 4, "cancelled_orders": 0,
            "expired_orders": 0, "open_positions": 0}
    rows = [dict(base, a=1), dict(base, a=2, total_return=0.0456 + 1e-8, sharpe=0.776 + 1e-5),
            dict(base, a=3, total_return=0.0457)]
    found = groups(pd.DataFrame(rows), ["a"])
    assert [list(g["a"]) for g in found] == [[1, 2], [3]]
