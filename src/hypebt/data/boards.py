"""Concept boards as they were known: a dated membership history in the store.

Each imported or fetched snapshot says "on ``published``, board B had these members". The store
keeps every snapshot of every board (dataset ``concept_boards``, one row per membership of a
snapshot: :data:`COLUMNS`), so a backtest can ask what a board held *as it was known* at any
moment (:func:`resolve`): the latest snapshot of the board published by then. A ``published`` with
a clock counts from that minute (Beijing time); a date alone counts from the end of that day, the
safe reading when the hour is unknown.

Pseudo-boards, the vendor's lists of the day (昨日涨停, ST股, HS300_, 融资融券, 深股通 ...), are
kept apart from concepts: each row says its ``kind`` (``concept`` or ``pseudo``, :func:`board_kind`,
with the reason in :data:`PSEUDO`); listings show them separately. They are the vendor's lists, not
the exchanges': evidence, not the official list.

Saving a snapshot already stored changes nothing (the file is not rewritten); a different member
list under the same board and time is refused, so a stored snapshot never changes.

>>> history = load(store, ["AIGC概念"])                                          # doctest: +SKIP
>>> resolve(history, ["AIGC概念"], pd.Timestamp("2024-02-16 02:00"), what="event sora").basis  # doctest: +SKIP
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hypebt.core.i18n import N_
from hypebt.core.dates import BEIJING
from hypebt.core.errors import DataError, InputError, did_you_mean
from hypebt.data.store import Store

DATASET = "concept_boards"
COLUMNS = ("published", "clock", "board", "kind", "code", "name", "source")
CONCEPT, PSEUDO_KIND = "concept", "pseudo"

# Vendor lists that ride along in concept-board files, each with why it is not a concept.
_DAILY = "a list of the day (yesterday's limit-up or streak stocks), redrawn every session"
_INDEX = "an index's constituents"
_ACCESS = "a trading-access list (Stock Connect, margin trading), the vendor's copy"
_STATUS = "a status or price screen (ST, new listings, price or book-value screens)"
_HOLDERS = "a holders list (funds, QFII, social security, Central Huijin holdings)"
_CLASS = "a share-class or listing list (B/H shares, GDR, convertibles)"
_RESULTS = "an earnings or dividend screen (forecasts, bonus issues)"
PSEUDO: dict[str, str] = {
    **dict.fromkeys(("昨日涨停", "昨日涨停_含一字", "昨日连板", "昨日连板_含一字", "昨日触板"), _DAILY),
    **dict.fromkeys(("HS300_", "上证50_", "上证180_", "上证380", "中证500", "深成500", "深证100R", "创业成份",
                     "创业板综", "央视50_", "MSCI中国", "MSCI", "标准普尔", "富时罗素", "茅指数", "宁组合"), _INDEX),
    **dict.fromkeys(("沪股通", "深股通", "融资融券"), _ACCESS),
    **dict.fromkeys(("ST股", "ST板块", "次新股", "注册制次新股", "百元股", "低价股", "破净股", "科创板做市股",
                     "科创板做市商"), _STATUS),
    **dict.fromkeys(("QFII重仓", "QFII持股", "社保重仓", "基金重仓", "机构重仓", "证金持股"), _HOLDERS),
    **dict.fromkeys(("AB股", "AH股", "B股", "B股概念", "H股概念", "GDR", "转债标的", "含可转债"), _CLASS),
    **dict.fromkeys(("预盈预增", "预亏预减", "高送转", "送转预期"), _RESULTS),
}
_PSEUDO_PATTERN = re.compile(r"^昨日|_$")  # 昨日... lists of the day; index lists end with "_" (HS300_)


def board_kind(name: str) -> str:
    """``pseudo`` for a vendor list of the day (:data:`PSEUDO`, names starting 昨日 or ending ``_``),
    else ``concept``.

    >>> board_kind("AIGC概念"), board_kind("融资融券"), board_kind("昨日涨停"), board_kind("HS300_")
    ('concept', 'pseudo', 'pseudo', 'pseudo')
    """
    return PSEUDO_KIND if name in PSEUDO or _PSEUDO_PATTERN.search(name) else CONCEPT


def pseudo_reason(name: str) -> str:
    """Why a pseudo-board is not a concept ("" for a concept)."""
    if board_kind(name) == CONCEPT:
        return ""
    return PSEUDO.get(name, _DAILY if name.startswith("昨日") else _INDEX)


def known_from(published: pd.Timestamp, clock: bool) -> pd.Timestamp:
    """When a snapshot counts as known: its minute, or the end of its day for a date alone."""
    return published if clock else published.normalize() + pd.Timedelta(days=1)


def instant(ts: pd.Timestamp, has_clock: bool = True) -> pd.Timestamp:
    """A tz-aware (or naive Beijing) time as the naive Beijing instant boards are compared at; a date
    alone is the start of its day (before anything published that day is known)."""
    ts = pd.Timestamp(ts)
    if ts.tzinfo is not None:
        ts = ts.tz_convert(BEIJING).tz_localize(None)
    return ts if has_clock else ts.normalize()


def show_time(published: pd.Timestamp, clock: bool) -> str:
    """``2024-01-02 15:55`` or ``2024-01-02 (date only)``."""
    return published.strftime("%Y-%m-%d %H:%M") if clock else f"{published.date()} (date only)"


# --- the stored table ----------------------------------------------------------------------------

@dataclass
class Saved:
    """What :func:`save` did: snapshots (board x published) new and already stored, the manifest."""

    new: int
    unchanged: int
    boards: int
    memberships: int
    manifest: dict | None


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "published": frame["published"].astype("datetime64[ns]"), "clock": frame["clock"].astype(bool),
        "board": frame["board"].astype("string"), "kind": frame["kind"].astype("string"),
        "code": frame["code"].astype("string"), "name": frame["name"].fillna("").astype("string"),
        "source": frame["source"].astype("string"),
    })
    return out.sort_values(["board", "published", "clock", "code"], kind="stable").reset_index(drop=True)


def _key(frame: pd.DataFrame) -> pd.Series:
    return frame["board"].astype(str) + "\x1f" + frame["published"].astype("int64").astype(str) + \
        "\x1f" + frame["clock"].astype(int).astype(str)


def save(store: Store, rows: pd.DataFrame, *, source: str | None = None) -> Saved:
    """Add snapshots (``published, clock, board, code, name`` rows) to the store's history, in one
    write; ``source`` names where they came from (else each row's ``source`` column does).

    A snapshot (board, published) already stored with the same members is left as it is; one stored
    with other members is refused (:class:`InputError` naming the board and time): a published
    snapshot never changes. Nothing new: the store is not written at all.
    """
    incoming = rows.assign(kind=[board_kind(b) for b in rows["board"].astype(str)])
    if source is not None:
        incoming = incoming.assign(source=source)
    incoming = _typed(incoming.drop_duplicates(["board", "published", "clock", "code"]))
    stored = load_frame(store)
    new_keys = _key(incoming)
    unchanged = 0
    if stored is not None and len(stored):
        old_keys = _key(stored)
        both = set(new_keys) & set(old_keys)
        if both:
            old_sets = stored[old_keys.isin(both).to_numpy()].groupby(old_keys[old_keys.isin(both)].to_numpy())["code"]
            new_sets = incoming[new_keys.isin(both).to_numpy()].groupby(new_keys[new_keys.isin(both)].to_numpy())["code"]
            old_map = {k: frozenset(v) for k, v in old_sets}
            for k, codes in new_sets:
                if frozenset(codes) != old_map[k]:
                    board, ns, clock = k.split("\x1f")
                    when = show_time(pd.Timestamp(int(ns)), clock == "1")
                    where = incoming.loc[(new_keys == k).to_numpy(), "source"].iloc[0]
                    raise InputError(
                        f"{where}: board {board} published {when} is already stored with other members "
                        f"({len(old_map[k])} stored, {len(frozenset(codes))} here); a published snapshot does not "
                        "change: import this one with its own --published time")
            unchanged = len(both)
            incoming = incoming[~new_keys.isin(both).to_numpy()]
    n_new = int(_key(incoming).nunique()) if len(incoming) else 0
    if not n_new:
        return Saved(0, unchanged, 0, 0, store.manifest(DATASET))
    merged = _typed(pd.concat([stored, incoming], ignore_index=True)) if stored is not None else incoming
    old = store.manifest(DATASET) or {}
    sources = list(dict.fromkeys([*old.get("sources", []), *incoming["source"].astype(str).unique()]))
    snapshots = int(_key(merged).nunique())
    manifest = store.write_dataset(
        DATASET, merged, source=sources, as_of=str(merged["published"].max().date()), date_columns=("published",),
        extra={"kind": "boards", "snapshots": snapshots, "boards": int(merged["board"].nunique()),
               "pseudo_boards": int(merged.loc[merged["kind"] == PSEUDO_KIND, "board"].nunique())})
    return Saved(n_new, unchanged, int(incoming["board"].nunique()), len(incoming), manifest)


def load_frame(store: Store, boards=None) -> pd.DataFrame | None:
    """The stored history (optionally of some boards only), typed; None when nothing is stored.
    Its hash is checked against its manifest (a corrupted file raises DataError)."""
    if store.manifest(DATASET) is None:
        return None
    frame = store.load(DATASET, where=None if boards is None else {"board": list(boards)})
    return _typed(frame)


# --- snapshots and what was known when -----------------------------------------------------------

@dataclass(frozen=True)
class Snapshot:
    """One board's member list as published (``codes`` sorted, ``names`` beside)."""

    board: str
    published: pd.Timestamp
    clock: bool
    kind: str
    source: str
    codes: tuple[str, ...]
    names: tuple[str, ...] = ()

    @property
    def known_from(self) -> pd.Timestamp:
        """When the snapshot counts as known (:func:`known_from`)."""
        return known_from(self.published, self.clock)

    @property
    def label(self) -> str:
        """Its publication time as reports show it (:func:`show_time`)."""
        return show_time(self.published, self.clock)


class BoardHistory:
    """Every stored snapshot of some boards, by board and time (built by :func:`load`)."""

    def __init__(self, frame: pd.DataFrame, manifest: dict | None = None):
        self.manifest = manifest or {}
        self._snaps: dict[str, list[Snapshot]] = {}
        self._known: dict[str, list[pd.Timestamp]] = {}
        if frame is None or not len(frame):
            return
        codes = frame["code"].to_numpy(dtype=object)
        names = frame["name"].to_numpy(dtype=object)
        keys = frame[["board", "published", "clock"]]
        # Rows are sorted by (board, published, clock, code): each snapshot is one run of rows.
        change = np.ones(len(frame), dtype=bool)
        change[1:] = ((keys["board"].to_numpy()[1:] != keys["board"].to_numpy()[:-1])
                      | (keys["published"].to_numpy()[1:] != keys["published"].to_numpy()[:-1])
                      | (keys["clock"].to_numpy()[1:] != keys["clock"].to_numpy()[:-1]))
        starts = np.flatnonzero(change)
        ends = np.append(starts[1:], len(frame))
        board_col, pub, clk = keys["board"].to_numpy(), keys["published"].to_numpy(), keys["clock"].to_numpy()
        kind, source = frame["kind"].to_numpy(), frame["source"].to_numpy()
        for a, b in zip(starts, ends):
            snap = Snapshot(str(board_col[a]), pd.Timestamp(pub[a]), bool(clk[a]), str(kind[a]), str(source[a]),
                            tuple(codes[a:b]), tuple(names[a:b]))
            self._snaps.setdefault(snap.board, []).append(snap)
        for board, snaps in self._snaps.items():
            snaps.sort(key=lambda s: s.known_from)
            self._known[board] = [s.known_from for s in snaps]

    def boards(self) -> list[str]:
        """Every board with a stored snapshot, sorted."""
        return sorted(self._snaps)

    def snapshots(self, board: str) -> list[Snapshot]:
        """Every snapshot of ``board``, oldest first (by when each became known)."""
        return list(self._snaps.get(board, []))

    def as_of(self, board: str, at: pd.Timestamp) -> Snapshot | None:
        """The latest snapshot of ``board`` known by ``at`` (naive Beijing), or None."""
        known = self._known.get(board)
        if not known:
            return None
        i = bisect.bisect_right(known, at)
        return self._snaps[board][i - 1] if i else None

    def first_after(self, board: str, at: pd.Timestamp) -> Snapshot | None:
        """The earliest snapshot of ``board`` known only after ``at``, or None."""
        known = self._known.get(board)
        if not known:
            return None
        i = bisect.bisect_right(known, at)
        return self._snaps[board][i] if i < len(known) else None


def load(store: Store, boards=None) -> BoardHistory:
    """The stored history of ``boards`` (all when None); an empty store's history is empty."""
    frame = load_frame(store, boards)
    return BoardHistory(frame if frame is not None else pd.DataFrame(columns=list(COLUMNS)),
                        store.manifest(DATASET))


# --- universes as of a moment --------------------------------------------------------------------

@dataclass(frozen=True)
class Basis:
    """The snapshot one board's members came from, for one moment: what a report shows."""

    board: str
    published: str        # show_time of the snapshot
    known_from: pd.Timestamp
    age_days: int         # calendar days from its publication to the moment (negative: look-ahead)
    members: int
    source: str
    look_ahead: bool      # published only after the moment (allow_look_ahead)

    def as_dict(self) -> dict[str, Any]:
        """As the manifest stores it."""
        return {"board": self.board, "published": self.published, "known_from": str(self.known_from),
                "age_days": self.age_days, "members": self.members, "source": self.source,
                "look_ahead": self.look_ahead}


@dataclass(frozen=True)
class Resolved:
    """Some boards' members as known at ``at``: the codes (each once: the boards in turn, each sorted), their names
    and the snapshot of each board (:class:`Basis`)."""

    at: pd.Timestamp
    codes: tuple[str, ...]
    names: dict = field(compare=False)
    basis: tuple[Basis, ...]

    @property
    def look_ahead(self) -> bool:
        """True when a board's snapshot was published only after the moment."""
        return any(b.look_ahead for b in self.basis)

    @property
    def known_from(self) -> pd.Timestamp:
        """When every snapshot used had been published (the members are known from then on)."""
        return max(b.known_from for b in self.basis)


def no_board_error(board: str, history: BoardHistory, what: str) -> InputError:
    """A board with no stored snapshot at all: say what is stored and how to add it."""
    names = history.boards()
    if not names:
        return InputError(f"{what}: board {board!r}: no concept-board history in the store; import snapshots with "
                          "hypebt data concepts import FILE --published TIME")
    return InputError(f"{what}: board {board!r} has no stored snapshot{did_you_mean(board, names)}; "
                      "list the stored boards with hypebt data concepts list")


def resolve(history: BoardHistory, boards, at: pd.Timestamp, *, what: str,
            allow_look_ahead: bool = False) -> Resolved:
    """The members of ``boards`` as known at ``at`` (naive Beijing): for each board its latest snapshot
    known by then (:meth:`BoardHistory.as_of`).

    A board with no snapshot known by ``at`` is an :class:`InputError` naming the board, ``what``
    (the event) and the earliest snapshot; with ``allow_look_ahead`` that earliest later snapshot is
    used instead and its :class:`Basis` says ``look_ahead``.
    """
    codes: dict[str, None] = {}
    names: dict[str, str] = {}
    basis = []
    for board in boards:
        snap, late = history.as_of(board, at), False
        if snap is None:
            later = history.first_after(board, at)
            if later is None:
                raise no_board_error(board, history, what)
            if not allow_look_ahead:
                raise InputError(
                    f"{what}: no snapshot of board {board} was published by then (its earliest: {later.label}); "
                    "choose an event after it, import an earlier snapshot, or set allow_look_ahead = true "
                    "to use the later one (the run is then flagged as look-ahead)")
            snap, late = later, True
        for code, name in zip(snap.codes, snap.names or ("",) * len(snap.codes)):
            codes.setdefault(code, None)
            if name and code not in names:
                names[code] = name
        age = (at.normalize() - snap.published.normalize()).days
        basis.append(Basis(board, snap.label, snap.known_from, int(age), len(snap.codes), snap.source, late))
    return Resolved(at, tuple(codes), names, tuple(basis))


# --- listings ------------------------------------------------------------------------------------

def known_boards(history: BoardHistory, at: pd.Timestamp) -> pd.DataFrame:
    """One row per board with a snapshot known by ``at``: kind, the latest snapshot's time and size,
    the first snapshot's time, how many snapshots; sorted by kind then name."""
    rows = []
    for board in history.boards():
        snap = history.as_of(board, at)
        if snap is None:
            continue
        snaps = [s for s in history.snapshots(board) if s.known_from <= at]
        rows.append({"board": board, "kind": snap.kind, "latest": snap.label, "members": len(snap.codes),
                     "first": snaps[0].label, "snapshots": len(snaps), "why": pseudo_reason(board)})
    frame = pd.DataFrame(rows, columns=["board", "kind", "latest", "members", "first", "snapshots", "why"])
    return frame.sort_values(["kind", "board"], kind="stable").reset_index(drop=True)


def memberships(history: BoardHistory, board: str, at: pd.Timestamp) -> pd.DataFrame:
    """Every membership of ``board`` seen in the snapshots known by ``at``: code, name, first and
    last seen (snapshot times), how many snapshots listed it, and whether the latest one does."""
    snaps = [s for s in history.snapshots(board) if s.known_from <= at]
    seen: dict[str, dict] = {}
    for s in snaps:
        for code, name in zip(s.codes, s.names or ("",) * len(s.codes)):
            rec = seen.setdefault(code, {"code": code, "name": name, "first_seen": s.label, "seen": 0})
            rec["last_seen"] = s.label
            rec["seen"] += 1
            rec["name"] = name or rec["name"]
    latest = set(snaps[-1].codes) if snaps else set()
    frame = pd.DataFrame([{**r, "member_now": r["code"] in latest} for r in seen.values()],
                         columns=["code", "name", "first_seen", "last_seen", "seen", "member_now"])
    return frame.sort_values(["member_now", "code"], ascending=[False, True], kind="stable").reset_index(drop=True)


def board_codes(store: Store, boards) -> list[str]:
    """Every code any stored snapshot of ``boards`` lists (what a run on them may need), sorted."""
    frame = load_frame(store, list(boards))
    return sorted(set(frame["code"])) if frame is not None else []


def require_history(store: Store, where: str) -> None:
    """A DataError saying how to import snapshots when the store holds no board history."""
    if store.manifest(DATASET) is None:
        raise DataError(f"{where}: the store holds no concept-board history; import snapshots first: "
                        "hypebt data concepts import FILE --published TIME (or fetch one: hypebt data concepts BOARD)")


LOOK_AHEAD_WARNING = N_(
    "Some events' universes come from concept-board snapshots published after the event "
    "(allow_look_ahead = true): those events trade a board as it was drawn up later, knowing more "
    "than a trader could at the time, so their figures carry look-ahead bias."
)
