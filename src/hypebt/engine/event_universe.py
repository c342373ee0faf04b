"""Each event's universe from the dated concept-board history: the boards' members as known before it.

A spec names boards (``universe = "board:AIGC概念"``, ``boards = [...]``) or takes each event's own
(``universe = "event_boards"``, the catalogue's ``boards`` column). For every event the run trades,
:func:`resolve` looks up each board's latest snapshot published by the event's known time
(:func:`hypebt.data.boards.resolve`); :func:`attach` gives each :class:`~hypebt.data.events.Tradable`
its members (``t.universe``), and reports per event the snapshot used, its age, and the members
with no bar on the event's session (not in the store, not listed yet, delisted, suspended), which
are never dropped silently. A run without events takes the boards as of its first session.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from hypebt.core.i18n import N_
from hypebt.core.errors import InputError
from hypebt.data import boards as B
from hypebt.data import events as E
from hypebt.data.store import Store


@dataclass
class BoardUniverses:
    """The resolved universes of a run: by event id, or ``at_start`` for a run without events."""

    label: str
    by_event: dict[str, B.Resolved]
    at_start: B.Resolved | None
    manifest: dict
    names: dict = field(default_factory=dict)

    def resolutions(self) -> list[B.Resolved]:
        """Every resolution: one per event, or the run's start."""
        return [*self.by_event.values(), *([self.at_start] if self.at_start else [])]

    @property
    def codes(self) -> tuple[str, ...]:
        """Every code of every resolution, each once, in order."""
        return tuple(dict.fromkeys(c for r in self.resolutions() for c in r.codes))

    @property
    def look_ahead(self) -> bool:
        """True when any event uses a snapshot published after it."""
        return any(r.look_ahead for r in self.resolutions())


def label(spec) -> str:
    """How reports name a board universe: ``board:AIGC概念``, ``boards:A+B`` or ``event_boards``."""
    names = spec.board_names
    if not names:
        return "event_boards"
    return f"board:{names[0]}" if len(names) == 1 else "boards:" + "+".join(names)


def _what(ev: E.Event, at: pd.Timestamp) -> str:
    return f"event {ev.id} ({ev.where}, known {at:%Y-%m-%d %H:%M} Beijing)"


def resolve(spec, workspace, store: Store, events: list[E.Event], start: pd.Timestamp, where: str) -> BoardUniverses:
    """The boards' members as known before each of ``events`` (or at ``start`` with no events).

    Errors (:class:`InputError`, one line): an event of ``universe = "event_boards"`` naming no board;
    a board without any stored snapshot; a board with no snapshot published by an event's known time
    (unless ``allow_look_ahead``), naming the board, the event and the earliest snapshot.
    """
    B.require_history(store, where)
    wanted = set(spec.board_names) | {b for ev in events for b in ev.boards}
    history = B.load(store, sorted(wanted))
    by_event: dict[str, B.Resolved] = {}
    for ev in events:
        boards = spec.board_names or ev.boards
        at = ev.known_instant
        if not boards:
            raise InputError(f"{where}: {_what(ev, at)} names no boards; fill its boards column "
                             f"(e.g. AIGC概念;多模态AI) or leave it out of the [events] filter")
        by_event[ev.id] = B.resolve(history, boards, at, what=f"{where}: {_what(ev, at)}",
                                    allow_look_ahead=spec.allow_look_ahead)
    at_start = None
    if not events:
        if not spec.board_names:
            raise InputError(f"{where}: universe = \"event_boards\" needs events that name boards")
        at_start = B.resolve(history, spec.board_names, start, what=f"{where}: the run's start "
                             f"({start:%Y-%m-%d} 00:00 Beijing)", allow_look_ahead=spec.allow_look_ahead)
    names: dict[str, str] = {}
    for r in [*by_event.values(), *([at_start] if at_start else [])]:
        for code, name in r.names.items():
            names.setdefault(code, name)
    return BoardUniverses(label(spec), by_event, at_start, history.manifest, names)


def candidates(spec, workspace, cal, store: Store, where: str) -> tuple[list[E.Event], pd.Timestamp]:
    """The chosen events whose first tradable session can fall inside the run (the spec's period
    within the calendar and the stored bars), and the run's first day: what :func:`resolve` needs
    before the bars are loaded."""
    # The same bounds as the run's sessions (backtest._sessions), before the universe's bars are known:
    # the spec's start within the calendar (else the data's first day), up to the data's last day.
    m = store.manifest(store.stock_dataset(spec.adjust)) or {}
    lo = max(pd.Timestamp(spec.start), cal.first) if spec.start else pd.Timestamp(m.get("first_date") or cal.first)
    hi = min(pd.Timestamp(spec.end) if spec.end else cal.last, pd.Timestamp(m.get("last_date") or cal.last))
    if spec.events is None:
        return [], lo
    chosen = E.choose(spec.events, workspace, where)
    inside = []
    for ev in chosen:
        t = E.first_tradable(ev, cal)
        if t is not None and lo <= t.session <= hi:
            inside.append(ev)
    return inside, lo


def _why(code: str, day: pd.Timestamp, span: dict) -> str:
    if code not in span:
        return "not in the store"
    first, last = span[code]
    if day < first:
        return f"not listed yet (first bar {first.date()})"
    if day > last:
        return f"no bar after {last.date()} (delisted, or the store ends)"
    return "suspended"


def spans(bars: pd.DataFrame) -> dict:
    """Each code's first and last stored bar (``code``/``date`` rows): why a member had no bar."""
    dates = bars.groupby("code", observed=True)["date"]
    return {c: (a, b) for c, a, b in zip(dates.min().index, dates.min(), dates.max())}


def attach(tradables: list, universes: BoardUniverses | None, run_codes: tuple[str, ...], spec_codes, traded: dict,
           span: dict, sessions: pd.DatetimeIndex) -> tuple[list, list[dict], list[str]]:
    """Give each event its universe; return ``(tradables, records, notes)``.

    Without board universes every event's universe is the run's (``run_codes``); no records. With
    them: the event's boards' members (and the spec's ``codes``) that have bars in the store, in
    order; ``records`` (one per event, for the manifest, the report and ``Result.universes``) say
    which snapshot each board came from, its age, the members and those without a bar on the
    event's session, and why. ``traded``: code -> per-session booleans (a bar that session);
    ``span``: code -> its first and last stored bar (:func:`spans`).
    """
    if universes is None:
        return [replace(t, members=tuple(run_codes)) for t in tradables], [], []
    index = {s: i for i, s in enumerate(sessions)}
    out, records, notes = [], [], []
    for t in tradables:
        res = universes.by_event[t.event.id]
        members = tuple(dict.fromkeys([*res.codes, *spec_codes]))
        kept = tuple(c for c in members if c in traded)
        i = index[t.session]
        no_bar = {c: _why(c, t.session, span) for c in members if c not in traded or not traded[c][i]}
        # A look-ahead universe (allow_look_ahead) is used knowingly and flagged: not sealed until published.
        out.append(replace(t, members=kept, basis=res.basis, known_from=None if res.look_ahead else res.known_from))
        records.append(record(t, res, len(members), len(kept), no_bar))
        if no_bar:
            shown = ", ".join(f"{c} ({w})" for c, w in list(no_bar.items())[:6])
            notes.append(N_("event %(event)s (%(day)s): %(n)s of %(members)s members without a bar that session: "
                            "%(list)s", event=t.event.id, day=t.session.date(), n=len(no_bar), members=len(members),
                            list=shown + (" ..." if len(no_bar) > 6 else "")))
    late = [r["event"] for r in records if r["look_ahead"]]
    if late:
        notes.append(N_("look-ahead: %(n)s event(s) use a board snapshot published after them (allow_look_ahead): "
                        "%(list)s", n=len(late), list=", ".join(late)))
    return out, records, notes


def record(t, res: B.Resolved, members: int, traded: int, no_bar: dict) -> dict:
    """One event's universe as the manifest and reports show it."""
    return {"event": t.event.id, "session": str(t.session.date()), "at": t.at,
            "known": f"{res.at:%Y-%m-%d %H:%M}", "boards": [b.as_dict() for b in res.basis],
            "members": members, "traded": traded, "no_bar": no_bar, "look_ahead": res.look_ahead}


def frame(records: list[dict]) -> pd.DataFrame:
    """The records as a table, one row per event and board (``Result.universes``)."""
    rows = []
    for r in records:
        for b in r["boards"]:
            rows.append({"event": r["event"], "session": pd.Timestamp(r["session"]), "at": r["at"],
                         "known": r["known"], "board": b["board"], "published": b["published"],
                         "age_days": b["age_days"], "board_members": b["members"], "look_ahead": b["look_ahead"],
                         "members": r["members"], "traded": r["traded"], "no_bar": len(r["no_bar"]),
                         "no_bar_codes": ";".join(f"{c}:{w}" for c, w in r["no_bar"].items())})
    return pd.DataFrame(rows, columns=["event", "session", "at", "known", "board", "published", "age_days",
                                       "board_members", "look_ahead", "members", "traded", "no_bar", "no_bar_codes"])
