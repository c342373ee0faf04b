"""The market as (codes, sessions) arrays: every code's bars, limits, ST status and limit flags,
built at once for a whole universe, over the stock's whole stored history.

:func:`build` is the one place bars become what the rules read, for the engine's feeds
(:mod:`hypebt.market.feed`) and for the studies' panels:

- each code's bars aligned to the sessions; a session without a bar (suspended, not yet listed,
  delisted) repeats the last close (before the first bar: NaN, no price is known yet) with zero volume and
  ``suspended``;
- ``prev_close``: the previous traded close (a suspension carries it across), the exchange's
  reference price on an ex-dividend day (raw prices with ``adj_factor``); none on a listing day,
  before a stock's first bar, nor on a first stored bar whose previous close the data does not give;
- dated ST per session (:func:`hypebt.market.status.st_matrix`), the limit prices
  (:func:`hypebt.market.rules.limits_array`) and the flags at them
  (:func:`~hypebt.market.rules.limit_flags`), all vectorised across codes. ``st``, ``limit_up``
  and ``limit_down`` are as known before each session's open (what strategies read); ``st_day``
  is the session's own status as the exchange applied it (its own bar admitted as evidence), read
  only by the engine's checks: the ``locked_*`` flags come from its limits, and
  :func:`hypebt.market.status.day_limits` gives them where they differ (a few hundred sessions of
  a whole market, so they are not stored).

**Window invariance.** Every value on a session D depends only on the code's bars up to D. Built
from the first stored bar, a session's values do not depend on where a run starts, its warm-up,
its universe or its end: a run takes :meth:`MarketPanel.window` of a panel built from the data's
start to its own end (never past it). Arrays are read-only; windows and per-code rows are views.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hypebt.core import arrays as A
from hypebt.market import rules as R
from hypebt.market import status

# What build reads of the stored bars (pct_change and adj_factor when the dataset has them).
BAR_COLUMNS = ("code", "date", "open", "high", "low", "close", "volume", "pct_change", "adj_factor")
# What a universe may leave out, evaluated on each session (see MarketPanel.members).
EXCLUDE = ("st", "new_listing", *R.BOARDS)
NEW_LISTING_SESSIONS = 60  # a stock is a new listing for its first sessions, this many by default
PRICES = ("open", "high", "low", "close", "volume", "adjclose", "prev_close", "limit_up", "limit_down")
FLAGS = ("suspended", "st", "st_day", "locked_up", "locked_down", "closed_up")


def bar_columns(stored) -> list[str] | None:
    """Which of a dataset's ``stored`` columns (its manifest's) :func:`build` reads; None: all."""
    return [c for c in BAR_COLUMNS if c in stored] if stored else None


@dataclass(frozen=True)
class MarketPanel:
    """(codes, sessions) arrays of one market: ``columns[field][j]`` is code ``codes[j]``'s series.

    Prices and volume are float64 (fills, fees and limits read them: exact to the fen), flags bool.
    ``st_source``: per code and session, an index into :data:`hypebt.market.status.SOURCES`.
    ``listed_before_data``: per code, its first stored bar is not its listing (the store starts
    later); ``bars_before``: its bars before the panel's first session.
    """

    sessions: pd.DatetimeIndex
    codes: tuple[str, ...]
    columns: dict
    st_source: np.ndarray
    listed_before_data: np.ndarray
    bars_before: np.ndarray

    @property
    def index(self) -> dict[str, int]:
        """code -> its row."""
        if "_index" not in self.__dict__:
            object.__setattr__(self, "_index", {c: j for j, c in enumerate(self.codes)})
        return self.__dict__["_index"]

    def window(self, lo: int, hi: int | None = None) -> "MarketPanel":
        """Sessions ``lo:hi`` of every code (views, no copy)."""
        cut = slice(lo, hi)
        before = self.bars_before + (~self.columns["suspended"][:, :cut.indices(len(self.sessions))[0]]).sum(axis=1)
        views: dict[int, np.ndarray] = {}  # one view per array: a column that is another stays it (adjclose)
        columns = {k: views.setdefault(id(v), v[:, cut]) for k, v in self.columns.items()}
        return MarketPanel(self.sessions[cut], self.codes, columns, self.st_source[:, cut], self.listed_before_data,
                           before)

    def listed_sessions(self) -> np.ndarray:
        """Per code and session, its sessions traded since listing, this one included (float; NaN for a
        stock that traded before the data began: seasoned). Before its first bar: 0."""
        count = np.cumsum(~self.columns["suspended"], axis=1) + self.bars_before[:, None]
        return np.where(self.listed_before_data[:, None], np.nan, count)

    def rows(self, codes) -> np.ndarray:
        """The rows of ``codes`` (a KeyError names a code the panel does not have)."""
        index = self.index
        return np.fromiter((index[c] for c in codes), dtype=np.intp, count=len(codes))

    def members(self, exclude=(), new_listing_sessions: int = NEW_LISTING_SESSIONS) -> np.ndarray:
        """Per code and session: a member of the universe on that session, as known before its open.

        A stock is a member on a session when it has a bar that session (listed, not yet delisted,
        not suspended: no survivorship, and nothing later is read) and none of ``exclude`` holds for
        it then: ``"st"`` (its dated ST status that session), ``"new_listing"`` (fewer than
        ``new_listing_sessions`` sessions traded since its listing, this one included; a stock that
        traded before the data began is seasoned), or a board (``"star"``, ``"chinext"``, ``"bse"``,
        ``"sh_main"``, ``"sz_main"``).
        """
        bad = [x for x in exclude if x not in EXCLUDE]
        if bad:
            raise ValueError(f"unknown exclude {bad[0]!r}; use some of {', '.join(EXCLUDE)}")
        member = ~self.columns["suspended"]
        if "st" in exclude:
            member = member & ~self.columns["st"]
        if "new_listing" in exclude:
            with np.errstate(invalid="ignore"):
                member = member & ~(self.listed_sessions() < new_listing_sessions)
        boards = [b for b in exclude if b in R.BOARDS]
        if boards:
            member = member & ~np.isin([R.board_of(c) for c in self.codes], boards)[:, None]
        return member

    def nbytes(self) -> int:
        """Bytes held by the arrays (a column shared by two names counted once)."""
        seen = {id(v.base if v.base is not None else v): v.nbytes for v in self.columns.values()}
        return sum(seen.values()) + self.st_source.nbytes


def build(bars: pd.DataFrame, sessions: pd.DatetimeIndex, *, first_store_date, codes=None,
          rules: R.Rules = R.DEFAULT, st_static=(), st_history: pd.DataFrame | None = None,
          st_covered_to=None, seasoned=()) -> MarketPanel:
    """The :class:`MarketPanel` of ``bars`` (canonical rows: code, date, open, high, low, close,
    volume, optional ``pct_change`` and ``adj_factor``) on ``sessions``.

    ``codes``: the rows, in this order (default: every code of ``bars``, sorted); a code without a
    bar gets an all-suspended row. Bars after the last session are not read; bars before the first
    count for the new-listing sessions and the first session's previous close. ``first_store_date``:
    a code whose first bar is on or before it traded before the data began (seasoned: no new-listing
    exemption, and its first ``pct_change`` gives its previous close). ``st_static``: codes taken as
    ST where nothing dated says otherwise (the spec's ``st_codes``); ``st_history`` and
    ``st_covered_to``: the dated list (:func:`hypebt.market.status.st_matrix`). ``seasoned``: codes
    known (from a listings table) to have listed before their first stored bar, which is then not a
    listing day (a stock suspended over the data's first date).

    Codes are independent of each other: they are computed :data:`BLOCK` at a time into the
    panel's arrays, so the work's temporaries stay small (a whole market's would be hundreds of
    MiB of fresh memory, each page of it faulted in again at every step).
    """
    sessions = pd.DatetimeIndex(sessions)
    if not len(sessions):
        raise ValueError("a market panel needs at least one session")
    late = bars["date"].to_numpy() > sessions[-1].to_datetime64()
    if late.any():  # (a copy of the bars only when some are after the panel)
        bars = bars[~late]
    # Rows by code through the codes' few distinct values (factorize), not one lookup per bar.
    each, distinct = pd.factorize(bars["code"])
    distinct = [str(c) for c in distinct]
    codes = tuple(sorted(distinct)) if codes is None else tuple(codes)
    k, s = len(codes), len(sessions)
    row = pd.Index(codes).get_indexer(distinct)[each] if len(each) else np.zeros(0, dtype=np.intp)
    keep = row >= 0
    if not keep.all():
        bars, row = bars[keep], row[keep]
    dates = bars["date"].to_numpy("datetime64[ns]")
    step, later = np.diff(row), dates[1:] > dates[:-1]
    if not ((step > 0) | ((step == 0) & later)).all():  # the store's order (code, date); any other input sorted
        order = np.lexsort((dates, row))
        bars, row, dates = bars.iloc[order], row[order], dates[order]
    days = sessions.to_numpy("datetime64[ns]")
    col = np.minimum(np.searchsorted(days, dates), s - 1)
    col = np.where(days[col] == dates, col, -1)  # a bar on a date that is not a session is not read
    fields = [f for f in ("open", "high", "low", "close", "volume", "pct_change", "adj_factor") if f in bars]
    data = {f: bars[f].to_numpy("float64") for f in fields}
    has_bar = np.bincount(row, minlength=k) > 0
    # each code's first bar in the sorted rows (a code without one: any row, masked by has_bar)
    first_row = np.minimum(np.searchsorted(row, np.arange(k)), max(len(row) - 1, 0))
    listed_before = np.zeros(k, dtype=bool)
    if len(row):
        listed_before[has_bar] = dates[first_row[has_bar]] <= np.datetime64(pd.Timestamp(first_store_date), "ns")
    if len(seasoned):
        listed_before |= has_bar & np.isin(np.asarray(codes, dtype=object), list(seasoned))
    early = dates < days[0]
    before = np.bincount(row[early], minlength=k)  # bars before the first session
    out = {name: np.empty((k, s)) for name in PRICES}
    out.update({name: np.empty((k, s), dtype=bool) for name in FLAGS})
    out["st_source"] = np.empty((k, s), dtype=np.uint8)
    if "adj_factor" not in data:
        del out["adjclose"]  # the close itself (below)
    static = set(st_static)
    for lo in range(0, k, BLOCK):
        hi = min(lo + BLOCK, k)
        a, b = np.searchsorted(row, [lo, hi])
        block = {name: v[lo:hi] for name, v in out.items()}
        part = {f: v[a:b] for f, v in data.items()}
        history = None if st_history is None else st_history[st_history["code"].astype(str).isin(codes[lo:hi])]
        _block(codes[lo:hi], sessions, row[a:b] - lo, col[a:b], early[a:b], part, listed_before[lo:hi],
               before[lo:hi], block, rules, [code in static for code in codes[lo:hi]], history, st_covered_to)
    if "adjclose" not in out:
        out["adjclose"] = out["close"]  # no adjustment factor: the adjusted close is the close
    st_source = out.pop("st_source")
    for v in (*out.values(), st_source):
        v.flags.writeable = False  # shared by every run and view of the panel: nobody writes into it
    return MarketPanel(sessions, codes, {name: out[name] for name in (*PRICES, *FLAGS)}, st_source,
                       listed_before, before)


BLOCK = 256


def _block(codes, sessions, row, col, early, data, listed_before, before, out, rules, static, st_history,
           st_covered_to) -> None:
    """:func:`build` for a block of codes: ``row``/``col``/``early`` and ``data`` are its bars (rows
    relative to the block), ``out`` the block's rows of the panel's arrays, filled here."""
    k, s = len(codes), len(sessions)
    on = col >= 0
    r, c = row[on], col[on]

    def grid(name, target=None, fill=np.nan):
        target = np.empty((k, s)) if target is None else target
        target.fill(fill)
        target[r, c] = data[name][on]
        return target

    present = np.zeros((k, s), dtype=bool)
    present[r, c] = True
    o, h, lo = grid("open", out["open"]), grid("high", out["high"]), grid("low", out["low"])
    grid("volume", out["volume"], 0.0) if "volume" in data else out["volume"].fill(0.0)
    has_bar = np.bincount(row, minlength=k) > 0
    first_row = np.minimum(np.searchsorted(row, np.arange(k)), max(len(row) - 1, 0))
    last_before = np.full(k, np.nan)
    last_before[row[early]] = data["close"][early]  # sorted: the latest wins

    # Before a code's first bar in the panel: its last close before the panel, else no price (NaN):
    # showing its first open there would tell a strategy a listing's price before it lists.
    close = A.ffill(_seeded(grid("close"), present, last_before))
    prev = out["prev_close"]
    prev[:, 1:], prev[:, 0] = close[:, :-1], last_before  # before the first bar: none
    out["close"][:] = close
    for x in (o, h, lo):
        np.copyto(x, close, where=~present)
    _first_bar_prev_close(data, row, col, first_row, has_bar, listed_before, prev)
    if "adj_factor" in data:
        f_before = np.full(k, np.nan)
        f_before[row[early]] = data["adj_factor"][early]
        f_ff = A.ffill(_seeded(grid("adj_factor"), present, f_before))
        factor = A.bfill(f_ff)
        factor[np.isnan(factor)] = 1.0
        f_prev = A.shift(f_ff)
        f_prev[:, 0] = f_before
        # On an ex-dividend / ex-rights day the limits start from the exchange's reference price.
        prev[:] = R.reference_close_array(prev, f_prev, factor)
        np.multiply(close, factor, out=out["adjclose"])
    session_no = np.where(listed_before[:, None], np.nan, np.cumsum(present, axis=1) + before[:, None])
    st, out["st_source"][:], st_day = status.st_matrix(codes, sessions.values, h, lo, close, prev,
                                                        history=st_history, covered_to=st_covered_to,
                                                        static=static, rules=rules)
    up, down = out["limit_up"], out["limit_down"]
    up[:], down[:] = R.limits_array(codes, sessions.values, prev, st=st, session_no=session_no, rules=rules)
    # The locks the engine refuses come from the limits the exchange applied that session (its own
    # ST status, status.day_limits); closed_up, which a strategy reads, from the limits it was shown.
    day_up, day_down = status.day_limits(codes, sessions.values, prev, up, down, st, st_day, rules)
    flags = R.limit_flags(codes, o, h, lo, close, day_up, day_down, prev_close=prev, days=sessions.values,
                          st=st_day, rules=rules)
    if day_up is not up:
        flags["closed_up"] = R.limit_flags(codes, o, h, lo, close, up, down, rules=rules)["closed_up"]
    out["suspended"][:], out["st"][:], out["st_day"][:] = ~present, st, st_day
    for name in ("locked_up", "locked_down", "closed_up"):
        np.logical_and(flags[name], present, out=out[name])


def _seeded(values: np.ndarray, present: np.ndarray, before: np.ndarray) -> np.ndarray:
    """``values`` with the first session's gap (no bar there) filled from ``before`` (per code)."""
    values[:, 0] = np.where(present[:, 0], values[:, 0], before)
    return values


def _first_bar_prev_close(data, row, col, first_row, has_bar, listed_before, prev) -> None:
    """The previous close of each code's first stored bar, from the store's own ``pct_change`` when
    the stock traded before the data began (it gives the close before exactly)."""
    first_row = first_row[has_bar]
    codes = np.flatnonzero(has_bar)
    at = col[first_row]
    inside = at >= 0  # the first bar is a session of the panel
    codes, first_row, at = codes[inside], first_row[inside], at[inside]
    # Left as they are (no close before them): a listing day (no previous close, no limit) and a
    # stored first bar without a pct_change (what came before the data is unknown).
    if "pct_change" in data:
        pct, close = data["pct_change"][first_row], data["close"][first_row]
        ok = listed_before[codes] & ~np.isnan(pct)
        prev[codes[ok], at[ok]] = close[ok] / (1 + pct[ok] / 100)
