"""``reports/index.html``: every run, sweep and study in the reports folder, newest first."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from hypebt.core import fsio
from hypebt.reports.templating import Cell, Table, render


def _pct(v) -> str:
    return "" if v is None else f"{v:+.2%}"


def _num(v) -> str:
    return "" if v is None else f"{v:.2f}"


def entries(reports: Path) -> list[dict]:
    """One entry per report folder (a run, a sweep or a study), newest first."""
    out = []
    for folder in sorted(p for p in reports.iterdir() if p.is_dir() and not p.name.startswith(".")) \
            if reports.is_dir() else []:
        try:
            if (folder / "summary.json").is_file() and (folder / "results.sqlite").exists():
                s = json.loads((folder / "summary.json").read_text("utf-8"))
                best = ", ".join(f"{k}={v}" for k, v in (s.get("best") or {}).items())
                dsr = s.get("deflated_sharpe")
                figures = (f"{s.get('combinations')} combinations, {s.get('failed')} failed; best {s.get('metric')} "
                           f"{_num(s.get('best_metric'))} at {best}; deflated Sharpe "
                           f"{'n/a' if dsr is None else f'{dsr:.2f}'}")
                link = "sweep.html" if (folder / "sweep.html").is_file() else "results.csv"
                out.append({"kind": "sweep", "name": folder.name, "when": s.get("created_at", ""),
                            "figures": figures, "link": f"{folder.name}/{link}"})
                continue
            manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
        except (OSError, ValueError):
            continue
        kind = manifest.get("kind", "run")
        if kind == "run":
            st = json.loads((folder / "stats.json").read_text("utf-8")) if (folder / "stats.json").is_file() else {}
            figures = (f"return {_pct(st.get('total_return'))} vs benchmark {_pct(st.get('benchmark_total_return'))}, "
                       f"Sharpe {_num(st.get('sharpe'))}, max drawdown {_pct(st.get('max_drawdown'))}, "
                       f"{st.get('n_trades', '')} trades ({st.get('start', '')}..{st.get('end', '')})")
            link = "tearsheet.html" if (folder / "tearsheet.html").is_file() else "stats.json"
        elif kind == "study":
            allrow = next((r for r in manifest.get("summary", []) if r.get("event") == "all events"), {})
            figures = (f"{allrow.get('n', '')} event-stocks; mean CAR {_pct(allrow.get('mean_car_mkt'))} "
                       f"(t p={_num(allrow.get('t_p'))}); paper {_pct(allrow.get('mean_paper'))} vs tradable "
                       f"{_pct(allrow.get('mean_tradable'))}")
            link = "study.html"
        else:
            continue
        out.append({"kind": kind, "name": folder.name, "when": manifest.get("created_at", ""), "figures": figures,
                    "link": f"{folder.name}/{link}"})
    return sorted(out, key=lambda e: e["when"], reverse=True)


MARKER = '<meta name="generator" content="hypebt report index">'


def is_hypebt_index(path: Path) -> bool:
    try:
        head = path.read_text("utf-8", errors="replace")[:3000]
        return MARKER in head or "<h1>hypebt reports</h1>" in head  # the latter: pages of hypebt 0.1 betas
    except OSError:
        return False


def write_index(reports: Path) -> Path:
    """Rebuild ``reports/index.html`` from what the reports folder holds."""
    rows = [[Cell(e["when"]), Cell(e["kind"]), Cell(e["name"], e["link"]), Cell(e["figures"])]
            for e in entries(reports)]
    listing = Table(["when (UTC)", "kind", "report", "key figures"], rows,
                    cls="", empty="No reports yet: run hypebt run, sweep or study.")
    page = render("index.html", title="hypebt reports", reports=listing,
                  rebuilt=dt.datetime.now().strftime("%Y-%m-%d %H:%M"))
    path = reports / "index.html"
    fsio.write_text(path, page)
    return path


def refresh(reports: Path) -> str | None:
    """Rebuild ``reports/index.html`` after a command wrote into ``reports``, never replacing an
    ``index.html`` hypebt did not write: then it is left alone and the note saying so is returned."""
    if (reports / "index.html").exists() and not is_hypebt_index(reports / "index.html"):
        return f"{reports / 'index.html'} is not hypebt's; left alone"
    write_index(reports)
    return None
