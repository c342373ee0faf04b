"""HTML pages come from autoescaped templates; research never imports reports.

Unit checks, no browser (tests/test_browser.py opens every page in Chromium).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pandas as pd
import pytest

import hypebt
from hypebt.core.errors import OutputError
from hypebt.core.outdir import check_output_dir
from hypebt.reports import index, templating
from hypebt.reports.run_report import banner

PKG = Path(hypebt.__file__).parent
PAGE_BUILDERS = ["reports/run_report.py", "reports/sweep_page.py", "reports/study_page.py", "reports/index.py"]
HOSTILE = '<script>alert("x")</script> & <img src=x onerror=1>'


def test_a_table_cell_is_escaped_when_rendered():
    frame = pd.DataFrame({HOSTILE: [HOSTILE], "n": [1.5]})
    page = templating.render("index.html", title=HOSTILE, rebuilt="now", disk_total="1 kB", disk_assets="0 B",
                             reports=templating.table(frame, links={0: 'x" onclick="y'}, link_label=HOSTILE))
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;img src=x onerror=1&gt;" in page
    assert 'href="x&#34; onclick=&#34;y"' in page
    assert "<td>1.5000</td>" in page
    assert page.count("<script>") == 1  # only the sort script of the base template


def test_the_tearsheet_banner_escapes_notes_and_warning():
    text = banner([HOSTILE], warning=HOSTILE)
    assert "<script>alert" not in text and text.count("&lt;script&gt;") == 2
    assert "Look-ahead warning:" in text
    assert "Look-ahead" not in banner(["a note"])


def test_the_index_escapes_a_report_named_by_a_user(tmp_path):
    folder = tmp_path / "reports" / "x<b>y"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"kind": "run", "created_at": HOSTILE}), "utf-8")
    (folder / "stats.json").write_text(json.dumps({"n_trades": HOSTILE}), "utf-8")
    page = index.write_index(tmp_path / "reports").read_text("utf-8")
    assert "x&lt;b&gt;y" in page and "<b>" not in page and "<script>alert" not in page
    assert index.is_hypebt_index(tmp_path / "reports" / "index.html")


def test_index_refresh_leaves_a_foreign_index_alone(tmp_path):
    (tmp_path / "index.html").write_text("<h1>my own page</h1>", "utf-8")
    note = index.refresh(tmp_path)
    assert note and "left alone" in note
    assert (tmp_path / "index.html").read_text("utf-8") == "<h1>my own page</h1>"
    (tmp_path / "index.html").unlink()
    assert index.refresh(tmp_path) is None and index.is_hypebt_index(tmp_path / "index.html")


def test_every_page_extends_the_base_template():
    pages = [p for p in (PKG / "reports" / "templates").glob("*.html")
             if p.name not in ("base.html", "macros.html", "banner.html", "redirect.html", "notebook.html")]
    assert {p.name for p in pages} >= {"sweep.html", "study.html", "index.html"}
    for p in pages:
        assert p.read_text("utf-8").startswith('{% extends "base.html" %}'), p.name


@pytest.mark.parametrize("rel", PAGE_BUILDERS)
def test_page_builders_do_not_write_html_by_hand(rel):
    """No ``html.escape`` and no string holding an HTML tag in the page builders: markup lives in the
    templates, where jinja2 escapes every value."""
    tree = ast.parse((PKG / rel).read_text("utf-8"))
    # Strings a page is searched for (``MARKER in head``) are not markup being built.
    searched = {id(n) for c in ast.walk(tree) if isinstance(c, ast.Compare) for n in [c.left, *c.comparators]}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            assert "html" not in names, f"{rel}:{node.lineno} imports html (escapes by hand)"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in searched:
            tag = re.search(r"<(td|tr|th|li|p|h\d|table|ul|div|img|a|strong)[\s>]", node.value)
            assert tag is None, f"{rel}:{node.lineno} builds <{tag.group(1)}> by hand"


def test_research_never_imports_reports():
    """Not even lazily inside a function: the sweep command (cli/sweep.py) writes the page."""
    for path in (PKG / "research").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom):
                mods = [node.module or ""]
            elif isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            else:
                continue
            for mod in mods:
                assert not mod.startswith(("hypebt.reports", "hypebt.cli")), f"{path.name}:{node.lineno} imports {mod}"


def test_check_output_dir_is_a_plain_check(tmp_path):
    """It checks when called (it used to be a @contextmanager that was not a generator)."""
    assert check_output_dir(tmp_path / "new", "run") is None
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "thesis.docx").write_text("years of work", "utf-8")
    with pytest.raises(OutputError, match="holds thesis.docx, which hypebt did not write"):
        check_output_dir(docs, "run")
    (docs / "manifest.json").write_text("{}", "utf-8")  # a manifest.json proves nothing (issue 26)
    with pytest.raises(OutputError, match="holds thesis.docx, which hypebt did not write"):
        check_output_dir(docs, "run")
    (docs / "thesis.docx").unlink()
    assert check_output_dir(docs, "run") is None  # only a run's own file names: an old hypebt report
    # a write killed mid-way leaves fsio's temporary file of a hypebt name: still hypebt's
    (docs / ".stats.json.k3j_9x2a.tmp").write_text("{", "utf-8")
    (docs / "..hypebt-output.json.0wxor4vc.tmp").write_text("{", "utf-8")
    assert check_output_dir(docs, "run") is None
    (docs / ".thesis.docx.k3j_9x2a.tmp").write_text("", "utf-8")
    with pytest.raises(OutputError, match="thesis.docx.k3j_9x2a.tmp, which hypebt did not write"):
        check_output_dir(docs, "run")


def test_templates_ship_as_package_data():
    cfg = (PKG.parents[1] / "setup.cfg").read_text("utf-8")
    assert "hypebt = reports/templates/*, locale/*/LC_MESSAGES/*.po" in cfg
    assert (PKG / "reports" / "templates" / "base.html").is_file()


IDLE = '''
from hypebt import Strategy


class Idle(Strategy):
    PARAMS = {}

    def on_open(self, day):
        pass
'''


def test_a_run_without_trades_gets_a_whole_report_and_index_figures(tmp_path):
    from helpers_engine import BENCH, bars, make_workspace, write_spec, write_store
    from hypebt.cli import main as cli

    days = [str(d.date()) for d in pd.bdate_range("2024-01-02", periods=5)]
    write_store(tmp_path / "home", {"600000": bars(10.0, [(d, 10.0, 10.2, 9.9, 10.1) for d in days])})
    ws = make_workspace(tmp_path / "ws", strategies={"idle": IDLE})
    spec = write_spec(ws, "idle", {"strategy": "idle", "codes": ["600000"], "cash": 100_000, "benchmark": BENCH})
    assert cli.main(["--workspace", str(ws), "--home", str(tmp_path / "home"), "run", str(spec), "--offline"]) == 0
    page = (ws / "reports" / "idle" / "latest" / "report.html").read_text("utf-8")
    for text in ("no trades", "no position left open", "every order was filled", "No stock was traded",
                 "Growth of 1 CNY", "0 closed trade(s)", "no quantstats tearsheet: the strategy never changed"):
        assert text in page, text
    assert page.count('<div class="chart"') == 1  # equity and drawdown only
    for count in ("closed trades: <strong>0</strong>", "open positions at the end: <strong>0</strong>",
                  "refused by the market: <strong>0</strong>"):
        assert count in page, count
    row = index.entries(ws / "reports")[0]
    assert "return +0.00%" in row["figures"] and "Sharpe n/a (no position all run)" in row["figures"]


def test_chart_text_from_users_is_not_plotly_markup():
    """plotly renders <b>, <a href> ... in titles, labels and hover text: names reach it as entities."""
    import numpy as np

    from hypebt.reports import charts

    days = pd.bdate_range("2024-01-02", periods=3)
    cols = {k: np.array([10.0, 10.5, 10.2]) for k in ("open", "high", "low", "close", "limit_up", "limit_down")}
    cols["suspended"] = np.zeros(3)
    fig = charts.price_chart('<a href="javascript:alert(1)">x</a>', days, cols,
                             {"entries": [("2024-01-02", 10.0, "<b>bought</b>")]}, [("2024-01-03", "<i>ev</i>")],
                             np.zeros(3, bool), np.zeros(3, bool))
    text = charts.to_json(fig)
    assert "<a " not in text and "<b>" not in text and "<i>" not in text
    assert "&lt;a href=" in text and "&lt;b&gt;bought" in text and "&lt;i&gt;ev" in text
    pnl = charts.to_json(charts.pnl_by_stock(["600000 <b>A</b>"], [1.0], [False]))
    assert "<b>" not in pnl


def test_a_stock_code_is_a_category_on_the_pnl_chart():
    from hypebt.reports import charts

    fig = charts.pnl_by_stock(["002230"], [1.0], [False])
    assert fig["layout"]["yaxis"]["type"] == "category" and fig["data"][0]["y"] == ["002230"]
