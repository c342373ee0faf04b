"""akshare -> validated canonical bars -> the store (``hypebt data fetch``).

Every akshare call goes through one :class:`Akshare` object, which is polite
(at least ``min_interval`` seconds between calls: Eastmoney bans aggressive
clients), patient (retries with exponential backoff, a timeout per call) and
strict about the tables it gets back (an empty table or a renamed column is a
:class:`~hypebt.core.errors.SourceError`, exit 4). Tests hand it a fake ``api``
object with the same functions instead of the akshare module.

What is stored, by ``adjust``:

- ``qfq``: forward-adjusted bars into ``stock_qfq``. A new qfq series re-bases
  all earlier prices, so each code's whole history is fetched again and
  replaces the old one.
- ``hfq``: back-adjusted bars into ``stock_hfq``, fetched incrementally
  (back-adjusted history does not change).
- ``none``: traded (unadjusted) prices plus ``adj_factor = hfq close / raw
  close`` into ``stock_raw``, incrementally: fills and price limits use the
  traded prices, signals the adjusted ones.

Atomicity: every code is fetched *and* validated before anything is written,
then each dataset gets one store write, so a failed run stores nothing. For
long runs ``commit_every=N`` writes every N codes instead; a write always
holds whole codes, never part of one.

>>> src = Akshare()                                              # doctest: +SKIP
>>> fetch_stocks(Store("data/store"), ["688039"], "2024-01-01", "2024-05-22",
...              adjust="none", source=src)                      # doctest: +SKIP
{'dataset': 'stock_raw', 'codes': ['688039'], 'rows': 88, 'skipped': [], ...}
"""

from __future__ import annotations

import datetime as dt
import inspect
import re
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hypebt.core import codes as _codes
from hypebt.core import errors
from hypebt.data import formats
from hypebt.core.errors import HypebtError, InputError, SourceError
from hypebt.data.store import Store, dataset_for
from hypebt.data.validate import validate_bars

ADJUSTS = ("qfq", "hfq", "none")
DEFAULT_START = dt.date(1990, 1, 1)  # before the first A-share session (1990-12-19)
CONCEPT_BOARD_COLUMNS = ("板块名称", "板块代码")
CONCEPT_MEMBER_COLUMNS = ("代码", "名称")
_AFTER_FAILURE = "check your network or try later; data already in the store is unaffected"
_BOARD_CODE = re.compile(r"^BK\d+$", re.IGNORECASE)


class _Timeout(Exception):
    """A call gave no answer within the timeout."""


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _run_with_timeout(fn: Callable[..., Any], kwargs: dict, timeout: float | None) -> Any:
    """``fn(**kwargs)``, giving up waiting after ``timeout`` seconds.

    A daemon thread rather than a ThreadPoolExecutor: a request that hangs for
    ever must not keep the interpreter from exiting (executor threads are
    joined at exit), and Python cannot kill a thread.
    """
    if not timeout:
        return fn(**kwargs)
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn(**kwargs)
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, name="hypebt-akshare-call", daemon=True).start()
    if not done.wait(timeout):
        raise _Timeout(f"no answer within {timeout:g}s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _as_date(value, what: str) -> dt.date | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        ts = pd.NaT
    if ts is pd.NaT:
        raise InputError(f"{what} {value!r} is not a date; use YYYY-MM-DD")
    return ts.date()


class Akshare:
    """The one door to akshare: rate limiting, retries, timeouts, table checks.

    ``api`` is any object with akshare's functions (default: the ``akshare``
    module, imported on first use because importing it takes seconds).
    ``retries`` is the number of attempts after the first; the waits between
    attempts are ``backoff``, ``2*backoff``, ``4*backoff``, ... seconds.
    ``sleep`` and ``clock`` are injectable so tests never really wait.

    >>> src = Akshare(min_interval=1.0, retries=4, backoff=2.0, timeout=30.0)   # doctest: +SKIP
    >>> src.stock_daily("688039", dt.date(2024, 2, 1), dt.date(2024, 2, 29), "qfq")  # doctest: +SKIP
    """

    def __init__(
        self,
        api: Any = None,
        *,
        min_interval: float = 1.0,
        retries: int = 4,
        backoff: float = 2.0,
        timeout: float | None = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if retries < 0 or min_interval < 0 or backoff < 0 or (timeout is not None and timeout <= 0):
            raise InputError("Akshare: retries, min_interval and backoff must be >= 0 and timeout > 0")
        self._api = api
        self.min_interval = float(min_interval)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.timeout = timeout
        self._sleep = sleep
        self._clock = clock
        self._last_end: float | None = None
        self.calls = 0  # attempts made, for summaries

    # --- plumbing ------------------------------------------------------------------------------
    @property
    def api(self) -> Any:
        """The akshare module (imported now if it was not given)."""
        if self._api is None:
            try:
                import akshare
            except Exception as exc:  # ImportError, or akshare failing inside its own import
                raise SourceError(
                    f"akshare cannot be imported ({exc.__class__.__name__}: {_one_line(exc)}); "
                    "install it with 'pip install akshare'"
                ) from None
            self._api = akshare
        return self._api

    @property
    def version(self) -> str:
        """akshare's version, for messages about changed tables."""
        return str(getattr(self.api, "__version__", "unknown"))

    def _wait_turn(self) -> None:
        # The gap is measured from the end of the previous call: a slow answer
        # does not earn the next request an earlier start.
        if self._last_end is None or self.min_interval <= 0:
            return
        wait = self.min_interval - (self._clock() - self._last_end)
        if wait > 0:
            self._sleep(wait)

    def _call(
        self,
        func: str,
        what: str,
        kwargs: dict,
        required: Sequence[str] = (),
        allow_empty: bool = False,
    ) -> pd.DataFrame:
        """Call ``api.<func>(**kwargs)`` politely, with retries; return a checked table.

        ``what`` names the call in messages (function and code). Exceptions,
        timeouts and empty tables are retried (all are usually transient); a
        table missing ``required`` columns is not (akshare changed it).
        """
        fn = getattr(self.api, func, None)
        if not callable(fn):
            raise SourceError(
                f"akshare {self.version} has no function {func}: it was renamed or removed; "
                "upgrade or pin akshare (pip install -U akshare)"
            )
        kwargs = dict(kwargs)
        if self.timeout and _accepts(fn, "timeout"):
            kwargs["timeout"] = self.timeout  # lets the request itself give up, ending the thread
        attempts = self.retries + 1
        last = ""
        empty = False
        for attempt in range(attempts):
            if attempt:
                self._sleep(self.backoff * 2 ** (attempt - 1))
            self._wait_turn()
            self.calls += 1
            try:
                table = _run_with_timeout(fn, kwargs, self.timeout)
            except _Timeout as exc:
                last, empty = str(exc), False
                continue
            except Exception as exc:  # network, HTTP, JSON, changed payloads: all worth a retry
                last, empty = f"{exc.__class__.__name__}: {_one_line(exc)}", False
                continue
            finally:
                self._last_end = self._clock()
            if table is None:
                table = pd.DataFrame()
            if not isinstance(table, pd.DataFrame):
                raise SourceError(
                    f"akshare {what} returned a {type(table).__name__}, not a table; "
                    f"akshare {self.version} changed this function: upgrade or pin akshare"
                )
            if len(table) == 0:
                if allow_empty:
                    return table
                last, empty = "an empty table", True
                continue
            missing = [c for c in required if c not in table.columns]
            if missing:
                raise SourceError(
                    f"akshare {what} returned a table without column(s) {', '.join(missing)} "
                    f"(found: {', '.join(map(str, table.columns))}); akshare {self.version} changed the table: "
                    "upgrade or pin akshare (pip install -U akshare, or the version that worked)"
                )
            return table
        if empty:
            raise SourceError(
                f"akshare {what} returned an empty table {attempts} time(s): the code may not exist or have "
                f"no bars in that range, or the server is throttling; check the code, or try later; "
                "data already in the store is unaffected"
            )
        raise SourceError(f"akshare {what} failed after {attempts} attempt(s) (last: {last}); {_AFTER_FAILURE}")

    # --- the akshare functions hypebt uses -----------------------------------------------------
    def stock_daily(self, code: str, start, end, adjust: str, *, allow_empty: bool = False) -> pd.DataFrame:
        """Daily bars of one stock, akshare's ``stock_zh_a_hist`` table (Chinese headers).

        ``adjust``: ``"qfq"``, ``"hfq"`` or ``""`` (traded prices). ``allow_empty``
        returns an empty table at once instead of retrying and failing (an
        incremental fetch with no new bars).
        """
        if adjust not in ("qfq", "hfq", ""):
            raise errors.unknown("akshare adjust", adjust, ("qfq", "hfq", ""))
        s, e = (_as_date(d, "date").strftime("%Y%m%d") for d in (start, end))
        what = f"stock_zh_a_hist {code} ({adjust or 'raw'}, {s}..{e})"
        return self._call(
            "stock_zh_a_hist",
            what,
            dict(symbol=code, period="daily", start_date=s, end_date=e, adjust=adjust),
            required=formats.AKSHARE_STOCK_REQUIRED,
            allow_empty=allow_empty,
        )

    def index_daily(self, symbol: str) -> pd.DataFrame:
        """Whole daily history of one index (``stock_zh_index_daily``, e.g. ``sh000300``)."""
        return self._call(
            "stock_zh_index_daily", f"stock_zh_index_daily {symbol}", dict(symbol=symbol),
            required=formats.INDEX_REQUIRED,
        )

    def trade_dates(self) -> pd.DatetimeIndex:
        """Every trading session Sina lists (``tool_trade_date_hist_sina``), sorted."""
        table = self._call("tool_trade_date_hist_sina", "tool_trade_date_hist_sina", {}, required=("trade_date",))
        dates = pd.to_datetime(table["trade_date"].astype("string"), errors="coerce")
        if dates.isna().any():
            bad = table["trade_date"][dates.isna()].iloc[0]
            raise SourceError(
                f"akshare tool_trade_date_hist_sina returned {bad!r}, not a date; "
                f"akshare {self.version} changed the table: upgrade or pin akshare"
            )
        return pd.DatetimeIndex(dates).normalize().sort_values().unique()

    def concept_boards(self) -> pd.DataFrame:
        """Eastmoney's concept boards (``stock_board_concept_name_em``: 板块名称, 板块代码, ...)."""
        return self._call(
            "stock_board_concept_name_em", "stock_board_concept_name_em", {}, required=CONCEPT_BOARD_COLUMNS
        )

    def concept_members(self, board: str) -> pd.DataFrame:
        """Today's members of one concept board, by name or code (``stock_board_concept_cons_em``)."""
        return self._call(
            "stock_board_concept_cons_em", f"stock_board_concept_cons_em {board}", dict(symbol=board),
            required=CONCEPT_MEMBER_COLUMNS,
        )


def _accepts(fn: Callable, name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


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
    """Sessions the store knows (akshare calendar, else CSI 300 dates), or None."""
    cal = store.load_calendar()
    if cal is not None and len(cal):
        return cal
    if "index" in store.datasets():
        idx = store.load("index", codes=["sh000300"], columns=["date"])
        if len(idx):
            return pd.DatetimeIndex(np.sort(idx["date"].unique()))
    return None


# Without a calendar, a stored series that starts this many days after the requested
# start is taken to lack history (listing day, or a range never fetched); shorter gaps
# are holidays (Spring Festival closes the market for up to 9 days).
_HEAD_GAP_DAYS = 15


def _has_sessions(sessions: pd.DatetimeIndex | None, first: dt.date, last: dt.date, min_days: int) -> bool:
    if first > last:
        return False
    if sessions is None:
        return (last - first).days + 1 >= min_days
    return bool(((sessions >= pd.Timestamp(first)) & (sessions <= pd.Timestamp(last))).any())


Plan = list[tuple[str, list[tuple[dt.date, dt.date, bool]]]]


def _plan(
    store: Store, dataset: str, codes: list[str], start: dt.date, end: dt.date, incremental: bool
) -> tuple[Plan, list[str]]:
    """Per code the date ranges to fetch, each with "may be empty"; and the codes up to date.

    Incremental (raw, hfq): only what the store lacks, before the code's first
    stored bar and after its last. qfq: the whole range, widened to the stored
    span (both ends) so that replacing the code's series loses no history.
    """
    ranges = store.code_ranges(dataset)
    sessions = _known_sessions(store) if incremental and len(ranges) else None
    plan: Plan = []
    up_to_date: list[str] = []
    one = dt.timedelta(days=1)
    for code in codes:
        if code not in ranges.index:
            plan.append((code, [(start, end, False)]))
            continue
        first = pd.Timestamp(ranges.loc[code, "first"]).date()
        last = pd.Timestamp(ranges.loc[code, "last"]).date()
        if not incremental:
            plan.append((code, [(min(start, first), max(end, last), False)]))
            continue
        parts = []
        if start < first and _has_sessions(sessions, start, first - one, _HEAD_GAP_DAYS):
            parts.append((start, first - one, True))  # may be empty: listed later than start
        if end > last and _has_sessions(sessions, last + one, end, 1):
            parts.append((last + one, end, True))  # may be empty: suspended, or no session yet
        if parts:
            plan.append((code, parts))
        else:
            up_to_date.append(code)
    return plan, up_to_date


def _fetch_one(
    source: Akshare, code: str, start: dt.date, end: dt.date, adjust: str, may_be_empty: bool,
    lenient: bool, today: dt.date, warned: list[str],
) -> pd.DataFrame | None:
    """One code's validated canonical bars for one range (None: no bars, and ``may_be_empty``)."""
    ak_adjust = "" if adjust == "none" else adjust
    where = f"akshare stock_zh_a_hist {code} ({'raw' if adjust == 'none' else adjust})"
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
    if adjust != "none":
        return frame
    # Traded prices plus the factor to back-adjusted ones, from a second, hfq call.
    hwhere = f"akshare stock_zh_a_hist {code} (hfq)"
    # The raw series has bars, so an empty hfq answer is a glitch: retried, then an error.
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
    lenient: bool = False,
    commit_every: int | None = None,
) -> dict[str, Any]:
    """Fetch daily bars of ``codes`` from akshare into ``store``; return a summary.

    ``start``/``end``: dates (default: all history up to ``today``).
    ``adjust``: ``qfq`` -> ``stock_qfq`` (whole range re-fetched per code),
    ``hfq`` -> ``stock_hfq``, ``none`` -> ``stock_raw`` with ``adj_factor``
    (both incremental: only the dates the store lacks for a code, before its
    first or after its last stored bar, are asked for).

    Every code is fetched and validated before one store write, so a failure
    (a :class:`SourceError` after retries) stores nothing. ``commit_every=N``
    writes every N codes instead (each write holds whole codes) so a long run
    keeps what it fetched before a failure. ``lenient`` drops bad bars with a
    warning instead of failing.

    Summary: ``dataset``, ``codes`` (fetched), ``rows`` (written), ``skipped``
    (already up to date, or no new bars), ``warnings``, ``calls`` (akshare
    attempts), ``manifest`` (the dataset's manifest, None when nothing was written).

    >>> fetch_stocks(store, ["688039", "300624"], "2024-01-01", "2024-05-22", source=Akshare())  # doctest: +SKIP
    """
    if adjust not in ADJUSTS:
        raise errors.unknown("adjust", adjust, ADJUSTS)
    if commit_every is not None and commit_every < 1:
        raise InputError(f"commit_every must be a positive number of codes, not {commit_every!r}")
    codes = _stock_codes(codes)
    today = _as_date(today, "today") or dt.date.today()
    start = _as_date(start, "start") or DEFAULT_START
    end = min(_as_date(end, "end") or today, today)
    if start > end:
        raise InputError(f"start {start} is after end {end}; swap them")
    dataset = dataset_for("stock", "raw" if adjust == "none" else adjust)
    store_adjust = "raw" if adjust == "none" else adjust
    plan, skipped = _plan(store, dataset, codes, start, end, incremental=(adjust != "qfq"))
    summary: dict[str, Any] = {"dataset": dataset, "codes": [], "rows": 0, "skipped": list(skipped),
                               "warnings": [], "calls": 0, "manifest": None}
    calls_before = source.calls
    pending: list[pd.DataFrame] = []
    pending_codes: list[str] = []

    def commit() -> None:
        if not pending:
            return
        bars = pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]
        summary["manifest"] = store.write(
            dataset, bars, source=f"akshare:stock_zh_a_hist {'raw+hfq' if adjust == 'none' else adjust}",
            adjust=store_adjust, as_of=str(today) if adjust == "qfq" else None,
            replace_codes=(adjust == "qfq"),
        )
        summary["rows"] += len(bars)
        summary["codes"] += pending_codes
        pending.clear()
        pending_codes.clear()

    try:
        for code, parts in _progress(plan, progress, f"fetch {dataset}"):
            got = [_fetch_one(source, code, s, e, adjust, may_be_empty, lenient, today, summary["warnings"])
                   for s, e, may_be_empty in parts]
            got = [f for f in got if f is not None]
            frame = pd.concat(got, ignore_index=True) if len(got) > 1 else got[0] if got else None
            if frame is None:
                summary["skipped"].append(code)
            else:
                pending.append(frame)
                pending_codes.append(code)
            if commit_every and len(pending_codes) >= commit_every:
                commit()
        commit()
    except HypebtError as exc:
        if summary["codes"]:
            raise type(exc)(
                f"{exc} ({len(summary['codes'])} of {len(codes)} codes were stored before this failure; "
                "run again to fetch the rest)"
            ) from None
        raise
    finally:
        summary["calls"] = source.calls - calls_before
    return summary


def fetch_index(store: Store, symbols: Iterable[str], *, source: Akshare, start=None, end=None,
                today=None) -> dict[str, Any]:
    """Fetch index bars (e.g. ``sh000300``) into the ``index`` dataset; return a summary.

    akshare returns an index's whole history; ``start``/``end`` (default: up to
    ``today``) keep part of it.
    Rows are upserted by (code, date), so other dates already stored stay.
    All symbols are fetched and validated before one store write.

    >>> fetch_index(store, ["sh000300"], source=Akshare())   # doctest: +SKIP
    {'dataset': 'index', 'codes': ['sh000300'], 'rows': 3485, ...}
    """
    wanted: list[str] = []
    for raw in symbols:
        sym = str(raw).strip().lower()
        if not _codes.is_index_code(sym):
            raise InputError(f"{raw!r} is not an index code; use the exchange prefix, e.g. sh000300 or sz399006")
        if sym not in wanted:
            wanted.append(sym)
    if not wanted:
        raise InputError("no index given; name at least one, e.g. sh000300")
    today = _as_date(today, "today") or dt.date.today()
    start = _as_date(start, "start")
    end = min(_as_date(end, "end") or today, today)
    summary: dict[str, Any] = {"dataset": "index", "codes": [], "rows": 0, "skipped": [], "warnings": [],
                               "manifest": None}
    frames = []
    for sym in wanted:
        where = f"akshare stock_zh_index_daily {sym}"
        table = source.index_daily(sym)
        frame = _convert(lambda: formats.from_index_table(table, sym, where))
        if start is not None:
            frame = frame[frame["date"] >= pd.Timestamp(start)]
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

    >>> fetch_calendar(store, source=Akshare())   # doctest: +SKIP
    {'sessions': 8797, 'first': '1990-12-19', 'last': '2025-12-31', 'manifest': {...}}
    """
    sessions = source.trade_dates()
    manifest = store.write_calendar(sessions, source="akshare:tool_trade_date_hist_sina")
    return {"sessions": int(manifest["rows"]), "first": manifest["first_date"], "last": manifest["last_date"],
            "manifest": manifest}


def resolve_board(board: str, boards: pd.DataFrame) -> tuple[str, str]:
    """``(name, code)`` of a concept board given by exact name, or code like ``BK1234``.

    A name that differs only in case is accepted when it is unambiguous;
    otherwise an unknown name gets "did you mean".
    """
    names = boards["板块名称"].astype("string").str.strip()
    codes = boards["板块代码"].astype("string").str.strip()
    query = str(board).strip()
    hits = boards.index[names == query]
    if not len(hits) and _BOARD_CODE.match(query):
        hits = boards.index[codes.str.upper() == query.upper()]
    if not len(hits):
        folded = names.str.casefold() == query.casefold()
        if folded.sum() == 1:
            hits = boards.index[folded]
    if not len(hits):
        raise errors.unknown("concept board", query, [n for n in names.dropna().unique()])
    pos = hits[0]
    return str(names[pos]), str(codes[pos])


@dataclass(frozen=True)
class ConceptSnapshot:
    """Today's members of one Eastmoney concept board, as :func:`concept_snapshot` fetched them.

    ``members``: ``[(code, name), ...]`` in the board's order, A-share codes only, each once;
    ``snapshot_date``: the day of the fetch; ``source``: a line for the universe file.
    """

    name: str
    code: str
    members: list[tuple[str, str]]
    snapshot_date: str
    source: str


def concept_snapshot(board: str, *, source: Akshare, today=None) -> ConceptSnapshot:
    """Fetch today's members of a concept board, found by exact name (``Sora概念``) or code (``BK2090``).

    The board lists today's members: a backtest of earlier dates that trades them carries
    look-ahead bias (:func:`hypebt.data.universes.snapshot_concept` writes them as a ``concept``
    universe, which says so).

    >>> concept_snapshot("Sora概念", source=Akshare()).members[:1]     # doctest: +SKIP
    [('688039', '当虹科技')]
    """
    today = _as_date(today, "today") or dt.date.today()
    name, code = resolve_board(board, source.concept_boards())
    table = source.concept_members(code or name)
    members: list[tuple[str, str]] = []
    seen: set[str] = set()
    dropped = []
    for raw_code, raw_name in zip(table["代码"], table["名称"]):
        member = str(raw_code).strip().zfill(6) if pd.notna(raw_code) else ""
        if not _codes.is_stock_code(member):
            dropped.append(str(raw_code))
            continue
        if member not in seen:
            seen.add(member)
            members.append((member, "" if pd.isna(raw_name) else str(raw_name)))
    if dropped:
        warnings.warn(f"concept board {name}: skipped {len(dropped)} non-A-share code(s): "
                      f"{', '.join(dropped[:5])}", stacklevel=2)
    if not members:
        raise SourceError(f"akshare stock_board_concept_cons_em {name}: no A-share members; try later")
    label = f"{name} ({code})" if code else name
    return ConceptSnapshot(name, code, members, today.isoformat(),
                           f"akshare stock_board_concept_cons_em {label} on {today.isoformat()}")


def snapshot_concept(board: str, out_path, *, source: Akshare, today=None) -> Path:
    """Save today's members of an Eastmoney concept board as a universe CSV; return its path.

    Kept for the CLI until it calls :func:`hypebt.data.universes.snapshot_concept` (Phase B of
    issue 13 removes this and the import of universes with it).
    """
    from hypebt.data.universes import write_universe

    snap = concept_snapshot(board, source=source, today=today)
    out_path = Path(out_path)
    write_universe(out_path, snap.members, snapshot_date=snap.snapshot_date, source=snap.source, kind="concept")
    return out_path
