"""First use on a new machine: get into the store what a spec needs and the store lacks.

``hypebt run``, ``sweep`` and ``study`` call :func:`ensure_data` before preparing a run. A local
dataset in akshare's format beside the workspace (:func:`local_dataset`) is imported once into an
empty store (its forward-adjusted market, and its traded prices with their adjustment factor,
``ashare_raw/market_raw.parquet``, when it has them: runs then read those); otherwise missing codes and the benchmark are fetched through akshare, unless the
command runs ``--offline`` (then preparing the run reports what is missing).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypebt.core.errors import DataError
from hypebt.core.workspace import is_workspace
from hypebt.data import universes as U
from hypebt.data.market_index import EQUAL_WEIGHT

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
    from hypebt.data.akshare_client import Akshare

    return Akshare(notify=lambda text: print(f"note: {text}", file=sys.stderr))


def _board_codes(spec, store, ws: Path) -> list[str]:
    """Every code the stored snapshots of a board universe's boards list (what a first run fetches)."""
    from hypebt.data import boards as B
    from hypebt.data import events as E

    named = set(spec.board_names)
    if not named and spec.events is not None:  # universe = "event_boards"
        named = {b for ev in E.choose(spec.events, ws, str(spec.path)) for b in ev.boards}
    return B.board_codes(store, named)


def needed_codes(spec, store, ws: Path) -> list[str]:
    """The stock codes ``spec`` runs on that the store should hold: its ``codes`` and its
    universe's, each once (a board universe's members only for a store without any stock bars)."""
    codes = list(spec.codes)
    if getattr(spec, "uses_boards", False):
        # A board universe's members without bars are reported per event, not fetched one by one:
        # only a store without any stock bars gets them (first use).
        if not [d for d in store.datasets() if d.startswith("stock_")]:
            codes += _board_codes(spec, store, ws)
    elif spec.universe and spec.universe != U.ALL:  # "all": whatever the store holds (see ensure_data)
        codes += list(U.load_universe(spec.universe, ws).codes)
    return list(dict.fromkeys(codes))


def missing_data(spec, store, ws: Path) -> tuple[list[str], bool, bool]:
    """(codes the store lacks, benchmark missing, store has stock bars) for ``spec``."""
    codes = needed_codes(spec, store, ws)
    stock_sets = [d for d in store.datasets() if d.startswith("stock_")]
    have: set = set()
    if stock_sets and codes:
        have = set(store.code_ranges(store.stock_dataset(spec.adjust)).index)
    missing = [c for c in codes if c not in have]
    # "equal_weight" is built from the store's own stocks (hypebt.data.market_index), never fetched
    bench_missing = spec.benchmark != EQUAL_WEIGHT and (
        "index" not in store.datasets() or spec.benchmark not in set(store.code_ranges("index").index))
    return missing, bench_missing, bool(stock_sets)


def _import_local(spec, store, local: Path, plausible) -> None:
    # First use beside a dataset in akshare's format: import it rather than ask akshare, through the
    # same checks as hypebt data import (``plausible``: the market layer's check of prices no daily
    # limit allows, hypebt.market.plausible.CHECK, passed in by the caller: data does not import market).
    from hypebt.data.importers import import_paths

    paths = [local / "ashare" / "market.parquet"]
    paths += [p for p in [local / "index" / f"{spec.benchmark}.csv"] if p.is_file()]
    print(f"first use: importing {', '.join(map(str, paths))} into {store.root}", file=sys.stderr)
    for line in import_paths(store, paths, plausible=plausible).lines():
        print(line, file=sys.stderr)
    # Traded prices with their adjustment factor, when the dataset has them: runs then read them (the
    # store prefers them), with fills, limits and dividends as the market had them.
    raw = local / "ashare_raw" / "market_raw.parquet"
    if raw.is_file():
        print(f"first use: importing {raw} (traded prices and their adjustment factor) into {store.root}",
              file=sys.stderr)
        for line in import_paths(store, [raw], adjust="raw", plausible=plausible).lines():
            print(line, file=sys.stderr)


def ensure_data(spec, store, ws: Path, offline: bool, *, plausible) -> None:
    """Fetch through akshare what ``spec`` needs and ``store`` lacks (first use on a new machine).

    ``spec`` is a :class:`hypebt.engine.spec.Spec` (only ``codes``, ``universe``, ``adjust``,
    ``benchmark``, ``start`` and ``end`` are read). With ``offline`` nothing is fetched.
    ``plausible``: the check of prices no daily limit allows that every import runs
    (:data:`hypebt.market.plausible.CHECK`; required, so no caller imports around it).

    >>> ensure_data(load_spec("backtests/sora_hype.toml"), open_store(), Path("."), offline=True,
    ...             plausible=CHECK)  # doctest: +SKIP
    """
    missing, bench_missing, has_stocks = missing_data(spec, store, ws)
    if spec.universe == U.ALL and not has_stocks:
        missing = ["the whole market"]  # nothing to fetch code by code: a local dataset, or an error below
    if not missing and not bench_missing:
        return
    local = local_dataset(ws)
    if local is not None and not has_stocks:
        if not is_workspace(ws):
            # Never fill a new store in a folder the user did not mean as a workspace.
            raise DataError(f"{store.root}: the store has no stock bars and {ws} is not a workspace (no strategies/ "
                            f"or data/); run from your workspace or pass --workspace, or import on purpose: "
                            f"hypebt --home {store.root} data import {local / 'ashare' / 'market.parquet'}")
        _import_local(spec, store, local, plausible)
        return ensure_data(spec, store, ws, True, plausible=plausible)
    if offline:
        return  # preparing the run reports what is missing
    if spec.universe == U.ALL and not has_stocks:
        raise DataError(f"{store.root}: universe = \"all\" needs the whole market in the store; import it "
                        "(hypebt data import market.parquet) rather than fetch thousands of codes one by one")
    from hypebt.data import sources

    # The same path as 'hypebt data fetch --universe NAME --start ... --end ...': the benchmark
    # first, then the codes, over the spec's own dates, skipping what the store already holds.
    adjust = spec.adjust or (store.manifest(store.stock_dataset())["adjust"] if has_stocks else "qfq")
    bench = f" and benchmark {spec.benchmark}" if bench_missing else ""
    print(f"fetching {len(missing)} code(s) ({adjust}){bench} through akshare; the store caches them",
          file=sys.stderr)
    sources.fetch_bars(store, missing, [spec.benchmark] if bench_missing else [], spec.start or DEFAULT_FETCH_START,
                       spec.end, adjust, source=_source())
