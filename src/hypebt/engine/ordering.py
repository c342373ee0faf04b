"""The order methods of a strategy beyond the basic ones: partial sizes, targets, weights, limit and
stop orders, cancelling, and the ``on_order`` callback (a base of :class:`hypebt.engine.strategy.Strategy`).

Every order still goes through :meth:`hypebt.market.orders.OrderDesk.submit` and its A-share checks.

- Targets (:meth:`OrderMethods.order_target_shares`, ``_value``, ``_percent``, ``_weights``) are
  worked out when the order is placed *for its moment*: one placed at a close for the next open is
  sized at that open, from the position then (orders already on their way count). Sizes are
  rounded toward the current position (:mod:`hypebt.engine.sizing`).
- Limit and stop orders rest until they trigger, expire or are cancelled (:mod:`hypebt.engine.resting`,
  fill rules in :mod:`hypebt.market.triggers`).
- ``on_order(event)`` gets an :class:`hypebt.engine.resting.OrderEvent` for every fill, partial fill,
  refusal, cancellation and expiry, at the next moment the strategy could know it: fills at the
  open and refusals before the close hook, fills at the close right after it.
"""

from __future__ import annotations

from hypebt.engine import sizing as Z
from hypebt.engine.resting import OrderEvent, RestingBook, Ticket
from hypebt.market import rules as R
from hypebt.market import triggers as T

TRADE_SIDE = {"buy": "buy", "cover": "buy", "sell": "sell", "short": "sell"}


class OrderMethods:
    """Order methods and callbacks (see the module docstring)."""

    def _init_orders(self) -> None:
        self._resting = RestingBook()
        self._events: list[OrderEvent] = []
        self._ticket_rows: dict[int, Ticket] = {}  # id(ledger row) -> the ticket that sent it
        self._ticket_now: Ticket | None = None  # the ticket whose order the desk is recording

    # --- the callback ----------------------------------------------------------------------------
    def on_order(self, order: OrderEvent) -> None:
        """Called for every fill, partial fill, refusal, cancellation and expiry (see OrderEvent)."""

    def _ledger_event(self, row) -> None:
        """The desk's listener: queue an event for each status a ledger row takes (delivered by
        :meth:`_deliver`); a row just submitted is only linked to its ticket."""
        if self._ticket_now is not None:
            self._ticket_rows[id(row)] = self._ticket_now
        if row.status == "submitted":
            return
        ticket = self._ticket_rows.pop(id(row), None) or self._ticket_now
        self._events.append(OrderEvent(row.date, row.code, row.side, int(row.size), row.price, row.at, row.status,
                                       row.reason, row.note, ticket))

    def _as_ticket(self, ticket: Ticket, record, *args, **kwargs):
        """Call the desk with ``ticket`` as the origin of what it records."""
        self._ticket_now = ticket
        try:
            return record(*args, **kwargs)
        finally:
            self._ticket_now = None

    def _deliver(self) -> None:
        events, self._events = self._events, []
        for event in events:
            self.on_order(event)

    # --- partial sizes ---------------------------------------------------------------------------
    def sell_shares(self, code: str, shares: int, at: str = "open", note: str = "", _now: bool = False):
        """Sell ``shares`` of a long position (whole lots, or the whole position)."""
        if not _now:
            return self._place(self.sell_shares, code, shares, at=at, note=note)
        return self.desk.submit(code, "sell", shares, at, note, self.session_no, self._phase)

    def cover_shares(self, code: str, shares: int, at: str = "open", note: str = "", _now: bool = False):
        """Buy back ``shares`` of a short position."""
        if not _now:
            return self._place(self.cover_shares, code, shares, at=at, note=note)
        return self.desk.submit(code, "cover", shares, at, note, self.session_no, self._phase)

    # --- targets ---------------------------------------------------------------------------------
    def _on_the_way(self, code: str) -> int:
        """Signed shares of orders submitted and not yet filled."""
        return self.desk.pending_shares(code)

    def order_target_shares(self, code: str, target: float, at: str = "open", note: str = "",
                            _now: bool = False):
        """Orders taking ``code`` to ``target`` shares (negative: short), rounded to valid lots toward
        the current position. Returns the order (None when nothing is to do or it was refused)."""
        if not _now:
            return self._place(self.order_target_shares, code, target, at=at, note=note)
        held = self.position(code) + self._on_the_way(code)
        order = None
        for side, size in Z.target_steps(code, held, target, self.rules):
            order = self.desk.submit(code, side, size, at, note, self.session_no, self._phase)
        return order

    def order_target_value(self, code: str, value: float, at: str = "open", note: str = "", _now: bool = False):
        """Orders taking ``code`` to about ``value`` CNY (negative: short), valued at the price the
        order fills at (this open, or this close)."""
        if not _now:
            return self._place(self.order_target_value, code, value, at=at, note=note)
        target = Z.shares_for_value(value, self._sizing_price(code, at)) if value else 0
        return self.order_target_shares(code, target, at=at, note=note, _now=True)

    def order_target_percent(self, code: str, fraction: float, at: str = "open", note: str = "",
                             _now: bool = False):
        """Orders taking ``code`` to ``fraction`` of equity (0.1 = 10 %; negative: short)."""
        if not _now:
            return self._place(self.order_target_percent, code, fraction, at=at, note=note)
        return self.order_target_value(code, fraction * self.equity, at=at, note=note, _now=True)

    def order_target_weights(self, weights: dict, at: str = "open", note: str = "", _now: bool = False):
        """Targets for several codes at once (``{code: fraction of equity}``; other holdings are left
        alone). Reductions are placed first, so their cash counts for the increases of the same moment."""
        if not _now:
            checked = Z.normalise_weights(dict(weights))
            return self._place(self.order_target_weights, checked, at=at, note=note)
        equity = self.equity
        ups, downs = [], []
        for code, w in weights.items():
            target = Z.shares_for_value(w * equity, self._sizing_price(code, at)) if w else 0
            held = self.position(code) + self._on_the_way(code)
            (downs if abs(target) < abs(held) or target * held < 0 else ups).append((code, target))
        return [self.order_target_shares(code, target, at=at, note=note, _now=True) for code, target in downs + ups]

    # --- limit and stop orders -------------------------------------------------------------------
    def order(self, code: str, side: str, kind: str, price: float, shares: int | None = None,
              value: float | None = None, good_for: int | None = None, note: str = "") -> Ticket:
        """A resting ``kind`` ("limit"/"stop") order to ``side`` (buy, sell, short, cover) ``shares``
        (sell/cover: None = the whole position when it triggers; buy/short: or ``value`` CNY, sized at
        the trigger price). It works from this session when placed before the open, from the next
        when placed at the close, for ``good_for`` sessions (None: until filled or cancelled)."""
        if shares is None and value is None and side in ("buy", "short"):
            raise ValueError(f"{kind} order to {side} {code}: give shares or value")
        if value is not None and not value > 0:
            raise ValueError(f"{kind} order to {side} {code}: value must be positive, got {value!r}")
        first = self.session_no + (1 if self._phase == "close" or self.session_no < 0 else 0)
        return self._resting.add(code, side, kind, price, shares, value, first, good_for, note)

    def buy_limit(self, code, price, shares=None, value=None, good_for: int | None = 1, note=""):
        """Buy at ``price`` or lower (default: a day order)."""
        return self.order(code, "buy", "limit", price, shares, value, good_for, note)

    def sell_limit(self, code, price, shares=None, good_for: int | None = 1, note=""):
        """Sell at ``price`` or higher (default: a day order; shares None = the whole position)."""
        return self.order(code, "sell", "limit", price, shares, None, good_for, note)

    def buy_stop(self, code, price, shares=None, value=None, good_for: int | None = None, note=""):
        """Buy once the price rises to ``price`` (until cancelled by default)."""
        return self.order(code, "buy", "stop", price, shares, value, good_for, note)

    def sell_stop(self, code, price, shares=None, good_for: int | None = None, note=""):
        """Sell once the price falls to ``price``: a stop-loss (until cancelled by default)."""
        return self.order(code, "sell", "stop", price, shares, None, good_for, note)

    def cancel(self, ticket: Ticket) -> bool:
        """Cancel a resting limit or stop order; True if it was still active (an ``on_order`` event
        with status "cancelled" and reason "cancelled" follows)."""
        if not isinstance(ticket, Ticket):
            raise TypeError(f"cancel() takes a limit or stop order (a Ticket), got {ticket!r}")
        if not ticket.active:
            return False
        ticket.status, ticket.reason = "cancelled", "cancelled"
        self._as_ticket(ticket, self.desk.note_cancelled, ticket.code, ticket.side, ticket.shares or 0, ticket.price,
                        ticket.at, "cancelled", ticket.note)
        return True

    def _cancel_resting(self, reason: str) -> None:
        """End every active ticket (at the end of the data)."""
        for ticket in self._resting.all_active():
            ticket.status, ticket.reason = "cancelled", reason
            self._as_ticket(ticket, self.desk.note_cancelled, ticket.code, ticket.side, ticket.shares or 0,
                            ticket.price, ticket.at, reason, ticket.note)

    def open_orders(self, code: str | None = None) -> list[Ticket]:
        """Active limit and stop orders (of ``code``)."""
        return [t for t in self._resting.all_active() if code is None or t.code == code]

    def _work_resting(self) -> None:
        """Before this session's broker cycle: trigger, send or keep each active ticket."""
        for ticket in self._resting.active(self.session_no):
            self._try_ticket(ticket)
        for ticket in self._resting.expire(self.session_no):
            self._as_ticket(ticket, self.desk.note_cancelled, ticket.code, ticket.side, ticket.shares or 0,
                            ticket.price, ticket.at, "good_for", ticket.note, status="expired")

    def _try_ticket(self, ticket: Ticket) -> None:
        code, i = ticket.code, self.session_no
        c = self._arrays[code].columns
        if c["suspended"][i]:
            return  # waits: nothing trades today
        # The engine reads today's whole bar to decide the fill; the strategy only learns the outcome.
        bar = R.Bar(float(c["open"][i]), float(c["high"][i]), float(c["low"][i]), float(c["close"][i]))
        raw = T.trigger_price(ticket.kind, TRADE_SIDE[ticket.side], ticket.price, bar)
        if raw is None:
            return
        held = self.position(code)
        if ticket.shares is not None:
            size = ticket.shares
        elif ticket.side == "sell":
            size = max(held, 0)
        elif ticket.side == "cover":
            size = max(-held, 0)
        else:
            size = R.buy_size(code, ticket.value / raw, self.rules)
        if size == 0 and ticket.side in ("sell", "cover") and self._on_the_way(code):
            return  # the position it protects is still being bought (it fills in this session's cycle)
        cap = ticket.price if ticket.kind == "limit" else None
        before = len(self.desk.orders)
        order = self._as_ticket(ticket, self.desk.submit, code, ticket.side, size, "open", ticket.note, i, "open",
                                price=raw, cap=cap, at_label=ticket.at)
        if order is not None:
            ticket.status = "filled"  # sent at its price this session; the fill event follows
            ticket.filled = size
            return
        row = self.desk.orders[-1] if len(self.desk.orders) > before else None
        reason = row.reason if row is not None else "refused"
        if reason in T.TRANSIENT:
            return  # limit-locked, T+1 or suspended today: rests for the next session
        ticket.status, ticket.reason = "refused", reason
