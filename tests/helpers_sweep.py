"""Tiny sweep fixtures: a 3-stock, 60-session market, a toy strategy, and process tools.

The toy strategy buys every code at the open of session 0, holds ``hold_days``
sessions, waits ``gap`` sessions and buys again, so every (hold_days, gap) pair
gives its own return series. ``explode`` makes one hold_days value raise
ValueError; ``pause`` makes each combination take that many seconds (for the
kill tests), without changing its figures; ``trace`` names a file where each
combination appends ``start|end PID hold_days gap`` lines.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from helpers_engine import BENCH, bars, make_workspace, toml_value, write_store

PY = sys.executable
CODES = ("600000", "600001", "000002")

TOY_STRATEGY = '''
"""Toy strategy for sweep tests: buy all, hold hold_days, wait gap sessions, repeat."""

import os
import time

from hypebt import Strategy


class Toy(Strategy):
    PARAMS = {"hold_days": 3, "gap": 2, "fraction": 0.9, "stop_loss": 0.0, "take_profit": 0.0,
              "explode": 0, "pause": 0.0, "trace": ""}

    def __init__(self):
        super().__init__()
        if self.cfg.explode and self.cfg.hold_days == self.cfg.explode:
            raise ValueError(f"toy refuses hold_days={self.cfg.hold_days}")
        self._trace("start")
        if self.cfg.pause:
            time.sleep(self.cfg.pause)

    def _trace(self, what):
        if self.cfg.trace:
            with open(self.cfg.trace, "a") as fh:
                fh.write(f"{what} {os.getpid()} {self.cfg.hold_days} {self.cfg.gap}\\n")

    def stop(self):
        super().stop()
        self._trace("end")

    def on_open(self, day):
        cycle = self.cfg.hold_days + self.cfg.gap
        phase = self.session_no % cycle
        if phase == 0 and self.session_no + self.cfg.hold_days < len(self.sessions):
            budget = self.equity * self.cfg.fraction / len(self.universe)
            for code in self.universe:
                self.buy_value(code, budget)
        elif phase == self.cfg.hold_days:
            for code in self.universe:
                self.sell_all(code)
'''

SHORT_STRATEGY = '''
"""Short every code at the first open, cover after hold_days sessions."""

from hypebt import Strategy


class ShortAll(Strategy):
    PARAMS = {"hold_days": 3}

    def on_open(self, day):
        if self.session_no == 0:
            for code in self.universe:
                self.short_value(code, self.equity * 0.3 / len(self.universe))
        elif self.session_no == self.cfg.hold_days:
            for code in self.universe:
                self.cover_all(code)
'''


def sessions(n: int = 60) -> list[str]:
    return [str(d.date()) for d in pd.bdate_range("2024-01-02", periods=n)]


def market(n: int = 60, seed: int = 7) -> dict[str, pd.DataFrame]:
    """code -> bars: a seeded random walk with daily moves within +-4 % (never at a limit)."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, code in enumerate(CODES):
        close = 10.0 + k
        rows = []
        for day in sessions(n):
            o = round(close * (1 + rng.uniform(-0.015, 0.015)), 2)
            c = round(close * (1 + rng.uniform(-0.04, 0.04)), 2)
            rows.append((day, o, round(max(o, c) * 1.005, 2), round(min(o, c) * 0.995, 2), c))
            close = c
        out[code] = bars(10.0 + k, rows)
    return out


def toml_inline(v) -> str:
    """A TOML value, with dicts as inline tables (``{start = 1, stop = 5}``)."""
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {toml_inline(x)}" for k, x in v.items()) + "}"
    return toml_value(v)


def write_spec(ws: Path, name: str, top: dict, tables: dict) -> Path:
    """``backtests/<name>.toml`` from top-level keys and ``{table: {key: value}}`` (ranges allowed)."""
    lines = [f'name = "{name}"'] + [f"{k} = {toml_inline(v)}" for k, v in top.items()]
    for table, keys in tables.items():
        lines += [f"\n[{table}]"] + [f"{k} = {toml_inline(v)}" for k, v in keys.items()]
    path = ws / "backtests" / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def tiny_sweep(tmp: Path, sweep: dict, params: dict | None = None, name: str = "toy",
               strategy: str = "toy", top: dict | None = None, store: bool = True) -> dict:
    """A workspace + store for a sweep of the toy strategy; returns paths for the CLI."""
    ws = make_workspace(tmp / "ws", margin=CODES, strategies={"toy": TOY_STRATEGY, "short_all": SHORT_STRATEGY})
    if store:
        write_store(tmp / "home", market())
    spec = write_spec(ws, name, {"strategy": strategy, "codes": list(CODES), "cash": 1_000_000,
                                 "benchmark": BENCH, "margin_list": "margin", **(top or {})},
                      {"params": params or {}, "sweep": sweep})
    return {"ws": ws, "home": tmp / "home", "spec": spec, "out": tmp / "out"}


def sweep_argv(t: dict, *extra: str, out: Path | None = None, html: bool = False) -> list[str]:
    """``hypebt`` arguments of a sweep of ``t`` (offline; no html unless ``html``)."""
    return ["--workspace", str(t["ws"]), "--home", str(t["home"]), "sweep", str(t["spec"]),
            "--out", str(out or t["out"]), "--offline", *([] if html else ["--no-html"]), *extra]


def spawn(argv: list[str], log: Path) -> subprocess.Popen:
    """``python -m hypebt.cli.main argv`` in its own process group, output to ``log``."""
    fh = open(log, "wb")
    try:
        return subprocess.Popen([PY, "-m", "hypebt.cli.main", *argv], stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    finally:
        fh.close()


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc``'s whole process group (it was started in its own session) and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def reverse_rows(db: Path) -> None:
    """Store a result store's rows again in the reverse order (as a resumed or Dask sweep may have)."""
    con = sqlite3.connect(db)
    rows = con.execute("SELECT * FROM results ORDER BY rowid").fetchall()
    with con:
        con.execute("DELETE FROM results")
        con.executemany(f"INSERT INTO results VALUES ({', '.join('?' * len(rows[0]))})", rows[::-1])
    con.close()


def row_count(db: Path) -> int:
    """Rows in a result store, read-only (0 while it does not exist yet or is locked)."""
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def wait_for(what, ready, proc: subprocess.Popen | None = None, timeout: float = 60) -> None:
    """Poll ``ready()`` until true; fail if ``proc`` ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process ended (rc={proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {timeout}s")
        time.sleep(0.01)


def wait_rows(db: Path, at_least: int, proc: subprocess.Popen | None = None, timeout: float = 60) -> int:
    """Poll until ``db`` has ``at_least`` rows; fail if ``proc`` ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = row_count(db)
        if n >= at_least:
            return n
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the sweep ended (rc={proc.returncode}) with {n} rows before reaching {at_least}")
        time.sleep(0.01)
    raise AssertionError(f"{db}: fewer than {at_least} rows after {timeout}s")


def store_rows(db: Path) -> tuple[int, int, str]:
    """(COUNT(*), COUNT(DISTINCT key), integrity_check) of a result store (0, 0 before its table exists)."""
    con = sqlite3.connect(db, timeout=30)
    try:
        (check,) = con.execute("PRAGMA integrity_check").fetchone()
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'results'").fetchone():
            return 0, 0, check
        total, distinct = con.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM results").fetchone()
        return total, distinct, check
    finally:
        con.close()


DASK = str(Path(sys.executable).with_name("dask"))
PRELOAD = "import hypebt.research.sweep, hypebt.engine.metrics\n"


class Cluster:
    """A real Dask scheduler and ``n`` single-threaded worker processes (no nanny) on 127.0.0.1.

    Each is a subprocess in its own session; :meth:`close` stops them (SIGTERM, then SIGKILL
    after a few seconds). ``workers[i]`` is the worker process itself, so killing it loses
    whatever it was running.
    """

    def __init__(self, root: Path, n: int = 2, timeout: float = 90):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        try:
            self._start(n, timeout)
        except BaseException:
            self.close()
            raise

    def _popen(self, argv: list[str], log: str) -> subprocess.Popen:
        fh = open(self.root / log, "wb")
        try:
            proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
                                    cwd=self.root)
        finally:
            fh.close()
        self.procs.append(proc)
        return proc

    def _start(self, n: int, timeout: float) -> None:
        sfile = self.root / "scheduler.json"
        preload = self.root / "preload.py"
        preload.write_text(PRELOAD, "utf-8")
        self.scheduler = self._popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                      "--scheduler-file", str(sfile)], "scheduler.log")
        deadline = time.monotonic() + timeout
        while not (sfile.exists() and sfile.stat().st_size):
            self._check(deadline)
        self.address = json_load(sfile)["address"]
        for i in range(n):
            self.workers.append(self._popen(
                [DASK, "worker", "--scheduler-file", str(sfile), "--nthreads", "1", "--no-nanny",
                 "--host", "127.0.0.1", "--no-dashboard", "--local-directory", str(self.root / f"w{i}"),
                 "--preload", str(preload), "--name", f"w{i}"], f"worker{i}.log"))
        while not all("Registered to" in self.log(f"worker{i}.log") for i in range(n)):
            self._check(deadline)

    def _check(self, deadline: float) -> None:
        for p in self.procs:
            if p.poll() is not None:
                raise RuntimeError(f"a Dask process ended early (rc={p.returncode}): {p.args}\n"
                                   + "\n".join(self.log(f.name)[-2000:] for f in self.root.glob("*.log")))
        if time.monotonic() > deadline:
            raise TimeoutError("the Dask cluster did not start in time")
        time.sleep(0.05)

    def log(self, name: str) -> str:
        path = self.root / name
        return path.read_text("utf-8", errors="replace") if path.exists() else ""

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=10)


def json_load(path: Path):
    import json

    return json.loads(Path(path).read_text("utf-8"))
