"""Store benchmark: import the whole shared market, then load it back.

Imports ``<data>/ashare/market.parquet`` into a temporary store (validation
included), then times loading the whole market and the 37 codes of the Sora
universe, each repeated (min and median reported). Not a test: timings belong
here, not in assertions.

Usage::

    python benchmarks/bench_store.py [--data ../shared/data] [--repeat 3]

``--data`` defaults to ``$HYPEBT_SHARED_DATA``, else ``<repo>/../shared/data``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

from hypebt.data.importers import import_paths
from hypebt.data.store import Store
from hypebt.data.universes import load_universe

REPO = Path(__file__).resolve().parents[1]
LOAD_TARGET_S = 2.0


def default_data() -> Path:
    env = os.environ.get("HYPEBT_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def timed(fn, repeat: int):
    """Run ``fn`` ``repeat`` times; return (seconds per run, last result)."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def summary(times: list[float]) -> str:
    return f"min {min(times):.2f} s, median {statistics.median(times):.2f} s over {len(times)}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default_data(), help="the shared data folder")
    ap.add_argument("--repeat", type=int, default=3, help="load repetitions (default 3)")
    args = ap.parse_args(argv)
    market = args.data / "ashare" / "market.parquet"
    if not market.is_file():
        print(f"bench_store: {market} not found; pass --data or set HYPEBT_SHARED_DATA", file=sys.stderr)
        return 2
    codes = list(load_universe("sora", REPO).codes)

    with tempfile.TemporaryDirectory(prefix="hypebt-bench-") as tmp:
        store = Store(Path(tmp) / "store")
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the 4 non-positive qfq rows of 872541
            report = import_paths(store, [market])
        t_import = time.perf_counter() - t0
        rows = report.written["stock_qfq"]["rows"]
        size = (store.root / "stock_qfq" / "bars.parquet").stat().st_size
        print(f"import: {t_import:.1f} s ({rows:,} rows, {size / 2**20:.0f} MiB on disk)")

        times, whole = timed(lambda: store.load("stock_qfq"), args.repeat)
        print(f"load whole market: {min(times):.2f} s ({len(whole):,} rows; {summary(times)}; "
              f"target < {LOAD_TARGET_S:.0f} s)")
        del whole

        times, _ = timed(lambda: store.load("stock_qfq", verify=False), args.repeat)
        print(f"load whole market, hash check skipped: {min(times):.2f} s ({summary(times)})")

        times, some = timed(lambda: store.load("stock_qfq", codes=codes), args.repeat)
        print(f"load {len(codes)} codes (sora): {min(times):.3f} s ({len(some):,} rows; {summary(times)})")

        times, _ = timed(lambda: store.load("stock_qfq", codes=codes, verify=False), args.repeat)
        print(f"load {len(codes)} codes, hash check skipped: {min(times):.3f} s ({summary(times)})")

        times, _ = timed(store.check, args.repeat)
        print(f"data check: {min(times):.2f} s ({summary(times)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
