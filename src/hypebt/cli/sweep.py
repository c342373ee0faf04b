"""``hypebt sweep SPEC``: plan the combinations, run them, write the result tables and the page.

Research (:mod:`hypebt.research.sweep`) runs the combinations and stores their figures;
this command then writes ``results.*``, ``summary.json`` and ``sweep.html`` through
:mod:`hypebt.reports.sweep_page`, and rebuilds ``reports/index.html``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

from hypebt.cli.common import (
    lang_of, plausible_check, refuse_unread_overrides, store_of, update_index, workspace_of,
)
from hypebt.data import stock_info
from hypebt.data.bootstrap import ensure_data
from hypebt.core.errors import InputError, OutputError, SweepError
from hypebt.core.i18n import translator
from hypebt.core.paths import safe_name
from hypebt.engine import backtest as engine
from hypebt.engine.spec import load_spec
from hypebt.reports import sweep_page
from hypebt.research import sweep, validate

OPTIONS_AT_LEAST_ONE = ("workers", "batch", "top", "max_combinations")


def run(args) -> int:
    """Run the sweep of ``args.spec`` (argparse namespace of ``hypebt sweep``); return the exit code."""
    ws = workspace_of(args)
    refuse_unread_overrides(args.set, "sweep", ("study",))
    spec = load_spec(args.spec, args.set)
    if not spec.strategy:
        raise InputError(f"{args.spec}: missing key 'strategy' (a file name in strategies/, e.g. \"hype_buy\")")
    lang = lang_of(args, spec)
    _ = translator(lang)
    store = store_of(args)
    ensure_data(spec, store, ws, args.offline, plausible=plausible_check())
    prep = engine.prepare(spec, ws, store)
    plan = sweep.make_plan(spec, prep.strategy_class(), args.max_combinations)
    sweep.check_period(plan, prep.sessions, f"{spec.path} [sweep]")
    if args.top is not None:
        plan = dataclasses.replace(plan, top=args.top)
    for opt in OPTIONS_AT_LEAST_ONE:
        value = getattr(args, opt)
        if value is not None and value < 1:
            raise InputError(f"--{opt.replace('_', '-')} must be at least 1, got {value}")
    if args.validate == "events":
        validate.check(plan, prep, str(spec.path))
    out = Path(args.out) if args.out else ws / "reports" / f"{safe_name(spec.name, 'run name')}_sweep"
    sweep.prepare_out(out, args.resume)
    where = _("%(address)s (Dask)", address=args.scheduler) if args.scheduler else \
        _("%(n)s local worker(s)", n=args.workers or os.cpu_count())
    print(_("sweep %(name)s: %(n)s combination(s) of %(axes)s (%(method)s, grid of %(size)s) on %(where)s",
            name=spec.name, n=len(plan.combos), axes=", ".join(plan.axes), method=plan.method,
            size=f"{plan.grid_size:,}", where=where), file=sys.stderr)
    try:
        outcome = sweep.execute(prep, plan, out, workers=args.workers, scheduler=args.scheduler,
                                resume=args.resume, batch=args.batch, progress=sys.stderr.isatty())
        checked = None
        if args.validate == "events":
            print(f"validate: {len(plan.combos)} combination(s) x {len(prep.events)} event(s), each event run alone",
                  file=sys.stderr)
            ev_outcome, keys = sweep.execute_events(prep, plan, out, workers=args.workers, scheduler=args.scheduler,
                                                    batch=args.batch, progress=sys.stderr.isatty())
            events_store = sweep.ResultStore(out / sweep.EVENTS_DB)
            try:
                checked = validate.compute(prep, plan, events_store, keys)
            finally:
                events_store.close()
        names = {c: n for c, n in stock_info.names(store).items() if c in set(prep.codes)}
        summary = sweep_page.write(prep, plan, out, html_report=not args.no_html, keys=outcome.keys,
                                   command=["hypebt", *args.argv], names=names, validation=checked, lang=lang,
                                   reports=ws / "reports")
    except OutputError as exc:  # a full disk mid-sweep: what is stored stays, say how to go on
        if "--resume" in str(exc):
            raise
        raise OutputError(f"{exc}; the finished combinations are kept: rerun with --resume") from None
    rate = outcome.ran / outcome.seconds if outcome.seconds > 0 else float("nan")
    print(_("ran %(ran)s (%(rate)s/s), skipped %(skipped)s already done, %(failed)s failed; %(line)s", ran=outcome.ran,
            rate=f"{rate:.2f}", skipped=outcome.skipped, failed=outcome.failed, line=summary["line"]))
    if checked is not None:
        print(f"validation: {summary['validation_line']}")
        if checked.failed or checked.outside:
            print(f"warning: {spec.path}: {checked.failed} event run(s) failed, {checked.outside} returned outside "
                  f"their {plan.event_window}-session window (raise [sweep] event_window)", file=sys.stderr)
        print(f"validation: {out / 'validation.csv'}")
    print(_("results: %(path)s", path=out / "results.csv")
          + ("" if args.no_html else "\n" + _("report: %(path)s", path=out / "sweep.html")))
    update_index(args, Path(args.out).parent if args.out else None, lang)
    if summary["ok"] and not summary["traded"]:
        print(f"warning: {spec.path}: no combination traded (all {summary['ok']} flat): no best is named; check "
              "the universe, the events and the period", file=sys.stderr)
    if outcome.failed:
        _report_failures(spec, out, outcome)
    return 0


def _report_failures(spec, out: Path, outcome) -> None:
    """Exit codes that tell the truth: an error when every combination failed, else a warning line."""
    from hypebt.research.results import ResultStore

    store = ResultStore(out / "results.sqlite")
    try:
        frame = store.frame()
    finally:
        store.close()
    failed = frame[frame["status"] != "ok"] if len(frame) else frame
    first = f"; first: {failed['error'].iloc[0]}" if len(failed) else ""
    if outcome.failed == outcome.ran and not outcome.skipped:
        raise SweepError(f"{spec.path}: all {outcome.failed} combination(s) failed{first} "
                         f"(each error is in {out / 'results.csv'})")
    print(f"warning: {spec.path}: {outcome.failed} of {outcome.total} combination(s) failed{first} "
          f"(each error is in {out / 'results.csv'})", file=sys.stderr)
