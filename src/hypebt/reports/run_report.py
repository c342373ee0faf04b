"""Run outputs: the quantstats tearsheet and the files behind every figure.

``reports/<run name>/`` gets ``tearsheet.html``, ``stats.json``,
``trades.csv``, ``orders.csv``, ``fills.csv``, ``borrow.csv``, ``equity.csv``,
``returns.csv`` and ``manifest.json`` (versions, data hashes, spec, params,
rules): every figure in the report can be reproduced from the manifest.

The folder is built beside its final place and renamed into it in one step,
so a crash never leaves a half-written report.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import html
import os
import platform
import re
import shutil
import sys
import tempfile
import warnings
from importlib import metadata
from pathlib import Path

import pandas as pd

from hypebt.core import fsio
from hypebt.engine import metrics
from hypebt import __version__
from hypebt.core.errors import OutputError

PACKAGES = ("backtrader", "akshare", "pandas", "numpy", "pyarrow", "quantstats", "matplotlib", "dask", "distributed")


def versions() -> dict[str, str]:
    """Versions of hypebt, Python and the packages a result depends on."""
    out = {"hypebt": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@contextlib.contextmanager
def check_output_dir(final: Path, markers: tuple[str, ...]) -> None:
    """Refuse to replace a folder hypebt did not write: ``final`` must be new, empty, or hold one
    of ``markers`` (files hypebt writes there)."""
    if final.exists() and not final.is_dir():
        raise OutputError(f"{final}: exists and is not a folder; choose another --out")
    if final.is_dir() and any(final.iterdir()) and not any((final / m).exists() for m in markers):
        raise OutputError(
            f"{final}: not empty and not a hypebt report; choose a new folder with --out "
            "(hypebt replaces only its own reports)"
        )


def staged_dir(final: Path, markers: tuple[str, ...] = ("manifest.json",)):
    """Yield a fresh temporary folder beside ``final``; on success it replaces ``final``.

    ``final`` may only be a new or empty folder or an earlier hypebt report (see
    :func:`check_output_dir`); if the last rename fails, the earlier report is put back.
    """
    check_output_dir(final, markers)
    return _staged(final)


@contextlib.contextmanager
def _staged(final: Path):
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
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


def banner(lines: list[str], warning: str = "") -> str:
    """An escaped HTML block with hypebt's notes, put at the top of a page."""
    items = "".join(f"<li>{html.escape(x)}</li>" for x in lines)
    warn = f'<p class="hypebt-warning"><strong>Look-ahead warning:</strong> {html.escape(warning)}</p>' if warning else ""
    return (
        '<div id="hypebt-notes" style="font-family:sans-serif;border:1px solid #e0a800;background:#fff8e1;'
        f'padding:8px 14px;margin:10px 0">{warn}<ul style="margin:4px 0">{items}</ul></div>'
    )


def _self_contained(text: str, title: str, notes_html: str) -> str:
    """Make quantstats' page work offline without console errors, titled, with hypebt's notes.

    quantstats links a favicon on the web and calls a ``save()`` it only
    defines for downloads (a ReferenceError when the page is opened from disk).
    """
    text = re.sub(r'<link rel="shortcut icon"[^>]*>', "", text)
    text = text.replace('<body onload="save()">', "<body>")
    text = re.sub(r"<title>.*?</title>", f"<title>{html.escape(title)}</title>", text, count=1, flags=re.S)
    marker = text.find("<body")
    if marker >= 0:
        end = text.find(">", marker) + 1
        text = text[:end] + notes_html + text[end:]
    return text


def tearsheet(returns: pd.Series, bench: pd.Series, path: Path, title: str, notes: list[str], warning: str) -> None:
    """Write a quantstats HTML tearsheet with the benchmark passed as a Series, A-share year."""
    qs = metrics._qs()
    r = returns.copy()
    b = bench.copy()
    r.index = pd.DatetimeIndex(r.index).tz_localize(None)
    b.index = pd.DatetimeIndex(b.index).tz_localize(None)
    with fsio.atomic_path(path) as tmp:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # quantstats' own matplotlib/pandas deprecation chatter
            # match_dates=False: keep the whole period (quantstats would start at the first trade).
            qs.reports.html(r, benchmark=b, output=str(tmp), title=html.escape(title),
                            periods_per_year=metrics.PERIODS, download_filename=path.name, match_dates=False)
        tmp.write_text(_self_contained(tmp.read_text("utf-8"), title, banner(notes, warning)), "utf-8")


def write_run(prep, result, out_dir: Path, command: list[str] | None = None, html_report: bool = True) -> Path:
    """Write every output of one run into ``out_dir`` (replaced as a whole)."""
    spec = prep.spec
    period = f"{result.stats['start']}..{result.stats['end']}"
    title = f"{prep.strategy_name} on {prep.universe_name} ({period}) vs {spec.benchmark}"
    notes = [f"benchmark: {spec.benchmark} (CSI 300 is sh000300)", *prep.warnings]
    if prep.events:
        notes.append("events: " + "; ".join(f"{t.event.id} -> {t.session.date()} {t.at}" for t in prep.events))
    warning = U_WARNING if prep.look_ahead else ""
    manifest = {
        "kind": "run",
        "name": spec.name,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command or sys.argv,
        "versions": versions(),
        "spec": spec.as_dict(),
        "strategy": {"name": prep.strategy_name, "path": str(prep.strategy_path or ""),
                     "sha256": prep.strategy_sha256},
        "params": result.params,
        "rules": dataclasses.asdict(prep.rules),
        "data": {name: {k: m.get(k) for k in ("adjust", "price_basis", "rows", "first_date", "last_date",
                                              "sha256", "sources")}
                 for name, m in prep.data_manifests.items()},
        "universe": {"name": prep.universe_name, "codes": list(prep.codes), "look_ahead": prep.look_ahead},
        "events": [{"id": t.event.id, "session": str(t.session.date()), "at": t.at} for t in prep.events],
        "events_outside": [e.id for e in prep.events_outside],
        "notes": prep.warnings,
        "periods_per_year": metrics.PERIODS,
    }
    with staged_dir(out_dir) as tmp:
        fsio.write_json(tmp / "stats.json", {**result.stats, "title": title, "look_ahead_warning": warning})
        for name, frame in (("trades", result.trades), ("orders", result.orders), ("fills", result.fills),
                            ("borrow", result.borrow), ("equity", result.equity)):
            with fsio.atomic_path(tmp / f"{name}.csv") as t:
                frame.to_csv(t, index=False)
        with fsio.atomic_path(tmp / "returns.csv") as t:
            pd.DataFrame({"strategy": result.returns, "benchmark": prep.benchmark}).rename_axis("date").to_csv(t)
        if getattr(result, "log", None):
            fsio.write_text(tmp / "log.txt", "\n".join(result.log) + "\n")
        if html_report:
            tearsheet(result.returns, prep.benchmark, tmp / "tearsheet.html", title, notes, warning)
        fsio.write_json(tmp / "manifest.json", manifest)
    return out_dir


from hypebt.data.universes import LOOK_AHEAD_WARNING as U_WARNING  # noqa: E402
