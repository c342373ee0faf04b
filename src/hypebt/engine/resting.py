"""Orders that wait: limit and stop orders resting across sessions, and what a strategy is told.

A strategy's limit or stop order becomes a :class:`Ticket`. Before each session's broker cycle the
:class:`RestingBook` looks at every active ticket against that session's bar (the engine knows the
whole bar; the strategy is only told the outcome): a triggered ticket (see
:mod:`hypebt.market.triggers`) is sent through the order desk, with all the A-share checks, at its
trigger price. A refusal that lasts only the session (limit-locked, T+1, suspended) leaves it
resting for the next session; any other refusal ends it. A ticket placed before the open works
from that session; one placed at the close from the next. ``good_for`` sessions (None: until
filled or cancelled) bound its life; then it expires.

:class:`OrderEvent` is what ``Strategy.on_order`` receives: one per fill, partial fill, refusal,
cancellation and expiry, with the reason code of the ledger (``orders.csv``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hypebt.market import triggers as T

SIDES = ("buy", "sell", "short", "cover")


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
    """A limit or stop order: ``kind``, ``side``, ``price``, ``shares`` (None: the whole position
    when selling or covering), ``status`` ("active", "filled", "cancelled", "refused", "expired"),
    ``reason``."""

    def __init__(self, ref: int, code: str, side: str, kind: str, price: float, shares: int | None,
                 value: float | None, first_session: int, good_for: int | None, note: str):
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
        self.price, self.shares, self.value = float(price), shares, value
        self.first_session, self.good_for, self.note = first_session, good_for, note
        self.status, self.reason = "active", ""
        self.filled = 0

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def at(self) -> str:
        """The ledger's ``at`` for this order: ``limit@10.5`` / ``stop@9.8``."""
        return f"{self.kind}@{self.price:g}"

    def last_session(self) -> int | None:
        return None if self.good_for is None else self.first_session + self.good_for - 1

    def __repr__(self) -> str:
        return (f"Ticket({self.side} {self.code} {self.kind} @ {self.price:g}, shares={self.shares}, "
                f"status={self.status}{', ' + self.reason if self.reason else ''})")


class RestingBook:
    """The active tickets of one run, in the order they were placed."""

    def __init__(self):
        self._tickets: list[Ticket] = []
        self._next = 1

    def add(self, code, side, kind, price, shares, value, first_session, good_for, note) -> Ticket:
        ticket = Ticket(self._next, code, side, kind, price, shares, value, first_session, good_for, note)
        self._next += 1
        self._tickets.append(ticket)
        return ticket

    def active(self, session_no: int) -> list[Ticket]:
        """Active tickets working in session ``session_no`` (placed for it or before)."""
        self._tickets = [t for t in self._tickets if t.active]
        return [t for t in self._tickets if t.first_session <= session_no]

    def expire(self, session_no: int) -> list[Ticket]:
        """Tickets whose last session was ``session_no``: marked expired and returned."""
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
