"""The order methods of a strategy beyond the basic ones: partial sizes, targets, weights, limit and
stop orders, cancelling, and the ``on_order`` callback (a base of :class:`hypebt.engine.strategy.Strategy`).

Every order still goes through the broker (:meth:`hypebt.engine.broker.AShareBroker.place`, the
order desk's :meth:`hypebt.market.orders.OrderDesk.submit`) and its A-share checks;
so do the orders placed with Backtrader's own methods (``self.buy``, ``self.sell``, ``self.close``,
``order_target_size``, brackets), through the broker (:mod:`hypebt.engine.broker`).

- Targets (:meth:`OrderMethods.order_target_shares`, ``_value``, ``_percent``, ``_weights``) are
  worked out when the order is placed *for its moment*: one placed at a close for the next open is
  sized at that open, from the position then (orders already on their way count). Sizes are
  rounded toward the current position (:mod:`hypebt.engine.sizing`).
- Limit and stop orders rest at the broker until they trigger, expire or are cancelled
  (:mod:`hypebt.engine.resting`, fill rules in :mod:`hypebt.market.triggers`).
- ``on_order(event)`` gets an :class:`hypebt.engine.resting.OrderEvent` for every fill, partial fill,
  refusal, cancellation and expiry, at the next moment the strategy could know it: fills at the
  open and refusals before the close hook, fills at the close right after it.
"""

from __future__ import annotations

import backtrader as bt

from hypebt.engine import sizing as Z
from hypebt.engine.resting import OrderEvent, Ticket


class OrderMethods:
    """Order methods and callbacks (see the module docstring)."""

    def _init_orders(self) -> None:
        self._events: list[OrderEvent] = []

    # --- the callback ----------------------------------------------------------------------------
    def on_order(self, order: OrderEvent) -> None:
        """Called for every fill, partial fill, refusal, cancellation and expiry (see OrderEvent)."""

    def _ledger_event(self, row, ticket) -> None:
        """The broker's listener: queue an event for each final status a ledger row takes (delivered
        by :meth:`_deliver`), with the ticket (limit, stop or Backtrader order) it came from."""
        self._events.append(OrderEvent(row.date, row.code, row.side, int(row.size), row.price, row.at, row.status,
                                       row.reason, row.note, ticket))

    def _deliver(self) -> None:
        events, self._events = self._events, []
        for event in events:
            self.on_order(event)

    # --- partial sizes ---------------------------------------------------------------------------
    def sell_shares(self, code: str, shares: int, at: str = "open", note: str = "", _now: bool = False):
        """Sell ``shares`` of a long position (whole lots, or the whole position)."""
        if not _now:
            return self._place(self.sell_shares, code, shares, at=at, note=note)
        return self.broker.place(code, "sell", shares, at, note)

    def cover_shares(self, code: str, shares: int, at: str = "open", note: str = "", _now: bool = False):
        """Buy back ``shares`` of a short position."""
        if not _now:
            return self._place(self.cover_shares, code, shares, at=at, note=note)
        return self.broker.place(code, "cover", shares, at, note)

    # --- targets ---------------------------------------------------------------------------------
    def _on_the_way(self, code: str) -> int:
        """Signed shares of orders submitted and not yet filled."""
        return self.broker.pending_shares(code)

    def order_target_shares(self, code: str, target: float, at: str = "open", note: str = "",
                            _now: bool = False):
        """Orders taking ``code`` to ``target`` shares (negative: short), rounded to valid lots toward
        the current position. Returns the order (None when nothing is to do or it was refused)."""
        if not _now:
            return self._place(self.order_target_shares, code, target, at=at, note=note)
        held = self.shares(code) + self._on_the_way(code)
        order = None
        for side, size in Z.target_steps(code, held, target, self.rules):
            order = self.broker.place(code, side, size, at, note)
        return order

    def order_target_value(self, code=None, value=None, at: str = "open", note: str = "", _now: bool = False, *,
                           data=None, target=None):
        """Orders taking ``code`` to about ``value`` CNY (negative: short), valued at the price the
        order fills at (this open, or this close). Backtrader's keywords work too:
        ``order_target_value(data=feed_or_code, target=cny)``."""
        code, value = self._target_args("order_target_value", code, value, data, target)
        if not _now:
            return self._place(self.order_target_value, code, value, at=at, note=note)
        target = Z.shares_for_value(value, self._sizing_price(code, at)) if value else 0
        return self.order_target_shares(code, target, at=at, note=note, _now=True)

    def order_target_percent(self, code=None, fraction=None, at: str = "open", note: str = "",
                             _now: bool = False, *, data=None, target=None):
        """Orders taking ``code`` to ``fraction`` of equity (0.1 = 10 %; negative: short). Backtrader's
        keywords work too: ``order_target_percent(data=feed_or_code, target=0.1)``."""
        code, fraction = self._target_args("order_target_percent", code, fraction, data, target)
        if not _now:
            return self._place(self.order_target_percent, code, fraction, at=at, note=note)
        return self.order_target_value(code, fraction * self.equity, at=at, note=note, _now=True)

    def _target_args(self, method: str, code, amount, data, target) -> tuple[str, float]:
        """(code, amount) from hypebt's positional arguments or Backtrader's ``data=``/``target=``."""
        if data is not None:
            if code is not None:
                raise TypeError(f"{method}: give the code or data=, not both")
            code = data if isinstance(data, str) else self.broker.code_of(data)
        elif code is not None and not isinstance(code, str):
            code = self.broker.code_of(code)  # a feed given positionally, as Backtrader allows
        if target is not None:
            if amount is not None:
                raise TypeError(f"{method}: give the amount or target=, not both")
            amount = target
        if code is None:
            code = self.broker.code_of(self.data)  # Backtrader's default: the first feed
        if amount is None:
            amount = 0.0  # Backtrader's default target: close the position
        return code, amount

    def order_target_weights(self, weights: dict, at: str = "open", note: str = "", _now: bool = False):
        """Targets for several codes at once (``{code: fraction of equity}``; other holdings are left
        alone). Reductions are placed first; increases are limited to the cash held when they are
        placed (the order checks do not count the proceeds of sales that have not filled yet)."""
        if not _now:
            checked = Z.normalise_weights(dict(weights))
            return self._place(self.order_target_weights, checked, at=at, note=note)
        equity = self.equity
        ups, downs = [], []
        for code, w in weights.items():
            target = Z.shares_for_value(w * equity, self._sizing_price(code, at)) if w else 0
            held = self.shares(code) + self._on_the_way(code)
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
        return self.broker.add_ticket(code, side, kind, price, shares, value, good_for, note)

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

    def cancel(self, ticket) -> bool:
        """Cancel a resting limit or stop order (a :class:`Ticket`), or an order placed with
        Backtrader's methods (a ``bt.Order``); True if it was still waiting (an ``on_order`` event
        with status "cancelled" and reason "cancelled" follows)."""
        if isinstance(ticket, bt.OrderBase):
            return self.broker.cancel(ticket)
        if not isinstance(ticket, Ticket):
            raise TypeError(f"cancel() takes a limit or stop order (a Ticket) or a Backtrader order, got {ticket!r}")
        if not ticket.active:
            return False
        if ticket.order is not None:
            return self.broker.cancel(ticket.order)
        self.broker.end_ticket(ticket, "cancelled", "cancelled")
        return True

    def open_orders(self, code: str | None = None) -> list[Ticket]:
        """Active limit and stop orders (of ``code``), and Backtrader orders still waiting."""
        return [t for t in self.broker.book.all_active() if code is None or t.code == code]
