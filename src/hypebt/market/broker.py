"""Backtrader adapters for the A-share cost, lot and margin-lending rules.

Thin on purpose: every number comes from :mod:`hypebt.market.rules`.

- :class:`AShareCommInfo`: Backtrader's commission scheme of a code (sizes in board lots; dated fees).
- :class:`BoardLotSizer`: Backtrader's default sizer, one board lot.
- :class:`LotSizer` turns a cash amount into a valid lot for the board.

The broker itself, the one door every order goes through, is :mod:`hypebt.engine.broker`.
"""

from __future__ import annotations

import datetime as dt

import backtrader as bt

from hypebt.market import rules as R
from hypebt.market.rules import to_fen  # noqa: F401  (the one fen rounder; kept importable from here)


class AShareCommInfo(bt.CommInfoBase):
    """Stock-like commission scheme of one code, calling :func:`hypebt.market.rules.fees`.

    Backtrader asks a scheme two things in a hypebt run: the size a cash amount buys (``getsize``,
    used by ``order_target_value``/``order_target_percent``: whole board lots here) and the profit
    of a trade (Backtrader's own, for ``notify_trade``). The fees of each fill are the order desk's
    (:mod:`hypebt.market.orders`): they are dated (stamp duty changed on 2023-08-28), so a
    commission asked without the fill's ``trade_date`` is an error, not a guess.
    """

    params = (
        ("stocklike", True),
        ("commtype", bt.CommInfoBase.COMM_FIXED),
        ("percabs", True),
        ("rules", None),
        ("code", ""),
    )

    def __init__(self):
        super().__init__()
        self.trade_date: dt.date | None = None

    def _getcommission(self, size, price, pseudoexec):
        if not size:
            return 0.0
        if self.trade_date is None:
            # Fees are dated (stamp duty changed on 2023-08-28): never guess the day.
            raise RuntimeError(f"{self.p.code}: commission asked outside a fill; each fill's fees are in the fills "
                               "ledger (set trade_date to compute one)")
        return R.fees("buy" if size > 0 else "sell", abs(int(size)), price, self.trade_date, self.p.rules).total

    def getsize(self, price, cash):
        """Shares ``cash`` buys at ``price``, rounded down to what the board allows (whole lots)."""
        if not price > 0:
            return 0
        return R.buy_size(self.p.code, cash / price, self.p.rules or R.DEFAULT)


class BoardLotSizer(bt.Sizer):
    """Backtrader's default sizer in a hypebt run: ``stake`` board lots (one lot: 100 shares on the
    main board and ChiNext, 200 on STAR, 100 on Beijing) where Backtrader's default buys one share.
    A sizer the strategy sets itself (``self.setsizer(...)`` in ``__init__`` or ``start()``) is
    used instead, its sizes checked like any order's (not a whole lot: refused ``lot_size``)."""

    params = (("stake", 1), ("rules", None))

    def _getsizing(self, comminfo, cash, data, isbuy):
        return self.p.stake * R.board_lot(comminfo.p.code, self.p.rules or R.DEFAULT)

    @classmethod
    def instead_of(cls, sizer, rules: R.Rules | None = None) -> bt.Sizer:
        """The sizer a strategy uses: its own, or one board lot in place of Backtrader's untouched
        default (``FixedSize``, one share, never a valid A-share buy)."""
        default = type(sizer) is bt.sizers.FixedSize and sizer.p.stake == 1 and sizer.p.tranches == 1
        return cls(rules=rules) if default else sizer


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
