"""Event studies (``hypebt study``): exact hand-made cases, the tests, config errors, the real market.

The hand-made market has 150 weekday sessions, a CSI 300 that moves every day (open != close),
and one event known before 09:30 on session 130 (day 0), so the default estimation window
[-120, -11] fits. Its stocks:

- 600001: returns exactly ``ALPHA + BETA * r_m`` on every session except day 0, where it gains
  5 % more: the market model must recover BETA and give an abnormal return of 0.05 on day 0;
- 600002: suspended on day 0 (no row), so its day-1 bar carries the move since day -1;
- 600003: a 一字板 locked at +10 % on day 0 and day 1, then tradable at day 2's open;
- 600004..600009: random walks (for the cross-sectional tests).

The real-data tests import ``../shared/data`` once per module (skipped without it).
"""

from __future__ import annotations

import configparser
import csv
import json
import re
import warnings
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from helpers_engine import BENCH, bars, make_workspace, write_spec
from hypebt.cli import main as cli
from hypebt.research import study
from hypebt.research import study_stats as SS
from hypebt.core.errors import DataError, InputError
from hypebt.data.importers import import_paths
from hypebt.engine.spec import load_spec, parse_spec
from hypebt.data.store import Store

REPO = Path(__file__).resolve().parents[1]
N = 150
I0 = 130                # day 0 of the hand-made event
WINDOW = (-5, 10)
CARS = [[-5, -1], [0, 0], [0, 1], [0, 5], [0, 10]]
ALPHA, BETA, JUMP = 0.001, 1.5, 0.05
SESSIONS = pd.bdate_range("2023-01-02", periods=N)
XSS = "<script>alert(1)</script>"


def fen(x: float) -> float:
    """Round half up to the fen, as the exchanges do for limit prices."""
    return float(Decimal(repr(float(x))).quantize(Decimal("0.01"), ROUND_HALF_UP))


def bench_frame(rng) -> pd.DataFrame:
    r = rng.normal(0.0, 0.01, N)
    r[0] = 0.0
    close = 3500.0 * np.cumprod(1 + r)
    open_ = np.r_[3500.0, close[:-1]] * (1 + rng.normal(0.0, 0.003, N))
    return pd.DataFrame({"code": BENCH, "date": SESSIONS.astype("datetime64[ns]"), "open": open_,
                         "high": np.maximum(open_, close) * 1.005, "low": np.minimum(open_, close) * 0.995,
                         "close": close, "volume": 1e9})


def ohlc(closes, opens, drop=()) -> pd.DataFrame:
    rows = [(SESSIONS[i], o, max(o, c) * 1.005, min(o, c) * 0.995, c)
            for i, (o, c) in enumerate(zip(opens, closes)) if i not in drop]
    return bars(closes[0], rows)


def market(rng):
    """{code: bars} and the benchmark of the hand-made market (see the module doc)."""
    bench = bench_frame(rng)
    rm = bench["close"].pct_change().fillna(0).to_numpy()
    stocks = {}
    # 600001: exact market model, +5 % on day 0
    r = ALPHA + BETA * rm
    r[0] = 0.0
    r[I0] += JUMP
    c = 10.0 * np.cumprod(1 + r)
    stocks["600001"] = ohlc(c, np.r_[10.0, c[:-1]] * 1.002)
    # 600002: suspended on day 0
    c = 20.0 * np.cumprod(1 + rng.normal(0.0, 0.015, N))
    stocks["600002"] = ohlc(c, np.r_[20.0, c[:-1]] * 0.999, drop={I0})
    # 600003: locked at limit-up on day 0 and day 1 (fen prices, moves well inside the limits)
    c, o = [10.0], [10.0]
    for i in range(1, N):
        if i in (I0, I0 + 1):
            o.append(fen(c[-1] * 1.1))
            c.append(o[-1])
        elif i == I0 + 2:
            o.append(fen(c[-1] * 1.03))
            c.append(fen(c[-1] * 1.05))
        else:
            o.append(fen(c[-1] * (1 + rng.uniform(-0.01, 0.01))))
            c.append(fen(c[-1] * (1 + rng.uniform(-0.02, 0.02))))
    frame = bars(10.0, [(SESSIONS[i], o[i], o[i] if i in (I0, I0 + 1) else max(o[i], c[i]) + 0.01,
                         o[i] if i in (I0, I0 + 1) else min(o[i], c[i]) - 0.01, c[i]) for i in range(N)])
    stocks["600003"] = frame
    for k in range(4, 10):
        c = 8.0 * np.cumprod(1 + rng.normal(0.0005 * k, 0.02, N))
        stocks[f"60000{k}"] = ohlc(c, np.r_[8.0, c[:-1]] * (1 + rng.normal(0, 0.003, N)))
    return stocks, bench


def write_store(root: Path, stocks: dict, bench: pd.DataFrame) -> Store:
    store = Store(root)
    frames = []
    for code, f in stocks.items():
        f = f.copy()
        f.insert(0, "code", code)
        f["adj_factor"] = 1.0
        frames.append(f)
    stock = pd.concat(frames, ignore_index=True)
    stock["date"] = stock["date"].astype("datetime64[ns]")
    store.write("stock_raw", stock, source="test", adjust="raw")
    store.write("index", bench, source="test", adjust="none")
    return store


def at(i: int, clock: str) -> str:
    return f"{SESSIONS[i].date()}T{clock}+08:00"


EVENTS = [  # id, name, time, tags
    ("ev_open", "Hand launch", at(I0, "08:00"), "hand"),
    ("ev_close", "Hand intraday", at(I0, "10:00"), "intraday"),
    ("ev_mid", "Mid", at(115, "08:00"), "pool"),
    ("ev_xss", XSS, at(122, "08:00"), "xss"),
    ("ev_late", "Late", at(145, "08:00"), "late"),
    ("ev_old", "Old", "2019-06-03T08:00+08:00", "old"),
    ("ev_future", "Future", "2031-01-06T08:00+08:00", "future"),
]
NAMES = {"600001": "模型股", "600002": "停牌股", "600003": "一字板", "600004": "<b>bold</b>"}


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    """(workspace, store) of the hand-made market."""
    root = tmp_path_factory.mktemp("hand")
    stocks, bench = market(np.random.default_rng(7))
    store = write_store(root / "store", stocks, bench)
    ws = make_workspace(root / "ws")
    with open(ws / "data" / "events" / "hand.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "name", "company", "time", "tags"])
        for ev_id, name, time, tags in EVENTS:
            w.writerow([ev_id, name, "Co", time, tags])
    with open(ws / "data" / "universes" / "hand.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["code", "name", "snapshot_date", "source", "kind"])
        for code in stocks:
            w.writerow([code, NAMES.get(code, f"股{code}"), "2023-07", "test", "concept"])
    return ws, store, stocks, bench


def spec_for(ws: Path, name: str, events: dict | None = None, study_table: dict | None = None, **top):
    tables = {"events": {"catalogue": "hand", **(events or {"ids": ["ev_open"]})}}
    tables["study"] = {"window": list(WINDOW), "car_windows": CARS, **(study_table or {})}
    return load_spec(write_spec(ws, name, {"universe": "hand", "benchmark": BENCH, **top}, tables))


def run_study(hand, name="hand_open", **kw):
    ws, store, *_ = hand
    inputs = study.prepare(spec_for(ws, name, **kw), ws, store)
    abnormal, car, summary, skipped = study.compute(inputs.panel, inputs.tradables, inputs.cfg, inputs.names)
    return inputs, abnormal, car, summary, skipped


@pytest.fixture(scope="module")
def opened(hand):
    return run_study(hand)


@pytest.fixture(scope="module")
def listings(tmp_path_factory):
    """A store with two new listings: 601011 (main board, listed on session 58, before the 2023-04-10
    reform) locked at +10 % on sessions 59-62, and 688011 (STAR, listed on session 127) at +25 % one-word
    bars on sessions 128-131; events on session 62 and 130, both before the open."""
    rng = np.random.default_rng(3)
    root = tmp_path_factory.mktemp("listings")
    bench = bench_frame(rng)
    c = 8.0 * np.cumprod(1 + rng.normal(0.0, 0.02, N))
    stocks = {"600001": ohlc(c, np.r_[8.0, c[:-1]])}
    for code, first, locked, step in (("601011", 58, range(59, 63), 1.1), ("688011", 127, range(128, 132), 1.25)):
        rows, px = [], 10.0
        for i in range(first, N):
            if i in locked:
                px = fen(px * step)
                rows.append((SESSIONS[i], px, px, px, px))
            else:
                o, px = px, fen(px * (1 + rng.uniform(-0.03, 0.03)))
                rows.append((SESSIONS[i], o, max(o, px) + 0.01, min(o, px) - 0.01, px))
        stocks[code] = bars(10.0, rows)
    store = write_store(root / "store", stocks, bench)
    ws = make_workspace(root / "ws")
    (ws / "data" / "events" / "hand.csv").write_text(
        f"id,name,time\nev_pre,Pre,{at(62, '08:00')}\nev_star,Star,{at(I0, '08:00')}\n", "utf-8")
    out = {}
    for ev in ("ev_pre", "ev_star"):
        spec = load_spec(write_spec(ws, ev, {"codes": list(stocks), "benchmark": BENCH},
                                    {"events": {"catalogue": "hand", "ids": [ev]},
                                     "study": {"window": list(WINDOW), "car_windows": CARS}}))
        inputs = study.prepare(spec, ws, store)
        out[ev] = study.compute(inputs.panel, inputs.tradables, inputs.cfg, inputs.names)[:3]
    return out


def rows_of(abnormal, code, event="ev_open") -> pd.DataFrame:
    return abnormal[(abnormal["code"] == code) & (abnormal["event"] == event)].set_index("rel_day")


def car_row(car, code, event="ev_open") -> dict:
    sel = car[(car["code"] == code) & (car["event"] == event)]
    assert len(sel) == 1, sel
    return sel.iloc[0].to_dict()


def closes(stocks, code) -> pd.Series:
    return stocks[code].set_index("date")["close"].reindex(SESSIONS)


# ------------------------------------------------------------------- exact hand-made cases ---

def test_day0_is_the_event_session_and_the_window_is_complete(opened):
    inputs, abnormal, car, _, skipped = opened
    (t,) = inputs.tradables
    assert (t.session, t.at) == (SESSIONS[I0], "open")
    assert skipped == []
    assert sorted(car["code"]) == [f"60000{k}" for k in range(1, 10)]
    a = rows_of(abnormal, "600004")
    assert list(a.index) == list(range(WINDOW[0], WINDOW[1] + 1))
    assert list(a["date"]) == list(SESSIONS[I0 + WINDOW[0]: I0 + WINDOW[1] + 1])


def test_market_adjusted_abnormal_return_and_car_are_exact(hand, opened):
    _, _, stocks, bench = hand
    _, abnormal, car, _, _ = opened
    a = rows_of(abnormal, "600004")
    c = closes(stocks, "600004")
    b = bench.set_index("date")["close"]
    for rel in (-5, -1, 0, 3, 10):
        i = I0 + rel
        r_i, r_m = c.iloc[i] / c.iloc[i - 1] - 1, b.iloc[i] / b.iloc[i - 1] - 1
        assert a.loc[rel, "ret"] == pytest.approx(r_i, abs=1e-12)
        assert a.loc[rel, "bench_ret"] == pytest.approx(r_m, abs=1e-12)
        assert a.loc[rel, "ar_mkt"] == pytest.approx(r_i - r_m, abs=1e-12)
    assert np.allclose(a["car_mkt"], a["ar_mkt"].cumsum(), atol=1e-12)
    row = car_row(car, "600004")
    assert row["car_mkt[0,0]"] == pytest.approx(a.loc[0, "ar_mkt"], abs=1e-12)
    assert row["car_mkt[0,5]"] == pytest.approx(a.loc[0:5, "ar_mkt"].sum(), abs=1e-12)
    assert row["car_mkt[-5,-1]"] == pytest.approx(a.loc[-5:-1, "ar_mkt"].sum(), abs=1e-12)
    assert row["car_mkt[0,10]"] == pytest.approx(a.loc[0:10, "car_mkt"].iloc[-1] - a.loc[-1, "car_mkt"], abs=1e-12)


def test_market_model_recovers_beta_and_the_day0_jump(opened):
    _, abnormal, car, _, _ = opened
    row = car_row(car, "600001")
    assert row["beta"] == pytest.approx(BETA, abs=1e-9)
    assert row["estimation_sessions"] == 110  # [-120, -11]
    a = rows_of(abnormal, "600001")
    assert a.loc[0, "ar_mm"] == pytest.approx(JUMP, abs=1e-9)
    others = a.drop(index=0)["ar_mm"]
    assert np.abs(others).max() < 1e-9
    assert row["car_mm[0,10]"] == pytest.approx(JUMP, abs=1e-9)
    assert row["car_mm[-5,-1]"] == pytest.approx(0.0, abs=1e-9)
    # market-adjusted is not the model: it keeps alpha and (beta - 1) * r_m
    assert a.loc[0, "ar_mkt"] == pytest.approx(ALPHA + (BETA - 1) * a.loc[0, "bench_ret"] + JUMP, abs=1e-9)


def test_min_estimation_cannot_exceed_the_estimation_window(hand):
    from hypebt.core.errors import InputError

    with pytest.raises(InputError, match="min_estimation = 111"):
        run_study(hand, "hand_minest", study_table={"min_estimation": 111})
    _, _, car, _, _ = run_study(hand, "hand_minest_ok", study_table={"min_estimation": 110})
    # 600002 is suspended on day 0 only: its estimation window is complete, so it is fitted
    assert car["car_mkt[0,10]"].notna().all()


def test_suspended_on_day0_is_flagged_and_its_next_bar_carries_the_move(hand, opened):
    _, _, stocks, _ = hand
    _, abnormal, car, _, _ = opened
    a = rows_of(abnormal, "600002")
    assert a.loc[0, "suspended"] and not a.drop(index=0)["suspended"].any()
    assert np.isnan(a.loc[0, "ret"]) and np.isnan(a.loc[0, "ar_mkt"])
    c = closes(stocks, "600002")
    assert a.loc[1, "ret"] == pytest.approx(c.iloc[I0 + 1] / c.iloc[I0 - 1] - 1, abs=1e-12)
    row = car_row(car, "600002")
    assert row["suspended_days"] == 1
    # the paper trade buys at day 0's open, which did not exist; the real first fill is day 1's open
    assert np.isnan(row["paper_abnormal"])
    assert row["first_fill"] == str(SESSIONS[I0 + 1].date()) and row["fill_delay_sessions"] == 1


def test_abnormal_return_after_a_suspension_nets_the_market_over_the_same_span(hand, opened):
    _, _, stocks, bench = hand
    _, abnormal, _, _, _ = opened
    a = rows_of(abnormal, "600002")
    c = closes(stocks, "600002")
    b = bench.set_index("date")["close"]
    r_i = c.iloc[I0 + 1] / c.iloc[I0 - 1] - 1
    r_m = b.iloc[I0 + 1] / b.iloc[I0 - 1] - 1
    assert a.loc[1, "ar_mkt"] == pytest.approx(r_i - r_m, abs=1e-12)


def test_limit_up_lock_delays_the_fill_and_shrinks_the_tradable_return(hand, opened):
    _, _, stocks, bench = hand
    _, abnormal, car, _, _ = opened
    s = stocks["600003"].set_index("date").reindex(SESSIONS)
    b = bench.set_index("date").reindex(SESSIONS)
    assert s["close"].iloc[I0] == fen(s["close"].iloc[I0 - 1] * 1.1)
    a = rows_of(abnormal, "600003")
    assert list(a.index[a["locked"]]) == [0, 1]
    row = car_row(car, "600003")
    assert bool(row["locked_day0"])
    assert row["locked_days"] == 2
    assert row["first_fill"] == str(SESSIONS[I0 + 2].date()) and row["fill_delay_sessions"] == 2
    end = I0 + WINDOW[1]
    exit_, bench_end = s["close"].iloc[end], b["close"].iloc[end]
    paper = exit_ / s["open"].iloc[I0] - 1 - (bench_end / b["open"].iloc[I0] - 1)
    tradable = exit_ / s["open"].iloc[I0 + 2] - 1 - (bench_end / b["open"].iloc[I0 + 2] - 1)
    assert row["paper_abnormal"] == pytest.approx(paper, abs=1e-12)
    assert row["tradable_abnormal"] == pytest.approx(tradable, abs=1e-12)
    assert row["tradable_abnormal"] < row["paper_abnormal"]
    assert row["gap"] == pytest.approx(paper - tradable, abs=1e-12)


def test_an_unlocked_stock_fills_at_the_day0_open_and_paper_equals_tradable(hand, opened):
    _, _, stocks, bench = hand
    _, _, car, _, _ = opened
    row = car_row(car, "600001")
    s = stocks["600001"].set_index("date").reindex(SESSIONS)
    b = bench.set_index("date").reindex(SESSIONS)
    end = I0 + WINDOW[1]
    paper = s["close"].iloc[end] / s["open"].iloc[I0] - 1 - (b["close"].iloc[end] / b["open"].iloc[I0] - 1)
    assert row["first_fill"] == str(SESSIONS[I0].date()) and row["locked_days"] == 0
    assert row["paper_abnormal"] == pytest.approx(paper, abs=1e-12)
    assert row["tradable_abnormal"] == pytest.approx(paper, abs=1e-12) and row["gap"] == 0


def test_news_during_trading_hours_is_bought_at_the_day0_close(hand):
    _, _, stocks, bench = hand
    inputs, _, car, _, _ = run_study(hand, "hand_close", events={"tag": "intraday"})
    (t,) = inputs.tradables
    assert (t.event.id, t.session, t.at) == ("ev_close", SESSIONS[I0], "close")
    b = bench.set_index("date").reindex(SESSIONS)
    end = I0 + WINDOW[1]
    for code in ("600001", "600003"):
        s = stocks[code].set_index("date").reindex(SESSIONS)
        row = car_row(car, code, "ev_close")
        assert row["at"] == "close"
        paper = s["close"].iloc[end] / s["close"].iloc[I0] - 1 - (b["close"].iloc[end] / b["close"].iloc[I0] - 1)
        assert row["paper_abnormal"] == pytest.approx(paper, abs=1e-12)
    assert car_row(car, "600001", "ev_close")["tradable_abnormal"] == pytest.approx(
        car_row(car, "600001", "ev_close")["paper_abnormal"], abs=1e-12)
    # 600003 closed locked on day 0 and opened locked on day 1: first fill at day 2's open
    row = car_row(car, "600003", "ev_close")
    s = stocks["600003"].set_index("date").reindex(SESSIONS)
    tradable = s["close"].iloc[end] / s["open"].iloc[I0 + 2] - 1 - (b["close"].iloc[end] / b["open"].iloc[I0 + 2] - 1)
    assert row["first_fill"] == str(SESSIONS[I0 + 2].date())
    assert row["tradable_abnormal"] == pytest.approx(tradable, abs=1e-12)


def test_a_later_spec_start_does_not_lift_price_limits(hand):
    _, _, car, _, _ = run_study(hand, "hand_start", start=SESSIONS[I0 - 4].date(),
                                study_table={"window": [-2, 5], "estimation": [-4, -3], "min_estimation": 2,
                                             "car_windows": [[0, 5]]})
    row = car_row(car, "600003")
    assert bool(row["locked_day0"])
    assert row["first_fill"] == str(SESSIONS[I0 + 2].date())


def test_a_new_listing_has_no_limit_in_its_first_five_sessions(listings):
    _, car, _ = listings["ev_star"]
    row = car_row(car, "688011", "ev_star")  # listed on session 127: day 0 is its 4th session
    assert not bool(row["locked_day0"]) and row["locked_days"] == 0
    assert row["first_fill"] == str(SESSIONS[I0].date())


def test_a_pre_reform_main_board_listing_is_limited_from_its_second_session(listings):
    _, car, _ = listings["ev_pre"]
    row = car_row(car, "601011", "ev_pre")  # listed on session 58 (2023-03): day 0 is its 5th session
    assert bool(row["locked_day0"])
    assert row["first_fill"] == str(SESSIONS[63].date())


def test_never_fillable_counts_stocks_that_never_filled(opened):
    _, _, car, summary, _ = opened
    expected = int((car["tradable_abnormal"].isna() & car["paper_abnormal"].notna()).sum())
    assert expected == 0
    assert summary.set_index("event").loc["ev_open", "never_fillable"] == expected


# ------------------------------------------------------------------------------- the tests ---

@pytest.fixture(scope="module")
def pooled(hand):
    return run_study(hand, "hand_pool", events={"ids": ["ev_open", "ev_mid"]})


def test_t_sign_and_wilcoxon_match_scipy_on_the_car_column(pooled):
    _, _, car, summary, _ = pooled
    for ev in ("ev_open", "ev_mid", "all events"):
        g = car if ev == "all events" else car[car["event"] == ev]
        x = g["car_mkt[0,10]"].dropna().to_numpy()
        row = summary.set_index("event").loc[ev]
        tt = stats.ttest_1samp(x, 0.0)
        assert row["n"] == len(x) and len(x) >= 8
        assert row["mean_car_mkt"] == pytest.approx(x.mean(), abs=1e-14)
        assert row["median_car_mkt"] == pytest.approx(np.median(x), abs=1e-14)
        assert row["t_stat"] == pytest.approx(tt.statistic, rel=1e-12)
        assert row["t_p"] == pytest.approx(tt.pvalue, rel=1e-12)
        assert row["positive"] == (x > 0).sum()
        assert row["sign_p"] == pytest.approx(stats.binomtest(int((x > 0).sum()), len(x), 0.5).pvalue, rel=1e-12)
        assert row["wilcoxon_p"] == pytest.approx(stats.wilcoxon(x).pvalue, rel=1e-12)
        y = g["car_mm[0,10]"].dropna()
        assert row["mean_car_mm"] == pytest.approx(y.mean(), abs=1e-14)
        assert row["mean_paper"] == pytest.approx(g["paper_abnormal"].mean(), abs=1e-14)
        assert row["mean_tradable"] == pytest.approx(g["tradable_abnormal"].mean(), abs=1e-14)


def test_all_events_row_pools_every_event_and_stock(pooled):
    _, abnormal, car, summary, _ = pooled
    s = summary.set_index("event")
    assert list(summary["event"]) == ["ev_open", "ev_mid", "all events"]
    assert s.loc["all events", "n"] == s.loc["ev_open", "n"] + s.loc["ev_mid", "n"] == len(car) == 18
    assert s.loc["all events", "locked_day0"] == s.loc["ev_open", "locked_day0"] + s.loc["ev_mid", "locked_day0"] == 1
    assert s.loc["all events", "mean_car_mkt"] == pytest.approx(car["car_mkt[0,10]"].mean(), abs=1e-14)
    cur = study.curves(abnormal, 0.95)
    day5 = cur[(cur["event"] == "all events") & (cur["model"] == "car_mkt") & (cur["rel_day"] == 5)].iloc[0]
    sel = abnormal[abnormal["rel_day"] == 5]["car_mkt"]
    assert day5["n"] == len(sel) - sel.isna().sum() and day5["mean"] == pytest.approx(sel.mean(), abs=1e-14)
    half = stats.norm.ppf(0.975) * sel.std() / np.sqrt(sel.count())
    assert day5["high"] - day5["mean"] == pytest.approx(half, rel=1e-9)


def test_sign_test_drops_zero_cars():
    car = pd.DataFrame({"car_mkt[0,1]": [0.0, 0.0, 0.0, 0.01, 0.02], "car_mm[0,1]": 0.0,
                        "paper_abnormal": 0.0, "tradable_abnormal": 0.0, "locked_day0": False})
    row = SS.test_row("e", car, "car_mkt[0,1]", "car_mm[0,1]", stats)
    assert row["sign_p"] == pytest.approx(stats.binomtest(2, 2, 0.5).pvalue)


# ----------------------------------------------------------------------------- config errors ---

def cfg_of(study_table) -> study.StudyConfig:
    return study.study_config(parse_spec({"codes": ["600001"], "study": study_table}, Path("s.toml")))


def test_study_config_defaults_and_the_main_window_is_always_a_car_window():
    cfg = cfg_of({})
    assert cfg.window == (-5, 20) and cfg.estimation == (-120, -11) and cfg.min_estimation == 60
    cfg = cfg_of({"window": [-3, 7], "car_windows": [[0, 1]]})
    assert cfg.car_windows == ((0, 1), (0, 7))


@pytest.mark.parametrize("table, message", [
    ({"windows": [-5, 20]}, "did you mean 'window'"),
    ({"window": [5, -5]}, "from <= to"),
    ({"window": [-5.0, 20]}, "whole numbers"),
    ({"estimation": [-120, -5]}, "must end before the event window"),
    ({"window": [-5, 10], "car_windows": [[0, 20]]}, "inside window"),
    ({"car_windows": [[-6, 0]]}, "inside window"),
    ({"confidence": 1.5}, "confidence"),
])
def test_bad_study_tables_are_input_errors(table, message):
    with pytest.raises(InputError, match=re.escape(message)):
        cfg_of(table)


def test_a_confidence_that_is_not_a_number_is_an_input_error():
    with pytest.raises(InputError, match="confidence"):
        cfg_of({"confidence": "high"})


def test_min_estimation_longer_than_the_estimation_window_is_an_input_error():
    with pytest.raises(InputError, match="min_estimation"):
        cfg_of({"estimation": [-30, -11], "min_estimation": 60})


def test_a_shorter_window_alone_is_accepted():
    cfg = cfg_of({"window": [-5, 10]})
    assert cfg.window == (-5, 10) and (0, 10) in cfg.car_windows


def test_cli_reports_an_unknown_study_key_with_exit_2(hand, tmp_path, capsys):
    ws, store, *_ = hand
    path = write_spec(ws, "bad_key", {"universe": "hand"}, {"events": {"catalogue": "hand"},
                                                            "study": {"car_window": [[0, 1]]}})
    code = cli.main(["--workspace", str(ws), "--home", str(store.root), "study", str(path),
                     "--out", str(tmp_path / "x"), "--offline"])
    assert code == 2
    assert "did you mean 'car_windows'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_an_event_filter_matching_nothing_is_an_input_error(hand):
    with pytest.raises(InputError, match="matches no event"):
        run_study(hand, "hand_none", events={"tag": "no_such_tag"})
    with pytest.raises(InputError, match="did you mean 'ev_open'"):
        run_study(hand, "hand_typo", events={"ids": ["ev_opne"]})


def test_events_outside_the_data_are_reported_not_dropped_silently(hand):
    inputs, _, car, _, skipped = run_study(hand, "hand_outside", events={"ids": ["ev_open", "ev_old", "ev_future"]})
    assert [e.id for e in inputs.outside] == ["ev_old", "ev_future"]
    note = next(n for n in inputs.notes if "outside the data" in n)
    assert "ev_old (2019-06-03)" in note and "ev_future (2031-01-06)" in note
    assert set(car["event"]) == {"ev_open"} and skipped == []


def test_an_event_whose_window_leaves_the_data_is_skipped_with_a_reason(hand):
    inputs, _, car, summary, skipped = run_study(hand, "hand_late", events={"ids": ["ev_open", "ev_late"]})
    assert set(car["event"]) == {"ev_open"}
    assert skipped == [f"ev_late: window -5..10 around {SESSIONS[145].date()} leaves the data"]
    assert list(summary["event"]) == ["ev_open", "all events"]
    with pytest.raises(DataError, match="no event has its whole study window inside the data: ev_late"):
        run_study(hand, "hand_only_late", events={"ids": ["ev_late"]})


# ------------------------------------------------------------------- outputs, index, escaping ---

@pytest.fixture(scope="module")
def hand_reports(hand, tmp_path_factory):
    """Two studies written through the CLI into one reports folder, the second named with <script>."""
    ws, store, *_ = hand
    reports = tmp_path_factory.mktemp("reports")
    out = {}
    for name, ids, folder in (("hand_one", ["ev_open"], "hand_one"),
                              ("hand_xss", ["ev_xss", "ev_open"], "x<script>alert(1)<")):
        path = write_spec(ws, name, {"universe": "hand", "benchmark": BENCH},
                          {"events": {"catalogue": "hand", "ids": ids}, "study": {"window": list(WINDOW), "car_windows": CARS}})
        code = cli.main(["--workspace", str(ws), "--home", str(store.root), "study", str(path),
                         "--out", str(reports / folder), "--offline"])
        assert code == 0
        out[name] = reports / folder
    # fixed creation times, so "newest first" is decided by the manifests, not by the clock
    for name, when in (("hand_one", "2024-01-01T00:00:00+00:00"), ("hand_xss", "2024-06-01T00:00:00+00:00")):
        m = json.loads((out[name] / "manifest.json").read_text("utf-8"))
        m["created_at"] = when
        (out[name] / "manifest.json").write_text(json.dumps(m), "utf-8")
    assert cli.main(["report", "index", "--reports", str(reports)]) == 0
    return reports, out


def test_the_study_writes_every_output(hand_reports):
    _, out = hand_reports
    folder = out["hand_one"]
    assert {p.name for p in folder.iterdir()} == {"study.html", "car.csv", "abnormal_returns.parquet",
                                                  "manifest.json", "summary.csv", "tests.csv", ".hypebt-output.json"}
    car = pd.read_csv(folder / "car.csv", dtype={"code": str})
    assert len(car) == 9 and car.loc[car["code"] == "600003", "locked_days"].item() == 2
    ab = pd.read_parquet(folder / "abnormal_returns.parquet")
    assert len(ab) == 9 * 16 and set(ab["rel_day"]) == set(range(-5, 11))
    html = (folder / "study.html").read_text("utf-8")
    assert "Look-ahead warning" in html  # the hand universe is a concept list


def test_names_are_escaped_in_study_html_and_the_index(hand_reports):
    reports, out = hand_reports
    page = (out["hand_xss"] / "study.html").read_text("utf-8")
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    index = (reports / "index.html").read_text("utf-8")
    assert "<script>alert" not in index and "x&lt;script&gt;alert(1)&lt;" in index
    assert index.count("<script>") == 1  # the index's own sort script only


def test_the_index_lists_studies_newest_first_with_links(hand_reports):
    reports, _ = hand_reports
    index = (reports / "index.html").read_text("utf-8")
    links = re.findall(r'<td>study</td><td><a href="([^"]+)">', index)
    assert links == ["x&lt;script&gt;alert(1)&lt;/study.html", "hand_one/study.html"]
    assert "9 event-stocks" in index and "18 event-stocks" in index


# -------------------------------------------------------------------------------- real data ---

@pytest.fixture(scope="module")
def real(shared_data, tmp_path_factory):
    """A store with the shared market and CSI 300, and the two shipped studies written through the CLI."""
    root = tmp_path_factory.mktemp("real")
    store = Store(root / "store")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few qfq rows <= 0 are dropped; the import report lists them
        import_paths(store, [shared_data / "ashare" / "market.parquet", shared_data / "index" / "sh000300.csv"],
                     adjust="qfq")
    outs = {}
    for name in ("sora_study", "iflytek_releases_study"):
        code = cli.main(["--workspace", str(REPO), "--home", str(store.root), "study",
                         str(REPO / "backtests" / f"{name}.toml"), "--out", str(root / "reports" / name),
                         "--offline"])
        assert code == 0
        outs[name] = root / "reports" / name
    assert cli.main(["report", "index", "--reports", str(root / "reports")]) == 0
    return {"store": store, "root": root, **outs}


def read_car(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "car.csv", dtype={"code": str, "first_fill": str, "day0": str})


@pytest.mark.realdata
def test_sora_study_outputs_on_the_real_market(real):
    folder = real["sora_study"]
    assert {p.name for p in folder.iterdir()} >= {"study.html", "car.csv", "abnormal_returns.parquet",
                                                  "manifest.json", "summary.csv"}
    car = read_car(folder)
    assert len(car) == 37 and car["code"].is_unique and set(car["day0"]) == {"2024-02-19"}
    row = car[car["code"] == "688039"].iloc[0]
    assert bool(row["locked_day0"]) and row["first_fill"] > "2024-02-19"
    assert row["tradable_abnormal"] < row["paper_abnormal"]
    html = (folder / "study.html").read_text("utf-8")
    assert "Look-ahead warning" in html and "look-ahead bias" in html
    ab = pd.read_parquet(folder / "abnormal_returns.parquet")
    day0 = ab[ab["rel_day"] == 0]
    assert set(day0["date"].dt.date.astype(str)) == {"2024-02-19"} and len(day0) == 37


@pytest.mark.realdata
def test_sora_manifest_has_versions_data_hashes_and_the_spec(real):
    m = json.loads((real["sora_study"] / "manifest.json").read_text("utf-8"))
    store = real["store"]
    assert m["kind"] == "study" and m["name"] == "sora_study"
    assert {"hypebt", "python", "pandas", "numpy"} <= set(m["versions"])
    assert m["data"]["stock_qfq"]["sha256"] == store.manifest("stock_qfq")["sha256"]
    assert m["data"]["index"]["sha256"] == store.manifest("index")["sha256"]
    assert m["spec"]["universe"] == "sora" and m["spec"]["events"]["ids"] == ["sora"]
    assert m["events"] == [{"id": "sora", "session": "2024-02-19", "at": "open"}]
    assert m["study"]["window"] == [-5, 20]


@pytest.mark.realdata
def test_the_real_index_links_the_studies(real):
    index = (real["root"] / "reports" / "index.html").read_text("utf-8")
    assert 'href="sora_study/study.html"' in index and 'href="iflytek_releases_study/study.html"' in index
    assert "37 event-stocks" in index


@pytest.mark.realdata
def test_iflytek_study_covers_the_five_spark_releases(real):
    summary = pd.read_csv(real["iflytek_releases_study"] / "summary.csv")
    sparks = ["spark_v1_0", "spark_v1_5", "spark_v2_0", "spark_v3_0", "spark_v3_5"]
    assert list(summary["event"]) == [*sparks, "all events"]
    car = read_car(real["iflytek_releases_study"])
    assert list(car["event"].unique()) == sparks
    assert (car["code"] == "002230").sum() == 5
    s = summary.set_index("event")
    assert s.loc["all events", "n"] == s.loc[sparks, "n"].sum() == car["car_mkt[0,10]"].notna().sum()
    # date-only scheduled launch: that day's open; 14:00 and 10:00 launches: the same session's close
    day0 = car.groupby("event")[["day0", "at"]].first()
    assert tuple(day0.loc["spark_v1_5"]) == ("2023-06-09", "open")
    assert tuple(day0.loc["spark_v2_0"]) == ("2023-08-15", "close")
    assert tuple(day0.loc["spark_v3_0"]) == ("2023-10-24", "close")


@pytest.mark.realdata
def test_market_study_never_fills_a_one_word_limit_up_board_on_day0(real):
    store = real["store"]
    spec = load_spec(REPO / "backtests" / "market_sora_study.toml")
    inputs = study.prepare(spec, REPO, store)
    p = inputs.panel
    i0 = p.sessions.get_indexer([pd.Timestamp("2024-02-19")])[0]
    prev = pd.DataFrame(p.close).ffill().to_numpy()[i0 - 1]
    one_word = p.present[i0] & (p.open[i0] == p.high[i0]) & (p.low[i0] == p.close[i0]) & \
        (p.open[i0] == p.close[i0]) & (p.close[i0] >= prev * 1.045)
    locked = {p.codes[j] for j in np.flatnonzero(one_word)}
    assert {"688039", "600112", "603007"} <= locked  # STAR at +20 %; two main-board ST stocks at +5 %
    _, car, _, _ = study.compute(p, inputs.tradables, inputs.cfg, inputs.names)
    filled_day0 = car[car["code"].isin(locked) & (car["first_fill"] == "2024-02-19")]
    assert filled_day0.empty, filled_day0[["code", "first_fill"]]


def test_scipy_is_a_declared_dependency():
    """study.py imports scipy directly; it must not rely on quantstats pulling it in."""
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg", encoding="utf-8")
    requires = cfg["options"]["install_requires"]
    assert re.search(r"^\s*scipy\b", requires, re.M), requires


# ------------------------------------------- the study's limits are the rules' limits ---

def _panel_bars(code: str, days, closes, one_price: set[int]):
    """Canonical bars of one code: one-price sessions at their close, others trading 2 % around it."""
    rows = []
    for i, (d, c) in enumerate(zip(days, closes)):
        lo, hi = (c, c) if i in one_price else (round(c * 0.98, 2), c)
        rows.append({"code": code, "date": pd.Timestamp(d), "open": c, "high": hi, "low": lo, "close": c})
    return rows


def test_study_limits_follow_each_sessions_rule_across_the_chinext_reform():
    """ChiNext moved from 10 % to 20 % on 2020-08-24: a one-price +10 % session before it is a lock,
    the same +10 % after it is not, and +20 % after it is. (Taking one session's limit for every
    session, as the study once did, gets one side of the date wrong.)"""
    days = pd.bdate_range("2020-08-17", "2020-08-28")
    i_before, i_after = 4, 6  # 2020-08-21 (10 % band) and 2020-08-25 (20 % band)
    assert days[i_before] == pd.Timestamp("2020-08-21") and days[i_after] == pd.Timestamp("2020-08-25")
    closes = [10.0, 10.0, 10.0, 10.0, 11.0, 11.0, 12.1, 14.52, 14.52, 14.52]
    rows = _panel_bars("300001", days, closes, {i_before, i_after, 7})
    bench = pd.DataFrame({"date": days, "open": 1.0, "close": 1.0})
    p = study.build_panel(pd.DataFrame(rows), days, bench, {}, days[0])
    up = p.limit_up[:, 0]
    assert up[i_before] == 11.0 and up[i_after] == 13.2 and up[7] == 14.52
    locked = study.locked_limit_up(p)[:, 0]
    assert locked[i_before] and not locked[i_after] and locked[7]


def test_study_rounds_beijing_limits_toward_the_inside():
    """6.56 * 1.3 = 8.528: Beijing's limit-up is 8.52 (half up would give 8.53), so a one-price 8.52
    session is locked."""
    days = pd.bdate_range("2023-12-11", periods=2)
    rows = _panel_bars("430198", days, [6.56, 8.52], {1})
    bench = pd.DataFrame({"date": days, "open": 1.0, "close": 1.0})
    p = study.build_panel(pd.DataFrame(rows), days, bench, {}, days[0])
    assert p.limit_up[1, 0] == 8.52 and study.locked_limit_up(p)[1, 0]


def test_study_takes_the_specs_rules(hand):
    """[rules] st_limit_main = 0.10 in the spec: an ST stock's band is 10 %, and the tolerance the spec
    sets is the one the study's lock test uses."""
    ws, store, *_ = hand
    path = write_spec(ws, "hand_rules", {"universe": "hand", "benchmark": BENCH, "st_codes": ["600003"]},
                      {"events": {"catalogue": "hand", "ids": ["ev_open"]},
                       "study": {"window": list(WINDOW), "car_windows": CARS},
                       "rules": {"st_limit_main": 0.10, "limit_tolerance": 0.002}})
    inputs = study.prepare(load_spec(path), ws, store)
    assert inputs.panel.rules.limit_tolerance == 0.002
    j = inputs.panel.codes.index("600003")
    prev = inputs.panel.close[I0 - 1, j]
    assert inputs.panel.limit_up[I0, j] == fen(prev * 1.10)
    _, _, car, _, _ = run_study(hand)
    assert bool(car_row(car, "600003")["locked_day0"])
