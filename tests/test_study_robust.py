"""From a study's return matrices to its robust tests (:mod:`hypebt.research.study_robust`)."""

from __future__ import annotations

import numpy as np
import pytest

from hypebt.research import inference as I
from hypebt.research import study_returns as SR
from hypebt.research import study_robust as RB

S, K = 200, 6
WINDOW, EST = (-2, 5), (-100, -11)


def _panel(seed=0):
    rng = np.random.default_rng(seed)
    rm = np.repeat(rng.normal(0, 0.01, (S, 1)), K, axis=1)
    r = 0.0005 + 1.2 * rm + rng.normal(0, 0.02, (S, K))
    span = np.ones((S, K), dtype=int)
    r[150, 0], rm[150, 0], span[150, 0] = np.nan, np.nan, 0   # stock 0 suspended on row 150
    span[151, 0] = 2                                           # its next return spans 2 sessions
    return r, rm, span


def _window(r, rm, span, i0, event="e"):
    rows = np.arange(i0 + EST[0], i0 + EST[1] + 1)
    ok = ~np.isnan(r[rows]) & (span[rows] == 1)
    alpha, beta, _ = SR.market_model(r[rows], rm[rows], ok)
    w = np.arange(i0 + WINDOW[0], i0 + WINDOW[1] + 1)
    mkt, mm = SR.abnormal_returns(r[w], rm[w], span[w], alpha, beta)
    return RB.EventWindow(event, i0, np.arange(K), mkt, mm, alpha, beta)


def test_estimation_ars_use_one_session_returns_only():
    r, rm, span = _panel()
    w = _window(r, rm, span, 180)
    est_mkt, est_mm = RB.estimation_ars(w, r, rm, span, EST)
    assert est_mkt.shape == (90, K)
    row150, row151 = 150 - (180 - 100), 151 - (180 - 100)
    assert np.isnan(est_mkt[row150, 0]) and np.isnan(est_mkt[row151, 0])   # suspended, then a 2-session return
    assert est_mkt[row151, 1] == pytest.approx(r[151, 1] - rm[151, 1])
    assert est_mm[5, 2] == pytest.approx(r[85, 2] - w.alpha[2] - w.beta[2] * rm[85, 2])
    # market-model residuals average zero over the fit
    assert np.nanmean(est_mm[:, 3]) == pytest.approx(0, abs=1e-12)


def test_run_gives_summary_columns_and_tests_rows_for_each_window():
    r, rm, span = _panel()
    windows = [_window(r, rm, span, 180, "a"), _window(r, rm, span, 120, "b")]
    cols, rows, outcomes = RB.run(windows, r, rm, span, WINDOW, EST, [(-2, -1), (0, 5)], (0, 5))
    assert set(cols) == {"a", "b", "all events"}
    assert {"portfolio_t", "kp_p", "mm_kp_t", "mm_headline_test", "headline_why"} <= set(cols["a"])
    main = [x for x in rows if x["role"] == "main"]
    assert {x["window"] for x in main} == {"[0,5]"} and {x["window"] for x in rows} == {"[0,5]", "[-2,-1]"}
    # all events: 12 stock-events on two dates far apart -> events clustered per date
    assert outcomes[("all events", "mkt")].lead.n == 12
    # the figure in the summary is the test on the CAR window's ARs
    car = windows[0].ar_mkt[2:][:, :].sum(axis=0)
    assert cols["a"]["bmp_t"] == pytest.approx(
        I.bmp_test(RB.estimation_ars(windows[0], r, rm, span, EST)[0], car, 6).statistic)


def test_one_event_shares_its_figures_with_all_events():
    r, rm, span = _panel()
    cols, _, outcomes = RB.run([_window(r, rm, span, 180, "a")], r, rm, span, WINDOW, EST, [(0, 5)], (0, 5))
    assert cols["all events"] is cols["a"] and outcomes[("all events", "mm")] is outcomes[("a", "mm")]
