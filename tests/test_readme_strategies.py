"""The README's strategies run as written, with fills derived by hand on hand-made bars."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import hypebt
from helpers_engine import BENCH, WEEK_ROWS, bars, make_workspace, write_spec, write_store

README = Path(__file__).resolve().parents[1] / "README.md"
ROWS = WEEK_ROWS


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text("utf-8"), flags=re.S)


def test_first_strategy_respects_t_at_and_sells_after_hold_days(tmp_path):
    source = next(b for b in python_blocks() if "class EventBuy" in b)
    store = write_store(tmp_path / "store", {"600000": bars(10.0, ROWS)})
    ws = make_workspace(tmp_path / "ws", strategies={"event_buy": source})
    (ws / "data" / "events" / "hand.csv").write_text(
        "id,name,company,time,tags\n"
        "early,Before the open,Co,2024-01-03T08:00+08:00,x\n"    # known before 09:30: the open of 01-03
        "intraday,During trading,Co,2024-01-08T10:00+08:00,x\n",  # during trading: the close of 01-08
        "utf-8")
    spec = write_spec(ws, "readme", {"strategy": "event_buy", "codes": ["600000"], "benchmark": BENCH},
                      {"events": {"catalogue": "hand"}, "params": {"hold_days": 2}})
    res = hypebt.backtest(spec, home=store.root)
    fills = [(f.date.strftime("%m-%d"), f.side, f.size, f.price) for f in res.fills.itertuples()]
    # 0.95 x 1,000,000 / 10.2 = 93,137 -> 93,100 shares at the open of 01-03; sold at the open two
    # sessions later (01-05, 10.9). The intraday event buys at the close of 01-08 (10.8) with the
    # equity of that moment, sold at the open of 01-10 (10.9).
    assert fills[:2] == [("01-03", "buy", 93100, 10.2), ("01-05", "sell", 93100, 10.9)]
    assert fills[2][:2] == ("01-08", "buy") and fills[2][3] == 10.8
    assert fills[3][:2] == ("01-10", "sell") and fills[3][2] == fills[2][2] and fills[3][3] == 10.9
    assert len(fills) == 4


def test_notebook_example_class_runs(tmp_path):
    block = next(b for b in python_blocks() if "class Dip" in b)
    source = block[block.index("class Dip"):block.index("res = hypebt.backtest(strategy=Dip")]
    namespace = {"hypebt": hypebt}
    exec(compile(source, "README.md", "exec"), namespace)  # the README's own code, as a notebook runs it
    # Closes fall 10% below the 2-session mean on 01-09 only when we make them: a dip bar.
    rows = ROWS[:5] + [("2024-01-09", 10.0, 10.1, 9.5, 9.6), ("2024-01-10", 9.7, 9.9, 9.6, 9.8)]
    store = write_store(tmp_path / "store", {"600000": bars(10.0, rows)})
    ws = make_workspace(tmp_path / "ws")
    res = hypebt.backtest(strategy=namespace["Dip"], codes=["600000"], benchmark=BENCH, workspace=ws,
                          home=store.root, n=2)
    # Mean of the closes 10.8 and 9.6 is 10.2; 9.6 < 0.95 x 10.2 = 9.69: buy at the next open (9.7).
    assert [(f.date.strftime("%m-%d"), f.side, f.price) for f in res.fills.itertuples()] == [("01-10", "buy", 9.7)]
    assert res.fills["size"].iloc[0] == pytest.approx(100_000 / 9.7 // 100 * 100)


def section(title: str) -> str:
    text = README.read_text("utf-8")
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 3)
    return text[start:end if end > 0 else None]


def test_spec_reference_lists_every_key():
    import dataclasses

    from hypebt.engine.spec import EVENT_KEYS, TOP_KEYS
    from hypebt.market.rules import Rules
    from hypebt.research.plan import RESERVED
    from hypebt.research.study import STUDY_KEYS

    ref = section("Spec reference")
    keys = [*TOP_KEYS, *EVENT_KEYS, *STUDY_KEYS, *RESERVED, *(f.name for f in dataclasses.fields(Rules))]
    missing = [k for k in keys if f"`{k}`" not in ref and f"`[{k}]`" not in ref]
    assert not missing, f"README's spec reference misses {missing}"
    assert "stop` is included" in ref


ENGINE_SIDE = {"next_open", "next", "prenext", "prenext_open", "notify_order", "stop", "equity_frame", "log_lines",
               "equity_rows", "equity_values", "end_of_run",
               "params"}


def test_writing_strategies_documents_every_public_method():
    from hypebt import Strategy
    from hypebt.engine.ordering import OrderMethods
    from hypebt.engine.views import StrategyViews

    import backtrader as bt

    ref = section("Writing strategies")
    public = sorted({name for klass in (Strategy, StrategyViews, OrderMethods) for name in vars(klass)
                     if not name.startswith("_") and name not in ENGINE_SIDE and not hasattr(bt.Strategy, name)})
    undocumented = [n for n in public if not re.search(rf"(`|self\.){re.escape(n)}\b", ref)]
    assert not undocumented, f"README's writing-strategies section misses {undocumented}"
    assert len(public) > 30


def test_backtrader_example_runs_as_written(tmp_path, capsys):
    import tomllib

    import pandas as pd

    source = next(b for b in python_blocks() if "class SmaCross(bt.Strategy)" in b)
    spec_text = re.findall(r"```toml\n(.*?)```", README.read_text("utf-8"), flags=re.S)
    spec = tomllib.loads(next(t for t in spec_text if 'strategy = "sma_cross"' in t))
    days = [str(d.date()) for d in pd.bdate_range("2024-01-02", periods=10)]
    closes = [10.0, 9.9, 9.8, 9.9, 10.3, 10.6, 10.4, 10.0, 9.7, 9.8]
    store = write_store(tmp_path / "store", {"600000": bars(10.0, [(d, c, c + 0.1, c - 0.1, c)
                                                                    for d, c in zip(days, closes)])})
    ws = make_workspace(tmp_path / "ws", strategies={"sma_cross": source})
    path = write_spec(ws, "sma", {"strategy": spec["strategy"], "codes": ["600000"], "benchmark": BENCH,
                                  "start": days[2], "warmup": 2}, {"params": {"period": 3}})
    res = hypebt.backtest(path, home=store.root)
    # SMA(3) with two warm-up sessions: 01-05 closes at 9.9 > 9.87 (9.9, 9.8, 9.9): bought at the
    # 01-08 open (10.3); 01-10 closes at 10.4 < 10.43 (10.3, 10.6, 10.4): sold at the 01-11 open (10.0)
    assert res.fills[["side", "size", "price"]].values.tolist() == [["buy", 1000, 10.3], ["sell", 1000, 10.0]]
    printed = capsys.readouterr().out
    assert f"trade closed, net {res.trades['net_pnl'].iloc[0]:+.2f}" in printed
    assert f"final value {res.stats['final_value']:,.2f}" in printed


def test_the_backtrader_example_is_the_shipped_strategy():
    block = next(b for b in python_blocks() if "class SmaCross(bt.Strategy)" in b)
    assert block == (README.parent / "strategies" / "sma_cross.py").read_text("utf-8")
