"""Spec + store -> a Backtrader run -> a :class:`Result`.

:func:`prepare` does everything that does not depend on strategy parameters
(loading bars, mapping events, building the feed arrays) once; :func:`run`
executes one parameter set. ``hypebt run`` calls both; a sweep prepares once
per worker and calls :func:`run` per combination, so both give identical
results.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hypebt.core.errors import DataError, InputError, unknown
from hypebt.core.fsio import file_sha256
from hypebt.core.i18n import N_
from hypebt.data import boards as B
from hypebt.data import events as E
from hypebt.data import stock_info as SI
from hypebt.data import universes as U
from hypebt.data.calendar import Calendar, store_sessions
from hypebt.data.store import Store
from hypebt.engine import actions as CA
from hypebt.engine import assemble
from hypebt.engine import event_universe as EU
from hypebt.engine import metrics, portable
from hypebt.engine import period as P
from hypebt.engine.book import Journal
from hypebt.engine.broker import ledgers_of
from hypebt.engine.provenance import adopt, source_digest, strategy_failure
from hypebt.engine.spec import Spec
from hypebt.engine.strategy import is_backtrader_strategy, load_strategy, resolve_params
from hypebt.market import rules as R
from hypebt.data import reference
from hypebt.market import status as MS
from hypebt.market.credit import BORROW_COLUMNS
from hypebt.market import panel as MP
from hypebt.market.feed import FeedArrays
# The market a run reads (re-exported: engine.build_market, engine.warmup_sessions).
from hypebt.engine.market import build_market, views as _views, warmup_sessions  # noqa: F401


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
    history: dict = field(default_factory=dict)  # code -> FeedArrays over warm-up + run sessions
    warmup: int = 0  # warm-up sessions at the head of ``history``
    strategy_cls: Any = None  # a class given directly (a notebook's); else loaded from strategy_path
    # The market the arrays are views of: every code's whole stored history up to the run's end
    # (window invariance: hypebt.market.panel); the run's sessions start at panel position ``lead``.
    panel: MP.MarketPanel | None = None
    lead: int = 0
    # Per panel code and session: a member of the universe then (the spec's exclude, as of that session).
    members: np.ndarray | None = None
    event_universes: list = field(default_factory=list)  # per event: board snapshots used (event_universe.record)
    look_ahead_warning: str = ""  # the text reports print when look_ahead (else the universe file's)
    actions: dict = field(default_factory=dict)  # code -> corporate actions credited (traded prices only)

    @property
    def warning(self) -> str:
        """The look-ahead warning of this run ("" when it has none)."""
        if not self.look_ahead:
            return ""
        return self.look_ahead_warning or U.LOOK_AHEAD_WARNING

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
        state.pop("_bar_cache", None)  # rebuilt where the runs are
        state.pop("_fee_memo", None)
        if self.panel is not None:
            # The per-code arrays are views of the panel: send the panel once, cut them again there.
            state["arrays"], state["history"] = None, None
        if self.strategy_cls is not None and not portable.importable(self.strategy_cls):
            # a notebook's class: sent as its recipe, built again where it runs (hypebt.engine.portable)
            state["strategy_cls"] = portable.Recipe.of(self.strategy_cls)
        return state

    def __setstate__(self, state):
        if isinstance(state.get("strategy_cls"), portable.Recipe):
            state["strategy_cls"] = adopt(state["strategy_cls"].build())
        self.__dict__.update(state)
        if self.arrays is None:
            self.arrays, self.history = _views(self.panel, self.lead, self.warmup, self.members)

    def strategy_class(self):
        if self.strategy_cls is not None:
            return self.strategy_cls
        return load_strategy(str(self.strategy_path), self.workspace / "strategies")

    @property
    def strategy_sha256(self) -> str:
        """sha256 of the strategy's source (its file, or an inline class's source text)."""
        return source_digest(self.strategy_cls, self.strategy_path)


@dataclass
class Result:
    """One backtest: returns, equity, ledgers and figures."""

    returns: pd.Series
    equity: pd.DataFrame | None  # the ledger tables are None in a run with ledgers=False (sweeps)
    trades: pd.DataFrame | None
    orders: pd.DataFrame | None
    fills: pd.DataFrame | None
    borrow: pd.DataFrame | None
    stats: dict
    params: dict
    log: list = field(default_factory=list)  # the strategy's self.log lines (log.txt)
    sessions_skipped: int = 0  # sessions the strategy slept through (not a figure: sleeping changes none)
    corporate_actions: pd.DataFrame | None = None  # corporate_actions.csv (hypebt.market.corporate.COLUMNS)


def _universe(spec: Spec, workspace: Path, store: Store, boards=None
              ) -> tuple[tuple[str, ...] | None, dict[str, str], bool, str]:
    """(codes, names, look-ahead, name) of the spec's universe; codes None for ``universe = "all"`` (every
    stock of the store; names from its stock list, for display only: a snapshot says nothing of
    who was ST years before it)."""
    if boards is not None:
        return tuple(dict.fromkeys([*boards.codes, *spec.codes])), dict(boards.names), False, boards.label
    if spec.universe == U.ALL:
        return None, SI.names(store), False, U.ALL
    if spec.universe:
        uni = U.load_universe(spec.universe, workspace)
        codes = tuple(dict.fromkeys([*uni.codes, *spec.codes]))
        return codes, dict(uni.names), uni.look_ahead, uni.name
    return tuple(dict.fromkeys(spec.codes)), {}, False, "codes"


def prepare(spec: Spec, workspace: Path, store: Store, rules: R.Rules | None = None,
            strategy_cls=None) -> Prepared:
    """Load and check everything a run of ``spec`` needs (see module docstring).

    Steps, each its own function: the strategy and its parameters, the universe, the rules for
    the stored prices, the bars and sessions, the benchmark, the events, the feed arrays, the
    margin-lending list. Every note on what was left out goes to :attr:`Prepared.warnings`.
    ``strategy_cls``: a Strategy class to run instead of the spec's ``strategy`` file (a notebook's).
    """
    where = str(spec.path)
    cls = adopt(strategy_cls) if strategy_cls is not None else load_strategy(spec.strategy, workspace / "strategies")
    resolve_params(cls, spec.params, where)  # fail early on unknown parameters
    cal = Calendar(store_sessions(store))
    boards = _board_universes(spec, workspace, cal, store, where)
    codes, names, look_ahead, uni_name = _universe(spec, workspace, store, boards)
    if codes is not None and not codes:
        raise InputError(f"{where}: the universe is empty; list at least one code")
    notes: list[str] = []
    dataset = store.stock_dataset(spec.adjust)
    manifest = store.manifest(dataset)
    rules = _rules(spec, manifest, rules, notes)
    bars, present = _bars(store, dataset, codes, where, notes, quiet=boards is not None)
    CA.check_basis(store, dataset, present if codes is None else codes, bars, where, notes,
                   board_universe=boards is not None)
    bars = CA.align_factors(bars, notes)  # each factor move on its ex-date: credits, limits, signals agree
    sessions = P.sessions_of(spec, cal, bars, where, notes)
    if codes is None:  # the whole market: the stocks with a bar by the run's end
        first = bars.groupby("code", observed=True, sort=False)["date"].min()
        present = tuple(c for c in present if first[c] <= sessions[-1])
    bench = P.benchmark_returns(store, spec, sessions)
    events, outside = _events(spec, workspace, cal, sessions, where, notes)
    st = set(spec.st_codes)  # (not the universe's names: a later snapshot says nothing of who was ST then)
    panel, at, lead = build_market(bars, present, cal, sessions, spec.warmup, pd.Timestamp(manifest["first_date"]),
                                   st, rules, store)
    spans = EU.spans(bars) if boards is not None else {}  # each code's first and last bar (missing-bar reasons)
    actions = CA.run_actions(store, manifest, bars, present, sessions, cal.sessions, notes,
                              tax=rules.dividend_tax)
    del bars
    members = panel.members(spec.exclude, spec.new_listing_sessions)
    arrays, history = _views(panel, at, lead, members)
    notes.append(MS.st_note(MS.count_sources(panel.st_source[:, at - lead:], ~panel.columns["suspended"][:, at - lead:])))
    if lead < spec.warmup:
        notes.append(N_("warmup: only %(n)s of %(want)s sessions exist before %(first)s", n=lead, want=spec.warmup,
                        first=sessions[0].date()))
    if codes is None or spec.exclude:
        notes.append(_members_note(spec, present))
    if "st" in spec.exclude and reference.as_of(store, "st_history") is None:
        notes.append(N_("exclude st: without a dated st_history (hypebt data reference) ST is inferred from main-board "
                        "bars only; a ChiNext, STAR or Beijing stock (the same limits either way) is excluded as ST "
                        "only if listed in st_codes"))
    eligible = _eligible(spec, workspace, notes, store)
    manifests = {name: store.manifest(name) for name in (dataset, "index", *(["concept_boards"] if boards else []),
                                                         *reference_inputs(manifest))
                 if store.manifest(name)}
    manifests.update(_hand_list_input(spec, workspace, eligible))
    traded = {c: a.columns["suspended"] == 0 for c, a in arrays.items()} if boards is not None else {}
    events, records, board_notes = EU.attach(events, boards, present, spec.codes, traded, spans, sessions)
    notes.extend(board_notes)
    look_ahead = look_ahead or any(r["look_ahead"] for r in records)
    if boards is not None:
        notes.append(_universe_note(boards, records, present, sessions))
    return Prepared(
        spec=spec, workspace=workspace, strategy_path=cls.hypebt_path, strategy_name=cls.hypebt_name,
        codes=present, names=names, sessions=sessions, arrays=arrays, benchmark=bench, events=events,
        events_outside=outside, eligible=eligible, rules=rules, data_manifests=manifests,
        warnings=notes, look_ahead=look_ahead, universe_name=uni_name,
        history=history, warmup=lead, strategy_cls=strategy_cls and cls, panel=panel, lead=at,
        members=members,
        event_universes=records, look_ahead_warning=B.LOOK_AHEAD_WARNING if boards is not None else "",
        actions=actions,
    )


def reference_inputs(manifest: dict) -> tuple[str, ...]:
    """The store's tables besides the bars that change a run's figures, so its manifest records their
    hashes (each figure reproducible from the manifest): the trading calendar (the sessions), the
    dated ST history (limits), the dated margin list (who may be shorted) and, on traded prices, the
    dividend records (what is credited, and when)."""
    return ("calendar", "st_history", "margin_list", *(["dividends"] if manifest.get("adjust") == "raw" else []))


def _hand_list_input(spec: Spec, workspace: Path, eligible) -> dict:
    """The workspace's margin hand list, when the run reads it (no dated margin_list in the store):
    its path and hash for the manifest."""
    if not isinstance(eligible, frozenset):
        return {}
    path = U.universe_paths(workspace).get(spec.margin_list) or Path(spec.margin_list)
    if not path.is_file():
        return {}
    return {"margin_hand_list": {"kind": "workspace", "adjust": None, "sources": [str(path)],
                                 "sha256": file_sha256(path)}}


def _board_universes(spec: Spec, workspace: Path, cal: Calendar, store: Store, where: str):
    """The events' board universes (:mod:`hypebt.engine.event_universe`), or None for a list universe."""
    if not spec.uses_boards:
        return None
    events, start = EU.candidates(spec, workspace, cal, store, where)
    return EU.resolve(spec, workspace, store, events, start, where)


def _universe_note(boards, records: list[dict], present: tuple, sessions: pd.DatetimeIndex) -> str:
    """What a board universe is made of, for the run's notes."""
    if not records:
        r = boards.at_start
        return (f"universe {boards.label} as of the run's start: " + "; ".join(
            f"{b.board} snapshot {b.published} ({b.age_days} days old, {b.members} members)" for b in r.basis))
    ages = [b["age_days"] for r in records for b in r["boards"]]
    return (f"universe {boards.label}: each event trades its boards' members as published before it "
            f"({len(records)} event(s), snapshots {min(ages)}..{max(ages)} days old); self.universe is every code "
            f"of every event ({len(present)} with bars): trade each event's t.universe")


def _members_note(spec: Spec, present: tuple) -> str:
    """Who is in the universe on a session (``universe = "all"``, ``exclude``), for the run's notes."""
    if spec.exclude:
        return N_("universe %(name)s: %(n)s stocks, each a member on the sessions it has a bar, less %(exclude)s as "
                  "of that session (known before the open; no survivorship): self.members(), self.cross_section()",
                  name=spec.universe or "codes", n=len(present), exclude=", ".join(spec.exclude))
    return N_("universe %(name)s: %(n)s stocks, each a member on the sessions it has a bar (known before the open; "
              "no survivorship): self.members(), self.cross_section()", name=spec.universe or "codes", n=len(present))


def _rules(spec: Spec, manifest: dict, rules: R.Rules | None, notes: list[str]) -> R.Rules:
    """The spec's ``[rules]``, with the qfq limit tolerance when prices are forward-adjusted."""
    qfq = manifest.get("adjust") == "qfq"
    if rules is None:
        rules = R.for_prices(R.rules_from_mapping(spec.rules, f"{spec.path} [rules]"), qfq,
                             explicit="limit_tolerance" in spec.rules)
    if qfq:
        notes.append(N_("prices are forward-adjusted (qfq) only: fills and limit prices use adjusted prices, limits are "
                        "matched with a tolerance of %(tol)s CNY", tol=rules.limit_tolerance))
    elif manifest.get("adjust") == "raw" and "adj_factor" in (manifest.get("columns") or ()):
        # (without the factor, the run's corporate-actions note says what it cannot do: engine/actions.py)
        notes.append(N_("prices are traded (raw): fills, lots, fees and limits use them (on ex-dividend days the "
                        "limits start from the exchange's reference price); signals use the adjusted close (adjclose)"))
    return rules


def _bars(store: Store, dataset: str, codes: tuple[str, ...] | None, where: str,
          notes: list[str], quiet: bool = False) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The universe's stored bars and the codes that have any (``codes`` None: every stock of the
    store, sorted); codes without bars are noted (``quiet``: board universes report them per event
    instead)."""
    bars = store.load(dataset, codes=None if codes is None else list(codes),
                      columns=MP.bar_columns((store.manifest(dataset) or {}).get("columns")))
    stored = set(bars["code"].unique())
    if codes is None:
        return bars, tuple(sorted(stored))
    present = tuple(c for c in codes if c in stored)
    missing = [c for c in codes if c not in stored]
    if not present:
        raise DataError(
            f"{where}: none of the universe's {len(codes)} codes is in the store ({dataset}); "
            f"import or fetch them first, e.g. hypebt data fetch {' '.join(codes[:3])}"
        )
    if missing and not quiet:
        notes.append(N_("%(n)s universe code(s) not in the store, left out: %(codes)s", n=len(missing),
                        codes=", ".join(missing)))
    return bars, present


def _events(spec: Spec, workspace: Path, cal: Calendar, sessions: pd.DatetimeIndex, where: str,
            notes: list[str]) -> tuple[list, list]:
    """The spec's events mapped to their first tradable session; those outside the run are noted."""
    if spec.events is None:
        return [], []
    events, outside = E.select(spec.events, workspace, cal, sessions, where)
    if outside:
        notes.append(N_("events outside the run's sessions (not traded): %(list)s",
                        list=", ".join(f"{e.id} ({e.time.date()})" for e in outside)))
    return events, outside


def _eligible(spec: Spec, workspace: Path, notes: list[str], store: Store | None = None):
    """Who may be shorted: the dated ``margin_list`` of the store when there is one (eligible on a
    session if in the latest snapshot on or before it), else the spec's hand list, with its caveat.

    A list the spec names must exist (else nothing could be shorted and a short strategy would
    silently make no trades); the default list may be absent, which is noted.
    """
    dated = reference.load(store, "margin_list") if store is not None else None
    if dated is not None and len(dated):
        notes.append(N_("margin-lending eligibility: the store's dated margin_list (%(n)s snapshot(s), %(span)s)",
                        n=dated["date"].nunique(), span=f"{dated['date'].min().date()}..{dated['date'].max().date()}"))
        return MS.DatedList(dated)
    if spec.margin_list in U.universe_paths(workspace) or spec.margin_list.endswith(".csv"):
        uni = U.load_universe(spec.margin_list, workspace)
        notes.append(N_("margin-lending eligibility: the undated hand list %(name)s (%(n)s codes), the same on every "
                        "session; real eligibility changes over time and whole boards of hype names were eligible: "
                        "import a dated margin_list for faithful shorts", name=repr(uni.name), n=len(uni.codes)))
        return frozenset(uni.codes)
    if "margin_list" in spec.named:
        raise unknown("margin-lending list", spec.margin_list, U.universe_paths(workspace),
                      f"{spec.path}: margin_list (a universe in data/universes)")
    notes.append(N_("margin-lending list %(name)s not found in data/universes: nothing can be shorted",
                    name=repr(spec.margin_list)))
    return frozenset()


def equity_returns(values: np.ndarray, start_cash: float, sessions: pd.DatetimeIndex) -> pd.Series:
    """Daily returns from the values recorded at each close: value / previous value - 1, the
    first against the starting cash (TimeReturn's definition)."""
    values = np.asarray(values, dtype="float64")
    prev = np.concatenate(([start_cash], values[:-1]))
    out = values / prev - 1.0  # elementwise IEEE division and subtraction: the same as in Python floats
    if len(out) == len(sessions):  # a row for every session (always, but for a stopped run)
        return pd.Series(out, index=sessions, dtype="float64")
    return pd.Series(out, index=sessions[: len(out)], dtype="float64").reindex(sessions).fillna(0.0)


def only_events(prep: Prepared, event_ids) -> Prepared:
    """The same prepared data with only some of its events (event validation runs each event alone).

    The arrays, the feeds and the bar cache are shared with ``prep``, not copied: run the variants
    one after another in a process, as a sweep does.
    """
    ids = set(event_ids)
    assemble.feeds(prep, True)
    prep.__dict__.setdefault("_bar_cache", {})
    variant = dataclasses.replace(prep, events=[t for t in prep.events if t.event.id in ids])
    for key in ("_feeds", "_bar_cache", "_fee_memo", "_bench_figures"):
        if key in prep.__dict__:
            variant.__dict__[key] = prep.__dict__[key]
    return variant


def run(prep: Prepared, params: dict | None = None, strategy_cls=None, reuse_feeds: bool = False,
        timereturn: bool = True, sleep: bool = True, ledgers: bool = True) -> Result:
    """Run the strategy once with ``params`` (merged over the spec's and the defaults).

    The strategy is a hypebt strategy or a plain Backtrader one (``bt.Strategy``, its parameters
    its ``params``); either way every order goes through the A-share broker
    (:class:`hypebt.engine.broker.AShareBroker`) and its one account. Daily returns come from
    Backtrader's TimeReturn analyzer. A sweep passes ``timereturn=False`` and ``reuse_feeds=True``:
    returns are then the session-to-session change of the portfolio value recorded at each close
    (what TimeReturn computes, without its per-bar cost; a test checks both are identical), and the
    feeds are kept for the next run of the same prepared data. A sweep also passes
    ``ledgers=False``: the figures then come straight from the recorded rows, no ledger table is
    built (the same numbers, tested). ``sleep=False`` runs every session, even those a flat
    strategy declared it sleeps through (:mod:`hypebt.engine.wake`; identical results, tested).
    """
    cls = strategy_cls or prep.strategy_class()
    merged = resolve_params(cls, {**prep.spec.params, **(params or {})}, str(prep.spec.path))
    plain = is_backtrader_strategy(cls)
    cerebro, broker = assemble.cerebro_for(prep, cls, merged, reuse_feeds, sleep, timereturn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            strat = cerebro.run()[0]
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # sys.exit() or any other escape from a hook is a failure, not an exit
            error = strategy_failure(exc, cls, prep.strategy_name, prep.strategy_path)
            if error is exc:
                raise
            raise error from exc
    account, desk = ledgers_of(broker)
    cash_at_close, value_at_close = account.eq_cash[: account.eq_n], account.eq_value[: account.eq_n]
    if timereturn:
        raw = strat.analyzers.timereturn.get_analysis()
        returns = pd.Series(list(raw.values()), index=pd.DatetimeIndex(list(raw.keys())).normalize(),
                            dtype="float64")
        returns = returns.reindex(prep.sessions).fillna(0.0)  # timezone-naive, one value per session
    else:
        returns = equity_returns(value_at_close, prep.spec.cash, prep.sessions)
    returns.name = prep.strategy_name
    ledger = account.credit
    if ledgers:
        rows = list(zip(prep.days[: len(cash_at_close)], cash_at_close.tolist(), value_at_close.tolist()))
        equity = Journal().equity_frame(rows) if plain else strat.equity_frame()
        trades, orders, fills = desk.trades_frame(), desk.orders_frame(), desk.fills_frame()
        borrow = pd.DataFrame(ledger.rows, columns=BORROW_COLUMNS)
        stats = metrics.compute(returns, trades, orders, metrics.exposure_of(equity))
        fees = float(fills["fees"].sum()) if len(fills) else 0.0
        borrow_fees = float(borrow["fee"].sum()) if len(borrow) else 0.0
    else:
        equity = trades = orders = fills = borrow = None
        closed = np.array([t["net_pnl"] for t in desk.trades if t["status"] == "closed"], dtype="float64")
        outcomes = metrics.order_outcomes((row.status, row.reason) for row in desk.orders)
        n_open = sum(t["status"] == "open" for t in desk.trades)
        stats = metrics.figures(returns, closed, outcomes, metrics.exposure_from(value_at_close, cash_at_close), n_open)
        # numpy's sum, as pandas' (the same pairwise order, so the same last bit)
        fees = float(np.array([f["fees"] for f in desk.fills], dtype="float64").sum()) if desk.fills else 0.0
        borrow_fees = float(np.array([b["fee"] for b in ledger.rows], dtype="float64").sum()) if ledger.rows else 0.0
    if "_bench_figures" not in prep.__dict__:  # the same for every run of the prepared data
        prep.__dict__["_bench_figures"] = metrics.benchmark_figures(prep.benchmark)
    stats.update(prep.__dict__["_bench_figures"])
    stats.update(
        final_value=float(value_at_close[-1]) if len(value_at_close) else prep.spec.cash,
        start_cash=prep.spec.cash,
        fees=fees,
        borrow_fees=borrow_fees,
        start=str(prep.sessions[0].date()), end=str(prep.sessions[-1].date()), sessions=len(prep.sessions),
        **CA.figures(account.distributions),
    )
    corporate = CA.ledger(account.distributions) if ledgers else None
    return Result(returns, equity, trades, orders, fills, borrow, stats, merged,
                  [] if plain else strat.log_lines, getattr(strat, "sessions_skipped", 0), corporate)
