"""Performance figures of a run, from its daily returns and trade list.

quantstats does the statistics (``f(returns) -> number``); hypebt only passes
the A-share year (242 sessions) and gathers the figures in one dict, the row a
sweep stores and the ``stats.json`` a run writes.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

PERIODS = 242  # A-share sessions in a year (quantstats assumes 252 unless told)

METRICS = ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "volatility",
           "win_rate", "n_trades", "exposure", "refused_orders")


def _qs():
    # quantstats draws with matplotlib: pick the file backend before it loads
    # pyplot, and quiet the font finder's "findfont: Arial" noise.
    import matplotlib

    matplotlib.use("Agg", force=True)
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    import quantstats as qs

    return qs


def _num(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) or math.isinf(x) else x


def compute(returns: pd.Series, trades: pd.DataFrame, orders: pd.DataFrame, exposure: float) -> dict:
    """The standard figures. ``returns``: daily simple returns on a naive DatetimeIndex."""
    qs = _qs()
    r = returns.fillna(0.0)
    total = float((1 + r).prod() - 1) if len(r) else 0.0
    years = len(r) / PERIODS
    cagr = (1 + total) ** (1 / years) - 1 if years > 0 and total > -1 else None
    flat = not r.any()
    closed = trades[trades["status"] == "closed"] if len(trades) else trades
    out = {
        "total_return": total,
        "cagr": cagr,
        "sharpe": None if flat else _num(qs.stats.sharpe(r, periods=PERIODS)),
        "sortino": None if flat else _num(qs.stats.sortino(r, periods=PERIODS)),
        "max_drawdown": _num(qs.stats.max_drawdown(r)) if not flat else 0.0,
        "volatility": _num(qs.stats.volatility(r, periods=PERIODS)) if not flat else 0.0,
        "win_rate": float((closed["net_pnl"] > 0).mean()) if len(closed) else None,
        "n_trades": int(len(closed)),
        "exposure": float(exposure),
        "refused_orders": int((orders["status"] != "filled").sum()) if len(orders) else 0,
    }
    return out


def benchmark_figures(bench: pd.Series) -> dict:
    """Total return and CAGR of the benchmark over the same sessions."""
    r = bench.fillna(0.0)
    total = float((1 + r).prod() - 1) if len(r) else 0.0
    years = len(r) / PERIODS
    return {"benchmark_total_return": total,
            "benchmark_cagr": (1 + total) ** (1 / years) - 1 if years > 0 and total > -1 else None}


def exposure_of(equity: pd.DataFrame) -> float:
    """Fraction of sessions ending with money in positions."""
    if not len(equity):
        return 0.0
    invested = ~np.isclose(equity["value"].to_numpy(), equity["cash"].to_numpy(), atol=0.005)
    return float(invested.mean())
