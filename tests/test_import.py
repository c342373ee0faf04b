"""Importing files into the store: format detection, every validation rule, strict and lenient.

Every refusal is checked twice: the :class:`InputError` is one line naming the
file, the row and the field (where there is one) and how to fix it; and the
store is byte-for-byte what it was before (an empty store stays empty, a filled
one keeps its files and manifests).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hypebt.core.errors import InputError
from hypebt.data.formats import code_from_filename, read_file
from hypebt.data.importers import import_paths
from hypebt.data.store import Store
from hypebt.data.validate import validate_bars

AK_COLUMNS = ["日期", "开盘", "收盘", "最高", "最低", "成交量", "成交额", "振幅", "涨跌幅", "涨跌额", "换手率"]
INDEX_COLUMNS = ["date", "open", "high", "low", "close", "volume"]
DATES = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]


# --- hand-made files -----------------------------------------------------------------------------

def stock_rows(n: int = 4) -> list[dict[str, str]]:
    """``n`` good akshare rows (as the CSV's strings): open 10+i, close 10.2+i, high 10.5+i, low 9.9+i."""
    rows = []
    for i, day in enumerate(DATES[:n]):
        rows.append({
            "日期": day, "开盘": f"{10 + i:.2f}", "收盘": f"{10.2 + i:.2f}", "最高": f"{10.5 + i:.2f}",
            "最低": f"{9.9 + i:.2f}", "成交量": str(1000 + i), "成交额": f"{1_020_000.0 + i}", "振幅": "6.0",
            "涨跌幅": "2.0", "涨跌额": "0.2", "换手率": "0.5",
        })
    return rows


def index_rows(n: int = 4) -> list[dict[str, str]]:
    return [{"date": day, "open": f"{3500 + i}", "high": f"{3550 + i}", "low": f"{3450 + i}",
             "close": f"{3520 + i}", "volume": f"{8_000_000_000 + i}"} for i, day in enumerate(DATES[:n])]


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None,
              encoding: str = "utf-8") -> Path:
    columns = columns or list(rows[0])
    lines = [",".join(columns)] + [",".join(r.get(c, "") for c in columns) for r in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def write_market_parquet(path: Path, codes_rows: dict[str, list[dict[str, str]]]) -> Path:
    """A market parquet like shared/data/ashare/market.parquet: code + the akshare columns."""
    frames = []
    for code, rows in codes_rows.items():
        f = pd.DataFrame(rows, columns=AK_COLUMNS)
        for col in AK_COLUMNS[1:]:
            f[col] = pd.to_numeric(f[col])
        f.insert(0, "code", code)
        frames.append(f)
    pd.concat(frames, ignore_index=True).to_parquet(path)
    return path


def snapshot(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under ``root`` (empty when it does not exist)."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def filled_store(tmp_path) -> Store:
    """A store already holding a good stock (000002) and a good index (sh000001)."""
    good = tmp_path / "good"
    good.mkdir()
    store = Store(tmp_path / "filled_store")
    import_paths(store, [write_csv(good / "000002.csv", stock_rows()),
                         write_csv(good / "sh000001.csv", index_rows())])
    assert store.datasets() == ["stock_qfq", "index"]
    return store


def assert_refused(paths, tmp_path, filled_store, fragments, adjust="qfq") -> str:
    """The import raises a one-line InputError with ``fragments``, on an empty and a filled store,
    and changes neither."""
    paths = [paths] if isinstance(paths, Path) else paths
    empty = Store(tmp_path / "empty_store")
    with pytest.raises(InputError) as info:
        import_paths(empty, paths, adjust=adjust)
    assert not empty.root.exists() or snapshot(empty.root) == {}
    assert empty.datasets() == []

    before = snapshot(filled_store.root)
    manifests = {d: filled_store.manifest(d) for d in filled_store.datasets()}
    with pytest.raises(InputError) as info2:
        import_paths(filled_store, paths, adjust=adjust)
    assert snapshot(filled_store.root) == before
    assert {d: filled_store.manifest(d) for d in filled_store.datasets()} == manifests

    msg = str(info.value)
    assert str(info2.value) == msg
    assert "\n" not in msg
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in {msg!r}"
    return msg


# --- every refusal: message and untouched store ----------------------------------------------

def _rows_with(**changes):
    """stock_rows() with ``changes`` = {"r<row>_<column>": value} applied (rows 1-based)."""
    rows = stock_rows()
    for key, value in changes.items():
        row, col = key[1:].split("_", 1)
        rows[int(row) - 1][col] = value
    return rows


CSV_CASES = {
    # id: (file name, rows, columns or None, encoding, adjust, fragments after the file name)
    "wrong_headers": ("600519.csv", stock_rows(), None, "utf-8", "qfq", None),
    "missing_column": ("600519.csv", stock_rows(), [c for c in AK_COLUMNS if c != "成交量"], "utf-8", "qfq",
                       ["missing column(s) 成交量", "stock_zh_a_hist"]),
    "gbk_encoded": ("600519.csv", stock_rows(), AK_COLUMNS, "gbk", "qfq", ["not UTF-8", "save it as UTF-8"]),
    "price_not_a_number": ("600519.csv", _rows_with(r2_收盘="abc"), AK_COLUMNS, "utf-8", "qfq",
                           ["row 2", "field '收盘'", "'abc' is not a number", "fix or remove the row"]),
    "bad_date": ("600519.csv", _rows_with(r3_日期="2024-13-45"), AK_COLUMNS, "utf-8", "qfq",
                 ["row 3", "field '日期'", "is not a date", "YYYY-MM-DD"]),
    "duplicated_date": ("600519.csv", _rows_with(r3_日期="2024-01-03"), AK_COLUMNS, "utf-8", "qfq",
                        ["row 3", "field 'date'", "duplicate of the row before", "--lenient"]),
    "unsorted_dates": ("600519.csv", _rows_with(r2_日期="2024-01-04", r3_日期="2024-01-03"), AK_COLUMNS,
                       "utf-8", "qfq", ["row 3", "field 'date'", "2024-01-03", "sorted ascending", "--lenient"]),
    "future_date": ("600519.csv", _rows_with(r4_日期="2099-01-04"), AK_COLUMNS, "utf-8", "qfq",
                    ["row 4", "field 'date'", "2099-01-04", "is in the future", "--lenient"]),
    "nan_price": ("600519.csv", _rows_with(r2_收盘=""), AK_COLUMNS, "utf-8", "qfq",
                  ["row 2", "field 'close'", "is missing (NaN)", "--lenient"]),
    "nan_price_raw": ("600519.csv", _rows_with(r2_开盘=""), AK_COLUMNS, "utf-8", "raw",
                      ["row 2", "field 'open'", "is missing (NaN)", "--lenient"]),
    "zero_price_raw": ("600519.csv", _rows_with(r2_开盘="0"), AK_COLUMNS, "utf-8", "raw",
                       ["row 2", "field 'open'", "0.0 is zero or negative", "--lenient"]),
    "negative_price_hfq": ("600519.csv", _rows_with(r3_最低="-1.5"), AK_COLUMNS, "utf-8", "hfq",
                           ["row 3", "field 'low'", "-1.5 is zero or negative", "--lenient"]),
    "high_below_low": ("600519.csv", _rows_with(r2_最高="10.9", r2_最低="11.0", r2_开盘="10.95", r2_收盘="10.95"),
                       AK_COLUMNS, "utf-8", "qfq", ["row 2", "field 'high'", "10.9 is below low", "--lenient"]),
    "high_below_close": ("600519.csv", _rows_with(r3_收盘="12.9"), AK_COLUMNS, "utf-8", "qfq",
                         ["row 3", "field 'high'", "below open or close", "--lenient"]),
    "low_above_open": ("600519.csv", _rows_with(r1_开盘="9.5"), AK_COLUMNS, "utf-8", "qfq",
                       ["row 1", "field 'low'", "above open or close", "--lenient"]),
    "negative_volume": ("600519.csv", _rows_with(r4_成交量="-5"), AK_COLUMNS, "utf-8", "qfq",
                        ["row 4", "field 'volume'", "is negative", "--lenient"]),
    "missing_volume": ("600519.csv", _rows_with(r2_成交量=""), AK_COLUMNS, "utf-8", "qfq",
                       ["row 2", "field 'volume'", "is missing (NaN)", "--lenient"]),
    "name_gives_no_code": ("prices.csv", stock_rows(), AK_COLUMNS, "utf-8", "qfq",
                           ["file name does not give a stock code", "'prices'", "name it like 600519.csv"]),
    "name_is_not_a_board_code": ("999999.csv", stock_rows(), AK_COLUMNS, "utf-8", "qfq",
                                 ["file name does not give a stock code", "'999999'"]),
}


@pytest.mark.parametrize("case", list(CSV_CASES))
def test_bad_stock_csv_is_refused_and_store_unchanged(case, tmp_path, filled_store):
    name, rows, columns, encoding, adjust, fragments = CSV_CASES[case]
    if case == "wrong_headers":
        columns = ["Tag", "Auf", "Zu", "Hoch", "Tief", "Menge"]
        rows = [dict(zip(columns, (r["日期"], r["开盘"], r["收盘"], r["最高"], r["最低"], r["成交量"])))
                for r in rows]
        fragments = ["unknown format", "expected akshare stock_zh_a_hist headers (日期,开盘", "Tushare",
                     "baostock", "found: Tag, Auf", "--columns date=COLUMN"]
    path = write_csv(tmp_path / name, rows, columns, encoding)
    msg = assert_refused(path, tmp_path, filled_store, fragments, adjust=adjust)
    assert msg.startswith(f"{path}: ")


def test_renamed_column_is_refused_and_named(tmp_path, filled_store):
    columns = ["收盘价" if c == "收盘" else c for c in AK_COLUMNS]
    rows = [{("收盘价" if k == "收盘" else k): v for k, v in r.items()} for r in stock_rows()]
    path = write_csv(tmp_path / "600519.csv", rows, columns)
    msg = assert_refused(path, tmp_path, filled_store, ["missing column(s) 收盘 ", "收盘价"])
    assert msg.startswith(f"{path}: ")


@pytest.mark.parametrize("rename", [{"成交量": None}, {"收盘": "收盘价"}])
def test_missing_column_message_says_how_to_fix(rename, tmp_path):
    (old, new), = rename.items()
    columns = [c if c != old else new for c in AK_COLUMNS if c != old or new]
    rows = [{(new if k == old else k): v for k, v in r.items()} for r in stock_rows()]
    path = write_csv(tmp_path / "600519.csv", rows, columns)
    with pytest.raises(InputError) as info:
        import_paths(Store(tmp_path / "s"), [path])
    msg = str(info.value)
    assert any(w in msg for w in ("did you mean", "rename", "add the column", "export", "fix")), msg


@pytest.mark.parametrize("name,content,fragments", [
    ("600519.txt", None, ["unknown format .txt", "hypebt imports .csv and .parquet"]),
    ("600519.xlsx", b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 64, ["unknown format .xlsx", ".csv and .parquet"]),
    ("600519", None, ["unknown format (no extension)"]),
    ("600519.csv", b"", ["the file is empty", "export the table again with its header row"]),
    ("600519.csv", ",".join(AK_COLUMNS).encode() + b"\n", ["header only, no rows", "export the table again"]),
    ("600519.csv", "日期,开盘,收盘,最高,最低,成交量\n2024-01-02,1,1,1,1,1\n2024-01-03,1,1,1,1,1,7\n".encode(),
     ["not a readable CSV", "Expected 6 fields"]),
    ("600519.parquet", b"not a parquet file at all", ["not a readable parquet file"]),
])
def test_unreadable_or_unknown_files_are_refused(name, content, fragments, tmp_path, filled_store):
    path = tmp_path / name
    if content is None:  # a good akshare CSV under a wrong extension: the extension is refused
        write_csv(path, stock_rows(), AK_COLUMNS)
    else:
        path.write_bytes(content)
    msg = assert_refused(path, tmp_path, filled_store, fragments)
    assert msg.startswith(f"{path}: ")


INDEX_CASES = {
    "zero_close": ("sh000300.csv", {"r2_close": "0"}, ["row 2", "field 'close'", "zero or negative"]),
    "high_below_low": ("sh000300.csv", {"r3_high": "3000", "r3_open": "3400", "r3_close": "3400",
                                        "r3_low": "3300"}, ["row 3", "field 'high'", "is below low"]),
    "negative_volume": ("sh000300.csv", {"r1_volume": "-1"}, ["row 1", "field 'volume'", "is negative"]),
    "future_date": ("sh000300.csv", {"r4_date": "2099-01-01"}, ["row 4", "field 'date'", "in the future"]),
    "duplicated_date": ("sh000300.csv", {"r2_date": "2024-01-02"}, ["row 2", "field 'date'", "duplicate"]),
    "name_gives_no_code": ("csi300.csv", {}, ["no code column, and the file name gives no code", "sh000300.csv"]),
    # English headers under a stock's name: a stock table, whose volume unit nothing says.
    "stock_code_with_index_headers": ("600519.csv", {}, ["the volume unit is unknown", "no amount column",
                                                         "--volume-unit lots or --volume-unit shares"]),
}


@pytest.mark.parametrize("case", list(INDEX_CASES))
def test_bad_index_csv_is_refused_and_store_unchanged(case, tmp_path, filled_store):
    name, changes, fragments = INDEX_CASES[case]
    rows = index_rows()
    for key, value in changes.items():
        row, col = key[1:].split("_", 1)
        rows[int(row) - 1][col] = value
    path = write_csv(tmp_path / name, rows, INDEX_COLUMNS)
    msg = assert_refused(path, tmp_path, filled_store, fragments, adjust="raw")
    assert msg.startswith(f"{path}: ")


def test_invalid_code_in_market_parquet_is_refused(tmp_path, filled_store):
    path = write_market_parquet(tmp_path / "market.parquet",
                                {"600519": stock_rows(2), "999999": stock_rows(2)})
    msg = assert_refused(path, tmp_path, filled_store,
                         ["row 3", "field 'code'", "'999999'", "not a valid A-share code", "600519", "--lenient"])
    assert msg.startswith(f"{path}: ")


def test_market_parquet_without_code_column_is_refused(tmp_path, filled_store):
    path = tmp_path / "market.parquet"
    pd.DataFrame(stock_rows()).to_parquet(path)
    assert_refused(path, tmp_path, filled_store, [f"{path}: file name does not give a stock code ('market')",
                                                  "add a code column"])


def test_missing_path_and_folder_are_refused(tmp_path, filled_store):
    assert_refused(tmp_path / "nope.csv", tmp_path, filled_store, [f"{tmp_path / 'nope.csv'}: no such file"])
    folder = tmp_path / "folder"
    folder.mkdir()
    assert_refused(folder, tmp_path, filled_store, [f"{folder}: no .csv or .parquet files in this folder"])


def test_one_bad_file_refuses_the_whole_import(tmp_path, filled_store):
    """Without --keep-going nothing is written, not even the good files given before the bad one."""
    good = write_csv(tmp_path / "600519.csv", stock_rows(), AK_COLUMNS)
    bad = write_csv(tmp_path / "600000.csv", _rows_with(r2_最高="1.0"), AK_COLUMNS)
    assert_refused([good, bad], tmp_path, filled_store, [f"{bad}: row 2: field 'high'"])


def test_same_code_from_two_files_is_refused(tmp_path, filled_store):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = write_csv(tmp_path / "a" / "600519.csv", stock_rows(), AK_COLUMNS)
    two = write_csv(tmp_path / "b" / "600519.csv", stock_rows(), AK_COLUMNS)
    assert_refused([one, two], tmp_path, filled_store, ["600519 2024-01-02", "two of the files",
                                                        "import each code from one file"])


def test_duplicate_index_across_files_leaves_store_unchanged(tmp_path):
    (tmp_path / "b").mkdir()
    stock = write_csv(tmp_path / "600519.csv", stock_rows(), AK_COLUMNS)
    one = write_csv(tmp_path / "sh000300.csv", index_rows(), INDEX_COLUMNS)
    two = write_csv(tmp_path / "b" / "sh000300.csv", index_rows(), INDEX_COLUMNS)
    store = Store(tmp_path / "store")
    with pytest.raises(InputError, match="two of the files"):
        import_paths(store, [stock, one, two])
    assert store.datasets() == []


def test_duplicate_bar_within_one_parquet_names_file_and_row(tmp_path):
    path = write_market_parquet(tmp_path / "market.parquet", {"600519": stock_rows(2), "600000": stock_rows(2)})
    frame = pd.read_parquet(path)
    pd.concat([frame, frame.iloc[:1]], ignore_index=True).to_parquet(path)  # row 5 repeats row 1
    with pytest.raises(InputError) as info:
        import_paths(Store(tmp_path / "store"), [path])
    msg = str(info.value)
    assert msg.startswith(f"{path}: row 5: field 'date'"), msg


def test_far_future_date_typo_is_an_input_error(tmp_path):
    path = write_csv(tmp_path / "600519.csv", _rows_with(r4_日期="9024-01-05"), AK_COLUMNS)
    with pytest.raises(InputError, match=r"row 4: field '(日期|date)'"):
        import_paths(Store(tmp_path / "s"), [path])


# --- qfq: non-positive prices are dropped, not refused ----------------------------------------

def test_qfq_non_positive_prices_are_dropped_with_a_warning(tmp_path):
    rows = _rows_with(r1_开盘="-0.12", r1_收盘="-0.12", r1_最高="-0.1", r1_最低="-0.2", r3_最低="0")
    path = write_csv(tmp_path / "872541.csv", rows, AK_COLUMNS)
    store = Store(tmp_path / "store")
    with pytest.warns(UserWarning, match=r"dropped 2 row\(s\): price <= 0 after forward adjustment \(872541\)"):
        report = import_paths(store, [path], adjust="qfq")
    assert report.warnings == [f"{path}: dropped 2 row(s): price <= 0 after forward adjustment (872541)"]
    bars = store.load("stock_qfq")
    assert list(bars["date"].dt.strftime("%Y-%m-%d")) == [DATES[1], DATES[3]]
    assert store.manifest("stock_qfq")["rows"] == 2


@pytest.mark.parametrize("adjust", ["raw", "hfq"])
def test_non_qfq_non_positive_prices_are_refused(adjust, tmp_path, filled_store):
    path = write_csv(tmp_path / "872541.csv", _rows_with(r1_开盘="-0.12"), AK_COLUMNS)
    assert_refused(path, tmp_path, filled_store, [f"{path}: row 1: field 'open'", "-0.12 is zero or negative"],
                   adjust=adjust)


def test_qfq_with_only_non_positive_rows_is_refused(tmp_path, filled_store):
    rows = stock_rows(2)
    for r in rows:
        r["开盘"] = "-1"
    path = write_csv(tmp_path / "872541.csv", rows, AK_COLUMNS)
    assert_refused(path, tmp_path, filled_store, [f"{path}: every row was bad"])


def test_qfq_index_is_not_exempt(tmp_path, filled_store):
    """Only stock prices are forward-adjusted: a zero index price is refused even with adjust=qfq."""
    rows = index_rows()
    rows[1]["low"] = "0"
    path = write_csv(tmp_path / "sh000300.csv", rows, INDEX_COLUMNS)
    assert_refused(path, tmp_path, filled_store, ["row 2", "field 'low'", "zero or negative"], adjust="qfq")


def test_qfq_drop_keeps_row_numbers_of_the_file(tmp_path):
    path = write_csv(tmp_path / "600519.csv", _rows_with(r1_开盘="-1", r3_最高="1.0"), AK_COLUMNS)
    with pytest.raises(InputError) as info:
        import_paths(Store(tmp_path / "s"), [path], adjust="qfq")
    assert f"{path}: row 3: field 'high'" in str(info.value)


# --- validate_bars directly ---------------------------------------------------------------------

def canonical(n=3, **cols) -> pd.DataFrame:
    base = {"code": ["600519"] * n, "date": pd.to_datetime(DATES[:n]), "open": [10.0] * n, "high": [11.0] * n,
            "low": [9.0] * n, "close": [10.5] * n, "volume": [100.0] * n}
    base.update(cols)
    return pd.DataFrame(base)


def test_validate_today_boundary():
    """A bar dated today is fine; tomorrow is refused."""
    f = canonical(2)
    assert len(validate_bars(f, "x", today=dt.date(2024, 1, 3)).frame) == 2
    with pytest.raises(InputError, match=r"x: row 2: field 'date': 2024-01-03 is in the future \(after 2024-01-02\)"):
        validate_bars(f, "x", today=dt.date(2024, 1, 2))


def test_validate_index_kind_checks_index_codes():
    f = canonical(2, code=["sh000300", "600519"])
    with pytest.raises(InputError, match=r"row 2: field 'code': '600519' is not a valid index code"):
        validate_bars(f, "x", kind="index")
    with pytest.raises(InputError, match=r"row 1: field 'code': 'sh000300' is not a valid A-share code"):
        validate_bars(f, "x", kind="stock")


def test_validate_price_slack_is_tiny():
    """Float noise within 1e-6 passes; a real one-cent inconsistency does not."""
    assert len(validate_bars(canonical(1, high=[9.0 - 1e-9], close=[9.0], open=[9.0]), "x").frame) == 1
    with pytest.raises(InputError, match="field 'high'"):
        validate_bars(canonical(1, high=[8.99], close=[9.0], open=[9.0]), "x")


def test_validate_empty_frame():
    with pytest.raises(InputError, match="x: no rows to import"):
        validate_bars(canonical(0), "x")


def test_strict_message_counts_all_more_bad_rows():
    f = canonical(3, high=[8.0, 11.0, 11.0], volume=[100.0, -1.0, -1.0])
    with pytest.raises(InputError, match=r"row 1: field 'high'.*\(2 more bad rows\)"):
        validate_bars(f, "x.csv")


def test_strict_message_counts_more_rows_of_the_same_rule():
    f = canonical(3, volume=[-1.0, 100.0, -3.0])
    with pytest.raises(InputError, match=r"x.csv: row 1: field 'volume': -1.0 is negative \(1 more bad rows\)"):
        validate_bars(f, "x.csv")


@pytest.mark.parametrize("col", ["open", "close", "volume"])
def test_infinite_values_are_refused(col):
    f = canonical(2)
    f.loc[1, col] = np.inf
    if col in ("open", "close"):
        f.loc[1, "high"] = np.inf
    with pytest.raises(InputError, match=rf"row 2: field '(high|{col})'"):
        validate_bars(f, "x.csv")


def test_strict_validate_returns_sorted_frame():
    f = pd.concat([canonical(2), canonical(2, code=["000001"] * 2)], ignore_index=True)
    out = validate_bars(f, "x").frame
    assert list(out["code"]) == ["000001", "000001", "600519", "600519"]


# --- lenient ------------------------------------------------------------------------------------

def _lenient_rows():
    rows = stock_rows(4) + [dict(stock_rows(1)[0], 日期=d) for d in ("2024-01-08", "2024-01-09")]
    rows[1]["最高"] = "1.0"        # row 2: high below low
    rows[2]["成交量"] = "-1"       # row 3: negative volume
    rows[4]["收盘"] = ""           # row 5: close missing
    return rows


def test_lenient_drops_bad_rows_and_counts_them(tmp_path):
    path = write_csv(tmp_path / "600519.csv", _lenient_rows(), AK_COLUMNS)
    store = Store(tmp_path / "store")
    with pytest.warns(UserWarning) as caught:
        report = import_paths(store, [path], lenient=True)
    assert [str(w.message) for w in caught] == report.warnings
    assert sorted(w for w in report.warnings if "dropped 0" not in w) == sorted([
        f"{path}: dropped 1 row(s): close is missing (NaN)",
        f"{path}: dropped 1 row(s): high is below low",
        f"{path}: dropped 1 row(s): volume is negative",
    ])
    bars = store.load("stock_qfq")
    assert list(bars["date"].dt.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-05", "2024-01-09"]
    assert report.written["stock_qfq"]["imported_rows"] == 3
    assert f"warning: {path}: dropped 1 row(s): high is below low" in report.lines()


def test_lenient_drops_duplicate_dates(tmp_path):
    rows = stock_rows(4) + [dict(stock_rows(1)[0], 日期="2024-01-03")]  # row 5 repeats row 2's date
    path = write_csv(tmp_path / "600519.csv", rows, AK_COLUMNS)
    store = Store(tmp_path / "store")
    report = import_paths(store, [path], lenient=True)
    assert report.warnings == [f"{path}: dropped 1 row(s): date is a duplicate of the row before "
                               "(same code and date)"]
    assert list(store.load("stock_qfq")["date"].dt.strftime("%Y-%m-%d")) == DATES


def test_lenient_reports_no_zero_counts(tmp_path):
    path = write_csv(tmp_path / "600519.csv", _lenient_rows(), AK_COLUMNS)
    with pytest.warns(UserWarning):
        report = import_paths(Store(tmp_path / "store"), [path], lenient=True)
    assert not [w for w in report.warnings if "dropped 0 row(s)" in w], report.warnings


def test_lenient_sorts_instead_of_refusing_unsorted_dates(tmp_path):
    path = write_csv(tmp_path / "600519.csv", _rows_with(r2_日期="2024-01-04", r3_日期="2024-01-03"), AK_COLUMNS)
    store = Store(tmp_path / "store")
    report = import_paths(store, [path], lenient=True)
    assert report.warnings == []
    bars = store.load("stock_qfq")
    assert list(bars["date"].dt.strftime("%Y-%m-%d")) == DATES
    assert list(bars["open"]) == [10.0, 12.0, 11.0, 13.0]  # rows moved with their dates


def test_lenient_row_counted_once_under_its_first_problem():
    f = canonical(2, high=[8.0, 11.0], volume=[-1.0, 100.0])
    checked = validate_bars(f, "x", lenient=True)
    assert {k: n for k, n in checked.dropped.items() if n} == {"high is below low": 1}
    assert checked.n_dropped == 1 and len(checked.frame) == 1


def test_lenient_all_rows_bad_is_refused(tmp_path, filled_store):
    rows = stock_rows(2)
    for r in rows:
        r["成交量"] = "-1"
    path = write_csv(tmp_path / "600519.csv", rows, AK_COLUMNS)
    before = snapshot(filled_store.root)
    with pytest.raises(InputError, match=f"{path}: every row was bad"):
        import_paths(filled_store, [path], lenient=True)
    assert snapshot(filled_store.root) == before


def test_keep_going_reports_refusals(tmp_path, filled_store):
    good = write_csv(tmp_path / "600519.csv", stock_rows(), AK_COLUMNS)
    bad = tmp_path / "600000.xlsx"
    bad.write_bytes(b"PK")
    report = import_paths(filled_store, [bad, good], keep_going=True)
    assert report.refused == [f"{bad}: unknown format .xlsx; hypebt imports .csv and .parquet"]
    assert f"refused: {bad}: unknown format .xlsx; hypebt imports .csv and .parquet" in report.lines()
    assert set(filled_store.load("stock_qfq")["code"]) == {"000002", "600519"}


def test_keep_going_with_nothing_good_is_refused(tmp_path, filled_store):
    bad = tmp_path / "600000.txt"
    bad.write_text("x")
    assert_refused(bad, tmp_path, filled_store, [])  # without keep_going
    before = snapshot(filled_store.root)
    with pytest.raises(InputError, match=r"^nothing to import: .*600000.txt: unknown format .txt"):
        import_paths(filled_store, [bad], keep_going=True)
    assert snapshot(filled_store.root) == before


# --- format detection and conversion -----------------------------------------------------------

def test_akshare_stock_csv_detected_code_from_name_volume_in_shares(tmp_path):
    path = write_csv(tmp_path / "688039.csv", stock_rows(), AK_COLUMNS)
    kind, frame = read_file(path)
    assert kind == "stock"
    assert list(frame.columns) == ["code", "date", "open", "high", "low", "close", "volume", "amount",
                                   "pct_change", "turnover"]
    assert set(frame["code"]) == {"688039"}
    assert list(frame["volume"]) == [100_000.0, 100_100.0, 100_200.0, 100_300.0]
    assert list(frame["open"]) == [10.0, 11.0, 12.0, 13.0]
    assert list(frame["high"]) == [10.5, 11.5, 12.5, 13.5]
    assert list(frame["pct_change"]) == [2.0] * 4
    assert frame["date"].dtype == "datetime64[ns]"


def test_akshare_csv_with_bom_and_code_in_longer_name(tmp_path):
    path = write_csv(tmp_path / "600519.SH.csv", stock_rows(), AK_COLUMNS, encoding="utf-8-sig")
    kind, frame = read_file(path)
    assert kind == "stock" and set(frame["code"]) == {"600519"}


def test_index_csv_detected_volume_unchanged(tmp_path):
    path = write_csv(tmp_path / "sh000300.csv", index_rows(), INDEX_COLUMNS)
    kind, frame = read_file(path)
    assert kind == "index"
    assert list(frame.columns) == ["code", "date", "open", "high", "low", "close", "volume"]
    assert set(frame["code"]) == {"sh000300"}
    assert frame["volume"].iloc[0] == 8_000_000_000.0
    assert frame["close"].iloc[3] == 3523.0


def test_market_parquet_detected_codes_from_column(tmp_path):
    path = write_market_parquet(tmp_path / "market.parquet",
                                {"600519": stock_rows(2), "300750": stock_rows(3)})
    kind, frame = read_file(path)
    assert kind == "stock"
    assert list(frame["code"]) == ["600519"] * 2 + ["300750"] * 3
    assert list(frame["volume"]) == [100_000.0, 100_100.0, 100_000.0, 100_100.0, 100_200.0]


def test_market_parquet_with_integer_codes_is_zero_padded(tmp_path):
    f = pd.DataFrame(stock_rows(2)).astype({c: float for c in AK_COLUMNS[1:]})
    f.insert(0, "code", [1, 1])
    f.to_parquet(tmp_path / "m.parquet")
    kind, frame = read_file(tmp_path / "m.parquet")
    assert kind == "stock" and list(frame["code"]) == ["000001", "000001"]


def test_canonical_parquet_roundtrip_keeps_volume_in_shares(tmp_path):
    """A hypebt export (English columns, volume already in shares) imports unchanged."""
    store = Store(tmp_path / "a")
    import_paths(store, [write_csv(tmp_path / "600519.csv", stock_rows(), AK_COLUMNS)])
    exported = store.load("stock_qfq")
    exported.to_parquet(tmp_path / "export.parquet")
    kind, frame = read_file(tmp_path / "export.parquet")
    assert kind == "stock"
    pd.testing.assert_frame_equal(frame[exported.columns], exported, check_dtype=False)
    other = Store(tmp_path / "b")
    import_paths(other, [tmp_path / "export.parquet"])
    pd.testing.assert_frame_equal(other.load("stock_qfq"), exported)


def test_canonical_index_parquet_detected_as_index(tmp_path):
    f = pd.DataFrame(index_rows()).astype({c: float for c in INDEX_COLUMNS[1:]})
    f.insert(0, "code", "sh000300")
    f.to_parquet(tmp_path / "idx.parquet")
    kind, frame = read_file(tmp_path / "idx.parquet")
    assert kind == "index" and set(frame["code"]) == {"sh000300"}
    assert frame["volume"].iloc[0] == 8_000_000_000.0


def test_import_writes_shares_and_reports(tmp_path):
    store = Store(tmp_path / "store")
    report = import_paths(store, [write_csv(tmp_path / "600519.csv", stock_rows(), AK_COLUMNS),
                                  write_csv(tmp_path / "sh000300.csv", index_rows(), INDEX_COLUMNS)])
    assert report.lines() == [
        "imported 4 rows of 1 codes into stock_qfq (2024-01-02..2024-01-05); dataset now 4 rows",
        "imported 4 rows of 1 codes into index (2024-01-02..2024-01-05); dataset now 4 rows",
    ]
    assert list(store.load("stock_qfq")["volume"]) == [100_000.0, 100_100.0, 100_200.0, 100_300.0]
    assert store.manifest("index")["adjust"] == "none"
    assert store.manifest("stock_qfq")["adjust"] == "qfq"


@pytest.mark.parametrize("adjust,dataset", [("qfq", "stock_qfq"), ("hfq", "stock_hfq"), ("raw", "stock_raw")])
def test_adjust_chooses_the_dataset(adjust, dataset, tmp_path):
    store = Store(tmp_path / "store")
    import_paths(store, [write_csv(tmp_path / "600519.csv", stock_rows(), AK_COLUMNS)], adjust=adjust)
    assert store.datasets() == [dataset]


@pytest.mark.parametrize("name,code", [("600519.csv", "600519"), ("sh000300.csv", "sh000300"),
                                       ("SH000300.CSV", "sh000300"), ("688039.hist.csv", "688039"),
                                       (" 000001 .csv", "000001")])
def test_code_from_filename(name, code):
    assert code_from_filename(Path(name)) == code


# --- messages speak the file's language; the first bad row of the file comes first ---------------

def test_message_gives_the_files_column_and_value_as_written(tmp_path):
    """成交量 is in lots: the message shows the converted shares and what the file says."""
    path = write_csv(tmp_path / "600519.csv", _rows_with(r3_成交量="-1"), AK_COLUMNS)
    with pytest.raises(InputError) as info:
        import_paths(Store(tmp_path / "s"), [path])
    assert str(info.value).startswith(
        f"{path}: row 3: field 'volume': -100.0 is negative (in the file: 成交量 = -1); fix the row")


def test_message_names_a_renamed_column_without_repeating_an_equal_value(tmp_path):
    path = write_csv(tmp_path / "600519.csv", _rows_with(r2_最低="-0.5"), AK_COLUMNS)
    with pytest.raises(InputError) as info:
        import_paths(Store(tmp_path / "s"), [path], adjust="raw")
    assert f"{path}: row 2: field 'low': -0.5 is zero or negative (column 最低); fix the row" in str(info.value)


def test_index_message_has_no_column_note_when_names_and_values_agree(tmp_path):
    rows = index_rows()
    rows[1]["volume"] = "-1"
    path = write_csv(tmp_path / "sh000300.csv", rows, INDEX_COLUMNS)
    with pytest.raises(InputError) as info:
        import_paths(Store(tmp_path / "s"), [path])
    assert str(info.value).startswith(f"{path}: row 2: field 'volume': -1.0 is negative; fix the row")


def test_market_parquet_integer_code_gets_no_note(tmp_path):
    f = pd.DataFrame(stock_rows(2)).astype({c: float for c in AK_COLUMNS[1:]})
    f.insert(0, "code", [999999, 999999])
    f.to_parquet(tmp_path / "m.parquet")
    with pytest.raises(InputError) as info:
        import_paths(Store(tmp_path / "s"), [tmp_path / "m.parquet"])
    assert "row 1: field 'code': '999999' is not a valid A-share code" in str(info.value)
    assert "(in the file: code = 999999)" not in str(info.value)  # the same code once padded: no note


def test_first_bad_row_of_the_file_is_reported_whatever_the_rule():
    """Row 1 breaks a rule checked late (volume), row 2 one checked early (high): row 1 comes first."""
    f = canonical(3, high=[11.0, 8.0, 11.0], volume=[-1.0, 100.0, 100.0])
    with pytest.raises(InputError, match=r"^x: row 1: field 'volume': -1.0 is negative \(1 more bad rows\)"):
        validate_bars(f, "x")


def test_first_bad_row_counts_order_problems_too():
    """A duplicate (row 2) before a bad price (row 3): the duplicate is reported, the price counted."""
    f = canonical(3, date=pd.to_datetime([DATES[0], DATES[0], DATES[2]]), low=[9.0, 9.0, 12.0])
    with pytest.raises(InputError, match=r"row 2: field 'date': 2024-01-02 is a duplicate of the row before "
                                         r"\(same code and date\) \(1 more bad rows\)"):
        validate_bars(f, "x")


def test_non_adjacent_duplicate_names_the_first_row():
    f = canonical(4, date=pd.to_datetime([DATES[0], DATES[1], DATES[2], DATES[0]]))
    with pytest.raises(InputError, match=r"row 4: field 'date': 2024-01-02 is a duplicate of row 1 "
                                         r"\(same code and date\)"):
        validate_bars(f, "x")


def test_unsorted_dates_are_found_within_a_code_across_other_codes():
    """Codes interleaved: 600519's second row (row 3) goes back in time, though no neighbour shares its code."""
    f = canonical(3, code=["600519", "000001", "600519"], date=pd.to_datetime([DATES[1], DATES[0], DATES[0]]))
    with pytest.raises(InputError, match=r"row 3: field 'date': 2024-01-02 is earlier than row 1 \(same code\): "
                                         "dates must be sorted ascending"):
        validate_bars(f, "x")
    out = validate_bars(f, "x", lenient=True).frame  # lenient sorts instead
    assert list(zip(out["code"], out["date"].dt.strftime("%Y-%m-%d"))) == \
        [("000001", DATES[0]), ("600519", DATES[0]), ("600519", DATES[1])]


def test_interleaved_codes_are_sorted_by_code_keeping_dates():
    f = canonical(4, code=["600519", "000001", "600519", "000001"],
                  date=pd.to_datetime([DATES[0], DATES[0], DATES[1], DATES[1]]), open=[1.0, 2.0, 3.0, 4.0],
                  low=[0.5] * 4)
    out = validate_bars(f, "x").frame
    assert list(out["code"]) == ["000001", "000001", "600519", "600519"]
    assert list(out["open"]) == [2.0, 4.0, 1.0, 3.0]
    assert list(out.index) == [0, 1, 2, 3]


@pytest.mark.parametrize("col", ["amount", "turnover"])
def test_infinite_optional_numbers_are_refused(col):
    f = canonical(2)
    f[col] = [1.0, -np.inf]
    with pytest.raises(InputError, match=rf"row 2: field '{col}': -inf is infinite"):
        validate_bars(f, "x.csv")


def test_qfq_negative_infinity_is_refused_not_dropped():
    f = canonical(2, low=[9.0, -np.inf])
    with pytest.raises(InputError, match=r"row 2: field 'low': -inf is infinite"):
        validate_bars(f, "x.csv", qfq=True)


def test_missing_date_is_refused():
    f = canonical(2)
    f.loc[1, "date"] = pd.NaT
    with pytest.raises(InputError, match=r"row 2: field 'date': NaT is missing"):
        validate_bars(f, "x.csv")


def test_lenient_keeps_the_first_copy_of_a_duplicate(tmp_path):
    rows = stock_rows(3) + [dict(stock_rows(1)[0], 开盘="10.1")]  # row 4 repeats row 1's date
    path = write_csv(tmp_path / "600519.csv", rows, AK_COLUMNS)
    checked = validate_bars(read_file(path)[1], str(path), lenient=True)
    assert checked.dropped == {"date is a duplicate of the row before (same code and date)": 1}
    assert list(checked.frame["open"]) == [10.0, 11.0, 12.0]


def test_cross_file_duplicate_names_both_files(tmp_path, filled_store):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = write_csv(tmp_path / "a" / "600519.csv", stock_rows(), AK_COLUMNS)
    other = write_csv(tmp_path / "600000.csv", stock_rows(), AK_COLUMNS)
    two = write_csv(tmp_path / "b" / "600519.csv", stock_rows(3)[2:], AK_COLUMNS)
    assert_refused([one, other, two], tmp_path, filled_store,
                   [f"(600519 2024-01-04) comes from two of the files given, {one} and {two}"])


def test_renamed_column_suggests_the_look_alike(tmp_path):
    columns = ["收盘价" if c == "收盘" else c for c in AK_COLUMNS]
    rows = [{("收盘价" if k == "收盘" else k): v for k, v in r.items()} for r in stock_rows()]
    path = write_csv(tmp_path / "600519.csv", rows, columns)
    with pytest.raises(InputError) as info:
        import_paths(Store(tmp_path / "s"), [path])
    msg = str(info.value)
    assert "missing column(s) 收盘 (did you mean '收盘价'?) for an akshare stock_zh_a_hist table" in msg
    assert msg.endswith("rename the column(s) to the expected header(s), or export the table again with all of: "
                        "日期, 开盘, 收盘, 最高, 最低, 成交量")


def test_missing_column_suggests_no_column_the_format_already_uses(tmp_path):
    """成交额 (amount) looks like 成交量 (volume), but it is a column of its own: no suggestion."""
    path = write_csv(tmp_path / "600519.csv", stock_rows(), [c for c in AK_COLUMNS if c != "成交量"])
    with pytest.raises(InputError) as info:
        import_paths(Store(tmp_path / "s"), [path])
    assert "did you mean" not in str(info.value)
    assert "missing column(s) 成交量 for" in str(info.value)


@pytest.mark.parametrize("dates,row,fragments", [
    (["2024-01-02T00:00:00+08:00", "2024-01-03"], 2, ["'2024-01-03' has no UTC offset but row 1",
                                                       "has UTC offset +08:00", "one time zone"]),
    (["2024-01-02T00:00:00+08:00", "2024-01-03T00:00:00+09:00"], 2, ["has UTC offset +09:00 but row 1"]),
    (["2024-01-02", "2024-01-03T00:00:00+08:00", "nonsense"], 2, ["has UTC offset +08:00 but row 1"]),
    (["nonsense", "2024-01-03T00:00:00+08:00", "2024-01-04"], 1, ["'nonsense' is not a date"]),
])
def test_mixed_time_zones_are_refused_at_their_row(dates, row, fragments, tmp_path, filled_store):
    rows = stock_rows(len(dates))
    for r, d in zip(rows, dates):
        r["日期"] = d
    path = write_csv(tmp_path / "600519.csv", rows, AK_COLUMNS)
    assert_refused(path, tmp_path, filled_store, [f"{path}: row {row}: field '日期': ", *fragments])


def test_one_time_zone_for_all_dates_is_accepted(tmp_path):
    rows = stock_rows(2)
    rows[0]["日期"], rows[1]["日期"] = "2024-01-02T00:00:00+08:00", "2024-01-03T00:00:00+08:00"
    kind, frame = read_file(write_csv(tmp_path / "600519.csv", rows, AK_COLUMNS))
    assert list(frame["date"].dt.strftime("%Y-%m-%d")) == DATES[:2]


def test_far_future_year_message(tmp_path):
    path = write_csv(tmp_path / "600519.csv", _rows_with(r2_日期="9024-01-03"), AK_COLUMNS)
    with pytest.raises(InputError, match=r"row 2: field '日期': '9024-01-03' is out of range \(1678..2261\): "
                                         "check the year"):
        read_file(path)
