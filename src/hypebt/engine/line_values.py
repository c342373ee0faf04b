"""What a Backtrader line's raw buffer shows strategy code: the values known now, never later ones.

Backtrader keeps a line's values in a buffer (``line.array``) that its own methods index directly
(``getzeroval``, ``getzero``, ``datetime(ago)``...). With preloaded feeds and indicators computed over
the whole data before the run (``runonce``), that buffer holds every later value too. The adapter
(:mod:`hypebt.engine.bt_adapter`) hands strategy code a :class:`KnownValues` in its place once the
run has started, so every such read stops at what is known; and it refuses a line ahead
(``close(1)``) when one is made (:func:`is_ahead`, :func:`forward_refusal`).
"""

from __future__ import annotations

import array

import backtrader as bt

from hypebt.core.errors import LookAheadError


class KnownValues:
    """A line's values known now, read-only: ``len`` is their number (``known()``), an index past
    them raises (``refusal(i)``: :class:`LookAheadError`), a negative one ``IndexError`` (Backtrader's
    ``idx + ago < 0`` would wrap to the end of the data), a slice is a copy that stops at them.

    >>> v = KnownValues(array.array("d", [1.0, 2.0, 3.0]), lambda: 2, lambda i: LookAheadError(f"[{i}]"))
    >>> len(v), v[1], list(v[:]), list(v)
    (2, 2.0, [1.0, 2.0], [1.0, 2.0])
    """

    __slots__ = ("_raw", "_known", "_refuse")

    def __init__(self, raw, known, refusal):
        self._raw, self._known, self._refuse = raw, known, refusal

    def __len__(self):
        return max(self._known(), 0)

    def __getitem__(self, i):
        n = self._known()
        if isinstance(i, slice):
            return copy_values(self._raw[:max(n, 0)][i])
        if i < 0:
            raise IndexError(f"line.array[{i}]: index the known values from the start (0..{n - 1}), "
                             "or read line[-k] for k sessions back")
        if i >= n:
            raise self._refuse(i)
        return self._raw[i]

    def __iter__(self):
        return iter(self[:])


def values_refusal(n: int, i: int) -> LookAheadError:
    """The refusal of an indicator's (or operation's) ``array[i]`` when ``n`` values are known."""
    return LookAheadError(f"line.array[{i}]: only {max(n, 0)} value(s) are known now; a later one is not "
                          "(its values are computed over the whole data before the run)")


def copy_values(values) -> array.array:
    """A copy of a buffer's slice (a memoryview's slice keeps its whole base reachable: ``.obj``)."""
    out = array.array("d")
    if isinstance(values, memoryview):
        out.frombytes(values.tobytes())
    else:
        out.extend(values)
    return out


def is_ahead(ago) -> bool:
    """True for the ``ago`` of a line ahead (``close(1)``): a positive number of sessions."""
    return not isinstance(ago, (bool, bt.LineRoot)) and isinstance(ago, (int, float)) and ago > 0


def forward_refusal(what: str, ago) -> LookAheadError:
    """The refusal of ``what(ago)``, a line ``ago`` sessions ahead."""
    return LookAheadError(f"{what}({ago}): a line {ago} session(s) ahead reads later bars; use ({-ago}) for "
                          f"the value {ago} session(s) back, or the line itself for the latest")
