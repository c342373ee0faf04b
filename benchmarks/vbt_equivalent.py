"""The hype_buy sweep as a vectorbt signal sweep, for ``bench_sweep.py`` (optional: the ``[bench]`` extra).

The same work as hypebt's sweep, modelled the way a vectorbt user would:

- entries: every stock of the universe at the open of the event's first tradable session plus
  ``delay`` sessions (the event's close when ``delay == 0`` and the news broke during trading),
  ``fraction`` of the starting cash split equally (the strategy is flat at every event here);
- exits: at the open ``hold_days`` sessions after entry, or at the open after the first
  close that fails to close at limit-up once the stock closed at limit-up while held
  (``streak_exit``);
- stops: ``stop_loss`` / ``take_profit`` through vectorbt's ``sl_stop`` / ``tp_stop`` on the
  close (vectorbt fills a stop at that close; hypebt sells at the next open);
- one column per (combination, stock), grouped per combination with cash sharing.

No A-share rules (limit-locked buys, lots of 100, STAR lots, T+1, stamp duty by date): final
values differ from hypebt's by a few per cent, printed for comparison, never asserted.
Signals are built inside the timed call, as hypebt builds them inside its strategy.
"""

from __future__ import annotations

import time

import numpy as np

LIMIT_EPS = 0.015  # hypebt's BarView.closed_at_limit_up tolerance


def available() -> str | None:
    """The vectorbt version, or None when it is not installed."""
    try:
        import vectorbt  # noqa: F401
    except ImportError:
        return None
    return vectorbt.__version__


def _matrices(prep):
    cols = [prep.arrays[c].columns for c in prep.codes]
    opens = np.column_stack([c["open"] for c in cols])
    closes = np.column_stack([c["close"] for c in cols])
    adj = np.column_stack([c["adjclose"] for c in cols])
    up = np.column_stack([c["limit_up"] for c in cols])
    susp = np.column_stack([c["suspended"] for c in cols]) > 0
    at_up = ~np.isnan(up) & ~susp & (closes >= up - LIMIT_EPS)
    return opens, closes, adj, at_up, susp


def _streak_exit(at_up, susp, entry: int) -> np.ndarray:
    """Per stock: the session index of the open after the streak broke (len = never)."""
    n_t, n_s = at_up.shape
    out = np.full(n_s, n_t, dtype=np.int64)
    after = slice(entry, n_t)
    hit = np.cumsum(at_up[after], axis=0) > 0
    broke = hit & ~at_up[after] & ~susp[after]
    # a break only counts after an earlier limit-up close: shift the hit flag by one session
    broke &= np.vstack([np.zeros((1, n_s), bool), hit[:-1]])
    any_b = broke.any(axis=0)
    first = np.argmax(broke, axis=0) + entry + 1
    out[any_b] = first[any_b]
    return out


def sweep(prep, combos: list[dict], chunk: int = 200) -> tuple[float, list[float], int]:
    """Run ``combos`` in vectorbt, ``chunk`` combinations per call (memory); returns
    (seconds, final values, largest array cells)."""
    import vectorbt as vbt

    t0 = time.perf_counter()
    params = {**prep.strategy_class().PARAMS, **prep.spec.params}
    opens, closes, adj, at_up, susp = _matrices(prep)
    n_t, n_s = opens.shape
    event = prep.events[0]
    start = prep.session_index[event.session]
    streaks = {}
    finals, cells = [], 0
    for lo in range(0, len(combos), chunk):
        part = [{**params, **c} for c in combos[lo:lo + chunk]]
        k = len(part)
        entries = np.zeros((n_t, k * n_s), bool)
        exits = np.zeros((n_t, k * n_s), bool)
        price = np.tile(opens, (1, k))
        sl = np.full(k * n_s, np.nan)
        tp = np.full(k * n_s, np.nan)
        for j, p in enumerate(part):
            cols = slice(j * n_s, (j + 1) * n_s)
            i = start + p["delay"]
            if i >= n_t:
                continue
            entries[i, cols] = True
            if p["delay"] == 0 and event.at == "close":
                price[i, cols] = closes[i]
            out = np.full(n_s, min(i + p["hold_days"], n_t - 1))
            if p["streak_exit"]:
                if i not in streaks:
                    streaks[i] = _streak_exit(at_up, susp, i)
                out = np.minimum(out, streaks[i])
            ok = out < n_t
            exits[out[ok], np.arange(n_s)[ok] + j * n_s] = True
            if p["stop_loss"]:
                sl[cols] = p["stop_loss"]
            if p["take_profit"]:
                tp[cols] = p["take_profit"]
        size = params["fraction"] * prep.spec.cash / n_s
        pf = vbt.Portfolio.from_signals(
            close=np.tile(closes, (1, k)), entries=entries, exits=exits, price=price,
            size=size, size_type="value", sl_stop=sl, tp_stop=tp, init_cash=prep.spec.cash,
            cash_sharing=True, group_by=np.repeat(np.arange(k), n_s), call_seq="auto",
            fees=0.0003, freq="1D",
        )
        finals.extend(float(v) for v in np.asarray(pf.final_value()))
        cells = max(cells, entries.size)
        del pf, entries, exits, price
    return time.perf_counter() - t0, finals, cells
