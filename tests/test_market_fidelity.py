"""Market fidelity II on hand-made bars: the short-sale price rule, interest on the sale value,
volume participation, maintenance margin, and bad ``[rules]`` values. Expected figures are derived
by hand in the comments. (Dated ST and margin lists, raw vs adjusted: test_market_status.py.)
"""

from __future__ import annotations

import pytest

from helpers_engine import bars, day, only_order, order_rows, run_plan
from hypebt.core.errors import InputError
from hypebt.market import rules as R
from hypebt.market.credit import CreditBook, MarginWatch, maintenance_ratio

DAYS = ["2023-08-14", "2023-08-15", "2023-08-16", "2023-08-17", "2023-08-18", "2023-08-21",
        "2023-08-22", "2023-08-23", "2023-08-24", "2023-08-25"]


def short_once(tmp_path, rows, at="open", rules=None, prev=63.98):
    plan = [(0, at if at == "open" else "close", "short_value", "002230", 50000, {"at": at})]
    rows = [*rows, (DAYS[2], 64.0, 64.5, 63.5, 64.0)]  # a second session, for the run to have two
    return run_plan(tmp_path, {"002230": bars(prev, rows)}, plan, margin=("002230",), rules=rules)


# ------------------------------------------------------------------ short-sale price rule ---

def test_a_short_at_an_open_below_the_previous_close_is_refused(tmp_path):
    # 002230 on 2023-08-15: open 63.76 < previous close 63.98 -> the short may not be priced there.
    _, res = short_once(tmp_path, [(DAYS[1], 63.76, 64.5, 63.0, 64.2)])
    order = only_order(res, code="002230")
    assert (order["status"], order["reason"], order["filled"]) == ("refused", "short_price_rule", 0)
    assert res.fills.empty


def test_a_short_at_or_above_the_previous_close_fills_at_the_open(tmp_path):
    _, res = short_once(tmp_path, [(DAYS[1], 63.98, 64.5, 63.0, 64.2)])
    assert only_order(res, code="002230")["status"] == "filled"
    assert res.fills["price"].tolist() == [63.98]


def test_a_short_at_the_close_needs_the_close_at_or_above_the_previous_close(tmp_path):
    _, res = short_once(tmp_path / "below", [(DAYS[1], 64.5, 64.8, 63.0, 63.5)], at="close")
    assert only_order(res, code="002230")["reason"] == "short_price_rule"
    _, res = short_once(tmp_path / "above", [(DAYS[1], 63.0, 64.8, 62.9, 64.1)], at="close")
    assert res.fills["price"].tolist() == [64.1]


def test_the_optional_model_fills_at_the_previous_close_when_the_high_reaches_it(tmp_path):
    rules = {"short_fill_at_prev_close": True}
    _, res = short_once(tmp_path / "reached", [(DAYS[1], 63.76, 64.5, 63.0, 64.2)], rules=rules)
    assert res.fills["price"].tolist() == [63.98]  # 700 shares sized at the open 63.76 for 50000
    _, res = short_once(tmp_path / "never", [(DAYS[1], 63.76, 63.9, 63.0, 63.5)], rules=rules)
    assert only_order(res, code="002230")["reason"] == "short_price_rule"


def test_the_rule_can_be_switched_off(tmp_path):
    _, res = short_once(tmp_path, [(DAYS[1], 63.76, 64.5, 63.0, 64.2)], rules={"short_price_rule": False})
    assert res.fills["price"].tolist() == [63.76]


# ------------------------------------------------------------- interest on the sale value ---

def test_interest_is_on_the_sale_value_not_on_the_daily_mark():
    """A lot partly covered: the covered part pays its sale value x rate x days / 360; the cash has
    been charged day by day already, so the cover owes nothing more."""
    book2 = CreditBook(R.Rules(borrow_rate=0.10))
    book2.open("600000", day("2024-01-02"), 1000, 10.0)
    assert book2.accrue("600000", day("2024-01-03")) == 2.78   # 10000 x 0.1 x 1 / 360
    assert book2.accrue("600000", day("2024-01-08")) == 13.89  # 6 days: 16.67 in all, 2.78 already taken
    assert book2.cover("600000", day("2024-01-08"), 400) == 0.0
    row = book2.rows[-1]
    assert (row["sale_value"], row["days"], row["fee"]) == (4000.0, 6, 6.67)
    assert book2.accrued("600000") == 10.0  # the remaining 600 shares: 16.67 - 6.67


def test_every_covered_lot_has_a_ledger_row_and_open_lots_are_listed_at_the_end():
    book = CreditBook(R.Rules())
    book.open("600000", day("2024-01-02"), 1000, 10.0)
    book.open("600000", day("2024-01-03"), 1000, 11.0)
    book.accrue("600000", day("2024-01-04"))
    book.cover("600000", day("2024-01-04"), 1500)
    book.close_out(day("2024-01-05"))
    assert [(r["sale_value"], r["days"], r["status"]) for r in book.rows] == [
        (10000.0, 2, "settled"), (5500.0, 1, "settled"), (5500.0, 2, "accrued (open)")]


# ------------------------------------------------------------------- volume participation ---

def test_a_buy_over_a_quarter_of_the_volume_is_filled_in_part(tmp_path):
    # 1,000 shares traded: 25 % = 250, in whole lots 200 of the 500 asked for.
    stocks = {"600001": bars(10.0, [(DAYS[0], 10.0, 10.2, 9.9, 10.1), (DAYS[1], 10.1, 10.2, 10.0, 10.1)],
                             volume=1000.0)}
    _, res = run_plan(tmp_path, stocks, [(0, "open", "buy_shares", "600001", 500)])
    order = only_order(res, code="600001")
    assert (order["size"], order["filled"], order["status"], order["reason"]) == (500, 200, "partial", "volume_limit")
    assert res.fills["size"].tolist() == [200]


def test_a_cap_below_one_lot_refuses_and_the_cap_is_a_rule(tmp_path):
    stocks = {"600001": bars(10.0, [(DAYS[0], 10.0, 10.2, 9.9, 10.1), (DAYS[1], 10.1, 10.2, 10.0, 10.1)],
                             volume=300.0)}
    _, res = run_plan(tmp_path, stocks, [(0, "open", "buy_shares", "600001", 100)])
    assert only_order(res, code="600001")["reason"] == "volume_limit"  # 75 shares < one lot
    _, res = run_plan(tmp_path / "off", stocks, [(0, "open", "buy_shares", "600001", 100)], rules={"volume_limit": 0})
    assert only_order(res, code="600001")["status"] == "filled"


def test_a_sale_of_the_whole_holding_under_the_cap_is_whole():
    assert R.volume_cap("600001", "sell", 1000, held=250) == 250
    assert R.volume_cap("600001", "sell", 1000, held=900) == 200
    assert R.volume_cap("688001", "buy", 1000) == 250 and R.volume_cap("688001", "buy", 700) == 0


# --------------------------------------------------------------------- maintenance margin ---

def rising(prev=10.0):
    """A stock shorted at 10.00 that climbs +10 % a session (not locked) to 16.00, then stays."""
    closes = [10.0, 11.0, 12.1, 13.31, 14.64, 16.0, 16.0, 16.0, 16.0, 16.0]
    rows, p = [], prev
    for d, c in zip(DAYS, closes):
        o = p if d != DAYS[0] else 10.0
        rows.append((d, o, c, min(o, c), c))
        p = c
    return bars(prev, rows)


def test_a_margin_call_then_forced_liquidation_after_the_grace(tmp_path):
    # 100,000 cash, short 10,000 shares at 10.00 (margin 50 % in 2023-08: 50,000 needed).
    # Collateral: cash 100,000 + proceeds 100,000 = 200,000 (less fees and interest). At the close of
    # session 5 (16.00): 200,000 / 160,000 = 125 % < 130 % -> called at session 6's open; still below
    # at sessions 7 and 8: grace of 2 sessions is over at session 8 -> every short covered at its open.
    plan = [(0, "open", "short_value", "600001", 100000)]
    _, res = run_plan(tmp_path, {"600001": rising()}, plan, margin=("600001",), cash=100_000)
    rows = order_rows(res, code="600001")
    calls = [r for r in rows if r["status"] == "margin_call"]
    assert [(str(r["date"]), r["reason"]) for r in calls] == [(DAYS[6], "maintenance_margin")]
    assert "维持担保比例" in calls[0]["note"]
    cover = [r for r in rows if r["side"] == "cover" and r["status"] == "filled"]
    assert [(str(r["date"]), r["size"]) for r in cover] == [(DAYS[8], 10000)]
    assert cover[0]["note"].startswith("forced_liquidation")
    assert res.fills["price"].tolist() == [10.0, 16.0]


def test_a_call_restored_within_the_grace_is_not_liquidated():
    watch = MarginWatch(R.Rules())
    assert watch.update(5, day(DAYS[5]), 1.25) == "call"
    assert watch.update(6, day(DAYS[6]), 1.40) == "restored"
    assert watch.update(7, day(DAYS[7]), 1.25) == "call"
    assert watch.update(8, day(DAYS[8]), 1.29) is None
    assert watch.update(9, day(DAYS[9]), 1.29) == "liquidate"
    assert maintenance_ratio(100, 30, 0, 0) == float("inf")


# ------------------------------------------------------------------------ bad [rules] values ---

@pytest.mark.parametrize("mapping, fragment", [
    ({"volume_limit": -0.1}, "must not be negative"),
    ({"volume_limit": 1.5}, "at most 1"),
    ({"maintenance_call": 0.95}, "at least 1"),
    ({"maintenance_grace": 1.5}, "whole number"),
    ({"volume_limt": 0.2}, "did you mean 'volume_limit'"),
    ({"short_price_rule": "yes"}, "true or false"),
])
def test_bad_rules_values_are_one_line_errors(mapping, fragment):
    with pytest.raises(InputError) as err:
        R.rules_from_mapping(mapping, "backtests/x.toml [rules]")
    text = str(err.value)
    assert fragment in text and "\n" not in text and text.startswith("backtests/x.toml [rules]")


def test_the_borrow_rate_in_force_on_the_sale_day_applies_to_the_short():
    """[rules] borrow_rate is a dated table: a short sold before a rate change keeps the old rate."""
    from datetime import date as _date

    from hypebt.market import credit
    from hypebt.market import rules as R

    rules = R.rules_from_mapping({"borrow_rate": [["2010-03-31", 0.08], ["2023-09-01", 0.106]]}, "t.toml [rules]")
    book = credit.CreditBook(rules)
    book.open("002230", _date(2023, 8, 15), 1000, 63.98)  # 63,980 x 8 % x 18 / 360 = 255.92
    book.open("600519", _date(2023, 9, 4), 100, 1800.0)   # 180,000 x 10.6 % x 15 / 360 = 795.00
    assert book.accrue("002230", _date(2023, 9, 2)) == 255.92
    assert book.accrue("600519", _date(2023, 9, 19)) == 795.0
    assert R.borrow_rate_on(_date(2023, 8, 31), rules) == 0.08 and R.borrow_rate_on(_date(2023, 9, 1), rules) == 0.106


def test_a_borrow_rate_given_as_a_percent_is_refused():
    from hypebt.core.errors import InputError
    from hypebt.market import rules as R

    with pytest.raises(InputError, match="borrow_rate"):
        R.rules_from_mapping({"borrow_rate": 8}, "t.toml [rules]")
