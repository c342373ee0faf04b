"""The one door to the market: a Backtrader broker that sends every order through the A-share checks.

:class:`AShareBroker` is a ``backtrader.BrokerBase`` subclass (Backtrader's extension point for a
broker), written against its public interface only. Whatever placed an order, it reaches the
market the same way:

- a hypebt strategy's order methods call the run's :class:`hypebt.market.orders.OrderDesk`;
- Backtrader's ``buy``, ``sell``, ``close``, ``order_target_*``, ``buy_bracket``/``sell_bracket``
  and ``cancel`` end in this broker's ``buy``/``sell``/``cancel``
  (:class:`hypebt.engine.bt_orders.BacktraderOrders`): each order becomes a ticket, worked at its
  moment through the same desk, and its ``bt.Order`` is moved through Backtrader's statuses so
  ``notify_order`` and ``notify_trade`` see it;
- limit and stop orders of both APIs rest in one :class:`hypebt.engine.resting.RestingBook`.

The desk checks, prices and fills; fills land on the run's
:class:`hypebt.market.account.Account`, the one record of cash, positions, T+1 and short lots,
which ``getcash``, ``getvalue`` and ``getposition`` read. Both are the broker's own (``_desk``,
``_account``): what a strategy reaches is :attr:`AShareBroker.account`, a read-only view, and
:meth:`AShareBroker.place`, an order of this session through every check. No method here fills
at a price or in a session its caller gives: the session is the feeds' clock's
(:meth:`AShareBroker.begin_session` checks it), a price order's price is worked out by the desk
from the order's terms and the session's bar. At the end of the run the account is reconciled
with the ledgers (:func:`hypebt.market.reconcile.reconcile`): a write that bypassed the market
fails the run.

A session, as the engine drives it (:class:`hypebt.engine.bt_adapter.AlignedCerebro`):
:meth:`begin_session` (T+1 releases, the margin check at the last close, Backtrader market
orders placed at the last close reach the market), the strategy's open hook, :meth:`next`
(Backtrader's broker cycle: price tickets, borrow interest, the open fills, then close orders
at the close), the strategy's close hook, :meth:`close_session` (cash and value recorded).
"""

from __future__ import annotations

import collections
import types

import backtrader as bt

from hypebt.engine.bt_adapter import open_trades
from hypebt.engine.bt_orders import BacktraderOrders
from hypebt.engine.resting import RestingBook, Ticket
from hypebt.market import rules as R
from hypebt.market import triggers as T
from hypebt.market.account import Account, AccountView
from hypebt.market.broker import BoardLotSizer
from hypebt.market.distributions import Distributions
from hypebt.market.orders import OrderDesk
from hypebt.market.reconcile import reconcile

_NO_ORDER = types.SimpleNamespace(p=types.SimpleNamespace(simulated=False))  # what Trade.update reads of an order
TRADE_SIDE = {"buy": "buy", "cover": "buy", "sell": "sell", "short": "sell"}
FEE_MEMO = 200_000  # fees kept per prepared data (~0.3 KiB each); beyond, each run keeps its own


class Position(bt.Position):
    """Backtrader's position of one feed (``size``, ``price``, falsy when flat), read from the
    account when asked. Called like hypebt's old ``position(code)``, it says what to use."""

    def __call__(self, *args, **kwargs):
        raise TypeError("self.position is Backtrader's position of the first feed (.size, .price, falsy when flat); "
                        "for a code's shares use self.shares(code), for its position self.getpositionbyname(code)")


def ledgers_of(broker: "AShareBroker") -> tuple[Account, OrderDesk]:
    """The engine's access to a finished run's account and order desk (their ledgers): not an
    attribute of the broker, so nothing reaches them from a strategy's ``self.broker``."""
    return broker._account, broker._desk


class AShareBroker(BacktraderOrders, bt.BrokerBase):
    """Backtrader's broker for a hypebt run (see the module docstring).

    Parameters: ``cash`` (starting cash), ``rules`` (:class:`hypebt.market.rules.Rules`),
    ``arrays`` (code -> :class:`hypebt.market.feed.FeedArrays` of the run's sessions), ``eligible``
    (codes that may be shorted, or a dated list), ``days`` (the run's sessions as dates),
    ``fee_memo`` (fees already computed for these rules, shared by a sweep's runs), ``actions`` (code ->
    its corporate actions, :mod:`hypebt.market.corporate`: credited on traded prices only).
    """

    params = (("cash", 1_000_000.0), ("rules", None), ("arrays", None), ("eligible", frozenset()), ("days", None),
              ("fee_memo", None), ("actions", None))

    def __init__(self):
        super().__init__()
        self.notifs = collections.deque()
        # The run's whole arrays (later sessions too): private, not a parameter a strategy can read.
        self._all_arrays, self.p.arrays = self.p.arrays, None
        self.start_run()

    def start(self):
        """Backtrader starts the broker at the beginning of each run: a fresh account and desk
        (the ones made with the broker serve its first run)."""
        super().start()
        if not self.fresh:
            self.start_run()

    def start_run(self) -> None:
        p = self.p
        arrays = self._all_arrays or {}
        rules = p.rules or R.DEFAULT
        self.days = list(p.days or [])
        self.startingcash = float(p.cash)
        self._account = Account(rules, p.cash, marks={c: a.columns["close"] for c, a in arrays.items()},
                                n_sessions=len(self.days), distributions=Distributions(p.actions))
        self._view = AccountView(self._account)
        memo = p.fee_memo if p.fee_memo is not None and len(p.fee_memo) < FEE_MEMO else {}
        self._desk = OrderDesk(self._account, rules, p.eligible, arrays, listener=self._on_row,
                               fill_listener=self._on_fill, fee_memo=memo, clock=self._session_now)
        # the feeds' clock (a session's date number) -> the run's session number
        first = next(iter(arrays.values()), None)
        self._session_at = {} if first is None else {float(t): i for i, t in enumerate(first.columns["datetime"])}
        self.book = RestingBook()
        self.rules, self._arrays = rules, arrays
        self.session, self.phase, self.last_closed = -1, "setup", -1
        self.row_listeners: list = []  # hypebt strategies' on_order (row, ticket)
        self.ticket_now: Ticket | None = None  # the ticket whose order the desk is recording
        self._ticket_of_row: dict[int, Ticket] = {}
        self.notifs.clear()
        self.start_orders()
        self.fresh = True  # nothing happened on them yet
        self.sized = False  # the strategies' default sizer not looked at yet (_catch_up_strategies)

    # --- what Backtrader and the strategies read (all from the account) ----------------------------
    @property
    def account(self):
        """The run's account as strategies see it: a read-only :class:`hypebt.market.account.AccountView`."""
        return self._view

    def getcash(self) -> float:
        return self._account.cash

    get_cash = getcash

    @property
    def cash(self) -> float:
        return self._account.cash

    def getvalue(self, datas=None, mkt=False, lever=False) -> float:
        """Cash plus positions at the last close (before a session's open fills) or at this session's
        close; with ``datas``, the value of those feeds' positions only."""
        if datas:
            return float(sum(self._account.position_value(self.code_of(d)) for d in datas))
        return self._account.value()

    get_value = getvalue

    def getposition(self, data) -> bt.Position:
        """A snapshot of ``data``'s position: ``size`` (negative when short) and ``price`` (the
        average fill price), falsy when flat."""
        code = self.code_of(data)
        return Position(self._account.shares(code), self._account.price(code))

    @property
    def positions(self) -> dict:
        """{feed: Position} of what is held now."""
        by_name = self.cerebro.datasbyname
        return {by_name[code]: self.getposition(by_name[code]) for code in self._account.held_codes()}

    def code_of(self, data) -> str:
        """The stock code of a feed (feeds are named by their code)."""
        code = getattr(data, "code", None)  # hypebt's feeds (ArrayFeed.code)
        if isinstance(code, str):
            return code
        names = self.__dict__.setdefault("_names", {})
        if id(data) not in names:
            names.update({id(d): name for name, d in self.cerebro.datasbyname.items()})
        return names[id(data)]

    def held(self, code: str) -> int:
        """Shares of ``code`` held (negative when short)."""
        return self._account.shares(code)

    def idle(self) -> bool:
        """Nothing held, nothing waiting at the desk or in the book, nothing to notify."""
        return self._account.flat() and not self._desk.pending_count() and not self.book and not self.notifs

    # --- the session -------------------------------------------------------------------------------
    def begin_session(self, session_no: int | None = None) -> None:
        """Before the open of the session the feeds are at (idempotent): T+1 releases and the
        maintenance margin check at the last close; Backtrader market orders placed at the last
        close reach the market. ``session_no``, if given, must be that session (the clock's, never
        a caller's: an order of another session would fill at that session's prices)."""
        clock = self._session_now()
        if session_no is not None and session_no != clock:
            raise RuntimeError(f"broker.begin_session({session_no}): the feeds are at session {clock}; the engine "
                               "opens each session in turn (orders go in with buy/sell, never to another session)")
        session_no = clock
        if session_no == self.session:
            return
        self.fresh = False
        self.session, self.phase = session_no, "open"
        self._account.mark = session_no - 1
        self._desk.new_session(self.days[session_no], session_no)
        self._catch_up_strategies()
        self.release_market_orders()

    def _catch_up_strategies(self) -> None:
        """What Backtrader's strategies cannot know of the A-share market: from the first session,
        their sizer is one board lot where it is still Backtrader's one-share default (Cerebro.addsizer
        would replace a sizer set in ``__init__``); bonus and transfer shares (送股/转增) of the session
        join their open trades of the code at no cost, as they joined the account's position (the
        same cost over more shares), so selling the whole position closes the trade."""
        strats = getattr(self.cerebro, "runningstrats", ())
        if not self.sized:
            self.sized = True
            for strat in strats:
                strat.setsizer(BoardLotSizer.instead_of(strat.getsizer(), self.rules))
        for code, n in self._account.new_shares.items():
            data = self.cerebro.datasbyname.get(code)
            for strat in strats if data is not None else ():
                trades = open_trades(strat, data)
                held, left = sum(t.size for t in trades), n
                for i, trade in enumerate(trades):  # shared by size
                    part = left if i == len(trades) - 1 else n * trade.size // held
                    left -= part
                    trade.update(_NO_ORDER, part, 0.0, 0.0, 0.0, 0.0, self.getcommissioninfo(data))

    def next(self):
        """Backtrader's broker cycle of the session, after the strategy's open hook: price tickets
        against today's bar, the borrow interest, the open fills; then the positions are valued at
        today's close and Backtrader close orders fill there."""
        s = self.session
        if s < 0 or self.phase != "open":
            return
        self.phase = "cycle"
        self._work_tickets(s)
        self._account.accrue_interest(self.days[s])
        self._desk.fill_queued()
        self._account.mark = s
        self.after_fills(s)
        self.phase = "close"

    def _session_now(self) -> int:
        """The run's session number the feeds are at (their datetime line), -1 before the first."""
        datas = self.cerebro.datas
        return self._session_at.get(float(datas[0].datetime[0]), -1) if datas and len(datas[0]) else -1

    def close_session(self, session_no: int) -> None:
        """After the strategy's close hook (idempotent): the cash and value at the close are recorded."""
        if session_no != self.last_closed and session_no >= 0 and session_no == self.session:
            self._account.close_session(session_no)
            self.last_closed = session_no

    def skip_sessions(self, first: int, stop: int) -> None:
        """Sessions ``first``..``stop - 1`` passed while idle (a sleeping strategy)."""
        self._account.skip_sessions(first, stop)
        self.session = self.last_closed = stop - 1
        self.phase = "close"

    def finish(self) -> None:
        """At the end of the data (idempotent): resting orders are cancelled (``end_of_data``), orders
        not executed too; open positions become ``open`` trades."""
        if self.phase == "finished":
            return
        self.phase = "finished"
        for ticket in self.book.all_active():
            self.end_ticket(ticket, "cancelled", "end_of_data")
        self._desk.finish()
        reconcile(self._account, self._desk.fills)  # nothing wrote the account around the market

    # --- tickets -----------------------------------------------------------------------------------
    def add_ticket(self, code, side, kind, price, shares=None, value=None, good_for=None, note="", **more) -> Ticket:
        """A resting order working from this session (placed before the open) or the next."""
        first = self.session + (0 if self.phase == "open" else 1)
        return self.book.add(code, side, kind, price, shares, value, max(first, 0), good_for, note, **more)

    # --- what a hypebt strategy's order methods call -----------------------------------------------
    def place(self, code: str, side: str, size: int, at: str = "open", note: str = ""):
        """An order of this session through every A-share check (:meth:`hypebt.market.orders.OrderDesk.
        submit`): the ledger row, or None when refused. Its price is the market's (the open, or the close)."""
        return self._desk.submit(code, side, size, at, note)

    def pending_shares(self, code: str) -> int:
        """Signed shares of ``code``'s orders accepted and not yet filled (buys and covers +)."""
        return self._desk.pending_shares(code)

    def has_pending(self, code: str) -> bool:
        """An order of ``code`` is accepted and not yet filled."""
        return self._desk.has_pending(code)

    def count_fills(self) -> int:
        """Fills so far in the run."""
        return len(self._desk.fills)

    def _record_for(self, ticket: Ticket, record, *args, **kwargs):
        """Call the desk with ``ticket`` as the origin of what it records."""
        self.ticket_now = ticket
        try:
            return record(*args, **kwargs)
        finally:
            self.ticket_now = None

    def end_ticket(self, ticket: Ticket, status: str, reason: str) -> None:
        """End an active ticket without a fill (cancelled, expired) and record it."""
        ticket.status, ticket.reason = status, reason
        self._record_for(ticket, self._desk.note_cancelled, ticket.code, ticket.side, ticket.shares or 0,
                        ticket.price, ticket.at, reason, ticket.note, status=status)
        if ticket.order is not None:
            self.order_ended(ticket, status)

    def _work_tickets(self, s: int) -> None:
        """Before the open fills: trigger, send or keep each active ticket, in the order placed."""
        for ticket in self.book.active(s):
            if not ticket.active:
                continue  # ended by another ticket's fill (OCO, bracket) earlier in this loop
            if ticket.order is not None:
                self.work_order(ticket, s)
            else:
                self._try_ticket(ticket, s)
        for ticket in self.book.expire(s):
            self._record_for(ticket, self._desk.note_cancelled, ticket.code, ticket.side, ticket.shares or 0,
                            ticket.price, ticket.at, "good_for", ticket.note, status="expired")

    def bar(self, code: str, s: int) -> R.Bar:
        c = self._arrays[code].columns
        return R.Bar(float(c["open"][s]), float(c["high"][s]), float(c["low"][s]), float(c["close"][s]))

    def _try_ticket(self, ticket: Ticket, s: int) -> None:
        """A hypebt limit or stop ticket on session ``s``."""
        code = ticket.code
        if self._arrays[code].columns["suspended"][s]:
            return  # waits: nothing trades today
        terms = T.Terms(ticket.kind, ticket.price)
        _, raw, _ = T.reach(terms, TRADE_SIDE[ticket.side], self.bar(code, s), self.rules.tick)
        if raw is None:
            return
        held = self._account.shares(code)
        if ticket.shares is not None:
            size = ticket.shares
        elif ticket.side == "sell":
            size = max(held, 0)
        elif ticket.side == "cover":
            size = max(-held, 0)
        else:
            size = R.buy_size(code, ticket.value / raw, self.rules)
        if size == 0 and ticket.side in ("sell", "cover") and self._desk.pending_shares(code):
            return  # the position it protects is still being bought (it fills in this session's cycle)
        before = len(self._desk.orders)
        order = self._record_for(ticket, self._desk.submit, code, ticket.side, size, "open", ticket.note,
                                 terms=terms, at_label=ticket.at)
        if order is not None:
            ticket.status = "filled"  # sent at its price this session; the fill event follows
            ticket.filled = size
            return
        row = self._desk.orders[-1] if len(self._desk.orders) > before else None
        reason = row.reason if row is not None else "refused"
        if reason in T.TRANSIENT:
            return  # limit-locked, T+1 or suspended today: rests for the next session
        ticket.status, ticket.reason = "refused", reason

    # --- the desk's ledger events -------------------------------------------------------------------
    def _on_row(self, row) -> None:
        """Each ledger row recorded or changed: linked to its ticket, passed to the strategies."""
        ticket = self.ticket_now
        if ticket is not None:
            self._ticket_of_row[id(row)] = ticket
        elif row.status != "submitted":
            ticket = self._ticket_of_row.pop(id(row), None)
        else:
            ticket = self._ticket_of_row.get(id(row))
        if row.status == "submitted":
            return
        for listener in self.row_listeners:
            listener(row, ticket)

    def _on_fill(self, row, execution) -> None:
        ticket = self._ticket_of_row.get(id(row))
        if ticket is not None and ticket.order is not None:
            self._order_filled(ticket, row, execution)

    # --- what hypebt does not model: one line naming what to use -------------------------------------
    def _unsupported(what: str, use: str):  # noqa: N805 (builds the methods below)
        def method(self, *args, **kwargs):
            raise NotImplementedError(f"{what} is not modelled by hypebt's A-share broker: {use}")
        method.__name__ = what.split("(")[0].split(".")[-1]
        method.__doc__ = f"Not modelled: {use}"
        return method

    set_coc = _unsupported("broker.set_coc (cheat-on-close)", "a Close order (exectype=bt.Order.Close) fills at "
                           "the next session's close; hypebt strategies fill at this close with at='close'")
    set_slippage_perc = _unsupported("broker.set_slippage_perc", "set [rules] slippage_bps in the spec")
    set_slippage_fixed = _unsupported("broker.set_slippage_fixed", "set [rules] slippage_ticks in the spec")
    set_filler = _unsupported("broker.set_filler", "set [rules] volume_limit in the spec")
    setcommission = _unsupported("broker.setcommission", "set [rules] commission_rate, commission_min, stamp_duty "
                                 "and transfer_fee in the spec")
    set_cash = setcash = _unsupported("broker.setcash", "set cash in the spec")
    add_cash = _unsupported("broker.add_cash", "set cash in the spec (no deposits during a run)")
    set_fundmode = _unsupported("broker.set_fundmode", "returns come from the value at each close")
    set_shortcash = _unsupported("broker.set_shortcash", "short sales go through margin lending (融券) under [rules]")
    set_int2pnl = _unsupported("broker.set_int2pnl", "borrow interest is always in a trade's pnlcomm (Backtrader's "
                               "default int2pnl=True), in borrow.csv and each trade's borrow_fee")
    set_checksubmit = _unsupported("broker.set_checksubmit", "every order is checked by the A-share rules")
    set_eosbar = _unsupported("broker.set_eosbar", "daily bars: a Close order fills at a session's close")
    del _unsupported
