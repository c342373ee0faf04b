"""Tables of real cases for every A-share rule in hypebt.market.rules.

Prices marked "real" are actual bars from ../shared/data (code, session, previous close and the
exchange's limit price); ``test_real_cases_match_the_shared_data`` re-reads them from the data.
"""

from __future__ import annotations

import dataclasses
import doctest
import re
from datetime import date

import pytest

import hypebt.market.rules as rules_module
import hypebt.market.rules_base as rules_base
import hypebt.market.trading as trading
from hypebt.core.errors import InputError
from hypebt.market.rules import (
    BOARDS,
    DEFAULT,
    REFUSAL_REASONS,
    Bar,
    Fees,
    Limits,
    Rules,
    board_of,
    borrow_fee,
    buy_size,
    can_cover,
    can_sell,
    check_buy_size,
    check_fill,
    check_sell_size,
    check_short,
    fees,
    ipo_first_day_limits,
    is_locked,
    is_st,
    limit_pct,
    limits_for,
    margin_ratio,
    price_limits,
    rate_on,
    round_half_up,
    rules_from_mapping,
    slipped_price,
    tick_size,
)

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

D = date.fromisoformat


@pytest.mark.parametrize("module, at_least", [(rules_module, 20), (rules_base, 10), (trading, 10)])
def test_docstring_examples_hold(module, at_least):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > at_least and result.failed == 0


# ------------------------------------------------------------------ boards ---

@pytest.mark.parametrize(
    "code, board",
    [
        ("600519", "sh_main"), ("601318", "sh_main"), ("603259", "sh_main"), ("605499", "sh_main"),
        ("000001", "sz_main"), ("002230", "sz_main"), ("003816", "sz_main"),
        ("688981", "star"), ("689009", "star"),
        ("300750", "chinext"), ("301269", "chinext"), ("302132", "chinext"),
        ("830799", "bse"), ("430017", "bse"), ("873693", "bse"), ("920002", "bse"),
    ],
)
def test_board_of(code, board):
    assert board_of(code) == board
    assert board in BOARDS


@pytest.mark.parametrize(
    "code",
    ["", "60051", "6005190", "sh600519", "600519.SH", "510300", "900901", "200002",
     "606000", "004000", "303000", "687000", "123456", "abcdef", None, 600519],
)
def test_board_of_rejects_non_stock_codes(code):
    with pytest.raises(InputError, match=re.escape(repr(code))):
        board_of(code)


@pytest.mark.parametrize(
    "name, st",
    [
        ("ST中程", True), ("*ST左江", True), ("ST特信", True), ("*ST深天", True),
        ("ＳＴ长康", True), ("＊ＳＴ人乐", True), ("*st龙宇", True), (" *ST 美讯", True),
        ("S*ST前锋", True), ("SST华新", True),
        ("贵州茅台", False), ("中际旭创", False), ("TCL科技", False), ("", False), (None, False),
    ],
)
def test_is_st(name, st):
    assert is_st(name) is st


def test_tick_size():
    assert [tick_size(c) for c in ("600519", "000001", "688981", "300750", "830799")] == [0.01] * 5
    with pytest.raises(InputError):
        tick_size("510300")


# ---------------------------------------------------------- price limits ---

@pytest.mark.parametrize(
    "code, day, st, session_no, listed_on, pct",
    [
        # main board
        ("600519", "2024-05-06", False, None, None, 0.10),
        ("000001", "2015-07-08", False, None, None, 0.10),
        ("600519", "2024-05-06", True, None, None, 0.05),
        ("002289", "2024-05-20", True, None, None, 0.05),
        # STAR: 20 %, ST too
        ("688981", "2024-05-06", False, None, None, 0.20),
        ("688981", "2024-05-06", True, None, None, 0.20),
        # ChiNext: 10 % (ST 5 %) up to 2020-08-21, 20 % (ST too) from 2020-08-24
        ("300750", "2020-08-21", False, None, None, 0.10),
        ("300750", "2020-08-24", False, None, None, 0.20),
        ("300029", "2020-08-21", True, None, None, 0.05),
        ("300029", "2020-08-24", True, None, None, 0.20),
        # Beijing 30 %
        ("830799", "2024-05-06", False, None, None, 0.30),
        ("430017", "2024-05-06", True, None, None, 0.30),
        # new listings: STAR free for 5 sessions
        ("688981", "2024-05-06", False, 1, None, None),
        ("688981", "2024-05-06", False, 5, None, None),
        ("688981", "2024-05-06", False, 6, None, 0.20),
        # ChiNext registration listings (from 2020-08-24): 5 free sessions
        ("301269", "2022-01-04", False, 1, None, None),
        ("301269", "2022-01-04", False, 2, None, None),
        ("301269", "2022-01-04", False, 5, None, None),
        ("301269", "2022-01-04", False, 6, None, 0.20),
        # ChiNext listed before the reform: only session 1 (the +44 % band) is not a pct
        ("300750", "2018-06-11", False, 1, None, None),
        ("300750", "2018-06-12", False, 2, None, 0.10),
        # main board: before 2023-04-10 only the first session, from then 5 sessions
        ("603259", "2018-05-08", False, 1, None, None),
        ("603259", "2018-05-09", False, 2, None, 0.10),
        ("603296", "2023-04-10", False, 1, None, None),
        ("603296", "2023-04-14", False, 5, None, None),
        ("603296", "2023-04-17", False, 6, None, 0.10),
        ("001376", "2023-06-01", False, 3, None, None),
        # the listing date decides the regime when known: listed 2023-04-06, session 3 on 04-10
        ("600000", "2023-04-10", False, 3, "2023-04-06", 0.10),
        ("600000", "2023-04-10", False, 3, "2023-04-10", None),
        ("300999", "2020-08-25", False, 3, "2020-08-20", 0.20),
        # Beijing: only the first session is free
        ("920002", "2024-05-06", False, 1, None, None),
        ("920002", "2024-05-07", False, 2, None, 0.30),
    ],
)
def test_limit_pct(code, day, st, session_no, listed_on, pct):
    listed = D(listed_on) if listed_on else None
    assert limit_pct(code, D(day), st=st, session_no=session_no, listed_on=listed) == pct


def test_limit_pct_follows_the_rules():
    assert limit_pct("688981", D("2024-05-06"), session_no=5, rules=Rules(no_limit_sessions=3)) == 0.20
    ten_from_2026 = Rules(st_limit_main=((date.min, 0.05), (D("2026-07-06"), 0.10)))
    assert limit_pct("600519", D("2026-07-03"), st=True, rules=ten_from_2026) == 0.05
    assert limit_pct("600519", D("2026-07-06"), st=True, rules=ten_from_2026) == 0.10
    with pytest.raises(ValueError):
        limit_pct("600519", D("2024-05-06"), session_no=0)


@pytest.mark.parametrize(
    "prev, pct, up, down",
    [
        (17.35, 0.10, 19.09, 15.62),   # 19.085 and 15.615 round half up
        (17.35, 0.20, 20.82, 13.88),
        (10.05, 0.10, 11.06, 9.05),    # 11.055 and 9.045: float would give 11.05 / 9.04
        (2.35, 0.05, 2.47, 2.23),      # 2.4675 and 2.2325
        (10.00, 0.10, 11.00, 9.00),
        (1700.00, 0.10, 1870.00, 1530.00),
        # real bars from the shared data (limit price = that session's high or low)
        (9.25, 0.10, 10.18, 8.33),     # 000037 2024-04-08 closed at 10.18 (10.175 half up)
        (16.65, 0.10, 18.32, 14.99),   # 000099 2024-04-17 closed at 18.32 (18.315)
        (2.35, 0.10, 2.59, 2.12),      # 000520 2024-04-16 closed at 2.59 (2.585)
        (15.95, 0.10, 17.55, 14.36),   # 000025 2024-04-16 closed at 14.36 (14.355)
        (7.05, 0.10, 7.76, 6.35),      # 000504 2024-04-16 closed at 6.35 (6.345)
        (3.50, 0.05, 3.68, 3.33),      # ST宇顺 002289 2024-05-20 locked at 3.68 (3.675)
        (3.10, 0.05, 3.26, 2.95),      # *ST深天 000023 2024-04-19 locked at 2.95 (2.945)
        (1.70, 0.05, 1.79, 1.62),      # ST中嘉 000889 2024-04-08 closed at 1.79 (1.785)
        (7.34, 0.20, 8.81, 5.87),      # 300029 2023-10-16 closed at 8.81 (8.808)
        (2.77, 0.20, 3.32, 2.22),      # 300013 2024-03-04 closed at 3.32 (3.324)
        (10.66, 0.20, 12.79, 8.53),    # 300069 2024-02-05 closed at 8.53 (8.528)
    ],
)
def test_price_limits_round_half_up(prev, pct, up, down):
    assert price_limits(prev, pct) == Limits(up, down)
    assert price_limits(prev, pct, code="600519") == Limits(up, down)


@pytest.mark.parametrize(
    "code, prev, up, down",
    [
        # Beijing never exceeds 30 %: limit-up rounds down, limit-down rounds up (real bars)
        ("430198", 6.56, 8.52, 4.60),    # 2023-12-12 closed at 8.52 (8.528; half up would be 8.53)
        ("430017", 12.65, 16.44, 8.86),  # 2023-11-24 closed at 16.44 (16.445)
        ("873693", 70.49, 91.63, 49.35),  # 2023-10-30 locked at 49.35 (49.343; half up 49.34)
        ("830799", 10.00, 13.00, 7.00),
    ],
)
def test_price_limits_beijing_stays_inside_30pct(code, prev, up, down):
    assert price_limits(prev, 0.30, code=code) == Limits(up, down)


def test_price_limits_none_means_no_limit():
    assert price_limits(10.0, None) == Limits(None, None)


@pytest.mark.parametrize(
    "code, day, prev, st, session_no, expected",
    [
        ("600519", "2024-05-06", 17.35, False, None, Limits(19.09, 15.62)),
        ("002289", "2024-05-20", 3.50, True, None, Limits(3.68, 3.33)),
        ("300750", "2020-08-21", 17.35, False, None, Limits(19.09, 15.62)),
        ("300750", "2020-08-24", 17.35, False, None, Limits(20.82, 13.88)),
        ("430198", "2023-12-12", 6.56, False, None, Limits(8.52, 4.60)),
        ("688981", "2024-05-06", 40.0, False, 2, Limits(None, None)),
    ],
)
def test_limits_for(code, day, prev, st, session_no, expected):
    assert limits_for(code, D(day), prev, st=st, session_no=session_no) == expected


@pytest.mark.parametrize(
    "issue, up, down",
    [(10.00, 14.40, 6.40), (23.46, 33.78, 15.01), (5.63, 8.11, 3.60)],  # 33.7824, 15.0144, 8.1072, 3.6032
)
def test_ipo_first_day_limits(issue, up, down):
    assert ipo_first_day_limits(issue) == Limits(up, down)


@pytest.mark.parametrize(
    "x, places, expected",
    [(2.675, 2, 2.68), (19.085, 2, 19.09), (3.025, 2, 3.03), (3.0249, 2, 3.02), (1.5, 0, 2.0), (2.5, 0, 3.0)],
)
def test_round_half_up(x, places, expected):
    assert round_half_up(x, places) == expected


# ------------------------------------------------------- fills at limits ---

LIM = Limits(up=11.0, down=9.0)      # previous close 10.00, main board
OFF, ON = DEFAULT, Rules(fill_at_limit_when_opened=True)
ADJ = Rules(limit_tolerance=0.011)   # as the engine sets it for qfq-adjusted prices


@pytest.mark.parametrize(
    "side, price, bar, limits, limit_order, rules, reason",
    [
        # buys
        ("buy", 10.20, Bar(10.20, 10.80, 10.10, 10.50), LIM, False, OFF, None),        # open below limit
        ("buy", 10.99, Bar(10.20, 11.00, 10.10, 11.00), LIM, False, OFF, None),        # one fen below
        ("buy", 11.00, Bar(11.00, 11.00, 10.60, 11.00), LIM, False, OFF, "limit_up"),  # opened at the limit
        ("buy", 11.00, Bar(11.00, 11.00, 11.00, 11.00), LIM, False, OFF, "locked_limit_up"),
        ("buy", 10.50, Bar(11.00, 11.00, 11.00, 11.00), LIM, True, ON, "locked_limit_up"),
        # the optional model: a limit order at limit-up fills when the board opened
        ("buy", 11.00, Bar(11.00, 11.00, 10.60, 11.00), LIM, True, ON, None),
        ("buy", 11.00, Bar(11.00, 11.00, 10.60, 11.00), LIM, True, OFF, "limit_up"),
        ("buy", 11.00, Bar(11.00, 11.00, 10.60, 11.00), LIM, False, ON, "limit_up"),
        ("buy", 11.05, Bar(11.00, 11.00, 10.60, 11.00), LIM, True, ON, "limit_up"),
        # sells
        ("sell", 9.50, Bar(9.50, 9.60, 9.00, 9.00), LIM, False, OFF, None),
        ("sell", 9.01, Bar(9.50, 9.60, 9.00, 9.00), LIM, False, OFF, None),
        ("sell", 9.00, Bar(9.50, 9.60, 9.00, 9.00), LIM, False, OFF, "limit_down"),
        ("sell", 9.00, Bar(9.00, 9.00, 9.00, 9.00), LIM, False, OFF, "locked_limit_down"),
        ("sell", 9.00, Bar(9.50, 9.60, 9.00, 9.00), LIM, True, ON, None),
        ("sell", 9.00, Bar(9.00, 9.00, 9.00, 9.00), LIM, True, ON, "locked_limit_down"),
        # a buy is never refused for limit-down, nor a sell for limit-up
        ("buy", 9.00, Bar(9.00, 9.00, 9.00, 9.00), LIM, False, OFF, None),
        ("sell", 11.00, Bar(11.00, 11.00, 11.00, 11.00), LIM, False, OFF, None),
        # tolerance for adjusted prices: 10.992 is "at" an 11.00 limit, 10.985 is not
        ("buy", 10.992, Bar(10.50, 10.992, 10.40, 10.992), LIM, False, ADJ, "limit_up"),
        ("buy", 10.992, Bar(10.50, 10.992, 10.40, 10.992), LIM, False, OFF, None),
        ("buy", 10.985, Bar(10.50, 10.985, 10.40, 10.985), LIM, False, ADJ, None),
        ("buy", 10.995, Bar(10.995, 10.995, 10.995, 10.995), LIM, False, ADJ, "locked_limit_up"),
        ("sell", 9.008, Bar(9.30, 9.40, 9.008, 9.008), LIM, False, ADJ, "limit_down"),
        ("sell", 9.008, Bar(9.008, 9.008, 9.008, 9.008), LIM, False, ADJ, "locked_limit_down"),
        # no limit that session
        ("buy", 50.0, Bar(40.0, 60.0, 35.0, 50.0), Limits(None, None), False, OFF, None),
        ("sell", 20.0, Bar(40.0, 60.0, 20.0, 50.0), Limits(None, None), False, OFF, None),
        # real bars: ST宇顺 002289 2024-05-20 locked at 3.68; ST中嘉 000889 2024-04-08 opened
        # (low 1.75) and closed at 1.79; BSE 873693 2023-10-30 locked at 49.35
        ("buy", 3.68, Bar(3.68, 3.68, 3.68, 3.68), Limits(3.68, 3.33), False, OFF, "locked_limit_up"),
        ("buy", 1.79, Bar(1.78, 1.79, 1.75, 1.79), Limits(1.79, 1.62), False, OFF, "limit_up"),
        ("buy", 1.78, Bar(1.78, 1.79, 1.75, 1.79), Limits(1.79, 1.62), False, OFF, None),
        ("buy", 1.79, Bar(1.78, 1.79, 1.75, 1.79), Limits(1.79, 1.62), True, ON, None),
        ("sell", 49.35, Bar(49.35, 49.35, 49.35, 49.35), price_limits(70.49, 0.30, code="873693"),
         False, OFF, "locked_limit_down"),
    ],
)
def test_check_fill(side, price, bar, limits, limit_order, rules, reason):
    assert check_fill(side, price, bar, limits, limit_order=limit_order, rules=rules) == reason
    assert reason is None or reason in REFUSAL_REASONS


@pytest.mark.parametrize(
    "bar, side, tol, locked",
    [
        (Bar(11.0, 11.0, 11.0, 11.0), "buy", 0.0, True),
        (Bar(11.0, 11.0, 10.99, 11.0), "buy", 0.0, False),
        (Bar(11.0, 11.0, 10.99, 11.0), "buy", 0.011, True),
        (Bar(11.0, 11.0, 11.0, 11.0), "sell", 0.0, False),
        (Bar(9.0, 9.0, 9.0, 9.0), "sell", 0.0, True),
        (Bar(9.0, 9.01, 9.0, 9.0), "sell", 0.0, False),
        (Bar(10.0, 10.0, 10.0, 10.0), "buy", 0.0, False),   # flat but not at a limit (e.g. thin trading)
        (Bar(10.0, 10.0, 10.0, 10.0), "sell", 0.0, False),
    ],
)
def test_is_locked(bar, side, tol, locked):
    assert is_locked(bar, LIM, side, tol) is locked


def test_is_locked_without_limits():
    assert not is_locked(Bar(11.0, 11.0, 11.0, 11.0), Limits(None, None), "buy")


def test_bad_side_is_a_bug():
    with pytest.raises(ValueError):
        check_fill("short", 10.0, Bar(10, 10, 10, 10), LIM)


# -------------------------------------------------------------------- lots ---

@pytest.mark.parametrize(
    "code, wanted, size",
    [
        ("600519", 0, 0), ("600519", 99, 0), ("600519", 100, 100), ("600519", 199.99, 100),
        ("600519", 299.9999999999, 300), ("600519", 1234, 1200), ("600519", -100, 0),
        ("600519", float("nan"), 0),
        ("300750", 250, 200), ("000001", 100, 100),
        ("688981", 199, 0), ("688981", 200, 200), ("688981", 201, 201), ("688981", 1234.7, 1234),
        ("830799", 99, 0), ("830799", 100, 100), ("830799", 101, 101), ("920002", 155.5, 155),
    ],
)
def test_buy_size(code, wanted, size):
    assert buy_size(code, wanted) == size


def test_buy_size_follows_the_rules():
    assert buy_size("600519", 250, Rules(lot_size=50)) == 250
    assert buy_size("688981", 150, Rules(star_min_shares=100)) == 150


@pytest.mark.parametrize(
    "code, shares, reason",
    [
        ("600519", 100, None), ("600519", 300, None), ("600519", 150, "lot_size"), ("600519", 0, "lot_size"),
        ("300750", 50, "lot_size"),
        ("688981", 200, None), ("688981", 201, None), ("688981", 199, "lot_size"), ("688981", 100, "lot_size"),
        ("830799", 100, None), ("830799", 101, None), ("830799", 99, "lot_size"),
    ],
)
def test_check_buy_size(code, shares, reason):
    assert check_buy_size(code, shares) == reason


@pytest.mark.parametrize(
    "code, shares, held, reason",
    [
        ("600519", 100, 300, None),
        ("600519", 300, 300, None),
        ("600519", 250, 250, None),          # the odd lot goes with the rest, in one order
        ("600519", 50, 50, None),            # the remaining odd lot alone
        ("600519", 200, 250, None),          # whole lots, leaving the odd 50
        ("600519", 150, 250, "lot_size"),
        ("600519", 50, 250, "lot_size"),
        ("600519", 400, 300, "no_position"),
        ("600519", 0, 300, "lot_size"),
        ("688981", 200, 250, None), ("688981", 220, 250, None), ("688981", 150, 150, None),
        ("688981", 100, 250, "lot_size"),
        ("830799", 100, 150, None), ("830799", 120, 150, None), ("830799", 50, 50, None),
        ("830799", 50, 150, "lot_size"),
    ],
)
def test_check_sell_size(code, shares, held, reason):
    assert check_sell_size(code, shares, held) == reason


# ------------------------------------------------------------------- costs ---

@pytest.mark.parametrize(
    "side, shares, price, day, expected",
    [
        # the 5 CNY minimum: 1,000 CNY * 0.025 % = 0.25
        ("buy", 100, 10.00, "2024-01-02", Fees(5.00, 0.00, 0.01)),
        ("buy", 2000, 10.00, "2024-01-02", Fees(5.00, 0.00, 0.20)),   # exactly at the minimum
        ("buy", 2100, 10.00, "2024-01-02", Fees(5.25, 0.00, 0.21)),
        # a large order: the rate applies
        ("buy", 100_000, 10.00, "2024-01-02", Fees(250.00, 0.00, 10.00)),
        # stamp duty on sells: 0.1 % through 2023-08-25 (a Friday), 0.05 % from 2023-08-28
        ("sell", 100_000, 10.00, "2023-08-25", Fees(250.00, 1000.00, 10.00)),
        ("sell", 100_000, 10.00, "2023-08-28", Fees(250.00, 500.00, 10.00)),
        ("buy", 100_000, 10.00, "2023-08-25", Fees(250.00, 0.00, 10.00)),
        ("sell", 100, 10.00, "2023-08-25", Fees(5.00, 1.00, 0.01)),
        ("sell", 100, 10.00, "2023-08-28", Fees(5.00, 0.50, 0.01)),
        # transfer fee 0.02 per mille through 2022-04-28, 0.01 per mille from 2022-04-29
        ("buy", 100_000, 10.00, "2022-04-28", Fees(250.00, 0.00, 20.00)),
        ("buy", 100_000, 10.00, "2022-04-29", Fees(250.00, 0.00, 10.00)),
        ("sell", 100_000, 10.00, "2022-04-28", Fees(250.00, 1000.00, 20.00)),
        # each part rounded half up to the fen: 75.625, 151.25, 3.025
        ("sell", 25_000, 12.10, "2023-08-28", Fees(75.63, 151.25, 3.03)),
        ("buy", 300, 1700.00, "2024-05-06", Fees(127.50, 0.00, 5.10)),
        ("sell", 0, 10.00, "2024-01-02", Fees(0.00, 0.00, 0.00)),
    ],
)
def test_fees(side, shares, price, day, expected):
    assert fees(side, shares, price, D(day)) == expected


def test_fees_total_and_rules():
    assert fees("sell", 25_000, 12.10, D("2023-08-28")).total == 229.91
    cheap = Rules(commission_rate=0.0001, commission_min=0.0)
    assert fees("buy", 100, 10.00, D("2024-01-02"), cheap) == Fees(0.10, 0.00, 0.01)
    with pytest.raises(ValueError):
        fees("buy", -100, 10.00, D("2024-01-02"))


BAR = Bar(open=10.00, high=10.50, low=9.80, close=10.20)


@pytest.mark.parametrize(
    "side, price, rules, expected",
    [
        ("buy", 10.00, Rules(), 10.00),
        ("buy", 10.0037, Rules(), 10.0037),                      # no slippage: price untouched
        ("buy", 10.00, Rules(slippage_bps=10), 10.01),
        ("sell", 10.00, Rules(slippage_bps=10), 9.99),
        ("buy", 10.00, Rules(slippage_bps=5), 10.01),           # 10.005 rounds up, against the buyer
        ("sell", 10.00, Rules(slippage_bps=5), 9.99),           # 9.995 rounds down, against the seller
        ("buy", 10.00, Rules(slippage_ticks=2), 10.02),
        ("sell", 10.00, Rules(slippage_ticks=2), 9.98),
        ("buy", 10.00, Rules(slippage_bps=10, slippage_ticks=1), 10.02),
        ("buy", 10.45, Rules(slippage_ticks=10), 10.50),        # capped at the bar's high
        ("sell", 9.85, Rules(slippage_ticks=10), 9.80),         # floored at the bar's low
    ],
)
def test_slipped_price(side, price, rules, expected):
    assert slipped_price(side, price, BAR, rules) == expected


# --------------------------------------------------------------------- T+1 ---

@pytest.mark.parametrize(
    "bought_on, day, ok",
    [("2024-05-06", "2024-05-06", False), ("2024-05-06", "2024-05-07", True),
     ("2024-04-30", "2024-05-06", True), ("2024-05-07", "2024-05-06", False)],
)
def test_can_sell(bought_on, day, ok):
    assert can_sell(D(bought_on), D(day)) is ok


# ---------------------------------------------------- margin lending (融券) ---

@pytest.mark.parametrize(
    "value, days, rules, fee",
    [
        (360_000, 1, DEFAULT, 80.0),              # 360,000 * 8 % / 360
        (100_000, 30, DEFAULT, 666.6666666667),
        (100_000, 365, DEFAULT, 8111.1111111111),  # a calendar year costs more than the quoted rate
        (100_000, 0, DEFAULT, 0.0),
        (100_000, 365, Rules(borrow_rate=0.1, borrow_day_count=365), 10_000.0),
    ],
)
def test_borrow_fee(value, days, rules, fee):
    assert borrow_fee(value, days, rules) == pytest.approx(fee, abs=1e-9)


@pytest.mark.parametrize(
    "day, ratio",
    [
        ("2010-03-31", 0.5), ("2023-10-13", 0.5), ("2023-10-16", 0.8), ("2024-03-18", 0.8),
        ("2024-07-19", 0.8), ("2024-07-22", 1.0), ("2025-01-02", 1.0),
    ],
)
def test_margin_ratio(day, ratio):
    assert margin_ratio(D(day)) == ratio


def test_check_short():
    eligible = frozenset({"600519", "300750"})
    assert check_short("600519", eligible) is None
    assert check_short("300750", set(eligible)) is None
    assert check_short("600000", eligible) == "not_shortable"
    assert check_short("600519", eligible, Rules(short_enabled=False)) == "not_shortable"


@pytest.mark.parametrize(
    "opened, now, rules, ok",
    [(10, 10, DEFAULT, False), (10, 11, DEFAULT, True), (10, 10, Rules(short_cover_min_sessions=0), True),
     (10, 12, Rules(short_cover_min_sessions=3), False), (10, 13, Rules(short_cover_min_sessions=3), True)],
)
def test_can_cover(opened, now, rules, ok):
    assert can_cover(opened, now, rules) is ok


# ------------------------------------------------------------ dated tables ---

STAMP = ((D("2008-09-19"), 0.001), (D("2023-08-28"), 0.0005))


@pytest.mark.parametrize(
    "table, day, value",
    [
        (STAMP, "2023-08-25", 0.001), (STAMP, "2023-08-27", 0.001), (STAMP, "2023-08-28", 0.0005),
        (STAMP, "2030-01-01", 0.0005), (STAMP, "2008-09-19", 0.001), (STAMP, "2001-01-01", 0.001),
        (0.0003, "2024-01-02", 0.0003),
    ],
)
def test_rate_on(table, day, value):
    assert rate_on(table, D(day)) == value


def test_default_dated_tables():
    assert rate_on(DEFAULT.transfer_fee, D("2022-04-28")) == 0.00002
    assert rate_on(DEFAULT.transfer_fee, D("2022-04-29")) == 0.00001
    assert rate_on(DEFAULT.stamp_duty, D("2023-08-28")) == 0.0005


# ------------------------------------------------------ rules from a spec ---

WHERE = "backtests/x.toml [rules]"


def test_rules_from_mapping_empty_is_default():
    assert rules_from_mapping({}, WHERE) == DEFAULT


def test_every_rules_field_is_a_checked_key():
    assert set(rules_base._KINDS) == {f.name for f in dataclasses.fields(Rules)}


def test_rules_from_toml():
    text = """
    commission_rate = 0.0003
    commission_min = 5
    slippage_ticks = 1
    fill_at_limit_when_opened = true
    stamp_duty = [[2023-08-28, 0.0005], ["2008-09-19", 0.001]]
    transfer_fee = 0.00001
    short_margin = [["2010-03-31", 0.5], ["2023-10-16", 0.8], ["2024-07-22", 1.2]]
    """
    r = rules_from_mapping(tomllib.loads(text), WHERE)
    assert r.commission_rate == 0.0003
    assert r.commission_min == 5.0 and isinstance(r.commission_min, float)
    assert r.slippage_ticks == 1
    assert r.fill_at_limit_when_opened is True
    assert r.stamp_duty == STAMP                 # sorted by date, TOML dates and strings alike
    assert r.transfer_fee == ((date.min, 0.00001),)
    assert margin_ratio(D("2024-07-22"), r) == 1.2
    assert fees("sell", 100_000, 10.0, D("2023-08-25"), r) == Fees(300.0, 1000.0, 10.0)
    assert dataclasses.replace(r, commission_rate=DEFAULT.commission_rate, slippage_ticks=0,
                               fill_at_limit_when_opened=False, transfer_fee=DEFAULT.transfer_fee,
                               short_margin=DEFAULT.short_margin) == DEFAULT


def test_rules_from_mapping_unknown_key_suggests():
    with pytest.raises(InputError) as err:
        rules_from_mapping({"comission_rate": 0.0003}, WHERE)
    message = str(err.value)
    assert message.startswith(WHERE)
    assert "did you mean 'commission_rate'" in message


@pytest.mark.parametrize(
    "mapping, fragment",
    [
        ({"commission_rate": "0.0003"}, "'commission_rate' must be a number"),
        ({"commission_rate": True}, "'commission_rate' must be a number"),
        ({"lot_size": 100.0}, "'lot_size' must be a whole number"),
        ({"lot_size": True}, "'lot_size' must be a whole number"),
        ({"short_enabled": 1}, "'short_enabled' must be true or false"),
        ({"stamp_duty": "0.001"}, "'stamp_duty' must be a number or a list of [date, value] pairs"),
        ({"stamp_duty": []}, "'stamp_duty' must be a number or a list"),
        ({"stamp_duty": [["2023-08-28"]]}, "list of [date, value] pairs"),
        ({"stamp_duty": [["28/08/2023", 0.0005]]}, "'28/08/2023' is not a date"),
        ({"stamp_duty": [["2023-08-28", "0.0005"]]}, "must be a number"),
        ({"stamp_duty": [["2023-08-28", 0.0005], [D("2023-08-28"), 0.001]]}, "given twice"),
    ],
)
def test_rules_from_mapping_wrong_type(mapping, fragment):
    with pytest.raises(InputError) as err:
        rules_from_mapping(mapping, WHERE)
    assert str(err.value).startswith(WHERE)
    assert fragment in str(err.value)


@pytest.mark.parametrize(
    "mapping, fragment",
    [
        ({"commission_rate": -0.0003}, "must not be negative"),
        ({"commission_min": -5}, "must not be negative"),
        ({"slippage_bps": -1}, "must not be negative"),
        ({"borrow_rate": -0.08}, "must not be negative"),
        ({"stamp_duty": -0.001}, "must not be negative"),
        ({"transfer_fee": [["2022-04-29", -0.00001]]}, "must not be negative"),
        ({"commission_rate": 0.025 * 100}, "is a fraction"),
        ({"stamp_duty": 1.0}, "is a fraction"),
        ({"lot_size": 0}, "must be at least 1"),
        ({"borrow_day_count": 0}, "must be at least 1"),
        ({"short_margin": 0}, "must be above 0"),
        ({"commission_rate": float("nan")}, "must be a finite number"),
        ({"commission_min": float("inf")}, "must be a finite number"),
    ],
)
def test_rules_from_mapping_bad_values(mapping, fragment):
    with pytest.raises(InputError) as err:
        rules_from_mapping(mapping, WHERE)
    assert str(err.value).startswith(WHERE)
    assert fragment in str(err.value)


def test_rules_from_mapping_needs_a_table():
    with pytest.raises(InputError, match="must be a table"):
        rules_from_mapping([("commission_rate", 0.0003)], WHERE)


# ----------------------------------------------------------------- reasons ---

def test_refusal_reasons_cover_every_code():
    required = {"limit_up", "limit_down", "locked_limit_up", "locked_limit_down", "t_plus_1",
                "suspended", "lot_size", "not_shortable", "cash", "margin", "no_position"}
    assert required <= set(REFUSAL_REASONS)
    assert all(isinstance(text, str) and text for text in REFUSAL_REASONS.values())


# ------------------------------------------------------- real-data anchors ---

# (code, session, previous close, limit pct, which side, limit price) as used in the tables above
REAL = [
    ("000037", "2024-04-08", 9.25, 0.10, "high", 10.18),
    ("000099", "2024-04-17", 16.65, 0.10, "high", 18.32),
    ("000520", "2024-04-16", 2.35, 0.10, "high", 2.59),
    ("000025", "2024-04-16", 15.95, 0.10, "low", 14.36),
    ("000504", "2024-04-16", 7.05, 0.10, "low", 6.35),
    ("002289", "2024-05-20", 3.50, 0.05, "high", 3.68),
    ("000023", "2024-04-19", 3.10, 0.05, "low", 2.95),
    ("000889", "2024-04-08", 1.70, 0.05, "high", 1.79),
    ("300029", "2023-10-16", 7.34, 0.20, "high", 8.81),
    ("300013", "2024-03-04", 2.77, 0.20, "high", 3.32),
    ("300069", "2024-02-05", 10.66, 0.20, "low", 8.53),
    ("430198", "2023-12-12", 6.56, 0.30, "high", 8.52),
    ("430017", "2023-11-24", 12.65, 0.30, "high", 16.44),
    ("873693", "2023-10-30", 70.49, 0.30, "low", 49.35),
]


@pytest.mark.realdata
def test_real_cases_match_the_shared_data(shared_data):
    import pyarrow.parquet as pq

    codes = sorted({c for c, *_ in REAL})
    table = pq.read_table(shared_data / "ashare" / "market.parquet", filters=[("code", "in", codes)])
    frame = table.to_pandas()
    frame.columns = ["code", "date", "open", "close", "high", "low", *frame.columns[6:]]
    frame["date"] = frame["date"].astype(str).str[:10]
    frame = frame.sort_values(["code", "date"])
    frame["prev"] = frame.groupby("code")["close"].shift()
    rows = frame.set_index(["code", "date"])
    for code, day, prev, pct, side, limit in REAL:
        row = rows.loc[(code, day)]
        assert row["prev"] == prev, (code, day)
        assert row[side] == limit and row["close"] == limit, (code, day)
        limits = price_limits(prev, pct, code=code)
        assert (limits.up if side == "high" else limits.down) == limit, (code, day)
