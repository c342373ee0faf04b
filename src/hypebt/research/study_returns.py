"""Buy-and-hold abnormal returns and day-0 context for event studies (pure numpy on session x stock
matrices).

A CAR sums daily abnormal returns; a buy-and-hold abnormal return (BHAR) compounds them:

    CAR[τ1, τ2]  = Σ_t (R_it − R_mt)
    BHAR[τ1, τ2] = Π_t (1 + R_it) − Π_t (1 + R_mt)

over the sessions τ1..τ2 of the window, that is from the close of session τ1 − 1 to the close of
τ2. The two differ more the longer the window and the larger the moves (a stock that doubles and
halves back has a BHAR of 0 and a positive CAR), so a study reports them apart and compares like
with like: paper and tradable (bought at a later price) are BHARs, shown beside the BHAR of the
same window from the previous close.

A suspended stock has no close: its buy-and-hold runs from its last close at or before the start
to its last close at or before the end, and the benchmark's over the *same* sessions, so the
market's move while the stock could not trade is not counted as abnormal.

Barber, B. and Lyon, J. (1997), "Detecting long-run abnormal stock returns", JFE 43, 341-372.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def last_traded(present: np.ndarray) -> np.ndarray:
    """Per session and stock, the row of the stock's last traded session at or before it (-1: none)."""
    rows = np.where(present, np.arange(present.shape[0])[:, None], np.nan)
    filled = pd.DataFrame(rows).ffill().to_numpy()
    return np.where(np.isnan(filled), -1, filled).astype(int)


def bhar(close: np.ndarray, bench_close: np.ndarray, last: np.ndarray, start: int, end: int,
         cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Buy-and-hold returns of stocks ``cols`` from the close of row ``start`` to that of row ``end``.

    ``close``: (S, N) closes (NaN when not traded); ``bench_close``: (S,) benchmark levels, or (S, N)
    for a benchmark per stock (size-matched); ``last``: :func:`last_traded` of the panel. Returns
    ``(stock, bench, bhar)`` arrays over ``cols``; NaN where the stock has no close at or before
    ``start`` or did not trade after it by ``end``.
    """
    cols = np.asarray(cols, dtype=int)
    ls = last[start, cols] if start >= 0 else np.full(len(cols), -1)
    le = last[end, cols]
    ok = (ls >= 0) & (le > ls)
    ls_, le_ = np.where(ok, ls, 0), np.where(ok, le, 0)
    bench = np.asarray(bench_close, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        stock = np.where(ok, close[le_, cols] / close[ls_, cols] - 1, np.nan)
        if bench.ndim == 1:
            b = np.where(ok, bench[le_] / bench[ls_] - 1, np.nan)
        else:
            b = np.where(ok, bench[le_, cols] / bench[ls_, cols] - 1, np.nan)
    return stock, b, stock - b


def closure_days(sessions: pd.DatetimeIndex, i0: int) -> tuple[int, bool]:
    """Calendar days the day-0 close-to-close return spans, and whether the market was shut on a
    weekday in between (a holiday closure: the day-0 return then carries the news of the whole
    closure, e.g. 11 days over the 2024 Spring Festival, 2024-02-08 to 2024-02-19).

    >>> s = pd.DatetimeIndex(["2024-02-08", "2024-02-19"])
    >>> closure_days(s, 1)
    (11, True)
    """
    if i0 < 1:
        return 0, False
    prev, day0 = sessions[i0 - 1], sessions[i0]
    between = pd.bdate_range(prev + pd.Timedelta(days=1), day0 - pd.Timedelta(days=1))
    return int((day0 - prev).days), len(between) > 0


def market_model(r_est: np.ndarray, rm_est: np.ndarray, ok: np.ndarray):
    """OLS market model per stock on the estimation window: ``R_it = alpha_i + beta_i R_mt + e_it``.

    ``r_est``, ``rm_est``: (T, K) stock and benchmark returns; ``ok``: (T, K) the sessions to use
    (one-session returns with both figures). Returns ``(alpha, beta, n_ok)``, NaN where a stock has
    fewer than 2 sessions or a benchmark that does not vary.
    """
    n_ok = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.where(ok, rm_est, 0.0)
        y = np.where(ok, r_est, 0.0)
        mx, my = x.sum(axis=0) / n_ok, y.sum(axis=0) / n_ok
        cov = np.where(ok, (x - mx) * (y - my), 0.0).sum(axis=0)
        var = np.where(ok, (x - mx) ** 2, 0.0).sum(axis=0)
        beta = cov / var
        alpha = my - beta * mx
    return alpha, beta, n_ok


def abnormal_returns(r, rm, span, alpha, beta):
    """Market-adjusted and market-model abnormal returns of (S, K) returns ``r`` against the
    benchmark's returns ``rm`` over the same spans: ``r − rm`` and ``r − (alpha · span + beta · rm)``
    (a return spanning n sessions, after a suspension, expects n sessions of alpha)."""
    return r - rm, r - (alpha[None, :] * span + beta[None, :] * rm)
