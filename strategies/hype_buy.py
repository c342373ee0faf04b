"""Buy the hype: on each chosen event, buy its universe at the event's first tradable price.

For each event the spec's filter selects, the event's universe (``t.universe``: the spec's
universe, or with board universes the boards' members as published before the event) is bought
equal-weighted with ``fraction`` of equity, at the event's first tradable price
(that session's open, or its close for news that broke during trading), or
``delay`` sessions later at the open. Each position is sold at the open after
``hold_days`` sessions, or earlier at the next open after a close that hits the
stop-loss or take-profit (on adjusted closes), or, with ``streak_exit``, after
the first session that fails to close at limit-up once the stock has closed at
limit-up while held (the streak broke).

Stocks that cannot be bought (limit-locked, suspended) are skipped, or retried
at the next ``retry_days`` opens. With ``chase_limit`` the buys at the open are
limit orders at limit-up: below it they fill at the open; opening at limit-up
they fill at the limit only if the board opens during the day and the spec's
``[rules] fill_at_limit_when_opened`` model is on. Sells refused at limit-down are retried at
every following open.
"""

from hypebt import Strategy


class HypeBuy(Strategy):
    PARAMS = {
        "fraction": 0.95,      # of equity per event, split equally over the universe
        "delay": 0,            # sessions after the first tradable session (then at the open)
        "hold_days": 5,        # sessions to hold before selling at the open
        "stop_loss": 0.0,      # e.g. 0.08: sell after a close 8% below entry (0 = off)
        "take_profit": 0.0,    # e.g. 0.3: sell after a close 30% above entry (0 = off)
        "streak_exit": True,   # sell after the limit-up streak breaks
        "retry_days": 0,       # retry unbuyable stocks at this many later opens (0 = skip)
        "chase_limit": False,  # buy with a limit order at limit-up (fills under [rules] fill_at_limit_when_opened)
    }

    def __init__(self):
        super().__init__()
        if self.cfg.delay < 0 or self.cfg.hold_days < 1 or self.cfg.retry_days < 0:
            raise ValueError("delay and retry_days must be >= 0 and hold_days >= 1")
        self.entries = []   # (session index, "open"/"close", event) of each entry, as events become known
        self.known = set()  # ids of the events already scheduled for entry
        self.held = {}      # code -> dict(entry_no, entry_adj, hit_limit, exit)
        self.waiting = {}   # code -> (last session index to try, budget, event id)
        # Flat, it acts only from an event's first tradable session to its entry (``delay`` later)
        # and retries; holding stocks or waiting for an order keeps it awake anyway.
        self.wake_around_events(after=self.cfg.delay + self.cfg.retry_days)

    def _learn(self):
        """Schedule the entry of each event that has become known (self.events reveals an
        unscheduled event only at its first tradable moment)."""
        for t in self.events:
            if t.event.id in self.known:
                continue
            self.known.add(t.event.id)
            i = self.session_index[t.session] + self.cfg.delay
            at = t.at if self.cfg.delay == 0 else "open"
            if i < len(self.sessions):
                self.entries.append((i, at, t))

    # --- entries ---------------------------------------------------------------------------
    def _now(self, t):
        """The event as seen now: its universe is readable once its board snapshot was published."""
        return next(x for x in self.events if x.event.id == t.event.id)

    def _start_event(self, t):
        universe = t.universe if t.universe is not None else self.universe
        if not universe:
            return
        budget = self.equity * self.cfg.fraction / len(universe)
        last = self.session_no + self.cfg.retry_days
        for code in universe:
            if code not in self.held:
                self.waiting[code] = (last, budget, t.event.id)

    def _try_buys(self, at):
        for code, (last, budget, event_id) in list(self.waiting.items()):
            if self.session_no > last:
                del self.waiting[code]
                continue
            if code in self.held:
                del self.waiting[code]
                continue
            order_at = "limit" if at == "open" and self.cfg.chase_limit else at
            if self.buy_value(code, budget, at=order_at, note=event_id) is not None:
                del self.waiting[code]
                self.held[code] = {"entry_no": self.session_no, "at": at, "entry_adj": None,
                                   "hit_limit": False, "exit": False}

    # --- hooks -----------------------------------------------------------------------------
    def on_open(self, day):
        self._learn()
        for code, h in list(self.held.items()):
            due = self.session_no - h["entry_no"] >= self.cfg.hold_days
            if (due or h["exit"]) and self.shares(code) > 0:
                self.sell_all(code, note="hold_days" if due else h["exit"])
            elif self.shares(code) == 0 and not self.pending(code) and self.session_no > h["entry_no"]:
                del self.held[code]  # sold (or the buy never filled)
        for i, at, t in self.entries:
            if i == self.session_no and at == "open":
                self._start_event(self._now(t))
        self._try_buys("open")

    def on_close(self, day):
        self._learn()
        for i, at, t in self.entries:
            if i == self.session_no and at == "close":
                self._start_event(self._now(t))
                self._try_buys("close")
        for code, h in self.held.items():
            if self.shares(code) <= 0:
                continue
            bar = self.bar(code)
            if h["entry_adj"] is None:  # the entry's fill price on the adjusted scale of the signals
                h["entry_adj"] = self.holding(code).avg_price * bar.adjclose / bar.close
            change = bar.adjclose / h["entry_adj"] - 1
            if self.cfg.stop_loss and change <= -self.cfg.stop_loss:
                h["exit"] = "stop_loss"
            elif self.cfg.take_profit and change >= self.cfg.take_profit:
                h["exit"] = "take_profit"
            elif self.cfg.streak_exit and not bar.suspended:
                if bar.closed_at_limit_up:
                    h["hit_limit"] = True
                elif h["hit_limit"]:
                    h["exit"] = "streak_broke"
