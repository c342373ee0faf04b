"""The one module that touches Backtrader's private internals (tested for ``>=1.9.78,<1.10``).

Everything else in hypebt uses Backtrader's public extension points only (``Strategy`` hooks,
``CommInfoBase._getcommission`` and ``get_credit_interest``, feeds' ``preload``/``_load``).
The overrides here exist for speed (a whole-market run steps thousands of aligned feeds) and
for A-share fills Backtrader cannot express; each says why on its line. A Backtrader upgrade
is checked here first: ``tests/test_architecture.py`` keeps private uses out of other modules.

- :class:`AlignedCerebro`: the vectorised loop for feeds that all deliver every session.
- :class:`AlignedArrayFeed`: :class:`hypebt.market.feed.ArrayFeed` stepping its lines directly.
- :class:`AShareBroker`: fills at the price and session the order checks decided.
- :class:`AlignedStrategy`: the base of :class:`hypebt.engine.strategy.Strategy`.
"""

from __future__ import annotations

import array
import math
import re

import backtrader as bt

from hypebt.market.feed import ArrayFeed


class _Position:
    """The bar position shared by every line of every aligned feed."""

    __slots__ = ("idx", "lencount")

    def __init__(self):
        self.idx, self.lencount = -1, 0


class _AlignedLine(bt.linebuffer.LineBuffer):
    """A feed line whose index is the shared :class:`_Position`: advancing every
    feed by a bar is then one step instead of one per line of every feed."""

    @property
    def _idx(self):  # LineBuffer's private index, redirected to the shared position
        return self._position.idx

    @_idx.setter
    def _idx(self, value):
        self._position.idx = value

    @property
    def lencount(self):
        return self._position.lencount

    @lencount.setter
    def lencount(self, value):
        self._position.lencount = value


class AlignedCerebro(bt.Cerebro):
    """Cerebro whose vectorised loop knows every feed is aligned to the same sessions.

    Backtrader's ``_runonce`` peeks at every feed's next timestamp each bar to
    find which feeds move; hypebt's feeds (:class:`hypebt.market.feed.ArrayFeed`) all
    deliver every session, so each bar simply advances them all. Everything
    else (cheat-on-open, broker cycle, strategy, analyzers, timers) is
    Backtrader's own sequence.
    """

    def _runonce(self, runstrats):  # replaces the per-bar scan of every feed's next timestamp
        for strat in runstrats:
            strat._once()  # Backtrader's own precomputation of indicators, as in Cerebro._runonce
            strat.reset()
        datas = self.datas
        stamps = datas[0]._stamps  # hypebt's ArrayFeed attribute: the sessions' date numbers
        position = datas[0].__dict__.get("_hypebt_position")  # set by _align, on feeds kept aligned
        if position is None or position.idx != -1 or any(d.__dict__.get("_hypebt_position") is not position
                                                          for d in datas):
            position = self._align(datas, len(stamps))
        try:
            self._aligned_loop(runstrats, stamps, position)
        finally:
            if not self.hypebt_keep_aligned:
                # Give the lines back their own index (the feeds may run in another Cerebro next).
                for d in datas:
                    d._hypebt_position = None
                    for line in d._all_lines:
                        line.__class__ = bt.linebuffer.LineBuffer
                        line._idx, line.lencount = position.idx, position.lencount

    # engine.run sets it for feeds reused run after run with the same others (sweeps): their lines
    # then keep sharing one index, and the next run finds them aligned (Backtrader's reset and
    # preload move that index back to the start, as they would each line's own).
    hypebt_keep_aligned = False

    @staticmethod
    def _align(datas, n: int) -> _Position:
        position = _Position()
        for d in datas:
            for line in d._all_lines:
                # LineBuffer's private index must be untouched and the arrays preloaded to swap safely
                if type(line) is not bt.linebuffer.LineBuffer or line._idx != -1 or len(line.array) != n:
                    raise RuntimeError("AlignedCerebro needs preloaded ArrayFeeds aligned to the same sessions")
                line.__class__ = _AlignedLine  # one shared index for every line (see _AlignedLine)
                line._position = position
        for d in datas:
            d._hypebt_position = position
        return position

    hypebt_sleep = False  # engine.run sets it: skip sessions a flat, idle strategy declared it does not need

    def _aligned_loop(self, runstrats, stamps, position):
        # Cerebro._runonce's sequence per bar, private calls and all, minus the feed scan; and
        # the sessions a sleeping strategy skips at once.
        n = len(stamps)
        sleeper = self._sleeper(runstrats)
        i = 0
        while i < n:
            if sleeper is not None and sleeper.idle():
                j = sleeper.wake.next_awake(i)
                if j > i:
                    # Flat and idle until session j: nothing happens on sessions i..j-1 (no
                    # hooks, no broker work, the value is the cash): step over them in one go.
                    sleeper.skip_sessions(i, j)
                    position.idx += j - i
                    position.lencount += j - i
                    i = j
                    continue
            dt0 = stamps[i]
            i += 1
            position.idx += 1
            position.lencount += 1
            self._check_timers(runstrats, dt0, cheat=True)
            if self.p.cheat_on_open:
                for strat in runstrats:
                    strat._oncepost_open()
                    if self._event_stop:
                        return
            self._brokernotify()
            if self._event_stop:
                return
            self._check_timers(runstrats, dt0, cheat=False)
            for strat in runstrats:
                strat._oncepost(dt0)
                if self._event_stop:
                    return
                self._next_writers(runstrats)

    def _sleeper(self, runstrats):
        """The strategy that may sleep, or None: sleeping on, one hypebt strategy, and nothing
        else that must see every session (indicators, observers, timers, writers)."""
        if not self.hypebt_sleep or len(runstrats) != 1 or not isinstance(runstrats[0], AlignedStrategy):
            return None
        strat = runstrats[0]
        if getattr(strat, "wake", None) is None or self._timers or self._timerscheat or self.runwriters:
            return None
        if strat._lineiterators[bt.LineIterator.IndType] or strat.observers:  # they step every bar
            return None
        return strat


class AlignedArrayFeed(ArrayFeed):
    """:class:`ArrayFeed` whose bar step moves its lines' indexes directly.

    Used when Backtrader steps the feeds itself (a Cerebro other than :class:`AlignedCerebro`).
    """

    def reset(self):  # LineSeries.reset gives every line a new, empty array for preload to refill
        position = self.__dict__.get("_hypebt_position")
        if position is not None and self.__dict__.get("_bufs") is not None:
            # Kept aligned by AlignedCerebro between runs (sweeps): the lines hold this feed's
            # buffers already; moving the shared index to the start is the whole reset.
            position.idx, position.lencount = -1, 0
            self._kept_loaded = True
            return
        self._kept_loaded = False
        super().reset()

    def preload(self):
        if self.__dict__.get("_kept_loaded"):
            self._i = self._n  # loaded: the buffers are in place and the index is at the start
            return
        super().preload()

    def advance_peek(self):
        i = self._dt_line._idx + 1  # LineBuffer's private index: the next bar's position
        return self._stamps[i] if i < self._n else float("inf")

    def advance(self, size=1, datamaster=None, ticks=True):
        # Daily bars here are never replayed nor resampled: skip Backtrader's
        # per-bar tick bookkeeping and move every line's index directly (what
        # LineBuffer.advance does, without the method calls).
        for line in self._all_lines:
            line._idx += size
            line.lencount += size


class AShareBroker(bt.brokers.BackBroker):
    """BackBroker that fills at the price and date the order checks set.

    ``order.info['fill_price']`` is set by :mod:`hypebt.market.orders` after the
    limit, lot, T+1, suspension and short checks; Backtrader's own slippage and
    cash check are not used. At-close orders are filled at once
    (:meth:`fill_now`), orders at the open in this session's broker cycle.
    The CommInfo (:class:`hypebt.market.broker.AShareCommInfo`) is told the trade date of
    each fill: the stamp duty changed on 2023-08-28.
    """

    def _try_exec_market(self, order, popen, phigh, plow):  # the order checks chose the price
        price = order.info.get("fill_price")
        if price is None:
            return super()._try_exec_market(order, popen, phigh, plow)
        self._execute(order, ago=0, price=price)

    bt_orders = False  # engine.run(bt_orders=True): fills go through Backtrader Order objects (the reference)
    after_cycle = None  # the order desk's fills at this open (OrderDesk.fill_queued), after the broker's cycle

    def next(self):  # BackBroker's session cycle (borrow interest, its own orders), then the desk's fills
        if self.bt_orders or self.pending or self.submitted or self._toactivate or self._userhist or self._fundhist:
            super().next()  # Backtrader's whole cycle: it has orders (or histories) of its own to process
        else:
            self._cycle_without_orders()
        if self.after_cycle is not None:
            self.after_cycle()

    def _cycle_without_orders(self) -> None:
        """BackBroker.next when no Backtrader order exists (hypebt's direct fills): the borrow
        interest, then the value. What BackBroker.next also does is skipped because it is nothing
        for stock-like positions: the interest of a long is 0.0 (AShareCommInfo), the end-of-bar
        cash adjustment is 0.0, and its order queues are empty. Same cash, same value, bit for bit."""
        credit = 0.0
        for data, pos in self.positions.items():
            if pos.size < 0:  # only shorts pay interest (AShareCommInfo.get_credit_interest)
                credit += self.getcommissioninfo(data).get_credit_interest(data, pos, data.datetime.datetime())
        self.cash -= credit
        self._get_value()

    def _get_value(self, datas=None, lever=False):  # BackBroker's valuation, without the per-position lookups
        if self.bt_orders or datas is not None or self._cash_addition or self._fundhist or not self.p.shortcash:
            return super()._get_value(datas=datas, lever=lever)  # Backtrader's own (the reference runs)
        # BackBroker._get_value for stock-like schemes with mult 1 and leverage 1 (AShareCommInfo
        # has no others): the same sums, in the same order, so the same floats.
        pos_value = pos_value_unlever = unrealized = 0.0
        for data, position in self.positions.items():
            shared = data.__dict__.get("_hypebt_position")  # an aligned ArrayFeed: its close without line lookups
            close = data._close_buf[shared.idx] if shared is not None else data.close[0]
            size = position.size
            dvalue = size * close
            dunrealized = size * (close - position.price)
            pos_value += dvalue
            unrealized += dunrealized
            if dvalue > 0:  # long position - unlever
                pos_value_unlever += dvalue - dunrealized
                pos_value_unlever += dunrealized
            else:
                pos_value_unlever += dvalue
        self._value = self.cash + pos_value_unlever
        self._fundval = self._value / self._fundshares
        self._valuemkt = pos_value_unlever
        self._valuelever = self.cash + pos_value
        self._valuemktlever = pos_value
        self._leverage = pos_value / (pos_value_unlever or 1.0)
        self._unrealized = unrealized
        return self._valuelever if lever else self._value

    def fill(self, data, size: int, price: float, day) -> bool:
        """Fill ``size`` shares of ``data`` (negative: a sale) at ``price`` on ``day``, now.

        What :meth:`_execute` does for a market order of hypebt's (stock-like, no leverage, never
        reversing a position), without an ``Order`` object: the position (Backtrader's
        ``Position.update``, average price and all), the cash (Backtrader's arithmetic, in its
        order, so the same float to the last bit) and the dated commission. What ``_execute`` also
        keeps for its ``Order`` (the interest booked to it, the futures' adjustment base) has no
        reader here. False, with nothing
        changed, when opening would leave negative cash (Backtrader's ``Margin`` status).
        ``tests/test_sleep.py`` checks every ledger row against Backtrader's own execution.
        """
        position = self.positions[data]
        held = position.size
        reduces = bool(held) and (held > 0) != (size > 0)
        if reduces and abs(size) > abs(held):
            raise RuntimeError(f"{data._name}: a fill of {size} would reverse a position of {held} (the order "
                               "checks refuse that: sell or cover first)")
        comminfo = self.getcommissioninfo(data)
        comminfo.trade_date = day
        self.cash += 0.001  # the tenth of a fen lent as in _execute below
        try:
            cash = self.cash
            if reduces:  # BackBroker._execute: the closed value at the basis plus the pnl
                basis = position.price
                cash += -size * basis + -size * (price - basis)
            else:  # opening: the value
                cash -= size * price
            cash -= comminfo.getcommission(size, price)
            ok = reduces or cash >= 0.0  # opening never leaves negative cash
            if ok:
                self.cash = cash
                position.update(size, price)
        finally:
            self.cash = round(self.cash - 0.001, 2)
            comminfo.trade_date = None
        if not position.size:
            del self.positions[data]
        return ok

    def revalue(self) -> None:
        """Recompute the portfolio value after fills (``BackBroker`` caches it at each cycle's end)."""
        self._get_value()

    def fill_now(self, order) -> None:
        """Execute an order within the current session (an at-close fill).

        Backtrader would execute it in the next session's cycle, after that
        session's borrow fee and with the position invisible at its open; filling
        it here keeps positions, T+1, borrow days and the day's value right.
        """
        self.pending.remove(order)
        self._execute(order, ago=0, price=order.info["fill_price"])  # Backtrader has no public fill
        self._get_value()  # the analyzers read this session's value after the fill

    def notify(self, order):  # BackBroker.notify queues a copy of the order at every status change
        # hypebt's order desk acts only on an order's final status (filled, refused, cancelled),
        # and a final order never changes again: queue it as it is, and skip the intermediate
        # statuses (submitted, accepted), which nothing reads. Saves two copies per order.
        if order.status in (order.Submitted, order.Accepted):
            return
        self.notifs.append(order)

    def _ocoize(self, order, oco):  # BackBroker makes every order its own one-cancels-other group
        # ... and then, at each fill, scans every pending order for members of that group (none:
        # hypebt places no OCO orders): a cost growing with the pending orders, for nothing.
        if oco is not None:
            super()._ocoize(order, oco)

    def _ococheck(self, order):  # the group lookup of orders that have none (see _ocoize)
        if order.ref in self._ocos:
            super()._ococheck(order)

    def held(self, data) -> int:
        """Shares held of ``data`` (negative when short), without creating an empty position."""
        pos = self.positions.get(data)
        return int(pos.size) if pos is not None else 0

    def _execute(self, order, ago=None, price=None, cash=None, position=None, dtcoc=None):  # dated fees, fen cash
        comminfo = self.getcommissioninfo(order.data)
        comminfo.trade_date = order.data.datetime.date(0)
        # Cash is whole fen (prices, fees and borrow are all in fen). Backtrader
        # compares float sums with 0, so a buy costing exactly the cash would be
        # refused for -1e-13: lend it a tenth of a fen, then round back to the fen.
        self.cash += 0.001
        try:
            super()._execute(order, ago=ago, price=price, cash=cash, position=position, dtcoc=dtcoc)
        finally:
            self.cash = round(self.cash - 0.001, 2)
            comminfo.trade_date = None  # a commission outside a fill has no date: an error, not today
        # Backtrader values every position it has ever held at every bar: drop flat ones.
        pos = self.positions.get(order.data)
        if pos is not None and not pos.size:
            del self.positions[order.data]


_DATA_NAME = re.compile(r"data(\d*)(?:_(\w+))?")


class _LazyDataNames(type(bt.Strategy)):
    """Backtrader's strategy metaclass, minus the eager per-feed attribute names.

    ``MetaLineIterator.donew`` sets ``data{i}``, ``data{i}_{line}`` and ``data{i}_{n}`` for every
    line of every feed (15 attributes a feed, ~10 ms a run over 300 feeds, for names hypebt's
    strategies rarely use): here the feeds are kept out of that loop and set as Backtrader sets
    them (``datas``, ``ddatas``, ``data``, ``dnames``); the names resolve on first use
    (:meth:`AlignedStrategy.__getattr__`).
    """

    def donew(cls, *args, **kwargs):
        n = 0
        while n < len(args) and isinstance(args[n], bt.LineRoot):
            n += 1
        if n == 0 or n < len(args):  # positional parameters after the feeds: Backtrader's own way
            return super().donew(*args, **kwargs)
        _obj, rest, kwargs = super().donew(**kwargs)  # MetaLineIterator.donew without feeds
        _obj.datas = [bt.lineseries.LineSeriesMaker(d) for d in args]
        _obj.ddatas = {d: None for d in _obj.datas}
        _obj.data = _obj.datas[0]
        _obj.dnames = bt.utils.DotDict([(d._name, d) for d in _obj.datas if getattr(d, "_name", "")])
        return _obj, rest, kwargs


class AlignedStrategy(bt.Strategy, metaclass=_LazyDataNames):
    """``bt.Strategy`` with the private touches hypebt's strategies need."""

    def __getattr__(self, name):  # the per-feed names _LazyDataNames did not set eagerly
        match = _DATA_NAME.fullmatch(name)
        datas = self.__dict__.get("datas")
        if match is not None and datas:
            index, line = match.groups()
            i = int(index) if index else 0
            if (index or line is not None) and i < len(datas):
                data = datas[i]
                if line is None:
                    value = data
                elif line.isdigit() and int(line) < data.lines.size():
                    value = data.lines[int(line)]
                elif line in data.lines.getlinealiases():
                    value = getattr(data.lines, line)
                else:
                    return super().__getattr__(name)
                setattr(self, name, value)  # as Backtrader would have
                return value
        return super().__getattr__(name)

    def _getminperstatus(self):  # Backtrader's minimum-period scan of every feed, skipped when it cannot matter
        # Every feed delivers every session, so without indicators each bar is a
        # full bar: skip Backtrader's per-bar scan of all feeds' lengths.
        if self._lineiterators[bt.LineIterator.IndType]:
            return super()._getminperstatus()
        return -1

    def _addnotification(self, order, quicknotify=False):  # Strategy's order-notification intake
        # Backtrader also books its own Trade objects here (a copy of each at every change);
        # hypebt keeps its trades in the order desk and reads none of them: pass the order on.
        if not order.p.simulated:
            self._orderspending.append(order)
        if quicknotify:
            self._notify(qorders=[order], qtrades=[])

    def idle(self) -> bool:
        """Backtrader's side of "nothing held, nothing waiting": no position, no order at the
        broker, no notification to deliver (hypebt's Strategy adds its own order state)."""
        broker = self.broker
        return not (broker.positions or broker.pending or broker.notifs or self._orderspending
                    or self._tradespending)

    def skip_sessions(self, first: int, stop: int) -> None:
        """Sessions ``first``..``stop - 1`` pass while idle: their equity rows are the cash and the
        value (nothing is held: the value is the cash), the strategy's clock moves with the feeds."""
        self._eq_cash[first:stop] = self.broker.getcash()
        self._eq_value[first:stop] = self.broker.getvalue()
        self._eq_n = stop
        n = stop - first
        for line in self.lines:  # the strategy's own lines, as _oncepost would per bar
            if type(line.array) is array.array:  # LineBuffer.forward(size=n), one extend for n appends
                line.idx += n
                line.lencount += n
                line.array.extend(array.array("d", (math.nan,)) * n)
            else:
                line.forward(size=n)
        self.session_no = stop - 1
        self.sessions_skipped += stop - first

    def renotify_fund(self) -> None:
        """Tell the analyzers this session's cash and value again (after at-close fills: Backtrader
        told them before the strategy's ``next``, so TimeReturn's return for today includes them)."""
        broker = self.broker
        cash, value = broker.getcash(), broker.getvalue()
        for analyzer in self.analyzers:
            analyzer._notify_fund(cash, value, broker.fundvalue, broker.fundshares)  # no public re-notify


def declarations(cls) -> dict:
    """What a strategy class's body declared that Backtrader's metaclasses turned into generated
    classes (``params``, ``lines``, ``plotinfo``, ``plotlines``), back as the plain values a class body
    holds: rebuilding the class with them in a fresh process makes the metaclasses generate those
    classes there (a class of a notebook cell travels to sweep workers this way, see
    :mod:`hypebt.engine.portable`). Reads Backtrader's ``_getpairs``/``_getlines``."""
    base = cls.__mro__[1]
    own_lines = [ln for ln in cls.lines._getlines() if ln not in base.lines._getlines()]
    return {"params": tuple(cls.params._getpairs().items()), "lines": tuple(own_lines),
            "plotinfo": dict(cls.plotinfo._getpairs()), "plotlines": dict(cls.plotlines._getpairs())}
