"""What several commands share: the store and workspace of a command, notes on stderr, the index."""

from __future__ import annotations

import sys
from pathlib import Path

from hypebt.core.workspace import resolve_workspace
from hypebt.data.store import Store, open_store

# Commands that may run outside a workspace: they read only their arguments (and the store).
_ANYWHERE = ("data", "report")


def store_of(args) -> Store:
    """The store a command works on (``--home``, ``$HYPEBT_HOME`` or ``<workspace>/data/store``)."""
    return open_store(args.home, workspace_of(args))


def plausible_check():
    """The check every import of stock bars runs (:data:`hypebt.market.plausible.CHECK`), for
    ``hypebt data import`` and a first run's import alike; imported when needed (pandas, the rules)."""
    from hypebt.market.plausible import CHECK

    return CHECK


def workspace_of(args) -> Path:
    """The workspace a command works in: ``--workspace``, else the nearest folder above the spec
    holding ``strategies/`` or ``data/``, else the current folder (see
    :func:`hypebt.core.workspace.resolve_workspace`); an error when none is a workspace."""
    return resolve_workspace(args.workspace, getattr(args, "spec", None),
                             required=getattr(args, "command", None) not in _ANYWHERE)


def print_notes(notes: list[str], look_ahead: bool | str, lang: str = "en") -> None:
    """A run's or study's notes, and its look-ahead warning (the text, or True for a concept list's),
    on stderr (in ``lang``)."""
    from hypebt.core.i18n import translate

    for note in notes:
        print(f"note: {translate(note, lang)}", file=sys.stderr)
    if look_ahead:
        from hypebt.data.universes import LOOK_AHEAD_WARNING

        text = look_ahead if isinstance(look_ahead, str) else LOOK_AHEAD_WARNING
        print(f"warning: {translate(text, lang)}", file=sys.stderr)


def lang_of(args, spec=None) -> str:
    """The language of a command's pages and summary: ``--lang``, the spec's ``lang``,
    ``$HYPEBT_LANG``, the locale, else English (:func:`hypebt.core.i18n.resolve_lang`)."""
    from hypebt.core.i18n import resolve_lang

    return resolve_lang(getattr(args, "lang", None), getattr(spec, "lang", None),
                        str(spec.path) if spec is not None else "")


def update_index(args, reports: Path | None, lang: str = "en") -> None:
    """Rebuild reports/index.html after a command wrote into a reports folder (never replacing an
    index.html that hypebt did not write)."""
    from hypebt.reports.index import refresh

    note = refresh(reports or workspace_of(args) / "reports", lang)
    if note:
        print(f"note: {note}", file=sys.stderr)


def refuse_unread_overrides(items: list[str], command: str, unread: tuple[str, ...]) -> None:
    """Refuse ``--set TABLE.KEY=...`` for a table ``command`` does not read (it would be ignored).

    >>> refuse_unread_overrides(["sweep.hold_days=[1, 2]"], "run", ("sweep", "study"))
    Traceback (most recent call last):
    ...
    hypebt.core.errors.InputError: --set sweep.hold_days: hypebt run does not read [sweep]; use hypebt sweep
    """
    from hypebt.core.errors import InputError

    for item in items:
        table = item.partition("=")[0].strip().split(".")[0]
        if "." in item.partition("=")[0] and table in unread:
            use = {"sweep": "; use hypebt sweep", "study": "; use hypebt study"}.get(table, "")
            raise InputError(f"--set {item.partition('=')[0].strip()}: hypebt {command} does not read [{table}]{use}")
