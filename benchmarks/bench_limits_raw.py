"""Limits on traded prices, over the whole raw dataset: do hypebt's rules explain every bar?

Imports ``<data>/ashare_raw/market_raw.parquet`` as it is (``--adjust raw``, its ``adj_factor``
kept) into a temporary store, loads it back and runs :func:`hypebt.research.limit_audit.audit`:
the share of one-price limit sessions sitting exactly on the computed limit (target >= 99.9 %),
the share of rows inside their limits (target >= 99.99 %), and every exception the rules do not
explain. Prints timings and the load average; asserts nothing (figures belong here, not in tests).

Usage::

    python benchmarks/bench_limits_raw.py [--data ../shared/data] [--exceptions out.csv]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from hypebt.data.importers import import_paths
from hypebt.data.store import Store
from hypebt.research.limit_audit import audit

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"at_limit": 0.999, "inside": 0.9999}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = os.environ.get("HYPEBT_SHARED_DATA")
    ap.add_argument("--data", type=Path, default=Path(env) if env else REPO.parent / "shared" / "data")
    ap.add_argument("--exceptions", type=Path, help="write every exception to this CSV")
    args = ap.parse_args(argv)
    path = args.data / "ashare_raw" / "market_raw.parquet"
    if not path.is_file():
        print(f"no raw dataset at {path}", file=sys.stderr)
        return 3
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "store")
        t0 = time.perf_counter()
        import_paths(store, [path], adjust="raw")
        t1 = time.perf_counter()
        bars = store.load("stock_raw")
        t2 = time.perf_counter()
        result = audit(bars)
        t3 = time.perf_counter()
    print(f"bench_limits_raw: {path} ({len(bars):,} rows, {bars['code'].nunique():,} stocks, "
          f"{bars['date'].min().date()}..{bars['date'].max().date()})")
    for line in result.lines(show=50):
        print(line)
    print(f"targets: one-price at the limit >= {TARGETS['at_limit']:.1%}: "
          f"{'met' if result.at_limit_share >= TARGETS['at_limit'] else 'NOT met'}; rows inside >= "
          f"{TARGETS['inside']:.2%}: {'met' if result.inside_share >= TARGETS['inside'] else 'NOT met'}")
    print(f"timings: import {t1 - t0:.1f}s, load {t2 - t1:.1f}s, audit {t3 - t2:.1f}s; "
          f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.exceptions:
        result.exceptions_frame().to_csv(args.exceptions, index=False)
        print(f"exceptions written to {args.exceptions}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
