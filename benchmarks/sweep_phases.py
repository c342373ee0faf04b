"""Where a sweep's time goes, for ``bench_sweep.py``: worker start, feed build, run, ledgers,
figures, result transfer, SQLite commit.

A real ``sweep.execute`` with local workers runs with timing wrappers around hypebt's own
functions (set before the workers fork, so the workers inherit them; removed afterwards);
each worker adds its accumulated times to the rows it returns, which the result store
ignores. A wrapper whose function does not exist (renamed by a later version) is skipped and
its phase shows as "-". Nested phases are subtracted from the run's time.

Phases are CPU seconds (``time.process_time``: what they cost, whatever the machine's load),
except the worker start, in wall seconds:

- worker start: from ``execute()`` being called to the last worker starting its first batch
  (parent imports before forking, plan keys, the fork itself);
- feed build: ``ArrayFeed.start`` / ``preload`` (the feeds' per-run copy) and feed creation;
- ledgers: the order, trade and fill frames built after each run;
- figures: ``metrics.compute`` and friends (and split / walk-forward figures);
- result transfer: pickling a batch's rows in the worker and unpickling them (measured by
  doing both on the returned rows, in the worker);
- SQLite commit: ``ResultStore.add`` in the parent.
"""

from __future__ import annotations

import os
import pickle
import time
from collections import defaultdict

TIMES: dict[str, float] = defaultdict(float)
_ACTIVE: set[str] = set()
_PATCHED: list = []

# (module path, attribute path, phase)
TARGETS = [
    ("hypebt.market.feed", "ArrayFeed.start", "feed build"),
    ("hypebt.market.feed", "ArrayFeed.preload", "feed build"),
    ("hypebt.market.feed", "ArrayFeed.__init__", "feed build"),
    ("hypebt.market.orders", "OrderDesk.orders_frame", "ledgers"),
    ("hypebt.market.orders", "OrderDesk.trades_frame", "ledgers"),
    ("hypebt.market.orders", "OrderDesk.fills_frame", "ledgers"),
    ("hypebt.engine.metrics", "compute", "figures"),
    ("hypebt.engine.metrics", "exposure_of", "figures"),
    ("hypebt.engine.metrics", "benchmark_figures", "figures"),
    ("hypebt.research.sweep", "split_figures", "figures"),
    ("hypebt.engine.backtest", "run", "run (total)"),
    ("hypebt.research.sweep", "ResultStore.add", "SQLite commit"),
]


def _wrap(fn, phase):
    def timed(*args, **kwargs):
        if phase in _ACTIVE:  # re-entrant call: counted by the outer one
            return fn(*args, **kwargs)
        _ACTIVE.add(phase)
        t = time.process_time()  # CPU time: what a phase costs, whatever the machine's load
        try:
            return fn(*args, **kwargs)
        finally:
            TIMES[phase] += time.process_time() - t
            _ACTIVE.discard(phase)
    timed.__wrapped__ = fn
    return timed


def install() -> None:
    import importlib

    for mod_name, attr, phase in TARGETS:
        owner = importlib.import_module(mod_name)
        *path, name = attr.split(".")
        for p in path:
            owner = getattr(owner, p, None)
        if owner is None or not hasattr(owner, name):
            continue
        fn = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        setattr(owner, name, _wrap(fn, phase))
        _PATCHED.append((owner, name, fn))
    from hypebt.research import sweep

    batch = sweep.run_batch
    first = {}

    def run_batch(*args, **kwargs):
        first.setdefault(os.getpid(), time.time())
        before = dict(TIMES)
        rows = batch(*args, **kwargs)
        t = time.process_time()
        blob = pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(blob)
        spent = {k: v - before.get(k, 0.0) for k, v in TIMES.items()}
        spent["result transfer"] = time.process_time() - t
        spent["bytes"] = len(blob)
        if rows:
            rows[0]["_phases"] = spent
            rows[0]["_first"] = first[os.getpid()]
        return rows

    # pickled by name for the pool: it must be found as sweep.run_batch
    run_batch.__module__, run_batch.__qualname__ = sweep.__name__, "run_batch"
    sweep.run_batch = run_batch
    _PATCHED.append((sweep, "run_batch", batch))


def uninstall() -> None:
    while _PATCHED:
        owner, name, fn = _PATCHED.pop()
        setattr(owner, name, fn)
    TIMES.clear()


def measure(prep, plan, out, workers: int) -> dict:
    """Run ``plan`` on ``workers`` local workers with the wrappers; return seconds per phase
    (summed over workers; the parent's phases as they are) and per-combination figures."""
    from hypebt.research import sweep

    install()
    rows_seen: list[dict] = []
    add = sweep.ResultStore.add

    def keep(self, rows):
        rows_seen.extend(r for r in rows if "_phases" in r)
        return add(self, rows)

    sweep.ResultStore.add = keep
    try:
        t0 = time.time()
        outcome = sweep.execute(prep, plan, out, workers=workers, progress=False)
        wall = time.time() - t0
        commit = TIMES.get("SQLite commit", 0.0)
    finally:
        sweep.ResultStore.add = add
        uninstall()
    phases: dict[str, float] = defaultdict(float)
    starts = []
    for r in rows_seen:
        for k, v in r["_phases"].items():
            phases[k] += v
        starts.append(r["_first"])
    n = len(plan.combos)
    starts = sorted(set(starts))
    out_ = {
        "wall": wall, "combos": n, "failed": outcome.failed,
        "worker start": (max(starts) - t0) if starts else None,
        "feed build": phases.get("feed build"),
        "ledgers": phases.get("ledgers"),
        "figures": phases.get("figures"),
        "result transfer": phases.get("result transfer"),
        "bytes per combination": phases.get("bytes", 0) / n if n else 0,
        "SQLite commit": commit,
    }
    # The benchmark's plan has no split / walk-forward: every figures second was inside engine.run.
    total = phases.get("run (total)", 0.0)
    out_["run"] = total - sum(phases.get(k, 0.0) for k in ("feed build", "ledgers", "figures"))
    return out_


def table(ph: dict) -> list[str]:
    """Printable lines: seconds and ms per combination of each phase."""
    n = ph["combos"] or 1
    lines = [f"phases of a {n}-combination sweep ({ph['wall']:.2f} s wall; CPU seconds, summed over workers; "
             "worker start in wall seconds):"]
    for k in ("worker start", "feed build", "run", "ledgers", "figures", "result transfer", "SQLite commit"):
        v = ph.get(k)
        if v is None:
            lines.append(f"  {k:<16} -")
        elif k == "worker start":
            lines.append(f"  {k:<16} {v:7.3f} s (once)")
        else:
            lines.append(f"  {k:<16} {v:7.3f} s  {1000 * v / n:7.2f} ms/combination")
    lines.append(f"  {'result size':<16} {ph['bytes per combination'] / 1024:7.1f} KiB/combination")
    return lines
