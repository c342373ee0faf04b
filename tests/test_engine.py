"""Whole runs on tiny hand-made bars: exact fills, fees (to the fen) and cash for every rule.

Each test builds a store and a workspace in ``tmp_path`` (see ``helpers_engine``), runs
a plan of orders through the Script strategy and checks the orders, fills, trades,
borrow ledger and equity rows the engine returns. Prices are traded (``raw``) prices,
so no limit tolerance applies unless a test asks for qfq data.
"""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from helpers_engine import (
    BENCH, bars, day, make_workspace, only_order, order_rows, run_plan, write_spec, write_store,
)
from hypebt.cli import main as cli
from hypebt.engine import backtest as engine
from hypebt.market import rules as R
from hypebt.core.errors import InputError
from hypebt.engine.spec import load_spec
from hypebt.engine.strategy import load_strategy, resolve_params

D4 = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]  # Tue..Fri


def flat(prev: float, price: float, days=D4):
    """A stock trading all day at ``price`` on ``days``."""
    return bars(prev, [(d, price, price, price, price) for d in days])


def fill(result, **match) -> dict:
    frame = result.fills
    for k, v in match.items():
        frame = frame[frame[k] == v]
    rows = frame.to_dict("records")
    assert len(rows) == 1, f"expected one fill matching {match}, got {rows}"
    return rows[0]


def equity_on(result, date: str) -> dict:
    rows = result.equity[result.equity["date"] == day(date)].to_dict("records")
    assert len(rows) == 1, result.equity
    return rows[0]


# --------------------------------------------------------------------------------- limits ---

def test_buy_below_limit_up_fills_at_the_open_with_exact_fees_and_cash(tmp_path):
    # prev close 10.00 -> limit-up 11.00; the open 10.50 is below it.
    stocks = {"600001": bars(10.0, [(D4[0], 10.5, 10.9, 10.4, 10.8), (D4[1], 10.8, 11.0, 10.7, 10.9)])}
    prep, res = run_plan(tmp_path, stocks, [(0, "open", "buy_shares", "600001", 100)])
    assert prep.arrays["600001"].columns["limit_up"][0] == 11.0
    order = only_order(res, code="600001")
    assert (order["status"], order["side"], order["size"], order["price"], order["at"]) == \
        ("filled", "buy", 100, 10.5, "open")
    f = fill(res, code="600001")
    assert f["date"] == day(D4[0]) and f["price"] == 10.5 and f["size"] == 100
    # 1050 * 0.025 % = 0.2625 -> minimum 5.00; transfer 1050 * 0.001 % = 0.0105 -> 0.01
    assert (f["commission"], f["stamp_duty"], f["transfer_fee"], f["fees"]) == (5.0, 0.0, 0.01, 5.01)
    first = equity_on(res, D4[0])
    assert first["cash"] == pytest.approx(1_000_000 - 1050 - 5.01, abs=1e-6)        # 998944.99
    assert first["value"] == pytest.approx(998944.99 + 100 * 10.8, abs=1e-6)


def test_buy_when_open_is_at_limit_up_is_refused(tmp_path):
    # prev close 10.80 -> limit-up 11.88; it opens there and trades lower later (not locked).
    stocks = {"600001": bars(10.0, [(D4[0], 10.5, 10.9, 10.4, 10.8), (D4[1], 11.88, 11.88, 11.5, 11.7)])}
    prep, res = run_plan(tmp_path, stocks, [(1, "open", "buy_shares", "600001", 100)])
    assert prep.arrays["600001"].columns["limit_up"][1] == 11.88
    order = only_order(res, code="600001")
    assert (order["status"], order["reason"], order["price"]) == ("refused", "limit_up", 11.88)
    assert res.fills.empty
    assert res.equity["cash"].tolist() == [1_000_000.0, 1_000_000.0]


def test_buy_on_a_one_price_limit_up_session_is_locked_limit_up(tmp_path):
    # 一字板: open = high = low = close = limit-up 11.00 all day.
    stocks = {"600002": bars(10.0, [(D4[0], 11.0, 11.0, 11.0, 11.0), (D4[1], 12.1, 12.1, 12.1, 12.1)])}
    _, res = run_plan(tmp_path, stocks, [(0, "open", "buy_shares", "600002", 100),
                                         (1, "close", "buy_shares", "600002", 100, {"at": "close"})])
    rows = order_rows(res, code="600002")
    assert [(r["date"], r["status"], r["reason"]) for r in rows] == [
        (day(D4[0]), "refused", "locked_limit_up"), (day(D4[1]), "refused", "locked_limit_up")]
    assert res.fills.empty


def test_buy_at_close_refused_when_the_close_is_limit_up(tmp_path):
    # Traded below the limit during the day but closed at it: a buy at the close is refused.
    stocks = {"600001": bars(10.0, [(D4[0], 10.2, 11.0, 10.1, 11.0), (D4[1], 11.0, 11.5, 10.9, 11.2)])}
    _, res = run_plan(tmp_path, stocks, [(0, "close", "buy_shares", "600001", 100, {"at": "close"})])
    order = only_order(res, code="600001")
    assert (order["status"], order["reason"], order["price"], order["at"]) == ("refused", "limit_up", 11.0, "close")


def test_sell_at_limit_down_refused_then_fills_next_session(tmp_path):
    days = D4[:3]
    stocks = {
        # limit-down on D1 is 9.00 and it opens there; on D2 (prev close 9.30) the limit is 8.37
        "600003": bars(10.0, [(days[0], 10.0, 10.2, 9.8, 10.0), (days[1], 9.0, 9.5, 9.0, 9.3),
                              (days[2], 9.2, 9.4, 9.0, 9.3)]),
        # 一字跌停 on D1: nobody buys all day
        "600004": bars(10.0, [(days[0], 10.0, 10.2, 9.8, 10.0), (days[1], 9.0, 9.0, 9.0, 9.0),
                              (days[2], 8.9, 9.2, 8.8, 9.0)]),
    }
    plan = [(0, "open", "buy_shares", "600003", 1000), (0, "open", "buy_shares", "600004", 100),
            (1, "open", "sell_all", "600003"), (1, "open", "sell_all", "600004"),
            (2, "open", "sell_all", "600003")]
    prep, res = run_plan(tmp_path, stocks, plan)
    assert prep.arrays["600003"].columns["limit_down"][1] == 9.0
    sells = order_rows(res, code="600003", side="sell")
    assert [(r["date"], r["status"], r["reason"], r["price"]) for r in sells] == [
        (day(days[1]), "refused", "limit_down", 9.0), (day(days[2]), "filled", "", 9.2)]
    assert only_order(res, code="600004", side="sell")["reason"] == "locked_limit_down"
    f = fill(res, code="600003", side="sell")
    # 9200: commission 2.30 -> 5.00, stamp duty 0.05 % = 4.60, transfer 0.092 -> 0.09
    assert (f["commission"], f["stamp_duty"], f["transfer_fee"], f["fees"]) == (5.0, 4.6, 0.09, 9.69)
    t = res.trades[res.trades["code"] == "600003"].iloc[0]
    assert (t["gross_pnl"], t["fees"], t["net_pnl"], t["status"]) == (-800.0, 14.79, -814.79, "closed")


def test_limit_order_at_limit_up_fills_only_under_the_optional_model(tmp_path):
    """A market buy at a limit-up open is refused; a limit order at limit-up (at="limit") fills at
    the limit when the board opened during the day (low 11.50 < 11.88) and the optional
    ``fill_at_limit_when_opened`` model is on; never on a 一字板."""
    opened = {"600001": bars(10.0, [(D4[0], 10.5, 10.9, 10.4, 10.8), (D4[1], 11.88, 11.88, 11.5, 11.7)])}
    locked = {"600001": bars(10.0, [(D4[0], 10.5, 10.9, 10.4, 10.8), (D4[1], 11.88, 11.88, 11.88, 11.88)])}
    market = [(1, "open", "buy_shares", "600001", 100)]
    limit = [(1, "open", "buy_shares", "600001", 100, {"at": "limit"})]
    on = {"fill_at_limit_when_opened": True}

    _, res = run_plan(tmp_path / "a", opened, market, rules=on)
    assert only_order(res, code="600001")["reason"] == "limit_up"
    _, res = run_plan(tmp_path / "b", opened, limit)
    assert only_order(res, code="600001")["reason"] == "limit_up"  # model off (the default)
    _, res = run_plan(tmp_path / "c", opened, limit, rules=on)
    f = fill(res, code="600001")
    assert (f["date"], f["price"], f["size"]) == (day(D4[1]), 11.88, 100)
    _, res = run_plan(tmp_path / "d", locked, limit, rules=on)
    assert only_order(res, code="600001")["reason"] == "locked_limit_up"


def test_qfq_data_widens_the_limit_by_the_tolerance(tmp_path):
    # limit-up 11.00; an open of 10.99 is a fen below: a buy on traded prices, "at the limit" on qfq.
    stocks = {"600001": bars(10.0, [(D4[0], 10.99, 11.0, 10.9, 10.95), (D4[1], 10.9, 11.0, 10.8, 10.9)])}
    plan = [(0, "open", "buy_shares", "600001", 100)]
    prep, res = run_plan(tmp_path / "qfq", stocks, plan, adjust="qfq")
    assert prep.rules.limit_tolerance == prep.rules.qfq_limit_tolerance == 0.011
    assert only_order(res, code="600001")["reason"] == "limit_up"
    prep, res = run_plan(tmp_path / "raw", stocks, plan, adjust="raw")
    assert prep.rules.limit_tolerance == 0.0
    assert only_order(res, code="600001")["status"] == "filled"
    prep, res = run_plan(tmp_path / "qfq0", stocks, plan, adjust="qfq", rules={"limit_tolerance": 0.0})
    assert prep.rules.limit_tolerance == 0.0
    assert fill(res, code="600001")["price"] == 10.99


# ------------------------------------------------------------------------------------ T+1 ---

def test_t_plus_1_same_session_sale_refused_next_session_fills(tmp_path):
    stocks = {"600000": bars(10.0, [(D4[0], 10.0, 10.5, 9.9, 10.2), (D4[1], 10.3, 10.6, 10.1, 10.4),
                                    (D4[2], 10.4, 10.6, 10.1, 10.5)])}
    plan = [(0, "open", "buy_shares", "600000", 100), (0, "close", "sell_all", "600000", {"at": "close"}),
            (1, "open", "sell_all", "600000")]
    _, res = run_plan(tmp_path, stocks, plan)
    rows = order_rows(res, code="600000")
    assert [(r["date"], r["side"], r["status"], r["reason"]) for r in rows] == [
        (day(D4[0]), "buy", "filled", ""), (day(D4[0]), "sell", "refused", "t_plus_1"),
        (day(D4[1]), "sell", "filled", "")]
    sell = fill(res, side="sell")
    # 1030: commission 5.00 (minimum), stamp 0.515 -> 0.52 (half up), transfer 0.0103 -> 0.01
    assert (sell["date"], sell["price"], sell["commission"], sell["stamp_duty"], sell["transfer_fee"]) == \
        (day(D4[1]), 10.3, 5.0, 0.52, 0.01)
    t = res.trades.iloc[0]
    assert (t["entry_date"], t["exit_date"], t["gross_pnl"], t["fees"], t["net_pnl"]) == \
        (day(D4[0]), day(D4[1]), 30.0, 10.54, 19.46)
    assert res.equity["cash"].iloc[-1] == pytest.approx(1_000_019.46, abs=1e-6)


def test_shares_bought_at_a_close_can_be_sold_at_the_next_close(tmp_path):
    stocks = {"600000": bars(10.0, [(D4[0], 10.0, 10.5, 9.9, 10.2), (D4[1], 10.3, 10.6, 10.1, 10.4),
                                    (D4[2], 10.4, 10.6, 10.1, 10.5)])}
    plan = [(0, "close", "buy_shares", "600000", 100, {"at": "close"}),
            (1, "close", "sell_all", "600000", {"at": "close"})]
    _, res = run_plan(tmp_path, stocks, plan)
    sell = only_order(res, side="sell")
    assert (sell["status"], sell["reason"]) == ("filled", "")


def test_shares_bought_at_a_close_can_be_sold_at_the_next_open(tmp_path):
    stocks = {"600000": bars(10.0, [(D4[0], 10.0, 10.5, 9.9, 10.2), (D4[1], 10.3, 10.6, 10.1, 10.4),
                                    (D4[2], 10.4, 10.6, 10.1, 10.5)])}
    plan = [(0, "close", "buy_shares", "600000", 100, {"at": "close"}), (1, "open", "sell_all", "600000")]
    _, res = run_plan(tmp_path, stocks, plan)
    sell = only_order(res, side="sell")
    assert (sell["status"], sell["size"], sell["price"]) == ("filled", 100, 10.3)


# ----------------------------------------------------------------------------------- lots ---

def test_lot_rules_main_board_and_star(tmp_path):
    stocks = {"600001": flat(10.9, 11.0), "688001": flat(50.0, 50.0)}
    plan = [
        (0, "open", "buy_value", "600001", 11099.0),   # 1009.0 shares wanted -> 1000
        (0, "open", "buy_value", "688001", 12535.0),   # STAR: 250.7 -> 250 (any number above 200)
        (1, "open", "buy_value", "688001", 9999.0),    # STAR: 199.98 -> below the 200 minimum
        (1, "open", "buy_shares", "688001", 201),      # STAR: 201 is valid
        (1, "open", "buy_shares", "600001", 150),      # main board: not a whole lot
        (2, "open", "buy_shares", "688001", 199),      # STAR: below the minimum
    ]
    _, res = run_plan(tmp_path, stocks, plan)
    got = [(str(r["date"]), r["code"], r["size"], r["status"], r["reason"]) for r in order_rows(res)]
    assert got == [
        (D4[0], "600001", 1000, "filled", ""),
        (D4[0], "688001", 250, "filled", ""),
        (D4[1], "688001", 0, "refused", "lot_size"),
        (D4[1], "688001", 201, "filled", ""),
        (D4[1], "600001", 150, "refused", "lot_size"),
        (D4[2], "688001", 199, "refused", "lot_size"),
    ]
    # 12500 * 0.001 % = 0.125 -> 0.13 (half up, not banker's 0.12)
    assert fill(res, code="688001", size=250)["transfer_fee"] == 0.13


# ----------------------------------------------------------------------------------- fees ---

def test_minimum_commission_and_transfer_fee_on_a_small_buy(tmp_path):
    _, res = run_plan(tmp_path, {"600000": flat(10.0, 10.0)}, [(0, "open", "buy_shares", "600000", 100)])
    f = fill(res, code="600000")
    # value 1000: commission 0.25 -> minimum 5.00; transfer 1000 * 0.00001 = 0.01; no stamp duty on buys
    assert (f["commission"], f["stamp_duty"], f["transfer_fee"], f["fees"]) == (5.0, 0.0, 0.01, 5.01)
    assert equity_on(res, D4[0])["cash"] == pytest.approx(998_994.99, abs=1e-6)


def test_stamp_duty_halved_on_2023_08_28(tmp_path):
    days = ["2023-08-23", "2023-08-24", "2023-08-25", "2023-08-28", "2023-08-29"]
    stocks = {"600000": flat(12.35, 12.35, days), "600001": flat(12.35, 12.35, days)}
    plan = [(0, "open", "buy_shares", "600000", 1000), (0, "open", "buy_shares", "600001", 1000),
            (2, "open", "sell_all", "600000"), (3, "open", "sell_all", "600001")]
    _, res = run_plan(tmp_path, stocks, plan)
    before, after = fill(res, code="600000", side="sell"), fill(res, code="600001", side="sell")
    assert before["date"] == day("2023-08-25") and after["date"] == day("2023-08-28")
    # value 12350: 0.1 % = 12.35 on Friday; 0.05 % = 6.175 -> 6.18 from Monday (half up)
    assert (before["commission"], before["stamp_duty"], before["transfer_fee"], before["fees"]) == \
        (5.0, 12.35, 0.12, 17.47)
    assert (after["commission"], after["stamp_duty"], after["transfer_fee"], after["fees"]) == \
        (5.0, 6.18, 0.12, 11.30)
    assert fill(res, code="600000", side="buy")["stamp_duty"] == 0.0
    # flat prices: each round trip loses exactly its fees; buy 5.00 + 0.12
    assert res.trades.set_index("code")["net_pnl"].to_dict() == {"600000": -22.59, "600001": -16.42}
    assert res.equity["cash"].iloc[-1] == pytest.approx(1_000_000 - 22.59 - 16.42, abs=1e-6)


def test_transfer_fee_halved_on_2022_04_29(tmp_path):
    days = ["2022-04-27", "2022-04-28", "2022-04-29", "2022-05-05"]
    stocks = {"600000": flat(20.45, 20.45, days)}
    plan = [(1, "open", "buy_shares", "600000", 5000), (2, "open", "buy_shares", "600000", 5000)]
    _, res = run_plan(tmp_path, stocks, plan)
    f1, f2 = (fill(res, date=day(d)) for d in ("2022-04-28", "2022-04-29"))
    # value 102250: commission 25.5625 -> 25.56; transfer 0.002 % = 2.045 -> 2.05, then 0.001 % = 1.0225 -> 1.02
    assert (f1["commission"], f1["transfer_fee"], f1["fees"]) == (25.56, 2.05, 27.61)
    assert (f2["commission"], f2["transfer_fee"], f2["fees"]) == (25.56, 1.02, 26.58)
    assert res.equity["cash"].iloc[-1] == pytest.approx(1_000_000 - 2 * 102_250 - 27.61 - 26.58, abs=1e-6)


# ----------------------------------------------------------------------------- suspension ---

def test_order_on_a_suspended_session_is_cancelled_and_the_position_keeps_its_last_close(tmp_path):
    # 600003 has no bar on D1 (the index does): suspended that session.
    stocks = {"600003": bars(10.0, [(D4[0], 10.0, 10.2, 9.8, 10.1), (D4[2], 10.2, 10.4, 10.0, 10.3)]),
              "600000": flat(10.0, 10.0, D4[:3])}
    plan = [(0, "open", "buy_shares", "600003", 1000), (1, "open", "sell_all", "600003"),
            (1, "open", "buy_shares", "600003", 100), (2, "open", "sell_all", "600003")]
    prep, res = run_plan(tmp_path, stocks, plan)
    assert prep.arrays["600003"].columns["suspended"].tolist() == [0.0, 1.0, 0.0]
    on_d1 = order_rows(res, code="600003", date=day(D4[1]))
    assert [(r["side"], r["status"], r["reason"]) for r in on_d1] == [
        ("sell", "cancelled", "suspended"), ("buy", "cancelled", "suspended")]
    assert all(math.isnan(r["price"]) for r in on_d1)
    d1 = equity_on(res, D4[1])
    assert d1["value"] - d1["cash"] == pytest.approx(1000 * 10.1, abs=1e-6)
    assert fill(res, side="sell")["date"] == day(D4[2])


# -------------------------------------------------------------------------- short selling ---

SHORT_DAYS = ["2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09"]  # Thu, Fri, Mon, Tue


def short_market():
    return {"002230": bars(40.0, [(SHORT_DAYS[0], 40.0, 40.8, 39.8, 40.5), (SHORT_DAYS[1], 40.5, 41.2, 40.3, 41.0),
                                  (SHORT_DAYS[2], 40.0, 41.0, 38.8, 39.0), (SHORT_DAYS[3], 38.5, 39.0, 38.0, 38.2)]),
            "600000": flat(10.0, 10.0, SHORT_DAYS)}


def test_short_of_a_code_off_the_margin_list_is_not_shortable(tmp_path):
    _, res = run_plan(tmp_path, short_market(), [(0, "open", "short_value", "600000", 40000)], margin=("002230",))
    order = only_order(res, code="600000")
    assert (order["side"], order["size"], order["status"], order["reason"]) == ("short", 4000, "refused", "not_shortable")
    _, res = run_plan(tmp_path / "off", short_market(), [(0, "open", "short_value", "002230", 40000)],
                      margin=("002230",), rules={"short_enabled": False})
    assert only_order(res, code="002230")["reason"] == "not_shortable"


def test_short_over_a_weekend_accrues_borrow_per_calendar_day_at_the_previous_close(tmp_path):
    plan = [(0, "open", "short_value", "002230", 40000),
            (0, "close", "cover_all", "002230", {"at": "close"}),
            (3, "open", "cover_all", "002230")]
    _, res = run_plan(tmp_path, short_market(), plan, margin=("002230",))
    rows = order_rows(res, code="002230")
    assert [(str(r["date"]), r["side"], r["size"], r["status"], r["reason"]) for r in rows] == [
        (SHORT_DAYS[0], "short", 1000, "filled", ""),
        (SHORT_DAYS[0], "cover", 1000, "refused", "t_plus_1"),
        (SHORT_DAYS[3], "cover", 1000, "filled", ""),
    ]
    # Fri: 1000 x 40.50 (Thu close) x 8 % x 1 / 360 = 9.00; Mon: 41.00 x 3 days = 27.333 -> 27.33;
    # Tue: 39.00 x 1 day = 8.667 -> 8.67
    assert [(str(d), c, fee, n) for d, c, fee, n in res.borrow.itertuples(index=False)] == [
        (SHORT_DAYS[1], "002230", 9.0, 1), (SHORT_DAYS[2], "002230", 27.33, 3), (SHORT_DAYS[3], "002230", 8.67, 1)]
    short, cover = fill(res, side="short"), fill(res, side="cover")
    # short sale of 40000 pays stamp duty: 10.00 + 20.00 + 0.40; cover 38500: 9.625 -> 9.63 + 0.385 -> 0.39
    assert (short["commission"], short["stamp_duty"], short["transfer_fee"], short["fees"]) == (10.0, 20.0, 0.4, 30.4)
    assert (cover["commission"], cover["stamp_duty"], cover["transfer_fee"], cover["fees"]) == (9.63, 0.0, 0.39, 10.02)
    t = res.trades.iloc[0]
    assert (t["direction"], t["size"], t["entry_price"], t["exit_price"]) == ("short", 1000, 40.0, 38.5)
    assert (t["gross_pnl"], t["fees"], t["borrow_fee"], t["net_pnl"]) == (1500.0, 40.42, 45.0, 1414.58)
    assert t["borrow_fee"] == pytest.approx(res.borrow["fee"].sum(), abs=1e-9)
    assert res.equity["cash"].iloc[-1] == pytest.approx(1_001_414.58, abs=1e-6)
    assert res.stats["borrow_fees"] == pytest.approx(45.0) and res.stats["fees"] == pytest.approx(40.42)


def test_short_beyond_the_margin_is_refused(tmp_path):
    # 2024-01: margin ratio 80 %; 1700 x 40.00 = 68000 needs 54400 of a 50000 account.
    plan = [(0, "open", "short_value", "002230", 68000), (1, "open", "short_value", "002230", 60000)]
    _, res = run_plan(tmp_path, short_market(), plan, margin=("002230",), cash=50_000)
    rows = order_rows(res, code="002230")
    assert [(r["size"], r["status"], r["reason"]) for r in rows] == [(1700, "refused", "margin"),
                                                                     (1400, "filled", "")]


def test_cover_at_a_close_stops_the_borrow_fee_and_cash_reconciles(tmp_path):
    plan = [(0, "open", "short_value", "002230", 40000), (1, "close", "cover_all", "002230", {"at": "close"})]
    _, res = run_plan(tmp_path, short_market(), plan, margin=("002230",))
    assert fill(res, side="cover")["date"] == day(SHORT_DAYS[1])
    assert res.borrow["fee"].tolist() == [9.0]
    assert res.trades["borrow_fee"].sum() == pytest.approx(res.borrow["fee"].sum(), abs=1e-9)
    assert res.equity["value"].iloc[-1] == pytest.approx(1_000_000 + res.trades["net_pnl"].sum(), abs=0.005)


def test_short_at_a_close_pays_borrow_from_its_first_night(tmp_path):
    plan = [(0, "close", "short_value", "002230", 40500, {"at": "close"}), (3, "open", "cover_all", "002230")]
    _, res = run_plan(tmp_path, short_market(), plan, margin=("002230",))
    assert fill(res, side="short")["price"] == 40.5
    assert [(str(d), fee, n) for d, _, fee, n in res.borrow.itertuples(index=False)] == [
        (SHORT_DAYS[1], 9.0, 1), (SHORT_DAYS[2], 27.33, 3), (SHORT_DAYS[3], 8.67, 1)]


def test_short_sale_proceeds_do_not_fund_other_buys(tmp_path):
    plan = [(0, "open", "short_value", "002230", 40000), (1, "open", "buy_value", "600000", 80000)]
    _, res = run_plan(tmp_path, short_market(), plan, margin=("002230",), cash=50_000)
    buy = only_order(res, code="600000")
    assert (buy["status"], buy["reason"]) == ("refused", "cash")


# ----------------------------------------------------------------------------------- cash ---

def test_buy_beyond_cash_is_refused(tmp_path):
    stocks = {"600000": flat(10.0, 10.0)}
    # 100 @ 10.00 costs 1000.00 + 5.00 + 0.01 = 1005.01
    _, res = run_plan(tmp_path / "a", stocks, [(0, "open", "buy_shares", "600000", 100)], cash=1005.00)
    assert (only_order(res)["status"], only_order(res)["reason"]) == ("refused", "cash")
    assert res.fills.empty and res.equity["cash"].tolist() == [1005.0] * 4
    _, res = run_plan(tmp_path / "b", stocks, [(0, "open", "buy_shares", "600000", 100)], cash=1005.02)
    assert only_order(res)["status"] == "filled"
    assert res.equity["cash"].tolist() == pytest.approx([0.01] * 4, abs=1e-6)


def test_a_buy_costing_exactly_the_cash_fills(tmp_path):
    stocks = {"600000": flat(10.0, 10.0)}
    _, res = run_plan(tmp_path, stocks, [(0, "open", "buy_shares", "600000", 100)], cash=1005.01)
    assert only_order(res)["status"] == "filled"
    assert res.equity["cash"].tolist() == pytest.approx([0.0] * 4, abs=1e-6)


def test_orders_of_one_session_reserve_cash_for_each_other(tmp_path):
    stocks = {"600000": flat(10.0, 10.0), "600001": flat(10.0, 10.0)}
    plan = [(0, "open", "buy_shares", "600000", 600), (0, "open", "buy_shares", "600001", 500)]
    _, res = run_plan(tmp_path, stocks, plan, cash=10_000)
    # 6005.06 is reserved by the first; 5005.05 more does not fit in 10000
    assert [(r["code"], r["status"], r["reason"]) for r in order_rows(res)] == [
        ("600000", "filled", ""), ("600001", "refused", "cash")]
    assert res.equity["cash"].iloc[0] == pytest.approx(10_000 - 6000 - 5.06, abs=1e-6)


def test_cash_reconciles_to_closed_trades_to_the_fen(tmp_path):
    days = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09"]
    stocks = {
        "600000": bars(10.0, [(d, o, o + 0.3, o - 0.2, o + 0.1) for d, o in zip(days, (10.0, 10.37, 10.55, 10.12, 9.87, 10.03))]),
        "688001": bars(50.0, [(d, o, o + 1, o - 1, o + 0.5) for d, o in zip(days, (50.11, 51.37, 49.99, 52.21, 53.47, 51.9))]),
        "002230": bars(40.0, [(d, o, o + 0.5, o - 0.5, o - 0.2) for d, o in zip(days, (40.0, 40.33, 41.17, 39.55, 38.91, 39.2))]),
    }
    plan = [
        (0, "open", "buy_value", "600000", 33333.0), (0, "open", "buy_value", "688001", 27777.0),
        (0, "open", "short_value", "002230", 55555.0),
        (1, "close", "buy_value", "600000", 12345.0, {"at": "close"}),
        (3, "open", "sell_all", "600000"), (2, "open", "sell_all", "688001"), (4, "open", "cover_all", "002230"),
        (4, "open", "buy_shares", "688001", 333), (5, "open", "sell_all", "688001"),
    ]
    _, res = run_plan(tmp_path, stocks, plan, margin=("002230",))
    assert (res.trades["status"] == "closed").all() and len(res.trades) == 4
    assert len(res.fills) == 9
    final = res.equity.iloc[-1]
    assert final["value"] == pytest.approx(final["cash"], abs=1e-9)  # nothing open
    assert round(final["cash"], 2) == round(1_000_000 + res.trades["net_pnl"].sum(), 2)
    assert round(res.fills["fees"].sum(), 2) == round(res.trades["fees"].sum(), 2)
    assert round(res.borrow["fee"].sum(), 2) == round(res.trades["borrow_fee"].sum(), 2) > 0


def test_equity_minus_cash_is_the_positions_at_the_close(tmp_path):
    stocks = {
        "600000": bars(10.0, [(d, 10 + i * 0.11, 10.5 + i * 0.11, 9.8 + i * 0.11, 10.2 + i * 0.13) for i, d in enumerate(D4)]),
        "688001": bars(50.0, [(d, 50 - i * 0.7, 51 - i * 0.7, 49 - i * 0.7, 50.3 - i * 0.9) for i, d in enumerate(D4)]),
    }
    plan = [(0, "open", "buy_shares", "600000", 700), (1, "open", "buy_shares", "688001", 333),
            (2, "open", "buy_shares", "600000", 200)]
    prep, res = run_plan(tmp_path, stocks, plan)
    assert res.trades["status"].tolist() == ["open", "open"]
    fills = res.fills
    for i, d in enumerate(D4):
        held = fills[fills["date"] <= day(d)].groupby("code")["size"].sum()
        marked = sum(n * prep.arrays[c].columns["close"][i] for c, n in held.items())
        row = equity_on(res, d)
        assert row["value"] - row["cash"] == pytest.approx(marked, abs=1e-6), d
    # cash = start - what was paid, fees included
    paid = (fills["size"] * fills["price"]).sum() + fills["fees"].sum()
    assert res.equity["cash"].iloc[-1] == pytest.approx(1_000_000 - paid, abs=1e-6)


# ------------------------------------------------------------------------------- at close ---

def test_buy_at_close_fills_at_that_close_dated_that_session(tmp_path):
    stocks = {"600000": bars(10.0, [(D4[0], 10.0, 10.5, 9.9, 10.2), (D4[1], 10.3, 10.6, 10.1, 10.4),
                                    (D4[2], 10.4, 10.6, 10.1, 10.5)])}
    _, res = run_plan(tmp_path, stocks, [(0, "close", "buy_shares", "600000", 300, {"at": "close"})])
    order = only_order(res)
    assert (order["date"], order["at"], order["price"], order["status"]) == (day(D4[0]), "close", 10.2, "filled")
    f = fill(res, code="600000")
    # 3060: commission 0.765 -> 5.00, transfer 0.0306 -> 0.03
    assert (f["date"], f["price"], f["size"], f["fees"]) == (day(D4[0]), 10.2, 300, 5.03)
    assert res.trades.iloc[0]["entry_date"] == day(D4[0])
    assert equity_on(res, D4[1])["cash"] == pytest.approx(1_000_000 - 3060 - 5.03, abs=1e-6)
    assert equity_on(res, D4[1])["value"] == pytest.approx(1_000_000 - 3065.03 + 300 * 10.4, abs=1e-6)


def test_order_at_the_last_close_fills_at_that_close(tmp_path):
    _, res = run_plan(tmp_path, {"600000": flat(10.0, 10.0)},
                      [(3, "close", "buy_shares", "600000", 100, {"at": "close"})])
    order = only_order(res)
    assert (order["status"], order["reason"]) == ("filled", "")
    f = fill(res, code="600000")
    assert (f["date"], f["price"], f["size"]) == (day(D4[3]), 10.0, 100)
    assert res.equity["cash"].iloc[-1] == pytest.approx(1_000_000 - 1000 - 5.01, abs=1e-6)


def test_open_order_placed_at_the_close_fills_at_the_next_open(tmp_path):
    stocks = {"600000": bars(10.0, [(D4[0], 10.0, 10.5, 9.9, 10.2), (D4[1], 10.3, 10.6, 10.1, 10.4),
                                    (D4[2], 10.4, 10.6, 10.1, 10.5)])}
    _, res = run_plan(tmp_path, stocks, [(0, "close", "buy_shares", "600000", 100)])
    f = fill(res, code="600000")
    assert (f["date"], f["price"]) == (day(D4[1]), 10.3)


# ----------------------------------------------------------------------- strategy loading ---

MY_STRATEGY = '''
from hypebt import Strategy


class Momentum(Strategy):
    """Test strategy written by a test."""

    PARAMS = {"lookback": 20, "threshold": 0.05}
'''


def test_strategy_file_in_a_folder_is_found_by_name(tmp_path):
    folder = tmp_path / "strategies"
    folder.mkdir()
    (folder / "momentum_x.py").write_text(MY_STRATEGY, "utf-8")
    (folder / "_helper.py").write_text("X = 1\n", "utf-8")
    cls = load_strategy("momentum_x", folder)
    assert cls.__name__ == "Momentum" and cls.hypebt_name == "momentum_x"
    assert cls.hypebt_path == folder / "momentum_x.py"
    assert resolve_params(cls, {"lookback": 10}, "spec") == {"lookback": 10, "threshold": 0.05}
    with pytest.raises(InputError, match="_helper"):  # helper files are not strategies
        load_strategy("_helper", folder)
    # an explicit .py path loads too, named by its stem
    assert load_strategy(str(folder / "momentum_x.py"), tmp_path / "elsewhere").hypebt_name == "momentum_x"


def test_unknown_strategy_name_says_did_you_mean_and_lists_the_strategies(tmp_path):
    folder = tmp_path / "strategies"
    folder.mkdir()
    (folder / "momentum_x.py").write_text(MY_STRATEGY, "utf-8")
    (folder / "hype_buy.py").write_text(MY_STRATEGY.replace("Momentum", "Hype"), "utf-8")
    (folder / "_shared.py").write_text("X = 1\n", "utf-8")
    with pytest.raises(InputError) as err:
        load_strategy("momentum", folder)
    msg = str(err.value)
    assert "unknown strategy 'momentum'" in msg and "did you mean 'momentum_x'" in msg
    assert msg.endswith("known: hype_buy, momentum_x")


def test_unknown_parameter_says_did_you_mean_and_lists_the_parameters(tmp_path):
    folder = tmp_path / "strategies"
    folder.mkdir()
    (folder / "momentum_x.py").write_text(MY_STRATEGY, "utf-8")
    cls = load_strategy("momentum_x", folder)
    with pytest.raises(InputError) as err:
        resolve_params(cls, {"look_back": 5}, "my.toml")
    msg = str(err.value)
    assert msg.startswith("my.toml: unknown parameter of strategy momentum_x 'look_back'")
    assert "did you mean 'lookback'" in msg and "known: lookback, threshold" in msg
    # the same check stops a spec at prepare(), before any data is read
    store = write_store(tmp_path / "store", {"600000": flat(10.0, 10.0)})
    ws = make_workspace(tmp_path / "ws")
    spec = write_spec(ws, "t", {"strategy": "script", "codes": ["600000"]}, {"params": {"plann": []}})
    with pytest.raises(InputError, match=r"unknown parameter of strategy script 'plann' \(did you mean 'plan'\?\)"):
        engine.prepare(load_spec(spec), ws, store)


# ------------------------------------------------------------------------------------ CLI ---

BUY_FIRST = '''
"""Buy 1000 shares of every code at the first open, sell them at the third."""

from hypebt import Strategy


class BuyFirst(Strategy):
    PARAMS = {"shares": 1000, "sell_on": 2}

    def on_open(self, day):
        for code in self.universe:
            if self.session_no == 0:
                self.buy_shares(code, self.cfg.shares)
            elif self.session_no == self.cfg.sell_on:
                self.sell_all(code)
'''


def cli_workspace(tmp_path):
    home = tmp_path / "home"
    store = write_store(home, {"600000": bars(10.0, [(d, 10 + i * 0.1, 10.3 + i * 0.1, 9.9 + i * 0.1, 10.05 + i * 0.1)
                                                       for i, d in enumerate(D4)])})
    ws = make_workspace(tmp_path / "ws", strategies={"buy_first": BUY_FIRST})
    write_spec(ws, "tiny", {"strategy": "buy_first", "codes": ["600000"], "cash": 100_000, "benchmark": BENCH},
               {"params": {"shares": 2000}})
    return ws, home, store


def test_cli_run_writes_the_report_files(tmp_path, capsys):
    ws, home, store = cli_workspace(tmp_path)
    argv = ["--workspace", str(ws), "--home", str(home), "run", str(ws / "backtests" / "tiny.toml"),
            "--offline", "--no-html", "--set", "sell_on=3"]
    assert cli.main(argv) == 0
    out = ws / "reports" / "tiny"
    assert {p.name for p in out.iterdir()} >= {"stats.json", "trades.csv", "orders.csv", "equity.csv",
                                                  "manifest.json", "fills.csv", "borrow.csv", "returns.csv"}
    assert not (out / "tearsheet.html").exists()
    trades = pd.read_csv(out / "trades.csv", dtype={"code": str})
    assert {"code", "direction", "entry_date", "entry_price", "exit_date", "exit_price", "size",
            "gross_pnl", "fees", "net_pnl"} <= set(trades.columns)
    t = trades.iloc[0]
    # buy 2000 @ 10.00 (fees 5.00 + 0.20), sell 2000 @ 10.30 on D3 (5.15 + 10.30 + 0.21)
    assert (t["code"], t["direction"], t["entry_date"], t["exit_date"], t["size"]) == \
        ("600000", "long", D4[0], D4[3], 2000)
    assert (t["gross_pnl"], t["fees"], t["net_pnl"]) == (600.0, 20.86, 579.14)
    orders = pd.read_csv(out / "orders.csv", dtype={"code": str})
    assert {"date", "code", "side", "size", "price", "status", "reason"} <= set(orders.columns)
    assert orders[["date", "code", "side", "size", "price", "status"]].values.tolist() == [
        [D4[0], "600000", "buy", 2000, 10.0, "filled"], [D4[3], "600000", "sell", 2000, 10.3, "filled"]]
    equity = pd.read_csv(out / "equity.csv")
    assert equity["date"].tolist() == D4
    assert equity["cash"].iloc[-1] == pytest.approx(100_579.14, abs=1e-6)
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    assert stats["final_value"] == pytest.approx(100_579.14) and stats["n_trades"] == 1
    m = json.loads((out / "manifest.json").read_text("utf-8"))
    for pkg in ("hypebt", "backtrader", "akshare", "pandas"):
        assert m["versions"][pkg], pkg
    assert m["data"]["stock_raw"]["sha256"] == store.manifest("stock_raw")["sha256"]
    assert m["data"]["index"]["sha256"] == store.manifest("index")["sha256"]
    assert m["spec"]["name"] == "tiny" and m["spec"]["codes"] == ["600000"]
    assert m["params"] == {"shares": 2000, "sell_on": 3}
    assert m["rules"]["commission_min"] == 5.0 and m["rules"]["limit_tolerance"] == 0.0
    assert "return +0.58%" in capsys.readouterr().out


def test_cli_run_writes_a_tearsheet_naming_the_benchmark(tmp_path):
    ws, home, _ = cli_workspace(tmp_path)
    argv = ["--workspace", str(ws), "--home", str(home), "run", str(ws / "backtests" / "tiny.toml"), "--offline"]
    assert cli.main(argv) == 0
    html = (ws / "reports" / "tiny" / "tearsheet.html").read_text("utf-8")
    assert "sh000300" in html and 'id="hypebt-notes"' in html


def test_cli_unknown_strategy_exits_2_with_did_you_mean(tmp_path, capsys):
    ws, home, _ = cli_workspace(tmp_path)
    write_spec(ws, "typo", {"strategy": "buy_frist", "codes": ["600000"]})
    rc = cli.main(["--workspace", str(ws), "--home", str(home), "run", str(ws / "backtests" / "typo.toml"),
                   "--offline", "--no-html"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "unknown strategy 'buy_frist' (did you mean 'buy_first'?)" in err and "known: buy_first, script" in err
    assert not (ws / "reports" / "typo").exists()


def test_cli_manifest_records_the_command_that_was_run(tmp_path):
    ws, home, _ = cli_workspace(tmp_path)
    argv = ["--workspace", str(ws), "--home", str(home), "run", str(ws / "backtests" / "tiny.toml"),
            "--offline", "--no-html"]
    assert cli.main(argv) == 0
    m = json.loads((ws / "reports" / "tiny" / "manifest.json").read_text("utf-8"))
    assert m["command"] == ["hypebt", *argv]


# ------------------------------------------------------------------------ smaller defects ---

def test_sell_all_without_a_position_is_refused_no_position(tmp_path):
    _, res = run_plan(tmp_path, {"600000": flat(10.0, 10.0)}, [(1, "open", "sell_all", "600000")])
    order = only_order(res)
    assert (order["side"], order["status"], order["reason"]) == ("sell", "refused", "no_position")

def test_to_fen_and_fees_accept_numpy_floats():
    import numpy as np

    from hypebt.market.broker import to_fen

    assert to_fen(np.float64(116.185)) == 116.19
    assert R.fees("buy", 100, np.float64(10.0), day("2024-01-02")).total == 5.01


def test_a_malformed_margin_list_is_reported_as_such(tmp_path):
    store = write_store(tmp_path / "store", {"002230": flat(40.0, 40.0)})
    ws = make_workspace(tmp_path / "ws")
    (ws / "data" / "universes" / "margin.csv").write_text("code,name,snapshot_date,source,kind\n", "utf-8")
    spec = write_spec(ws, "t", {"strategy": "script", "codes": ["002230"], "margin_list": "margin"})
    try:
        prep = engine.prepare(load_spec(spec), ws, store)
    except InputError as exc:
        assert "header only" in str(exc)
        return
    assert any("header only" in w for w in prep.warnings), prep.warnings
