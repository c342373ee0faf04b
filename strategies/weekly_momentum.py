"""Weekly momentum over the whole market: each week, the ``top_n`` stocks that rose most.

At the first session of each week, before its open: the cross-section of adjusted closes of every
stock in the universe today (``universe = "all"``: every stock with a bar today, less the spec's
``exclude``: ST, new listings, boards, each as of today), over the ``lookback`` sessions up to
yesterday's close. Momentum is the last close over the first, less one; the ``top_n`` highest (ties
in the universe's order) get ``fraction / top_n`` of equity each through ``order_target_weights``,
and holdings no longer among them are sold at this open, all under the A-share checks (a stock
opening at limit-up is not bought, lots of 100, T+1). An order placed before the open can spend only
the cash held then, not the proceeds of sales filling at the same open: the new picks are bought at
the open, in rank order, while that cash lasts, and the others (and the picks already held, topped
up or trimmed, and any pick refused at the open) at this session's close, with the proceeds.
Stocks without ``lookback`` sessions of closes are not ranked: set the spec's ``warmup`` to at
least ``lookback`` so the first week ranks on full windows.
"""

import numpy as np

from hypebt import Strategy


class WeeklyMomentum(Strategy):
    PARAMS = {
        "lookback": 20,     # sessions of closes the momentum is measured over (the return over lookback - 1 sessions)
        "top_n": 50,        # stocks held
        "fraction": 0.95,   # of equity invested, split equally
    }

    def __init__(self):
        super().__init__()
        if self.cfg.lookback < 2 or self.cfg.top_n < 1 or not 0 < self.cfg.fraction <= 1:
            raise ValueError("lookback >= 2, top_n >= 1 and 0 < fraction <= 1")
        self.this_week = None  # (weight, picks, picks ordered at the open) until the rebalance's close

    def on_open(self, day):
        if self.session_no > 0 and self.sessions[self.session_no - 1].isocalendar()[:2] == day.isocalendar()[:2]:
            return  # not the week's first session
        closes = self.cross_section("close", self.cfg.lookback)
        if len(closes.sessions) < self.cfg.lookback:
            return
        with np.errstate(divide="ignore", invalid="ignore"):
            momentum = closes.values[-1] / closes.values[0] - 1
        ranked = np.flatnonzero(np.isfinite(momentum))
        ranked = ranked[np.argsort(-momentum[ranked], kind="stable")][: self.cfg.top_n]
        chosen = [closes.codes[j] for j in ranked]
        held, weight = self.holdings(), self.cfg.fraction / self.cfg.top_n
        weights = {code: 0.0 for code in held if code not in set(chosen)}
        budget, each = 0.99 * self.cash, weight * self.equity  # (1 %: fees and the open's price)
        for code in chosen:
            if code not in held and each <= budget:
                weights[code], budget = weight, budget - each
        self.record("ranked", int(np.isfinite(momentum).sum()))
        self.log("picked", " ".join(chosen))
        if weights:
            self.order_target_weights(weights, note="rebalance")
        self.this_week = (weight, chosen, [code for code in chosen if code in weights])

    def on_close(self, day):
        if self.this_week is None:
            return
        (weight, chosen, at_open), self.this_week = self.this_week, None
        # The picks not bought at the open (no cash then, or refused), and those already held, now
        # that this open's sales have paid in.
        late = {code: weight for code in chosen if code not in at_open or self.shares(code) == 0}
        if late:
            self.order_target_weights(late, at="close", note="rebalance")
