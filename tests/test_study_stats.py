"""The study's choice of test (:mod:`hypebt.research.study_stats`)."""

from __future__ import annotations

import numpy as np
import pytest

from hypebt.research import inference as I
from hypebt.research import study_stats as S


def _sample(day0, seed=0, rho=0.4, length=5, t=100):
    rng = np.random.default_rng(seed)
    k = len(day0)
    f = rng.standard_normal((t + length, 1))
    ar = (np.sqrt(rho) * f + np.sqrt(1 - rho) * rng.standard_normal((t + length, k))) * 0.02
    return S.Sample(ar[:t], ar[t:], np.asarray(day0), offset=0)


def test_same_day0_leads_with_kolari_pynnonen():
    sample = _sample([300] * 20)
    out = S.run_tests(sample, (-5, 20))
    assert out.headline == "kp" and "share day 0" in out.why
    assert out.r_bar == pytest.approx(I.average_correlation(sample.est)[0])
    assert out.lead.statistic == pytest.approx(
        I.bmp_test(sample.est, sample.car(), 5, kp=True, r_bar=out.r_bar).statistic)
    cols = S.summary_columns(out)
    for key in ("portfolio_t", "portfolio_p", "kp_t", "kp_p", "bmp_t", "gsign_p", "rank_t", "caltime_p",
                "r_bar", "headline_test", "headline_t", "headline_p"):
        assert key in cols
    assert cols["kp_t"] == out.results["kp"].statistic
    assert cols["headline_t"] == cols["kp_t"]
    assert S.summary_columns(out, "mm_")["mm_kp_p"] == cols["kp_p"]


def test_overlapping_windows_lead_with_calendar_time_and_apart_with_bmp():
    assert S.run_tests(_sample([100, 102, 104, 300]), (0, 4)).headline == "calendar"
    assert S.run_tests(_sample([100, 200, 300, 400]), (0, 4)).headline == "bmp"
    assert S.run_tests(_sample([100]), (0, 4)).headline == "portfolio"


def test_calendar_arrays_place_each_window_on_its_sessions():
    event = np.array([[1.0, 10.0], [2.0, 20.0]])
    sample = S.Sample(np.zeros((3, 2)), event, np.array([5, 6]), offset=1)
    ar, inw = S.calendar_arrays(sample)
    # windows start at sessions 6 and 7: rows 6, 7, 8
    np.testing.assert_array_equal(ar, [[1.0, np.nan], [2.0, 10.0], [np.nan, 20.0]])
    np.testing.assert_array_equal(inw, [[True, False], [True, True], [False, True]])


def test_a_stock_event_without_event_returns_has_no_car():
    event = np.array([[0.01, np.nan], [0.02, np.nan]])
    sample = S.Sample(np.zeros((3, 2)), event, np.array([5, 5]))
    assert sample.car()[0] == pytest.approx(0.03) and np.isnan(sample.car()[1])


def test_stack_and_tests_rows():
    a, b = _sample([100] * 3, seed=1), _sample([200] * 2, seed=2)
    both = S.stack([a, b])
    assert both.est.shape == (100, 5) and both.day0.tolist() == [100, 100, 100, 200, 200]
    assert S.stack([a]) is a
    out = S.run_tests(both, (0, 4))
    rows = S.tests_rows("all events", "market-adjusted", (0, 4), True, out)
    assert {r["key"] for r in rows} == {"plain", "bmp", "kp", "portfolio", "sign", "rank", "calendar"}
    assert sum(r["headline"] for r in rows) == 1 and rows[0]["role"] == "main"
    assert S.tests_rows("x", "m", (0, 1), False, out)[0]["role"] == "descriptive"


def test_band_inflation_undoes_the_kp_factor():
    f = S.band_inflation(0.42, 37)
    assert f == pytest.approx(np.sqrt((1 + 36 * 0.42) / 0.58))
    assert f * np.sqrt(0.58 / (1 + 36 * 0.42)) == pytest.approx(1.0)
    assert S.band_inflation(float("nan"), 37) == 1.0 and S.band_inflation(-0.1, 37) == 1.0
    assert S.band_inflation(0.3, 1) == 1.0
