"""Corporate actions (权益分派): what a holder receives, and a short seller owes, on an ex-date.

An :class:`Action` is one distribution per share of one stock: cash before tax (派息), bonus shares
(送股, paid out of profits) and capitalisation shares (转增, out of the capital reserve), with its
ex-date (除权除息日), record date (股权登记日: the last session before the ex-date) and pay date.

Where the actions come from (:func:`actions_for`):

1. dividend records (:mod:`hypebt.data.dividends`: akshare's Sina and Eastmoney tables, Tushare's
   ``dividend``), when the store holds them for the stock: the exact cash, shares and dates;
2. otherwise the adjustment factor of traded prices: where ``adj_factor`` (adjusted / raw) moves
   between two sessions and no record explains it, the distribution is derived as a
   **cash-equivalent**, ``previous close x (1 - factor before / factor after)`` per share: the value
   the factor says the holder was given, whatever its form (cash, shares, or the value of rights),
   noted as derived (source ``factor``).

Dividend tax (:mod:`hypebt.market.dividend_tax`) is owed on cash dividends and on bonus shares at
their par value, never on capitalisation shares (转增, out of the capital reserve) nor on the value of
new shares. A record says which is which. A cash-equivalent derived from the factor does not: its
taxable part is an **estimate** (:func:`taxable_estimate`), and the run's notes say so.

Who is entitled: the shares held at the close of the record date, i.e. the position before the
ex-date's open (shares bought on the record date count, T+1 or not; shares sold on it do not).
A long position gets the cash (on the pay date when the record gives one, else the ex-date) and
the new shares on the ex-date; a short position (融券) owes the lender the same: the cash
(融券 compensation, 补偿) and the new shares, which join its debt. New shares are whole: each
account gets the whole part of ``shares x ratio`` (the exchanges' clearing house, CSDC, hands the
fractions out by lot among all accounts (零碎股 by 尾数排序), which one account cannot count on).
They can leave an odd lot, which can only be sold whole (:func:`hypebt.market.rules.check_sell_size`).

Every row a run books goes to ``corporate_actions.csv`` with :data:`COLUMNS`. Pure functions and
frozen dataclasses; the engine's one record of positions and cash calls them.

>>> a = Action("600519", date(2024, 6, 19), cash=30.876, source="records")
>>> long_entitlement(a, 400)
Entitlement(cash=12350.4, bonus_shares=0, transfer_shares=0, taxable=12350.4)
>>> short_obligation(a, 400)
Entitlement(cash=12350.4, bonus_shares=0, transfer_shares=0, taxable=0.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date

import numpy as np

from hypebt.market.rules_base import DEFAULT, Rules, board_of, to_fen
from hypebt.market.rules_exright import FACTOR_EPS, distribution_from_factor, factor_ratio, reference_price

# corporate_actions.csv: one row per thing booked. ``amount`` is CNY for the cash kinds (positive:
# received; negative: paid) and shares for the share kinds (positive: received; negative: owed).
COLUMNS = ["date", "code", "kind", "per_share", "shares_held", "amount", "source"]
KINDS = {
    "cash_dividend": "cash dividend per share, before tax (派息), credited to a long position",
    "cash_equivalent": "distribution derived from the adjustment factor, credited as cash (no record)",
    "bonus_shares": "bonus shares (送股) per share, into the long position",
    "transfer_shares": "capitalisation shares (转增) per share, into the long position",
    "short_compensation": "cash a short position pays the lender (融券 compensation)",
    "short_shares": "bonus / capitalisation shares a short position owes the lender (its debt grows)",
    "dividend_tax": "dividend tax charged at a sale (差别化红利税)",
}
# Bonus shares are taxed as a dividend of their par value (股票股息以派发红股的股票票面金额为收入额,
# 国税发〔1997〕198号); capitalisation shares out of the capital reserve are not. Par is 1 CNY for
# nearly every A-share (a few, e.g. 601899, have 0.1): records do not carry it.
BONUS_PAR = 1.0
SOURCE_FACTOR = "factor"
# The smallest share distribution, 1 new share per 10 held (10 送 1 or 10 转 1), lowers the price by
# 1/11: a factor move under that is cash alone; one at or above it holds new shares.
SHARE_MOVE_MIN = 1 / 11
DERIVED_NOTE = ("derived from the adjustment factor: previous close x (1 - factor before / factor after) per share, "
                "credited as a cash-equivalent distribution; dividend records would say whether it was cash, "
                "bonus shares or the value of rights (hypebt data dividends)")

@dataclass(frozen=True)
class Action:
    """One distribution per share of ``code`` with its dates (see the module docstring).

    ``derived``: from the factor, a cash-equivalent in ``cash`` (source ``factor``), and
    ``taxable_cash`` the part of it taxed as a cash dividend (:func:`taxable_estimate`); for a record
    the taxable income is its cash plus its bonus shares at par.
    """

    code: str
    ex_date: date
    cash: float = 0.0
    bonus: float = 0.0
    transfer: float = 0.0
    record_date: date | None = None
    pay_date: date | None = None
    listed: date | None = None  # the new shares' first trading day (红股上市日), when the record says
    source: str = ""
    derived: bool = False
    taxable_cash: float | None = None

    @property
    def shares(self) -> float:
        """New shares per share held (bonus plus capitalisation)."""
        return self.bonus + self.transfer

    @property
    def pays_on(self) -> date:
        """When the cash arrives: the record's pay date, else the ex-date.

        >>> Action("600000", date(2024, 7, 15), cash=0.41).pays_on
        datetime.date(2024, 7, 15)
        """
        return self.pay_date or self.ex_date


@dataclass(frozen=True)
class Entitlement:
    """What one position gets (long) or owes (short) from one action: cash in CNY (fen), whole new
    shares, and the dividend income taxable on a later sale (long only: cash plus bonus shares at par)."""

    cash: float
    bonus_shares: int
    transfer_shares: int
    taxable: float

    @property
    def new_shares(self) -> int:
        return self.bonus_shares + self.transfer_shares


def _whole(x: float) -> int:
    # A hair of tolerance: 300 x 0.3 is 89.99999999999999 in floats and is 90 shares.
    return int(math.floor(x + 1e-9))


def _split_shares(action: Action, shares: int) -> tuple[int, int]:
    """Whole new shares of ``shares`` held: (bonus, capitalisation); the total is whole over both
    ratios together (one distribution), the bonus part whole on its own."""
    total = _whole(shares * action.shares)
    bonus = min(_whole(shares * action.bonus), total)
    return bonus, total - bonus


def long_entitlement(action: Action, shares: int) -> Entitlement:
    """What ``shares`` held long at the record date receive.

    >>> long_entitlement(Action("600000", date(2024, 5, 6), cash=0.5, bonus=0.3), 150)
    Entitlement(cash=75.0, bonus_shares=45, transfer_shares=0, taxable=120.0)
    """
    if shares <= 0:
        return Entitlement(0.0, 0, 0, 0.0)
    bonus, transfer = _split_shares(action, shares)
    cash = to_fen(shares * action.cash)
    if action.derived and action.taxable_cash is not None:
        return Entitlement(cash, bonus, transfer, to_fen(shares * action.taxable_cash))
    return Entitlement(cash, bonus, transfer, to_fen(cash + bonus * BONUS_PAR))


def short_obligation(action: Action, shares_short: int) -> Entitlement:
    """What a short of ``shares_short`` shares (a positive count) owes the lender: the cash it would
    have been paid and the new shares, which join the debt (融券负债 grows by them). Nothing is taxable.

    >>> short_obligation(Action("300750", date(2024, 4, 30), cash=5.028, transfer=0.0), 200)
    Entitlement(cash=1005.6, bonus_shares=0, transfer_shares=0, taxable=0.0)
    """
    if shares_short <= 0:
        return Entitlement(0.0, 0, 0, 0.0)
    bonus, transfer = _split_shares(action, shares_short)
    return Entitlement(to_fen(shares_short * action.cash), bonus, transfer, 0.0)


def odd_lot(code: str, shares: int, rules: Rules = DEFAULT) -> int:
    """Shares of a holding outside whole lots on the main boards and ChiNext (0 on STAR and Beijing,
    which trade any whole number above their minimum): they can only be sold in one order with the rest.

    >>> odd_lot("600000", 130), odd_lot("688039", 273)
    (30, 0)
    """
    return shares % rules.lot_size if board_of(code) in ("sh_main", "sz_main", "chinext") else 0


def ledger_rows(action: Action, shares: int, got: Entitlement) -> list[dict]:
    """``corporate_actions.csv`` rows of one action on one position: ``shares`` held (negative: short).
    Cash rows are dated on the pay date, share rows on the ex-date.

    >>> [r["kind"] for r in ledger_rows(Action("600000", date(2024, 5, 6), cash=0.5, bonus=0.3), 150,
    ...                               long_entitlement(Action("600000", date(2024, 5, 6), cash=0.5, bonus=0.3), 150))]
    ['cash_dividend', 'bonus_shares']
    """
    source = action.source or (SOURCE_FACTOR if action.derived else "records")
    rows = []

    def row(day, kind, per_share, amount):
        rows.append({"date": day, "code": action.code, "kind": kind, "per_share": per_share, "shares_held": shares,
                     "amount": amount, "source": source})

    short = shares < 0
    if action.cash > 0:
        kind = "short_compensation" if short else "cash_equivalent" if action.derived else "cash_dividend"
        row(action.pays_on, kind, action.cash, -got.cash if short else got.cash)
    if short and got.new_shares:
        row(action.ex_date, "short_shares", action.shares, -got.new_shares)
    elif not short:
        if action.bonus > 0:
            row(action.ex_date, "bonus_shares", action.bonus, got.bonus_shares)
        if action.transfer > 0:
            row(action.ex_date, "transfer_shares", action.transfer, got.transfer_shares)
    return rows


# ------------------------------------------------------------ from the data ---

def taxable_estimate(prev_close: float, per_share: float) -> float:
    """The part of a factor-derived distribution ``per_share`` (on a ``prev_close``) taxed as a cash
    dividend, an estimate: all of it when under :data:`SHARE_MOVE_MIN` of the price (no share
    distribution is that small); otherwise the move holds new shares, whose value is not taxable
    income (转增 is not; 送股 would be at par, which the factor cannot tell), and the cash is what is
    left after the most whole new shares per 10 held the move allows:
    ``prev_close - reference x (1 + n / 10)``, with ``reference = prev_close - per_share``.

    >>> round(taxable_estimate(385.90, 385.90 - 212.99), 2)   # 300750, 2023-04-26: 10 转 8 派 25.2
    2.52
    >>> taxable_estimate(2068.05, 19.29)                       # 600519, 2021-06-25: cash
    19.29
    """
    if prev_close <= 0 or per_share <= 0:
        return 0.0
    if per_share < SHARE_MOVE_MIN * prev_close:
        return per_share
    reference = prev_close - per_share
    if reference <= 0:
        return 0.0
    tenths = math.floor((prev_close / reference - 1) * 10 + 1e-9)
    return max(prev_close - reference * (1 + tenths / 10), 0.0)


def derive_from_factor(code: str, days, close, factor) -> list[Action]:
    """Cash-equivalent actions of one stock from its traded sessions: wherever ``factor`` moves
    between two consecutive rows, ``close[i-1] x (1 - factor[i-1] / factor[i])`` per share on day i
    (see the module docstring). A factor that falls gives no action (:func:`factor_anomalies` lists it).

    ``days``, ``close`` (raw) and ``factor`` are the stock's rows in date order (suspended sessions
    have no row, so an ex-date inside a suspension shows on the first session after it).

    >>> [round(a.cash, 2) for a in derive_from_factor("600519", [date(2021, 6, 24), date(2021, 6, 25)],
    ...                                               [2068.05, 2092.0], [6.566930770874, 6.628761768341])]
    [19.29]
    """
    close, factor = np.asarray(close, dtype="float64"), np.asarray(factor, dtype="float64")
    if len(close) < 2:
        return []
    per_share = distribution_from_factor(close[:-1], factor[:-1], factor[1:])
    out = []
    for i in np.flatnonzero(per_share > 0):
        out.append(Action(code, _as_date(days[i + 1]), cash=float(per_share[i]), source=SOURCE_FACTOR, derived=True,
                          taxable_cash=taxable_estimate(float(close[i]), float(per_share[i]))))
    return out


def factor_anomalies(days, factor) -> list[date]:
    """Days the factor fell (adjusted / raw can only rise with distributions): a data problem or a
    consolidation of shares, which hypebt does not credit.

    >>> factor_anomalies([date(2024, 1, 2), date(2024, 1, 3)], [2.0, 1.5])
    [datetime.date(2024, 1, 3)]
    """
    factor = np.asarray(factor, dtype="float64")
    ratio = factor_ratio(factor[:-1], factor[1:])
    return [_as_date(days[i + 1]) for i in np.flatnonzero(ratio > 1 + FACTOR_EPS)]


def actions_for(code: str, days, close, factor=None, records=None) -> tuple[list[Action], list[str]]:
    """The actions of one stock over its rows, and notes: each record (an :class:`Action` list from
    :mod:`hypebt.data.dividends`) whose ex-date falls inside the rows, and a cash-equivalent derived
    from the factor for each factor move no record explains. A record explains the factor's move on
    the first row on or after its ex-date (an ex-date inside a suspension shows at the resumption).

    >>> days = [date(2024, 6, 18), date(2024, 6, 19), date(2024, 6, 20)]
    >>> rec = [Action("600519", date(2024, 6, 19), cash=30.876, source="records")]
    >>> acts, notes = actions_for("600519", days, [1521.5, 1501.0, 1490.0], [6.969311, 7.113689, 7.113689], rec)
    >>> [(a.ex_date.isoformat(), a.cash, a.source) for a in acts], notes
    ([('2024-06-19', 30.876, 'records')], [])
    """
    days = [_as_date(d) for d in days]
    if not days:
        return [], []
    first, last = days[0], days[-1]
    chosen = sorted((r for r in records or () if first < r.ex_date <= last), key=lambda r: r.ex_date)
    explained = {_first_on_or_after(days, r.ex_date) for r in chosen}
    notes = []
    if factor is not None:
        derived = [a for a in derive_from_factor(code, days, close, factor) if a.ex_date not in explained]
        if derived:
            notes.append(f"{code}: {len(derived)} distribution(s) {DERIVED_NOTE}")
        fell = factor_anomalies(days, factor)
        if fell:
            notes.append(f"{code}: the adjustment factor falls on {', '.join(d.isoformat() for d in fell[:5])}: "
                         "no distribution explains it; nothing is credited there")
        chosen = sorted(chosen + derived, key=lambda a: a.ex_date)
    return chosen, notes


def records_from_table(table) -> dict[str, list[Action]]:
    """The stored ``dividends`` table (:mod:`hypebt.data.dividends`) as actions per code, by ex-date.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"code": ["600519"], "ex_date": [pd.Timestamp("2024-06-19")], "record_date": [pd.NaT],
    ...                   "pay_date": [pd.NaT], "cash": [30.876], "bonus": [0.0], "transfer": [0.0], "source": ["sina"]})
    >>> records_from_table(t)["600519"][0].cash
    30.876
    """
    out: dict[str, list[Action]] = {}
    if table is None:
        return out

    def day(value):
        return None if value is None or value != value else _as_date(value)  # NaT != NaT

    for row in table.sort_values(["code", "ex_date"]).itertuples(index=False):
        out.setdefault(str(row.code), []).append(Action(
            str(row.code), _as_date(row.ex_date), cash=float(row.cash), bonus=float(row.bonus),
            transfer=float(row.transfer), record_date=day(row.record_date), pay_date=day(row.pay_date),
            listed=day(getattr(row, "listed", None)), source=f"records ({row.source})"))
    return out


def with_record_date(action: Action, sessions) -> Action:
    """``action`` with its record date filled in when missing: the last session before its ex-date.

    >>> with_record_date(Action("600519", date(2024, 6, 19), cash=30.876),
    ...                  [date(2024, 6, 18), date(2024, 6, 19)]).record_date
    datetime.date(2024, 6, 18)
    """
    if action.record_date is not None:
        return action
    before = [d for d in (_as_date(s) for s in sessions) if d < action.ex_date]
    return replace(action, record_date=before[-1] if before else None)


def record_reference(prev_close: float, action: Action) -> float:
    """The exchange's reference price an action gives (:func:`hypebt.market.rules_exright.reference_price`).

    >>> record_reference(20.0, Action("600000", date(2024, 5, 6), cash=0.5, bonus=0.3))
    15.0
    """
    return reference_price(prev_close, cash=action.cash, shares=action.shares)


def _first_on_or_after(days: list[date], day: date) -> date | None:
    for d in days:
        if d >= day:
            return d
    return None


def _as_date(value) -> date:
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if hasattr(value, "date"):  # a Timestamp or a datetime
        return value.date()
    return np.datetime64(value, "D").astype(object)
