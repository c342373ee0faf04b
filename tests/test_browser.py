"""Every kind of HTML page hypebt writes, opened in a real headless Chromium.

Pages: a run's quantstats tearsheet, a sweep report and its best tearsheet, an
event study, and reports/index.html, built from the real shared data. For each:
no console errors, the expected headings and figures are in the rendered DOM,
and a screenshot is saved and checked to be non-blank.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hypebt.cli import main as cli
from hypebt.data.importers import import_paths
from hypebt.data.store import Store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--enable-logging=stderr", "--log-level=0"]


@pytest.fixture(scope="module")
def chromium():
    if CHROMIUM is None:
        msg = "Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return CHROMIUM


@pytest.fixture(scope="module")
def reports(shared_data, repo, tmp_path_factory) -> Path:
    """A reports folder with a run, a sweep, a study and the index, from the real data."""
    tmp = tmp_path_factory.mktemp("browser")
    home = tmp / "store"
    import_paths(Store(home), [shared_data / "ashare" / "market.parquet", shared_data / "index" / "sh000300.csv"])
    out = tmp / "reports"
    base = ["--workspace", str(repo), "--home", str(home)]
    assert cli.main([*base, "run", str(repo / "backtests/sora_hype.toml"), "--offline",
                     "--out", str(out / "sora_hype")]) == 0
    assert cli.main([*base, "sweep", str(repo / "backtests/iflytek_release_short.toml"), "--offline",
                     "--workers", "1", "--top", "1", "--set", "sweep.hold_days=[2, 3]",
                     "--set", "sweep.offset=[-1, 0]", "--out", str(out / "iflytek_sweep")]) == 0
    assert cli.main([*base, "study", str(repo / "backtests/sora_study.toml"), "--offline",
                     "--out", str(out / "sora_study")]) == 0
    assert cli.main([*base, "report", "index", "--reports", str(out)]) == 0
    return out


def open_page(browser: str, page: Path, shot: Path) -> tuple[str, list[str]]:
    """Render ``page``: return its DOM after scripts ran and the console messages; save a screenshot."""
    profile = shot.parent / f".profile-{shot.stem}"
    common = [browser, *FLAGS, f"--user-data-dir={profile}", "--window-size=1280,1600"]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    subprocess.run([*common, f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True, timeout=120)
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    return dom.stdout, console


def non_blank(png: Path) -> float:
    """Fraction of pixels that are not (near) white."""
    import matplotlib.image as mpimg

    img = mpimg.imread(png)[..., :3]
    return float((img.mean(axis=2) < 0.95).mean())


PAGES = {
    "tearsheet": ("sora_hype/tearsheet.html",
                  ["hype_buy on sora", "Key Performance Metrics", "sh000300", "Look-ahead warning"], "<svg"),
    "sweep": ("iflytek_sweep/sweep.html",
              ["Sweep: iflytek_release_short", "Best combinations", "Heatmaps", "All combinations",
               "combinations tried", "Deflated Sharpe"], "data:image/png;base64"),
    "best": ("iflytek_sweep/best/1/tearsheet.html", ["#1 release_short", "Key Performance Metrics"], "<svg"),
    "study": ("sora_study/study.html",
              ["Event study: sora_study", "Cumulative abnormal returns", "Paper vs tradable", "2024-02-19",
               "当虹科技"], "data:image/png;base64"),
    "index": ("index.html", ["hypebt reports", "sora_hype", "iflytek_sweep", "sora_study"], "<table"),
}


@pytest.mark.parametrize("kind", list(PAGES))
def test_page_renders_in_chromium(kind, chromium, reports):
    rel, expected, figure = PAGES[kind]
    page = reports / rel
    assert page.is_file(), f"{rel} was not written"
    shot = reports / f"screenshot-{kind}.png"
    dom, console = open_page(chromium, page, shot)
    errors = [c for c in console if re.search(r"error|uncaught|failed", c, re.I)]
    assert errors == [], f"console errors on {rel}: {errors}"
    for text in expected:
        assert text in dom, f"{text!r} missing from the rendered {rel}"
    assert figure in dom, f"no figure ({figure}) in {rel}"
    assert shot.is_file() and shot.stat().st_size > 10_000
    assert non_blank(shot) > 0.02, f"the screenshot of {rel} is blank"


def test_index_links_resolve(reports):
    text = (reports / "index.html").read_text("utf-8")
    links = re.findall(r'href="([^"]+)"', text)
    assert len(links) == 3
    for link in links:
        assert (reports / link).is_file(), link


def test_pages_are_self_contained(reports):
    """Nothing a page needs is fetched from the network: it works opened from disk, offline."""
    for rel in [v[0] for v in PAGES.values()]:
        text = (reports / rel).read_text("utf-8")
        loads = re.findall(r'<(?:script|img|link|iframe)[^>]+(?:src|href)="(https?://[^"]+)"', text)
        assert loads == [], f"{rel} loads {loads}"
