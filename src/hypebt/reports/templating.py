"""HTML pages from templates: one jinja2 environment with autoescaping, one table builder.

Every page hypebt writes extends ``templates/base.html`` (shared CSS and the one sort
script) and draws its tables with the ``table`` macro of ``templates/macros.html`` from a
:class:`Table` built here. Values are escaped by jinja2 when the page is rendered: the page
builders never escape by hand, so a name like ``<script>`` in a spec shows as text.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jinja2
import pandas as pd

from hypebt.core import i18n

TEMPLATES = Path(__file__).with_name("templates")


@lru_cache(maxsize=None)
def environment(lang: str = "en") -> jinja2.Environment:
    """The templates' environment for ``lang``: ``_()`` translates (:mod:`hypebt.core.i18n`),
    ``tr`` translates a value made elsewhere (a note, a reason), ``tojson`` embeds a figure."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template, whatever its file name: all of them are HTML
        undefined=jinja2.StrictUndefined,  # a misspelt variable is an error, not an empty string
        keep_trailing_newline=True,
    )
    env.globals.update(_=i18n.translator(lang), lang=lang, html_lang=i18n.HTML_LANG[lang])
    env.filters["tr"] = lambda value: i18n.translate(value, lang)
    return env


def render(template: str, lang: str = "en", **context) -> str:
    """Render ``templates/<template>`` in ``lang`` with ``context`` (values escaped).

    >>> render("banner.html", lines=["a < b"], warning="")   # doctest: +SKIP
    '<div id="hypebt-notes" ...><li>a &lt; b</li>...'
    """
    return environment(i18n.check_lang(lang)).get_template(template).render(**context)


@dataclass(frozen=True)
class Cell:
    """One table cell: its text, a link target when it is a link, and its tone ("gain" red, "loss" green)."""

    text: str
    href: str | None = None
    tone: str = ""


@dataclass
class Table:
    """What the ``table`` macro draws: header, rows of cells, the CSS class, the text when empty."""

    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    cls: str = "sortable"
    empty: str = "nothing to show"


def plain(v) -> str:
    """A value as a table shows it: '' for missing, whole floats without decimals, else 4 decimals."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e12 else f"{v:.4f}"
    return str(v)


def table(frame: pd.DataFrame, fmt: Callable[[str, object], str] | None = None, cls: str = "sortable",
          links: dict | None = None, link_label: str = "", link_column: str = "report",
          headers: Callable[[str], str] | None = None) -> Table:
    """A :class:`Table` of ``frame``'s columns; ``fmt(column, value)`` gives a cell's text
    (default :func:`plain`). ``links`` maps a row's index label to a URL shown in an extra
    ``link_column`` as ``link_label``.

    >>> table(pd.DataFrame({"a": [1.5]})).rows      # doctest: +SKIP
    [[Cell(text='1.5000', href=None)]]
    """
    fmt = fmt or (lambda col, v: plain(v))
    columns = [(headers or str)(str(c)) for c in frame.columns] + ([link_column] if links else [])
    rows = []
    for idx, values in zip(frame.index, frame.itertuples(index=False)):
        cells = [Cell(fmt(col, v)) for col, v in zip(frame.columns, values)]
        if links and idx in links:
            cells.append(Cell(link_label, links[idx]))
        elif links:
            cells.append(Cell(""))
        rows.append(cells)
    return Table(columns, rows, cls)


def text(value: str) -> str:
    """``value`` as HTML text, for the one page hypebt does not render itself: quantstats'
    tearsheet template inserts its title unescaped."""
    return str(jinja2.utils.markupsafe.escape(value))
