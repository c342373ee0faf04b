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

import contextlib
import datetime as dt
import io
import itertools
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from hypebt.core import fsio, i18n
from hypebt.core.errors import OutputError
from hypebt.core.i18n import N_
from hypebt.core.outdir import foreign_files
from hypebt.engine import metrics
from hypebt.reports import run_report as report
from hypebt.engine import backtest as engine
from hypebt.reports import assets, charts
from hypebt.reports import sweep_validation as SV
from hypebt.reports.labels import LABELS, header
from hypebt.reports.templating import Cell, Table, plain, render, table
from hypebt.research.plan import Plan
from hypebt.research.results import ResultStore, plan_keys_of, results_frame, run_identity

ASCENDING = {"max_drawdown": False}  # drawdowns are negative: closer to 0 is better, i.e. larger


def traded(frame: pd.DataFrame) -> pd.Series:
    """Rows of combinations that did something: a closed trade, money in positions or a return.
    A combination that never traded has no figure to rank (its 0.0 stands for no data)."""
    def col(name):
        return pd.to_numeric(frame[name], errors="coerce").fillna(0.0) if name in frame else 0.0

    return (col("n_trades") > 0) | (col("exposure") > 0) | (col("total_return") != 0)


def rank_ok(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The combinations that ran and traded, best first; ties keep the plan's order (a stable sort of
    rows in plan order), so a resumed, local or Dask sweep names the same best."""
    ok = frame[(frame["status"] == "ok") & traded(frame)].copy()
    return ok.sort_values(metric, ascending=ASCENDING.get(metric, False) is True, na_position="last",
                          kind="stable")


def write(prep, plan: Plan, out: Path, html_report: bool = True, keys: list[str] | None = None,
          command: list[str] | None = None, names: dict[str, str] | None = None, validation=None, lang: str = "en",
          reports: Path | None = None) -> dict:
    """Write the result tables, and (``html_report``) ``sweep.html`` in ``lang`` with the run folder
    (report and tearsheet) of each of the top-N distinct results; ``reports``: the workspace's
    reports folder (its ``_assets/`` serve the pages when ``out`` is inside it). ``validation``
    (``--validate events``, :class:`hypebt.research.validate.Validation`): ``validation.csv`` and its
    section of the page."""
    store = ResultStore(out / "results.sqlite")
    try:
        if keys is None:
            keys = plan_keys_of(prep, plan)
        frame = results_frame(store, plan, keys)
        with fsio.atomic_path(out / "results.parquet") as tmp:
            frame.to_parquet(tmp, index=False)
        with fsio.atomic_path(out / "results.csv") as tmp:
            frame.to_csv(tmp, index=False)
        ranked = rank_ok(frame, plan.metric)
        n_ok, n_failed = len(ranked), int((frame["status"] != "ok").sum())
        summary = {"combinations": len(frame), "ok": int((frame["status"] == "ok").sum()), "traded": n_ok,
                   "failed": n_failed, "metric": plan.metric, "best": None}
        dsr = {"dsr": None, "sr0": None, "n_trials": len(frame)}
        if n_ok:
            best = ranked.iloc[0]
            best_returns = store.returns(best["key"], prep.sessions)
            trial_sr = (ranked["sharpe"].astype(float) / math.sqrt(metrics.PERIODS)).to_list()
            dsr = metrics.deflated_sharpe(best_returns, trial_sr, n_trials=len(frame))
            summary.update(best={k: getattr(best[k], "item", lambda v=best[k]: v)() for k in plan.axes},
                           best_metric=float(best[plan.metric])
                           if pd.notna(best[plan.metric]) else None, deflated_sharpe=dsr["dsr"])
        head = N_("%(n)s combination(s), %(failed)s failed", n=len(frame), failed=n_failed)
        best_text = dsr_text = ""
        if summary["ok"] and not n_ok:  # nothing to rank: no "best" stands for no data
            best_text = N_("; no combination traded (all %(n)s flat): no best", n=summary["ok"])
        if n_ok:
            bv, at = summary["best_metric"], ", ".join(f"{k}={v}" for k, v in summary["best"].items())
            best_text = N_("; best %(metric)s %(value)s at %(at)s", metric=LABELS.get(plan.metric, plan.metric),
                           value=f"{bv:.3f}", at=at) \
                if bv is not None else N_("; best at %(at)s", at=at)
            if dsr["dsr"] is not None:
                dsr_text = N_(" (deflated Sharpe probability %(p)s after %(n)s trials)", p=f"{dsr['dsr']:.2f}",
                              n=dsr["n_trials"])
        line = N_("%(head)s%(best)s%(dsr)s", head=head, best=best_text, dsr=dsr_text)
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
            _write_html(prep, plan, out, frame, ranked, store, summary, dsr, command, names, validation, lang, reports)
        return summary
    finally:
        store.close()


FRACTIONS = ("total_return", "cagr", "max_drawdown", "win_rate", "exposure", "volatility")
# What a reader compares between two combinations: the same values here, as the page shows them,
# make one result (one rank listing every combination that gave it).
SAME_RESULT = ["total_return", "cagr", "sharpe", "sortino", "max_drawdown", "win_rate", "n_trades", "exposure",
               "refused_orders", "cancelled_orders", "expired_orders", "open_positions"]
def is_fraction(col: str) -> bool:
    """Columns that hold fractions (shown as percentages on the page; the CSV keeps fractions)."""
    base = col.split("_", 1)[1] if col.startswith(("is_", "oos_")) or (col.startswith("wf") and "_" in col) else col
    return base in FRACTIONS


SIGNED = ("total_return", "cagr", "max_drawdown")  # a gain or a loss; win rate, exposure, volatility have no sign


def _cell(col, v) -> str:
    if is_fraction(str(col)) and isinstance(v, float):
        if not math.isfinite(v):
            return ""
        return f"{v:+.2%}" if str(col).split("_", 1)[-1] in SIGNED or str(col) in SIGNED else f"{v:.2%}"
    if str(col) in ("sharpe", "sortino") or str(col).endswith(("_sharpe", "_sortino")):
        return "" if not isinstance(v, float) or not math.isfinite(v) else f"{v:.2f}"
    return plain(v)


def _shown(col: str, v) -> str:
    """A figure at the precision the page shows it (what "the same result" compares)."""
    return _cell(col, float(v)) if isinstance(v, (int, float, np.number)) and not isinstance(v, bool) else str(v)


def groups(ranked: pd.DataFrame, params: list[str]) -> list[pd.DataFrame]:
    """Combinations whose figures are the same as the page shows them, best group first: a
    parameter that changes nothing (a stop never hit) makes many "best" rows that are one result;
    two ranks never show identical figures."""
    if ranked.empty:
        return []
    cols = [c for c in SAME_RESULT if c in ranked]
    sig = ranked[cols].apply(lambda row: tuple(_shown(c, row[c]) for c in cols), axis=1)
    order = list(dict.fromkeys(sig))
    return [ranked[sig == s] for s in order]


def _params_text(row, params: list[str]) -> str:
    return ", ".join(f"{k}={row[k]}" for k in params)


def best_table(top: list[pd.DataFrame], params: list[str], metric: str, links: dict, split: bool,
               lang: str = "en") -> Table:
    """One row per distinct result (a rank): every combination that gave it, its figures, links to
    its report and tearsheet."""
    _ = i18n.translator(lang)
    fig_cols = ["total_return", "cagr", "sharpe", "sortino", "max_drawdown", "win_rate", "n_trades", "open_positions",
                "exposure", "refused_orders", "cancelled_orders", "expired_orders"] + (
        [f"is_{metric}", f"oos_{metric}", "is_total_return", "oos_total_return"] if split else [])
    rows = []
    for rank, g in enumerate(top, start=1):
        first = g.iloc[0]
        combos = [_params_text(r, params) for _i, r in g.iterrows()]
        shown = "; ".join(combos[:12]) + (_(" ... and %(n)s more", n=len(combos) - 12) if len(combos) > 12 else "")
        cells = [Cell(str(rank)), Cell(str(len(g))), Cell(shown)]
        cells += [Cell(_cell(c, first[c]) if c in first else "",
                       tone=_tone(first[c]) if c in ("total_return", "cagr") and c in first else "") for c in fig_cols]
        report, sheet = links.get(rank, (None, None))
        cells += [Cell(_("report") if report else "", report), Cell(_("tearsheet") if sheet else "", sheet)]
        rows.append(cells)
    return Table([_("rank"), _("combinations"), _("parameters (every combination with this result)"),
                  *[header(c, lang) for c in fig_cols], _("run"), _("tearsheet")], rows,
                 cls="top", empty=_("no combination finished"))


def _tone(v) -> str:
    if not isinstance(v, (int, float)) or not math.isfinite(float(v)) or float(v) == 0:
        return ""
    return "gain" if v > 0 else "loss"


def sensitivity(ranked: pd.DataFrame, params: list[str], metric: str, lang: str = "en") -> list[dict]:
    """Per parameter: the best and the median ``metric`` at each of its values (figures)."""
    _ = i18n.translator(lang)
    name = header(metric, lang)
    out = []
    for p in params:
        by = ranked.groupby(p, sort=True)[metric]
        if by.ngroups < 2:
            continue
        labels = [str(v) for v in by.groups]
        best = by.min() if ASCENDING.get(metric) else by.max()
        scale = 100 if is_fraction(metric) else 1
        unit = f"{name}, %" if scale == 100 else name
        out.append(charts.grouped_bars(
            _("%(metric)s by %(param)s (best and median over the other parameters)", metric=name, param=p), labels,
            {_("best"): (best * scale).tolist(), _("median"): (by.median() * scale).tolist()}, unit, p))
    return out


def _run_best(prep, plan, out: Path, top: list[pd.DataFrame], n_frame: int, command, names, lang="en",
              reports=None) -> dict:
    """Run each distinct best combination again and write its full run folder (``best/N/``:
    CSVs, manifest, ``report.html``, tearsheet); returns rank -> (report link, tearsheet link)."""
    best_dir = out / "best"
    if best_dir.exists():
        foreign = [f for f in foreign_files(out, "sweep") if f.startswith("best/")]
        if foreign:
            raise OutputError(f"{best_dir}: holds {', '.join(foreign[:3])}, which hypebt did not write; move it, "
                              "or choose a new folder with --out (hypebt replaces only what it wrote)")
        shutil.rmtree(best_dir)
    params = list(plan.axes)
    links = {}
    cls = prep.strategy_class()
    for rank, g in enumerate(top, start=1):
        row = g.iloc[0]
        combo = {k: (row[k].item() if hasattr(row[k], "item") else row[k]) for k in params}
        text = _params_text(row, params)
        with contextlib.redirect_stdout(io.StringIO()):  # quietly, as the sweep ran it (a strategy's prints)
            result = engine.run(prep, combo, strategy_cls=cls)
        notes = [N_("rank %(rank)s of %(n)s combinations by %(metric)s", rank=rank, n=n_frame, metric=plan.metric),
                 N_("parameters: %(params)s", params=text)]
        if len(g) > 1:
            notes.append(N_("%(n)s combinations give this same result: %(list)s", n=len(g),
                            list="; ".join(_params_text(r, params) for _i, r in g.iterrows())))
        folder = report.write_run(prep, result, best_dir / str(rank), command=command, html_report=True,
                                  names=names, heading=f"#{rank} {prep.strategy_name}", extra_notes=notes,
                                  lang=lang, reports=reports if reports is not None else out)
        links[rank] = (f"best/{rank}/report.html" if (folder / "report.html").is_file() else None,
                       f"best/{rank}/tearsheet.html" if (folder / "tearsheet.html").is_file() else None)
    return links


def _heatmaps(ranked, params, metric, lang: str = "en") -> list[dict]:
    """The metric (and the total return) over each pair of parameters, the others at the best
    combination's values: interactive heatmaps, each cell labelled, percentages as percentages."""
    _ = i18n.translator(lang)
    heatmaps = []
    if len(ranked) and len(params) >= 2:
        fixed = {k: ranked.iloc[0][k] for k in params}
        for m in dict.fromkeys([metric, "total_return"]):
            for x, y in itertools.combinations(params, 2):
                sub = ranked
                for k in params:
                    if k not in (x, y):
                        sub = sub[sub[k] == fixed[k]]
                grid = sub.pivot_table(index=y, columns=x, values=m, aggfunc="mean")
                if grid.size < 2:
                    continue
                others = ", ".join(f"{k}={fixed[k]}" for k in params if k not in (x, y))
                title = _("%(metric)s over %(x)s × %(y)s", metric=header(m, lang), x=x, y=y) + (
                    " " + _("(others at the best: %(others)s)", others=others) if others else "")
                z = [[None if pd.isna(v) else float(v) for v in row] for row in grid.to_numpy(dtype=float)]
                heatmaps.append(charts.heatmap(title, [str(v) for v in grid.columns], [str(v) for v in grid.index],
                                               z, x, y, is_fraction(m)))
    return heatmaps


def _split_chart(ranked: pd.DataFrame, metric: str, split: str, lang: str = "en") -> dict | None:
    a, b = f"is_{metric}", f"oos_{metric}"
    if a not in ranked or b not in ranked or ranked[[a, b]].dropna().empty:
        return None
    scale = 100 if is_fraction(metric) else 1
    _ = i18n.translator(lang)
    return charts.scatter(_("%(metric)s: in-sample (before %(split)s) vs out-of-sample, every combination",
                            metric=header(metric, lang), split=split),
                          (ranked[a] * scale).tolist(), (ranked[b] * scale).tolist(), header(a, lang), header(b, lang), _)


def _write_html(prep, plan, out, frame, ranked, store, summary, dsr, command=None, names=None, validation=None,
                lang="en", reports=None) -> None:
    spec = prep.spec
    params = list(plan.axes)
    distinct = groups(ranked, params)
    top = distinct[:plan.top]
    root = assets.root_for(out, reports)
    links = _run_best(prep, plan, out, top, len(frame), command, names, lang, root)
    assets.install(root)
    shown = frame.drop(columns=["key"])
    fsio.write_text(out / "sweep.html", render(
        "sweep.html", lang=lang, title=f"{spec.name} sweep", name=spec.name, strategy=prep.strategy_name,
        universe=report.universe_label(prep, names or {}), first=prep.sessions[0].date(), last=prep.sessions[-1].date(),
        benchmark=spec.benchmark, method=LABELS.get(plan.method, plan.method), params=params,
        warning=prep.warning, notes_list=prep.warnings,
        tried=len(frame), failed=summary["failed"], metric=LABELS.get(plan.metric, plan.metric), n_distinct=len(distinct),
        top_n=len(top), dsr="n/a" if dsr["dsr"] is None else f"{dsr['dsr']:.2f}", n_trials=dsr["n_trials"],
        best=best_table(top, params, plan.metric, links, bool(plan.split), lang),
        heatmaps=_heatmaps(ranked, params, plan.metric, lang),
        sensitivity=sensitivity(ranked, params, plan.metric, lang) if len(ranked) else [],
        split=plan.split, split_chart=_split_chart(ranked, plan.metric, plan.split, lang) if plan.split else None,
        plotly_src=assets.src_for(out, root),
        everything=table(shown, _cell, headers=lambda c: header(c, lang)),
        **(SV.context(validation, plan.metric, params, is_fraction, lang) if validation is not None
           else SV.empty_context())))
