"""Bars -> Backtrader: a numpy-backed feed aligned to the trading calendar.

Backtrader's ``PandasData`` spends most of a run in its per-bar ``_load``.
:class:`ArrayFeed` instead hands Backtrader whole arrays at once in
``preload``. Every feed is aligned to the same sessions, so Backtrader never
waits for a late-listed stock before calling the strategy:

- a suspended session (no row in the store) repeats the last close with zero
  volume and ``suspended = 1``, so positions keep their last traded value;
- sessions before listing or after delisting are filled the same way (with
  the first open before listing) and marked suspended: nothing can trade.

Per bar the feed also carries the day's limit prices (from
:mod:`hypebt.rules`), the adjustment factor (signals use ``adjclose``), and
the session count since listing.
"""

from __future__ import annotations

import array
import datetime as dt
import math
from dataclasses import dataclass

import backtrader as bt
import numpy as np
import pandas as pd

from . import rules as R

EXTRA_LINES = ("adjclose", "suspended", "limit_up", "limit_down", "prev_close")


@dataclass(frozen=True)
class FeedArrays:
    """Aligned per-session arrays of one code (all float64, same length as ``sessions``)."""

    code: str
    sessions: pd.DatetimeIndex
    columns: dict[str, np.ndarray]

    def at(self, i: int) -> dict[str, float]:
        return {k: float(v[i]) for k, v in self.columns.items()}


def _limits(code: str, sessions: pd.DatetimeIndex, prev_close: np.ndarray, session_no: np.ndarray | None,
            st: bool, rules: R.Rules) -> tuple[np.ndarray, np.ndarray]:
    up = np.full(len(sessions), np.nan)
    down = np.full(len(sessions), np.nan)
    for i, day in enumerate(sessions):
        pc = prev_close[i]
        if not pc > 0:
            continue
        sn = int(session_no[i]) if session_no is not None and session_no[i] > 0 else None
        lim = R.limits_for(code, day.date(), float(pc), st=st, session_no=sn, rules=rules)
        up[i] = lim.up if lim.up is not None else np.nan
        down[i] = lim.down if lim.down is not None else np.nan
    return up, down


def build_arrays(
    code: str,
    bars: pd.DataFrame,
    sessions: pd.DatetimeIndex,
    *,
    listed_before_data: bool,
    st: bool = False,
    rules: R.Rules | None = None,
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
    if len(bars):
        # The first bar in the store: use the store's own previous close if the
        # stock traded before the window (pct_change gives it back exactly).
        first = sessions.get_indexer([bars.index[0]])[0]
        if first >= 0 and "pct_change" in bars and pd.notna(bars["pct_change"].iloc[0]) and listed_before_data:
            prev_close[first] = float(bars["close"].iloc[0]) / (1 + float(bars["pct_change"].iloc[0]) / 100)
        if first >= 0 and not listed_before_data:
            prev_close[first] = np.nan  # listing day: no previous close, no limit
    cols["prev_close"] = prev_close
    # Sessions since listing, for the new-listing limit exemption; unknown
    # (None) when the stock traded before the store's first date.
    session_no = None if listed_before_data else np.cumsum(present.astype(int))
    up, down = _limits(code, sessions, prev_close, session_no, st, rules)
    cols["limit_up"], cols["limit_down"] = up, down
    return FeedArrays(code, sessions, cols)


class ArrayFeed(bt.feeds.DataBase):
    """A Backtrader feed over :class:`FeedArrays`; loads everything in one step.

    Dates are naive exchange dates (a tz-aware index would shift them by a
    day in Backtrader); bars are stamped at 15:00, the close.
    """

    lines = EXTRA_LINES
    params = (("arrays", None),)

    def __init__(self):
        super().__init__()
        self._i = 0

    def start(self):
        super().start()
        arr: FeedArrays = self.p.arrays
        stamps = [bt.date2num(dt.datetime(d.year, d.month, d.day, 15, 0)) for d in arr.sessions]
        self._cols = {"datetime": np.asarray(stamps, dtype="float64"), **arr.columns}
        self._cols.setdefault("openinterest", np.zeros(len(stamps)))
        self._n = len(stamps)
        self._i = 0

    def preload(self):
        # One bulk copy per line instead of Backtrader's per-bar _load loop.
        for name in self.lines.getlinealiases():
            values = self._cols.get(name)
            if values is None:
                values = np.full(self._n, np.nan)
            buf = array.array("d")
            buf.frombytes(np.ascontiguousarray(values, dtype="float64").tobytes())
            getattr(self.lines, name).array = buf
        self._i = self._n
        self.home()

    def _load(self):
        # Used only when Backtrader runs without preload.
        if self._i >= self._n:
            return False
        for name in self.lines.getlinealiases():
            values = self._cols.get(name)
            getattr(self.lines, name)[0] = float(values[self._i]) if values is not None else math.nan
        self._i += 1
        return True
