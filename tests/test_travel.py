"""Reports that travel: plotly.js once per reports/ tree, ``hypebt report pack``, ``keep = N``, disk on the index.

Hand-made bars, the CLI as a user runs it. tests/test_browser.py opens the real pages (shared and
packed) in Chromium; here the files themselves.
"""

from __future__ import annotations

import re

import pytest

from helpers_engine import BENCH, WEEK_ROWS, bars, make_workspace, write_spec, write_store
from hypebt.cli.main import main
from hypebt.reports import assets

HOLD = '''
from hypebt import Strategy


class Hold(Strategy):
    PARAMS = {"hold_days": 2}

    def on_open(self, day):
        if self.session_no == 1:
            self.buy_shares("600000", 1000)
        h = self.holding("600000")
        if h.is_open and h.sessions_held >= self.cfg.hold_days:
            self.sell_all("600000")
'''


@pytest.fixture()
def world(tmp_path):
    store = write_store(tmp_path / "store", {"600000": bars(10.0, WEEK_ROWS)})
    ws = make_workspace(tmp_path / "ws", strategies={"hold": HOLD})
    spec = write_spec(ws, "hold_run", {"strategy": "hold", "codes": ["600000"], "benchmark": BENCH})
    return ws, store.root, spec


def cli(ws, home, *argv) -> int:
    return main(["--workspace", str(ws), "--home", str(home), *argv])


def test_plotly_is_written_once_per_reports_tree(world, tmp_path):
    ws, home, spec = world
    for _ in range(2):
        assert cli(ws, home, "run", str(spec), "--offline") == 0
    assert cli(ws, home, "sweep", str(spec), "--offline", "--workers", "1", "--set", "sweep.hold_days=[1, 2]") == 0
    bundles = sorted((ws / "reports").rglob("plotly-*.js"))
    assert bundles == [ws / "reports" / "_assets" / assets.plotly_name()]
    pages = [p for p in (ws / "reports").rglob("*.html") if p.name in ("report.html", "sweep.html")
             and "latest" not in p.parts]
    assert len(pages) >= 3
    for page in pages:
        src = re.findall(r'<script src="([^"]+)"></script>', page.read_text("utf-8"))
        assert len(src) == 1 and (page.parent / src[0]).resolve() == bundles[0].resolve(), (page, src)
        assert page.stat().st_size < 500_000
    # --out outside the workspace's reports/: the folder carries its own copy (nothing written outside it)
    out = tmp_path / "elsewhere" / "run"
    assert cli(ws, home, "run", str(spec), "--offline", "--out", str(out)) == 0
    assert (out / "_assets" / assets.plotly_name()).is_file()
    assert not (tmp_path / "elsewhere" / "_assets").exists()


def test_a_packed_page_holds_its_scripts(world, tmp_path, capsys):
    ws, home, spec = world
    assert cli(ws, home, "run", str(spec), "--offline") == 0
    latest = ws / "reports" / "hold_run" / "latest"
    assert main(["report", "pack", str(latest)]) == 0
    packed = latest / "latest-report.packed.html"
    assert not packed.exists()  # named by the folder the link resolves to
    [packed] = list(latest.resolve().glob("*.packed.html"))
    text = packed.read_text("utf-8")
    assert "<script src=" not in text and assets.plotly_js()[:200] in text
    assert "packed:" in capsys.readouterr().out
    target = tmp_path / "send" / "mine.html"
    target.parent.mkdir()
    assert main(["report", "pack", str(latest / "report.html"), "--out", str(target)]) == 0
    assert target.read_text("utf-8") == text


@pytest.mark.parametrize("bad, message", [
    ("missing", "not an HTML page or a report folder"),
    ("empty_dir", "no hypebt page in this folder"),
])
def test_pack_refuses_what_is_not_a_page(tmp_path, capsys, bad, message):
    (tmp_path / "empty_dir").mkdir()
    assert main(["report", "pack", str(tmp_path / bad)]) == 2
    assert message in capsys.readouterr().err


def test_pack_refuses_a_page_whose_script_is_gone(world, tmp_path, capsys):
    import shutil

    ws, home, spec = world
    assert cli(ws, home, "run", str(spec), "--offline") == 0
    moved = tmp_path / "moved"
    shutil.copytree((ws / "reports" / "hold_run" / "latest").resolve(), moved)
    assert main(["report", "pack", str(moved)]) == 2
    assert "its script ../../_assets/" in capsys.readouterr().err


def test_keep_in_a_spec_prunes_old_runs(world, capsys):
    ws, home, _ = world
    spec = write_spec(ws, "kept", {"strategy": "hold", "codes": ["600000"], "benchmark": BENCH, "keep": 2})
    for _ in range(3):
        assert cli(ws, home, "run", str(spec), "--offline", "--no-html") == 0
    runs = sorted(p for p in (ws / "reports" / "kept").iterdir() if p.is_dir() and not p.is_symlink())
    assert len(runs) == 2
    assert (ws / "reports" / "kept" / "latest").resolve() == runs[-1].resolve()
    assert "pruned 1 old run(s) of kept (keep = 2)" in capsys.readouterr().out


def test_the_index_says_how_much_disk_the_reports_take(world):
    from hypebt.reports.index import disk_size, human

    ws, home, spec = world
    assert cli(ws, home, "run", str(spec), "--offline") == 0
    reports = ws / "reports"
    page = (reports / "index.html").read_text("utf-8")
    # the index counts the folder as it was before the index itself was written
    total = human(disk_size(reports) - (reports / "index.html").stat().st_size)
    shared = human(disk_size(reports / "_assets"))
    assert total != shared and f"On disk: {total} in all, of which {shared} of shared chart scripts" in page
    row_size = human(disk_size(reports / "hold_run"))
    assert f"<td>{row_size}</td>" in page
    assert human(999) == "999 B" and human(523_400) == "523 kB" and human(4_820_000) == "4.8 MB"
