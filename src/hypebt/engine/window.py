"""What a strategy may see at the current moment: history windows, revealed arrays, indicators.

A strategy acts at two moments of each session (see :mod:`hypebt.engine.strategy`):

- before the open (``on_open``): the previous sessions' bars are known, and of today's bar only
  what the call auction and the exchange publish before trading: ``open``, ``limit_up``,
  ``limit_down``, ``suspended`` (and ``prev_close``);
- at the close (``on_close``): today's whole bar is known.

A :class:`Moment` says, for one field, the last position of the run's arrays that may be read.
Everything here reads only up to that position, so no accessor can return a later bar:

- :func:`history` cuts a copy (never a view: a numpy view keeps its whole base array reachable);
- :class:`RevealedArrays` is what ``Context.arrays`` holds: per code, copies cut at the moment;
- :class:`Indicator` holds an array computed once from the whole series (in the strategy's
  setup) and hands out only its values up to the moment. Computing it is checked for causality:
  the function is run again on a prefix of the series, and a value that changes when later bars
  are removed is a look-ahead (:class:`hypebt.core.errors.LookAheadError`).

Positions are indices into the *extended* arrays: the warm-up sessions before ``start`` (spec key
``warmup``) followed by the run's sessions; run session ``n`` is position ``offset + n``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hypebt.core.errors import LookAheadError

# Known before the open: the call auction's open, the day's price limits, a suspension notice.
PRE_OPEN_FIELDS = frozenset({"open", "limit_up", "limit_down", "suspended", "prev_close", "datetime"})
PRICE_FIELDS = ("open", "high", "low", "close")
HISTORY_FIELDS = ("open", "high", "low", "close", "volume", "adjclose", "limit_up", "limit_down", "suspended")


@dataclass(frozen=True)
class Moment:
    """The current moment of a run: extended position ``pos`` and phase "setup", "open" or "close".

    In "setup" (the strategy's ``__init__``) only the warm-up bars are known.
    """

    pos: int
    phase: str

    def last(self, field: str) -> int:
        """The last position at which ``field`` is known (-1: none)."""
        if self.phase == "close":
            return self.pos
        if self.phase == "open" and field in PRE_OPEN_FIELDS:
            return self.pos
        return self.pos - 1

    def last_of(self, fields) -> int:
        return min(self.last(f) for f in fields)


def column(cols: dict, field: str, adjusted: bool, lo: int = 0, end: int | None = None) -> np.ndarray:
    """Positions ``lo:end`` of a column, as a new array; prices on the adjusted scale with
    ``adjusted`` (signals), else as traded."""
    if field not in HISTORY_FIELDS:
        raise ValueError(f"unknown field {field!r}; use one of {', '.join(HISTORY_FIELDS)}")
    values = cols[field][lo:end]
    if adjusted and field in PRICE_FIELDS:
        close = cols["close"][lo:end]
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(close > 0, cols["adjclose"][lo:end] / close, 1.0)
        return values * factor
    return np.array(values, dtype="float64")  # a copy; flags (suspended) as 0.0 / 1.0 like every field


def history(arrays: Mapping, codes, field: str, n: int, moment: Moment, adjusted: bool = True,
            array: bool = False):
    """The last ``n`` values of ``field`` known at ``moment`` (fewer at the start of the data).

    One code: a float Series indexed by session; several codes (a list): a DataFrame, one
    column per code. ``adjusted`` puts open/high/low/close on the adjusted scale (the adjusted
    close's factor), so returns and indicators do not jump at dividends and splits; traded
    prices with ``adjusted=False``. ``array=True`` gives a numpy array (one code) or a 2-D array
    (sessions x codes) instead: no index, much faster in a loop over many codes.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"history: n must be a whole number >= 1, got {n!r}")
    end = moment.last(field) + 1
    lo = max(0, end - int(n))
    if isinstance(codes, str):
        fa = arrays[codes]
        if array:
            return column(fa.columns, field, adjusted, lo, end)
        return pd.Series(column(fa.columns, field, adjusted, lo, end), index=fa.sessions[lo:end], name=codes,
                         dtype="float64", copy=False)
    codes = list(codes)
    if not codes:
        raise ValueError("history: give a code or a list of codes")
    panel = getattr(arrays, "panel", None)  # the market's panel (hypebt.market.feed.PanelFeeds): one slice
    if panel is not None:
        values = block(panel.columns, panel.rows(codes), field, adjusted, lo, end).T  # (sessions, codes)
        return values if array else pd.DataFrame(values, index=panel.sessions[lo:end], columns=codes, dtype="float64")
    first = arrays[codes[0]]
    if array:
        return np.column_stack([column(arrays[c].columns, field, adjusted, lo, end) for c in codes])
    data = {c: column(arrays[c].columns, field, adjusted, lo, end) for c in codes}
    return pd.DataFrame(data, index=first.sessions[lo:end], dtype="float64")


def block(columns: dict, rows, field: str, adjusted: bool, lo: int = 0, end: int | None = None) -> np.ndarray:
    """:func:`column` of many codes at once: rows ``rows`` of (codes, sessions) ``columns``, positions
    ``lo:end``, as a new (codes, sessions) array (the same numbers, column by column)."""
    if field not in HISTORY_FIELDS:
        raise ValueError(f"unknown field {field!r}; use one of {', '.join(HISTORY_FIELDS)}")
    values = columns[field][rows, lo:end].astype("float64", copy=False)  # fancy indexing: a copy
    if adjusted and field in PRICE_FIELDS and columns["adjclose"] is not columns["close"]:
        close = columns["close"][rows, lo:end]
        with np.errstate(divide="ignore", invalid="ignore"):
            values *= np.where(close > 0, columns["adjclose"][rows, lo:end] / close, 1.0)
    return values


class _CutColumns(Mapping):
    """A code's columns cut at the moment: each item is a fresh copy, never a view."""

    def __init__(self, columns: dict, offset: int, moment_of):
        self._columns, self._offset, self._moment_of = columns, offset, moment_of

    def __getitem__(self, field):
        end = self._moment_of().last(field) + 1 - self._offset
        return self._columns[field][:max(end, 0)].copy()

    def __iter__(self):
        return iter(self._columns)

    def __len__(self):
        return len(self._columns)


class RevealedFeed:
    """One code's run arrays as far as they are known (``columns[field]`` ends at the moment)."""

    def __init__(self, arrays, offset: int, moment_of):
        self.code = arrays.code
        self._sessions = arrays.sessions
        self.columns = _CutColumns(arrays.columns, offset, moment_of)
        self._offset, self._moment_of = offset, moment_of

    @property
    def sessions(self) -> pd.DatetimeIndex:
        """The run's sessions up to today (the calendar is published in advance)."""
        return self._sessions[: max(self._moment_of().pos + 1 - self._offset, 0)]


class RevealedArrays(Mapping):
    """``Context.arrays`` as a strategy sees it: code -> :class:`RevealedFeed`."""

    def __init__(self, arrays: dict, offset: int, moment_of):
        self._arrays, self._offset, self._moment_of = arrays, offset, moment_of
        self._feeds: dict = {}  # built on first use: a run over the whole market asks for few codes

    def __getitem__(self, code):
        feed = self._feeds.get(code)
        if feed is None:
            feed = self._feeds[code] = RevealedFeed(self._arrays[code], self._offset, self._moment_of)
        return feed

    def __iter__(self):
        return iter(self._arrays)

    def __len__(self):
        return len(self._arrays)

    def __reduce__(self):
        # pickled with a strategy's params (Backtrader's optstrategy returns them from its workers):
        # frozen at the moment of pickling, without the strategy whose clock it reads
        return RevealedArrays, (self._arrays, self._offset, FixedMoment(self._moment_of()))


@dataclass(frozen=True)
class FixedMoment:
    """A moment that no longer moves: ``moment_of`` of arrays pickled out of a run."""

    moment: Moment

    def __call__(self) -> Moment:
        return self.moment


class Indicator:
    """Values computed once from a whole series, revealed bar by bar.

    ``ind[0]`` is the latest value known now, ``ind[1]`` the one before, and so on; ``ind.value``
    is ``ind[0]``; ``ind.values`` a copy of every value known so far (oldest first). Before the
    open, an indicator of closes ends with yesterday's value; one of opens only ends with today's.
    """

    def __init__(self, name: str, values: np.ndarray, sessions: pd.DatetimeIndex, fields, moment_of):
        self.name = name
        self._values = values
        self._sessions = sessions
        self._fields = tuple(fields)
        self._moment_of = moment_of

    def _end(self) -> int:
        return self._moment_of().last_of(self._fields) + 1

    def __len__(self) -> int:
        return max(self._end(), 0)

    def __getitem__(self, ago: int) -> float:
        if isinstance(ago, slice) or isinstance(ago, bool) or not isinstance(ago, (int, np.integer)):
            raise TypeError(f"indicator {self.name}: index with a whole number of sessions ago (0 = latest); "
                            "use .values for the known values")
        if ago < 0:
            raise LookAheadError(f"indicator {self.name}[{ago}]: a negative ago is a later bar; use ago >= 0")
        i = self._end() - 1 - int(ago)
        if i < 0:
            return float("nan")  # before the data: nothing known yet (like an indicator's warm-up)
        return float(self._values[i])

    @property
    def value(self) -> float:
        return self[0]

    @property
    def values(self) -> np.ndarray:
        return self._values[: len(self)].copy()

    def series(self) -> pd.Series:
        """The known values as a Series indexed by session."""
        n = len(self)
        return pd.Series(self._values[:n].copy(), index=self._sessions[:n], name=self.name)

    def __repr__(self) -> str:
        return f"Indicator({self.name}, latest={self.value:.6g}, known={len(self)})"


def compute_indicator(fn, data, name: str) -> np.ndarray:
    """Run ``fn(data)`` over the whole series and check it is causal.

    ``data`` is a Series or DataFrame over the extended sessions. The result must have one value
    per session. The check runs ``fn`` again on the first half and the first three quarters
    of the data: a causal indicator (rolling, expanding, EWM, TA functions) gives the same values
    there; one that reads later bars (a centred window, ``shift(-1)``, a whole-series mean) does not.
    """
    full = _as_values(fn(data), len(data), name)
    n = len(data)
    for cut in sorted({n // 2, (3 * n) // 4}):
        if cut < 2:
            continue
        part = _as_values(fn(data.iloc[:cut]), cut, name)
        if not _same(part, full[:cut]):
            bad = int(np.flatnonzero(~_equal_mask(part, full[:cut]))[0])
            day = data.index[bad]
            raise LookAheadError(
                f"indicator {name} reads later bars: its value on {pd.Timestamp(day).date()} changes when the "
                f"bars after {pd.Timestamp(data.index[cut - 1]).date()} are left out; use only past values "
                "(rolling, expanding, ewm, shift(k) with k >= 0)"
            )
    return full


def _as_values(out, n: int, name: str) -> np.ndarray:
    values = np.asarray(out.to_numpy() if hasattr(out, "to_numpy") else out, dtype="float64")
    if values.ndim != 1 or len(values) != n:
        raise ValueError(f"indicator {name}: the function must return one value per session "
                         f"({n}), got shape {values.shape}")
    return values


def _equal_mask(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.isclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(_equal_mask(a, b).all())
