"""Order checks and the order and fill ledgers: the A-share rules applied to each order.

Every order, whatever API placed it (a hypebt strategy's methods, Backtrader's ``buy``/``sell``
and friends through :class:`hypebt.engine.broker.AShareBroker`), is sent through
:meth:`OrderDesk.submit`. It decides the fill price (the session's open or close, a triggered
price order's price, plus slippage) and refuses, with a recorded reason, what the market would
refuse: a buy at or above limit-up, a sell at or below limit-down, any order on a 一字板 or a
suspended session, a sale of shares bought the same session (T+1), an invalid lot, a short of a
non-eligible code, too little cash or margin. Accepted orders fill on the run's
:class:`hypebt.market.account.Account` (the one record of cash and positions) at that price: at
the open in the session's broker cycle (:meth:`OrderDesk.fill_queued`), at the close at once.
Checks made before the open value positions at the last close, never at today's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from hypebt.market import rules as R
from hypebt.market import status as MS
from hypebt.market import triggers as T
from hypebt.market.account import TRADE_COLUMNS, Account  # noqa: F401  (TRADE_COLUMNS: importable from here)
from hypebt.market.credit import MarginWatch, maintenance_ratio
from hypebt.market.rules import to_fen

SIDES = ("buy", "sell", "short", "cover")
ORDER_COLUMNS = ["date", "code", "side", "size", "price", "at", "status", "reason", "note", "filled"]
FILL_COLUMNS = ["date", "code", "side", "size", "price", "commission", "stamp_duty", "transfer_fee", "fees"]


@dataclass
class OrderRow:
    date: dt.date
    code: str
    side: str
    size: int
    price: float | None
    at: str
    status: str
    reason: str = ""
    note: str = ""
    filled: int = 0  # shares filled (below size: a partial fill, reason volume_limit)


@dataclass
class OrderDesk:
    """Checks orders against the rules, fills them on the account and keeps the order ledgers of one run."""

    account: Account
    rules: R.Rules
    eligible: Any = frozenset()  # codes that may be shorted (a frozenset, or a dated list with .on(day))
    arrays: dict = field(default_factory=dict)  # code -> FeedArrays of the run's sessions (bars, limits, suspension)
    listener: Any = None  # called with each OrderRow when it is recorded or changes status
    fill_listener: Any = None  # called with (row, Execution or None if refused) at each fill (the Backtrader orders)
    fee_memo: dict = field(default_factory=dict)  # (side, size, price, day) -> rules.Fees
    clock: Any = None  # () -> the session number the engine is at (new_session refuses any other)
    orders: list[OrderRow] = field(default_factory=list)
    fills: list[dict] = field(default_factory=list)

    def __post_init__(self):
        self._today: dt.date | None = None
        self._reserved = 0.0
        self._pending: dict[int, OrderRow] = {}  # id(row) -> row, submitted and not yet filled
        self._queued: list[tuple] = []  # (row, code, side, shares, price): the fills of this open
        self.margin = MarginWatch(self.rules)
        self._session_no = -1
        self._phase = "open"  # "close" once this session's open fills are done

    # --- session bookkeeping -------------------------------------------------------------------
    def new_session(self, day: dt.date, session_no: int) -> None:
        """Called before each session's open (the account's marks are still the last close)."""
        if self.clock is not None and session_no != self.clock():
            raise RuntimeError(f"the order desk opens the engine's session ({self.clock()}), not {session_no}")
        if day != self._today:
            self._today = day
            self.account.new_session(day)
            self._reserved = 0.0
            self._session_no = session_no
            self._phase = "open"
            self._check_maintenance()

    def _check_maintenance(self) -> None:
        """维持担保比例 at the last close: a call below ``rules.maintenance_call``; after
        ``rules.maintenance_grace`` sessions still below it, every short is covered at this open."""
        acc = self.account
        shorts = {code: -rec.shares for code, rec in acc.records.items() if rec.shares < 0}
        if self._session_no == 0 or not shorts:
            if self.margin.called_on is not None:
                self.margin.update(self._session_no, self._today, float("inf"))
            return
        i = self._session_no - 1  # the last close: today's is not known at the open
        mark = {code: float(self.arrays[code].columns["close"][i]) for code in acc.records}
        long_value = sum(rec.shares * mark[code] for code, rec in acc.records.items() if rec.shares > 0)
        short_value = sum(n * mark[code] for code, n in shorts.items())
        ratio = maintenance_ratio(acc.cash, long_value, short_value, acc.credit.accrued())
        state = self.margin.update(self._session_no, self._today, ratio)
        line = f"维持担保比例 {ratio:.1%} < {self.rules.maintenance_call:.0%}"
        if state == "call":
            for code, n in shorts.items():
                self._record(code, "cover", n, None, "open", "margin_call", "maintenance_margin",
                             f"{line}: restore within {self.rules.maintenance_grace} sessions")
        elif state == "liquidate":
            for code, n in shorts.items():
                self.submit(code, "cover", n, "open", f"forced_liquidation: {line} since {self.margin.called_day}")

    def fees(self, side: str, size: int, price: float, day: dt.date) -> R.Fees:
        """:func:`hypebt.market.rules.fees`, computed once per (side, size, price, day) in a run: the
        cash reservation, the cash check and the fill all ask for it."""
        key = (side, size, price, day)
        fees = self.fee_memo.get(key)
        if fees is None:
            fees = self.fee_memo[key] = R.fees(side, size, price, day, self.rules)
        return fees

    def pending_count(self) -> int:
        """Orders accepted and not yet filled (at this open)."""
        return len(self._pending)

    def _record(self, code, side, size, price, at, status, reason="", note="") -> OrderRow:
        row = OrderRow(self._today, code, side, int(size), price, at, status, reason, note)
        self.orders.append(row)
        self._notify(row)
        return row

    def _notify(self, row: OrderRow) -> None:
        if self.listener is not None:
            self.listener(row)

    def note_cancelled(self, code, side, size, price, at, reason, note="", status="cancelled") -> OrderRow:
        """Record an order that ends without reaching the market (a strategy's cancel, an expiry)."""
        return self._record(code, side, size, price, at, status, reason, note)

    def pending_shares(self, code: str) -> int:
        """Signed shares of ``code``'s orders accepted and not yet filled (buys and covers +)."""
        return sum(row.size if row.side in ("buy", "cover") else -row.size
                   for row in self._pending.values() if row.code == code)

    def _waiting(self, code: str) -> dict:
        """Shares of ``code`` waiting for this open's fills, by side."""
        out = dict.fromkeys(SIDES, 0)
        for _, c, side, n, _ in self._queued:
            if c == code:
                out[side] += n
        return out

    def refuse(self, code, side, size, price, at, reason, note="") -> None:
        """Record an order the market (or the strategy's own constraints) refused."""
        status = "cancelled" if reason == "suspended" else "refused"
        self._record(code, side, size, price, at, status, reason, note)

    def has_pending(self, code: str) -> bool:
        return any(row.code == code for row in self._pending.values())

    # --- the checks ----------------------------------------------------------------------------
    def submit(self, code: str, side: str, size: int, at: str = "open", note: str = "", *,
               terms: T.Terms | None = None, at_label: str | None = None):
        """Check an order of this session (the desk's own: :meth:`new_session`) and, if the market
        would take it, fill it (at the close at once, at the open in this session's broker cycle).

        ``at``: "open" (placed before the open, fills at this session's open), "close" (placed at
        the close, fills at this session's close), or "limit" (placed before the open: a limit order
        at the limit price, which fills only under the optional ``fill_at_limit_when_opened`` model
        when the board opened during the session).
        ``terms``: a triggered limit or stop order's :class:`hypebt.market.triggers.Terms`; its price
        within the session is worked out here from the session's bar (:func:`hypebt.market.triggers.
        reach`), never taken from the caller; ``at_label``: the ledger's ``at``.
        Returns the order's ledger row (:class:`OrderRow`, status "submitted" until it fills), or
        None when refused (the refusal is recorded).
        """
        session_no, phase = self._session_no, self._phase
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}")
        if session_no < 0:
            raise RuntimeError("an order reaches the market during a session (none has begun)")
        allowed = ("open", "limit") if phase == "open" else ("close",)
        if at not in allowed:
            raise ValueError(
                f"an order at={at!r} cannot be placed in on_{phase}: orders at the open or at the limit are "
                "placed in on_open, orders at the close in on_close"
            )
        at_shown = at_label or at
        size = int(size)
        held = self.account.shares(code)
        cols = self.arrays[code].columns
        if cols["suspended"][session_no]:
            self.refuse(code, side, size, None, at_shown, "suspended", note)
            return None
        # this session's bar, from the arrays the feeds were loaded with
        bar = R.Bar(float(cols["open"][session_no]), float(cols["high"][session_no]),
                    float(cols["low"][session_no]), float(cols["close"][session_no]))
        up, down = float(cols["limit_up"][session_no]), float(cols["limit_down"][session_no])
        if "st_day" in cols and cols["st_day"][session_no] != cols["st"][session_no]:
            # the session's own bar revised its ST status: the limits the exchange applied that day
            # (shown to strategies only from the next session: hypebt.market.status)
            up, down = (float(x[0]) for x in MS.day_limits(
                code, [self._today], [cols["prev_close"][session_no]], [up], [down], [cols["st"][session_no]],
                [cols["st_day"][session_no]], self.rules))
        limits = R.Limits(None if up != up else up, None if down != down else down)
        trade_side = "buy" if side in ("buy", "cover") else "sell"
        at_limit = False
        if at == "limit":
            # A limit order at the limit price: below the limit at the open it fills there like a
            # market order; opening at the limit, it waits there (filled only under the
            # optional fill_at_limit_when_opened model).
            lim = limits.up if trade_side == "buy" else limits.down
            tol = self.rules.limit_tolerance
            at_limit = lim is not None and (bar.open >= lim - tol if trade_side == "buy" else bar.open <= lim + tol)
        trigger = cap = None
        if terms is not None:
            # a triggered price order's price: the one its terms reach on this session's bar
            _, trigger, cap = T.reach(terms, trade_side, bar, self.rules.tick)
            if trigger is None:
                raise ValueError(f"{code} {self._today}: {terms} is not reached on this session's bar "
                                 f"({bar.low}..{bar.high}): a price order reaches the market when it triggers")
        if at_limit:
            price = limits.up if trade_side == "buy" else limits.down
        else:
            raw = trigger if trigger is not None else (bar.close if at == "close" else bar.open)
            price = R.slipped_price(trade_side, raw, bar, self.rules)
            if cap is not None:  # a limit order never fills beyond its limit
                price = min(price, cap) if trade_side == "buy" else max(price, cap)
        if side == "short" and not R.check_short(code, self._eligible_today(), self.rules):
            # (an ineligible code is refused as not_shortable by the checks below, whatever its price)
            prev = float(cols["prev_close"][session_no])
            refusal, at_prev = R.check_short_price("close" if at == "close" else "open", prev if prev == prev else None,
                                                   bar, self.rules, price=None if trigger is None else price)
            if refusal:
                self.refuse(code, side, size, price, at_shown, refusal, note)
                return None
            if at_prev is not None:
                price = at_prev  # the optional model: a sale at the previous close, reached later in the day
        locked = bool(cols["locked_up" if trade_side == "buy" else "locked_down"][session_no])
        reason = self._check(code, side, size, held, price, bar, limits, session_no, limit_order=at_limit,
                             locked=locked)
        if reason:
            self.refuse(code, side, size, price, at_shown, reason, note)
            return None
        requested, capped = size, self._volume_cap(code, side, size, held, float(cols["volume"][session_no]))
        if capped < size:
            if capped <= 0:
                self.refuse(code, side, size, price, at_shown, "volume_limit", note)
                return None
            size = capped
        if trade_side == "buy":
            self._reserved += price * size + self.fees("buy", size, price, self._today).total
        partial = "volume_limit" if size < requested else ""
        row = self._record(code, side, requested, price, at_shown, "submitted", partial, note)
        self._pending[id(row)] = row
        if at == "close":
            self._fill([(row, code, side, size, price)])
        else:
            self._queued.append((row, code, side, size, price))  # filled in this session's broker cycle
        return row

    def fill_queued(self) -> None:
        """The broker's cycle at this open: fill the orders at the open, in the order they were placed."""
        self._phase = "close"  # from now on, orders of this session fill at its close
        if self._queued:
            queued, self._queued = self._queued, []
            self._fill(queued)

    def _fill(self, batch: list) -> None:
        """Fill each (ledger row, code, side, shares, price) on the account, in order."""
        day = self._today
        for row, code, side, size, price in batch:
            del self._pending[id(row)]
            fees = self.fees("buy" if side in ("buy", "cover") else "sell", size, price, day)
            done = self.account._fill(code, side, size, price, fees, day, self._session_no)  # the account's one writer
            if done is None:  # the cash would have gone negative (Backtrader's Margin status)
                row.status, row.reason = "refused", "cash"
                if self.fill_listener is not None:
                    self.fill_listener(row, None)
                self._notify(row)
                continue
            row.status, row.filled = ("partial" if size < row.size else "filled"), size
            self.fills.append({
                "date": day, "code": code, "side": side, "size": size, "price": price,
                "commission": fees.commission, "stamp_duty": fees.stamp_duty,
                "transfer_fee": fees.transfer_fee, "fees": to_fen(fees.total),
            })
            if side in ("buy", "cover"):
                self._reserved = max(0.0, self._reserved - (price * size + fees.total))
            if self.fill_listener is not None:
                self.fill_listener(row, done)
            self._notify(row)

    def _eligible_today(self) -> frozenset:
        """Codes that may be shorted this session (a dated list, or the undated hand list)."""
        return self.eligible.on(self._today) if hasattr(self.eligible, "on") else self.eligible

    def _volume_cap(self, code: str, side: str, size: int, held: int, volume: float) -> int:
        """``size`` cut to ``rules.volume_limit`` of the session's volume (a valid size for the board)."""
        closing = side in ("sell", "cover")
        cap = R.volume_cap(code, "sell" if closing else "buy", volume, abs(held) if closing else 0, self.rules)
        return size if cap is None else min(size, cap)

    def _check(self, code, side, size, held, price, bar, limits, session_no, limit_order=False, locked=None) -> str:
        acc = self.account
        # what this open's fills will do first: orders of the code already waiting for them count
        bought = sold = shorted = covered = 0
        if self._queued:
            waiting = self._waiting(code)
            bought, sold, shorted, covered = waiting["buy"], waiting["sell"], waiting["short"], waiting["cover"]
        if side == "sell" and held - sold <= 0:
            # shares bought at this open are on their way: selling them today breaks T+1
            return "t_plus_1" if 0 < size <= bought else "no_position"
        if side == "cover" and -held - covered <= 0:
            return "no_position"
        if size <= 0:
            return "lot_size"
        if side == "buy":
            if held < 0 or shorted:
                return "no_position"  # cover a short before buying
            reason = R.check_buy_size(code, size, self.rules)
        elif side == "sell":
            if size > acc.sellable(code, self._today) - sold:
                return "t_plus_1" if size <= held - sold + bought else "no_position"
            reason = R.check_sell_size(code, size, held - sold, self.rules)
        elif side == "short":
            if held > 0 or bought:
                return "no_position"  # sell the long position first
            reason = R.check_short(code, self._eligible_today(), self.rules) or R.check_buy_size(code, size, self.rules)
        else:  # cover
            if size > -held - covered:
                return "no_position"
            if not R.can_cover(acc.short_session(code), session_no, self.rules):
                return "t_plus_1"
            reason = R.check_sell_size(code, size, -held - covered, self.rules)
        if reason:
            return reason
        reason = R.check_fill("buy" if side in ("buy", "cover") else "sell", price, bar, limits,
                              limit_order=limit_order, locked=locked, rules=self.rules)
        if reason:
            return reason
        if side in ("buy", "cover"):
            cost = price * size + self.fees("buy", size, price, self._today).total
            # 融券卖出所得 may only buy back the borrowed stock (买券还券), not other stocks.
            locked_cash = 0.0 if side == "cover" else acc.locked_proceeds()
            if cost > acc.cash - self._reserved - locked_cash + 1e-6:
                return "cash"
        if side == "short":
            # valued at the account's mark: the last close before the open, today's at the close
            ratio = R.margin_ratio(self._today, self.rules)
            if (acc.short_exposure() + price * size) * ratio > acc.value() + 1e-9:
                return "margin"
        return ""

    def finish(self) -> None:
        """At the end of the run: orders never executed are cancelled; the account lists its open
        positions as ``open`` trades marked to the last close."""
        for row in self._pending.values():
            row.status, row.reason = "cancelled", "end_of_data"
            self._notify(row)
        self._pending.clear()
        self._queued.clear()
        self.account.finish(self._today)

    # --- tables --------------------------------------------------------------------------------
    @property
    def trades(self) -> list[dict]:
        """The trade ledger (round trips from flat to flat), kept by the account."""
        return self.account.trades

    def orders_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(r) for r in self.orders], columns=ORDER_COLUMNS)

    def trades_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.account.trades, columns=TRADE_COLUMNS)

    def fills_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.fills, columns=FILL_COLUMNS)
