"""quantstats tearsheets that fit the run they describe.

quantstats draws the same page for ten years of daily returns and for a 91-session event
run. For a short run some panels say nothing or mislead: rolling 6-month volatility,
Sharpe, Sortino and beta are empty or rest on a handful of points, end-of-year bars of a
single year, the cumulative sum of daily returns zig-zagging over a flat curve. Those
panels are left out of the page (its template is quantstats' own minus their
placeholders), the title carries the names of what ran and against which index, and the
notes say where a figure means little (one event, few trades).

Always pass the benchmark as a Series and an output path: quantstats would otherwise
download a ticker and open a browser.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import warnings
from pathlib import Path

import pandas as pd

from hypebt.core import fsio, i18n
from hypebt.core.i18n import N_
from hypebt.engine import metrics
from hypebt.reports.templating import render
from hypebt.reports.templating import text as as_text

ROLLING_WINDOW = 126  # quantstats' rolling panels use half a year of sessions
INDEX_NAMES = {"sh000300": "CSI 300", "sh000001": "SSE Composite", "sz399001": "SZSE Component",
               "sz399006": "ChiNext", "sh000905": "CSI 500", "sh000852": "CSI 1000", "sh000688": "STAR 50"}


def quantstats():
    """quantstats, imported on first use with matplotlib on its file backend (no window, no
    "findfont: Arial" noise): it costs about a second to import, only pages that draw need it."""
    import logging

    import matplotlib

    matplotlib.use("Agg", force=True)
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    import quantstats as qs

    return qs


def benchmark_label(code: str) -> str:
    """``"CSI 300 (sh000300)"`` for an index hypebt knows by name, else the code."""
    name = INDEX_NAMES.get(code)
    return f"{name} ({code})" if name else code


def left_out(returns: pd.Series) -> dict[str, list[str]]:
    """Panels of quantstats' page that do not fit ``returns``: why -> their placeholders."""
    n = len(returns)
    index = pd.DatetimeIndex(returns.index)
    out: dict[str, list[str]] = {}
    if n < 2 * ROLLING_WINDOW:
        out[N_("rolling beta, volatility, Sharpe and Sortino (need over %(n)s sessions)", n=2 * ROLLING_WINDOW)] = [
            "rolling_beta", "rolling_vol", "rolling_sharpe", "rolling_sortino"]
    if n and index.year.nunique() < 2:
        out[N_("end-of-year returns (one calendar year)")] = ["eoy_returns"]
    if n < 242:
        out[N_("cumulative sum of daily returns (misleading under a year)")] = ["daily_returns"]
    if (index.to_period("M").nunique() if n else 0) < 3:
        out[N_("monthly distribution and heatmap (under three months)")] = ["monthly_dist", "monthly_heatmap"]
    return out


def _short_rows(text: str, n: int) -> str:
    """Drop the metrics rows of horizons longer than the run (``3Y (ann.)`` of a 91-session run)."""
    for label, sessions in (("3Y (ann.)", 3 * 242), ("5Y (ann.)", 5 * 242), ("10Y (ann.)", 10 * 242),
                            ("1Y", 242), ("6M", 121)):
        if n < sessions:
            text = re.sub(rf"<tr><td>{re.escape(label)}</td>.*?</tr>", "", text, flags=re.S)
    return text


def not_drawable(returns: pd.Series, bench: pd.Series) -> str | None:
    """Why quantstats cannot draw a tearsheet of these series (it regresses one on the other and
    raises on a series without variance, e.g. a run that never held a position), or None."""
    for series, what in ((returns, N_("the strategy never changed value (no position held)")),
                         (bench, N_("the benchmark never moved"))):
        values = series.fillna(0.0).to_numpy(dtype=float)
        if len(values) < 2 or float(values.std()) == 0.0:
            return what
    return None


def caveats(stats: dict, n_events: int) -> list[str]:
    """Notes for figures that mean little for this run."""
    out = []
    if n_events == 1:
        out.append(N_("one event: Sharpe, Sortino and the probabilistic Sharpe ratio describe a single episode, "
                      "not a repeatable edge"))
    trades = stats.get("n_trades") or 0
    if trades < 10:
        out.append(N_("%(n)s closed trade(s): the win rate and trade figures rest on very few cases", n=trades))
    if (stats.get("exposure") or 0) < 0.2:
        out.append(N_("invested on %(share)s of sessions: annualised figures extrapolate from a few days in the market",
                      share=f"{stats.get('exposure', 0):.0%}"))
    return out


def _template(drop: dict[str, list[str]]) -> str:
    """quantstats' report template without the placeholders of panels left out."""
    qs = quantstats()
    text = (Path(qs.__file__).parent / "report.html").read_text("utf-8")
    for key in (k for keys in drop.values() for k in keys):
        text = re.sub(rf'<div id="{key}">\{{\{{{key}\}}\}}</div>', "", text)
    # "(matched dates)" and the date range sit in a <dt> inside <h1>; hypebt's title has the period.
    return text.replace("<dt>{{date_range}}{{matched_dates}}</dt>", "")


def _self_contained(text: str, title: str, notes_html: str) -> str:
    """Make quantstats' page work offline without console errors, titled, with hypebt's notes.

    quantstats links a favicon on the web and calls a ``save()`` it only
    defines for downloads (a ReferenceError when the page is opened from disk).
    """
    text = re.sub(r'<link rel="shortcut icon"[^>]*>', "", text)
    text = text.replace('<body onload="save()">', "<body>")
    text = re.sub(r"<title>.*?</title>", lambda _: f"<title>{as_text(title)}</title>", text, count=1, flags=re.S)
    text = re.sub(r"\s*\(Compounded\)\s*</h1>", "</h1>", text, count=1)
    marker = text.find("<body")
    if marker >= 0:
        end = text.find(">", marker) + 1
        text = text[:end] + notes_html + text[end:]
    return text


def write(returns: pd.Series, bench: pd.Series, path: Path, title: str, notes: list[str], warning: str,
          strategy_title: str = "Strategy", benchmark_title: str = "Benchmark", single_event: bool = False,
          lang: str = "en") -> None:
    """Write a quantstats HTML tearsheet of ``returns`` against ``bench`` (both Series) to ``path``,
    with the panels that do not fit the run left out (and listed in the notes); ``single_event``:
    the probabilistic Sharpe ratio row is left out too (a probability of skill from one episode)."""
    qs = quantstats()
    r = returns.copy()
    b = bench.copy()
    r.index = pd.DatetimeIndex(r.index).tz_localize(None)
    b.index = pd.DatetimeIndex(b.index).tz_localize(None)
    drop = left_out(r)
    if drop:
        notes = [*notes, N_("left out of this tearsheet (the run has %(n)s sessions): %(what)s", n=len(r),
                            what="; ".join(i18n.translate(k, lang) for k in drop))]
    with fsio.atomic_path(path) as tmp, tempfile.TemporaryDirectory(prefix=".qs-", dir=path.parent) as tdir:
        tpl = Path(tdir) / "report.html"
        tpl.write_text(_template(drop), "utf-8")
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # quantstats' own matplotlib/pandas deprecation chatter
            # match_dates=False: keep the whole period (quantstats would start at the first trade).
            qs.reports.html(r, benchmark=b, output=str(tmp), title=as_text(title), template_path=str(tpl),
                            periods_per_year=metrics.PERIODS, download_filename=path.name, match_dates=False,
                            strategy_title=strategy_title, benchmark_title=benchmark_title)
        text = _short_rows(tmp.read_text("utf-8"), len(r))
        if single_event:
            text = re.sub(r"<tr><td>Prob\. Sharpe Ratio</td>.*?</tr>", "", text, flags=re.S)
        tmp.write_text(_self_contained(text, title,
                                       render("banner.html", lang=lang, lines=notes, warning=warning)), "utf-8")
