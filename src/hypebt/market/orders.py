"""Order checks and the order/fill/trade ledger: the A-share rules applied to each order.

The strategy base (:mod:`hypebt.engine.strategy`) sends every order through
:meth:`OrderDesk.submit`. It decides the fill price (the session's open or
close, plus slippage) and refuses, with a recorded reason, what the market
would refuse: a buy at or above limit-up, a sell at or below limit-down, any
order on a 一字板 or a suspended session, a sale of shares bought the same
session (T+1), an invalid lot, a short of a non-eligible code, too little
cash or margin. Accepted orders are filled at that price on the Backtrader broker's cash and
positions (:meth:`hypebt.engine.bt_adapter.AShareBroker.fill`), at the open in the session's
broker cycle, at the close at once; ``engine.run(bt_orders=True)`` sends them as Backtrader
orders instead (the reference the direct fills are tested against).

Fills are turned into round-trip trades (entry to flat) with their fees and,
for shorts, the borrow fee charged while they were open, so cash reconciles
to the trade list to the fen.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import backtrader as bt
import pandas as pd

from hypebt.market import rules as R
from hypebt.market.credit import CreditBook, MarginWatch, maintenance_ratio
from hypebt.market.rules import to_fen

SIDES = ("buy", "sell", "short", "cover")
ORDER_COLUMNS = ["date", "code", "side", "size", "price", "at", "status", "reason", "note", "filled"]
TRADE_COLUMNS = [
    "code", "direction", "entry_date", "entry_price", "exit_date", "exit_price", "size",
    "gross_pnl", "fees", "borrow_fee", "net_pnl", "status",
]
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
class _Trade:
    code: str
    direction: str
    entry_date: dt.date
    size: int = 0            # shares currently open
    max_size: int = 0
    entry_value: float = 0.0
    entry_shares: int = 0
    exit_value: float = 0.0
    exit_shares: int = 0
    exit_date: dt.date | None = None
    fees: float = 0.0
    borrow: float = 0.0


@dataclass
class OrderDesk:
    """Checks orders against the rules and keeps the ledgers of one run."""

    strategy: bt.Strategy
    rules: R.Rules
    eligible: frozenset = frozenset()
    orders: list[OrderRow] = field(default_factory=list)
    fills: list[dict] = field(default_factory=list)
    trades: list[dict] = field(default_factory=list)
    borrow_ledger: CreditBook | None = None  # 融券 lots, their interest and its ledger
    arrays: dict = field(default_factory=dict)  # code -> FeedArrays (limits, suspension)
    listener: Any = None  # called with each OrderRow when it is recorded or changes status (on_order)
    fee_memo: dict = field(default_factory=dict)  # (side, size, price, day) -> rules.Fees, shared with the CommInfos

    def __post_init__(self):
        self._buys: dict[str, list[tuple[dt.date, int]]] = {}  # code -> (session, shares) not yet sellable
        self._today: dt.date | None = None
        self._reserved = 0.0
        self._short_opened: dict[str, int] = {}
        self._open: dict[str, _Trade] = {}
        self._pending: dict[int, OrderRow] = {}  # Backtrader order ref (or id of the row) -> row, until filled
        self._queued: list[tuple] = []  # (row, feed, signed shares, price): the fills of this open
        self._short_proceeds: dict[str, float] = {}
        if not isinstance(self.borrow_ledger, CreditBook):  # e.g. a Context built without one
            self.borrow_ledger = CreditBook(self.rules)
        self.margin = MarginWatch(self.rules)
        self._session_no = -1
        broker = getattr(self.strategy, "broker", None)
        if broker is not None and not getattr(broker, "bt_orders", True):
            broker.after_cycle = self.fill_queued

    # --- session bookkeeping -------------------------------------------------------------------
    def new_session(self, day: dt.date) -> None:
        """Called before each session's open."""
        if day != self._today:
            self._today = day
            # the buys not yet sellable today (a code whose buys all became sellable drops out)
            self._buys = {code: left for code, buys in self._buys.items()
                          if (left := [b for b in buys if not R.can_sell(b[0], day)])}
            self._reserved = 0.0
            self._session_no += 1
            self._check_maintenance()

    def _check_maintenance(self) -> None:
        """维持担保比例 at the last close: a call below ``rules.maintenance_call``; after
        ``rules.maintenance_grace`` sessions still below it, every short is covered at this open."""
        broker = self.strategy.broker
        short = any(pos.size < 0 for pos in broker.positions.values())
        held = {code: broker.held(self.strategy.getdatabyname(code)) for code in self.arrays} if short else {}
        shorts = {code: -n for code, n in held.items() if n < 0}
        if self._session_no == 0 or not shorts:
            if self.margin.called_on is not None:
                self.margin.update(self._session_no, self._today, float("inf"))
            return
        i = self._session_no - 1  # the last close: today's is not known at the open
        mark = {code: float(self.arrays[code].columns["close"][i]) for code in held if held[code]}
        long_value = sum(n * mark[code] for code, n in held.items() if n > 0)
        short_value = sum(n * mark[code] for code, n in shorts.items())
        ratio = maintenance_ratio(broker.getcash(), long_value, short_value, self.borrow_ledger.accrued())
        state = self.margin.update(self._session_no, self._today, ratio)
        line = f"维持担保比例 {ratio:.1%} < {self.rules.maintenance_call:.0%}"
        if state == "call":
            for code, n in shorts.items():
                self._record(code, "cover", n, None, "open", "margin_call", "maintenance_margin",
                             f"{line}: restore within {self.rules.maintenance_grace} sessions")
        elif state == "liquidate":
            for code, n in shorts.items():
                self.submit(code, "cover", n, "open", f"forced_liquidation: {line} since {self.margin.called_day}",
                            self._session_no, "open")

    def fees(self, side: str, size: int, price: float, day: dt.date) -> R.Fees:
        """:func:`hypebt.market.rules.fees`, computed once per (side, size, price, day) in a run: the
        cash reservation, the cash check, the fill and Backtrader's commission all ask for it."""
        key = (side, size, price, day)
        fees = self.fee_memo.get(key)
        if fees is None:
            fees = self.fee_memo[key] = R.fees(side, size, price, day, self.rules)
        return fees

    def pending_count(self) -> int:
        """Orders sent to Backtrader and not yet filled or refused."""
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
        """Signed shares of ``code``'s orders submitted and not yet filled (buys and covers +)."""
        return sum(row.size if row.side in ("buy", "cover") else -row.size
                   for row in self._pending.values() if row.code == code)

    def refuse(self, code, side, size, price, at, reason, note="") -> None:
        """Record an order the market (or the strategy's own constraints) refused."""
        status = "cancelled" if reason == "suspended" else "refused"
        self._record(code, side, size, price, at, status, reason, note)

    def has_pending(self, code: str) -> bool:
        return any(row.code == code for row in self._pending.values())

    # --- the checks ----------------------------------------------------------------------------
    def submit(self, code: str, side: str, size: int, at: str = "open", note: str = "", session_no: int = 0,
               phase: str = "open", price: float | None = None, cap: float | None = None,
               at_label: str | None = None):
        """Check an order and, if the market would take it, send it to Backtrader.

        ``at``: "open" (placed in ``on_open``, fills at this session's open),
        "close" (placed in ``on_close``, fills at this session's close), or
        "limit" (placed in ``on_open``: a limit order at the limit price, which
        fills only under the optional ``fill_at_limit_when_opened`` model when
        the board opened during the session).
        ``price``: a triggered limit or stop order's price within the session (instead of the open);
        ``cap``: a limit order's limit, which slippage never passes; ``at_label``: the ledger's ``at``.
        Returns the order's ledger row (:class:`OrderRow`, status "submitted" until it fills), or
        None when refused (the refusal is recorded).
        """
        trigger = price
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}")
        allowed = ("open", "limit") if phase == "open" else ("close",)
        if at not in allowed:
            raise ValueError(
                f"an order at={at!r} cannot be placed in on_{phase}: orders at the open or at the limit are "
                "placed in on_open, orders at the close in on_close"
            )
        at_shown = at_label or at
        data = self.strategy.getdatabyname(code)
        size = int(size)
        held = self.strategy.broker.held(data)
        cols = self.arrays[code].columns
        if cols["suspended"][session_no]:
            self.refuse(code, side, size, None, at_shown, "suspended", note)
            return None
        # this session's bar, from the arrays the feed was loaded with (the same numbers, no line lookups)
        bar = R.Bar(float(cols["open"][session_no]), float(cols["high"][session_no]),
                    float(cols["low"][session_no]), float(cols["close"][session_no]))
        up, down = float(cols["limit_up"][session_no]), float(cols["limit_down"][session_no])
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
                                                   bar, self.rules)
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
        if side == "short":
            self._short_opened[code] = session_no
        broker = self.strategy.broker
        if getattr(broker, "bt_orders", True):
            self._send_to_backtrader(row, data, size, trade_side, at)
        else:
            self._pending[id(row)] = row
            signed = size if trade_side == "buy" else -size
            if at == "close":
                self._fill([(row, data, signed, price)])
            else:
                self._queued.append((row, data, signed, price))  # filled in this session's broker cycle
        return row

    def _send_to_backtrader(self, row: OrderRow, data, size: int, trade_side: str, at: str) -> None:
        """The reference path (``engine.run(bt_orders=True)``): a Backtrader market order at the
        checked price, filled by Backtrader's broker (at a close: at once)."""
        make = self.strategy.buy if trade_side == "buy" else self.strategy.sell
        order = make(data=data, size=size, exectype=bt.Order.Market, fill_price=row.price)
        self._pending[order.ref] = row
        if at == "close":
            self.strategy.broker.fill_now(order)
            self.on_order(order)

    def fill_queued(self) -> None:
        """The broker's cycle at this open (:meth:`AShareBroker.next`): fill the orders at the open,
        in the order they were placed."""
        if self._queued:
            queued, self._queued = self._queued, []
            self._fill(queued)

    def _fill(self, batch: list) -> None:
        """Fill each (ledger row, feed, signed shares, price) on the broker, then book them: the
        sequence of Backtrader's cycle (every fill, the value, then the notifications)."""
        broker = self.strategy.broker
        done = [(row, data, signed, price, broker.fill(data, signed, price, self._today))
                for row, data, signed, price in batch]
        broker.revalue()
        for row, data, signed, price, ok in done:
            del self._pending[id(row)]
            if ok:
                self._filled(row, data, abs(signed), price, self._today)
            else:  # Backtrader's Margin status: the cash would have gone negative
                row.status, row.reason = "refused", "cash"
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
        if side == "sell" and held <= 0 or side == "cover" and held >= 0:
            return "no_position"
        if size <= 0:
            return "lot_size"
        if side == "buy":
            if held < 0:
                return "no_position"  # cover a short before buying
            reason = R.check_buy_size(code, size, self.rules)
        elif side == "sell":
            if held <= 0:
                return "no_position"
            if size > R.sellable_shares(held, self._buys.get(code, ()), self._today):
                return "t_plus_1" if size <= held else "no_position"
            reason = R.check_sell_size(code, size, held, self.rules)
        elif side == "short":
            if held > 0:
                return "no_position"  # sell the long position first
            reason = R.check_short(code, self._eligible_today(), self.rules) or R.check_buy_size(code, size, self.rules)
        else:  # cover
            if held >= 0 or size > -held:
                return "no_position"
            if not R.can_cover(self._short_opened.get(code, -10**9), session_no, self.rules):
                return "t_plus_1"
            reason = R.check_sell_size(code, size, -held, self.rules)
        if reason:
            return reason
        reason = R.check_fill("buy" if side in ("buy", "cover") else "sell", price, bar, limits,
                              limit_order=limit_order, locked=locked, rules=self.rules)
        if reason:
            return reason
        broker = self.strategy.broker
        if side in ("buy", "cover"):
            cost = price * size + self.fees("buy", size, price, self._today).total
            # 融券卖出所得 may only buy back the borrowed stock (买券还券), not other stocks.
            locked = 0.0 if side == "cover" else sum(self._short_proceeds.values())
            if cost > broker.getcash() - self._reserved - locked + 1e-6:
                return "cash"
        if side == "short":
            ratio = R.margin_ratio(self._today, self.rules)
            shorts = sum(
                -p.size * d.close[0] for d, p in broker.positions.items() if p.size < 0
            )
            if (shorts + price * size) * ratio > broker.getvalue() + 1e-9:
                return "margin"
        return ""

    # --- fills -> trades -----------------------------------------------------------------------
    def on_order(self, order) -> None:
        """Backtrader's notify_order: record fills, turn them into trades."""
        row = self._pending.get(order.ref)
        if row is None or order.status in (order.Submitted, order.Accepted):
            return
        del self._pending[order.ref]
        if order.status != order.Completed:
            row.status = "refused"
            row.reason = "cash" if order.status == order.Margin else order.getstatusname().lower()
            self._notify(row)
            return
        self._filled(row, order.data, int(abs(order.executed.size)), float(order.executed.price),
                     bt.num2date(order.executed.dt).date())

    def _filled(self, row: OrderRow, data, size: int, price: float, day: dt.date) -> None:
        """Book a fill: the ledger row, the fill row, T+1, the cash reserved, the short's borrow
        lots, the round-trip trade."""
        row.status, row.filled = ("partial" if size < row.size else "filled"), size
        side = row.side
        trade_side = "buy" if side in ("buy", "cover") else "sell"
        fees = self.fees(trade_side, size, price, day)
        self.fills.append({
            "date": day, "code": row.code, "side": side, "size": size, "price": price,
            "commission": fees.commission, "stamp_duty": fees.stamp_duty,
            "transfer_fee": fees.transfer_fee, "fees": to_fen(fees.total),
        })
        if side == "buy":
            self._buys.setdefault(row.code, []).append((day, size))
            self._reserved = max(0.0, self._reserved - (price * size + fees.total))
        if side == "cover":
            self._reserved = max(0.0, self._reserved - (price * size + fees.total))
            held = -self.strategy.broker.held(data)
            self._short_proceeds[row.code] = self._short_proceeds.get(row.code, 0.0) * (held / (held + size))
        if side == "short":
            self._short_proceeds[row.code] = self._short_proceeds.get(row.code, 0.0) + price * size
            self.borrow_ledger.open(row.code, day, size, price)
        if side == "cover":
            due = self.borrow_ledger.cover(row.code, day, size)
            self.strategy.broker.cash = round(self.strategy.broker.cash - due, 2)  # a fen of rounding, if any
        self._book(row.code, side, size, price, day, fees.total)
        self._notify(row)

    def _book(self, code, side, size, price, day, fee) -> None:
        opening = side in ("buy", "short")
        trade = self._open.get(code)
        if opening:
            if trade is None:
                trade = self._open[code] = _Trade(code, "long" if side == "buy" else "short", day)
            trade.size += size
            trade.max_size = max(trade.max_size, trade.size)
            trade.entry_value += price * size
            trade.entry_shares += size
        else:
            if trade is None:  # cannot happen: checks refuse closing a flat position
                return
            trade.size -= size
            trade.exit_value += price * size
            trade.exit_shares += size
            trade.exit_date = day
        trade.fees += fee
        if not opening and trade.size == 0:
            self.trades.append(self._trade_row(self._open.pop(code), "closed"))

    def _borrow_for(self, trade: _Trade, until: dt.date | None) -> float:
        """Interest of the short lots this trade opened, settled (or accrued at the end) up to ``until``."""
        return sum(
            r["fee"] for r in self.borrow_ledger.rows
            if r["code"] == trade.code and r["opened"] >= trade.entry_date and (until is None or r["date"] <= until)
        )

    def _trade_row(self, t: _Trade, status: str) -> dict:
        entry_price = t.entry_value / t.entry_shares if t.entry_shares else float("nan")
        exit_price = t.exit_value / t.exit_shares if t.exit_shares else float("nan")
        sign = 1 if t.direction == "long" else -1
        gross = sign * (t.exit_value - t.entry_value * (t.exit_shares / t.entry_shares if t.entry_shares else 0))
        borrow = self._borrow_for(t, t.exit_date) if t.direction == "short" else 0.0
        fees = to_fen(t.fees)
        return {
            "code": t.code, "direction": t.direction, "entry_date": t.entry_date,
            "entry_price": round(entry_price, 4), "exit_date": t.exit_date if status == "closed" else None,
            "exit_price": round(exit_price, 4), "size": t.max_size,
            "gross_pnl": to_fen(gross), "fees": fees, "borrow_fee": to_fen(borrow),
            "net_pnl": to_fen(gross - fees - borrow), "status": status,
        }

    def finish(self) -> None:
        """At the end of the run: orders never executed are cancelled; open trades are listed as
        ``open``, marked to the last close (exit_date empty, exit_price = that close)."""
        for row in self._pending.values():
            row.status, row.reason = "cancelled", "end_of_data"
            self._notify(row)
        self._pending.clear()
        self.borrow_ledger.close_out(self._today)
        for trade in self._open.values():
            mark = float(self.strategy.getdatabyname(trade.code).close[0])
            trade.exit_value += mark * trade.size
            trade.exit_shares += trade.size
            self.trades.append(self._trade_row(trade, "open"))

    # --- tables --------------------------------------------------------------------------------
    def orders_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(r) for r in self.orders], columns=ORDER_COLUMNS)

    def trades_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.trades, columns=TRADE_COLUMNS)

    def fills_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.fills, columns=FILL_COLUMNS)
