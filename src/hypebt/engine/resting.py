"""Orders that wait, and what a strategy is told about its orders.

A :class:`Ticket` is an order waiting for its moment: a hypebt strategy's limit or stop order, or
any order placed with Backtrader's API (market, close, limit, stop, stop-limit, trailing stop,
with ``valid``, OCO groups and bracket parents and children; see
:mod:`hypebt.engine.bt_orders`). The broker (:class:`hypebt.engine.broker.AShareBroker`) keeps
them in one :class:`RestingBook` and works them in the order they were placed: before each
session's open fills, a price ticket is looked at against that session's bar (the engine knows
the whole bar; the strategy is only told the outcome) and, triggered (see
:mod:`hypebt.market.triggers`), sent through the order desk with all the A-share checks at its
trigger price. A refusal that lasts only the session (limit-locked, T+1, suspended) leaves it
resting for the next session; any other refusal ends it. A ticket placed before the open works
from that session; one placed at the close from the next. A hypebt ticket's ``good_for``
sessions (None: until filled or cancelled) bound its life; a Backtrader order's ``valid``.

:class:`OrderEvent` is what ``Strategy.on_order`` receives: one per fill, partial fill, refusal,
cancellation and expiry, with the reason code of the ledger (``orders.csv``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hypebt.market import triggers as T

SIDES = ("buy", "sell", "short", "cover")
# What a Backtrader order may be (Order.ExecTypes, lower case, those hypebt models)
BT_KINDS = ("market", "close", "limit", "stop", "stoplimit", "stoptrail", "stoptraillimit")


@dataclass(frozen=True)
class OrderEvent:
    """A change of an order's status, as the ledger records it.

    ``status``: "filled", "partial" (part filled; ``size`` is the part), "refused", "cancelled"
    (by the strategy, the market or the end of the data) or "expired" (a ticket's ``good_for``
    ran out). ``reason`` is the ledger's code (``t_plus_1``, ``limit_up``, ``cash``, ...);
    ``ticket`` the limit or stop order it belongs to, if any.
    """

    date: dt.date
    code: str
    side: str
    size: int
    price: float | None
    at: str
    status: str
    reason: str = ""
    note: str = ""
    ticket: "Ticket | None" = None


class Ticket:
    """An order waiting for its moment: ``kind``, ``side``, ``price``, ``shares`` (None: the whole
    position when selling or covering), ``status`` ("active", "filled", "cancelled", "refused",
    "expired"), ``reason``.

    A Backtrader order's ticket also has ``order`` (the ``bt.Order``), ``side`` "buy" or "sell"
    (the desk's side is decided when it reaches the market), ``plimit``, the trail, ``valid`` (a
    Backtrader date number, or None), ``oco`` (its group's key) and ``parent``/``children``
    (a bracket: the children wait until the parent has filled).
    """

    def __init__(self, ref: int, code: str, side: str, kind: str, price: float | None, shares: int | None,
                 value: float | None, first_session: int, good_for: int | None, note: str, *, order=None,
                 plimit: float | None = None, trail: tuple = (None, None), valid: float | None = None):
        if order is None:
            if side not in SIDES:
                raise ValueError(f"side must be one of {SIDES}, got {side!r}")
            if kind not in T.KINDS:
                raise ValueError(f"order kind must be one of {T.KINDS}, got {kind!r}")
            if not (isinstance(price, (int, float)) and price > 0):
                raise ValueError(f"a {kind} order needs a positive price, got {price!r}")
            if good_for is not None and (isinstance(good_for, bool) or not isinstance(good_for, int) or good_for < 1):
                raise ValueError(f"good_for is a number of sessions >= 1 (or None: until cancelled), got {good_for!r}")
            if shares is not None and (isinstance(shares, bool) or not isinstance(shares, int) or shares <= 0):
                raise ValueError(f"shares must be a whole number > 0 (or None), got {shares!r}")
        self.ref, self.code, self.side, self.kind = ref, code, side, kind
        self.price = None if price is None else float(price)
        self.shares, self.value = shares, value
        self.first_session, self.good_for, self.note = first_session, good_for, note
        self.status, self.reason = "active", ""
        self.filled = 0
        self.order = order
        self.plimit = plimit
        self.trail = trail  # (amount, percent) of a trailing stop
        self.valid = valid
        self.triggered = False  # a stop-limit whose stop was reached: a limit order from then on
        self.oco = None
        self.parent: Ticket | None = None
        self.children: list[Ticket] = []
        self.waiting = False  # a bracket child until its parent has filled
        self.at_desk = False  # a Backtrader order sent to this session's market, not yet filled

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def at(self) -> str:
        """The ledger's ``at`` for this order: ``open``, ``close``, ``limit@10.5``, ``stop@9.8`` ..."""
        if self.kind == "market":
            return "open"
        if self.kind == "close":
            return "close"
        if self.kind in ("stoplimit", "stoptraillimit"):
            return f"{self.kind}@{self.price:g}/{self.plimit:g}"
        return f"{self.kind}@{self.price:g}"

    def last_session(self) -> int | None:
        return None if self.good_for is None else self.first_session + self.good_for - 1

    def __repr__(self) -> str:
        price = "" if self.price is None else f" @ {self.price:g}"
        return (f"Ticket({self.side} {self.code} {self.kind}{price}, shares={self.shares}, "
                f"status={self.status}{', ' + self.reason if self.reason else ''})")


class RestingBook:
    """The active tickets of one run, in the order they were placed."""

    def __init__(self):
        self._tickets: list[Ticket] = []
        self._next = 1

    def add(self, code, side, kind, price, shares, value, first_session, good_for, note, **more) -> Ticket:
        ticket = Ticket(self._next, code, side, kind, price, shares, value, first_session, good_for, note, **more)
        self._next += 1
        self._tickets.append(ticket)
        return ticket

    def active(self, session_no: int) -> list[Ticket]:
        """Active tickets working in session ``session_no`` (placed for it or before, not waiting
        for a bracket parent)."""
        self._tickets = [t for t in self._tickets if t.active]
        return [t for t in self._tickets if t.first_session <= session_no and not t.waiting]

    def expire(self, session_no: int) -> list[Ticket]:
        """hypebt tickets whose last session was ``session_no``: marked expired and returned."""
        out = []
        for t in self._tickets:
            last = t.last_session()
            if t.active and last is not None and last <= session_no:
                t.status, t.reason = "expired", "good_for"
                out.append(t)
        return out

    def pending_codes(self) -> set[str]:
        return {t.code for t in self._tickets if t.active}

    def all_active(self) -> list[Ticket]:
        return [t for t in self._tickets if t.active]

    def __bool__(self) -> bool:
        return any(t.active for t in self._tickets)
