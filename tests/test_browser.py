"""Every kind of HTML page hypebt writes, opened in a real headless Chromium.

Pages: a run's report.html and quantstats tearsheet, a sweep page with its best run's
report and tearsheet, an event study, and reports/index.html, built from the real shared
data. For each: no console errors, no request leaving the machine (Chromium is pointed at
a proxy on 127.0.0.1 that records every request it gets), the expected headings and
figures in the rendered DOM (interactive charts drawn, with data), Chinese names there,
and a screenshot checked to be non-blank.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from hypebt.cli import main as cli
from hypebt.data import stock_info
from hypebt.data.importers import import_paths
from hypebt.data.store import Store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,OptimizationHintsFetching,"
         "OptimizationGuideModelDownloading,MediaRouter,Translate", "--enable-logging=stderr", "--log-level=0"]
# Chromium's own service calls (component updates, sign-in), made whatever page it opens (about:blank
# too): not the page's. Anything else a page asks for counts (test_the_request_recorder_sees_a_cdn).
BROWSER_SERVICES = ("accounts.google.com:443", "update.googleapis.com:443", "http://update.googleapis.com/",
                    "optimizationguide-pa.googleapis.com:443", "http://clients2.google.com/time/")


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
    # the stock list gives runs on plain codes their Chinese names (002230 科大讯飞)
    stock_info.save(Store(home), stock_info.read_stock_list(shared_data / "ashare" / "stock_list.csv", "2024-05-22"),
                    source="shared stock_list.csv")
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


class Recorder:
    """A TCP listener on 127.0.0.1 used as Chromium's proxy: every request the browser sends
    anywhere (http or https) arrives here first; its first line is kept and the connection closed."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.requests: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    line = conn.recv(4096).decode("latin-1").split("\r\n", 1)[0]
                except OSError:
                    line = ""
                if line:  # Chromium opens idle connections to its proxy ahead of need: not requests
                    self.requests.append(line)

    def close(self):
        self.sock.close()


def open_page(browser: str, page: Path, shot: Path) -> tuple[str, list[str], list[str]]:
    """Render ``page``: return its DOM after scripts ran, the console messages and the requests
    that tried to leave the machine; save a screenshot."""
    profile = shot.parent / f".profile-{shot.stem}"
    proxy = Recorder()
    try:
        common = [browser, *FLAGS, f"--user-data-dir={profile}", "--window-size=1280,1600",
                  f"--proxy-server=http://127.0.0.1:{proxy.port}", "--proxy-bypass-list=<-loopback>",
                  "--virtual-time-budget=20000"]
        dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=180)
        subprocess.run([*common, f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True,
                       timeout=180)
    finally:
        proxy.close()
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    return dom.stdout, console, [r for r in proxy.requests if not any(h in r for h in BROWSER_SERVICES)]


def non_blank(png: Path) -> float:
    """Fraction of pixels that are not (near) white."""
    import matplotlib.image as mpimg

    img = mpimg.imread(png)[..., :3]
    return float((img.mean(axis=2) < 0.95).mean())


PAGES = {
    "report": ("sora_hype/report.html",
               ["hype_buy on sora", "Headline", "Events", "Trades", "Open positions", "Refused and cancelled orders",
                "Price charts", "Look-ahead warning", "一字板", "当虹科技", "locked at limit-up"], 'data-drawn="'),
    "tearsheet": ("sora_hype/tearsheet.html",
                  ["hype_buy on sora", "Key Performance Metrics", "sh000300", "Look-ahead warning"], "<svg"),
    "sweep": ("iflytek_sweep/sweep.html",
              ["Sweep: iflytek_release_short", "Best combinations", "Heatmaps", "All combinations",
               "combinations tried", "Deflated Sharpe", "Sensitivity", "distinct results"], 'data-drawn="'),
    "best": ("iflytek_sweep/best/1/tearsheet.html", ["#1 release_short", "Key Performance Metrics"], "<svg"),
    "best_report": ("iflytek_sweep/best/1/report.html",
                    ["#1 release_short on 002230 科大讯飞", "Trades", "Price charts", "borrow"],
                    'data-drawn="'),
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
    dom, console, requests = open_page(chromium, page, shot)
    errors = [c for c in console if re.search(r"error|uncaught|failed", c, re.I)]
    assert errors == [], f"console errors on {rel}: {errors}"
    assert requests == [], f"{rel} asked the network for {requests}"
    for text in expected:
        assert text in dom, f"{text!r} missing from the rendered {rel}"
    assert figure in dom, f"no figure ({figure}) in {rel}"
    assert shot.is_file() and shot.stat().st_size > 10_000
    assert non_blank(shot) > 0.02, f"the screenshot of {rel} is blank"
    charts = re.findall(r'<div class="chart[" ]', dom)  # plotly adds its own classes
    drawn = re.findall(r'data-drawn="(\d+)"', dom)
    assert len(drawn) == len(charts), f"{len(charts) - len(drawn)} chart(s) of {rel} not drawn"
    assert all(int(n) > 0 for n in drawn), f"a chart of {rel} has no data"
    if charts:
        assert dom.count('class="main-svg"') >= len(charts), f"plotly drew no svg in {rel}"


def test_a_run_report_draws_one_price_chart_per_traded_stock(chromium, reports):
    """sora_hype trades 36 stocks and 4 more are only refused: 30 charts, the refused ones kept."""
    import pandas as pd

    trades = pd.read_csv(reports / "sora_hype" / "trades.csv", dtype={"code": str})
    orders = pd.read_csv(reports / "sora_hype" / "orders.csv", dtype={"code": str})
    page = (reports / "sora_hype" / "report.html").read_text("utf-8")
    traded = set(trades["code"])
    refused_only = set(orders.loc[orders["status"] != "filled", "code"]) - traded
    assert refused_only, "sora_hype has stocks only refused (locked at limit-up on day 0)"
    charts = min(len(traded) + len(refused_only), 30)
    assert page.count('&#34;type&#34;:&#34;candlestick&#34;') == charts
    assert page.count('&#34;name&#34;:&#34;entry&#34;') == charts - min(len(refused_only), 10)
    assert page.count('&#34;name&#34;:&#34;refused order&#34;') >= 1
    assert page.count("<script>") == 3  # plotly.js, the chart loader, the sort script: nothing fetched


def test_the_request_recorder_sees_a_cdn(chromium, tmp_path):
    """The network check can fail: a page loading plotly from its CDN and an image is caught."""
    page = tmp_path / "canary.html"
    page.write_text('<html><body><img src="http://cdn.example.com/x.png">'
                    '<script src="https://cdn.plot.ly/plotly.min.js"></script></body></html>', "utf-8")
    _, _, requests = open_page(chromium, page, tmp_path / "canary.png")
    assert any("cdn.plot.ly:443" in r for r in requests), requests
    assert any("cdn.example.com/x.png" in r for r in requests), requests


def test_index_links_resolve(reports):
    text = (reports / "index.html").read_text("utf-8")
    links = re.findall(r'href="([^"]+)"', text)
    assert len(links) == 3
    assert "when (Beijing)" in text and "look-ahead bias" in text
    for link in links:
        assert (reports / link).is_file(), link


def test_pages_are_self_contained(reports):
    """Nothing a page needs is fetched from the network: it works opened from disk, offline."""
    for rel in [v[0] for v in PAGES.values()]:
        text = (reports / rel).read_text("utf-8")
        loads = re.findall(r'<(?:script|img|link|iframe)[^>]+(?:src|href)="(https?://[^"]+)"', text)
        assert loads == [], f"{rel} loads {loads}"


def test_price_charts_mark_the_sessions_the_engine_refused_as_locked(reports):
    """Every buy the engine refused as locked at limit-up (一字板) sits on a session the stock's chart
    marks as locked: both come from the one rules implementation."""
    import html as html_lib
    import json

    import pandas as pd

    page = (reports / "sora_hype" / "report.html").read_text("utf-8")
    figures = [json.loads(html_lib.unescape(f)) for f in re.findall(r'data-figure="([^"]*)"', page)]
    locked = {}
    for fig in figures:
        code = fig["layout"]["title"]["text"].split(" ")[0]
        for trace in fig["data"]:
            if trace.get("name", "").startswith("locked limit-up"):
                locked[code] = set(trace["x"])
    orders = pd.read_csv(reports / "sora_hype" / "orders.csv", dtype={"code": str})
    refused = orders[orders["reason"] == "locked_limit_up"]
    assert len(refused) >= 1
    for r in refused.itertuples():
        assert r.date in locked.get(r.code, set()), f"{r.code} refused as locked on {r.date}, not marked"


def test_the_tearsheet_fits_a_short_single_event_run(reports):
    """sora_hype: 91 sessions, one event: no rolling or end-of-year panels, no 3Y/5Y rows, no
    probability of skill from one episode, the names in the title, caveats in the notes."""
    page = (reports / "sora_hype" / "tearsheet.html").read_text("utf-8")
    for gone in ('id="rolling_sharpe"', 'id="eoy_returns"', 'id="daily_returns"', "<td>3Y (ann.)</td>",
                 "<td>Prob. Sharpe Ratio</td>", "(Compounded)", "CSI 300 is sh000300"):
        assert gone not in page, gone
    for kept in ("left out of this tearsheet (the run has 91 sessions)", "one event:", "CSI 300 (sh000300)",
                 "Key Performance Metrics", "<td>Sharpe</td>"):
        assert kept in page, kept
