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


# --- notebooks: classes without a file, no workspace, no network unless asked ----------------------

CELL = '''
class Cell(hypebt.Strategy):
    PARAMS = {"shares": 100}

    def on_open(self, day):
        if self.session_no == 0:
            self.buy_shares("000001", self.cfg.shares)
'''


def _cell_class(monkeypatch, text=CELL, filename="/tmp/ipykernel_1/1234.py"):
    """A class as IPython makes it from a cell: in a ``__main__`` without a file, its text in linecache."""
    import linecache
    import types

    main = types.ModuleType("__main__")
    monkeypatch.setitem(__import__("sys").modules, "__main__", main)
    monkeypatch.setitem(linecache.cache, filename, (len(text), None, text.splitlines(True), filename))
    ns = {"__name__": "__main__", "hypebt": hypebt}
    exec(compile(text, filename, "exec"), ns)
    return ns["Cell"]


def test_a_class_typed_into_a_cell_runs_and_its_manifest_keeps_the_cell(world, monkeypatch):
    import inspect

    from hypebt.engine.provenance import strategy_source

    ws, home, _ = world
    cls = _cell_class(monkeypatch)
    with pytest.raises(OSError):
        inspect.getsourcefile(cls)  # what Jupyter gives: no file for a class of a cell
    res = hypebt.backtest(strategy=cls, codes=["000001"], benchmark=BENCH, workspace=ws, home=home)
    assert res.fills["size"].tolist() == [100] and res.strategy == "Cell"
    manifest = json.loads((res.report(ws / "reports" / "cell", html_report=False) / "manifest.json").read_text("utf-8"))
    assert manifest["strategy"]["origin"] == "class" and manifest["strategy"]["path"] == ""
    assert manifest["strategy"]["source"] == CELL.lstrip("\n")
    # a sweep after the run: the class was adopted whole (a half-marked class failed here)
    table = hypebt.sweep(strategy=cls, codes=["000001"], benchmark=BENCH, grid={"shares": [100, 200]}, workers=1,
                         workspace=ws, home=home)
    assert table["n_trades"].tolist() == [0, 0] and table["exposure"].gt(0).all()
    assert strategy_source(cls)["sha256"] != strategy_source(_cell_class(monkeypatch, CELL.replace("100", "200")))["sha256"]


def test_a_class_without_any_source_is_known_by_a_digest_of_its_code(monkeypatch):
    from hypebt.engine.provenance import adopt, strategy_source

    a = _cell_class(monkeypatch, filename="/tmp/a.py")
    monkeypatch.delitem(__import__("linecache").cache, "/tmp/a.py")
    b = _cell_class(monkeypatch, filename="/tmp/b.py")  # the same code compiled under another cell's name
    monkeypatch.delitem(__import__("linecache").cache, "/tmp/b.py")
    c = _cell_class(monkeypatch, CELL.replace("self.cfg.shares", "2 * self.cfg.shares"), filename="/tmp/c.py")
    monkeypatch.delitem(__import__("linecache").cache, "/tmp/c.py")
    sa, sb, sc = (strategy_source(adopt(k)) for k in (a, b, c))
    assert sa["origin"] == "code" and sa["source"] is None and len(sa["sha256"]) == 64
    assert sa["sha256"] == sb["sha256"] != sc["sha256"]


def test_outside_a_workspace_the_api_says_so_in_one_line(tmp_path, monkeypatch):
    from hypebt.core.errors import HypebtError

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("hypebt.data.sources.fetch_bars", lambda *a, **k: pytest.fail("reached for the network"))
    with pytest.raises(InputError, match=r"is not a hypebt workspace .*pass workspace=FOLDER") as info:
        hypebt.backtest(strategy=_cell_class(monkeypatch), codes=["002230"], start="2024-01-02")
    assert info.value._render_traceback_() == [f"hypebt: error: {info.value}"]
    assert isinstance(info.value, HypebtError) and "\n" not in str(info.value)


def test_the_api_fetches_only_when_asked(world, monkeypatch):
    from hypebt.core.errors import DataError

    ws, home, _ = world
    calls = []

    def fake_fetch(store, codes, indexes, *args, **kwargs):
        calls.append((list(codes), list(indexes)))
        raise DataError("fetch reached")

    monkeypatch.setattr("hypebt.data.sources.fetch_bars", fake_fetch)
    kw = dict(strategy="hold", codes=["600519"], benchmark=BENCH, workspace=ws, home=home)
    with pytest.raises(DataError, match=r"lacks 1 code\(s\) \(600519\); pass fetch=True"):
        hypebt.backtest(**kw)
    assert calls == []
    with pytest.raises(DataError, match="fetch reached"):
        hypebt.backtest(**kw, fetch=True)
    assert calls == [(["600519"], [])]


def test_a_period_before_the_stored_data_is_an_error(real_store, repo):
    from hypebt.core.errors import DataError

    # the CSI 300 is stored from 2010, the stocks from 2021: a run in 2019 would trade nothing
    with pytest.raises(DataError, match=r"no data between 2019-01-02 and 2019-06-28 \(the store has 2021-01-04"):
        hypebt.backtest(repo / "backtests" / "sora_hype.toml", home=real_store.root, start="2019-01-02",
                        end="2019-06-28")


def test_spawned_sweep_workers_get_a_notebook_class_by_value(world, monkeypatch):
    """A worker that never ran the cell (spawned, not forked) gets the class: built again from its
    recipe, so the classes Backtrader's metaclasses generate exist there too (hypebt.engine.portable)."""
    from hypebt.research import sweep as S

    ws, home, _ = world
    _cell_class(monkeypatch)
    cls = _cell_class(monkeypatch)  # the cell run twice: Backtrader names its generated classes ..._Cell1 ...
    kw = dict(strategy=cls, codes=["000001"], benchmark=BENCH, grid={"shares": [100, 200]}, workspace=ws, home=home)
    here = hypebt.sweep(workers=1, **kw)
    monkeypatch.setattr(S, "START_METHOD", "spawn")
    spawned = hypebt.sweep(workers=2, **kw)
    assert (spawned["status"] == "ok").all(), spawned["error"].tolist()
    pd.testing.assert_frame_equal(spawned.drop(columns=["seconds"]), here.drop(columns=["seconds"]))
    assert spawned["final_value"].nunique() == 2  # the parameter reached the class in the workers
