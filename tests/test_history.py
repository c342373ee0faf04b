"""Reruns keep history: timestamped run folders, ``latest``, pruning, the 0.1 layout moved aside."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from hypebt.core.errors import InputError, OutputError
from hypebt.reports import history, index


def fake_run(folder: Path, created: str = "2024-02-19T01:30:00+00:00", trades: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)  # new_run_dir claims (creates) the folder
    (folder / "manifest.json").write_text(json.dumps({"kind": "run", "created_at": created,
                                                      "universe": {"look_ahead": True}}), "utf-8")
    (folder / "stats.json").write_text(json.dumps({"total_return": 0.0, "sharpe": None, "n_trades": trades,
                                                   "benchmark_total_return": 0.01}), "utf-8")
    (folder / "report.html").write_text("<p>report</p>", "utf-8")
    return folder


def test_the_stamp_is_beijing_time():
    when = dt.datetime(2024, 2, 18, 18, 0, 5, tzinfo=dt.timezone.utc)
    assert history.stamp(when) == "20240219-020005"


def test_a_rerun_gets_a_new_folder_and_latest_points_at_it(tmp_path):
    base = tmp_path / "sora_hype"
    first = fake_run(history.new_run_dir(base))
    history.point_latest(base, first)
    second = fake_run(history.new_run_dir(base))  # same second: "-2"
    history.point_latest(base, second)
    assert first != second and first.is_dir() and second.is_dir()
    assert (base / "latest").resolve() == second.resolve()
    assert os.readlink(base / "latest") == second.name  # relative: the folder can be moved
    assert history.runs(base) == [first, second]


def test_runs_started_together_claim_distinct_folders(tmp_path):
    """Issue 26: the folder is claimed with an exclusive mkdir: concurrent runs never share one."""
    import threading

    base = tmp_path / "sora_hype"
    got, start = [], threading.Barrier(8)

    def claim():
        start.wait()
        got.append(history.new_run_dir(base))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 8 and all(p.is_dir() and not any(p.iterdir()) for p in got)
    history.release(got[0])
    assert not got[0].exists()


def test_a_flat_report_of_hypebt_01_is_moved_into_its_own_folder(tmp_path):
    base = fake_run(tmp_path / "old", created="2024-02-19T01:30:00+00:00")
    new = history.new_run_dir(base)
    moved = base / "20240219-093000"
    assert (moved / "manifest.json").is_file() and not (base / "manifest.json").exists()
    assert new.parent == base and new != moved


def test_a_folder_hypebt_did_not_write_is_refused(tmp_path):
    base = tmp_path / "docs"
    base.mkdir()
    (base / "thesis.docx").write_text("years of work", "utf-8")
    with pytest.raises(OutputError, match="did not write"):
        history.new_run_dir(base)
    assert (base / "thesis.docx").read_text("utf-8") == "years of work"


def test_prune_keeps_the_newest_and_the_latest(tmp_path):
    base = tmp_path / "r"
    made = [fake_run(base / f"2024021{i}-093000") for i in range(5)]
    history.point_latest(base, made[1])  # latest points at an older one: kept anyway
    deleted = history.prune(base, keep=2)
    assert sorted(deleted) == [made[0], made[2]]
    assert history.runs(base) == [made[1], made[3], made[4]]
    with pytest.raises(InputError):
        history.prune(base, keep=0)


def test_the_index_lists_a_history_once_in_beijing_time_with_the_flag(tmp_path):
    base = tmp_path / "reports" / "sora_hype"
    for stamp_ in ("20240219-093000", "20240220-093000"):
        fake_run(base / stamp_, created="2024-02-20T01:30:00+00:00")
    history.point_latest(base, base / "20240220-093000")
    rows = index.entries(tmp_path / "reports")
    assert len(rows) == 1
    row = rows[0]
    assert row["link"] == "sora_hype/latest/report.html" and row["kept"] == 2 and row["look_ahead"]
    assert "Sharpe n/a (no position all run)" in row["figures"] and "return +0.00%" in row["figures"]
    page = index.write_index(tmp_path / "reports").read_text("utf-8")
    assert "2024-02-20 09:30" in page and "look-ahead bias" in page
    assert (tmp_path / "reports" / row["link"]).is_file()


@pytest.mark.parametrize("mask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750),
                                                       (0o077, 0o600, 0o700)])
def test_report_files_honour_the_umask_and_stay_atomic(tmp_path, mask, file_mode, dir_mode):
    """mkstemp/mkdtemp make private files (0600/0700): reports get what the umask gives instead."""
    from hypebt.core import fsio
    from hypebt.core.outdir import staged_dir

    old = os.umask(mask)
    try:
        with staged_dir(tmp_path / "run") as tmp:
            fsio.write_text(tmp / "report.html", "<p>x</p>")
            fsio.write_json(tmp / "manifest.json", {})
        fsio.write_text(tmp_path / "index.html", "<p>i</p>")
    finally:
        os.umask(old)
    assert (tmp_path / "run").stat().st_mode & 0o777 == dir_mode
    for f in (tmp_path / "run" / "report.html", tmp_path / "run" / "manifest.json", tmp_path / "index.html"):
        assert f.stat().st_mode & 0o777 == file_mode, f
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_a_cli_rerun_keeps_the_earlier_report_and_prune_cleans_up(tmp_path, capsys):
    """Run, rerun with --no-html, rerun: three folders, the first one's report.html intact,
    ``latest`` at the newest, one index row; ``hypebt report prune --keep 1`` leaves the latest."""
    from helpers_engine import BENCH, bars, make_workspace, write_spec, write_store
    from hypebt.cli import main as cli

    days = [str(d.date()) for d in pd.bdate_range("2024-01-02", periods=6)]
    write_store(tmp_path / "home", {"600000": bars(10.0, [(d, 10.0, 10.2, 9.9, 10.1) for d in days])})
    ws = make_workspace(tmp_path / "ws", strategies={"hold": HOLD})
    spec = write_spec(ws, "tiny", {"strategy": "hold", "codes": ["600000"], "cash": 100_000, "benchmark": BENCH})
    argv = ["--workspace", str(ws), "--home", str(tmp_path / "home"), "run", str(spec), "--offline"]
    base = ws / "reports" / "tiny"
    assert cli.main(argv) == 0
    first = history.latest(base)
    page = (first / "report.html").read_bytes()
    assert cli.main([*argv, "--no-html"]) == 0
    assert cli.main(argv) == 0
    runs = history.runs(base)
    assert len(runs) == 3 and runs[0] == first and (first / "report.html").read_bytes() == page
    assert not (runs[1] / "report.html").exists() and (runs[1] / "stats.json").is_file()
    assert (base / "latest").resolve() == runs[2].resolve()
    out = capsys.readouterr().out
    assert f"report: {runs[2] / 'report.html'}" in out
    rows = index.entries(ws / "reports")
    assert [(r["name"], r["kept"], r["link"]) for r in rows] == [("tiny", 3, "tiny/latest/report.html")]
    assert cli.main(["--workspace", str(ws), "report", "prune", "--keep", "1"]) == 0
    assert history.runs(base) == [runs[2]] and "tiny: deleted 2 old run(s), kept 1" in capsys.readouterr().out
    assert cli.main(["--workspace", str(ws), "report", "prune", "nothing_here"]) == 2


HOLD = '''
from hypebt import Strategy


class Hold(Strategy):
    PARAMS = {}

    def on_open(self, day):
        if self.session_no == 0:
            self.buy_shares("600000", 1000)
'''
