"""Small hand-written CSV files (event catalogues, universes): reading, header checks, code hints.

Shared by :mod:`hypebt.data.events` and :mod:`hypebt.data.universes`: both are short UTF-8 files
a researcher edits by hand, so every error names the file, the row and the field and says how to
fix it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from hypebt.core import errors
from hypebt.core.errors import InputError
from hypebt.core.paths import safe_name


def read_rows(path: Path, what: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Read a small UTF-8 CSV as ``(header, [(data row number, {column: text}), ...])``.

    Blank lines are skipped and not counted; values are stripped; a short row is
    padded with empty values (hand-written files often drop trailing empty
    fields). Errors name the file and say how to fix it. ``what`` names the
    file's kind in messages ("event catalogue", "universe").
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such {what} file" + (" (it is a folder)" if path.is_dir() else ""))
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}; GBK?); "
            "save it as UTF-8 (in Excel: Save As > CSV UTF-8)"
        ) from None
    records = [(n, r) for n, r in enumerate(csv.reader(io.StringIO(text, newline="")))
               if any(cell.strip() for cell in r)]
    if not records:
        raise InputError(f"{path}: empty file; a {what} needs a header line and at least one row")
    header = [c.strip() for c in records[0][1]]
    seen: set[str] = set()
    for col in header:
        if not col:
            raise InputError(f"{path}: header has an empty column name; found: {','.join(header)}")
        if col in seen:
            raise InputError(f"{path}: header names column {col!r} twice; keep one")
        seen.add(col)
    rows = []
    for row_no, (_, cells) in enumerate(records[1:], start=1):
        if len(cells) > len(header):
            raise InputError(
                f"{path}: row {row_no}: has {len(cells)} fields but the header has {len(header)}; "
                "quote values that contain a comma"
            )
        cells = [c.strip() for c in cells] + [""] * (len(header) - len(cells))
        rows.append((row_no, dict(zip(header, cells))))
    if not rows:
        raise InputError(f"{path}: header only, no rows; add at least one row")
    return header, rows


def check_columns(path: Path, header: Sequence[str], known: Sequence[str], required: Sequence[str], why=None) -> None:
    """Reject missing required and unknown columns (a misspelt optional column would be ignored silently)."""
    missing = [c for c in required if c not in header]
    if missing:
        hint = f"; {why[missing[0]]}" if why and missing[0] in why else ""
        raise InputError(
            f"{path}: header: missing column {missing[0]!r}{hint}; found: {', '.join(header)}; "
            f"expected: {','.join(known)}"
        )
    for col in header:
        if col not in known:
            raise errors.unknown("column", col, known, where=str(path)) from None


def looks_like_path(name_or_path: str) -> bool:
    """True when a name given by the user is a file path rather than a catalogue/universe name."""
    text = str(name_or_path)
    return text.lower().endswith(".csv") or "/" in text or "\\" in text


def named_files(workspace: Path, folder: str) -> dict[str, Path]:
    """``<workspace>/data/<folder>/*.csv`` by name (file stem), sorted; hidden files left out."""
    path = Path(workspace) / "data" / folder
    if not path.is_dir():
        return {}
    return {p.stem: p for p in sorted(path.glob("*.csv")) if not p.name.startswith(".")}


def _inside_workspace(path: Path, workspace: Path, folder: str, what: str) -> Path:
    """``path`` when it is a ``.csv`` file inside the workspace; else an :class:`InputError` saying
    where to put it. A spec may come from someone else: its names must not read files elsewhere
    (``catalogue = "../../../etc/passwd"``)."""
    home = Path(workspace) / "data" / folder
    if path.suffix.lower() != ".csv":
        raise InputError(f"{what} {str(path)!r} is neither a name nor a .csv path; give a name from {home} "
                         "(e.g. \"ai_releases\") or a .csv file inside the workspace")
    try:
        inside = path.resolve().is_relative_to(Path(workspace).resolve())
    except (OSError, ValueError):
        inside = False
    if not inside:
        raise InputError(f"{what} {str(path)!r} is outside the workspace {workspace}; copy it into {home} "
                         "and give its name")
    return path


def find_named(name_or_path: str, workspace: Path, folder: str, what: str) -> Path:
    """The file a user means: a path as given (relative to the current folder), or a name looked
    up in ``<workspace>/data/<folder>/`` with a "did you mean" for a near miss."""
    if looks_like_path(name_or_path):
        return _inside_workspace(Path(name_or_path), workspace, folder, what)
    safe_name(name_or_path, f"{what} name")  # a name is one file name: no '..', no NUL, no leading dot
    paths = named_files(workspace, folder)
    if name_or_path not in paths:
        raise errors.unknown(what, name_or_path, paths, where=str(Path(workspace) / "data" / folder))
    return paths[name_or_path]
