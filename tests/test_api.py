"""hypebt from Python (``hypebt.backtest``, ``hypebt.sweep``, ``hypebt.study``), in-process, as a
notebook would call it: same figures as the CLI, inline strategy classes, pandas results."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import hypebt
from helpers_engine import BENCH, WEEK_ROWS, bars, make_workspace, write_spec, write_store
from hypebt.cli.main import main
from hypebt.core.errors import InputError
from hypebt.research import study as ST
from test_study import hand, spec_for  # noqa: F401 (the hand-made event-study market)

ROWS = WEEK_ROWS
HOLD = '''
"""Buy at the second open, sell after hold_days sessions."""

from hypebt import Strategy


class Hold(Strategy):
    PARAMS = {"hold_days": 2, "shares": 1000}

    def on_open(self, day):
        if self.session_no == 1:
            self.buy_shares("600000", self.cfg.shares)
        h = self.holding("600000")
        if h.is_open and h.sessions_held >= self.cfg.hold_days:
            self.sell_all("600000")

    def on_close(self, day):
        self.record("held", self.shares("600000"))
        self.log("close", self.bar("600000").close)
'''


@pytest.fixture()
def world(tmp_path):
    """(workspace, store root, spec path) of a two-stock hand-made market with the Hold strategy."""
    stocks = {"600000": bars(10.0, ROWS), "000001": bars(5.0, [(d, o / 2, h / 2, l / 2, c / 2)
                                                              for d, o, h, l, c in ROWS])}
    store = write_store(tmp_path / "store", stocks)
    ws = make_workspace(tmp_path / "ws", strategies={"hold": HOLD})
    spec = write_spec(ws, "hold_run", {"strategy": "hold", "codes": list(stocks), "benchmark": BENCH},
                      {"params": {"hold_days": 2}, "rules": {"slippage_ticks": 1},
                       "sweep": {"hold_days": [1, 2, 3]}})
    return ws, store.root, spec


def test_cli_and_api_give_identical_figures(world, tmp_path):
    ws, home, spec = world
    out = tmp_path / "cli_out"
    assert main(["--workspace", str(ws), "--home", str(home), "run", str(spec), "--out", str(out),
                 "--no-html", "--offline"]) == 0
    res = hypebt.backtest(spec, home=home)  # the workspace is found from the spec's path
    cli_stats = json.loads((out / "stats.json").read_text("utf-8"))
    for key, value in res.stats.items():
        assert cli_stats[key] == value, key
    cli_returns = pd.read_csv(out / "returns.csv", index_col="date", parse_dates=True)["strategy"]
    cli_returns.index = cli_returns.index.as_unit("ns")
    pd.testing.assert_series_equal(res.returns, cli_returns, check_names=False, check_freq=False)
    api_out = res.report(tmp_path / "api_out", html_report=False)
    for name in ("trades.csv", "orders.csv", "fills.csv", "equity.csv", "returns.csv", "log.txt"):
        assert (api_out / name).read_text("utf-8") == (out / name).read_text("utf-8"), name


def test_result_is_pandas_with_datetime_index(world):
    ws, home, spec = world
    res = hypebt.backtest(spec, home=home, hold_days=3)
    assert isinstance(res.returns.index, pd.DatetimeIndex) and isinstance(res.equity.index, pd.DatetimeIndex)
    assert list(res.equity.columns) == ["cash", "value", "held"]
    assert res.params["hold_days"] == 3
    # Bought 1000 at 10.21 (open 10.2 + 1 tick) on 01-03, sold at the open 3 sessions later (01-08).
    assert res.trades["entry_date"].tolist() == [pd.Timestamp("2024-01-03")]
    assert res.trades["exit_date"].tolist() == [pd.Timestamp("2024-01-08")]
    assert res.trades["entry_price"].tolist() == [10.21] and res.trades["exit_price"].tolist() == [10.99]
    assert pd.api.types.is_datetime64_any_dtype(res.fills["date"])
    assert res.log[0] == "2024-01-02 on_close: close 10.2"
    assert isinstance(res.warnings, list) and "<table>" in res._repr_html_()
    assert set(res.stats) >= {"sharpe", "total_return", "n_trades"}


def test_inline_strategy_class_and_keyword_spec(world):
    ws, home, _ = world

    class Notebook(hypebt.Strategy):  # defined here, not in strategies/: used to fail on hypebt_name
        PARAMS = {"n": 100}

        def on_open(self, day):
            if self.session_no == 0:
                self.buy_shares("000001", self.cfg.n)

    res = hypebt.backtest(strategy=Notebook, codes=["000001"], benchmark=BENCH, start=pd.Timestamp("2024-01-03"),
                          workspace=ws, home=home, n=200)
    assert res.fills["size"].tolist() == [200] and res.fills["price"].tolist() == [5.1]
    assert res.returns.index[0] == pd.Timestamp("2024-01-03") and res.strategy == "Notebook"
    out = res.report(ws / "reports" / "nb", html_report=False)
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["strategy"]["name"] == "Notebook" and len(manifest["strategy"]["sha256"]) == 64


def test_dict_spec_and_bad_inputs(world):
    ws, home, _ = world
    res = hypebt.backtest({"strategy": "hold", "codes": ["600000"], "benchmark": BENCH}, workspace=ws, home=home)
    assert res.stats["n_trades"] == 1
    with pytest.raises(InputError, match="did you mean 'hold_days'"):
        hypebt.backtest({"strategy": "hold", "codes": ["600000"], "benchmark": BENCH}, workspace=ws, home=home,
                        hold_day=3)
    with pytest.raises(InputError, match="strategy must be"):
        hypebt.backtest({"codes": ["600000"]}, strategy=3, workspace=ws, home=home)
    with pytest.raises(InputError, match="no strategy"):
        hypebt.backtest({"codes": ["600000"], "benchmark": BENCH}, workspace=ws, home=home)


def test_sweep_is_a_table_indexed_by_the_parameters(world):
    ws, home, spec = world
    table = hypebt.sweep(spec, workers=1, home=home)
    assert table.index.name == "hold_days" and table.index.tolist() == [1, 2, 3]
    assert (table["status"] == "ok").all()
    for hold_days in (1, 3):
        single = hypebt.backtest(spec, home=home, hold_days=hold_days)
        assert table.loc[hold_days, "total_return"] == pytest.approx(single.stats["total_return"], abs=1e-12)
    grid = hypebt.sweep(spec, grid={"hold_days": [1, 2], "shares": [100, 1000]}, workers=1, home=home)
    assert grid.index.names == ["hold_days", "shares"] and len(grid) == 4


def test_study_from_python_matches_the_engine(hand, tmp_path):  # noqa: F811
    ws, store, _, _ = hand
    spec = spec_for(ws, "api_study")
    res = hypebt.study(spec.path, home=store.root)
    inputs = ST.prepare(spec, ws, store)
    abnormal, car, summary, _ = ST.compute(inputs.panel, inputs.tradables, inputs.cfg, inputs.names)
    pd.testing.assert_frame_equal(res.car, car)
    pd.testing.assert_frame_equal(res.summary, summary)
    pd.testing.assert_frame_equal(res.abnormal_returns, abnormal)
    out = res.report(tmp_path / "study_out")
    assert (out / "study.html").is_file()


def test_cli_finds_the_workspace_from_the_spec(world, tmp_path, monkeypatch):
    ws, home, spec = world
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # strategies/ is not here: only the spec's path leads to it
    out = tmp_path / "out"
    assert main(["--home", str(home), "run", str(spec), "--out", str(out), "--no-html", "--offline"]) == 0
    assert json.loads((out / "manifest.json").read_text("utf-8"))["strategy"]["name"] == "hold"
    assert hypebt.backtest(str(spec), home=home).stats["n_trades"] == 1
