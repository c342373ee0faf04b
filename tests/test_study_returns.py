"""Buy-and-hold abnormal returns and day-0 context (:mod:`hypebt.research.study_returns`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hypebt.research import study_returns as R


def test_bhar_compounds_and_differs_from_car():
    # stock: +100 % then -50 %: buy and hold 0; CAR of the returns against a flat market: +50 %
    close = np.array([[10.0], [20.0], [10.0]])
    bench = np.array([100.0, 100.0, 100.0])
    present = np.ones_like(close, dtype=bool)
    stock, b, ab = R.bhar(close, bench, R.last_traded(present), 0, 2, np.array([0]))
    assert stock[0] == pytest.approx(0.0) and b[0] == 0.0 and ab[0] == pytest.approx(0.0)
    car = np.sum(close[1:, 0] / close[:-1, 0] - 1)
    assert car == pytest.approx(0.5)


def test_bhar_over_a_suspension_uses_the_same_sessions_for_the_benchmark():
    nan = np.nan
    close = np.array([[10.0, 5.0], [nan, 5.5], [12.0, nan], [nan, nan]])
    present = ~np.isnan(close)
    bench = np.array([1000.0, 1010.0, 1050.0, 1100.0])
    last = R.last_traded(present)
    stock, b, ab = R.bhar(close, bench, last, 0, 3, np.array([0, 1]))
    # stock 0: 10 -> 12 (its last close is on row 2), benchmark over rows 0 -> 2
    assert stock[0] == pytest.approx(0.2) and b[0] == pytest.approx(0.05)
    # stock 1: 5 -> 5.5 (last close row 1), benchmark rows 0 -> 1
    assert ab[1] == pytest.approx(0.1 - 0.01)
    # a start before any close, or no trade after the start: NaN
    assert np.isnan(R.bhar(close, bench, last, 2, 3, np.array([1]))[2][0])


def test_bhar_with_a_benchmark_per_stock():
    close = np.array([[10.0, 10.0], [11.0, 12.0]])
    bench = np.array([[100.0, 200.0], [105.0, 220.0]])
    _, b, ab = R.bhar(close, bench, R.last_traded(np.ones((2, 2), bool)), 0, 1, np.array([0, 1]))
    np.testing.assert_allclose(b, [0.05, 0.10])
    np.testing.assert_allclose(ab, [0.05, 0.10])


def test_closure_days():
    s = pd.DatetimeIndex(["2024-02-02", "2024-02-05", "2024-02-08", "2024-02-19"])
    assert R.closure_days(s, 1) == (3, False)       # a weekend
    assert R.closure_days(s, 3) == (11, True)       # the Spring Festival
    assert R.closure_days(s, 0) == (0, False)


def test_market_model_recovers_alpha_and_beta():
    rng = np.random.default_rng(0)
    rm = rng.normal(0, 0.01, (80, 1)).repeat(2, axis=1)
    r = np.column_stack([0.001 + 1.5 * rm[:, 0], -0.002 + 0.5 * rm[:, 1] + rng.normal(0, 0.001, 80)])
    ok = np.ones_like(r, dtype=bool)
    ok[:10, 1] = False
    alpha, beta, n = R.market_model(r, rm, ok)
    assert alpha[0] == pytest.approx(0.001) and beta[0] == pytest.approx(1.5)
    assert n.tolist() == [80, 70]
    fit = np.polyfit(rm[10:, 1], r[10:, 1], 1)
    assert beta[1] == pytest.approx(fit[0]) and alpha[1] == pytest.approx(fit[1])
    ar_mkt, ar_mm = R.abnormal_returns(r, rm, np.ones_like(r), alpha, beta)
    np.testing.assert_allclose(ar_mm[:, 0], 0, atol=1e-15)
    np.testing.assert_allclose(ar_mkt[:, 0], r[:, 0] - rm[:, 0])
    # a two-session return after a suspension expects two sessions of alpha
    assert R.abnormal_returns(r[:1], rm[:1], np.array([[2, 1]]), alpha, beta)[1][0, 0] == pytest.approx(-0.001)
