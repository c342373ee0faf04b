"""Event studies: how did the stocks move around an event, and how much of it could be traded?

For each event x stock: daily abnormal returns against the market (``[study] market``: an index,
the equal-weight market or a size-matched one, :mod:`hypebt.research.study_market`),
market-adjusted and market model (fitted on an estimation window before the event); cumulative
abnormal returns (CAR, summed) and buy-and-hold abnormal returns (BHAR, compounded) over windows
around the event's first tradable session (day 0); the plain cross-sectional tests beside the
dependence-robust ones (:mod:`hypebt.research.study_robust`), the headline picked by how the events
cluster in calendar time; and *paper vs tradable*, both BHARs to the same end: paper buys at the
event's first tradable price (day 0's open, or its close for news during trading), tradable at
the first price that would really have filled (:data:`TRADABLE_RULE`), and the gap between them is
what "buy on the news" could not capture.

Everything is computed on session x stock matrices, so a study of the whole
market (5,000+ stocks) takes seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hypebt.core.i18n import N_
from hypebt.data import boards as B
from hypebt.data import events as E
from hypebt.data import universes as U
from hypebt.data.calendar import Calendar
from hypebt.core.errors import DataError, InputError
from hypebt.data import stock_info as SI
from hypebt.engine import event_universe as EU
from hypebt.engine.actions import align_factors
from hypebt.engine.spec import Spec
from hypebt.data.calendar import store_sessions
from hypebt.data.store import Store
from hypebt.market import panel as MP
from hypebt.market import rules as R
from hypebt.research import study_cars as SC
from hypebt.research import study_market as SM
from hypebt.research.study_panel import Panel, build_panel, locked_limit_up  # noqa: F401 (API)
from hypebt.research import study_returns as SR
from hypebt.research import study_robust as RB
from hypebt.research import study_stats as SS
from hypebt.research.study_config import DEFAULTS, STUDY_KEYS, StudyConfig, study_config  # noqa: F401 (API)
from hypebt.data import reference
from hypebt.market import status as MS

# What "tradable" means, as compute_all builds it (the page and the README quote this).
TRADABLE_RULE = N_("tradable buys at the first price that would have filled: never while suspended, never on a "
                   "session locked at limit-up all day (一字板), and never at a price at or above the limit-up "
                   "price, so a session that opens at limit-up is not fillable at its open even when the board "
                   "opens later in the session (the next session's open is tried), unless the spec's [rules] "
                   "turn on the limit-order model (fill_at_limit_when_opened): then a buy at the limit-up "
                   "price fills on a session where the board opened")


def _spans(present: np.ndarray) -> np.ndarray:
    """Per session and stock, the row of the stock's previous traded session (-1: none)."""
    rows = np.where(present, np.arange(present.shape[0])[:, None], np.nan)
    last = pd.DataFrame(rows).ffill().shift(1).to_numpy()
    return np.where(np.isnan(last), -1, last).astype(int)


def _returns(close: np.ndarray, present: np.ndarray, bench_close: np.ndarray):
    """Close-to-close returns of the stocks and of the benchmark *over the same span*.

    A stock's first bar after a suspension carries its whole move since its last
    bar; the benchmark's return is taken over the same sessions, so the market's
    move on the suspended days is not counted as abnormal. Also returns the
    number of sessions each return spans.
    """
    last = _spans(present)
    idx = np.arange(close.shape[0])[:, None]
    ok = last >= 0
    safe = np.where(ok, last, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        prev = np.take_along_axis(close, safe, axis=0)
        r = np.where(ok & present, close / prev - 1, np.nan)
        rm = SM.span_returns(bench_close, last, ok & present)
    span = np.where(ok & present, idx - last, 0)
    return r, rm, span


@dataclass
class _Window:
    """One event's window: its rows, the stocks studied and their abnormal returns."""

    i0: int
    rows: np.ndarray
    cols: np.ndarray  # stocks listed before day 0 that trade at least once in the window
    ar_mkt: np.ndarray
    ar_mm: np.ndarray
    rms: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    n_ok: np.ndarray
    fit: np.ndarray


def _event_window(panel: Panel, r, rm_span, span, i0: int, cfg: StudyConfig) -> _Window:
    """Market-adjusted and market-model abnormal returns over the window around session ``i0``."""
    a, b = cfg.window
    e1, e2 = cfg.estimation
    rows = np.arange(i0 + a, i0 + b + 1)
    rw, rms, spw = r[rows], rm_span[rows], span[rows]
    # Market model on the estimation window, per stock, on one-session returns only.
    est = np.arange(max(1, i0 + e1), i0 + e2 + 1)
    ok = ~np.isnan(r[est]) & ~np.isnan(rm_span[est]) & (span[est] == 1)
    alpha, beta, n_ok = SR.market_model(r[est], rm_span[est], ok)
    fit = n_ok >= cfg.min_estimation
    beta[~fit], alpha[~fit] = np.nan, np.nan
    ar_mkt, ar_mm = SR.abnormal_returns(rw, rms, spw, alpha, beta)
    cols = np.flatnonzero(panel.present[:i0].any(axis=0) & panel.present[rows].any(axis=0))
    return _Window(i0, rows, cols, ar_mkt, ar_mm, rms, alpha, beta, n_ok, fit)


def _abnormal_frame(panel: Panel, event_id: str, w: _Window, r, locked_all, rel) -> pd.DataFrame:
    """The long table of one event: a row per session of the window and stock."""
    cols, rows = w.cols, w.rows
    car_mkt, car_mm = np.nancumsum(w.ar_mkt, axis=0), np.nancumsum(w.ar_mm, axis=0)
    return pd.DataFrame({
        "event": event_id, "code": np.repeat(np.asarray(panel.codes)[cols][None, :], len(rows), 0).ravel(),
        "rel_day": np.repeat(rel, len(cols)), "date": np.repeat(panel.sessions[rows], len(cols)),
        "ret": r[rows][:, cols].ravel(), "bench_ret": w.rms[:, cols].ravel(),
        "ar_mkt": w.ar_mkt[:, cols].ravel(), "ar_mm": w.ar_mm[:, cols].ravel(),
        "car_mkt": car_mkt[:, cols].ravel(), "car_mm": car_mm[:, cols].ravel(),
        "locked": locked_all[rows][:, cols].ravel(), "suspended": (~panel.present[rows][:, cols]).ravel(),
    })


@dataclass
class StudyResult:
    """Everything :func:`compute_all` finds: the long AR table, per stock-event CARs and BHARs,
    one summary row per event (and all events), every test of every window (``tests``), the
    main window's test outcomes (``outcomes[(event, "mkt"|"mm")]``) and skipped events."""

    abnormal: pd.DataFrame
    car: pd.DataFrame
    summary: pd.DataFrame
    tests: pd.DataFrame
    outcomes: dict
    skipped: list


def compute(panel: Panel, tradables: list, cfg: StudyConfig, names: dict[str, str]):
    """``(abnormal, car, summary, skipped)`` of :func:`compute_all`."""
    res = compute_all(panel, tradables, cfg, names)
    return res.abnormal, res.car, res.summary, res.skipped


def compute_all(panel: Panel, tradables: list, cfg: StudyConfig, names: dict[str, str]) -> StudyResult:
    """Abnormal returns (long table), per event x stock CARs and BHARs, per-event and overall tests.

    Tests: the plain ones (t, sign, Wilcoxon: independence assumed) and the dependence-robust ones
    of :mod:`hypebt.research.study_robust` on both models' ARs, for every CAR window; summary.csv
    carries the main window's, the headline chosen by how the events cluster in calendar time.
    """
    from scipy import stats

    r, rm_span, span = _returns(panel.adj_close, panel.present, panel.bench_close)
    last = SR.last_traded(panel.present)
    a, b = cfg.window
    rel = np.arange(a, b + 1)
    long_parts, car_rows, skipped, windows, untested = [], [], [], [], {}
    locked_all = locked_limit_up(panel)
    codes = np.asarray(panel.codes)
    for t in tradables:
        i0 = panel.sessions.get_indexer([t.session])[0]
        if i0 < 0 or i0 + a < 1 or i0 + b >= len(panel.sessions):
            skipped.append(N_("%(event)s: window %(a)s..%(b)s around %(day)s leaves the data", event=t.event.id, a=a, b=b,
                              day=t.session.date()))
            continue
        w = _event_window(panel, r, rm_span, span, i0, cfg)
        if t.members is not None:  # a board universe: this event's own members as known before it
            w.cols = w.cols[np.isin(codes[w.cols], t.members)]
            if not len(w.cols):
                skipped.append(f"{t.event.id}: no member of its universe trades in the window")
                continue
        # Tests standardize by estimation-window ARs: only stocks with min_estimation sessions there count.
        fitted = w.cols[w.fit[w.cols]]
        if len(fitted):
            windows.append(RB.EventWindow(t.event.id, i0, fitted, w.ar_mkt, w.ar_mm, w.alpha, w.beta))
        else:
            untested[t.event.id] = _too_short(w, cfg)
        long_parts.append(_abnormal_frame(panel, t.event.id, w, r, locked_all, rel))
        car_rows.append(SC.car_frame(panel, t, w, locked_all, last, cfg, names))
    if not car_rows:
        raise DataError("no event has its whole study window inside the data: " + "; ".join(skipped))
    abnormal = pd.concat(long_parts, ignore_index=True)
    car = pd.concat(car_rows, ignore_index=True)
    lo, hi = cfg.main_window
    robust, test_rows, outcomes = RB.run(windows, r, rm_span, span, cfg.window, cfg.estimation, cfg.car_windows,
                                         cfg.main_window) if windows else ({}, [], {})
    if not windows:
        untested["all events"] = "; ".join(dict.fromkeys(untested.values()))
    summaries = []
    for ev_id, g in [*car.groupby("event", sort=False), ("all events", car)]:
        row = SS.test_row(ev_id, g, f"car_mkt[{lo},{hi}]", f"car_mm[{lo},{hi}]", stats)
        row["mean_bhar"] = float(g[f"bhar_mkt[{lo},{hi}]"].mean())
        row["no_tests"] = untested.get(ev_id, "")
        if row["no_tests"]:  # no figure stands in for a test that could not be run
            row.update({k: np.nan for k in ("t_stat", "t_p", "sign_p", "wilcoxon_p")})
        summaries.append({**row, **robust.get(ev_id, {})})
    return StudyResult(abnormal, car, pd.DataFrame(summaries), pd.DataFrame(test_rows), outcomes, skipped)


def _too_short(w: _Window, cfg: StudyConfig) -> str:
    """Why an event is not tested: its estimation window's sessions, fewer than ``min_estimation``."""
    most = int(w.n_ok[w.cols].max()) if len(w.cols) else 0
    return f"the estimation window {list(cfg.estimation)} holds at most {most} session(s) of returns per stock " \
        f"before day 0, fewer than min_estimation = {cfg.min_estimation}"


def curves(abnormal: pd.DataFrame, confidence: float, outcomes: dict | None = None) -> pd.DataFrame:
    """Mean CAR per event-relative day with a confidence band, per event and for all events.

    The band is the cross-sectional standard error of the mean, widened for the correlation of
    the stocks' abnormal returns when ``outcomes`` (:attr:`StudyResult.outcomes`) give its
    estimation-window average r̄: by ``sqrt((1 + (N − 1) r̄) / (1 − r̄))``, the Kolari–Pynnönen
    factor (:func:`hypebt.research.study_stats.band_inflation`); ``widening`` records it.
    """
    from scipy import stats

    z = stats.norm.ppf(0.5 + confidence / 2)
    out = []
    for ev_id, g in [*abnormal.groupby("event", sort=False), ("all events", abnormal)]:
        for col in ("car_mkt", "car_mm"):
            agg = g.groupby("rel_day")[col].agg(["mean", "std", "count"])
            res = (outcomes or {}).get((ev_id, "mkt" if col == "car_mkt" else "mm"))
            widen = np.array([SS.band_inflation(res.r_bar, int(n)) if res is not None else 1.0
                              for n in agg["count"]])
            se = agg["std"] / np.sqrt(agg["count"]) * widen
            out.append(pd.DataFrame({"event": ev_id, "model": col, "rel_day": agg.index, "mean": agg["mean"],
                                     "low": agg["mean"] - z * se, "high": agg["mean"] + z * se,
                                     "n": agg["count"], "widening": widen}))
    return pd.concat(out, ignore_index=True)


@dataclass
class StudyInputs:
    spec: Spec
    cfg: StudyConfig
    panel: Panel
    tradables: list
    outside: list
    names: dict
    universe_name: str
    look_ahead: bool
    data_manifests: dict
    notes: list = field(default_factory=list)
    market: SM.Market | None = None
    day0: list = field(default_factory=list)       # per event: id, day0, prev_session, span_days, closure
    concerned: dict = field(default_factory=dict)  # event id -> codes of the company it concerns
    event_universes: list = field(default_factory=list)  # board universes: per event, the snapshots used
    look_ahead_warning: str = ""  # the text pages print when look_ahead

    @property
    def warning(self) -> str:
        """The study's look-ahead warning ("" when it has none)."""
        return (self.look_ahead_warning or U.LOOK_AHEAD_WARNING) if self.look_ahead else ""


def prepare(spec: Spec, ws: Path, store: Store) -> StudyInputs:
    """Load what a study needs: the universe's bars (``universe = "all"``: the whole market), the
    benchmark and the events mapped to their first tradable session."""
    where = str(spec.path)
    cfg = study_config(spec)
    if spec.events is None:
        raise InputError(f"{where}: a study needs an [events] table (catalogue and a filter)")
    dataset = store.stock_dataset(spec.adjust)
    manifest = store.manifest(dataset)
    names: dict[str, str] = SI.names(store)  # the store's stock list, when it has one
    look_ahead, uni_name = False, "codes"
    cal = Calendar(store_sessions(store))
    boards = None
    if spec.universe == "all":
        codes, uni_name = None, "all"
    elif spec.uses_boards:
        candidates, start = EU.candidates(spec, ws, cal, store, where)
        boards = EU.resolve(spec, ws, store, candidates, start, where)
        codes, uni_name = list(dict.fromkeys([*boards.codes, *spec.codes])), boards.label
        names = {**names, **{c: n for c, n in boards.names.items() if n}}
    else:
        codes = list(spec.codes)
        if spec.universe:
            uni = U.load_universe(spec.universe, ws)
            codes = list(dict.fromkeys([*uni.codes, *codes]))
            names = {**names, **{c: n for c, n in uni.names.items() if n}}
            look_ahead, uni_name = uni.look_ahead, uni.name
        if not codes:
            raise InputError(f"{where}: the universe is empty")
    bars = store.load(dataset, codes=codes, columns=MP.bar_columns((manifest or {}).get("columns")))
    if bars.empty:
        raise DataError(f"{where}: none of the universe's codes is in the store ({dataset}); import or fetch them")
    notes = []
    bars = align_factors(bars, notes)  # each factor move on its ex-date: limits and returns agree with the prices
    if codes is not None and boards is None:  # a board universe says it per event
        missing = sorted(set(codes) - set(bars["code"].unique()))
        if missing:
            notes.append(N_("%(n)s code(s) not in the store, left out: %(codes)s", n=len(missing), codes=", ".join(missing)))
    first, last = bars["date"].min(), bars["date"].max()
    start = pd.Timestamp(spec.start) if spec.start else first
    end = pd.Timestamp(spec.end) if spec.end else last
    sessions = cal.between(max(start, first), min(end, last))
    if len(sessions) < 2:
        raise DataError(f"{where}: no data between {start.date()} and {end.date()}")
    tradables, outside = E.select(spec.events, ws, cal, sessions, where)
    if outside:
        notes.append(N_("events outside the data (not studied): %(list)s",
                        list=", ".join(f"{e.id} ({e.time.date()})" for e in outside)))
    qfq = manifest.get("adjust") == "qfq"
    rules = R.for_prices(R.rules_from_mapping(spec.rules, f"{where} [rules]"), qfq,
                         explicit="limit_tolerance" in spec.rules)
    if qfq:
        notes.append(N_("prices are forward-adjusted (qfq): limit-locked sessions are detected with a %(tol)s CNY "
                        "tolerance", tol=rules.limit_tolerance))
    elif manifest.get("adjust") == "raw":
        notes.append(N_("prices are traded (raw): tradability and limits use them (on ex-dates the limits start from "
                        "the exchange's reference price); returns use the adjusted close (close x adj_factor)"))
    no_bench = pd.DataFrame({"date": sessions, "open": np.nan, "close": np.nan})  # the market comes next
    panel = build_panel(bars, sessions, no_bench, names, pd.Timestamp(manifest["first_date"]), set(spec.st_codes),
                        rules=rules, st_history=reference.load(store, "st_history"),
                        st_covered_to=reference.as_of(store, "st_history"), span=cal.between(first, sessions[-1]),
                        seasoned=reference.listed_before_first_bar(store, bars, manifest["first_date"]))
    notes.append(MS.st_note(panel.st_counts))
    market = SM.resolve(store, cfg.market, panel.codes, sessions, dataset, where, cfg.size_groups)
    panel.bench_open, panel.bench_close = market.open, market.close
    notes.extend(market.notes)
    # the bars, and the reference tables the panel reads (sessions, dated ST history): their hashes
    manifests = {n: store.manifest(n) for n in (dataset, "index", "calendar", "st_history") if store.manifest(n)}
    if market.manifest and market.manifest.get("dataset") not in manifests:  # a derived market index
        manifests[market.manifest["dataset"]] = market.manifest
    day0 = []
    for t in tradables:
        i0 = sessions.get_indexer([t.session])[0]
        span_days, closure = SR.closure_days(sessions, i0)
        day0.append({"id": t.event.id, "day0": str(t.session.date()), "span_days": span_days, "closure": closure,
                     "prev_session": str(sessions[i0 - 1].date()) if i0 >= 1 else ""})
    in_panel = set(panel.codes)
    concerned = {t.event.id: tuple(c for c in (t.event.codes or spec.codes) if c in in_panel) for t in tradables}
    records = []
    if boards is not None:
        traded = {code: panel.present[:, j] for j, code in enumerate(panel.codes)}
        tradables, records, board_notes = EU.attach(tradables, boards, tuple(panel.codes), spec.codes, traded,
                                                    EU.spans(bars), sessions)
        notes.extend(board_notes)
        look_ahead = any(r["look_ahead"] for r in records)
        manifests["concept_boards"] = boards.manifest
    inputs = StudyInputs(spec, cfg, panel, tradables, outside, names, uni_name, look_ahead, manifests, notes,
                         market, day0, {k: v for k, v in concerned.items() if v})
    inputs.event_universes = records
    inputs.look_ahead_warning = B.LOOK_AHEAD_WARNING if boards is not None else U.LOOK_AHEAD_WARNING
    return inputs
