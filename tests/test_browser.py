"""Every kind of HTML page hypebt writes, opened in a real headless Chromium, in both languages.

Pages: a run's report.html and quantstats tearsheet, a sweep page with its best run's report and
tearsheet, an event study, reports/index.html and a page packed into one file, built from the real
shared data in English and in Chinese. One Chromium serves every page (tests/helpers_browser.py),
with the network blocked: every request other than ``file:``/``data:`` is failed and recorded. For
each page: no console error or warning, nothing asked of the network, every interactive chart drawn
(plotly's svg, with data) and every image loaded, no element wider than the viewport (wide tables
scroll inside their box), the expected headings in the page's language, and a screenshot that is not
blank. ``python tests/screenshots.py DIR`` writes the same screenshots for a reviewer.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from helpers_browser import CHROMIUM, Browser
from hypebt.cli import main as cli
from hypebt.data import stock_info

LANGS = ("en", "zh")


def build_reports(repo: Path, store, shared_data: Path, root: Path, lang: str) -> Path:
    """A workspace (a copy of the repository's) with a run, a sweep, a study, the index and a packed
    page in its reports/ tree, written in ``lang``; returns the reports folder."""
    ws = root / f"ws_{lang}"
    for name in ("backtests", "strategies", "data"):
        shutil.copytree(repo / name, ws / name, ignore=shutil.ignore_patterns("store", "__pycache__"))
    out = ws / "reports"
    base = ["--workspace", str(ws), "--home", str(store.root)]
    assert cli.main([*base, "run", str(ws / "backtests/sora_hype.toml"), "--offline", "--lang", lang,
                     "--out", str(out / "sora_hype")]) == 0
    assert cli.main([*base, "sweep", str(ws / "backtests/iflytek_release_short.toml"), "--offline", "--lang", lang,
                     "--workers", "1", "--top", "1", "--set", "sweep.hold_days=[2, 3]",
                     "--set", "sweep.offset=[-1, 0]", "--out", str(out / "iflytek_sweep")]) == 0
    assert cli.main([*base, "study", str(ws / "backtests/sora_study.toml"), "--offline", "--lang", lang,
                     "--out", str(out / "sora_study")]) == 0
    assert cli.main([*base, "report", "index", "--lang", lang, "--reports", str(out)]) == 0
    packed = root / f"packed_{lang}" / "sora_hype.html"  # sent elsewhere: no _assets/ beside it
    packed.parent.mkdir()
    assert cli.main(["report", "pack", str(out / "sora_hype"), "--out", str(packed)]) == 0
    return out


@pytest.fixture(scope="module")
def reports(shared_data, repo, real_store, tmp_path_factory) -> dict[str, Path]:
    """{lang: reports folder} from the real data (the stock list gives plain codes their names)."""
    tmp = tmp_path_factory.mktemp("browser")
    home = tmp / "store"
    # the stock list goes into a copy (hard links: the store replaces files, never writes into them)
    shutil.copytree(real_store.root, home, copy_function=os.link)
    from hypebt.data.store import Store

    stock_info.save(Store(home), stock_info.read_stock_list(shared_data / "ashare" / "stock_list.csv", "2024-05-22"),
                    source="shared stock_list.csv")
    return {lang: build_reports(repo, Store(home), shared_data, tmp, lang) for lang in LANGS}


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if CHROMIUM is None:
        msg = "Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    b = Browser(tmp_path_factory.mktemp("chromium") / "profile")
    yield b
    b.close()


PAGES = {  # page -> (expected English texts, expected Chinese texts, what draws its figures)
    "report": ("sora_hype/report.html",
               ["hype_buy on sora", "Headline", "Events", "Trades", "Open positions at the end",
                "refused by the market", "Price charts", "Look-ahead warning", "一字板", "当虹科技",
                "locked at limit-up"],
               ["hype_buy 于 sora", "概览", "事件", "交易", "期末持仓", "被市场拒绝", "价格走势图", "前视偏差警告",
                "当虹科技", "全天封涨停"], "charts"),
    "tearsheet": ("sora_hype/tearsheet.html", ["hype_buy on sora", "Key Performance Metrics", "sh000300",
                                               "Look-ahead warning"],
                  ["hype_buy 于 sora", "Key Performance Metrics", "前视偏差警告"], "svg"),
    "sweep": ("iflytek_sweep/sweep.html",
              ["Sweep: iflytek_release_short", "Best combinations", "Heatmaps", "All combinations",
               "combinations tried", "Deflated Sharpe", "Sensitivity", "distinct results"],
              ["参数扫描：iflytek_release_short", "最佳参数组合", "热力图", "全部参数组合", "紧缩夏普", "敏感性"],
              "charts"),
    "best_tearsheet": ("iflytek_sweep/best/1/tearsheet.html", ["#1 release_short", "Key Performance Metrics"],
                       ["#1 release_short"], "svg"),
    "best_report": ("iflytek_sweep/best/1/report.html",
                    ["#1 release_short on 002230 科大讯飞", "Trades", "Price charts", "borrow"],
                    ["#1 release_short 于 002230 科大讯飞", "交易", "价格走势图", "融券费"], "charts"),
    "study": ("sora_study/study.html",
              ["Event study: sora_study", "Cumulative abnormal returns", "Paper vs tradable", "2024-02-19", "当虹科技"],
              ["事件研究：sora_study", "累计超额收益", "纸面与可成交", "2024-02-19", "当虹科技"], "images"),
    "index": ("index.html", ["hypebt reports", "sora_hype", "iflytek_sweep", "sora_study", "On disk"],
              ["hypebt 报告", "sora_hype", "iflytek_sweep", "sora_study", "磁盘占用"], "table"),
    "packed": ("../../packed_{lang}/sora_hype.html", ["hype_buy on sora", "Price charts"], ["价格走势图"], "charts"),
}


@pytest.fixture(scope="module")
def rendered(browser, reports) -> dict:
    """Every page of both languages opened once in the one browser: {(kind, lang): findings}."""
    out = {}
    for lang in LANGS:
        for kind, (rel, *_rest) in PAGES.items():
            page = (reports[lang] / rel.format(lang=lang)).resolve()
            shot = reports[lang].parent / f"screenshot-{kind}-{lang}.png"
            out[kind, lang] = {**browser.open(page, shot), "page": page, "shot": shot}
    return out


def non_blank(png: Path) -> float:
    """Fraction of pixels that are not (near) white."""
    import matplotlib.image as mpimg

    img = mpimg.imread(png)[..., :3]
    return float((img.mean(axis=2) < 0.95).mean())


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", list(PAGES))
def test_page_renders_in_chromium(kind, lang, rendered):
    rel, english, chinese, figure = PAGES[kind]
    found = rendered[kind, lang]
    assert found["console"] == [], f"console errors on {rel} ({lang}): {found['console']}"
    assert found["blocked"] == [], f"{rel} ({lang}) asked the network for {found['blocked']}"
    for text in (english if lang == "en" else chinese):
        assert text in found["text"], f"{text!r} missing from the rendered {rel} ({lang})"
    assert found["wide"] == [] and found["page_width"] <= found["viewport"], \
        f"{rel} ({lang}) is wider than the viewport: {found['wide']}"
    if figure == "charts":
        assert found["charts"] > 0 and found["drawn"] == found["charts"], \
            f"{found['charts'] - found['drawn']} chart(s) of {rel} not drawn"
    if figure == "images":
        assert found["all_images"] > 0 and found["images"] == found["all_images"], f"an image of {rel} did not load"
    if figure == "svg":
        assert "<svg" in found["page"].read_text("utf-8")
    if kind not in ("tearsheet", "best_tearsheet"):  # quantstats' page is in English whatever the language
        assert found["lang"] == ("zh-CN" if lang == "zh" else "en")
    assert found["shot"].is_file() and found["shot"].stat().st_size > 10_000
    assert non_blank(found["shot"]) > 0.02, f"the screenshot of {rel} is blank"


def test_a_page_without_its_assets_says_how_to_fix_it(browser, reports, tmp_path):
    """A run folder copied away from its reports/ tree has no plotly.js: the charts say to pack."""
    moved = tmp_path / "moved"
    shutil.copytree(reports["en"] / "sora_hype", moved)
    found = browser.open(moved / "report.html", settle=2)
    assert found["charts"] > 0 and found["drawn"] == 0
    assert "make a self-contained copy with hypebt report pack" in found["text"]


def test_the_blocked_network_is_seen(browser, tmp_path):
    """The network check can fail: a page loading plotly from its CDN and an image is caught."""
    page = tmp_path / "canary.html"
    page.write_text('<html><body><img src="http://cdn.example.com/x.png">'
                    '<script src="https://cdn.plot.ly/plotly.min.js"></script></body></html>', "utf-8")
    found = browser.open(page, settle=2)
    assert any("cdn.plot.ly" in r for r in found["blocked"]), found["blocked"]
    assert any("cdn.example.com/x.png" in r for r in found["blocked"]), found["blocked"]


def test_the_width_check_sees_a_table_that_does_not_scroll(browser, tmp_path):
    page = tmp_path / "wide.html"
    page.write_text("<html><body><table><tr>" + "<td>a_long_cell_value</td>" * 120 + "</tr></table></body></html>",
                    "utf-8")
    found = browser.open(page, settle=3)
    assert found["wide"], "a 120-column table wider than the window went unseen"


def test_the_plotly_bundle_is_shared_and_pages_are_small(reports):
    from hypebt.reports import assets

    for lang in LANGS:
        out = reports[lang]
        bundle = out / "_assets" / assets.plotly_name()
        assert bundle.is_file() and bundle.stat().st_size > 3_000_000
        assert sorted(p.name for p in out.rglob("plotly-*.js")) == [bundle.name]  # once in the tree
        for rel in ("sora_hype/report.html", "iflytek_sweep/sweep.html", "iflytek_sweep/best/1/report.html"):
            text = (out / rel).read_text("utf-8")
            assert len(text.encode()) < 500_000, rel
            src = re.findall(r'<script src="([^"]+)"></script>', text)
            assert src and all((out / rel).parent.joinpath(s).resolve() == bundle.resolve() for s in src), (rel, src)


def test_a_packed_page_is_one_file(reports):
    for lang in LANGS:
        packed = reports[lang].parent.parent / f"packed_{lang}" / "sora_hype.html"
        text = packed.read_text("utf-8")
        assert "<script src=" not in text and "Plotly.newPlot" in text and len(text) > 4_000_000
        assert sorted(p.name for p in packed.parent.iterdir()) == ["sora_hype.html"]


def test_a_run_report_draws_one_price_chart_per_traded_stock(reports):
    """sora_hype trades 36 stocks and 4 more are only refused: 30 charts, the refused ones kept."""
    import pandas as pd

    out = reports["en"]
    trades = pd.read_csv(out / "sora_hype" / "trades.csv", dtype={"code": str})
    orders = pd.read_csv(out / "sora_hype" / "orders.csv", dtype={"code": str})
    page = (out / "sora_hype" / "report.html").read_text("utf-8")
    traded = set(trades["code"])
    refused_only = set(orders.loc[orders["status"] != "filled", "code"]) - traded
    assert refused_only, "sora_hype has stocks only refused (locked at limit-up on day 0)"
    charts = min(len(traded) + len(refused_only), 30)
    assert page.count('"type": "candlestick"') == charts
    assert page.count('"name": "entry"') == charts - min(len(refused_only), 10)
    assert page.count('"name": "refused order"') >= 1
    assert page.count("<script") == 3 + page.count('<script type="application/json"')  # plotly, loader, sort


def test_index_links_resolve_and_it_says_the_disk_used(reports):
    out = reports["en"]
    text = (out / "index.html").read_text("utf-8")
    links = re.findall(r'href="([^"]+)"', text)
    assert len(links) == 3
    assert "when (Beijing)" in text and "look-ahead bias" in text
    for link in links:
        assert (out / link).is_file(), link
    assert re.search(r"On disk: \d+(\.\d)? MB in all, of which \d+(\.\d)? MB of shared chart scripts", text)


def test_pages_are_self_contained(reports):
    """Nothing a page needs is fetched from the network: it works opened from disk, offline."""
    for lang in LANGS:
        for rel, *_ in PAGES.values():
            text = (reports[lang] / rel.format(lang=lang)).read_text("utf-8")
            loads = re.findall(r'<(?:script|img|link|iframe)[^>]+(?:src|href)="(https?://[^"]+)"', text)
            assert loads == [], f"{rel} loads {loads}"


def test_price_charts_mark_the_sessions_the_engine_refused_as_locked(reports):
    """Every buy the engine refused as locked at limit-up (一字板) sits on a session the stock's chart
    marks as locked: both come from the one rules implementation."""
    import json

    import pandas as pd

    page = (reports["en"] / "sora_hype" / "report.html").read_text("utf-8")
    figures = [json.loads(f) for f in re.findall(r'<script type="application/json">(.*?)</script>', page, flags=re.S)]
    locked = {}
    for fig in figures:
        if "layout" not in fig:
            continue
        code = fig["layout"]["title"]["text"].split(" ")[0]
        for trace in fig["data"]:
            if trace.get("name", "").startswith("locked limit-up"):
                locked[code] = set(trace["x"])
    orders = pd.read_csv(reports["en"] / "sora_hype" / "orders.csv", dtype={"code": str})
    refused = orders[orders["reason"] == "locked_limit_up"]
    assert len(refused) >= 1
    for r in refused.itertuples():
        assert r.date in locked.get(r.code, set()), f"{r.code} refused as locked on {r.date}, not marked"


def test_the_tearsheet_fits_a_short_single_event_run(reports):
    """sora_hype: 91 sessions, one event: no rolling or end-of-year panels, no 3Y/5Y rows, no
    probability of skill from one episode, the names in the title, caveats in the notes."""
    page = (reports["en"] / "sora_hype" / "tearsheet.html").read_text("utf-8")
    for gone in ('id="rolling_sharpe"', 'id="eoy_returns"', 'id="daily_returns"', "<td>3Y (ann.)</td>",
                 "<td>Prob. Sharpe Ratio</td>", "(Compounded)", "CSI 300 is sh000300"):
        assert gone not in page, gone
    for kept in ("left out of this tearsheet (the run has 91 sessions)", "one event:", "CSI 300 (sh000300)",
                 "Key Performance Metrics", "<td>Sharpe</td>"):
        assert kept in page, kept
