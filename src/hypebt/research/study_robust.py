"""The dependence-robust tests of a study, from its session x stock return matrices.

:func:`hypebt.research.study.compute` hands over, per event, an :class:`EventWindow` (day 0's row,
the stocks studied, their abnormal returns over the event window and their fitted market model);
this module adds the estimation-window abnormal returns (same formula,
:func:`hypebt.research.study_returns.abnormal_returns`, on the one-session returns the market
model was fitted on), builds a :class:`~hypebt.research.study_stats.Sample` per event, model and
CAR window, and runs every test (:func:`hypebt.research.study_stats.run_tests`).

Multiple CAR windows: the *main* window (``[study] main_window``, default ``[0, end of window]``)
is declared before the data are seen and carries the headline; the other windows' tests are
reported as descriptive, their p-values not adjusted for the several windows looked at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hypebt.research import study_returns as SR
from hypebt.research import study_stats as SS

MODELS = (("mkt", "market-adjusted", 1, ""), ("mm", "market model", 2, "mm_"))


@dataclass(frozen=True)
class EventWindow:
    """One event's window as :func:`study.compute` computed it (arrays over every stock column)."""

    event: str
    i0: int
    cols: np.ndarray      # the stocks studied (columns of the panel)
    ar_mkt: np.ndarray    # (window sessions, stocks) market-adjusted ARs
    ar_mm: np.ndarray     # market-model ARs (NaN where the model was not fitted)
    alpha: np.ndarray     # (stocks,) fitted market model (NaN: not fitted)
    beta: np.ndarray


def estimation_ars(w: EventWindow, r, rm, span, estimation: tuple[int, int]):
    """(T, len(cols)) market-adjusted and market-model ARs over the estimation window, on the
    one-session returns the model was fitted on (NaN elsewhere and on rows before the data)."""
    e1, e2 = estimation
    rows = np.arange(w.i0 + e1, w.i0 + e2 + 1)
    inside = rows >= 1
    t = len(rows)
    est_mkt = np.full((t, len(w.cols)), np.nan)
    est_mm = np.full((t, len(w.cols)), np.nan)
    rr, mm, sp = r[rows[inside]][:, w.cols], rm[rows[inside]][:, w.cols], span[rows[inside]][:, w.cols]
    ok = ~np.isnan(rr) & ~np.isnan(mm) & (sp == 1)
    mkt, mod = SR.abnormal_returns(rr, mm, sp, w.alpha[w.cols], w.beta[w.cols])
    est_mkt[inside] = np.where(ok, mkt, np.nan)
    est_mm[inside] = np.where(ok, mod, np.nan)
    return est_mkt, est_mm


def run(windows: list[EventWindow], r, rm, span, window: tuple[int, int], estimation: tuple[int, int],
        car_windows, main_window: tuple[int, int]):
    """Every test for every event (and all events together), model and CAR window.

    Returns ``(columns, rows, outcomes)``: ``columns[event]`` the summary.csv figures of the main
    window (:func:`study_stats.summary_columns`, market-model ones prefixed ``mm_``), ``rows`` the
    tests.csv rows, ``outcomes[(event, model)]`` the main window's :class:`study_stats.Outcome`.
    """
    a = window[0]
    est = {w.event: estimation_ars(w, r, rm, span, estimation) for w in windows}
    groups = [(w.event, [w]) for w in windows]
    if len(windows) > 1:
        groups.append(("all events", windows))
    columns, rows, outcomes, corr = {}, [], {}, {}
    for lo, hi in dict.fromkeys([main_window, *car_windows]):
        sl = slice(lo - a, hi - a + 1)
        for name, members in groups:
            for m, (key, label, ddof, prefix) in enumerate(MODELS):
                samples = [SS.Sample(est[w.event][m], (w.ar_mkt if key == "mkt" else w.ar_mm)[sl][:, w.cols],
                                     np.full(len(w.cols), w.i0), lo, ddof) for w in members]
                sample = SS.stack(samples)
                if (name, key) not in corr:  # the estimation window is the same for every CAR window
                    corr[(name, key)] = SS.correlations(sample)
                outcome = SS.run_tests(sample, window, corr[(name, key)])
                main = (lo, hi) == main_window
                rows.extend(SS.tests_rows(name, label, (lo, hi), main, outcome))
                if main:
                    columns.setdefault(name, {}).update(SS.summary_columns(outcome, prefix))
                    columns[name][f"{prefix}headline_why"] = outcome.why
                    outcomes[(name, key)] = outcome
    if len(windows) == 1:  # one event: "all events" is the same sample
        columns["all events"] = columns[windows[0].event]
        outcomes.update({("all events", k): outcomes[(windows[0].event, k)] for k, *_ in MODELS})
    return columns, rows, outcomes
