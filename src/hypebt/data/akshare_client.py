"""The one door to akshare: polite pacing, ban-aware retries, bounded calls, checked tables.

Upstream reality (akshare's issue tracker): Eastmoney bans an IP after a dozen to a few hundred
requests, for minutes to hours, and a ban shows as dropped connections or empty answers. So:

- calls are spaced by a random interval (default 2-5 s, measured from the end of the previous
  call), so a batch does not beat a regular rhythm;
- a dropped connection, a timeout, an HTTP error or a non-JSON page is retried with backoff;
  after ``streak`` of them in a row the client cools down for ``cooldown`` seconds (default
  10 min), and after ``cooldowns`` cool-downs it gives up and says it is probably a ban;
- no network at all (DNS failure, connection refused, no route) is said at once, with the remedy;
- an empty table is an :class:`EmptyAnswer` at once (an unknown or delisted code, a range with
  no sessions); the caller decides (a batch records it and goes on);
- an error inside akshare's parsing (TypeError, KeyError, IndexError, ...) is not retried: the
  server or akshare changed, and the message says to upgrade or pin akshare;
- calls are bounded without leaving threads behind: a function that takes ``timeout`` gets it
  (the request gives up itself); Eastmoney's paged lists already time out each page inside
  akshare, so they run in the caller's thread; only Sina's one-request functions, which have no
  timeout, run in a helper thread (abandoned at the timeout, it makes no further request).

Tests hand it a fake ``api``, or fake the HTTP transport under the real akshare.
"""

from __future__ import annotations

import datetime as dt
import inspect
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from hypebt.core import errors
from hypebt.core.dates import parse_date
from hypebt.core.errors import InputError, SourceError
from hypebt.data.formats import AKSHARE_STOCK_REQUIRED, INDEX_REQUIRED

# Eastmoney's paged lists (akshare.utils.func.fetch_paginated_data) time out each page after 15 s.
SELF_TIMED = frozenset({"stock_board_concept_name_em", "stock_board_concept_cons_em"})
OFFLINE_MARKERS = (
    "NameResolutionError", "Failed to resolve", "Name or service not known", "nodename nor servname",
    "Temporary failure in name resolution", "getaddrinfo failed", "No address associated with hostname",
    "Connection refused", "Errno 111", "Network is unreachable", "Errno 101", "No route to host", "Errno 113",
)
OFFLINE_REMEDY = ("check the connection (or proxy), or work offline: import a dataset folder with "
                  "'hypebt data import FOLDER' (e.g. ../shared/data)")
_PERMANENT = (TypeError, KeyError, IndexError, AttributeError, ValueError, LookupError)


class EmptyAnswer(SourceError):
    """akshare answered with no rows (an unknown or delisted code, no sessions in the range, or a quiet ban)."""


class Offline(SourceError):
    """No network at all: the upstream host cannot be resolved or reached."""


class Banned(SourceError):
    """The upstream kept dropping connections through every cool-down: most likely an IP ban."""


class _Timeout(Exception):
    """A call gave no answer within the timeout."""


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _chain(exc: BaseException) -> str:
    """The text of an exception and of its causes (urllib3 hides the DNS error two levels down)."""
    seen, parts = set(), []
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        parts.append(f"{type(exc).__name__}: {exc}")
        exc = exc.__cause__ or exc.__context__
    return " | ".join(parts)


def classify(exc: BaseException) -> str:
    """``"offline"``, ``"transient"`` (worth a retry; counts towards a ban streak) or ``"permanent"``.

    >>> classify(ConnectionError("Failed to resolve 'push2his.eastmoney.com'"))
    'offline'
    >>> classify(KeyError("klines")), classify(TimeoutError("read timed out"))
    ('permanent', 'transient')
    """
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "JSONDecodeError" in names:
        return "transient"  # an HTML error page where JSON was due: throttling, a proxy, a ban page
    network = names & {"ConnectionError", "RequestException", "OSError", "HTTPError", "ProtocolError",
                       "Timeout", "TimeoutError", "_Timeout", "ChunkedEncodingError", "URLError"}
    if network:
        if any(marker in _chain(exc) for marker in OFFLINE_MARKERS):
            return "offline"
        return "transient"
    if isinstance(exc, _PERMANENT):
        return "permanent"
    return "transient"


def _host(exc: BaseException) -> str:
    text = _chain(exc)
    for marker in ("host='", "resolve '"):
        if marker in text:
            return text.split(marker, 1)[1].split("'", 1)[0]
    return "the data server"


def _accepts(fn: Callable, name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _run_in_thread(fn: Callable[..., Any], kwargs: dict, timeout: float) -> Any:
    """``fn(**kwargs)`` in a daemon thread, given up after ``timeout`` s (only for one-request calls)."""
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


def as_date(value, what: str) -> dt.date | None:
    """A date (see :func:`hypebt.core.dates.parse_date`), None for None."""
    return None if value is None else parse_date(value, what)


class Akshare:
    """akshare behind rate limiting, ban-aware retries, bounded calls and table checks.

    ``api``: any object with akshare's functions (default: the ``akshare`` module, imported on
    first use). ``min_interval``..``max_interval``: seconds between calls, drawn at random
    (``max_interval`` defaults to 2.5 x ``min_interval``). ``retries``: attempts after the first
    for transient failures, waiting ``backoff``, ``2*backoff``, ... ``streak`` failures in a row
    start a ``cooldown`` (seconds); after ``cooldowns`` of them the call raises :class:`Banned`.
    ``notify`` receives one-line progress notes (cool-downs). ``sleep``, ``clock`` and ``rng``
    are injectable so tests never really wait.

    >>> src = Akshare(min_interval=2.0, max_interval=5.0)                                  # doctest: +SKIP
    >>> src.stock_daily("688039", dt.date(2024, 2, 1), dt.date(2024, 2, 29), "qfq")        # doctest: +SKIP
    """

    def __init__(
        self,
        api: Any = None,
        *,
        min_interval: float = 2.0,
        max_interval: float | None = None,
        retries: int = 3,
        backoff: float = 2.0,
        timeout: float | None = 30.0,
        streak: int = 3,
        cooldown: float = 600.0,
        cooldowns: int = 2,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        max_interval = 2.5 * min_interval if max_interval is None else max_interval
        if min(retries, min_interval, backoff, cooldown, cooldowns) < 0 or max_interval < min_interval \
                or streak < 1 or (timeout is not None and timeout <= 0):
            raise InputError("Akshare: retries, intervals, backoff and cool-downs must be >= 0, "
                             "max_interval >= min_interval, streak >= 1 and timeout > 0")
        self._api = api
        self.min_interval, self.max_interval = float(min_interval), float(max_interval)
        self.retries, self.backoff, self.timeout = int(retries), float(backoff), timeout
        self.streak, self.cooldown, self.cooldowns = int(streak), float(cooldown), int(cooldowns)
        self._sleep, self._clock = sleep, clock
        self._rng = rng or random.Random()
        self._notify = notify or (lambda text: None)
        self._last_end: float | None = None
        self._failures = 0  # transient failures in a row, across calls
        self._cooled = 0  # cool-downs since the last success
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
        # Measured from the end of the previous call: a slow answer earns no earlier start.
        if self._last_end is None or self.max_interval <= 0:
            return
        gap = self._rng.uniform(self.min_interval, self.max_interval)
        wait = gap - (self._clock() - self._last_end)
        if wait > 0:
            self._sleep(wait)

    def _invoke(self, func: str, fn: Callable, kwargs: dict) -> Any:
        if self.timeout and _accepts(fn, "timeout"):
            return fn(**kwargs, timeout=self.timeout)  # the request itself gives up
        if not self.timeout or func in SELF_TIMED:
            return fn(**kwargs)
        return _run_in_thread(fn, kwargs, self.timeout)

    def call(self, func: str, what: str, kwargs: dict, required: Sequence[str] = (),
             allow_empty: bool = False) -> pd.DataFrame:
        """``api.<func>(**kwargs)`` under the policy above; a table with ``required`` columns.

        ``what`` names the call in messages. ``allow_empty`` returns an empty table instead of
        raising :class:`EmptyAnswer`.
        """
        fn = getattr(self.api, func, None)
        if not callable(fn):
            raise SourceError(f"akshare {self.version} has no function {func}: it was renamed or removed; "
                              "upgrade or pin akshare (pip install -U akshare)")
        attempt = 0
        while True:
            self._wait_turn()
            self.calls += 1
            try:
                table = self._invoke(func, fn, dict(kwargs))
            except Exception as exc:  # sorted below: offline, transient or permanent
                self._last_end = self._clock()
                kind = "transient" if isinstance(exc, _Timeout) else classify(exc)
                if kind == "offline":
                    raise Offline(f"no network: {_host(exc)} cannot be reached ({_one_line(exc)[:160]}); "
                                  f"{OFFLINE_REMEDY}") from None
                if kind == "permanent":
                    raise SourceError(
                        f"akshare {what} failed inside akshare ({exc.__class__.__name__}: {_one_line(exc)[:160]}): "
                        f"akshare {self.version} cannot read what the server sent; upgrade or pin akshare "
                        "(pip install -U akshare)") from None
                attempt += 1
                self._after_failure(what, exc)
                if attempt > self.retries:
                    raise SourceError(f"akshare {what} failed after {attempt} attempt(s) (last: "
                                      f"{exc.__class__.__name__}: {_one_line(exc)[:160]}); the server may be "
                                      "throttling: try later; data already in the store is unaffected") from None
                self._sleep(self.backoff * 2 ** (attempt - 1))
                continue
            self._last_end = self._clock()
            self._failures = self._cooled = 0
            return self._checked(table, what, required, allow_empty)

    def _after_failure(self, what: str, exc: BaseException) -> None:
        """Count a transient failure; after ``streak`` in a row, cool down (or give up: a ban)."""
        self._failures += 1
        if self._failures < self.streak:
            return
        if self._cooled >= self.cooldowns:
            raise Banned(f"akshare {what}: the server dropped {self._failures} requests in a row through "
                         f"{self._cooled} cool-down(s) (last: {exc.__class__.__name__}): most likely an IP ban, "
                         "which lasts minutes to hours; what was fetched is stored, run again later to resume")
        self._cooled += 1
        self._notify(f"{self._failures} failed requests in a row ({exc.__class__.__name__}): "
                     f"cooling down {self.cooldown:g}s before going on ({self._cooled} of {self.cooldowns})")
        self._failures = 0
        self._sleep(self.cooldown)

    def _checked(self, table, what: str, required: Sequence[str], allow_empty: bool) -> pd.DataFrame:
        if table is None:
            table = pd.DataFrame()
        if not isinstance(table, pd.DataFrame):
            raise SourceError(f"akshare {what} returned a {type(table).__name__}, not a table; "
                              f"akshare {self.version} changed this function: upgrade or pin akshare")
        if len(table) == 0:
            if allow_empty:
                return table
            raise EmptyAnswer(f"akshare {what} returned no rows: the code may not exist or have no bars in that "
                              "range, or the server is refusing quietly; check the code, or try later")
        missing = [c for c in required if c not in table.columns]
        if missing:
            raise SourceError(
                f"akshare {what} returned a table without column(s) {', '.join(missing)} "
                f"(found: {', '.join(map(str, table.columns))}); akshare {self.version} changed the table: "
                "upgrade or pin akshare (pip install -U akshare, or the version that worked)"
            )
        return table

    # --- bars and calendars --------------------------------------------------------------------
    def stock_daily(self, code: str, start, end, adjust: str, *, allow_empty: bool = False) -> pd.DataFrame:
        """Daily bars of one stock, akshare's ``stock_zh_a_hist`` table (Chinese headers).

        ``adjust``: ``"qfq"``, ``"hfq"`` or ``""`` (traded prices).
        """
        if adjust not in ("qfq", "hfq", ""):
            raise errors.unknown("akshare adjust", adjust, ("qfq", "hfq", ""))
        s, e = (as_date(d, "date").strftime("%Y%m%d") for d in (start, end))
        return self.call("stock_zh_a_hist", f"stock_zh_a_hist {code} ({adjust or 'raw'}, {s}..{e})",
                         dict(symbol=code, period="daily", start_date=s, end_date=e, adjust=adjust),
                         required=AKSHARE_STOCK_REQUIRED, allow_empty=allow_empty)

    def index_daily(self, symbol: str) -> pd.DataFrame:
        """Whole daily history of one index (``stock_zh_index_daily``, e.g. ``sh000300``)."""
        return self.call("stock_zh_index_daily", f"stock_zh_index_daily {symbol}", dict(symbol=symbol),
                         required=INDEX_REQUIRED)

    def trade_dates(self) -> pd.DatetimeIndex:
        """Every trading session Sina lists (``tool_trade_date_hist_sina``), sorted."""
        table = self.call("tool_trade_date_hist_sina", "tool_trade_date_hist_sina", {}, required=("trade_date",))
        dates = pd.to_datetime(table["trade_date"].astype("string"), errors="coerce")
        if dates.isna().any():
            bad = table["trade_date"][dates.isna()].iloc[0]
            raise SourceError(f"akshare tool_trade_date_hist_sina returned {bad!r}, not a date; "
                              f"akshare {self.version} changed the table: upgrade or pin akshare")
        return pd.DatetimeIndex(dates).normalize().sort_values().unique()

    def concept_boards(self) -> pd.DataFrame:
        """Eastmoney's concept boards (``stock_board_concept_name_em``: 板块名称, 板块代码, ...)."""
        return self.call("stock_board_concept_name_em", "stock_board_concept_name_em", {},
                         required=("板块名称", "板块代码"))

    def concept_members(self, board: str) -> pd.DataFrame:
        """Today's members of one concept board, by name or code (``stock_board_concept_cons_em``)."""
        return self.call("stock_board_concept_cons_em", f"stock_board_concept_cons_em {board}", dict(symbol=board),
                         required=("代码", "名称"))

    # --- reference data (hypebt.data.reference_fetch) ------------------------------------------
    def table(self, func: str, required: Sequence[str] = (), allow_empty: bool = False, **kwargs) -> pd.DataFrame:
        """Any akshare table function by name, under the same policy (``stock_tfp_em``, ...)."""
        args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        return self.call(func, f"{func}({args})" if args else func, kwargs, required=required,
                         allow_empty=allow_empty)
