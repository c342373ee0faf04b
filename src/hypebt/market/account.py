"""The account of one run: the one record of cash, positions, T+1 and short lots.

Everything that holds or asks for a position reads this record: the order checks
(:mod:`hypebt.market.orders`), the Backtrader broker (its ``getcash``, ``getvalue`` and
``getposition``, so a Backtrader strategy's ``self.position`` and ``self.broker.getvalue()``), a
hypebt strategy's ``shares``, ``holding`` and ``equity``, the trade and borrow ledgers and the
report. Its one writer of positions and cash (besides the daily borrow interest,
:meth:`Account.accrue_interest`) is private to the market: the order desk calls it once the
market's checks have passed, at the price they decided. No public method fills at a caller's price.

Per code, a :class:`Record` holds what is held now: the signed shares, the average price as
Backtrader averages it (``Position.price``), the cost basis with fees, the buys not yet sellable
(T+1), the session of the last short sale and its proceeds (融券卖出所得, which only buy the stock
back), and the round trip from flat to flat that becomes a row of the trade ledger. Short lots
and their interest are the :class:`hypebt.market.credit.CreditBook`.

The cash arithmetic follows Backtrader's ``BackBroker`` step by step (the value closed at the
average price plus the profit, the commission after), so every figure is the float an earlier
run gave; cash is whole fen after each fill.

>>> import numpy as np
>>> acc = Account(R.Rules(), 100_000.0)
>>> acc._fill("600000", "buy", 1000, 10.0, R.fees("buy", 1000, 10.0, date(2024, 1, 2)), date(2024, 1, 2), 0).opened
1000
>>> acc.cash, acc.shares("600000"), acc.sellable("600000", date(2024, 1, 2))
(89994.9, 1000, 0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from hypebt.market import dividend_tax as DT
from hypebt.market import rules as R
from hypebt.market.credit import CreditBook
from hypebt.market.distributions import Distributions
from hypebt.market.rules import to_fen

TRADE_COLUMNS = [
    "code", "direction", "entry_date", "entry_price", "exit_date", "exit_price", "size",
    "gross_pnl", "fees", "borrow_fee", "distributions", "net_pnl", "status",
]


@dataclass(frozen=True)
class Holding:
    """One code's position as a strategy sees it.

    ``shares`` is negative when short. ``cost_basis`` is the average price per share of the
    shares still held, fees included: for a long, (price paid + buy fees) per share; for a short,
    (sale proceeds - sale fees) per share. ``avg_price`` is the average fill price of the shares
    held (slippage included, fees not). ``entry_date``/``entry_session`` are those of the fill
    that opened the position from flat (``entry_session`` counts run sessions from 0).
    ``sessions_held`` is the number of sessions since that fill (0 on its own session).
    """

    code: str
    shares: int = 0
    cost_basis: float = math.nan
    cost: float = 0.0          # cost_basis * |shares|
    fees: float = 0.0          # fees paid on the fills of the open position
    entry_date: date | None = None
    entry_session: int | None = None
    sessions_held: int = 0
    avg_price: float = math.nan

    @property
    def is_open(self) -> bool:
        return self.shares != 0


@dataclass(frozen=True)
class Execution:
    """What one fill did to the position, in Backtrader's terms (``Order.execute``): shares
    ``opened`` and ``closed`` (signed), the average price before (``price_before``) and after
    (``price``), the position after (``size``), the profit of the closed part (``pnl``) and, for a
    cover, the borrow interest of the short lots it closed (``borrow``: their ledger rows' fees)."""

    opened: int
    closed: int
    price_before: float
    size: int
    price: float
    pnl: float
    borrow: float = 0.0


@dataclass
class Record:
    """One code's open position (see the module docstring)."""

    code: str
    opened_on: date
    opened_session: int = 0        # run session number of the fill that opened it
    short: bool = False            # a short sale opened it (融券)
    shares: int = 0
    price: float = 0.0             # average fill price, averaged as Backtrader's Position does
    cost: float = 0.0              # basis of the shares held, fees included
    value: float = 0.0             # fill prices of the shares held
    fees: float = 0.0              # fen fees of the fills of the open position
    buys: list = field(default_factory=list)  # (session date, shares) bought, until sellable (T+1)
    short_session: int = -10**9    # session number of the last short sale (cover waits for rules)
    proceeds: float = 0.0          # short sale proceeds still locked to buying this stock back
    # the round trip from flat to flat: a row of the trade ledger when it closes
    entry_value: float = 0.0
    entry_shares: int = 0
    exit_value: float = 0.0
    exit_shares: int = 0
    exit_date: date | None = None
    max_size: int = 0
    trade_fees: float = 0.0        # unrounded fees of the round trip
    # corporate actions of the round trip (hypebt.market.distributions): CNY received (long) or paid
    # (short, 融券 compensation), less the dividend tax charged at its sales
    distributions: float = 0.0
    lots: tuple = ()               # tax lots of a long (hypebt.market.dividend_tax): acquisition day, dividends


class Account:
    """Cash, positions, T+1 lots and short lots of one run (see the module docstring).

    ``marks``: code -> the close of each run session (what positions are valued at); the session
    they are read at is :attr:`mark` (the last close before a session's open fills, that
    session's close after them: the broker moves it).
    """

    def __init__(self, rules: R.Rules, cash: float, marks: dict | None = None, n_sessions: int = 0,
                 distributions: Distributions | None = None):
        self.rules = rules
        # the run's corporate actions: applied at each session's start, its ledger corporate_actions.csv
        self.distributions = distributions if distributions is not None else Distributions()
        self.start_cash = float(cash)
        self.cash = float(cash)
        self.records: dict[str, Record] = {}
        self.credit = CreditBook(rules)
        self.trades: list[dict] = []
        self.marks = marks or {}
        self.mark = -1
        # cash and value at each session's close, by run session number
        self.eq_cash = np.empty(n_sessions)
        self.eq_value = np.empty(n_sessions)
        self.eq_n = 0
        self.new_shares: dict[str, int] = {}  # code -> shares the corporate actions added this session

    # --- what is held -------------------------------------------------------------------------
    def shares(self, code: str) -> int:
        """Shares of ``code`` held (negative when short)."""
        rec = self.records.get(code)
        return rec.shares if rec is not None else 0

    def price(self, code: str) -> float:
        """Average fill price of what is held of ``code`` (0.0 when flat), as Backtrader's ``Position.price``."""
        rec = self.records.get(code)
        return rec.price if rec is not None else 0.0

    def held_codes(self) -> list[str]:
        """Codes held now, in the order their positions were opened."""
        return list(self.records)

    def flat(self) -> bool:
        """Nothing held, and no declared dividend waiting for its pay date (the value is the cash)."""
        return not self.records and not self.distributions.owed

    def sellable(self, code: str, day: date) -> int:
        """Shares of a long position of ``code`` that may be sold on ``day`` (T+1)."""
        rec = self.records.get(code)
        if rec is None or rec.shares <= 0:
            return 0
        return R.sellable_shares(rec.shares, rec.buys, day)

    def bought_on(self, code: str, day: date) -> int:
        """Shares of ``code`` bought on ``day`` (not sellable before the next session)."""
        rec = self.records.get(code)
        return sum(n for d, n in rec.buys if d == day) if rec is not None else 0

    def short_session(self, code: str) -> int:
        rec = self.records.get(code)
        return rec.short_session if rec is not None else -10**9

    def locked_proceeds(self) -> float:
        """Short sale proceeds that may only buy back the borrowed stocks (买券还券)."""
        return sum(rec.proceeds for rec in self.records.values())

    def new_session(self, day: date) -> None:
        """Before a session: the corporate actions whose ex-date (or pay date) has come, then buys that
        have become sellable leave the T+1 lists."""
        step = self.distributions.start_session(day, {code: rec.shares for code, rec in self.records.items()})
        self.new_shares = dict(step.new_shares)
        if step:
            self._distribute(step, day)
        for rec in self.records.values():
            if rec.buys:
                rec.buys = [b for b in rec.buys if not R.can_sell(b[0], day)]

    def _distribute(self, step, day: date) -> None:
        """Book one session's corporate actions (:class:`hypebt.market.distributions.Step`): cash, new
        shares (a long's join its tax lots and trade only from their listing day; a short's join its
        debt, the borrowed sale value unchanged), and the round trips' distributions."""
        self.cash = round(self.cash + step.cash, 2)
        for code, amount in step.declared.items():
            rec = self.records.get(code)
            if rec is not None:  # the round trip that held the shares on the record date
                rec.distributions += amount
        for code, (record_date, amount) in step.taxable.items():
            rec = self.records[code]
            rec.lots = DT.receive_amount(rec.lots, record_date, amount)
        for code, n in step.new_shares.items():
            rec = self.records[code]
            before = rec.shares
            rec.shares += n
            rec.price = rec.price * before / rec.shares  # the same cost over more shares
            rec.entry_shares += abs(n)
            rec.max_size = max(rec.max_size, abs(rec.shares))
            if n > 0:
                rec.lots = DT.add_shares(rec.lots, n)
                if step.sellable_from[code] > day:  # tradable from the listing day: T+1 until then
                    rec.buys.append((step.sellable_from[code] - timedelta(days=1), n))
            else:
                self.credit.add_shares(code, -n)

    # --- value --------------------------------------------------------------------------------
    def mark_of(self, code: str) -> float:
        return float(self.marks[code][self.mark])

    def position_value(self, code: str) -> float:
        """Market value of ``code``'s position at the current mark (negative when short)."""
        rec = self.records.get(code)
        return rec.shares * self.mark_of(code) if rec is not None and rec.shares else 0.0

    def value(self) -> float:
        """Cash plus positions at the current mark. Summed as Backtrader's ``BackBroker`` sums its
        positions (a long as its basis plus its unrealised profit), so the float is the one the
        earlier runs gave to the last bit."""
        total = 0.0
        for code, rec in self.records.items():
            if not rec.shares:
                continue
            close = self.mark_of(code)
            worth = rec.shares * close
            if worth > 0:
                unrealised = rec.shares * (close - rec.price)
                total += worth - unrealised
                total += unrealised
            else:
                total += worth
        # cash dividends declared and not paid yet (ex-date passed, pay date to come) are the holder's
        return self.cash + total + self.distributions.receivable

    def short_exposure(self) -> float:
        """Shorts valued at the current mark (a positive number)."""
        return sum(-rec.shares * self.mark_of(code) for code, rec in self.records.items() if rec.shares < 0)

    # --- the one writer -----------------------------------------------------------------------
    def _fill(self, code: str, side: str, size: int, price: float, fees: R.Fees, day: date,
              session_no: int) -> Execution | None:
        """Apply a fill the order desk's checks accepted (:mod:`hypebt.market.orders` only): ``side`` (buy, sell, short, cover) ``size``
        shares at ``price`` with ``fees`` on ``day``. Returns what it did, or None, changing
        nothing, when opening would leave negative cash (Backtrader's ``Margin``)."""
        signed = size if side in ("buy", "cover") else -size
        rec = self.records.get(code)
        held = rec.shares if rec is not None else 0
        reduces = bool(held) and (held > 0) != (signed > 0)
        if reduces and size > abs(held):
            raise RuntimeError(f"{code}: a fill of {signed} would reverse a position of {held} (the order checks "
                               "refuse that: sell or cover first)")
        # Backtrader's arithmetic, in its order; a tenth of a fen lent so that a buy costing exactly
        # the cash is not refused for -1e-13, then back to whole fen.
        lent = self.cash + 0.001
        cash = lent
        before = rec.price if rec is not None else 0.0
        if reduces:
            cash += -signed * before + -signed * (price - before)
        else:
            cash -= signed * price
        cash -= fees.total
        if not reduces and cash < 0.0:
            self.cash = round(lent - 0.001, 2)
            return None
        self.cash = round(cash - 0.001, 2)
        if rec is None:
            rec = self.records[code] = Record(code, day, session_no, short=side == "short")
        new = held + signed
        if reduces:
            opened, closed = 0, signed
            pnl = -signed * (price - before)
            rec.price = 0.0 if new == 0 else rec.price
        else:
            opened, closed = signed, 0
            pnl = 0.0
            rec.price = price if held == 0 else (rec.price * held + signed * price) / new
        rec.shares = new
        rows = len(self.credit.rows)
        self._book(rec, side, size, price, fees, day, session_no)
        borrow = sum(r["fee"] for r in self.credit.rows[rows:])  # the lots a cover closed
        return Execution(opened, closed, before, new, rec.price, pnl, borrow)

    def _book(self, rec: Record, side: str, size: int, price: float, fees: R.Fees, day: date,
              session_no: int) -> None:
        """T+1 lots, short lots and their interest, the cost basis and the round trip of a fill."""
        fee = to_fen(fees.total)
        opening = side in ("buy", "short")
        if side == "buy":
            rec.buys.append((day, size))
            rec.lots = DT.buy(rec.lots, day, size)
        elif side == "sell" and rec.lots:
            # 差别化红利税 on the dividends the sold shares received, first in first out
            tax, rec.lots, _ = DT.sell(rec.lots, day, size, self.rules)
            if tax:
                self.cash = round(self.cash - tax, 2)
                rec.distributions -= tax
                self.distributions.tax_row(day, rec.code, size, tax)
        elif side == "short":
            rec.short_session = session_no
            rec.proceeds += price * size
            self.credit.open(rec.code, day, size, price)
        elif side == "cover":
            held = -rec.shares
            rec.proceeds *= held / (held + size)
            due = self.credit.cover(rec.code, day, size)
            self.cash = round(self.cash - due, 2)  # a fen of rounding, if any (accrued daily)
        if opening:
            # a long's basis adds the fees paid; a short's entry nets them from the proceeds
            rec.cost += price * size + (fee if side == "buy" else -fee)
            rec.value += price * size
            rec.entry_value += price * size
            rec.entry_shares += size
            rec.max_size = max(rec.max_size, abs(rec.shares))
        else:
            held = abs(rec.shares) + size
            rec.cost *= (held - size) / held
            rec.value *= (held - size) / held
            rec.exit_value += price * size
            rec.exit_shares += size
            rec.exit_date = day
        rec.fees += fee
        rec.trade_fees += fees.total
        if rec.shares == 0:
            self.trades.append(self._trade_row(rec, "closed"))
            del self.records[rec.code]

    def accrue_interest(self, day: date) -> float:
        """融券 interest accrued on the open shorts up to ``day``, taken from cash (returns it)."""
        due = 0.0
        for code, rec in self.records.items():
            if rec.shares < 0:
                due += self.credit.accrue(code, day)
        self.cash -= due
        return due

    # --- what the strategy and the report read -------------------------------------------------
    def holding(self, code: str, session_no: int) -> Holding:
        """``code``'s position now (session ``session_no``) with its cost basis."""
        rec = self.records.get(code)
        if rec is None or not rec.shares:
            return Holding(code)
        n, entry = abs(rec.shares), rec.opened_session
        return Holding(code, rec.shares, rec.cost / n, rec.cost, rec.fees, rec.opened_on, entry,
                       max(session_no - entry, 0), rec.value / n)

    def _borrow(self, rec: Record, until: date | None) -> float:
        """Interest of the short lots this round trip opened, settled (or accrued at the end) up to ``until``."""
        return sum(r["fee"] for r in self.credit.rows
                   if r["code"] == rec.code and r["opened"] >= rec.opened_on and (until is None or r["date"] <= until))

    def _trade_row(self, rec: Record, status: str) -> dict:
        short = rec.short
        entry = rec.entry_value / rec.entry_shares if rec.entry_shares else float("nan")
        exit_ = rec.exit_value / rec.exit_shares if rec.exit_shares else float("nan")
        sign = -1 if short else 1
        part = rec.exit_shares / rec.entry_shares if rec.entry_shares else 0
        gross = sign * (rec.exit_value - rec.entry_value * part)
        borrow = self._borrow(rec, rec.exit_date) if short else 0.0
        fees = to_fen(rec.trade_fees)
        dist = to_fen(rec.distributions)
        return {
            "code": rec.code, "direction": "short" if short else "long", "entry_date": rec.opened_on,
            "entry_price": round(entry, 4), "exit_date": rec.exit_date if status == "closed" else None,
            "exit_price": round(exit_, 4), "size": rec.max_size,
            "gross_pnl": to_fen(gross), "fees": fees, "borrow_fee": to_fen(borrow), "distributions": dist,
            "net_pnl": to_fen(gross - fees - borrow + dist), "status": status,
        }

    def finish(self, day: date) -> None:
        """At the end of a run: open lots get their ledger rows; open positions are listed as
        ``open`` trades marked to the last close (exit_date empty, exit_price = that close)."""
        self.credit.close_out(day)
        for code, rec in self.records.items():
            mark = self.mark_of(code)
            n = abs(rec.shares)
            rec.exit_value += mark * n
            rec.exit_shares += n
            self.trades.append(self._trade_row(rec, "open"))

    # --- cash and value at each close ----------------------------------------------------------
    def close_session(self, session_no: int) -> None:
        """Record the cash and the value at session ``session_no``'s close."""
        self.eq_cash[session_no], self.eq_value[session_no] = self.cash, self.value()
        self.eq_n = session_no + 1

    def skip_sessions(self, first: int, stop: int) -> None:
        """Sessions ``first``..``stop - 1`` passed with nothing held: their value is the cash."""
        self.eq_cash[first:stop] = self.cash
        self.eq_value[first:stop] = self.cash
        self.eq_n = stop


class AccountView:
    """The account as a strategy sees it: what is held and what it is worth, read-only.

    Cash and positions change only through orders (the market's checks, then the order desk's
    fill): writing an attribute, or asking for anything but the readings below, raises.

    >>> view = AccountView(Account(R.Rules(), 100_000.0))
    >>> view.cash, view.shares("600000")
    (100000.0, 0)
    >>> view.cash = 1e6
    Traceback (most recent call last):
    ...
    AttributeError: the account is read-only: cash and positions change only through orders (buy_shares, self.buy, ...)
    """

    __slots__ = ("_account",)
    READINGS = ("shares", "price", "held_codes", "flat", "sellable", "bought_on", "short_session", "locked_proceeds",
                "position_value", "value", "short_exposure", "holding")

    def __init__(self, account: Account):
        object.__setattr__(self, "_account", account)

    @property
    def cash(self) -> float:
        return self._account.cash

    @property
    def start_cash(self) -> float:
        return self._account.start_cash

    def equity_values(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the (cash, value) recorded at each close so far."""
        acc = self._account
        return acc.eq_cash[: acc.eq_n].copy(), acc.eq_value[: acc.eq_n].copy()

    def __getattr__(self, name: str):
        if name in AccountView.READINGS:
            return getattr(self._account, name)
        raise AttributeError(f"the account a strategy sees is read-only, {name!r} is not one of its readings "
                             f"(cash, start_cash, equity_values, {', '.join(AccountView.READINGS)}): orders change it")

    def __reduce__(self):
        # pickled with the strategy (Backtrader's optstrategy with maxcpus > 1, Dask): rebuilt through
        # __init__, since the default slot restore would go through the refusing __setattr__
        return AccountView, (self._account,)

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError("the account is read-only: cash and positions change only through orders "
                             "(buy_shares, self.buy, ...)")

    def __delattr__(self, name: str) -> None:
        self.__setattr__(name, None)
