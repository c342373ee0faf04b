"""Parameter sweeps: the plan, the result store, local and Dask execution, kills, outputs.

Most tests sweep a toy strategy over a tiny hand-made market (3 stocks, 60 sessions; see
``helpers_sweep``). One test uses the real shared data (``backtests/sora_hype.toml``) to
check that a sweep row equals ``hypebt run`` with the same parameters. The Dask tests start
a real scheduler and worker processes on 127.0.0.1 as subprocesses; the sweeps that use
them run as ``python -m hypebt.cli.main`` subprocesses, so this process never holds a Dask
client (its own local sweeps fork).

Every bug these tests found has been fixed; the tests pin the fixed behaviour.
"""

from __future__ import annotations

import dataclasses
import gc
import itertools
import math
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers_engine import BENCH, make_workspace
from helpers_sweep import (
    CODES, PY, TOY_STRATEGY, Cluster, json_load, kill_group, reverse_rows, row_count, spawn, store_rows,
    sweep_argv, tiny_sweep, wait_for, wait_rows,
)
from hypebt.cli import main as cli
from hypebt.engine import backtest as engine
from hypebt.research import sweep
from hypebt.core.errors import InputError
from hypebt.data.importers import import_paths
from hypebt.engine.spec import load_spec, parse_spec
from hypebt.data.store import Store
from hypebt.engine.strategy import load_strategy, resolve_params

REPO = Path(__file__).resolve().parents[1]
RESULT_COLUMNS = ["total_return", "cagr", "sharpe", "sortino", "max_drawdown", "win_rate", "n_trades",
                  "exposure", "refused_orders", "status"]
FIGURES = ["total_return", "cagr", "sharpe", "sortino", "max_drawdown", "volatility", "win_rate", "n_trades",
           "exposure", "refused_orders", "final_value", "fees", "borrow_fees"]
GRID6 = {"hold_days": [1, 2, 3], "gap": [1, 2]}


# ------------------------------------------------------------------------------ helpers ---

@pytest.fixture(scope="module")
def toy_cls(tmp_path_factory):
    ws = make_workspace(tmp_path_factory.mktemp("toy_ws"), strategies={"toy": TOY_STRATEGY})
    return load_strategy("toy", ws / "strategies")


def plan_of(cls, table: dict, params: dict | None = None, cap: int | None = None) -> sweep.Plan:
    spec = parse_spec({"strategy": "toy", "codes": ["600000"], "params": params or {}, "sweep": table},
                      Path("toy.toml"))
    return sweep.make_plan(spec, cls, cap)


def pairs(combos) -> list[tuple]:
    return [(c["hold_days"], c["gap"]) for c in combos]


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    rc = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def stored(db: Path) -> pd.DataFrame:
    """The result store as a frame (parameters, status, error and every figure), sorted by key."""
    store = sweep.ResultStore(db)
    try:
        return store.frame().drop(columns=["seconds"]).sort_values("key").reset_index(drop=True)
    finally:
        store.close()


def stored_returns(db: Path) -> dict[str, bytes]:
    con = sqlite3.connect(db)
    try:
        return {k: bytes(b) if b is not None else None for k, b in con.execute("SELECT key, returns FROM results")}
    finally:
        con.close()


def deflated_sharpe(db: Path, best_key: str, annual_sharpes: pd.Series) -> float:
    """Bailey & Lopez de Prado's deflated Sharpe ratio of the stored returns of ``best_key``,
    written out here from the paper (SR0 = expected max of N skill-less per-session Sharpes)."""
    from statistics import NormalDist

    con = sqlite3.connect(db)
    try:
        (blob,) = con.execute("SELECT returns FROM results WHERE key = ?", (best_key,)).fetchone()
    finally:
        con.close()
    r = np.frombuffer(blob, dtype="float64")
    sr = r.mean() / r.std(ddof=1)
    trials = annual_sharpes.dropna().to_numpy() / math.sqrt(242)
    n, z, gamma = len(annual_sharpes), NormalDist(), 0.5772156649015329
    sr0 = math.sqrt(trials.var(ddof=1)) * ((1 - gamma) * z.inv_cdf(1 - 1 / n) + gamma * z.inv_cdf(1 - 1 / (n * math.e)))
    skew, kurt = pd.Series(r).skew(), pd.Series(r).kurt() + 3
    return z.cdf((sr - sr0) * math.sqrt(len(r) - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr ** 2))


def same(a, b) -> bool:
    """Exact equality, with None and NaN taken as the same missing value."""
    missing = lambda x: x is None or (isinstance(x, float) and math.isnan(x))  # noqa: E731
    if missing(a) or missing(b):
        return missing(a) and missing(b)
    return a == b


# ---------------------------------------------------------------------------------- plan ---

def test_grid_from_lists_and_ranges_is_the_full_product_in_order(toy_cls):
    p = plan_of(toy_cls, {"hold_days": {"start": 1, "stop": 5, "step": 2}, "gap": [2, 1]})
    assert p.axes == {"hold_days": [1, 3, 5], "gap": [2, 1]}
    assert pairs(p.combos) == [(1, 2), (1, 1), (3, 2), (3, 1), (5, 2), (5, 1)]
    assert (p.grid_size, p.method) == (6, "grid")
    assert plan_of(toy_cls, {"hold_days": {"start": 1, "stop": 4}}).axes["hold_days"] == [1, 2, 3, 4]


def test_a_float_range_includes_its_stop_without_drift(toy_cls):
    p = plan_of(toy_cls, {"stop_loss": {"start": 0.0, "stop": 0.3, "step": 0.1}})
    assert p.axes["stop_loss"] == [0.0, 0.1, 0.2, 0.3]


def test_a_random_sample_is_reproducible_distinct_and_inside_the_grid(toy_cls):
    table = {"hold_days": {"start": 1, "stop": 20}, "gap": {"start": 1, "stop": 20}, "method": "random",
             "n": 15, "seed": 3}
    a, b = plan_of(toy_cls, table), plan_of(toy_cls, table)
    assert a.method == "random" and a.grid_size == 400
    assert a.combos == b.combos
    assert len(a.combos) == 15 and len(set(pairs(a.combos))) == 15
    assert all(1 <= h <= 20 and 1 <= g <= 20 for h, g in pairs(a.combos))
    assert plan_of(toy_cls, {**table, "seed": 4}).combos != a.combos


def test_constraints_filter_combinations_and_see_the_spec_parameters(toy_cls):
    p = plan_of(toy_cls, {"stop_loss": [0.0, 0.1, 0.2], "take_profit": [0.1, 0.2, 0.3],
                          "constraints": ["take_profit > stop_loss", "take_profit - stop_loss < 0.25"]})
    got = [(c["stop_loss"], c["take_profit"]) for c in p.combos]
    assert got == [(0.0, 0.1), (0.0, 0.2), (0.1, 0.2), (0.1, 0.3), (0.2, 0.3)]
    assert p.grid_size == 9
    # a parameter not swept is taken from [params]
    p = plan_of(toy_cls, {"hold_days": [1, 2, 3, 4], "constraints": "hold_days > gap and not hold_days == 4"},
                params={"gap": 2})
    assert [c["hold_days"] for c in p.combos] == [3]


@pytest.mark.parametrize("text", [
    "__import__('os').system('touch {marker}')",
    "hold_days.__class__",
    "hold_days.__class__.__mro__ == 1",
    "(lambda: 1)() > 0",
    "[c for c in 'ab'] == 1",
    "hold_days ** 2 > 1",
    "gap if hold_days else gap",
    "open('{marker}', 'w')",
])
def test_unsafe_constraints_are_refused_without_running_them(toy_cls, tmp_path, text):
    marker = tmp_path / "pwned"
    with pytest.raises(InputError, match="constraint|unknown parameter"):
        plan_of(toy_cls, {"hold_days": [1, 2], "gap": [1, 2], "constraints": [text.format(marker=marker)]})
    assert not marker.exists()


def test_an_unknown_swept_parameter_says_did_you_mean(toy_cls):
    with pytest.raises(InputError, match=r"unknown parameter of strategy toy 'hold_day' \(did you mean 'hold_days'"):
        plan_of(toy_cls, {"hold_day": [1, 2]})
    with pytest.raises(InputError, match=r"'hold_dayz' \(did you mean 'hold_days'"):
        plan_of(toy_cls, {"hold_days": [1, 2], "constraints": ["hold_dayz > 1"]})


def test_an_empty_list_is_refused(toy_cls):
    with pytest.raises(InputError, match="sweep.hold_days is an empty list"):
        plan_of(toy_cls, {"hold_days": [], "gap": [1, 2]})


def test_a_grid_over_the_cap_is_refused_and_names_the_cap(toy_cls, tmp_path, capsys):
    table = {"hold_days": {"start": 1, "stop": 10}, "gap": {"start": 1, "stop": 10}}
    with pytest.raises(InputError, match="100 combinations, over the cap of 50"):
        plan_of(toy_cls, table, cap=50)
    with pytest.raises(InputError, match="10,000 combinations, over the cap of 5,000"):
        plan_of(toy_cls, {"hold_days": {"start": 1, "stop": 100}, "gap": {"start": 1, "stop": 100}})
    with pytest.raises(InputError, match="n = 60 is over the cap of 50"):
        plan_of(toy_cls, {**table, "method": "random", "n": 60}, cap=50)
    assert len(plan_of(toy_cls, table, cap=100).combos) == 100
    t = tiny_sweep(tmp_path, GRID6)
    rc, out, err = run_cli(sweep_argv(t, "--max-combinations", "5", "--workers", "1"), capsys)
    assert rc == 2 and "over the cap of 5" in err
    assert not (t["out"] / "results.sqlite").exists()


def test_constraints_that_exclude_everything_are_refused(toy_cls):
    with pytest.raises(InputError, match="no combination satisfies the constraints"):
        plan_of(toy_cls, {"hold_days": [1, 2], "gap": [1, 2], "constraints": ["hold_days > 100"]})


def test_a_constraint_dividing_by_a_parameter_whose_default_is_zero(toy_cls):
    p = plan_of(toy_cls, {"stop_loss": [0.05, 0.1], "take_profit": [0.1, 0.3],
                          "constraints": ["take_profit / stop_loss > 2"]})
    assert [(c["stop_loss"], c["take_profit"]) for c in p.combos] == [(0.05, 0.3), (0.1, 0.3)]


def test_a_constraint_that_cannot_be_evaluated_is_an_input_error(toy_cls):
    with pytest.raises(InputError):
        plan_of(toy_cls, {"hold_days": [1, 2], "constraints": ["hold_days < 99999999999999999999 * 'x'"]})


def test_a_random_plan_has_n_combinations_when_enough_satisfy_the_constraints(toy_cls):
    table = {"hold_days": {"start": 1, "stop": 100}, "gap": {"start": 1, "stop": 100}, "method": "random",
             "n": 10, "seed": 1, "constraints": ["hold_days + gap < 12"]}
    p = plan_of(toy_cls, table)
    assert all(h + g < 12 for h, g in pairs(p.combos))
    assert len(p.combos) == 10


# ---------------------------------------------------------------- identity of a combination ---

@pytest.fixture(scope="module")
def tiny_prep(tmp_path_factory):
    t = tiny_sweep(tmp_path_factory.mktemp("tiny_prep"), GRID6)
    return engine.prepare(load_spec(t["spec"]), t["ws"], Store(t["home"])), t


def test_combo_key_is_stable_and_changes_with_parameters_rules_strategy_and_period(tiny_prep):
    prep, t = tiny_prep
    cls = prep.strategy_class()
    full = lambda **p: resolve_params(cls, {**prep.spec.params, **p}, "t")  # noqa: E731
    key = sweep.combo_key(sweep.run_identity(prep), full(hold_days=2))
    again = engine.prepare(load_spec(t["spec"]), t["ws"], Store(t["home"]))  # fresh objects, as on resume
    assert sweep.combo_key(sweep.run_identity(again), full(hold_days=2)) == key
    assert sweep.combo_key(sweep.run_identity(prep), full(hold_days=2, gap=2)) == key  # gap=2 is the default
    assert sweep.combo_key(sweep.run_identity(prep), full(hold_days=3)) != key
    other_rules = dataclasses.replace(prep, rules=dataclasses.replace(prep.rules, borrow_rate=0.2))
    assert sweep.combo_key(sweep.run_identity(other_rules), full(hold_days=2)) != key
    shorter = engine.prepare(dataclasses.replace(load_spec(t["spec"]), end=pd.Timestamp("2024-02-20").date()),
                             t["ws"], Store(t["home"]))
    assert sweep.combo_key(sweep.run_identity(shorter), full(hold_days=2)) != key
    path = Path(prep.strategy_path)
    text = path.read_text("utf-8")
    try:
        path.write_text(text + "\n# edited\n", "utf-8")
        assert sweep.combo_key(sweep.run_identity(prep), full(hold_days=2)) != key
    finally:
        path.write_text(text, "utf-8")


@pytest.fixture(scope="module")
def short_preps(tmp_path_factory):
    """Two preps of the short_all strategy differing only in the margin-lending list."""
    t = tiny_sweep(tmp_path_factory.mktemp("short"), {"hold_days": [2, 3]}, strategy="short_all")
    spec = load_spec(t["spec"])
    with_list = engine.prepare(spec, t["ws"], Store(t["home"]))
    # A list the spec does not name (the default) may be missing: then nothing can be shorted.
    without = engine.prepare(dataclasses.replace(spec, margin_list="no_such_list", named=spec.named - {"margin_list"}),
                             t["ws"], Store(t["home"]))
    return with_list, without


def test_the_margin_lending_list_decides_a_short_strategy_result(short_preps):
    with_list, without = short_preps
    a, b = engine.run(with_list, {"hold_days": 3}), engine.run(without, {"hold_days": 3})
    # Every listed code is shorted unless the short-sale price rule refuses it (open below the previous close).
    price_rule = int((a.orders["reason"] == "short_price_rule").sum())
    assert a.stats["n_trades"] == len(CODES) - price_rule >= 1 and b.stats["n_trades"] == 0
    assert set(b.orders.loc[b.orders["side"] == "short", "reason"]) == {"not_shortable"}
    assert a.stats["total_return"] != b.stats["total_return"]


def test_combo_key_changes_with_the_margin_lending_list(short_preps):
    with_list, without = short_preps
    cls = with_list.strategy_class()
    full = resolve_params(cls, {"hold_days": 3}, "t")
    assert sweep.combo_key(sweep.run_identity(with_list), full) != sweep.combo_key(sweep.run_identity(without), full)


def _run_and_free(prep) -> int:
    """run_batch on a copy of ``prep``, then drop it; return the address it had.

    (In a helper so that no frame keeps the copy: Backtrader reads callers' ``f_locals``,
    which pins a function's locals until it returns.)"""
    p = dataclasses.replace(prep)
    sweep.run_batch([("k", {"hold_days": 2})], prep=p)
    return id(p)


def test_run_batch_runs_the_strategy_of_the_prep_it_is_given(tiny_prep):
    """A toy-strategy prep runs and is freed; the next Prepared that lands at its address
    (allocations are held until one does) is a short_all prep: run_batch must run short_all."""
    base, t = tiny_prep
    short_spec = dataclasses.replace(base.spec, strategy="short_all")
    short_path = t["ws"] / "strategies" / "short_all.py"
    checked = 0
    for _ in range(3):
        freed = _run_and_free(base)
        gc.collect()
        held = []
        for _ in range(20000):
            q = dataclasses.replace(base, spec=short_spec, strategy_path=short_path, strategy_name="short_all")
            if id(q) == freed:
                break
            held.append(q)
        else:
            continue
        (row,) = sweep.run_batch([("k", {"hold_days": 2})], prep=q)
        assert row["metrics"]["total_return"] == engine.run(q, {"hold_days": 2}).stats["total_return"]
        checked += 1
        del q, held
    if not checked:
        pytest.skip("the allocator never reused a freed Prepared's address")


# ---------------------------------------------------------------------- local sweeps ---

def test_a_failing_combination_is_stored_as_failed_and_the_sweep_goes_on(tmp_path, capsys):
    t = tiny_sweep(tmp_path, {"hold_days": [1, 2, 3, 4]}, params={"explode": 3})
    rc, out, err = run_cli(sweep_argv(t, "--workers", "2"), capsys)
    assert rc == 0, err
    assert "ran 4 " in out and "1 failed" in out
    frame = pd.read_csv(t["out"] / "results.csv").set_index("hold_days")
    assert sorted(frame.index) == [1, 2, 3, 4]
    assert frame.loc[3, "status"] == "failed"
    assert "ValueError" in frame.loc[3, "error"] and "toy refuses hold_days=3" in frame.loc[3, "error"]
    assert math.isnan(frame.loc[3, "total_return"])
    ok = frame.drop(index=3)
    assert (ok["status"] == "ok").all() and ok["error"].isna().all()
    assert ok["total_return"].notna().all() and (ok["n_trades"] > 0).all()
    summary = json_load(t["out"] / "summary.json")
    assert (summary["combinations"], summary["ok"], summary["failed"]) == (4, 3, 1)


def test_outputs_have_one_row_per_combination_and_the_documented_columns(tmp_path, capsys, tiny_prep):
    t = tiny_sweep(tmp_path, GRID6)
    rc, out, err = run_cli(sweep_argv(t, "--workers", "2"), capsys)
    assert rc == 0, err
    parquet, csv = pd.read_parquet(t["out"] / "results.parquet"), pd.read_csv(t["out"] / "results.csv")
    for frame in (parquet, csv):
        assert len(frame) == 6
        assert list(frame.columns[:2 + len(RESULT_COLUMNS)]) == ["hold_days", "gap", *RESULT_COLUMNS]
        assert sorted(zip(frame["hold_days"], frame["gap"])) == sorted(itertools.product([1, 2, 3], [1, 2]))
        assert (frame["status"] == "ok").all(), frame[["status", "error"]].to_string()
    pd.testing.assert_frame_equal(parquet[["hold_days", "gap", *RESULT_COLUMNS]],
                                  csv[["hold_days", "gap", *RESULT_COLUMNS]], check_dtype=False)
    # a row holds the figures of a run with its parameters
    prep, _ = tiny_prep
    direct = engine.run(prep, {"hold_days": 3, "gap": 1}).stats
    row = parquet[(parquet["hold_days"] == 3) & (parquet["gap"] == 1)].iloc[0]
    assert all(same(row[k], direct[k]) for k in RESULT_COLUMNS[:-1]), (row.to_dict(), direct)
    honest = ["cancelled_orders", "expired_orders", "open_positions", "final_value"]  # after status
    assert list(parquet.columns[2 + len(RESULT_COLUMNS):2 + len(RESULT_COLUMNS) + 4]) == honest
    assert all(same(row[k], direct[k]) for k in honest), (row.to_dict(), direct)
    # summary: combinations tried, the deflated Sharpe, the best by sharpe
    summary = json_load(t["out"] / "summary.json")
    assert summary["combinations"] == 6 and summary["ok"] == 6 and summary["failed"] == 0
    assert summary["deflated"]["n_trials"] == 6
    assert isinstance(summary["deflated_sharpe"], float) and 0.0 <= summary["deflated_sharpe"] <= 1.0
    assert summary["deflated_sharpe"] == summary["deflated"]["dsr"]
    best = parquet.loc[parquet["sharpe"].idxmax()]
    assert summary["deflated_sharpe"] == pytest.approx(deflated_sharpe(t["out"] / "results.sqlite", best["key"],
                                                                       parquet["sharpe"]), abs=1e-9)
    assert {k: str(v) for k, v in summary["best"].items()} == {"hold_days": str(best["hold_days"]),
                                                               "gap": str(best["gap"])}
    assert summary["best_metric"] == best["sharpe"]


def test_summary_best_parameters_keep_their_types(tmp_path, capsys):
    t = tiny_sweep(tmp_path, GRID6)
    assert run_cli(sweep_argv(t, "--workers", "1"), capsys)[0] == 0
    summary = json_load(t["out"] / "summary.json")
    assert summary["axes"] == {"hold_days": [1, 2, 3], "gap": [1, 2]}
    assert all(type(v) is int for v in summary["best"].values()), summary["best"]


def test_a_split_adds_in_and_out_of_sample_figures(tmp_path, capsys):
    t = tiny_sweep(tmp_path, {**GRID6, "split": "2024-02-15"})
    rc, out, err = run_cli(sweep_argv(t, "--workers", "2"), capsys)
    assert rc == 0, err
    frame = pd.read_parquet(t["out"] / "results.parquet")
    assert len(frame) == 6
    for part in ("is_", "oos_"):
        for k in ("total_return", "cagr", "sharpe", "sortino", "max_drawdown"):
            assert part + k in frame.columns
        assert frame[part + "total_return"].notna().all()
    # the two halves compound to the whole run
    whole = (1 + frame["is_total_return"]) * (1 + frame["oos_total_return"]) - 1
    np.testing.assert_allclose(whole, frame["total_return"], rtol=0, atol=1e-12)
    assert (frame["is_total_return"] != frame["total_return"]).any()
    assert json_load(t["out"] / "summary.json")["split"] == "2024-02-15"


def test_walk_forward_adds_figures_per_window(tmp_path, capsys):
    t = tiny_sweep(tmp_path, {**GRID6, "walk_forward": 3})
    rc, out, err = run_cli(sweep_argv(t, "--workers", "1"), capsys)
    assert rc == 0, err
    frame = pd.read_parquet(t["out"] / "results.parquet")
    assert (frame["status"] == "ok").all(), frame["error"].unique()
    whole = np.ones(len(frame))
    for i in (1, 2, 3):
        assert frame[f"wf{i}_sharpe"].notna().any()
        whole *= 1 + frame[f"wf{i}_total_return"]
    np.testing.assert_allclose(whole - 1, frame["total_return"], rtol=0, atol=1e-12)


def test_sweep_html_shows_the_trials_the_deflated_sharpe_a_heatmap_and_the_best_tearsheet(tmp_path, capsys):
    t = tiny_sweep(tmp_path, GRID6)
    rc, out, err = run_cli(sweep_argv(t, "--workers", "2", "--top", "1", html=True), capsys)
    assert rc == 0, err
    page = (t["out"] / "sweep.html").read_text("utf-8")
    summary = json_load(t["out"] / "summary.json")
    assert "6 combinations tried" in page
    assert f"<strong>{summary['deflated_sharpe']:.2f}</strong>" in page
    assert page.count('"type": "heatmap"') == 2  # sharpe and total return over hold_days x gap, interactive
    assert '"texttemplate": "%{z:+.2f}%"' in page  # the total return's cells as percentages
    assert 'href="best/1/tearsheet.html"' in page
    assert (t["out"] / "best" / "1" / "tearsheet.html").stat().st_size > 1000
    assert not (t["out"] / "best" / "2").exists()


def test_sweep_html_groups_identical_results_and_writes_each_best_run_whole(tmp_path, capsys):
    """The toy strategy ignores stop_loss: 2 x 2 combinations give 2 distinct results, so the top 2
    are the two hold_days values (not the same result twice), each a full run folder; percentages
    on the page; one sensitivity chart per parameter with more than one value."""
    t = tiny_sweep(tmp_path, {"hold_days": [2, 3], "stop_loss": [0.0, 0.1]})
    rc, out, err = run_cli(sweep_argv(t, "--workers", "1", "--top", "2", html=True), capsys)
    assert rc == 0, err
    page = (t["out"] / "sweep.html").read_text("utf-8")
    assert "4 combinations tried</strong> (0 failed), giving 2 distinct results" in page
    assert page.count("; hold_days=") == 2  # each rank lists every combination giving its result
    assert "share one rank and are listed together" in page
    frame = pd.read_parquet(t["out"] / "results.parquet")
    best = [json_load(t["out"] / "best" / str(r) / "manifest.json")["params"]["hold_days"] for r in (1, 2)]
    assert sorted(best) == [2, 3]
    for r in (1, 2):
        folder = t["out"] / "best" / str(r)
        assert {"report.html", "tearsheet.html", "trades.csv", "orders.csv", "manifest.json"} <= \
            {p.name for p in folder.iterdir()}
        assert f'href="best/{r}/report.html"' in page and f'href="best/{r}/tearsheet.html"' in page
    tr = frame["total_return"].iloc[0]
    assert f"{tr:+.2%}" in page  # fractions shown as percentages
    assert page.count('<div class="chart"') == 4  # sensitivity to hold_days and to stop_loss, two heatmaps


def test_resume_skips_finished_combinations(tmp_path, capsys):
    t = tiny_sweep(tmp_path, GRID6)
    assert run_cli(sweep_argv(t, "--workers", "1"), capsys)[0] == 0
    db = t["out"] / "results.sqlite"
    before = stored(db)
    rc, out, err = run_cli(sweep_argv(t, "--workers", "2", "--resume"), capsys)
    assert rc == 0 and "ran 0 " in out and "skipped 6 already done" in out
    pd.testing.assert_frame_equal(stored(db), before)
    rc, out, err = run_cli(sweep_argv(t, "--workers", "2"), capsys)  # no --resume: start afresh
    assert rc == 0 and "ran 6 " in out and "skipped 0 " in out
    assert store_rows(db) == (6, 6, "ok")


HELPED = TOY_STRATEGY.replace("from hypebt import Strategy", (
    "import sys\nsys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))\n"
    "import toy_helper  # noqa: E402\n\nfrom hypebt import Strategy")).replace(
    "budget = self.equity * self.cfg.fraction", "budget = self.equity * toy_helper.FRACTION")


def _edit_helper(t):
    (t["ws"] / "strategies" / "toy_helper.py").write_text("FRACTION = 0.5\n", "utf-8")
    return []


def _edit_strategy(t):
    path = t["ws"] / "strategies" / "toy.py"
    path.write_text(path.read_text("utf-8").replace("self.cfg.hold_days + self.cfg.gap", "self.cfg.hold_days + 1"))
    return []


def _new_version(t, monkeypatch):
    import hypebt

    monkeypatch.setattr(hypebt, "__version__", hypebt.__version__ + ".post1")
    return []


# Issue 26: every edit that changes a figure starts the resumed sweep afresh (the result key holds it).
RESUME_EDITS = {
    "warmup": lambda t, mp: ["--set", "warmup=5"],
    "start": lambda t, mp: ["--set", "start=2024-01-10"],
    "cash": lambda t, mp: ["--set", "cash=500000"],
    "rules": lambda t, mp: ["--set", "rules.commission_min=1"],
    "st_codes": lambda t, mp: ["--set", "st_codes=['600000']"],
    "strategy file": lambda t, mp: _edit_strategy(t),
    "helper it imports": lambda t, mp: _edit_helper(t),
    "hypebt version": lambda t, mp: _new_version(t, mp),
}


@pytest.mark.parametrize("edit", list(RESUME_EDITS))
def test_resume_after_an_edit_that_changes_results_reruns_everything(tmp_path, capsys, monkeypatch, edit):
    t = tiny_sweep(tmp_path, {"hold_days": [1, 2]})
    (t["ws"] / "strategies" / "toy.py").write_text(HELPED, "utf-8")
    (t["ws"] / "strategies" / "toy_helper.py").write_text("FRACTION = 0.9\n", "utf-8")
    sys.modules.pop("toy_helper", None)
    try:
        assert run_cli(sweep_argv(t, "--workers", "1"), capsys)[0] == 0
        rc, out, err = run_cli(sweep_argv(t, "--workers", "1", "--resume"), capsys)
        assert rc == 0 and "ran 0 " in out and "skipped 2 already done" in out, out + err
        extra = RESUME_EDITS[edit](t, monkeypatch)
        rc, out, err = run_cli(sweep_argv(t, "--workers", "1", "--resume", *extra), capsys)
        assert rc == 0 and "ran 2 " in out and "skipped 0 already done" in out, out + err
    finally:
        sys.modules.pop("toy_helper", None)


def test_ties_for_best_keep_the_plan_order_whatever_order_rows_were_stored_in(tmp_path, capsys):
    """Issue 26: stop_loss is not read by the toy strategy, so the three combinations tie; the best is
    the plan's first, also when a resumed or Dask sweep stored the rows in another order."""
    t = tiny_sweep(tmp_path, {"stop_loss": [0.0, 0.1, 0.2]})
    assert run_cli(sweep_argv(t, "--workers", "1"), capsys)[0] == 0
    summary = json_load(t["out"] / "summary.json")
    assert summary["best"] == {"stop_loss": 0.0}
    reverse_rows(t["out"] / "results.sqlite")
    rc, out, err = run_cli(sweep_argv(t, "--workers", "1", "--resume"), capsys)
    assert rc == 0 and "skipped 3 already done" in out, out + err
    assert json_load(t["out"] / "summary.json")["best"] == {"stop_loss": 0.0}
    assert list(pd.read_csv(t["out"] / "results.csv")["stop_loss"]) == [0.0, 0.1, 0.2]


# --- issue 26: faults end a sweep with their own exit code and the next step ---------------------

def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_killing_the_sweeps_main_process_ends_its_pool_workers(tmp_path):
    trace = tmp_path / "trace.txt"
    t = tiny_sweep(tmp_path, {"hold_days": [1, 2, 3, 4], "gap": [1, 2]}, params={"pause": 0.5, "trace": str(trace)})
    proc = spawn(sweep_argv(t, "--workers", "2", "--batch", "1"), tmp_path / "sweep.log")
    try:
        wait_for("two busy workers", lambda: len({p for w, p, _, _ in trace_lines(trace)}) >= 2, proc, timeout=120)
        os.kill(proc.pid, signal.SIGKILL)  # the main process only, not its group
        proc.wait(timeout=30)
        workers = {p for w, p, _, _ in trace_lines(trace)}
        wait_for("the workers to end", lambda: not any(_alive(p) for p in workers), timeout=20)
    finally:
        kill_group(proc)


KILLER = TOY_STRATEGY.replace("        self._trace(\"start\")", (
    "        if self.cfg.hold_days == 3 and os.path.exists(self.cfg.trace + '.kill'):\n"
    "            os.kill(os.getpid(), 9)\n"
    "        self._trace(\"start\")"))


def test_a_killed_pool_worker_ends_the_sweep_with_exit_6_and_resume_runs_the_rest(tmp_path, capsys):
    trace = tmp_path / "trace.txt"
    t = tiny_sweep(tmp_path, {"hold_days": [1, 2, 3, 4]}, params={"trace": str(trace)})
    (t["ws"] / "strategies" / "toy.py").write_text(KILLER, "utf-8")
    Path(str(trace) + ".kill").write_text("", "utf-8")
    rc, out, err = run_cli(sweep_argv(t, "--workers", "2", "--batch", "1"), capsys)
    assert rc == 6, err
    line = err.strip().splitlines()[-1]
    assert line.startswith("hypebt: error: a sweep worker process died") and "rerun with --resume" in line, err
    Path(str(trace) + ".kill").unlink()
    rc, out, err = run_cli(sweep_argv(t, "--workers", "2", "--resume"), capsys)
    assert rc == 0, err
    assert store_rows(t["out"] / "results.sqlite") == (4, 4, "ok")


def test_a_full_disk_mid_sweep_exits_5_and_resume_runs_the_rest(tmp_path, capsys, monkeypatch):
    t = tiny_sweep(tmp_path, {"hold_days": [1, 2, 3, 4]})
    real, calls = sweep.ResultStore.add, []

    def add(self, rows):
        calls.append(len(rows))
        if len(calls) == 2:
            raise sqlite3.OperationalError("database or disk is full")
        return real(self, rows)

    monkeypatch.setattr(sweep.ResultStore, "add", add)
    rc, out, err = run_cli(sweep_argv(t, "--workers", "1", "--batch", "1"), capsys)
    monkeypatch.undo()
    assert rc == 5, err
    assert err.count("\n") == 2 and "database or disk is full" in err and "1 combination(s) are stored" in err
    assert "rerun with --resume" in err and "Traceback" not in err
    rc, out, err = run_cli(sweep_argv(t, "--workers", "1", "--resume"), capsys)
    assert rc == 0 and "skipped 1 already done" in out, out + err


def test_a_lost_dask_cluster_ends_the_sweep_with_exit_6(tmp_path):
    trace = tmp_path / "trace.txt"
    t = tiny_sweep(tmp_path, {"hold_days": [1, 2, 3, 4], "gap": [1, 2, 3]}, params={"pause": 0.3, "trace": str(trace)})
    c = Cluster(tmp_path / "dask")
    proc = None
    try:
        proc = spawn(sweep_argv(t, "--scheduler", c.address, "--batch", "1"), tmp_path / "sweep.log")
        wait_rows(t["out"] / "results.sqlite", 1, proc, timeout=120)
        for p in c.procs:  # the whole cluster goes away
            p.kill()
        rc = proc.wait(timeout=180)
    finally:
        if proc is not None and proc.poll() is None:
            kill_group(proc)
        c.close()
    log = (tmp_path / "sweep.log").read_text()
    assert rc == 6, log
    assert "the Dask cluster at" in log and "rerun with --resume" in log and "internal error" not in log
    # hypebt's one line says it all: none of Dask's own reconnect errors and tracebacks before it
    assert "Traceback" not in log and "distributed.client" not in log, log


@pytest.mark.parametrize("moment", ["right after start", "after one row", "after half"])
def test_sigkill_mid_sweep_then_resume_runs_every_combination_exactly_once(tmp_path, capsys, moment):
    t = tiny_sweep(tmp_path, {"hold_days": {"start": 1, "stop": 6}, "gap": {"start": 1, "stop": 4}},
                   params={"pause": 0.1})
    n = 24
    db = t["out"] / "results.sqlite"
    proc = spawn(sweep_argv(t, "--workers", "2", "--batch", "1"), tmp_path / "killed.log")
    try:
        if moment == "right after start":
            wait_for("result store", db.exists, proc)
        else:
            wait_rows(db, 1 if moment == "after one row" else n // 2, proc)
    finally:
        kill_group(proc)
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "killed.log").read_text()
    total, distinct, check = store_rows(db)
    assert check == "ok" and total == distinct
    assert total < n, f"the sweep finished before the kill ({moment})"
    rc, out, err = run_cli(sweep_argv(t, "--workers", "2", "--batch", "1", "--resume"), capsys)
    assert rc == 0, err
    assert f"ran {n - total} " in out and f"skipped {total} already done" in out
    assert store_rows(db) == (n, n, "ok")
    frame = stored(db)
    assert (frame["status"] == "ok").all(), frame[["status", "error"]].to_string()
    assert sorted(pairs(frame.to_dict("records"))) == sorted(itertools.product(range(1, 7), range(1, 5)))


def test_the_local_pool_keeps_at_most_two_batches_per_worker_in_flight(tmp_path, monkeypatch):
    t = tiny_sweep(tmp_path, {"hold_days": {"start": 1, "stop": 5}, "gap": {"start": 1, "stop": 4}},
                   params={"pause": 0.02})
    prep = engine.prepare(load_spec(t["spec"]), t["ws"], Store(t["home"]))
    plan = sweep.make_plan(prep.spec, prep.strategy_class())
    lock, count = threading.Lock(), {"submitted": 0, "finished": 0, "most": 0}

    def finished(_fut):
        with lock:
            count["finished"] += 1

    class CountingPool(ProcessPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            with lock:
                count["submitted"] += 1
                count["most"] = max(count["most"], count["submitted"] - count["finished"])
            fut = super().submit(fn, *args, **kwargs)
            fut.add_done_callback(finished)
            return fut

    monkeypatch.setattr(sweep, "ProcessPoolExecutor", CountingPool)
    outcome = sweep.execute(prep, plan, t["out"], workers=2, batch=1, progress=False)
    assert (outcome.total, outcome.ran, outcome.failed) == (20, 20, 0)
    assert count["submitted"] == 20  # every batch went through the counted pool
    assert count["most"] <= 2 * 2, count
    assert store_rows(t["out"] / "results.sqlite") == (20, 20, "ok")


def test_resume_with_a_new_split_gives_split_figures(tmp_path, capsys):
    t = tiny_sweep(tmp_path, GRID6)
    assert run_cli(sweep_argv(t, "--workers", "1"), capsys)[0] == 0
    rc, out, err = run_cli(sweep_argv(t, "--workers", "1", "--resume", "--set", "sweep.split=2024-02-15"), capsys)
    assert rc == 0, err
    frame = pd.read_parquet(t["out"] / "results.parquet")
    assert "oos_total_return" in frame.columns and frame["oos_total_return"].notna().all()


def test_resume_with_a_smaller_grid_reports_only_its_combinations(tmp_path, capsys):
    t = tiny_sweep(tmp_path, GRID6)
    assert run_cli(sweep_argv(t, "--workers", "1"), capsys)[0] == 0
    rc, out, err = run_cli(sweep_argv(t, "--workers", "1", "--resume", "--set", "sweep.hold_days=[1]"), capsys)
    assert rc == 0 and "skipped 2 already done" in out
    frame = pd.read_parquet(t["out"] / "results.parquet")
    assert sorted(zip(frame["hold_days"], frame["gap"])) == [(1, 1), (1, 2)]
    assert json_load(t["out"] / "summary.json")["combinations"] == 2


def test_a_negative_batch_size_is_refused_or_runs_everything(tmp_path, capsys):
    t = tiny_sweep(tmp_path, GRID6)
    rc, out, err = run_cli(sweep_argv(t, "--workers", "1", "--batch", "-1"), capsys)
    assert rc == 2 or (rc == 0 and row_count(t["out"] / "results.sqlite") == 6), (rc, out, err)


def test_a_negative_worker_count_is_an_input_error(tmp_path, capsys):
    t = tiny_sweep(tmp_path, GRID6)
    rc, out, err = run_cli(sweep_argv(t, "--workers", "-1"), capsys)
    assert rc == 2 and "internal error" not in err, err


# ------------------------------------------------------------------------ real data ---

@pytest.fixture(scope="module")
def real_home(shared_data, tmp_path_factory):
    """A qfq store of the shared market parquet and the CSI 300 (imported once, ~10 s)."""
    home = tmp_path_factory.mktemp("sweep_real") / "store"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        imported = import_paths(Store(home), [shared_data / "ashare" / "market.parquet",
                                              shared_data / "index" / f"{BENCH}.csv"], adjust="qfq")
    assert set(imported.written) == {"stock_qfq", "index"}
    return home


def test_a_real_sweep_row_equals_hypebt_run_with_its_parameters(real_home, tmp_path, capsys):
    """sora_hype on the real data, hold_days [2, 5] x delay [0, 1], 2 workers, batches of 2: the
    combinations compared each ran second in their worker, after another combination."""
    text = (REPO / "backtests" / "sora_hype.toml").read_text("utf-8")
    spec = tmp_path / "sora_small.toml"
    spec.write_text(text[:text.index("[sweep]")] + "[sweep]\nhold_days = [2, 5]\ndelay = [0, 1]\n", "utf-8")
    out = tmp_path / "sweep"
    common = ["--workspace", REPO, "--home", real_home]
    rc, _, err = run_cli([*common, "sweep", spec, "--workers", "2", "--batch", "2", "--out", out,
                          "--no-html", "--offline"], capsys)
    assert rc == 0, err
    frame = stored(out / "results.sqlite")
    parquet = pd.read_parquet(out / "results.parquet")
    assert len(frame) == 4 and (frame["status"] == "ok").all()
    seen = []
    for hold, delay in ((2, 1), (5, 1)):
        run_out = tmp_path / f"run_{hold}_{delay}"
        rc, _, err = run_cli([*common, "run", spec, "--set", f"hold_days={hold}", "--set", f"delay={delay}",
                              "--out", run_out, "--no-html", "--offline"], capsys)
        assert rc == 0, err
        stats = json_load(run_out / "stats.json")
        row = frame[(frame["hold_days"] == hold) & (frame["delay"] == delay)]
        assert len(row) == 1
        row = row.iloc[0]
        for k in FIGURES:
            assert same(row[k], stats[k]), (hold, delay, k, row[k], stats[k])
        prow = parquet[(parquet["hold_days"] == hold) & (parquet["delay"] == delay)].iloc[0]
        for k in ("total_return", "sharpe", "n_trades", "max_drawdown"):
            assert same(prow[k], stats[k]), (hold, delay, k)
        returns = pd.read_csv(run_out / "returns.csv", index_col="date", parse_dates=True)["strategy"]
        store = sweep.ResultStore(out / "results.sqlite")
        try:
            swept = store.returns(row["key"], returns.index)
        finally:
            store.close()
        assert len(returns) == stats["sessions"] > 60
        np.testing.assert_array_equal(swept.to_numpy(), returns.to_numpy())
        assert stats["n_trades"] > 0
        seen.append(stats["total_return"])
    assert seen[0] != seen[1]  # the two runs differ, so equal rows are not a coincidence


# ----------------------------------------------------------------------------- Dask ---

@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("dask"))
    yield c
    c.close()


def trace_lines(path: Path) -> list[tuple[str, int, int, int]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        what, pid, hold, gap = line.split()
        out.append((what, int(pid), int(hold), int(gap)))
    return out


def test_a_dask_sweep_gives_the_same_rows_as_a_local_one(cluster, tmp_path, capsys):
    trace = tmp_path / "trace.txt"
    t = tiny_sweep(tmp_path, {**GRID6, "split": "2024-02-15"}, params={"trace": str(trace)})
    rc, _, err = run_cli(sweep_argv(t, "--workers", "2", out=tmp_path / "local"), capsys)
    assert rc == 0, err
    trace.unlink()
    proc = subprocess.run([PY, "-m", "hypebt.cli.main", *sweep_argv(t, "--scheduler", cluster.address,
                                                              out=tmp_path / "dask")],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert f"on {cluster.address} (Dask)" in proc.stderr
    # the combinations ran in the Dask worker processes
    assert {pid for _, pid, _, _ in trace_lines(trace)} <= {w.pid for w in cluster.workers}
    local, dask = stored(tmp_path / "local" / "results.sqlite"), stored(tmp_path / "dask" / "results.sqlite")
    assert len(local) == 6 and (local["status"] == "ok").all()
    assert "oos_sharpe" in dask.columns
    pd.testing.assert_frame_equal(dask, local, check_exact=True)
    assert stored_returns(tmp_path / "dask" / "results.sqlite") == stored_returns(tmp_path / "local" / "results.sqlite")


def test_killing_a_dask_worker_mid_sweep_loses_no_combination(tmp_path):
    trace = tmp_path / "trace.txt"
    t = tiny_sweep(tmp_path, {"hold_days": [1, 2, 3, 4], "gap": [1, 2, 3]},
                   params={"pause": 0.4, "trace": str(trace)})
    db = t["out"] / "results.sqlite"
    c = Cluster(tmp_path / "dask")
    proc = None
    try:
        pids = {w.pid: w for w in c.workers}
        proc = spawn(sweep_argv(t, "--scheduler", c.address, "--batch", "1"), tmp_path / "sweep.log")
        wait_rows(db, 1, proc, timeout=120)

        def running():
            lines = trace_lines(trace)
            busy = [pid for pid in pids if sum(w == "start" and p == pid for w, p, _, _ in lines)
                    > sum(w == "end" and p == pid for w, p, _, _ in lines)]
            return busy[0] if busy else None

        wait_for("worker busy with a combination", lambda: running() is not None, proc)
        victim = pids[running()]
        victim.kill()
        victim.wait(timeout=10)
        rows_at_kill = row_count(db)
        rc = proc.wait(timeout=180)
    finally:
        if proc is not None and proc.poll() is None:
            kill_group(proc)
        c.close()
    assert rc == 0, (tmp_path / "sweep.log").read_text()
    assert rows_at_kill < 12
    assert store_rows(db) == (12, 12, "ok")
    frame = stored(db)
    assert (frame["status"] == "ok").all(), frame[["status", "error"]].to_string()
    assert sorted(pairs(frame.to_dict("records"))) == sorted(itertools.product([1, 2, 3, 4], [1, 2, 3]))
    # the victim died inside a combination, which another worker then ran to the end
    lines = trace_lines(trace)
    lost = {(h, g) for w, p, h, g in lines if w == "start" and p == victim.pid} - \
           {(h, g) for w, p, h, g in lines if w == "end" and p == victim.pid}
    assert lost, "the killed worker had no combination in flight"
    survivors = {(h, g) for w, p, h, g in lines if w == "end" and p != victim.pid}
    assert lost <= survivors
