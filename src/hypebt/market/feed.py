"""Bars -> Backtrader: a numpy-backed feed aligned to the trading calendar.

Backtrader's ``PandasData`` spends most of a run in its per-bar ``_load``.
:class:`ArrayFeed` instead hands Backtrader whole arrays at once in
``preload``. Every feed is aligned to the same sessions, so Backtrader never
waits for a late-listed stock before calling the strategy.

What a feed carries per session (the aligned bars, the day's limit prices, the adjusted close,
the suspension flag, the dated ST status and the flags at the limits) comes from the market's
panel (:mod:`hypebt.market.panel`), built once for every code of a run over the stocks' whole
stored history: :func:`feed_arrays` hands each code its row of the run's window, as views. They
are read by session index rather than turned into Backtrader lines: each extra line costs time
at every bar of every feed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass

import backtrader as bt
import numpy as np
import pandas as pd

from hypebt.market import status
from hypebt.market.panel import MarketPanel


@dataclass(frozen=True)
class FeedArrays:
    """Aligned per-session arrays of one code (same length as ``sessions``; prices float64, flags
    bool; read-only views of the market's panel)."""

    code: str
    sessions: pd.DatetimeIndex
    columns: dict[str, np.ndarray]
    st_codes: np.ndarray | None = None  # per session, index of where the ST status came from (status.SOURCES)

    @property
    def st_source(self) -> np.ndarray | None:
        """Per session, where the ST status came from (``st_history``, ``inferred``, ``names``)."""
        return None if self.st_codes is None else status.decode(self.st_codes)


class PanelFeeds(Mapping):
    """code -> :class:`FeedArrays` over a window of the market's panel (each made on first use: views,
    no copy); ``panel`` is that window, for readers of many codes at once (one slice, not a column
    per code)."""

    def __init__(self, panel: MarketPanel, members: np.ndarray | None = None):
        self.panel = panel
        self.members = members  # (codes, sessions): in the universe on that session (MarketPanel.members)
        self._stamps = session_stamps(panel.sessions)
        self._made: dict[str, FeedArrays] = {}

    def __getitem__(self, code: str) -> FeedArrays:
        made = self._made.get(code)
        if made is None:
            j = self.panel.index[code]
            cols = {name: values[j] for name, values in self.panel.columns.items()}
            cols["datetime"] = self._stamps
            made = self._made[code] = FeedArrays(code, self.panel.sessions, cols, self.panel.st_source[j])
        return made

    def __setitem__(self, code: str, arrays: FeedArrays) -> None:
        """Replace a code's arrays, as in the dict this mapping stands for (what reads that code alone
        sees them; a slice of many codes still reads the panel)."""
        if code not in self.panel.index:
            raise KeyError(f"{code}: not a code of the market panel")
        self._made[code] = arrays

    def __iter__(self):
        return iter(self.panel.codes)

    def __len__(self) -> int:
        return len(self.panel.codes)

    def __contains__(self, code) -> bool:
        return code in self.panel.index


def feed_arrays(panel: MarketPanel, lo: int = 0, hi: int | None = None, members: np.ndarray | None = None) -> PanelFeeds:
    """Each code's :class:`FeedArrays` over the panel's sessions ``lo:hi`` (a read-only mapping of
    views, no copy), with Backtrader's date numbers of the sessions as ``datetime``; ``members``: the
    universe's membership over the whole panel (:meth:`MarketPanel.members`), cut the same way."""
    return PanelFeeds(panel.window(lo, hi), None if members is None else members[:, lo:hi])


def session_stamps(sessions: pd.DatetimeIndex) -> np.ndarray:
    """Backtrader date numbers of the sessions, stamped at the 15:00 close (read-only, shared)."""
    key = (len(sessions), sessions[0].value if len(sessions) else 0, sessions[-1].value if len(sessions) else 0)
    if key not in _STAMPS:
        stamps = np.asarray([bt.date2num(dt.datetime(d.year, d.month, d.day, 15, 0)) for d in sessions],
                            dtype="float64")
        stamps.flags.writeable = False
        _STAMPS[key] = stamps
    return _STAMPS[key]


_STAMPS: dict[tuple, np.ndarray] = {}


def _line_buffer(values: np.ndarray) -> memoryview:
    """A Backtrader line's data: a read-only memoryview of float64 values (a view when they already
    are contiguous float64, as the panel's rows are)."""
    values = np.ascontiguousarray(values, dtype="float64")
    if values.flags.writeable:
        values = values.view()
        values.flags.writeable = False  # a feed never writes into its data; the panel is shared
    return memoryview(values)


def _nans(n: int) -> np.ndarray:
    """One read-only array of ``n`` NaN shared by every feed's unused lines (openinterest)."""
    if n not in _NANS:
        nans = np.full(n, np.nan)
        nans.flags.writeable = False
        _NANS[n] = nans
    return _NANS[n]


_NANS: dict[int, np.ndarray] = {}


class ArrayFeed(bt.feeds.DataBase):
    """A Backtrader feed over :class:`FeedArrays`; loads everything in one step.

    Dates are naive exchange dates (a tz-aware index would shift them by a
    day in Backtrader); bars are stamped at 15:00, the close.
    """

    params = (("arrays", None),)

    def __init__(self):
        super().__init__()
        self._i = 0
        # Kept private: the whole arrays, later sessions included, must not be a public attribute
        # of a feed a strategy holds (``self.data.p.arrays``).
        self._arrays: FeedArrays = self.p.arrays
        self.p.arrays = None

    @property
    def code(self) -> str:
        """The stock code of the feed."""
        return self._arrays.code

    def start(self):
        super().start()
        arr: FeedArrays = self._arrays
        self._cols = arr.columns
        self._n = len(arr.sessions)
        if "_stamps" not in self.__dict__:  # a reused feed (sweeps) keeps what it built
            self._stamps = _line_buffer(arr.columns["datetime"])
        self._i = 0

    def preload(self):
        # Every line at once instead of Backtrader's per-bar _load loop: a read-only view of the
        # market panel's row (float64, contiguous: no copy; a whole market's feeds would otherwise
        # copy ~250 MiB), indexed by Backtrader like its own array.array. A reused feed (sweeps)
        # hands the same buffers to the next run.
        bufs = self.__dict__.get("_bufs")
        if bufs is None:
            bufs = self._bufs = {}
            for name in self.lines.getlinealiases():
                values = self._cols.get(name)
                bufs[name] = _line_buffer(_nans(self._n) if values is None else values)
        for name, buf in bufs.items():
            getattr(self.lines, name).array = buf
        self._close_buf = bufs["close"]  # the close line's array (the broker values positions with it)
        self._i = self._n
        self.home()
        self._all_lines = list(self.lines)
        self._dt_line = self.lines.datetime

    def _load(self):
        # Backtrader's documented per-bar feed hook; used only when it runs without preload.
        if self._i >= self._n:
            return False
        for name in self.lines.getlinealiases():
            values = self._cols.get(name)
            getattr(self.lines, name)[0] = float(values[self._i]) if values is not None else math.nan
        self._i += 1
        return True
