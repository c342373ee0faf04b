"""The trading calendar: which days the A-share market was open.

A :class:`Calendar` holds trading sessions as naive midnight timestamps (the
exchange's own dates, Beijing time), sorted and unique. Where the sessions come
from is decided in one place, :func:`store_sessions`: the stored exchange
calendar, else the CSI 300 index's dates, else the dates stocks traded. Every question an event or a holding period asks ("the first
session on or after the Spring Festival", "five sessions later") is one method
here, so no other module guesses at weekends or holidays.

>>> cal = Calendar(["2024-02-08", "2024-02-19", "2024-02-20"])   # Spring Festival 2024
>>> cal.session_after("2024-02-08")
Timestamp('2024-02-19 00:00:00')
>>> cal.offset("2024-02-08", 2)
Timestamp('2024-02-20 00:00:00')
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from hypebt.core.dates import BEIJING, exchange_day
from hypebt.core.errors import InputError

# Every session question takes a date in any form; a time is read as its Beijing date.
_day = exchange_day

# Where sessions come from, in order of preference (the one definition; see store_sessions).
CSI300 = "sh000300"


def store_sessions(store, *, stock_dates: bool = True) -> pd.DatetimeIndex | None:
    """The trading sessions a store knows: the one definition of hypebt's calendar.

    In order of preference:

    1. the exchange calendar stored by ``hypebt data fetch --calendar`` (akshare's
       ``tool_trade_date_hist_sina``, dataset ``calendar``): the exchange's own list of sessions;
    2. else the dates of the CSI 300 index (``sh000300``): the index is computed every session,
       so its dates are the sessions it covers;
    3. else (``stock_dates``) every date on which any stored stock traded; else None.

    A run's or a study's benchmark never decides the sessions (an index that started later
    would cut the calendar); callers cap the sessions at the last date of their data.

    >>> store_sessions(Store("data/store"))       # doctest: +SKIP
    DatetimeIndex(['2010-01-04', ...], dtype='datetime64[ns]', length=3993, freq=None)
    """
    cal = store.load_calendar()
    if cal is not None and len(cal):
        return cal
    if "index" in store.datasets():
        idx = store.load("index", codes=[CSI300], columns=["date"])
        if len(idx):
            return pd.DatetimeIndex(np.sort(idx["date"].unique()))
    if not stock_dates:
        return None
    frame = store.load(store.stock_dataset(), columns=["date"])
    return pd.DatetimeIndex(np.sort(frame["date"].unique()))


class Calendar:
    """Trading sessions, sorted and unique, as naive midnight timestamps.

    ``sessions`` may be any iterable of dates (strings, dates, timestamps, a
    DatetimeIndex); times of day are dropped. Unsorted or repeated dates are
    an error rather than silently fixed: they mean the source table is wrong.

    >>> cal = Calendar(["2023-09-28", "2023-10-09", "2023-10-10"])   # National Day 2023
    >>> cal.is_session("2023-10-02"), cal.session_on_or_after("2023-10-02")
    (False, Timestamp('2023-10-09 00:00:00'))
    >>> cal.session_on_or_before("2023-10-02"), cal.offset("2023-10-10", -2)
    (Timestamp('2023-09-28 00:00:00'), Timestamp('2023-09-28 00:00:00'))
    >>> list(cal.between("2023-10-01", "2023-10-31").strftime("%Y-%m-%d"))
    ['2023-10-09', '2023-10-10']
    """

    def __init__(self, sessions: Iterable) -> None:
        values = list(sessions)
        try:
            index = pd.DatetimeIndex(pd.to_datetime(values, format="ISO8601"))
        except (TypeError, ValueError) as exc:
            first_line = (str(exc) or type(exc).__name__).splitlines()[0].split(". You might")[0]
            raise InputError(f"trading calendar: a session is not a date ({first_line}); use YYYY-MM-DD") from None
        if index.tz is not None:
            index = index.tz_convert(BEIJING).tz_localize(None)
        # One unit everywhere, so that comparisons and searchsorted never mix resolutions.
        index = index.normalize().as_unit("ns")
        if len(index) == 0:
            raise InputError("trading calendar is empty: load the CSI 300 index (sh000300) into the store first, "
                             "or run hypebt data fetch --calendar")
        if index.hasnans:
            raise InputError("trading calendar has a missing date (NaT): fix the source dates")
        steps = index[1:] <= index[:-1]
        if steps.any():
            pos = int(steps.argmax()) + 1
            what = "repeats" if index[pos] == index[pos - 1] else "is earlier than"
            raise InputError(
                f"trading calendar: session {pos + 1} ({index[pos].date()}) {what} the one before "
                f"({index[pos - 1].date()}); sessions must be sorted and unique"
            )
        self.sessions: pd.DatetimeIndex = index

    def __len__(self) -> int:
        return len(self.sessions)

    def __repr__(self) -> str:
        return f"Calendar({len(self)} sessions, {self.first.date()}..{self.last.date()})"

    @property
    def first(self) -> pd.Timestamp:
        """The first session."""
        return self.sessions[0]

    @property
    def last(self) -> pd.Timestamp:
        """The last session."""
        return self.sessions[-1]

    def is_session(self, day) -> bool:
        """True when the market was open on ``day``."""
        ts = _day(day)
        pos = self.sessions.searchsorted(ts)
        return pos < len(self.sessions) and self.sessions[pos] == ts

    def session_on_or_after(self, day) -> pd.Timestamp | None:
        """``day`` if it is a session, else the next one; None after the last session."""
        pos = self.sessions.searchsorted(_day(day), side="left")
        return self.sessions[pos] if pos < len(self.sessions) else None

    def session_after(self, day) -> pd.Timestamp | None:
        """The first session strictly after ``day``; None when there is none."""
        pos = self.sessions.searchsorted(_day(day), side="right")
        return self.sessions[pos] if pos < len(self.sessions) else None

    def session_on_or_before(self, day) -> pd.Timestamp | None:
        """``day`` if it is a session, else the one before; None before the first session."""
        pos = self.sessions.searchsorted(_day(day), side="right") - 1
        return self.sessions[pos] if pos >= 0 else None

    def index_of(self, session) -> int:
        """Position of ``session`` (0 = first); an :class:`InputError` if it is not a session.

        >>> Calendar(["2024-02-08", "2024-02-19"]).index_of("2024-02-19")
        1
        """
        ts = _day(session)
        pos = self.sessions.searchsorted(ts)
        if pos < len(self.sessions) and self.sessions[pos] == ts:
            return int(pos)
        nxt = self.session_on_or_after(ts)
        hint = f" (next session: {nxt.date()})" if nxt is not None else f" (last session: {self.last.date()})"
        raise InputError(f"{ts.date()} is not a trading session{hint}")

    def offset(self, session, n: int) -> pd.Timestamp | None:
        """The session ``n`` sessions after ``session`` (negative: before); None outside the calendar.

        ``session`` must itself be a session: counting from a holiday is ambiguous.
        """
        pos = self.index_of(session) + int(n)
        return self.sessions[pos] if 0 <= pos < len(self.sessions) else None

    def between(self, start=None, end=None) -> pd.DatetimeIndex:
        """Sessions from ``start`` to ``end``, both included; None leaves that side open."""
        lo = 0 if start is None else self.sessions.searchsorted(_day(start), side="left")
        hi = len(self.sessions) if end is None else self.sessions.searchsorted(_day(end), side="right")
        return self.sessions[lo:hi]
