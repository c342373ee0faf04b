"""Reruns keep history: ``reports/<name>/<timestamp>/`` per run, ``reports/<name>/latest`` to the newest.

A run written to its default place never replaces an earlier report: each gets its own
folder named by its Beijing time (``20240219-093000``, ``-2`` appended when two runs
share a second), and ``latest`` points at the newest: a relative symbolic link, or, where
the file system has none, a ``latest.html`` page that redirects to it. A folder of the
0.1 layout (the report itself directly in ``reports/<name>/``) is moved into its own
timestamped folder the first time it gets a sibling. :func:`prune` deletes the oldest.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

from hypebt.core import fsio
from hypebt.core.errors import InputError, OutputError
from hypebt.core.outdir import foreign_files
from hypebt.reports.templating import render

BEIJING = ZoneInfo("Asia/Shanghai")
STAMP = re.compile(r"^\d{8}-\d{6}(-\d+)?$")
LATEST = "latest"
REPORT_MARKERS = ("manifest.json",)


def stamp(when: dt.datetime | None = None) -> str:
    """A folder name for a run at ``when`` (default now), Beijing time: ``20240219-093000``."""
    when = when or dt.datetime.now(dt.timezone.utc)
    return when.astimezone(BEIJING).strftime("%Y%m%d-%H%M%S")


def runs(base: Path) -> list[Path]:
    """The timestamped report folders under ``base``, oldest first."""
    if not base.is_dir():
        return []
    found = [p for p in base.iterdir() if p.is_dir() and not p.is_symlink() and STAMP.match(p.name)
             and any((p / m).exists() for m in REPORT_MARKERS)]
    return sorted(found, key=lambda p: _order(p.name))


def _order(name: str) -> tuple[str, int]:
    # "20240219-093000-2": the timestamp, then the number of a same-second rerun
    return name[:15], int(name[16:] or 0)


def _created(folder: Path) -> dt.datetime | None:
    try:
        text = json.loads((folder / "manifest.json").read_text("utf-8")).get("created_at", "")
        return dt.datetime.fromisoformat(text)
    except (OSError, ValueError, TypeError):
        return None


def _migrate_flat(base: Path) -> None:
    """Move a 0.1 report (files directly in ``base``) into ``base/<its timestamp>/``."""
    if not (base / "manifest.json").is_file():
        return
    target = base / _free(base, stamp(_created(base)))
    target.mkdir()
    for item in list(base.iterdir()):
        if item != target:
            os.replace(item, target / item.name)


def _free(base: Path, name: str) -> str:
    if not (base / name).exists():
        return name
    n = 2
    while (base / f"{name}-{n}").exists():
        n += 1
    return f"{name}-{n}"


def new_run_dir(base: Path) -> Path:
    """The folder for a new run under ``base``, claimed: ``base/<Beijing timestamp>``, created
    empty here with an exclusive ``mkdir``, so runs started together never share one (the one that
    loses the race takes ``-2``, ``-3`` ...). The report is renamed into it when written; remove it
    with :func:`release` if the run fails before.

    ``base`` must be new, a folder of earlier runs, or a 0.1 report (moved into its own
    timestamped folder first); anything else is refused (hypebt never writes into a folder
    it did not make).
    """
    if base.exists() and not base.is_dir():
        raise OutputError(f"{base}: exists and is not a folder; choose another --out")
    if base.is_dir():
        _migrate_flat(base)
        strangers = [p.name for p in base.iterdir() if not (STAMP.match(p.name) or p.name.startswith(".")
                                                            or p.name in (LATEST, f"{LATEST}.html"))]
        if strangers:
            raise OutputError(f"{base}: holds {', '.join(sorted(strangers)[:3])}, which hypebt did not write; "
                              "choose another folder with --out")
    name = stamp()
    try:
        base.mkdir(parents=True, exist_ok=True)
        for _ in range(10_000):
            folder = base / _free(base, name)
            try:
                folder.mkdir()
                return folder
            except FileExistsError:  # another run claimed it between the look and the mkdir
                continue
    except OSError as exc:
        raise OutputError(f"{base}: cannot write the report there ({exc.strerror}); choose another --out") from None
    raise OutputError(f"{base}: no free folder name for {name}")


def release(folder: Path) -> None:
    """Give back a folder claimed by :func:`new_run_dir` that no report was written into."""
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when still empty


def point_latest(base: Path, folder: Path, page: str = "report.html", lang: str = "en") -> Path:
    """Make ``base/latest`` point at ``folder`` (a relative link, replaced atomically); where links
    are not possible, write ``base/latest.html`` redirecting to ``folder/page``."""
    link = base / LATEST
    tmp = base / f".{LATEST}.{os.getpid()}.tmp"
    try:
        tmp.unlink(missing_ok=True)
        os.symlink(folder.name, tmp, target_is_directory=True)
        os.replace(tmp, link)
        return link
    except OSError:
        tmp.unlink(missing_ok=True)
    target = f"{folder.name}/{page}"
    path = base / f"{LATEST}.html"
    fsio.write_text(path, render("redirect.html", lang=lang, title=f"{base.name}: latest report", target=target))
    return path


def latest(base: Path) -> Path | None:
    """The newest run folder under ``base`` (through ``latest`` when it resolves)."""
    link = base / LATEST
    if link.is_symlink() and link.resolve().is_dir():
        return link.resolve()
    found = runs(base)
    return found[-1] if found else None


def prune(base: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest run folders under ``base``; the one ``latest`` points
    at is always kept. Returns the deleted folders."""
    if keep < 1:
        raise InputError(f"--keep must be at least 1, got {keep}")
    found = runs(base)
    current = latest(base)
    doomed = [p for p in found[:-keep] if current is None or p.resolve() != current.resolve()]
    for p in doomed:
        foreign = foreign_files(p, "run")
        if foreign:  # a file the user put in a run folder is never deleted with it
            raise OutputError(f"{p}: holds {', '.join(foreign[:3])}, which hypebt did not write; move it first")
    for p in doomed:
        try:
            shutil.rmtree(p)
        except OSError as exc:
            raise OutputError(f"{p}: cannot delete ({exc.strerror})") from None
    return doomed
