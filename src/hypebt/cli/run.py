"""``hypebt run SPEC``: one backtest, its report, and a one-line summary."""

from __future__ import annotations

import time
from pathlib import Path

from hypebt.cli.common import print_notes, refuse_unread_overrides, store_of, update_index, workspace_of
from hypebt.core.errors import InputError
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
    store = store_of(args)
    ensure_data(spec, store, ws, args.offline)
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
    report.write_run(prep, result, out, command=["hypebt", *args.argv], html_report=not args.no_html, names=names)
    if not args.out:
        history.point_latest(base, out, "report.html" if not args.no_html else "stats.json")
    s = result.stats
    print_notes(prep.warnings, prep.warning)
    print(f"{spec.name}: {prep.strategy_name} on {prep.universe_name} {s['start']}..{s['end']}: "
          f"return {_pct(s['total_return'])} (benchmark {spec.benchmark} {_pct(s['benchmark_total_return'])}), "
          f"sharpe {_num(s['sharpe'])}, max drawdown {_pct(s['max_drawdown'])}, "
          f"{s['n_trades']} trades, {s['refused_orders']} refused/cancelled orders, "
          f"fees {s['fees']:.2f}, borrow {s['borrow_fees']:.2f} CNY  [{time.perf_counter() - t0:.1f}s]")
    print(f"report: {out / 'report.html' if not args.no_html else out}")
    update_index(args, reports)
    return 0
