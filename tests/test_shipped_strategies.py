"""The shipped strategies runup_filter and confirm_trail on hand-made bars (fills derived by hand),
and their specs and sweep tables as shipped."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import hypebt
from helpers_engine import BENCH, bars, make_workspace, write_spec, write_store
from hypebt.engine.spec import load_spec
from hypebt.engine.strategy import load_strategy
from hypebt.research.plan import make_plan

REPO = Path(__file__).resolve().parents[1]
DAYS = [d.date().isoformat() for d in pd.bdate_range("2024-01-02", periods=9)]


def workspace(tmp_path, stocks, event_time: str):
    store = write_store(tmp_path / "store", stocks)
    strategies = {name: (REPO / "strategies" / f"{name}.py").read_text("utf-8")
                  for name in ("runup_filter", "confirm_trail")}
    ws = make_workspace(tmp_path / "ws", strategies=strategies)
    (ws / "data" / "events" / "hand.csv").write_text(
        f"id,name,company,time,tags\nlaunch,Launch,Co,{event_time},x\n", "utf-8")
    return ws, store


def fills(res, code):
    f = res.fills[res.fills["code"] == code]
    return [(d.strftime("%m-%d"), s, int(n), p) for d, s, n, p in zip(f["date"], f["side"], f["size"], f["price"])]


def test_runup_filter_skips_the_stock_that_ran_up(tmp_path):
    # X rises 4 % a session into the event (+20 % over the 5 closes before it); Y stays flat (+1 %).
    x = [(DAYS[i], c, c * 1.01, c * 0.99, c) for i, c in enumerate([10.0, 10.4, 10.8, 11.2, 11.6, 12.0, 12.0,
                                                                    12.0, 12.0])]
    y = [(DAYS[i], c, c * 1.01, c * 0.99, c) for i, c in enumerate([10.0, 10.1, 10.0, 10.1, 10.0, 10.1, 10.2,
                                                                    10.3, 10.4])]
    ws, store = workspace(tmp_path, {"600001": bars(10.0, x), "600002": bars(10.0, y)},
                          f"{DAYS[6]}T08:00+08:00")  # known before the open of session 6
    spec = write_spec(ws, "runup", {"strategy": "runup_filter", "codes": ["600001", "600002"],
                                    "benchmark": BENCH}, {"events": {"catalogue": "hand"},
                                                          "params": {"hold_days": 2, "vol_days": 2}})
    res = hypebt.backtest(spec, home=store.root)
    # Y alone gets the whole 0.95 of equity: 950,000 / 10.20 = 93,137 -> 93,100 shares at the open
    # of session 6, sold at the open two sessions later (10.40).
    assert fills(res, "600002") == [(DAYS[6][5:], "buy", 93100, 10.2), (DAYS[8][5:], "sell", 93100, 10.4)]
    assert fills(res, "600001") == []
    assert any("600001" in line and "run-up +20.0%" in line for line in res.log)
    assert res.equity["bought"].dropna().tolist() == [1.0]


def test_confirm_trail_enters_on_confirmation_and_trails_the_stop(tmp_path):
    rows = [  # open, high, low, close
        (10.0, 10.1, 9.9, 10.0), (10.0, 10.1, 9.9, 10.0), (10.0, 10.1, 9.9, 10.0),
        (10.0, 10.3, 9.95, 10.2),   # 3: event session; +2 % on the close before it: not confirmed
        (10.2, 10.6, 10.1, 10.5),   # 4: +5 % and above the 2-session mean 10.35: confirmed
        (10.6, 11.05, 10.55, 11.0),  # 5: bought at the open 10.60; stop 5 % under 11.00 = 10.45
        (11.2, 11.5, 11.1, 11.4),   # 6: stop not reached; moved up to 5 % under 11.40 = 10.83
        (11.0, 11.1, 10.7, 10.8),   # 7: trades down through 10.83: sold at the stop
        (10.8, 10.9, 10.7, 10.8),
    ]
    ws, store = workspace(tmp_path, {"600003": bars(10.0, [(DAYS[i], *r) for i, r in enumerate(rows)])},
                          f"{DAYS[3]}T08:00+08:00")
    spec = write_spec(ws, "confirm", {"strategy": "confirm_trail", "codes": ["600003"], "benchmark": BENCH},
                      {"events": {"catalogue": "hand"},
                       "params": {"window": 3, "confirm": 0.03, "sma_days": 2, "weight": 0.5, "trail": 0.05}})
    res = hypebt.backtest(spec, home=store.root)
    # 0.5 x 1,000,000 / 10.60 = 47,169.8 -> 47,100 shares.
    assert fills(res, "600003") == [(DAYS[5][5:], "buy", 47100, 10.6), (DAYS[7][5:], "sell", 47100, 10.83)]
    orders = res.orders
    assert orders[orders["status"] == "cancelled"]["at"].tolist() == ["stop@10.45"]
    assert orders[orders["status"] == "filled"]["at"].tolist() == ["open", "stop@10.83"]


def test_shipped_specs_and_sweeps_plan():
    for name, strategy, size in (("sora_runup", "runup_filter", 60), ("chatgpt_confirm", "confirm_trail", 27)):
        spec = load_spec(REPO / "backtests" / f"{name}.toml")
        cls = load_strategy(spec.strategy, REPO / "strategies")
        assert spec.strategy == strategy and spec.warmup > 0
        assert len(make_plan(spec, cls).combos) == size
