"""Sweep outputs: ``results.parquet``/``results.csv``, ``sweep.html`` and the top-N tearsheets.

The page shows the landscape, not only a winner: a sortable table of every
combination, heatmaps of a metric over each pair of parameters (the others
held at the best combination's values), and the best combinations with the
number tried and the deflated Sharpe ratio beside them.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import itertools
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from hypebt.core import fsio
from hypebt.data.universes import LOOK_AHEAD_WARNING
from hypebt.engine import metrics
from hypebt.reports import run_report as report
from hypebt.reports.templating import render, table
from hypebt.research.plan import Plan
from hypebt.research.results import RESULT_COLUMNS, ResultStore, plan_keys_of, results_frame, run_identity

ASCENDING = {"max_drawdown": False}  # drawdowns are negative: closer to 0 is better, i.e. larger


def _ranked(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    ok = frame[frame["status"] == "ok"].copy()
    return ok.sort_values(metric, ascending=ASCENDING.get(metric, False) is True, na_position="last")


def _heatmap_png(frame: pd.DataFrame, x: str, y: str, metric: str, fixed: dict, title: str) -> str | None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    sub = frame
    for k, v in fixed.items():
        if k not in (x, y):
            sub = sub[sub[k] == v]
    if sub.empty:
        return None
    table = sub.pivot_table(index=y, columns=x, values=metric, aggfunc="mean")
    if table.size < 2:
        return None
    fig, ax = plt.subplots(figsize=(1.1 + 0.7 * table.shape[1], 1.0 + 0.45 * table.shape[0]), dpi=100)
    im = ax.imshow(table.to_numpy(dtype=float), cmap="RdYlGn", aspect="auto", origin="lower")
    ax.set_xticks(range(table.shape[1]), [str(v) for v in table.columns])
    ax.set_yticks(range(table.shape[0]), [str(v) for v in table.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    import textwrap

    ax.set_title("\n".join(textwrap.wrap(title, 48)), fontsize=9)
    ax.grid(False)  # quantstats leaves a grid style behind; no grid lines across the cells
    for (i, j), v in np.ndenumerate(table.to_numpy(dtype=float)):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.6})
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def write(prep, plan: Plan, out: Path, html_report: bool = True, keys: list[str] | None = None) -> dict:
    """Write the result tables, and (``html_report``) ``sweep.html`` with the top-N tearsheets."""
    store = ResultStore(out / "results.sqlite")
    try:
        if keys is None:
            keys = plan_keys_of(prep, plan)
        frame = results_frame(store, plan, keys)
        with fsio.atomic_path(out / "results.parquet") as tmp:
            frame.to_parquet(tmp, index=False)
        with fsio.atomic_path(out / "results.csv") as tmp:
            frame.to_csv(tmp, index=False)
        ranked = _ranked(frame, plan.metric)
        n_ok, n_failed = len(ranked), int((frame["status"] != "ok").sum())
        summary = {"combinations": len(frame), "ok": n_ok, "failed": n_failed, "metric": plan.metric}
        dsr = {"dsr": None, "sr0": None, "n_trials": len(frame)}
        if n_ok:
            best = ranked.iloc[0]
            best_returns = store.returns(best["key"], prep.sessions)
            trial_sr = (ranked["sharpe"].astype(float) / math.sqrt(metrics.PERIODS)).to_list()
            dsr = metrics.deflated_sharpe(best_returns, trial_sr, n_trials=len(frame))
            summary.update(best={k: getattr(best[k], "item", lambda v=best[k]: v)() for k in plan.axes},
                           best_metric=float(best[plan.metric])
                           if pd.notna(best[plan.metric]) else None, deflated_sharpe=dsr["dsr"])
        line = f"{len(frame)} combination(s), {n_failed} failed"
        if n_ok:
            bv = summary["best_metric"]
            line += (f"; best {plan.metric} {bv:.3f} at " if bv is not None else "; best at ") + \
                ", ".join(f"{k}={v}" for k, v in summary["best"].items())
            if dsr["dsr"] is not None:
                line += f" (deflated Sharpe probability {dsr['dsr']:.2f} after {dsr['n_trials']} trials)"
        summary["line"] = line
        fsio.write_json(out / "summary.json", {**summary, "deflated": dsr, "identity": run_identity(prep),
                                               "axes": plan.axes, "method": plan.method,
                                               "grid_size": plan.grid_size, "split": plan.split,
                                               "walk_forward": plan.walk_forward,
                                               "look_ahead": bool(prep.look_ahead),
                                               "versions": report.versions(),
                                               "created_at": dt.datetime.now(dt.timezone.utc).isoformat(
                                                   timespec="seconds")})
        if html_report:
            _write_html(prep, plan, out, frame, ranked, store, summary, dsr)
        return summary
    finally:
        store.close()


def _write_html(prep, plan, out, frame, ranked, store, summary, dsr) -> None:
    spec = prep.spec
    best_dir = out / "best"
    if best_dir.exists():
        shutil.rmtree(best_dir)
    links = {}
    for rank, (idx, row) in enumerate(ranked.head(plan.top).iterrows(), start=1):
        returns = store.returns(row["key"], prep.sessions)
        params = ", ".join(f"{k}={row[k]}" for k in plan.axes)
        title = f"#{rank} {prep.strategy_name} on {prep.universe_name} ({params}) vs {spec.benchmark}"
        notes = [f"rank {rank} of {len(frame)} combinations by {plan.metric}", f"parameters: {params}",
                 *prep.warnings]
        report.tearsheet(returns, prep.benchmark, best_dir / str(rank) / "tearsheet.html", title, notes,
                         LOOK_AHEAD_WARNING if prep.look_ahead else "")
        links[idx] = f"best/{rank}/tearsheet.html"
    heatmaps = []
    params = list(plan.axes)
    if len(ranked) and len(params) >= 2:
        fixed = {k: ranked.iloc[0][k] for k in params}
        for metric in dict.fromkeys([plan.metric, "total_return"]):
            for x, y in itertools.combinations(params, 2):
                png = _heatmap_png(ranked, x, y, metric, fixed,
                                   f"{metric} over {x} x {y}" + (
                                       f" (others at best: {', '.join(f'{k}={fixed[k]}' for k in params if k not in (x, y))})"
                                       if len(params) > 2 else ""))
                if png:
                    heatmaps.append((metric, x, y, png))
    fsio.write_text(out / "sweep.html", render(
        "sweep.html", title=f"{spec.name} sweep", name=spec.name, strategy=prep.strategy_name,
        universe=prep.universe_name, first=prep.sessions[0].date(), last=prep.sessions[-1].date(),
        benchmark=spec.benchmark, method=plan.method, params=params,
        warning=LOOK_AHEAD_WARNING if prep.look_ahead else "", notes_list=prep.warnings,
        tried=len(frame), failed=summary["failed"], metric=plan.metric,
        dsr="n/a" if dsr["dsr"] is None else f"{dsr['dsr']:.2f}", n_trials=dsr["n_trials"],
        best=table(ranked.head(plan.top)[params + RESULT_COLUMNS[:-1]], cls="top", links=links,
                   link_label="tearsheet"),
        heatmaps=[{"metric": m, "x": x, "y": y, "png": png} for m, x, y, png in heatmaps],
        everything=table(frame.drop(columns=["key"]))))
