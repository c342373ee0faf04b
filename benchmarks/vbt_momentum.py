"""The weekly momentum of ``strategies/weekly_momentum.py`` as a vectorbt user would write it, for
``bench_market.py`` (optional: the ``[bench]`` extra).

From the same store: the bars pivoted to sessions x codes (open, adjusted close), the members of
each session (a bar that session, at least ``new_listing_sessions`` sessions traded since listing, or
traded before the data began: what ``exclude = ["new_listing"]`` means in hypebt), and on each
week's first session the ``top_n`` members by their close over the ``lookback`` sessions up to the
day before (ties in code order, as hypebt's universe). Targets: ``fraction / top_n`` of the value
for each, 0 for every other stock, at that session's open, through ``Portfolio.from_orders`` with
``size_type="targetpercent"``, one cash account (``cash_sharing``), sales first (``call_seq="auto"``)
and a flat fee. No A-share rule (limit-up opens, lots of 100, T+1, stamp duty by date): final
values differ from hypebt's, printed for comparison, never asserted. The picks are returned so the
benchmark can check they are hypebt's.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

FEE = 0.00025 + 0.00001  # commission and transfer fee, both sides (no stamp duty, no minimum)


def matrices(store, start, end, warmup: int):
    """(sessions, codes, open, adjusted close, traded) over the run plus ``warmup`` sessions before,
    and the sessions each stock traded before them (for the new-listing count)."""
    dataset = store.stock_dataset()
    bars = store.load(dataset, columns=["code", "date", "open", "close"])
    bars = bars[bars["date"] <= pd.Timestamp(end)]
    first_date = pd.Timestamp(store.manifest(dataset)["first_date"])
    first_bar = bars.groupby("code", observed=True)["date"].min()
    opens = bars.pivot(index="date", columns="code", values="open")
    closes = bars.pivot(index="date", columns="code", values="close")
    run = opens.index >= pd.Timestamp(start)
    lo = max(int(np.argmax(run)) - warmup, 0)
    count = closes.notna().cumsum()
    listed_before = (first_bar <= first_date).reindex(closes.columns).to_numpy()
    seasoned = np.where(listed_before[None, :], np.inf, count.to_numpy())[lo:]
    return (opens.index[lo:], np.asarray(opens.columns), opens.to_numpy()[lo:], closes.ffill().to_numpy()[lo:],
            closes.notna().to_numpy()[lo:], seasoned, int(np.argmax(run)) - lo)


def signals(sessions, opens, closes, traded, seasoned, first_run: int, lookback: int, top_n: int,
            new_listing: int, fraction: float):
    """Target percents (sessions x codes, NaN = no order) and the picks of each rebalance."""
    targets = np.full(opens.shape, np.nan)
    picks = {}
    week = np.asarray([d.isocalendar()[:2] for d in sessions])
    for i in range(first_run, len(sessions)):
        if i > first_run and tuple(week[i]) == tuple(week[i - 1]):
            continue
        if i - lookback < 0:
            continue
        members = traded[i] & (seasoned[i] >= new_listing)
        with np.errstate(divide="ignore", invalid="ignore"):
            mom = closes[i - 1] / closes[i - lookback] - 1
        mom = np.where(members, mom, np.nan)
        ranked = np.flatnonzero(np.isfinite(mom))
        chosen = ranked[np.argsort(-mom[ranked], kind="stable")][:top_n]
        targets[i] = np.where(traded[i], 0.0, np.nan)
        targets[i, chosen] = fraction / top_n
        picks[sessions[i].date()] = chosen
    return targets, picks


def run(store, start, end, params: dict, cash: float, warmup: int, new_listing: int):
    """(seconds, final value, picks by day as code lists), the whole thing timed: loading, pivoting,
    signals and the portfolio."""
    import vectorbt as vbt

    t0 = time.perf_counter()
    sessions, codes, opens, closes, traded, seasoned, first_run = matrices(store, start, end, warmup)
    targets, picks = signals(sessions, opens, closes, traded, seasoned, first_run, params["lookback"],
                             params["top_n"], new_listing, params["fraction"])
    rows = slice(first_run, None)
    price = np.where(np.isnan(opens[rows]), closes[rows], opens[rows])  # no order where there is no open
    pf = vbt.Portfolio.from_orders(close=pd.DataFrame(closes[rows], index=sessions[rows], columns=codes),
                                   size=targets[rows], size_type="targetpercent", price=price, fees=FEE,
                                   init_cash=cash, cash_sharing=True, group_by=True, call_seq="auto", freq="1D")
    final = float(pf.value().iloc[-1])
    seconds = time.perf_counter() - t0
    return seconds, final, {day: [str(codes[j]) for j in chosen] for day, chosen in picks.items()}


def warm() -> None:
    """Numba compiles vectorbt's simulation on its first call: do it on a tiny portfolio first."""
    import vectorbt as vbt

    close = pd.DataFrame(np.ones((3, 2)) * 10.0, index=pd.date_range("2024-01-01", periods=3))
    vbt.Portfolio.from_orders(close=close, size=np.full((3, 2), 0.5), size_type="targetpercent", price=close.to_numpy(),
                              fees=FEE, init_cash=1e6, cash_sharing=True, group_by=True, call_seq="auto", freq="1D")
