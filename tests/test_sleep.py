"""Sleeping (issue 14): every figure and every ledger row is IDENTICAL when a flat strategy skips
the sessions it declared it does not need, to running every session.

On the real shared data: every shipped strategy (``strategies/*.py``) on its spec, and every
combination of the benchmark grid (``benchmarks/bench_sweep.py``: hype_buy on the Sora universe,
2021-01-04..2024-05-22, 200 combinations); plus the sweep path (a sweep row equals the full run).
Whether the fills themselves obey the market is checked independently (``tests/rulecheck.py``,
``tests/test_one_door.py``). Tiny hand-made cases check that sleeping really skips hooks and
that holding a position or a pending order keeps the strategy awake.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

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


def prepared(store, spec_path: Path, sets=()):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return engine.prepare(load_spec(spec_path, list(sets)), REPO, store)


def spec_for(tmp: Path, strategy: str) -> Path:
    """A spec running ``strategy`` (the shipped spec that uses it, else the Sora universe)."""
    for path in sorted((REPO / "backtests").glob("*.toml")):
        text = path.read_text("utf-8")
        # Board universes need the concept-board history (tests/test_board_runs.py checks them).
        if f'strategy = "{strategy}"' in text and "event_boards" not in text and "board:" not in text:
            return path
    text = "\n".join([f'name = "{strategy}_sleep"', f'strategy = "{strategy}"', 'universe = "sora"',
                      "start = 2023-06-01", "end = 2024-05-22", "cash = 1_000_000", 'benchmark = "sh000300"'])
    path = tmp / f"{strategy}.toml"
    path.write_text(text + "\n", "utf-8")
    return path


@pytest.mark.realdata
@pytest.mark.parametrize("strategy", sorted(strategy_paths(REPO / "strategies")))
def test_every_shipped_strategy_gives_identical_results_sleeping(real_store, strategy, tmp_path):
    prep = prepared(real_store, spec_for(tmp_path, strategy))
    for timereturn in (True, False):
        awake = engine.run(prep, timereturn=timereturn, sleep=False)
        asleep = engine.run(prep, timereturn=timereturn, sleep=True)
        assert_identical(asleep, awake, f"{strategy} (timereturn={timereturn})")


@pytest.mark.realdata
@pytest.mark.slow
def test_every_combination_of_the_benchmark_grid_is_identical_sleeping(real_store):
    prep = prepared(real_store, REPO / "backtests" / "sora_hype.toml", ["start=2021-01-04", "end=2024-05-22"])
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


# ------------------------------------------------------------------------- tiny, by hand ---

NAPPER = '''
from hypebt import Strategy


class Napper(Strategy):
    """Buys 100 shares at ``buy_at`` (placed in on_open, or in the on_close before with
    ``defer``: the order then waits for the next open), sells at ``sell_at``'s open."""

    PARAMS = {"buy_at": 3, "sell_at": 5, "window": True, "defer": False, "until": ""}

    def __init__(self):
        super().__init__()
        if self.cfg.window:
            self.wake_between(self.cfg.buy_at - self.cfg.defer, self.cfg.buy_at - self.cfg.defer)

    def on_open(self, day):
        if self.cfg.until and self.session_no == 0:
            self.sleep_until(self.cfg.until)
        if self.session_no == self.cfg.buy_at and not self.cfg.defer:
            self.buy_shares("600000", 100)
        if self.session_no == self.cfg.sell_at:
            self.sell_all("600000")

    def on_close(self, day):
        if self.cfg.defer and self.session_no == self.cfg.buy_at - 1:
            self.buy_shares("600000", 100)  # at the open: waits for the next session's open
'''


def tiny(tmp_path, **params):
    from helpers_engine import bars, run_plan, write_spec, make_workspace  # noqa: F401

    days = pd.bdate_range("2024-03-04", periods=10)
    rows = [(d.strftime("%Y-%m-%d"), 10 + i * 0.1, 10.2 + i * 0.1, 9.9 + i * 0.1, 10.1 + i * 0.1)
            for i, d in enumerate(days)]
    from helpers_engine import write_store
    store = write_store(tmp_path / "store", {"600000": bars(10.0, rows)})
    ws = make_workspace(tmp_path / "ws", strategies={"napper": NAPPER})
    spec = write_spec(ws, "nap", {"strategy": "napper", "codes": ["600000"], "cash": 100_000.0,
                                  "benchmark": "sh000300"})
    prep = engine.prepare(load_spec(spec), ws, store)
    return prep, engine.run(prep, params), engine.run(prep, params, sleep=False)


def test_a_flat_strategy_sleeps_outside_its_window_and_wakes_while_it_holds(tmp_path):
    prep, asleep, awake = tiny(tmp_path)
    # awake on 3 (window, buys), 4 (holds), 5 (holds, sells at the open); asleep 0-2 and 6-9
    assert asleep.sessions_skipped == 7 and awake.sessions_skipped == 0
    assert_identical(asleep, awake, "napper")
    assert list(asleep.fills["side"]) == ["buy", "sell"]
    assert [d.day for d in asleep.fills["date"]] == [7, 11]  # sessions 3 and 5: Thu 7th, Mon 11th March


def test_an_order_waiting_for_the_next_open_keeps_the_strategy_awake(tmp_path):
    # placed at the close of session 2 (the only window), it fills at session 3's open
    prep, asleep, awake = tiny(tmp_path, defer=True)
    assert_identical(asleep, awake, "napper defer")
    assert [d.day for d in asleep.fills["date"]] == [7, 11]
    assert asleep.sessions_skipped == 6  # 0-1 and 6-9


def test_sleep_until_a_named_day(tmp_path):
    # no window: awake everywhere, except that on session 0 it sleeps until 2024-03-08 (session 4)
    prep, asleep, awake = tiny(tmp_path, window=False, buy_at=4, sell_at=6, until="2024-03-08")
    assert asleep.sessions_skipped == 3  # sessions 1-3; then awake to the end (no window declared)
    assert_identical(asleep, awake, "napper until")
    assert [d.day for d in asleep.fills["date"]] == [8, 12]


def test_fees_are_computed_once_per_fill(tmp_path, monkeypatch):
    from hypebt.market import rules as R

    calls = []
    real = R.fees
    monkeypatch.setattr(R, "fees", lambda *a, **k: calls.append(a[:4]) or real(*a, **k))
    prep, asleep, awake = tiny(tmp_path)
    # a buy (cash reservation, cash check, fill, Backtrader's commission) and a sell (fill, commission),
    # twice (sleeping and not): one computation per fill and run
    assert len(calls) == 4 and len(set(calls)) == 2, calls


def loop_calls(prep, monkeypatch, params) -> int:
    """Python and C function calls made inside the session loop of one run (every session awake)."""
    from hypebt.engine.bt_adapter import AlignedCerebro

    counts = []
    real = AlignedCerebro._aligned_loop

    def counted(self, *args):
        n = [0]

        def tally(frame, event, arg):
            if event in ("call", "c_call"):
                n[0] += 1

        sys.setprofile(tally)
        try:
            return real(self, *args)
        finally:
            sys.setprofile(None)
            counts.append(n[0])

    monkeypatch.setattr(AlignedCerebro, "_aligned_loop", counted)
    result = engine.run(prep, params, sleep=False, timereturn=False)
    monkeypatch.undo()
    assert list(result.fills["side"]) == ["buy", "sell"]
    return counts[0]


def test_session_work_grows_with_positions_not_with_the_universe(tmp_path, monkeypatch):
    """The same trades in a universe of 1 stock and of 40: the session loop (hooks, broker cycle,
    order desk, valuation) makes exactly as many calls; only the run's setup grows with the feeds."""
    from helpers_engine import WEEK_ROWS, bars, make_workspace, write_spec, write_store

    plan = {"plan": [[0, "open", "buy_shares", "600000", 1000], [4, "open", "sell_all", "600000"]]}
    calls = {}
    for n in (1, 40):
        codes = ["600000"] + [f"6001{i:02d}" for i in range(n - 1)]
        store = write_store(tmp_path / f"store{n}", {c: bars(10.0, WEEK_ROWS) for c in codes})
        ws = make_workspace(tmp_path / f"ws{n}")
        spec = write_spec(ws, "t", {"strategy": "script", "codes": codes, "cash": 1_000_000.0,
                                    "benchmark": "sh000300"})
        prep = engine.prepare(load_spec(spec), ws, store)
        calls[n] = loop_calls(prep, monkeypatch, plan)
    assert calls[1] == calls[40], f"session loop calls: {calls[1]} with 1 feed, {calls[40]} with 40"


BAR_READER = '''
from hypebt import Strategy


class BarReader(Strategy):
    """Reads every full bar it may (today's at the close, yesterday's before the open) and logs
    their fields, so a run's log shows what bar() returned."""

    PARAMS = {"tag": 0}

    def on_open(self, day):
        if self.session_no:
            self.log(repr(self.bar("600000", 1)))

    def on_close(self, day):
        self.log(repr(self.bar("600000")))
'''


def test_full_bars_are_shared_by_a_sweeps_runs_and_the_cache_is_bounded(tmp_path, monkeypatch):
    from helpers_engine import WEEK_ROWS, bars, make_workspace, write_spec, write_store
    from hypebt.engine import strategy as S

    store = write_store(tmp_path / "store", {"600000": bars(10.0, WEEK_ROWS)})
    ws = make_workspace(tmp_path / "ws", strategies={"bar_reader": BAR_READER})
    spec = write_spec(ws, "t", {"strategy": "bar_reader", "codes": ["600000"], "cash": 100_000.0,
                                "benchmark": "sh000300"})
    prep = engine.prepare(load_spec(spec), ws, store)
    fresh = engine.run(prep)  # no reuse: bars made for this run only
    assert "_bar_cache" not in prep.__dict__
    first = engine.run(prep, {"tag": 1}, reuse_feeds=True)
    cached = engine.run(prep, {"tag": 2}, reuse_feeds=True)  # every bar from the first run's cache
    assert len(prep.__dict__["_bar_cache"]) == len(WEEK_ROWS)
    assert len(fresh.log) == 2 * len(WEEK_ROWS) - 1 and "BarView(date=" in fresh.log[0]
    assert first.log == cached.log == fresh.log
    monkeypatch.setattr(S, "BAR_CACHE", 3)
    prep.__dict__.pop("_bar_cache")
    bounded = engine.run(prep, reuse_feeds=True)
    assert len(prep.__dict__["_bar_cache"]) == 3
    assert bounded.log == fresh.log


def test_an_account_fill_never_leaves_negative_cash_nor_reverses_a_position():
    import datetime as dt

    from hypebt.market import rules as R
    from hypebt.market.account import Account

    day, rules = dt.date(2024, 1, 2), R.Rules()
    acc = Account(rules, 10_000.0)
    fees = R.fees("buy", 900, 10.0, day, rules)
    assert acc._fill("600000", "buy", 900, 10.0, fees, day, 0)  # 9,000 + 5.00 commission + 0.09 transfer fee
    assert acc.cash == 10_000.0 - 9_000.0 - 5.09 and acc.shares("600000") == 900
    assert acc._fill("600000", "buy", 100, 10.0, R.fees("buy", 100, 10.0, day, rules), day, 0) is None  # cash < 0
    assert acc.cash == 10_000.0 - 9_000.0 - 5.09 and acc.shares("600000") == 900  # nothing changed
    with pytest.raises(RuntimeError, match="reverse a position"):
        acc._fill("600000", "sell", 1000, 10.0, R.fees("sell", 1000, 10.0, day, rules), day, 0)
    done = acc._fill("600000", "sell", 900, 11.0, R.fees("sell", 900, 11.0, day, rules), day, 0)
    assert (done.closed, done.opened, done.size, done.pnl) == (-900, 0, 0, 900.0)
    assert acc.flat() and acc.trades[0]["status"] == "closed"
