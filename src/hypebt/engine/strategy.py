"""The strategy base class, and finding strategies by file name.

A strategy is a file ``strategies/<name>.py`` with one class deriving from
:class:`Strategy`, its parameters declared in one dict ``PARAMS``::

    from hypebt import Strategy

    class BuyAndHold(Strategy):
        PARAMS = {"fraction": 0.95}

        def on_open(self, day):
            if self.session_no == 0:
                for code in self.universe:
                    self.buy_value(code, self.equity * self.cfg.fraction / len(self.universe))

Two hooks, one per moment a real trader acts:

- :meth:`Strategy.on_open` runs before a session's open; orders fill at that
  session's open. It may look at the previous sessions and today's open
  (known from the call auction), the day's limit prices and suspension, not at
  today's high, low, close or volume: reading them raises
  :class:`hypebt.core.errors.LookAheadError`, which ends the run (exit code 2)
  with the strategy file and line.
- :meth:`Strategy.on_close` runs at a session's close; orders with
  ``at="close"`` fill at that close (for news known during the session),
  other orders wait for the next open.

What a strategy may read (every accessor stops at the current moment, see :mod:`hypebt.engine.window`):
:meth:`Strategy.bar`, :meth:`Strategy.history`, indicators made with :meth:`Strategy.I`, :meth:`Strategy.holding`
(cost basis with fees and slippage), :meth:`Strategy.name`, :meth:`Strategy.benchmark_returns`; :meth:`Strategy.record`
and :meth:`Strategy.log` write into the run's outputs. Every order goes through the A-share checks of the broker.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import inspect
import sys
import types
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import backtrader as bt
import numpy as np
import pandas as pd

from hypebt.core.errors import InputError, LookAheadError, unknown
from hypebt.core.paths import safe_name
from hypebt.engine.failures import SYSTEM_EXIT_HINT
from hypebt.engine import window as W
from hypebt.engine.bars import BarView, PreOpenBar  # noqa: F401  (importable from here too)
from hypebt.engine.book import Journal
from hypebt.engine.bt_adapter import AlignedStrategy
from hypebt.engine.bt_adapter import strategy_params as bt_strategy_params
from hypebt.engine.ordering import OrderMethods
from hypebt.engine.views import StrategyViews
from hypebt.engine.wake import Sleeping, WakeSchedule
from hypebt.market import rules as R
from hypebt.market.broker import LotSizer


@dataclass
class Context:
    """Everything a strategy is given: parameters, universe, events, calendar, rules."""

    params: dict[str, Any]
    universe: tuple[str, ...]
    names: dict[str, str]
    events: list  # hypebt.data.events.Tradable, mapped to this run's sessions
    sessions: Any  # pandas DatetimeIndex of the run
    rules: R.Rules
    eligible: frozenset = frozenset()
    arrays: dict = field(default_factory=dict)  # code -> hypebt.market.feed.FeedArrays (the run's sessions)
    days: list = field(default_factory=list)  # the sessions as datetime.date
    session_index: dict = field(default_factory=dict)  # session Timestamp -> position
    history: dict = field(default_factory=dict)  # code -> FeedArrays over warm-up + run sessions (empty: arrays)
    warmup: int = 0  # sessions of warm-up before the run's first session in ``history``
    benchmark: Any = None  # pandas Series: the benchmark's daily returns over the run's sessions
    bar_cache: dict = field(default_factory=dict)  # (code, position) -> BarView, shared by a sweep's runs


# Backtrader's per-bar hooks drive on_open/on_close: a subclass defining one would silently replace them.
DRIVERS = {"next": "on_close(self, day)", "next_open": "on_open(self, day)", "prenext": "on_close(self, day)",
           "prenext_open": "on_open(self, day)", "nextstart": "on_close(self, day)",
           "nextstart_open": "on_open(self, day)"}


class Strategy(StrategyViews, OrderMethods, AlignedStrategy, Sleeping):
    """Base class of hypebt strategies (see the module docstring; sleeping: :class:`Sleeping`)."""

    PARAMS: dict[str, Any] = {}
    params = (("ctx", None),)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own = set(Strategy.__mro__)
        for name, use in DRIVERS.items():
            # hypebt.Strategy's hook (or Backtrader's under it), else one replacing hypebt's loop
            definer = next(k for k in cls.__mro__ if name in k.__dict__)
            if definer not in own:
                mixin = definer.__name__
                how = f"defines {name}():" if definer is cls else f"gets {name}() from {mixin}, ahead of hypebt.Strategy's:"
                fix = ("rename it, or derive from backtrader.Strategy to write a plain Backtrader strategy"
                       if definer is cls else f"rename it in {mixin}, or list hypebt.Strategy before {mixin}")
                raise TypeError(f"{cls.__name__} {how} a hypebt.Strategy acts in {use}, which hypebt calls at that "
                                f"moment; {fix}")

    def __init__(self):
        ctx: Context = self.p.ctx
        self.ctx = ctx
        self.cfg = SimpleNamespace(**ctx.params)
        self.universe = tuple(ctx.universe)
        self._all_events = list(ctx.events)
        self.sessions = ctx.sessions
        self.session_index = ctx.session_index or {s: i for i, s in enumerate(ctx.sessions)}
        self._days = ctx.days or [d.date() for d in ctx.sessions]
        self.rules = ctx.rules
        # The whole arrays (and a sweep's shared bar cache) stay private; ctx and p.ctx get them cut at the moment.
        self._arrays = ctx.arrays
        self._ext = ctx.history or ctx.arrays
        self._offset = int(ctx.warmup) if ctx.history else 0
        lead = next(iter(self._ext.values())).sessions[: self._offset] if self._ext else []
        self._ext_days = [d.date() for d in lead] + list(self._days)  # dates of the extended positions
        self.p.ctx = self.ctx = replace(ctx, arrays=W.RevealedArrays(ctx.arrays, self._offset, self._moment),
                                        history=W.RevealedArrays(self._ext, 0, self._moment),
                                        events=[t for t in ctx.events if t.event.scheduled],
                                        benchmark=None, bar_cache={})  # the benchmark up to now: benchmark_returns()
        # the one record of cash, positions, T+1 and short lots, read-only (orders go in through the broker)
        self.account = self.broker.account
        self.sizer_ = LotSizer(rules=ctx.rules)
        self.session_no = -1
        self._phase = "open"
        self._waiting: dict[str, list] = {"open": [], "close": []}
        self._journal = Journal()
        self._benchmark = ctx.benchmark
        self._bar_cache = ctx.bar_cache
        self._init_orders()
        self.broker.row_listeners.append(self._ledger_event)
        self.wake = WakeSchedule(len(ctx.sessions))  # when, flat, it needs its hooks (engine.wake)
        self.sessions_skipped = 0

    # --- hooks for subclasses ------------------------------------------------------------------
    def on_open(self, day: dt.date) -> None:
        """Before the open of session ``day``: orders fill at this open."""

    def on_close(self, day: dt.date) -> None:
        """At the close of session ``day``: ``at="close"`` orders fill at this close."""

    @property
    def events(self) -> list:
        """The run's events known now (each a :class:`hypebt.data.events.Tradable`): a scheduled
        event (a planned launch, announced beforehand) from the start; any other from its first
        tradable moment on (the open of its session for news before 09:30, its close for news
        during trading), never before."""
        known = [t for t in self._all_events if t.event.scheduled or self._known(t)]
        if not any(t.known_from is not None for t in known):
            return known
        now = self._instant()  # board universes: a universe published later is sealed until then
        return [t.as_seen_at(now) for t in known]

    def _instant(self):
        """The current moment as a Beijing time: before the first session's open in ``__init__``,
        09:30 in ``on_open``, 15:00 in ``on_close`` (what a board snapshot is compared with)."""
        if self.session_no < 0:
            return self.sessions[0]
        return self.sessions[self.session_no] + (_OPEN if self._phase == "open" else _CLOSE)

    def _known(self, t) -> bool:
        i = self.session_index.get(t.session, -1)
        return i < self.session_no or (i == self.session_no and (t.at == "open" or self._phase == "close"))

    def idle(self) -> bool:
        """Nothing held and nothing waiting (then a sleeping strategy may skip sessions): nothing at
        the broker (no position, no order at the desk or resting), no deferred order, no order event
        or Backtrader notification left to deliver."""
        return (self.broker.idle() and not self._waiting["open"] and not self._waiting["close"]
                and not self._events and not self.notifications_pending())

    # --- Backtrader plumbing -------------------------------------------------------------------
    @property
    def today(self) -> dt.date:
        return self._days[self.session_no]

    def next_open(self):
        self.session_no += 1
        self.broker.begin_session(self.session_no)  # (done already when the engine's loop drives the run)
        self._phase = "open"
        self._release("open")
        self.on_open(self.today)
        self._deliver()

    def next(self):
        self._phase = "close"
        self._deliver()  # what happened since the open: its fills, triggered orders
        self._release("close")
        fills = self.broker.count_fills()
        self.on_close(self.today)
        self._deliver()
        if self.broker.count_fills() != fills:
            # At-close fills happened after Backtrader told the analyzers this session's value:
            # tell them again, so TimeReturn's return for today includes them.
            self.renotify_fund()
        self.broker.close_session(self.session_no)

    # Backtrader calls the *prenext* hooks on the first bar (its minimum-period
    # status is set only after that bar); every feed is aligned to the same
    # sessions, so every bar is a full session and gets the same hooks.
    prenext_open = next_open
    prenext = next

    def end_of_run(self) -> None:
        """After the last session (idempotent): orders still waiting are cancelled (``end_of_data``)
        and ``on_order`` hears of it. The engine calls it before Backtrader's ``stop``."""
        self.broker.finish()
        self._deliver()

    def stop(self):
        """Backtrader's end-of-run hook; a subclass may override it (the run is finished by then)."""
        self.end_of_run()

    @property
    def equity_rows(self) -> list[tuple]:
        """``(date, cash, value)`` at each session's close so far (values as the broker gave them)."""
        cash, value = self.equity_values()
        return list(zip(self._days[: len(cash)], cash.tolist(), value.tolist()))

    def equity_values(self) -> tuple[np.ndarray, np.ndarray]:
        """(cash, value) arrays at each session's close so far (kept by the account)."""
        return self.broker.account.equity_values()

    # --- what a strategy may look at -----------------------------------------------------------
    @property
    def equity(self) -> float:
        """Portfolio value at the last close (cash + positions)."""
        return self.broker.getvalue()

    @property
    def cash(self) -> float:
        return self.broker.getcash()

    def shares(self, code: str) -> int:
        """Shares of ``code`` held (negative when short). (``self.position`` is Backtrader's: the
        position of the first feed, with ``.size``, falsy when flat.)"""
        return self.broker.account.shares(code)

    def _moment(self) -> W.Moment:
        if self.session_no < 0:  # setup (__init__): the warm-up bars are known, nothing of the run
            return W.Moment(self._offset - 1, "close")
        return W.Moment(self._offset + self.session_no, self._phase)

    def bar(self, code: str, ago: int = 0) -> BarView:
        """The bar ``ago`` sessions back (``ago >= 0``; bars of the warm-up count too).

        In ``on_open``, ``bar(code)`` is today's bar before the open (a :class:`PreOpenBar`:
        ``open``, limits and ``suspended`` only); ``bar(code, 1)`` is the last full bar.
        """
        if isinstance(ago, bool) or not isinstance(ago, int):
            raise TypeError(f"bar({code!r}, {ago!r}): ago is a whole number of sessions back")
        if ago < 0:
            raise LookAheadError(f"bar({code!r}, {ago}): a negative ago is a later session; use ago >= 0")
        j = self._offset + self.session_no - ago
        if j < 0:
            raise IndexError(f"bar({code!r}, {ago}): no bar {ago} session(s) back on {self.today}; "
                             "add warmup = N (sessions) to the spec to load bars before start")
        pre_open = ago == 0 and self._phase == "open" and self.session_no >= 0
        if not pre_open:
            # A full bar never changes: one BarView per (code, position), shared by a sweep's runs
            # (bounded: a strategy reading every bar of a whole market keeps making them).
            view = self._bar_cache.get((code, j))
            if view is None:
                view = self._full_bar(code, j)
                if len(self._bar_cache) < BAR_CACHE:
                    self._bar_cache[(code, j)] = view
            return view
        c = self._ext[code].columns
        return PreOpenBar(self._ext_days[j], float(c["open"][j]), _limit(c["limit_up"][j]), _limit(c["limit_down"][j]),
                          bool(c["suspended"][j]))

    def _full_bar(self, code: str, j: int) -> BarView:
        """The whole bar at position ``j`` of the extended arrays (warm-up + run)."""
        c = self._ext[code].columns
        return BarView.of(
            date=self._ext_days[j], open=c["open"][j], high=c["high"][j], low=c["low"][j], close=c["close"][j],
            adjclose=c["adjclose"][j], volume=c["volume"][j], limit_up=_limit(c["limit_up"][j]),
            limit_down=_limit(c["limit_down"][j]), suspended=bool(c["suspended"][j]),
            closed_up=bool(c["closed_up"][j]), locked_up=bool(c["locked_up"][j]),
        )

    def pending(self, code: str) -> bool:
        """True while an order for ``code`` waits to be filled (an at-close order fills after the
        next session's ``on_open``)."""
        return self.broker.has_pending(code) or bool(self.open_orders(code))

    def tradable(self, code: str) -> bool:
        """False when ``code`` does not trade this session (suspended, not listed)."""
        return not self._arrays[code].columns["suspended"][self.session_no]

    def _sizing_price(self, code: str, at: str) -> float:
        """The price an order is sized at: what is known when it is placed (none before a stock's first bar: inf)."""
        c = self._arrays[code].columns
        i = self.session_no
        if at == "limit" and c["limit_up"][i] == c["limit_up"][i]:
            return float(min(c["open"][i], c["limit_up"][i]))  # it fills at the open or at the limit
        return float(np.nan_to_num(c["close"][i] if self._phase == "close" else c["open"][i], nan=np.inf))  # inf: 0 shares

    # --- orders --------------------------------------------------------------------------------
    def _deferred_to(self, at: str) -> str | None:
        """The phase an order must wait for: an order at the open placed at a close waits for the
        next session's open; an order at the close placed before the open waits for the close."""
        if at in ("open", "limit") and self._phase == "close":
            return "open"
        if at == "close" and self._phase == "open":
            return "close"
        return None

    def _place(self, method, code: str, *args, at: str, note: str):
        wait = self._deferred_to(at)
        if wait is not None:
            self._waiting[wait].append((method, code, args, at, note))
            return DEFERRED
        return method(code, *args, at=at, note=note, _now=True)

    def _release(self, phase: str) -> None:
        waiting, self._waiting[phase] = self._waiting[phase], []
        for method, code, args, at, note in waiting:
            method(code, *args, at=at, note=note, _now=True)

    def buy_value(self, code: str, value: float, at: str = "open", note: str = "", _now: bool = False):
        """Buy about ``value`` CNY of ``code`` in valid lots, sized at the price it will fill at.

        ``at="open"`` fills at the open (placed in ``on_close`` it waits for the next session's open);
        ``at="close"`` at the session's close; ``at="limit"`` is a limit order at limit-up at the
        open, which fills only under the ``fill_at_limit_when_opened`` rule when the board opens.
        Returns the order, :data:`DEFERRED` when it waits for the next open/close, or None when
        refused (the refusal and its reason are in the order ledger).
        """
        if not _now:
            return self._place(self.buy_value, code, value, at=at, note=note)
        shares = self.sizer_.shares_for(code, value, self._sizing_price(code, at))
        return self.broker.place(code, "buy", shares, at, note)

    def buy_shares(self, code: str, shares: int, at: str = "open", note: str = "", _now: bool = False):
        """Buy ``shares`` of ``code`` (see :meth:`buy_value` for ``at``)."""
        if not _now:
            return self._place(self.buy_shares, code, shares, at=at, note=note)
        return self.broker.place(code, "buy", shares, at, note)

    def sell_all(self, code: str, at: str = "open", note: str = "", _now: bool = False):
        """Sell the whole long position (odd lots included)."""
        if not _now:
            return self._place(self.sell_all, code, at=at, note=note)
        return self.broker.place(code, "sell", max(self.shares(code), 0), at, note)

    def short_value(self, code: str, value: float, at: str = "open", note: str = "", _now: bool = False):
        """Sell short about ``value`` CNY through margin lending (eligible codes only)."""
        if not _now:
            return self._place(self.short_value, code, value, at=at, note=note)
        shares = self.sizer_.shares_for(code, value, self._sizing_price(code, at))
        return self.broker.place(code, "short", shares, at, note)

    def cover_all(self, code: str, at: str = "open", note: str = "", _now: bool = False):
        """Buy back the whole short position."""
        if not _now:
            return self._place(self.cover_all, code, at=at, note=note)
        return self.broker.place(code, "cover", max(-self.shares(code), 0), at, note)

    def first_tradable_price(self, tradable, code: str) -> float | None:
        """The first tradable price of an event (a :class:`hypebt.data.events.Tradable`) for ``code``:
        its session's open or close. None when ``code`` did not trade then. Asking before that
        price exists (a look-ahead) raises ``ValueError``."""
        i = self.session_index.get(tradable.session)
        if i is None:
            return None
        if i > self.session_no or (i == self.session_no and tradable.at == "close" and self._phase == "open"):
            raise LookAheadError(f"the first tradable price of {tradable.event.id} is not known yet on {self.today}")
        c = self._arrays[code].columns
        if c["suspended"][i]:
            return None
        return float(c["open"][i] if tradable.at == "open" else c["close"][i])


def _limit(price) -> float | None:
    """A stored limit price as a bar shows it: None where the session has no limit (NaN)."""
    return None if price != price else float(price)


_OPEN, _CLOSE = pd.Timedelta(hours=9, minutes=30), pd.Timedelta(hours=15)
DEFERRED = "deferred"  # returned by order methods whose order waits for the next open or close
BAR_CACHE = 50_000  # full bars kept per prepared data (~1 KiB each)


# --- finding strategies ------------------------------------------------------------------------

def strategy_paths(folder: Path) -> dict[str, Path]:
    """``strategies/*.py`` by file stem (files starting with '_' are helpers, not strategies)."""
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.py")) if not p.name.startswith("_")}


_USER_PACKAGE = "hypebt_user_strategies"


def is_backtrader_strategy(cls) -> bool:
    """True for a plain Backtrader strategy (a ``bt.Strategy`` subclass that is not a hypebt one)."""
    return inspect.isclass(cls) and issubclass(cls, bt.Strategy) and not issubclass(cls, Strategy)


def strategy_params(cls) -> dict[str, Any]:
    """A strategy's parameters and their defaults: a hypebt strategy's ``PARAMS``, a Backtrader
    strategy's ``params`` (tuple or dict, inherited ones included)."""
    if is_backtrader_strategy(cls):
        return bt_strategy_params(cls)
    return dict(cls.PARAMS)


def load_strategy(name_or_path: str, folder: Path) -> type[Strategy]:
    """The strategy class in ``folder/<name>.py``, or in an explicit ``.py`` path: the one class
    the file defines deriving from ``hypebt.Strategy``, or else from ``backtrader.Strategy`` (a
    plain Backtrader strategy, ``bt.SignalStrategy`` included).

    Strategies load only from the strategies folder or a path the user gives.
    """
    if name_or_path.endswith(".py"):
        path = Path(name_or_path)
        if not path.is_file():
            raise InputError(f"strategy file {path} does not exist")
        name = path.stem
    else:
        name = safe_name(name_or_path, "strategy name")
        known = strategy_paths(folder)
        if name not in known:
            raise unknown("strategy", name, known, where=str(folder))
        path = known[name]
    module_name = f"{_USER_PACKAGE}.{name}"
    if _USER_PACKAGE not in sys.modules:
        # A parent package, so pickle can find user strategy classes by reference.
        package = types.ModuleType(_USER_PACKAGE)
        package.__path__ = []
        sys.modules[_USER_PACKAGE] = package
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # pickling by reference needs the module registered
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # sys.exit() (or another escape) in a strategy file must not end hypebt quietly
        sys.modules.pop(module_name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise InputError(f"{path}: cannot load strategy: {exc.__class__.__name__}: {exc}"
                         f"{'' if isinstance(exc, Exception) else SYSTEM_EXIT_HINT}") from exc
    mine = [obj for obj in vars(module).values()
            if inspect.isclass(obj) and issubclass(obj, bt.Strategy) and obj.__module__ == module_name]
    classes = [c for c in mine if issubclass(c, Strategy)] or mine
    if len(classes) != 1:
        raise InputError(
            f"{path}: a strategy file defines exactly one class deriving from hypebt.Strategy or "
            f"backtrader.Strategy; found {len(classes)}" + (f" ({', '.join(c.__name__ for c in classes)})"
                                                            if classes else "")
        )
    cls = classes[0]
    cls.hypebt_name = name
    cls.hypebt_path = path
    return cls


def resolve_params(cls: type[Strategy], given: dict[str, Any], where: str) -> dict[str, Any]:
    """The strategy's parameter defaults (:func:`strategy_params`) updated with ``given``; unknown
    names get 'did you mean'.

    A given value must have the default's type (ints are accepted for floats).
    """
    params = strategy_params(cls)
    for key, value in given.items():
        if key not in params:
            raise unknown(f"parameter of strategy {cls.hypebt_name}", key, params, where)
        if isinstance(value, float) and not np.isfinite(value):  # nan compares false with everything
            raise InputError(f"{where}: parameter {key!r} = {value} is not a number; write a finite number")
        default = params[key]
        if default is not None and not _same_kind(default, value):
            raise InputError(
                f"{where}: parameter {key!r} must be {type(default).__name__} like its default "
                f"{default!r}, got {value!r}"
            )
        params[key] = float(value) if isinstance(default, float) and isinstance(value, int) else value
    return params


def _same_kind(default, value) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))

