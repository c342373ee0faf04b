"""The store's sessions against exchange_calendars' XSHG (the ``data check`` cross-check)."""

from __future__ import annotations

import pandas as pd
import pytest

from hypebt.data.calendar_check import cross_check

pytest.importorskip("exchange_calendars")


@pytest.fixture(scope="module")
def csi300_sessions(shared_data) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(pd.read_csv(shared_data / "index" / "sh000300.csv")["date"]))


def test_the_real_index_sessions_match_xshg(csi300_sessions):
    check = cross_check(csi300_sessions)
    assert check.ok and check.lines() == []
    assert (str(check.first.date()), str(check.last.date())) == ("2010-01-04", "2026-06-16")


def test_a_missing_session_and_a_holiday_bar_are_reported(csi300_sessions):
    days = csi300_sessions.delete(csi300_sessions.get_loc(pd.Timestamp("2024-02-08")))
    days = days.append(pd.DatetimeIndex(["2024-02-12"])).sort_values()  # Spring Festival: closed
    check = cross_check(days)
    assert check.missing == [pd.Timestamp("2024-02-08")] and check.extra == [pd.Timestamp("2024-02-12")]
    lines = check.lines()
    assert "missing from the store" in lines[0] and "2024-02-08" in lines[0]
    assert "2024-02-12" in lines[1] and "holiday or weekend" in lines[1]


def test_future_planned_sessions_are_not_compared(csi300_sessions):
    planned = csi300_sessions.append(pd.bdate_range("2026-06-17", "2026-12-31"))  # Sina lists to year-end
    assert cross_check(planned, until="2026-06-16").ok
    assert not cross_check(planned).ok  # weekday holidays later in 2026 are not XSHG sessions
