"""Whole-market benchmark: the shipped weekly momentum (``backtests/market_momentum.toml``) over every
stock of the shared data, against the 300 largest and against vectorbt.

Imports ``<data>/ashare/market.parquet`` and ``<data>/index/sh000300.csv`` into a temporary store (or
uses ``--home STORE``), then runs, each in a fresh process (its peak memory is its own):

- ``universe = "all"`` (5,363 stocks, 2021-03-01..2024-05-22, 60 sessions of warm-up): the time of
  ``hypebt.backtest`` (prepare + run, ledgers and figures; imports not counted) and the process's
  peak resident memory, printed as ``whole market: S s, P MiB peak``;
- the same spec on the 300 largest stocks by market cap (``ashare/stock_list.csv``):
  ``scaling all/300: X`` is the ratio of the two times (17.9 would be linear in the stocks);
- vectorbt (optional, ``pip install hypebt[bench]``): ``vbt_momentum.py``, the same signals from the
  same store, timed from loading to the final value, after one warm-up call (numba compiles);
  hypebt is timed on the same spec with ``exclude = ["new_listing"]`` (vectorbt cannot infer ST), its
  picks are checked to be vectorbt's on every rebalance, and ``ratio vs vectorbt: R`` is hypebt's
  time over vectorbt's (lower is faster; the target is at most 3);
- the spec's ``[sweep]`` (20 combinations) over the whole market on ``--workers`` local workers:
  the largest worker's peak resident memory (it counts the prepared market it shares with the
  parent, forked, not copied); then on a loopback Dask cluster of as many workers, started and
  stopped here (the prepared market scattered once to each).

Every figure is printed with the load average (a shared machine is noisy). Not a test: timings
belong here, not in assertions.

Usage::

    python benchmarks/bench_market.py [--data ../shared/data] [--home STORE] [--workers 2]
                                      [--no-vbt] [--no-sweep] [--no-dask]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tomllib
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(HERE))

SPEC = REPO / "backtests" / "market_momentum.toml"


def default_data() -> Path:
    env = os.environ.get("HYPEBT_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def peak_mib() -> tuple[float, float]:
    """(this process's VmHWM, its largest finished child's peak) in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            own = int(line.split()[1]) / 1024
    return own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def spec_dict(universe: str, data: Path, **changes) -> dict:
    """The shipped spec as a dict: the whole market, or the ``N`` largest by market cap."""
    raw = tomllib.loads(SPEC.read_text("utf-8"))
    raw.pop("sweep")
    if universe != "all":
        import pandas as pd

        caps = pd.read_csv(data / "ashare" / "stock_list.csv", dtype={"code": str})
        raw.pop("universe")
        raw["codes"] = caps.sort_values("总市值", ascending=False)["code"].head(int(universe)).tolist()
    return {**raw, **changes}


def cell(args) -> int:
    """One measurement in this fresh process: prints ``CELL {json}``."""
    import hypebt
    from hypebt.data.store import Store

    store, data, out = Store(args.home), Path(args.data), {}
    if args.cell in ("all", "300", "all_vbt"):
        universe = "300" if args.cell == "300" else "all"
        changes = {"exclude": ["new_listing"]} if args.cell == "all_vbt" else {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            res = hypebt.backtest(spec_dict(universe, data, **changes), workspace=REPO, home=store.root)
            seconds = time.perf_counter() - t0
        picks = {line.split()[0]: line.split(": picked")[1].split() for line in res.log if ": picked" in line}
        out = {"seconds": seconds, "peak": peak_mib()[0], "final": res.stats["final_value"],
               "trades": len(res.trades), "refused": res.stats["refused_orders"], "picks": picks,
               "stocks": int(res.equity["ranked"].max()) if "ranked" in res.equity else 0}
    elif args.cell == "vbt":
        import vbt_momentum as vm

        raw = spec_dict("all", data)
        params = {**hypebt.Strategy.PARAMS, "fraction": 0.95, **raw["params"]}
        vm.warm()
        seconds, final, picks = vm.run(store, raw["start"], raw["end"], params, raw["cash"], raw["warmup"],
                                       raw.get("new_listing_sessions", 60))
        out = {"seconds": seconds, "peak": peak_mib()[0], "final": final,
               "picks": {str(day): codes for day, codes in picks.items()}}
    elif args.cell in ("sweep", "dask"):
        from hypebt.engine import backtest as engine
        from hypebt.engine.spec import load_spec
        from hypebt.research import sweep

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spec = load_spec(SPEC)
            prep = engine.prepare(spec, REPO, store)
            plan = sweep.make_plan(spec, prep.strategy_class())
            if args.cell == "sweep":  # local pool: forked workers inherit the prepared market
                t0 = time.perf_counter()
                outcome = sweep.execute(prep, plan, Path(args.out), workers=args.workers, progress=False)
                seconds, (own, worker) = time.perf_counter() - t0, peak_mib()
            else:  # a loopback Dask cluster: the prepared market is scattered once to each worker
                from dask_local import LoopbackCluster

                logs = Path(args.out).with_name("dask_logs")
                logs.mkdir(parents=True, exist_ok=True)
                cluster = LoopbackCluster(args.workers, REPO / "src", logs)
                with cluster as address:
                    t0 = time.perf_counter()
                    outcome = sweep.execute(prep, plan, Path(args.out), scheduler=address, progress=False)
                    seconds = time.perf_counter() - t0
                    own, worker = peak_mib()[0], max(cluster.worker_memory())
        out = {"seconds": seconds, "combos": outcome.ran, "failed": outcome.failed, "parent": own, "worker": worker}
    print("CELL " + json.dumps(out))
    return 0


def run_cell(name: str, args, tmp: Path) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--cell", name, "--home", str(args.home),
           "--data", str(args.data), "--workers", str(args.workers), "--out", str(tmp / f"sweep_{name}")]
    done = subprocess.run(cmd, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("CELL ")]
    if done.returncode or not lines:
        raise SystemExit(f"bench_market: cell {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][5:])


def ensure_store(args, tmp: Path) -> None:
    if args.home:
        return
    from hypebt.data.importers import import_paths
    from hypebt.data.store import Store

    data = Path(args.data)
    paths = [data / "ashare" / "market.parquet", data / "index" / "sh000300.csv"]
    for path in paths:
        if not path.is_file():
            raise SystemExit(f"bench_market: {path} not found; pass --data or set HYPEBT_SHARED_DATA")
    args.home = tmp / "store"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few qfq rows <= 0 are dropped
        import_paths(Store(args.home), paths, adjust="qfq")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default_data(), help="the shared data folder")
    ap.add_argument("--home", type=Path, help="a store that already holds the market and sh000300")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-vbt", action="store_true", help="skip the vectorbt comparison")
    ap.add_argument("--no-sweep", action="store_true", help="skip the 20-combination sweeps")
    ap.add_argument("--no-dask", action="store_true", help="skip the sweep on a loopback Dask cluster")
    ap.add_argument("--cell", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.cell:
        return cell(args)
    with tempfile.TemporaryDirectory(prefix="bench_market_") as tmp:
        tmp = Path(tmp)
        ensure_store(args, tmp)
        whole = run_cell("all", args, tmp)
        print(f"whole market: {whole['seconds']:.2f} s, {whole['peak']:.0f} MiB peak")
        print(f"  {load()}; up to {whole['stocks']} stocks ranked a week, {whole['trades']} trades, "
              f"{whole['refused']} orders refused, final value {whole['final']:,.0f} (target < 15 s, < 1536 MiB)")
        top = run_cell("300", args, tmp)
        print(f"scaling all/300: {whole['seconds'] / top['seconds']:.1f}")
        print(f"  {load()}; 300 largest: {top['seconds']:.2f} s, {top['peak']:.0f} MiB peak "
              f"(target < 25; 17.9 is linear in the stocks)")
        if not args.no_vbt:
            try:
                import vectorbt
            except ImportError:
                print("ratio vs vectorbt: not measured (vectorbt is not installed: pip install hypebt[bench])")
            else:
                ours, theirs = run_cell("all_vbt", args, tmp), run_cell("vbt", args, tmp)
                same = sum(ours["picks"].get(day) == codes for day, codes in theirs["picks"].items())
                print(f"ratio vs vectorbt: {ours['seconds'] / theirs['seconds']:.2f}")
                print(f"  {load()}; hypebt {ours['seconds']:.2f} s against vectorbt {vectorbt.__version__} "
                      f"{theirs['seconds']:.2f} s (exclude = new_listing only, hypebt time / vectorbt time, "
                      f"target <= 3); the same picks on {same} of {len(theirs['picks'])} rebalances; final "
                      f"value {ours['final']:,.0f} against {theirs['final']:,.0f} (vectorbt models no limits, "
                      "lots, T+1 or stamp duty, and spends a sale's cash in the same auction)")
        if not args.no_sweep:
            sw = run_cell("sweep", args, tmp)
            print(f"sweep of {sw['combos']} combinations over the whole market on {args.workers} workers: "
                  f"{sw['seconds']:.1f} s, {sw['worker']:.0f} MiB peak per worker")
            print(f"  {load()}; local pool, {sw['failed']} failed; the parent (prepares once, forks): "
                  f"{sw['parent']:.0f} MiB (target < 1536 MiB per worker; a worker's peak counts the market it "
                  "shares with the parent)")
        if not args.no_sweep and not args.no_dask:
            dk = run_cell("dask", args, tmp)
            print(f"Dask sweep of {dk['combos']} combinations over the whole market on {args.workers} workers: "
                  f"{dk['seconds']:.1f} s, {dk['worker']:.0f} MiB peak per worker")
            print(f"  {load()}; a loopback cluster started here, the prepared market scattered once to each "
                  f"worker, {dk['failed']} failed; the client: {dk['parent']:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
