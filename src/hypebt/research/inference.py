"""Event-study significance tests that survive cross-sectional dependence.

Pure numpy/scipy kernels: arrays of abnormal returns (ARs) in, a :class:`TestResult` out. No
pandas, no I/O; :mod:`hypebt.research.study` builds the arrays and reports the results.

Conventions shared by every test (N stocks or stock-events, T estimation sessions, L event
sessions):

- ``est``: a (T, N) array of estimation-window ARs, NaN where a stock did not trade. Rows are
  sessions *aligned in calendar time* when the events share a date (the case where dependence
  matters); the tests that use the time series of the cross-sectional mean (portfolio, rank)
  need that alignment.
- ``event``: a (L, N) array of event-window ARs, the CAR window's rows only.
- ``car``: a (N,) array of CARs over that window (the column sums of ``event``).

Why these tests: the plain cross-sectional t-test ``mean(CAR) / (sd(CAR) / sqrt(N))`` assumes the
N CARs are independent. When every event falls on one date, a common shock moves them together;
with an average pairwise correlation ``r`` the variance of the mean is ``1 + (N - 1) r`` times
what the test assumes (r = 0.42 and N = 37 inflate it 16-fold) and it rejects far too often.
"""

from __future__ import annotations

from hypebt.core.i18n import N_

from dataclasses import dataclass

import numpy as np
from scipy import stats

# Pairs of stocks with fewer common estimation sessions are left out of the average correlation.
MIN_OVERLAP = 10
# Above this many stocks the average correlation is estimated on a fixed random subset (600 stocks
# give 179,700 pairs, plenty for a mean): the exact
# pairwise matrix of a whole-market study (5,000 stocks) would need 25 million pairs x 5 matrices.
MAX_CORR_STOCKS = 600


@dataclass(frozen=True)
class TestResult:
    """One test's outcome. ``estimate`` is what is tested (e.g. the mean CAR), ``n`` the number of
    observations the statistic rests on (stocks, or sessions for time-series tests)."""

    name: str
    statistic: float
    p_value: float
    n: int
    notes: str = ""
    estimate: float = float("nan")

    __test__ = False  # not a pytest class, despite the name


@dataclass(frozen=True)
class Clustering:
    """How events share calendar time (see :func:`clustering`)."""

    n_events: int
    n_dates: int
    same_date: bool
    overlap_share: float
    clustered: bool
    recommended: str
    notes: str


def _nan(name: str, n: int, why: str) -> TestResult:
    return TestResult(name, float("nan"), float("nan"), int(n), why)


def _two_sided_t(t: float, df: float) -> float:
    return float(2 * stats.t.sf(abs(t), df))


def _two_sided_z(z: float) -> float:
    return float(2 * stats.norm.sf(abs(z)))


def cross_sectional_t(car) -> TestResult:
    """The plain t-test of mean CAR = 0 assuming independent CARs (for comparison only).

    ``t = mean(CAR) / (s(CAR) / sqrt(N))`` with ``N - 1`` degrees of freedom.
    """
    x = np.asarray(car, dtype="float64")
    x = x[~np.isnan(x)]
    name = N_("cross-sectional t (assumes independence)")
    if len(x) < 2 or np.std(x) == 0:
        return _nan(name, len(x), N_("fewer than 2 CARs or no dispersion"))
    t = float(np.mean(x) / (np.std(x, ddof=1) / np.sqrt(len(x))))
    return TestResult(name, t, _two_sided_t(t, len(x) - 1), len(x), "", float(np.mean(x)))


def portfolio_test(est, event) -> TestResult:
    """Brown–Warner (1980, 1985) crude dependence adjustment: the event portfolio's t-test.

    The ARs are averaged across stocks each session, ``AR̄_t = mean_i AR_it``; the standard
    deviation comes from the *time series* of that average over the estimation window, so any
    correlation between the stocks is already inside it:

        S = sd_t(AR̄_t, estimation window, ddof=1)
        CAAR = sum over the L event sessions of AR̄_t
        t = CAAR / (S * sqrt(L)),   Student t with T - 1 degrees of freedom.

    Brown, S. and Warner, J. (1980), "Measuring security price performance", JFE 8, 205-258;
    (1985) "Using daily stock returns", JFE 14, 3-31.
    """
    est, event = np.atleast_2d(np.asarray(est, dtype="float64")), np.atleast_2d(np.asarray(event, dtype="float64"))
    name = N_("event portfolio (Brown-Warner crude dependence adjustment)")
    with np.errstate(invalid="ignore"), _quiet():
        bar_est = np.nanmean(est, axis=1)
        bar_ev = np.nanmean(event, axis=1)
    bar_est = bar_est[~np.isnan(bar_est)]
    if len(bar_est) < 3 or np.isnan(bar_ev).all():
        return _nan(name, len(bar_est), N_("too few estimation sessions"))
    s = float(np.std(bar_est, ddof=1))
    n_ev = int((~np.isnan(bar_ev)).sum())
    caar = float(np.nansum(bar_ev))
    if s == 0:
        return _nan(name, len(bar_est), N_("the estimation-window portfolio AR does not vary"))
    t = caar / (s * np.sqrt(n_ev))
    return TestResult(name, float(t), _two_sided_t(t, len(bar_est) - 1), len(bar_est),
                      f"sd from {len(bar_est)} estimation sessions of the equal-weight portfolio AR; "
                      f"t with {len(bar_est) - 1} df", caar)


def _std_by_column(est, ddof: int):
    ok = ~np.isnan(est)
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"), _quiet():
        mean = np.nanmean(est, axis=0)
        ss = np.nansum((est - mean) ** 2, axis=0)
        sd = np.sqrt(ss / (n - ddof))
    sd[n <= ddof + 1] = np.nan
    return sd, n


def average_correlation(est, min_overlap: int = MIN_OVERLAP, max_stocks: int = MAX_CORR_STOCKS,
                        seed: int = 0) -> tuple[float, int]:
    """The mean pairwise Pearson correlation of the columns of ``est`` and the number of pairs used.

    Each pair uses the sessions both stocks traded (pairwise complete); pairs with fewer than
    ``min_overlap`` common sessions or a constant series are left out. With more than
    ``max_stocks`` columns, a fixed random subset of that many is used (``seed``), an unbiased
    estimate of the mean at a fraction of the cost.
    """
    x = np.asarray(est, dtype="float64")
    if x.ndim != 2 or x.shape[1] < 2:
        return float("nan"), 0
    if x.shape[1] > max_stocks:
        keep = np.sort(np.random.default_rng(seed).choice(x.shape[1], max_stocks, replace=False))
        x = x[:, keep]
    m = (~np.isnan(x)).astype("float64")
    v = np.where(m > 0, x, 0.0)
    n = m.T @ m                   # common sessions of i and j
    sx = v.T @ m                  # sum of x_i over the sessions j also traded
    sxx = (v * v).T @ m
    sxy = v.T @ v
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sx.T / n
        var_i = sxx - sx ** 2 / n
        r = cov / np.sqrt(var_i * var_i.T)
    iu = np.triu_indices(x.shape[1], k=1)
    pairs = r[iu]
    ok = (n[iu] >= min_overlap) & np.isfinite(pairs) & (var_i[iu] > 0) & (var_i.T[iu] > 0)
    if not ok.any():
        return float("nan"), 0
    return float(pairs[ok].mean()), int(ok.sum())


def bmp_test(est, car, length: int, ddof: int = 1, kp: bool = False, r_bar: float | None = None) -> TestResult:
    """Standardized cross-sectional test (Boehmer, Musumeci and Poulsen 1991), optionally with
    the Kolari and Pynnönen (2010) correction for cross-correlation.

    Each stock's CAR is scaled by its own estimation-window AR standard deviation,

        s_i² = Σ_t (AR_it − mean_i)² / (T_i − ddof)      (ddof = 1 market-adjusted, 2 market model)
        SCAR_i = CAR_i / (s_i sqrt(L))
        t_BMP = mean(SCAR) / (sd(SCAR) / sqrt(N))

    so a volatile stock weighs less and an event-induced change of variance does not inflate the
    test. ``kp=True`` multiplies by the Kolari–Pynnönen factor

        t_KP = t_BMP * sqrt((1 − r̄) / (1 + (N − 1) r̄))

    where ``r̄`` is the average pairwise correlation of the estimation-window ARs
    (:func:`average_correlation`, or given; a negative r̄ is taken as 0). Both use Student t with
    N − 1 degrees of freedom.
    The forecast-error correction of the market model's standard error is left out (it is below
    1 % for estimation windows of 60+ sessions).

    Boehmer, E., Musumeci, J. and Poulsen, A. (1991), "Event-study methodology under conditions
    of event-induced variance", JFE 30, 253-272. Kolari, J. and Pynnönen, S. (2010), "Event study
    testing with cross-sectional correlation of abnormal returns", RFS 23, 3996-4025.
    """
    est = np.atleast_2d(np.asarray(est, dtype="float64"))
    car = np.asarray(car, dtype="float64")
    name = N_("standardized BMP with Kolari-Pynnonen correction") if kp else N_("standardized BMP")
    sd, _ = _std_by_column(est, ddof)
    with np.errstate(invalid="ignore", divide="ignore"):
        scar = car / (sd * np.sqrt(length))
    ok = np.isfinite(scar)
    n = int(ok.sum())
    if n < 2 or np.std(scar[ok]) == 0:
        return _nan(name, n, N_("fewer than 2 standardized CARs"))
    z = scar[ok]
    t = float(np.mean(z) / (np.std(z, ddof=1) / np.sqrt(n)))
    notes = N_("CARs scaled by each stock's estimation-window AR sd (ddof=%(ddof)s); t with %(df)s df", ddof=ddof,
               df=n - 1)
    if kp:
        if r_bar is None:
            r_bar, pairs = average_correlation(est[:, ok])
            notes = N_("%(notes)s; r̄ = %(r)s from %(pairs)s pairs", notes=notes, r=f"{r_bar:.3f}", pairs=pairs)
        else:
            notes = N_("%(notes)s; r̄ = %(r)s", notes=notes, r=f"{r_bar:.3f}")
        if not np.isfinite(r_bar):
            return _nan(name, n, N_("the average cross-correlation could not be estimated"))
        if r_bar < 0:
            # a negative average is sampling noise around 0 for a market-model residual; taken as 0,
            # the correction never makes the test bolder than BMP (and 1 + (N-1) r̄ stays positive)
            notes = N_("%(notes)s (negative: taken as 0)", notes=notes)
        rho = max(r_bar, 0.0)
        t *= float(np.sqrt((1 - rho) / (1 + (n - 1) * rho)))
    return TestResult(name, t, _two_sided_t(t, n - 1), n, notes, float(np.mean(z)))


def sign_correlation(est) -> float:
    """Average pairwise correlation of the indicators ``AR_it > 0`` over the estimation window."""
    x = np.asarray(est, dtype="float64")
    ind = np.where(np.isnan(x), np.nan, (x > 0).astype("float64"))
    return average_correlation(ind)[0]


def generalized_sign_test(est, car, adjust_correlation: bool = True, rho: float | None = None) -> TestResult:
    """Generalized sign test (Cowan 1992): positive CARs against the estimation-window share.

    ``p̂`` is the share of positive ARs in the estimation window (averaged per stock, then across
    stocks), which need not be one half (ARs are skewed). With ``w`` of the ``N`` CARs positive,

        Z = (w − N p̂) / sqrt(N p̂ (1 − p̂) (1 + (N − 1) ρ)),   normal.

    Cowan's test has ρ = 0. ``adjust_correlation`` sets ρ to the average pairwise correlation of the
    sign indicators in the estimation window (:func:`sign_correlation`, or ``rho`` when given): the
    same variance-inflation idea as Kolari–Pynnönen, needed because a common shock moves the signs
    together. Under a strong common factor the count of positives is flatter than normal, so the
    adjusted test is conservative (rejects less often than its nominal size).

    Cowan, A. (1992), "Nonparametric event study tests", Review of Quantitative Finance and
    Accounting 2, 343-358.
    """
    est = np.atleast_2d(np.asarray(est, dtype="float64"))
    car = np.asarray(car, dtype="float64")
    name = N_("generalized sign (Cowan), correlation-adjusted") if adjust_correlation else N_("generalized sign (Cowan)")
    ok = ~np.isnan(car) & (~np.isnan(est)).any(axis=0)
    n = int(ok.sum())
    if n < 2:
        return _nan(name, n, N_("fewer than 2 CARs"))
    with _quiet():
        share = np.nanmean(np.where(np.isnan(est[:, ok]), np.nan, (est[:, ok] > 0).astype("float64")), axis=0)
    p_hat = float(np.mean(share))
    if not 0 < p_hat < 1:
        return _nan(name, n, N_("the estimation-window share of positive ARs is 0 or 1"))
    w = int((car[ok] > 0).sum())
    notes = N_("%(w)s of %(n)s positive against p̂ = %(p)s", w=w, n=n, p=f"{p_hat:.3f}")
    if not adjust_correlation:
        rho = 0.0
    else:
        rho = sign_correlation(est[:, ok]) if rho is None else rho
        if not np.isfinite(rho):
            return _nan(name, n, N_("the sign correlation could not be estimated"))
        rho = max(rho, 0.0)  # a negative average would shrink the variance below independence
        notes = N_("%(notes)s; sign correlation ρ = %(rho)s", notes=notes, rho=f"{rho:.3f}")
    z = (w - n * p_hat) / np.sqrt(n * p_hat * (1 - p_hat) * (1 + (n - 1) * rho))
    return TestResult(name, float(z), _two_sided_z(z), n, notes, w / n)


def rank_test(est, event, test_rows=None) -> TestResult:
    """Corrado's (1989) rank test, with missing returns (Corrado and Zivney 1992) and a multi-day
    window (Campbell and Wasley 1993).

    Each stock's ARs over the estimation and event windows together are ranked, ``K_it``, and
    scaled to ``U_it = K_it / (M_i + 1) − 1/2`` (``M_i`` the stock's non-missing days). With
    ``Ū_t`` the cross-sectional mean on day t,

        S = sqrt(mean over all days of Ū_t²)
        Z = Σ over the L tested days of Ū_t / (sqrt(L) S),   normal.

    ``test_rows``: the rows of ``event`` tested (a CAR sub-window; default all), so one ranking
    over the whole event window serves every CAR window. Like the portfolio test, S is the time
    series dispersion of the cross-sectional mean, so the test allows for cross-correlation when
    the rows are calendar-aligned.

    Corrado, C. (1989), "A nonparametric test for abnormal security-price performance in event
    studies", JFE 23, 385-395. Campbell, C. and Wasley, C. (1993), "Measuring security price
    performance using daily NASDAQ returns", JFE 33, 73-92.
    """
    est = np.atleast_2d(np.asarray(est, dtype="float64"))
    event = np.atleast_2d(np.asarray(event, dtype="float64"))
    name = N_("rank (Corrado)")
    allr = np.vstack([est, event])
    ok = ~np.isnan(allr)
    m = ok.sum(axis=0)
    keep = m >= 3
    allr, ok, m = allr[:, keep], ok[:, keep], m[keep]
    if allr.shape[1] < 1:
        return _nan(name, 0, N_("no stock has 3 or more returns"))
    ranks = stats.rankdata(np.where(ok, allr, np.inf), axis=0)  # missing days rank last, then dropped
    u = np.where(ok, ranks / (m + 1) - 0.5, np.nan)
    with _quiet():
        ubar = np.nanmean(u, axis=1)
    ev = ubar[est.shape[0]:]
    if test_rows is not None:
        ev = ev[test_rows]
    ev = ev[~np.isnan(ev)]
    all_days = ubar[~np.isnan(ubar)]
    s = float(np.sqrt(np.mean(all_days ** 2)))
    if len(ev) == 0 or s == 0:
        return _nan(name, allr.shape[1], N_("no event-window ranks"))
    z = float(ev.sum() / (np.sqrt(len(ev)) * s))
    return TestResult(name, z, _two_sided_z(z), int(allr.shape[1]),
                      N_("ranks over %(n)s sessions; normal", n=est.shape[0] + event.shape[0]), float(ev.mean()))


def calendar_time_test(ar, in_window) -> TestResult:
    """Calendar-time portfolio test (Jaffe 1974; Mitchell and Stafford 2000) for events spread over
    time.

    ``ar`` is a (D, N) array of daily ARs in *calendar* time (one column per stock-event) and
    ``in_window`` a (D, N) boolean array, True on the sessions a stock-event is inside its event
    window. Each session with at least one stock in its window gets the equal-weight portfolio
    AR ``p_t = mean of AR_it over those stocks``; then

        t = mean_t(p_t) / (sd_t(p_t) / sqrt(D')),   Student t with D' − 1 df

    over the D' sessions with a portfolio. Overlapping events share a portfolio day, so their
    correlation is inside the time series variance. ``estimate`` is the mean daily portfolio AR
    (times L for a CAR-like figure).

    Jaffe, J. (1974), "Special information and insider trading", Journal of Business 47, 410-428.
    Mitchell, M. and Stafford, E. (2000), "Managerial decisions and long-term stock price
    performance", Journal of Business 73, 287-329.
    """
    ar = np.atleast_2d(np.asarray(ar, dtype="float64"))
    inw = np.asarray(in_window, dtype=bool) & ~np.isnan(ar)
    name = N_("calendar-time portfolio")
    count = inw.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(inw, ar, 0).sum(axis=1) / count
    p = p[count > 0]
    if len(p) < 3 or np.std(p) == 0:
        return _nan(name, len(p), N_("fewer than 3 portfolio sessions"))
    t = float(np.mean(p) / (np.std(p, ddof=1) / np.sqrt(len(p))))
    return TestResult(name, t, _two_sided_t(t, len(p) - 1), len(p),
                      N_("%(n)s portfolio sessions, mean %(stocks)s stocks each; t with %(df)s df", n=len(p),
                         stocks=f"{count[count > 0].mean():.1f}", df=len(p) - 1), float(np.mean(p)))


def clustering(day0, window: tuple[int, int], threshold: float = 0.05) -> Clustering:
    """Do the events' windows share calendar sessions?

    ``day0``: each stock-event's day-0 session number (an integer position on the calendar);
    ``window``: the event window (a, b) in sessions. Two stock-events overlap when their windows
    share a session, ``|day0_i − day0_j| <= b − a``. ``overlap_share`` is the share of pairs that
    overlap. The events *cluster* when that share reaches ``threshold`` (default 5 %): then the
    plain tests' independence assumption fails and the recommendation is

    - ``"portfolio"`` when every event has the same day 0 (the portfolio and Kolari–Pynnönen tests
      are made for that case),
    - ``"calendar_time"`` when the windows overlap but day 0 differs,
    - ``"cross_sectional"`` (the standardized BMP test) when they do not cluster.
    """
    d = np.sort(np.asarray(day0, dtype="int64"))
    n = len(d)
    width = window[1] - window[0]
    n_dates = int(len(np.unique(d)))
    if n < 2:
        return Clustering(n, n_dates, True, 0.0, False, "cross_sectional", N_("one stock-event: nothing to cluster"))
    # For each i, how many j > i start within `width` sessions of it (sorted, so one search each).
    upto = np.searchsorted(d, d + width, side="right")
    pairs = int((upto - np.arange(1, n + 1)).sum())
    share = pairs / (n * (n - 1) / 2)
    same = n_dates == 1
    clustered = share >= threshold
    rec = "portfolio" if clustered and same else "calendar_time" if clustered else "cross_sectional"
    if same:
        why = N_("all %(n)s stock-events share day 0: their abnormal returns are hit by the same market days", n=n)
    else:
        why = N_("%(share)s of the pairs of the %(n)s stock-events (%(dates)s distinct day-0 sessions) have "
                 "overlapping windows", share=f"{share:.0%}", n=n, dates=n_dates)
    return Clustering(n, n_dates, same, float(share), bool(clustered), rec, why)


class _quiet:
    """Silence numpy's 'mean of empty slice' warnings: an all-NaN row means no data, handled."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)
