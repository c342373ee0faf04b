"""Cross-check of the store's sessions against ``exchange_calendars``' XSHG calendar (``data check``).

``exchange_calendars`` is an optional extra (``pip install hypebt[calendars]``): without it the
check says so and is skipped. XSHG (the Shanghai Stock Exchange) lists the sessions from
1990-12-19; A-share sessions are the same on every exchange.

>>> cross_check(store_sessions(Store("data/store")))      # doctest: +SKIP
CalendarCheck(first=Timestamp('2010-01-04'), last=Timestamp('2024-05-22'), missing=[], extra=[])
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class CalendarCheck:
    """Sessions XSHG lists that the store lacks (``missing``) and dates the store has that XSHG
    does not list (``extra``), between the store's first and last session."""

    first: pd.Timestamp
    last: pd.Timestamp
    missing: list[pd.Timestamp] = field(default_factory=list)
    extra: list[pd.Timestamp] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.extra

    def lines(self, limit: int = 10) -> list[str]:
        """One line per kind of difference, the first ``limit`` dates shown."""
        def show(days):
            text = ", ".join(str(d.date()) for d in days[:limit])
            return text + (f" ... ({len(days)} in all)" if len(days) > limit else "")

        out = []
        if self.missing:
            out.append(f"sessions missing from the store ({self.first.date()}..{self.last.date()}, per XSHG): "
                       f"{show(self.missing)}; fetch the calendar again (hypebt data fetch --calendar) or the index")
        if self.extra:
            out.append(f"dates the store has that XSHG does not list as sessions: {show(self.extra)}; "
                       "a bar on a holiday or weekend is wrong data: check its source")
        return out


def xshg_sessions() -> pd.DatetimeIndex | None:
    """XSHG's sessions from 1990-12-19 to the calendar's horizon (naive dates); None without the
    package. Imports check bar dates against them when the store holds no exchange calendar."""
    try:
        import exchange_calendars as xcals
    except ImportError:
        return None
    with warnings.catch_warnings():  # exchange_calendars' own pandas deprecations are not the user's
        warnings.simplefilter("ignore")
        cal = xcals.get_calendar("XSHG")
    days = pd.DatetimeIndex(cal.sessions)
    days = days.tz_localize(None) if days.tz is not None else days
    return days.astype("datetime64[ns]")


def cross_check(sessions, *, until=None) -> CalendarCheck | None:
    """Compare ``sessions`` with XSHG over their span (capped at ``until``); None without the package.

    A stored Sina calendar lists planned sessions to the end of its year: pass ``until`` (e.g.
    today) so future dates are not compared.
    """
    try:
        import exchange_calendars as xcals
    except ImportError:
        return None
    days = pd.DatetimeIndex(pd.to_datetime(pd.Index(sessions))).normalize().unique().sort_values()
    if until is not None:
        days = days[days <= pd.Timestamp(until)]
    if not len(days):
        return None
    cal = xcals.get_calendar("XSHG", start=max(days[0], pd.Timestamp("1990-12-19")), end=days[-1])
    expected = cal.sessions_in_range(max(days[0], cal.first_session), days[-1])
    expected = pd.DatetimeIndex(expected).tz_localize(None) if expected.tz is not None else pd.DatetimeIndex(expected)
    expected = expected.astype("datetime64[ns]")
    days = days.astype("datetime64[ns]")
    return CalendarCheck(days[0], days[-1], list(expected.difference(days)),
                         list(days[days >= expected[0]].difference(expected)) if len(expected) else [])
