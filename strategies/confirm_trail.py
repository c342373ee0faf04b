"""Enter after the event only on confirmation; exit on a trailing stop.

After each chosen event, each stock of its universe (``t.universe``) is watched for ``window`` sessions (from the event's
session on): it is bought at the next open after a close that confirms the move, at least
``confirm`` above its last close before the event and above its ``sma_days``-session moving
average (an indicator on adjusted closes). Each position is ``weight`` of equity (target sizing).

It is then protected by a trailing stop: a sell-stop order ``trail`` below the highest close
since entry, moved up after each close (the old stop is cancelled, a new one placed). On daily
bars a stop fills at the stop price when the session trades through it, at the open when the
session gaps below it, and not at all while the stock is locked at limit-down (it waits for the
next session); shares bought today cannot be sold today (T+1). Positions still open after
``max_hold`` sessions are sold at the open.
"""

from hypebt import Strategy


class ConfirmTrail(Strategy):
    PARAMS = {
        "window": 5,       # sessions after the event in which a confirmation counts
        "confirm": 0.03,   # close at least this far above the last close before the event
        "sma_days": 10,    # ... and above this moving average
        "weight": 0.15,    # of equity per position
        "trail": 0.08,     # trailing stop distance below the highest close since entry
        "max_hold": 20,    # sell at the open after this many sessions
    }

    def __init__(self):
        super().__init__()
        if self.cfg.window < 1 or self.cfg.sma_days < 1 or not 0 < self.cfg.trail < 1 or self.cfg.max_hold < 1:
            raise ValueError("window, sma_days and max_hold must be >= 1 and 0 < trail < 1")
        n = self.cfg.sma_days
        self.sma = {code: self.I(lambda s: s.rolling(n).mean(), code, name=f"sma{n}({code})")
                    for code in self.universe}
        self.watch = {}   # code -> (last session number to confirm, base adjusted close, event id)
        self.stops = {}   # code -> the resting stop order
        self.peak = {}    # code -> highest traded close since entry

    def on_order(self, order):
        if order.status != "filled":
            return
        if order.side == "buy":
            self.peak[order.code] = order.price
        elif order.side == "sell" and self.shares(order.code) == 0:
            self.stops.pop(order.code, None)
            self.peak.pop(order.code, None)

    def on_open(self, day):
        for code, h in self.holdings().items():
            if h.sessions_held >= self.cfg.max_hold:
                stop = self.stops.pop(code, None)
                if stop is not None:
                    self.cancel(stop)
                self.order_target_shares(code, 0, note="max_hold")

    def on_close(self, day):
        for t in self.events:
            if t.session.date() == self.today:
                for code in (t.universe if t.universe is not None else self.universe):
                    before = self.history(code, "close", 2)
                    if len(before) == 2 and code not in self.watch:
                        self.watch[code] = (self.session_no + self.cfg.window - 1, before.iloc[0], t.event.id)
        spare = self.cash  # what the buys placed at this close may still use
        for code, (last, base, event_id) in list(self.watch.items()):
            bar = self.bar(code)
            if self.session_no > last or self.shares(code):
                del self.watch[code]
            elif not bar.suspended and bar.adjclose >= base * (1 + self.cfg.confirm) \
                    and bar.adjclose > self.sma[code][0]:
                del self.watch[code]
                budget = self.cfg.weight * self.equity
                if spare < budget * 1.02:  # a margin for fees and a higher open
                    self.log(event_id, code, self.name(code), "confirmed, but the cash is already invested")
                    continue
                spare -= budget
                self.order_target_percent(code, self.cfg.weight, note=f"{event_id} confirmed")
        for code, h in self.holdings().items():
            close = self.bar(code).close
            self.peak[code] = max(self.peak.get(code, close), close)
            level = round(self.peak[code] * (1 - self.cfg.trail), 2)
            old = self.stops.get(code)
            if old is not None and old.price == level and old.active:
                continue
            if old is not None:
                self.cancel(old)
            self.stops[code] = self.sell_stop(code, level, note="trailing stop")
