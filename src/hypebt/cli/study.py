"""``hypebt study SPEC``: an event study, its page, and one summary line per event."""

from __future__ import annotations

import time
from pathlib import Path

import difflib
import math
import sys

import pandas as pd

from hypebt.cli.common import (
    lang_of, plausible_check, print_notes, refuse_unread_overrides, store_of, update_index, workspace_of,
)
from hypebt.core.errors import InputError
from hypebt.core.i18n import translator
from hypebt.core.paths import safe_name
from hypebt.data.bootstrap import ensure_data


def check_overrides(items: list[str], study_keys) -> None:
    """Refuse a ``--set KEY=...`` that a study would not read.

    A bare key that is not a top-level spec key is a strategy parameter, and a study runs no
    strategy: ``--set window=[-3,10]`` would be stored under ``params`` and silently ignored.

    >>> check_overrides(["windw=1"], ["window", "estimation"])
    Traceback (most recent call last):
    ...
    hypebt.core.errors.InputError: --set windw: a study reads no strategy parameter 'windw'; did you mean study.window?
    """
    from hypebt.engine.spec import TOP_KEYS

    for item in items:
        key = item.partition("=")[0].strip()
        if "." in key or key in TOP_KEYS:
            continue
        close = difflib.get_close_matches(key, list(study_keys), n=1, cutoff=0.6)
        hint = f"did you mean study.{close[0]}?" if close else f"study keys: {', '.join(sorted(study_keys))}"
        raise InputError(f"--set {key}: a study reads no strategy parameter {key!r}; {hint}")


def _period_notes(spec, sessions) -> list[str]:
    """Say so when the study's data end before the spec's ``end`` (or start after its ``start``)."""
    out = []
    if not len(sessions):
        return out
    first, last = sessions[0], sessions[-1]
    # A weekend or a holiday just beyond the data changes nothing: only weekdays count.
    if spec.end and len(pd.bdate_range(last + pd.Timedelta(days=1), spec.end)):
        out.append(f"{spec.path}: end {spec.end} is after the store's last bar ({last.date()}): the study "
                   "ends there")
    if spec.start and len(pd.bdate_range(spec.start, first - pd.Timedelta(days=1))):
        out.append(f"{spec.path}: start {spec.start} is before the store's first bar ({first.date()}): the "
                   "study starts there")
    return out


def _pct(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.2%}"


def _p(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def run(args) -> int:
    """Load the spec, get its data, compute the study, write study.html and print the summary."""
    from hypebt.engine.spec import load_spec
    from hypebt.reports import study_page
    from hypebt.research import study

    ws = workspace_of(args)
    check_overrides(args.set, study.STUDY_KEYS)
    refuse_unread_overrides(args.set, "study", ("sweep", "params"))
    spec = load_spec(args.spec, args.set)
    if spec.study is None and spec.events is None:
        raise InputError(f"{args.spec}: a study spec needs an [events] table and optionally [study]")
    lang = lang_of(args, spec)
    _ = translator(lang)
    store = store_of(args)
    if spec.universe != "all":
        ensure_data(spec, store, ws, args.offline, plausible=plausible_check())
    t0 = time.perf_counter()
    inputs = study.prepare(spec, ws, store)
    res = study.compute_all(inputs.panel, inputs.tradables, inputs.cfg, inputs.names)
    abnormal, car, summary, skipped = res.abnormal, res.car, res.summary, res.skipped
    curves = study.curves(abnormal, inputs.cfg.confidence, res.outcomes)
    out = Path(args.out) if args.out else ws / "reports" / safe_name(spec.name, "study name")
    study_page.write(inputs, abnormal, car, summary, curves, skipped, out, command=["hypebt", *args.argv],
                     tests=res.tests, lang=lang)
    print_notes(inputs.notes + skipped + _period_notes(spec, inputs.panel.sessions), inputs.warning, lang)
    cfg = inputs.cfg
    lo, hi = cfg.main_window
    rows = summary.to_dict("records")
    if rows and all(_pct(r["mean_car_mm"]) == "n/a" for r in rows):
        print(f"warning: {spec.path}: no market-model figures: no stock has {cfg.min_estimation} sessions of "
              f"returns in the estimation window {list(cfg.estimation)} before its event; start the data earlier "
              "or lower [study] min_estimation", file=sys.stderr)
    for row in rows:
        if row.get("no_tests"):
            print(_("%(event)s: n=%(n)s mean CAR[%(lo)s,%(hi)s] %(mkt)s (market-adjusted) vs %(market)s; no tests: "
                    "%(why)s; paper %(paper)s vs tradable %(tradable)s", event=row["event"], n=row["n"], lo=lo, hi=hi,
                    mkt=_pct(row["mean_car_mkt"]), market=inputs.market.label, why=row["no_tests"],
                    paper=_pct(row["mean_paper"]), tradable=_pct(row["mean_tradable"])))
            continue
        print(_("%(event)s: n=%(n)s mean CAR[%(lo)s,%(hi)s] %(mkt)s (market-adjusted), %(mm)s (market model) vs "
                "%(market)s; %(test)s t=%(t)s p=%(p)s (plain t p=%(tp)s), sign p=%(sp)s; paper %(paper)s vs tradable "
                "%(tradable)s (gap %(gap)s, %(locked)s locked on day 0)", event=row["event"], n=row["n"], lo=lo, hi=hi,
                mkt=_pct(row["mean_car_mkt"]), mm=_pct(row["mean_car_mm"]), market=inputs.market.label,
                test=row["headline_test"], t=f"{row['headline_t']:.2f}", p=_p(row["headline_p"]), tp=_p(row["t_p"]),
                sp=_p(row["sign_p"]), paper=_pct(row["mean_paper"]), tradable=_pct(row["mean_tradable"]),
                gap=_pct(row["mean_gap"]), locked=row["locked_day0"]))
    print(_("report: %(path)s", path=out / "study.html") + f"  [{time.perf_counter() - t0:.1f}s]")
    update_index(args, out.parent, lang)
    return 0
