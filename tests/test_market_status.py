"""Dated ST status, dated margin-eligible lists, and raw prices with an ex-dividend day, on
hand-made bars run through the engine (expected fills derived by hand in the comments)."""

from __future__ import annotations

import pandas as pd

from helpers_engine import bars, make_workspace, only_order, write_spec, write_store
from hypebt.data import reference
from hypebt.engine import backtest as engine
from hypebt.engine.spec import load_spec
from hypebt.market import status as MS

DAYS = ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08"]


def run(tmp_path, stocks, plan, st_history=None, margin_list=None, margin=(), adjust="raw"):
    store = write_store(tmp_path / "store", stocks, adjust=adjust)
    if st_history is not None:
        reference.save(store, "st_history", st_history, source="test", as_of=DAYS[-1])
    if margin_list is not None:
        reference.save(store, "margin_list", margin_list, source="test", as_of=DAYS[-1])
    ws = make_workspace(tmp_path / "ws", margin)
    spec = write_spec(ws, "t", {"strategy": "script", "codes": list(stocks), "cash": 1_000_000.0,
                                "benchmark": "sh000300", **({"margin_list": "margin"} if margin else {})})
    prep = engine.prepare(load_spec(spec), ws, store)
    return prep, engine.run(prep, {"plan": [list(p) for p in plan]})


def st_market():
    # 600001 opens each session exactly 5 % above the previous close (the ST limit-up), then trades below.
    rows, prev = [], 10.0
    for d in DAYS:
        up5 = round(prev * 1.05 + 1e-9, 2)
        rows.append((d, up5, up5, up5 - 0.2, up5 - 0.1))
        prev = up5 - 0.1
    return {"600001": bars(10.0, rows)}


def test_a_dated_st_period_gives_the_5_percent_band_only_inside_it(tmp_path):
    history = pd.DataFrame({"code": ["600001"], "start": [DAYS[2]], "end": [DAYS[3]], "kind": ["*ST"]})
    plan = [(i, "open", "buy_shares", "600001", 100) for i in range(5)]
    prep, res = run(tmp_path, st_market(), plan, st_history=history)
    outcome = [(str(r["date"]), r["status"], r["reason"]) for r in res.orders.to_dict("records")]
    # Inside the period the open sits at the 5 % limit-up: refused; outside it is 5 % under a 10 % limit.
    assert [o[1:] for o in outcome] == [("filled", ""), ("filled", ""), ("refused", "limit_up"),
                                        ("refused", "limit_up"), ("filled", "")]
    src = prep.arrays["600001"].st_source
    assert set(src) == {"st_history"}
    assert any("100.0%) from the dated st_history list" in w for w in prep.warnings)


def test_without_a_dated_list_st_is_inferred_from_a_one_price_day_at_the_st_limit(tmp_path):
    # Session 1 sits all day at 10.50 (+5 %, the ST limit, not the 10 % one): from session 2 on, the
    # stock is taken as ST, so session 2's open at its 5 % limit-up is refused; a later session that
    # trades beyond +-5 % would end it.
    rows = [(DAYS[0], 10.0, 10.1, 9.9, 10.0), (DAYS[1], 10.5, 10.5, 10.5, 10.5),
            (DAYS[2], 11.03, 11.03, 10.9, 11.0), (DAYS[3], 11.0, 12.1, 11.0, 12.1), (DAYS[4], 12.2, 12.5, 12.1, 12.3)]
    plan = [(2, "open", "buy_shares", "600001", 100), (4, "open", "buy_shares", "600001", 100)]
    prep, res = run(tmp_path, {"600001": bars(10.0, rows)}, plan)
    assert [r["reason"] for r in res.orders.to_dict("records")] == ["limit_up", ""]
    assert prep.arrays["600001"].columns["st"].tolist() == [0.0, 0.0, 1.0, 1.0, 0.0]
    assert list(prep.arrays["600001"].st_source) == ["names", "names", "inferred", "inferred", "inferred"]
    assert any("inferred from the bars" in w for w in prep.warnings)


def test_st_status_sources_are_counted():
    counts = MS.source_counts({"a": pd.Series(["names", "inferred"]).to_numpy()})
    assert counts == {"st_history": 0, "inferred": 1, "names": 1}
    assert "1 (50.0%) inferred" in MS.st_note(counts)


def short_market():
    return {"600519": bars(100.0, [(d, 100.0, 101.0, 99.5, 100.0) for d in DAYS])}


def test_a_dated_margin_list_allows_a_short_only_from_its_snapshot_date(tmp_path):
    snap = pd.DataFrame({"date": [DAYS[2]], "code": ["600519"], "exchange": ["SH"]})
    plan = [(1, "open", "short_value", "600519", 10000), (2, "open", "short_value", "600519", 10000)]
    prep, res = run(tmp_path, short_market(), plan, margin_list=snap)
    assert [(r["status"], r["reason"]) for r in res.orders.to_dict("records")] == [
        ("refused", "not_shortable"), ("filled", "")]
    assert any("dated margin_list" in w for w in prep.warnings)


def test_the_hand_list_is_the_fallback_and_says_so(tmp_path):
    prep, res = run(tmp_path, short_market(), [(1, "open", "short_value", "600519", 10000)], margin=("600519",))
    assert only_order(res, code="600519")["status"] == "filled"
    assert any("undated hand list" in w and "import a dated margin_list" in w for w in prep.warnings)


def test_raw_prices_on_an_ex_dividend_day_fill_at_the_traded_price_without_a_false_limit(tmp_path):
    # A 3.00 cash dividend: the previous raw close 20.00 becomes a reference price of 17.00
    # (adj_factor, adjusted / raw, moves from 1.0 to 20/17). Limits on the ex-day: 18.70 / 15.30. The
    # raw previous close would have put limit-down at 18.00, above the whole ex-day bar: a false
    # 一字跌停 that refuses the sale.
    frame = bars(20.0, [(DAYS[0], 20.0, 20.2, 19.8, 20.0), (DAYS[1], 20.0, 20.1, 19.9, 20.0),
                        (DAYS[2], 17.2, 17.5, 17.0, 17.3), (DAYS[3], 17.3, 17.4, 17.2, 17.3)])
    store_frame = frame
    plan = [(0, "open", "buy_shares", "600001", 1000), (2, "open", "sell_all", "600001")]
    store = write_store(tmp_path / "store", {"600001": store_frame}, adjust="raw")  # sets factors to 1.0
    stock = store.load("stock_raw")
    stock["adj_factor"] = [1.0, 1.0, 20 / 17, 20 / 17]
    store.write("stock_raw", stock, source="test", adjust="raw")
    ws = make_workspace(tmp_path / "ws")
    spec = write_spec(ws, "t", {"strategy": "script", "codes": ["600001"], "cash": 1_000_000.0,
                                "benchmark": "sh000300"})
    prep = engine.prepare(load_spec(spec), ws, store)
    res = engine.run(prep, {"plan": [list(p) for p in plan]})
    c = prep.arrays["600001"].columns
    assert (c["prev_close"][2], c["limit_up"][2], c["limit_down"][2]) == (17.0, 18.7, 15.3)
    sell = res.fills[res.fills["side"] == "sell"].iloc[0]
    assert (str(sell["date"]), sell["price"], sell["size"]) == (DAYS[2], 17.2, 1000)
    # Signals see the adjusted close (continuous): 20.00 x 1.0 before, 17.30 x 20/17 = 20.35 after.
    assert round(c["adjclose"][2], 4) == round(17.3 * 20 / 17, 4)
