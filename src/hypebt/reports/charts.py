"""Interactive charts for hypebt's pages: plotly figures as plain JSON.

A figure here is a dict ``{"data": [...], "layout": {...}}`` in plotly's JSON schema, built
from numbers without importing plotly's Python figure classes. A page puts each figure in a
``<div class="chart">`` as a JSON script element (jinja2's ``tojson``: safe in HTML) and loads
plotly.js once per ``reports/`` tree (:mod:`hypebt.reports.assets`): the page works opened from
disk, offline, and never asks a CDN for anything. A trace whose ``x`` is ``"@days"`` uses the
page's one list of sessions (most charts of a run share it: written once, not once per trace).
Titles and labels come in the page's language (``_``, :func:`hypebt.core.i18n.translator`).
"""

from __future__ import annotations

import json
import math
import numpy as np
import pandas as pd

from hypebt.core import i18n

UP, DOWN, BENCH, GREY = "#c0392b", "#1e8449", "#7f8c8d", "#95a5a6"  # A-share colours: red up, green down
FONT = {"family": "Noto Sans CJK SC, sans-serif", "size": 12}
DAYS = "@days"  # a trace's x: the page's list of sessions (see the module docstring)
_en = i18n.translator("en")


def _clean(values, digits: int = 4) -> list:
    """Numbers for JSON: NaN and infinities become null (plotly leaves a gap); ``digits`` decimals
    (prices to 0.0001 CNY, growth to 0.01 %: more than a chart can show, a fraction of the bytes)."""
    out = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        f = float(v)
        out.append(None if math.isnan(f) or math.isinf(f) else round(f, digits))
    return out


def _days(index) -> list[str]:
    return [str(pd.Timestamp(d).date()) for d in index]


def to_json(figure: dict) -> str:
    """A figure as compact JSON."""
    return json.dumps(figure, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def session_days(index) -> list[str]:
    """The page's list of sessions (what ``"@days"`` stands for)."""
    return _days(index)


def _t(value) -> str:
    """A user string as plotly text: plotly reads <b>, <a href>, <br> ... in titles, labels and
    hover text as markup; entities make it show them as typed."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _layout(title: str, height: int = 360, **extra) -> dict:
    layout = {"title": {"text": _t(title), "font": {"size": 14}}, "height": height, "font": FONT,
              "margin": {"l": 60, "r": 20, "t": 50, "b": 40}, "hovermode": "x unified",
              "legend": {"orientation": "h", "y": -0.15}}
    layout.update(extra)
    return layout


def equity_drawdown(returns: pd.Series, bench: pd.Series, name: str, bench_name: str, _=_en) -> dict:
    """Growth of 1 and drawdown of the strategy and the benchmark, on two stacked panels."""
    days = DAYS
    data = []
    for series, label, color in ((returns, name, UP), (bench.reindex(returns.index).fillna(0.0), bench_name, BENCH)):
        growth = (1 + series.fillna(0.0)).cumprod()
        dd = growth / growth.cummax() - 1
        data.append({"type": "scatter", "mode": "lines", "x": days, "y": _clean(growth), "name": _t(label),
                     "line": {"color": color}, "xaxis": "x", "yaxis": "y"})
        data.append({"type": "scatter", "mode": "lines", "x": days, "y": _clean(dd * 100), "name": _t(_("%(name)s drawdown", name=label)),
                     "line": {"color": color, "dash": "dot"}, "fill": "tozeroy", "xaxis": "x", "yaxis": "y2",
                     "showlegend": False})
    layout = _layout(_("Growth of 1 CNY and drawdown vs the benchmark"), 460,
                     yaxis={"domain": [0.38, 1], "title": {"text": _("growth of 1")}},
                     yaxis2={"domain": [0, 0.3], "title": {"text": _("drawdown, %")}},
                     xaxis={"anchor": "y2", "type": "date"})
    return {"data": data, "layout": layout}


def recorded(equity: pd.DataFrame, columns: list[str], _=_en) -> dict:
    """The strategy's recorded series (``self.record``), one line each."""
    days = DAYS
    data = [{"type": "scatter", "mode": "lines+markers", "x": days, "y": _clean(equity[c]), "name": _t(c),
             "connectgaps": False, "marker": {"size": 4}} for c in columns]
    return {"data": data, "layout": _layout(_("Recorded series"), 320, xaxis={"type": "date"})}


def pnl_by_stock(labels: list[str], net: list[float], open_flags: list[bool], _=_en) -> dict:
    """Net P&L per stock, horizontal bars (red gain, green loss, hatched when still open)."""
    colors = [UP if v >= 0 else DOWN for v in net]
    data = [{"type": "bar", "orientation": "h", "y": [_t(x) for x in labels], "x": _clean(net, 2), "name": _t(_("net P&L")),
             "marker": {"color": colors, "pattern": {"shape": ["/" if o else "" for o in open_flags]}},
             "hovertemplate": "%{y}: %{x:,.2f} CNY<extra></extra>"}]
    layout = _layout(_("Net P&L per stock (CNY; hatched: position still open)"), max(240, 28 * len(labels) + 110),
                     # category: "002230" is a stock, not the number 2230
                     yaxis={"autorange": "reversed", "automargin": True, "type": "category"}, hovermode="closest",
                     margin={"l": 140, "r": 20, "t": 50, "b": 40})
    return {"data": data, "layout": layout}


def price_chart(title: str, days: pd.DatetimeIndex, cols: dict, marks: dict, event_days: list[tuple[str, str]],
                locked_up: np.ndarray, locked_down: np.ndarray, _=_en) -> dict:
    """One stock's daily candles with its limit prices, entries, exits, refused orders,
    limit-locked sessions (一字板) and event lines.

    ``marks``: ``{"entries"|"exits"|"refused": [(day, price, text), ...]}``;
    ``event_days``: ``[(day, label), ...]``.
    """
    x = _days(days)
    trade = cols["suspended"] < 0.5
    keep = lambda a: _clean(np.where(trade, a, np.nan))  # noqa: E731  (no candle on a suspended day)
    data = [{"type": "candlestick", "x": DAYS, "open": keep(cols["open"]), "high": keep(cols["high"]),
             "low": keep(cols["low"]), "close": keep(cols["close"]), "name": _("daily bar"),
             "increasing": {"line": {"color": UP}}, "decreasing": {"line": {"color": DOWN}}}]
    for key, label in (("limit_up", _("limit-up price")), ("limit_down", _("limit-down price"))):
        if key in cols:
            data.append({"type": "scatter", "mode": "lines", "x": DAYS, "y": _clean(cols[key]), "name": label,
                         "line": {"color": GREY, "width": 1, "dash": "dot"}, "visible": "legendonly"})
    styles = {"entries": (_("entry"), "triangle-up", "#1f4e9c"), "exits": (_("exit"), "triangle-down", "#e67e22"),
              "refused": (_("refused order"), "x", "#000000")}
    for key, (label, symbol, color) in styles.items():
        pts = marks.get(key) or []
        if pts:
            data.append({"type": "scatter", "mode": "markers", "x": [p[0] for p in pts], "y": _clean(p[1] for p in pts),
                         "text": [_t(p[2]) for p in pts], "name": label, "hovertemplate": "%{text}<extra></extra>",
                         "marker": {"symbol": symbol, "size": 12, "color": color, "line": {"width": 1, "color": "#fff"}}})
    for flags, label, color in ((locked_up, _("locked limit-up (一字板)"), UP), (locked_down, _("locked limit-down"), DOWN)):
        where = np.flatnonzero(flags & trade)
        if len(where):
            data.append({"type": "scatter", "mode": "markers", "x": [x[i] for i in where],
                         "y": _clean(cols["high"][where] * 1.02), "name": label,
                         "marker": {"symbol": "square", "size": 7, "color": color, "opacity": 0.6},
                         "hovertemplate": f"%{{x}}: {label}<extra></extra>"})
    shapes = [{"type": "line", "xref": "x", "yref": "paper", "x0": d, "x1": d, "y0": 0, "y1": 1,
               "line": {"color": "#8e44ad", "width": 1.5, "dash": "dash"}} for d, _ in event_days]
    notes = [{"x": d, "y": 1, "xref": "x", "yref": "paper", "text": _t(label), "showarrow": False, "yanchor": "bottom",
              "font": {"color": "#8e44ad", "size": 11}} for d, label in event_days]
    layout = _layout(title, 420, shapes=shapes, annotations=notes, hovermode="closest",
                     xaxis={"type": "date", "rangeslider": {"visible": False},
                            # no gaps for weekends (holiday closures stay visible as gaps)
                            "rangebreaks": [{"bounds": ["sat", "mon"]}]},
                     yaxis={"title": {"text": _("price, CNY")}})
    return {"data": data, "layout": layout}


def grouped_bars(title: str, labels: list[str], series: dict[str, list[float]], value_title: str,
                 axis_title: str) -> dict:
    """Bars of several series over the same categories (a sweep's sensitivity to one parameter)."""
    colors = ["#2e86c1", "#aab7b8", "#e67e22"]
    data = [{"type": "bar", "x": [_t(x) for x in labels], "y": _clean(values), "name": name, "marker": {"color": colors[i % 3]},
             "hovertemplate": f"{name} at %{{x}}: %{{y:.4f}}<extra></extra>"}
            for i, (name, values) in enumerate(series.items())]
    return {"data": data, "layout": _layout(title, 300, hovermode="closest", barmode="group",
                                            xaxis={"type": "category", "title": {"text": _t(axis_title)}},
                                            yaxis={"title": {"text": value_title}})}


def scatter(title: str, x: list[float], y: list[float], x_title: str, y_title: str, _=_en) -> dict:
    """Points with the diagonal y = x (in-sample vs out-of-sample)."""
    finite = [v for v in (*x, *y) if v is not None and math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    data = [{"type": "scatter", "mode": "markers", "x": _clean(x), "y": _clean(y), "name": _("combination"),
             "marker": {"size": 7, "color": "#2e86c1", "opacity": 0.7}},
            {"type": "scatter", "mode": "lines", "x": [lo, hi], "y": [lo, hi], "name": _("same in and out"),
             "line": {"color": GREY, "dash": "dash"}}]
    return {"data": data, "layout": _layout(title, 380, hovermode="closest", xaxis={"title": {"text": x_title}},
                                            yaxis={"title": {"text": y_title}})}


def heatmap(title: str, x_labels: list[str], y_labels: list[str], z: list[list[float]], x_title: str, y_title: str,
            percent: bool) -> dict:
    """A metric over two parameters: each cell labelled with its value (percentages as percentages),
    red for the higher values and green for the lower (A-share colours), legible axis labels."""
    scale = 100.0 if percent else 1.0
    values = [_clean([None if v is None else v * scale for v in row], 4) for row in z]
    fmt = "%{z:+.2f}%" if percent else "%{z:.2f}"
    rows, cols = len(y_labels), len(x_labels)
    data = [{"type": "heatmap", "x": [_t(v) for v in x_labels], "y": [_t(v) for v in y_labels], "z": values,
             "colorscale": [[0, DOWN], [0.5, "#f7f7f7"], [1, UP]], "texttemplate": fmt,
             "textfont": {"size": 13 if cols <= 10 else 10}, "hoverongaps": False,
             "hovertemplate": f"{_t(x_title)} %{{x}}, {_t(y_title)} %{{y}}: {fmt}<extra></extra>",
             "colorbar": {"ticksuffix": "%" if percent else "", "thickness": 14}}]
    layout = _layout(title, max(300, 34 * rows + 150), hovermode="closest",
                     xaxis={"type": "category", "title": {"text": _t(x_title)}, "tickfont": {"size": 12}},
                     yaxis={"type": "category", "title": {"text": _t(y_title)}, "tickfont": {"size": 12},
                            "automargin": True},
                     width=None, margin={"l": 70, "r": 20, "t": 60, "b": 60})
    layout.pop("width")
    return {"data": data, "layout": layout}
