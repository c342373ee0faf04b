"""Replay issue 26's twelve classes of defects end to end through the command line, and count.

Each probe runs ``python -m hypebt.cli.main ...`` as a child process on a fresh copy of a tiny
workspace and store (3 stocks, 60 sessions, a CSI 300, the toy strategy of the test suite), with
one thing wrong, and judges what came back:

- ``silent``: exit 0 (or any exit) with a wrong, misleading or missing answer where a refusal,
  an empty value or a note was due;
- ``lost``: data lost or a store left failing ``hypebt data check``, a user's file deleted;
- ``internal``: exit 1 ("internal error") for a fault that has its own documented code;
- ``outside``: a read or write outside the workspace, the store and ``--out`` (a sentinel file
  beside the workspace is watched; the traversal probes name it);
- ``ok``: the documented exit code with one ``hypebt: error:`` line naming the problem, or the
  right answer with its note.

Usage::

    python benchmarks/probe_reliability.py [--only CLASS] [--keep]

It prints one line per probe and the counts; it exits 1 when any probe is not ``ok``. The Dask
probe starts a scheduler and a worker on 127.0.0.1 (skipped when ``dask`` is not on PATH).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the test suite's tiny market and toy strategy

import pandas as pd  # noqa: E402

from helpers_engine import make_workspace, write_store  # noqa: E402
from helpers_sweep import TOY_STRATEGY, market, reverse_rows  # noqa: E402

PY = sys.executable
UNIVERSE = "code,name,snapshot_date,source,kind\n600000,A,2024-01,test,list\n600001,B,,,\n"
EVENTS = ("id,name,company,time,known_time,scheduled,tags,codes,source\n"
          "alpha,Alpha,ACME,2024-01-10T10:00+08:00,,false,ai,,\nbeta,Beta,ACME,2024-02-05,,true,ai,,\n")
SPEC = """name = "p"
strategy = "{strategy}"
universe = "uni"
benchmark = "sh000300"
margin_list = "margin"
start = {start}
end = 2024-03-20
cash = {cash}
{top}
[events]
catalogue = "{catalogue}"

[params]
hold_days = 3

[sweep]
{sweep}

[study]
window = [-2, 3]
estimation = [-20, -3]
min_estimation = {min_est}
car_windows = [[0, 1], [0, 3]]
"""
AK = "日期,开盘,收盘,最高,最低,成交量\n"
QUIT = '''
import sys
from hypebt import Strategy
{top}

class Quit(Strategy):
    PARAMS = {{"hold_days": 3}}

    def on_open(self, day):
        if self.session_no == 2:
            sys.exit(0)
'''
IDLE = '"""Never trades."""\nfrom hypebt import Strategy\n\n\nclass Idle(Strategy):\n    PARAMS = {"hold_days": 3}\n'
HELPED = TOY_STRATEGY.replace("from hypebt import Strategy", (
    "import sys\nsys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))\nimport toy_helper\n\n"
    "from hypebt import Strategy")).replace("self.equity * self.cfg.fraction", "self.equity * toy_helper.FRACTION")


class Box:
    """A fresh workspace + store under a temporary root; ``sentinel`` is a file outside both."""

    def __init__(self, base: Path, name: str):
        self.root = base / name
        shutil.copytree(base / "_template", self.root)
        self.ws, self.store = self.root / "ws", self.root / "store"
        self.sentinel = self.root / "outside" / "secret.csv"

    def spec(self, strategy="toy", start="2024-01-02", cash="1_000_000", top="", catalogue="ev",
             sweep="hold_days = [1, 2]", min_est=5, name="p.toml") -> Path:
        path = self.ws / "backtests" / name
        path.write_text(SPEC.format(strategy=strategy, start=start, cash=cash, top=top, catalogue=catalogue,
                                    sweep=sweep, min_est=min_est), "utf-8")
        return path

    def cli(self, *argv, timeout=300, env=None, wrapper: str | None = None) -> tuple[int, str, str]:
        head = [PY, "-c", wrapper] if wrapper else [PY, "-m", "hypebt.cli.main"]
        proc = subprocess.run([*head, "--home", str(self.store), "--workspace", str(self.ws), *map(str, argv)],
                              capture_output=True, text=True, timeout=timeout, cwd=self.root,
                              env={**os.environ, **(env or {})})
        return proc.returncode, proc.stdout, proc.stderr

    def check(self) -> bool:
        return self.cli("data", "check")[0] == 0



def template(base: Path) -> None:
    root = base / "_template"
    ws = make_workspace(root / "ws", margin=("600000", "600001"), strategies={"toy": TOY_STRATEGY})
    (ws / "data" / "universes" / "uni.csv").write_text(UNIVERSE, "utf-8")
    (ws / "data" / "events" / "ev.csv").write_text(EVENTS, "utf-8")
    (ws / "backtests").mkdir()
    write_store(root / "store", market(60))
    (root / "outside").mkdir()
    (root / "outside" / "secret.csv").write_text("untouched\n", "utf-8")


# A library's own log record on stderr (Dask's client logs a lost scheduler before hypebt says so):
# not hypebt's output, and neither an error line of hypebt's nor a traceback.
LIBRARY_LOG = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ - (distributed|tornado)[.\w]* - [A-Z]+ - ")


def refused(code: int, *fragments: str):
    """A judge: exit ``code``, exactly one stderr line ``hypebt: error: ...`` holding ``fragments``.

    Only exit 1 or hypebt's own ``hypebt: internal error`` line is internal: the other documented
    codes (2..6, 130, 141) are what they say; a wrong one is a silent failure of that probe.
    """
    def judge(box: Box, rc: int, out: str, err: str) -> str:
        lines = [x for x in err.splitlines() if not x.startswith(("note: ", "sweep p: ")) and not LIBRARY_LOG.match(x)]
        if rc == 1 or any(x.startswith("hypebt: internal error") for x in lines):
            return "internal"
        if rc == 0:
            return "silent"
        if rc != code or len(lines) != 1 or not lines[0].startswith("hypebt: error: ") or "Traceback" in err:
            return "silent"
        return "ok" if all(f in lines[0] for f in fragments) else "silent"
    return judge


def _stats(box: Box, folder: str = "p") -> dict:
    latest = box.ws / "reports" / folder / "latest"
    return json.loads((latest / "stats.json").read_text("utf-8"))


# --- the probes: (class, name, run(box) -> verdict) -----------------------------------------------

def cli_probe(cmd: str, judge, extra=(), **spec):
    def probe(box: Box) -> str:
        path = box.spec(**spec)
        tail = {"run": ["--offline", "--no-html"], "sweep": ["--offline", "--no-html", "--workers", "1"],
                "study": ["--offline"]}[cmd]
        return judge(box, *box.cli(cmd, path, *tail, *extra))
    return probe


def index_cut(keep, calendar=False):
    def probe(box: Box) -> str:
        from hypebt.data.store import Store

        store = Store(box.store)
        idx = store.load("index")
        if calendar:
            store.write_calendar(idx["date"], source="probe")
        dates = keep(pd.DatetimeIndex(idx["date"]))
        store.write("index", idx[idx["date"].isin(dates)].reset_index(drop=True), source="probe", adjust="none")
        return refused(3, "p.toml")(box, *box.cli("run", box.spec(), "--offline", "--no-html"))
    return probe


def start_before_stocks(box: Box) -> str:
    from hypebt.data.store import Store

    store = Store(box.store)
    idx = store.load("index")
    early = pd.bdate_range("2023-11-01", "2023-12-29")
    head = pd.DataFrame({"code": "sh000300", "date": early.astype("datetime64[ns]"), "open": 3400.0, "high": 3410.0,
                         "low": 3390.0, "close": 3400.0, "volume": 1e9})
    store.write("index", pd.concat([head, idx], ignore_index=True), source="probe", adjust="none")
    rc, out, err = box.cli("run", box.spec(start="2023-11-01"), "--offline", "--no-html")
    if rc != 0:
        return "internal" if rc == 1 else "silent"
    return "ok" if _stats(box)["start"] == "2024-01-02" and "the run starts there" in err else "silent"


def import_file(rows: list[str], *extra: str, code="600519", expect=2, fragment="", store_same=True):
    def probe(box: Box) -> str:
        before = _store_bytes(box)
        path = box.root / f"{code}.csv"
        path.write_text(AK + "\n".join(rows) + "\n", "utf-8")
        verdict = refused(expect, fragment)(box, *box.cli("data", "import", str(path), *extra))
        if verdict == "ok" and store_same and _store_bytes(box) != before:
            return "lost"
        return verdict
    return probe


def _store_bytes(box: Box) -> dict:
    return {p.relative_to(box.store).as_posix(): p.read_bytes() for p in sorted(box.store.rglob("*")) if p.is_file()}


ROWS = [f"{d},10,10.2,10.5,9.9,1000" for d in ("2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05",
                                               "2024-01-08", "2024-01-09")]


def merge_then_replace(box: Box) -> str:
    path = box.root / "600000.csv"
    path.write_text(AK + "2024-01-03,10,10.2,10.5,9.9,1000\n", "utf-8")
    rc, out, err = box.cli("data", "import", str(path), "--adjust", "raw", "--merge")
    from hypebt.data.store import Store

    n = len(Store(box.store).load("stock_raw", codes=["600000"]))
    if rc != 0 or n != 60 or "merged into the stored history" not in out + err:
        return "lost" if n != 60 else "silent"
    rc, out, err = box.cli("data", "import", str(path), "--adjust", "raw", "--replace")
    n = len(Store(box.store).load("stock_raw", codes=["600000"]))
    return "ok" if rc == 0 and n == 1 and "replaced the whole history of 1 code(s)" in out + err else "silent"


def sweep_summary(box: Box, out: str = "p_sweep") -> dict:
    return json.loads((box.ws / "reports" / out / "summary.json").read_text("utf-8"))


def nothing_traded(box: Box) -> str:
    (box.ws / "strategies" / "idle.py").write_text(IDLE, "utf-8")
    rc, out, err = box.cli("sweep", box.spec(strategy="idle"), "--offline", "--no-html", "--workers", "1")
    if rc != 0:
        return "internal" if rc == 1 else "silent"
    return "ok" if sweep_summary(box)["best"] is None and "no combination traded" in err else "silent"


def resume_after(edit):
    def probe(box: Box) -> str:
        (box.ws / "strategies" / "toy.py").write_text(HELPED, "utf-8")
        (box.ws / "strategies" / "toy_helper.py").write_text("FRACTION = 0.9\n", "utf-8")
        spec = box.spec()
        argv = ["sweep", spec, "--offline", "--no-html", "--workers", "1"]
        if box.cli(*argv)[0] != 0:
            return "internal"
        extra = edit(box)
        rc, out, err = box.cli(*argv, "--resume", *extra)
        return "ok" if rc == 0 and "skipped 0 already done" in out else "silent"
    return probe


def edit_helper(box: Box) -> list[str]:
    (box.ws / "strategies" / "toy_helper.py").write_text("FRACTION = 0.5\n", "utf-8")
    return []


def ties(box: Box) -> str:
    spec = box.spec(sweep="stop_loss = [0.0, 0.1, 0.2]")
    argv = ["sweep", spec, "--offline", "--no-html", "--workers", "1"]
    box.cli(*argv)
    reverse_rows(box.ws / "reports" / "p_sweep" / "results.sqlite")
    rc, out, err = box.cli(*argv, "--resume")
    return "ok" if rc == 0 and sweep_summary(box)["best"] == {"stop_loss": 0.0} else "silent"


def colliding(box: Box) -> str:
    (box.ws / "strategies" / "coll.py").write_text(TOY_STRATEGY.replace('"trace": ""', '"trace": "", "top": 1'), "utf-8")
    rc, out, err = box.cli("sweep", box.spec(strategy="coll", sweep="top = [1, 2]"), "--offline", "--no-html",
                           "--workers", "1")
    return refused(2, "top is both a sweep setting and a parameter")(box, rc, out, err)


def quitter(cmd: str, at_import: bool):
    def probe(box: Box) -> str:
        top = "sys.exit(0)" if at_import else ""
        (box.ws / "strategies" / "quit.py").write_text(QUIT.format(top=top), "utf-8")
        if cmd == "list":
            return refused(2, "cannot load")(box, *box.cli("list"))
        spec = box.spec(strategy="quit")
        tail = ["--offline", "--no-html"] + (["--workers", "1"] if cmd == "sweep" else [])
        rc, out, err = box.cli(cmd, spec, *tail)
        return refused(2, "SystemExit")(box, rc, out, "\n".join(x for x in err.splitlines() if "warning" not in x))
    return probe


def short_estimation(box: Box) -> str:
    rc, out, err = box.cli("study", box.spec(min_est=5), "--offline")
    alpha = next((x for x in out.splitlines() if x.startswith("alpha:")), "")
    if rc != 0:
        return "internal" if rc == 1 else "silent"
    return "ok" if "no tests" in alpha and " t=" not in alpha and " p=" not in alpha else "silent"


KILLER = """
import os, signal, sys
import hypebt.core.fsio as fsio
real = fsio.write_json
def write_json(path, obj):
    if str(path).endswith("manifest.json") and "store" in str(path):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(path, obj)
fsio.write_json = write_json
from hypebt.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def sigkill_import(box: Box) -> str:
    path = box.root / "600000.csv"
    path.write_text(AK + "2024-01-03,10,10.2,10.5,9.9,1000\n", "utf-8")
    rc, _, _ = box.cli("data", "import", str(path), "--adjust", "raw", "--merge", wrapper=KILLER)
    if rc != -9:
        return "silent"
    if not box.check():
        return "lost"
    rc, out, err = box.cli("data", "import", str(path), "--adjust", "raw", "--merge")
    return "ok" if rc == 0 and box.check() else "lost"


def concurrent_runs(box: Box) -> str:
    spec = box.spec()
    procs = {h: subprocess.Popen([PY, "-m", "hypebt.cli.main", "--home", str(box.store), "--workspace", str(box.ws),
                                  "run", str(spec), "--offline", "--no-html", "--set", f"hold_days={h}"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for h in (1, 2, 3, 4)}
    folders = {}
    for h, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        if proc.returncode != 0:
            return "internal" if proc.returncode == 1 else "silent"
        folders[h] = Path(next(x for x in out.splitlines() if x.startswith("report: "))[8:])
    own = all(json.loads((f / "manifest.json").read_text("utf-8"))["params"]["hold_days"] == h
              for h, f in folders.items())
    return "ok" if own and len(set(folders.values())) == 4 else "silent"


def kill_main(box: Box) -> str:
    import psutil

    trace = box.root / "trace.txt"
    spec = box.spec(sweep="hold_days = [1, 2, 3, 4]\ngap = [1, 2]", top="")
    proc = subprocess.Popen([PY, "-m", "hypebt.cli.main", "--home", str(box.store), "--workspace", str(box.ws),
                             "sweep", str(spec), "--offline", "--no-html", "--workers", "2", "--batch", "1",
                             "--set", "pause=0.5", "--set", f"trace={trace}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(_pids(trace)) < 2:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    workers = _pids(trace)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        alive = [p for p in workers if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return "ok"
        time.sleep(0.2)
    for p in alive:
        os.kill(p, signal.SIGKILL)
    return "silent"


def _pids(trace: Path) -> set[int]:
    if not trace.exists():
        return set()
    return {int(x.split()[1]) for x in trace.read_text().splitlines() if x.startswith("start")}


def killed_worker(box: Box) -> str:
    killer = TOY_STRATEGY.replace('        self._trace("start")', (
        "        if self.cfg.hold_days == 3:\n            os.kill(os.getpid(), 9)\n        self._trace(\"start\")"))
    (box.ws / "strategies" / "toy.py").write_text(killer, "utf-8")
    spec = box.spec(sweep="hold_days = [1, 2, 3, 4]")
    rc, out, err = box.cli("sweep", spec, "--offline", "--no-html", "--workers", "2", "--batch", "1")
    return refused(6, "--resume")(box, rc, out, err)


FULL_DISK = """
import sqlite3, sys
from hypebt.research import results
real, calls = results.ResultStore.add, []
def add(self, rows):
    calls.append(1)
    if len(calls) == 2:
        raise sqlite3.OperationalError("database or disk is full")
    return real(self, rows)
results.ResultStore.add = add
from hypebt.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def full_disk(box: Box) -> str:
    spec = box.spec(sweep="hold_days = [1, 2, 3, 4]")
    rc, out, err = box.cli("sweep", spec, "--offline", "--no-html", "--workers", "1", "--batch", "1", wrapper=FULL_DISK)
    return refused(5, "--resume")(box, rc, out, err)


def lost_cluster(box: Box) -> str:
    dask = shutil.which("dask", path=str(Path(PY).parent)) or shutil.which("dask")
    if not dask:
        return "skipped"
    sfile = box.root / "scheduler.json"
    sched = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                              "--scheduler-file", str(sfile)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not (sfile.exists() and sfile.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(sfile.read_text())["address"]
        worker = subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                  cwd=box.root)
        spec = box.spec(sweep="hold_days = [1, 2, 3, 4]\ngap = [1, 2, 3]")
        proc = subprocess.Popen([PY, "-m", "hypebt.cli.main", "--home", str(box.store), "--workspace", str(box.ws),
                                 "sweep", str(spec), "--offline", "--no-html", "--scheduler", address, "--batch", "1",
                                 "--set", "pause=0.3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        db = box.ws / "reports" / "p_sweep" / "results.sqlite"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
                n = con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
                con.close()
                if n:
                    break
            except sqlite3.Error:
                pass
            time.sleep(0.05)
        sched.kill()
        worker.kill()
        out, err = proc.communicate(timeout=180)
        return refused(6, "--resume")(box, proc.returncode, out, err)
    finally:
        for p in (sched, worker):
            if p is not None and p.poll() is None:
                p.kill()


def out_with_user_file(cmd: str):
    def probe(box: Box) -> str:
        out = box.root / "mine"
        out.mkdir()
        (out / "manifest.json").write_text("{}", "utf-8")
        (out / "thesis.docx").write_text("years of work", "utf-8")
        tail = {"run": ["--offline", "--no-html"], "sweep": ["--offline", "--no-html", "--workers", "1"],
                "study": ["--offline"]}[cmd]
        rc, o, e = box.cli(cmd, box.spec(), *tail, "--out", str(out))
        if not (out / "thesis.docx").is_file():
            return "lost"
        return refused(5, "which hypebt did not write")(box, rc, o, e)
    return probe


def traversal(key: str, value: str):
    def probe(box: Box) -> str:
        if key == "catalogue":
            spec = box.spec(catalogue=value)
        else:
            spec = box.spec()
            spec.write_text(spec.read_text("utf-8").replace('universe = "uni"', f'universe = "{value}"'), "utf-8")
        rc, out, err = box.cli("run", spec, "--offline", "--no-html")
        if "secret" in out + err and rc == 0:
            return "outside"
        return refused(2, key if key != "catalogue" else "event catalogue")(box, rc, out, err)
    return probe


def closed_pipe(box: Box) -> str:
    """``hypebt list | head -0``: the reader has gone before hypebt writes (deterministic, unlike a
    reader that leaves after a line while the whole output may already sit in the pipe's buffer);
    hypebt ends quietly with 141."""
    proc = subprocess.Popen([PY, "-m", "hypebt.cli.main", "--home", str(box.store), "--workspace", str(box.ws),
                             "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=box.root)
    proc.stdout.close()  # the reader closes its end
    err = proc.stderr.read().decode("utf-8", "replace")
    rc = proc.wait(timeout=300)
    if rc == 1 or "internal error" in err:
        return "internal"
    return "ok" if rc == 141 and not err.strip() else "silent"


def readme(box: Box) -> str:
    text = " ".join((REPO / "README.md").read_text("utf-8").split())
    return "ok" if "is code" in text and "`hypebt list` imports *every* file" in text else "silent"


PROBES = [
    (1, "cash = nan", cli_probe("run", refused(2, "cash = nan is not a number"), cash="nan")),
    (1, "--set fraction=inf", cli_probe("run", refused(2, "fraction = inf"), ["--set", "fraction=inf"])),
    (1, "rules stamp_duty nan", cli_probe("run", refused(2, "not a number"), top="\n[rules]\nstamp_duty = nan")),
    (1, "sweep value nan", cli_probe("sweep", refused(2, "not a number"), sweep="fraction = [0.5, nan]")),
    (2, "benchmark stored to an earlier date", index_cut(lambda d: d[:30])),
    (2, "gap in the benchmark", index_cut(lambda d: d.delete([20, 21]))),
    (2, "gap in the benchmark, calendar stored", index_cut(lambda d: d.delete([20, 21]), calendar=True)),
    (2, "start before the stocks' first bar", start_before_stocks),
    (3, "bar on a Saturday", import_file([*ROWS[:3], "2024-01-06,10,10.2,10.5,9.9,1000"], fragment="Saturday")),
    (3, "bar on a holiday", import_file(["2024-01-01,10,10.2,10.5,9.9,1000", *ROWS], fragment="not a trading session")),
    (3, "price no limit allows", import_file([*ROWS, "2024-01-10,10.2,102,102,10,1000"], fragment="beyond any daily")),
    (3, "short file over a stored history", import_file(ROWS[:3], "--adjust", "raw", code="600000",
                                                        fragment="give --merge")),
    (3, "--merge, then --replace", merge_then_replace),
    (4, "split after the period", cli_probe("sweep", refused(2, "split"), sweep="hold_days = [1, 2]\nsplit = 2030-01-01")),
    (4, "walk_forward larger than the data", cli_probe("sweep", refused(2, "walk_forward"),
                                                       sweep="hold_days = [1, 2]\nwalk_forward = 40")),
    (4, "nothing traded: no best", nothing_traded),
    (4, "--resume after warmup edit", resume_after(lambda b: ["--set", "warmup=5"])),
    (4, "--resume after a helper edit", resume_after(edit_helper)),
    (4, "parameter named like a setting", colliding),
    (4, "ties keep the plan's order", ties),
    (5, "sys.exit in on_open (run)", quitter("run", False)),
    (5, "sys.exit at import (sweep)", quitter("sweep", True)),
    (5, "sys.exit at import (list)", quitter("list", True)),
    (6, "estimation window too short", short_estimation),
    (7, "SIGKILL before the manifest switch", sigkill_import),
    (8, "four runs of one spec at once", concurrent_runs),
    (9, "kill the sweep's main process", kill_main),
    (9, "a killed pool worker", killed_worker),
    (9, "a full disk mid-sweep", full_disk),
    (9, "a lost Dask cluster", lost_cluster),
    (9, "output pipe closed by its reader (| head -0)", closed_pipe),
    (10, "--out over a user's folder (run)", out_with_user_file("run")),
    (10, "--out over a user's folder (study)", out_with_user_file("study")),
    (10, "--out over a user's folder (sweep)", out_with_user_file("sweep")),
    (11, "catalogue ../../outside/secret", traversal("catalogue", "../../outside/secret")),
    (11, "catalogue outside .csv", traversal("catalogue", "../outside/secret.csv")),
    (11, "universe outside .csv", traversal("universe", "../outside/secret.csv")),
    (12, "README: shared workspace is code", readme),
]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", type=int, action="append", help="run only this class (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the probe folders")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="hypebt-probe-"))
    counts = Counter()
    t0 = time.perf_counter()
    try:
        template(base)
        for n, (cls, name, probe) in enumerate(PROBES):
            if args.only and cls not in args.only:
                continue
            box = Box(base, f"p{n:02d}")
            try:
                verdict = probe(box)
            except Exception as exc:  # a probe that cannot judge is not a pass
                verdict = f"error ({exc.__class__.__name__}: {str(exc)[:120]})"
            if verdict == "ok" and box.sentinel.read_text("utf-8") != "untouched\n":
                verdict = "outside"
            counts[verdict.split(" ")[0]] += 1
            print(f"class {cls:2d}  {verdict:9s} {name}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print(f"probes: {sum(counts.values())}; ok {counts['ok']}, silent wrong answers {counts['silent']}, "
          f"data lost {counts['lost']}, internal errors {counts['internal']}, outside {counts['outside']}, "
          f"skipped {counts['skipped']}, probe errors {counts['error']}  "
          f"[{time.perf_counter() - t0:.0f} s, load {os.getloadavg()[0]:.2f}]")
    return 0 if counts["ok"] + counts["skipped"] == sum(counts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
