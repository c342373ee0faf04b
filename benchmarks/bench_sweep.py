"""Benchmark: hypebt's sweep vs the naive Backtrader way, same strategy, grid and machine.

Work: ``hype_buy`` over the Sora universe (37 stocks) on the whole shared period
(2021-01-04..2024-05-22), 200 combinations (hold_days 1..20 x delay 0..4 x stop_loss 0/0.1).

- hypebt: ``hypebt.research.sweep.execute`` (data prepared once, sent to each worker once,
  batched combinations, figures and returns back only).
- naive: ``cerebro.optstrategy`` with one ``PandasData`` feed per stock, default
  Cerebro settings (observers on), ``maxcpus=2``, the same strategy class, broker
  and commission scheme.

Prints combinations per second for both, the ratio, peak memory, and checks that
both ways give the same final portfolio values. Not a test: timings belong here.

    python benchmarks/bench_sweep.py [--data ../shared/data] [--combos 200] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import backtrader as bt  # noqa: E402
import pandas as pd  # noqa: E402

from hypebt.engine import backtest as engine  # noqa: E402
from hypebt.research import sweep  # noqa: E402
from hypebt.engine.bt_adapter import AShareBroker  # noqa: E402
from hypebt.market.broker import AShareCommInfo  # noqa: E402
from hypebt.data.importers import import_paths  # noqa: E402
from hypebt.engine.spec import load_spec  # noqa: E402
from hypebt.data.store import Store  # noqa: E402
from hypebt.engine.strategy import Context, resolve_params  # noqa: E402


def grid(n: int) -> list[dict]:
    combos = [{"hold_days": h, "delay": d, "stop_loss": s}
              for h in range(1, 21) for d in range(5) for s in (0.0, 0.1)]
    return combos[:n]


def naive(prep, combos, maxcpus: int) -> tuple[float, list[float]]:
    cls = prep.strategy_class()
    ctxs = []
    for combo in combos:
        params = resolve_params(cls, {**prep.spec.params, **combo}, "bench")
        ctxs.append(Context(params=params, universe=prep.codes, names=prep.names, events=prep.events,
                            sessions=prep.sessions, rules=prep.rules, eligible=prep.eligible,
                            borrow_ledger=[], arrays=prep.arrays))
    t0 = time.perf_counter()
    cerebro = bt.Cerebro(cheat_on_open=True, maxcpus=maxcpus)  # defaults otherwise: observers on
    broker = AShareBroker()
    broker.set_checksubmit(False)
    broker.setcash(prep.spec.cash)
    cerebro.broker = broker
    for code in prep.codes:
        cols = prep.arrays[code].columns
        frame = pd.DataFrame({k: cols[k] for k in ("open", "high", "low", "close", "volume")},
                             index=prep.sessions + pd.Timedelta(hours=15))
        cerebro.adddata(bt.feeds.PandasData(dataname=frame, name=code), name=code)
        broker.addcommissioninfo(AShareCommInfo(rules=prep.rules, code=code, borrow_ledger=[]), name=code)
    cerebro.optstrategy(cls, ctx=ctxs)
    cerebro.addanalyzer(bt.analyzers.TimeReturn, timeframe=bt.TimeFrame.Days, _name="timereturn")
    results = cerebro.run()
    seconds = time.perf_counter() - t0
    finals = []
    for (res,) in results:
        r = pd.Series(res.analyzers.timereturn.get_analysis())
        finals.append(float(prep.spec.cash * (1 + r).prod()))
    return seconds, finals


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("HYPEBT_SHARED_DATA") or str(REPO.parent / "shared" / "data")
    ap.add_argument("--data", default=default, help="akshare-format dataset folder (default %(default)s)")
    ap.add_argument("--combos", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-naive", action="store_true")
    args = ap.parse_args()
    data = Path(args.data)
    if not (data / "ashare" / "market.parquet").is_file():
        print(f"no dataset at {data}; pass --data", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "store")
        t = time.perf_counter()
        import_paths(store, [data / "ashare" / "market.parquet", data / "index" / "sh000300.csv"])
        print(f"setup: imported the shared market in {time.perf_counter() - t:.1f} s")
        spec = load_spec(REPO / "backtests" / "sora_hype.toml", ["start=2021-01-04", "end=2024-05-22"])
        prep = engine.prepare(spec, REPO, store)
        combos = grid(args.combos)
        plan = sweep.Plan(axes={"hold_days": [], "delay": [], "stop_loss": []}, combos=combos,
                          grid_size=len(combos), method="grid")
        print(f"work: hype_buy on {len(prep.codes)} stocks x {len(prep.sessions)} sessions, "
              f"{len(combos)} combinations, {args.workers} workers")

        t = time.perf_counter()
        outcome = sweep.execute(prep, plan, Path(tmp) / "sweep", workers=args.workers, progress=False)
        fast = time.perf_counter() - t
        db = sweep.ResultStore(Path(tmp) / "sweep" / "results.sqlite")
        frame = db.frame()
        db.close()
        fast_rate = len(combos) / fast
        print(f"hypebt sweep: {fast:.1f} s, {fast_rate:.2f} combinations/s ({outcome.failed} failed)")
        peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        peak_kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"hypebt peak memory: parent {peak_self:.0f} MiB, largest worker {peak_kids:.0f} MiB")
        if args.skip_naive:
            return 0
        slow, finals = naive(prep, combos, maxcpus=args.workers)
        slow_rate = len(combos) / slow
        peak_kids2 = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"naive optstrategy + PandasData (maxcpus={args.workers}): {slow:.1f} s, "
              f"{slow_rate:.2f} combinations/s; largest process so far {peak_kids2:.0f} MiB")
        print(f"ratio: hypebt is {fast_rate / slow_rate:.1f}x the naive way (target >= 10x)")
        ours = frame.set_index(frame["hold_days"].astype(str) + "/" + frame["delay"].astype(str) + "/"
                               + frame["stop_loss"].astype(str))["final_value"]
        mism = 0
        for combo, value in zip(combos, finals):
            key = f"{combo['hold_days']}/{combo['delay']}/{combo['stop_loss']}"
            if abs(ours[key] - value) > 0.01:
                mism += 1
        print(f"same results: {len(combos) - mism}/{len(combos)} final values agree to the fen")
    return 0


if __name__ == "__main__":
    sys.exit(main())
