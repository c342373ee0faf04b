"""Import formats beyond akshare's: English OHLCV, Tushare, baostock, a column map, folders.

Each format has tiny hand-made files (exact values, every refusal) and a real-shaped file built
from ``../shared/data`` (688039's akshare table rewritten the way the other vendor writes it),
which must store exactly the bars the akshare table stores.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hypebt.core.errors import InputError
from hypebt.data.fields import adjust_name, parse_code
from hypebt.data.formats import code_in_filename, read_source
from hypebt.data.importers import expand_paths, import_paths
from hypebt.data.store import Store
from hypebt.data.vendors import parse_column_map


def snapshot(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def refused(path_or_paths, tmp_path, fragments, **options) -> str:
    """Import raises a one-line InputError with ``fragments`` and leaves a store untouched."""
    paths = path_or_paths if isinstance(path_or_paths, list) else [path_or_paths]
    store = Store(tmp_path / "refused_store")
    before = snapshot(store.root)
    with pytest.raises(InputError) as info:
        import_paths(store, paths, **options)
    msg = str(info.value)
    assert "\n" not in msg
    for fragment in fragments:
        assert fragment in msg, f"{fragment!r} not in {msg!r}"
    assert snapshot(store.root) == before
    return msg


# English rows: prices near 10, amount = volume (shares) x close, so the amounts say "shares".
ENGLISH_SHARES = ("Date,Close,Open,Low,High,Volume,Amount\n"
                  "2024-01-02,10.2,10.0,9.9,10.5,100000,1020000\n"
                  "2024-01-03,11.2,11.0,10.9,11.5,100100,1121120\n")


# --- codes, names, maps ---------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("600000", ("stock", "600000")), ("600000.SH", ("stock", "600000")), ("600000.sh", ("stock", "600000")),
    ("SH600000", ("stock", "600000")), ("sh.600000", ("stock", "600000")), ("600000.XSHG", ("stock", "600000")),
    ("000001.SZ", ("stock", "000001")), ("sz000001", ("stock", "000001")), ("1", ("stock", "000001")),
    ("830799.BJ", ("stock", "830799")), ("bj.920002", ("stock", "920002")),
    ("000300.SH", ("index", "sh000300")), ("sh.000300", ("index", "sh000300")), ("sh000001", ("index", "sh000001")),
    ("399006.SZ", ("index", "sz399006")), ("899050.BJ", ("index", "bj899050")), ("csi930713", ("index", "csi930713")),
    ("600000.SZ", ("index", "sz600000")),  # not where that stock trades: read as named, refused later
    ("700001", None), ("AAPL", None), ("", None), (None, None),
])
def test_parse_code_reads_every_vendor_spelling(text, expected):
    assert parse_code(text) == expected


@pytest.mark.parametrize("name,expected", [
    ("600519.csv", ("stock", "600519")), ("600519.SH.csv", ("stock", "600519")), ("sh.600519.csv", ("stock", "600519")),
    ("600519_daily.csv", ("stock", "600519")), ("sh000300.csv", ("index", "sh000300")),
    ("000300.SH.csv", ("index", "sh000300")), ("prices.csv", None), ("csi300.csv", None),
])
def test_code_in_filename(name, expected):
    assert code_in_filename(Path(name)) == expected


def test_column_map_parsing_and_its_refusals():
    assert parse_column_map("date=trade_dt, close=px_last,") == {"date": "trade_dt", "close": "px_last"}
    with pytest.raises(InputError, match=r"unknown field 'clse' \(did you mean 'close'\?\)"):
        parse_column_map("clse=px_last")
    with pytest.raises(InputError, match="'date' is not FIELD=COLUMN"):
        parse_column_map("date")
    with pytest.raises(InputError, match="field 'close' is given twice"):
        parse_column_map("close=a,close=b")


def test_adjust_has_one_name_for_traded_prices():
    assert [adjust_name(a) for a in ("qfq", "hfq", "raw", "none", "NONE")] == ["qfq", "hfq", "raw", "raw", "raw"]
    with pytest.raises(InputError, match="unknown adjust 'qfg'"):
        adjust_name("qfg")


# --- English-header OHLCV ---------------------------------------------------------------------------

def test_english_csv_any_order_code_from_name_volume_read_off_the_amounts(tmp_path):
    path = write(tmp_path / "600519.csv", ENGLISH_SHARES)
    parsed = read_source(path)
    assert parsed.kind == "stock" and parsed.adjust is None and parsed.default_adjust is None
    f = parsed.frame
    assert list(f["code"]) == ["600519", "600519"]
    assert list(f["open"]) == [10.0, 11.0] and list(f["high"]) == [10.5, 11.5] and list(f["close"]) == [10.2, 11.2]
    assert list(f["volume"]) == [100000.0, 100100.0]  # shares, as the amounts say
    assert any("volume read as shares" in n for n in parsed.notes)


def test_english_csv_in_lots_is_converted_to_shares(tmp_path):
    path = write(tmp_path / "600519.csv", "date,open,high,low,close,volume,amount\n"
                 "2024-01-02,10.0,10.5,9.9,10.2,1000,1020000\n2024-01-03,11.0,11.5,10.9,11.2,1001,1121120\n")
    parsed = read_source(path)
    assert list(parsed.frame["volume"]) == [100000.0, 100100.0]
    assert any("volume read as lots" in n for n in parsed.notes)


def test_english_csv_with_symbol_column_of_several_codes(tmp_path):
    path = write(tmp_path / "prices.csv", "symbol,date,open,high,low,close,vol,amount,pct_chg\n"
                 "600000.SH,2024-01-02,7.0,7.1,6.9,7.0,100,70000,0.5\n"
                 "000001.SZ,2024-01-02,9.0,9.2,8.9,9.1,200,182000,1.1\n")
    f = read_source(path).frame
    assert list(f["code"]) == ["600000", "000001"] and list(f["pct_change"]) == [0.5, 1.1]


def test_english_index_by_name_keeps_volume(tmp_path):
    path = write(tmp_path / "sh000300.csv", "Date,Open,High,Low,Close,Volume\n2024-01-02,3500,3550,3450,3520,8000000000\n")
    parsed = read_source(path)
    assert parsed.kind == "index" and parsed.frame["volume"].iloc[0] == 8e9


def test_english_csv_without_amount_needs_the_volume_unit(tmp_path):
    path = write(tmp_path / "600519.csv", "date,open,high,low,close,volume\n2024-01-02,10,10.5,9.9,10.2,1000\n")
    refused(path, tmp_path, ["600519.csv: the volume unit is unknown", "no amount column",
                             "--volume-unit lots or --volume-unit shares"], adjust="raw")
    store = Store(tmp_path / "s")
    import_paths(store, [path], adjust="raw", volume_unit="lots")
    assert store.load("stock_raw")["volume"].iloc[0] == 100000.0


def test_english_csv_needs_the_adjustment(tmp_path):
    path = write(tmp_path / "600519.csv", ENGLISH_SHARES)
    refused(path, tmp_path, ["an English-header OHLCV table does not say whether its prices are adjusted",
                             "--adjust qfq (forward-adjusted), hfq (back-adjusted) or raw (as traded)"])
    store = Store(tmp_path / "s")
    report = import_paths(store, [path], adjust="none")  # the alias of raw
    assert store.datasets() == ["stock_raw"]
    assert any("raw prices without adj_factor" in line for line in report.lines())


def test_a_volume_unit_the_amounts_contradict_is_refused(tmp_path):
    path = write(tmp_path / "600519.csv", ENGLISH_SHARES)
    refused(path, tmp_path, ["--volume-unit lots, but amount / (volume x close) is 1", "which means shares"],
            adjust="raw", volume_unit="lots")


def test_amounts_in_thousand_cny_are_refused_not_guessed(tmp_path):
    path = write(tmp_path / "600519.csv", "date,open,high,low,close,volume,amount\n2024-01-02,10,10.5,9.9,10.2,1000,1020\n")
    refused(path, tmp_path, ["which means volume in lots, amount in thousand CNY", "convert the amount to CNY"],
            adjust="raw")


def test_two_candidate_columns_for_one_field_are_refused(tmp_path):
    path = write(tmp_path / "600519.csv", "date,open,high,low,close,vol,volume\n2024-01-02,10,10.5,9.9,10.2,1000,1\n")
    refused(path, tmp_path, ["columns 'volume' and 'vol' could both be the volume", "--columns volume=volume"],
            adjust="raw")


def test_turnover_that_is_not_a_rate_is_refused(tmp_path):
    path = write(tmp_path / "600519.csv", "date,open,high,low,close,volume,turnover\n2024-01-02,10,10.5,9.9,10.2,1000,1020000\n")
    refused(path, tmp_path, ["'turnover' has values above 100", "--columns amount=turnover"],
            adjust="raw", volume_unit="lots")


def test_code_column_mixing_stocks_and_indexes_or_contradicting_the_name(tmp_path):
    mixed = write(tmp_path / "mixed.csv", "code,date,open,high,low,close,volume\n600000,2024-01-02,7,7.1,6.9,7,1\n"
                  "sh000300,2024-01-02,3500,3550,3450,3520,1\n")
    refused(mixed, tmp_path, ["column 'code' mixes stocks and indexes"], adjust="raw", volume_unit="shares")
    other = write(tmp_path / "600519.csv", "code,date,open,high,low,close,volume\n000001,2024-01-02,7,7.1,6.9,7,1\n")
    refused(other, tmp_path, ["the file name says 600519 but column 'code' says 000001"], adjust="raw",
            volume_unit="shares")
    bad = write(tmp_path / "bad.csv", "code,date,open,high,low,close,volume\n600000,2024-01-02,7,7.1,6.9,7,1\n"
                "AAPL,2024-01-02,7,7.1,6.9,7,1\n")
    refused(bad, tmp_path, ["row 2: field 'code': 'AAPL' is not an A-share or index code"], adjust="raw",
            volume_unit="shares")


# --- Tushare ------------------------------------------------------------------------------------

TUSHARE = ("ts_code,trade_date,open,high,low,close,pre_close,change,pct_chg,vol,amount\n"
           "600000.SH,20240103,7.10,7.20,7.00,7.15,7.05,0.10,1.4184,2000.5,1430.2\n"
           "600000.SH,20240102,7.00,7.10,6.95,7.05,7.00,0.05,0.7143,1000.0,705.0\n")


def test_tushare_newest_first_lots_and_thousand_cny(tmp_path):
    parsed = read_source(write(tmp_path / "daily.csv", TUSHARE))
    f = parsed.frame
    assert parsed.fmt == "a Tushare daily table" and parsed.adjust is None
    assert list(f["date"].dt.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-03"]
    assert list(f["volume"]) == [100000.0, 200050.0]
    assert f["amount"].tolist() == pytest.approx([705000.0, 1430200.0], rel=1e-12)
    assert list(f["pct_change"]) == [0.7143, 1.4184] and set(f["code"]) == {"600000"}


def test_tushare_messages_give_the_files_row_numbers(tmp_path):
    bad = TUSHARE.replace("7.00,7.10,6.95,7.05", "7.00,6.90,6.95,7.05")  # file row 2: high below low
    msg = refused(write(tmp_path / "daily.csv", bad), tmp_path, ["row 2: field 'high'"], adjust="raw")
    assert "6.9 is below low" in msg and "(column high)" not in msg
    dup = TUSHARE + "600000.SH,20240103,7.10,7.20,7.00,7.15,7.05,0.10,1.4184,2000.5,1430.2\n"
    refused(write(tmp_path / "daily.csv", dup), tmp_path, ["daily.csv: row"], adjust="raw")


def test_tushare_needs_the_adjustment_and_says_which_is_which(tmp_path):
    path = write(tmp_path / "daily.csv", TUSHARE)
    refused(path, tmp_path, ["a Tushare daily table does not say", "pro.daily is unadjusted: --adjust raw"])
    refused(path, tmp_path, ["a Tushare daily table gives volume in lots, not shares"], adjust="raw",
            volume_unit="shares")
    store = Store(tmp_path / "s")
    import_paths(store, [path], adjust="raw")
    assert store.load("stock_raw")["volume"].tolist() == [100000.0, 200050.0]


def test_tushare_index_is_an_index(tmp_path):
    text = "ts_code,trade_date,open,high,low,close,vol,amount\n000300.SH,20240102,3500,3550,3450,3520,80000000,1.5e8\n"
    parsed = read_source(write(tmp_path / "idx.csv", text))
    assert parsed.kind == "index" and list(parsed.frame["code"]) == ["sh000300"]
    assert parsed.frame["volume"].iloc[0] == 8e9  # lots to shares, as for stocks


def test_tushare_missing_vol_is_named(tmp_path):
    text = "ts_code,trade_date,open,high,low,close,volume\n600000.SH,20240102,7,7.1,6.9,7,1\n"
    refused(write(tmp_path / "d.csv", text), tmp_path, ["missing column(s) vol (did you mean 'volume'?)", "Tushare"],
            adjust="raw")


# --- baostock -----------------------------------------------------------------------------------

BAOSTOCK = ("date,code,open,high,low,close,preclose,volume,amount,adjustflag,turn,tradestatus,pctChg,isST\n"
            "2024-01-02,sh.600000,7.00,7.10,6.95,7.05,7.00,100000,705000.00,2,0.03,1,0.7143,0\n"
            "2024-01-03,sh.600000,7.05,7.05,7.05,7.05,7.05,0,0.00,2,0.00,0,0.0000,0\n"
            "2024-01-04,sh.600000,7.10,7.20,7.00,7.15,7.05,200050,1430200.00,2,0.06,1,1.4184,0\n")


def test_baostock_adjustflag_says_qfq_and_suspended_days_are_left_out(tmp_path):
    path = write(tmp_path / "600000.csv", BAOSTOCK)
    parsed = read_source(path)
    assert parsed.fmt == "a baostock table" and parsed.adjust == "qfq"
    assert list(parsed.frame["date"].dt.day) == [2, 4] and list(parsed.frame["volume"]) == [100000.0, 200050.0]
    assert list(parsed.frame["turnover"]) == [0.03, 0.06]
    assert any("left out 1 suspended day(s)" in n for n in parsed.notes)
    store = Store(tmp_path / "s")
    import_paths(store, [path])
    assert store.datasets() == ["stock_qfq"]


def test_baostock_messages_count_the_files_rows_around_left_out_days(tmp_path):
    bad = BAOSTOCK.replace("2024-01-04,sh.600000,7.10,7.20", "2024-01-04,sh.600000,7.10,6.20")
    refused(write(tmp_path / "600000.csv", bad), tmp_path, ["row 3: field 'high'"])


def test_baostock_adjustflag_conflicts_and_mixtures_are_refused(tmp_path):
    path = write(tmp_path / "600000.csv", BAOSTOCK)
    refused(path, tmp_path, ["the file says its prices are qfq, not raw"], adjust="raw")
    mixed = write(tmp_path / "m.csv", BAOSTOCK.replace(",2,0.06,", ",3,0.06,"))
    refused(mixed, tmp_path, ["adjustflag holds 2, 3", "its own file"])
    bare = write(tmp_path / "b.csv", "date,code,open,high,low,close,volume\n2024-01-02,sh.600000,7,7.1,6.9,7,1\n")
    refused(bare, tmp_path, ["a baostock table does not say", "adjustflag"])


# --- a column map ---------------------------------------------------------------------------------

def test_column_map_reads_any_table(tmp_path):
    path = write(tmp_path / "600519.csv", "trade_dt,px_open,px_high,px_low,px_last,Volume,value\n"
                 "2024-01-02,10,10.5,9.9,10.2,1000,1020000\n")
    refused(path, tmp_path, ["unknown format", "--columns"], adjust="raw")
    mapping = "date=trade_dt,open=px_open,high=px_high,low=px_low,close=px_last,amount=value"
    parsed = read_source(path, columns=mapping)
    assert parsed.fmt == "a table read with --columns"
    assert parsed.frame["close"].iloc[0] == 10.2 and parsed.frame["volume"].iloc[0] == 100000.0  # amounts say lots
    refused(path, tmp_path, ["--columns close=px_lst: no column 'px_lst' (did you mean 'px_last'"],
            adjust="raw", columns="date=trade_dt,close=px_lst")
    refused(path, tmp_path, ["--columns gives no column for open, high, low"], adjust="raw",
            columns="date=trade_dt,close=px_last")


# --- folders ------------------------------------------------------------------------------------

def test_folder_imports_every_table_in_it(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    write(folder / "600519.csv", ENGLISH_SHARES)
    write(folder / "000001.SZ.csv", ENGLISH_SHARES)
    write(folder / "README.md", "notes")
    (folder / "old").mkdir()
    write(folder / ".hidden.csv", "junk")
    files, notes = expand_paths([folder])
    assert [p.name for p in files] == ["000001.SZ.csv", "600519.csv"]
    assert notes == [f"{folder}: imported its 2 .csv/.parquet file(s); left out README.md, old/"]
    store = Store(tmp_path / "s")
    report = import_paths(store, [folder], adjust="raw")
    assert sorted(store.load("stock_raw")["code"].unique()) == ["000001", "600519"]
    assert report.lines()[0].startswith("imported 4 rows of 2 codes into stock_raw")


def test_a_bad_file_in_a_folder_refuses_the_whole_folder(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    write(folder / "600519.csv", ENGLISH_SHARES)
    write(folder / "stock_list.csv", "code,name\n600519,贵州茅台\n")
    refused(folder, tmp_path, ["stock_list.csv: unknown format"], adjust="raw")
    store = Store(tmp_path / "s")
    report = import_paths(store, [folder], adjust="raw", keep_going=True)
    assert store.datasets() == ["stock_raw"] and len(report.refused) == 1


# --- real-shaped files: every format stores the bars the akshare table stores ---------------------

@pytest.fixture(scope="module")
def real(shared_data):
    """688039's akshare table (qfq, 2021-01-04..2024-05-22) and the bars an import of it stores."""
    table = pd.read_csv(shared_data / "ashare" / "daily" / "688039.csv", dtype={"日期": str})
    return table


def _stored(tmp_path, name, path, **options) -> pd.DataFrame:
    store = Store(tmp_path / name)
    import_paths(store, [path], **options)
    return store.load("stock_qfq")


def test_real_shaped_files_of_every_format_store_the_same_bars(real, shared_data, tmp_path):
    expected = _stored(tmp_path, "ak", shared_data / "ashare" / "daily" / "688039.csv")
    t = real
    tushare = pd.DataFrame({
        "ts_code": "688039.SH", "trade_date": t["日期"].str.replace("-", ""), "open": t["开盘"], "high": t["最高"],
        "low": t["最低"], "close": t["收盘"], "pre_close": t["收盘"].shift(), "change": t["涨跌额"],
        "pct_chg": t["涨跌幅"], "vol": t["成交量"], "amount": t["成交额"] / 1000,
    }).iloc[::-1]
    tushare.to_csv(tmp_path / "688039.SH.csv", index=False)
    baostock = pd.DataFrame({
        "date": t["日期"], "code": "sh.688039", "open": t["开盘"], "high": t["最高"], "low": t["最低"],
        "close": t["收盘"], "preclose": t["收盘"].shift(), "volume": t["成交量"] * 100, "amount": t["成交额"],
        "adjustflag": 2, "turn": t["换手率"], "tradestatus": 1, "pctChg": t["涨跌幅"], "isST": 0,
    })
    baostock.to_csv(tmp_path / "bs.csv", index=False)
    english = pd.DataFrame({"date": t["日期"], "open": t["开盘"], "close": t["收盘"], "high": t["最高"],
                            "low": t["最低"], "volume": t["成交量"] * 100, "amount": t["成交额"],
                            "pct_change": t["涨跌幅"], "turnover": t["换手率"]})
    english.to_csv(tmp_path / "688039.csv", index=False)
    got = {
        "tushare": _stored(tmp_path, "ts", tmp_path / "688039.SH.csv", adjust="qfq"),
        "baostock": _stored(tmp_path, "bs", tmp_path / "bs.csv"),
        "english": _stored(tmp_path, "en", tmp_path / "688039.csv", adjust="qfq"),
    }
    for name, bars in got.items():
        assert len(bars) == len(expected) == len(t), name
        for col in ("code", "date", "open", "high", "low", "close", "volume", "pct_change"):
            assert bars[col].tolist() == expected[col].tolist(), (name, col)
        np.testing.assert_allclose(bars["amount"], expected["amount"], rtol=1e-12, err_msg=name)
    assert got["baostock"]["turnover"].tolist() == expected["turnover"].tolist()
    assert got["tushare"]["turnover"].isna().all()  # pro.daily has no turnover rate
