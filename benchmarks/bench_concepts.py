"""Concept-board history benchmark: importing a 50,000-membership snapshot, and what resolving
board universes for 40 events adds to a run.

1. **Import.** The shared Eastmoney snapshot of 2024-01-02 (49,540 A-share memberships) with 460
   of its memberships repeated under a board of its own (``[bench_extra]``) is exactly 50,000
   memberships: ``hypebt data concepts import``'s work (read the TDX file, check every line, merge
   into the store's history, write it) is timed into an empty history and into one already holding
   the three earlier shared snapshots. Target: under 2 s.
2. **Universes for 40 events.** ``hypebt.engine.backtest.prepare`` of the 40 latest events of
   ``ai_releases`` on their own boards (``universe = "event_boards"``) is timed step by step: the
   board-universe steps (choose the events, look up each board's snapshot as known before each
   event, attach each event's members and its missing-bar report) against the whole preparation.
   A second preparation of the same run with those codes as a plain list (no board lookups) shows
   the same from outside (noisier: two preparations of ~600 stocks). Target: under 0.5 s.

The market is imported into a temporary store first (or ``--home STORE`` holding it). Timings
are printed with the load average (the machine is shared); nothing here is an assertion.

Usage::

    python benchmarks/bench_concepts.py [--data ../shared/data] [--home STORE]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import pandas as pd  # noqa: E402
from hypebt.data import boards as B  # noqa: E402
from hypebt.data.board_files import read_board_file  # noqa: E402
from hypebt.data.importers import import_paths  # noqa: E402
from hypebt.data.store import Store  # noqa: E402
from hypebt.engine import backtest as engine  # noqa: E402
from hypebt.engine import event_universe as EU  # noqa: E402
from hypebt.engine.spec import parse_spec  # noqa: E402

SNAPSHOTS = [("gnbk-2019-02-17.ini", "2019-02-17T18:59"), ("gnbk-2023-12-18T19.ini", "2023-12-18T19:25"),
             ("gnbk-2023-12-18T22.ini", "2023-12-18T22:25"), ("gnbk-2024-01-02.ini", "2024-01-02T15:55")]
IMPORT_TARGET_S, RESOLVE_TARGET_S = 2.0, 0.5


def default_data() -> Path:
    env = os.environ.get("HYPEBT_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def load() -> str:
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def fifty_thousand(data: Path, tmp: Path) -> Path:
    """The 2024-01-02 snapshot plus 460 of its memberships under [bench_extra]: 50,000 memberships."""
    source = data / "concepts" / "hikyuu" / "gnbk-2024-01-02.ini"
    f = read_board_file(source, published="2024-01-02T15:55")
    extra = f.rows.drop_duplicates("code").head(50_000 - len(f.rows))
    lines = [f"{0 if c.startswith('6') else 1},{c}" for c in extra["code"]]
    path = tmp / "gnbk-50000.ini"
    path.write_text(source.read_text("utf-8").rstrip("\n") + "\n[bench_extra]\n" + "\n".join(lines) + "\n", "utf-8")
    return path


def timed_import(store: Store, path: Path) -> tuple[float, int]:
    t0 = time.perf_counter()
    f = read_board_file(path, published="2024-01-02T15:55")
    B.save(store, f.rows, source=path.name)
    return time.perf_counter() - t0, len(f.rows)


def bench_import(data: Path, tmp: Path) -> None:
    path = fifty_thousand(data, tmp)
    seconds, n = timed_import(Store(tmp / "empty"), path)
    print(f"import a {n:,}-membership snapshot into an empty history: {seconds:.2f} s "
          f"(target < {IMPORT_TARGET_S:.0f} s; {load()})")
    history = Store(tmp / "history")
    folder = data / "concepts" / "hikyuu"
    for name, published in SNAPSHOTS[:3]:
        f = read_board_file(folder / name, published=published)
        B.save(history, f.rows, source=name)
    rows = history.manifest(B.DATASET)["rows"]
    seconds, n = timed_import(history, path)
    print(f"import a {n:,}-membership snapshot into a history of {rows:,} memberships: {seconds:.2f} s "
          f"(target < {IMPORT_TARGET_S:.0f} s; {load()})")
    t0 = time.perf_counter()
    timed_import(history, path)
    print(f"import the same snapshot again (nothing new, nothing written): {time.perf_counter() - t0:.2f} s")


def market(data: Path, home: Path | None, tmp: Path) -> Store:
    if home is not None:
        return Store(home)
    store = Store(tmp / "market")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import_paths(store, [data / "ashare" / "market.parquet", data / "index" / "sh000300.csv"], adjust="qfq")
    return store


def bench_resolve(data: Path, store: Store) -> None:
    if store.manifest(B.DATASET) is None:
        folder = data / "concepts" / "hikyuu"
        for name, published in SNAPSHOTS:
            B.save(store, read_board_file(folder / name, published=published).rows, source=name)
    from hypebt.data.events import load_events

    # the 40 latest events inside the benchmark's period (the catalogue runs past the qfq data's end)
    end = pd.Timestamp("2024-05-22", tz="Asia/Shanghai")
    ids = [e.id for e in load_events("ai_releases", REPO) if e.known_time < end][-40:]
    raw = {"name": "bench_boards", "strategy": "hype_buy", "universe": "event_boards", "allow_look_ahead": True,
           "start": "2021-01-04", "end": "2024-05-22", "events": {"catalogue": "ai_releases", "ids": ids}}
    spec = parse_spec(raw, REPO / "backtests" / "bench_boards.toml")
    plain = parse_spec({**{k: v for k, v in raw.items() if k not in ("universe", "allow_look_ahead")},
                        "codes": []}, REPO / "backtests" / "bench_plain.toml")
    spent = {"candidates": 0.0, "resolve": 0.0, "spans": 0.0, "attach": 0.0}
    originals = {name: getattr(EU, name) for name in spent}

    def timing(name):
        def wrapped(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return originals[name](*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t0
        return wrapped

    def prepare(spec) -> tuple[float, object]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            prep = engine.prepare(spec, REPO, store)
            return time.perf_counter() - t0, prep

    prepare(spec)  # warm-up: the store's files hashed once, the calendar and the catalogue read
    for name in spent:
        setattr(EU, name, timing(name))
    try:
        total, prep = prepare(spec)
    finally:
        for name, fn in originals.items():
            setattr(EU, name, fn)
    steps = sum(spent.values())
    print(f"resolve board universes for {len(prep.events)} events ({len(prep.codes)} codes): {steps:.3f} s "
          f"(choose events {spent['candidates']:.3f}, board snapshots {spent['resolve']:.3f}, each code's first and "
          f"last bar {spent['spans']:.3f}, attach members and missing bars {spent['attach']:.3f}) of a {total:.2f} s "
          f"prepare = {steps / total:.1%} "
          f"(target < {RESOLVE_TARGET_S} s; {load()})")
    plain = dataclasses.replace(plain, codes=tuple(prep.codes))
    boards, static = [], []
    for _ in range(2):  # alternating, the best of two each: the machine is shared
        boards.append(prepare(spec)[0])
        static.append(prepare(plain)[0])
    print(f"the same run with its codes as a plain list: prepare {min(static):.2f} s; with board universes "
          f"{min(boards):.2f} s: {min(boards) - min(static):+.2f} s (whole preparations, best of two; {load()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--home", type=Path, help="a store holding the shared market (skips its import)")
    args = parser.parse_args()
    if not (args.data / "concepts" / "hikyuu").is_dir():
        raise SystemExit(f"bench_concepts: {args.data}/concepts/hikyuu not found; pass --data")
    tmp = Path(tempfile.mkdtemp(prefix="hypebt-bench-concepts-"))
    try:
        bench_import(args.data, tmp)
        bench_resolve(args.data, market(args.data, args.home, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
