"""``hypebt data import|info|check`` through ``hypebt.cli.main.main``: output, exit codes, one-line errors."""

from __future__ import annotations

import errno
import hashlib
from pathlib import Path

import pandas as pd
import pytest

from helpers_engine import data_file

import hypebt.data.store as store_mod
from hypebt.cli.main import main
from hypebt.core.errors import InputError
from hypebt.data.store import Store

HEADER = "日期,开盘,收盘,最高,最低,成交量,成交额,振幅,涨跌幅,涨跌额,换手率\n"
GOOD_ROWS = [
    "2024-01-02,10.00,10.20,10.50,9.90,1000,1020000.0,6.0,2.0,0.2,0.5",
    "2024-01-03,10.20,10.40,10.60,10.10,1100,1144000.0,4.9,1.96,0.2,0.55",
    "2024-01-04,10.40,10.30,10.50,10.20,900,927000.0,2.9,-0.96,-0.1,0.45",
    "2024-01-05,10.30,10.60,10.70,10.30,1200,1272000.0,3.9,2.91,0.3,0.6",
]
INDEX = "date,open,high,low,close,volume\n" + "".join(
    f"2024-01-0{d},{3500 + d},{3550 + d},{3450 + d},{3520 + d},{8_000_000_000 + d}\n" for d in (2, 3, 4, 5))


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Never touch the repository's data/store: run in tmp_path with no HYPEBT_HOME."""
    monkeypatch.delenv("HYPEBT_HOME", raising=False)
    monkeypatch.delenv("HYPEBT_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "store"


def stock_csv(folder: Path, code: str = "600519", rows=None, encoding: str = "utf-8") -> Path:
    path = folder / f"{code}.csv"
    path.write_bytes((HEADER + "\n".join(rows or GOOD_ROWS) + "\n").encode(encoding))
    return path


def index_csv(folder: Path, code: str = "sh000300") -> Path:
    path = folder / f"{code}.csv"
    path.write_text(INDEX, "utf-8")
    return path


def replaced(row: int, col: int, value: str) -> list[str]:
    """GOOD_ROWS with field ``col`` (0-based) of data row ``row`` (1-based) replaced."""
    rows = [r.split(",") for r in GOOD_ROWS]
    rows[row - 1][col] = value
    return [",".join(r) for r in rows]


def run(capsys, home: Path | None, *args: str) -> tuple[int, str, str]:
    argv = (["--home", str(home)] if home is not None else []) + list(args)
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def tree(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def assert_one_line_error(err: str, code: int, expected_code: int, *fragments: str) -> None:
    assert code == expected_code, err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("hypebt: error: "), err
    assert "Traceback" not in err
    for frag in fragments:
        assert frag in err, f"{frag!r} not in {err!r}"


# --- data import ----------------------------------------------------------------------------------

def test_import_prints_codes_rows_and_range(tmp_path, home, capsys):
    code, out, err = run(capsys, home, "data", "import", str(stock_csv(tmp_path)), str(index_csv(tmp_path)))
    assert code == 0, err
    assert out.splitlines() == [
        "imported 4 rows of 1 codes into stock_qfq (2024-01-02..2024-01-05); dataset now 4 rows",
        "imported 4 rows of 1 codes into index (2024-01-02..2024-01-05); dataset now 4 rows",
    ]
    assert err == ""
    assert Store(home).datasets() == ["stock_qfq", "index"]
    assert list(Store(home).load("stock_qfq")["volume"]) == [100_000.0, 110_000.0, 90_000.0, 120_000.0]


def test_import_twice_reports_dataset_total(tmp_path, home, capsys):
    run(capsys, home, "data", "import", str(stock_csv(tmp_path, "600519")))
    code, out, _ = run(capsys, home, "data", "import", str(stock_csv(tmp_path, "000001", GOOD_ROWS[:2])))
    assert code == 0
    assert out == "imported 2 rows of 1 codes into stock_qfq (2024-01-02..2024-01-03); dataset now 6 rows\n"


@pytest.mark.parametrize("name,make,fragments", [
    ("high_below_low", lambda d: stock_csv(d, rows=replaced(2, 3, "9.0")),
     ["600519.csv: row 2: field 'high': 9.0 is below low", "--lenient"]),
    ("gbk", lambda d: stock_csv(d, encoding="gbk"), ["600519.csv: not UTF-8 (GBK?): save it as UTF-8"]),
    ("xlsx", lambda d: (d / "600519.xlsx").write_bytes(b"PK\x03\x04") and d / "600519.xlsx",
     ["600519.xlsx: unknown format .xlsx; hypebt imports .csv and .parquet"]),
    ("missing_column", lambda d: (d / "600519.csv").write_text("日期,开盘,收盘,最高,最低\n2024-01-02,1,1,1,1\n")
     and d / "600519.csv", ["600519.csv: missing column(s) 成交量"]),
    ("no_code", lambda d: (d / "prices.csv").write_text(HEADER + GOOD_ROWS[0] + "\n") and d / "prices.csv",
     ["prices.csv: file name does not give a stock code", "600519.csv"]),
    ("no_such_file", lambda d: d / "600000.csv", ["600000.csv: no such file"]),
])
def test_import_bad_input_exits_2_with_one_line(name, make, fragments, tmp_path, home, capsys):
    path = make(tmp_path)
    code, out, err = run(capsys, home, "data", "import", str(path))
    assert_one_line_error(err, code, 2, *fragments)
    assert out == ""
    assert tree(home) == {}


def test_import_refusal_leaves_existing_store_unchanged(tmp_path, home, capsys):
    (tmp_path / "good").mkdir()
    run(capsys, home, "data", "import", str(stock_csv(tmp_path / "good", "000001")))
    before = tree(home)
    good = stock_csv(tmp_path, "600519")
    bad = stock_csv(tmp_path, "300750", rows=replaced(3, 5, "-1"))
    code, out, err = run(capsys, home, "data", "import", str(good), str(bad))
    assert_one_line_error(err, code, 2, "300750.csv: row 3: field 'volume'", "is negative")
    assert tree(home) == before


def test_keep_going_imports_the_good_and_lists_refusals(tmp_path, home, capsys):
    good = stock_csv(tmp_path, "600519")
    bad = stock_csv(tmp_path, "300750", rows=replaced(3, 5, "-1"))
    code, out, err = run(capsys, home, "data", "import", "--keep-going", str(bad), str(good))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "imported 4 rows of 1 codes into stock_qfq (2024-01-02..2024-01-05); dataset now 4 rows"
    assert lines[1].startswith(f"refused: {bad}: row 3: field 'volume': -100.0 is negative")
    assert len(lines) == 2
    assert set(Store(home).load("stock_qfq")["code"]) == {"600519"}


def test_keep_going_with_only_bad_files_exits_2(tmp_path, home, capsys):
    bad = stock_csv(tmp_path, "300750", rows=replaced(3, 5, "-1"))
    code, out, err = run(capsys, home, "data", "import", "--keep-going", str(bad))
    assert_one_line_error(err, code, 2, "nothing to import:", f"{bad}: row 3: field 'volume'")
    assert tree(home) == {}


def test_lenient_drops_and_prints_counts(tmp_path, home, capsys):
    path = stock_csv(tmp_path, rows=replaced(2, 3, "9.0"))
    code, _, _ = run(capsys, home, "data", "import", str(path))
    assert code == 2
    code, out, err = run(capsys, home, "data", "import", "--lenient", str(path))
    assert code == 0, err
    assert out.splitlines()[0] == \
        "imported 3 rows of 1 codes into stock_qfq (2024-01-02..2024-01-05); dataset now 3 rows"
    assert f"warning: {path}: dropped 1 row(s): high is below low" in out.splitlines()
    assert "2024-01-03" not in set(Store(home).load("stock_qfq")["date"].dt.strftime("%Y-%m-%d"))


def test_lenient_with_duplicated_date_exits_0(tmp_path, home, capsys):
    path = stock_csv(tmp_path, rows=GOOD_ROWS + [GOOD_ROWS[3]])
    code, out, err = run(capsys, home, "data", "import", "--lenient", str(path))
    assert code == 0, err
    assert "dropped 1 row(s): date is a duplicate" in out


def test_qfq_nonpositive_prices_warn_raw_refuses(tmp_path, home, capsys):
    path = stock_csv(tmp_path, rows=replaced(1, 4, "-0.1"))
    code, out, err = run(capsys, home, "data", "import", str(path))
    assert code == 0, err
    assert f"warning: {path}: dropped 1 row(s): price <= 0 after forward adjustment (600519)" in out.splitlines()
    code, out, err = run(capsys, tmp_path / "raw_store", "data", "import", "--adjust", "raw", str(path))
    assert_one_line_error(err, code, 2, "row 1: field 'low': -0.1 is zero or negative")
    assert tree(tmp_path / "raw_store") == {}


def test_mixed_timezone_dates_are_bad_input(tmp_path, home, capsys):
    rows = replaced(1, 0, "2024-01-02T00:00:00+08:00")
    code, out, err = run(capsys, home, "data", "import", str(stock_csv(tmp_path, rows=rows)))
    assert_one_line_error(err, code, 2, "600519.csv", "日期")


def test_far_future_year_is_bad_input(tmp_path, home, capsys):
    code, out, err = run(capsys, home, "data", "import", str(stock_csv(tmp_path, rows=replaced(4, 0, "9024-01-05"))))
    assert_one_line_error(err, code, 2, "600519.csv", "row 4")


def test_disk_full_exits_5(tmp_path, home, capsys, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_mod.pq, "write_table", full)
    code, out, err = run(capsys, home, "data", "import", str(stock_csv(tmp_path)))
    assert_one_line_error(err, code, 5, "bars.parquet: cannot write: the disk is full")
    assert Store(home).datasets() == []
    assert [p.name for p in (home / "stock_qfq").iterdir()] == []


def test_debug_shows_the_exception(tmp_path, home, capsys):
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(InputError, match="unknown format .txt"):
        main(["--home", str(home), "--debug", "data", "import", str(tmp_path / "x.txt")])


def test_import_without_paths_is_a_usage_error(home, capsys):
    with pytest.raises(SystemExit) as info:
        main(["--home", str(home), "data", "import"])
    assert info.value.code == 2
    assert "the following arguments are required: PATH" in capsys.readouterr().err


# --- data info ------------------------------------------------------------------------------------

def test_info_on_empty_store(home, capsys):
    code, out, err = run(capsys, home, "data", "info")
    assert code == 0
    assert out == f"{home}: empty store; run 'hypebt data import PATH' or 'hypebt data fetch CODE'\n"


def test_info_lists_each_dataset(tmp_path, home, capsys):
    run(capsys, home, "data", "import", str(stock_csv(tmp_path)), str(index_csv(tmp_path)))
    code, out, err = run(capsys, home, "data", "info")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"store: {home}"
    assert len(lines) == 3
    stock, index = lines[1].split(), lines[2].split()
    sha = Store(home).manifest("stock_qfq")["sha256"]
    assert stock[:7] == ["stock_qfq", "4", "rows", "1", "codes", "2024-01-02..2024-01-05", "adjust=qfq"]
    assert f"sha256={sha[:12]}" in stock and "as_of=2024-01-05" in stock
    assert lines[1].endswith("from import:600519.csv,sh000300.csv")
    assert index[:7] == ["index", "4", "rows", "1", "codes", "2024-01-02..2024-01-05", "adjust=none"]


def test_info_with_unreadable_manifest_exits_3(tmp_path, home, capsys):
    run(capsys, home, "data", "import", str(stock_csv(tmp_path)))
    (home / "stock_qfq" / "manifest.json").write_text("{", "utf-8")
    code, out, err = run(capsys, home, "data", "info")
    assert_one_line_error(err, code, 3, "manifest.json: manifest unreadable", "re-import the dataset")


# --- data check -----------------------------------------------------------------------------------

def test_check_ok(tmp_path, home, capsys):
    code, out, _ = run(capsys, home, "data", "check")
    assert (code, out) == (0, "ok: 0 dataset(s) match their manifests (empty store)\n")
    run(capsys, home, "data", "import", str(stock_csv(tmp_path)), str(index_csv(tmp_path)))
    code, out, err = run(capsys, home, "data", "check")
    assert (code, out, err) == (0, "ok: 2 dataset(s) match their manifests (stock_qfq, index)\n"
                                   "ok: sessions 2024-01-02..2024-01-05 match exchange_calendars' XSHG\n", "")


@pytest.mark.parametrize("how", ["truncated", "modified", "deleted"])
def test_check_reports_a_damaged_file_and_exits_3(how, tmp_path, home, capsys):
    run(capsys, home, "data", "import", str(stock_csv(tmp_path)), str(index_csv(tmp_path)))
    path = data_file(home, "stock_qfq")
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[:-100])
    elif how == "modified":
        path.write_bytes(data[:50] + bytes([data[50] ^ 1]) + data[51:])
    else:
        path.unlink()
    code, out, err = run(capsys, home, "data", "check")
    assert code == 3 and out == ""
    lines = err.splitlines()
    assert len(lines) == 2 and "Traceback" not in err
    if how == "deleted":
        assert lines[0] == f"problem: {path}: missing (the manifest lists 4 rows); re-import the dataset"
    else:
        assert lines[0] == (f"problem: {path}: content hash differs from its manifest (truncated or modified); "
                            "re-import it (import:600519.csv,sh000300.csv)")
    assert lines[1] == "hypebt: error: 1 of 2 dataset(s) failed the check (see above)"


# --- the real files through the CLI -----------------------------------------------------------

@pytest.mark.realdata
def test_import_real_csvs(shared_data, home, capsys):
    daily = shared_data / "ashare" / "daily"
    paths = [daily / "688039.csv", daily / "002230.csv", shared_data / "index" / "sh000300.csv"]
    rows = sum(len(pd.read_csv(p)) for p in paths[:2])
    code, out, err = run(capsys, home, "data", "import", *map(str, paths))
    assert code == 0, err
    assert out.splitlines() == [
        f"imported {rows:,} rows of 2 codes into stock_qfq (2021-01-04..2024-05-22); dataset now {rows:,} rows",
        "imported 3,993 rows of 1 codes into index (2010-01-04..2026-06-16); dataset now 3,993 rows",
    ]
    code, out, _ = run(capsys, home, "data", "check")
    assert (code, out) == (0, "ok: 2 dataset(s) match their manifests (stock_qfq, index)\n"
                              "ok: sessions 2010-01-04..2026-06-16 match exchange_calendars' XSHG\n")
