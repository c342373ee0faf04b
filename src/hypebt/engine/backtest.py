"""Spec + store -> a Backtrader run -> a :class:`Result`.

:func:`prepare` does everything that does not depend on strategy parameters
(loading bars, mapping events, building the feed arrays) once; :func:`run`
executes one parameter set. ``hypebt run`` calls both; a sweep prepares once
per worker and calls :func:`run` per combination, so both give identical
results.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import backtrader as bt
import pandas as pd

from hypebt.data import events as E
from hypebt.engine import metrics
from hypebt.market import rules as R
from hypebt.data import universes as U
from hypebt.market.broker import AShareBroker, AShareCommInfo
from hypebt.data.calendar import Calendar
from hypebt.core.errors import DataError, HypebtError, InputError, StrategyError
from hypebt.market.feed import ArrayFeed, FeedArrays, build_arrays
from hypebt.engine.spec import Spec
from hypebt.data.store import Store, sessions_from_store
from hypebt.engine.strategy import Context, load_strategy, resolve_params


@dataclass
class Prepared:
    """What a run needs besides the strategy parameters; built once, reused by sweeps."""

    spec: Spec
    workspace: Path
    strategy_path: Path
    strategy_name: str
    codes: tuple[str, ...]
    names: dict[str, str]
    sessions: pd.DatetimeIndex
    arrays: dict[str, FeedArrays]
    benchmark: pd.Series  # daily returns of the benchmark over the sessions
    events: list  # E.Tradable
    events_outside: list
    eligible: frozenset
    rules: R.Rules
    data_manifests: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    look_ahead: bool = False
    universe_name: str = ""

    @property
    def days(self) -> list:
        """The sessions as ``datetime.date`` (cached: strategies look them up every bar)."""
        if "_days" not in self.__dict__:
            self.__dict__["_days"] = [d.date() for d in self.sessions]
        return self.__dict__["_days"]

    @property
    def session_index(self) -> dict:
        """session Timestamp -> its position in the run."""
        if "_session_index" not in self.__dict__:
            self.__dict__["_session_index"] = {s: i for i, s in enumerate(self.sessions)}
        return self.__dict__["_session_index"]

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_feeds", None)  # Backtrader objects stay in the process that made them
        return state

    def strategy_class(self):
        return load_strategy(str(self.strategy_path), self.workspace / "strategies")


@dataclass
class Result:
    """One backtest: returns, equity, ledgers and figures."""

    returns: pd.Series
    equity: pd.DataFrame
    trades: pd.DataFrame
    orders: pd.DataFrame
    fills: pd.DataFrame
    borrow: pd.DataFrame
    stats: dict
    params: dict


def _universe(spec: Spec, workspace: Path) -> tuple[tuple[str, ...], dict[str, str], bool, str]:
    if spec.universe:
        uni = U.load_universe(spec.universe, workspace)
        codes = tuple(dict.fromkeys([*uni.codes, *spec.codes]))
        return codes, dict(uni.names), uni.look_ahead, uni.name
    return tuple(dict.fromkeys(spec.codes)), {}, False, "codes"


def prepare(spec: Spec, workspace: Path, store: Store, rules: R.Rules | None = None) -> Prepared:
    """Load and check everything a run of ``spec`` needs (see module docstring)."""
    where = str(spec.path)
    strategies = workspace / "strategies"
    cls = load_strategy(spec.strategy, strategies)
    resolve_params(cls, spec.params, where)  # fail early on unknown parameters
    codes, names, look_ahead, uni_name = _universe(spec, workspace)
    if not codes:
        raise InputError(f"{where}: the universe is empty; list at least one code")
    notes: list[str] = []

    dataset = store.stock_dataset(spec.adjust)
    manifest = store.manifest(dataset)
    qfq = manifest.get("adjust") == "qfq"
    if rules is None:
        rules = R.for_prices(R.rules_from_mapping(spec.rules, f"{where} [rules]"), qfq,
                             explicit="limit_tolerance" in spec.rules)
    if qfq:
        notes.append(
            "prices are forward-adjusted (qfq) only: fills and limit prices use adjusted prices, "
            f"limits are matched with a tolerance of {rules.limit_tolerance} CNY"
        )

    all_sessions = sessions_from_store(store, spec.benchmark)
    cal = Calendar(all_sessions)
    bars = store.load(dataset, codes=list(codes))
    present = tuple(c for c in codes if c in set(bars["code"].unique()))
    missing = [c for c in codes if c not in present]
    if not present:
        raise DataError(
            f"{where}: none of the universe's {len(codes)} codes is in the store ({dataset}); "
            f"import or fetch them first, e.g. hypebt data fetch {' '.join(codes[:3])}"
        )
    if missing:
        notes.append(f"{len(missing)} universe code(s) not in the store, left out: {', '.join(missing)}")
    data_first, data_last = bars["date"].min(), bars["date"].max()
    start = pd.Timestamp(spec.start) if spec.start else data_first
    end = pd.Timestamp(spec.end) if spec.end else data_last
    sessions = cal.between(max(start, cal.first), min(end, data_last))
    if len(sessions) < 2:
        raise DataError(
            f"{where}: no data between {start.date()} and {end.date()} "
            f"(the store has {data_first.date()}..{data_last.date()} for these codes)"
        )

    bench = _benchmark(store, spec, sessions)

    events, outside = [], []
    if spec.events is not None:
        events, outside = E.select(spec.events, workspace, cal, sessions, where)
        if outside:
            notes.append("events outside the run's sessions (not traded): "
                         + ", ".join(f"{e.id} ({e.time.date()})" for e in outside))

    st = set(spec.st_codes) | {c for c, n in names.items() if R.is_st(n)}
    first_store_date = pd.Timestamp(manifest["first_date"])
    arrays = {}
    by_code = {c: g for c, g in bars.groupby("code", sort=False, observed=True)}
    for code in present:
        g = by_code[code]
        arrays[code] = build_arrays(
            code, g[(g["date"] <= sessions[-1])], sessions,
            listed_before_data=bool(g["date"].iloc[0] <= first_store_date),
            st=code in st, rules=rules,
        )
    eligible = frozenset()
    if spec.margin_list in U.universe_paths(workspace) or spec.margin_list.endswith(".csv"):
        eligible = frozenset(U.load_universe(spec.margin_list, workspace).codes)
    else:
        notes.append(f"margin-lending list {spec.margin_list!r} not found in data/universes: nothing can be shorted")
    manifests = {name: store.manifest(name) for name in (dataset, "index") if store.manifest(name)}
    return Prepared(
        spec=spec, workspace=workspace, strategy_path=cls.hypebt_path, strategy_name=cls.hypebt_name,
        codes=present, names=names, sessions=sessions, arrays=arrays, benchmark=bench, events=events,
        events_outside=outside, eligible=eligible, rules=rules, data_manifests=manifests,
        warnings=notes, look_ahead=look_ahead, universe_name=uni_name,
    )


def _benchmark(store: Store, spec: Spec, sessions: pd.DatetimeIndex) -> pd.Series:
    idx = store.load_index(spec.benchmark, ["date", "close"], str(spec.path))
    close = idx.set_index("date")["close"].sort_index()
    close = close[close.index <= sessions[-1]]
    r = close.pct_change().reindex(sessions).fillna(0.0)
    r.iloc[0] = 0.0
    r.name = spec.benchmark
    return r


class _Position:
    """The bar position shared by every line of every aligned feed."""

    __slots__ = ("idx", "lencount")

    def __init__(self):
        self.idx, self.lencount = -1, 0


class _AlignedLine(bt.linebuffer.LineBuffer):
    """A feed line whose index is the shared :class:`_Position`: advancing every
    feed by a bar is then one step instead of one per line of every feed."""

    @property
    def _idx(self):
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

    def _runonce(self, runstrats):
        for strat in runstrats:
            strat._once()
            strat.reset()
        datas = self.datas
        stamps = datas[0]._stamps
        position = _Position()
        for d in datas:
            for line in d._all_lines:
                if type(line) is not bt.linebuffer.LineBuffer or line._idx != -1 or len(line.array) != len(stamps):
                    raise RuntimeError("AlignedCerebro needs preloaded ArrayFeeds aligned to the same sessions")
                line.__class__ = _AlignedLine
                line._position = position
        try:
            self._aligned_loop(runstrats, stamps, position)
        finally:
            # Give the lines back their own index (a feed may be reused by the next run).
            for d in datas:
                for line in d._all_lines:
                    line.__class__ = bt.linebuffer.LineBuffer
                    line._idx, line.lencount = position.idx, position.lencount

    def _aligned_loop(self, runstrats, stamps, position):
        for dt0 in stamps:
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


def equity_returns(rows: list[tuple], start_cash: float, sessions: pd.DatetimeIndex) -> pd.Series:
    """Daily returns from the values recorded at each close: value / previous value - 1, the
    first against the starting cash (TimeReturn's definition)."""
    values = [v for _, _, v in rows]
    prev = [start_cash, *values[:-1]]
    out = pd.Series([v / p - 1.0 for v, p in zip(values, prev)], index=sessions[: len(values)], dtype="float64")
    return out.reindex(sessions).fillna(0.0)


def _feeds(prep: Prepared, reuse: bool) -> list:
    """The run's data feeds; with ``reuse`` (sweeps), built once per prepared data and reused:
    Backtrader resets and reloads every feed at the start of each run."""
    if reuse and "_feeds" in prep.__dict__:
        return prep.__dict__["_feeds"]
    feeds = [ArrayFeed(arrays=prep.arrays[code], name=code) for code in prep.codes]
    if reuse:
        prep.__dict__["_feeds"] = feeds
    return feeds


def run(prep: Prepared, params: dict | None = None, strategy_cls=None, reuse_feeds: bool = False,
        timereturn: bool = True) -> Result:
    """Run the strategy once with ``params`` (merged over the spec's and the defaults).

    Daily returns come from Backtrader's TimeReturn analyzer. A sweep passes
    ``timereturn=False`` and ``reuse_feeds=True``: returns are then the session-to-session
    change of the portfolio value the strategy records at each close (what TimeReturn
    computes, without its per-bar cost; a test checks both are identical), and the feeds are
    kept for the next run of the same prepared data.
    """
    cls = strategy_cls or prep.strategy_class()
    merged = resolve_params(cls, {**prep.spec.params, **(params or {})}, str(prep.spec.path))
    ledger: list = []
    ctx = Context(params=merged, universe=prep.codes, names=prep.names, events=prep.events,
                  sessions=prep.sessions, days=prep.days, session_index=prep.session_index, rules=prep.rules, eligible=prep.eligible, borrow_ledger=ledger,
                  arrays=prep.arrays)
    cerebro = AlignedCerebro(stdstats=False, cheat_on_open=True, preload=True, runonce=True, maxcpus=1)
    broker = AShareBroker()
    broker.set_checksubmit(False)  # the order checks decide cash; see hypebt.market.orders
    broker.setcash(prep.spec.cash)
    cerebro.broker = broker
    for code, feed in zip(prep.codes, _feeds(prep, reuse_feeds)):
        cerebro.adddata(feed, name=code)
        broker.addcommissioninfo(AShareCommInfo(rules=prep.rules, code=code, borrow_ledger=ledger), name=code)
    cerebro.addstrategy(cls, ctx=ctx)
    if timereturn:
        cerebro.addanalyzer(bt.analyzers.TimeReturn, timeframe=bt.TimeFrame.Days, _name="timereturn")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            strat = cerebro.run()[0]
        except HypebtError:
            raise
        except Exception as exc:
            raise StrategyError(
                f"strategy {prep.strategy_name} ({prep.strategy_path}) failed: {exc.__class__.__name__}: {exc} "
                "(rerun with --debug for the traceback)"
            ) from exc
    if timereturn:
        raw = strat.analyzers.timereturn.get_analysis()
        returns = pd.Series(list(raw.values()), index=pd.DatetimeIndex(list(raw.keys())).normalize(),
                            dtype="float64")
        returns = returns.reindex(prep.sessions).fillna(0.0)  # timezone-naive, one value per session
    else:
        returns = equity_returns(strat.equity_rows, prep.spec.cash, prep.sessions)
    returns.name = prep.strategy_name
    equity = pd.DataFrame(strat.equity_rows, columns=["date", "cash", "value"])
    desk = strat.desk
    trades, orders, fills = desk.trades_frame(), desk.orders_frame(), desk.fills_frame()
    borrow = pd.DataFrame(ledger, columns=["date", "code", "fee", "days"])
    stats = metrics.compute(returns, trades, orders, metrics.exposure_of(equity))
    stats.update(metrics.benchmark_figures(prep.benchmark))
    stats.update(
        final_value=float(equity["value"].iloc[-1]) if len(equity) else prep.spec.cash,
        start_cash=prep.spec.cash,
        fees=float(fills["fees"].sum()) if len(fills) else 0.0,
        borrow_fees=float(borrow["fee"].sum()) if len(borrow) else 0.0,
        start=str(prep.sessions[0].date()), end=str(prep.sessions[-1].date()), sessions=len(prep.sessions),
    )
    return Result(returns, equity, trades, orders, fills, borrow, stats, merged)
