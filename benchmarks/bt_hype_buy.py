"""hype_buy written the Backtrader way (a plain ``bt.Strategy``, no hypebt import), for the sweep benchmark.

Buys every feed equal-weighted (``fraction`` of the value) at the open ``delay`` sessions after the
event session (``event``, the Sora announcement's first tradable session by default), sells each at
the open ``hold_days`` sessions later, or at the next open after a close ``stop_loss`` below its entry.
The hypebt-API ``hype_buy`` does the same and more (streak exits, retries, intraday events); this one
is here to measure what a Backtrader-style strategy costs through the same sweep machinery.
"""

import datetime

import backtrader as bt


class BtHypeBuy(bt.Strategy):
    params = (("event", "2024-02-19"), ("delay", 0), ("hold_days", 5), ("stop_loss", 0.0), ("fraction", 0.95))

    def __init__(self):
        self.day0 = datetime.date.fromisoformat(self.p.event)
        self.since = -1      # sessions since the event session (-1: before it)
        self.entry = {}      # feed number -> (session number of the entry, entry price)
        self.number = {id(d): i for i, d in enumerate(self.datas)}

    def next_open(self):
        if self.data.datetime.date(0) >= self.day0:
            self.since += 1
        for i, (at, _) in list(self.entry.items()):
            if self.since - at >= self.p.hold_days and self.getposition(self.datas[i]).size:
                self.close(data=self.datas[i])
                del self.entry[i]
        if self.since == self.p.delay:
            budget = self.broker.getvalue() * self.p.fraction / len(self.datas)
            for d in self.datas:
                size = int(budget / d.open[0] / 100) * 100
                if size:
                    self.buy(data=d, size=size)

    def notify_order(self, order):
        if order.status == order.Completed and order.isbuy():
            self.entry[self.number[id(order.data)]] = (self.since, order.executed.price)

    def next(self):
        if not self.p.stop_loss:
            return
        for i, (at, price) in list(self.entry.items()):
            d = self.datas[i]
            if d.close[0] <= price * (1 - self.p.stop_loss) and self.getposition(d).size:
                self.close(data=d)  # at the next open
                del self.entry[i]
