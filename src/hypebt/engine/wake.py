"""When a flat strategy next needs the engine: the sessions it declared (pure, no Backtrader).

An event strategy is flat and idle on most sessions. It may declare when its hooks matter
while it holds nothing and has no order waiting:

- windows of sessions (``wake_between(first, last)``, e.g. around each event it trades);
- a session it names (``sleep_until(day)``: nothing to do before it).

While the strategy holds nothing and nothing is pending, the engine asks
:meth:`WakeSchedule.next_awake` for the next session it must run and skips the others in
constant time. A strategy that declares nothing is awake on every session. Holding a
position or having an order pending always keeps it awake: the schedule only speaks for
the flat, idle strategy.
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
