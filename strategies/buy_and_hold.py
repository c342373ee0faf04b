"""Baseline: buy the universe equal-weighted at the first session's open and hold to the end.

Stocks that cannot be bought on the first session (suspended, limit-locked, not
yet listed) are retried at each later open until bought.
"""

from hypebt import Strategy


class BuyAndHold(Strategy):
    PARAMS = {
        "fraction": 0.98,  # of starting equity, split equally over the universe
    }

    def on_open(self, day):
        if self.session_no == 0:
            self.budget = self.equity * self.cfg.fraction / len(self.universe)
            self.todo = set(self.universe)
        for code in sorted(self.todo):
            if self.shares(code) > 0:
                self.todo.discard(code)
            elif self.tradable(code) and self.buy_value(code, self.budget, note="initial buy"):
                self.todo.discard(code)
        if not self.todo:
            # Everything bought: nothing more to do (it holds them, which keeps it awake anyway;
            # should every position go, as when delisted, the run may skip to its end).
            self.sleep_until(None)
