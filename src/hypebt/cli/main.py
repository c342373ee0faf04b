"""The ``hypebt`` command line: the parser and the dispatch to one module per command
(:mod:`hypebt.cli.data`, :mod:`~hypebt.cli.listing`, :mod:`~hypebt.cli.run`,
:mod:`~hypebt.cli.sweep`, :mod:`~hypebt.cli.study`, :mod:`~hypebt.cli.report`).

Every error a user can fix prints one line on stderr and exits with the code
listed in ``hypebt --help``; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from hypebt import __version__
from hypebt.core.errors import EXIT_CODES, HypebtError

# Price adjustments on the command line: qfq, hfq, raw (traded prices; "none" is the same).
ADJUST_CHOICES = ("qfq", "hfq", "raw", "none")


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
    p.add_argument("--workspace", help="workspace with strategies/, backtests/, data/ (default: the nearest "
                   "folder above the spec holding strategies/ or data/, else the current folder)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    data = sub.add_parser("data", help="import, fetch and check market data")
    dsub = data.add_subparsers(dest="data_command", metavar="ACTION")
    dsub.required = True
    imp = dsub.add_parser("import", help="import bar tables (akshare, Tushare, baostock, English OHLCV) or folders of them")
    imp.add_argument("paths", nargs="+", metavar="PATH", help="files, or folders (every .csv and .parquet in them)")
    imp.add_argument("--adjust", choices=ADJUST_CHOICES, default=None,
                     help="what the stock prices are where the file does not say: qfq, hfq or raw (none = raw); "
                          "default: akshare tables are qfq, other formats must say")
    imp.add_argument("--volume-unit", choices=("lots", "shares"),
                     help="volume unit where the format does not say and the amounts do not tell")
    imp.add_argument("--columns", metavar="FIELD=COLUMN,...",
                     help="read any other table: e.g. date=trade_dt,close=px_last (other fields by English name)")
    imp.add_argument("--lenient", action="store_true", help="drop bad rows with a warning instead of refusing")
    imp.add_argument("--keep-going", action="store_true", help="refuse bad files, import the rest")
    hist = imp.add_mutually_exclusive_group()
    hist.add_argument("--merge", dest="mode", action="store_const", const="merge",
                      help="add the files' bars to the stored history of their codes (update the same dates)")
    hist.add_argument("--replace", dest="mode", action="store_const", const="replace",
                      help="replace each code's stored history with the files' bars; without --merge or "
                           "--replace an import that would drop stored bars is refused")
    fetch = dsub.add_parser("fetch", help="fetch daily bars through akshare into the store")
    fetch.add_argument("codes", nargs="*", metavar="CODE")
    fetch.add_argument("--start", help="first date, YYYY-MM-DD (default 2021-01-04)")
    fetch.add_argument("--end", help="last date, YYYY-MM-DD (default: the last closed session)")
    fetch.add_argument("--adjust", choices=ADJUST_CHOICES, default="qfq",
                       help="qfq/hfq adjusted, or raw (none): traded prices plus the hfq adjustment factor")
    fetch.add_argument("--index", action="append", default=[], metavar="SYMBOL",
                       help="also fetch an index, e.g. sh000300 (repeatable)")
    fetch.add_argument("--universe", help="fetch every code of a universe (data/universes/NAME.csv) and the "
                                          "benchmark (sh000300 unless --index is given)")
    fetch.add_argument("--calendar", action="store_true", help="also fetch akshare's trading calendar")
    fetch.add_argument("--min-interval", type=float, default=2.0, help="least seconds between akshare calls (default 2)")
    fetch.add_argument("--max-interval", type=float, default=5.0,
                       help="most seconds between akshare calls; each gap is drawn at random (default 5)")
    fetch.add_argument("--commit-every", type=int, default=20, metavar="N",
                       help="write the store every N codes, so an interrupted run keeps them (default 20)")
    fetch.add_argument("--cooldown", type=float, default=600.0,
                       help="seconds to pause after a streak of dropped connections (default 600)")
    ref = dsub.add_parser("reference", help="fetch or import dated reference data (listings, margin list, ST, suspensions)")
    ref.add_argument("--only", action="append", default=[], metavar="NAME",
                     help="fetch only this table (listings, margin_list, st_history, suspensions; repeatable)")
    ref.add_argument("--since", default="2010-01-01", help="first day of ST announcements to read (default 2010-01-01)")
    ref.add_argument("--import", dest="import_csv", nargs=2, metavar=("NAME", "CSV"),
                     help="import a reference table from a CSV instead of fetching it")
    ref.add_argument("--as-of", help="with --import: the date the CSV is true up to, YYYY-MM-DD")
    ref.add_argument("--min-interval", type=float, default=2.0, help="least seconds between akshare calls (default 2)")
    div = dsub.add_parser("dividends", help="fetch or import dividend records (cash, bonus and capitalisation "
                                            "shares per share, ex-, record and pay dates)")
    div.add_argument("codes", nargs="*", metavar="CODE",
                     help="stocks to fetch through akshare (stock_history_dividend_detail: Sina, one call per code)")
    div.add_argument("--universe", help="also fetch every code of a universe (data/universes/NAME.csv)")
    div.add_argument("--market", action="store_true",
                     help="fetch the whole market, one call per half-year report period from --since "
                          "(akshare stock_fhps_em: Eastmoney)")
    div.add_argument("--since", default="2020-06-30", help="with --market: the first report period (default 2020-06-30)")
    div.add_argument("--import", dest="import_paths", nargs="+", metavar="PATH",
                     help="import saved tables instead: akshare stock_history_dividend_detail / stock_fhps_em, "
                          "Tushare dividend exports, or hypebt's columns (.csv or .parquet)")
    div.add_argument("--as-of", help="with --import: the date the tables are complete up to, YYYY-MM-DD")
    div.add_argument("--min-interval", type=float, default=2.0, help="least seconds between akshare calls (default 2)")
    dsub.add_parser("info", help="what the store holds")
    dsub.add_parser("check", help="check every dataset against its manifest (hash, rows), and the sessions "
                                  "against exchange_calendars' XSHG when it is installed")
    sl = dsub.add_parser("stock-list", help="store a stock-list snapshot (names, market caps) with its date")
    sl.add_argument("path", help="a CSV with code,name[,总市值,流通市值,行业,...], e.g. ashare/stock_list.csv")
    sl.add_argument("--as-of", required=True, help="the day the snapshot was taken, YYYY-MM-DD")
    conc = dsub.add_parser(
        "concepts", help="concept boards as they were known: fetch one today, import snapshots, list the history",
        usage="hypebt data concepts BOARD [--name NAME] | import PATH... [--published TIME] | list [--as-of TIME] "
              "[--board NAME] [--pseudo]",
        description="BOARD: fetch today's members of an Eastmoney concept board through akshare into the store's "
                    "dated history (published now) and as a universe file. import PATH...: add snapshots from TDX/"
                    "hikyuu block files (UTF-8 or GBK), CSV board,code[,name] or Tushare concept_detail/ths_member/"
                    "dc_member exports. list: the boards known at a time, or one board's memberships.")
    conc.add_argument("words", nargs="+", metavar="BOARD | import PATH... | list",
                      help="a board name (e.g. Sora概念) or code (BK....); or import and its files; or list")
    conc.add_argument("--name", help="BOARD: universe file name (default: derived from the board)")
    conc.add_argument("--published", metavar="TIME",
                      help="import: when the snapshot was published (Beijing unless an offset is given, e.g. "
                           "2024-01-02T15:55; a date alone counts from the end of that day); not needed for "
                           "Tushare files that date their rows")
    conc.add_argument("--format", choices=("tdx", "csv", "concept_detail", "ths_member", "dc_member", "tdx_member"),
                      help="import: the file's format (default: detected from the file)")
    conc.add_argument("--board-names", metavar="FILE",
                      help="import: a Tushare ths_index/dc_index export (ts_code,name) naming the boards of "
                           "ths_member/dc_member files (else boards are named by their codes)")
    conc.add_argument("--prefix", default="", help="import: put before every board name (keep two vendors' boards "
                                                   "of the same name apart, e.g. ths:)")
    conc.add_argument("--as-of", metavar="TIME", help="list: what was known at this time (default: now; a date "
                                                      "alone is the start of that day)")
    conc.add_argument("--board", help="list: one board's memberships, with when each was first and last seen")
    conc.add_argument("--pseudo", action="store_true", help="list: the pseudo-boards (vendor lists of the day) "
                                                            "instead of the concepts")

    sub.add_parser("list", help="strategies with their parameters, event catalogues, universes, specs")

    run = sub.add_parser("run", help="run a backtest spec and write its report")
    run.add_argument("spec", help="a spec file, e.g. backtests/sora_hype.toml")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a spec value: hold_days=3, params.delay=1, rules.borrow_rate=0.1, start=2024-01-02")
    run.add_argument("--out", help="output folder (default: reports/<run name>)")
    run.add_argument("--no-html", action="store_true", help="skip the tearsheet (the CSV/JSON outputs are written)")
    run.add_argument("--offline", action="store_true", help="never fetch missing data through akshare")
    run.add_argument("--lang", choices=("zh", "en"),
                     help="language of the pages and the summary (default: the spec's lang, $HYPEBT_LANG, the locale, else en)")

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
    sw.add_argument("--validate", choices=("events",),
                    help="events: also run every combination on each event alone; walk-forward over the events in "
                         "time order and leave-one-event-out, into validation.csv and the page ([sweep] event_window, "
                         "validate_from)")
    sw.add_argument("--offline", action="store_true", help="never fetch missing data through akshare")
    sw.add_argument("--lang", choices=("zh", "en"),
                     help="language of the pages and the summary (default: the spec's lang, $HYPEBT_LANG, the locale, else en)")

    st = sub.add_parser("study", help="event study: abnormal returns and CARs around events, paper vs tradable")
    st.add_argument("spec", help="a spec with [events] and an optional [study] table")
    st.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a spec value")
    st.add_argument("--out", help="output folder (default: reports/<name>)")
    st.add_argument("--offline", action="store_true", help="never fetch missing data through akshare")
    st.add_argument("--lang", choices=("zh", "en"),
                     help="language of the pages and the summary (default: the spec's lang, $HYPEBT_LANG, the locale, else en)")

    rep = sub.add_parser("report", help="reports folder tools")
    rsub = rep.add_subparsers(dest="report_command", metavar="ACTION")
    rsub.required = True
    ri = rsub.add_parser("index", help="rebuild reports/index.html")
    ri.add_argument("--reports", help="reports folder (default: <workspace>/reports)")
    ri.add_argument("--lang", choices=("zh", "en"), help="language of the index (default: $HYPEBT_LANG, the locale, else en)")
    rp = rsub.add_parser("prune", help="delete old runs kept under reports/<name>/ (the latest stays)")
    rp.add_argument("names", nargs="*", metavar="NAME", help="run names (default: every run's history)")
    rp.add_argument("--keep", type=int, default=5, help="newest runs to keep per name (default: 5)")
    rp.add_argument("--reports", help="reports folder (default: <workspace>/reports)")
    rp.add_argument("--lang", choices=("zh", "en"), help="language of the rebuilt index")
    rk = rsub.add_parser("pack", help="write one self-contained HTML file of a page (charts' scripts inlined) to send")
    rk.add_argument("path", metavar="PATH", help="a page (report.html, sweep.html, study.html) or its folder, "
                                                  "e.g. reports/sora_hype/latest")
    rk.add_argument("--out", help="the file to write (default: beside the page, <folder>-<page>.packed.html)")
    return p


def _command(module: str):
    """The ``run(args)`` of ``hypebt.cli.<module>``, imported when the command is used."""
    def handler(args) -> int:
        return importlib.import_module(f"hypebt.cli.{module}").run(args)

    return handler


COMMANDS = {"data": _command("data"), "list": _command("listing"), "run": _command("run"), "sweep": _command("sweep"),
            "study": _command("study"), "report": _command("report")}


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
        hint = " (rerun with --debug for the traceback)" if exc.traceback_helps else ""
        print(f"hypebt: error: {' '.join(str(exc).split(chr(10)))}{hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hypebt: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader closed the output (`hypebt data concepts list | head`): stop quietly, as a
        # Unix tool killed by SIGPIPE does; point stdout at /dev/null so the exit flush cannot fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except SystemExit as exc:  # code that is not hypebt's called sys.exit(): never a quiet success
        if args.debug:
            raise
        print(f"hypebt: internal error: sys.exit({exc.code!r}) was called inside hypebt "
              "(rerun with --debug and report it)", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: say so plainly, keep the traceback behind --debug
        if args.debug or os.environ.get("HYPEBT_DEBUG"):
            raise
        print(f"hypebt: internal error: {exc.__class__.__name__}: {exc} (rerun with --debug and report it)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
