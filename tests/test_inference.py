"""Dependence-robust event-study tests (:mod:`hypebt.research.inference`).

Two kinds of checks:

- known answers: a 3-stock panel small enough to compute every statistic by hand; the hand
  computation is written out below with exact fractions, independently of the module's code;
- size under a common shock: 500 simulated panels (fixed seed) where every event falls on one date
  and the stocks' abnormal returns share a market-wide factor (correlation 0.4) but no event effect.
  A valid 5 % test rejects in about 5 % of the draws. With 500 draws the binomial standard error of
  a 5 % rate is sqrt(0.05 * 0.95 / 500) = 0.0097, so a band of 3 SE, [0.021, 0.079], holds a valid
  test with probability > 99.7 %; the plain t-test, whose variance is understated
  1 + (N - 1) * 0.4 = 12.6-fold, rejects in well over half the draws.
"""

from __future__ import annotations

from fractions import Fraction as F
from math import sqrt

import numpy as np
import pytest
from scipy import stats

from hypebt.research import inference as I

# Tiny panel: rows are sessions, columns stocks (in percent; the tests are scale-free).
EST = np.array([[1.0, 2.0, 1.0],
                [-1.0, 0.0, 1.0],
                [2.0, -2.0, -1.0],
                [-2.0, 0.0, -1.0]])
EVENT = np.array([[3.0, 2.0, 1.0],
                  [1.0, 2.0, 0.0]])
CAR = EVENT.sum(axis=0)  # 4, 4, 1
L = 2

# --- the hand computation ----------------------------------------------------------------------
# Every stock's estimation mean is 0; sums of squares 10, 8, 4, so s_i^2 = 10/3, 8/3, 4/3 (ddof 1).
S2 = [F(10, 3), F(8, 3), F(4, 3)]
# SCAR_i = CAR_i / (s_i sqrt(L)): SCAR_i^2 = CAR_i^2 / (2 s_i^2) = 16/(20/3), 16/(16/3), 1/(8/3)
SCAR = [sqrt(F(16) / (2 * S2[0])), sqrt(F(16) / (2 * S2[1])), sqrt(F(1) / (2 * S2[2]))]
SCAR_MEAN = sum(SCAR) / 3
SCAR_SD = sqrt(sum((x - SCAR_MEAN) ** 2 for x in SCAR) / 2)
T_BMP = SCAR_MEAN / (SCAR_SD / sqrt(3))
# Pairwise correlations (all means 0): r12 = -2/sqrt(10*8), r13 = 0/sqrt(10*4), r23 = 4/sqrt(8*4)
R_BAR = (-2 / sqrt(80) + 0 + 4 / sqrt(32)) / 3
T_KP = T_BMP * sqrt((1 - R_BAR) / (1 + 2 * R_BAR))
# Portfolio: mean AR per estimation day 4/3, 0, -1/3, -1 (mean 0); event days 2, 1 -> CAAR 3.
PORT_SD = sqrt(float((F(16, 9) + 0 + F(1, 9) + 1) / 3))
T_PORT = 3 / (PORT_SD * sqrt(2))
# Generalized sign: positive shares 2/4, 1/4, 2/4 -> p = 5/12; all 3 CARs positive.
P_HAT = F(5, 12)
Z_SIGN = float((3 - 3 * P_HAT)) / sqrt(float(3 * P_HAT * (1 - P_HAT)))
# Corrado: ranks of each stock over its 6 days (ties averaged), M = 6, U = K / 7 - 1/2
K = [[F(7, 2), 2, 5, 1, 6, F(7, 2)],
     [5, F(5, 2), 1, F(5, 2), 5, 5],
     [5, 5, F(3, 2), F(3, 2), 5, 3]]
U_BAR = [sum(F(K[i][t]) for i in range(3)) / 3 / 7 - F(1, 2) for t in range(6)]
S_RANK = sqrt(float(sum(u * u for u in U_BAR) / 6))
Z_RANK = float(U_BAR[4] + U_BAR[5]) / (sqrt(2) * S_RANK)


def test_cross_sectional_t_matches_scipy():
    res = I.cross_sectional_t(CAR)
    assert res.statistic == pytest.approx(stats.ttest_1samp(CAR, 0).statistic, rel=1e-12)
    assert res.n == 3 and res.estimate == pytest.approx(3.0)


def test_bmp_by_hand():
    res = I.bmp_test(EST, CAR, L)
    assert res.statistic == pytest.approx(T_BMP, rel=1e-12)
    assert res.p_value == pytest.approx(2 * stats.t.sf(T_BMP, 2), rel=1e-10)
    assert res.n == 3 and res.estimate == pytest.approx(SCAR_MEAN)


def test_average_correlation_by_hand_and_against_numpy():
    r, pairs = I.average_correlation(EST, min_overlap=2)
    assert r == pytest.approx(R_BAR, rel=1e-12) and pairs == 3
    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 6)) + rng.standard_normal((40, 1))
    c = np.corrcoef(x, rowvar=False)
    assert I.average_correlation(x)[0] == pytest.approx(c[np.triu_indices(6, 1)].mean(), rel=1e-12)


def test_average_correlation_uses_common_sessions_only():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((50, 3))
    x[:10, 0] = np.nan                           # stock 0 missing its first 10 sessions
    expected = np.mean([np.corrcoef(x[10:, 0], x[10:, 1])[0, 1], np.corrcoef(x[10:, 0], x[10:, 2])[0, 1],
                        np.corrcoef(x[:, 1], x[:, 2])[0, 1]])
    assert I.average_correlation(x)[0] == pytest.approx(expected, rel=1e-12)


def test_kolari_pynnonen_by_hand():
    res = I.bmp_test(EST, CAR, L, kp=True, r_bar=R_BAR)
    assert res.statistic == pytest.approx(T_KP, rel=1e-12)
    assert res.p_value == pytest.approx(2 * stats.t.sf(T_KP, 2), rel=1e-10)
    # estimating r-bar itself (these 4 sessions are below the default overlap of 10, so give it)
    assert np.isnan(I.bmp_test(EST, CAR, L, kp=True).statistic)


def test_portfolio_by_hand():
    res = I.portfolio_test(EST, EVENT)
    assert res.statistic == pytest.approx(T_PORT, rel=1e-12)
    assert res.p_value == pytest.approx(2 * stats.t.sf(T_PORT, 3), rel=1e-10)
    assert res.estimate == pytest.approx(3.0) and res.n == 4


def test_generalized_sign_by_hand():
    res = I.generalized_sign_test(EST, CAR, adjust_correlation=False)
    assert res.statistic == pytest.approx(Z_SIGN, rel=1e-12)
    assert res.p_value == pytest.approx(2 * stats.norm.sf(Z_SIGN), rel=1e-10)


def test_rank_by_hand():
    res = I.rank_test(EST, EVENT)
    assert res.statistic == pytest.approx(Z_RANK, rel=1e-12)
    assert res.n == 3
    # the second event day alone, ranked with the whole window
    assert I.rank_test(EST, EVENT, test_rows=[1]).statistic == pytest.approx(float(U_BAR[5]) / S_RANK, rel=1e-12)


def test_calendar_time_by_hand():
    # Two stock-events: A in its window on sessions 0-2, B on sessions 2-4.
    ar = np.array([[1.0, 9.0], [2.0, 9.0], [3.0, 5.0], [9.0, -1.0], [9.0, 0.0]])
    inw = np.array([[1, 0], [1, 0], [1, 1], [0, 1], [0, 1]], dtype=bool)
    p = [1.0, 2.0, 4.0, -1.0, 0.0]                     # session 2 averages A and B
    mean, sd = sum(p) / 5, sqrt(sum((x - 1.2) ** 2 for x in p) / 4)
    res = I.calendar_time_test(ar, inw)
    assert res.statistic == pytest.approx(mean / (sd / sqrt(5)), rel=1e-12)
    assert res.n == 5 and res.estimate == pytest.approx(1.2)


def test_missing_values_do_not_break_the_tests():
    est, event = EST.copy(), EVENT.copy()
    est[0, 0] = np.nan
    event[1, 2] = np.nan
    car = np.nansum(event, axis=0)
    for res in (I.portfolio_test(est, event), I.bmp_test(est, car, L), I.rank_test(est, event),
                I.generalized_sign_test(est, car, adjust_correlation=False)):
        assert np.isfinite(res.statistic), res
    # a stock with no estimation data is left out, not a NaN statistic
    est[:, 1] = np.nan
    assert I.bmp_test(est, car, L).n == 2


def test_clustering_decides():
    same = I.clustering([100] * 37, (-5, 20))
    assert same.same_date and same.clustered and same.recommended == "portfolio"
    spread = I.clustering([0, 3, 200], (0, 5))
    assert not spread.same_date and spread.overlap_share == pytest.approx(1 / 3)
    assert spread.recommended == "calendar_time"
    apart = I.clustering([0, 50, 100, 150], (-5, 20))
    assert apart.overlap_share == 0 and apart.recommended == "cross_sectional"
    # pairs at exactly the window's width apart share one session
    assert I.clustering([0, 25], (-5, 20)).overlap_share == 1.0
    assert I.clustering([0, 26], (-5, 20)).overlap_share == 0.0


# --- size under a common shock --------------------------------------------------------------------
DRAWS, N, T, LEN, RHO = 500, 30, 100, 5, 0.4
BAND = (0.05 - 3 * 0.0097, 0.05 + 3 * 0.0097)


def _rejections(effect: float = 0.0, rho: float = RHO, seed: int = 20240219, vol_jump: float = 1.0
                ) -> dict[str, float]:
    """Share of the draws each test rejects at 5 %: N stocks, one common day 0, a market factor
    with correlation ``rho`` between the stocks, stock volatilities from 1 % to 4 % (times
    ``vol_jump`` in the event window), and ``effect`` added to each stock's event-window AR on
    every event day."""
    rng = np.random.default_rng(seed)
    hits: dict[str, int] = {}
    for _ in range(DRAWS):
        f = rng.standard_normal((T + LEN, 1))
        ar = (np.sqrt(rho) * f + np.sqrt(1 - rho) * rng.standard_normal((T + LEN, N))) * rng.uniform(0.01, 0.04, N)
        ar[T:] = ar[T:] * vol_jump + effect
        est, ev = ar[:T], ar[T:]
        car = ev.sum(axis=0)
        results = {"plain": I.cross_sectional_t(car), "portfolio": I.portfolio_test(est, ev),
                   "bmp": I.bmp_test(est, car, LEN), "kp": I.bmp_test(est, car, LEN, kp=True),
                   "sign": I.generalized_sign_test(est, car, adjust_correlation=False),
                   "sign_adj": I.generalized_sign_test(est, car), "rank": I.rank_test(est, ev),
                   "calendar": I.calendar_time_test(ev, np.ones_like(ev, dtype=bool))}
        for k, r in results.items():
            hits[k] = hits.get(k, 0) + int(r.p_value < 0.05)
    return {k: v / DRAWS for k, v in hits.items()}


@pytest.fixture(scope="module")
def null_rates():
    return _rejections()


@pytest.mark.parametrize("test", ["portfolio", "kp", "rank", "calendar"])
def test_robust_tests_keep_their_size_under_a_common_shock(null_rates, test):
    assert BAND[0] <= null_rates[test] <= BAND[1], null_rates


def test_correlation_adjusted_sign_test_is_not_oversized(null_rates):
    # The inflated variance is right, but the count of positives under a strong common factor is
    # flatter than normal, so the normal approximation is conservative: at most the nominal size.
    assert null_rates["sign_adj"] <= BAND[1], null_rates


@pytest.mark.parametrize("test", ["plain", "bmp", "sign"])
def test_independence_tests_over_reject_under_a_common_shock(null_rates, test):
    assert null_rates[test] > 0.3, null_rates


def test_without_dependence_every_test_keeps_its_size():
    rates = _rejections(rho=0.0, seed=7)
    for test in ("plain", "portfolio", "bmp", "kp", "sign", "rank", "calendar"):
        assert BAND[0] <= rates[test] <= BAND[1], (test, rates)


def test_event_induced_variance_breaks_the_portfolio_test_not_kolari_pynnonen():
    # News doubles every stock's volatility in the event window (as concept-stock news does): the
    # portfolio test takes its sd from the calmer estimation window and over-rejects; the
    # standardized test takes the dispersion of the event-window SCARs, so KP keeps its size.
    # This is why a study's headline on same-date events is the KP figure.
    rates = _rejections(vol_jump=2.0, seed=5)
    assert rates["portfolio"] > 0.2, rates
    assert BAND[0] <= rates["kp"] <= BAND[1], rates
    assert BAND[0] <= rates["calendar"] <= BAND[1], rates


def test_robust_tests_still_detect_a_real_effect():
    # 2 % a day for 5 days (CAAR 10 %) against a portfolio AR sd of about 1.6 % a day
    # (sqrt(0.4) x 2.5 % average volatility): t around 0.10 / (0.016 x sqrt(5)) = 2.8.
    rates = _rejections(effect=0.02, seed=11)
    for test in ("portfolio", "kp", "rank"):
        assert rates[test] > 0.5, (test, rates)


def test_calendar_time_keeps_its_size_when_events_cluster_on_several_dates():
    # 8 dates with 5 stock-events each, 12 sessions apart (windows of 5 sessions do not overlap
    # across dates); a market factor per session with correlation 0.4 between the stocks. The
    # plain t-test's variance is understated 1 + 4 * 0.4 = 2.6-fold within each date.
    rng = np.random.default_rng(99)
    day0 = np.repeat(np.arange(8) * 12 + 5, 5)
    assert I.clustering(day0, (0, 4)).recommended == "calendar_time"
    days, n = 8 * 12 + 10, len(day0)
    inw = (np.arange(days)[:, None] >= day0) & (np.arange(days)[:, None] < day0 + 5)
    plain = calendar = 0
    for _ in range(DRAWS):
        f = rng.standard_normal((days, 1))
        ar = (np.sqrt(RHO) * f + np.sqrt(1 - RHO) * rng.standard_normal((days, n))) * 0.02
        car = np.where(inw, ar, 0).sum(axis=0)
        plain += I.cross_sectional_t(car).p_value < 0.05
        calendar += I.calendar_time_test(ar, inw).p_value < 0.05
    assert BAND[0] <= calendar / DRAWS <= BAND[1], calendar / DRAWS
    assert plain / DRAWS > 0.15, plain / DRAWS


def test_kp_takes_a_negative_average_correlation_as_zero():
    bmp = I.bmp_test(EST, CAR, L)
    kp = I.bmp_test(EST, CAR, L, kp=True, r_bar=-0.6)   # 1 + 2 * (-0.6) < 0 would break the formula
    assert kp.statistic == pytest.approx(bmp.statistic) and "taken as 0" in kp.notes
