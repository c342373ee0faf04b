"""Output folders: a report folder is replaced as a whole, and only if hypebt provably wrote it.

A report is built in a temporary folder beside its final place and renamed into
it in one step (:func:`staged_dir`), so a crash never leaves a half-written
report. Every folder hypebt writes holds a marker, ``.hypebt-output.json``, with
hypebt's own text and the list of files it wrote there; :func:`check_output_dir`
refuses to replace a folder holding anything else (a thesis folder given as ``--out``
is never deleted, nor a file a user added to a report folder). A folder written by a
hypebt before the marker is accepted when it holds only the files that kind of
report writes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from hypebt.core import fsio
from hypebt.core.errors import OutputError

MARKER = ".hypebt-output.json"
# The marker's own words: a file of that name with other content proves nothing.
SIGNATURE = "written by hypebt: replaced only with the files listed here"
# What each kind of report wrote before the marker existed (a folder of only these is hypebt's).
LEGACY_FILES = {
    "run": {"report.html", "tearsheet.html", "stats.json", "trades.csv", "orders.csv", "fills.csv", "borrow.csv",
            "equity.csv", "returns.csv", "manifest.json", "log.txt"},
    "study": {"study.html", "car.csv", "abnormal_returns.parquet", "summary.csv", "tests.csv", "manifest.json"},
    "sweep": {"results.sqlite", "results.sqlite-wal", "results.sqlite-shm", "results.parquet", "results.csv",
              "summary.json", "sweep.html", "events.sqlite", "events.sqlite-wal", "events.sqlite-shm",
              "validation.csv", "validation_events.csv"},
}


def write_marker(folder: Path, kind: str, files: Iterable[str] | None = None) -> None:
    """Record in ``folder`` that hypebt wrote it, and which files (default: every file under it)."""
    folder = Path(folder)
    if files is None:
        files = (p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != MARKER)
    fsio.write_json(folder / MARKER, {"hypebt": SIGNATURE, "kind": kind, "files": sorted(set(files))})


def _marker(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / MARKER).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("hypebt") != SIGNATURE or not isinstance(data.get("files"), list):
        return None
    return data


def foreign_files(folder: Path, kind: str) -> list[str]:
    """Files under ``folder`` that hypebt cannot prove it wrote: not listed by the marker of the
    folder or of a folder between them (``best/1/``), nor, in a folder without marker, among the
    files a ``kind`` report wrote before markers existed."""
    folder = Path(folder)
    out = []
    for path in sorted(folder.rglob("*")):
        if path.is_dir() and not path.is_symlink():
            continue
        rel = path.relative_to(folder)
        if not _proven(folder, rel, kind):
            out.append(rel.as_posix())
    return out


# fsio.atomic_path's temporary file of NAME (".NAME.<random>.tmp"): left by a write killed mid-way, it
# is hypebt's when NAME is.
_TEMP = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]+\.tmp$")


def _proven(folder: Path, rel: Path, kind: str) -> bool:
    temp = _TEMP.match(rel.name)
    if temp:
        rel = rel.with_name(temp.group("name"))
    if rel.name == MARKER:  # a marker (or the half of one a killed write left) is hypebt's own file
        return True
    for depth in range(len(rel.parts) - 1, -1, -1):
        base = folder.joinpath(*rel.parts[:depth])
        inner = Path(*rel.parts[depth:]).as_posix()
        mark = _marker(base)
        if mark is not None and (inner == MARKER or inner in mark["files"]):
            return True
    # Before markers: a flat folder of a kind's own file names (a sweep's best/N/ are run folders).
    names = rel.parts
    if len(names) == 1:
        return names[0] in LEGACY_FILES.get(kind, ())
    return kind == "sweep" and len(names) == 3 and names[0] == "best" and names[2] in LEGACY_FILES["run"]


def check_output_dir(final: Path, kind: str = "run") -> None:
    """Refuse to replace a folder hypebt did not write: ``final`` must be new, empty, or hold only
    files hypebt provably wrote there (:func:`foreign_files`). Raises :class:`OutputError` otherwise.

    >>> check_output_dir(Path("reports/sora_study"), "study")   # doctest: +SKIP
    """
    final = Path(final)
    if final.exists() and not final.is_dir():
        raise OutputError(f"{final}: exists and is not a folder; choose another --out")
    if final.is_dir() and any(final.iterdir()):
        foreign = foreign_files(final, kind)
        if foreign:
            raise OutputError(
                f"{final}: holds {', '.join(foreign[:3])}{' ...' if len(foreign) > 3 else ''}, which hypebt did not "
                "write; choose a new folder with --out (hypebt replaces only what it wrote)")


def staged_dir(final: Path, kind: str = "run"):
    """A context manager yielding a fresh temporary folder beside ``final``; on success it
    replaces ``final``, with the marker listing every file written (:func:`write_marker`).

    ``final`` may only be a new or empty folder or one hypebt provably wrote (see
    :func:`check_output_dir`, checked before anything is written); if the last rename fails,
    the earlier report is put back.

    >>> with staged_dir(Path("reports/sora_hype")) as tmp:   # doctest: +SKIP
    ...     (tmp / "manifest.json").write_text("{}")
    """
    check_output_dir(final, kind)
    return _staged(Path(final), kind)


@contextlib.contextmanager
def _staged(final: Path, kind: str) -> Iterator[Path]:
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
        os.chmod(tmp, fsio.folder_mode())  # mkdtemp's 0700 -> what the umask gives any new folder
    except OSError as exc:
        raise OutputError(f"{final.parent}: cannot write the report there ({exc.strerror}); "
                          "choose another folder with --out") from None
    old = None
    try:
        yield tmp
        write_marker(tmp, kind)
        if final.exists():
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not final.exists():
            os.replace(old, final)  # put the earlier report back
        raise OutputError(f"{final}: cannot write the report ({exc.strerror})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
