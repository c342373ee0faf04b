"""Tiny hand-made markets for engine tests: a store, a workspace, a scripted strategy.

A test describes its market as a few bars per code and a plan of orders
(session number, hook, method, arguments), and gets back the prepared run and
its :class:`hypebt.engine.backtest.Result`::

    prep, res = run_plan(tmp_path, {"600000": bars(10.0, [("2024-01-02", 10, 10.5, 9.9, 10.2)])},
                         [(0, "open", "buy_shares", "600000", 100)])

The benchmark (sh000300) trades on every date of ``sessions`` (default: the
union of the stock dates), so a stock missing one of those dates is suspended.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from hypebt.engine import backtest as engine
from hypebt.engine.spec import load_spec
from hypebt.data.store import Store

BENCH = "sh000300"

# A week and a half of hand-made bars (date, open, high, low, close) that the strategy-API tests
# share; ``bars(10.0, WEEK_ROWS)`` makes them a stock whose previous close was 10.
WEEK_ROWS = [
    ("2024-01-02", 10.0, 10.5, 9.9, 10.2),
    ("2024-01-03", 10.2, 10.8, 10.1, 10.6),
    ("2024-01-04", 10.6, 11.0, 10.5, 10.9),
    ("2024-01-05", 10.9, 11.2, 10.7, 11.0),
    ("2024-01-08", 11.0, 11.1, 10.6, 10.8),
    ("2024-01-09", 10.8, 11.0, 10.7, 10.9),
    ("2024-01-10", 10.9, 11.5, 10.8, 11.4),
]
# A stock over the first six dates of WEEK_ROWS, locked at limit-up all of its second session
# (一字涨停, 10.00 -> 11.00), which then opens at 11.50.
LOCKED_UP_ROWS = [("2024-01-02", 10.0, 10.2, 9.9, 10.0), ("2024-01-03", 11.0, 11.0, 11.0, 11.0),
                  ("2024-01-04", 11.5, 12.0, 11.3, 11.8), ("2024-01-05", 11.8, 12.0, 11.6, 11.9),
                  ("2024-01-08", 11.9, 12.0, 11.7, 11.9), ("2024-01-09", 11.9, 12.0, 11.7, 11.9)]

SCRIPT_STRATEGY = '''
"""Test strategy: follow a plan of (session_no, "open"|"close", method, *args[, kwargs])."""

from hypebt import Strategy


class Script(Strategy):
    PARAMS = {"plan": []}

    def __init__(self):
        super().__init__()
        self.seen = []  # (session_no, hook, code, position) after each hook, for tests

    def _do(self, hook):
        for step in self.cfg.plan:
            n, h, method, *args = step
            if n != self.session_no or h != hook:
                continue
            kwargs = args.pop() if args and isinstance(args[-1], dict) else {}
            getattr(self, method)(*args, **kwargs)

    def on_open(self, day):
        self._do("open")

    def on_close(self, day):
        self._do("close")
'''


def bars(prev_close: float, rows, volume: float = 1_000_000.0) -> pd.DataFrame:
    """A canonical frame (code filled in later) from ``(date, open, high, low, close)`` rows.

    ``prev_close`` is the close before the first row: it becomes the first
    row's ``pct_change`` so the engine can compute that session's limits.
    """
    out = []
    prev = prev_close
    for day, o, h, l, c in rows:
        out.append({
            "date": pd.Timestamp(day), "open": float(o), "high": float(h), "low": float(l),
            "close": float(c), "volume": float(volume), "amount": float(volume) * float(c),
            "pct_change": (float(c) / prev - 1) * 100, "turnover": 1.0,
        })
        prev = float(c)
    return pd.DataFrame(out)


def data_file(store_root: Path, dataset: str) -> Path:
    """The data file a dataset's manifest names (``bars-<sha>.parquet``; the manifest switches datasets)."""
    import json

    return Path(store_root) / dataset / json.loads((Path(store_root) / dataset / "manifest.json").read_text("utf-8"))["file"]


def write_store(root: Path, stocks: dict[str, pd.DataFrame], sessions=None, adjust: str = "raw") -> Store:
    """Write ``stocks`` (code -> :func:`bars` frame) and a flat CSI 300 over ``sessions``."""
    store = Store(root)
    frames = []
    for code, frame in stocks.items():
        f = frame.copy()
        f.insert(0, "code", code)
        if adjust == "raw":
            f["adj_factor"] = 1.0
        frames.append(f)
    stock = pd.concat(frames, ignore_index=True)
    stock["date"] = stock["date"].astype("datetime64[ns]")
    store.write(f"stock_{adjust}", stock, source="test", adjust=adjust)
    days = sorted(set(stock["date"])) if sessions is None else [pd.Timestamp(d) for d in sessions]
    n = len(days)
    index = pd.DataFrame({
        "code": BENCH, "date": pd.DatetimeIndex(days).astype("datetime64[ns]"),
        "open": [3500.0 + i for i in range(n)], "high": [3510.0 + i for i in range(n)],
        "low": [3490.0 + i for i in range(n)], "close": [3500.0 + i for i in range(n)],
        "volume": [1e9] * n,
    })
    store.write("index", index, source="test", adjust="none")
    return store


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (dt.date, pd.Timestamp)):
        return str(pd.Timestamp(v).date())
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_spec(ws: Path, name: str, top: dict, tables: dict | None = None) -> Path:
    """``backtests/<name>.toml`` from top-level keys and ``{table: {key: value}}``."""
    lines = [f'name = "{name}"'] + [f"{k} = {toml_value(v)}" for k, v in top.items()]
    for table, keys in (tables or {}).items():
        lines.append(f"\n[{table}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in keys.items()]
    path = ws / "backtests" / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def make_workspace(ws: Path, margin: tuple[str, ...] = (), strategies: dict[str, str] | None = None) -> Path:
    """A workspace with the Script strategy (and ``strategies``) and a margin list."""
    (ws / "strategies").mkdir(parents=True, exist_ok=True)
    (ws / "strategies" / "script.py").write_text(SCRIPT_STRATEGY, "utf-8")
    for name, src in (strategies or {}).items():
        (ws / "strategies" / f"{name}.py").write_text(src, "utf-8")
    uni = ws / "data" / "universes"
    uni.mkdir(parents=True, exist_ok=True)
    if margin:
        rows = ["code,name,snapshot_date,source,kind"] + [f"{c},T{c},2024-01,test,list" for c in margin]
        (uni / "margin.csv").write_text("\n".join(rows) + "\n", "utf-8")
    (ws / "data" / "events").mkdir(parents=True, exist_ok=True)
    return ws


def run_plan(tmp: Path, stocks: dict[str, pd.DataFrame], plan, *, cash: float = 1_000_000.0,
             margin: tuple[str, ...] = (), rules: dict | None = None, sessions=None,
             adjust: str = "raw", strategy: str = "script", params: dict | None = None):
    """Build store + workspace in ``tmp``, run ``plan`` and return ``(prep, result)``."""
    store = write_store(tmp / "store", stocks, sessions, adjust=adjust)
    ws = make_workspace(tmp / "ws", margin)
    spec_path = write_spec(ws, "t", {
        "strategy": strategy, "codes": list(stocks), "cash": cash, "benchmark": BENCH,
        **({"margin_list": "margin"} if margin else {}),  # a named list must exist
    }, {"rules": rules or {}})
    prep = engine.prepare(load_spec(spec_path), ws, store)
    result = engine.run(prep, {"plan": [list(step) for step in plan], **(params or {})}
                        if strategy == "script" else params)
    return prep, result


def order_rows(result, **match) -> list[dict]:
    """Rows of ``result.orders`` whose columns equal ``match``, as dicts."""
    frame = result.orders
    for k, v in match.items():
        frame = frame[frame[k] == v]
    return frame.to_dict("records")


def only_order(result, **match) -> dict:
    rows = order_rows(result, **match)
    assert len(rows) == 1, f"expected one order matching {match}, got {rows}\nall orders:\n{result.orders}"
    return rows[0]


def day(s: str) -> dt.date:
    return dt.date.fromisoformat(s)
