"""The one module that touches Backtrader's private internals (written against ``backtrader==1.9.78.123``).

What Backtrader does in a hypebt run, and what hypebt does (the design note is
``docs/backtrader.md``): Backtrader runs the strategy (its ``Strategy`` class, parameters, lines,
indicators, ``notify_order``/``notify_trade``, analyzers) and the clock; hypebt's broker
(:class:`hypebt.engine.broker.AShareBroker`, a ``BrokerBase`` subclass using public interfaces
only) takes every order to the A-share market. Everything private is here, each override with its
reason; :mod:`hypebt.engine.bt_pins` records the hash of the source of every Backtrader function
overridden, copied or called privately (``BACKTRADER_SOURCES``): ``tests/test_architecture.py``
fails when the installed Backtrader's differs (read the new source, adapt, update the hash).

:class:`AlignedCerebro`: the run loop of aligned feeds; :func:`share_index`, :class:`AlignedArrayFeed`: one index,
guarded reads; :class:`AlignedStrategy`: hypebt strategies' base; :func:`open_trades`: a strategy's open trades.
"""

from __future__ import annotations

import array
import contextlib
import math
import re

import backtrader as bt

from hypebt.core.errors import LookAheadError
from hypebt.engine.line_values import KnownValues, copy_values, forward_refusal, is_ahead, values_refusal
from hypebt.engine.bt_pins import BACKTRADER_PRIVATE_DATA, BACKTRADER_SOURCES, backtrader_sources  # noqa: F401
from hypebt.market.feed import ArrayFeed

# --- one index for every feed line, and the look-ahead guard ---------------------------------------

LATE_LINES = frozenset({"close", "high", "low", "volume", "openinterest"})  # not known before the open


class _Position:
    """The bar position shared by every line of every aligned feed; ``hidden``: before the open,
    when today's close, high, low and volume are not known."""

    __slots__ = ("idx", "lencount", "hidden", "trusted", "bulk")

    def __init__(self):
        self.idx, self.lencount, self.hidden, self.trusted = -1, 0, False, False
        self.bulk = False  # Backtrader's precomputation of indicators (runonce) reads whole arrays


def _date(position: _Position, stamps) -> str:
    i = position.idx
    return str(bt.num2date(stamps[i]).date()) if 0 <= i < len(stamps) else "setup"


class _AlignedLine(bt.linebuffer.LineBuffer):
    """A feed line whose index is the shared :class:`_Position` (advancing every feed by a bar is
    one step), and whose reads stop at what is known: a later bar, today's close (high, low,
    volume) before the open, or a bar before the first raise instead of returning a value; its
    ``array`` holds the known values only, and a line ahead (``close(1)``) is refused when made."""

    @property
    def array(self):  # the whole buffer only for Backtrader's precomputation (and today_readable)
        pos = self._position
        return self._raw if pos.bulk or pos.trusted else KnownValues(self._raw, self._known, self._refusal_at)

    def buflen(self):  # the number of sessions (the calendar is known), not of values known
        return len(self._raw) - self.extension

    def _known(self) -> int:  # before the open, today's close (high, low, volume) is not known
        pos = self._position
        return pos.idx + (0 if pos.hidden and self._late else 1)

    def _refusal_at(self, i) -> Exception:
        return self._refusal(i - self._position.idx)

    @array.setter
    def array(self, value):
        self._raw = value

    def __call__(self, ago=None):
        if is_ahead(ago):
            raise forward_refusal(f"{self._code}.{self._field}", ago)
        return super().__call__(ago)

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

    def __getitem__(self, ago):
        pos = self._position
        i = pos.idx + ago
        if (ago > 0 or i < 0 or (ago == 0 and pos.hidden and self._late)) and not pos.trusted:
            raise self._refusal(ago)
        return self._raw[i]

    def get(self, ago=0, size=1):
        pos = self._position
        if (ago > 0 or pos.idx < 0 or (ago == 0 and pos.hidden and self._late)) and not pos.trusted:
            raise self._refusal(ago)
        end = pos.idx + ago + 1
        return copy_values(self._raw[max(end - size, 0):end])

    def _refusal(self, ago) -> Exception:
        pos, name = self._position, self._field
        day = _date(pos, self._stamps)
        if pos.idx < 0:
            return LookAheadError(f"{self._code}.{name}[{ago}]: no bar is known before the first session "
                                  "(build indicators in __init__, read values in next)")
        if ago > 0:
            return LookAheadError(f"{self._code}.{name}[{ago}] on {day}: a positive index is a later bar; "
                                  "use [0] for the latest bar, [-1] for the one before")
        if ago == 0:
            return LookAheadError(f"{self._code}: today's {name} ({day}) is not known before the open "
                                  f"(next_open/on_open): use {name}[-1] for the last session's, open[0] for "
                                  "today's open, or decide in next/on_close")
        return IndexError(f"{self._code}.{name}[{ago}] on {day}: no bar {-ago} session(s) back yet; "
                          "add warmup = N (sessions) to the spec to load bars before start")


class _IndicatorLine(bt.linebuffer.LineBuffer):
    """An indicator's line, computed over the whole data before the run (``runonce``): a read of a
    later value (``[1]``), or before its first value, would return one not known yet: refused."""

    def __getitem__(self, ago):
        i = self.idx + ago
        if ago > 0 or i < 0:
            raise LookAheadError(
                f"an indicator read [{ago}] {'a later bar' if ago > 0 else 'before its first value'}: its values "
                "are computed over the whole data before the run; use [0] for the latest known, [-1] before it")
        return self._raw[i]

    def get(self, ago=0, size=1):
        if ago > 0:
            raise LookAheadError(f"an indicator's get(ago={ago}) reads later bars; use ago <= 0")
        end = self.idx + ago + 1
        return copy_values(self._raw[max(end - size, 0):end])


def _guard_indicators(owner) -> None:
    """Swap the lines of ``owner``'s indicators (and theirs) to :class:`_IndicatorLine`; every line of
    theirs (operations and delays too: ``close - open``, ``close(-1)``) hands out only its known
    values as ``array`` (:class:`hypebt.engine.line_values.KnownValues`)."""
    for ind in getattr(owner, "_lineiterators", {}).get(bt.LineIterator.IndType, ()):
        for line in ind.lines:
            if type(line) is bt.linebuffer.LineBuffer:
                line.__class__ = _IndicatorLine
            raw = line.__dict__.get("array")
            if isinstance(raw, array.array):
                line._raw, line.array = raw, KnownValues(raw, _count(line), _refusal(line))
        _guard_indicators(ind)


def _count(line):
    return lambda: line.idx + 1


def _refusal(line):
    return lambda i: values_refusal(line.idx + 1, i)


def _refuse_forward_lines(owner, where: str = "") -> None:
    """A line ahead (``close(1)``, ``sma(1)``) among ``owner``'s indicators (and theirs) is refused
    before Backtrader computes it: its values are later bars. (Made on a feed's line, or in a
    hypebt strategy, it was refused when made, naming the line of code.)"""
    for ind in getattr(owner, "_lineiterators", {}).get(bt.LineIterator.IndType, ()):
        if isinstance(ind, bt.linebuffer.LineActions) and is_ahead(getattr(ind, "ago", None)):
            raise forward_refusal(f"{_made_in(owner)}: a line of {type(ind.a).__name__}", ind.ago)
        _refuse_forward_lines(ind)


def _made_in(owner) -> str:
    """``file:line in Class.__init__`` where ``owner``'s lines are built."""
    init = type(owner).__init__
    code = getattr(init, "__code__", None)
    if code is None:
        return type(owner).__name__
    return f"{code.co_filename}:{code.co_firstlineno} in {type(owner).__name__}.__init__"


def share_index(feeds) -> _Position:
    """One index for ``feeds`` (all delivering every session): their lines share it from preload on."""
    position = _Position()
    for feed in feeds:
        feed.__dict__["_hypebt_position"] = position
    return position


@contextlib.contextmanager
def today_readable(data):
    """Let Backtrader's own code read the feed unguarded (``bt.Order`` takes a reference price from
    today's close when it is created; before the open the broker replaces it with the last close)."""
    pos = data.__dict__.get("_aligned")
    if pos is None or pos.trusted:
        yield
        return
    pos.trusted = True
    try:
        yield
    finally:
        pos.trusted = False


class AlignedArrayFeed(ArrayFeed):
    """:class:`ArrayFeed` whose lines share one index (:func:`share_index`) and guard their reads."""

    def reset(self):  # LineSeries.reset gives every line a new, empty array for preload to refill
        if self.__dict__.get("_aligned") is not None and self.__dict__.get("_bufs") is not None:
            # Kept aligned between runs (sweeps): the lines hold this feed's buffers already;
            # moving the shared index to the start is the whole reset.
            position = self._aligned
            position.idx, position.lencount, position.hidden = -1, 0, False
            self._kept_loaded = True
            return
        self._kept_loaded = False
        super().reset()

    def preload(self):
        if self.__dict__.get("_kept_loaded"):
            self._i = self._n  # loaded: the buffers are in place and the index is at the start
            return
        super().preload()
        position = self.__dict__.setdefault("_hypebt_position", _Position())
        for name, line in zip(self.lines.getlinealiases(), self.lines):
            if type(line) is not bt.linebuffer.LineBuffer or len(line.array) != self._n:
                raise RuntimeError("AlignedArrayFeed: its lines must be freshly preloaded to share an index")
            line.__class__ = _AlignedLine  # one shared index, guarded reads (see _AlignedLine)
            line._raw = line.__dict__.pop("array")
            line._position, line._field, line._code = position, name, self.code
            line._late, line._stamps = name in LATE_LINES, self._stamps
        self._aligned = position

    def release(self) -> None:
        """Give the lines back their own index (the feed is not reused with the same others)."""
        position = self.__dict__.pop("_aligned", None)
        if position is None:
            return
        for line in self.lines:
            line.__class__ = bt.linebuffer.LineBuffer
            line._idx, line.lencount = position.idx, position.lencount
            line.__dict__["array"] = line.__dict__.pop("_raw")
        self.__dict__.pop("_hypebt_position", None)

    def __call__(self, ago=None, line=-1):  # data(1): a line ahead, refused when made
        if is_ahead(ago):
            raise forward_refusal(f"{self.code}", ago)
        return super().__call__(ago, line)

    def advance_peek(self):
        i = self._aligned.idx + 1 if "_aligned" in self.__dict__ else self.lines.datetime.idx + 1
        return self._stamps[i] if i < self._n else float("inf")

    def advance(self, size=1, datamaster=None, ticks=True):
        # Daily bars here are never replayed nor resampled: skip Backtrader's per-bar tick
        # bookkeeping. A feed alone moves its own position; shared, the Cerebro moves it once.
        position = self.__dict__.get("_aligned")
        if position is not None:
            position.idx += size
            position.lencount += size
        else:
            for line in self.lines:
                line.advance(size)


class AlignedCerebro(bt.Cerebro):
    """Cerebro whose loop knows every feed is aligned to the same sessions (see the module docstring).

    ``hypebt_warmup``: bars at the head of the feeds before the run's first session (the spec's
    ``warmup``): lines and indicators step through them, nothing else runs. ``hypebt_sleep``:
    skip sessions a flat, idle hypebt strategy declared it does not need. ``hypebt_keep_aligned``:
    the feeds run together again (sweeps), their shared index stays.
    """

    hypebt_warmup = 0
    hypebt_sleep = False
    hypebt_keep_aligned = False

    def _runonce(self, runstrats):  # replaces the per-bar scan of every feed's next timestamp
        datas = self.datas
        position = datas[0].__dict__.get("_aligned")
        if position is None or any(d.__dict__.get("_aligned") is not position for d in datas):
            raise RuntimeError("AlignedCerebro needs AlignedArrayFeeds sharing one index (share_index)")
        for strat in runstrats:
            _refuse_forward_lines(strat)
            position.bulk = True
            try:
                strat._once()  # Backtrader's own precomputation of indicators, as in Cerebro._runonce
            finally:
                position.bulk = False
            strat.reset()
            _guard_indicators(strat)  # their values are all computed now: later ones must not be read
        try:
            self._aligned_loop(runstrats, datas[0]._stamps, position)
            # the end of the data (or a strategy's cerebro.runstop()): the run is finished before
            # Backtrader calls the strategies' stop()
            self.broker.finish()
            for strat in runstrats:
                end = getattr(strat, "end_of_run", None)
                if end is not None:
                    end()
        finally:
            position.hidden = False
            if not self.hypebt_keep_aligned:
                for d in datas:
                    d.release()

    def _aligned_loop(self, runstrats, stamps, position):
        # Cerebro._runonce's sequence per bar, minus the feed scan; the session opened and closed on
        # the broker; the sessions a sleeping strategy skips at once.
        n, warm, broker = len(stamps), min(self.hypebt_warmup, len(stamps)), self.broker
        for i in range(warm):  # warm-up: the clock, the lines and the indicators only
            position.idx += 1
            position.lencount += 1
            for strat in runstrats:
                _warm_step(strat, stamps[i])
        if warm:
            for strat in runstrats:
                strat._minperstatus = strat._getminperstatus()  # as _oncepost would have left it
        sleeper = self._sleeper(runstrats)
        i = warm
        while i < n:
            s = i - warm
            if sleeper is not None and sleeper.idle():
                j = warm + sleeper.wake.next_awake(s)
                if j > i:
                    # Flat and idle until session j: nothing happens on sessions i..j-1 (no hooks,
                    # no broker work, the value is the cash): step over them in one go.
                    sleeper.skip_sessions(s, j - warm)
                    position.idx += j - i
                    position.lencount += j - i
                    i = j
                    continue
            dt0 = stamps[i]
            i += 1
            position.idx += 1
            position.lencount += 1
            broker.begin_session(s)
            self._check_timers(runstrats, dt0, cheat=True)
            position.hidden = True  # before the open: today's close, high, low, volume are unknown
            try:
                for strat in runstrats:
                    strat._oncepost_open()
                    if self._event_stop:
                        return
            finally:
                position.hidden = False
            self._brokernotify()
            if self._event_stop:
                return
            self._check_timers(runstrats, dt0, cheat=False)
            for strat in runstrats:
                strat._oncepost(dt0)
                if self._event_stop:
                    return
                self._next_writers(runstrats)
            broker.close_session(s)

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


def open_trades(strat, data) -> list:
    """A strategy's open Backtrader trades of ``data`` (bonus shares join them; nothing public lists them)."""
    return [t[-1] for t in strat._trades.get(data, {}).values() if t and t[-1].isopen]


def _warm_step(strat, dt0) -> None:
    """A warm-up bar: what ``Strategy._oncepost`` does before notifying and calling ``next``."""
    for indicator in strat._lineiterators[bt.LineIterator.IndType]:
        if len(indicator._clock) > len(indicator):
            indicator.advance()
    if strat._oldsync:
        strat.advance()
    else:
        strat.forward()
    strat.lines.datetime[0] = dt0


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

    def addindicator(self, indicator):  # a line ahead (sma(1)) made in __init__: refused there, naming the line
        if isinstance(indicator, bt.linebuffer.LineActions) and is_ahead(getattr(indicator, "ago", None)):
            raise forward_refusal(f"a line of {type(indicator.a).__name__}", indicator.ago)
        super().addindicator(indicator)

    def _getminperstatus(self):  # Backtrader's minimum-period scan of every feed, skipped when it cannot matter
        # Every feed delivers every session, so without indicators each bar is a
        # full bar: skip Backtrader's per-bar scan of all feeds' lengths.
        if self._lineiterators[bt.LineIterator.IndType]:
            return super()._getminperstatus()
        return -1

    def notifications_pending(self) -> bool:
        """Backtrader order or trade notifications not yet delivered to the strategy."""
        return bool(self._orderspending or self._tradespending)

    def skip_sessions(self, first: int, stop: int) -> None:
        """Sessions ``first``..``stop - 1`` pass while idle: the broker records them (nothing is held:
        the value is the cash), the strategy's clock moves with the feeds."""
        self.broker.skip_sessions(first, stop)
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


def strategy_params(cls) -> dict:
    """A Backtrader strategy class's parameters and defaults (its ``params`` tuple or dict, and
    those it inherits), without Backtrader's own underscored ones (``bt.SignalStrategy``'s)."""
    return {k: v for k, v in cls.params._getitems() if not k.startswith("_")}


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
