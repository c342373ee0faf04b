"""The shared basics of issue 9: one date parser, one file hasher, one calendar definition,
the fee date never defaulted, the data bootstrap outside the CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil

import pandas as pd
import pytest

from helpers_engine import BENCH, bars, write_store
from hypebt.core import fsio
from hypebt.core.dates import BEIJING, exchange_day, parse_date, parse_time
from hypebt.core.errors import InputError
from hypebt.data.calendar import store_sessions
from hypebt.data.store import open_store
from hypebt.market import rules as R
from hypebt.market.broker import AShareCommInfo


@pytest.mark.parametrize("value, want", [
    ("2024-02-19", dt.date(2024, 2, 19)),
    (" 2024-02-19 ", dt.date(2024, 2, 19)),
    (dt.date(2024, 2, 19), dt.date(2024, 2, 19)),
    (dt.datetime(2024, 2, 19, 15, 0), dt.date(2024, 2, 19)),
    (pd.Timestamp("2024-02-19 09:30"), dt.date(2024, 2, 19)),
])
def test_parse_date_accepts(value, want):
    assert parse_date(value, "x.toml: start =") == want


@pytest.mark.parametrize("value, message", [
    ("2024-1-2", "x.toml: start = '2024-1-2' is not a date; write '2024-01-02'"),
    ("2024/1/02", "x.toml: start = '2024/1/02' is not a date; write '2024-01-02'"),
    ("2024-13-01", "x.toml: start = '2024-13-01' is not a date; write it like 2024-02-19"),
    ("20240102", "x.toml: start = '20240102' is not a date; write it like 2024-02-19"),
    (20240102, "x.toml: start = 20240102 is not a date; write it like 2024-02-19"),
])
def test_parse_date_refuses_with_the_padded_form(value, message):
    with pytest.raises(InputError) as exc:
        parse_date(value, "x.toml: start =")
    assert str(exc.value) == message


def test_exchange_day_is_the_beijing_date():
    assert BEIJING == "Asia/Shanghai"
    assert exchange_day("2024-02-15T18:00Z") == pd.Timestamp("2024-02-16")
    assert exchange_day("2024-02-15T15:59Z") == pd.Timestamp("2024-02-15")
    assert exchange_day(dt.date(2024, 2, 15)) == pd.Timestamp("2024-02-15")
    with pytest.raises(InputError, match="not a date: 'soon'; use YYYY-MM-DD"):
        exchange_day("soon")


def test_parse_time_reads_beijing_when_no_offset():
    ts, clock = parse_time("2024-02-16T02:00", "x.csv: row 1", "time")
    assert clock and ts == pd.Timestamp("2024-02-15T18:00Z")
    ts, clock = parse_time("2024-02-16", "x.csv: row 1", "time")
    assert not clock and str(ts.tz) == BEIJING


def test_one_file_hasher(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"hypebt" * 1000)
    assert fsio.file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


# --- where sessions come from ---------------------------------------------------------------------

DAYS = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]


def _store(tmp_path, index_days=DAYS):
    stock = bars(10.0, [(d, 10, 10, 10, 10) for d in DAYS[1:]])
    return write_store(tmp_path / "store", {"600000": stock}, sessions=index_days)


def test_sessions_prefer_the_exchange_calendar(tmp_path):
    store = _store(tmp_path)
    exchange = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]
    store.write_calendar(exchange, source="test")
    assert list(store_sessions(store)) == list(pd.DatetimeIndex(exchange))


def test_sessions_then_csi300_then_stock_dates(tmp_path):
    store = _store(tmp_path)
    assert list(store_sessions(store)) == list(pd.DatetimeIndex(DAYS))  # CSI 300, not the stock's 3 days
    other = _store(tmp_path / "other", index_days=DAYS[:2])
    idx = other.load("index")
    idx["code"] = "sz399006"  # an index other than CSI 300 never decides the sessions
    shutil.rmtree(other.root / "index")
    other.write("index", idx, source="test", adjust="none")
    assert list(store_sessions(other)) == list(pd.DatetimeIndex(DAYS[1:]))  # the stock's dates
    assert store_sessions(other, stock_dates=False) is None
    assert BENCH == "sh000300"


def test_open_store_follows_home_then_env_then_workspace(tmp_path, monkeypatch):
    monkeypatch.delenv("HYPEBT_HOME", raising=False)
    assert open_store(None, tmp_path).root == tmp_path / "data" / "store"
    monkeypatch.setenv("HYPEBT_HOME", str(tmp_path / "env"))
    assert open_store(None, tmp_path).root == tmp_path / "env"
    assert open_store(tmp_path / "home", tmp_path).root == tmp_path / "home"


# --- the fee date ---------------------------------------------------------------------------------

def test_a_commission_without_a_trade_date_is_an_error():
    info = AShareCommInfo(rules=R.Rules(), code="600000")
    with pytest.raises(RuntimeError, match="600000: commission asked outside a fill"):
        info.getcommission(-1000, 10.0)


def test_the_commission_uses_the_fill_date_stamp_duty():
    """Stamp duty on sells halved on 2023-08-28: the fee follows the fill's date, never today's."""
    info = AShareCommInfo(rules=R.Rules(), code="600000")
    info.trade_date = dt.date(2023, 8, 25)
    before = info.getcommission(-1000, 10.0)
    info.trade_date = dt.date(2023, 8, 28)
    after = info.getcommission(-1000, 10.0)
    assert before == pytest.approx(R.fees("sell", 1000, 10.0, dt.date(2023, 8, 25), R.Rules()).total)
    assert before - after == pytest.approx(10_000 * 0.0005)
