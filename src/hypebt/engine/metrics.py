"""Performance figures of a run, from its daily returns and trade list.

The figures are quantstats' definitions (``f(returns) -> number``) over the
A-share year (242 sessions), computed here with numpy from the recorded daily
returns: a sweep computes them for every combination, and importing quantstats
(with matplotlib) in every sweep process and calling it per combination cost
more than some runs. quantstats itself still draws the HTML tearsheet
(:func:`hypebt.reports.run_report`); ``tests/test_metrics.py`` checks both give
the same numbers on real runs. They gather in one dict, the row a sweep stores
and the ``stats.json`` a run writes.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

PERIODS = 242  # A-share sessions in a year (quantstats assumes 252 unless told)

METRICS = ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "volatility",
           "win_rate", "n_trades", "exposure", "refused_orders", "cancelled_orders", "expired_orders",
           "open_positions")
# Orders that did not fill, by who ended them (the order ledger's status and reason):
# the strategy cancelled it; its life ran out (good_for sessions, or the end of the data); anything
# else was refused by the market or the account (limits, T+1, lots, cash, margin, suspension, the
# volume cap's unfilled part).
CANCELLED_BY_STRATEGY = ("cancelled",)
EXPIRED = ("good_for", "end_of_data")


def _qs():
    """quantstats, for the HTML tearsheet only (the figures here do not need it)."""
    # quantstats draws with matplotlib: pick the file backend before it loads
    # pyplot, and quiet the font finder's "findfont: Arial" noise.
    import matplotlib

    matplotlib.use("Agg", force=True)
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    import quantstats as qs

    return qs


def _clean(returns: pd.Series) -> np.ndarray:
    """The returns as quantstats reads them: missing values are 0, infinities are missing."""
    r = returns.to_numpy(dtype="float64", na_value=np.nan)
    r = np.where(np.isnan(r), 0.0, r)
    return np.where(np.isinf(r), np.nan, r)


def sharpe(r: np.ndarray, periods: int = PERIODS) -> float:
    """Annualised Sharpe ratio at a zero risk-free rate: mean / sample std (ddof 1) * sqrt(periods),
    quantstats' ``stats.sharpe``. ``r``: daily simple returns (NaN = no observation)."""
    ok = r[~np.isnan(r)]
    sd = ok.std(ddof=1) if len(ok) > 1 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(ok.mean() / sd * math.sqrt(periods)) if len(ok) else math.nan


def sortino(r: np.ndarray, periods: int = PERIODS) -> float:
    """Annualised Sortino ratio (Red Rock Capital's definition, as quantstats' ``stats.sortino``):
    mean / sqrt(sum of squared negative returns / number of returns) * sqrt(periods); NaN when no
    return is negative."""
    ok = r[~np.isnan(r)]
    if not len(ok):
        return math.nan
    downside = math.sqrt(float((ok[ok < 0] ** 2).sum()) / len(ok))
    return math.nan if downside == 0 else float(ok.mean() / downside * math.sqrt(periods))


def volatility(r: np.ndarray, periods: int = PERIODS) -> float:
    """Annualised volatility: sample std (ddof 1) * sqrt(periods), quantstats' ``stats.volatility``."""
    ok = r[~np.isnan(r)]
    return float(ok.std(ddof=1) * math.sqrt(periods)) if len(ok) > 1 else math.nan


def max_drawdown(r: np.ndarray) -> float:
    """Largest fall from a peak of the compounded returns, negative (quantstats' ``stats.max_drawdown``):
    the equity starts at 1 before the first session, so a loss on the first session counts."""
    if not len(r):
        return 0.0
    # quantstats compounds with missing returns as 0, then carries prices over gaps.
    prices = 1.0 + (np.cumprod(1.0 + np.where(np.isnan(r), 0.0, r)) - 1.0)
    prices = np.concatenate(([1.0], prices))
    return float((prices / np.maximum.accumulate(prices)).min() - 1.0)


def _num(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) or math.isinf(x) else x


def order_outcomes(rows) -> dict[str, int]:
    """Orders that did not fill, counted apart: ``refused_orders`` (by the market or the account),
    ``cancelled_orders`` (by the strategy), ``expired_orders`` (``good_for`` ran out, or still
    waiting when the data ended). ``rows``: ``(status, reason)`` pairs of the order ledger."""
    out = {"refused_orders": 0, "cancelled_orders": 0, "expired_orders": 0}
    for status, reason in rows:
        if status in ("filled", "submitted"):
            continue
        if reason in CANCELLED_BY_STRATEGY:
            out["cancelled_orders"] += 1
        elif status == "expired" or reason in EXPIRED:
            out["expired_orders"] += 1
        else:
            out["refused_orders"] += 1
    return out


def outcome_of(status: str, reason: str) -> str:
    """``"filled"``, ``"refused"``, ``"cancelled"`` or ``"expired"``: who ended an order (see
    :func:`order_outcomes`)."""
    if status in ("filled", "submitted"):
        return "filled"
    if reason in CANCELLED_BY_STRATEGY:
        return "cancelled"
    if status == "expired" or reason in EXPIRED:
        return "expired"
    return "refused"


def compute(returns: pd.Series, trades: pd.DataFrame, orders: pd.DataFrame, exposure: float) -> dict:
    """The standard figures. ``returns``: daily simple returns on a naive DatetimeIndex."""
    closed = trades[trades["status"] == "closed"] if len(trades) else trades
    pnl = closed["net_pnl"].to_numpy(dtype="float64") if len(closed) else np.empty(0)
    reasons = orders["reason"] if "reason" in orders else [""] * len(orders)
    outcomes = order_outcomes(zip(orders["status"], reasons)) if len(orders) else None
    n_open = int((trades["status"] == "open").sum()) if len(trades) else 0
    return figures(returns, pnl, outcomes, exposure, n_open)


def figures(returns: pd.Series, closed_pnl: np.ndarray, outcomes: dict | int | None, exposure: float,
            open_positions: int = 0) -> dict:
    """:func:`compute` from the closed trades' net P&L, the orders not filled (:func:`order_outcomes`)
    and the positions open at the end, without the ledger tables (what a sweep computes for each
    combination). ``n_trades`` counts closed trades; ``open_positions`` the trades still open."""
    if not isinstance(outcomes, dict):
        outcomes = {"refused_orders": int(outcomes or 0), "cancelled_orders": 0, "expired_orders": 0}
    values = returns.to_numpy(dtype="float64", na_value=np.nan)
    raw = np.where(np.isnan(values), 0.0, values)  # fillna(0): pandas' prod and any are numpy's on this
    r = np.where(np.isinf(raw), np.nan, raw)
    total = float(np.prod(1 + raw) - 1) if len(raw) else 0.0
    years = len(r) / PERIODS
    cagr = (1 + total) ** (1 / years) - 1 if years > 0 and total > -1 else None
    flat = not raw.any()
    return {
        "total_return": total,
        "cagr": cagr,
        "sharpe": None if flat else _num(sharpe(r)),
        "sortino": None if flat else _num(sortino(r)),
        "max_drawdown": _num(max_drawdown(r)) if not flat else 0.0,
        "volatility": _num(volatility(r)) if not flat else 0.0,
        "win_rate": float((closed_pnl > 0).mean()) if len(closed_pnl) else None,
        "n_trades": int(len(closed_pnl)),
        "exposure": float(exposure),
        **{k: int(v) for k, v in outcomes.items()},
        "open_positions": int(open_positions),
    }


def benchmark_figures(bench: pd.Series) -> dict:
    """Total return and CAGR of the benchmark over the same sessions."""
    r = bench.fillna(0.0)
    total = float((1 + r).prod() - 1) if len(r) else 0.0
    years = len(r) / PERIODS
    return {"benchmark_total_return": total,
            "benchmark_cagr": (1 + total) ** (1 / years) - 1 if years > 0 and total > -1 else None}


def exposure_of(equity: pd.DataFrame) -> float:
    """Fraction of sessions ending with money in positions."""
    return exposure_from(equity["value"].to_numpy(), equity["cash"].to_numpy())


def exposure_from(value: np.ndarray, cash: np.ndarray) -> float:
    """:func:`exposure_of` from the closing values and cash."""
    if not len(value):
        return 0.0
    invested = ~np.isclose(value, cash, atol=0.005)
    return float(invested.mean())


def from_returns(returns: pd.Series) -> dict:
    """Return-only figures of a slice of a run (in/out of sample, walk-forward windows)."""
    raw = returns.fillna(0.0)
    r = _clean(returns)
    total = float((1 + raw).prod() - 1) if len(raw) else 0.0
    years = len(r) / PERIODS
    flat = not raw.any()
    return {
        "total_return": total,
        "cagr": (1 + total) ** (1 / years) - 1 if years > 0 and total > -1 else None,
        "sharpe": None if flat else _num(sharpe(r)),
        "sortino": None if flat else _num(sortino(r)),
        "max_drawdown": 0.0 if flat else _num(max_drawdown(r)),
    }


EULER_GAMMA = 0.5772156649015329


def expected_max_sharpe(sr_variance: float, n_trials: int) -> float:
    """Expected maximum of ``n_trials`` Sharpe ratios under the null of no skill
    (Bailey & López de Prado 2014, eq. for SR0), in the same units as the variance."""
    from statistics import NormalDist

    if n_trials < 2 or sr_variance <= 0:
        return 0.0
    z = NormalDist()
    return math.sqrt(sr_variance) * (
        (1 - EULER_GAMMA) * z.inv_cdf(1 - 1 / n_trials) + EULER_GAMMA * z.inv_cdf(1 - 1 / (n_trials * math.e))
    )


def deflated_sharpe(returns: pd.Series, trial_sharpes, n_trials: int | None = None) -> dict:
    """Deflated Sharpe ratio of the best combination (Bailey & López de Prado, 2014).

    ``returns``: the chosen combination's daily returns; ``trial_sharpes``: the
    *per-session* (non-annualised) Sharpe ratios of every combination tried. The
    result is the probability that the best Sharpe is above what the best of
    that many skill-less trials would show, given the returns' length, skew and
    kurtosis.
    """
    from statistics import NormalDist

    r = returns.fillna(0.0).to_numpy(dtype="float64")
    trials = np.asarray([s for s in trial_sharpes if s is not None and np.isfinite(s)], dtype="float64")
    n = n_trials or len(trials)
    t = len(r)
    sd = r.std(ddof=1) if t > 1 else 0.0
    if t < 3 or sd == 0 or len(trials) < 2:
        return {"dsr": None, "sr0": None, "n_trials": n}
    sr = r.mean() / sd
    skew = float(pd.Series(r).skew())
    kurt = float(pd.Series(r).kurt()) + 3.0  # pandas gives excess kurtosis
    sr0 = expected_max_sharpe(float(trials.var(ddof=1)), n)
    denom = 1 - skew * sr + (kurt - 1) / 4 * sr * sr
    if denom <= 0:
        return {"dsr": None, "sr0": sr0 * math.sqrt(PERIODS), "n_trials": n}
    z = (sr - sr0) * math.sqrt(t - 1) / math.sqrt(denom)
    return {"dsr": NormalDist().cdf(z), "sr0": sr0 * math.sqrt(PERIODS), "n_trials": n}
