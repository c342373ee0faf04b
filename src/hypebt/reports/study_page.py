"""Study outputs: ``study.html``, ``car.csv``, ``abnormal_returns.parquet``, ``summary.csv``, ``tests.csv``,
``manifest.json``."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import io
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from hypebt.core import fsio, i18n
from hypebt.core.i18n import N_
from hypebt.core.outdir import staged_dir
from hypebt.reports import run_report as report
from hypebt.reports import run_page, study_text
from hypebt.research.study import TRADABLE_RULE
from hypebt.reports.templating import render, table


_en = i18n.translator("en")
CJK_FONT_FILES = ("NotoSansCJK-Regular.ttc", "NotoSansCJK-Regular.otf", "NotoSansCJKsc-Regular.otf",
                  "wqy-microhei.ttc", "wqy-zenhei.ttc")


def setup_matplotlib():
    """Matplotlib on the file backend, with a CJK font for Chinese names when one is installed
    (Debian: fonts-noto-cjk). Returns pyplot, and whether a CJK font was found."""
    import glob
    import logging
    import warnings

    import matplotlib

    matplotlib.use("Agg", force=True)
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    from matplotlib import font_manager, rcParams

    names = [f.name for f in font_manager.fontManager.ttflist if "CJK" in f.name]
    if not names:
        # A font installed after matplotlib built its cache: register it directly.
        for pattern in CJK_FONT_FILES:
            for path in glob.glob(f"/usr/share/fonts/**/{pattern}", recursive=True):
                font_manager.fontManager.addfont(path)
        names = [f.name for f in font_manager.fontManager.ttflist if "CJK" in f.name]
    sans = sorted({n for n in names if "Sans" in n}) or sorted(set(names))
    if sans:
        preferred = [n for n in sans if n.endswith(" SC")] or sans
        rcParams["font.sans-serif"] = [preferred[0], *rcParams["font.sans-serif"]]
        rcParams["font.family"] = "sans-serif"
    else:
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
    rcParams["axes.unicode_minus"] = False
    import matplotlib.pyplot as plt

    return plt, bool(sans)


def _png(fig, plt) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def draw_car(ax, curve: pd.DataFrame, _=_en) -> None:
    """One event's mean CAR (market-adjusted and market model, in %) with its confidence band on ``ax``."""
    for model, label, color in (("car_mkt", _("market-adjusted"), "#1f77b4"), ("car_mm", _("market model"), "#d62728")):
        c = curve[curve["model"] == model]
        if len(c) and c["mean"].notna().any():
            ax.plot(c["rel_day"], c["mean"] * 100, label=_("mean CAR, %(model)s", model=label), color=color)
            ax.fill_between(c["rel_day"], c["low"] * 100, c["high"] * 100, color=color, alpha=0.15)
    ax.axvline(0, color="grey", lw=0.8, ls="--")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_xlabel(_("sessions from the event's first tradable session (day 0)"))
    ax.set_ylabel(_("CAR, %"))


def car_figures(curves: pd.DataFrame, car: pd.DataFrame, title_names: dict, _=_en) -> list[tuple[str, str]]:
    """(title, base64 PNG) of the mean CAR curves with bands, and the paper-vs-tradable bars."""
    plt, _cjk = setup_matplotlib()
    figs = []
    groups = list(curves.groupby("event", sort=False))
    if len(groups) == 2:  # one event: its curve and "all events" are the same
        groups = groups[:1]
    for ev_id, g in groups:
        fig, ax = plt.subplots(figsize=(7.5, 3.6))
        draw_car(ax, g, _)
        n = int(g["n"].max()) if len(g) else 0
        title = _("%(event)s: mean CAR with confidence band (n=%(n)s)", event=title_names.get(ev_id, ev_id), n=n)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
        fig.tight_layout()
        figs.append((title, _png(fig, plt)))
    top = car.dropna(subset=["paper_abnormal"]).sort_values("paper_abnormal", ascending=False).head(20)
    if len(top):
        fig, ax = plt.subplots(figsize=(7.5, 0.25 * len(top) + 1.2))
        labels = [f"{r.code} {r.name}".strip() for r in top.itertuples()]
        y = np.arange(len(top))
        ax.barh(y - 0.2, top["paper_abnormal"] * 100, height=0.4, label=_("paper"), color="#9ecae1")
        ax.barh(y + 0.2, top["tradable_abnormal"].fillna(0) * 100, height=0.4, label=_("tradable"), color="#3182bd")
        ax.set_yticks(y, labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(_("buy-and-hold abnormal return to the end of the window, %"))
        title = _("Paper vs tradable BHARs: the 20 largest paper moves")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
        fig.tight_layout()
        figs.append((title, _png(fig, plt)))
    return figs


def _cell_text(pct_cols):
    """A study table's cell text: percentages for ``pct_cols``, 4 significant digits otherwise."""
    def fmt(col, v) -> str:
        if isinstance(v, float):
            return "" if np.isnan(v) else (f"{v:+.2%}" if col in pct_cols else f"{v:.4g}")
        return str(v)
    return fmt


SUMMARY_COLUMNS = ["event", "n", "mean_car_mkt", "median_car_mkt", "mean_car_mm", "mean_bhar", "headline_test",
                   "headline_t", "headline_p", "mm_headline_t", "mm_headline_p", "t_stat", "t_p", "kp_t", "kp_p",
                   "portfolio_t", "portfolio_p", "r_bar", "positive", "sign_p", "gsign_p", "wilcoxon_p",
                   "mean_paper", "mean_tradable", "mean_gap", "never_fillable", "locked_day0"]


STUDY_LABELS = {
    "id": N_("event"), "event": N_("event"), "name": N_("name"), "company": N_("company"),
    "time (Beijing)": N_("happened (Beijing)"), "known": N_("known (Beijing)"), "scheduled": N_("scheduled"),
    "day 0": N_("day 0"), "first tradable price": N_("first tradable price"),
    "day-0 return spans (calendar days)": N_("day-0 return spans (calendar days)"), "code": N_("code"),
    "n": N_("n"), "mean_car_mkt": N_("mean CAR, market-adjusted"), "median_car_mkt": N_("median CAR, market-adjusted"),
    "mean_car_mm": N_("mean CAR, market model"), "mean_bhar": N_("mean BHAR"), "headline_test": N_("headline test"),
    "headline_t": N_("headline t"), "headline_p": N_("headline p"), "mean_paper": N_("mean paper BHAR"),
    "mean_tradable": N_("mean tradable BHAR"), "mean_gap": N_("mean gap"), "never_fillable": N_("never fillable"),
    "locked_day0": N_("locked on day 0"), "locked_days": N_("locked sessions"), "suspended_days": N_("suspended sessions"),
    "first_fill": N_("first fill"), "paper_abnormal": N_("paper BHAR"), "tradable_abnormal": N_("tradable BHAR"),
    "gap": N_("gap"), "beta": N_("beta"), "day0": N_("day 0"), "at": N_("first tradable price"), "model": N_("model"),
    "window": N_("window"), "test": N_("test"), "statistic": N_("statistic"), "p_value": N_("p-value"),
    "headline": N_("headline"), "notes": N_("notes"), "positive": N_("positive"), "r_bar": N_("mean correlation r̄"),
    "paper BHAR": N_("paper BHAR"), "tradable BHAR": N_("tradable BHAR"),
}


# Window columns: car_mkt[0,20] in car.csv, "CAR[0,20] market-adjusted" in the company table.
WINDOW_LABELS = [
    (re.compile(r"^(?:car_mkt|CAR)\[(-?\d+), ?(-?\d+)\](?: market-adjusted)?$"), N_("CAR[%(lo)s,%(hi)s] market-adjusted")),
    (re.compile(r"^(?:car_mm\[|CAR\[)(-?\d+), ?(-?\d+)\](?: market model)?$"), N_("CAR[%(lo)s,%(hi)s] market model")),
    (re.compile(r"^(?:bhar_mkt|BHAR)\[(-?\d+), ?(-?\d+)\]$"), N_("BHAR[%(lo)s,%(hi)s]")),
]


def study_header(lang: str):
    """A study table's column name in ``lang`` (the CSV's name when hypebt has no words for it)."""
    def header(col: str) -> str:
        if col in STUDY_LABELS:
            return i18n.translate(STUDY_LABELS[col], lang)
        for pattern, label in WINDOW_LABELS:
            m = pattern.match(col)
            if m:
                return i18n.translate(N_(label.msgid, lo=m.group(1), hi=m.group(2)), lang)
        return col
    return header


def write(inputs, abnormal, car, summary, curves_frame, skipped, out: Path, command=None,
          tests: pd.DataFrame | None = None, lang: str = "en") -> Path:
    """Write every study output into ``out`` (replaced as a whole): study.html (in ``lang``),
    car.csv, abnormal_returns.parquet, summary.csv, tests.csv (every test of every window, when
    given) and manifest.json."""
    spec, cfg = inputs.spec, inputs.cfg
    _ = i18n.translator(lang)
    header = study_header(lang)
    titles = {t.event.id: f"{t.event.name} ({t.event.company})" for t in inputs.tradables}
    figs = car_figures(curves_frame, car, titles, _)
    a, b = cfg.window
    lo, hi = cfg.main_window
    market = inputs.market.label if inputs.market is not None else spec.benchmark
    spans = {d["id"]: d for d in inputs.day0}
    universes = {r["event"]: r for r in getattr(inputs, "event_universes", [])}
    ev_table = pd.DataFrame([{
        "id": t.event.id, "name": t.event.name, "company": t.event.company,
        "time (Beijing)": str(t.event.time), "known": str(t.event.known_time),
        "scheduled": i18n.translate(N_("scheduled") if t.event.scheduled else N_("unscheduled"), lang),
        "day 0": str(t.session.date()), "first tradable price": run_page.word(t.at, lang, run_page.AT),
        "day-0 return spans (calendar days)": spans.get(t.event.id, {}).get("span_days", ""),
        **({"universe (as known then)": run_page.universe_text(universes.get(t.event.id), inputs.names)}
           if universes else {}),
    } for t in inputs.tradables])
    pct = {"mean_car_mkt", "median_car_mkt", "mean_car_mm", "mean_bhar", "mean_paper", "mean_tradable", "mean_gap",
           *[c for c in car.columns if c.startswith(("car_", "bhar_"))], "paper_abnormal", "tradable_abnormal", "gap",
           *[c for c in (tests.columns if tests is not None else ()) if c == "estimate_pct"]}
    main = f"car_mkt[{lo},{hi}]"
    stock_cols = [c for c in ["event", "code", "name", "day0", "at", main, f"car_mm[{lo},{hi}]", f"bhar_mkt[{lo},{hi}]",
                              "beta", "locked_day0", "locked_days", "suspended_days", "first_fill", "paper_abnormal",
                              "tradable_abnormal", "gap"] if c in car.columns]
    shown, total = study_text.trim(car[stock_cols], main)
    overall = summary.set_index("event").loc["all events"].to_dict() if "all events" in set(summary["event"]) else {}
    overall["event"] = "all events"
    headline = study_text.headline(overall, (lo, hi), market) if "headline_test" in overall else []
    headline_mm = study_text.headline(overall, (lo, hi), market, "mm_") if "mm_headline_test" in overall else []
    companies = pd.DataFrame(study_text.company_rows(car, inputs.concerned, (lo, hi)))
    main_tests = descriptive = None
    if tests is not None and len(tests):
        cols = ["event", "model", "window", "test", "statistic", "p_value", "n", "headline", "notes"]
        main_tests = tests.loc[tests["role"] == "main", cols]
        desc = tests[tests["role"] == "descriptive"]
        if desc["event"].nunique() > 1:
            desc = desc[desc["event"] == "all events"]
        descriptive = desc.loc[desc["key"].isin(["plain", "kp", "portfolio", "calendar"]),
                               ["model", "window", "test", "statistic", "p_value", "n"]]
    page = render(
        "study.html", lang=lang, title=_("%(name)s event study", name=spec.name), name=spec.name,
        universe=inputs.universe_name, n_stocks=len(inputs.panel.codes), benchmark=market, a=a, b=b,
        main_lo=lo, main_hi=hi, est_a=cfg.estimation[0], est_b=cfg.estimation[1], min_estimation=cfg.min_estimation,
        confidence=f"{cfg.confidence:.0%}", warning=inputs.warning,
        notes_list=[*inputs.notes, *skipped], day0_lines=study_text.day0_context(inputs.day0),
        headline=headline, headline_mm=headline_mm,
        companies=table(companies, _cell_text(set(companies.columns) - {"event", "code", "name"}), headers=header)
        if len(companies) else None,
        figures=figs, events=table(ev_table, _cell_text(()), headers=header),
        summary=table(summary[[c for c in SUMMARY_COLUMNS if c in summary.columns]], _cell_text(pct), headers=header),
        main_tests=table(main_tests, _cell_text(()), headers=header) if main_tests is not None else None,
        descriptive=table(descriptive, _cell_text(()), headers=header)
        if descriptive is not None and len(descriptive) else None,
        tradable_rule=TRADABLE_RULE, stocks=table(shown, _cell_text(pct), headers=header), stocks_total=total,
        stocks_trimmed=len(shown) < total, top_n=study_text.TOP_N)
    manifest = {
        "kind": "study", "name": spec.name,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command or sys.argv, "versions": report.versions(), "spec": spec.as_dict(),
        "study": dataclasses.asdict(cfg), "market": market,
        "data": {n: {k: m.get(k) for k in ("adjust", "rows", "first_date", "last_date", "sha256")}
                 for n, m in inputs.data_manifests.items() if m},
        "universe": {"name": inputs.universe_name, "codes": len(inputs.panel.codes), "look_ahead": inputs.look_ahead,
                     "look_ahead_warning": inputs.warning},
        "event_universes": getattr(inputs, "event_universes", []),
        "events": [{"id": t.event.id, "session": str(t.session.date()), "at": t.at} for t in inputs.tradables],
        "events_outside": [e.id for e in inputs.outside], "skipped": skipped, "notes": inputs.notes,
        "summary": summary.replace({np.nan: None}).to_dict("records"),
    }
    with staged_dir(out, "study") as tmp:
        with fsio.atomic_path(tmp / "car.csv") as t:
            car.to_csv(t, index=False)
        with fsio.atomic_path(tmp / "abnormal_returns.parquet") as t:
            abnormal.to_parquet(t, index=False)
        with fsio.atomic_path(tmp / "summary.csv") as t:
            summary.to_csv(t, index=False)
        if tests is not None:
            with fsio.atomic_path(tmp / "tests.csv") as t:
                tests.to_csv(t, index=False)
        fsio.write_text(tmp / "study.html", page)
        fsio.write_json(tmp / "manifest.json", manifest)
    return out
