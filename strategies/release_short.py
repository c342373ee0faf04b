"""Short a company's stock around its scheduled model releases, through margin lending (融券).

For each event the spec selects (e.g. iFlytek's 讯飞星火 releases), the codes
the event names (else its universe, ``t.universe``) are sold short with ``fraction`` of equity
at the release session's open, shifted by ``offset`` sessions and filled at
``at`` ("open" or "close": ``offset = -1, at = "close"`` is the close before the
release). The short is covered at the open ``hold_days`` sessions after entry,
or at the next open after a close ``stop_loss`` above the entry price.

Only codes on the margin-lending list can be shorted; the borrow fee accrues
daily on the short's market value; covering waits at least one session.
"""

from hypebt import Strategy


class ReleaseShort(Strategy):
    PARAMS = {
        "fraction": 0.5,     # of equity per event, split over the event's codes
        "offset": 0,         # sessions relative to the release session
        "at": "open",        # fill the short at that session's "open" or "close"
        "hold_days": 3,      # sessions until covering at the open
        "stop_loss": 0.0,    # e.g. 0.1: cover after a close 10% above entry (0 = off)
    }

    def __init__(self):
        super().__init__()
        if self.cfg.at not in ("open", "close"):
            raise ValueError('at must be "open" or "close"')
        if self.cfg.hold_days < 1:
            raise ValueError("hold_days must be >= 1")
        index = self.session_index
        self.entries = {}
        for t in self.events:
            # A scheduled release's session is that of its first tradable price.
            i = index[t.session] + self.cfg.offset
            own = [c for c in t.event.codes if c in self.universe]
            if 0 <= i < len(self.sessions) and (own if t.event.codes else self.universe):
                self.entries.setdefault(i, []).append(t.event.id)
                self.wake_between(i, i)  # flat, it acts only on entry sessions
        self.shorts = {}  # code -> dict(entry_no, entry_price, exit)

    def _codes(self, event_id):
        """The event's own codes, else its universe (read when entering: a board universe is known
        only once its snapshot was published)."""
        t = next(x for x in self.events if x.event.id == event_id)
        return [c for c in (t.event.codes or t.universe or self.universe) if c in self.universe]

    def _enter(self, at):
        for event_id in self.entries.get(self.session_no, []):
            codes = self._codes(event_id)
            if not codes:
                continue
            budget = self.equity * self.cfg.fraction / len(codes)
            for code in codes:
                if code not in self.shorts and self.short_value(code, budget, at=at, note=event_id):
                    self.shorts[code] = {"entry_no": self.session_no, "entry_price": None, "exit": False}

    def on_open(self, day):
        for code, s in list(self.shorts.items()):
            due = self.session_no - s["entry_no"] >= self.cfg.hold_days
            if (due or s["exit"]) and self.shares(code) < 0:
                self.cover_all(code, note="hold_days" if due else "stop_loss")
            elif self.shares(code) == 0 and not self.pending(code) and self.session_no > s["entry_no"]:
                del self.shorts[code]
        if self.cfg.at == "open":
            self._enter("open")

    def on_close(self, day):
        if self.cfg.at == "close":
            self._enter("close")
        for code, s in self.shorts.items():
            if self.shares(code) >= 0:
                continue
            bar = self.bar(code)
            if s["entry_price"] is None:  # the short's fill price (after slippage)
                s["entry_price"] = self.holding(code).avg_price
            if self.cfg.stop_loss and bar.close >= s["entry_price"] * (1 + self.cfg.stop_loss):
                s["exit"] = True
