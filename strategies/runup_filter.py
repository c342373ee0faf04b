"""Buy the concept stocks on the event, except those that already ran up before it.

At each chosen event's first tradable price (that session's open, or its close for news that
broke during trading), every stock of the event's universe (``t.universe``) whose adjusted close rose more than ``max_runup``
over the ``lookback`` sessions before the event session is skipped: the news was already in the
price (or had leaked). The others are bought with ``fraction`` of equity in all, weighted by
inverse volatility (the standard deviation of ``vol_days`` daily returns, an indicator), so each
carries about the same risk; the weights go through target sizing. Each position is sold at the
open ``hold_days`` sessions after its entry.

Set the spec's ``warmup`` to at least ``max(lookback, vol_days) + 1`` sessions so events near
``start`` are decided on full windows (a stock without enough history is skipped).
"""

import math

from hypebt import Strategy


class RunupFilter(Strategy):
    PARAMS = {
        "lookback": 5,        # sessions before the event over which the run-up is measured
        "max_runup": 0.15,    # skip stocks that rose more than this over the lookback
        "hold_days": 5,       # sessions to hold before selling at the open
        "fraction": 0.95,     # of equity per event, over the stocks bought
        "vol_days": 20,       # sessions of daily returns for the inverse-volatility weights
    }

    def __init__(self):
        super().__init__()
        if self.cfg.lookback < 1 or self.cfg.hold_days < 1 or self.cfg.vol_days < 2:
            raise ValueError("lookback and hold_days must be >= 1, vol_days >= 2")
        n = self.cfg.vol_days
        self.vol = {code: self.I(lambda s: s.pct_change().rolling(n).std(), code, name=f"vol{n}({code})")
                    for code in self.universe}
        # Flat, it acts only on its events' first tradable sessions; holdings keep it awake.
        self.wake_around_events()

    def on_open(self, day):
        for code, h in self.holdings().items():
            if h.sessions_held >= self.cfg.hold_days:
                self.order_target_shares(code, 0, note="hold_days")
        self.enter("open")

    def on_close(self, day):
        self.enter("close")

    def runup(self, code, at):
        """The adjusted close's change over the ``lookback`` sessions before today's session."""
        closes = self.history(code, "close", self.cfg.lookback + 2)
        if at == "close":
            closes = closes.iloc[:-1]  # at the close, today's own move is not "before the event"
        closes = closes.iloc[-(self.cfg.lookback + 1):]
        if len(closes) < self.cfg.lookback + 1 or not closes.iloc[0] > 0:
            return math.nan
        return closes.iloc[-1] / closes.iloc[0] - 1

    def enter(self, at):
        for t in self.events:
            if t.session.date() != self.today or t.at != at:
                continue
            inverse = {}
            for code in (t.universe if t.universe is not None else self.universe):
                if self.shares(code) or not self.tradable(code):
                    continue
                runup = self.runup(code, at)
                if not runup <= self.cfg.max_runup:  # NaN (too little history) is skipped too
                    self.log(t.event.id, code, self.name(code), f"skipped: run-up {runup:+.1%}")
                    continue
                vol = self.vol[code][0]
                inverse[code] = 1 / vol if vol > 0 else math.nan
            known = [v for v in inverse.values() if v == v]
            fill = sum(known) / len(known) if known else 1.0  # no volatility yet: an average weight
            inverse = {c: (v if v == v else fill) for c, v in inverse.items()}
            total = sum(inverse.values())
            self.record("bought", len(inverse))
            if total > 0:
                weights = {c: self.cfg.fraction * v / total for c, v in inverse.items()}
                self.order_target_weights(weights, at=at, note=t.event.id)
