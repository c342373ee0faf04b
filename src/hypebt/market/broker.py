"""Backtrader adapters for the A-share cost, lot and margin-lending rules.

Thin on purpose: every number comes from :mod:`hypebt.market.rules`.

- :class:`AShareCommInfo` charges commission (with its minimum), dated stamp
  duty and transfer fee, and accrues the 融券 borrow fee on short positions.
- :class:`AShareBroker` tells the CommInfo the trade date of each fill (the
  stamp duty changed on 2023-08-28) and fills each order at the price the
  order checks decided (:mod:`hypebt.market.orders`), on the session they decided.
- :class:`LotSizer` turns a cash amount into a valid lot for the board.
"""

from __future__ import annotations

import datetime as dt

import backtrader as bt

from hypebt.market import rules as R
from hypebt.market.rules import to_fen  # the one fen rounder; kept importable from here


class AShareCommInfo(bt.CommInfoBase):
    """Stock-like commission scheme calling :func:`hypebt.market.rules.fees`."""

    params = (
        ("stocklike", True),
        ("commtype", bt.CommInfoBase.COMM_FIXED),
        ("percabs", True),
        ("rules", None),
        ("code", ""),
        ("borrow_ledger", None),
    )

    def __init__(self):
        super().__init__()
        self.trade_date: dt.date | None = None

    def _getcommission(self, size, price, pseudoexec):
        if not size:
            return 0.0
        side = "buy" if size > 0 else "sell"
        day = self.trade_date or dt.date.today()
        return R.fees(side, abs(int(size)), price, day, self.p.rules).total

    def get_credit_interest(self, data, pos, dt0):
        """The 融券 fee: short market value at the last close x rate x calendar days / day count."""
        if pos.size >= 0 or pos.datetime is None:
            return 0.0
        days = (dt0.date() - pos.datetime.date()).days
        if days <= 0:
            return 0.0
        last_close = data.close[-1] if len(data) > 1 else data.close[0]
        fee = to_fen(R.borrow_fee(abs(pos.size) * last_close, days, self.p.rules))
        if self.p.borrow_ledger is not None and fee:
            self.p.borrow_ledger.append((dt0.date(), self.p.code, fee, days))
        return fee


class AShareBroker(bt.brokers.BackBroker):
    """BackBroker that fills at the price and date the order checks set.

    ``order.info['fill_price']`` is set by :mod:`hypebt.market.orders` after the
    limit, lot, T+1, suspension and short checks; Backtrader's own slippage and
    cash check are not used. At-close orders are filled at once
    (:meth:`fill_now`), orders at the open in this session's broker cycle.
    """

    def _try_exec_market(self, order, popen, phigh, plow):
        price = order.info.get("fill_price")
        if price is None:
            return super()._try_exec_market(order, popen, phigh, plow)
        self._execute(order, ago=0, price=price)

    def fill_now(self, order) -> None:
        """Execute an order within the current session (an at-close fill).

        Backtrader would execute it in the next session's cycle, after that
        session's borrow fee and with the position invisible at its open; filling
        it here keeps positions, T+1, borrow days and the day's value right.
        """
        self.pending.remove(order)
        self._execute(order, ago=0, price=order.info["fill_price"])
        self._get_value()  # the analyzers read this session's value after the fill

    def held(self, data) -> int:
        """Shares held of ``data`` (negative when short), without creating an empty position."""
        pos = self.positions.get(data)
        return int(pos.size) if pos is not None else 0

    def _execute(self, order, ago=None, price=None, cash=None, position=None, dtcoc=None):
        self.getcommissioninfo(order.data).trade_date = order.data.datetime.date(0)
        # Cash is whole fen (prices, fees and borrow are all in fen). Backtrader
        # compares float sums with 0, so a buy costing exactly the cash would be
        # refused for -1e-13: lend it a tenth of a fen, then round back to the fen.
        self.cash += 0.001
        try:
            super()._execute(order, ago=ago, price=price, cash=cash, position=position, dtcoc=dtcoc)
        finally:
            self.cash = round(self.cash - 0.001, 2)
        # Backtrader values every position it has ever held at every bar: drop flat ones.
        pos = self.positions.get(order.data)
        if pos is not None and not pos.size:
            del self.positions[order.data]


class LotSizer(bt.Sizer):
    """Shares for a cash amount, rounded down to what the board allows (:func:`hypebt.market.rules.buy_size`)."""

    params = (("rules", None),)

    def shares_for(self, code: str, value: float, price: float) -> int:
        if price <= 0 or value <= 0:
            return 0
        return R.buy_size(code, value / price, self.p.rules)

    def _getsizing(self, comminfo, cash, data, isbuy):
        if not isbuy:
            return abs(self.broker.getposition(data).size)
        return self.shares_for(data._name, cash, data.close[0])
