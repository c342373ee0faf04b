"""The ``hypebt`` command line.

Every error a user can fix prints one line on stderr and exits with the code
listed in ``hypebt --help``; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from hypebt import __version__
from hypebt.core.errors import EXIT_CODES, HypebtError, InputError
from hypebt.core.paths import safe_name, store_root, workspace


def _exit_codes_text() -> str:
    return "exit codes:\n" + "\n".join(f"  {code}  {text}" for code, text in sorted(EXIT_CODES.items()))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hypebt",
        description="Backtest event-driven strategies on China A-shares (Backtrader engine, "
                    "akshare data, quantstats reports).",
        epilog=_exit_codes_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"hypebt {__version__}")
    p.add_argument("--home", help="store folder (default: $HYPEBT_HOME or ./data/store)")
    p.add_argument("--workspace", help="workspace with strategies/, backtests/, data/ (default: current folder)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    data = sub.add_parser("data", help="import, fetch and check market data")
    dsub = data.add_subparsers(dest="data_command", metavar="ACTION")
    dsub.required = True
    imp = dsub.add_parser("import", help="import akshare-format CSVs, index CSVs or a market parquet")
    imp.add_argument("paths", nargs="+", metavar="PATH")
    imp.add_argument("--adjust", choices=("qfq", "hfq", "raw"), default="qfq",
                     help="what the stock prices are (akshare's shared tables are qfq; default qfq)")
    imp.add_argument("--lenient", action="store_true", help="drop bad rows with a warning instead of refusing")
    imp.add_argument("--keep-going", action="store_true", help="refuse bad files, import the rest")
    fetch = dsub.add_parser("fetch", help="fetch daily bars through akshare into the store")
    fetch.add_argument("codes", nargs="*", metavar="CODE")
    fetch.add_argument("--start", help="first date, YYYY-MM-DD (default 2021-01-04)")
    fetch.add_argument("--end", help="last date, YYYY-MM-DD (default today)")
    fetch.add_argument("--adjust", choices=("qfq", "hfq", "none"), default="qfq",
                       help="qfq/hfq adjusted, or none: traded prices plus the hfq adjustment factor")
    fetch.add_argument("--index", action="append", default=[], metavar="SYMBOL",
                       help="also fetch an index, e.g. sh000300 (repeatable)")
    fetch.add_argument("--universe", help="fetch every code of a universe (data/universes/NAME.csv)")
    fetch.add_argument("--calendar", action="store_true", help="also fetch akshare's trading calendar")
    fetch.add_argument("--min-interval", type=float, default=1.0, help="seconds between akshare calls (default 1)")
    dsub.add_parser("info", help="what the store holds")
    dsub.add_parser("check", help="check every dataset against its manifest (hash, rows)")
    conc = dsub.add_parser("concepts", help="snapshot an Eastmoney concept board as a universe")
    conc.add_argument("board", help="board name (e.g. Sora概念) or code (BK....)")
    conc.add_argument("--name", help="universe name (default: derived from the board)")

    sub.add_parser("list", help="strategies with their parameters, event catalogues, universes, specs")

    run = sub.add_parser("run", help="run a backtest spec and write its report")
    run.add_argument("spec", help="a spec file, e.g. backtests/sora_hype.toml")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a spec value: hold_days=3, params.delay=1, rules.borrow_rate=0.1, start=2024-01-02")
    run.add_argument("--out", help="output folder (default: reports/<run name>)")
    run.add_argument("--no-html", action="store_true", help="skip the tearsheet (the CSV/JSON outputs are written)")
    run.add_argument("--offline", action="store_true", help="never fetch missing data through akshare")

    sw = sub.add_parser("sweep", help="run a parameter sweep of a spec's [sweep] table")
    sw.add_argument("spec")
    sw.add_argument("--workers", type=int, help="local worker processes (default: all cores)")
    sw.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://127.0.0.1:8786")
    sw.add_argument("--out", help="output folder (default: reports/<name>_sweep)")
    sw.add_argument("--resume", action="store_true", help="keep the result store and skip finished combinations")
    sw.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a spec value")
    sw.add_argument("--top", type=int, default=None, help="tearsheets for the top N combinations (default 3)")
    sw.add_argument("--max-combinations", type=int, default=None, help="refuse grids larger than this (default 5000)")
    sw.add_argument("--batch", type=int, default=None, help="combinations per task (default: automatic)")
    sw.add_argument("--no-html", action="store_true", help="skip sweep.html and the tearsheets")
    sw.add_argument("--offline", action="store_true", help="never fetch missing data through akshare")

    st = sub.add_parser("study", help="event study: abnormal returns and CARs around events, paper vs tradable")
    st.add_argument("spec", help="a spec with [events] and an optional [study] table")
    st.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a spec value")
    st.add_argument("--out", help="output folder (default: reports/<name>)")
    st.add_argument("--offline", action="store_true", help="never fetch missing data through akshare")

    rep = sub.add_parser("report", help="reports folder tools")
    rsub = rep.add_subparsers(dest="report_command", metavar="ACTION")
    rsub.required = True
    ri = rsub.add_parser("index", help="rebuild reports/index.html")
    ri.add_argument("--reports", help="reports folder (default: <workspace>/reports)")
    return p


def _store(args):
    from hypebt.data.store import Store

    return Store(store_root(args.home, args.workspace))


def _source(min_interval: float = 1.0):
    from hypebt.data.sources import Akshare

    return Akshare(min_interval=min_interval)


def cmd_data(args) -> int:
    store = _store(args)
    ws = workspace(args.workspace)
    if args.data_command == "import":
        from hypebt.data.importers import import_paths

        report = import_paths(store, args.paths, adjust=args.adjust, lenient=args.lenient,
                              keep_going=args.keep_going)
        for line in report.lines():
            print(line)
        return 0
    if args.data_command == "fetch":
        from hypebt.data import sources
        from hypebt.data import universes as U

        codes = list(args.codes)
        if args.universe:
            codes += list(U.load_universe(args.universe, ws).codes)
        if not codes and not args.index and not args.calendar:
            raise InputError("data fetch: give codes, --universe NAME, --index SYMBOL or --calendar")
        src = _source(args.min_interval)
        if codes:
            summary = sources.fetch_stocks(store, codes, args.start or "2021-01-04", args.end,
                                           adjust=args.adjust, source=src)
            print(_summary_line("stocks", summary))
        if args.index:
            summary = sources.fetch_index(store, args.index, source=src, start=args.start, end=args.end)
            print(_summary_line("index", summary))
        if args.calendar:
            summary = sources.fetch_calendar(store, source=src)
            print(f"calendar: {summary['sessions']} sessions {summary['first']}..{summary['last']}")
        return 0
    if args.data_command == "info":
        names = store.datasets()
        if not names:
            print(f"{store.root}: empty store; run 'hypebt data import PATH' or 'hypebt data fetch CODE'")
            return 0
        print(f"store: {store.root}")
        for name in names:
            m = store.manifest(name)
            print(f"  {name:10s} {m['rows']:>10,} rows  {m['codes']:>5,} codes  {m['first_date']}..{m['last_date']}"
                  f"  adjust={m['adjust']}  as_of={m['as_of']}  sha256={m['sha256'][:12]}"
                  f"  from {', '.join(m.get('sources', []))}")
        return 0
    if args.data_command == "check":
        names = store.datasets()
        problems = store.check()
        for p in problems:
            print(f"problem: {p}", file=sys.stderr)
        if problems:
            from hypebt.core.errors import DataError

            raise DataError(f"{len(problems)} of {len(names)} dataset(s) failed the check (see above)")
        print(f"ok: {len(names)} dataset(s) match their manifests ({', '.join(names) or 'empty store'})")
        return 0
    if args.data_command == "concepts":
        from hypebt.data import sources

        name = safe_name(args.name or args.board, "universe name")
        out = ws / "data" / "universes" / f"{name}.csv"
        path = sources.snapshot_concept(args.board, out, source=_source())
        print(f"wrote {path} (concept list: reports using it carry a look-ahead warning)")
        return 0
    return 2


def _summary_line(what: str, summary: dict) -> str:
    keys = ("codes", "rows", "fetched", "skipped", "up_to_date")
    parts = [f"{k}={summary[k] if not isinstance(summary[k], (list, tuple, set)) else len(summary[k])}"
             for k in keys if k in summary]
    return f"{what}: " + " ".join(parts)


def cmd_list(args) -> int:
    from hypebt.data import events as E
    from hypebt.data import universes as U
    from hypebt.engine.strategy import load_strategy, strategy_paths

    ws = workspace(args.workspace)
    print("strategies (strategies/*.py):")
    for name, path in strategy_paths(ws / "strategies").items():
        try:
            cls = load_strategy(name, ws / "strategies")
            params = ", ".join(f"{k}={v!r}" for k, v in cls.PARAMS.items())
            doc = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or "").strip().splitlines()
            print(f"  {name}: {doc[0] if doc else ''}\n      params: {params}")
        except HypebtError as exc:
            print(f"  {name}: cannot load: {exc}")
    print("event catalogues (data/events/*.csv):")
    for name, path in E.catalogue_paths(ws).items():
        evs = E.load_catalogue(path)
        print(f"  {name}: {len(evs)} events: " + ", ".join(e.id for e in evs))
    print("universes (data/universes/*.csv):")
    for name, path in U.universe_paths(ws).items():
        u = U.read_universe(path)
        flag = " [concept list: look-ahead]" if u.look_ahead else ""
        print(f"  {name}: {len(u)} codes, snapshot {u.snapshot_date}{flag}")
    print("specs (backtests/*.toml):")
    for path in sorted((ws / "backtests").glob("*.toml")):
        print(f"  {path.relative_to(ws)}")
    return 0


def local_dataset(ws: Path) -> Path | None:
    """A local dataset in akshare's format: ``$HYPEBT_SHARED_DATA``, else ``../shared/data``."""
    env = os.environ.get("HYPEBT_SHARED_DATA")
    for folder in ([Path(env)] if env else []) + [ws.resolve().parent / "shared" / "data"]:
        if (folder / "ashare" / "market.parquet").is_file():
            return folder
    return None


def ensure_data(spec, store, ws, offline: bool) -> None:
    """Fetch through akshare what a spec needs and the store lacks (first use on a new machine)."""
    from hypebt.data import universes as U

    codes = list(spec.codes)
    if spec.universe:
        codes += list(U.load_universe(spec.universe, ws).codes)
    stock_sets = [d for d in store.datasets() if d.startswith("stock_")]
    have: set = set()
    if stock_sets:
        have = set(store.code_ranges(store.stock_dataset(spec.adjust)).index)
    missing = [c for c in dict.fromkeys(codes) if c not in have]
    bench_missing = "index" not in store.datasets() or spec.benchmark not in set(store.code_ranges("index").index)
    if not missing and not bench_missing:
        return
    local = local_dataset(ws)
    if local is not None and not stock_sets:
        # First use beside a dataset in akshare's format: import it rather than ask akshare.
        from hypebt.data.importers import import_paths

        paths = [local / "ashare" / "market.parquet"]
        paths += [p for p in [local / "index" / f"{spec.benchmark}.csv"] if p.is_file()]
        print(f"first use: importing {', '.join(map(str, paths))} into {store.root}", file=sys.stderr)
        for line in import_paths(store, paths).lines():
            print(line, file=sys.stderr)
        return ensure_data(spec, store, ws, True)
    if offline:
        return  # prepare() reports what is missing
    from hypebt.data import sources

    src = _source()
    if missing:
        adjust = spec.adjust or (store.manifest(store.stock_dataset())["adjust"] if stock_sets else "qfq")
        adjust = "none" if adjust == "raw" else adjust
        print(f"fetching {len(missing)} code(s) through akshare ({adjust}); the store caches them",
              file=sys.stderr)
        sources.fetch_stocks(store, missing, spec.start or "2021-01-04", spec.end, adjust=adjust, source=src)
    if bench_missing:
        print(f"fetching benchmark {spec.benchmark} through akshare", file=sys.stderr)
        sources.fetch_index(store, [spec.benchmark], source=src)


def cmd_run(args) -> int:
    from hypebt.engine import backtest as engine
    from hypebt.reports import run_report as report
    from hypebt.engine.spec import load_spec

    ws = workspace(args.workspace)
    spec = load_spec(args.spec, args.set)
    if not spec.strategy:
        raise InputError(f"{args.spec}: missing key 'strategy' (a file name in strategies/, e.g. \"hype_buy\"); "
                         "a spec with only [study] runs with hypebt study")
    store = _store(args)
    ensure_data(spec, store, ws, args.offline)
    t0 = time.perf_counter()
    prep = engine.prepare(spec, ws, store)
    result = engine.run(prep)
    out = Path(args.out) if args.out else ws / "reports" / safe_name(spec.name, "run name")
    report.write_run(prep, result, out, command=["hypebt", *args.argv], html_report=not args.no_html)
    s = result.stats
    _print_notes(prep.warnings, prep.look_ahead)
    fmt = lambda x, pct=True: "n/a" if x is None else (f"{x:+.2%}" if pct else f"{x:.2f}")  # noqa: E731
    print(f"{spec.name}: {prep.strategy_name} on {prep.universe_name} {s['start']}..{s['end']}: "
          f"return {fmt(s['total_return'])} (benchmark {spec.benchmark} {fmt(s['benchmark_total_return'])}), "
          f"sharpe {fmt(s['sharpe'], False)}, max drawdown {fmt(s['max_drawdown'])}, "
          f"{s['n_trades']} trades, {s['refused_orders']} refused/cancelled orders, "
          f"fees {s['fees']:.2f}, borrow {s['borrow_fees']:.2f} CNY  [{time.perf_counter() - t0:.1f}s]")
    print(f"report: {out / 'tearsheet.html' if not args.no_html else out}")
    _index(args, out.parent)
    return 0


def _print_notes(notes: list[str], look_ahead: bool) -> None:
    """A run's or study's notes, and the look-ahead warning of concept universes, on stderr."""
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if look_ahead:
        from hypebt.data.universes import LOOK_AHEAD_WARNING

        print(f"warning: {LOOK_AHEAD_WARNING}", file=sys.stderr)


def cmd_sweep(args) -> int:
    from hypebt.cli import sweep

    return sweep.run(args)


def cmd_study(args) -> int:
    from hypebt.research import study
    from hypebt.reports import study_page as study_report
    from hypebt.engine.spec import load_spec

    ws = workspace(args.workspace)
    spec = load_spec(args.spec, args.set)
    if spec.study is None and spec.events is None:
        raise InputError(f"{args.spec}: a study spec needs an [events] table and optionally [study]")
    store = _store(args)
    if spec.universe != "all":
        ensure_data(spec, store, ws, args.offline)
    t0 = time.perf_counter()
    inputs = study.prepare(spec, ws, store)
    abnormal, car, summary, skipped = study.compute(inputs.panel, inputs.tradables, inputs.cfg, inputs.names)
    curves = study.curves(abnormal, inputs.cfg.confidence)
    out = Path(args.out) if args.out else ws / "reports" / safe_name(spec.name, "study name")
    study_report.write(inputs, abnormal, car, summary, curves, skipped, out, command=["hypebt", *args.argv])
    _print_notes(inputs.notes + skipped, inputs.look_ahead)
    b = inputs.cfg.window[1]
    for row in summary.to_dict("records"):
        print(f"{row['event']}: n={row['n']} mean CAR[0,{b}] {row['mean_car_mkt']:+.2%} (market-adjusted), "
              f"{row['mean_car_mm']:+.2%} (market model), t p={row['t_p']:.3f}, sign p={row['sign_p']:.3f}; "
              f"paper {row['mean_paper']:+.2%} vs tradable {row['mean_tradable']:+.2%} "
              f"(gap {row['mean_gap']:+.2%}, {row['locked_day0']} locked on day 0)")
    print(f"report: {out / 'study.html'}  [{time.perf_counter() - t0:.1f}s]")
    _index(args, out.parent)
    return 0


def cmd_report(args) -> int:
    from hypebt.reports.index import write_index

    reports = Path(args.reports) if args.reports else workspace(args.workspace) / "reports"
    path = write_index(reports)
    print(f"index: {path}")
    return 0


def _index(args, reports: Path | None) -> None:
    """Rebuild reports/index.html after a command wrote into a reports folder (never replacing an
    index.html that hypebt did not write)."""
    from hypebt.reports.index import is_hypebt_index, write_index

    folder = reports or workspace(args.workspace) / "reports"
    if (folder / "index.html").exists() and not is_hypebt_index(folder / "index.html"):
        print(f"note: {folder / 'index.html'} is not hypebt's; left alone", file=sys.stderr)
        return
    write_index(folder)


COMMANDS = {"data": cmd_data, "list": cmd_list, "run": cmd_run, "sweep": cmd_sweep, "study": cmd_study,
            "report": cmd_report}


def main(argv: list[str] | None = None) -> int:
    import warnings

    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        with warnings.catch_warnings():
            # The import report already prints dropped rows: don't repeat them as Python warnings.
            warnings.filterwarnings("ignore", message=r".*dropped \d+ row")
            return COMMANDS[args.command](args) or 0
    except HypebtError as exc:
        if args.debug:
            raise
        # One line, whatever a file's column names or values contain.
        print(f"hypebt: error: {' '.join(str(exc).split(chr(10)))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hypebt: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so plainly, keep the traceback behind --debug
        if args.debug or os.environ.get("HYPEBT_DEBUG"):
            raise
        print(f"hypebt: internal error: {exc.__class__.__name__}: {exc} (rerun with --debug and report it)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
