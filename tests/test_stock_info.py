"""Stock-list snapshots (:mod:`hypebt.data.stock_info`): reading, storing, names, bad input."""

from __future__ import annotations

import pandas as pd
import pytest

from hypebt.core.errors import InputError
from hypebt.data import stock_info as S
from hypebt.data.store import Store


def test_reads_the_shared_stock_list_and_stores_it(shared_data, tmp_path):
    frame = S.read_stock_list(shared_data / "ashare" / "stock_list.csv", as_of="2024-06-30")
    assert len(frame) > 5000 and frame["code"].str.fullmatch(r"\d{6}").all()
    row = frame.set_index("code").loc["000002"]
    assert row["name"] == "万科Ａ" and row["total_cap"] == pytest.approx(85781801096.49)
    store = Store(tmp_path / "store")
    manifest = S.save(store, frame, source=str(shared_data / "ashare" / "stock_list.csv"))
    assert manifest["as_of"] == "2024-06-30" and manifest["kind"] == "reference"
    assert S.names(store)["000001"] == "平安银行"
    assert S.load(Store(tmp_path / "empty")) is None and S.names(Store(tmp_path / "empty")) == {}


def test_bad_stock_lists_say_what_is_wrong(tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("symbol,名称\n000001,平安银行\n", encoding="utf-8")
    with pytest.raises(InputError, match="list.csv: a stock list needs a 'code' column"):
        S.read_stock_list(path, as_of="2024-06-30")
    path.write_text("code,name\n1,x\nAB123,y\n", encoding="utf-8")
    with pytest.raises(InputError, match="'0AB123' is not a 6-digit"):
        S.read_stock_list(path, as_of="2024-06-30")
    path.write_text("code,name\n1,x\n", encoding="utf-8")
    assert S.read_stock_list(path, as_of="2024-06-30")["code"].tolist() == ["000001"]
    with pytest.raises(InputError, match="as-of date 'mid-2024'"):
        S.read_stock_list(path, as_of="mid-2024")


def test_cli_stores_a_stock_list(tmp_path, capsys):
    from hypebt.cli import main as cli

    path = tmp_path / "list.csv"
    path.write_text("code,name,总市值\n600001,甲,1e9\n000002,乙,2e9\n", encoding="utf-8")
    assert cli.main(["--home", str(tmp_path / "store"), "data", "stock-list", str(path), "--as-of", "2024-06-30"]) == 0
    assert "stored 2 stocks as of 2024-06-30" in capsys.readouterr().out
    assert S.names(Store(tmp_path / "store")) == {"000002": "乙", "600001": "甲"}
