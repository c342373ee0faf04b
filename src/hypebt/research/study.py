"""Event studies: how did the stocks move around an event, and how much of it could be traded?

For each event x stock: daily abnormal returns against the benchmark
(market-adjusted, and market model fitted on an estimation window before the
event), cumulative abnormal returns (CAR) over a window around the event's
first tradable session (day 0), cross-sectional tests, and *paper vs
tradable*: the paper CAR assumes the move from the previous close could be
had; the tradable figure buys at the first price that would really have
filled (not on a 一字板 locked at limit-up, not while suspended), and the gap
between them is what "buy on the news" could not capture.

Everything is computed on session x stock matrices, so a study of the whole
market (5,000+ stocks) takes seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hypebt.data import events as E
from hypebt.data import universes as U
from hypebt.data.calendar import Calendar
from hypebt.core.errors import DataError, InputError, unknown
from hypebt.engine.spec import Spec
from hypebt.data.store import Store, sessions_from_store
from hypebt.market import rules as R

STUDY_KEYS = {"window": list, "estimation": list, "car_windows": list, "min_estimation": int, "confidence": float}
DEFAULTS = {"window": [-5, 20], "estimation": [-120, -11], "min_estimation": 60, "confidence": 0.95,
            "car_windows": [[-5, -1], [0, 0], [0, 1], [0, 5], [0, 20]]}


@dataclass(frozen=True)
class StudyConfig:
    window: tuple[int, int]
    estimation: tuple[int, int]
    car_windows: tuple[tuple[int, int], ...]
    min_estimation: int
    confidence: float


def study_config(spec: Spec) -> StudyConfig:
    """The checked ``[study]`` table of a spec, defaults filled in."""
    where = f"{spec.path} [study]"
    raw = dict(spec.study or {})
    for key, value in raw.items():
        if key not in STUDY_KEYS:
            raise unknown("study key", key, STUDY_KEYS, where)
    for key, value in raw.items():
        expected = STUDY_KEYS[key]
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) if expected is float else \
            isinstance(value, expected) and not isinstance(value, bool)
        if not ok:
            raise InputError(f"{where}: {key} must be {'a number' if expected is float else expected.__name__}, "
                             f"got {value!r}")
    cfg = {**DEFAULTS, **raw}
    if "car_windows" not in raw and "window" in raw:
        # The default sub-windows that fit the window the user chose.
        lo, hi = raw["window"] if isinstance(raw["window"], list) and len(raw["window"]) == 2 else (0, 0)
        cfg["car_windows"] = [w for w in DEFAULTS["car_windows"]
                              if isinstance(lo, int) and isinstance(hi, int) and lo <= w[0] <= w[1] <= hi]

    def pair(name):
        v = cfg[name]
        if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in v)
                and v[0] <= v[1]):
            raise InputError(f"{where}: {name} must be two whole numbers of sessions [from, to], from <= to, "
                             f"e.g. {DEFAULTS[name]}; got {v!r}")
        return int(v[0]), int(v[1])

    window, estimation = pair("window"), pair("estimation")
    if estimation[1] >= window[0]:
        raise InputError(f"{where}: the estimation window {list(estimation)} must end before the event window "
                         f"starts ({window[0]}); e.g. estimation = [-120, -11]")
    cars = []
    for w in cfg["car_windows"]:
        if not (isinstance(w, list) and len(w) == 2 and window[0] <= w[0] <= w[1] <= window[1]):
            raise InputError(f"{where}: car_windows entry {w!r} must be [from, to] inside window {list(window)}")
        cars.append((int(w[0]), int(w[1])))
    if (0, window[1]) not in cars:
        cars.append((0, window[1]))
    conf = cfg["confidence"]
    if not 0.5 < float(conf) < 1:
        raise InputError(f"{where}: confidence must be between 0.5 and 1, e.g. 0.95")
    span = estimation[1] - estimation[0] + 1
    if not 2 <= int(cfg["min_estimation"]) <= span:
        raise InputError(f"{where}: min_estimation = {cfg['min_estimation']} must be between 2 and the "
                         f"{span} sessions of the estimation window {list(estimation)}")
    return StudyConfig(window, estimation, tuple(cars), int(cfg["min_estimation"]), float(conf))


@dataclass
class Panel:
    """Session x code matrices of one study."""

    sessions: pd.DatetimeIndex
    codes: list[str]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    present: np.ndarray  # True where the stock traded (False: suspended / not listed)
    limit_up: np.ndarray
    bench_open: np.ndarray
    bench_close: np.ndarray
    # 一字板 at limit-up, from hypebt.market.rules.limit_flags (None: computed from the matrices)
    locked: np.ndarray | None = None
    rules: R.Rules = R.DEFAULT


def _limit_pct(codes: list[str], names: dict[str, str], st_codes: set[str], day) -> np.ndarray:
    """Each seasoned stock's daily limit on ``day``, from :func:`hypebt.market.rules.limit_pct`."""
    return np.asarray([R.limit_pct(code, day, st=_is_st(code, names, st_codes)) for code in codes],
                      dtype="float64")


def _is_st(code: str, names: dict[str, str], st_codes: set[str]) -> bool:
    """The engine's ST test: listed in the spec's ``st_codes`` or named ST in the universe."""
    return code in st_codes or R.is_st(names.get(code))


def build_panel(bars: pd.DataFrame, sessions: pd.DatetimeIndex, bench: pd.DataFrame, names: dict[str, str],
                listed_first: pd.Timestamp, st_codes: set[str] | None = None,
                rules: R.Rules = R.DEFAULT) -> Panel:
    """Pivot canonical bars into matrices aligned to ``sessions``, with limit-up per session.

    Limits and 一字板 flags come from :func:`hypebt.market.rules.limits_array` and
    :func:`~hypebt.market.rules.limit_flags`, session by session, exactly as the engine's feed
    computes them: the board's limit on each day (a dated change applies from its date), ST from
    the names or ``st_codes``, the spec's ``rules``. A stock listed after the store's first date
    (``listed_first``) gets the new-listing rules for its first sessions, counted from its real
    first bar.
    """
    st_codes = set(st_codes or ())
    first_bar = bars.groupby("code", observed=True)["date"].min()
    before = bars[bars["date"] < sessions[0]].groupby("code", observed=True).size()
    bars = bars[bars["date"].isin(sessions)]
    codes = sorted(bars["code"].unique())
    row = sessions.get_indexer(bars["date"])
    col = pd.Index(codes).get_indexer(bars["code"])
    shape = (len(sessions), len(codes))

    def matrix(name):
        m = np.full(shape, np.nan)
        m[row, col] = bars[name].to_numpy(dtype="float64")
        return m

    o, h, lo, c = (matrix(x) for x in ("open", "high", "low", "close"))
    present = ~np.isnan(c)
    prev = pd.DataFrame(c).ffill().shift(1).to_numpy()
    count = np.cumsum(present, axis=0)
    up, locked = np.full(shape, np.nan), np.zeros(shape, dtype=bool)
    days = sessions.values
    for j, code in enumerate(codes):
        # Sessions since listing (its first bar in the store); None: traded before the store began.
        session_no = None if first_bar[code] <= listed_first else count[:, j] + int(before.get(code, 0))
        st = _is_st(code, names, st_codes)
        up_j, down_j = R.limits_array(code, days, prev[:, j], st=st, session_no=session_no, rules=rules)
        flags = R.limit_flags(code, o[:, j], h[:, j], lo[:, j], c[:, j], up_j, down_j, prev_close=prev[:, j],
                              days=days, st=st, rules=rules)
        up[:, j], locked[:, j] = up_j, flags["locked_up"] & present[:, j]
    b = bench.set_index("date").reindex(sessions)
    return Panel(sessions, codes, o, h, lo, c, present, up,
                 b["open"].to_numpy(dtype="float64"), b["close"].to_numpy(dtype="float64"), locked, rules)


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
        rm = np.where(ok & present, bench_close[:, None] / bench_close[safe] - 1, np.nan)
    span = np.where(ok & present, idx - last, 0)
    return r, rm, span


def locked_limit_up(panel: Panel) -> np.ndarray:
    """Sessions a stock was locked at limit-up all day (一字板), as the engine refuses them
    (``locked_limit_up``): :func:`hypebt.market.rules.limit_flags` on the panel's bars and limits,
    including its ``st_lock_evidence`` inference for stocks not known to be ST."""
    if panel.locked is not None:
        return panel.locked
    prev = pd.DataFrame(panel.close).ffill().shift(1).to_numpy()
    out = np.zeros(panel.close.shape, dtype=bool)
    for j, code in enumerate(panel.codes):
        flags = R.limit_flags(code, panel.open[:, j], panel.high[:, j], panel.low[:, j], panel.close[:, j],
                              panel.limit_up[:, j], np.full(len(panel.sessions), np.nan), prev_close=prev[:, j],
                              days=panel.sessions.values, rules=panel.rules)
        out[:, j] = flags["locked_up"] & panel.present[:, j]
    return out


@dataclass
class _Window:
    """One event's window: its rows, the stocks studied and their abnormal returns."""

    i0: int
    rows: np.ndarray
    cols: np.ndarray  # stocks listed before day 0 that trade at least once in the window
    ar_mkt: np.ndarray
    ar_mm: np.ndarray
    rms: np.ndarray
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
    re_, rme = r[est], rm_span[est]
    ok = ~np.isnan(re_) & ~np.isnan(rme) & (span[est] == 1)
    n_ok = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rme = np.where(ok, rme, 0)
        mx = np.where(ok, rme, 0).sum(axis=0) / n_ok
        my = np.where(ok, re_, 0).sum(axis=0) / n_ok
        cov = np.where(ok, (rme - mx) * (re_ - my), 0).sum(axis=0)
        var = np.where(ok, (rme - mx) ** 2, 0).sum(axis=0)
        beta = cov / var
        alpha = my - beta * mx
    fit = n_ok >= cfg.min_estimation
    beta[~fit], alpha[~fit] = np.nan, np.nan
    ar_mm = rw - (alpha[None, :] * spw + beta[None, :] * rms)
    cols = np.flatnonzero(panel.present[:i0].any(axis=0) & panel.present[rows].any(axis=0))
    return _Window(i0, rows, cols, rw - rms, ar_mm, rms, beta, n_ok, fit)


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


def _first_fill(panel: Panel, locked_all, j: int, i0: int, end: int, at: str):
    """The first session in ``i0..end`` where a buy of stock ``j`` would fill, as the engine decides
    (:func:`hypebt.market.rules.check_fill`): ``(row, price, benchmark price)`` or ``(None, nan, nan)``."""
    for i in range(i0, end + 1):
        if not panel.present[i, j]:
            continue
        at_open = i > i0 or at == "open"
        px = panel.open[i, j] if at_open else panel.close[i, j]
        up = panel.limit_up[i, j]
        bar = R.Bar(panel.open[i, j], panel.high[i, j], panel.low[i, j], panel.close[i, j])
        limits = R.Limits(None if np.isnan(up) else float(up), None)
        if R.check_fill("buy", px, bar, limits, locked=bool(locked_all[i, j]), rules=panel.rules) is None:
            return i, px, panel.bench_open[i] if at_open else panel.bench_close[i]
    return None, np.nan, np.nan


def _car_records(panel: Panel, t, w: _Window, locked_all, cfg: StudyConfig, names) -> list[dict]:
    """Per stock of one event: CARs over the sub-windows and paper vs tradable over [0, b].

    Paper buys at the first tradable price (day-0 open, or its close for news during trading);
    tradable at the first price that would fill.
    """
    a, b = cfg.window
    i0, rows = w.i0, w.rows
    end = i0 + b
    exit_px = pd.DataFrame(panel.close[: end + 1]).ffill().to_numpy()[end]
    bench_end = panel.bench_close[end]
    present_w, locked_w = panel.present[rows], locked_all[rows]
    out = []
    for j in w.cols:
        code = panel.codes[j]
        paper_px = panel.open[i0, j] if t.at == "open" else panel.close[i0, j]
        paper_bench = panel.bench_open[i0] if t.at == "open" else panel.bench_close[i0]
        fill_i, fill_px, fill_bench = _first_fill(panel, locked_all, j, i0, end, t.at)
        paper = exit_px[j] / paper_px - 1 - (bench_end / paper_bench - 1) if paper_px > 0 else np.nan
        tradable = exit_px[j] / fill_px - 1 - (bench_end / fill_bench - 1) if fill_i is not None else np.nan
        rec = {"event": t.event.id, "code": code, "name": names.get(code, ""), "day0": str(t.session.date()),
               "at": t.at, "beta": w.beta[j], "estimation_sessions": int(w.n_ok[j])}
        for lo_, hi_ in cfg.car_windows:
            sl = slice(lo_ - a, hi_ - a + 1)
            traded = present_w[sl, j].any()
            rec[f"car_mkt[{lo_},{hi_}]"] = np.nansum(w.ar_mkt[sl, j]) if traded else np.nan
            rec[f"car_mm[{lo_},{hi_}]"] = np.nansum(w.ar_mm[sl, j]) if w.fit[j] and traded else np.nan
        rec.update({
            "locked_days": int(locked_w[:, j].sum()), "suspended_days": int((~present_w[:, j]).sum()),
            "locked_day0": bool(locked_all[i0, j]),
            "paper_abnormal": paper, "tradable_abnormal": tradable, "gap": paper - tradable,
            "first_fill": str(panel.sessions[fill_i].date()) if fill_i is not None else "",
            "fill_delay_sessions": (fill_i - i0) if fill_i is not None else np.nan,
        })
        out.append(rec)
    return out


def compute(panel: Panel, tradables: list, cfg: StudyConfig, names: dict[str, str]):
    """Abnormal returns (long table), per event x stock CARs, per-event and overall tests."""
    from scipy import stats

    r, rm_span, span = _returns(panel.close, panel.present, panel.bench_close)
    a, b = cfg.window
    rel = np.arange(a, b + 1)
    long_parts, car_rows, skipped = [], [], []
    locked_all = locked_limit_up(panel)
    for t in tradables:
        i0 = panel.sessions.get_indexer([t.session])[0]
        if i0 < 0 or i0 + a < 1 or i0 + b >= len(panel.sessions):
            skipped.append(f"{t.event.id}: window {a}..{b} around {t.session.date()} leaves the data")
            continue
        w = _event_window(panel, r, rm_span, span, i0, cfg)
        long_parts.append(_abnormal_frame(panel, t.event.id, w, r, locked_all, rel))
        car_rows.extend(_car_records(panel, t, w, locked_all, cfg, names))
    if not car_rows:
        raise DataError("no event has its whole study window inside the data: " + "; ".join(skipped))
    abnormal = pd.concat(long_parts, ignore_index=True)
    car = pd.DataFrame(car_rows)
    summaries = [_test_row(ev_id, g, f"car_mkt[0,{b}]", f"car_mm[0,{b}]", stats)
                 for ev_id, g in [*car.groupby("event", sort=False), ("all events", car)]]
    return abnormal, car, pd.DataFrame(summaries), skipped


def _test_row(name, g, col, col_mm, stats) -> dict:
    x = g[col].dropna().to_numpy()
    y = g[col_mm].dropna().to_numpy()
    out = {"event": name, "n": len(x), "mean_car_mkt": float(np.mean(x)) if len(x) else np.nan,
           "median_car_mkt": float(np.median(x)) if len(x) else np.nan,
           "mean_car_mm": float(np.mean(y)) if len(y) else np.nan}
    if len(x) >= 2 and np.std(x) > 0:
        tt = stats.ttest_1samp(x, 0.0)
        out.update(t_stat=float(tt.statistic), t_p=float(tt.pvalue))
    else:
        out.update(t_stat=np.nan, t_p=np.nan)
    pos, neg = int((x > 0).sum()), int((x < 0).sum())
    # The sign test drops ties (zero CARs).
    out.update(positive=pos, sign_p=float(stats.binomtest(pos, pos + neg, 0.5).pvalue) if pos + neg else np.nan)
    nz = x[x != 0]
    out["wilcoxon_p"] = float(stats.wilcoxon(nz).pvalue) if len(nz) >= 6 else np.nan
    pa, tr = g["paper_abnormal"], g["tradable_abnormal"]
    out.update(mean_paper=float(pa.mean()), mean_tradable=float(tr.mean()),
               mean_gap=float((pa - tr).mean()), never_fillable=int((tr.isna() & pa.notna()).sum()),
               locked_day0=int(g["locked_day0"].sum()))
    return out


def curves(abnormal: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Mean CAR per event-relative day with a confidence band, per event and for all events."""
    from scipy import stats

    z = stats.norm.ppf(0.5 + confidence / 2)
    out = []
    for ev_id, g in [*abnormal.groupby("event", sort=False), ("all events", abnormal)]:
        for col in ("car_mkt", "car_mm"):
            agg = g.groupby("rel_day")[col].agg(["mean", "std", "count"])
            se = agg["std"] / np.sqrt(agg["count"])
            out.append(pd.DataFrame({"event": ev_id, "model": col, "rel_day": agg.index, "mean": agg["mean"],
                                     "low": agg["mean"] - z * se, "high": agg["mean"] + z * se,
                                     "n": agg["count"]}))
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


def prepare(spec: Spec, ws: Path, store: Store) -> StudyInputs:
    """Load what a study needs: the universe's bars (``universe = "all"``: the whole market), the
    benchmark and the events mapped to their first tradable session."""
    where = str(spec.path)
    cfg = study_config(spec)
    if spec.events is None:
        raise InputError(f"{where}: a study needs an [events] table (catalogue and a filter)")
    dataset = store.stock_dataset(spec.adjust)
    manifest = store.manifest(dataset)
    names: dict[str, str] = {}
    look_ahead, uni_name = False, "codes"
    if spec.universe == "all":
        codes, uni_name = None, "all"
    else:
        codes = list(spec.codes)
        if spec.universe:
            uni = U.load_universe(spec.universe, ws)
            codes = list(dict.fromkeys([*uni.codes, *codes]))
            names, look_ahead, uni_name = dict(uni.names), uni.look_ahead, uni.name
        if not codes:
            raise InputError(f"{where}: the universe is empty")
    bars = store.load(dataset, codes=codes, columns=["code", "date", "open", "high", "low", "close"])
    if bars.empty:
        raise DataError(f"{where}: none of the universe's codes is in the store ({dataset}); import or fetch them")
    notes = []
    if codes is not None:
        missing = sorted(set(codes) - set(bars["code"].unique()))
        if missing:
            notes.append(f"{len(missing)} code(s) not in the store, left out: {', '.join(missing)}")
    cal = Calendar(sessions_from_store(store, spec.benchmark))
    first, last = bars["date"].min(), bars["date"].max()
    start = pd.Timestamp(spec.start) if spec.start else first
    end = pd.Timestamp(spec.end) if spec.end else last
    sessions = cal.between(max(start, first), min(end, last))
    if len(sessions) < 2:
        raise DataError(f"{where}: no data between {start.date()} and {end.date()}")
    bench = store.load_index(spec.benchmark, ["date", "open", "close"], where)
    tradables, outside = E.select(spec.events, ws, cal, sessions, where)
    if outside:
        notes.append("events outside the data (not studied): " + ", ".join(f"{e.id} ({e.time.date()})" for e in outside))
    qfq = manifest.get("adjust") == "qfq"
    rules = R.for_prices(R.rules_from_mapping(spec.rules, f"{where} [rules]"), qfq,
                         explicit="limit_tolerance" in spec.rules)
    if qfq:
        notes.append("prices are forward-adjusted (qfq): limit-locked sessions are detected with a "
                     f"{rules.limit_tolerance} CNY tolerance")
    panel = build_panel(bars, sessions, bench, names, pd.Timestamp(manifest["first_date"]), set(spec.st_codes),
                        rules=rules)
    manifests = {n: store.manifest(n) for n in (dataset, "index")}
    return StudyInputs(spec, cfg, panel, tradables, outside, names, uni_name, look_ahead, manifests, notes)
