"""The sweep's event-level validation (``--validate events``): ``validation.csv`` and its page section.

What the figures are is defined once, in :mod:`hypebt.research.validate`; this module writes them:
the table, the in-sample best against the out-of-sample figures of walk-forward and
leave-one-out, and a chart of each held-out event's in-sample and out-of-sample figure.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hypebt.core import fsio, i18n
from hypebt.reports import charts
from hypebt.reports.labels import header
from hypebt.reports.templating import Cell, Table, plain, table


def write_files(out: Path, validation) -> None:
    """``validation.csv`` (one row per method and held-out event) and ``validation_events.csv`` (every
    combination's figure on every event, each run alone), written atomically."""
    with fsio.atomic_path(out / "validation.csv") as tmp:
        validation.frame.to_csv(tmp, index=False)
    with fsio.atomic_path(out / "validation_events.csv") as tmp:
        validation.figures.to_csv(tmp, index=False)


def _fmt(metric: str, fraction):
    def fmt(col, v):
        if isinstance(v, float) and fraction(col) and v == v:
            return f"{v:+.2%}"
        return plain(v)
    return fmt


def line(validation, metric: str) -> str:
    """One line for the terminal: in-sample best against the two out-of-sample figures."""
    s = validation.summary
    best = s.get("in_sample_best") or {}
    parts = [f"in-sample best {metric} {plain(best.get(metric))} at "
             + ", ".join(f"{k}={v}" for k, v in (best.get("params") or {}).items())]
    for method in ("walk_forward", "leave_one_out"):
        m = s[method]
        unscored = m["held_out"] - m["scored"]
        parts.append(f"{method.replace('_', '-')} out-of-sample {metric} {plain(m.get(metric))} "
                     f"over {m['scored']} held-out event(s)"
                     + (f" ({unscored} more had no earlier event finished to choose on)" if unscored else ""))
    return "; ".join(parts)


def context(validation, metric: str, params: list[str], fraction, lang: str = "en") -> dict:
    """What the sweep page's validation section shows (in ``lang``)."""
    _ = i18n.translator(lang)
    s = validation.summary
    best = s.get("in_sample_best") or {}
    rows = [[Cell(_("in-sample best (every event)")),
             Cell(", ".join(f"{k}={v}" for k, v in (best.get("params") or {}).items())),
             Cell(_fmt(metric, fraction)(metric, best.get(metric))), Cell(str(len(s["events"])))]]
    for method, what in (("walk_forward", _("out-of-sample, walk-forward: chosen on the earlier events")),
                         ("leave_one_out", _("out-of-sample, leave-one-out: chosen on all the others"))):
        m = s[method]
        rows.append([Cell(what), Cell(_("per event, below")),
                     Cell(_fmt(metric, fraction)(metric, m.get(metric))), Cell(str(m["scored"]))])
    headline = Table([_("figure"), _("parameters"), header(metric, lang), _("events")], rows, cls="")
    frame = validation.frame.drop(columns=["train"])
    wf = validation.frame[validation.frame["method"] == "walk_forward"]
    chart = None
    if len(wf):
        scale = 100 if fraction(metric) else 1
        name = header(metric, lang)
        chart = charts.grouped_bars(
            _("%(metric)s of the chosen parameters: in-sample (earlier events) vs out-of-sample (the event)",
              metric=name),
            list(wf["event"]), {_("in-sample"): list(wf[f"is_{metric}"] * scale),
                                _("out-of-sample"): list(wf[f"oos_{metric}"] * scale),
                                _("hindsight best on the event"): list(wf[f"best_oos_{metric}"] * scale)},
            f"{name}, %" if scale == 100 else name, _("held-out event (time order)"))
    return {"validation_headline": headline,
            "validation_table": table(frame, _fmt(metric, fraction), headers=lambda c: header(c, lang)),
            "validation_chart": chart, "validation_window": s["event_window"], "validation_from": s["validate_from"],
            "validation_failed": s["failed_runs"], "validation_outside": s["runs_outside_window"]}


def empty_context() -> dict:
    """The page without a validation section."""
    return {"validation_headline": None}


def frame_for_api(validation) -> pd.DataFrame:
    """The validation table as ``hypebt.sweep(..., validate="events")`` attaches it."""
    return validation.frame.copy()
