"""Benchmark: hypebt's sweep vs the naive Backtrader way, same strategy, grid and machine.

Work: ``hype_buy`` over the Sora universe (37 stocks) on the whole shared period
(2021-01-04..2024-05-22), 200 combinations (hold_days 1..20 x delay 0..4 x stop_loss 0/0.1).

- hypebt: ``hypebt.research.sweep.execute`` (data prepared once, sent to each worker once,
  batched combinations, figures and returns back only).
- naive: ``cerebro.optstrategy`` with one ``PandasData`` feed per stock, default
  Cerebro settings (observers on, Backtrader's own run loop), ``maxcpus=2``, the same
  strategy class, broker and commission scheme (every order through the A-share checks).

- vectorbt (optional, ``pip install hypebt[bench]``; skipped with a note when absent): the
  equivalent signal sweep (see ``vbt_equivalent.py``), warmed once, the warm run timed.
- a Backtrader-style strategy (``bt_hype_buy.py``: a plain ``bt.Strategy`` doing what hype_buy
  does on the same grid) through the same sweep machinery: its combinations per second printed
  next to the hypebt-API strategy's.

Prints combinations per second for each, ``ratio vs naive`` and ``ratio vs vectorbt``, peak
memory, and checks that hypebt and the naive way give the same final portfolio values. Then:

- the phases of a sweep (``sweep_phases.py``): worker start, feed build, run, ledgers,
  figures, result transfer, SQLite commit;
- a scaling table: 37 (Sora) and 300 stocks (the largest by market cap in
  ``ashare/stock_list.csv``) x 200 and 1,000 combinations, hypebt and vectorbt, each cell in
  a fresh process so that its peak memory per worker is its own;
- the Sora sweep on a real ``dask scheduler`` with two ``dask worker`` processes on
  127.0.0.1, started and stopped here, against the local pool.

Not a test: timings belong here. On a shared machine run it in pieces:

    python benchmarks/bench_sweep.py                 # everything the issue asks (~10 min)
    python benchmarks/bench_sweep.py --quick         # hypebt, vectorbt, phases
    python benchmarks/bench_sweep.py --no-naive --no-scale
    python benchmarks/bench_sweep.py --scale         # only the scaling table
    python benchmarks/bench_sweep.py --dask          # only the Dask run
    (--store DIR reuses an imported store; --data ../shared/data; --workers 2)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
# HYPEBT_BENCH_SRC: measure another checkout's src/ (e.g. the commit before a change) with this script
SRC = Path(os.environ.get("HYPEBT_BENCH_SRC") or REPO / "src")
sys.path.insert(0, str(SRC))
sys.path.insert(0, str(HERE))

import backtrader as bt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from hypebt.engine import backtest as engine  # noqa: E402
from hypebt.research import sweep  # noqa: E402
try:
    from hypebt.engine.broker import AShareBroker  # noqa: E402
except ImportError:  # a checkout from before the broker module (HYPEBT_BENCH_SRC, for "before" figures)
    from hypebt.engine.bt_adapter import AShareBroker  # noqa: E402
from hypebt.market.broker import AShareCommInfo  # noqa: E402
from hypebt.data.importers import import_paths  # noqa: E402
from hypebt.engine.spec import load_spec  # noqa: E402
from hypebt.data.store import Store  # noqa: E402
from hypebt.engine.strategy import Context, resolve_params  # noqa: E402

import vbt_equivalent as vbt_eq  # noqa: E402

SIZES = (37, 300)
COMBOS = (200, 1000)


def grid(n: int) -> list[dict]:
    """The first ``n`` of 1,000 combinations; the first 200 are hold_days 1..20 x delay 0..4 x
    stop_loss 0/0.1 (the issue's grid), then more stop-losses, then a take-profit of 0.2."""
    combos = [{"hold_days": h, "delay": d, "stop_loss": s}
              for h in range(1, 21) for d in range(5) for s in (0.0, 0.1)]
    combos += [{"hold_days": h, "delay": d, "stop_loss": s}
               for h in range(1, 21) for d in range(5) for s in (0.05, 0.15, 0.2)]
    combos += [{"hold_days": h, "delay": d, "stop_loss": s, "take_profit": 0.2}
               for h in range(1, 21) for d in range(5) for s in (0.0, 0.05, 0.1, 0.15, 0.2)]
    if n > len(combos):
        raise SystemExit(f"--combos: at most {len(combos)}")
    return combos[:n]


def make_plan(combos: list[dict]):
    axes = {k: [] for k in dict.fromkeys(k for c in combos for k in c)}
    return sweep.Plan(axes=axes, combos=combos, grid_size=len(combos), method="grid")


def largest_codes(data: Path, store: Store, n: int) -> list[str]:
    """The ``n`` largest stocks by total market cap (stock_list.csv) that the store has."""
    have = set(store.load(store.stock_dataset(), columns=["code"])["code"].astype(str).unique())
    lst = pd.read_csv(data / "ashare" / "stock_list.csv", dtype={"code": str})
    lst = lst.sort_values("总市值", ascending=False)
    codes = [c for c in lst["code"] if c in have]
    return codes[:n]


def prepared(n_stocks: int, data: Path, store: Store, tmp: Path, strategy: Path | None = None):
    """The Sora spec over the whole period, on the Sora universe (37) or the ``n`` largest
    (``strategy``: another strategy file for the same spec, e.g. the Backtrader-style one)."""
    sets = ["start=2021-01-04", "end=2024-05-22"]
    path = REPO / "backtests" / "sora_hype.toml"
    if strategy is not None:  # the same spec, minus the parameters only hype_buy has
        lines = [line for line in path.read_text("utf-8").splitlines()
                 if not line.startswith(("take_profit", "streak_exit", "retry_days"))]
        text = "\n".join(lines).replace('strategy = "hype_buy"', f'strategy = "{strategy}"')
        path = tmp / "sora_bt_style.toml"
        path.write_text(text + "\n", "utf-8")
    if n_stocks != 37:
        text = path.read_text("utf-8").replace('universe = "sora"', "codes = [%s]" % ", ".join(
            f'"{c}"' for c in largest_codes(data, store, n_stocks)))
        path = tmp / f"largest{n_stocks}.toml"
        path.write_text(text, "utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return engine.prepare(load_spec(path, sets), REPO, store)


def peak_mib() -> tuple[float, float]:
    """(this process, its largest child) peak resident memory so far, MiB.

    This process's own peak is ``VmHWM`` (Linux): ``ru_maxrss`` survives ``exec``, so a cell
    started by a big parent would report the parent's peak as its own."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                own = int(line.split()[1]) / 1024
    except OSError:
        pass
    return own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def cpu() -> float:
    """CPU seconds used so far by this process and its finished children (user + system).

    On a shared machine the wall time depends on the others' load; the CPU time much less:
    both are printed, and the ratios on CPU time are the ones that carry over."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def hypebt_sweep(prep, combos, out: Path, workers: int, scheduler: str | None = None):
    """(wall seconds, CPU seconds of this process and its workers, outcome, result frame)."""
    t, c = time.perf_counter(), cpu()
    outcome = sweep.execute(prep, make_plan(combos), out, workers=workers, scheduler=scheduler, progress=False)
    seconds, cpu_s = time.perf_counter() - t, cpu() - c
    db = sweep.ResultStore(out / "results.sqlite")
    frame = db.frame()
    db.close()
    return seconds, cpu_s, outcome, frame


def vbt_warm(prep, combos, chunk: int):
    """Warm vectorbt (numba compiles on the first call) on a few combinations, then time the run:
    (wall seconds, CPU seconds, final values, largest array cells)."""
    vbt_eq.sweep(prep, combos[:4], chunk=chunk)
    c = cpu()
    seconds, finals, cells = vbt_eq.sweep(prep, combos, chunk=chunk)
    return seconds, cpu() - c, finals, cells


def naive(prep, combos, maxcpus: int) -> tuple[float, list[float]]:
    cls = prep.strategy_class()
    ctxs = []
    for combo in combos:
        params = resolve_params(cls, {**prep.spec.params, **combo}, "bench")
        ctxs.append(Context(params=params, universe=prep.codes, names=prep.names, events=prep.events,
                            sessions=prep.sessions, rules=prep.rules, eligible=prep.eligible, arrays=prep.arrays))
    t0 = time.perf_counter()
    cerebro = bt.Cerebro(cheat_on_open=True, maxcpus=maxcpus)  # defaults otherwise: observers on
    cerebro.broker = AShareBroker(cash=prep.spec.cash, rules=prep.rules, arrays=prep.arrays, eligible=prep.eligible,
                                  days=prep.days)
    broker = cerebro.broker
    for code in prep.codes:
        cols = prep.arrays[code].columns
        frame = pd.DataFrame({k: cols[k] for k in ("open", "high", "low", "close", "volume")},
                             index=prep.sessions + pd.Timedelta(hours=15))
        cerebro.adddata(bt.feeds.PandasData(dataname=frame, name=code), name=code)
        broker.addcommissioninfo(AShareCommInfo(rules=prep.rules, code=code), name=code)
    cerebro.optstrategy(cls, ctx=ctxs)
    cerebro.addanalyzer(bt.analyzers.TimeReturn, timeframe=bt.TimeFrame.Days, _name="timereturn")
    results = cerebro.run()
    seconds = time.perf_counter() - t0
    finals = []
    for (res,) in results:
        r = pd.Series(res.analyzers.timereturn.get_analysis())
        finals.append(float(prep.spec.cash * (1 + r).prod()))
    return seconds, finals



def cell(args, store: Store, tmp: Path) -> int:
    """One scaling cell in this (fresh) process: prints ``CELL {json}``."""
    engine_name, n_stocks, n_combos = args.cell.split(":")
    prep = prepared(int(n_stocks), Path(args.data), store, tmp)
    combos = grid(int(n_combos))
    rec = {"engine": engine_name, "stocks": len(prep.codes), "combos": len(combos)}
    if engine_name == "phases":
        import sweep_phases

        ph = sweep_phases.measure(prep, make_plan(combos), tmp / "sweep_phases", args.workers)
        print("\n".join(sweep_phases.table(ph)))
        return 0
    if engine_name == "hypebt":
        seconds, cpu_s, outcome, _ = hypebt_sweep(prep, combos, tmp / "sweep", args.workers)
        rec.update(seconds=seconds, cpu=cpu_s, failed=outcome.failed)
    else:
        seconds, cpu_s, _, cells = vbt_warm(prep, combos, args.vbt_chunk)
        rec.update(seconds=seconds, cpu=cpu_s, cells=cells)
    rec["parent_mib"], rec["worker_mib"] = peak_mib()
    print("CELL " + json.dumps(rec), flush=True)
    return 0


def scaling(args, store_dir: Path) -> None:
    have_vbt = vbt_eq.available()
    print(f"scaling: each cell in a fresh process, {args.workers} workers for hypebt; vectorbt warm, "
          f"{args.vbt_chunk} combinations per call" + ("" if have_vbt else " (vectorbt not installed: skipped)"))
    print(f"  {'engine':<9}{'stocks':>7}{'combos':>7}{'wall s':>9}{'combos/s':>10}{'CPU s':>8}{'CPU ms/combo':>13}"
          f"{'parent MiB':>11}{'per worker MiB':>15}")
    rows = {}
    for n_stocks in SIZES:
        for n_combos in COMBOS:
            for name in ("hypebt", "vectorbt"):
                if name == "vectorbt" and not have_vbt:
                    continue
                cmd = [sys.executable, __file__, "--cell", f"{name}:{n_stocks}:{n_combos}", "--store",
                       str(store_dir), "--data", args.data, "--workers", str(args.workers),
                       "--vbt-chunk", str(args.vbt_chunk)]
                done = subprocess.run(cmd, capture_output=True, text=True)
                line = [x for x in done.stdout.splitlines() if x.startswith("CELL ")]
                if done.returncode or not line:
                    print(f"  {name:<9}{n_stocks:>7}{n_combos:>7}  failed: {done.stderr.strip()[-300:]}")
                    continue
                r = json.loads(line[0][5:])
                rows[(name, n_stocks, n_combos)] = r
                worker = r["worker_mib"] if name == "hypebt" else r["parent_mib"]
                print(f"  {name:<9}{r['stocks']:>7}{r['combos']:>7}{r['seconds']:>9.1f}"
                      f"{r['combos'] / r['seconds']:>10.1f}{r['cpu']:>8.1f}{1000 * r['cpu'] / r['combos']:>13.1f}"
                      f"{r['parent_mib']:>11.0f}{worker:>15.0f}", flush=True)
    for n_stocks in SIZES:
        for n_combos in COMBOS:
            a, b = rows.get(("hypebt", n_stocks, n_combos)), rows.get(("vectorbt", n_stocks, n_combos))
            if a and b:
                print(f"  {n_stocks} x {n_combos}: hypebt is {b['seconds'] / a['seconds']:.2f}x vectorbt's speed "
                      f"(wall), {b['cpu'] / a['cpu']:.2f}x per CPU second")


def dask_run(args, prep, combos, tmp: Path, local_rate: float | None) -> None:
    from dask_local import LoopbackCluster

    if local_rate is None:
        seconds, _, _, _ = hypebt_sweep(prep, combos, tmp / "sweep_local", args.workers)
        local_rate = len(combos) / seconds
    logs = tmp / "dask_logs"
    logs.mkdir(exist_ok=True)
    t = time.perf_counter()
    cluster = LoopbackCluster(2, SRC, logs)
    with cluster as address:
        started = time.perf_counter() - t
        seconds, _, outcome, _ = hypebt_sweep(prep, combos, tmp / "sweep_dask", 2, scheduler=address)
        cluster_mem = cluster.worker_memory()
    mem = cluster_mem
    rate = len(combos) / seconds
    vs = f", {rate / local_rate:.2f}x the local pool ({local_rate:.2f}/s)" if local_rate else ""
    print(f"dask (scheduler + 2 workers on 127.0.0.1, started in {started:.1f} s): {seconds:.1f} s, "
          f"{rate:.2f} combinations/s ({outcome.failed} failed){vs}; worker peak memory "
          + ", ".join(f"{m:.0f}" for m in mem) + " MiB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("HYPEBT_SHARED_DATA") or str(REPO.parent / "shared" / "data")
    ap.add_argument("--data", default=default, help="akshare-format dataset folder (default %(default)s)")
    ap.add_argument("--store", help="an already imported store of the shared market (skips the import)")
    ap.add_argument("--combos", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5,
                    help="alternating hypebt/vectorbt rounds whose medians are compared (default %(default)s)")
    ap.add_argument("--vbt-chunk", type=int, default=200, help="vectorbt combinations per call (memory)")
    ap.add_argument("--no-naive", "--skip-naive", dest="naive", action="store_false")
    ap.add_argument("--no-bt-style", dest="bt_style", action="store_false",
                    help="skip the Backtrader-style strategy's sweep (benchmarks/bt_hype_buy.py)")
    ap.add_argument("--no-vbt", dest="vbt", action="store_false")
    ap.add_argument("--no-phases", dest="phases", action="store_false")
    ap.add_argument("--no-scale", dest="scale_on", action="store_false")
    ap.add_argument("--no-dask", dest="dask_on", action="store_false")
    ap.add_argument("--quick", action="store_true", help="hypebt, vectorbt and the phases only")
    ap.add_argument("--scale", action="store_true", help="only the scaling table (with --dask: and Dask)")
    ap.add_argument("--dask", action="store_true", help="only the Dask run (with --scale: and scaling)")
    ap.add_argument("--cell", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.naive = args.scale_on = args.dask_on = False
    only = args.scale or args.dask
    data = Path(args.data)
    if not (data / "ashare" / "market.parquet").is_file():
        print(f"no dataset at {data}; pass --data", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.store:
            store_dir = Path(args.store)
        else:
            store_dir = tmp / "store"
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import_paths(Store(store_dir), [data / "ashare" / "market.parquet", data / "index" / "sh000300.csv"])
            print(f"setup: imported the shared market in {time.perf_counter() - t:.1f} s")
        store = Store(store_dir)
        if args.cell:
            return cell(args, store, tmp)
        prep = prepared(37, data, store, tmp)
        combos = grid(args.combos)
        print(f"work: hype_buy on {len(prep.codes)} stocks x {len(prep.sessions)} sessions, "
              f"{len(combos)} combinations, {args.workers} workers; machine load average "
              + "/".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores")
        fast_rate = None
        if not only:
            fast, fast_cpu, outcome, frame = hypebt_sweep(prep, combos, tmp / "sweep", args.workers)
            fast_rate = len(combos) / fast
            print(f"hypebt sweep: {fast:.1f} s, {fast_rate:.2f} combinations/s ({outcome.failed} failed); "
                  f"CPU {fast_cpu:.1f} s = {1000 * fast_cpu / len(combos):.1f} ms/combination")
            peak_self, peak_kids = peak_mib()
            print(f"hypebt peak memory: parent {peak_self:.0f} MiB, largest worker {peak_kids:.0f} MiB")
            if args.bt_style:
                bt_prep = prepared(37, data, store, tmp, strategy=HERE / "bt_hype_buy.py")
                slow_bt, bt_cpu, bt_outcome, _ = hypebt_sweep(bt_prep, combos, tmp / "sweep_bt", args.workers)
                print(f"Backtrader-style strategy (bt.Strategy, benchmarks/bt_hype_buy.py), same grid and machinery: "
                      f"{slow_bt:.1f} s, {len(combos) / slow_bt:.2f} combinations/s ({bt_outcome.failed} failed); "
                      f"hypebt-API strategy {fast_rate:.2f} combinations/s")
            if args.naive:
                c = cpu()
                slow, finals = naive(prep, combos, maxcpus=args.workers)
                slow_cpu = cpu() - c
                slow_rate = len(combos) / slow
                print(f"naive optstrategy + PandasData (maxcpus={args.workers}): {slow:.1f} s, "
                      f"{slow_rate:.2f} combinations/s; CPU {slow_cpu:.1f} s = "
                      f"{1000 * slow_cpu / len(combos):.1f} ms/combination; largest process so far {peak_mib()[1]:.0f} MiB")
                print(f"ratio: hypebt is {fast_rate / slow_rate:.1f}x the naive way (target >= 10x)")
                print(f"ratio vs naive: {fast_rate / slow_rate:.1f}x wall, {slow_cpu / fast_cpu:.1f}x per CPU second "
                      "(target >= 50x)")
                ours = frame.set_index(frame["hold_days"].astype(str) + "/" + frame["delay"].astype(str) + "/"
                                       + frame["stop_loss"].astype(str))["final_value"]
                mism = sum(abs(ours[f"{c['hold_days']}/{c['delay']}/{c['stop_loss']}"] - v) > 0.01
                           for c, v in zip(combos, finals))
                print(f"same results: {len(combos) - mism}/{len(combos)} final values agree to the fen")
            if args.vbt:
                version = vbt_eq.available()
                if version is None:
                    print("vectorbt: not installed, skipped (pip install 'hypebt[bench]')")
                else:
                    secs, vcpu, finals, _ = vbt_warm(prep, combos, args.vbt_chunk)
                    # a sweep this short (about a second) is at the mercy of the other processes on a
                    # shared machine: hypebt and vectorbt are timed in alternating rounds and the
                    # medians compared (each round's ratio printed too)
                    rounds = [(fast, fast_cpu, secs, vcpu)]
                    for i in range(1, args.repeat):
                        h, hc, _, _ = hypebt_sweep(prep, combos, tmp / f"sweep_round{i}", args.workers)
                        c = cpu()
                        v, _, _ = vbt_eq.sweep(prep, combos, chunk=args.vbt_chunk)
                        rounds.append((h, hc, v, cpu() - c))
                    med = [float(np.median([r[k] for r in rounds])) for k in range(4)]
                    vrate = len(combos) / med[2]
                    print(f"vectorbt {version} from_signals (warm, same entries/exits/stops, no A-share rules): "
                          f"{med[2]:.2f} s, {vrate:.2f} combinations/s; CPU {med[3]:.2f} s = "
                          f"{1000 * med[3] / len(combos):.1f} ms/combination (median of {len(rounds)} rounds)")
                    print("rounds (hypebt s / vectorbt s, alternating): "
                          + ", ".join(f"{h:.2f}/{v:.2f}" for h, _, v, _ in rounds))
                    print(f"ratio vs vectorbt: {med[2] / med[0]:.2f}x wall, {med[3] / med[1]:.2f}x per CPU second "
                          f"(medians of {len(rounds)} rounds; target >= 1x wall)")
                    ours = frame["final_value"].to_numpy()
                    gap = [abs(a / b - 1) for a, b in zip(ours, finals) if b]
                    print(f"vectorbt final values vs hypebt's: median gap {100 * float(pd.Series(gap).median()):.2f} %"
                          " (A-share rules: refused buys at limit-up, lots)")
            if args.phases:  # in a fresh process: its worker start includes the parent's imports
                done = subprocess.run([sys.executable, __file__, "--cell", f"phases:37:{len(combos)}",
                                       "--store", str(store_dir), "--data", args.data,
                                       "--workers", str(args.workers)], capture_output=True, text=True)
                print(done.stdout.rstrip() if done.returncode == 0 else f"phases failed: {done.stderr[-300:]}")
        if args.scale_on and (not only or args.scale):
            scaling(args, store_dir)
        if args.dask_on and (not only or args.dask):
            dask_run(args, prep, combos, tmp, fast_rate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
