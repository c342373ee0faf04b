"""The credit account of margin lending (融券): borrow interest on the sale value, and the
maintenance collateral ratio (维持担保比例) with its margin call and forced liquidation.

Interest: brokers charge 融券卖出成交金额 x annual rate x calendar days used / 360 (the day of the
sale counts, the day of repayment does not: 算头不算尾), settled when the short is covered. The
:class:`CreditBook` keeps each short sale as a lot (sale date, shares, price), accrues its interest
per calendar day so the account's value carries the debt every session (the cash moves by the
change of the fen-rounded interest), and writes one ledger row per covered lot: sale value, days,
interest. Pure Python; the Backtrader CommInfo (:mod:`hypebt.market.broker`) only calls it.

>>> book = CreditBook(R.Rules(borrow_rate=0.08))
>>> book.open("002230", date(2023, 8, 15), 1000, 63.98)
>>> book.accrue("002230", date(2023, 8, 18))  # 63,980 x 8 % x 3 / 360
42.65
>>> book.cover("002230", date(2023, 8, 18), 1000)  # nothing left to charge: accrued already
0.0
>>> book.rows[0]["sale_value"], book.rows[0]["days"], book.rows[0]["fee"]
(63980.0, 3, 42.65)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hypebt.market import rules as R

BORROW_COLUMNS = ["date", "code", "fee", "days", "sale_value", "opened", "rate", "status"]


@dataclass
class _Lot:
    opened: date
    shares: int
    price: float
    charged: float = 0.0  # interest already taken from cash for this lot (fen)


class CreditBook:
    """Open short lots per code, their accrued interest, and the settled interest ledger."""

    def __init__(self, rules: R.Rules):
        self.rules = rules
        self.lots: dict[str, list[_Lot]] = {}
        self.rows: list[dict] = []

    def _interest(self, shares: int, price: float, opened: date, day: date) -> float:
        return R.to_fen(R.borrow_fee(shares * price, max(0, (day - opened).days), self.rules, sold_on=opened))

    def open(self, code: str, day: date, shares: int, price: float) -> None:
        """A short sale of ``shares`` at ``price`` on ``day``."""
        self.lots.setdefault(code, []).append(_Lot(day, int(shares), float(price)))

    def add_shares(self, code: str, shares: int) -> None:
        """Bonus or capitalisation shares a short owes the lender (its debt grows, :mod:`hypebt.market.
        distributions`): spread over the open lots by their shares, each lot's sale value (what the
        interest runs on) unchanged.

        >>> book = CreditBook(R.Rules())
        >>> book.open("300750", date(2023, 4, 20), 200, 385.0)
        >>> book.add_shares("300750", 160); (book.lots["300750"][0].shares, book.lots["300750"][0].price)
        (360, 213.88888888888889)
        """
        lots = self.lots.get(code, [])
        total = sum(lot.shares for lot in lots)
        if shares <= 0 or total <= 0:
            return
        extra = [lot.shares * shares // total for lot in lots]
        for i in range(shares - sum(extra)):
            extra[i % len(lots)] += 1
        for lot, e in zip(lots, extra):
            lot.price = lot.price * lot.shares / (lot.shares + e)
            lot.shares += e

    def accrue(self, code: str, day: date) -> float:
        """Interest of ``code``'s open lots up to ``day`` not yet taken from cash (CNY, fen)."""
        due = 0.0
        for lot in self.lots.get(code, ()):
            total = self._interest(lot.shares, lot.price, lot.opened, day)
            due += total - lot.charged
            lot.charged = total
        return R.to_fen(due)

    def accrued(self, code: str | None = None) -> float:
        """Interest charged so far on the open lots (of ``code``, or of every code)."""
        codes = [code] if code is not None else list(self.lots)
        return R.to_fen(sum(lot.charged for c in codes for lot in self.lots.get(c, ())))

    def cover(self, code: str, day: date, shares: int) -> float:
        """Cover ``shares`` of ``code`` on ``day``, oldest sale first; returns the interest still due
        (what :meth:`accrue` has not charged yet) and writes one ledger row per covered lot."""
        due, left = 0.0, int(shares)
        lots = self.lots.get(code, [])
        while left > 0 and lots:
            lot = lots[0]
            take = min(left, lot.shares)
            fee = self._interest(take, lot.price, lot.opened, day)
            charged = lot.charged if take == lot.shares else R.to_fen(lot.charged * take / lot.shares)
            due += fee - charged
            self._row(day, code, fee, lot, take, "settled")
            lot.shares -= take
            lot.charged = R.to_fen(lot.charged - charged)
            left -= take
            if lot.shares == 0:
                lots.pop(0)
        return R.to_fen(due)

    def close_out(self, day: date) -> None:
        """At the end of a run: a ledger row for every lot still open, its interest accrued to ``day``."""
        for code, lots in self.lots.items():
            for lot in lots:
                self._row(day, code, lot.charged, lot, lot.shares, "accrued (open)")

    def _row(self, day: date, code: str, fee: float, lot: _Lot, shares: int, status: str) -> None:
        self.rows.append({"date": day, "code": code, "fee": fee, "days": (day - lot.opened).days,
                          "sale_value": R.to_fen(shares * lot.price), "opened": lot.opened,
                          "rate": R.borrow_rate_on(lot.opened, self.rules), "status": status})


def maintenance_ratio(cash: float, long_value: float, short_value: float, interest: float) -> float:
    """维持担保比例: (cash + long positions at market) / (shorts at market + accrued interest);
    infinite with no short debt.

    >>> round(maintenance_ratio(1_000_000 + 500_000, 0.0, 520_000, 1_000), 4)
    2.8791
    """
    debt = short_value + interest
    return (cash + long_value) / debt if debt > 0 else float("inf")


class MarginWatch:
    """The margin call state of one account: when the ratio fell under the call line, and when the
    grace runs out (``rules.maintenance_grace`` sessions to restore it before liquidation)."""

    def __init__(self, rules: R.Rules):
        self.rules = rules
        self.called_on: int | None = None  # session number of the call
        self.called_day: date | None = None
        self.ratio = float("inf")

    def update(self, session_no: int, day: date, ratio: float) -> str | None:
        """Record the ratio at a close; returns ``"call"`` on a new call, ``"liquidate"`` when the
        grace has run out, ``"restored"`` when a called account is back above the line, else None."""
        self.ratio = ratio
        if ratio >= self.rules.maintenance_call:
            was = self.called_on is not None
            self.called_on = self.called_day = None
            return "restored" if was else None
        if self.called_on is None:
            self.called_on, self.called_day = session_no, day
            return "call"
        if session_no - self.called_on >= self.rules.maintenance_grace:
            return "liquidate"
        return None
