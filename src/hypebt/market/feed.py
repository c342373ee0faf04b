"""Bars -> Backtrader: a numpy-backed feed aligned to the trading calendar.

Backtrader's ``PandasData`` spends most of a run in its per-bar ``_load``.
:class:`ArrayFeed` instead hands Backtrader whole arrays at once in
``preload``. Every feed is aligned to the same sessions, so Backtrader never
waits for a late-listed stock before calling the strategy:

- a suspended session (no row in the store) repeats the last close with zero
  volume and ``suspended = 1``, so positions keep their last traded value;
- sessions before listing or after delisting are filled the same way (with
  the first open before listing) and marked suspended: nothing can trade.

:class:`FeedArrays` also carries per session the day's limit prices (from
:mod:`hypebt.market.rules`), the adjusted close (signals use ``adjclose``) and the
suspension flag. They are read by session index rather than turned into
Backtrader lines: each extra line costs time at every bar of every feed.
"""

from __future__ import annotations

import array
import datetime as dt
import math
from dataclasses import dataclass

import backtrader as bt
import numpy as np
import pandas as pd

from hypebt.market import rules as R
from hypebt.market import status


@dataclass(frozen=True)
class FeedArrays:
    """Aligned per-session arrays of one code (all float64, same length as ``sessions``)."""

    code: str
    sessions: pd.DatetimeIndex
    columns: dict[str, np.ndarray]
    st_source: np.ndarray | None = None  # per session, where the ST status came from (hypebt.market.status)


def session_stamps(sessions: pd.DatetimeIndex) -> np.ndarray:
    """Backtrader date numbers of the sessions, stamped at the 15:00 close."""
    key = (len(sessions), sessions[0].value if len(sessions) else 0, sessions[-1].value if len(sessions) else 0)
    if key not in _STAMPS:
        _STAMPS[key] = np.asarray(
            [bt.date2num(dt.datetime(d.year, d.month, d.day, 15, 0)) for d in sessions], dtype="float64"
        )
    return _STAMPS[key]


_STAMPS: dict[tuple, np.ndarray] = {}


def build_arrays(
    code: str,
    bars: pd.DataFrame,
    sessions: pd.DatetimeIndex,
    *,
    listed_before_data: bool,
    st: bool = False,
    rules: R.Rules | None = None,
    st_history: pd.DataFrame | None = None,
    st_covered_to=None,
) -> FeedArrays:
    """Align one code's bars (canonical frame rows, sorted by date) to ``sessions``.

    ``listed_before_data``: the code's first bar is not its listing day (the
    store starts later), so its session count since listing is unknown and it is
    treated as seasoned for the new-listing limit exemption.
    """
    rules = rules or R.Rules()
    bars = bars.set_index("date")
    present = sessions.isin(bars.index)
    aligned = bars.reindex(sessions)
    close = aligned["close"].ffill()
    first_open = float(bars["open"].iloc[0]) if len(bars) else math.nan
    close = close.fillna(first_open)
    cols: dict[str, np.ndarray] = {}
    for col in ("open", "high", "low"):
        cols[col] = aligned[col].where(present, close).to_numpy(dtype="float64")
    cols["close"] = close.to_numpy(dtype="float64")
    cols["volume"] = aligned["volume"].where(present, 0.0).fillna(0.0).to_numpy(dtype="float64")
    factor = aligned["adj_factor"].ffill().bfill() if "adj_factor" in aligned else pd.Series(1.0, index=sessions)
    cols["adjclose"] = (close * factor.fillna(1.0)).to_numpy(dtype="float64")
    cols["suspended"] = (~present).astype("float64")
    # Limits come from the previous *traded* close (the last one before this bar).
    prev_close = close.shift(1).to_numpy(dtype="float64")
    prev_close = np.where(np.arange(len(sessions)) == 0, np.nan, prev_close)
    earlier = bars.index < sessions[0] if len(sessions) else np.zeros(len(bars), dtype=bool)
    if earlier.any():
        # A run starting inside the stock's history: its first session is limited by the last close before it.
        prev_close[0] = float(bars["close"][earlier].iloc[-1])
    if len(bars):
        # The first bar in the store: use the store's own previous close if the
        # stock traded before the window (pct_change gives it back exactly).
        first = sessions.get_indexer([bars.index[0]])[0]
        if first >= 0 and "pct_change" in bars and pd.notna(bars["pct_change"].iloc[0]) and listed_before_data:
            prev_close[first] = float(bars["close"].iloc[0]) / (1 + float(bars["pct_change"].iloc[0]) / 100)
        if first >= 0 and not listed_before_data:
            prev_close[first] = np.nan  # listing day: no previous close, no limit
    if "adj_factor" in bars:
        # Raw prices with an adjustment factor (adjusted / raw): on an ex-dividend / ex-rights day the
        # exchange limits from the reference price (除权除息参考价), the previous close carried to the
        # new share basis and rounded to the fen, not from the raw previous close.
        f = bars["adj_factor"].astype("float64")
        f_prev = f.shift(1).reindex(sessions).ffill().to_numpy()
        f_now = factor.to_numpy(dtype="float64")
        ratio = np.where((f_prev > 0) & (f_now > 0) & present, f_prev / f_now, 1.0)
        moved = np.abs(ratio - 1) > 1e-9
        if moved.any():
            prev_close = np.where(moved, R.price_limits_array(prev_close * ratio, 0.0)[0], prev_close)
    cols["prev_close"] = prev_close
    cols["datetime"] = session_stamps(sessions)
    # Sessions since listing, for the new-listing limit exemption; unknown
    # (None) when the stock traded before the store's first date.
    # Bars before the run's first session count too (a listing a few sessions before the start).
    before = int((bars.index < sessions[0]).sum()) if len(sessions) else 0
    session_no = None if listed_before_data else np.cumsum(present.astype(int)) + before
    # ST per session (hypebt.market.status): the dated list, else the bars' evidence, else ``st``.
    st, st_source = status.st_status(code, sessions.values, cols["open"], cols["high"], cols["low"], cols["close"],
                                     prev_close, history=st_history, covered_to=st_covered_to, static=st, rules=rules)
    cols["st"] = st.astype("float64")
    up, down = R.limits_array(code, sessions.values, prev_close, st=st, session_no=session_no, rules=rules)
    cols["limit_up"], cols["limit_down"] = up, down
    flags = R.limit_flags(code, cols["open"], cols["high"], cols["low"], cols["close"], up, down,
                          prev_close=prev_close, days=sessions.values, st=st, rules=rules)
    # A suspended session has no bar: nothing traded, so it is not at a limit either.
    for name in ("locked_up", "locked_down", "closed_up"):
        cols[name] = (flags[name] & present).astype("float64")
    return FeedArrays(code, sessions, cols, st_source)


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
