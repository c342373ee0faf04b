"""A real Dask cluster on loopback for ``bench_sweep.py``: ``dask scheduler`` and ``dask worker``
processes started here and stopped here (by their own process ids, never by name)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackCluster:
    """``with LoopbackCluster(2, src) as address:`` a scheduler and ``n`` one-thread workers."""

    def __init__(self, n: int, src: Path, log_dir: Path, timeout: float = 120):
        self.n, self.src, self.log_dir, self.timeout = n, src, log_dir, timeout
        self.procs: list[subprocess.Popen] = []
        self.address = ""

    def _spawn(self, args: list[str], name: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(self.src)}
        log = open(self.log_dir / f"{name}.log", "wb")
        dask = Path(sys.executable).with_name("dask")
        self.procs.append(subprocess.Popen([str(dask), *args], stdout=log, stderr=subprocess.STDOUT,
                                           env=env, start_new_session=True))

    def __enter__(self) -> str:
        from distributed import Client

        port = _free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        self._spawn(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], "scheduler")
        for i in range(self.n):
            self._spawn(["worker", self.address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                         "--host", "127.0.0.1", "--memory-limit", "0",
                         # import hypebt (backtrader, pandas) when the worker starts, not in its first task
                         "--preload", "hypebt.research.sweep"], f"worker{i}")
        deadline = time.time() + self.timeout
        while True:
            try:
                with Client(self.address, timeout="5s") as c:
                    if len(c.scheduler_info()["workers"]) >= self.n:
                        break
            except OSError:
                pass
            if time.time() > deadline or any(p.poll() is not None for p in self.procs):
                self.__exit__(None, None, None)
                raise RuntimeError(f"the loopback Dask cluster did not start; see {self.log_dir}")
            time.sleep(1)
        return self.address

    def worker_memory(self) -> list[float]:
        """Peak resident memory of each worker process, MiB."""
        from distributed import Client

        def peak():
            import resource
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        with Client(self.address, timeout="10s") as c:
            return sorted(c.run(peak).values())

    def __exit__(self, *exc) -> None:
        for p in reversed(self.procs):  # workers first, then the scheduler
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs.clear()
