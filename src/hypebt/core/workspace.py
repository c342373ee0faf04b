"""Finding the user's workspace: the folder holding ``strategies/``, ``data/``, ``backtests/``.

``--workspace`` wins; else the nearest folder at or above the spec's own folder that holds
``strategies/`` or ``data/`` (so ``hypebt run ~/proj/backtests/x.toml`` works from any folder);
else the current folder, if it is a workspace. Otherwise the command stops with an error that
says how to point at one, rather than working in (and creating a store in) an unexpected folder.

>>> find_workspace(Path("backtests/sora_hype.toml"))      # doctest: +SKIP
PosixPath('/home/me/proj')
"""

from __future__ import annotations

import os
from pathlib import Path

from hypebt.core.errors import InputError

MARKERS = ("strategies", "data")
HINT = "pass --workspace FOLDER (a folder holding strategies/ and data/) or run hypebt from it"
API_HINT = "pass workspace=FOLDER (a folder holding strategies/ and data/) or os.chdir to it"


def is_workspace(folder: str | os.PathLike) -> bool:
    """True when ``folder`` holds ``strategies/`` or ``data/``."""
    folder = Path(folder)
    return any((folder / m).is_dir() for m in MARKERS)


def find_workspace(spec: str | os.PathLike) -> Path | None:
    """The nearest folder at or above ``spec``'s folder holding ``strategies/`` or ``data/``."""
    here = Path(spec).resolve().parent
    for folder in (here, *here.parents):
        if is_workspace(folder):
            return folder
    return None


def resolve_workspace(explicit: str | os.PathLike | None, spec: str | os.PathLike | None = None,
                      cwd: Path | None = None, required: bool = True, hint: str = HINT) -> Path:
    """The workspace of a command (see the module docstring).

    ``required``: with no workspace found, raise an :class:`InputError` ending with ``hint`` (else
    return the current folder, for commands that only read their own arguments).
    """
    if explicit is not None:
        return Path(explicit)
    cwd = Path.cwd() if cwd is None else cwd
    if spec is not None and not Path(spec).is_file():
        return cwd  # reading the spec reports that it is missing
    if spec is not None:
        found = find_workspace(spec)
        if found is not None:
            return found
    if is_workspace(cwd) or not required:
        return cwd
    where = f"{spec}: no workspace above the spec, and the current folder {cwd}" if spec else f"{cwd}"
    raise InputError(f"{where} is not a hypebt workspace (no strategies/ or data/ folder); {hint}")
