"""First use on a new machine: get into the store what a spec needs and the store lacks.

``hypebt run``, ``sweep`` and ``study`` call :func:`ensure_data` before preparing a run. A local
dataset in akshare's format beside the workspace (:func:`local_dataset`) is imported once into an
empty store; otherwise missing codes and the benchmark are fetched through akshare, unless the
command runs ``--offline`` (then preparing the run reports what is missing).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypebt.data import universes as U

DEFAULT_FETCH_START = "2021-01-04"


def local_dataset(ws: Path) -> Path | None:
    """A local dataset in akshare's format: ``$HYPEBT_SHARED_DATA``, else ``../shared/data``
    beside the workspace; None when neither holds ``ashare/market.parquet``.

    >>> local_dataset(Path("."))                  # doctest: +SKIP
    PosixPath('../shared/data')
    """
    env = os.environ.get("HYPEBT_SHARED_DATA")
    for folder in ([Path(env)] if env else []) + [ws.resolve().parent / "shared" / "data"]:
        if (folder / "ashare" / "market.parquet").is_file():
            return folder
    return None


def _source():
    from hypebt.data.sources import Akshare

    return Akshare(min_interval=1.0)


def _missing(spec, store, ws: Path) -> tuple[list[str], bool, bool]:
    """(codes the store lacks, benchmark missing, store has stock bars) for ``spec``."""
    codes = list(spec.codes)
    if spec.universe:
        codes += list(U.load_universe(spec.universe, ws).codes)
    stock_sets = [d for d in store.datasets() if d.startswith("stock_")]
    have: set = set()
    if stock_sets:
        have = set(store.code_ranges(store.stock_dataset(spec.adjust)).index)
    missing = [c for c in dict.fromkeys(codes) if c not in have]
    bench_missing = "index" not in store.datasets() or spec.benchmark not in set(store.code_ranges("index").index)
    return missing, bench_missing, bool(stock_sets)


def _import_local(spec, store, local: Path) -> None:
    # First use beside a dataset in akshare's format: import it rather than ask akshare.
    from hypebt.data.importers import import_paths

    paths = [local / "ashare" / "market.parquet"]
    paths += [p for p in [local / "index" / f"{spec.benchmark}.csv"] if p.is_file()]
    print(f"first use: importing {', '.join(map(str, paths))} into {store.root}", file=sys.stderr)
    for line in import_paths(store, paths).lines():
        print(line, file=sys.stderr)


def ensure_data(spec, store, ws: Path, offline: bool) -> None:
    """Fetch through akshare what ``spec`` needs and ``store`` lacks (first use on a new machine).

    ``spec`` is a :class:`hypebt.engine.spec.Spec` (only ``codes``, ``universe``, ``adjust``,
    ``benchmark``, ``start`` and ``end`` are read). With ``offline`` nothing is fetched.

    >>> ensure_data(load_spec("backtests/sora_hype.toml"), open_store(), Path("."), offline=True)  # doctest: +SKIP
    """
    missing, bench_missing, has_stocks = _missing(spec, store, ws)
    if not missing and not bench_missing:
        return
    local = local_dataset(ws)
    if local is not None and not has_stocks:
        _import_local(spec, store, local)
        return ensure_data(spec, store, ws, True)
    if offline:
        return  # preparing the run reports what is missing
    from hypebt.data import sources

    src = _source()
    if missing:
        adjust = spec.adjust or (store.manifest(store.stock_dataset())["adjust"] if has_stocks else "qfq")
        adjust = "none" if adjust == "raw" else adjust
        print(f"fetching {len(missing)} code(s) through akshare ({adjust}); the store caches them",
              file=sys.stderr)
        sources.fetch_stocks(store, missing, spec.start or DEFAULT_FETCH_START, spec.end, adjust=adjust,
                             source=src)
    if bench_missing:
        print(f"fetching benchmark {spec.benchmark} through akshare", file=sys.stderr)
        sources.fetch_index(store, [spec.benchmark], source=src)
