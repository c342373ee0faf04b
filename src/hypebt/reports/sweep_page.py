"""Sweep outputs: ``results.parquet``/``results.csv``, ``sweep.html`` and the top-N runs.

The page shows the landscape, not only a winner: the best distinct results (combinations
that give the very same figures are one row, with how many they are), each run again into
its full run folder ``best/N/`` (``report.html``, tearsheet, CSVs, manifest), the number
tried and the deflated Sharpe ratio, a sensitivity chart per parameter, in-sample against
out-of-sample when the spec splits, heatmaps over each pair of parameters (the others held
at the best values) and a sortable table of every combination. Returns, drawdowns, win
rates and exposure are percentages on the page (fractions in the CSV).
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
from hypebt.engine import metrics
from hypebt.reports import run_report as report
from hypebt.engine import backtest as engine
from hypebt.reports import charts
from hypebt.reports import sweep_validation as SV
from hypebt.reports.templating import Cell, Table, plain, render, table
from hypebt.research.plan import Plan
from hypebt.research.results import ResultStore, plan_keys_of, results_frame, run_identity

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


def write(prep, plan: Plan, out: Path, html_report: bool = True, keys: list[str] | None = None,
          command: list[str] | None = None, names: dict[str, str] | None = None, validation=None) -> dict:
    """Write the result tables, and (``html_report``) ``sweep.html`` with the run folder (report and
    tearsheet) of each of the top-N distinct results. ``validation`` (``--validate events``,
    :class:`hypebt.research.validate.Validation`): ``validation.csv`` and its section of the page."""
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
        if validation is not None:
            SV.write_files(out, validation)
            summary["validation"] = validation.summary
            summary["validation_line"] = SV.line(validation, plan.metric)
        fsio.write_json(out / "summary.json", {**summary, "deflated": dsr, "identity": run_identity(prep),
                                               "axes": plan.axes, "method": plan.method,
                                               "grid_size": plan.grid_size, "split": plan.split,
                                               "walk_forward": plan.walk_forward,
                                               "look_ahead": bool(prep.look_ahead),
                                               "versions": report.versions(),
                                               "created_at": dt.datetime.now(dt.timezone.utc).isoformat(
                                                   timespec="seconds")})
        if html_report:
            _write_html(prep, plan, out, frame, ranked, store, summary, dsr, command, names, validation)
        return summary
    finally:
        store.close()


FRACTIONS = ("total_return", "cagr", "max_drawdown", "win_rate", "exposure", "volatility")
SAME_RESULT = ["total_return", "sharpe", "sortino", "max_drawdown", "n_trades", "win_rate", "exposure",
               "refused_orders"]


def is_fraction(col: str) -> bool:
    """Columns that hold fractions (shown as percentages on the page; the CSV keeps fractions)."""
    base = col.split("_", 1)[1] if col.startswith(("is_", "oos_")) or (col.startswith("wf") and "_" in col) else col
    return base in FRACTIONS


def _cell(col, v) -> str:
    if is_fraction(str(col)) and isinstance(v, float):
        return "" if not math.isfinite(v) else f"{v:+.2%}"
    return plain(v)


def groups(ranked: pd.DataFrame, params: list[str]) -> list[pd.DataFrame]:
    """Combinations with identical results (same figures to 1e-10), best group first: a parameter
    that changes nothing (a stop never hit) makes many "best" rows that are one result."""
    if ranked.empty:
        return []
    cols = [c for c in SAME_RESULT if c in ranked]
    sig = ranked[cols].astype(float).round(10).fillna(-9e99).apply(tuple, axis=1)
    order = list(dict.fromkeys(sig))
    return [ranked[sig == s] for s in order]


def _params_text(row, params: list[str]) -> str:
    return ", ".join(f"{k}={row[k]}" for k in params)


def best_table(top: list[pd.DataFrame], params: list[str], metric: str, links: dict, split: bool) -> Table:
    """One row per distinct result: its parameters, how many combinations gave it, its figures,
    links to its report and tearsheet."""
    fig_cols = ["total_return", "cagr", "sharpe", "sortino", "max_drawdown", "win_rate", "n_trades", "exposure",
                "refused_orders"] + ([f"is_{metric}", f"oos_{metric}", "is_total_return", "oos_total_return"]
                                     if split else [])
    rows = []
    for rank, g in enumerate(top, start=1):
        first = g.iloc[0]
        same = [_params_text(r, params) for _, r in g.iloc[1:].iterrows()]
        cells = [Cell(str(rank)), Cell(_params_text(first, params)),
                 Cell(f"{len(g)}" + (f" (also {'; '.join(same[:4])}{' ...' if len(same) > 4 else ''})" if same else ""))]
        cells += [Cell(_cell(c, first[c]) if c in first else "") for c in fig_cols]
        report, sheet = links.get(rank, (None, None))
        cells += [Cell("report" if report else "", report), Cell("tearsheet" if sheet else "", sheet)]
        rows.append(cells)
    return Table(["rank", "parameters", "combinations with this result", *fig_cols, "run", "tearsheet"], rows,
                 cls="top", empty="no combination finished")


def sensitivity(ranked: pd.DataFrame, params: list[str], metric: str) -> list[str]:
    """Per parameter: the best and the median ``metric`` at each of its values (JSON figures)."""
    out = []
    for p in params:
        by = ranked.groupby(p, sort=True)[metric]
        if by.ngroups < 2:
            continue
        labels = [str(v) for v in by.groups]
        best = by.min() if ASCENDING.get(metric) else by.max()
        scale = 100 if is_fraction(metric) else 1
        unit = f"{metric}, %" if scale == 100 else metric
        out.append(charts.to_json(charts.grouped_bars(
            f"{metric} by {p} (best and median over the other parameters)", labels,
            {"best": (best * scale).tolist(), "median": (by.median() * scale).tolist()}, unit, p)))
    return out


def _run_best(prep, plan, out: Path, top: list[pd.DataFrame], n_frame: int, command, names) -> dict:
    """Run each distinct best combination again and write its full run folder (``best/N/``:
    CSVs, manifest, ``report.html``, tearsheet); returns rank -> (report link, tearsheet link)."""
    best_dir = out / "best"
    if best_dir.exists():
        shutil.rmtree(best_dir)
    params = list(plan.axes)
    links = {}
    cls = prep.strategy_class()
    for rank, g in enumerate(top, start=1):
        row = g.iloc[0]
        combo = {k: (row[k].item() if hasattr(row[k], "item") else row[k]) for k in params}
        text = _params_text(row, params)
        result = engine.run(prep, combo, strategy_cls=cls)
        notes = [f"rank {rank} of {n_frame} combinations by {plan.metric}"
                 + (f"; {len(g)} combinations give this same result" if len(g) > 1 else ""), f"parameters: {text}"]
        folder = report.write_run(prep, result, best_dir / str(rank), command=command, html_report=True,
                                  names=names, heading=f"#{rank} {prep.strategy_name}", extra_notes=notes)
        links[rank] = (f"best/{rank}/report.html" if (folder / "report.html").is_file() else None,
                       f"best/{rank}/tearsheet.html" if (folder / "tearsheet.html").is_file() else None)
    return links


def _heatmaps(ranked, params, metric) -> list[dict]:
    heatmaps = []
    if len(ranked) and len(params) >= 2:
        fixed = {k: ranked.iloc[0][k] for k in params}
        for m in dict.fromkeys([metric, "total_return"]):
            for x, y in itertools.combinations(params, 2):
                others = ", ".join(f"{k}={fixed[k]}" for k in params if k not in (x, y))
                png = _heatmap_png(ranked, x, y, m, fixed,
                                   f"{m} over {x} x {y}" + (f" (others at best: {others})" if others else ""))
                if png:
                    heatmaps.append({"metric": m, "x": x, "y": y, "png": png})
    return heatmaps


def _split_chart(ranked: pd.DataFrame, metric: str, split: str) -> str | None:
    a, b = f"is_{metric}", f"oos_{metric}"
    if a not in ranked or b not in ranked or ranked[[a, b]].dropna().empty:
        return None
    scale = 100 if is_fraction(metric) else 1
    return charts.to_json(charts.scatter(f"{metric}: in-sample (before {split}) vs out-of-sample, every combination",
                                         (ranked[a] * scale).tolist(), (ranked[b] * scale).tolist(),
                                         f"in-sample {metric}", f"out-of-sample {metric}"))


def _write_html(prep, plan, out, frame, ranked, store, summary, dsr, command=None, names=None,
                validation=None) -> None:
    spec = prep.spec
    params = list(plan.axes)
    distinct = groups(ranked, params)
    top = distinct[:plan.top]
    links = _run_best(prep, plan, out, top, len(frame), command, names)
    shown = frame.drop(columns=["key"])
    fsio.write_text(out / "sweep.html", render(
        "sweep.html", title=f"{spec.name} sweep", name=spec.name, strategy=prep.strategy_name,
        universe=report.universe_label(prep, names or {}), first=prep.sessions[0].date(), last=prep.sessions[-1].date(),
        benchmark=spec.benchmark, method=plan.method, params=params,
        warning=prep.warning, notes_list=prep.warnings,
        tried=len(frame), failed=summary["failed"], metric=plan.metric, n_distinct=len(distinct), top_n=len(top),
        dsr="n/a" if dsr["dsr"] is None else f"{dsr['dsr']:.2f}", n_trials=dsr["n_trials"],
        best=best_table(top, params, plan.metric, links, bool(plan.split)),
        heatmaps=_heatmaps(ranked, params, plan.metric),
        sensitivity=sensitivity(ranked, params, plan.metric) if len(ranked) else [],
        split=plan.split, split_chart=_split_chart(ranked, plan.metric, plan.split) if plan.split else None,
        plotly_js=charts.plotly_js(),
        everything=table(shown, _cell),
        **(SV.context(validation, plan.metric, params, is_fraction) if validation is not None else SV.empty_context())))
