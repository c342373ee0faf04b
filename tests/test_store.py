"""The parquet store: the real market read back exactly, manifests, atomic writes, integrity, merges.

The real-data tests import ``shared/data/ashare/market.parquet`` and the CSI 300
CSV once per module (about 10 s) into a temporary store. Everything that
damages a store works on small hand-made stores instead.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from helpers_engine import data_file

import hypebt
import hypebt.data.store as store_mod
from hypebt.cli.main import main
from hypebt.core.errors import DataError, InputError, OutputError
from hypebt.data.importers import import_paths
from hypebt.core.paths import store_root
from hypebt.data.calendar import store_sessions
from hypebt.data.store import Store

MARKET_FILE_ROWS = 3_961_277
NONPOSITIVE_872541 = ["2021-01-05", "2021-01-07", "2021-01-08", "2021-04-07"]
STORE_ROWS = MARKET_FILE_ROWS - len(NONPOSITIVE_872541)  # 3,961,273
AK_TO_CANON = {"日期": "date", "开盘": "open", "收盘": "close", "最高": "high", "最低": "low", "成交量": "volume",
               "成交额": "amount", "涨跌幅": "pct_change", "换手率": "turnover"}


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --- the real market, imported once --------------------------------------------------------------

@pytest.fixture(scope="module")
def real(shared_data, tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("real") / "store")
    market = shared_data / "ashare" / "market.parquet"
    index = shared_data / "index" / "sh000300.csv"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = import_paths(store, [market, index])
    return SimpleNamespace(store=store, report=report, warnings=[str(w.message) for w in caught],
                           market=market, index=index, data=shared_data, bars=store.load("stock_qfq"))


@pytest.mark.realdata
def test_real_row_counts(real):
    assert pq.read_metadata(real.market).num_rows == MARKET_FILE_ROWS
    bars = real.bars
    assert len(bars) == STORE_ROWS == real.store.manifest("stock_qfq")["rows"]
    assert bars["code"].nunique() == 5_363
    sessions = np.sort(bars["date"].unique())
    assert len(sessions) == 818
    assert (str(pd.Timestamp(sessions[0]).date()), str(pd.Timestamp(sessions[-1]).date())) == \
        ("2021-01-04", "2024-05-22")
    assert list(bars.columns) == ["code", "date", "open", "high", "low", "close", "volume", "amount",
                                  "pct_change", "turnover"]
    assert not bars.duplicated(["code", "date"]).any()
    assert bars.equals(bars.sort_values(["code", "date"], kind="stable").reset_index(drop=True))


@pytest.mark.realdata
def test_real_qfq_nonpositive_rows_of_872541_dropped_with_warning(real):
    msg = f"{real.market}: dropped 4 row(s): price <= 0 after forward adjustment (872541)"
    assert real.report.warnings == [msg]
    assert real.warnings == [msg]
    rows = real.bars[real.bars["code"] == "872541"]
    assert not rows["date"].isin(pd.to_datetime(NONPOSITIVE_872541)).any()
    assert (rows[["open", "high", "low", "close"]] > 0).all().all()
    market = pq.read_table(real.market, filters=[("code", "==", "872541")]).to_pandas()
    assert len(rows) == len(market) - 4


@pytest.mark.realdata
def test_real_known_bar(real):
    bar = real.bars[(real.bars["code"] == "688039") & (real.bars["date"] == "2024-02-08")]
    assert len(bar) == 1
    bar = bar.iloc[0]
    assert (bar["open"], bar["close"], bar["pct_change"]) == (17.45, 19.69, 13.49)
    assert bar["low"] <= bar["open"] <= bar["high"] and bar["low"] <= bar["close"] <= bar["high"]


@pytest.mark.realdata
def test_real_store_equals_market_file(real):
    """Every stored value is the file's, volume in shares (lots x 100), minus the 4 dropped rows."""
    market = pd.read_parquet(real.market)
    market = market[(market[["开盘", "收盘", "最高", "最低"]] > 0).all(axis=1)].reset_index(drop=True)
    bars = real.bars
    assert len(market) == len(bars)
    assert (market["code"].to_numpy(object) == bars["code"].to_numpy(object)).all()
    np.testing.assert_array_equal(pd.to_datetime(market["日期"], format="%Y-%m-%d").to_numpy("datetime64[ns]"),
                                  bars["date"].to_numpy("datetime64[ns]"))
    for zh, en in AK_TO_CANON.items():
        if en == "date":
            continue
        expected = market[zh].to_numpy("float64") * (100 if en == "volume" else 1)
        np.testing.assert_array_equal(bars[en].to_numpy("float64"), expected, err_msg=en)


@pytest.mark.realdata
@pytest.mark.parametrize("code", ["688039", "002230", "300750", "000333", "001330"])
def test_real_codes_equal_the_per_stock_csvs(real, code):
    csv = pd.read_csv(real.data / "ashare" / "daily" / f"{code}.csv", dtype={"日期": str})
    got = real.store.load("stock_qfq", codes=[code])
    assert len(got) == len(csv) > 300
    assert set(got["code"]) == {code}
    assert list(got["date"].dt.strftime("%Y-%m-%d")) == list(csv["日期"])
    for zh, en in AK_TO_CANON.items():
        if en != "date":
            np.testing.assert_array_equal(got[en].to_numpy("float64"),
                                          csv[zh].to_numpy("float64") * (100 if en == "volume" else 1),
                                          err_msg=f"{code} {en}")


@pytest.mark.realdata
def test_real_manifest(real):
    m = real.store.manifest("stock_qfq")
    path = data_file(real.store.root, "stock_qfq")
    assert m["sha256"] == sha256(path) and m["file"] == f"bars-{m['sha256'][:16]}.parquet"
    assert m["sources"] == ["import:market.parquet,sh000300.csv"]
    assert (m["dataset"], m["kind"], m["adjust"], m["price_basis"]) == \
        ("stock_qfq", "stock", "qfq", "adjusted (qfq)")
    assert (m["as_of"], m["first_date"], m["last_date"]) == ("2024-05-22", "2021-01-04", "2024-05-22")
    assert (m["rows"], m["codes"]) == (STORE_ROWS, 5_363)
    assert m["columns"] == list(real.bars.columns)
    assert m["hypebt_version"] == hypebt.__version__
    assert dt.datetime.fromisoformat(m["written_at"]).tzinfo is not None
    assert json.loads((real.store.root / "stock_qfq" / "manifest.json").read_text("utf-8")) == m
    w = real.report.written["stock_qfq"]
    assert (w["imported_rows"], w["imported_codes"], w["imported_first"], w["imported_last"]) == \
        (STORE_ROWS, 5_363, "2021-01-04", "2024-05-22")


@pytest.mark.realdata
def test_real_index(real):
    csv = pd.read_csv(real.index)
    m = real.store.manifest("index")
    idx = real.store.load("index")
    assert m["rows"] == len(idx) == len(csv) == 3_993
    assert (m["adjust"], m["codes"], m["first_date"], m["last_date"]) == ("none", 1, "2010-01-04", "2026-06-16")
    assert m["sha256"] == sha256(data_file(real.store.root, "index"))
    assert set(idx["code"]) == {"sh000300"}
    for col in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(idx[col].to_numpy("float64"), csv[col].to_numpy("float64"), err_msg=col)
    # CSI 300 trades every session: its dates in the stock range are the stocks' 818 sessions
    sessions = store_sessions(real.store)
    in_range = sessions[(sessions >= "2021-01-04") & (sessions <= "2024-05-22")]
    assert in_range.equals(pd.DatetimeIndex(np.sort(real.bars["date"].unique())))


@pytest.mark.realdata
def test_real_load_filters(real):
    bars = real.bars
    got = real.store.load("stock_qfq", codes=["688039", "300750"], start="2024-01-02", end="2024-02-08")
    want = bars[bars["code"].isin(["688039", "300750"]) & (bars["date"] >= "2024-01-02")
                & (bars["date"] <= "2024-02-08")].reset_index(drop=True)
    assert len(want) > 40
    pd.testing.assert_frame_equal(got, want)
    assert list(got["code"].unique()) == ["300750", "688039"]
    # start/end alone, and a column subset
    got = real.store.load("stock_qfq", start=dt.date(2024, 5, 22), columns=["code", "date", "close"])
    assert list(got.columns) == ["code", "date", "close"]
    assert len(got) == (bars["date"] == "2024-05-22").sum() > 5_000
    got = real.store.load("stock_qfq", end="2021-01-04")
    assert set(got["date"]) == {pd.Timestamp("2021-01-04")}
    # a code that is not stored gives no rows, not an error
    assert len(real.store.load("stock_qfq", codes=["600000", "689999"])) == \
        (bars["code"] == "600000").sum()


@pytest.mark.realdata
def test_real_code_ranges_and_quirks(real):
    ranges = real.store.code_ranges("stock_qfq")
    assert len(ranges) == 5_363 and ranges["rows"].sum() == STORE_ROWS
    assert str(ranges.loc["000001", "first"].date()) == "2024-01-02"  # Ping An Bank: 2024 only
    assert ranges["last"].max() == pd.Timestamp("2024-05-22")


@pytest.mark.realdata
def test_real_store_passes_check(real):
    assert real.store.check() == []
    assert [real.store.verify(d) for d in real.store.datasets()] == [None, None]


# --- small hand-made stores ----------------------------------------------------------------------

def canon(code: str, dates, base: float = 10.0) -> pd.DataFrame:
    """Canonical bars for ``code`` on ``dates``, prices base, base+0.5, base-0.5, base+0.2."""
    n = len(dates)
    return pd.DataFrame({
        "code": pd.array([code] * n, dtype="string"), "date": pd.to_datetime(dates).astype("datetime64[ns]"),
        "open": [base] * n, "high": [base + 0.5] * n, "low": [base - 0.5] * n, "close": [base + 0.2] * n,
        "volume": [1000.0] * n, "amount": [1e6] * n, "pct_change": [1.0] * n, "turnover": [0.1] * n,
    })


D4 = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]


@pytest.fixture
def small(tmp_path) -> Store:
    store = Store(tmp_path / "store")
    store.write("stock_qfq", pd.concat([canon("600519", D4), canon("000001", D4, 5.0)]), source="test:a",
                adjust="qfq")
    return store


def files(store: Store, dataset: str = "stock_qfq") -> dict[str, bytes]:
    folder = store.root / dataset
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


def test_write_sorts_and_records_manifest(small):
    bars = small.load("stock_qfq")
    assert list(bars["code"]) == ["000001"] * 4 + ["600519"] * 4
    m = small.manifest("stock_qfq")
    assert (m["rows"], m["codes"], m["first_date"], m["last_date"], m["as_of"]) == \
        (8, 2, "2024-01-02", "2024-01-05", "2024-01-05")
    assert m["sha256"] == sha256(data_file(small.root, "stock_qfq"))
    assert set(files(small)) == {f"bars-{m['sha256'][:16]}.parquet", "manifest.json"}


def test_explicit_as_of_and_sources_accumulate(small):
    small.write("stock_qfq", canon("300750", D4[:1]), source="test:b", adjust="qfq", as_of="2024-05-22")
    small.write("stock_qfq", canon("300750", D4[:1]), source="test:a", adjust="qfq")
    m = small.manifest("stock_qfq")
    assert m["sources"] == ["test:a", "test:b"]
    small.write("stock_qfq", canon("300750", D4[:1]), source="test:c", adjust="qfq", as_of="2024-05-22")
    assert small.manifest("stock_qfq")["as_of"] == "2024-05-22"


def test_replace_codes_drops_the_old_rows_of_incoming_codes(small):
    new = canon("600519", D4[2:], base=20.0)
    m = small.write("stock_qfq", new, source="test:b", adjust="qfq")
    bars = small.load("stock_qfq")
    mine = bars[bars["code"] == "600519"].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, new.reset_index(drop=True))
    other = bars[bars["code"] == "000001"].reset_index(drop=True)
    pd.testing.assert_frame_equal(other, canon("000001", D4, 5.0))
    assert m["rows"] == 6


def test_upsert_without_replace_codes(small):
    new = canon("600519", ["2024-01-05", "2024-01-08"], base=20.0)
    small.write("stock_qfq", new, source="test:b", adjust="qfq", replace_codes=False)
    mine = small.load("stock_qfq", codes=["600519"])
    assert list(mine["date"].dt.strftime("%Y-%m-%d")) == D4 + ["2024-01-08"]
    assert list(mine["open"]) == [10.0, 10.0, 10.0, 20.0, 20.0]  # the overlapping day takes the new bar
    assert small.manifest("stock_qfq")["rows"] == 9


def test_reimport_of_a_code_replaces_its_rows(tmp_path):
    store = Store(tmp_path / "store")
    header = "日期,开盘,收盘,最高,最低,成交量\n"
    (tmp_path / "600519.csv").write_text(header + "".join(f"{d},10,10,11,9,1\n" for d in D4), "utf-8")
    (tmp_path / "000001.csv").write_text(header + "".join(f"{d},5,5,6,4,1\n" for d in D4), "utf-8")
    import_paths(store, [tmp_path / "600519.csv", tmp_path / "000001.csv"])
    (tmp_path / "600519.csv").write_text(header + "2024-01-05,20,20,21,19,1\n", "utf-8")
    before = files(store)
    # Issue 26: a short file would drop stored bars: refused until --merge or --replace says which.
    with pytest.raises(InputError, match=r"600519: the store holds 4 bar\(s\) \(2024-01-02..2024-01-05\), the "
                                         r"file\(s\) 1 .*drop 3 stored bar\(s\) of 1 code\(s\): give --merge"):
        import_paths(store, [tmp_path / "600519.csv"])
    assert files(store) == before
    report = import_paths(store, [tmp_path / "600519.csv"], mode="replace")
    assert report.lines()[0] == ("imported 1 rows of 1 codes into stock_qfq (2024-01-05..2024-01-05); "
                                 "dataset now 5 rows")
    assert "note: stock_qfq: replaced the whole history of 1 code(s) (600519): 3 stored bar(s) not in the " \
           "file(s) were dropped" in report.lines()
    mine = store.load("stock_qfq", codes=["600519"])
    assert list(mine["open"]) == [20.0] and len(store.load("stock_qfq", codes=["000001"])) == 4
    (tmp_path / "600519.csv").write_text(header + "2024-01-04,30,30,31,29,1\n", "utf-8")
    report = import_paths(store, [tmp_path / "600519.csv"], mode="merge")
    assert list(store.load("stock_qfq", codes=["600519"])["open"]) == [30.0, 20.0]
    assert "note: stock_qfq: merged into the stored history of 1 code(s)" in report.lines()


def test_write_refuses_other_adjustment_and_unknown_dataset(small):
    before = files(small)
    with pytest.raises(InputError, match="dataset stock_qfq holds qfq prices, not hfq"):
        small.write("stock_qfq", canon("600519", D4), source="x", adjust="hfq")
    with pytest.raises(InputError, match=r"unknown dataset 'stock_qfg' \(did you mean 'stock_qfq'"):
        small.write("stock_qfg", canon("600519", D4), source="x", adjust="qfq")
    assert files(small) == before


def _crash_after_partial_write(monkeypatch, exc):
    real_write = pq.write_table

    def crashing(table, where, **kwargs):
        real_write(table, where, **kwargs)
        size = os.path.getsize(where)
        with open(where, "r+b") as fh:  # half the file made it to disk, then the process "died"
            fh.truncate(size // 2)
        raise exc

    monkeypatch.setattr(store_mod.pq, "write_table", crashing)


@pytest.mark.parametrize("exc,expected", [(RuntimeError("killed"), RuntimeError),
                                          (OSError(errno.ENOSPC, "No space left on device"), OutputError)])
def test_crash_mid_write_keeps_old_file_and_manifest(small, monkeypatch, exc, expected):
    before = files(small)
    old = small.load("stock_qfq")
    _crash_after_partial_write(monkeypatch, exc)
    with pytest.raises(expected) as info:
        small.write("stock_qfq", canon("300750", D4), source="test:b", adjust="qfq")
    if expected is OutputError:
        assert "the disk is full" in str(info.value)
    assert files(small) == before  # same names (no temp file left) and same bytes
    monkeypatch.undo()
    assert small.check() == []
    pd.testing.assert_frame_equal(small.load("stock_qfq"), old)


def test_crash_on_first_write_leaves_no_dataset(tmp_path, monkeypatch):
    store = Store(tmp_path / "store")
    _crash_after_partial_write(monkeypatch, RuntimeError("killed"))
    with pytest.raises(RuntimeError):
        store.write("stock_qfq", canon("600519", D4), source="x", adjust="qfq")
    assert files(store) == {}
    assert store.datasets() == []


def test_a_crash_before_the_manifest_switch_leaves_the_old_dataset_whole(small, monkeypatch):
    """Issue 26: the new data goes beside the old file; the manifest's rename is the switch. Killed
    before it, the old manifest and file stand and check clean; the next write removes the leftover."""
    old_files = files(small)
    old_rows = small.load("stock_qfq")

    def crashing(path, obj):
        raise RuntimeError("killed")

    monkeypatch.setattr(store_mod.fsio, "write_json", crashing)
    with pytest.raises(RuntimeError):
        small.write("stock_qfq", canon("300750", D4), source="test:b", adjust="qfq")
    monkeypatch.undo()
    left = set(files(small)) - set(old_files)
    assert len(left) == 1 and next(iter(left)).startswith("bars-")  # the new data, not switched to
    assert {k: files(small)[k] for k in old_files} == old_files
    assert small.check() == []
    pd.testing.assert_frame_equal(small.load("stock_qfq"), old_rows)
    m = small.write("stock_qfq", canon("300750", D4), source="test:b", adjust="qfq")
    assert set(files(small)) == {m["file"], "manifest.json"} and small.check() == []
    assert sorted(small.load("stock_qfq")["code"].unique()) == ["000001", "300750", "600519"]


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_truncate, _flip_byte], ids=["truncated", "modified"])
def test_check_and_load_catch_a_damaged_file(small, damage):
    path = data_file(small.root, "stock_qfq")
    damage(path)
    problems = small.check()
    assert problems == [f"{path}: content hash differs from its manifest (truncated or modified); "
                        "re-import it (test:a)"]
    with pytest.raises(DataError) as info:
        small.load("stock_qfq")
    assert str(info.value) == problems[0]
    if damage is _truncate:  # an unreadable file is a DataError even unverified, never a raw pyarrow error
        with pytest.raises(DataError, match="unreadable.*re-import the dataset"):
            small.load("stock_qfq", verify=False)
    # A re-import repairs it (issue 26): readable rows kept, an unreadable file dropped; it says which.
    m = small.write("stock_qfq", canon("300750", D4), source="x", adjust="qfq")
    assert small.check() == [] and "300750" in set(small.load("stock_qfq")["code"])
    assert "rebuilt" in m["repaired"] or "readable rows were kept" in m["repaired"]


def test_check_catches_missing_file_and_row_mismatch(small):
    mpath = small.root / "stock_qfq" / "manifest.json"
    m = json.loads(mpath.read_text("utf-8"))
    m["rows"] = 9
    mpath.write_text(json.dumps(m), "utf-8")
    assert small.check() == ["stock_qfq: 8 rows on disk, manifest says 9"]
    path = data_file(small.root, "stock_qfq")
    path.unlink()
    assert small.check() == [f"{path}: missing (the manifest lists 9 rows); re-import the dataset"]


def test_unreadable_manifest_is_a_data_error(small):
    (small.root / "stock_qfq" / "manifest.json").write_text("{not json", "utf-8")
    for call in (lambda: small.manifest("stock_qfq"), lambda: small.load("stock_qfq"), small.check):
        with pytest.raises(DataError, match="manifest unreadable.*re-import"):
            call()


def test_load_of_absent_dataset(tmp_path):
    store = Store(tmp_path / "nothing")
    with pytest.raises(DataError, match="no dataset 'index'; import or fetch it first"):
        store.load("index")
    with pytest.raises(DataError, match="no stock bars"):
        store.stock_dataset()
    assert store.datasets() == [] and store.check() == []


def test_load_filters_small(small):
    got = small.load("stock_qfq", codes=["600519"], start="2024-01-03", end=pd.Timestamp("2024-01-04"))
    assert list(got["code"]) == ["600519"] * 2
    assert list(got["date"].dt.strftime("%Y-%m-%d")) == D4[1:3]
    got = small.load("stock_qfq", codes=("000001", "600519"), columns=["code", "date"])
    assert list(got.columns) == ["code", "date"] and len(got) == 8
    assert len(small.load("stock_qfq", start="2024-02-01")) == 0


def test_load_with_no_codes_returns_no_rows(small):
    got = small.load("stock_qfq", codes=[])
    assert len(got) == 0 and list(got.columns)[:2] == ["code", "date"]


def test_store_works_without_hashlib_file_digest(tmp_path, monkeypatch):
    monkeypatch.delattr(hashlib, "file_digest")  # what Python 3.10's hashlib looks like
    store = Store(tmp_path / "store")
    store.write("stock_qfq", canon("600519", D4), source="x", adjust="qfq")
    assert store.check() == []


# --- where the store lives ------------------------------------------------------------------------

def test_store_root_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("HYPEBT_HOME", raising=False)
    assert store_root(None, tmp_path) == tmp_path / "data" / "store"
    monkeypatch.setenv("HYPEBT_HOME", str(tmp_path / "env"))
    assert store_root(None, tmp_path) == tmp_path / "env"
    assert store_root(tmp_path / "flag", tmp_path) == tmp_path / "flag"


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "600519.csv"
    path.write_text("日期,开盘,收盘,最高,最低,成交量\n2024-01-02,10,10,11,9,1\n", "utf-8")
    return path


def test_hypebt_home_moves_the_store(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HYPEBT_HOME", str(tmp_path / "env_store"))
    assert main(["data", "import", str(_csv(tmp_path))]) == 0
    assert Store(tmp_path / "env_store").datasets() == ["stock_qfq"]
    assert not (tmp_path / "data").exists()
    assert main(["data", "info"]) == 0
    assert f"store: {tmp_path / 'env_store'}" in capsys.readouterr().out


def test_home_flag_beats_hypebt_home(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HYPEBT_HOME", str(tmp_path / "env_store"))
    assert main(["--home", str(tmp_path / "flag_store"), "data", "import", str(_csv(tmp_path))]) == 0
    assert Store(tmp_path / "flag_store").datasets() == ["stock_qfq"]
    assert not (tmp_path / "env_store").exists()


def test_default_store_is_in_the_workspace(tmp_path, monkeypatch):
    monkeypatch.delenv("HYPEBT_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    ws = tmp_path / "ws"
    assert main(["--workspace", str(ws), "data", "import", str(_csv(tmp_path))]) == 0
    assert Store(ws / "data" / "store").datasets() == ["stock_qfq"]


# --- loads: cheap repeated integrity checks, small reads of a few codes ------------------------

def _age(path: Path, seconds: float = 3600.0) -> None:
    """Make ``path`` look written ``seconds`` ago (a file older than the filesystem's clock tick)."""
    then = path.stat().st_mtime - seconds
    os.utime(path, (then, then))


def _count_hashes(monkeypatch) -> list[Path]:
    calls = []
    real_hash = store_mod.file_sha256

    def counting(path):
        calls.append(Path(path))
        return real_hash(path)

    monkeypatch.setattr(store_mod, "file_sha256", counting)
    return calls


def test_repeated_loads_hash_an_unchanged_file_once(small, monkeypatch):
    path = data_file(small.root, "stock_qfq")
    _age(path)
    calls = _count_hashes(monkeypatch)
    for _ in range(3):
        small.load("stock_qfq", codes=["600519"])
    Store(small.root).load("stock_qfq")  # another Store on the same folder shares the check
    assert calls == [path]
    assert small.check() == [] and len(calls) == 2  # 'data check' always hashes


@pytest.mark.parametrize("damage", [_truncate, _flip_byte], ids=["truncated", "modified"])
def test_a_change_after_a_cached_check_is_caught(small, damage, monkeypatch):
    path = data_file(small.root, "stock_qfq")
    _age(path)
    small.load("stock_qfq")
    st = path.stat()
    damage(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # even with its old timestamp
    with pytest.raises(DataError, match="content hash differs from its manifest"):
        small.load("stock_qfq", codes=["600519"])


def test_a_fresh_file_is_hashed_on_every_load(small, monkeypatch):
    """A file changed within the clock tick of the last check could keep its mtime: not cached yet."""
    calls = _count_hashes(monkeypatch)
    small.load("stock_qfq")
    small.load("stock_qfq")
    assert len(calls) == 2


def test_file_sha256_reads_in_chunks(tmp_path, monkeypatch):
    from hypebt.core import fsio

    monkeypatch.setattr(fsio, "_HASH_CHUNK", 7)
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(range(256)) * 3)
    assert fsio.file_sha256(path) == sha256(path)


def test_load_with_no_codes_keeps_the_asked_columns_and_types(small):
    got = small.load("stock_qfq", codes=[], columns=["date", "close"])
    assert list(got.columns) == ["date", "close"] and len(got) == 0
    full = small.load("stock_qfq")
    assert list(small.load("stock_qfq", codes=()).dtypes) == list(full.dtypes)


def test_bars_are_written_in_row_groups_sorted_by_code(tmp_path, monkeypatch):
    """Small row groups with ordered code ranges: a load of a few codes reads only their groups."""
    monkeypatch.setattr(store_mod, "_ROW_GROUP", 4)
    store = Store(tmp_path / "store")
    store.write("stock_qfq", pd.concat([canon(c, D4[:3]) for c in ("600519", "000001", "300750", "000002")]),
                source="x", adjust="qfq")
    meta = pq.read_metadata(data_file(store.root, "stock_qfq"))
    assert meta.num_row_groups == 3
    col = meta.schema.names.index("code")
    ranges = [(meta.row_group(g).column(col).statistics.min, meta.row_group(g).column(col).statistics.max)
              for g in range(meta.num_row_groups)]
    assert ranges == [("000001", "000002"), ("000002", "300750"), ("300750", "600519")]
    got = store.load("stock_qfq", codes=["300750"])
    assert list(got["code"]) == ["300750"] * 3
