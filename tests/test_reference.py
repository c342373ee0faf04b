"""Dated reference tables (hypebt.data.reference): schemas, checks, CSV import, store round trip."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from helpers_engine import data_file
from hypebt.core.errors import DataError, InputError
from hypebt.data import reference as R
from hypebt.data.store import Store


def snapshot(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def st_rows():
    return pd.DataFrame({
        "code": ["600721", "600721", "000004"],
        "start": ["2022-05-05", "2023-05-04", "2024-04-30"],
        "end": ["2023-05-03", "", ""],
        "kind": ["*ST", "ST", "*st"],  # labels are upper-cased
    })


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- round trips --------------------------------------------------------------------------------

def test_st_history_saved_and_loaded_typed_with_manifest(tmp_path):
    store = Store(tmp_path / "s")
    manifest = R.save(store, "st_history", st_rows(), source="cninfo 特别处理和退市", as_of="2024-05-22")
    assert manifest["as_of"] == "2024-05-22" and manifest["sources"] == ["cninfo 特别处理和退市"]
    assert manifest["rows"] == 3 and manifest["codes"] == 2
    assert (manifest["first_date"], manifest["last_date"]) == ("2022-05-05", "2024-04-30")
    st = R.load(store, "st_history")
    assert list(st.columns) == ["code", "start", "end", "kind", "source"]
    assert list(st["code"]) == ["000004", "600721", "600721"]  # sorted by key
    assert st["start"].dtype == "datetime64[ns]" and st["end"].dtype == "datetime64[ns]"
    assert st["end"].isna().tolist() == [True, False, True]
    assert set(st["source"]) == {"cninfo 特别处理和退市"}
    assert "st_history" in store.datasets() and store.check() == []
    assert R.as_of(store, "st_history").isoformat() == "2024-05-22"


def test_load_absent_table_is_none_and_unknown_name_is_refused(tmp_path):
    store = Store(tmp_path / "s")
    assert R.load(store, "margin_list") is None
    assert R.as_of(store, "margin_list") is None
    with pytest.raises(InputError, match=r"unknown reference dataset 'st_histroy' \(did you mean 'st_history'"):
        R.load(store, "st_histroy")


def test_margin_snapshots_accumulate_and_replace_same_date(tmp_path):
    store = Store(tmp_path / "s")
    first = pd.DataFrame({"date": ["2024-01-02"] * 2, "code": ["600000", "000001"], "exchange": ["SH", "SZ"]})
    R.save(store, "margin_list", first, source="sse", as_of="2024-01-02")
    again = pd.DataFrame({"date": ["2024-01-02", "2024-02-01"], "code": ["600000", "600000"],
                          "exchange": ["sh", "SH"]})
    m = R.save(store, "margin_list", again, source="sse2", as_of="2024-02-01")
    table = R.load(store, "margin_list")
    assert list(zip(table["date"].dt.strftime("%Y-%m-%d"), table["code"], table["source"])) == [
        ("2024-01-02", "000001", "sse"), ("2024-01-02", "600000", "sse2"), ("2024-02-01", "600000", "sse2")]
    assert m["sources"] == ["sse", "sse2"] and m["as_of"] == "2024-02-01"
    # An older as_of does not move the manifest's back.
    m = R.save(store, "margin_list", first.iloc[:1], source="sse", as_of="2023-12-01")
    assert m["as_of"] == "2024-02-01"


def test_replace_drops_the_stored_table(tmp_path):
    store = Store(tmp_path / "s")
    R.save(store, "st_history", st_rows(), source="a", as_of="2024-05-22")
    R.save(store, "st_history", st_rows().iloc[:1], source="b", as_of="2024-05-23", replace=True)
    assert len(R.load(store, "st_history")) == 1


def test_csv_import_listings_with_lost_leading_zeros(tmp_path):
    store = Store(tmp_path / "s")
    path = write(tmp_path / "listings.csv", "code,list_date,delist_date\n1,1991-04-03,\n"
                 "600087,1997-06-26,2014-06-05\n688039,20210608,\n")
    m = R.import_csv(store, "listings", path, as_of="2024-05-22")
    assert m["sources"] == ["import:listings.csv"]
    table = R.load(store, "listings")
    assert list(table["code"]) == ["000001", "600087", "688039"]
    assert table.loc[table["code"] == "688039", "list_date"].iloc[0] == pd.Timestamp("2021-06-08")
    assert table["delist_date"].notna().tolist() == [False, True, False]


def test_suspension_merge_that_overlaps_a_stored_period_is_refused_store_unchanged(tmp_path):
    store = Store(tmp_path / "s")
    R.save(store, "suspensions", pd.DataFrame({"code": ["600000"], "start": ["2024-03-01"], "end": ["2024-03-05"],
                                               "reason": ["重大事项"]}), source="em", as_of="2024-03-06")
    before = snapshot(store.root)
    clash = pd.DataFrame({"code": ["600000"], "start": ["2024-03-04"], "end": ["2024-03-08"], "reason": [""]})
    with pytest.raises(InputError, match="with the stored suspensions.*overlaps"):
        R.save(store, "suspensions", clash, source="em", as_of="2024-03-09")
    assert snapshot(store.root) == before
    # The same period again (same key) replaces the stored row instead.
    R.save(store, "suspensions", clash.assign(start="2024-03-01"), source="em", as_of="2024-03-09")
    assert R.load(store, "suspensions")["end"].iloc[0] == pd.Timestamp("2024-03-08")


def test_corrupted_reference_table_is_caught(tmp_path):
    store = Store(tmp_path / "s")
    R.save(store, "st_history", st_rows(), source="a", as_of="2024-05-22")
    path = data_file(store.root, "st_history")
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match="content hash differs"):
        R.load(store, "st_history")
    assert any("st_history" in p for p in store.check())


# --- refusals: one line, naming file, row and field; nothing written ---------------------------

BAD = {
    "bad_code": ("st_history", "code,start,end,kind\n700001,2024-01-02,,ST\n", ["row 1", "field 'code'", "'700001'"]),
    "bad_date": ("st_history", "code,start,end,kind\n600000,2024-13-02,,ST\n", ["row 1", "field 'start'", "not a date"]),
    "empty_start": ("st_history", "code,start,end,kind\n600000,,,ST\n", ["row 1", "field 'start'"]),
    "end_before_start": ("st_history", "code,start,end,kind\n600000,2024-02-02,2024-01-02,ST\n",
                         ["row 1", "field 'end'", "is before start 2024-02-02"]),
    "unknown_kind": ("st_history", "code,start,end,kind\n600000,2024-01-02,,ST*\n",
                     ["row 1", "field 'kind'", "'ST*'", "ST, *ST", "did you mean"]),
    "overlap": ("st_history", "code,start,end,kind\n600000,2024-01-02,,ST\n600000,2024-03-01,2024-04-01,*ST\n",
                ["row 2", "overlaps row 1", "2024-01-02..open"]),
    "duplicate_key": ("listings", "code,list_date,delist_date\n600000,1999-11-10,\n600000,1999-11-10,\n",
                      ["row 2", "code=600000", "given twice"]),
    "missing_column": ("margin_list", "date,code,exchnge\n2024-01-02,600000,SH\n",
                       ["missing column(s) exchange (did you mean 'exchnge'?)", "date, code, exchange, source"]),
    "wrong_exchange": ("margin_list", "date,code,exchange\n2024-01-02,600000,SZ\n",
                       ["row 1", "field 'exchange'", "600000 trades on SH"]),
    "unknown_exchange": ("margin_list", "date,code,exchange\n2024-01-02,600000,HK\n", ["'HK' is not one of SH, SZ, BJ"]),
    "empty_source": ("listings", "code,list_date,delist_date,source\n600000,1999-11-10,,\n",
                     ["row 1", "field 'source' is empty"]),
    "header_only": ("listings", "code,list_date,delist_date\n", ["no rows"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_reference_csv_is_refused_and_store_unchanged(case, tmp_path):
    name, text, fragments = BAD[case]
    store = Store(tmp_path / "s")
    R.save(store, "listings", pd.DataFrame({"code": ["000001"], "list_date": ["1991-04-03"], "delist_date": [""]}),
           source="seed", as_of="2024-05-22")
    before = snapshot(store.root)
    path = write(tmp_path / f"{name}.csv", text)
    with pytest.raises(InputError) as info:
        R.import_csv(store, name, path, as_of="2024-05-22")
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(path))
    for fragment in fragments:
        assert fragment in msg, msg
    assert snapshot(store.root) == before


def test_import_needs_a_real_as_of_date(tmp_path):
    path = write(tmp_path / "l.csv", "code,list_date,delist_date\n600000,1999-11-10,\n")
    with pytest.raises(InputError, match="as_of 'soon' is not a date"):
        R.import_csv(Store(tmp_path / "s"), "listings", path, as_of="soon")


def test_gbk_and_missing_files_are_refused(tmp_path):
    gbk = tmp_path / "st.csv"
    gbk.write_bytes("code,start,end,kind,source\n600000,2024-01-02,,ST,公告\n".encode("gbk"))
    with pytest.raises(InputError, match="not UTF-8"):
        R.import_csv(Store(tmp_path / "s"), "st_history", gbk, as_of="2024-05-22")
    with pytest.raises(InputError, match="no such file"):
        R.import_csv(Store(tmp_path / "s"), "st_history", tmp_path / "nope.csv", as_of="2024-05-22")


def test_adjacent_periods_do_not_overlap():
    table = pd.DataFrame({"code": ["600000"] * 2, "start": ["2024-01-02", "2024-01-10"],
                          "end": ["2024-01-09", ""], "kind": ["ST", "*ST"]})
    assert len(R.validate("st_history", table, "x", source="s")) == 2
    touching = table.assign(start=["2024-01-02", "2024-01-09"])
    with pytest.raises(InputError, match="overlaps"):
        R.validate("st_history", touching, "x", source="s")
