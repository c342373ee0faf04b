"""``hypebt data import|fetch|reference|dividends|info|check|concepts``: what goes into the store, and what it holds."""

from __future__ import annotations

import datetime as dt
import sys

from hypebt.cli.common import plausible_check, store_of, workspace_of
from hypebt.core.errors import DataError, InputError
from hypebt.data.bootstrap import DEFAULT_FETCH_START

DEFAULT_BENCHMARK = "sh000300"


def _note(text: str) -> None:
    print(f"note: {text}", file=sys.stderr)


def _source(min_interval: float = 2.0, max_interval: float | None = None, cooldown: float = 600.0):
    from hypebt.data.akshare_client import Akshare

    return Akshare(min_interval=min_interval, max_interval=max(max_interval or min_interval * 2.5, min_interval),
                   cooldown=cooldown, notify=_note)


def _summary_line(what: str, summary: dict) -> str:
    keys = ("codes", "rows", "fetched", "skipped", "empty", "up_to_date")
    parts = [f"{k}={summary[k] if not isinstance(summary[k], (list, tuple, set)) else len(summary[k])}"
             for k in keys if k in summary]
    return f"{what}: " + " ".join(parts)


def do_import(args, store) -> int:
    """Import bar files and folders (formats: hypebt.data.formats.read_source); print the import report."""
    from hypebt.data.importers import import_paths

    report = import_paths(store, args.paths, adjust=args.adjust, volume_unit=args.volume_unit, columns=args.columns,
                          lenient=args.lenient, keep_going=args.keep_going, mode=args.mode,
                          plausible=plausible_check())
    for line in report.lines():
        print(line)
    return 0


def do_fetch(args, store) -> int:
    """Fetch stocks (codes, a universe and its benchmark), indexes and the calendar through akshare."""
    from hypebt.data import sources
    from hypebt.data import universes as U

    codes = list(args.codes)
    indexes = list(args.index)
    if args.universe:
        codes += list(U.load_universe(args.universe, workspace_of(args)).codes)
        if not indexes:
            indexes = [DEFAULT_BENCHMARK]  # the default benchmark of specs and reports
    if not codes and not indexes and not args.calendar:
        raise InputError("data fetch: give codes, --universe NAME, --index SYMBOL or --calendar")
    src = _source(args.min_interval, args.max_interval, args.cooldown)
    if args.calendar:
        summary = sources.fetch_calendar(store, source=src)
        print(f"calendar: {summary['sessions']} sessions {summary['first']}..{summary['last']}")
    out = sources.fetch_bars(store, codes, indexes, args.start or DEFAULT_FETCH_START, args.end, args.adjust,
                             source=src, index_start=args.start, commit_every=args.commit_every)
    if out["index"] is not None:
        print(_summary_line("index", out["index"]))
    if out["stocks"] is not None:
        summary = out["stocks"]
        print(_summary_line("stocks", summary) + f" through={summary['through']}")
        for code in summary["empty"]:
            print(f"  empty: {code}: {summary['why'][code]}")
    return 0


def do_reference(args, store) -> int:
    """Fetch the dated reference tables through akshare, or import one from a CSV."""
    from hypebt.data import reference

    if args.import_csv:
        name, path = args.import_csv
        if not args.as_of:
            raise InputError("data reference --import: give --as-of YYYY-MM-DD, the date the CSV is true up to")
        if name == "dividends":  # akshare's and Tushare's tables too, as data dividends --import reads them
            from hypebt.data import dividends

            m = dividends.import_files(store, [path], as_of=args.as_of)
        else:
            m = reference.import_csv(store, name, path, as_of=args.as_of)
        print(f"{name}: {m['rows']:,} rows as of {m['as_of']} from {', '.join(m['sources'])}")
        return 0
    from hypebt.data.reference_fetch import WHAT, fetch_reference

    what = tuple(args.only) or WHAT
    for name in what:
        reference.schema(name)
    summary = fetch_reference(store, source=_source(args.min_interval), what=what, since=args.since,
                              today=dt.date.today())
    for name in what:
        if name in summary:
            print(f"{name}: {summary[name]['rows']:,} rows as of {summary[name]['as_of']}")
    for name, why in summary["errors"].items():
        print(f"{name}: not fetched: {why}", file=sys.stderr)
    if summary["errors"] and len(summary["errors"]) == len(what):
        from hypebt.core.errors import SourceError

        raise SourceError(f"no reference table could be fetched ({', '.join(summary['errors'])}); see above")
    return 0


def do_dividends(args, store) -> int:
    """Fetch dividend records through akshare (per code, or the whole market per report period), or
    import saved tables (hypebt.data.dividends)."""
    from hypebt.data import dividends
    from hypebt.data import universes as U

    if args.import_paths:
        if not args.as_of:
            raise InputError("data dividends --import: give --as-of YYYY-MM-DD, the date the tables are complete up to")
        m = dividends.import_files(store, args.import_paths, as_of=args.as_of)
        print(f"dividends: {m['rows']:,} rows as of {m['as_of']} from {', '.join(m['sources'])}")
        return 0
    codes = list(args.codes)
    if args.universe:
        codes += list(U.load_universe(args.universe, workspace_of(args)).codes)
    periods = dividends.report_periods(args.since, dt.date.today()) if args.market else []
    if not codes and not periods:
        raise InputError("data dividends: give codes, --universe NAME, --market, or --import PATH")
    summary = dividends.fetch(store, source=_source(args.min_interval), codes=list(dict.fromkeys(codes)),
                              periods=periods)
    print(f"dividends: {summary['rows']:,} rows as of {summary['as_of']}"
          + (f" ({summary['added']:,} fetched now)" if "added" in summary else ""))
    for what in summary["empty"]:
        print(f"  empty: {what}: akshare has no dividend records for it")
    for what, why in summary["errors"].items():
        print(f"{what}: not fetched: {why}", file=sys.stderr)
    if summary["errors"] and not summary.get("added"):
        from hypebt.core.errors import SourceError

        raise SourceError(f"no dividend records could be fetched ({', '.join(summary['errors'])}); see above")
    return 0


def do_info(args, store) -> int:
    """One line per dataset: rows, codes, dates, adjustment, hash and sources."""
    names = store.datasets()
    if not names:
        print(f"{store.root}: empty store; run 'hypebt data import PATH' or 'hypebt data fetch CODE'")
        return 0
    print(f"store: {store.root}")
    for name in names:
        m = store.manifest(name)
        print(f"  {name:11s} {m['rows']:>10,} rows  {m['codes']:>5,} codes  {m['first_date']}..{m['last_date']}"
              f"  adjust={m['adjust']}  as_of={m['as_of']}  sha256={m['sha256'][:12]}"
              f"  from {', '.join(m.get('sources', []))}")
    return 0


def do_check(args, store) -> int:
    """Check every dataset against its manifest (problems on stderr, exit 3), and report sessions that
    differ from exchange_calendars' XSHG (warnings)."""
    import pandas as pd

    from hypebt.data.calendar import store_sessions
    from hypebt.data.calendar_check import cross_check

    names = store.datasets()
    problems = store.check()
    for p in problems:
        print(f"problem: {p}", file=sys.stderr)
    if problems:
        raise DataError(f"{len(problems)} of {len(names)} dataset(s) failed the check (see above)")
    print(f"ok: {len(names)} dataset(s) match their manifests ({', '.join(names) or 'empty store'})")
    # Compared where the store holds bars: a calendar reaching back to 1990 is not the point.
    bars = [store.manifest(n) for n in names if n.startswith("stock_") or n == "index"]
    if not bars:
        return 0
    first = min(pd.Timestamp(m["first_date"]) for m in bars)
    last = min(max(pd.Timestamp(m["last_date"]) for m in bars), pd.Timestamp(dt.date.today()))
    # Only a calendar or the CSI 300's dates are sessions: a stock's dates lack its suspensions.
    sessions = store_sessions(store, stock_dates=False)
    if sessions is None:
        return 0
    sessions = sessions[(sessions >= first) & (sessions <= last)]
    if not len(sessions):
        return 0
    check = cross_check(sessions)
    if check is None:
        print("sessions: not cross-checked (pip install exchange_calendars, or hypebt[calendars], to compare "
              "them with the exchange's calendar)")
        return 0
    if check.ok:
        print(f"ok: sessions {check.first.date()}..{check.last.date()} match exchange_calendars' XSHG")
        return 0
    # Reported, not failed: the files are sound; the dates are for the user to judge.
    for line in check.lines():
        print(f"warning: {line}")
    return 0


def do_concepts(args, store) -> int:
    """``data concepts BOARD | import PATH... | list`` (:mod:`hypebt.cli.concepts`)."""
    from hypebt.cli import concepts

    return concepts.run(args, store, _source)


def do_stock_list(args, store) -> int:
    """Store a stock-list snapshot: names for whole-market studies, caps for size-matched markets."""
    from hypebt.data import stock_info

    frame = stock_info.read_stock_list(args.path, args.as_of)
    m = stock_info.save(store, frame, source=str(args.path))
    print(f"stored {m['rows']:,} stocks as of {m['as_of']} ({stock_info.DATASET}); caps from one snapshot are "
          "look-ahead for earlier events")
    return 0


ACTIONS = {"import": do_import, "fetch": do_fetch, "reference": do_reference, "dividends": do_dividends,
           "info": do_info, "check": do_check, "concepts": do_concepts, "stock-list": do_stock_list}


def run(args) -> int:
    """``hypebt data ACTION``."""
    return ACTIONS[args.data_command](args, store_of(args))
