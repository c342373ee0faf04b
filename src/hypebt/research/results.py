"""A sweep's result store: one SQLite row per finished combination, keyed by what decides it.

The key of a combination is a hash of (strategy file content, parameters, data
hashes, rules, period, events, margin list, limits): a re-run never duplicates
a row, and a resumed sweep skips exactly the combinations already done. A
batch of rows is written in one transaction, so a sweep killed at any moment
loses at most the combinations in flight.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hypebt.engine.strategy import resolve_params

# refused_orders: by the market; the orders the strategy cancelled or that expired, and the positions
# still open at the end, follow the status (added after the first release's columns)
RESULT_COLUMNS = ["total_return", "cagr", "sharpe", "sortino", "max_drawdown", "win_rate", "n_trades",
                  "exposure", "refused_orders", "status", "cancelled_orders", "expired_orders", "open_positions",
                  "final_value"]


# Spec keys that name or describe a run without changing a figure: left out of the result key.
_NOT_FIGURES = ("path", "name", "description", "sweep", "study", "named")


def _arrays_digest(arrays: dict) -> str:
    """sha256 of every column of every code's feed arrays (bars, limits, ST, suspensions), in order."""
    h = hashlib.sha256()
    for code in sorted(arrays):
        a = arrays[code]
        h.update(code.encode())
        for name in sorted(a.columns):
            h.update(name.encode())
            h.update(np.ascontiguousarray(a.columns[name]).tobytes())
    return h.hexdigest()


def _eligible_key(eligible):
    """The margin list as plain data: a hand list's codes, or a dated list's snapshots."""
    if hasattr(eligible, "codes") and hasattr(eligible, "dates"):  # market.status.DatedList
        return [[str(d), sorted(eligible.codes[d])] for d in eligible.dates]
    return sorted(eligible)


def run_identity(prep) -> dict:
    """Everything besides the parameters that decides a result: the key of ``--resume``.

    The strategy file and every module it imported from the workspace, the whole spec but its name
    and description (period, warm-up, cash, benchmark, universe, events, rules, adjust ...), the data
    hashes and the prepared arrays themselves (bars, limits, ST status, suspensions, warm-up bars),
    the events as mapped, the margin list, and hypebt's version: editing any of them starts afresh.
    """
    spec = prep.spec
    identity = _identity(prep, spec)
    if getattr(prep, "event_universes", None):  # board universes: each event's own members and snapshots
        identity["event_universes"] = [[t.event.id, list(t.members or ()), [b.published for b in t.basis]]
                                       for t in prep.events]
    return identity


def _identity(prep, spec) -> dict:
    from hypebt import __version__
    from hypebt.engine.provenance import workspace_sources

    return {
        "hypebt": __version__,
        "strategy_sha256": prep.strategy_sha256,
        "workspace_sources": workspace_sources(prep.workspace, prep.strategy_path),
        "spec": {k: v for k, v in spec.as_dict().items() if k not in _NOT_FIGURES},
        "warmup": prep.warmup,
        "arrays": _arrays_digest(prep.arrays),
        "history": _arrays_digest(prep.history),
        "benchmark_returns": hashlib.sha256(prep.benchmark.to_numpy(dtype="float64").tobytes()).hexdigest(),
        "data": {name: m.get("sha256") for name, m in sorted(prep.data_manifests.items())},
        "rules": dataclasses.asdict(prep.rules),
        "codes": list(prep.codes),
        "sessions": [str(prep.sessions[0].date()), str(prep.sessions[-1].date()), len(prep.sessions)],
        "cash": spec.cash, "benchmark": spec.benchmark,
        "events": [[t.event.id, str(t.session.date()), t.at] for t in prep.events],
        "margin_list": _eligible_key(prep.eligible),
        "st_codes": sorted(prep.spec.st_codes),
        "limits": hashlib.sha256(b"".join(
            a.columns["limit_up"].tobytes() + a.columns["limit_down"].tobytes() for a in prep.arrays.values()
        )).hexdigest(),
    }


def combo_key(identity: dict, params: dict) -> str:
    """sha256 of (identity, full parameter set): the result store's primary key."""
    blob = json.dumps({"id": identity, "params": params}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


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

    def return_arrays(self, keys) -> dict[str, np.ndarray]:
        """The stored daily returns of the finished (``ok``) rows among ``keys``, by key."""
        wanted = set(keys)
        return {k: np.frombuffer(blob, dtype="float64") for k, status, blob in
                self.db.execute("SELECT key, status, returns FROM results")
                if k in wanted and status == "ok" and blob is not None}

    def close(self) -> None:
        self.db.close()


def plan_keys_of(prep, plan, cls=None) -> list[str]:
    """The result-store key of each combination of ``plan`` (the split and walk-forward settings
    are part of it: they change what a row holds)."""
    cls = cls or prep.strategy_class()
    identity = {**run_identity(prep), "split": plan.split, "walk_forward": plan.walk_forward}
    return [combo_key(identity, resolve_params(cls, {**prep.spec.params, **c}, str(prep.spec.path)))
            for c in plan.combos]


def results_frame(store: ResultStore, plan, keys: list[str] | None = None) -> pd.DataFrame:
    """One row per combination of this plan (``keys``: the plan's keys; rows of other plans that
    a resumed store may hold are left out): parameters, figures, status, in a stable order."""
    frame = store.frame()
    if keys is not None and len(frame):
        # in the plan's order, whatever order the workers finished in (the same table for 1 or 64 workers)
        order = {k: i for i, k in reversed(list(enumerate(keys)))}
        frame = frame[frame["key"].isin(set(keys))]
        frame = frame.iloc[frame["key"].map(order).argsort(kind="stable")].reset_index(drop=True)
    params = list(plan.axes)
    extra = [c for c in frame.columns if c.startswith(("is_", "oos_", "wf"))]
    cols = params + RESULT_COLUMNS + extra + ["error", "seconds", "key"]
    for c in cols:
        if c not in frame:
            frame[c] = np.nan
    return frame[cols]
