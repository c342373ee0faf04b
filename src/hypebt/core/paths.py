"""Where things live, and names that may be used as paths.

The workspace is the folder hypebt runs in (the project root): ``strategies/``,
``backtests/``, ``data/events/``, ``data/universes/`` and ``reports/``. The
store defaults to ``data/store/`` in it and moves with ``HYPEBT_HOME`` or
``--home``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from hypebt.core.errors import InputError

_SAFE = re.compile(r"^[A-Za-z0-9\u4e00-\u9fff][A-Za-z0-9_.\-\u4e00-\u9fff]{0,127}$")


def workspace(root: str | os.PathLike | None = None) -> Path:
    """The user's workspace: ``root`` if given, else the current folder."""
    return Path(root) if root is not None else Path.cwd()


def workspace_of_spec(spec_path: str | os.PathLike) -> Path:
    """The workspace a spec belongs to: the nearest folder at or above the spec's folder holding
    ``strategies/`` or ``data/``; the current folder when there is none.

    >>> workspace_of_spec("/nowhere/backtests/x.toml") == Path.cwd()  # doctest: +SKIP
    True
    """
    start = Path(spec_path).resolve().parent
    for folder in [start, *start.parents]:
        if (folder / "strategies").is_dir() or (folder / "data").is_dir():
            return folder
    return Path.cwd()


def store_root(home: str | os.PathLike | None = None, root: str | os.PathLike | None = None) -> Path:
    """The store folder: ``home``, else ``$HYPEBT_HOME``, else ``<workspace>/data/store``."""
    if home:
        return Path(home)
    env = os.environ.get("HYPEBT_HOME")
    if env:
        return Path(env)
    return workspace(root) / "data" / "store"


def safe_name(name: str, what: str) -> str:
    """Check that ``name`` can be used as one path component, and return it.

    Names (codes, strategy, run, dataset names) become file names; a name with
    ``/``, ``..``, a NUL byte or a leading dot could escape its folder.

    >>> safe_name("sora_hype", "run name")
    'sora_hype'
    >>> safe_name("../etc", "run name")
    Traceback (most recent call last):
    ...
    hypebt.core.errors.InputError: run name '../etc' is not a safe name: use letters, digits, '_', '-' and '.', not starting with '.'
    """
    if not isinstance(name, str) or not _SAFE.match(name) or ".." in name:
        raise InputError(
            f"{what} {name!r} is not a safe name: use letters, digits, '_', '-' and '.', not starting with '.'"
        )
    return name


def inside(folder: Path, name: str, what: str) -> Path:
    """``folder / name`` after checking ``name`` with :func:`safe_name`."""
    return folder / safe_name(name, what)
