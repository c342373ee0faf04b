"""The vectorised forms of the limit rules, and the session-state helpers, against the scalars.

``limits_array``/``limit_flags`` serve the engine's feed and the study's panel; ``limits_for``,
``is_locked`` and ``check_fill`` serve the order checks. Both must give the same answer on every
case, dated changes included; these are small hand tables (real sessions: test_limits_real.py).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from hypebt.core.errors import InputError
from hypebt.market import rules as R
from hypebt.market.broker import to_fen as broker_to_fen


def nan_to_none(x):
    return None if np.isnan(x) else float(x)


@pytest.mark.parametrize("code", ["600000", "000001", "300750", "688981", "830799", "430198"])
@pytest.mark.parametrize("st", [False, True])
def test_arrays_equal_scalars_across_the_chinext_reform_and_new_listings(code, st):
    days = [date(2020, 8, 20), date(2020, 8, 21), date(2020, 8, 24), date(2020, 8, 25), date(2023, 4, 10),
            date(2023, 4, 11), date(2024, 5, 6), date(2024, 5, 7)]
    prev = [17.35, 10.05, 2.35, 6.56, 70.49, 12.65, 3.61, 0.0]
    for session_no in (None, [1, 2, 3, 5, 6, 1, 2, 7]):
        up, down = R.limits_array(code, days, prev, st=st, session_no=session_no)
        for i, d in enumerate(days):
            n = None if session_no is None else session_no[i]
            want = R.limits_for(code, d, prev[i], st=st, session_no=n) if prev[i] > 0 else R.Limits(None, None)
            assert (nan_to_none(up[i]), nan_to_none(down[i])) == (want.up, want.down), (code, d, n)


def test_limit_pct_array_takes_each_days_rule():
    pct = R.limit_pct_array("300750", [date(2020, 8, 21), date(2020, 8, 24)], st=[True, True])
    assert pct.tolist() == [0.05, 0.2]
    table = ((date.min, 0.05), (date(2025, 7, 1), 0.10))
    r = R.Rules(st_limit_main=table)
    assert R.limit_pct_array("600000", [date(2025, 6, 30), date(2025, 7, 1)], st=True, rules=r).tolist() == [0.05, 0.1]
    # A dated ST status: one flag per day.
    assert R.limit_pct_array("600000", [date(2024, 1, 2), date(2024, 1, 3)], st=[False, True]).tolist() == [0.1, 0.05]


def test_price_limits_array_off_the_fen_grid_uses_the_decimal_rule():
    prev = [10.055, 2.675, 17.35]
    up, down = R.price_limits_array(prev, 0.1)
    for i, p in enumerate(prev):
        want = R.price_limits(p, 0.1)
        assert (up[i], down[i]) == (want.up, want.down)


def test_price_limits_array_beijing_inward_and_others_half_up():
    assert R.price_limits_array([6.56], [0.30], code="430198")[0].tolist() == [8.52]
    assert R.price_limits_array([70.49], [0.30], code="873693")[1].tolist() == [49.35]
    assert R.price_limits_array([6.56], [0.30], code="600000")[0].tolist() == [8.53]
    assert R.price_limits_array([2.65], [0.10])[0].tolist() == [2.92]


BARS = [  # open, high, low, close; limits 11.00 / 9.00
    (11.0, 11.0, 11.0, 11.0), (10.5, 11.0, 10.4, 11.0), (10.5, 10.9, 10.4, 10.8),
    (9.0, 9.0, 9.0, 9.0), (9.5, 9.8, 9.0, 9.0), (10.99, 10.99, 10.99, 10.99), (11.02, 11.02, 11.02, 11.02),
    (9.0, 11.5, 8.5, 11.0),
]


@pytest.mark.parametrize("tol", [0.0, 0.011])
def test_limit_flags_equal_the_scalar_lock_and_close_tests(tol):
    rules = R.Rules(limit_tolerance=tol)
    o, h, lo, c = (np.array(x) for x in zip(*BARS))
    n = len(BARS)
    flags = R.limit_flags("600000", o, h, lo, c, np.full(n, 11.0), np.full(n, 9.0), rules=rules)
    lim = R.Limits(11.0, 9.0)
    for i, bar in enumerate(BARS):
        b = R.Bar(*bar)
        assert flags["locked_up"][i] == R.is_locked(b, lim, "buy", tol), bar
        assert flags["locked_down"][i] == R.is_locked(b, lim, "sell", tol), bar
        assert flags["closed_up"][i] == R.closed_at_limit(b.close, lim, "buy", tol), bar
        assert flags["closed_down"][i] == R.closed_at_limit(b.close, lim, "sell", tol), bar
        assert flags["opened_up"][i] == R.board_opened(b, lim, "buy", tol), bar
    assert flags["locked_up"].tolist()[:3] == [True, False, False]
    assert flags["locked_up"][5] == (tol > 0)  # a fen below the limit counts only with the qfq tolerance
    assert flags["locked_up"][6]  # one price just above the computed limit (adjusted prices)
    assert not flags["locked_up"][7]  # traded far beyond the limit: the computed limit did not hold


def test_st_lock_evidence_needs_a_main_board_unknown_st_one_price_bar_at_the_st_limit():
    day = [date(2024, 4, 26)]
    args = ([2.36], [2.36], [2.36], [2.36], [2.48], [2.03])
    on = R.limit_flags("000615", *args, prev_close=[2.25], days=day)
    assert on["locked_up"].tolist() == [True]
    assert R.limit_flags("000615", *args, prev_close=[2.25], days=day, st=True)["locked_up"].tolist() == [False]
    assert R.limit_flags("000615", *args)["locked_up"].tolist() == [False]  # no previous close given
    off = R.Rules(st_lock_evidence=False)
    assert R.limit_flags("000615", *args, prev_close=[2.25], days=day, rules=off)["locked_up"].tolist() == [False]
    assert R.limit_flags("300615", *args, prev_close=[2.25], days=day)["locked_up"].tolist() == [False]


def test_check_fill_takes_the_precomputed_lock():
    bar, lim = R.Bar(10.5, 10.6, 10.4, 10.5), R.Limits(11.0, 9.0)
    assert R.check_fill("buy", 10.5, bar, lim) is None
    assert R.check_fill("buy", 10.5, bar, lim, locked=True) == "locked_limit_up"
    assert R.check_fill("sell", 10.5, bar, lim, locked=True) == "locked_limit_down"
    locked_bar = R.Bar(11.0, 11.0, 11.0, 11.0)
    assert R.check_fill("buy", 11.0, locked_bar, lim, locked=False) == "limit_up"


def test_for_prices_sets_the_one_qfq_tolerance():
    assert R.for_prices(R.Rules(), adjusted=True).limit_tolerance == R.Rules().qfq_limit_tolerance == 0.011
    assert R.for_prices(R.Rules(qfq_limit_tolerance=0.02), adjusted=True).limit_tolerance == 0.02
    assert R.for_prices(R.Rules(limit_tolerance=0.003), adjusted=True, explicit=True).limit_tolerance == 0.003
    assert R.for_prices(R.Rules(), adjusted=False).limit_tolerance == 0.0


def test_one_fen_rounder():
    assert broker_to_fen is R.to_fen
    assert [R.to_fen(x) for x in (116.185, 2.675, 1.005, np.float64(0.125))] == [116.19, 2.68, 1.01, 0.13]


def test_slippage_moves_in_the_rules_tick():
    bar = R.Bar(10.0, 10.5, 9.5, 10.2)
    r = R.Rules(slippage_ticks=1, tick=0.05)
    assert R.slipped_price("buy", 10.0, bar, r) == 10.05 and R.slipped_price("sell", 10.0, bar, r) == 9.95
    assert R.tick_size("600000", r) == 0.05


def test_sellable_shares_is_t_plus_1():
    buys = [(date(2024, 5, 6), 300)]
    assert R.sellable_shares(500, buys, date(2024, 5, 6)) == 200
    assert R.sellable_shares(500, buys, date(2024, 5, 7)) == 500


@pytest.mark.parametrize("mapping, fragment", [
    ({"tick": 0}, "above 0"), ({"qfq_limit_tolerance": -0.01}, "negative"),
    ({"st_lock_evidence": 0.049}, "true or false"),
])
def test_new_rules_keys_are_checked(mapping, fragment):
    with pytest.raises(InputError, match=fragment):
        R.rules_from_mapping(mapping, "spec.toml [rules]")


def test_price_limits_array_equals_the_decimal_rule_on_random_prices_and_boards():
    """The integer fast path, the off-grid fallback and Beijing's inward rounding, for many codes at
    once ((codes, days) arrays), against the scalar decimal rule on every value."""
    rng = np.random.default_rng(23)
    codes = ["600000", "000001", "300750", "688981", "430198", "873693"]
    prev = np.round(rng.uniform(0.5, 2000.0, (len(codes), 400)), 2)
    prev[:, ::7] += rng.uniform(0, 0.01, prev[:, ::7].shape)  # off the fen grid (a pct_change previous close)
    prev[:, ::11] = np.nan
    prev[:, ::13] = 0.0
    pct = rng.choice([0.05, 0.10, 0.20, 0.30, np.nan], prev.shape)
    up, down = R.price_limits_array(prev, pct, code=codes)
    for j, code in enumerate(codes):
        for i in range(prev.shape[1]):
            p, q = prev[j, i], pct[j, i]
            want = R.price_limits(p, q, code=code) if p > 0 and q == q else R.Limits(None, None)
            assert (nan_to_none(up[j, i]), nan_to_none(down[j, i])) == (want.up, want.down), (code, p, q)


def test_limit_pct_array_of_many_codes_is_each_codes_own():
    days = [date(2020, 8, 21), date(2020, 8, 24), date(2023, 4, 10), date(2024, 5, 6)]
    codes = ["600000", "300750", "688981", "830799"]
    st = np.array([[False, True, False, True]] * 4)
    n = np.array([[np.nan, 1, 2, 6]] * 4)
    many = R.limit_pct_array(codes, days, st=st, session_no=n)
    for j, code in enumerate(codes):
        one = R.limit_pct_array(code, days, st=st[j], session_no=n[j])
        assert np.array_equal(many[j], one, equal_nan=True), code


def test_st_lock_evidence_of_many_codes_applies_to_main_board_rows_only():
    """The same one-price bar at the 5 % limit on a main-board and a ChiNext row of one (codes, days)
    array: the main-board row is locked (unknown ST), the ChiNext row, 20 % band, is not."""
    day = [date(2024, 4, 26)]
    bar = [[2.36], [2.36]]
    flags = R.limit_flags(["000615", "300615"], bar, bar, bar, bar, [[2.48], [2.70]], [[2.03], [1.80]],
                          prev_close=[[2.25], [2.25]], days=day)
    assert flags["locked_up"].tolist() == [[True], [False]]
