"""Parameter sweeps: a grid or a random sample of strategy parameters, run fast,
resumably, on local processes or a Dask cluster.

- Data is prepared once (:func:`hypebt.engine.backtest.prepare`) and sent to each worker
  once; each combination runs the same :func:`hypebt.engine.backtest.run` as
  ``hypebt run``, so a sweep row equals a single run with those parameters.
- Workers return only figures and the daily return series, in batches.
- Results go to a SQLite result store under the output folder, one row per
  combination keyed by a hash of (strategy file content, parameters, data
  hashes, rules, period). A row is written in one transaction and the key is
  the primary key: a sweep killed at any moment loses at most the
  combinations in flight, and a re-run never duplicates a row.
- A combination that raises is stored as failed, with its error.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import itertools
import json
import math
import multiprocessing as mp
import operator
import os
import pickle
import random
import sqlite3
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hypebt.engine import backtest as engine
from hypebt.engine import metrics
from hypebt.core.errors import InputError, OutputError, unknown

SWEEP_MARKERS = ("results.sqlite", "summary.json")
RESERVED = {"method", "n", "seed", "constraints", "max_combinations", "split", "walk_forward", "top", "metric"}
DEFAULT_CAP = 5000
RANK_METRICS = ("sharpe", "sortino", "total_return", "cagr", "max_drawdown", "win_rate")


# --- the plan --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """What a sweep runs: the combinations and how results are judged."""

    axes: dict[str, list]
    combos: list[dict]
    grid_size: int
    method: str
    metric: str = "sharpe"
    top: int = 3
    split: str | None = None
    walk_forward: int = 0


def _axis(name: str, value, where: str) -> list:
    if isinstance(value, dict):
        extra = set(value) - {"start", "stop", "step"}
        if extra or not {"start", "stop"} <= set(value):
            raise InputError(f"{where}: sweep.{name}: a range is {{start = 1, stop = 10, step = 1}} (stop included)")
        start, stop, step = value["start"], value["stop"], value.get("step", 1)
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (start, stop, step)) or step <= 0:
            raise InputError(f"{where}: sweep.{name}: start, stop and a positive step must be numbers")
        n = int(math.floor((stop - start) / step + 1e-9)) + 1
        if n <= 0:
            raise InputError(f"{where}: sweep.{name}: the range {start}..{stop} is empty")
        ints = all(isinstance(x, int) for x in (start, stop, step))
        return [start + i * step if ints else round(start + i * step, 10) for i in range(n)]
    if isinstance(value, list):
        if not value:
            raise InputError(f"{where}: sweep.{name} is an empty list; give at least one value")
        return list(dict.fromkeys(value))
    return [value]


_OPS = {ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Lt: operator.lt, ast.LtE: operator.le,
        ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Add: operator.add, ast.Sub: operator.sub,
        ast.Mult: operator.mul, ast.Div: operator.truediv}


def _safe_eval(node, names: dict):
    """Evaluate a constraint's syntax tree: comparisons, and/or/not, + - * /, names, numbers only."""
    if isinstance(node, ast.Expression):
        return _safe_eval(node.body, names)
    if isinstance(node, ast.BoolOp):
        vals = [_safe_eval(v, names) for v in node.values]
        return all(vals) if isinstance(node.op, ast.And) else any(vals)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _safe_eval(node.operand, names)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_safe_eval(node.operand, names)
    if isinstance(node, ast.Compare):
        left = _safe_eval(node.left, names)
        for op, right_node in zip(node.ops, node.comparators):
            right = _safe_eval(right_node, names)
            if type(op) not in _OPS or not _OPS[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_safe_eval(node.left, names), _safe_eval(node.right, names))
    if isinstance(node, ast.Name):
        if node.id in ("true", "True"):
            return True
        if node.id in ("false", "False"):
            return False
        return names[node.id]
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, bool)):
        return node.value
    raise ValueError(f"{ast.dump(node)[:40]} is not allowed")


_ALLOWED = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.Compare, ast.BinOp,
            ast.Name, ast.Load, ast.Constant, *(_OPS))


def _check_nodes(tree) -> None:
    """Only comparisons, and/or/not, + - * /, parameter names and numbers."""
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ValueError(f"{node.__class__.__name__} is not allowed")
        if isinstance(node, ast.Constant) and (not isinstance(node.value, (int, float)) or isinstance(node.value, bool)):
            raise ValueError(f"the constant {node.value!r} is not a number")


def _satisfies(trees, values: dict) -> bool:
    """True when every constraint holds; a constraint that cannot be computed for a combination
    (a division by zero, an overflow) excludes it."""
    try:
        return all(_safe_eval(t, values) for t in trees)
    except ArithmeticError:
        return False


def compile_constraint(text: str, params: dict, where: str):
    """Parse ``take_profit > stop_loss`` into a checked syntax tree (never eval'd)."""
    try:
        tree = ast.parse(text, mode="eval")
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id not in params and node.id not in ("true", "false", "True", "False"):
                raise unknown("parameter in constraint", node.id, params, where)
        _check_nodes(tree)
    except SyntaxError:
        raise InputError(f"{where}: constraint {text!r} is not an expression like 'take_profit > stop_loss'") from None
    except (ValueError, TypeError) as exc:
        raise InputError(f"{where}: constraint {text!r}: {exc}; use comparisons, and/or/not, + - * /") from None
    return tree


def make_plan(spec, strategy_cls, cap: int | None = None) -> Plan:
    """Build the combinations of ``spec.sweep`` for ``strategy_cls``; check everything."""
    where = f"{spec.path} [sweep]"
    table = dict(spec.sweep or {})
    if not table:
        raise InputError(f"{spec.path}: no [sweep] table; add one, e.g. [sweep] hold_days = [1, 3, 5]")
    defaults = {**strategy_cls.PARAMS, **spec.params}
    axes = {}
    for key, value in table.items():
        if key in RESERVED:
            continue
        if key not in strategy_cls.PARAMS:
            raise unknown(f"parameter of strategy {strategy_cls.hypebt_name}", key, strategy_cls.PARAMS, where)
        axes[key] = _axis(key, value, where)
    if not axes:
        raise InputError(f"{where}: no parameter to sweep; add e.g. hold_days = [1, 3, 5]")
    method = table.get("method", "grid")
    if method not in ("grid", "random"):
        raise InputError(f"{where}: method must be \"grid\" or \"random\", got {method!r}")
    cap = cap or int(table.get("max_combinations", DEFAULT_CAP))
    sizes = [len(v) for v in axes.values()]
    grid_size = math.prod(sizes)
    names = list(axes)
    constraints = table.get("constraints", [])
    if isinstance(constraints, str):
        constraints = [constraints]
    trees = [compile_constraint(c, defaults, where) for c in constraints]

    def combo_at(index: int) -> dict:
        out = {}
        for name, size in zip(reversed(names), reversed(sizes)):
            index, j = divmod(index, size)
            out[name] = axes[name][j]
        return {n: out[n] for n in names}

    def ok(combo: dict) -> bool:
        return _satisfies(trees, {**defaults, **combo})

    if method == "grid":
        if grid_size > cap:
            raise InputError(
                f"{where}: the grid has {grid_size:,} combinations, over the cap of {cap:,}; shrink it, "
                f"sample it with method = \"random\" and n = ..., or raise --max-combinations"
            )
        combos = [c for c in (combo_at(i) for i in range(grid_size)) if ok(c)]
    else:
        n = table.get("n")
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            raise InputError(f"{where}: method = \"random\" needs n = a positive whole number")
        if n > cap:
            raise InputError(f"{where}: n = {n:,} is over the cap of {cap:,}; lower n or raise --max-combinations")
        rng = random.Random(table.get("seed", 0))
        # Walk a random permutation of the grid until n combinations pass the constraints.
        order = rng.sample(range(grid_size), grid_size) if grid_size <= 2_000_000 else \
            (rng.randrange(grid_size) for _ in range(200 * n))
        combos, seen = [], set()
        for i in order:
            if i in seen:
                continue
            seen.add(i)
            c = combo_at(i)
            if ok(c):
                combos.append(c)
                if len(combos) == n:
                    break
    if not combos:
        raise InputError(f"{where}: no combination satisfies the constraints {constraints}")
    metric = table.get("metric", "sharpe")
    if metric not in RANK_METRICS:
        raise unknown("ranking metric", metric, RANK_METRICS, where)
    split = table.get("split")
    if split is not None:
        split = str(split)
    wf = table.get("walk_forward", 0)
    if not isinstance(wf, int) or wf < 0 or wf == 1:
        raise InputError(f"{where}: walk_forward must be 0 (off) or a number of windows >= 2")
    return Plan(axes=axes, combos=combos, grid_size=grid_size, method=method, metric=metric,
                top=int(table.get("top", 3)), split=split, walk_forward=wf)


# --- identity of a combination ---------------------------------------------------------------

def run_identity(prep) -> dict:
    """Everything besides the parameters that decides a result."""
    spec = prep.spec
    return {
        "strategy_sha256": prep.strategy_sha256,
        "data": {name: m.get("sha256") for name, m in sorted(prep.data_manifests.items())},
        "rules": dataclasses.asdict(prep.rules),
        "codes": list(prep.codes),
        "sessions": [str(prep.sessions[0].date()), str(prep.sessions[-1].date()), len(prep.sessions)],
        "cash": spec.cash, "benchmark": spec.benchmark,
        "events": [[t.event.id, str(t.session.date()), t.at] for t in prep.events],
        "margin_list": sorted(prep.eligible),
        "st_codes": sorted(prep.spec.st_codes),
        "limits": hashlib.sha256(b"".join(
            a.columns["limit_up"].tobytes() + a.columns["limit_down"].tobytes() for a in prep.arrays.values()
        )).hexdigest(),
    }


def combo_key(identity: dict, params: dict) -> str:
    """sha256 of (identity, full parameter set): the result store's primary key."""
    blob = json.dumps({"id": identity, "params": params}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


# --- the result store ------------------------------------------------------------------------

class ResultStore:
    """SQLite file of finished combinations; one transaction per batch of rows."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=60)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, params TEXT NOT NULL, status TEXT NOT NULL,"
            " error TEXT, metrics TEXT, returns BLOB, seconds REAL, finished_at TEXT)"
        )
        self.db.commit()

    def done(self) -> set[str]:
        return {k for (k,) in self.db.execute("SELECT key FROM results")}

    def add(self, rows: list[dict]) -> int:
        with self.db:  # one transaction: all rows of the batch or none
            cur = self.db.executemany(
                "INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(r["key"], json.dumps(r["params"], sort_keys=True, default=str), r["status"], r.get("error"),
                  json.dumps(r.get("metrics") or {}, default=str), r.get("returns"), r.get("seconds"),
                  time.strftime("%Y-%m-%dT%H:%M:%S")) for r in rows],
            )
        return cur.rowcount

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def frame(self) -> pd.DataFrame:
        """One row per combination: key, status, error, the parameters and the figures (no returns)."""
        rows = []
        for key, params, status, error, mets, seconds in self.db.execute(
                "SELECT key, params, status, error, metrics, seconds FROM results ORDER BY rowid"):
            rows.append({"key": key, "status": status, "error": error or "", "seconds": seconds,
                         **json.loads(params),
                         **json.loads(mets or "{}")})
        return pd.DataFrame(rows)

    def returns(self, key: str, index: pd.DatetimeIndex) -> pd.Series:
        (blob,) = self.db.execute("SELECT returns FROM results WHERE key = ?", (key,)).fetchone()
        return pd.Series(np.frombuffer(blob, dtype="float64"), index=index)

    def close(self) -> None:
        self.db.close()


# --- workers ---------------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _prepared(blob: bytes):
    """Unpickle the prepared data once per worker process and load the strategy class once."""
    digest = hashlib.sha1(blob).hexdigest()
    if _WORKER.get("digest") != digest:
        prep = pickle.loads(blob)
        _WORKER.update(digest=digest, prep=prep, cls=prep.strategy_class())
    return _WORKER["prep"], _WORKER["cls"]


def _init_local(blob: bytes) -> None:
    _prepared(blob)


def split_figures(returns: pd.Series, split: str | None, walk_forward: int) -> dict:
    """In-sample / out-of-sample figures (``is_*``/``oos_*``) and per-window ``wfN_*`` figures."""
    out = {}
    if split:
        cut = pd.Timestamp(split)
        for prefix, part in (("is_", returns[returns.index < cut]), ("oos_", returns[returns.index >= cut])):
            out.update({prefix + k: v for k, v in metrics.from_returns(part).items()})
    if walk_forward:
        for i, rows in enumerate(np.array_split(np.arange(len(returns)), walk_forward), start=1):
            figs = metrics.from_returns(returns.iloc[rows])
            out[f"wf{i}_total_return"] = figs["total_return"]
            out[f"wf{i}_sharpe"] = figs["sharpe"]
    return out


def run_batch(batch: list[tuple[str, dict]], blob: bytes | None = None, prep=None,
              split: str | None = None, walk_forward: int = 0) -> list[dict]:
    """Run combinations in this process; return figures and daily returns only."""
    if prep is None:
        prep, cls = _prepared(blob) if blob is not None else (_WORKER["prep"], _WORKER["cls"])
    else:
        # Keep the prepared object itself (not its id, which a new object may reuse).
        if _WORKER.get("prep_direct") is not prep:
            _WORKER.update(prep_direct=prep, cls_direct=prep.strategy_class())
        cls = _WORKER["cls_direct"]
    rows = []
    for key, params in batch:
        t0 = time.perf_counter()
        try:
            result = engine.run(prep, params, strategy_cls=cls, reuse_feeds=True, timereturn=False)
            figs = dict(result.stats)
            figs.update(split_figures(result.returns, split, walk_forward))
            rows.append({"key": key, "params": params, "status": "ok", "metrics": figs,
                         "returns": result.returns.to_numpy(dtype="float64").tobytes(),
                         "seconds": time.perf_counter() - t0})
        except Exception as exc:  # a failing combination is recorded, the sweep goes on
            rows.append({"key": key, "params": params, "status": "failed",
                         "error": f"{exc.__class__.__name__}: {exc}"[:500], "seconds": time.perf_counter() - t0})
    return rows


def _dask_batch(prep, batch, split, walk_forward):
    return run_batch(batch, prep=prep, split=split, walk_forward=walk_forward)


# --- driving a sweep -------------------------------------------------------------------------

@dataclass
class SweepOutcome:
    out: Path
    total: int
    ran: int
    skipped: int
    failed: int
    seconds: float
    keys: list = dataclasses.field(default_factory=list)  # the plan's combinations, in plan order


def plan_keys_of(prep, plan: Plan, cls=None) -> list[str]:
    """The result-store key of each combination of ``plan`` (the split and walk-forward settings
    are part of it: they change what a row holds)."""
    from hypebt.engine.strategy import resolve_params

    cls = cls or prep.strategy_class()
    identity = {**run_identity(prep), "split": plan.split, "walk_forward": plan.walk_forward}
    return [combo_key(identity, resolve_params(cls, {**prep.spec.params, **c}, str(prep.spec.path)))
            for c in plan.combos]


def prepare_out(out: Path, resume: bool) -> Path:
    """Check and create a sweep's output folder (new, empty, or an earlier sweep's); start the
    result store afresh unless resuming."""
    from hypebt.reports.run_report import check_output_dir

    check_output_dir(out, SWEEP_MARKERS)
    db_path = out / "results.sqlite"
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not resume and db_path.exists():
            for suffix in ("", "-wal", "-shm"):
                Path(str(db_path) + suffix).unlink(missing_ok=True)
        ResultStore(db_path).close()
    except (OSError, sqlite3.Error) as exc:
        raise OutputError(f"{out}: cannot write the sweep's result store there ({exc}); choose another --out") from None
    return db_path


def _batches(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def execute(prep, plan: Plan, out: Path, *, workers: int | None = None, scheduler: str | None = None,
            resume: bool = False, batch: int | None = None, progress: bool = True) -> SweepOutcome:
    """Run every combination of ``plan`` not yet in the result store under ``out``."""
    store = ResultStore(prepare_out(out, resume))
    cls = prep.strategy_class()
    plan_keys = plan_keys_of(prep, plan, cls)
    todo, keys = [], set()
    done = store.done()
    for key, combo in zip(plan_keys, plan.combos):
        if key in done or key in keys:
            continue
        keys.add(key)
        todo.append((key, combo))
    skipped = len(plan.combos) - len(todo)
    workers = workers or os.cpu_count() or 1
    # Small batches: the last ones finish together (no long tail on one worker); a batch costs
    # only the pickling of its figures and returns.
    size = batch or max(1, min(8, math.ceil(len(todo) / (workers * 16)) if todo else 1))
    batches = _batches(todo, size)
    t0 = time.perf_counter()
    failed = 0
    bar = _progress(len(todo), progress)

    def collect(rows):
        nonlocal failed
        store.add(rows)
        failed += sum(r["status"] != "ok" for r in rows)
        if bar is not None:
            bar.update(len(rows))
            bar.set_postfix(done=bar.n, failed=failed, refresh=False)

    try:
        if not batches:
            pass
        elif scheduler:
            _run_dask(prep, plan, batches, scheduler, collect)
        elif workers == 1:
            for b in batches:
                collect(run_batch(b, prep=prep, split=plan.split, walk_forward=plan.walk_forward))
        else:
            metrics._qs()  # import quantstats once here, so forked workers start with it loaded
            if "fork" in mp.get_all_start_methods():
                # Forked workers inherit the prepared data and the strategy class: nothing to send.
                _WORKER.update(digest=None, prep=prep, cls=cls)
                pool_args = {"mp_context": mp.get_context("fork")}
            else:
                blob = pickle.dumps(prep, protocol=pickle.HIGHEST_PROTOCOL)
                pool_args = {"initializer": _init_local, "initargs": (blob,)}
            with ProcessPoolExecutor(max_workers=workers, **pool_args) as pool:
                pending = set()
                queue = iter(batches)
                # Keep a bounded number of batches in flight: memory stays flat however many combinations.
                for b in itertools.islice(queue, workers * 2):
                    pending.add(pool.submit(run_batch, b, None, None, plan.split, plan.walk_forward))
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        collect(fut.result())
                        nxt = next(queue, None)
                        if nxt is not None:
                            pending.add(pool.submit(run_batch, nxt, None, None, plan.split, plan.walk_forward))
    finally:
        if bar is not None:
            bar.close()
        store.close()
    return SweepOutcome(out, len(plan.combos), len(todo), skipped, failed, time.perf_counter() - t0, plan_keys)


def _run_dask(prep, plan, batches, address, collect) -> None:
    from distributed import Client, as_completed

    with Client(address, timeout="30s") as client:
        # The prepared data goes to every worker once; tasks carry only parameters.
        shared = {"prep": client.scatter(prep, broadcast=True, hash=False)}
        threads = sum(w.get("nthreads", 1) for w in client.scheduler_info().get("workers", {}).values()) or 1

        def submit(b):
            return client.submit(_dask_batch, shared["prep"], b, plan.split, plan.walk_forward, pure=False,
                                 retries=3)

        queue = iter(batches)
        batch_of, tries = {}, {}

        def start(b):
            fut = submit(b)
            batch_of[fut.key] = b
            return fut

        # A bounded number of batches in flight, as locally: memory stays flat.
        running = as_completed([start(b) for b in itertools.islice(queue, 2 * threads)])
        for fut in running:
            b = batch_of.pop(fut.key)
            try:
                rows = fut.result()
            except Exception as exc:  # a worker died: KilledWorker, or the data it held was lost
                tries[id(b)] = tries.get(id(b), 0) + 1
                if tries[id(b)] <= 3:
                    if shared["prep"].status != "finished":
                        # Every copy of the prepared data went with dead workers: send it again.
                        shared["prep"] = client.scatter(prep, broadcast=True, hash=False)
                    running.add(start(b))
                    continue
                rows = [{"key": k, "params": c, "status": "failed",
                         "error": f"{exc.__class__.__name__}: {exc}"[:500]} for k, c in b]
            collect(rows)
            fut.release()
            nxt = next(queue, None)
            if nxt is not None:
                running.add(start(nxt))


def _progress(total: int, enabled: bool):
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="combo", desc="sweep", file=sys.stderr, dynamic_ncols=True)


def cli(args) -> int:
    """``hypebt sweep SPEC``: plan, execute, write results and the report."""
    from hypebt.cli.main import ensure_data, _store
    from hypebt.core.paths import safe_name, workspace
    from hypebt.engine.spec import load_spec
    from hypebt.reports import sweep_page as sweep_report

    ws = workspace(args.workspace)
    spec = load_spec(args.spec, args.set)
    if not spec.strategy:
        raise InputError(f"{args.spec}: missing key 'strategy' (a file name in strategies/, e.g. \"hype_buy\")")
    store = _store(args)
    ensure_data(spec, store, ws, args.offline)
    prep = engine.prepare(spec, ws, store)
    cls = prep.strategy_class()
    plan = make_plan(spec, cls, args.max_combinations)
    if args.top is not None:
        plan = dataclasses.replace(plan, top=args.top)
    for opt in ("workers", "batch", "top", "max_combinations"):
        value = getattr(args, opt)
        if value is not None and value < 1:
            raise InputError(f"--{opt.replace('_', '-')} must be at least 1, got {value}")
    out = Path(args.out) if args.out else ws / "reports" / f"{safe_name(spec.name, 'run name')}_sweep"
    prepare_out(out, args.resume)
    where = f"{args.scheduler} (Dask)" if args.scheduler else f"{args.workers or os.cpu_count()} local worker(s)"
    print(f"sweep {spec.name}: {len(plan.combos)} combination(s) of {', '.join(plan.axes)} "
          f"({plan.method}, grid of {plan.grid_size:,}) on {where}", file=sys.stderr)
    outcome = execute(prep, plan, out, workers=args.workers, scheduler=args.scheduler, resume=args.resume,
                      batch=args.batch, progress=sys.stderr.isatty())
    summary = sweep_report.write(prep, plan, out, html_report=not args.no_html, keys=outcome.keys)
    rate = outcome.ran / outcome.seconds if outcome.seconds > 0 else float("nan")
    print(f"ran {outcome.ran} ({rate:.2f}/s), skipped {outcome.skipped} already done, {outcome.failed} failed; "
          f"{summary['line']}")
    print(f"results: {out / 'results.csv'}" + ("" if args.no_html else f"\nreport: {out / 'sweep.html'}"))
    return 0
