"""hypebt from Python: backtests, sweeps and event studies as function calls (for notebooks).

::

    import hypebt

    res = hypebt.backtest("backtests/sora_hype.toml", hold_days=3)   # spec path + parameter overrides
    res.returns, res.equity, res.trades, res.stats                  # pandas objects, DatetimeIndex
    res.report("reports/sora_try")                                  # what `hypebt run` writes

    class Gap(hypebt.Strategy):                                     # a class defined in the notebook
        PARAMS = {"hold_days": 3}
        def on_open(self, day): ...
    hypebt.backtest(codes=["002230"], start="2024-01-02", end="2024-05-22", strategy=Gap)

    table = hypebt.sweep("backtests/sora_hype.toml", grid={"hold_days": [1, 3, 5]}, workers=1)
    study = hypebt.study("backtests/sora_study.toml"); study.car, study.summary

A spec is a path to a TOML file, a dict of the same keys, or keyword arguments. Keywords that
are spec keys (``start``, ``codes``, ``cash``, ``warmup``, ...) set them; any other keyword is a
strategy parameter. A run gives the same figures as ``hypebt run`` on the same spec (tested).

The workspace (``strategies/``, ``data/``) is ``workspace=`` if given, else the nearest folder
above the spec file holding ``strategies/`` or ``data/``, else the current folder if it is one;
anywhere else the call stops with a one-line :class:`hypebt.HypebtError` (Jupyter shows only that
line). The store is ``home=``, else ``$HYPEBT_HOME``, else ``<workspace>/data/store``; nothing is
fetched through akshare unless ``fetch=True``. In Jupyter a :class:`Result`, a sweep's table and a
study show their headline figures, counts and a chart; each has ``.plot()``.
"""

from __future__ import annotations

import copy
import datetime as dt
import inspect
import shutil
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hypebt.core.errors import DataError, InputError
from hypebt.core.i18n import resolve_lang
from hypebt.core.workspace import API_HINT, resolve_workspace
from hypebt.engine.spec import TOP_KEYS, Spec, load_spec, parse_spec

TABLE_KEYS = ("params", "rules", "events", "sweep", "study")
DATE_COLUMNS = ("date", "entry_date", "exit_date")


# --- specs -----------------------------------------------------------------------------------

def _plain(value):
    """Notebook values as spec values: Timestamps/datetimes as dates, tuples as lists."""
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return value.date()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def resolve_spec(spec=None, strategy=None, workspace=None, extra: dict | None = None,
                 keywords: dict | None = None) -> tuple[Spec, Path, Any]:
    """``(Spec, workspace, strategy class or None)`` from a path, a dict or keywords.

    ``extra`` sets whole tables (a sweep's ``grid``); ``keywords`` are spec keys or parameters.
    """
    path = None
    if spec is None:
        raw = {}
    elif isinstance(spec, (str, Path)):
        path = Path(spec)
        load_spec(path)  # the file's own errors, with its name
        raw = tomllib.loads(path.read_text("utf-8"))
    elif isinstance(spec, dict):
        raw = copy.deepcopy(spec)
    elif isinstance(spec, Spec):
        raw, path = _raw_of(spec), spec.path
    else:
        raise InputError(f"spec must be a path, a dict or a hypebt Spec, got {type(spec).__name__}")
    for key, value in (keywords or {}).items():
        value = _plain(value)
        if key in TABLE_KEYS and isinstance(value, dict):
            raw.setdefault(key, {}).update(value)
        elif key in TOP_KEYS:
            raw[key] = value
        else:
            raw.setdefault("params", {})[key] = value
    for key, value in (extra or {}).items():
        raw[key] = _plain(value)
    cls = None
    if strategy is not None:
        if inspect.isclass(strategy):
            cls = strategy
            raw["strategy"] = strategy.__name__
        elif isinstance(strategy, (str, Path)):
            raw["strategy"] = str(strategy)
        else:
            raise InputError(f"strategy must be a name, a .py path or a Strategy class, got {strategy!r}")
    raw = {k: _plain(v) for k, v in raw.items()}
    raw.setdefault("name", path.stem if path is not None else "notebook")
    ws = resolve_workspace(workspace, path, required=True, hint=API_HINT)
    if path is None:
        path = ws / "backtests" / f"{raw['name']}.toml"  # where such a spec would live (names in messages)
    return parse_spec(raw, path), ws, cls


def _raw_of(spec: Spec) -> dict:
    raw = {k: v for k, v in spec.as_dict().items() if v not in (None, (), {}, "") and k != "path"}
    raw = {k: list(v) if isinstance(v, tuple) else v for k, v in raw.items()}
    if spec.events is not None:
        raw["events"] = {k: list(v) if isinstance(v, tuple) else v for k, v in spec.events.__dict__.items()
                         if v is not None}
    return raw


def _store(home, ws: Path):
    from hypebt.data.store import open_store

    return open_store(home, ws)


def _ensure(spec, store, ws, fetch: bool) -> None:
    """Get what ``spec`` needs into the store: a local dataset is imported into an empty store (no
    network); akshare is asked only with ``fetch=True``, else what is missing is an error saying so."""
    from hypebt.data.bootstrap import ensure_data, missing_data, needed_codes

    from hypebt.market.plausible import CHECK

    ensure_data(spec, store, ws, offline=not fetch, plausible=CHECK)
    if fetch:
        return
    codes, bench, _ = missing_data(spec, store, ws)
    # some codes missing: the run leaves them out and its notes say so (as hypebt run --offline)
    if bench or (codes and len(codes) == len(needed_codes(spec, store, ws))):
        what = [f"{len(codes)} code(s) ({', '.join(codes[:5])}{' ...' if len(codes) > 5 else ''})"] if codes else []
        what += [f"the benchmark {spec.benchmark}"] if bench else []
        raise DataError(f"{spec.path}: the store {store.root} lacks {' and '.join(what)}; pass fetch=True to fetch "
                        "them through akshare, or import a dataset: hypebt data import FOLDER")


def _dated(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in DATE_COLUMNS:
        if col in out:
            out[col] = pd.to_datetime(out[col])
    return out


# --- backtests -------------------------------------------------------------------------------

class Result:
    """One backtest from Python: the same figures and tables as ``hypebt run`` writes.

    ``returns`` (daily, a Series) and ``equity`` (cash, value and recorded columns, a DataFrame)
    are indexed by a DatetimeIndex; ``trades``, ``orders``, ``fills``, ``borrow`` and
    ``corporate_actions`` (dividends, bonus shares, 融券 compensation, dividend tax) carry datetime
    columns; ``stats`` is a dict; ``warnings`` the run's notes; ``log`` the strategy's log lines;
    ``benchmark`` the benchmark's daily returns; ``universes`` (board universes) one row per event
    and board: the snapshot used, its age in days, the members and those without a bar that session.
    """

    def __init__(self, prep, run):
        self._prep, self._run = prep, run
        self.returns: pd.Series = run.returns.copy()
        self.returns.index = pd.DatetimeIndex(self.returns.index, name="date")
        equity = _dated(run.equity)
        self.equity: pd.DataFrame = equity.set_index(pd.DatetimeIndex(equity.pop("date"), name="date"))
        self.trades, self.orders = _dated(run.trades), _dated(run.orders)
        self.fills, self.borrow = _dated(run.fills), _dated(run.borrow)
        self.corporate_actions = _dated(run.corporate_actions)
        self.stats: dict = dict(run.stats)
        self.params: dict = dict(run.params)
        self.log: list[str] = list(run.log)
        self.benchmark: pd.Series = prep.benchmark.copy()
        self.warnings: list[str] = list(prep.warnings)
        if prep.look_ahead:
            self.warnings.append(prep.warning)
        self.name = prep.spec.name
        self.strategy = prep.strategy_name
        self.lang: str = resolve_lang(None, prep.spec.lang)  # of _repr_html_, plot and report (HYPEBT_LANG, locale)
        from hypebt.engine.event_universe import frame

        # Board universes: one row per event and board (snapshot, age in days, members without a bar).
        self.universes: pd.DataFrame = frame(prep.event_universes)

    def report(self, folder, html_report: bool = True, lang: str | None = None) -> Path:
        """Write the outputs of ``hypebt run`` (report.html, tearsheet, CSVs, stats.json, manifest.json)
        into ``folder``; returns it. Inside the workspace's ``reports/`` the page shares its
        ``_assets/``; elsewhere the folder gets its own."""
        from hypebt.reports.run_report import write_run

        return write_run(self._prep, self._run, Path(folder), command=["hypebt.backtest", str(self._prep.spec.path)],
                         html_report=html_report, lang=lang or self.lang, reports=self._prep.workspace / "reports")

    def __repr__(self) -> str:
        s = self.stats
        return (f"<hypebt.Result {self.name}: {self.strategy} {s['start']}..{s['end']}, "
                f"return {s['total_return']:+.2%}, sharpe {_num(s.get('sharpe'))}, {s['n_trades']} closed trades, "
                f"{s.get('open_positions', 0)} open, {s.get('refused_orders', 0)} refused by the market>")

    def _repr_html_(self) -> str:
        """Jupyter's view: headline figures against the benchmark, the counts (closed trades, open
        positions, orders refused by the market / cancelled by the strategy / expired), the
        equity-vs-benchmark chart and the notes."""
        from hypebt.reports import notebook

        return notebook.run_html(self, self.lang)

    def plot(self, lang: str | None = None):
        """Growth of 1 CNY and drawdown against the benchmark (a matplotlib figure)."""
        from hypebt.reports import notebook

        return notebook.equity_figure(self.returns, self.benchmark, self.strategy, str(self.benchmark.name or ""),
                                      lang or self.lang)


def _num(x) -> str:
    return "n/a" if x is None or x != x else f"{x:.2f}"


def prepare(spec=None, strategy=None, *, workspace=None, home=None, fetch: bool = False, offline: bool = False,
            **params):
    """The prepared run (:class:`hypebt.engine.backtest.Prepared`) of a spec, for repeated runs."""
    from hypebt.engine import backtest as engine

    sp, ws, cls = resolve_spec(spec, strategy, workspace, keywords=params)
    if not sp.strategy:
        raise InputError(f"{sp.path}: no strategy; pass strategy= (a name in strategies/, a .py path or a class)")
    store = _store(home, ws)
    _ensure(sp, store, ws, fetch and not offline)
    return engine.prepare(sp, ws, store, strategy_cls=cls)


def backtest(spec=None, strategy=None, *, workspace=None, home=None, fetch: bool = False, offline: bool = False,
             **params) -> Result:
    """Run one backtest and return its :class:`Result`.

    ``spec``: a spec file path, a dict of spec keys, or None (then keywords only). ``strategy``:
    a name in ``strategies/``, a ``.py`` path, or a :class:`hypebt.Strategy` subclass (one defined
    in a notebook works). Other keywords: spec keys (``start="2024-01-02"``, ``codes=[...]``,
    ``warmup=20``, ``rules={"borrow_rate": 0.1}``) or strategy parameters (``hold_days=3``).
    ``fetch=True`` fetches what the store lacks through akshare (never otherwise; ``offline=True``, the
    earlier spelling, says the same as the default).

    >>> res = hypebt.backtest("backtests/sora_hype.toml", hold_days=3)  # doctest: +SKIP
    >>> res.stats["sharpe"], res.returns.index[0]  # doctest: +SKIP
    """
    from hypebt.engine import backtest as engine

    prep = prepare(spec, strategy, workspace=workspace, home=home, fetch=fetch, offline=offline, **params)
    return Result(prep, engine.run(prep, strategy_cls=prep.strategy_cls))


# --- sweeps ----------------------------------------------------------------------------------

def sweep(spec=None, grid: dict | None = None, workers: int | None = None, *, strategy=None, out=None,
          scheduler: str | None = None, resume: bool = False, html_report: bool = False, workspace=None,
          home=None, fetch: bool = False, offline: bool = False, max_combinations: int | None = None,
          validate: str | None = None,
          **params) -> pd.DataFrame:
    """Run a parameter sweep; a DataFrame indexed by the swept parameters (one row per combination:
    status, figures, in-/out-of-sample columns) that shows the best distinct results and a chart
    in Jupyter, and whose ``.plot()`` draws the metric by parameter.

    ``grid`` is a ``[sweep]`` table (``{"hold_days": [1, 3, 5], "delay": {"start": 0, "stop": 2}}``,
    ranges include ``stop``; ``metric``, ``split``, ``constraints``, ``method``... as in a spec); it
    replaces the spec's. ``out``: keep the result store (and with ``html_report`` sweep.html) there;
    by default a temporary folder, removed afterwards. ``workers``: local processes (default all
    cores); ``scheduler``: a Dask address. ``validate="events"``: also run every combination on each
    event alone and validate over events (:mod:`hypebt.research.validate`, as ``--validate events``):
    ``frame.attrs["validation"]`` is the ``validation.csv`` table, ``frame.attrs["validation_summary"]``
    the in-sample best against the out-of-sample figures.

    >>> hypebt.sweep("backtests/sora_hype.toml", grid={"hold_days": [1, 3, 5]}, workers=1)  # doctest: +SKIP
    """
    from hypebt.engine import backtest as engine
    from hypebt.reports import sweep_page
    from hypebt.research import sweep as S

    sp, ws, cls = resolve_spec(spec, strategy, workspace, extra={"sweep": grid} if grid is not None else None,
                               keywords=params)
    store = _store(home, ws)
    _ensure(sp, store, ws, fetch and not offline)
    prep = engine.prepare(sp, ws, store, strategy_cls=cls)
    plan = S.make_plan(sp, prep.strategy_class(), max_combinations)
    if workers is not None and workers < 1:
        raise InputError(f"workers must be at least 1, got {workers}")
    if validate not in (None, "events"):
        raise InputError(f"validate must be None or \"events\", got {validate!r}")
    if validate:
        S.V.check(plan, prep, str(sp.path))
    folder = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="hypebt-sweep-"))
    checked = None
    try:
        outcome = S.execute(prep, plan, folder, workers=workers, scheduler=scheduler, resume=resume,
                            progress=False)
        if validate:
            _, keys = S.execute_events(prep, plan, folder, workers=workers, scheduler=scheduler, progress=False)
            events_store = S.ResultStore(folder / S.EVENTS_DB)
            try:
                checked = S.V.compute(prep, plan, events_store, keys)
            finally:
                events_store.close()
        if out is not None:
            sweep_page.write(prep, plan, folder, html_report=html_report, keys=outcome.keys, validation=checked,
                             lang=resolve_lang(None, sp.lang), reports=ws / "reports")
        store_ = S.ResultStore(folder / "results.sqlite")
        try:
            frame = S.results_frame(store_, plan, outcome.keys)
        finally:
            store_.close()
    finally:
        if out is None:
            shutil.rmtree(folder, ignore_errors=True)
    from hypebt.reports.notebook import SweepTable

    frame = SweepTable(frame.set_index(list(plan.axes)))
    frame.attrs.update(metric=plan.metric, grid_size=plan.grid_size, method=plan.method, name=sp.name,
                       lang=resolve_lang(None, sp.lang))
    if checked is not None:
        frame.attrs.update(validation=checked.frame, validation_summary=checked.summary)
    return frame


# --- event studies ---------------------------------------------------------------------------

@dataclass
class StudyResult:
    """An event study: ``car`` (per event x stock), ``summary`` (per event and overall),
    ``abnormal_returns`` (long table by relative day), ``curves`` (mean CAR with its band),
    ``skipped`` and ``notes``; with board universes ``universes`` (per event and board: the snapshot
    used, its age in days, the members without a bar)."""

    car: pd.DataFrame
    summary: pd.DataFrame
    abnormal_returns: pd.DataFrame
    curves: pd.DataFrame
    skipped: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    inputs: Any = None
    tests: pd.DataFrame | None = None  # every test for every window (the page's and tests.csv's table)
    universes: pd.DataFrame | None = None  # board universes: per event and board, the snapshot used and its age

    def report(self, folder, lang: str | None = None) -> Path:
        """Write what ``hypebt study`` writes (study.html, CSVs, manifest) into ``folder``."""
        from hypebt.reports import study_page

        return study_page.write(self.inputs, self.abnormal_returns, self.car, self.summary, self.curves,
                                self.skipped, Path(folder), command=["hypebt.study", str(self.inputs.spec.path)],
                                tests=self.tests, lang=lang or self.lang)

    @property
    def lang(self) -> str:
        return resolve_lang(None, self.inputs.spec.lang if self.inputs is not None else None)

    def _repr_html_(self) -> str:
        """Jupyter's view: the headline test, the counts, the mean CAR chart and the summary."""
        from hypebt.reports import notebook

        return notebook.study_html(self, self.inputs.spec.name if self.inputs is not None else "", self.lang)

    def plot(self, lang: str | None = None):
        """The mean CAR with its confidence band, market-adjusted and market model (a matplotlib figure)."""
        from hypebt.reports import notebook

        return notebook.study_figure(self.curves, lang or self.lang)


def study(spec=None, *, workspace=None, home=None, fetch: bool = False, offline: bool = False, **keys) -> StudyResult:
    """Run an event study (a spec with ``[events]`` and optionally ``[study]``).

    >>> s = hypebt.study("backtests/sora_study.toml"); s.summary  # doctest: +SKIP
    """
    from hypebt.research import study as ST

    sp, ws, _ = resolve_spec(spec, None, workspace, keywords=keys)
    if sp.events is None:
        raise InputError(f"{sp.path}: a study needs an [events] table (catalogue and a filter)")
    store = _store(home, ws)
    if sp.universe != "all":
        _ensure(sp, store, ws, fetch and not offline)
    inputs = ST.prepare(sp, ws, store)
    res = ST.compute_all(inputs.panel, inputs.tradables, inputs.cfg, inputs.names)
    curves = ST.curves(res.abnormal, inputs.cfg.confidence, res.outcomes)
    from hypebt.engine.event_universe import frame

    return StudyResult(res.car, res.summary, res.abnormal, curves, list(res.skipped), list(inputs.notes), inputs,
                       res.tests, frame(inputs.event_universes))
