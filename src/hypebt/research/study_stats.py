"""Which significance test a study reports, and why: the study's side of :mod:`inference`.

A study hands over, for one model of abnormal returns (market-adjusted or market model) and one
CAR window, a :class:`Sample`: the stock-events' estimation-window ARs and event-window ARs in
*event time* (row k is the same relative day for every column; for the stocks of one event that
is also the same calendar session) and each stock-event's day-0 session number. :func:`run_tests`
runs every test and picks the one the report leads with, by how the events cluster in calendar
time:

- every stock-event on one day 0 (a whole market, or a concept list, around one announcement):
  the standardized BMP test with the Kolari–Pynnönen correction. It allows for the
  cross-correlation of the ARs (a common shock moves them together) and for the higher volatility
  news brings (which the Brown–Warner portfolio test, shown beside it, does not: its sd comes
  from the calmer estimation window, so it over-rejects then; tests/test_inference.py shows both);
- windows that overlap in calendar time but different days 0: the calendar-time portfolio;
- no clustering: the standardized BMP test (independent events; robust to event-induced variance);
- a single stock-event: the portfolio test, which is then the single-stock time-series t-test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hypebt.core.i18n import N_
from hypebt.research import inference as I

# summary.csv column stem -> the test key of run_tests
COLUMNS = {"portfolio": "portfolio", "kp": "kp", "bmp": "bmp", "gsign": "sign", "rank": "rank",
           "caltime": "calendar"}


@dataclass(frozen=True)
class Sample:
    """ARs of K stock-events for one model and window (see the module doc).

    ``est``: (T, K) estimation-window ARs, NaN where missing (sessions a return spans several
    sessions are left out too); ``event``: (L, K) ARs of the CAR window; ``day0``: (K,) session
    numbers of day 0; ``offset``: the window's first day relative to day 0; ``ddof``: parameters
    the AR model fitted (1 market-adjusted: the mean; 2 market model: alpha and beta).
    """

    est: np.ndarray
    event: np.ndarray
    day0: np.ndarray
    offset: int = 0
    ddof: int = 1

    def car(self) -> np.ndarray:
        """Each stock-event's CAR over the window (NaN when it has no AR in it)."""
        has = (~np.isnan(self.event)).any(axis=0)
        return np.where(has, np.nansum(self.event, axis=0), np.nan)


def calendar_arrays(sample: Sample) -> tuple[np.ndarray, np.ndarray]:
    """The event-window ARs laid out in calendar time for :func:`inference.calendar_time_test`:
    one row per session from the first window's start to the last window's end."""
    length, k = sample.event.shape
    start = sample.day0 + sample.offset
    first = int(start.min()) if k else 0
    rows = int(start.max()) - first + length if k else 0
    ar = np.full((rows, k), np.nan)
    inw = np.zeros((rows, k), dtype=bool)
    cols = np.arange(k)
    for j in range(length):
        ar[start - first + j, cols] = sample.event[j]
        inw[start - first + j, cols] = True
    return ar, inw


@dataclass(frozen=True)
class Outcome:
    """Every test on one sample, the average cross-correlation, the clustering and the headline."""

    results: dict
    r_bar: float
    clustering: I.Clustering
    headline: str
    why: str

    @property
    def lead(self) -> I.TestResult:
        """The headline test's result."""
        return self.results[self.headline]


def correlations(sample: Sample) -> tuple[float, float]:
    """(average AR correlation, average sign correlation) of the sample's estimation window, over
    the stock-events that have a CAR; the same for every CAR window of one event and model, so a
    study computes them once (:func:`run_tests` takes them)."""
    usable = np.isfinite(sample.car()) & ((~np.isnan(sample.est)).sum(axis=0) > sample.ddof + 1)
    return I.average_correlation(sample.est[:, usable])[0], I.sign_correlation(sample.est[:, usable])


def run_tests(sample: Sample, window: tuple[int, int], corr: tuple[float, float] | None = None) -> Outcome:
    """Every test on ``sample`` (plain cross-sectional t, BMP, KP, portfolio, generalized sign
    correlation-adjusted, Corrado rank, calendar-time portfolio) and the headline pick.

    ``window``: the study's event window (a, b), which decides whether stock-events overlap;
    ``corr``: :func:`correlations` of the sample when already known.
    """
    car = sample.car()
    length = sample.event.shape[0]
    r_bar, sign_rho = correlations(sample) if corr is None else corr
    cal_ar, cal_in = calendar_arrays(sample)
    results = {
        "plain": I.cross_sectional_t(car),
        "bmp": I.bmp_test(sample.est, car, length, ddof=sample.ddof),
        "kp": I.bmp_test(sample.est, car, length, ddof=sample.ddof, kp=True, r_bar=r_bar),
        "portfolio": I.portfolio_test(sample.est, sample.event),
        "sign": I.generalized_sign_test(sample.est, car, rho=max(sign_rho, 0.0) if np.isfinite(sign_rho) else None),
        "rank": I.rank_test(sample.est, sample.event),
        "calendar": I.calendar_time_test(cal_ar, cal_in),
    }
    cl = I.clustering(sample.day0[np.isfinite(car)], window)
    key, why = _pick(cl, r_bar)
    return Outcome(results, r_bar, cl, key, why)


def _pick(cl: I.Clustering, r_bar: float) -> tuple[str, str]:
    """(test key, why) of the figure a report leads with (rules in the module doc)."""
    if cl.n_events == 1:
        return "portfolio", N_("one stock-event: its CAR against the sd of its own estimation-window ARs")
    if cl.recommended == "portfolio":
        return "kp", N_("%(why)s; their estimation-window ARs correlate %(r)s on average, so the plain t-test "
                        "overstates significance; Kolari-Pynnonen allows for that correlation and for the higher "
                        "volatility after the news (the portfolio test allows for the correlation only)",
                        why=cl.notes, r=f"{r_bar:.2f}")
    if cl.recommended == "calendar_time":
        return "calendar", N_("%(why)s: overlapping stock-events share market days, so the calendar-time "
                              "portfolio's daily series carries their correlation", why=cl.notes)
    return "bmp", N_("%(why)s: events apart in time, tested as independent (standardized BMP)", why=cl.notes)


def summary_columns(outcome: Outcome, prefix: str = "") -> dict:
    """Flat ``{prefix}portfolio_t, {prefix}portfolio_p, {prefix}kp_t, ...`` figures for summary.csv,
    with the average cross-correlation and the headline test's name and figures."""
    out: dict = {}
    for stem, key in COLUMNS.items():
        res = outcome.results[key]
        out[f"{prefix}{stem}_t"] = res.statistic
        out[f"{prefix}{stem}_p"] = res.p_value
    out[f"{prefix}r_bar"] = outcome.r_bar
    out[f"{prefix}headline_test"] = outcome.lead.name
    out[f"{prefix}headline_t"] = outcome.lead.statistic
    out[f"{prefix}headline_p"] = outcome.lead.p_value
    return out


def stack(samples: list[Sample]) -> Sample:
    """One sample of the stock-events of several samples (for the "all events" row): columns side
    by side, rows in event time. The samples must share the window and model."""
    if len(samples) == 1:
        return samples[0]
    first = samples[0]
    return Sample(np.hstack([s.est for s in samples]), np.hstack([s.event for s in samples]),
                  np.concatenate([s.day0 for s in samples]), first.offset, first.ddof)


def tests_rows(event: str, model: str, window: tuple[int, int], main: bool, outcome: Outcome) -> list[dict]:
    """Rows of ``tests.csv``: one per test of one sample, with its role (the pre-declared main
    window, or a descriptive one whose p-value is not adjusted for the several windows tried)."""
    rows = []
    for key, res in outcome.results.items():
        rows.append({"event": event, "model": model, "window": f"[{window[0]},{window[1]}]",
                     "role": "main" if main else "descriptive", "test": res.name, "key": key,
                     "headline": key == outcome.headline, "statistic": res.statistic, "p_value": res.p_value,
                     "n": res.n, "estimate": res.estimate, "notes": res.notes})
    return rows


def band_inflation(r_bar: float, n: int) -> float:
    """How much wider a cross-sectional confidence band must be when the N abnormal returns
    correlate ``r_bar`` on average: ``sqrt((1 + (N − 1) r̄) / (1 − r̄))``, the inverse of the
    Kolari–Pynnönen factor (1 when r̄ is unknown, not positive, or N < 2)."""
    if not np.isfinite(r_bar) or r_bar <= 0 or n < 2 or r_bar >= 1:
        return 1.0
    return float(np.sqrt((1 + (n - 1) * r_bar) / (1 - r_bar)))


def test_row(name, g, col, col_mm, stats) -> dict:
    """One summary row of the plain cross-sectional tests: mean/median CAR (``col``: market-adjusted,
    ``col_mm``: market model) of the stock-events in ``g``, t, sign and Wilcoxon p-values (they assume
    independent stocks), paper vs tradable means. ``stats`` is ``scipy.stats``."""
    x = g[col].dropna().to_numpy()
    y = g[col_mm].dropna().to_numpy()
    out = {"event": name, "n": len(x), "mean_car_mkt": float(np.mean(x)) if len(x) else np.nan,
           "median_car_mkt": float(np.median(x)) if len(x) else np.nan,
           "mean_car_mm": float(np.mean(y)) if len(y) else np.nan}
    if len(x) >= 2 and np.std(x) > 0:
        tt = stats.ttest_1samp(x, 0.0)
        out.update(t_stat=float(tt.statistic), t_p=float(tt.pvalue))
    else:
        out.update(t_stat=np.nan, t_p=np.nan)
    pos, neg = int((x > 0).sum()), int((x < 0).sum())
    # The sign test drops ties (zero CARs).
    out.update(positive=pos, sign_p=float(stats.binomtest(pos, pos + neg, 0.5).pvalue) if pos + neg else np.nan)
    nz = x[x != 0]
    out["wilcoxon_p"] = float(stats.wilcoxon(nz).pvalue) if len(nz) >= 6 else np.nan
    pa, tr = g["paper_abnormal"], g["tradable_abnormal"]
    out.update(mean_paper=float(pa.mean()), mean_tradable=float(tr.mean()),
               mean_gap=float((pa - tr).mean()), never_fillable=int((tr.isna() & pa.notna()).sum()),
               locked_day0=int(g["locked_day0"].sum()))
    return out
