"""Event catalogues, and the session on which each event could first be traded.

A catalogue is a CSV file in ``data/events/`` (its name is the file stem) with
one event a row::

    id,name,company,time,known_time,scheduled,tags,codes,boards,source
    sora,Sora,OpenAI,2024-02-16T02:00+08:00,,false,openai;video;release,,多模态AI;AIGC概念,https://openai.com/sora

Required columns: ``id``, ``name``, ``time``. Optional: ``company``,
``known_time`` (defaults to ``time``), ``scheduled`` (true/false/1/0/yes/no;
empty is false), ``tags``, ``codes`` and ``boards`` (separated by ``;``), ``source``.
``boards`` names the concept boards the event moved (:mod:`hypebt.data.boards`): a spec with
``universe = "event_boards"`` trades each event on its boards' members as known before it.

Times are ISO 8601. Without an offset they are Beijing time; a date alone
(``2023-06-09``) means the hour is not known.

``time`` is when the event happened; ``known_time`` when the news that moves
prices reached the market. A backtest may only act on an event from its
*known* time, and :func:`first_tradable` turns that into the first price a
trader could get on the A-share market (sessions 09:30-15:00 Beijing time):

========================================  ===================================
known time (Beijing)                      first tradable price
========================================  ===================================
before 09:30 on a session                 that session's open
09:30 to before 15:00 on a session        that session's close
15:00 or later on a session               the next session's open
any time on a weekend or holiday          the next session's open
a date alone, scheduled launch            that date's open (next session's
                                          open if it is not a session)
a date alone, otherwise                   the next session's open
========================================  ===================================

A scheduled launch given as a date alone is read as known before that day's
open because its date was announced in advance: a trader could position at
the open. This holds only while ``known_time`` is the launch's own date; an
explicit date-only ``known_time`` (the day an announcement was made, hour
unknown) is read as after that day's close, since the announcement itself
was not scheduled and reading it earlier would trade on news not yet out.

>>> from hypebt.data.calendar import Calendar
>>> cal = Calendar(["2024-02-08", "2024-02-19"])          # Spring Festival 2024
>>> sora = make_event("sora", "Sora", "2024-02-16T02:00+08:00", company="OpenAI")
>>> first_tradable(sora, cal)
Tradable(event='sora', session=Timestamp('2024-02-19 00:00:00'), at='open')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import time as clock
from pathlib import Path

import pandas as pd

from hypebt.core import codes as _codes
from hypebt.core import errors
from hypebt.core.dates import BEIJING, parse_time
from hypebt.core.errors import InputError, LookAheadError
from hypebt.core.paths import safe_name
from hypebt.data.calendar import Calendar
from hypebt.core.codes import bad_code_hint
from hypebt.data.csvfiles import check_columns, find_named, named_files, read_rows

OPEN = "open"
CLOSE = "close"
# Continuous trading runs 09:30-11:30 and 13:00-15:00; news in the lunch break
# can only be traded in the afternoon, so with daily bars it maps to the close too.
MARKET_OPEN = clock(9, 30)
MARKET_CLOSE = clock(15, 0)

COLUMNS = ("id", "name", "company", "time", "known_time", "scheduled", "tags", "codes", "boards", "source")
REQUIRED = ("id", "name", "time")
_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n", ""}


@dataclass(frozen=True)
class Event:
    """One catalogued event; times are tz-aware in Beijing time.

    ``catalogue`` and ``row`` (1-based data row) say where it came from, for messages.
    """

    id: str
    name: str
    company: str
    time: pd.Timestamp
    time_has_clock: bool
    known_time: pd.Timestamp
    known_has_clock: bool
    scheduled: bool
    tags: tuple[str, ...]
    codes: tuple[str, ...]
    source: str
    catalogue: str
    row: int
    boards: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        """``catalogue row N``, for messages about this event."""
        return f"{self.catalogue} row {self.row}"

    @property
    def known_instant(self) -> pd.Timestamp:
        """When the event became known, as a naive Beijing time; a date alone is the start of that
        day (what was published that day may have come after it)."""
        k = self.known_time.tz_convert(BEIJING).tz_localize(None)
        return k if self.known_has_clock else k.normalize()


@dataclass(frozen=True)
class Tradable:
    """An event and the first price at which it could be traded.

    ``session`` is a naive midnight timestamp; ``at`` is ``"open"`` or ``"close"``.
    ``universe`` is the codes to trade on this event: the run's universe, or with board universes
    the boards' members as known before the event (``basis``: the snapshot of each board, a
    :class:`hypebt.data.boards.Basis`). ``known_from`` is when those members were published; a
    strategy that sees a scheduled event earlier gets a copy whose ``universe`` raises
    :class:`~hypebt.core.errors.LookAheadError` (:meth:`as_seen_at`).
    """

    event: Event
    session: pd.Timestamp
    at: str
    members: tuple[str, ...] | None = None
    basis: tuple = ()
    known_from: pd.Timestamp | None = None
    sealed: str = ""

    @property
    def universe(self) -> tuple[str, ...] | None:
        """The codes to trade on this event (None when no universe was attached)."""
        if self.sealed:
            raise LookAheadError(self.sealed)
        return self.members

    def as_seen_at(self, moment: pd.Timestamp) -> "Tradable":
        """This event as a strategy sees it at ``moment`` (naive Beijing): itself, or before its
        universe was published a copy whose ``universe`` raises LookAheadError."""
        if self.known_from is None or moment >= self.known_from:
            return self
        return replace(self, sealed=(
            f"the universe of event {self.event.id} is not known yet at {moment:%Y-%m-%d %H:%M}: its board "
            f"snapshot was published {self.known_from:%Y-%m-%d %H:%M} (read t.universe from then on)"))

    def __repr__(self) -> str:
        return f"Tradable(event={self.event.id!r}, session={self.session!r}, at={self.at!r})"


# --- reading -------------------------------------------------------------------------------------

def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(";") if part.strip())


def _event_from_row(path: Path, row_no: int, rec: dict[str, str]) -> Event:
    where = f"{path}: row {row_no}"
    for col in REQUIRED:
        if not rec.get(col):
            raise InputError(f"{where}: field {col!r} is empty; every event needs an id, a name and a time")
    try:
        ev_id = safe_name(rec["id"], "event id")
    except InputError:
        raise InputError(
            f"{where}: field 'id': {rec['id']!r} is not a usable id; use letters, digits, '_', '-' and '.' "
            "(e.g. spark_v3_0)"
        ) from None
    time, time_clock = parse_time(rec["time"], where, "time")
    if rec.get("known_time"):
        known, known_clock = parse_time(rec["known_time"], where, "known_time")
    else:
        known, known_clock = time, time_clock
    flag = rec.get("scheduled", "").lower()
    if flag not in _TRUE | _FALSE:
        raise InputError(
            f"{where}: field 'scheduled': {rec['scheduled']!r} is not a boolean; use true or false "
            "(also 1/0, yes/no; empty means false)"
        )
    codes = _split(rec.get("codes", ""))
    for code in codes:
        if not _codes.is_stock_code(code):
            raise InputError(f"{where}: field 'codes': {code!r} is not an A-share code; {bad_code_hint(code)}")
    boards = _split(rec.get("boards", ""))
    if len(set(boards)) < len(boards):
        raise InputError(f"{where}: field 'boards' names a board twice; keep one")
    return Event(
        id=ev_id, name=rec["name"], company=rec.get("company", ""), time=time, time_has_clock=time_clock,
        known_time=known, known_has_clock=known_clock, scheduled=flag in _TRUE, tags=_split(rec.get("tags", "")),
        codes=codes, source=rec.get("source", ""), catalogue=path.stem, row=row_no, boards=boards,
    )


def load_catalogue(path: str | Path) -> list[Event]:
    """Read and validate one event catalogue CSV; events in file order.

    Every problem raises an :class:`~hypebt.core.errors.InputError` naming the file,
    row and field: missing columns, bad times, duplicate ids, a ``scheduled``
    that is not a boolean, codes that are not A-share codes, a file that is
    empty or not UTF-8.

    >>> events = load_catalogue("data/events/ai_releases.csv")     # doctest: +SKIP
    >>> events[0].id, events[0].time                                  # doctest: +SKIP
    ('chatgpt', Timestamp('2022-12-01 02:00:00+0800', tz='Asia/Shanghai'))
    """
    path = Path(path)
    header, rows = read_rows(path, "event catalogue")
    check_columns(path, header, COLUMNS, REQUIRED)
    events: list[Event] = []
    first_row: dict[str, int] = {}
    for row_no, rec in rows:
        ev = _event_from_row(path, row_no, rec)
        if ev.id in first_row:
            raise InputError(
                f"{path}: row {row_no}: field 'id': {ev.id!r} is already used by row {first_row[ev.id]}; "
                "ids must be unique in a catalogue"
            )
        first_row[ev.id] = row_no
        events.append(ev)
    return events


def catalogue_paths(workspace: Path) -> dict[str, Path]:
    """The workspace's catalogues, ``data/events/*.csv``, by name (file stem), sorted."""
    return named_files(workspace, "events")


def load_events(name_or_path: str, workspace: Path) -> list[Event]:
    """Load a catalogue by name (``ai_releases``) or by path (``my/events.csv``).

    A path is taken as given (relative to the current folder); a name is looked
    up in ``<workspace>/data/events/``, with a "did you mean" for a near miss.

    >>> load_events("ai_relases", Path("."))                          # doctest: +SKIP
    InputError: data/events: unknown event catalogue 'ai_relases' (did you mean 'ai_releases'?); known: ai_releases
    """
    return load_catalogue(find_named(name_or_path, workspace, "events", "event catalogue"))


# --- choosing ------------------------------------------------------------------------------------

def _any_of(value) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def filter_events(
    events: Iterable[Event],
    *,
    ids: str | Iterable[str] | None = None,
    name: str | Iterable[str] | None = None,
    tag: str | Iterable[str] | None = None,
    company: str | Iterable[str] | None = None,
    scheduled: bool | None = None,
) -> list[Event]:
    """Events matching every criterion given; a list for one criterion means any of it.

    ``ids``: exact ids. ``name`` and ``company``: case-insensitive substrings.
    ``tag``: an exact tag, case-insensitive. ``scheduled``: True or False.
    Matching nothing returns ``[]``: the caller decides whether that is an error.

    >>> evs = [make_event("sora", "Sora", "2024-02-16T02:00", company="OpenAI", tags="openai;video"),
    ...        make_event("gemini", "Gemini", "2023-12-06T23:00", company="Google", tags="google")]
    >>> [e.id for e in filter_events(evs, tag="VIDEO")], [e.id for e in filter_events(evs, company=["goo", "x"])]
    (['sora'], ['gemini'])
    """
    ids_, names, tags, companies = _any_of(ids), _any_of(name), _any_of(tag), _any_of(company)
    names = [n.lower() for n in names] if names is not None else None
    tags = {t.lower() for t in tags} if tags is not None else None
    companies = [c.lower() for c in companies] if companies is not None else None
    out = []
    for ev in events:
        if ids_ is not None and ev.id not in ids_:
            continue
        if names is not None and not any(n in ev.name.lower() for n in names):
            continue
        if tags is not None and not tags & {t.lower() for t in ev.tags}:
            continue
        if companies is not None and not any(c in ev.company.lower() for c in companies):
            continue
        if scheduled is not None and ev.scheduled != bool(scheduled):
            continue
        out.append(ev)
    return out


# --- mapping onto the calendar -------------------------------------------------------------------

def _known_before_open(event: Event) -> bool:
    """A date-only known time that counts as known before that day's open (see the module doc)."""
    return event.scheduled and event.known_time == event.time and not event.time_has_clock


def first_tradable(event: Event, cal: Calendar) -> Tradable | None:
    """The session and price (open or close) at which ``event`` could first be traded.

    None when the event falls outside ``cal``: known after its last session's
    close, or on a day before its first session (the calendar cannot say which
    earlier days were sessions).

    >>> cal = Calendar(["2023-03-15", "2023-03-16", "2023-03-17"])
    >>> first_tradable(make_event("ernie", "ERNIE Bot", "2023-03-16T14:00"), cal).at
    'close'
    >>> first_tradable(make_event("x", "X", "2023-03-16T15:00"), cal).session
    Timestamp('2023-03-17 00:00:00')
    """
    k = event.known_time.tz_convert(BEIJING)
    day = k.tz_localize(None).normalize()
    if day < cal.first:
        return None
    if not event.known_has_clock:
        if _known_before_open(event):
            session, at = cal.session_on_or_after(day), OPEN
        else:
            session, at = cal.session_after(day), OPEN
    elif not cal.is_session(day) or k.time() >= MARKET_CLOSE:
        session, at = cal.session_after(day), OPEN
    elif k.time() < MARKET_OPEN:
        session, at = day, OPEN
    else:
        session, at = day, CLOSE
    if session is None:
        return None
    return Tradable(event, session, at)


def map_events(events: Iterable[Event], cal: Calendar) -> tuple[list[Tradable], list[Event]]:
    """Map each event with :func:`first_tradable`: ``(mapped, outside)``, both in input order.

    ``outside`` holds the events before or after the calendar's range; callers
    report them (never drop them silently): usually the store lacks the years.

    >>> cal = Calendar(["2024-02-08", "2024-02-19"])
    >>> mapped, outside = map_events([make_event("sora", "Sora", "2024-02-16T02:00"),
    ...                               make_event("gpt4o", "GPT-4o", "2024-05-14T01:00")], cal)
    >>> [(t.event.id, str(t.session.date()), t.at) for t in mapped], [e.id for e in outside]
    ([('sora', '2024-02-19', 'open')], ['gpt4o'])
    """
    mapped: list[Tradable] = []
    outside: list[Event] = []
    for ev in events:
        tradable = first_tradable(ev, cal)
        if tradable is None:
            outside.append(ev)
        else:
            mapped.append(tradable)
    return mapped, outside


def make_event(
    id: str,
    name: str,
    time: str,
    *,
    known_time: str = "",
    scheduled: bool = False,
    company: str = "",
    tags: str = "",
    codes: str = "",
    source: str = "",
    catalogue: str = "<code>",
    row: int = 0,
    boards: str = "",
) -> Event:
    """Build one :class:`Event` from catalogue-style text, with the same checks as a file row.

    For tests, notebooks and strategies that define an event inline.

    >>> make_event("spark_v1_0", "讯飞星火 V1.0", "2023-05-06", scheduled=True, codes="002230").codes
    ('002230',)
    """
    rec = {"id": id, "name": name, "company": company, "time": time, "known_time": known_time,
           "scheduled": "true" if scheduled else "false", "tags": tags, "codes": codes, "source": source,
           "boards": boards}
    return _event_from_row(Path(catalogue), row, rec)


def choose(event_filter, workspace: Path, where: str) -> list[Event]:
    """The events a spec's ``[events]`` table chooses, in catalogue order (not yet mapped).

    An unknown id, or a filter that matches nothing, is an :class:`InputError`.
    """
    f = event_filter
    catalogue = load_events(f.catalogue, workspace)
    if f.ids:
        known = {e.id for e in catalogue}
        for i in f.ids:
            if i not in known:
                raise errors.unknown("event id", i, known, where)
    chosen = filter_events(catalogue, ids=list(f.ids) if f.ids else None, name=f.name, tag=f.tag,
                           company=f.company, scheduled=f.scheduled)
    if not chosen:
        raise errors.InputError(f"{where}: the event filter {f.describe()} matches no event")
    return chosen


def select(event_filter, workspace: Path, cal: Calendar, sessions: pd.DatetimeIndex, where: str):
    """The events a spec's ``[events]`` table chooses, mapped to their first tradable session.

    Returns ``(tradables, outside)``: events whose first tradable session falls within
    ``sessions``, and those outside them (to be reported, never silently dropped). An unknown
    id, or a filter that matches nothing, is an :class:`InputError`.
    """
    chosen = choose(event_filter, workspace, where)
    tradables, outside = [], []
    for e in chosen:
        t = first_tradable(e, cal)
        if t is None or t.session < sessions[0] or t.session > sessions[-1]:
            outside.append(e)
        else:
            tradables.append(t)
    return tradables, outside
