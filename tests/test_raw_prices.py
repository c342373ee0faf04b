"""Traded prices as the basis of record, on the shared raw dataset (../shared/data/ashare_raw):
imported as it is, limits from the exchange's reference price explaining every bar of the stocks
CI imports, the factor's distributions holding raw and adjusted prices to each other, and the seed
case (688039 after Sora) on traded prices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import hypebt
import rulecheck
from hypebt.market import corporate as C
from hypebt.market import panel as MP
from hypebt.market import rules as R
from hypebt.market import status as MS
from hypebt.research.limit_audit import audit

REPO = Path(__file__).resolve().parents[1]


def test_the_raw_dataset_imports_as_it_is(raw_store, shared_data):
    m = raw_store.manifest("stock_raw")
    assert m["adjust"] == "raw" and m["price_basis"] == "traded" and "adj_factor" in m["columns"]
    stored = raw_store.load("stock_raw", codes=["600519"])
    source = pq.read_table(shared_data / "ashare_raw" / "market_raw.parquet",
                           filters=[("code", "=", "600519")]).to_pandas()
    cols = ["open", "high", "low", "close", "volume", "adj_factor"]
    assert len(stored) == len(source) == 1292
    assert (stored[cols].to_numpy() == source[cols].to_numpy()).all()
    day = stored[stored["date"] == "2024-01-02"].iloc[0]
    assert (day["open"], day["close"]) == (1715.00, 1685.01)  # the data README's check


def test_limits_from_the_reference_price_explain_every_bar_ci_imports(raw_store):
    """The engine's own limits (the market panel a run reads) against every bar CI imports; each
    miss is listed with what it fits instead, and none is counted as a hit."""
    result = audit(raw_store.load("stock_raw"))
    assert result.rows > 80_000 and result.one_price == 113
    assert [e[:4] for e in result.exceptions] == [
        # (002354's first lock at its ST stock's 5 % on 2021-01-14, 603721's on 2025-05-06 and 002354's
        # first session beyond 5 % on 2021-05-25 are no longer misses: the engine's checks take the
        # session's own ST status, announced before its open, from its own bar: hypebt.market.status)
        # the source's factor moves a session after the ex-date (301171: 10 转 8 on 2026-04-28)
        ["301171", "2026-04-28", "outside the limits", "factor_late"],
        ["301171", "2026-04-29", "outside the limits", "factor_late"],
        # 688256 fell 35 % on the data's last session: an ex-date whose factor move is not recorded yet
        ["688256", "2026-05-08", "outside the limits", "unexplained"],
    ], result.lines()
    assert result.at_limit_share == 1.0 and result.inside_share == pytest.approx(1 - 3 / 82_465)
    assert result.locked == result.one_price


def test_the_engine_limits_are_the_exchange_rule_recomputed_independently(raw_store):
    """The market panel's limit prices (what a run reads) against tests/rulecheck.py's second
    implementation of the exchange rules (reference price from the factor, half up, board bands,
    new listings), given the same ST status: equal on every row of the raw store CI imports."""
    bars = raw_store.load("stock_raw").sort_values(["code", "date"]).reset_index(drop=True)
    sessions = pd.DatetimeIndex(np.unique(bars["date"].to_numpy()))
    panel = MP.build(bars, sessions, first_store_date=sessions[0])
    j, s = pd.Index(panel.codes).get_indexer(bars["code"].astype(str)), sessions.get_indexer(bars["date"])
    st = panel.columns["st"][j, s]
    st_dated = {d: set(g["code"].astype(str)) for d, g in bars[st].groupby("date")}
    mine = rulecheck.exchange_limits(bars, st_dated)
    assert (mine["st"].to_numpy() == st).all()
    for ours, theirs in (("limit_up", "up"), ("limit_down", "down"), ("prev_close", "reference")):
        engine, again = panel.columns[ours][j, s], mine[theirs].to_numpy()
        same = (np.isnan(engine) & np.isnan(again)) | (np.abs(engine - again) < 1e-9)
        if ours == "prev_close":  # the panel keeps a listing's previous close; its limits are none
            same |= np.isnan(mine["up"].to_numpy())
        assert same.all(), bars[~same].head()
    ex_dates = bars["adj_factor"].ne(bars.groupby("code")["adj_factor"].shift()) & bars["code"].eq(bars["code"].shift())
    assert ex_dates.sum() > 50  # the reference price is really exercised
    # the limits the order checks apply (the session's own ST status) are the rule given that status
    st_day = panel.columns["st_day"][j, s]
    mine = rulecheck.exchange_limits(bars, {d: set(g["code"].astype(str)) for d, g in bars[st_day].groupby("date")})
    up, down = MS.day_limits(list(bars["code"].astype(str)), bars["date"].to_numpy(), panel.columns["prev_close"][j, s],
                             panel.columns["limit_up"][j, s], panel.columns["limit_down"][j, s], st, st_day)
    for engine, again in ((up, mine["up"].to_numpy()), (down, mine["down"].to_numpy())):
        assert ((np.isnan(engine) & np.isnan(again)) | (np.abs(engine - again) < 1e-9)).all()
    assert (st != st_day).sum() == 3  # 002354 2021-01-14 and 2021-05-25, 603721 2025-05-06


def test_the_audit_counts_only_the_engine_limits():
    """A main-board stock locked all day at -5 % with no evidence of a risk warning before: the
    engine's checks apply the ST band that session (its own one-price bar at the 5 % price is the
    evidence), so it is a hit, while the limit shown at that open stays the 10 % one. The same bar on
    ChiNext (20 % band, ST or not: nothing to infer) is a miss, counted as such, not a hit found by
    choosing a band after the fact."""
    days = pd.bdate_range("2024-03-01", periods=4)
    rows = {"date": days, "open": [10.0, 10.2, 9.69, 9.5], "high": [10.3, 10.2, 9.69, 9.8],
            "low": [9.9, 10.0, 9.69, 9.4], "close": [10.2, 10.2, 9.69, 9.6], "volume": 1e6}
    result = audit(pd.DataFrame({"code": "600001", **rows}))
    assert result.one_price == 1 and result.at_limit_share == 1.0 and result.locked == 1 and not result.exceptions
    panel = MP.build(pd.DataFrame({"code": "600001", **rows}), days, first_store_date=days[0])
    assert panel.columns["limit_down"][0, 2] == 9.18 and not panel.columns["st"][0, 2] and panel.columns["st_day"][0, 2]
    result = audit(pd.DataFrame({"code": "300001", **rows}))
    assert result.one_price == 1 and result.at_limit_share == 0.0 and result.locked == 0
    assert [e[:4] for e in result.exceptions] == [["300001", "2024-03-05", "one-price, not at the limit", "unexplained"]]


def test_without_the_reference_price_ex_dates_break_the_limits(raw_store):
    # The same audit with the previous close taken as it traded (no factor): ex-dates fall outside.
    bars = raw_store.load("stock_raw").drop(columns=["adj_factor"])
    result = audit(bars)
    assert result.inside_share < 0.9999 and any(e[0] == "300750" and e[1] == "2023-04-26" for e in result.exceptions)


def test_raw_with_the_factor_distributions_reinvested_is_the_adjusted_series(raw_store):
    """Each basis against the other: 400 shares of 600519 from the 2021-01-04 close to 2026-05-08.

    Kept as cash, the nine distributions the factor shows leave the raw holding apart from the adjusted
    one, which reinvests them (above it here: the stock fell after its ex-dates); reinvested at each ex-date's reference price (fractional
    shares), the raw holding is the adjusted one to rounding: no distribution missing or counted twice.
    """
    m = raw_store.load("stock_raw", codes=["600519"]).sort_values("date").reset_index(drop=True)
    acts = C.derive_from_factor("600519", m["date"].tolist(), m["close"].to_numpy(), m["adj_factor"].to_numpy())
    by_day = {a.ex_date: a for a in acts}
    shares, cash = 400.0, 0.0
    prev = m["close"].iloc[0]
    for day, close in zip(m["date"].iloc[1:], m["close"].iloc[1:]):
        a = by_day.get(day.date())
        if a is not None:
            paid = C.long_entitlement(a, 400).cash  # what a 400-share holder is credited, in fen
            cash += paid
            shares += shares * (paid / 400) / (prev - a.cash)  # reinvested at the reference price
        prev = close
    start, end = m.iloc[0], m.iloc[-1]
    adjusted = 400 * start["close"] * (end["close"] * end["adj_factor"]) / (start["close"] * start["adj_factor"])
    assert shares * end["close"] == pytest.approx(adjusted, rel=1e-6)
    kept = 400 * end["close"] + cash
    assert cash == pytest.approx(85_684, abs=1.0)
    # The gap is the reinvestment: 0.83 % of 1 M of cash at the start (the issue's -16.5 % vs -17.3 %).
    assert (kept - adjusted) / 1e6 == pytest.approx(0.0083, abs=0.0005)


def test_seed_case_688039_after_sora_on_traded_prices(raw_store):
    res = hypebt.backtest(
        {"name": "seed_raw", "strategy": "hype_buy", "codes": ["688039"], "start": "2024-01-02", "end": "2024-05-22",
         "cash": 1_000_000, "events": {"catalogue": "ai_releases", "ids": ["sora"]}},
        workspace=REPO, home=raw_store.root, offline=True, retry_days=2, hold_days=5)
    assert any("prices are traded (raw)" in w for w in res.warnings)
    orders = res.orders
    buys = orders[(orders["code"] == "688039") & (orders["side"] == "buy")]
    assert [(str(pd.Timestamp(d).date()), s, r) for d, s, r in
            zip(buys["date"], buys["status"], buys["reason"].fillna(""))][:3] == [
        ("2024-02-19", "refused", "locked_limit_up"), ("2024-02-20", "refused", "locked_limit_up"),
        ("2024-02-21", "filled", "")]
    fills = res.fills[res.fills["side"] == "buy"]
    assert str(pd.Timestamp(fills["date"].iloc[0]).date()) == "2024-02-21" and fills["price"].iloc[0] == 30.00
    # the locked sessions are one-price at the limit computed from 19.69 and 23.63: 23.63, 28.36
    bars = raw_store.load("stock_raw", codes=["688039"], start="2024-02-19", end="2024-02-20")
    up, _ = R.limits_array("688039", bars["date"].to_numpy(), np.array([19.69, 23.63]))
    assert up.tolist() == bars["close"].tolist() == bars["high"].tolist() == bars["low"].tolist() == [23.63, 28.36]


def test_a_study_on_traded_prices_fills_on_them_and_returns_on_the_adjusted_basis(raw_store):
    from hypebt.research import study as S

    bars = raw_store.load("stock_raw", codes=["600519"])
    sessions = pd.DatetimeIndex(bars["date"])
    bench = pd.DataFrame({"date": sessions, "open": 1.0, "close": 1.0})
    panel = S.build_panel(bars, sessions, bench, {}, bars["date"].min())
    r, _, _ = S._returns(panel.adj_close, panel.present, panel.bench_close)
    m = bars.set_index("date")
    i = sessions.get_loc(pd.Timestamp("2024-06-19"))  # ex-date: 10 派 308.76
    prev, day = m.iloc[i - 1], m.iloc[i]
    assert r[i, 0] == pytest.approx(day["close"] * day["adj_factor"] / (prev["close"] * prev["adj_factor"]) - 1)
    assert r[i, 0] == pytest.approx(day["close"] / (prev["close"] - 30.88) - 1, abs=1e-4)  # not the -1.3 % drop
    # fills and limits stay on traded prices: the limit from the reference price 1490.62
    assert panel.close[i, 0] == 1501.0 and panel.limit_up[i, 0] == 1639.68
    assert panel.adjusted(1501.0, i, 0) == pytest.approx(1501.0 * day["adj_factor"])


def test_an_event_study_across_an_ex_date_on_traded_prices(raw_store, tmp_path):
    """600519's ex-date (2024-06-19, 10 派 308.76) as day 0: on traded prices the study's return is
    the adjusted one (+0.70 %: 1501.00 against the reference 1490.62), not the raw -1.35 %."""
    ws = tmp_path / "ws"
    (ws / "data" / "events").mkdir(parents=True)
    (ws / "data" / "events" / "exdiv.csv").write_text("id,name,time,source\nx,ex-date,2024-06-19T08:00+08:00,test\n")
    s = hypebt.study({"name": "exdiv", "codes": ["600519"], "benchmark": "sh000300",
                      "events": {"catalogue": "exdiv", "ids": ["x"]},
                      "study": {"window": [-2, 3], "estimation": [-60, -5], "car_windows": [[0, 0], [0, 3]],
                                "min_estimation": 30}}, workspace=ws, home=raw_store.root, offline=True)
    assert any("prices are traded (raw)" in note for note in s.notes)
    ar = s.abnormal_returns.set_index("rel_day")
    m = raw_store.load("stock_raw", codes=["600519"]).set_index("date")
    prev, day = m.loc["2024-06-18"], m.loc["2024-06-19"]
    assert ar.loc[0, "ret"] == pytest.approx(day["close"] * day["adj_factor"] / (prev["close"] * prev["adj_factor"]) - 1)
    assert ar.loc[0, "ret"] == pytest.approx(1501.0 / 1490.62 - 1, abs=2e-4)
    # paper buys at the day-0 open, holds to day 3's close: both carried to the adjusted basis
    last = m.loc["2024-06-24"]
    idx = raw_store.load("index", codes=["sh000300"]).set_index("date")
    bench = idx.loc["2024-06-24", "close"] / idx.loc["2024-06-19", "open"] - 1
    assert s.car["paper_abnormal"].iloc[0] == pytest.approx(last["close"] / day["open"] - 1 - bench)
    stock = last["close"] * last["adj_factor"] / (prev["close"] * prev["adj_factor"]) - 1
    assert s.car["bhar_mkt[0,3]"].iloc[0] == pytest.approx(
        stock - (idx.loc["2024-06-24", "close"] / idx.loc["2024-06-18", "close"] - 1))
