"""``hypebt data concepts BOARD | import PATH... | list``: the dated concept-board history.

- ``BOARD``: today's members of an Eastmoney board through akshare, into the store's history
  (published at the fetch time) and, as before, into a ``concept`` universe file (look-ahead).
- ``import PATH...``: snapshots from files (:mod:`hypebt.data.board_files`); a file that cannot
  be read is refused whole, before anything is written.
- ``list``: the boards known at a time (concepts, or ``--pseudo`` the vendor lists), or with
  ``--board`` one board's members, each with when it was first and last seen.
"""

from __future__ import annotations

import sys

import pandas as pd

from hypebt.cli.common import workspace_of
from hypebt.core.dates import BEIJING, parse_time
from hypebt.core.errors import InputError
from hypebt.core.paths import safe_name
from hypebt.data import boards as B

_OPTIONS = {"import": ("published", "format", "board_names", "prefix"), "list": ("as_of", "board", "pseudo"),
            "fetch": ("name",)}
_FLAGS = {"published": "--published", "format": "--format", "board_names": "--board-names", "prefix": "--prefix",
          "as_of": "--as-of", "board": "--board", "pseudo": "--pseudo", "name": "--name"}


def _check_options(args, action: str) -> None:
    for opt, flag in _FLAGS.items():
        value = getattr(args, opt, None)
        if value not in (None, False, "") and opt not in _OPTIONS[action]:
            used = "fetching a board" if action == "fetch" else action
            raise InputError(f"data concepts: {flag} does not apply to {used}; it belongs to "
                             + ", ".join(a if a != "fetch" else "BOARD" for a, o in _OPTIONS.items() if opt in o))


def run(args, store, source_factory) -> int:
    """Dispatch on the first word: ``import``, ``list``, else a board to fetch."""
    words = list(args.words)
    action = words[0] if words[0] in ("import", "list") else "fetch"
    _check_options(args, action)
    if action == "import":
        if len(words) < 2:
            raise InputError("data concepts import: give the file(s) to import, e.g. gnbk.ini --published 2024-01-02T15:55")
        return do_import(args, store, words[1:])
    if action == "list":
        if len(words) > 1:
            raise InputError(f"data concepts list: unexpected {words[1]!r}; use --board NAME for one board")
        return do_list(args, store)
    if len(words) > 1:
        raise InputError(f"data concepts: one board at a time, got {len(words)} ({' '.join(words)}); or "
                         "data concepts import PATH... / data concepts list")
    return do_fetch(args, store, words[0], source_factory)


def do_fetch(args, store, board: str, source_factory) -> int:
    """Today's members through akshare: into the history and a ``concept`` universe file."""
    from hypebt.data.concepts import concept_snapshot, record
    from hypebt.data.universes import write_universe

    name = safe_name(args.name or board, "universe name")
    out = workspace_of(args) / "data" / "universes" / f"{name}.csv"
    snap = concept_snapshot(board, source=source_factory())
    saved = record(store, snap)
    write_universe(out, snap.members, snapshot_date=snap.snapshot_date, source=snap.source, kind="concept")
    state = "new snapshot" if saved.new else "the same members as the stored snapshot of that time"
    print(f"{snap.name}: {len(snap.members)} members published {B.show_time(snap.fetched_at, True)} Beijing "
          f"({state}) in {store.root}")
    print(f"wrote {out} (concept list: reports using it carry a look-ahead warning; a spec naming "
          f"universe = \"board:{snap.name}\" uses the dated history instead)")
    return 0


def do_import(args, store, paths: list[str]) -> int:
    """Read every file first (any unreadable one refuses the import), then save each into the history."""
    from hypebt.data.board_files import board_names, read_board_file

    names = board_names(args.board_names) if args.board_names else None
    files = [read_board_file(p, published=args.published, fmt=args.format, names=names) for p in paths]
    for f in files:
        if args.prefix:
            f.rows["board"] = (args.prefix + f.rows["board"].astype(str)).astype("string")
        times = f.rows["published"].nunique()
        when = (B.show_time(f.rows["published"].iloc[0], bool(f.rows["clock"].iloc[0])) if times == 1
                else f"{times} dates {f.rows['published'].min().date()}..{f.rows['published'].max().date()}")
        pseudo = sum(B.board_kind(b) == B.PSEUDO_KIND for b in f.rows["board"].unique())
        print(f"{f.path}: {f.format} ({f.encoding}), {f.boards} boards ({pseudo} pseudo), {len(f.rows):,} "
              f"memberships published {when}")
        for note in f.notes:
            print(f"note: {f.path.name}: {note}", file=sys.stderr)
    # One write for every file: a conflict anywhere leaves the store as it was.
    saved = B.save(store, pd.concat([f.rows.assign(source=f.path.name) for f in files], ignore_index=True))
    print(f"{saved.new} new snapshot(s) of {saved.boards} board(s), {saved.unchanged} already stored (unchanged)"
          + (f"; history: {saved.manifest['snapshots']:,} snapshots of {saved.manifest['boards']} boards"
             if saved.manifest else ""))
    return 0


def _as_of(text: str | None) -> pd.Timestamp:
    if not text:
        return pd.Timestamp.now(tz=BEIJING).tz_localize(None)
    ts, clock = parse_time(text, "data concepts list", "--as-of")
    return B.instant(ts, clock)


def _names(store) -> dict[str, str]:
    """Stock names from the store's stock list, for snapshots that give codes only (TDX files)."""
    from hypebt.data import stock_info

    return stock_info.names(store)


def do_list(args, store) -> int:
    """The boards known at ``--as-of`` (default now), or one board's memberships with first/last seen."""
    B.require_history(store, "data concepts list")
    at = _as_of(args.as_of)
    history = B.load(store, [args.board] if args.board else None)
    when = at.strftime("%Y-%m-%d %H:%M")
    if args.board:
        table = B.memberships(history, args.board, at)
        known = _names(store)
        table["name"] = [n or known.get(c, "") for c, n in zip(table["code"], table["name"])]
        if table.empty:
            if not history.snapshots(args.board):
                raise B.no_board_error(args.board, B.load(store), "data concepts list --board")
            first = history.snapshots(args.board)[0]
            raise InputError(f"data concepts list: board {args.board} had no snapshot published by {when} Beijing "
                             f"(its first: {first.label})")
        snap = history.as_of(args.board, at)
        print(f"{args.board} as of {when} Beijing: {int(table['member_now'].sum())} members in the snapshot "
              f"published {snap.label} ({snap.source}); {len(table)} memberships seen in "
              f"{len([s for s in history.snapshots(args.board) if s.known_from <= at])} snapshot(s)")
        print("code    name        first seen              last seen               snapshots  member")
        for r in table.itertuples():
            print(f"{r.code}  {r.name or '':10s}  {r.first_seen:22s}  {r.last_seen:22s}  {r.seen:>9}  "
                  f"{'yes' if r.member_now else 'left'}")
        return 0
    table = B.known_boards(history, at)
    kind = B.PSEUDO_KIND if args.pseudo else B.CONCEPT
    shown, other = table[table["kind"] == kind], table[table["kind"] != kind]
    print(f"{len(shown)} {'pseudo-boards (vendor lists, not concepts)' if args.pseudo else 'concept boards'} "
          f"known at {when} Beijing ({len(other)} {'concepts' if args.pseudo else 'pseudo-boards'} kept apart"
          f"{'' if args.pseudo else ': list them with --pseudo'})")
    for r in shown.itertuples():
        why = f"  [{r.why}]" if args.pseudo else ""
        print(f"{r.board}: {r.members} members, latest snapshot {r.latest}, first {r.first} "
              f"({r.snapshots} snapshot(s)){why}")
    return 0
