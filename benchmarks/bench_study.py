"""Event-study benchmark: the whole market (universe = "all") around one event, Sora.

Imports ``<data>/ashare/market.parquet`` and ``<data>/index/sh000300.csv`` into a temporary
store (or uses ``--home STORE``, a store that already holds them, to skip the import), then
times ``backtests/market_sora_study.toml`` step by step: ``study.prepare`` (load bars, map the
event, build the session x stock panel), ``study.compute_all`` + ``study.curves`` (abnormal
returns, CARs, BHARs, plain and dependence-robust tests for every window, paper vs tradable), and ``study_report.write`` (study.html with figures,
car.csv, abnormal_returns.parquet, summary.csv, manifest.json). Target: under 10 s for
prepare + compute + report. Not a test: timings belong here, not in assertions.

Usage::

    python benchmarks/bench_study.py [--data ../shared/data] [--home STORE]

``--data`` defaults to ``$HYPEBT_SHARED_DATA``, else ``<repo>/../shared/data``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from hypebt.research import study  # noqa: E402
from hypebt.reports import study_page as study_report  # noqa: E402
from hypebt.data.importers import import_paths  # noqa: E402
from hypebt.engine.spec import load_spec  # noqa: E402
from hypebt.data.store import Store  # noqa: E402

SPEC = REPO / "backtests" / "market_sora_study.toml"
TARGET_S = 5.0


def default_data() -> Path:
    env = os.environ.get("HYPEBT_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def import_market(data: Path, root: Path) -> Store:
    market, index = data / "ashare" / "market.parquet", data / "index" / "sh000300.csv"
    for path in (market, index):
        if not path.is_file():
            raise SystemExit(f"bench_study: {path} not found; pass --data or set HYPEBT_SHARED_DATA")
    store = Store(root)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few qfq rows <= 0 are dropped; the report lists them
        report = import_paths(store, [market, index], adjust="qfq")
    print(f"import (not timed in the target): {time.perf_counter() - t0:.2f} s")
    for line in report.lines():
        print(f"  {line}")
    return store


def run(store: Store, out: Path) -> dict:
    spec = load_spec(SPEC)
    times = {}
    t0 = time.perf_counter()
    inputs = study.prepare(spec, REPO, store)
    times["prepare"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = study.compute_all(inputs.panel, inputs.tradables, inputs.cfg, inputs.names)
    abnormal, car, summary, skipped = res.abnormal, res.car, res.summary, res.skipped
    curves = study.curves(abnormal, inputs.cfg.confidence, res.outcomes)
    times["compute"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    study_report.write(inputs, abnormal, car, summary, curves, skipped, out, command=["bench_study"],
                       tests=res.tests)
    times["report"] = time.perf_counter() - t0
    allrow = summary.set_index("event").loc["all events"]
    return {"times": times, "inputs": inputs, "car": car, "abnormal": abnormal, "all": allrow}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default_data(), help="the shared data folder")
    ap.add_argument("--home", type=Path, help="a store that already holds the market and sh000300 (skips the import)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_study_") as tmp:
        tmp = Path(tmp)
        if args.home:
            store = Store(args.home)
            if not {"stock_qfq", "index"} <= set(store.datasets()):
                print(f"bench_study: {args.home} lacks stock_qfq or index; drop --home to import", file=sys.stderr)
                return 2
        else:
            store = import_market(args.data, tmp / "store")
        res = run(store, tmp / "reports" / "market_sora_study")
        t, inputs, car, allrow = res["times"], res["inputs"], res["car"], res["all"]
        (ev,) = inputs.tradables
        total = sum(t.values())
        print(f"spec: {SPEC.relative_to(REPO)} (universe = all, event {ev.event.id}, day 0 {ev.session.date()} "
              f"at the {ev.at})")
        print(f"panel: {len(inputs.panel.sessions)} sessions x {len(inputs.panel.codes)} stocks")
        print(f"stocks studied: {len(car)} (abnormal-return rows: {len(res['abnormal']):,})")
        print(f"  mean CAR[0,{inputs.cfg.window[1]}] {allrow['mean_car_mkt']:+.2%} market-adjusted, "
              f"{allrow['mean_car_mm']:+.2%} market model; paper {allrow['mean_paper']:+.2%} vs tradable "
              f"{allrow['mean_tradable']:+.2%}; {int(allrow['locked_day0'])} locked on day 0")
        print(f"  headline: {allrow['headline_test']} t={allrow['headline_t']:.2f} p={allrow['headline_p']:.3g} "
              f"(r-bar {allrow['r_bar']:.3f}; plain t={allrow['t_stat']:.2f}); portfolio t={allrow['portfolio_t']:.2f}")
        print(f"prepare: {t['prepare']:6.2f} s   (load + verify bars, calendar, events, panel)")
        print(f"compute: {t['compute']:6.2f} s   (abnormal returns, CARs, BHARs, plain and robust tests, curves)")
        print(f"report:  {t['report']:6.2f} s   (study.html with figures, car.csv, parquet, manifest)")
        print(f"total:   {total:6.2f} s   prepare+compute {t['prepare'] + t['compute']:.2f} s")
        # A second, warm run: the store's file hash is cached in-process after the first load.
        warm = run(store, tmp / "reports" / "market_sora_study_2")["times"]
        print(f"warm run: prepare {warm['prepare']:.2f} s, compute {warm['compute']:.2f} s, "
              f"report {warm['report']:.2f} s, total {sum(warm.values()):.2f} s")
        load = "/".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"market study: {total:.2f} s (target < {TARGET_S:.0f} s: {'met' if total < TARGET_S else 'MISSED'}; "
              f"warm {sum(warm.values()):.2f} s), load average {load}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
