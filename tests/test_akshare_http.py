"""akshare's own code, with only the HTTP transport faked (tests/fake_upstream.py).

The replies are shaped as Eastmoney and Sina send them, built from ``../shared/data``; akshare
parses them (JSON klines, paged clist ``diff`` objects, Sina's JavaScript-decoded payloads), so
an akshare upgrade that changes its requests or its parsing fails here, not for our users.

The live-path bugs of issue 13 are reproduced below; each is a strict xfail until fixed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
import types

import numpy as np
import pandas as pd
import pytest
import requests

from fake_upstream import BONUS, EX_DAY, FakeUpstream, encode_daily, encode_sessions, prices
from hypebt.core.errors import SourceError
from hypebt.data.importers import import_paths
from hypebt.data.sources import Akshare, fetch_calendar, fetch_index, fetch_stocks
from hypebt.data.universes import snapshot_concept
from hypebt.data.store import Store
from hypebt.data.universes import read_universe

ak = pytest.importorskip("akshare")
TODAY = dt.date(2024, 5, 22)
BAR_COLUMNS = ["code", "date", "open", "high", "low", "close", "volume", "amount", "pct_change", "turnover"]


class FakeTime:
    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def upstream(shared_data, monkeypatch) -> FakeUpstream:
    import akshare.stock.stock_board_concept_em as boards
    import akshare.utils.func as func
    import akshare.utils.request as req

    # akshare caches the board list for the process and sleeps 0.5-1.5 s between pages and retries.
    getattr(boards, "__stock_board_concept_name_em").cache_clear()
    quiet = types.SimpleNamespace(sleep=lambda s: None)
    monkeypatch.setattr(func, "time", quiet)
    monkeypatch.setattr(req, "time", quiet)
    yield FakeUpstream(shared_data).install(monkeypatch)
    getattr(boards, "__stock_board_concept_name_em").cache_clear()


@pytest.fixture
def source() -> Akshare:
    t = FakeTime()
    return Akshare(min_interval=0.0, sleep=t.sleep, clock=t.clock)


def shared_bars(shared_data, code: str, tmp_path, start=None, end=None) -> pd.DataFrame:
    """What importing the shared akshare table stores (the qfq truth)."""
    store = Store(tmp_path / f"truth_{code}")
    import_paths(store, [shared_data / "ashare" / "daily" / f"{code}.csv"], adjust="qfq")
    bars = store.load("stock_qfq")
    keep = np.ones(len(bars), bool)
    if start:
        keep &= (bars["date"] >= pd.Timestamp(start)).to_numpy()
    if end:
        keep &= (bars["date"] <= pd.Timestamp(end)).to_numpy()
    return bars[keep].reset_index(drop=True)


def kline_requests(upstream) -> list[dict]:
    return [p for url, p in upstream.requests if url.endswith("/api/qt/stock/kline/get")]


# --- Sina: the encoders are read back by Sina's own decoder, inside akshare -----------------------

def test_trade_calendar_through_sinas_decoder(upstream, source, tmp_path):
    table = ak.tool_trade_date_hist_sina()
    expected = sorted([*upstream.sessions().date, dt.date(1992, 5, 4)])  # akshare adds a day Sina lacks
    assert table["trade_date"].tolist() == expected
    summary = fetch_calendar(Store(tmp_path / "s"), source=source)
    assert summary["sessions"] == len(expected) and summary["last"] == "2026-06-16"


def test_index_daily_through_sinas_decoder(upstream, source, shared_data, tmp_path):
    store = Store(tmp_path / "s")
    fetch_index(store, ["sh000300"], source=source, today=TODAY)
    truth = Store(tmp_path / "t")
    import_paths(truth, [shared_data / "index" / "sh000300.csv"])
    got, want = store.load("index"), truth.load("index", end=TODAY)
    pd.testing.assert_frame_equal(got, want)
    assert [u for u, _ in upstream.requests] == ["finance.sina.com.cn/realstock/company/sh000300/hisdata/klc_kl.js"]


def test_sina_encoders_cover_gaps_and_large_volumes():
    """Long holidays, consecutive holidays and volumes beyond 2**30 survive the round trip."""
    from py_mini_racer import py_mini_racer
    from akshare.stock.cons import hk_js_decode

    js = py_mini_racer.MiniRacer()
    js.eval(hk_js_decode)
    days = pd.bdate_range("2024-01-02", "2024-03-29").delete([3, 4, 25, 26, 27, 28, 29, 30, 31, 32])
    decoded = [pd.Timestamp(d).date() for d in js.call("d", encode_sessions(days))]
    assert decoded == list(days.date)
    bars = pd.DataFrame({"date": days[:3], "open": [3500.123, 3400.0, 0.001], "high": [3600.5, 3400.0, 0.002],
                         "low": [3400.0, 3300.999, 0.001], "close": [3450.0, 3350.0, 0.002],
                         "volume": [6_610_108_000, 2, 2**41]})
    rows = js.call("d", encode_daily(bars))
    assert [r["close"] for r in rows] == [3450.0, 3350.0, 0.002]
    assert [r["volume"] for r in rows] == [6_610_108_000, 2, 2**41]


# --- Eastmoney klines: stock_zh_a_hist qfq, hfq, raw ----------------------------------------------

def test_stock_qfq_is_stored_exactly_as_the_shared_table(upstream, source, shared_data, tmp_path):
    store = Store(tmp_path / "s")
    summary = fetch_stocks(store, ["002230", "688039"], "2023-01-01", "2024-05-22", adjust="qfq", source=source,
                           progress=False, today=TODAY)
    assert summary["codes"] == ["002230", "688039"]
    got = store.load("stock_qfq")
    for code in ("002230", "688039"):
        want = shared_bars(shared_data, code, tmp_path, "2023-01-01")
        pd.testing.assert_frame_equal(got[got["code"] == code].reset_index(drop=True)[BAR_COLUMNS], want[BAR_COLUMNS])
    asked = kline_requests(upstream)
    assert [(p["secid"], p["fqt"], p["klt"], p["beg"], p["end"]) for p in asked] == [
        ("0.002230", "1", "101", "20230101", "20240522"), ("1.688039", "1", "101", "20230101", "20240522")]


def test_stock_raw_gets_the_hfq_factor(upstream, source, shared_data, tmp_path):
    store = Store(tmp_path / "s")
    fetch_stocks(store, ["002230"], "2023-05-01", "2023-06-30", adjust="none", source=source, progress=False,
                 today=TODAY)
    bars = store.load("stock_raw")
    qfq = shared_bars(shared_data, "002230", tmp_path, "2023-05-01", "2023-06-30")
    raw = prices(pd.read_csv(shared_data / "ashare" / "daily" / "002230.csv", dtype={"日期": str}), "0")
    raw = raw[(raw["日期"] >= "2023-05-01") & (raw["日期"] <= "2023-06-30")]
    assert bars["close"].tolist() == raw["收盘"].tolist()
    assert bars["volume"].tolist() == qfq["volume"].tolist()
    before = (bars["date"] < EX_DAY).to_numpy()
    np.testing.assert_allclose(bars["adj_factor"][before], 1.0, atol=2e-3)
    np.testing.assert_allclose(bars["adj_factor"][~before], BONUS, atol=2e-3)
    assert [p["fqt"] for p in kline_requests(upstream)] == ["0", "2"]


def test_stock_hfq_is_stored(upstream, source, shared_data, tmp_path):
    store = Store(tmp_path / "s")
    fetch_stocks(store, ["688039"], "2024-01-01", "2024-05-22", adjust="hfq", source=source, progress=False,
                 today=TODAY)
    bars = store.load("stock_hfq")
    qfq = shared_bars(shared_data, "688039", tmp_path, "2024-01-01")
    np.testing.assert_allclose(bars["close"], (qfq["close"] * BONUS).round(2), rtol=0, atol=1e-9)


# --- Eastmoney clist: the concept boards ----------------------------------------------------------

@pytest.fixture
def sora_board(upstream, shared_data):
    members = pd.read_csv(shared_data / "concepts" / "sora.csv", dtype={"code": str})
    upstream.add_board("BK1092", "ChatGPT概念", members.iloc[:3])
    upstream.add_board("BK2090", "Sora概念", members)
    return members


@pytest.mark.parametrize("board", ["Sora概念", "BK2090"])
def test_concept_board_snapshot_through_akshare(upstream, source, sora_board, tmp_path, board):
    out = snapshot_concept(board, tmp_path / "sora_em.csv", source=source, today=dt.date(2024, 6, 3))
    universe = read_universe(out)
    assert list(universe.codes) == list(sora_board["code"]) and universe.look_ahead
    fs = [p["fs"] for u, p in upstream.requests if u.endswith("/api/qt/clist/get")]
    assert fs == ["m:90 t:3 f:!50", "b:BK2090 f:!50"]


def test_a_large_board_is_read_page_by_page(upstream, source, shared_data, tmp_path):
    market = pd.read_csv(shared_data / "ashare" / "stock_list.csv", dtype={"code": str}).iloc[:250]
    upstream.add_board("BK0596", "融资融券", market[["code", "name"]])
    out = snapshot_concept("融资融券", tmp_path / "margin.csv", source=source, today=TODAY)
    assert len(read_universe(out).codes) == 250
    pages = [p["pn"] for u, p in upstream.requests if u.endswith("/api/qt/clist/get") and p["fs"].startswith("b:")]
    assert pages == ["1", "2", "3"]


# --- the live-path bugs of issue 13, reproduced ---------------------------------------------------

def _seed_year(store: Store, source, upstream) -> None:
    """A store after 'data fetch 002230 --start 2023-01-01 --end 2023-12-29 --adjust none --index sh000300'."""
    fetch_stocks(store, ["002230"], "2023-01-01", "2023-12-29", adjust="none", source=source, progress=False,
                 today=dt.date(2023, 12, 29))
    fetch_index(store, ["sh000300"], source=source, today=dt.date(2023, 12, 29))
    upstream.requests.clear()


def test_bug1_new_bars_are_fetched_although_the_stored_index_ends_earlier(upstream, source, tmp_path):
    store = Store(tmp_path / "s")
    _seed_year(store, source, upstream)
    summary = fetch_stocks(store, ["002230"], "2023-01-01", "2024-03-01", adjust="none", source=source,
                           progress=False, today=TODAY)
    assert summary["codes"] == ["002230"] and kline_requests(upstream)
    assert store.code_ranges("stock_raw").loc["002230", "last"] == pd.Timestamp("2024-03-01")


def test_bug2_a_session_is_stored_only_once_it_has_closed(upstream, source, shared_data, tmp_path):
    store = Store(tmp_path / "s")
    beijing = dt.timezone(dt.timedelta(hours=8))
    answer = upstream.answer

    def intraday(request):  # at 10:30 Eastmoney's bar of the day is the session so far
        resp = answer(request)
        if "kline" in request.url and b"2024-03-01," in resp.content:
            resp._content = re.sub(rb'"2024-03-01,([0-9.]+),([0-9.]+),', rb'"2024-03-01,\1,\1,', resp.content)
        return resp

    upstream.answer = intraday
    fetch_stocks(store, ["002230"], "2024-02-01", "2024-03-01", adjust="none", source=source, progress=False,
                 now=dt.datetime(2024, 3, 1, 10, 30, tzinfo=beijing))
    assert store.code_ranges("stock_raw").loc["002230", "last"] == pd.Timestamp("2024-02-29")
    upstream.answer = answer
    fetch_stocks(store, ["002230"], "2024-02-01", "2024-03-01", adjust="none", source=source, progress=False,
                 now=dt.datetime(2024, 3, 1, 16, 0, tzinfo=beijing))
    final = shared_bars(shared_data, "002230", tmp_path, "2024-03-01", "2024-03-01")
    stored = store.load("stock_raw", start="2024-03-01")
    assert stored["close"].tolist() == final["close"].tolist()  # no EX_DAY before: raw = qfq here


def test_bug3_an_empty_code_is_recorded_and_the_batch_goes_on(upstream, source, tmp_path):
    store = Store(tmp_path / "s")
    summary = fetch_stocks(store, ["002230", "600001", "688039"], "2024-01-01", "2024-02-01", adjust="qfq",
                           source=source, progress=False, today=TODAY)
    assert summary["codes"] == ["002230", "688039"] and summary["empty"] == ["600001"]
    assert sorted(store.load("stock_qfq")["code"].unique()) == ["002230", "688039"]


def test_bug4_a_large_board_slower_than_the_timeout_is_read_and_no_thread_is_left(upstream, tmp_path):
    """Was: the 30 s timeout gave up on a 2,500-member board while its abandoned thread kept paging."""
    market = pd.read_csv(upstream.data / "ashare" / "stock_list.csv", dtype={"code": str}).iloc[:350]
    upstream.add_board("BK0596", "融资融券", market[["code", "name"]])
    answer = upstream.answer

    def slow(request):
        if "BK0596" in request.url:
            time.sleep(0.3)  # four pages of 0.3 s: longer than the 0.5 s timeout below
        return answer(request)

    upstream.answer = slow
    before = set(threading.enumerate())
    source = Akshare(min_interval=0.0, retries=0, timeout=0.5)
    out = snapshot_concept("BK0596", tmp_path / "m.csv", source=source, today=TODAY)
    assert len(read_universe(out).codes) == 350
    left = [t for t in set(threading.enumerate()) - before if t.name.startswith("hypebt-akshare")]
    assert not left, "a thread was left running the call"


def test_bug5_an_unknown_code_is_not_retried_as_network_trouble(upstream, source, tmp_path):
    summary = fetch_stocks(Store(tmp_path / "s"), ["600001"], "2024-01-01", "2024-02-01", adjust="qfq",
                           source=source, progress=False, today=TODAY)
    assert len(kline_requests(upstream)) == 1 and summary["empty"] == ["600001"]
    why = summary["why"]["600001"]
    assert "no rows" in why and "may not exist" in why and "network" not in why


def test_bug5_a_parsing_error_is_reported_as_akshares_not_the_networks(upstream, source, tmp_path):
    # Eastmoney changes its reply: klines become objects; akshare's parser fails on them.
    answer = upstream.answer

    def changed(request):
        resp = answer(request)
        if "kline" in request.url:
            body = resp.json()
            body["data"]["klines"] = [{"k": k} for k in body["data"]["klines"]]
            resp._content = json.dumps(body).encode()
        return resp

    upstream.answer = changed
    with pytest.raises(SourceError) as info:
        fetch_stocks(Store(tmp_path / "s"), ["002230"], "2024-01-01", "2024-02-01", adjust="qfq", source=source,
                     progress=False, today=TODAY)
    assert len(kline_requests(upstream)) == 1
    assert "akshare" in str(info.value) and "upgrade or pin" in str(info.value)
    assert "network" not in str(info.value)


def test_no_network_is_reported_at_once_with_the_remedy(upstream, source, tmp_path):
    upstream.fail["eastmoney.com"] = requests.exceptions.ConnectionError(
        "HTTPSConnectionPool(host='push2his.eastmoney.com', port=443): Max retries exceeded with url: /api "
        "(Caused by NameResolutionError(\"<urllib3.connection.HTTPSConnection object>: Failed to resolve "
        "'push2his.eastmoney.com' ([Errno -3] Temporary failure in name resolution)\"))")
    with pytest.raises(SourceError) as info:
        fetch_stocks(Store(tmp_path / "s"), ["002230"], "2024-01-01", "2024-02-01", adjust="qfq", source=source,
                     progress=False, today=TODAY)
    assert len(kline_requests(upstream)) == 1
    assert "no network" in str(info.value) and "data import" in str(info.value)
