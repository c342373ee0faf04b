"""WakeSchedule: the sessions a flat strategy declared it needs (tables of cases)."""

from __future__ import annotations

import doctest

import pytest

from hypebt.engine import wake
from hypebt.engine.wake import WakeSchedule


def schedule(n, windows=(), until=None):
    w = WakeSchedule(n)
    for a, b in windows:
        w.add_window(a, b)
    if until is not None:
        w.sleep_until(until)
    return w


@pytest.mark.parametrize("n,windows,until,i,expected", [
    (10, (), None, 0, 0),              # nothing declared: always awake
    (10, (), None, 9, 9),
    (10, (), 4, 0, 4),                 # sleep_until alone
    (10, (), 4, 7, 7),
    (10, (), None, 10, 10),            # past the end
    (10, ((5, 6),), None, 0, 5),       # before a window
    (10, ((5, 6),), None, 5, 5),
    (10, ((5, 6),), None, 6, 6),       # the window's last session is awake
    (10, ((5, 6),), None, 7, 10),      # after the last window: asleep to the end
    (10, ((2, 8), (3, 4)), None, 6, 6),  # a window inside a longer one does not shorten it
    (10, ((7, 8), (1, 2)), None, 3, 7),  # declared out of order
    (10, ((1, 2), (7, 8)), 8, 0, 8),     # sleep_until inside a window
    (10, ((1, 2), (7, 8)), 3, 0, 7),     # sleep_until between windows: the next window
    (10, ((-3, 1), (8, 20)), None, 2, 8),  # clipped to the run
    (10, ((5, 4),), None, 0, 0),       # an empty window declares nothing
])
def test_next_awake(n, windows, until, i, expected):
    assert schedule(n, windows, until).next_awake(i) == expected


def test_sleep_until_none_sleeps_to_the_end_and_declared():
    w = schedule(10)
    assert not w.declared
    w.sleep_until(None)
    assert w.declared and w.next_awake(0) == 10


def test_doctest():
    assert doctest.testmod(wake).failed == 0
