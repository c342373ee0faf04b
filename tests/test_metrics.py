"""The run figures are computed with numpy (no quantstats in sweeps); they must equal quantstats'.

Tiny hand-made return series with known figures, then real runs of the shipped specs on
``../shared/data`` (several parameter sets, whole period) compared with quantstats 1e-12 close,
and a subprocess check that computing figures imports neither quantstats nor matplotlib.
"""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hypebt.engine import backtest as engine
from hypebt.engine import metrics
from hypebt.engine.spec import load_spec

REPO = Path(__file__).resolve().parents[1]
RATIOS = ("sharpe", "sortino", "max_drawdown", "volatility")


def series(values) -> pd.Series:
    return pd.Series(values, index=pd.bdate_range("2024-01-02", periods=len(values)), dtype="float64")


def quantstats_figures(returns: pd.Series) -> dict:
    """What metrics.compute gave before it stopped calling quantstats."""
    qs = metrics._qs()
    r = returns.fillna(0.0)
    return {
        "sharpe": metrics._num(qs.stats.sharpe(r, periods=metrics.PERIODS)),
        "sortino": metrics._num(qs.stats.sortino(r, periods=metrics.PERIODS)),
        "max_drawdown": metrics._num(qs.stats.max_drawdown(r)),
        "volatility": metrics._num(qs.stats.volatility(r, periods=metrics.PERIODS)),
    }


def assert_same(ours: dict, theirs: dict, where: str) -> None:
    for k in RATIOS:
        a, b = ours[k], theirs[k]
        if b is None:
            assert a is None, f"{where} {k}: ours {a}, quantstats None"
        else:
            assert a is not None and abs(a - b) <= 1e-12 * max(1.0, abs(b)), f"{where} {k}: ours {a}, quantstats {b}"


# ---------------------------------------------------------------------------- by hand ---

def test_figures_of_a_tiny_series_by_hand():
    r = series([0.10, -0.05, 0.02, -0.10, 0.0])
    x = r.to_numpy()
    assert metrics.sharpe(x) == pytest.approx(x.mean() / x.std(ddof=1) * math.sqrt(242), rel=1e-15)
    assert metrics.sortino(x) == pytest.approx(x.mean() / math.sqrt((0.05**2 + 0.10**2) / 5) * math.sqrt(242))
    assert metrics.volatility(x) == pytest.approx(x.std(ddof=1) * math.sqrt(242))
    # equity 1.1, 1.045, 1.0659, 0.95931: the peak is 1.1, the trough 0.95931
    assert metrics.max_drawdown(x) == pytest.approx(0.95931 / 1.1 - 1, rel=1e-12)


def test_a_loss_on_the_first_session_is_a_drawdown():
    assert metrics.max_drawdown(np.array([-0.2, 0.1])) == pytest.approx(-0.2)


def test_no_losing_session_has_no_sortino_and_flat_has_no_ratios():
    figs = metrics.from_returns(series([0.01, 0.0, 0.02]))
    assert figs["sortino"] is None and figs["sharpe"] is not None
    flat = metrics.from_returns(series([0.0, 0.0, float("nan")]))
    assert (flat["sharpe"], flat["sortino"], flat["max_drawdown"], flat["total_return"]) == (None, None, 0.0, 0.0)


@pytest.mark.parametrize("values", [
    [0.10, -0.05, 0.02, -0.10, 0.0],
    [-0.2, 0.1, float("nan"), 0.3],
    [0.01, 0.0, 0.02],
    [0.0, 0.0, -0.01, 0.0, 0.0, 0.0],
    [0.02, float("inf"), -0.01, 0.01],
])
def test_tiny_series_equal_quantstats(values):
    r = series(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same(metrics.from_returns(r) | {"volatility": metrics._num(metrics.volatility(metrics._clean(r)))},
                    quantstats_figures(r), str(values))


def test_figures_need_neither_quantstats_nor_matplotlib():
    code = (
        "import sys, pandas as pd\n"
        "from hypebt.engine import metrics\n"
        "r = pd.Series([0.01, -0.02, 0.03], index=pd.bdate_range('2024-01-02', periods=3))\n"
        "t = pd.DataFrame({'status': ['closed'], 'net_pnl': [1.0]})\n"
        "o = pd.DataFrame({'status': ['filled']})\n"
        "metrics.compute(r, t, o, 0.5); metrics.from_returns(r)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('quantstats', 'matplotlib')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]", out.stdout


# ---------------------------------------------------------------------------- real runs ---

CASES = [
    ("sora_hype", ["start=2021-01-04"], {}),
    ("sora_hype", ["start=2021-01-04"], {"hold_days": 20, "delay": 2, "stop_loss": 0.1}),
    ("sora_hype", [], {"hold_days": 1}),
    ("sora_hype", [], {"hold_days": 8, "take_profit": 0.2, "streak_exit": False}),
    ("iflytek_release_short", [], {}),
    ("iflytek_release_short", [], {"hold_days": 5, "at": "close", "offset": -1}),
]


@pytest.mark.realdata
@pytest.mark.parametrize("name,sets,params", CASES)
def test_real_run_figures_equal_quantstats(real_store, name, sets, params):
    prep = engine.prepare(load_spec(REPO / "backtests" / f"{name}.toml", sets), REPO, real_store)
    res = engine.run(prep, params)
    assert res.returns.any(), "the case must trade, or it compares nothing"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = quantstats_figures(res.returns)
    assert_same(res.stats, theirs, f"{name} {params}")
    # the slices a sweep records (in/out of sample, walk-forward windows) too
    for part in (res.returns.iloc[: len(res.returns) // 2], res.returns.iloc[len(res.returns) // 3:]):
        if part.any():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = quantstats_figures(part)
            assert_same({**metrics.from_returns(part), "volatility": theirs["volatility"]}, theirs, name)
