"""Backtrader adapters for the A-share cost, lot and margin-lending rules.

Thin on purpose: every number comes from :mod:`hypebt.market.rules`.

- :class:`AShareCommInfo` charges commission (with its minimum), dated stamp
  duty and transfer fee, and takes the 融券 interest accrued on the sale value of
  open shorts from cash each session (:mod:`hypebt.market.credit`).
- :class:`LotSizer` turns a cash amount into a valid lot for the board.

The broker that fills at the checked price, and tells the CommInfo each fill's
trade date, overrides Backtrader privates, so it lives in :mod:`hypebt.engine.bt_adapter`.
"""

from __future__ import annotations

import datetime as dt

import backtrader as bt

from hypebt.market import rules as R
from hypebt.market.rules import to_fen  # noqa: F401  (the one fen rounder; kept importable from here)


class AShareCommInfo(bt.CommInfoBase):
    """Stock-like commission scheme calling :func:`hypebt.market.rules.fees`."""

    params = (
        ("stocklike", True),
        ("commtype", bt.CommInfoBase.COMM_FIXED),
        ("percabs", True),
        ("rules", None),
        ("code", ""),
        ("borrow_ledger", None),
        ("fee_memo", None),  # the run's OrderDesk.fee_memo: each fill's fees computed once
    )

    def __init__(self):
        super().__init__()
        self.trade_date: dt.date | None = None  # set by the broker for the duration of each fill

    def _getcommission(self, size, price, pseudoexec):
        if not size:
            return 0.0
        if self.trade_date is None:
            # Fees are dated (stamp duty changed on 2023-08-28): never guess the day.
            raise RuntimeError(f"{self.p.code}: commission asked outside a fill; the broker sets trade_date "
                               "before each fill (hypebt.engine.bt_adapter.AShareBroker)")
        key = ("buy" if size > 0 else "sell", abs(int(size)), price, self.trade_date)
        memo = self.p.fee_memo
        fees = memo.get(key) if memo is not None else None
        if fees is None:
            fees = R.fees(*key, self.p.rules)
            if memo is not None:
                memo[key] = fees
        return fees.total

    def get_credit_interest(self, data, pos, dt0):
        """The 融券 interest accrued since the last session, on the sale value of each open short lot
        (:class:`hypebt.market.credit.CreditBook`, passed as ``borrow_ledger``)."""
        if pos.size >= 0 or self.p.borrow_ledger is None:
            return 0.0
        return self.p.borrow_ledger.accrue(self.p.code, dt0.date())


class LotSizer:
    """Shares for a cash amount, rounded down to what the board allows (:func:`hypebt.market.rules.buy_size`).

    A plain helper of the strategy's order methods, not a Backtrader sizer: hypebt orders always
    carry their size.

    >>> LotSizer(rules=R.Rules()).shares_for("600519", 10_000.0, 33.0)
    300
    """

    def __init__(self, rules: R.Rules | None = None):
        self.rules = rules

    def shares_for(self, code: str, value: float, price: float) -> int:
        """Whole lots of ``code`` that ``value`` CNY buys at ``price`` (0 when nothing fits)."""
        if price <= 0 or value <= 0:
            return 0
        return R.buy_size(code, value / price, self.rules)
