"""Backtrader's orders in a hypebt run: every ``bt.Order`` becomes a ticket worked through the desk.

Backtrader's ``Strategy.buy``, ``sell``, ``close``, ``order_target_size/value/percent`` and
``buy_bracket``/``sell_bracket`` all end in the broker's ``buy``/``sell``; ``Strategy.cancel`` in
its ``cancel``. :class:`BacktraderOrders` (a base of :class:`hypebt.engine.broker.AShareBroker`)
takes them there:

- the ``bt.Order`` is built by Backtrader (its ``created`` price, ``valid`` date, trailing stop);
  before the open, today's close is not known, so the reference price it would take from it is
  the last close instead;
- it becomes a :class:`hypebt.engine.resting.Ticket` working from this session when placed
  before the open (``next_open``), else from the next (``next``: a market order fills at the next
  session's open, a close order at its close, as in Backtrader);
- at its moment the ticket reaches :meth:`hypebt.market.orders.OrderDesk.submit` with every
  A-share check: as a buy (a cover when short) or a sale (a short sale when flat);
- the order moves through Backtrader's statuses: ``Submitted`` and ``Accepted`` when placed,
  ``Partial``/``Completed`` with ``executed`` filled in at each fill (so Backtrader books its
  ``Trade`` objects and ``notify_trade`` fires), ``Rejected`` when the market refuses it
  (``Margin`` for cash or margin), ``Canceled``, ``Expired``; each change is notified.

Price orders (limit, stop, stop-limit, trailing stop) refused for the session only (limit-locked,
suspended, T+1) keep waiting, as a broker's condition order does; a market or close order the
market refuses ends ``Rejected``. A fill cut by the volume cap leaves the rest working at the
next session (Backtrader's filler does the same). OCO groups and bracket orders follow
Backtrader's rules: any fill, cancellation, expiry or rejection of a member cancels the rest of
its OCO group; bracket children work once their parent has completed (from the next session),
and one child's fill cancels the other.
"""

from __future__ import annotations

import collections
import itertools
import math

import backtrader as bt

from hypebt.engine.bt_adapter import today_readable
from hypebt.engine.resting import Ticket
from hypebt.market import triggers as T

KIND_OF = {
    bt.Order.Market: "market", bt.Order.Close: "close", bt.Order.Limit: "limit", bt.Order.Stop: "stop",
    bt.Order.StopLimit: "stoplimit", bt.Order.StopTrail: "stoptrail", bt.Order.StopTrailLimit: "stoptraillimit",
}
PRICE_KINDS = ("limit", "stop", "stoplimit", "stoptrail", "stoptraillimit")
MARGIN_REASONS = ("cash", "margin")


class BacktraderOrders:
    """The Backtrader order interface of the A-share broker (see the module docstring)."""

    def start_orders(self) -> None:
        # Backtrader numbers its orders with one counter for the process: restarted for each run, so
        # an order's ref (bt#N in the ledger's note) is the same however many runs came before.
        bt.OrderBase.refbasis = itertools.count(1)
        self._held_groups: dict[int, list] = {}  # bracket parent ref -> orders not yet transmitted
        self._tickets: dict[int, Ticket] = {}  # order ref -> its ticket
        self._oco: dict[int, int] = {}  # order ref -> its OCO group's leader ref
        self._groups: dict[int, list] = collections.defaultdict(list)  # leader ref -> member tickets

    # --- placing ---------------------------------------------------------------------------------
    def buy(self, owner, data, size, price=None, plimit=None, exectype=None, valid=None, tradeid=0, oco=None,
            trailamount=None, trailpercent=None, parent=None, transmit=True, histnotify=False,
            _checksubmit=True, **kwargs):
        """Backtrader's ``broker.buy`` (see ``bt.Strategy.buy``): checked and filled as A-share orders."""
        return self._place(bt.BuyOrder, owner, data, size, price, plimit, exectype, valid, tradeid, oco,
                           trailamount, trailpercent, parent, transmit, kwargs)

    def sell(self, owner, data, size, price=None, plimit=None, exectype=None, valid=None, tradeid=0, oco=None,
             trailamount=None, trailpercent=None, parent=None, transmit=True, histnotify=False,
             _checksubmit=True, **kwargs):
        """Backtrader's ``broker.sell``: a sale of what is held, else a short sale (融券, eligible codes)."""
        return self._place(bt.SellOrder, owner, data, size, price, plimit, exectype, valid, tradeid, oco,
                           trailamount, trailpercent, parent, transmit, kwargs)

    def _place(self, cls, owner, data, size, price, plimit, exectype, valid, tradeid, oco, trailamount,
               trailpercent, parent, transmit, info):
        self.fresh = False
        kind = KIND_OF.get(bt.Order.Market if exectype is None else exectype)
        if kind is None:
            name = bt.Order.ExecTypes[exectype] if isinstance(exectype, int) and 0 <= exectype < 8 else repr(exectype)
            raise NotImplementedError(
                f"exectype {name} is not modelled by hypebt: use Market, Close, Limit, Stop, StopLimit, StopTrail "
                "or StopTrailLimit")
        if kind in ("stoplimit", "stoptraillimit") and plimit is None:
            raise ValueError(f"a {bt.Order.ExecTypes[exectype]} order needs plimit= (the limit price once the "
                             "stop is reached)")
        with today_readable(data):  # Backtrader's Order reads today's close for its reference price
            order = cls(owner=owner, data=data, size=size, price=price, pricelimit=plimit, exectype=exectype,
                        valid=valid, tradeid=tradeid, trailamount=trailamount, trailpercent=trailpercent,
                        parent=parent, transmit=transmit)
        if self.phase in ("open", "setup"):
            self._reference_before_open(order, price)
        order.addinfo(**info)
        leader = self._oco.get(oco.ref, oco.ref) if oco is not None else order.ref
        self._oco[order.ref] = leader
        return self.submit(order)

    def _reference_before_open(self, order, price) -> None:
        """Before the open the reference price is the last close, not today's (not known yet)."""
        code = self.code_of(order.data)
        cols = self._arrays[code].columns
        s = max(self.session, 0)
        last = float(cols["close"][s - 1]) if s > 0 else float(cols["prev_close"][s])
        if last != last:
            last = float(cols["open"][s])
        order.created.pclose = last
        if order.exectype in (bt.Order.StopTrail, bt.Order.StopTrailLimit):
            base = last if price is None else price
            order.created.price = math.inf if order.isbuy() else -math.inf
            order.trailadjust(base)
        elif price is None and order.pricelimit is None:
            order.created.price = last

    def submit(self, order):
        """Backtrader's ``broker.submit``: a bracket's orders wait for the one sent with
        ``transmit=True``; then each is submitted, accepted and becomes a ticket."""
        parent = order.parent
        if parent is None:
            if not order.transmit:
                self._held_groups[order.ref] = [order]
                return order
            self._transmit([order])
            return order
        group = self._held_groups.get(parent.ref)
        if group is None:
            parent_ticket = self._tickets.get(parent.ref)
            if parent_ticket is None or not parent_ticket.active:
                order.reject(self)  # the parent is gone (rejected, cancelled, filled): as Backtrader
                self.notify(order)
                return order
            group = [parent]
        group.append(order)
        if order.transmit:
            self._held_groups.pop(parent.ref, None)
            self._transmit([o for o in group if o.ref not in self._tickets])
        return order

    def _transmit(self, orders) -> None:
        for order in orders:
            order.submit(self)
            self.notify(order)
            order.accept(self)
            self.notify(order)
            self._ticket(order)

    def _ticket(self, order) -> Ticket:
        code = self.code_of(order.data)
        kind = KIND_OF[order.exectype]
        side = "buy" if order.isbuy() else "sell"
        note = " ".join(x for x in (f"bt#{order.ref}", str(order.info.get("note", "") or "")) if x)
        ticket = self.add_ticket(code, side, kind, order.created.price, shares=abs(order.size), note=note,
                                 order=order, plimit=order.created.pricelimit,
                                 trail=(order.trailamount, order.trailpercent), valid=order.valid or None)
        self._tickets[order.ref] = ticket
        leader = self._oco.get(order.ref, order.ref)
        ticket.oco = leader
        self._groups[leader].append(ticket)
        if order.parent is not None:
            parent = self._tickets[order.parent.ref]
            ticket.parent = parent
            parent.children.append(ticket)
            ticket.waiting = parent.active  # works once the parent has completed
        if kind == "market" and self.phase == "open" and not ticket.waiting:
            self._send(ticket, self.session, "open")  # placed before the open: this open
        return ticket

    def cancel(self, order, bracket=False) -> bool:
        """Backtrader's ``broker.cancel``: True when the order was still waiting (a ticket not yet at
        the market); an order already sent to this open's auction cannot be cancelled."""
        group = self._held_groups.pop(order.ref, None)
        if group is not None:
            for o in group:
                o.cancel()
                self.notify(o)
            return True
        ticket = self._tickets.get(order.ref)
        if ticket is None or not ticket.active or ticket.at_desk:
            return False
        self.end_ticket(ticket, "cancelled", "cancelled")
        return True

    # --- working the tickets ------------------------------------------------------------------------
    def release_market_orders(self) -> None:
        """At this session's open: market orders placed at the last close (or left by a partial fill)."""
        s = self.session
        for ticket in self.book.active(s):
            if ticket.order is not None and ticket.kind == "market" and ticket.active:
                self._send(ticket, s, "open")

    def work_order(self, ticket: Ticket, s: int) -> None:
        """A Backtrader price ticket on session ``s`` (before the open fills)."""
        if self._expired(ticket, s) or ticket.kind not in PRICE_KINDS or self._sibling_at_desk(ticket):
            return
        code = ticket.code
        if self._arrays[code].columns["suspended"][s]:
            return
        kind = ticket.kind
        if kind == "limit":
            terms = T.Terms("limit", ticket.price)
        elif kind in ("stop", "stoptrail"):
            terms = T.Terms("stop", ticket.price)
        else:
            terms = T.Terms("stoplimit", ticket.price, ticket.plimit, ticket.triggered)
        triggered, raw, _ = T.reach(terms, ticket.side, self.bar(code, s), self.rules.tick)
        if triggered and terms.kind == "stoplimit":
            ticket.triggered = ticket.order.triggered = True  # a limit order from now on
        if raw is not None:
            self._send(ticket, s, "open", terms=terms)

    def after_fills(self, s: int) -> None:
        """After the open fills: close orders fill at today's close; trailing stops follow it."""
        for ticket in self.book.active(s):
            if ticket.order is None or not ticket.active:
                continue
            if ticket.kind == "close" and not self._expired(ticket, s):
                self._send(ticket, s, "close")
            elif ticket.kind in ("stoptrail", "stoptraillimit") and not self._arrays[ticket.code].columns["suspended"][s]:
                self._trail(ticket, float(self._arrays[ticket.code].columns["close"][s]))

    def _trail(self, ticket: Ticket, close: float) -> None:
        amount, percent = ticket.trail
        stop = T.trail_stop(ticket.side, ticket.price, close, amount, percent)
        if stop != ticket.price:
            if ticket.kind == "stoptraillimit":
                ticket.plimit = stop - (ticket.price - ticket.plimit)
                ticket.order.created.pricelimit = ticket.plimit
            ticket.price = ticket.order.created.price = stop

    def _expired(self, ticket: Ticket, s: int) -> bool:
        valid = ticket.valid
        if valid and ticket.kind != "market" and self._arrays[ticket.code].columns["datetime"][s] > valid:
            self.end_ticket(ticket, "expired", "valid")
            return True
        return False

    def _send(self, ticket: Ticket, s: int, at: str, terms: T.Terms | None = None) -> None:
        """The ticket's order reaches the market: a buy (a cover when short) or a sale (a short sale
        when flat), every A-share check applied."""
        order, code = ticket.order, ticket.code
        held = self._account.shares(code) + self._desk.pending_shares(code)
        if ticket.side == "buy":
            side = "cover" if held < 0 else "buy"
        else:
            side = "sell" if held > 0 else "short"
        size = abs(order.executed.remsize)
        if size != int(size):
            self._record_for(ticket, self._desk.refuse, code, side, size, None, ticket.at, "lot_size", ticket.note)
            self._refused(ticket, "lot_size")
            return
        before = len(self._desk.orders)
        ticket.at_desk = True  # until its fill (at a close: within the submit below)
        ticket.first_session = s + 1  # not worked again this session; a remainder works on from the next
        row = self._record_for(ticket, self._desk.submit, code, side, int(size), at, ticket.note, terms=terms,
                               at_label=ticket.at)
        if row is not None:
            return
        ticket.at_desk = False
        ticket.first_session = s
        reason = self._desk.orders[-1].reason if len(self._desk.orders) > before else "refused"
        if ticket.kind in PRICE_KINDS and reason in T.TRANSIENT:
            return  # limit-locked, suspended or T+1 today: it waits for the next session
        self._refused(ticket, reason)

    # --- statuses -------------------------------------------------------------------------------------
    def _order_filled(self, ticket: Ticket, row, done) -> None:
        """The desk filled (``done``: the account's Execution) or, for cash, refused the ticket's order."""
        ticket.at_desk = False
        if done is None:
            self._refused(ticket, row.reason)
            return
        order = ticket.order
        fee = self._desk.fills[-1]["fees"]
        comminfo = self.getcommissioninfo(order.data)
        price = row.price
        size = done.opened + done.closed
        # a cover's commission carries the borrow interest of the lots it closed, as Backtrader's
        # BackBroker adds credit interest to the closing commission (int2pnl): pnlcomm is net of it
        order.execute(self._arrays[ticket.code].columns["datetime"][self.session], size, price,
                      done.closed, -done.closed * done.price_before, fee + done.borrow if done.closed else 0.0,
                      done.opened, done.opened * price, fee if done.opened else 0.0,
                      comminfo.p.margin, done.pnl, done.size, done.price)
        order.addcomminfo(comminfo)
        ticket.filled += abs(size)
        done = order.status == order.Completed
        if done:
            ticket.status = "filled"
        self.notify(order)
        self._end_oco(ticket)
        if done:
            for child in ticket.children:  # a bracket: the children work from the next session
                child.waiting = False
                child.first_session = self.session + 1
            if ticket.parent is not None:
                self._end_bracket(ticket)

    def _refused(self, ticket: Ticket, reason: str) -> None:
        ticket.status, ticket.reason = "refused", reason
        order = ticket.order
        if reason in MARGIN_REASONS:
            order.margin()
        else:
            order.reject(self)
        order.addinfo(reason=reason)
        self.notify(order)
        self._end_oco(ticket)
        self._end_bracket(ticket)

    def order_ended(self, ticket: Ticket, status: str) -> None:
        """A ticket ended without a fill (:meth:`AShareBroker.end_ticket`): the order says so."""
        order = ticket.order
        if status == "expired":
            order.status = order.Expired
            order.executed.dt = order.data.datetime[0]
        else:
            order.cancel()
        if ticket.reason != "end_of_data":  # after the last session nothing is notified (as in Backtrader)
            self.notify(order)
            self._end_oco(ticket)
            self._end_bracket(ticket)

    def _sibling_at_desk(self, ticket: Ticket) -> bool:
        """Another order of its OCO group or bracket is at the market this session: its fill would
        cancel this one (Backtrader tries them one after the other), so this one waits."""
        family = list(self._groups.get(ticket.oco, ()))
        if ticket.parent is not None:
            family += ticket.parent.children
        return any(t is not ticket and t.at_desk for t in family)

    def _end_oco(self, ticket: Ticket) -> None:
        for other in self._groups.get(ticket.oco, ()):
            if other is not ticket and other.active and not other.at_desk:
                self.end_ticket(other, "cancelled", "oco")

    def _end_bracket(self, ticket: Ticket) -> None:
        """A bracket member ended: a child's fill or end, or the parent's end, cancels the others."""
        parent = ticket.parent if ticket.parent is not None else ticket
        if parent is ticket and ticket.status == "filled":
            return  # the parent filled: its children now work
        for other in [parent, *parent.children]:
            if other is not ticket and other.active and not other.at_desk:
                self.end_ticket(other, "cancelled", "bracket")

    # --- Backtrader's broker interface ----------------------------------------------------------------
    def notify(self, order) -> None:
        self.notifs.append(order.clone())

    def get_notification(self):
        return self.notifs.popleft() if self.notifs else None

    def get_orders_open(self, safe=False) -> list:
        """Backtrader orders still waiting (accepted, not yet filled, cancelled or expired)."""
        held = [o for group in self._held_groups.values() for o in group]
        return held + [t.order for t in self.book.all_active() if t.order is not None]

    def orderstatus(self, order) -> int:
        return order.status
