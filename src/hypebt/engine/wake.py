"""When a flat strategy next needs the engine: the sessions it declared (pure, no Backtrader).

An event strategy is flat and idle on most sessions. It may declare when its hooks matter
while it holds nothing and has no order waiting:

- windows of sessions (``wake_between(first, last)``, e.g. around each event it trades);
- a session it names (``sleep_until(day)``: nothing to do before it).

While the strategy holds nothing and nothing is pending, the engine asks
:meth:`WakeSchedule.next_awake` for the next session it must run and skips the others in
constant time. A strategy that declares nothing is awake on every session. Holding a
position or having an order pending always keeps it awake: the schedule only speaks for
the flat, idle strategy. :class:`Sleeping` is the strategy's side of it.
"""

from __future__ import annotations

import bisect


class WakeSchedule:
    """The sessions (by number, 0 = the run's first) at which a flat strategy needs its hooks.

    >>> w = WakeSchedule(10)
    >>> w.next_awake(3)          # nothing declared: awake everywhere
    3
    >>> w.add_window(5, 6); w.next_awake(0), w.next_awake(6), w.next_awake(7)
    (5, 6, 10)
    >>> w.sleep_until(6); w.next_awake(0)
    6
    """

    def __init__(self, n_sessions: int):
        self.n = int(n_sessions)
        self._firsts: list[int] = []  # window starts, sorted
        self._lasts: list[int] = []   # running maximum of window ends, same order
        self._windows: list[tuple[int, int]] = []
        self.until = 0

    def add_window(self, first: int, last: int) -> None:
        """Awake on sessions ``first``..``last`` (inclusive; clipped to the run)."""
        first, last = max(0, int(first)), min(self.n - 1, int(last))
        if first > last:
            return
        self._windows.append((first, last))
        self._windows.sort()
        self._firsts = [a for a, _ in self._windows]
        self._lasts, top = [], -1
        for _, b in self._windows:
            top = max(top, b)
            self._lasts.append(top)

    def sleep_until(self, session: int | None) -> None:
        """Nothing to do before session number ``session`` (None: before the end of the run)."""
        self.until = self.n if session is None else max(0, int(session))

    @property
    def declared(self) -> bool:
        """True once a window or a sleep was declared (else the strategy is always awake)."""
        return bool(self._windows) or self.until > 0

    def next_awake(self, i: int) -> int:
        """The first session number ``>= i`` at which the flat strategy is awake (``n`` = none)."""
        j = max(int(i), self.until)
        if j >= self.n or not self._windows:
            return min(j, self.n)
        # the last window starting at or before j: awake if it (or an earlier one) reaches j
        k = bisect.bisect_right(self._firsts, j) - 1
        if k >= 0 and self._lasts[k] >= j:
            return j
        return self._firsts[k + 1] if k + 1 < len(self._firsts) else self.n


class Sleeping:
    """The sleeping API of :class:`hypebt.engine.strategy.Strategy` (a plain mixin, no Backtrader).

    Uses the strategy's ``wake`` (a :class:`WakeSchedule`), ``sessions``, ``session_index``,
    ``events`` and ``session_no``. The engine skips sessions only while the strategy holds
    nothing and has no order waiting; results are identical to running every session as long
    as the hooks would have done nothing on the skipped ones (``tests/test_sleep.py`` checks
    the shipped strategies, on every combination of the benchmark grid).
    """

    def sleep_until(self, day) -> None:
        """Nothing to do before ``day`` (a date, a session Timestamp or a session number; None:
        nothing more to do in this run) while flat: the engine skips to that session's open.

        Example, in ``on_open``: ``self.sleep_until(self.sessions[self.session_no + 5])``.
        """
        self.wake.sleep_until(None if day is None else self.session_number(day))

    def wake_between(self, first, last) -> None:
        """Declare sessions ``first``..``last`` (dates, Timestamps or session numbers, inclusive)
        as needing the hooks while flat. Once a window is declared, a flat, idle strategy sleeps
        outside its windows. Example, in ``__init__``: ``self.wake_between(i, i + 2)``."""
        self.wake.add_window(self.session_number(first), self.session_number(last))

    def wake_around_events(self, before: int = 0, after: int = 0) -> None:
        """Need the hooks from ``before`` sessions before to ``after`` sessions after the first
        tradable session of each of the run's events (while flat). The engine knows every event;
        the strategy still sees an unscheduled one only from its first tradable moment, and is
        never woken before that (``before`` applies to scheduled events only)."""
        for t in self._all_events:
            i = self.session_index.get(t.session)
            if i is not None:
                self.wake.add_window(i - (before if t.event.scheduled else 0), i + after)

    def session_number(self, day) -> int:
        """The run's session number of ``day`` (the next session when ``day`` is not one)."""
        if isinstance(day, int) and not isinstance(day, bool):
            return day
        import pandas as pd  # the run's sessions are a pandas DatetimeIndex

        return int(self.sessions.searchsorted(pd.Timestamp(day).normalize()))
