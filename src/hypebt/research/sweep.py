"""Parameter sweeps: a grid or a random sample of strategy parameters, run fast,
resumably, on local processes or a Dask cluster.

- The plan (:mod:`hypebt.research.plan`) lists the combinations; the result store
  (:mod:`hypebt.research.results`) holds the finished ones; this module runs the rest.
- Data is prepared once (:func:`hypebt.engine.backtest.prepare`) and sent to each worker
  once; each combination runs the same :func:`hypebt.engine.backtest.run` as
  ``hypebt run``, so a sweep row equals a single run with those parameters.
- Workers return only figures and the daily return series, in batches.
- A combination that raises is stored as failed, with its error.

The sweep page is written by the ``hypebt sweep`` command (:mod:`hypebt.cli.sweep`) through
:mod:`hypebt.reports.sweep_page`: research never imports reports.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import itertools
import logging
import math
import multiprocessing as mp
import os
import pickle
import sqlite3
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hypebt.core.errors import HypebtError, OutputError, SweepLostError
from hypebt.core.outdir import LEGACY_FILES, check_output_dir, write_marker
from hypebt.engine import backtest as engine
from hypebt.engine import metrics
from hypebt.engine.strategy import resolve_params
# The plan and the result store are re-exported: ``sweep.make_plan``, ``sweep.ResultStore`` ...
from hypebt.research.plan import (DEFAULT_CAP, RANK_METRICS, RESERVED, Plan, check_period,  # noqa: F401
                                  compile_constraint, make_plan)
from hypebt.research.results import (RESULT_COLUMNS, ResultStore, combo_key, plan_keys_of,  # noqa: F401
                                     results_frame, run_identity)
from hypebt.research import validate as V

# What a sweep writes in its folder (its best/N/ run folders carry their own markers).
SWEEP_FILES = tuple(sorted(LEGACY_FILES["sweep"]))
EVENTS_DB = "events.sqlite"  # --validate events: each combination run on each event alone
# How local workers start: "fork" (they inherit the prepared data: nothing is sent) where the
# platform has it, else "spawn" (the data and the strategy class are shipped, see :func:`ship`).
START_METHOD = "fork" if "fork" in mp.get_all_start_methods() else "spawn"


# --- workers ---------------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _prepared(blob: bytes):
    """Unpickle the prepared data once per worker process and load the strategy class once."""
    digest = hashlib.sha1(blob).hexdigest()
    if _WORKER.get("digest") != digest:
        prep = pickle.loads(blob)
        _WORKER.update(digest=digest, prep=prep, cls=prep.strategy_class())
    return _WORKER["prep"], _WORKER["cls"]


def _init_local(blob: bytes | None, parent: int) -> None:
    _die_with_parent(parent)
    if blob is not None:
        _prepared(blob)


def _die_with_parent(parent: int) -> None:
    """Make this pool worker end when the sweep's main process does, even killed (SIGKILL): the
    kernel's parent-death signal where Linux offers it, and a watch on the parent's pid anyway."""
    import ctypes
    import signal
    import threading

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="hypebt-parent-watch").start()


def ship(prep) -> bytes:
    """The prepared data as bytes for workers that do not share this process's memory.

    cloudpickle (a dependency of Dask) writes a strategy class defined in ``__main__`` (a notebook
    cell, a script) by value, so a worker that never ran the cell gets the class itself; classes of
    importable modules still travel by reference. :func:`pickle.loads` reads it back.
    """
    import cloudpickle

    return cloudpickle.dumps(prep, protocol=pickle.HIGHEST_PROTOCOL)


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


def _event_prep(prep, event_id: str):
    """``prep`` with only one event (event validation), built once per worker and event."""
    variants = _WORKER.setdefault("variants", {})
    hit = variants.get(event_id)
    if hit is None or hit[0] is not prep:  # the prepared object itself: a new one may reuse an id
        variants[event_id] = hit = (prep, engine.only_events(prep, [event_id]))
    return hit[1]


def run_batch(batch: list[tuple], blob: bytes | None = None, prep=None,
              split: str | None = None, walk_forward: int = 0, event_window: int = V.DEFAULT_WINDOW) -> list[dict]:
    """Run combinations in this process; return figures and daily returns only.

    An item is ``(key, params)``, or ``(key, params, event id)`` for event validation: that event run
    alone, its figures and returns over the event's window (:mod:`hypebt.research.validate`).
    """
    if prep is None:
        prep, cls = _prepared(blob) if blob is not None else (_WORKER["prep"], _WORKER["cls"])
    else:
        # Keep the prepared object itself (not its id, which a new object may reuse).
        if _WORKER.get("prep_direct") is not prep:
            _WORKER.update(prep_direct=prep, cls_direct=prep.strategy_class())
        cls = _WORKER["cls_direct"]
    rows = []
    for key, params, *event in batch:
        t0 = time.perf_counter()
        try:
            run_prep = _event_prep(prep, event[0]) if event else prep
            # Quietly: what a strategy prints (a Backtrader strategy's print calls) would be one
            # stream per combination; `hypebt run` shows it.
            with contextlib.redirect_stdout(io.StringIO()):
                result = engine.run(run_prep, params, strategy_cls=cls, reuse_feeds=True, timereturn=False,
                                    ledgers=False)
            returns = result.returns.to_numpy(dtype="float64")
            if event:
                w = V.windows(run_prep, event_window)[0]
                figs, returns = V.window_figures(returns, w), returns[w.start:w.stop]
            else:
                figs = dict(result.stats)
                figs.update(split_figures(result.returns, split, walk_forward))
            rows.append({"key": key, "params": params, "status": "ok", "metrics": figs,
                         "returns": returns.tobytes(), "seconds": time.perf_counter() - t0})
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a failing combination (sys.exit() too) is recorded, the sweep goes on
            rows.append({"key": key, "params": params, "status": "failed",
                         "error": f"{exc.__class__.__name__}: {exc}"[:500], "seconds": time.perf_counter() - t0})
    return rows


def _dask_batch(prep, batch, split, walk_forward, event_window=V.DEFAULT_WINDOW):
    return run_batch(batch, prep=prep, split=split, walk_forward=walk_forward, event_window=event_window)


# --- driving a sweep -------------------------------------------------------------------------

@dataclass
class SweepOutcome:
    """What :func:`execute` did: combinations in the plan, run now, skipped (already stored), failed."""

    out: Path
    total: int
    ran: int
    skipped: int
    failed: int
    seconds: float
    keys: list = dataclasses.field(default_factory=list)  # the plan's combinations, in plan order


def prepare_out(out: Path, resume: bool) -> Path:
    """Check and create a sweep's output folder (new, empty, or an earlier sweep's); start the
    result store afresh unless resuming."""
    check_output_dir(out, "sweep")
    db_path = out / "results.sqlite"
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_marker(out, "sweep", SWEEP_FILES)  # before any other file: the folder is provably hypebt's
        if not resume:
            for db in (db_path, out / EVENTS_DB):
                for suffix in ("", "-wal", "-shm"):
                    Path(str(db) + suffix).unlink(missing_ok=True)
        ResultStore(db_path).close()
    except (OSError, sqlite3.Error) as exc:
        raise OutputError(f"{out}: cannot write the sweep's result store there ({exc}); choose another --out") from None
    return db_path


def _batches(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _todo(plan: Plan, plan_keys: list[str], done: set[str]) -> list[tuple[str, dict]]:
    """(key, combination) of the plan not yet in the store, each key once."""
    todo, keys = [], set()
    for key, combo in zip(plan_keys, plan.combos):
        if key in done or key in keys:
            continue
        keys.add(key)
        todo.append((key, combo))
    return todo


def _batch_size(n_todo: int, workers: int, batch: int | None) -> int:
    # Small batches: the last ones finish together (no long tail on one worker); a batch costs
    # only the pickling of its figures and returns.
    return batch or max(1, min(8, math.ceil(n_todo / (workers * 16)) if n_todo else 1))


class _Collector:
    """Stores each finished batch in one transaction, counts failures, moves the progress bar."""

    def __init__(self, store: ResultStore, total: int, progress: bool):
        self.store = store
        self.failed = 0
        self.stored = 0
        self.bar = _progress(total, progress)

    def __call__(self, rows: list[dict]) -> None:
        try:
            self.store.add(rows)
        except sqlite3.Error as exc:  # a full disk, a read-only folder: what is stored stays
            raise OutputError(
                f"{self.store.path}: cannot store results ({exc}); {self.stored} combination(s) are stored: free "
                "some space (or fix the folder) and rerun with --resume"
            ) from None
        self.stored += len(rows)
        self.failed += sum(r["status"] != "ok" for r in rows)
        if self.bar is not None:
            self.bar.update(len(rows))
            self.bar.set_postfix(done=self.bar.n, failed=self.failed, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def execute(prep, plan: Plan, out: Path, *, workers: int | None = None, scheduler: str | None = None,
            resume: bool = False, batch: int | None = None, progress: bool = True) -> SweepOutcome:
    """Run every combination of ``plan`` not yet in the result store under ``out``.

    ``scheduler``: a Dask scheduler address (else local processes, ``workers`` of them; 1 runs in
    this process). ``resume`` keeps the rows an earlier run of the sweep stored.
    """
    check_period(plan, prep.sessions, f"{prep.spec.path} [sweep]")
    store = ResultStore(prepare_out(out, resume))
    cls = prep.strategy_class()
    plan_keys = plan_keys_of(prep, plan, cls)
    todo = _todo(plan, plan_keys, store.done())
    return _execute(prep, cls, plan, store, todo, plan_keys, len(plan.combos), workers, scheduler, batch, progress)


def execute_events(prep, plan: Plan, out: Path, *, workers: int | None = None, scheduler: str | None = None,
                   batch: int | None = None, progress: bool = True) -> tuple[SweepOutcome, dict]:
    """Run every combination of ``plan`` on each event alone (``--validate events``) into
    ``out/events.sqlite`` (resumable like the sweep's store); returns the outcome and the key of
    each (combination index, event id)."""
    store = ResultStore(out / EVENTS_DB)
    cls = prep.strategy_class()
    identity = {**run_identity(prep), "validate": "events", "event_window": plan.event_window}
    keys, jobs = {}, []
    skip = store.done()
    for c, combo in enumerate(plan.combos):
        full = resolve_params(cls, {**prep.spec.params, **combo}, str(prep.spec.path))
        for t in prep.events:
            key = combo_key({**identity, "event": t.event.id}, full)
            keys[(c, t.event.id)] = key
            if key not in skip:
                skip.add(key)
                jobs.append((key, combo, t.event.id))
    outcome = _execute(prep, cls, plan, store, jobs, list(keys.values()), len(keys), workers, scheduler, batch,
                       progress)
    return outcome, keys


def _execute(prep, cls, plan: Plan, store: ResultStore, todo: list, plan_keys: list, total: int, workers, scheduler,
             batch, progress) -> SweepOutcome:
    out = store.path.parent
    workers = workers or os.cpu_count() or 1
    batches = _batches(todo, _batch_size(len(todo), workers, batch))
    t0 = time.perf_counter()
    collect = _Collector(store, len(todo), progress)
    try:
        if not batches:
            pass
        elif scheduler:
            _run_dask(prep, plan, batches, scheduler, collect)
        elif workers == 1:
            for b in batches:
                collect(run_batch(b, prep=prep, split=plan.split, walk_forward=plan.walk_forward,
                                  event_window=plan.event_window))
        else:
            _run_local(prep, cls, plan, batches, workers, collect)
    finally:
        collect.close()
        store.close()
    return SweepOutcome(out, total, len(todo), total - len(todo), collect.failed, time.perf_counter() - t0,
                        plan_keys)


def _run_local(prep, cls, plan: Plan, batches: list, workers: int, collect) -> None:
    """Batches on a pool of ``workers`` local processes, at most two per worker in flight."""
    # No quantstats here: the figures are numpy (engine.metrics); workers fork without it.
    if START_METHOD == "fork":
        # Forked workers inherit the prepared data and the strategy class: nothing to send.
        _WORKER.update(digest=None, prep=prep, cls=cls)
        pool_args = {"mp_context": mp.get_context("fork"), "initializer": _init_local,
                     "initargs": (None, os.getpid())}
    else:
        pool_args = {"mp_context": mp.get_context("spawn"), "initializer": _init_local,
                     "initargs": (ship(prep), os.getpid())}
    try:
        _pool(pool_args, plan, batches, workers, collect)
    except BrokenProcessPool as exc:
        raise SweepLostError(
            f"a sweep worker process died ({exc or 'killed'}: out of memory, or a signal); "
            f"{collect.stored} combination(s) are stored: rerun with --resume to run the rest"
        ) from None


def _pool(pool_args: dict, plan: Plan, batches: list, workers: int, collect) -> None:
    with ProcessPoolExecutor(max_workers=workers, **pool_args) as pool:
        pending = set()
        queue = iter(batches)
        # Keep a bounded number of batches in flight: memory stays flat however many combinations.
        for b in itertools.islice(queue, workers * 2):
            pending.add(pool.submit(run_batch, b, None, None, plan.split, plan.walk_forward, plan.event_window))
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                collect(fut.result())
                nxt = next(queue, None)
                if nxt is not None:
                    pending.add(pool.submit(run_batch, nxt, None, None, plan.split, plan.walk_forward,
                                            plan.event_window))


def _run_dask(prep, plan, batches, address, collect) -> None:
    try:
        _dask_batches(prep, plan, batches, address, collect)
    except HypebtError:
        raise
    except Exception as exc:  # the scheduler unreachable or gone: comm errors, timeouts, cancelled futures
        raise SweepLostError(
            f"the Dask cluster at {address} was lost ({exc.__class__.__name__}: {str(exc)[:200]}); "
            f"{collect.stored} combination(s) are stored: restart the cluster and rerun with --resume"
        ) from None


@contextlib.contextmanager
def _quiet_dask_logs():
    """Dask's own loggers held to CRITICAL while hypebt drives the cluster: a lost scheduler makes its
    client log errors and tracebacks to stderr (reconnecting, closing) before hypebt says what
    happened and what to do in one line (:class:`SweepLostError`)."""
    names = ["distributed", "tornado", *(n for n in logging.root.manager.loggerDict if n.startswith("distributed."))]
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _dask_batches(prep, plan, batches, address, collect) -> None:
    from distributed import Client, as_completed

    with _quiet_dask_logs(), Client(address, timeout="30s") as client:
        # The prepared data goes to every worker once; tasks carry only parameters.
        shared = {"prep": client.scatter(prep, broadcast=True, hash=False)}
        threads = sum(w.get("nthreads", 1) for w in client.scheduler_info().get("workers", {}).values()) or 1

        def submit(b):
            return client.submit(_dask_batch, shared["prep"], b, plan.split, plan.walk_forward, plan.event_window,
                                 pure=False, retries=3)

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
