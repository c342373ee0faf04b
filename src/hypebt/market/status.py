"""Dated status of a stock per session: risk warning (ST) and margin-lending eligibility.

ST status decides a main-board stock's band: 5 % instead of 10 % for a stock under risk warning
(风险警示股票, the SSE and SZSE trading rules; ``rules.st_limit_main``) on the Shanghai (60x) and
Shenzhen (000-003) main boards. ChiNext (from 2020-08-24, 创业板注册制) and STAR ST stocks keep their
20 % band, so their status is never inferred. From, in order of trust:

1. ``st_history`` (code, start, end, kind; :mod:`hypebt.data.reference`): a dated list of risk
   warnings. It covers every stock up to its ``as_of`` date: a stock with no period is not ST.
2. inference from the bars, where no dated list covers a session: a main-board session that sat
   all day at one price, the ST band's limit price (and not the 10 % one), is evidence of ST; one
   that traded beyond the ST band (a session locked all day at the 10 % price among them) is
   evidence of not ST. The status carries forward from the latest evidence.
3. before any evidence: the spec's ``st_codes`` (static; not a universe's names, a snapshot drawn
   up later that says nothing of who was ST before it).

Two statuses per session, which differ only on the session whose own bar is the evidence:

- ``st`` (known before the open): from the evidence *before* the session. This is what
  strategies see: the limit prices a strategy reads at the open (``limit_up``, ``limit_down``) and
  the universe filter ``exclude = ["st"]`` come from it.
- ``st_day`` (the session's own, as the exchange applied it): the same, with the session's own bar
  also taken as evidence. A risk warning, and its removal, is announced by the exchange before the
  session's open and applies from it, so on that day it is public at the open and the exchange's
  limits follow it; the engine, a model of the exchange, may read it from that day's one-price bar
  as it already reads the bar's one price to refuse the locked side. Only the engine's limit and
  fill checks read it (:func:`day_limits`, the ``locked_*`` flags): the inference fires on the
  first day only when that day is locked all session at a limit, so showing it to a strategy at the
  open would tell it the day's close. A strategy learns it one session later, as before.

Every status carries its source (``st_history``, ``inferred``, ``names``; that of ``st``), so a
report can say how much of a run rests on inference. The margin-lending list is dated the same way
(:class:`DatedList`).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from hypebt.core import arrays as A
from hypebt.core.i18n import N_
from hypebt.market import rules as R

SOURCES = ("st_history", "inferred", "names")


def st_status(code: str, days, o, h, lo, c, prev_close, *, history: pd.DataFrame | None = None,
              covered_to: date | None = None, static: bool = False,
              rules: R.Rules = R.DEFAULT) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per session of ``days``: ``(st, source, st_day)`` arrays, see the module docstring (one code; a
    whole market at once: :func:`st_matrix`).

    ``history``: the ``st_history`` rows of this code (may be empty), trusted for sessions up to
    ``covered_to`` (the table's ``as_of``; None: no dated list). ``static``: the snapshot/spec flag.

    Session 1 sits all day at its ST limit (2.20 x 1.05 = 2.31, not the 10 % one): the exchange
    applied the 5 % band from that session (``st_day``), a strategy knows it from session 2 on
    (``st``). Session 3 is locked at +10 % (2.42 x 1.10 = 2.66): the warning was lifted that day.

    >>> days = pd.bdate_range("2024-04-22", periods=5).values
    >>> st, src, st_day = st_status("000615", days, [2.2, 2.31, 2.42, 2.66, 2.7], [2.2, 2.31, 2.42, 2.66, 2.8],
    ...                             [2.2, 2.31, 2.42, 2.66, 2.6], [2.2, 2.31, 2.42, 2.66, 2.7],
    ...                             [2.1, 2.2, 2.31, 2.42, 2.66])
    >>> st.tolist(), st_day.tolist()
    ([False, False, True, True, False], [False, True, True, False, False])
    >>> src.tolist()
    ['names', 'names', 'inferred', 'inferred', 'inferred']
    """
    row = [np.asarray(x, dtype="float64")[None, :] for x in (h, lo, c, prev_close)]
    st, source, st_day = st_matrix([code], days, *row, history=history, covered_to=covered_to, static=[static],
                                   rules=rules)
    return st[0], decode(source[0]), st_day[0]


def st_matrix(codes, days, h, lo, c, prev_close, *, history: pd.DataFrame | None = None,
              covered_to: date | None = None, static=False,
              rules: R.Rules = R.DEFAULT) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`st_status` of many codes at once: (codes, sessions) arrays in, ``(st, source, st_day)``
    out, ``source`` as indexes into :data:`SOURCES` (:func:`decode` names them).

    ``history``: ``st_history`` rows (any codes; those of ``codes`` are used); ``static``: one flag,
    or one per code. The evidence is read along each code's own sessions: a run that builds these
    over the stock's whole stored history sees every lock before its start, and a session's status
    depends on the code's bars up to that session only.
    """
    days = np.asarray(days, dtype="datetime64[D]")
    codes = list(codes)
    shape = (len(codes), len(days))
    st = np.broadcast_to(np.asarray(static, dtype=bool).reshape(-1, 1), shape).copy()
    st_day = st.copy()
    source = np.full(shape, SOURCES.index("names"), dtype=np.uint8)
    main = np.flatnonzero(np.isin([R.board_of(code) for code in codes], ("sh_main", "sz_main")))
    if len(main):
        evidence = _evidence([codes[j] for j in main], days, h[main], lo[main], c[main], prev_close[main], rules)
        latest = A.ffill(evidence)  # the latest evidence up to each session, its own bar included
        known = A.shift(latest)  # ... before each session: what is known at its open
        has = ~np.isnan(known)
        st[main] = np.where(has, known == 1.0, st[main])
        st_day[main] = np.where(np.isnan(latest), st_day[main], latest == 1.0)
        source[main] = np.where(has, SOURCES.index("inferred"), source[main])
    if covered_to is not None:
        covered = days <= np.datetime64(covered_to, "D")
        listed = np.zeros(shape, dtype=bool)
        rows = {code: j for j, code in enumerate(codes)}
        for row in (history.itertuples(index=False) if history is not None else ()):
            j = rows.get(str(row.code))
            if j is None:
                continue
            start = np.datetime64(pd.Timestamp(row.start).date(), "D")
            end = np.datetime64("9999-12-31") if pd.isna(row.end) else np.datetime64(pd.Timestamp(row.end).date(), "D")
            listed[j, np.searchsorted(days, start):np.searchsorted(days, end, "right")] = True
        st[:, covered], source[:, covered] = listed[:, covered], SOURCES.index("st_history")
        st_day[:, covered] = listed[:, covered]
    return st, source, st_day


def day_limits(codes, days, prev_close, up, down, st, st_day, rules: R.Rules = R.DEFAULT) -> tuple[np.ndarray, np.ndarray]:
    """The limit prices the exchange applied on each session: ``up``/``down`` (the ones computed from
    ``st``, the status known before the open, as the market panel holds them) except on a session
    whose own bar revised its ST status (``st_day`` differs from ``st``), where they come from
    ``st_day`` (the module docstring says why only the engine's checks read these).

    ``codes``: one code, or a list along the first axis of (codes, sessions) arrays; ``days`` the
    sessions (last axis). A session without limits (a new listing's free sessions) keeps none.

    >>> day_limits("600001", ["2024-03-05"], [10.0], [11.0], [9.0], [False], [True])
    (array([10.5]), array([9.5]))
    """
    up, down = np.asarray(up, dtype="float64"), np.asarray(down, dtype="float64")
    revised = (np.asarray(st_day, dtype=bool) != np.asarray(st, dtype=bool)) & ~np.isnan(up)
    if not revised.any():
        return up, down
    at = np.nonzero(revised)
    cells = [codes] * len(at[0]) if isinstance(codes, str) else [codes[j] for j in at[0]]
    day = np.broadcast_to(np.asarray(days, dtype="datetime64[D]"), up.shape)[at]
    prev = np.broadcast_to(np.asarray(prev_close, dtype="float64"), up.shape)[at]
    new = np.broadcast_to(np.asarray(st_day, dtype=bool), up.shape)[at]
    u, d = R.limits_array(cells, day[:, None], prev[:, None], st=new[:, None], rules=rules)
    up, down = up.copy(), down.copy()
    up[at], down[at] = u[:, 0], d[:, 0]
    return up, down


def decode(source: np.ndarray) -> np.ndarray:
    """Source indexes (:func:`st_matrix`) as their names (an object array of :data:`SOURCES`)."""
    return np.asarray(SOURCES, dtype=object)[source]


def _evidence(codes, days, h, lo, c, prev_close, rules) -> np.ndarray:
    """Per code and session: 1 (sat at the ST band's limit), 0 (traded beyond it), NaN (no evidence)."""
    tol = rules.limit_tolerance
    st_up, st_down = R.limits_array(codes, days, prev_close, st=True, rules=rules)
    with np.errstate(invalid="ignore"):
        beyond = (h > st_up + tol + R.EPS) | (lo < st_down - tol - R.EPS)
        # Only a whole session at one price, at the ST limit, counts: a 10 % stock closing at +5 %
        # by chance is common, one locked there all day is not. (The band without ST is needed on
        # those few sessions only.)
        one = np.nonzero(h - lo <= tol + R.EPS)
        up, down = R.price_limits_array(prev_close[one], R.limit_pct_array(codes, days, rules=rules)[one])
        c1, st_up1, st_down1 = c[one], st_up[one], st_down[one]
        at_st = np.zeros(h.shape, dtype=bool)
        at_st[one] = (((np.abs(c1 - st_up1) <= tol + R.EPS) & (np.abs(c1 - up) > tol + R.EPS)) |
                      ((np.abs(c1 - st_down1) <= tol + R.EPS) & (np.abs(c1 - down) > tol + R.EPS)))
    limited = ~np.isnan(st_up)
    return np.where(beyond & limited, 0.0, np.where(at_st & limited, 1.0, np.nan))


def source_counts(sources: dict[str, np.ndarray], present: dict[str, np.ndarray] | None = None) -> dict[str, int]:
    """Stock-sessions per ST source over codes (only traded sessions when ``present`` is given)."""
    counts = dict.fromkeys(SOURCES, 0)
    for code, src in sources.items():
        sel = src if present is None else src[present[code].astype(bool)]
        for s in SOURCES:
            counts[s] += int((sel == s).sum())
    return counts


def count_sources(source: np.ndarray, present: np.ndarray) -> dict[str, int]:
    """Stock-sessions per ST source over (codes, sessions) arrays of source indexes
    (:func:`st_matrix`), counting only where ``present`` (the stock traded)."""
    counts = np.bincount(source[present].ravel(), minlength=len(SOURCES))
    return {s: int(counts[i]) for i, s in enumerate(SOURCES)}


def st_note(counts: dict[str, int]) -> str:
    """One line for a report: how much of the ST status rests on inference."""
    total = sum(counts.values()) or 1
    n = {s: f"{counts[s]:,} ({counts[s] / total:.1%})" for s in ("st_history", "inferred", "names")}
    return N_("ST status per stock-session: %(dated)s from the dated st_history list, %(inferred)s inferred from the "
              "bars (all-day locks at the 5 %% limit, moves beyond it), %(names)s without either (not ST unless in "
              "st_codes)",
              dated=n["st_history"], inferred=n["inferred"], names=n["names"])


class DatedList:
    """Margin-lending eligibility from dated snapshots (``margin_list``: date, code): a code is
    eligible on a session if it is in the latest snapshot dated on or before it.

    >>> lst = DatedList(pd.DataFrame({"date": pd.to_datetime(["2023-01-03", "2023-06-01"]),
    ...                               "code": ["002230", "600519"]}))
    >>> sorted(lst.on(date(2023, 3, 1))), sorted(lst.on(date(2023, 6, 1))), sorted(lst.on(date(2022, 1, 4)))
    (['002230'], ['600519'], [])
    """

    def __init__(self, snapshots: pd.DataFrame):
        frame = snapshots.assign(date=pd.to_datetime(snapshots["date"]).dt.date)
        self.dates = sorted(frame["date"].unique())
        self.codes = {d: frozenset(g["code"].astype(str)) for d, g in frame.groupby("date")}

    def on(self, day: date) -> frozenset:
        """The codes eligible on ``day`` (empty before the first snapshot)."""
        i = int(np.searchsorted(np.asarray(self.dates, dtype="datetime64[D]"), np.datetime64(day, "D"), "right"))
        return self.codes[self.dates[i - 1]] if i else frozenset()
