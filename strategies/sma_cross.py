"""Buy a stock when its close crosses above its moving average; sell when it crosses back."""

import backtrader as bt


class SmaCross(bt.Strategy):
    params = (("period", 20), ("stake", 1000))

    def __init__(self):
        self.sma = bt.indicators.SMA(self.data.close, period=self.p.period)

    def next(self):
        if not self.position and self.data.close[0] > self.sma[0]:
            self.buy(size=self.p.stake)
        elif self.position and self.data.close[0] < self.sma[0]:
            self.close()

    def notify_order(self, order):
        if order.status in (order.Rejected, order.Margin):
            print(self.data.datetime.date(0), "refused:", order.info.reason)

    def notify_trade(self, trade):
        if trade.isclosed:
            print(self.data.datetime.date(0), f"trade closed, net {trade.pnlcomm:+.2f}")

    def stop(self):
        print(f"final value {self.broker.getvalue():,.2f}")
