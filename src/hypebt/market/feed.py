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

import array
import datetime as dt
import math
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


def feed_arrays(panel: MarketPanel, lo: int = 0, hi: int | None = None) -> dict[str, FeedArrays]:
    """Each code's :class:`FeedArrays` over the panel's sessions ``lo:hi`` (views, no copy), with
    Backtrader's date numbers of the sessions as ``datetime``."""
    part = panel.window(lo, hi)
    stamps = session_stamps(part.sessions)
    out = {}
    for j, code in enumerate(part.codes):
        cols = {name: values[j] for name, values in part.columns.items()}
        cols["datetime"] = stamps
        out[code] = FeedArrays(code, part.sessions, cols, part.st_source[j])
    return out


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


class ArrayFeed(bt.feeds.DataBase):
    """A Backtrader feed over :class:`FeedArrays`; loads everything in one step.

    Dates are naive exchange dates (a tz-aware index would shift them by a
    day in Backtrader); bars are stamped at 15:00, the close.
    """

    params = (("arrays", None),)

    def __init__(self):
        super().__init__()
        self._i = 0

    def start(self):
        super().start()
        arr: FeedArrays = self.p.arrays
        self._cols = arr.columns
        self._n = len(arr.sessions)
        if "_stamps" not in self.__dict__:  # a reused feed (sweeps) keeps what it built
            self._stamps = arr.columns["datetime"].tolist()
        self._i = 0

    def preload(self):
        # One bulk copy per line instead of Backtrader's per-bar _load loop, once per feed: a
        # reused feed (sweeps) hands the same buffers to the next run (nothing writes to them).
        bufs = self.__dict__.get("_bufs")
        if bufs is None:
            bufs = self._bufs = {}
            for name in self.lines.getlinealiases():
                values = self._cols.get(name)
                if values is None:
                    values = np.full(self._n, np.nan)
                buf = array.array("d")
                buf.frombytes(np.ascontiguousarray(values, dtype="float64").tobytes())
                bufs[name] = buf
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
