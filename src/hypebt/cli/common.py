"""What several commands share: the store and workspace of a command, notes on stderr, the index."""

from __future__ import annotations

import sys
from pathlib import Path

from hypebt.core.paths import workspace, workspace_of_spec
from hypebt.data.store import Store, open_store


def store_of(args) -> Store:
    """The store a command works on (``--home``, ``$HYPEBT_HOME`` or ``<workspace>/data/store``)."""
    return open_store(args.home, workspace_of(args))


def workspace_of(args) -> Path:
    """The workspace a command works in: ``--workspace``; else, for a command on a spec, the
    nearest folder above the spec holding ``strategies/`` or ``data/`` (so ``hypebt run
    backtests/x.toml`` works from any folder); else the current folder."""
    if args.workspace is None and getattr(args, "spec", None):
        return workspace_of_spec(args.spec)
    return workspace(args.workspace)


def print_notes(notes: list[str], look_ahead: bool) -> None:
    """A run's or study's notes, and the look-ahead warning of concept universes, on stderr."""
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if look_ahead:
        from hypebt.data.universes import LOOK_AHEAD_WARNING

        print(f"warning: {LOOK_AHEAD_WARNING}", file=sys.stderr)


def update_index(args, reports: Path | None) -> None:
    """Rebuild reports/index.html after a command wrote into a reports folder (never replacing an
    index.html that hypebt did not write)."""
    from hypebt.reports.index import refresh

    note = refresh(reports or workspace_of(args) / "reports")
    if note:
        print(f"note: {note}", file=sys.stderr)
