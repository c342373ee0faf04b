"""Faults and attacks: full or read-only disks, crashes while writing, a damaged store, hostile input.

- Output faults (``hypebt run``, ``hypebt data import``): a full disk (ENOSPC at mkstemp or
  fsync), a read-only filesystem (EROFS at the rename), an output folder under a file, a
  read-only folder (non-root only): exit 5, one line, the previous report / store untouched, no
  temporary file left.
- A crash in the middle of writing a report (the tearsheet, the manifest, Ctrl-C, the final
  rename): the previous ``reports/<name>/`` is intact and no temporary folder is left.
- A damaged store (truncated, modified, missing file, unreadable or emptied manifest): found by
  ``hypebt data check`` (exit 3, remedy printed) and by ``hypebt run`` (exit 3).
- Security: no eval/exec of spec or CLI values; every user string HTML-escaped in tearsheet.html,
  sweep.html, study.html and index.html; strategies load only from the strategies folder or an
  explicit ``.py`` path.
"""

from __future__ import annotations

import errno
import hashlib
import html
import json
import os
import re
import shutil
from pathlib import Path

import pytest

import hypebt
import hypebt.core.fsio as fsio
import hypebt.reports.run_report as report
from hypebt.cli.main import main
from hypebt.core.errors import InputError
from hypebt.engine.spec import load_spec
from hypebt.engine.strategy import load_strategy
from helpers_engine import data_file, make_workspace, write_store
from helpers_sweep import TOY_STRATEGY, market

SRC = Path(hypebt.__file__).resolve().parent
XSS = "<script>alert(1)</script>"
XSS_UNI = "<img src=x onerror=alert(1)>"  # a universe is named by its file: no '/' possible
UNIVERSE = "code,name,snapshot_date,source,kind\n600000,浦发银行,2024-01,test,list\n600001,邯郸钢铁,,,\n"
EVENTS = ("id,name,company,time,known_time,scheduled,tags,codes,source\n"
          "alpha,Alpha,ACME,2024-01-24T10:00+08:00,,false,ai,,\n"
          "beta,Beta,ACME,2024-02-07,,true,ai,,\n")
SPEC = """name = "{name}"
strategy = "toy"
universe = "{universe}"
benchmark = "sh000300"
margin_list = "{margin}"
description = "{description}"

[events]
catalogue = "ev"

[params]
hold_days = 3

[sweep]
hold_days = [1, 2]

[study]
window = [-2, 3]
estimation = [-15, -3]
min_estimation = 5
car_windows = [[0, 1], [0, 3]]
"""


def spec_text(name="prev", universe="uni", margin="margin", description="a test run") -> str:
    esc = lambda s: s.replace("\\", "\\\\").replace('"', '\\"')  # noqa: E731
    return SPEC.format(name=esc(name), universe=esc(universe), margin=esc(margin), description=esc(description))


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("faults_base")
    ws = make_workspace(root / "ws", margin=("600000", "600001"), strategies={"toy": TOY_STRATEGY})
    (ws / "data" / "universes" / "uni.csv").write_text(UNIVERSE, "utf-8")
    (ws / "data" / "events" / "ev.csv").write_text(EVENTS, "utf-8")
    (ws / "backtests").mkdir()
    (ws / "backtests" / "prev.toml").write_text(spec_text(), "utf-8")
    write_store(root / "store", market(60))
    (root / "cwd").mkdir()
    return root


@pytest.fixture
def root(base, tmp_path, monkeypatch) -> Path:
    r = tmp_path / "root"
    shutil.copytree(base, r)
    for var in ("HYPEBT_HOME", "HYPEBT_DEBUG", "HYPEBT_SHARED_DATA"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(r / "cwd")
    return r


def hypebt_cli(root: Path, capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(["--home", str(root / "store"), "--workspace", str(root / "ws"), *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def run_argv(root: Path, *extra: str, spec: str = "prev") -> list[str]:
    return ["run", str(root / "ws" / "backtests" / f"{spec}.toml"), "--offline", *extra]


def snapshot(folder: Path) -> dict[str, str]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if "__pycache__" in p.parts:
            continue
        out[str(p.relative_to(folder))] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def one_line_error(err: str, *fragments: str, prefix: str = "hypebt: error: ") -> None:
    assert err.count("\n") == 1 and err.startswith(prefix) and err.endswith("\n"), err
    assert "Traceback" not in err
    for frag in fragments:
        assert frag in err, f"{frag!r} not in {err!r}"


@pytest.fixture
def previous(root, capsys) -> dict[str, str]:
    """A real previous report at reports/prev (no HTML: quick); returns the snapshot of reports/."""
    rc, _, err = hypebt_cli(root, capsys, *run_argv(root, "--no-html"))
    assert rc == 0, err
    assert (root / "ws" / "reports" / "prev" / "latest" / "manifest.json").is_file()
    return snapshot(root / "ws" / "reports")


# --- a full or read-only disk ------------------------------------------------------------------

def _raiser(code: int):
    def fake(*args, **kwargs):
        raise OSError(code, os.strerror(code))
    return fake


DISK_FAULTS = {
    # (object, attribute, errno, what the message must say)
    "mkstemp-ENOSPC": (fsio.tempfile, "mkstemp", errno.ENOSPC, "the disk is full"),
    "fsync-ENOSPC": (fsio.os, "fsync", errno.ENOSPC, "the disk is full"),
    "replace-EROFS": (fsio.os, "replace", errno.EROFS, "not writable"),
}


@pytest.mark.parametrize("fault", list(DISK_FAULTS))
def test_run_on_a_full_or_read_only_disk_exits_5_and_keeps_the_previous_report(root, capsys, previous, monkeypatch,
                                                                               fault):
    obj, attr, code, says = DISK_FAULTS[fault]
    monkeypatch.setattr(obj, attr, _raiser(code))
    rc, _, err = hypebt_cli(root, capsys, *run_argv(root, "--no-html"))
    monkeypatch.undo()
    assert rc == 5, err
    one_line_error(err, "cannot write", says)
    assert snapshot(root / "ws" / "reports") == previous  # nothing half-written, no temp file or folder left


def test_import_on_a_full_disk_exits_5_and_leaves_the_store_as_it_was(root, capsys, monkeypatch):
    csv = root / "cwd" / "600519.csv"
    csv.write_text("日期,开盘,收盘,最高,最低,成交量\n2024-01-02,10,10.2,10.5,9.9,1000\n", "utf-8")
    before = snapshot(root / "store")
    monkeypatch.setattr(fsio.os, "fsync", _raiser(errno.ENOSPC))
    rc, _, err = hypebt_cli(root, capsys, "data", "import", str(csv))
    monkeypatch.undo()
    assert rc == 5, err
    one_line_error(err, "bars.parquet: cannot write", "the disk is full")
    after = snapshot(root / "store")
    # Every file as it was; the only trace allowed is the new dataset's empty folder (atomic_path makes
    # the parent before the temporary file), which the store ignores: it has no manifest.
    assert {k: v for k, v in after.items() if v != "dir"} == {k: v for k, v in before.items() if v != "dir"}
    assert all(not any((root / "store" / k).iterdir()) for k in after.keys() - before.keys()), after


# SIGKILL at the latest moments of a dataset write (issue 26): ``hypebt data import`` runs in a child
# process that kills itself at the named point. The store must then hold the old dataset or the new
# one, each matching its hash record, and a re-import must succeed and leave no stray file.
KILL_POINTS = {
    "after the new data, before the switch": "manifest.json",    # fsio.write_json of the manifest
    "right after the switch": "_sweep_files",                     # before the old file is removed
}
KILLER = """
import os, signal, sys
import hypebt.core.fsio as fsio
from hypebt.data.store import Store
point = sys.argv[1]
if point == "manifest.json":
    real = fsio.write_json
    def write_json(path, obj):
        if str(path).endswith("manifest.json"):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(path, obj)
    fsio.write_json = write_json
else:
    Store._sweep_files = staticmethod(lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL))
from hypebt.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_late_in_an_import_never_leaves_new_bars_beside_the_old_hash(root, capsys, point):
    import subprocess
    import sys

    csv = root / "cwd" / "600000.csv"
    rows = ["日期,开盘,收盘,最高,最低,成交量"] + [f"2024-02-{d:02d},10,10.2,10.5,9.9,1000" for d in (5, 6, 7, 8)]
    csv.write_text("\n".join(rows) + "\n", "utf-8")
    argv = ["--home", str(root / "store"), "data", "import", str(csv), "--adjust", "raw", "--merge"]
    proc = subprocess.run([sys.executable, "-c", KILLER, KILL_POINTS[point], *argv], capture_output=True,
                          timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    rc, out, err = hypebt_cli(root, capsys, "data", "check")
    assert rc == 0, err  # the old dataset or the new one, whole
    rc, out, err = hypebt_cli(root, capsys, "data", "import", str(csv), "--adjust", "raw", "--merge")
    assert rc == 0, err
    rc, out, err = hypebt_cli(root, capsys, "data", "check")
    assert rc == 0, err
    folder = root / "store" / "stock_raw"
    assert sorted(p.name for p in folder.iterdir()) == sorted([data_file(root / "store", "stock_raw").name,
                                                              "manifest.json"])


def test_a_reimport_repairs_a_dataset_whose_file_no_longer_matches_its_hash(root, capsys):
    """A store left by an older hypebt killed between data and manifest (new bars, old hash record):
    the advised re-import repairs it instead of failing the same way."""
    from hypebt.data.store import Store

    store = Store(root / "store")
    bars = store.load("stock_raw")
    path = data_file(root / "store", "stock_raw")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pandas(bars.iloc[:-5], preserve_index=False), path)  # rewritten under the record
    rc, _, err = hypebt_cli(root, capsys, "data", "check")
    assert rc == 3 and "re-import" in err
    csv = root / "cwd" / "600000.csv"
    csv.write_text("日期,开盘,收盘,最高,最低,成交量\n2024-02-05,10,10.2,10.5,9.9,1000\n", "utf-8")
    rc, out, err = hypebt_cli(root, capsys, "data", "import", str(csv), "--adjust", "raw", "--merge")
    assert rc == 0, err
    assert "did not match its hash record" in out + err and "readable rows were kept" in out + err
    rc, _, err = hypebt_cli(root, capsys, "data", "check")
    assert rc == 0, err


def test_run_with_out_under_a_file_exits_5(root, capsys, previous):
    blocker = root / "cwd" / "a_file"
    blocker.write_text("x\n", "utf-8")
    before = snapshot(root)
    rc, _, err = hypebt_cli(root, capsys, *run_argv(root, "--no-html", "--out", str(blocker / "sub")))
    assert rc == 5, err
    one_line_error(err, "a_file", "cannot write", "--out")
    assert snapshot(root) == before


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores a folder's read-only mode")
def test_run_with_out_in_a_read_only_folder_exits_5(root, capsys):
    locked = root / "cwd" / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        rc, _, err = hypebt_cli(root, capsys, *run_argv(root, "--no-html", "--out", str(locked / "run")))
        assert rc == 5, err
        one_line_error(err, "locked", "--out")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


# --- a crash while writing a report ------------------------------------------------------------

def test_a_crash_in_the_tearsheet_keeps_the_previous_report(root, capsys, previous, monkeypatch):
    def broken(returns, bench, path, title, notes, warning, **titles):
        Path(path).write_text("<html><body>half a tearsheet", "utf-8")
        raise RuntimeError("quantstats fell over")

    monkeypatch.setattr(report, "tearsheet", broken)
    rc, _, err = hypebt_cli(root, capsys, *run_argv(root))
    assert rc == 1, err
    one_line_error(err, "RuntimeError: quantstats fell over", "--debug", prefix="hypebt: internal error: ")
    assert snapshot(root / "ws" / "reports") == previous


@pytest.mark.parametrize("exc, code", [(RuntimeError("disk controller gone"), 1), (KeyboardInterrupt(), 130)])
def test_a_crash_writing_the_manifest_keeps_the_previous_report(root, capsys, previous, monkeypatch, exc, code):
    real = fsio.write_json
    calls = []

    def write_json(path, obj):
        calls.append(Path(path).name)
        if Path(path).name == "manifest.json" and Path(path).parent.name.endswith(".tmp"):
            raise exc  # after stats.json and the CSVs: the staged folder is nearly full
        return real(path, obj)

    monkeypatch.setattr(fsio, "write_json", write_json)
    rc, _, err = hypebt_cli(root, capsys, *run_argv(root, "--no-html"))
    assert rc == code, err
    assert calls[:1] == ["stats.json"] and "manifest.json" in calls
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert snapshot(root / "ws" / "reports") == previous


def test_a_failed_final_rename_keeps_the_previous_report(root, capsys, previous, monkeypatch):
    real = os.replace

    def replace(src, dst, **kw):
        # The staged folder (reports/prev/.<timestamp>.XXXX.tmp) moving into place fails.
        if Path(src).is_dir() and Path(src).name.startswith(".") and Path(src).name.endswith(".tmp"):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real(src, dst, **kw)

    monkeypatch.setattr(os, "replace", replace)
    rc, _, err = hypebt_cli(root, capsys, *run_argv(root, "--no-html"))
    monkeypatch.undo()
    assert rc == 5, err
    one_line_error(err, "cannot write the report")
    assert snapshot(root / "ws" / "reports") == previous, \
        f"reports/ now holds {sorted(p.name for p in (root / 'ws' / 'reports').iterdir())}"


# --- the output folder is the report's own ---------------------------------------------------

@pytest.mark.parametrize("cmd", ["run", "study"])
def test_out_never_deletes_an_existing_folder_that_is_not_a_report(root, capsys, cmd):
    docs = root / "cwd" / "docs"
    docs.mkdir()
    (docs / "thesis.docx").write_text("years of work", "utf-8")
    rc, _, err = hypebt_cli(root, capsys, cmd, str(root / "ws" / "backtests" / "prev.toml"), "--offline",
                            *(["--no-html"] if cmd == "run" else []), "--out", str(docs))
    assert (docs / "thesis.docx").is_file(), f"exit {rc}: {sorted(p.name for p in docs.iterdir())}"


def test_runs_of_one_spec_started_together_each_print_their_own_report(root):
    """Issue 26: four ``hypebt run`` of one spec at once (each its own hold_days): every printed
    ``report:`` folder is distinct and holds that run's own figures."""
    import subprocess
    import sys

    # Started "together": every run's clock reads the same second, as runs started at once do.
    same_second = ("import sys\nfrom hypebt.reports import history\nhistory.stamp = lambda when=None: '20240219-093000'\n"
                   "from hypebt.cli.main import main\nsys.exit(main(sys.argv[1:]))\n")
    procs = {}
    for hold in (1, 2, 3, 4):
        argv = ["--home", str(root / "store"), "--workspace", str(root / "ws"),
                *run_argv(root, "--no-html", "--set", f"hold_days={hold}")]
        procs[hold] = subprocess.Popen([sys.executable, "-c", same_second, *argv], stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
    folders = {}
    for hold, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        folders[hold] = Path(next(line for line in out.splitlines() if line.startswith("report: "))[8:])
    assert len(set(folders.values())) == 4
    for hold, folder in folders.items():
        manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
        assert manifest["params"]["hold_days"] == hold, (hold, folder)
    assert not [p for p in (root / "ws" / "reports" / "prev").iterdir() if p.is_dir() and not any(p.iterdir())]


# Issue 26: --out replaces only what hypebt provably wrote: a marker with hypebt's text listing the files.
def _fake_report(folder: Path, files: dict[str, str] | None = None, marker: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    files = files if files is not None else {"manifest.json": '{"kind": "run"}'}
    for name, text in files.items():
        (folder / name).write_text(text, "utf-8")
    if marker is not None:
        (folder / ".hypebt-output.json").write_text(marker, "utf-8")
    return folder


# What each command's folder held before markers (hypebt 0.3): accepted, being only its own files.
LEGACY = {"run": {"manifest.json": '{"kind": "run"}', "stats.json": "{}", "trades.csv": ""},
          "study": {"manifest.json": '{"kind": "study"}', "car.csv": ""},
          "sweep": {"summary.json": "{}", "results.csv": ""}}
OUT_CASES = {
    # name: (how the existing folder is made, from the command; replaced?)
    "a manifest.json beside a user's file": (lambda cmd, d: _fake_report(
        d, {"manifest.json": "{}", "thesis.docx": "years of work"}), False),
    "a forged marker of other text": (lambda cmd, d: _fake_report(
        d, {"manifest.json": "{}", "thesis.docx": "x"}, '{"files": ["thesis.docx", "manifest.json"]}'), False),
    "a file added to a hypebt report": ("report+file", False),
    "hypebt's own report": ("report", True),
    "a report written before markers": (lambda cmd, d: _fake_report(d, LEGACY[cmd]), True),
}


# Every case for run; the study and the sweep (slower) on the three that differ by kind.
OUT_PARAMS = [(cmd, case) for cmd in ("run", "study", "sweep") for case in OUT_CASES
              if cmd == "run" or case in ("a manifest.json beside a user's file", "a file added to a hypebt report",
                                          "a report written before markers")]


@pytest.mark.parametrize("cmd, case", OUT_PARAMS)
def test_out_replaces_only_what_hypebt_provably_wrote(root, capsys, case, cmd):
    make, replaced = OUT_CASES[case]
    out = root / "cwd" / "out"
    spec = str(root / "ws" / "backtests" / "prev.toml")
    argv = {"run": ["run", spec, "--offline", "--no-html"], "study": ["study", spec, "--offline"],
            "sweep": ["sweep", spec, "--offline", "--no-html", "--workers", "1"]}[cmd] + ["--out", str(out)]
    if isinstance(make, str):  # a folder written by this very command first
        assert hypebt_cli(root, capsys, *argv)[0] == 0
        if make == "report+file":
            (out / "notes.txt").write_text("mine", "utf-8")
    else:
        make(cmd, out)
    before = snapshot(out)
    rc, _, err = hypebt_cli(root, capsys, *argv)
    if replaced:
        assert rc == 0, err
        assert (out / ".hypebt-output.json").is_file()
    else:
        assert rc == 5, err
        one_line_error(err, "which hypebt did not write", "--out")
        assert snapshot(out) == before


def test_sweep_out_never_deletes_a_foreign_best_folder(root, capsys):
    docs = root / "cwd" / "docs"
    (docs / "best").mkdir(parents=True)
    (docs / "best" / "keep.txt").write_text("mine", "utf-8")
    hypebt_cli(root, capsys, "sweep", str(root / "ws" / "backtests" / "prev.toml"), "--offline", "--workers", "1",
               "--top", "1", "--out", str(docs))
    assert (docs / "best" / "keep.txt").is_file()


def test_out_elsewhere_does_not_overwrite_an_index_html_beside_it(root, capsys):
    site = root / "cwd" / "site"
    site.mkdir()
    (site / "index.html").write_text("<html>my homepage</html>", "utf-8")
    rc, _, err = hypebt_cli(root, capsys, *run_argv(root, "--no-html", "--out", str(site / "myrun")))
    assert rc == 0, err
    assert (site / "index.html").read_text("utf-8") == "<html>my homepage</html>"


# --- a damaged store ---------------------------------------------------------------------------

def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE = {
    "stock-truncated": ("stock_raw/bars.parquet", _truncate, "content hash differs"),
    "stock-byte-flipped": ("stock_raw/bars.parquet", _flip, "content hash differs"),
    "stock-file-missing": ("stock_raw/bars.parquet", Path.unlink, "missing"),
    "index-truncated": ("index/bars.parquet", _truncate, "content hash differs"),
    "stock-manifest-garbage": ("stock_raw/manifest.json", lambda p: p.write_text('{"rows": 1', "utf-8"),
                               "manifest unreadable"),
    "stock-manifest-emptied": ("stock_raw/manifest.json", lambda p: p.write_text("{}\n", "utf-8"), "manifest"),
}


def _damage_params():
    return list(DAMAGE)


def _damaged(root: Path, rel: str) -> Path:
    """``stock_raw/bars.parquet`` stands for the data file the manifest names (``bars-<sha>.parquet``)."""
    folder, name = rel.split("/")
    return data_file(root / "store", folder) if name == "bars.parquet" else root / "store" / rel


@pytest.mark.parametrize("damage", _damage_params())
def test_data_check_finds_a_damaged_store(root, capsys, damage):
    rel, hurt, says = DAMAGE[damage]
    hurt(_damaged(root, rel))
    before = snapshot(root / "store")
    rc, out, err = hypebt_cli(root, capsys, "data", "check")
    assert rc == 3, err
    assert "Traceback" not in out + err
    *problems, last = err.splitlines()
    assert last.startswith("hypebt: error: "), err  # "N of M dataset(s) failed the check", or the damage itself
    assert all(p.startswith("problem: ") for p in problems), err
    assert says in err and "re-import" in err, err  # what is wrong, and the remedy
    assert snapshot(root / "store") == before


@pytest.mark.parametrize("damage", _damage_params())
def test_run_refuses_a_damaged_store(root, capsys, damage):
    rel, hurt, says = DAMAGE[damage]
    hurt(_damaged(root, rel))
    before = snapshot(root)
    rc, _, err = hypebt_cli(root, capsys, *run_argv(root, "--no-html"))
    assert rc == 3, err
    one_line_error(err, "re-import")
    assert snapshot(root) == before


def test_data_check_passes_on_the_undamaged_store(root, capsys):
    rc, out, err = hypebt_cli(root, capsys, "data", "check")
    assert (rc, err) == (0, ""), err
    assert out.startswith("ok: 2 dataset(s)")


# --- no eval / exec of user values -------------------------------------------------------------

def test_no_eval_or_exec_in_the_package():
    """Only strategy files are executed (importlib's exec_module); constraints are parsed with ast."""
    calls = re.compile(r"(?<![\w.])(eval|exec|execfile|compile|__import__)\s*\(")
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for n, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            code = line.split("#", 1)[0]
            if calls.search(code) or re.search(r"\bos\.(system|popen)\b", code):
                found.append(f"{path.name}:{n}: {line.strip()}")
    assert found == []
    loaders = [p.name for p in SRC.rglob("*.py") if "exec_module(" in p.read_text("utf-8")]
    assert loaders == ["strategy.py"]


@pytest.mark.parametrize("text", ["__import__('os').system('touch pwned')", "open('x', 'w')", "1 + 1",
                                  "os.getcwd()"])
def test_a_set_value_that_looks_like_code_stays_a_string(root, text):
    spec = load_spec(root / "ws" / "backtests" / "prev.toml", [f"description={text}"])
    assert spec.description == text and isinstance(spec.description, str)
    assert not (root / "cwd" / "pwned").exists() and not (root / "cwd" / "x").exists()


def test_code_in_set_runs_nothing_at_the_command_line(root, capsys):
    payload = "__import__('os').system('touch pwned')"
    rc, _, err = hypebt_cli(root, capsys, *run_argv(root, "--no-html", "--set", f"description={payload}"))
    assert rc == 0, err
    manifest = json.loads((root / "ws" / "reports" / "prev" / "latest" / "manifest.json").read_text("utf-8"))
    assert manifest["spec"]["description"] == payload
    rc, _, err = hypebt_cli(root, capsys, *run_argv(root, "--no-html", "--set", f"hold_days={payload}"))
    assert rc == 2, err
    one_line_error(err, "parameter 'hold_days' must be int", payload)
    assert not list(root.rglob("pwned"))


# --- HTML escaping -----------------------------------------------------------------------------

def test_reports_escape_every_user_string(root, capsys):
    """A universe, stock and event name, a description and a spec file name holding markup (the
    latter reaches the notes banner through the note on a period cut to the data)."""
    ws = root / "ws"
    (ws / "data" / "universes" / f"{XSS_UNI}.csv").write_text(
        f'code,name,snapshot_date,source,kind\n600000,"{XSS}",2024-01,"{XSS}",list\n600001,B,,,\n', "utf-8")
    (ws / "data" / "events" / "ev.csv").write_text(EVENTS.replace("Alpha,ACME", f"{XSS},{XSS}"), "utf-8")
    spec = ws / "backtests" / f"{XSS_UNI}.toml"
    # A universe name is a safe file name (issue 26): the markup arrives as a path inside the workspace.
    spec.write_text(spec_text(name="xss", universe=str(ws / "data" / "universes" / f"{XSS_UNI}.csv"),
                              description=XSS), "utf-8")
    for argv in (["run", str(spec), "--offline", "--set", "end=2030-01-01"],
                 ["sweep", str(spec), "--offline", "--workers", "1", "--top", "1", "--set", "end=2030-01-01"],
                 ["study", str(spec), "--offline", "--out", str(ws / "reports" / "xss_study")]):
        rc, _, err = hypebt_cli(root, capsys, *argv)
        assert rc == 0, f"{argv[0]}: {err}"
    reports = ws / "reports"
    pages = {p.relative_to(reports).as_posix(): p.read_text("utf-8") for p in reports.rglob("*.html")}
    # a run's default folder is reports/<name>/<timestamp>/ (reports/<name>/latest links to it)
    pages.update({f"xss/{p.name}": p.read_text("utf-8") for p in (reports / "xss" / "latest").glob("*.html")})
    assert {"xss/tearsheet.html", "xss_sweep/sweep.html", "xss_sweep/best/1/tearsheet.html",
            "xss_study/study.html", "index.html"} <= set(pages)
    for name, page in pages.items():
        for raw in (XSS, XSS_UNI, "<script>alert"):
            assert raw not in page, f"{name} holds the raw {raw!r}"
    esc, esc_uni = html.escape(XSS), html.escape(XSS_UNI)
    notes = re.search(r'<div id="hypebt-notes".*?</div>', pages["xss/tearsheet.html"], re.S).group(0)
    assert esc_uni in notes  # the spec's file name, in the notes banner
    assert esc_uni in pages["xss/tearsheet.html"]  # the universe name, in the title
    assert pages["xss_sweep/sweep.html"].count(esc_uni) >= 2  # the universe, and the spec in the notes
    assert esc_uni in pages["xss_sweep/best/1/tearsheet.html"]
    study = pages["xss_study/study.html"]
    assert esc_uni in study
    assert study.count(esc) >= 3  # the event's name and company, the stock's name
    # only the page's own scripts: the sort script and the chart loader inline, plotly.js from reports/_assets/
    assert all(len(re.findall(r"<script>", page)) in (0, 1, 2) for page in pages.values())
    assert all(re.fullmatch(r"(\.\./)+_assets/plotly-[\d.]+\.min\.js", src)
               for page in pages.values() for src in re.findall(r'<script src="([^"]+)"', page))


# --- where strategies come from ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["../../etc/passwd", "../strategies/toy", "sub/toy", "..", ".toy", "toy/../toy",
                                  "/etc/passwd", "toy\x00", "~/toy", "..\\toy"])
def test_a_strategy_name_with_a_path_is_refused(root, name):
    with pytest.raises(InputError, match="not a safe name"):
        load_strategy(name, root / "ws" / "strategies")


def test_a_strategy_is_loaded_from_the_strategies_folder_not_the_current_folder(root, capsys):
    marker = root / "cwd" / "imported"
    (root / "cwd" / "toy.py").write_text(f"open({str(marker)!r}, 'w').close()\n", "utf-8")
    rc, _, err = hypebt_cli(root, capsys, *run_argv(root, "--no-html"))
    assert rc == 0, err
    manifest = json.loads((root / "ws" / "reports" / "prev" / "latest" / "manifest.json").read_text("utf-8"))
    assert Path(manifest["strategy"]["path"]) == root / "ws" / "strategies" / "toy.py"
    assert not marker.exists()
