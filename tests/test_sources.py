"""akshare adapters, with akshare replaced by a fake serving the real shared tables.

No test touches the network or really sleeps: the fake ``api`` reads the
akshare-shaped CSVs in ``../shared/data``; ``sleep`` and ``clock`` are fakes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hypebt.core.errors import InputError, SourceError
from hypebt.data.sources import Akshare, fetch_calendar, fetch_index, fetch_stocks
from hypebt.data.universes import snapshot_concept
from hypebt.data.store import Store
from hypebt.data.universes import read_universe

TODAY = dt.date(2024, 5, 22)  # the shared data's last day
DIVIDEND_DAY = pd.Timestamp("2023-06-01")


def hfq_factor(dates: pd.Series) -> np.ndarray:
    """The fake's hfq/raw ratio: 1.5, then 1.55 from a made-up ex-dividend day on."""
    return np.where(dates < DIVIDEND_DAY, 1.5, 1.55)


class FakeApi:
    """akshare's functions, answering from the real shared tables; records every call."""

    __version__ = "1.19.5-fake"

    def __init__(self, data: Path):
        self.data = data
        self.calls: list[tuple] = []

    def stock_zh_a_hist(self, symbol, period, start_date, end_date, adjust):
        self.calls.append(("stock_zh_a_hist", symbol, start_date, end_date, adjust))
        path = self.data / "ashare" / "daily" / f"{symbol}.csv"
        if not path.is_file():
            return pd.DataFrame()  # what akshare returns for an unknown code
        table = pd.read_csv(path, dtype={"日期": str})
        dates = pd.to_datetime(table["日期"])
        keep = (dates >= pd.Timestamp(start_date)) & (dates <= pd.Timestamp(end_date))
        table, dates = table[keep].reset_index(drop=True), dates[keep].reset_index(drop=True)
        if adjust == "hfq":
            for col in ("开盘", "收盘", "最高", "最低", "涨跌额"):
                table[col] = table[col] * hfq_factor(dates)
        table["日期"] = dates.dt.date  # akshare hands back datetime.date objects
        table.insert(1, "股票代码", symbol)
        return table

    def stock_zh_index_daily(self, symbol):
        self.calls.append(("stock_zh_index_daily", symbol))
        return pd.read_csv(self.data / "index" / f"{symbol}.csv")

    def tool_trade_date_hist_sina(self):
        self.calls.append(("tool_trade_date_hist_sina",))
        dates = pd.read_csv(self.data / "index" / "sh000300.csv", usecols=["date"])["date"]
        return pd.DataFrame({"trade_date": pd.to_datetime(dates).dt.date})

    def stock_board_concept_name_em(self):
        self.calls.append(("stock_board_concept_name_em",))
        return pd.DataFrame({
            "排名": [1, 2, 3],
            "板块名称": ["Sora概念", "ChatGPT概念", "AIGC概念"],
            "板块代码": ["BK2090", "BK1092", "BK1093"],
            "最新价": [1000.0, 1100.0, 1200.0],
        })

    def stock_board_concept_cons_em(self, symbol):
        self.calls.append(("stock_board_concept_cons_em", symbol))
        name = {"BK2090": "sora", "BK1092": "chatgpt", "Sora概念": "sora"}[symbol]
        members = pd.read_csv(self.data / "concepts" / f"{name}.csv", dtype={"code": str})
        return pd.DataFrame({"序号": range(1, len(members) + 1), "代码": members["code"],
                             "名称": members["name"], "最新价": 10.0})

    def hist_calls(self):
        return [c for c in self.calls if c[0] == "stock_zh_a_hist"]


class FakeTime:
    """An injectable clock and sleep: sleeping advances the clock, and is recorded."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def api(shared_data) -> FakeApi:
    return FakeApi(shared_data)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def make_source(api, fake_time, **kw) -> Akshare:
    kw.setdefault("min_interval", 0.0)
    return Akshare(api, sleep=fake_time.sleep, clock=fake_time.clock, **kw)


def store_state(root: Path) -> dict[str, str]:
    """SHA-256 of every file under the store root ({} when there is none)."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def csv_rows(shared_data: Path, code: str) -> pd.DataFrame:
    return pd.read_csv(shared_data / "ashare" / "daily" / f"{code}.csv", dtype={"日期": str})


# --- end to end --------------------------------------------------------------------------------

def test_fetch_two_codes_qfq_reads_back_exactly(api, fake_time, shared_data, tmp_path):
    store = Store(tmp_path / "store")
    summary = fetch_stocks(store, ["688039", "300624"], "2021-01-01", "2024-05-22", adjust="qfq",
                           source=make_source(api, fake_time), progress=False, today=TODAY)
    assert summary["dataset"] == "stock_qfq"
    assert summary["codes"] == ["688039", "300624"]
    bars = store.load("stock_qfq")
    for code in ("688039", "300624"):
        assert (bars["code"] == code).sum() == len(csv_rows(shared_data, code))
    assert summary["rows"] == len(bars)
    bar = bars[(bars["code"] == "688039") & (bars["date"] == pd.Timestamp("2024-02-08"))].iloc[0]
    assert (bar["open"], bar["close"], bar["pct_change"]) == (17.45, 19.69, 13.49)
    raw = csv_rows(shared_data, "688039").set_index("日期").loc["2024-02-08"]
    assert bar["volume"] == raw["成交量"] * 100 == 3_711_800
    manifest = store.manifest("stock_qfq")
    assert manifest["adjust"] == "qfq" and manifest["as_of"] == "2024-05-22"
    assert [c[4] for c in api.hist_calls()] == ["qfq", "qfq"]


def test_fetch_none_stores_traded_prices_and_hfq_factor(api, fake_time, shared_data, tmp_path):
    store = Store(tmp_path / "store")
    fetch_stocks(store, ["688039"], "2023-01-01", "2024-05-22", adjust="none",
                 source=make_source(api, fake_time), progress=False, today=TODAY)
    bars = store.load("stock_raw")
    assert store.manifest("stock_raw")["adjust"] == "raw"
    assert sorted(c[4] for c in api.hist_calls()) == ["", "hfq"]
    raw = csv_rows(shared_data, "688039")
    raw = raw[raw["日期"] >= "2023-01-01"]
    np.testing.assert_allclose(bars["close"].to_numpy(), raw["收盘"].to_numpy())  # traded, not adjusted
    np.testing.assert_allclose(bars["adj_factor"].to_numpy(), hfq_factor(bars["date"]), rtol=1e-12)
    day = bars.set_index("date").loc[pd.Timestamp("2024-02-08")]
    assert day["adj_factor"] == pytest.approx(1.55) and day["close"] == 19.69


def test_incremental_fetch_requests_only_missing_dates(api, fake_time, shared_data, tmp_path):
    store = Store(tmp_path / "store")
    source = make_source(api, fake_time)
    fetch_stocks(store, ["688039"], "2024-01-01", "2024-01-31", adjust="none", source=source,
                 progress=False, today=TODAY)
    api.calls.clear()
    summary = fetch_stocks(store, ["688039"], "2024-01-01", "2024-05-22", adjust="none", source=source,
                           progress=False, today=TODAY)
    assert sorted(api.hist_calls()) == [
        ("stock_zh_a_hist", "688039", "20240201", "20240522", ""),
        ("stock_zh_a_hist", "688039", "20240201", "20240522", "hfq"),
    ]
    bars = store.load("stock_raw")
    expected = csv_rows(shared_data, "688039")
    expected = expected[expected["日期"] >= "2024-01-01"]
    assert len(bars) == len(expected) and not bars.duplicated(["code", "date"]).any()
    assert summary["rows"] == (expected["日期"] >= "2024-02-01").sum()

    # Up to date: no call at all.
    api.calls.clear()
    summary = fetch_stocks(store, ["688039"], "2024-01-01", "2024-05-22", adjust="none", source=source,
                           progress=False, today=TODAY)
    assert api.calls == [] and summary["skipped"] == ["688039"] and summary["rows"] == 0


def test_incremental_fetch_with_no_new_bars_is_not_an_error(api, fake_time, tmp_path):
    store = Store(tmp_path / "store")
    source = make_source(api, fake_time, retries=3)
    fetch_stocks(store, ["688039"], "2024-05-01", "2024-05-22", adjust="hfq", source=source,
                 progress=False, today=TODAY)
    before = store_state(store.root)
    api.calls.clear()
    # The shared data ends on 2024-05-22: akshare would answer empty for the next two days.
    summary = fetch_stocks(store, ["688039"], "2024-05-01", "2024-05-24", adjust="hfq", source=source,
                           progress=False, today=dt.date(2024, 5, 24))
    assert api.hist_calls() == [("stock_zh_a_hist", "688039", "20240523", "20240524", "hfq")]  # no retries
    assert summary["skipped"] == ["688039"] and summary["codes"] == []
    assert store_state(store.root) == before


def test_incremental_fetch_skips_when_the_calendar_has_no_new_session(api, fake_time, tmp_path):
    store = Store(tmp_path / "store")
    source = make_source(api, fake_time)
    fetch_index(store, ["sh000300"], source=source, today=TODAY)  # its dates are the sessions
    fetch_stocks(store, ["688039"], "2024-05-01", "2024-05-17", adjust="hfq", source=source,
                 progress=False, today=TODAY)  # 2024-05-17 is a Friday
    api.calls.clear()
    summary = fetch_stocks(store, ["688039"], "2024-05-01", "2024-05-19", adjust="hfq", source=source,
                           progress=False, today=TODAY)
    assert api.calls == [] and summary["skipped"] == ["688039"]


def test_qfq_refetch_replaces_the_code_from_its_stored_start(api, fake_time, tmp_path):
    store = Store(tmp_path / "store")
    source = make_source(api, fake_time)
    fetch_stocks(store, ["688039"], "2024-01-01", "2024-03-29", source=source, progress=False, today=TODAY)
    api.calls.clear()
    fetch_stocks(store, ["688039"], "2024-03-01", "2024-05-22", source=source, progress=False, today=TODAY)
    # A new qfq series re-bases history: the whole stored span is fetched again, not patched.
    assert api.hist_calls() == [("stock_zh_a_hist", "688039", "20240102", "20240522", "qfq")]
    assert store.load("stock_qfq")["date"].min() == pd.Timestamp("2024-01-02")


def test_incremental_fetch_also_fills_missing_history_before_the_first_bar(api, fake_time, tmp_path):
    store = Store(tmp_path / "store")
    source = make_source(api, fake_time)
    fetch_stocks(store, ["688039"], "2024-03-01", "2024-05-22", adjust="hfq", source=source,
                 progress=False, today=TODAY)
    api.calls.clear()
    fetch_stocks(store, ["688039"], "2024-01-01", "2024-05-22", adjust="hfq", source=source,
                 progress=False, today=TODAY)
    assert api.hist_calls() == [("stock_zh_a_hist", "688039", "20240101", "20240229", "hfq")]
    assert store.load("stock_hfq")["date"].min() == pd.Timestamp("2024-01-02")


def test_qfq_refetch_of_an_earlier_range_keeps_later_history(api, fake_time, tmp_path):
    store = Store(tmp_path / "store")
    source = make_source(api, fake_time)
    fetch_stocks(store, ["688039"], "2024-03-01", "2024-05-22", source=source, progress=False, today=TODAY)
    api.calls.clear()
    fetch_stocks(store, ["688039"], "2024-01-01", "2024-02-29", source=source, progress=False, today=TODAY)
    assert api.hist_calls() == [("stock_zh_a_hist", "688039", "20240101", "20240522", "qfq")]
    dates = store.load("stock_qfq")["date"]
    assert (dates.min(), dates.max()) == (pd.Timestamp("2024-01-02"), pd.Timestamp("2024-05-22"))


# --- failures: retries, timeouts, bad tables, atomicity ------------------------------------------

class Flaky(FakeApi):
    """Raises ``errors`` (one per call, in order) before answering; ``None`` answers."""

    def __init__(self, data, errors):
        super().__init__(data)
        self.errors = list(errors)

    def stock_zh_a_hist(self, **kw):
        if self.errors:
            err = self.errors.pop(0)
            if err is not None:
                self.calls.append(("stock_zh_a_hist", kw["symbol"], kw["start_date"], kw["end_date"], "raised"))
                raise err
        return super().stock_zh_a_hist(**kw)


def test_connection_errors_are_retried_with_growing_backoff(shared_data, fake_time, tmp_path):
    api = Flaky(shared_data, [ConnectionError("reset by peer"), ConnectionError("reset by peer")])
    store = Store(tmp_path / "store")
    source = make_source(api, fake_time, retries=4, backoff=2.0)
    summary = fetch_stocks(store, ["688039"], "2024-01-01", "2024-05-22", source=source, progress=False,
                           today=TODAY)
    assert fake_time.sleeps == [2.0, 4.0]
    assert len(api.hist_calls()) == 3 and summary["calls"] == 3
    assert summary["codes"] == ["688039"] and len(store.load("stock_qfq")) > 0


def test_a_source_that_always_fails_raises_and_leaves_the_store_unchanged(shared_data, fake_time, tmp_path):
    store = Store(tmp_path / "store")
    good = make_source(FakeApi(shared_data), fake_time)
    fetch_stocks(store, ["300624"], "2024-01-01", "2024-05-22", source=good, progress=False, today=TODAY)
    before = store_state(store.root)
    api = Flaky(shared_data, [ConnectionError("Connection reset by peer")] * 10)
    with pytest.raises(SourceError) as exc:
        fetch_stocks(store, ["688039"], "2024-01-01", "2024-05-22",
                     source=make_source(api, fake_time, retries=3, streak=10), progress=False, today=TODAY)
    msg = str(exc.value)
    assert "\n" not in msg
    for part in ("stock_zh_a_hist 688039", "4 attempt", "ConnectionError: Connection reset by peer",
                 "the server may be throttling: try later", "data already in the store is unaffected"):
        assert part in msg
    assert fake_time.sleeps == [2.0, 4.0, 8.0]
    assert store_state(store.root) == before


def test_no_network_is_said_at_once_and_leaves_the_store_unchanged(shared_data, fake_time, tmp_path):
    api = Flaky(shared_data, [OSError("[Errno 101] Network is unreachable")] * 10)
    store = Store(tmp_path / "store")
    with pytest.raises(SourceError, match="^no network: .*hypebt data import FOLDER"):
        fetch_stocks(store, ["688039", "300624"], "2024-01-01", "2024-05-22",
                     source=make_source(api, fake_time, retries=3), progress=False, today=TODAY)
    assert len(api.hist_calls()) == 1 and fake_time.sleeps == []
    assert store_state(store.root) == {}


def test_a_call_that_hangs_past_the_timeout_raises(shared_data, fake_time, tmp_path):
    release = threading.Event()

    class Hanging(FakeApi):
        def stock_zh_a_hist(self, **kw):
            self.calls.append(("stock_zh_a_hist", kw["symbol"]))
            release.wait(10)
            return super().stock_zh_a_hist(**kw)

    api = Hanging(shared_data)
    store = Store(tmp_path / "store")
    try:
        with pytest.raises(SourceError, match=r"stock_zh_a_hist 688039 .*no answer within 0\.2s"):
            fetch_stocks(store, ["688039"], "2024-01-01", "2024-05-22",
                         source=make_source(api, fake_time, retries=1, timeout=0.2),
                         progress=False, today=TODAY)
    finally:
        release.set()
    assert len(api.calls) == 2  # the timeout was retried once
    assert store_state(store.root) == {}


def test_an_empty_table_is_recorded_once_not_retried_and_stores_nothing(shared_data, fake_time, tmp_path):
    class Empty(FakeApi):
        def stock_zh_a_hist(self, **kw):
            self.calls.append(("stock_zh_a_hist", kw["symbol"]))
            return pd.DataFrame()

    api = Empty(shared_data)
    store = Store(tmp_path / "store")
    summary = fetch_stocks(store, ["688039"], "2024-01-01", "2024-05-22",
                           source=make_source(api, fake_time, retries=2), progress=False, today=TODAY)
    assert summary["empty"] == ["688039"] and "stock_zh_a_hist 688039" in summary["why"]["688039"]
    assert len(api.calls) == 1
    assert store_state(store.root) == {}


def test_renamed_columns_name_the_missing_column_and_akshare_version(shared_data, fake_time, tmp_path):
    class Renamed(FakeApi):
        def stock_zh_a_hist(self, **kw):
            return super().stock_zh_a_hist(**kw).rename(columns={"日期": "date_"})

    api = Renamed(shared_data)
    store = Store(tmp_path / "store")
    with pytest.raises(SourceError) as exc:
        fetch_stocks(store, ["688039"], "2024-01-01", "2024-05-22", source=make_source(api, fake_time),
                     progress=False, today=TODAY)
    msg = str(exc.value)
    assert "without column(s) 日期" in msg and "date_" in msg
    assert "1.19.5-fake" in msg and "upgrade or pin akshare" in msg
    assert len(api.hist_calls()) == 1  # a changed table is not transient: no retry
    assert store_state(store.root) == {}


def test_a_bad_bar_from_akshare_is_a_source_error(shared_data, fake_time, tmp_path):
    class BadBar(FakeApi):
        def stock_zh_a_hist(self, **kw):
            table = super().stock_zh_a_hist(**kw)
            table.loc[3, "最高"] = table.loc[3, "最低"] - 1
            return table

    store = Store(tmp_path / "store")
    with pytest.raises(SourceError, match=r"row 4: field 'high'.*akshare delivered this bar"):
        fetch_stocks(store, ["688039"], "2024-01-01", "2024-05-22",
                     source=make_source(BadBar(shared_data), fake_time), progress=False, today=TODAY)
    assert store_state(store.root) == {}


def test_one_code_failing_mid_batch_keeps_the_codes_before_it_and_a_rerun_resumes(shared_data, fake_time, tmp_path):
    # 300624 answers, 688039 fails for good, 301171 is never reached.
    api = Flaky(shared_data, [None] + [ConnectionError("timed out")] * 10)
    store = Store(tmp_path / "store")
    with pytest.raises(SourceError, match="688039.*1 of 3 codes are stored; run the same command again"):
        fetch_stocks(store, ["300624", "688039", "301171"], "2024-01-01", "2024-05-22",
                     source=make_source(api, fake_time, retries=2), progress=False, today=TODAY)
    assert [c[1] for c in api.hist_calls()][0] == "300624"
    assert "301171" not in [c[1] for c in api.hist_calls()]
    assert set(store.load("stock_qfq")["code"]) == {"300624"}
    again = FakeApi(shared_data)
    summary = fetch_stocks(store, ["300624", "688039", "301171"], "2024-01-01", "2024-05-22",
                           source=make_source(again, fake_time), progress=False, today=TODAY)
    assert [c[1] for c in again.hist_calls()] == ["688039", "301171"]  # 300624's stored range is skipped
    assert summary["skipped"] == ["300624"] and summary["codes"] == ["688039", "301171"]


def test_raw_without_its_hfq_series_stores_nothing_for_the_code(shared_data, fake_time, tmp_path):
    class NoHfq(FakeApi):
        def stock_zh_a_hist(self, **kw):
            if kw["adjust"] == "hfq":
                raise ConnectionError("reset")
            return super().stock_zh_a_hist(**kw)

    store = Store(tmp_path / "store")
    with pytest.raises(SourceError, match=r"688039 \(hfq"):
        fetch_stocks(store, ["688039"], "2024-01-01", "2024-05-22", adjust="none",
                     source=make_source(NoHfq(shared_data), fake_time, retries=1), progress=False, today=TODAY)
    assert store_state(store.root) == {}


def test_commit_every_keeps_whole_codes_fetched_before_a_failure(shared_data, fake_time, tmp_path):
    api = Flaky(shared_data, [None] + [ConnectionError("timed out")] * 10)
    store = Store(tmp_path / "store")
    with pytest.raises(SourceError, match="1 of 3 codes are stored"):
        fetch_stocks(store, ["300624", "688039", "301171"], "2024-01-01", "2024-05-22", commit_every=1,
                     source=make_source(api, fake_time, retries=2), progress=False, today=TODAY)
    bars = store.load("stock_qfq")
    assert set(bars["code"]) == {"300624"}
    expected = csv_rows(shared_data, "300624")
    assert len(bars) == (expected["日期"] >= "2024-01-01").sum()


# --- rate limiting -------------------------------------------------------------------------------

def test_consecutive_calls_wait_min_interval(api, fake_time):
    class Slow(FakeApi):
        def stock_zh_index_daily(self, symbol):
            fake_time.now += 0.3  # the call itself takes 0.3 s
            return super().stock_zh_index_daily(symbol)

    source = Akshare(Slow(api.data), min_interval=1.0, max_interval=1.0, sleep=fake_time.sleep, clock=fake_time.clock)
    source.index_daily("sh000300")
    assert fake_time.sleeps == []  # the first call does not wait
    source.index_daily("sh000300")
    source.index_daily("sh000300")
    assert fake_time.sleeps == [pytest.approx(1.0), pytest.approx(1.0)]
    fake_time.now += 0.4  # time spent elsewhere counts towards the gap
    source.index_daily("sh000300")
    assert fake_time.sleeps[-1] == pytest.approx(0.6)
    fake_time.now += 5
    source.index_daily("sh000300")
    assert len(fake_time.sleeps) == 3


def test_the_timeout_is_passed_on_to_functions_that_take_one(api, fake_time):
    seen = []

    class WithTimeout(FakeApi):
        def stock_zh_a_hist(self, symbol, period, start_date, end_date, adjust, timeout=None):
            seen.append(timeout)  # lets requests give up, so the worker thread ends too
            return super().stock_zh_a_hist(symbol, period, start_date, end_date, adjust)

    source = make_source(WithTimeout(api.data), fake_time, timeout=7.5)
    source.stock_daily("688039", "2024-02-01", "2024-02-29", "qfq")
    assert seen == [7.5]


# --- index, calendar ------------------------------------------------------------------------------

def test_fetch_index_and_calendar(api, fake_time, shared_data, tmp_path):
    store = Store(tmp_path / "store")
    source = make_source(api, fake_time)
    summary = fetch_index(store, ["SH000300", "sh000001"], source=source, start="2021-01-01", end="2024-05-22",
                          today=TODAY)
    assert summary["codes"] == ["sh000300", "sh000001"]
    bars = store.load("index")
    raw = pd.read_csv(shared_data / "index" / "sh000300.csv")
    raw = raw[(raw["date"] >= "2021-01-01") & (raw["date"] <= "2024-05-22")]
    csi = bars[bars["code"] == "sh000300"]
    assert len(csi) == len(raw)
    np.testing.assert_allclose(csi["close"].to_numpy(), raw["close"].to_numpy())

    cal = fetch_calendar(store, source=source)
    assert cal["sessions"] == len(pd.read_csv(shared_data / "index" / "sh000300.csv"))
    sessions = store.load_calendar()
    assert pd.Timestamp("2024-02-08") in sessions and pd.Timestamp("2024-02-09") not in sessions  # Spring Festival
    assert store.manifest("calendar")["sources"] == ["akshare:tool_trade_date_hist_sina"]


def test_bad_codes_are_input_errors_before_any_call(api, fake_time, tmp_path):
    store = Store(tmp_path / "store")
    with pytest.raises(InputError, match="leading zeros lost"):
        fetch_stocks(store, ["2230"], source=make_source(api, fake_time), progress=False, today=TODAY)
    with pytest.raises(InputError, match="sh000300"):
        fetch_index(store, ["000300"], source=make_source(api, fake_time))
    assert api.calls == []


# --- concept boards -------------------------------------------------------------------------------

@pytest.mark.parametrize("board", ["Sora概念", "BK2090"])
def test_concept_snapshot_writes_a_dated_concept_universe(api, fake_time, shared_data, tmp_path, board):
    out = snapshot_concept(board, tmp_path / "universes" / "sora_em.csv", source=make_source(api, fake_time),
                           today=dt.date(2024, 6, 3))
    written = pd.read_csv(out, dtype=str)
    expected = pd.read_csv(shared_data / "concepts" / "sora.csv", dtype=str)
    assert list(written["code"]) == list(expected["code"])  # leading zeros kept, order kept
    assert set(written["snapshot_date"]) == {"2024-06-03"} and set(written["kind"]) == {"concept"}
    assert set(written["source"]) == {"akshare stock_board_concept_cons_em Sora概念 (BK2090) on 2024-06-03"}
    universe = read_universe(out)
    assert universe.look_ahead and universe.names["688039"] == "当虹科技"


def test_unknown_concept_board_suggests_a_close_name(api, fake_time, tmp_path):
    with pytest.raises(InputError, match=r"unknown concept board 'Sora概' \(did you mean 'Sora概念'\?\)"):
        snapshot_concept("Sora概", tmp_path / "x.csv", source=make_source(api, fake_time), today=TODAY)
    assert not (tmp_path / "x.csv").exists()


def test_importing_sources_does_not_import_akshare():
    code = "import sys, hypebt.data.sources; print('akshare' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")})
    assert out.stdout.strip() == "False"
