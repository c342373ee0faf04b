"""The market panel (:mod:`hypebt.market.panel`): hand-made bars with exact previous closes and
limits, and on real bars, one panel of many codes equal to each code built alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hypebt.market import panel as MP
from hypebt.market import rules as R

DAYS = pd.bdate_range("2023-11-27", periods=12)  # a calendar without holidays


def frame(code, rows, pct_first=None):
    out = pd.DataFrame(rows, columns=["date", "open", "high", "low", "close"])
    out.insert(0, "code", code)
    out["date"] = pd.to_datetime(out["date"])
    out["volume"] = 1e6
    out["pct_change"] = np.nan
    if pct_first is not None:
        out.loc[0, "pct_change"] = pct_first
    return out


# A Beijing stock suspended for the sessions 3..6 and back on session 7 at its +30 % limit all day.
BSE = frame("430198", [(DAYS[0], 5.0, 5.1, 4.9, 5.0), (DAYS[1], 5.0, 5.1, 4.95, 5.05), (DAYS[2], 5.05, 5.1, 5.0, 5.05),
                       (DAYS[7], 6.56, 6.56, 6.56, 6.56), (DAYS[8], 6.8, 7.0, 6.5, 6.9)], pct_first=0.0)


def test_a_suspension_straddling_the_start_keeps_the_close_before_it():
    whole = MP.build(BSE, DAYS, first_store_date=DAYS[0])
    c = {k: v[0] for k, v in whole.columns.items()}
    assert c["prev_close"][7] == 5.05 and c["limit_up"][7] == 6.56 and c["locked_up"][7]
    assert c["suspended"].tolist() == [False, False, False, True, True, True, True, False, False, True, True, True]
    assert c["close"][3:7].tolist() == [5.05] * 4  # a suspended session shows the last close
    # Built from a start inside the suspension (bars before it count), the same limits and lock:
    for start in (3, 5, 7):
        part = MP.build(BSE, DAYS[start:], first_store_date=DAYS[0])
        for name, values in part.columns.items():
            assert np.array_equal(values[0], whole.columns[name][0][start:], equal_nan=True), (start, name)


def test_a_listing_has_no_limit_for_its_first_sessions_and_no_previous_close_before():
    rows = [(DAYS[i], 10.0 + i, 10.5 + i, 9.9 + i, 10.2 + i) for i in range(2, 10)]
    p = MP.build(frame("301001", rows), DAYS, first_store_date=DAYS[0])
    c = {k: v[0] for k, v in p.columns.items()}
    assert np.isnan(c["prev_close"][:3]).all()  # before and on the listing day: no previous close
    assert np.isnan(c["limit_up"][:7]).all() and c["limit_up"][7] == R.price_limits(c["close"][6], 0.2).up
    assert np.isnan(c["close"][:2]).all() and c["suspended"][:2].all()  # before listing: no price (not its first open)
    assert p.listed_sessions()[0].tolist()[:8] == [0, 0, 1, 2, 3, 4, 5, 6]


def test_codes_without_bars_and_unsorted_input():
    shuffled = BSE.sample(frac=1.0, random_state=1)
    p = MP.build(shuffled, DAYS, first_store_date=DAYS[0], codes=["600000", "430198"])
    assert p.columns["suspended"][0].all() and np.isnan(p.columns["limit_up"][0]).all()
    whole = MP.build(BSE, DAYS, first_store_date=DAYS[0])
    assert np.array_equal(p.columns["limit_up"][1], whole.columns["limit_up"][0], equal_nan=True)


def test_the_panel_is_read_only_and_windows_are_views():
    p = MP.build(BSE, DAYS, first_store_date=DAYS[0])
    with pytest.raises(ValueError):
        p.columns["close"][0, 0] = 1.0
    w = p.window(3, 9)
    assert np.shares_memory(w.columns["close"], p.columns["close"]) and len(w.sessions) == 6
    assert w.bars_before.tolist() == [3]


def test_many_codes_at_once_equal_each_code_alone(real_store):
    """Vectorised across codes, nothing leaks from one code into another: every board, listings,
    suspensions and inferred ST (000564) in one panel equal each built alone."""
    codes = ["000564", "430198", "688039", "300624", "600519", "002230", "301001", "873693", "000001", "603358"]
    bars = real_store.load(real_store.stock_dataset(), codes=codes)
    days = pd.DatetimeIndex(np.unique(bars["date"]))
    rules = R.for_prices(R.Rules(), adjusted=True)
    together = MP.build(bars, days, first_store_date=days[0], codes=codes, rules=rules)
    assert together.columns["st"][together.index["000564"]].any()
    for code in codes:
        alone = MP.build(bars[bars["code"] == code], days, first_store_date=days[0], rules=rules)
        j = together.index[code]
        for name, values in alone.columns.items():
            assert np.array_equal(values[0], together.columns[name][j], equal_nan=True), (code, name)
        assert np.array_equal(alone.st_source[0], together.st_source[j])


def test_an_ex_dividend_day_on_the_first_session_limits_from_the_reference_price():
    """Raw prices: a 3.00 dividend on session 2 makes the reference price 17.00 (20.00 x 1.0 / (20/17));
    a panel starting that very session (the bars before it read) gives the same limits as one
    starting earlier."""
    rows = [(DAYS[i], 20.0, 20.2, 19.8, 20.0) for i in range(2)] + \
        [(DAYS[i], 17.2, 17.5, 17.0, 17.3) for i in range(2, 5)]
    raw = frame("600001", rows, pct_first=0.0).assign(adj_factor=[1.0, 1.0, 20 / 17, 20 / 17, 20 / 17])
    whole = MP.build(raw, DAYS[:5], first_store_date=DAYS[0])
    assert (whole.columns["prev_close"][0][2], whole.columns["limit_down"][0][2]) == (17.0, 15.3)
    part = MP.build(raw, DAYS[2:5], first_store_date=DAYS[0])
    for name, values in part.columns.items():
        assert np.array_equal(values[0], whole.columns[name][0][2:5], equal_nan=True), name
