"""Run outputs: ``report.html``, the quantstats tearsheet and the files behind every figure.

``reports/<run name>/`` gets ``report.html`` (:mod:`hypebt.reports.run_page`), ``tearsheet.html``, ``stats.json``,
``trades.csv``, ``orders.csv``, ``fills.csv``, ``borrow.csv``, ``corporate_actions.csv``, ``equity.csv``,
``returns.csv`` and ``manifest.json`` (versions, data hashes, spec, params,
rules): every figure in the report can be reproduced from the manifest.

The folder is built beside its final place and renamed into it in one step
(:func:`hypebt.core.outdir.staged_dir`), so a crash never leaves a half-written report.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import platform
import sys
from importlib import metadata
from pathlib import Path

import pandas as pd

from hypebt import __version__
from hypebt.core import fsio, i18n
from hypebt.core.i18n import N_
from hypebt.core.outdir import staged_dir
from hypebt.engine import actions as A
from hypebt.engine import metrics
from hypebt.engine.provenance import strategy_source
from hypebt.reports import assets, run_page
from hypebt.reports import tearsheet as fitted
from hypebt.reports.run_page import label
from hypebt.reports.templating import render

PACKAGES = ("backtrader", "akshare", "pandas", "numpy", "pyarrow", "quantstats", "matplotlib", "dask", "distributed",
            "jinja2", "plotly")


def versions() -> dict[str, str]:
    """Versions of hypebt, Python and the packages a result depends on."""
    out = {"hypebt": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def banner(lines: list[str], warning: str = "", lang: str = "en") -> str:
    """An HTML block with hypebt's notes (and the look-ahead ``warning``), put at the top of a page."""
    return render("banner.html", lang=lang, lines=lines, warning=warning)


def tearsheet(returns: pd.Series, bench: pd.Series, path: Path, title: str, notes: list[str], warning: str,
              **titles) -> None:
    """Write a quantstats tearsheet fitted to the run (see :mod:`hypebt.reports.tearsheet`)."""
    fitted.write(returns, bench, path, title, notes, warning, **titles)


def universe_label(prep, names: dict[str, str], most: int = 3) -> str:
    """What ran: the universe's name, or for a list of codes the stocks with their names
    (``002230 科大讯飞``), the first ``most`` and how many more."""
    if prep.universe_name and prep.universe_name != "codes":
        return prep.universe_name
    shown = [label(c, names) for c in prep.codes[:most]]
    more = len(prep.codes) - most
    return ", ".join(shown) + (N_(" and %(n)s more", n=more) if more > 0 else "")


def data_notes(prep) -> list[str]:
    """Where the bars came from: dataset, adjustment, span and source of each dataset used."""
    out = []
    for name, m in prep.data_manifests.items():
        if m.get("kind") in ("reference", "calendar", "workspace"):
            continue  # a reference table (calendar, ST history, dividends...): in the manifest, not a price note
        sources = m.get("sources") or []
        src = ", ".join(str(x.get("path") or x.get("source") or x) if isinstance(x, dict) else str(x)
                        for x in sources[:2]) if isinstance(sources, list) else str(sources)
        adjust = m.get("adjust") if m.get("adjust") not in (None, "none") else N_("unadjusted")
        span = f"{m.get('first_date')}..{m.get('last_date')}"
        out.append(N_("data %(name)s: %(adjust)s prices, %(span)s, from %(src)s", name=name, adjust=adjust, span=span,
                      src=src) if src else N_("data %(name)s: %(adjust)s prices, %(span)s", name=name, adjust=adjust,
                                                span=span))
    return out


def data_digest(manifests: dict) -> str:
    """One sha256 over the input tables' own (name -> sha256, sorted): it changes when any table does."""
    text = json.dumps({name: m.get("sha256") for name, m in sorted(manifests.items())}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_run(prep, result, out_dir: Path, command: list[str] | None = None, html_report: bool = True,
              names: dict[str, str] | None = None, heading: str | None = None,
              extra_notes: list[str] | None = None, lang: str = "en", reports: Path | None = None) -> Path:
    """Write every output of one run into ``out_dir`` (replaced as a whole): the CSVs, stats,
    manifest, and with ``html_report`` the run's ``report.html`` (in ``lang``) and its quantstats
    tearsheet.

    ``names``: code -> Chinese name (default: the universe's); ``heading``: what the title starts
    with (default: the strategy's name); ``extra_notes``: put first among the notes; ``reports``:
    the workspace's reports folder, whose ``_assets/`` the page uses when ``out_dir`` is inside it
    (:mod:`hypebt.reports.assets`).
    """
    spec = prep.spec
    _ = i18n.translator(lang)
    names = {**(names or {}), **prep.names}
    period = f"{result.stats['start']}..{result.stats['end']}"
    bench = fitted.benchmark_label(spec.benchmark)
    title = _("%(strategy)s on %(universe)s (%(period)s) vs %(benchmark)s", strategy=heading or prep.strategy_name,
              universe=universe_label(prep, names), period=period, benchmark=bench)
    notes = [*(extra_notes or []), N_("benchmark: %(name)s", name=bench), *data_notes(prep), *prep.warnings]
    if prep.events:
        notes.append(N_("events: %(list)s", list="; ".join(
            f"{t.event.id} -> {t.session.date()} {run_page.word(t.at, lang, run_page.AT)}" for t in prep.events)))
    notes += fitted.caveats(result.stats, len(prep.events))
    warning = prep.warning
    root = assets.root_for(out_dir, reports)
    inside = root == Path(out_dir).resolve()
    manifest = {
        "kind": "run",
        "name": spec.name,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command or sys.argv,
        "versions": versions(),
        "spec": spec.as_dict(),
        # a class from a notebook has no file: its source (from the cell) or a digest of its code
        "strategy": {"name": prep.strategy_name, "path": str(prep.strategy_path or ""),
                     **strategy_source(prep.strategy_cls, prep.strategy_path)},
        "params": result.params,
        "rules": dataclasses.asdict(prep.rules),
        "data": {name: {k: m.get(k) for k in ("kind", "adjust", "price_basis", "rows", "first_date", "last_date",
                                              "as_of", "sha256", "sources")}
                 for name, m in prep.data_manifests.items()},
        # one hash over every input table's hash: two runs with the same data_sha256 read the same data
        "data_sha256": data_digest(prep.data_manifests),
        "universe": {"name": prep.universe_name, "codes": list(prep.codes), "look_ahead": prep.look_ahead,
                     "look_ahead_warning": warning},
        "events": [{"id": t.event.id, "session": str(t.session.date()), "at": t.at} for t in prep.events],
        # Board universes: per event, the snapshot of each board, its age, the members without a bar.
        "event_universes": prep.event_universes,
        "events_outside": [e.id for e in prep.events_outside],
        "notes": prep.warnings,
        "periods_per_year": metrics.PERIODS,
    }
    with staged_dir(out_dir) as tmp:
        fsio.write_json(tmp / "stats.json", {**result.stats, "title": title, "look_ahead_warning": warning})
        corporate = getattr(result, "corporate_actions", None)
        for name, frame in (("trades", result.trades), ("orders", result.orders), ("fills", result.fills),
                            ("borrow", result.borrow), ("equity", result.equity),
                            ("corporate_actions", corporate if corporate is not None else A.ledger(None))):
            with fsio.atomic_path(tmp / f"{name}.csv") as t:
                frame.to_csv(t, index=False)
        with fsio.atomic_path(tmp / "returns.csv") as t:
            pd.DataFrame({"strategy": result.returns, "benchmark": prep.benchmark}).rename_axis("date").to_csv(t)
        if getattr(result, "log", None):
            fsio.write_text(tmp / "log.txt", "\n".join(result.log) + "\n")
        if html_report:
            why_not = fitted.not_drawable(result.returns, prep.benchmark)
            if why_not is None:
                tearsheet(result.returns, prep.benchmark, tmp / "tearsheet.html", title, notes, warning,
                          strategy_title=prep.strategy_name, benchmark_title=bench,
                          single_event=len(prep.events) == 1, lang=lang)
            page_notes = notes if why_not is None else [*notes, N_("no quantstats tearsheet: %(why)s", why=why_not)]
            assets.install(tmp if inside else root)
            fsio.write_text(tmp / "report.html", run_page.page(
                prep, result, names, title=title, notes=page_notes, warning=warning,
                tearsheet=None if why_not else "tearsheet.html", plotly_src=assets.src_for(out_dir, root), lang=lang))
        fsio.write_json(tmp / "manifest.json", manifest)
    return out_dir

