"""Output folders: a report folder is replaced as a whole, and only if hypebt wrote it.

A report is built in a temporary folder beside its final place and renamed into
it in one step (:func:`staged_dir`), so a crash never leaves a half-written
report; :func:`check_output_dir` refuses to replace a folder that is not one of
hypebt's own (a thesis folder given as ``--out`` is never deleted).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from hypebt.core import fsio
from hypebt.core.errors import OutputError


def check_output_dir(final: Path, markers: tuple[str, ...]) -> None:
    """Refuse to replace a folder hypebt did not write: ``final`` must be new, empty, or hold one
    of ``markers`` (files hypebt writes there). Raises :class:`OutputError` otherwise.

    >>> check_output_dir(Path("reports/sora_hype"), ("manifest.json",))   # doctest: +SKIP
    """
    final = Path(final)
    if final.exists() and not final.is_dir():
        raise OutputError(f"{final}: exists and is not a folder; choose another --out")
    if final.is_dir() and any(final.iterdir()) and not any((final / m).exists() for m in markers):
        raise OutputError(
            f"{final}: not empty and not a hypebt report; choose a new folder with --out "
            "(hypebt replaces only its own reports)"
        )


def staged_dir(final: Path, markers: tuple[str, ...] = ("manifest.json",)):
    """A context manager yielding a fresh temporary folder beside ``final``; on success it
    replaces ``final``.

    ``final`` may only be a new or empty folder or an earlier hypebt report (see
    :func:`check_output_dir`, checked before anything is written); if the last rename fails,
    the earlier report is put back.

    >>> with staged_dir(Path("reports/sora_hype")) as tmp:   # doctest: +SKIP
    ...     (tmp / "manifest.json").write_text("{}")
    """
    check_output_dir(final, markers)
    return _staged(Path(final))


@contextlib.contextmanager
def _staged(final: Path) -> Iterator[Path]:
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
