"""Benchmark: what the look-ahead-safe strategy API costs per run, on the shared data.

Runs each shipped event spec (hype_buy, runup_filter, confirm_trail) ``--repeat`` times with the
sweep settings (``reuse_feeds=True, timereturn=False``) and prints seconds per run; then times the
accessors a strategy calls every bar (``bar``, ``history``, an indicator's ``[0]``) against reading
the raw arrays, inside a probe strategy. Not a test: timings belong here.

    python benchmarks/bench_strategy_api.py [--data ../shared/data] [--repeat 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from hypebt import Strategy  # noqa: E402
from hypebt.data.importers import import_paths  # noqa: E402
from hypebt.data.store import Store  # noqa: E402
from hypebt.engine import backtest as engine  # noqa: E402
from hypebt.engine.spec import load_spec  # noqa: E402

SPECS = ("sora_hype", "sora_runup", "chatgpt_confirm")
CALLS = 2000


class Probe(Strategy):
    """Times the accessors once, at the close of session 30."""

    timings: dict = {}

    def __init__(self):
        super().__init__()
        self.code = self.universe[0]
        self.sma = self.I(lambda s: s.rolling(20).mean(), self.code)

    def on_close(self, day):
        if self.session_no != 30:
            return
        code, out = self.code, Probe.timings
        for label, call in (("bar(code, 1)", lambda: self.bar(code, 1)),
                            ("history(code, 'close', 20)", lambda: self.history(code, "close", 20)),
                            ("history(..., array=True)", lambda: self.history(code, "close", 20, array=True)),
                            ("indicator[0]", lambda: self.sma[0]),
                            ("raw array read (reference)", lambda: self._arrays[code].columns["close"][30])):
            t0 = time.perf_counter()
            for _ in range(CALLS):
                call()
            out[label] = (time.perf_counter() - t0) / CALLS * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    data = Path(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "store")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import_paths(store, [data / "ashare" / "market.parquet", data / "index" / "sh000300.csv"], adjust="qfq")
        for name in SPECS:
            prep = engine.prepare(load_spec(REPO / "backtests" / f"{name}.toml"), REPO, store)
            cls = prep.strategy_class()
            engine.run(prep, strategy_cls=cls, reuse_feeds=True, timereturn=False)  # warm the feeds
            t0 = time.perf_counter()
            for _ in range(args.repeat):
                engine.run(prep, strategy_cls=cls, reuse_feeds=True, timereturn=False)
            per = (time.perf_counter() - t0) / args.repeat
            print(f"{name:16s} {prep.strategy_name:14s} {len(prep.sessions):4d} sessions x {len(prep.codes):3d} codes: "
                  f"{per:.3f} s per run")
        spec = load_spec(REPO / "backtests" / "sora_runup.toml")
        prep = engine.prepare(dataclasses.replace(spec, params={}), REPO, store, strategy_cls=Probe)
        engine.run(prep, strategy_cls=Probe)
        for label, us in Probe.timings.items():
            print(f"  {label:28s} {us:8.2f} us per call")


if __name__ == "__main__":
    main()
