"""Per stock of one event of a study: CARs and BHARs over the sub-windows, and paper against
tradable (:func:`car_frame`, one row per stock); ``panel`` and the event window ``w`` are those of
:mod:`hypebt.research.study`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hypebt.market import rules as R
from hypebt.research import study_market as SM
from hypebt.research import study_returns as SR


def first_fill(panel, locked_all, j: int, i0: int, end: int, at: str):
    """The first session in ``i0..end`` where a buy of stock ``j`` would fill, as the engine decides
    (:func:`hypebt.market.rules.check_fill`; :data:`hypebt.research.study.TRADABLE_RULE`): ``(row, price, benchmark
    price)`` or ``(None, nan, nan)``. The buy is a limit order at the price tried, so the spec's
    limit-order model (``fill_at_limit_when_opened``), when on, fills it at the limit-up price on a
    session where the board opened; off (the default), it never fills at the limit."""
    b_open, b_close = SM.column(panel.bench_open, j), SM.column(panel.bench_close, j)
    for i in range(i0, end + 1):
        if not panel.present[i, j]:
            continue
        at_open = i > i0 or at == "open"
        px = panel.open[i, j] if at_open else panel.close[i, j]
        up = panel.limit_up[i, j]
        bar = R.Bar(panel.open[i, j], panel.high[i, j], panel.low[i, j], panel.close[i, j])
        limits = R.Limits(None if np.isnan(up) else float(up), None)
        if R.check_fill("buy", px, bar, limits, limit_order=True, locked=bool(locked_all[i, j]),
                        rules=panel.rules) is None:
            return i, px, b_open[i] if at_open else b_close[i]
    return None, np.nan, np.nan


def car_frame(panel, t, w, locked_all, last, cfg, names) -> pd.DataFrame:
    """Per stock of one event: CARs and BHARs over the sub-windows, paper vs tradable over [0, b]
    (one row per stock, every column computed across the stocks at once).

    BHARs run from the close before each window (:func:`study_returns.bhar`). Paper and tradable
    are BHARs too: paper buys at the first tradable price (day-0 open, or its close for news
    during trading), tradable at the first price that would fill (:func:`first_fill`); both hold
    to the stock's last close by day b, the benchmark over the same sessions.
    """
    a, b = cfg.window
    i0, rows, cols = w.i0, w.rows, w.cols
    end = i0 + b
    exit_row = last[end, cols]
    present_w, locked_w = panel.present[rows][:, cols], locked_all[rows][:, cols]

    def bench(levels, at):  # the benchmark level of each stock's column at row(s) ``at``
        return levels[at] if levels.ndim == 1 else levels[at, cols]

    def adjusted(prices, at):  # traded prices on the basis of the adjusted close (returns across ex-dates)
        return prices if panel.factor is None else prices * panel.factor[at, cols]

    at_open = t.at == "open"
    paper_px = adjusted((panel.open if at_open else panel.close)[i0, cols], i0)
    paper_bench = bench(panel.bench_open if at_open else panel.bench_close, i0)
    fills = [first_fill(panel, locked_all, j, i0, end, t.at) for j in cols]
    filled = np.array([f[0] is not None for f in fills], dtype=bool)
    fill_i = np.array([f[0] if f[0] is not None else -1 for f in fills], dtype=int)
    fill_px = adjusted(np.array([f[1] for f in fills], dtype="float64"), np.where(filled, fill_i, 0))
    fill_bench = np.array([f[2] for f in fills], dtype="float64")
    exit_px, bench_end = adjusted(panel.close[exit_row, cols], exit_row), bench(panel.bench_close, exit_row)
    with np.errstate(invalid="ignore", divide="ignore"):
        paper = np.where(paper_px > 0, exit_px / paper_px - 1 - (bench_end / paper_bench - 1), np.nan)
        tradable = np.where(filled, exit_px / fill_px - 1 - (bench_end / fill_bench - 1), np.nan)
    codes = np.asarray(panel.codes, dtype=object)[cols]
    out = {"event": t.event.id, "code": codes, "name": [names.get(c, "") for c in codes],
           "day0": str(t.session.date()), "at": t.at, "beta": w.beta[cols], "estimation_sessions": w.n_ok[cols].astype(int)}
    for lo_, hi_ in cfg.car_windows:
        sl = slice(lo_ - a, hi_ - a + 1)
        traded = present_w[sl].any(axis=0)
        out[f"car_mkt[{lo_},{hi_}]"] = np.where(traded, column_sums(w.ar_mkt[sl][:, cols]), np.nan)
        out[f"car_mm[{lo_},{hi_}]"] = np.where(w.fit[cols] & traded, column_sums(w.ar_mm[sl][:, cols]), np.nan)
    for lo_, hi_ in cfg.car_windows:
        out[f"bhar_mkt[{lo_},{hi_}]"] = SR.bhar(panel.adj_close, panel.bench_close, last, i0 + lo_ - 1, i0 + hi_, cols)[2]
    out.update({
        "locked_days": locked_w.sum(axis=0).astype(int), "suspended_days": (~present_w).sum(axis=0).astype(int),
        "locked_day0": locked_all[i0, cols].astype(bool),
        "paper_abnormal": paper, "tradable_abnormal": tradable, "gap": paper - tradable,
        "first_fill": [str(panel.sessions[i].date()) if ok else "" for i, ok in zip(fill_i, filled)],
        # whole sessions, or NaN where a stock never fills (as a column of Python numbers would be)
        "fill_delay_sessions": fill_i - i0 if filled.all() else np.where(filled, fill_i - i0, np.nan),
    })
    return pd.DataFrame(out)


def column_sums(values: np.ndarray) -> np.ndarray:
    """Each column's sum without its NaNs, each column added as ``np.nansum`` adds it alone (rows of
    a contiguous copy: numpy's pairwise sum along a row), so a window's CAR is the same number
    however it is asked for."""
    return np.nansum(np.ascontiguousarray(values.T), axis=1)
