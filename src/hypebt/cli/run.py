"""``hypebt run SPEC``: one backtest, its report, and a one-line summary."""

from __future__ import annotations

import time
from pathlib import Path

from hypebt.cli.common import (
    lang_of, plausible_check, print_notes, refuse_unread_overrides, store_of, update_index, workspace_of,
)
from hypebt.core.errors import InputError
from hypebt.core.i18n import translator
from hypebt.core.paths import safe_name
from hypebt.data.bootstrap import ensure_data


def _pct(x) -> str:
    return "n/a" if x is None else f"{x:+.2%}"


def _num(x) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def run(args) -> int:
    """Load the spec, get its data, run it, write the report and print the figures."""
    from hypebt.data import stock_info
    from hypebt.engine import backtest as engine
    from hypebt.engine.spec import load_spec
    from hypebt.reports import history
    from hypebt.reports import run_report as report

    ws = workspace_of(args)
    refuse_unread_overrides(args.set, "run", ("sweep", "study"))
    spec = load_spec(args.spec, args.set)
    if not spec.strategy:
        raise InputError(f"{args.spec}: missing key 'strategy' (a file name in strategies/, e.g. \"hype_buy\"); "
                         "a spec with only [study] runs with hypebt study")
    lang = lang_of(args, spec)
    _ = translator(lang)
    store = store_of(args)
    ensure_data(spec, store, ws, args.offline, plausible=plausible_check())
    t0 = time.perf_counter()
    prep = engine.prepare(spec, ws, store)
    result = engine.run(prep)
    if args.out:  # exactly there, replacing an earlier report in that folder
        out = Path(args.out)
        reports = out.parent
    else:  # reports/<name>/<Beijing timestamp>/, reports/<name>/latest: a rerun keeps the earlier ones
        base = ws / "reports" / safe_name(spec.name, "run name")
        out, reports = history.new_run_dir(base), base.parent
    names = {c: n for c, n in stock_info.names(store).items() if c in set(prep.codes)}
    try:
        report.write_run(prep, result, out, command=["hypebt", *args.argv], html_report=not args.no_html, names=names,
                         lang=lang, reports=ws / "reports")
    except BaseException:
        if not args.out:
            history.release(out)  # the claimed folder, still empty
        raise
    pruned = []
    if not args.out:
        history.point_latest(base, out, "report.html" if not args.no_html else "stats.json", lang=lang)
        if spec.keep:
            pruned = history.prune(base, spec.keep)
    s = result.stats
    print_notes(prep.warnings, prep.warning, lang)
    print(_("%(name)s: %(strategy)s on %(universe)s %(start)s..%(end)s: return %(ret)s (benchmark %(bench)s %(bret)s), "
            "sharpe %(sharpe)s, max drawdown %(dd)s, %(trades)s closed trades, %(open)s open at the end, "
            "%(refused)s orders refused by the market, %(cancelled)s cancelled by the strategy, %(expired)s expired, "
            "fees %(fees)s, borrow %(borrow)s CNY", name=spec.name, strategy=prep.strategy_name,
            universe=prep.universe_name, start=s["start"], end=s["end"], ret=_pct(s["total_return"]),
            bench=spec.benchmark, bret=_pct(s["benchmark_total_return"]), sharpe=_num(s["sharpe"]),
            dd=_pct(s["max_drawdown"]), trades=s["n_trades"], open=s["open_positions"], refused=s["refused_orders"],
            cancelled=s["cancelled_orders"], expired=s["expired_orders"], fees=f"{s['fees']:.2f}",
            borrow=f"{s['borrow_fees']:.2f}") + f"  [{time.perf_counter() - t0:.1f}s]")
    if pruned:
        print(_("pruned %(n)s old run(s) of %(name)s (keep = %(keep)s)", n=len(pruned), name=spec.name, keep=spec.keep))
    print(_("report: %(path)s", path=out / "report.html" if not args.no_html else out))
    update_index(args, reports, lang)
    return 0
