"""差别化红利税: the individual investor's tax on dividends, charged when the shares are sold.

The rule (rates and dates in :class:`hypebt.market.rules_base.Rules`, ``dividend_tax*`` keys):

- 财税〔2012〕85号, for dividends whose record date (股权登记日) is on or after 2013-01-01: the
  dividend of shares held 1 month or less is taxed at 20 %, over 1 month up to 1 year at 10 %
  (half of it at the 20 % income-tax rate), over 1 year at 5 %;
- 财税〔2015〕101号, record dates on or after 2015-09-08: shares held over 1 year are exempt.
- The holding period runs from the day the shares were acquired to the day before they are
  transferred (持股期限: 取得之日至转让交割该股票之日前一日); shares are taken first in, first out
  (先进先出: the account's earliest shares are the ones sold). The listed company pays the dividend
  gross, and the tax is worked out and deducted at the sale; hypebt charges every band at the sale
  (under 85号 the 5 % on shares already held over a year at the record date was withheld at payment:
  the same amount, earlier).
- Taxable: cash dividends before tax, and bonus shares (送股) at their par value; capitalisation
  shares (转增) out of the capital reserve are not income. Shares received as a distribution join
  the lot they were paid on (same acquisition day): hypebt's reading, the rule texts do not say.

"1 month": a sale on or before the same day of the next month (the last day of a shorter month)
is within a month: bought 2024-01-10, sold 2024-02-10, held 2024-01-10..02-09, one month exactly,
20 %. Tax is rounded to the fen per sale. ``rules.dividend_tax = False`` charges nothing.

A position's :class:`Lot` tuple is pure data: :func:`buy`, :func:`receive`, :func:`add_shares` and
:func:`sell` return new tuples, so the engine's one record of positions keeps them beside the shares.

>>> from hypebt.market.rules_base import Rules
>>> lots = buy((), date(2024, 1, 2), 400)
>>> lots = receive(lots, date(2024, 6, 18), 30.876)          # 600519's 2023 final dividend
>>> sell(lots, date(2024, 7, 1), 400, Rules())[0]          # 6 months: 10 % of 12,350.40
1235.04
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import date

from hypebt.market.rules_base import DEFAULT, Rules, rate_on, to_fen

BANDS = ("month", "year", "long")


@dataclass(frozen=True)
class Lot:
    """Shares acquired on one day, and the taxable dividends they have received since:
    ``receipts`` are ``(record date, CNY)`` for the lot's current shares together."""

    bought: date
    shares: int
    receipts: tuple[tuple[date, float], ...] = ()


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the last day of that month when it is shorter.

    >>> add_months(date(2024, 1, 31), 1), add_months(date(2023, 2, 28), 12)
    (datetime.date(2024, 2, 29), datetime.date(2024, 2, 28))
    """
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def holding_band(bought: date, sold: date) -> str:
    """``"month"`` (held 1 month or less), ``"year"`` (over 1 month up to 1 year) or ``"long"``.

    >>> holding_band(date(2024, 1, 10), date(2024, 2, 10)), holding_band(date(2024, 1, 10), date(2024, 2, 11))
    ('month', 'year')
    >>> holding_band(date(2023, 1, 10), date(2024, 1, 10)), holding_band(date(2023, 1, 10), date(2024, 1, 11))
    ('year', 'long')
    """
    if sold <= add_months(bought, 1):
        return "month"
    if sold <= add_months(bought, 12):
        return "year"
    return "long"


def tax_rate(band: str, record_date: date, rules: Rules = DEFAULT) -> float:
    """The rate on a dividend with ``record_date`` of shares sold after holding ``band``.

    >>> tax_rate("long", date(2015, 9, 7)), tax_rate("long", date(2015, 9, 8)), tax_rate("month", date(2024, 6, 18))
    (0.05, 0.0, 0.2)
    """
    if not rules.dividend_tax:
        return 0.0
    table = {"month": rules.dividend_tax_month, "year": rules.dividend_tax_year, "long": rules.dividend_tax_long}
    if band not in table:
        raise ValueError(f"holding band must be one of {', '.join(BANDS)}, got {band!r}")
    return rate_on(table[band], record_date)


def buy(lots: tuple[Lot, ...], day: date, shares: int) -> tuple[Lot, ...]:
    """``lots`` with ``shares`` acquired on ``day`` (a later buy the same day joins that day's lot)."""
    if shares <= 0:
        return lots
    if lots and lots[-1].bought == day and not lots[-1].receipts:
        return lots[:-1] + (replace(lots[-1], shares=lots[-1].shares + shares),)
    return lots + (Lot(day, int(shares)),)


def receive(lots: tuple[Lot, ...], record_date: date, taxable_per_share: float) -> tuple[Lot, ...]:
    """Every lot (the shares held at the record date) receives ``taxable_per_share`` per share."""
    if taxable_per_share <= 0:
        return lots
    return tuple(replace(lot, receipts=lot.receipts + ((record_date, lot.shares * taxable_per_share),))
                 for lot in lots)


def receive_amount(lots: tuple[Lot, ...], record_date: date, amount: float) -> tuple[Lot, ...]:
    """Like :func:`receive`, for a total ``amount`` shared over the lots by their shares (an
    entitlement already rounded, e.g. bonus shares taxed at par)."""
    total = sum(lot.shares for lot in lots)
    if amount <= 0 or total <= 0:
        return lots
    return receive(lots, record_date, amount / total)


def add_shares(lots: tuple[Lot, ...], new_shares: int) -> tuple[Lot, ...]:
    """Distribute ``new_shares`` (bonus or capitalisation) over the lots by their shares: each the
    whole part of its share, the remainder one by one from the oldest lot.

    >>> [l.shares for l in add_shares((Lot(date(2024, 1, 2), 100), Lot(date(2024, 2, 1), 50)), 45)]
    [130, 65]
    """
    total = sum(lot.shares for lot in lots)
    if new_shares <= 0 or total <= 0:
        return lots
    extra = [lot.shares * new_shares // total for lot in lots]
    for i in range(new_shares - sum(extra)):
        extra[i % len(lots)] += 1
    return tuple(replace(lot, shares=lot.shares + e) for lot, e in zip(lots, extra))


def sell(lots: tuple[Lot, ...], day: date, shares: int, rules: Rules = DEFAULT) -> tuple[float, tuple[Lot, ...], list[dict]]:
    """Sell ``shares`` first in, first out on ``day``: ``(tax, remaining lots, detail)``.

    ``detail`` has one row per lot and dividend taxed: ``bought, shares, record_date, taxable, band, rate``.
    Selling more than the lots hold takes them all (the caller checks the position).

    >>> lots = receive(buy(buy((), date(2024, 5, 1), 100), date(2024, 6, 3), 100), date(2024, 6, 18), 30.876)
    >>> tax, rest, detail = sell(lots, date(2024, 6, 21), 150)
    >>> tax, [(d["shares"], d["band"], d["rate"]) for d in detail], rest[0].shares
    (617.52, [(100, 'year', 0.1), (50, 'month', 0.2)], 50)
    """
    left, due, detail, out = int(shares), 0.0, [], []
    for lot in lots:
        if left <= 0:
            out.append(lot)
            continue
        take = min(left, lot.shares)
        part = take / lot.shares
        band = holding_band(lot.bought, day)
        for record, amount in lot.receipts:
            rate = tax_rate(band, record, rules)
            due += amount * part * rate
            detail.append({"bought": lot.bought, "shares": take, "record_date": record,
                           "taxable": to_fen(amount * part), "band": band, "rate": rate})
        left -= take
        if take < lot.shares:
            out.append(replace(lot, shares=lot.shares - take,
                               receipts=tuple((r, a * (1 - part)) for r, a in lot.receipts)))
    return to_fen(due), tuple(out), detail


def pending(lots: tuple[Lot, ...], day: date, rules: Rules = DEFAULT) -> float:
    """The tax a sale of every lot on ``day`` would charge (what a report can show as owed if sold).

    >>> pending(receive(buy((), date(2024, 1, 2), 400), date(2024, 6, 18), 30.876), date(2026, 1, 5))
    0.0
    """
    return sell(lots, day, sum(lot.shares for lot in lots), rules)[0]
