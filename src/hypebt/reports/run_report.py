"""Run outputs: the quantstats tearsheet and the files behind every figure.

``reports/<run name>/`` gets ``tearsheet.html``, ``stats.json``,
``trades.csv``, ``orders.csv``, ``fills.csv``, ``borrow.csv``, ``equity.csv``,
``returns.csv`` and ``manifest.json`` (versions, data hashes, spec, params,
rules): every figure in the report can be reproduced from the manifest.

The folder is built beside its final place and renamed into it in one step
(:func:`hypebt.core.outdir.staged_dir`), so a crash never leaves a half-written report.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import os
import platform
import re
import sys
import warnings
from importlib import metadata
from pathlib import Path

import pandas as pd

from hypebt import __version__
from hypebt.core import fsio
from hypebt.core.outdir import staged_dir
from hypebt.data.universes import LOOK_AHEAD_WARNING as U_WARNING
from hypebt.engine import metrics
from hypebt.reports.templating import render
from hypebt.reports.templating import text as as_text

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
    """sha256 of a file's bytes, hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def banner(lines: list[str], warning: str = "") -> str:
    """An HTML block with hypebt's notes (and the look-ahead ``warning``), put at the top of a page."""
    return render("banner.html", lines=lines, warning=warning)


def _self_contained(text: str, title: str, notes_html: str) -> str:
    """Make quantstats' page work offline without console errors, titled, with hypebt's notes.

    quantstats links a favicon on the web and calls a ``save()`` it only
    defines for downloads (a ReferenceError when the page is opened from disk).
    """
    text = re.sub(r'<link rel="shortcut icon"[^>]*>', "", text)
    text = text.replace('<body onload="save()">', "<body>")
    text = re.sub(r"<title>.*?</title>", lambda _: f"<title>{as_text(title)}</title>", text, count=1, flags=re.S)
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
            qs.reports.html(r, benchmark=b, output=str(tmp), title=as_text(title),
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

