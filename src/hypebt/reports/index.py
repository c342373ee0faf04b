"""``reports/index.html``: every run, sweep and study in the reports folder, newest first.

One row per report: its time in Beijing, its kind, a link to the page a person reads
(a run's ``report.html``, else its tearsheet), whether its universe carries look-ahead
bias, its key figures (a run without trades still shows its return and says why it has no
Sharpe), and how many earlier runs its history folder keeps. The table sorts by any column.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

from hypebt.core import fsio, i18n
from hypebt.core.i18n import N_
from hypebt.reports import assets, history
from hypebt.reports.labels import LABELS
from hypebt.reports.templating import Cell, Table, render

MARKER = '<meta name="generator" content="hypebt report index">'
COLUMNS = [N_("when (Beijing)"), N_("kind"), N_("report"), N_("look-ahead"), N_("key figures"), N_("runs kept"),
           N_("disk")]
KINDS = {"run": N_("run"), "sweep": N_("sweep"), "study": N_("study")}


def _pct(v) -> str:
    return "n/a" if v is None else f"{v:+.2%}"


def _num(v) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def disk_size(path: Path) -> int:
    """Bytes ``path`` takes: a file, or every file under a folder (symbolic links not followed: a
    ``latest`` link costs nothing and is not counted twice)."""
    if path.is_symlink():
        return 0
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            f = Path(root) / name
            if not f.is_symlink():
                try:
                    total += f.stat().st_size
                except OSError:
                    pass
    return total


def human(n: int) -> str:
    """``n`` bytes as ``du -sh`` would say it, in decimal units: ``523 kB``, ``4.9 MB``."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}" if n < 100 * size else f"{n / size:.0f} {unit}"
    return f"{n} B"


def beijing(created_at: str) -> str:
    """An ISO time (hypebt writes UTC) as Beijing time, ``2024-02-19 09:30``; '' if unreadable."""
    try:
        when = dt.datetime.fromisoformat(created_at)
    except (TypeError, ValueError):
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(history.BEIJING).strftime("%Y-%m-%d %H:%M")


def _read(path: Path) -> dict:
    """A report's JSON file, {} when absent; unreadable or not an object: ValueError naming it."""
    if not path.is_file():
        return {}
    data = json.loads(path.read_text("utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path.name} is not a JSON object")
    return data


def _run_figures(st: dict) -> str:
    trades = st.get("n_trades")
    sharpe = _num(st.get("sharpe")) if st.get("sharpe") is not None else (
        N_("n/a (no position all run)") if not trades and not st.get("open_positions") else "n/a")
    return N_("return %(ret)s vs benchmark %(bench)s, Sharpe %(sharpe)s, max drawdown %(dd)s, %(trades)s closed "
              "trades, %(open)s open at the end, %(refused)s refused by the market, %(cancelled)s cancelled, "
              "%(expired)s expired (%(start)s..%(end)s)", ret=_pct(st.get("total_return")),
              bench=_pct(st.get("benchmark_total_return")), sharpe=sharpe, dd=_pct(st.get("max_drawdown")),
              trades=trades if trades is not None else 0, open=st.get("open_positions", 0),
              refused=st.get("refused_orders", 0), cancelled=st.get("cancelled_orders", 0),
              expired=st.get("expired_orders", 0), start=st.get("start", ""), end=st.get("end", ""))


def _sweep_entry(folder: Path, rel: str) -> dict:
    s = _read(folder / "summary.json")
    best = ", ".join(f"{k}={v}" for k, v in (s.get("best") or {}).items())
    dsr = s.get("deflated_sharpe")
    figures = N_("%(n)s combinations, %(failed)s failed; best %(metric)s %(value)s at %(best)s; deflated Sharpe %(dsr)s",
                 n=s.get("combinations"), failed=s.get("failed"), metric=LABELS.get(s.get("metric"), s.get("metric")),
                 value=_num(s.get("best_metric")), best=best or "n/a", dsr=_num(dsr))
    link = "sweep.html" if (folder / "sweep.html").is_file() else "results.csv"
    return {"kind": "sweep", "when": s.get("created_at", ""), "figures": figures, "link": f"{rel}/{link}",
            "look_ahead": bool(s.get("look_ahead"))}


def _report_entry(folder: Path, rel: str) -> dict | None:
    manifest = _read(folder / "manifest.json")
    kind = manifest.get("kind", "run") if manifest else None
    look = bool((manifest.get("universe") or {}).get("look_ahead")) if manifest else False
    if kind == "run":
        figures = _run_figures(_read(folder / "stats.json"))
        page = next((p for p in ("report.html", "tearsheet.html") if (folder / p).is_file()), "stats.json")
    elif kind == "study":
        allrow = next((r for r in manifest.get("summary", []) if r.get("event") == "all events"), {})
        figures = N_("%(n)s event-stocks; mean CAR %(car)s (t p=%(p)s); paper %(paper)s vs tradable %(tradable)s",
                     n=allrow.get("n", ""), car=_pct(allrow.get("mean_car_mkt")), p=_num(allrow.get("t_p")),
                     paper=_pct(allrow.get("mean_paper")), tradable=_pct(allrow.get("mean_tradable")))
        page = "study.html"
    else:
        return None
    return {"kind": kind, "when": manifest.get("created_at", ""), "figures": figures, "link": f"{rel}/{page}",
            "look_ahead": look}


def entries(reports: Path) -> list[dict]:
    """One entry per report (a run, a sweep or a study), newest first; a history folder
    (``<name>/<timestamp>/``...) gives one entry, its newest run, reached through ``latest``."""
    out = []
    folders = sorted(p for p in reports.iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if reports.is_dir() else []
    for folder in folders:
        kept = 1
        try:
            if (folder / "summary.json").is_file() and (folder / "results.sqlite").exists():
                entry = _sweep_entry(folder, folder.name)
            elif (folder / "manifest.json").is_file():
                entry = _report_entry(folder, folder.name)
            else:
                runs = history.runs(folder)
                newest = history.latest(folder)
                if newest is None:
                    continue
                kept = len(runs)
                via = history.LATEST if (folder / history.LATEST).is_symlink() else newest.name
                entry = _report_entry(newest, f"{folder.name}/{via}")
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            # A broken report folder must not break the index of the others: skip it, say so.
            print(f"warning: {folder}: unreadable report ({' '.join(str(exc).split())}); left out of the index",
                  file=sys.stderr)
            continue
        if entry:
            out.append({**entry, "name": folder.name, "kept": kept, "bytes": disk_size(folder)})
    return sorted(out, key=lambda e: e["when"], reverse=True)


def is_hypebt_index(path: Path) -> bool:
    """True when ``path`` is an index hypebt wrote (so it may be replaced)."""
    try:
        head = path.read_text("utf-8", errors="replace")[:3000]
        return MARKER in head or "<h1>hypebt reports</h1>" in head  # the latter: pages of hypebt 0.1 betas
    except OSError:
        return False


def write_index(reports: Path, lang: str = "en") -> Path:
    """Rebuild ``reports/index.html`` (in ``lang``) from what the reports folder holds, with the disk
    each report takes (its kept runs included) and the whole folder's."""
    _ = i18n.translator(lang)
    rows = [[Cell(beijing(e["when"])), Cell(KINDS.get(e["kind"], e["kind"])), Cell(e["name"], e["link"]),
             Cell(N_("look-ahead bias") if e["look_ahead"] else N_("no")), Cell(e["figures"]), Cell(str(e["kept"])),
             Cell(human(e["bytes"]))]
            for e in entries(reports)]
    listing = Table(COLUMNS, rows, empty=N_("No reports yet: run hypebt run, sweep or study."))
    assets_dir = reports / assets.FOLDER
    page = render("index.html", lang=lang, title=_("hypebt reports"), reports=listing,
                  rebuilt=dt.datetime.now(history.BEIJING).strftime("%Y-%m-%d %H:%M"),
                  disk_total=human(disk_size(reports) if reports.is_dir() else 0),
                  disk_assets=human(disk_size(assets_dir) if assets_dir.is_dir() else 0))
    path = reports / "index.html"
    fsio.write_text(path, page)
    return path


def refresh(reports: Path, lang: str = "en") -> str | None:
    """Rebuild ``reports/index.html`` after a command wrote into ``reports``, never replacing an
    ``index.html`` hypebt did not write: then it is left alone and the note saying so is returned."""
    if (reports / "index.html").exists() and not is_hypebt_index(reports / "index.html"):
        return f"{reports / 'index.html'} is not hypebt's; left alone"
    write_index(reports, lang)
    return None
