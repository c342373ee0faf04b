"""The market a run reads: the panel of its universe's bars over their stored history up to the
run's end (:mod:`hypebt.market.panel`), and the run's views of it (warm-up and run sessions)."""

from __future__ import annotations

import pandas as pd

from hypebt.data import reference
from hypebt.data.calendar import Calendar
from hypebt.data.store import Store
from hypebt.market import panel as MP
from hypebt.market import rules as R
from hypebt.market.feed import feed_arrays


def build_market(bars: pd.DataFrame, present: tuple[str, ...], cal: Calendar, sessions: pd.DatetimeIndex,
                 warmup: int, first_store_date: pd.Timestamp, st: set, rules: R.Rules,
                 store: Store | None = None) -> tuple[MP.MarketPanel, int, int]:
    """The market a run reads: ``(panel, at, lead)``, the :class:`~hypebt.market.panel.MarketPanel` of
    ``present``'s bars with the run's first session at position ``at`` and ``lead`` warm-up sessions
    before it (at most ``warmup``: fewer when the calendar starts later).

    The panel starts at the stocks' first stored bar (or the warm-up, if earlier) and ends with the
    run: every code's limits, dated ST status and flags are built at once over its whole stored
    history up to the run's end, never past it, so a session's values do not depend on the run's
    start, warm-up, universe or end (window invariance; ``tests/test_window_invariance.py``).
    """
    lead = warmup_sessions(cal, sessions, warmup)
    first = min(lead[0] if len(lead) else sessions[0], bars["date"].min())
    history, covered = (reference.load(store, "st_history"), reference.as_of(store, "st_history")) if store else (None, None)
    seasoned = reference.listed_before_first_bar(store, bars, first_store_date) if store else set()
    panel = MP.build(bars, cal.between(first, sessions[-1]), first_store_date=first_store_date, codes=present,
                     rules=rules, st_static=st, st_history=history, st_covered_to=covered, seasoned=seasoned)
    return panel, int(panel.sessions.get_indexer([sessions[0]])[0]), len(lead)


def views(panel: MP.MarketPanel, at: int, warmup: int, members=None) -> tuple[dict, dict]:
    """The run's arrays (from panel position ``at`` on) and, with a warm-up, the arrays over warm-up
    + run (``history``; empty without one): views of the panel, each with the universe's
    ``members`` (per code and panel session) over its sessions."""
    arrays = feed_arrays(panel, at, members=members)
    # Indicators and history see the warm-up's bars; the run's feeds get the run's part only, so
    # nothing trades and no return counts in the warm-up.
    return arrays, (feed_arrays(panel, at - warmup, members=members) if warmup else {})


def warmup_sessions(cal: Calendar, sessions: pd.DatetimeIndex, n: int) -> pd.DatetimeIndex:
    """The ``n`` sessions before the run's first (fewer when the calendar starts later)."""
    if n <= 0:
        return sessions[:0]
    before = cal.sessions[cal.sessions < sessions[0]]
    return before[-n:]
