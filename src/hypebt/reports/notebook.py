"""How results show themselves in Jupyter: headline figures, a chart, the honest counts.

``hypebt.backtest``'s :class:`~hypebt.api.Result`, ``hypebt.sweep``'s table and ``hypebt.study``'s
result call these for ``_repr_html_`` (a notebook shows the returned HTML: the template
``notebook.html``, every value escaped, the chart an inline PNG so the output needs no script and
survives being saved, exported or viewed on GitHub) and ``.plot()`` (a matplotlib figure).
"""

from __future__ import annotations

import base64
import io
import math

import pandas as pd

from hypebt.core import i18n
from hypebt.core.i18n import N_
from hypebt.reports import labels, run_page, study_page, study_text, sweep_page
from hypebt.reports.templating import render, table

CHART_SIZE = (7.5, 3.8)


def _pyplot():
    plt, _cjk = study_page.setup_matplotlib()  # the file backend, a CJK font for names
    return plt


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    _pyplot().close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def equity_figure(returns: pd.Series, bench: pd.Series, name: str, bench_name: str, lang: str = "en"):
    """Growth of 1 CNY of the strategy and the benchmark, and their drawdowns (A-share colours:
    the strategy red, the benchmark grey)."""
    _ = i18n.translator(lang)
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=CHART_SIZE, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    for series, label, color in ((returns, name, "#c0392b"), (bench.reindex(returns.index).fillna(0.0), bench_name,
                                                               "#7f8c8d")):
        growth = (1 + series.fillna(0.0)).cumprod()
        top.plot(growth.index, growth.to_numpy(), label=label, color=color, lw=1.4)
        bottom.fill_between(growth.index, (growth / growth.cummax() - 1).to_numpy() * 100, 0, color=color, alpha=0.3)
    top.set_ylabel(_("growth of 1"))
    bottom.set_ylabel(_("drawdown, %"))
    top.set_title(_("Growth of 1 CNY and drawdown vs the benchmark"), fontsize=10)
    top.legend(fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def run_html(result, lang: str = "en") -> str:
    """A backtest's output cell: the headline against the benchmark, the counts, the chart, the notes."""
    from hypebt.engine import metrics

    _ = i18n.translator(lang)
    s = result.stats
    head = run_page.headline(s, result.benchmark.name or "", metrics.from_returns(result.benchmark), _)
    fig = equity_figure(result.returns, result.benchmark, result.strategy, str(result.benchmark.name or ""), lang)
    title = _("%(strategy)s on %(universe)s (%(period)s) vs %(benchmark)s", strategy=result.strategy,
              universe=result.name, period=f"{s['start']}..{s['end']}", benchmark=result.benchmark.name or "")
    return render("notebook.html", lang=lang, heading=title, counts=run_page.counts(s), headline=head,
                  png=_png(fig), notes=result.warnings, tables=[])


def sweep_figure(frame: pd.DataFrame, lang: str = "en"):
    """The ranking metric against each swept parameter: its best and median over the others."""
    _ = i18n.translator(lang)
    plt = _pyplot()
    metric = frame.attrs.get("metric", "sharpe")
    ok = frame[frame["status"] == "ok"].reset_index() if "status" in frame else frame.reset_index()
    params = [p for p in (frame.index.names or []) if p]
    scale = 100 if sweep_page.is_fraction(metric) else 1
    name = labels.header(metric, lang) + (", %" if scale == 100 else "")
    fig, axes = plt.subplots(1, max(1, len(params)), figsize=(3.2 * max(1, len(params)) + 1, 3.2), squeeze=False)
    for ax, p in zip(axes[0], params):
        by = ok.groupby(p, sort=True)[metric]
        ticks = [str(v) for v in by.groups]
        x = range(len(ticks))
        ax.bar([i - 0.2 for i in x], by.max().to_numpy() * scale, width=0.4, color="#2e86c1", label=_("best"))
        ax.bar([i + 0.2 for i in x], by.median().to_numpy() * scale, width=0.4, color="#aab7b8", label=_("median"))
        ax.set_xticks(list(x), ticks, fontsize=8)
        ax.set_xlabel(p)
        ax.set_ylabel(name)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(_("%(metric)s by %(param)s (best and median over the other parameters)", metric=name,
                   param=", ".join(params)), fontsize=10)
    fig.tight_layout()
    return fig


def sweep_html(frame: pd.DataFrame, lang: str = "en") -> str:
    """A sweep table's output cell: what was tried, the best distinct results (same figures, one rank),
    the chart of the metric by parameter, then the table itself (pandas' own HTML)."""
    _ = i18n.translator(lang)
    metric = frame.attrs.get("metric", "sharpe")
    flat = frame.reset_index()
    params = [p for p in (frame.index.names or []) if p]
    ranked = sweep_page.rank_ok(flat, metric) if "status" in flat else flat
    top = sweep_page.groups(ranked, params)[:5]
    best = sweep_page.best_table(top, params, metric, {}, False, lang)
    best.columns, best.rows = best.columns[:-2], [r[:-2] for r in best.rows]  # no run folders here
    failed = int((flat["status"] != "ok").sum()) if "status" in flat else 0
    counts = [(N_("combinations"), str(len(flat))), (N_("failed"), str(failed)),
              (N_("distinct results"), str(len(sweep_page.groups(ranked, params))))]
    heading = _("Sweep: %(name)s", name=frame.attrs.get("name", "")) + " · " + labels.header(metric, lang)
    return render("notebook.html", lang=lang, heading=heading, counts=counts, headline=best,
                  png=_png(sweep_figure(frame, lang)) if len(ranked) and params else "", notes=[],
                  tables=[pd.DataFrame(frame)._repr_html_()])


def study_figure(curves: pd.DataFrame, lang: str = "en"):
    """The mean CAR of every event (market-adjusted and market model) with its confidence band."""
    _ = i18n.translator(lang)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=CHART_SIZE)
    overall = curves[curves["event"] == "all events"] if "all events" in set(curves["event"]) else curves
    study_page.draw_car(ax, overall, _)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def study_html(res, name: str, lang: str = "en") -> str:
    """An event study's output cell: the headline sentences, the counts (stock-events, locked on day
    0, never fillable), the CAR chart and the summary table."""
    _ = i18n.translator(lang)
    summary = res.summary
    overall = summary.set_index("event").loc["all events"].to_dict() if "all events" in set(summary["event"]) else {}
    lines = []
    if "headline_test" in overall:
        lo, hi = res.inputs.cfg.main_window if res.inputs is not None else (0, 0)
        market = res.inputs.market.label if res.inputs is not None and res.inputs.market is not None else ""
        lines = study_text.headline({**overall, "event": "all events"}, (lo, hi), market)
    counts = [(N_("stock-events"), str(_int(overall.get("n")))), (N_("locked on day 0"), str(_int(overall.get("locked_day0")))),
              (N_("never fillable"), str(_int(overall.get("never_fillable"))))]
    cols = [c for c in ("event", "n", "mean_car_mkt", "mean_car_mm", "headline_test", "headline_p", "mean_paper",
                        "mean_tradable", "locked_day0") if c in summary]
    pct = {"mean_car_mkt", "mean_car_mm", "mean_paper", "mean_tradable"}

    def fmt(col, v):
        if isinstance(v, float):
            return "" if math.isnan(v) else (f"{v:+.2%}" if col in pct else f"{v:.3g}")
        return str(v)

    head = table(summary[cols], fmt, cls="", headers=study_page.study_header(lang))
    return render("notebook.html", lang=lang, heading=_("Event study: %(name)s", name=name), counts=counts,
                  headline=head, png=_png(study_figure(res.curves, lang)), notes=[*lines, *res.notes], tables=[])


def _int(v) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0



class SweepTable(pd.DataFrame):
    """``hypebt.sweep``'s result: a DataFrame indexed by the swept parameters, one row per
    combination, that shows itself in Jupyter (:func:`sweep_html`) and whose ``.plot()`` draws the
    metric by parameter (:func:`sweep_figure`; ``.plot.bar(...)`` and the rest are pandas' own).
    Any operation that returns a new frame returns a plain DataFrame."""

    @property
    def _constructor(self):
        return pd.DataFrame

    def _repr_html_(self) -> str:
        return sweep_html(self, self.attrs.get("lang", "en"))

    @property
    def plot(self):
        return _SweepPlot(self)


class _SweepPlot:
    """``table.plot()``: the sweep's figure; ``table.plot.<kind>(...)``: pandas' plotting."""

    def __init__(self, frame: SweepTable):
        self._frame = frame

    def __call__(self, *args, **kwargs):
        if args or kwargs:
            return pd.DataFrame(self._frame).plot(*args, **kwargs)
        return sweep_figure(self._frame, self._frame.attrs.get("lang", "en"))

    def __getattr__(self, name):
        return getattr(pd.DataFrame(self._frame).plot, name)
