"""akshare -> validated canonical bars -> the store (``hypebt data fetch``).

Every akshare call goes through one :class:`~hypebt.data.akshare_client.Akshare` (random pacing,
ban-aware retries and cool-downs, offline and parsing errors said at once; see that module).

What is stored, by ``adjust``:

- ``qfq``: forward-adjusted bars into ``stock_qfq``. A new qfq series re-bases all earlier
  prices, so a code that needs new bars has its whole stored span fetched again, replacing it.
- ``hfq``: back-adjusted bars into ``stock_hfq``, fetched incrementally.
- ``raw`` (alias ``none``): traded prices plus ``adj_factor = hfq close / raw close`` into
  ``stock_raw``, incrementally: fills and limits use traded prices, signals the adjusted ones.

Surviving bans and interruptions: a batch writes every ``commit_every`` codes (default 20), each
write holding whole codes; a failure (a ban, no network, Ctrl-C) first stores what was fetched
before it; running the same command again resumes, skipping codes whose stored bars already
cover the range. One code with no bars (unknown, delisted, an empty answer) is recorded in the
summary's ``empty`` and the batch goes on.

Sessions: a bar is stored only once its session has closed (15:00 Beijing plus a 30-minute
margin for the data to settle): an intraday bar would otherwise stay for good, since the next
incremental fetch starts after the last stored bar. Whether a gap can hold a session is checked
against the store's calendar (:func:`hypebt.data.calendar.store_sessions`) only as far as that
calendar reaches; beyond it the source is asked.

>>> src = Akshare()                                              # doctest: +SKIP
>>> fetch_stocks(Store("data/store"), ["688039"], "2024-01-01", "2024-05-22",
...              adjust="raw", source=src)                       # doctest: +SKIP
{'dataset': 'stock_raw', 'codes': ['688039'], 'rows': 88, 'skipped': [], 'empty': [], ...}
"""

from __future__ import annotations

import datetime as dt
import sys
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from hypebt.core import codes as _codes
from hypebt.core.dates import BEIJING
from hypebt.core.errors import HypebtError, InputError, SourceError
from hypebt.data import formats
from hypebt.data.akshare_client import Akshare, EmptyAnswer, as_date
from hypebt.data.calendar import store_sessions
from hypebt.data.fields import adjust_name
from hypebt.data.store import Store, dataset_for
from hypebt.data.validate import validate_bars

__all__ = ["Akshare", "closed_through", "fetch_bars", "fetch_calendar", "fetch_index", "fetch_stocks"]

DEFAULT_START = dt.date(1990, 1, 1)  # before the first A-share session (1990-12-19)
COMMIT_EVERY = 20
SESSION_CLOSE = dt.time(15, 0)
# Eastmoney's daily bar settles a little after the close (auction, after-hours STAR trades).
CLOSE_MARGIN = dt.timedelta(minutes=30)


def beijing_now(now=None, today=None) -> pd.Timestamp:
    """``now`` as a Beijing time (a naive time is Beijing's); with only ``today``, the end of that day;
    else the clock's now."""
    if now is not None:
        ts = pd.Timestamp(now)
        return ts.tz_localize(BEIJING) if ts.tzinfo is None else ts.tz_convert(BEIJING)
    if today is not None:
        return pd.Timestamp(as_date(today, "today")).tz_localize(BEIJING) + pd.Timedelta(hours=23, minutes=59)
    return pd.Timestamp.now(tz=BEIJING)


def closed_through(now) -> dt.date:
    """The last Beijing date whose session, if it had one, has closed by ``now`` (15:00 + margin).

    >>> closed_through(pd.Timestamp("2024-03-01 10:30", tz="Asia/Shanghai"))
    datetime.date(2024, 2, 29)
    >>> closed_through(pd.Timestamp("2024-03-01 15:45", tz="Asia/Shanghai"))
    datetime.date(2024, 3, 1)
    """
    bj = beijing_now(now)
    settled = bj.normalize() + pd.Timedelta(hours=SESSION_CLOSE.hour, minutes=SESSION_CLOSE.minute) + CLOSE_MARGIN
    return bj.date() if bj >= settled else bj.date() - dt.timedelta(days=1)


# --- shared helpers for the fetch functions ----------------------------------------------------

def _convert(convert: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """Run a formats conversion on an akshare table; a bad field is akshare's fault (exit 4)."""
    try:
        return convert()
    except InputError as exc:
        raise SourceError(f"{exc}; akshare delivered this table: try later, or upgrade or pin akshare") from None


def _validate(frame: pd.DataFrame, where: str, kind: str, lenient: bool, today: dt.date, qfq: bool,
              warned: list[str]):
    try:
        checked = validate_bars(frame, where, kind=kind, lenient=lenient, today=today, qfq=qfq)
    except InputError as exc:
        # validate's remedy speaks of imports; the bar came from akshare.
        msg = str(exc).split("; fix the")[0]
        raise SourceError(
            f"{msg}; akshare delivered this bar: try later, or fetch leniently (--lenient) to drop bad rows"
        ) from None
    for why, n in checked.dropped.items():
        note = f"{where}: dropped {n} row(s): {why}"
        warned.append(note)
        warnings.warn(note, stacklevel=3)
    return checked.frame


def _progress(items: list, progress: bool, desc: str):
    disable = not progress or not sys.stderr.isatty()
    if disable:
        return items
    from tqdm import tqdm  # only when drawn

    return tqdm(items, desc=desc, unit="code", file=sys.stderr)


def _stock_codes(codes: Iterable[str]) -> list[str]:
    out: list[str] = []
    for raw in codes:
        code = str(raw).strip()
        if not _codes.is_stock_code(code):
            raise InputError(f"{code!r} is not an A-share code; {_codes.bad_code_hint(code)}")
        if code not in out:
            out.append(code)
    if not out:
        raise InputError("no stock codes given; name at least one, e.g. 688039")
    return out


def _known_sessions(store: Store) -> pd.DatetimeIndex | None:
    """The store's calendar (exchange calendar, else CSI 300's dates), or None: stock dates are no
    calendar here, they are what is being completed."""
    sessions = store_sessions(store, stock_dates=False)
    return sessions if sessions is not None and len(sessions) else None


# Without a calendar, a stored series that starts this many days after the requested
# start is taken to lack history (listing day, or a range never fetched); shorter gaps
# are holidays (Spring Festival closes the market for up to 9 days).
_HEAD_GAP_DAYS = 15


def _has_sessions(sessions: pd.DatetimeIndex | None, first: dt.date, last: dt.date, min_days: int) -> bool:
    """Can ``first..last`` hold a session? Beyond the calendar's span the answer is yes: ask the source
    (a calendar fetched last year, or an index fetched up to some day, says nothing after it)."""
    if first > last:
        return False
    if sessions is None:
        return (last - first).days + 1 >= min_days
    if pd.Timestamp(last) > sessions[-1] or pd.Timestamp(first) < sessions[0]:
        return True
    return bool(((sessions >= pd.Timestamp(first)) & (sessions <= pd.Timestamp(last))).any())


Plan = list[tuple[str, list[tuple[dt.date, dt.date, bool]]]]


def _plan(store: Store, dataset: str, codes: list[str], start: dt.date, end: dt.date,
          incremental: bool) -> tuple[Plan, list[str]]:
    """Per code the date ranges to fetch, each with "may be empty"; and the codes up to date.

    A stored code needs the dates before its first bar (when they can hold sessions) and after its
    last; none: it is up to date (a rerun resumes this way). Incremental (raw, hfq): just those
    ranges. qfq: the whole range widened to the stored span, so the new series replaces the old
    one without losing history.
    """
    ranges = store.code_ranges(dataset)
    sessions = _known_sessions(store) if len(ranges) else None
    plan: Plan = []
    up_to_date: list[str] = []
    one = dt.timedelta(days=1)
    for code in codes:
        if code not in ranges.index:
            plan.append((code, [(start, end, False)]))
            continue
        first = pd.Timestamp(ranges.loc[code, "first"]).date()
        last = pd.Timestamp(ranges.loc[code, "last"]).date()
        parts = []
        if start < first and _has_sessions(sessions, start, first - one, _HEAD_GAP_DAYS):
            parts.append((start, first - one, True))  # may be empty: listed later than start
        if end > last and _has_sessions(sessions, last + one, end, 1):
            parts.append((last + one, end, True))  # may be empty: suspended, or no session yet
        if not parts:
            up_to_date.append(code)
        elif incremental:
            plan.append((code, parts))
        else:
            plan.append((code, [(min(start, first), max(end, last), False)]))
    return plan, up_to_date


def _fetch_one(
    source: Akshare, code: str, start: dt.date, end: dt.date, adjust: str, may_be_empty: bool,
    lenient: bool, today: dt.date, warned: list[str],
) -> pd.DataFrame | None:
    """One code's validated canonical bars for one range (None: no bars, and ``may_be_empty``)."""
    ak_adjust = "" if adjust == "raw" else adjust
    where = f"akshare stock_zh_a_hist {code} ({adjust})"
    table = source.stock_daily(code, start, end, ak_adjust, allow_empty=may_be_empty)
    if len(table) == 0:
        return None
    frame = _convert(lambda: formats.from_akshare_stock(table, code, where))
    frame = frame[(frame["date"] >= pd.Timestamp(start)) & (frame["date"] <= pd.Timestamp(end))]
    if frame.empty:
        if may_be_empty:
            return None
        raise SourceError(
            f"{where}: no bars between {start} and {end} in akshare's answer; check the dates and the code"
        )
    frame = _validate(frame, where, "stock", lenient, today, qfq=(adjust == "qfq"), warned=warned)
    if adjust != "raw":
        return frame
    # Traded prices plus the factor to back-adjusted ones, from a second, hfq call.
    hwhere = f"akshare stock_zh_a_hist {code} (hfq)"
    # The raw series has bars, so an empty hfq answer is a glitch: the code is recorded as empty.
    htable = source.stock_daily(code, start, end, "hfq")
    hfq = _convert(lambda: formats.from_akshare_stock(htable, code, hwhere))
    hfq = _validate(hfq, hwhere, "stock", lenient, today, qfq=False, warned=warned)
    hclose = hfq.set_index("date")["close"]
    factor = frame["date"].map(hclose) / frame["close"]
    if factor.isna().any():
        day = frame.loc[factor.isna(), "date"].iloc[0].date()
        raise SourceError(
            f"akshare stock_zh_a_hist {code}: the hfq series has no bar on {day} where the raw one has; "
            "the two answers disagree, try later"
        )
    frame = frame.copy()
    frame["adj_factor"] = factor.to_numpy(dtype="float64")
    return frame


# --- what the CLI calls ------------------------------------------------------------------------

def _dates(start, end, now, today) -> tuple[dt.date, dt.date, dt.date, dt.date]:
    """``(start, end, last closed day, today)``; ``end`` capped at the last closed session."""
    bj = beijing_now(now, today)
    last_closed = closed_through(bj)
    start = as_date(start, "start") or DEFAULT_START
    given_end = as_date(end, "end")
    if given_end is not None and start > given_end:
        raise InputError(f"start {start} is after end {given_end}; swap them")
    return start, min(given_end or last_closed, last_closed), last_closed, bj.date()


def fetch_stocks(
    store: Store,
    codes: Iterable[str],
    start=None,
    end=None,
    adjust: str = "qfq",
    *,
    source: Akshare,
    progress: bool = True,
    today=None,
    now=None,
    lenient: bool = False,
    commit_every: int | None = COMMIT_EVERY,
) -> dict[str, Any]:
    """Fetch daily bars of ``codes`` from akshare into ``store``; return a summary.

    ``start``/``end``: dates (default: all history up to the last closed session). ``adjust``:
    ``qfq`` -> ``stock_qfq``, ``hfq`` -> ``stock_hfq``, ``raw`` (or ``none``) -> ``stock_raw`` with
    ``adj_factor``. ``now``: the time of the fetch (default the clock; with only ``today``, the end
    of that day): bars of sessions not yet closed by then are not stored.

    Writes every ``commit_every`` codes (None: once, at the end), whole codes only; on a failure
    what was fetched before it is stored first, and the error says how many codes that was.
    ``lenient`` drops bad bars with a warning instead of failing.

    Summary: ``dataset``, ``codes`` (fetched), ``rows`` (written), ``skipped`` (up to date, or no
    new bars), ``empty`` (no bars at all: unknown, delisted, or a quiet refusal; with ``why``),
    ``warnings``, ``calls`` (akshare attempts), ``manifest`` (None when nothing was written).

    >>> fetch_stocks(store, ["688039", "300624"], "2024-01-01", "2024-05-22", source=Akshare())  # doctest: +SKIP
    """
    adjust = adjust_name(adjust)
    if commit_every is not None and commit_every < 1:
        raise InputError(f"commit_every must be a positive number of codes, not {commit_every!r}")
    codes = _stock_codes(codes)
    start, end, last_closed, today = _dates(start, end, now, today)
    dataset = dataset_for("stock", adjust)
    summary: dict[str, Any] = {"dataset": dataset, "codes": [], "rows": 0, "skipped": [], "empty": [], "why": {},
                               "warnings": [], "calls": 0, "manifest": None, "through": str(end)}
    if start > end:  # the requested days have not closed yet
        summary["skipped"] = list(codes)
        return summary
    plan, summary["skipped"] = _plan(store, dataset, codes, start, end, incremental=(adjust != "qfq"))
    calls_before = source.calls
    pending: list[pd.DataFrame] = []
    pending_codes: list[str] = []

    def commit() -> None:
        if not pending:
            return
        bars = pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]
        summary["manifest"] = store.write(
            dataset, bars, source=f"akshare:stock_zh_a_hist {'raw+hfq' if adjust == 'raw' else adjust}",
            adjust=adjust, as_of=str(today) if adjust == "qfq" else None, replace_codes=(adjust == "qfq"),
        )
        summary["rows"] += len(bars)
        summary["codes"] += pending_codes
        pending.clear()
        pending_codes.clear()

    try:
        for code, parts in _progress(plan, progress, f"fetch {dataset}"):
            try:
                got = [_fetch_one(source, code, s, e, adjust, may_be_empty, lenient, today, summary["warnings"])
                       for s, e, may_be_empty in parts]
            except EmptyAnswer as exc:  # this code has nothing; the next one may
                summary["empty"].append(code)
                summary["why"][code] = str(exc)
                continue
            got = [f for f in got if f is not None]
            if not got:
                summary["skipped"].append(code)
                continue
            pending.append(pd.concat(got, ignore_index=True) if len(got) > 1 else got[0])
            pending_codes.append(code)
            if commit_every and len(pending_codes) >= commit_every:
                commit()
        commit()
    except (HypebtError, KeyboardInterrupt) as exc:
        commit()  # whole codes fetched before the failure are kept: a rerun resumes after them
        if isinstance(exc, HypebtError) and summary["codes"]:
            raise type(exc)(
                f"{exc} ({len(summary['codes'])} of {len(codes)} codes are stored; run the same command "
                "again to fetch the rest)"
            ) from None
        raise
    finally:
        summary["calls"] = source.calls - calls_before
    return summary


def _index_symbols(symbols: Iterable[str]) -> list[str]:
    wanted: list[str] = []
    for raw in symbols:
        sym = str(raw).strip().lower()
        if not _codes.is_index_code(sym):
            raise InputError(f"{raw!r} is not an index code; use the exchange prefix, e.g. sh000300 or sz399006")
        if sym not in wanted:
            wanted.append(sym)
    if not wanted:
        raise InputError("no index given; name at least one, e.g. sh000300")
    return wanted


def fetch_index(store: Store, symbols: Iterable[str], *, source: Akshare, start=None, end=None,
                today=None, now=None) -> dict[str, Any]:
    """Fetch index bars (e.g. ``sh000300``) into the ``index`` dataset; return a summary.

    akshare returns an index's whole history; ``start``/``end`` (default: up to the last closed
    session) keep part of it. Rows are upserted by (code, date). All symbols are fetched and
    validated before one store write; a symbol with no bars is recorded in ``empty``.

    >>> fetch_index(store, ["sh000300"], source=Akshare())   # doctest: +SKIP
    {'dataset': 'index', 'codes': ['sh000300'], 'rows': 3485, ...}
    """
    wanted = _index_symbols(symbols)
    first = as_date(start, "start")
    _, end, _, today = _dates(first, end, now, today)
    summary: dict[str, Any] = {"dataset": "index", "codes": [], "rows": 0, "skipped": [], "empty": [],
                               "warnings": [], "manifest": None}
    frames = []
    for sym in wanted:
        where = f"akshare stock_zh_index_daily {sym}"
        try:
            table = source.index_daily(sym)
        except EmptyAnswer:
            summary["empty"].append(sym)
            continue
        frame = _convert(lambda: formats.from_index_table(table, sym, where))
        if first is not None:
            frame = frame[frame["date"] >= pd.Timestamp(first)]
        frame = frame[frame["date"] <= pd.Timestamp(end)]
        if frame.empty:
            summary["skipped"].append(sym)
            continue
        frames.append(_validate(frame, where, "index", False, today, qfq=False, warned=summary["warnings"]))
        summary["codes"].append(sym)
    if frames:
        bars = pd.concat(frames, ignore_index=True)
        summary["manifest"] = store.write("index", bars, source="akshare:stock_zh_index_daily", adjust="none",
                                          replace_codes=False)
        summary["rows"] = len(bars)
    return summary


def fetch_calendar(store: Store, *, source: Akshare) -> dict[str, Any]:
    """Store akshare's trading calendar (``tool_trade_date_hist_sina``); return a summary.

    Sina lists the planned sessions to the end of the current year.

    >>> fetch_calendar(store, source=Akshare())   # doctest: +SKIP
    {'sessions': 8797, 'first': '1990-12-19', 'last': '2025-12-31', 'manifest': {...}}
    """
    sessions = source.trade_dates()
    manifest = store.write_calendar(sessions, source="akshare:tool_trade_date_hist_sina")
    return {"sessions": int(manifest["rows"]), "first": manifest["first_date"], "last": manifest["last_date"],
            "manifest": manifest}


_AS_START = object()  # fetch_bars: the indexes start where the stocks do


def fetch_bars(store: Store, codes: Iterable[str], indexes: Iterable[str], start=None, end=None,
               adjust: str = "qfq", *, source: Akshare, index_start=_AS_START, **options) -> dict[str, Any]:
    """Fetch indexes (the benchmark) first, then stocks: what a universe or a spec needs, in one go.

    The index comes first so the sessions it brings are known when the stocks' gaps are judged.
    ``index_start``: the indexes' first date (default ``start``; None keeps their whole history).
    Returns ``{"index": summary or None, "stocks": summary or None}``; ``options`` go to
    :func:`fetch_stocks` (``progress``, ``commit_every``, ``now``, ...).

    >>> fetch_bars(store, universe.codes, ["sh000300"], "2024-01-02", "2024-05-22", source=Akshare())  # doctest: +SKIP
    """
    codes, indexes = list(codes), list(indexes)
    out: dict[str, Any] = {"index": None, "stocks": None}
    if indexes:
        first = start if index_start is _AS_START else index_start
        out["index"] = fetch_index(store, indexes, source=source, start=first, end=end,
                                   today=options.get("today"), now=options.get("now"))
    if codes:
        out["stocks"] = fetch_stocks(store, codes, start, end, adjust, source=source, **options)
    return out
