"""``hypebt data import|fetch|info|check|concepts``: what goes into the store, and what it holds."""

from __future__ import annotations

import sys

from hypebt.cli.common import store_of, workspace_of
from hypebt.core.errors import DataError, InputError
from hypebt.core.paths import safe_name
from hypebt.data.bootstrap import DEFAULT_FETCH_START


def _source(min_interval: float = 1.0):
    from hypebt.data.sources import Akshare

    return Akshare(min_interval=min_interval)


def _summary_line(what: str, summary: dict) -> str:
    keys = ("codes", "rows", "fetched", "skipped", "up_to_date")
    parts = [f"{k}={summary[k] if not isinstance(summary[k], (list, tuple, set)) else len(summary[k])}"
             for k in keys if k in summary]
    return f"{what}: " + " ".join(parts)


def do_import(args, store) -> int:
    """Import akshare-format CSVs, index CSVs or a market parquet; print the import report."""
    from hypebt.data.importers import import_paths

    report = import_paths(store, args.paths, adjust=args.adjust, lenient=args.lenient, keep_going=args.keep_going)
    for line in report.lines():
        print(line)
    return 0


def do_fetch(args, store) -> int:
    """Fetch stocks (codes, a universe), indexes and the calendar through akshare."""
    from hypebt.data import sources
    from hypebt.data import universes as U

    codes = list(args.codes)
    if args.universe:
        codes += list(U.load_universe(args.universe, workspace_of(args)).codes)
    if not codes and not args.index and not args.calendar:
        raise InputError("data fetch: give codes, --universe NAME, --index SYMBOL or --calendar")
    src = _source(args.min_interval)
    if codes:
        summary = sources.fetch_stocks(store, codes, args.start or DEFAULT_FETCH_START, args.end,
                                       adjust=args.adjust, source=src)
        print(_summary_line("stocks", summary))
    if args.index:
        summary = sources.fetch_index(store, args.index, source=src, start=args.start, end=args.end)
        print(_summary_line("index", summary))
    if args.calendar:
        summary = sources.fetch_calendar(store, source=src)
        print(f"calendar: {summary['sessions']} sessions {summary['first']}..{summary['last']}")
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
        print(f"  {name:10s} {m['rows']:>10,} rows  {m['codes']:>5,} codes  {m['first_date']}..{m['last_date']}"
              f"  adjust={m['adjust']}  as_of={m['as_of']}  sha256={m['sha256'][:12]}"
              f"  from {', '.join(m.get('sources', []))}")
    return 0


def do_check(args, store) -> int:
    """Check every dataset against its manifest; problems on stderr and exit 3."""
    names = store.datasets()
    problems = store.check()
    for p in problems:
        print(f"problem: {p}", file=sys.stderr)
    if problems:
        raise DataError(f"{len(problems)} of {len(names)} dataset(s) failed the check (see above)")
    print(f"ok: {len(names)} dataset(s) match their manifests ({', '.join(names) or 'empty store'})")
    return 0


def do_concepts(args, store) -> int:
    """Snapshot an Eastmoney concept board as a universe CSV (a look-ahead list)."""
    from hypebt.data import sources

    name = safe_name(args.name or args.board, "universe name")
    out = workspace_of(args) / "data" / "universes" / f"{name}.csv"
    path = sources.snapshot_concept(args.board, out, source=_source())
    print(f"wrote {path} (concept list: reports using it carry a look-ahead warning)")
    return 0


ACTIONS = {"import": do_import, "fetch": do_fetch, "info": do_info, "check": do_check, "concepts": do_concepts}


def run(args) -> int:
    """``hypebt data ACTION``."""
    return ACTIONS[args.data_command](args, store_of(args))
