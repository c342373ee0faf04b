"""The run's period: its sessions within the calendar and the data, and the benchmark over them.

A run never starts before its stocks' first bar nor ends after their last, and says so when the
spec asked for more; a calendar lacking days the stocks traded (read off a benchmark stored to an
earlier date, or with a gap) and a benchmark without a bar on a run session are refused: they would
silently end the run, delete sessions, or compare with a 0.0 standing for no data.
"""

from __future__ import annotations

import pandas as pd

from hypebt.core.errors import DataError
from hypebt.core.i18n import N_
from hypebt.data.calendar import Calendar
from hypebt.data.market_index import load_benchmark
from hypebt.data.store import Store
from hypebt.engine.spec import Spec


def sessions_of(spec: Spec, cal: Calendar, bars: pd.DataFrame, where: str, notes: list[str]) -> pd.DatetimeIndex:
    """The run's sessions: the spec's period within the calendar, capped at the data (and said so)."""
    data_first, data_last = bars["date"].min(), bars["date"].max()
    start = pd.Timestamp(spec.start) if spec.start else data_first
    end = pd.Timestamp(spec.end) if spec.end else data_last
    if end < data_first or start > data_last:
        # The calendar (the index's dates) may reach where no stock of the run has a bar: a run
        # there would trade nothing and exit 0 as if it had looked.
        raise DataError(
            f"{where}: no data between {start.date()} and {end.date()} (the store has "
            f"{data_first.date()}..{data_last.date()} for these codes); set start and end inside it, "
            f"or fetch or import the bars of that period first"
        )
    # The run never starts before the first stock bar: sessions without any bar would count as flat
    # returns against the benchmark's.
    lo, hi = max(start, data_first), min(end, data_last)
    sessions = cal.between(max(lo, cal.first), hi)
    calendar_covers(cal, bars["date"], lo, hi, where)
    if len(sessions) < 2:
        raise DataError(
            f"{where}: no data between {start.date()} and {end.date()} "
            f"(the store has {data_first.date()}..{data_last.date()} for these codes)"
        )
    # A weekend or a holiday just beyond the data changes nothing: only weekdays count.
    if spec.end and len(pd.bdate_range(data_last + pd.Timedelta(days=1), end)):
        notes.append(N_("%(where)s: end %(end)s is after the store's last bar (%(last)s): the run ends there; fetch "
                        "newer bars or set end = %(last)s", where=where, end=spec.end, last=data_last.date()))
    if spec.start and len(pd.bdate_range(start, data_first - pd.Timedelta(days=1))):
        notes.append(N_("%(where)s: start %(start)s is before the store's first bar (%(first)s): the run starts there",
                        where=where, start=spec.start, first=data_first.date()))
    return sessions


def calendar_covers(cal: Calendar, dates: pd.Series, lo, hi, where: str) -> None:
    """Refuse a calendar that lacks days the stocks traded between ``lo`` and ``hi``: a calendar
    read off a benchmark stored to an earlier date, or with a gap, would silently end the run or
    delete those sessions."""
    traded = pd.DatetimeIndex(dates.unique())
    lacking = traded[(traded >= lo) & (traded <= hi)].difference(cal.sessions)
    if len(lacking):
        days = ", ".join(str(d.date()) for d in lacking[:5]) + (f" ... ({len(lacking)} in all)" if len(lacking) > 5 else "")
        raise DataError(
            f"{where}: the trading calendar (the stored exchange calendar, else the CSI 300's bars) lacks "
            f"{len(lacking)} day(s) on which the stocks traded: {days} (it ends {cal.last.date()}); import the "
            "index's missing bars (hypebt data import sh000300.csv) or store the calendar (hypebt data fetch --calendar)"
        )


def benchmark_returns(store: Store, spec: Spec, sessions: pd.DatetimeIndex) -> pd.Series:
    # an index in the store, or "equal_weight": every stock in the store, equally weighted (cached)
    idx = load_benchmark(store, spec.benchmark, ["date", "close"], str(spec.path))
    close = idx.set_index("date")["close"].sort_index()
    close = close[close.index <= sessions[-1]]
    missing = sessions.difference(close.index)
    if len(missing):
        # A return of 0.0 would stand for "no data": the comparison would be wrong on those sessions.
        days = ", ".join(str(d.date()) for d in missing[:5]) + (f" ... ({len(missing)} in all)" if len(missing) > 5 else "")
        raise DataError(
            f"{spec.path}: benchmark {spec.benchmark} has no bar on {len(missing)} of the run's {len(sessions)} "
            f"sessions: {days} (stored {close.index.min().date() if len(close) else 'none'}.."
            f"{close.index.max().date() if len(close) else 'none'}); import those bars "
            f"(hypebt data fetch --index {spec.benchmark}), or set start/end inside them"
        )
    r = close.pct_change().reindex(sessions).fillna(0.0)
    r.iloc[0] = 0.0
    r.name = spec.benchmark
    return r
