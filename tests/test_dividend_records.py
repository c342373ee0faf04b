"""Dividend records (hypebt.data.dividends, ``hypebt data dividends``): akshare's and Tushare's
tables in, the store's ``dividends`` table out; fetched through akshare with its functions
substituted (akshare cannot reach its sources here), and imported from saved files.

The table shapes are the real ones:

- ``stock_history_dividend_detail(symbol, indicator="分红")`` (akshare 1.19.5,
  ``akshare/stock_fundamental/stock_finance_sina.py``): 公告日期, 送股, 转增, 派息, 进度, 除权除息日,
  股权登记日, 红股上市日; per 10 shares; dates as ``datetime.date`` (NaT where Sina shows "--");
- ``stock_fhps_em(date)`` (akshare 1.19.5, ``akshare/stock_feature/stock_fhps_em.py``): 代码, 名称,
  送转股份-送转总比例, 送转股份-送转比例, 送转股份-转股比例, 现金分红-现金分红比例, 现金分红-股息率, 每股收益,
  每股净资产, 每股公积金, 每股未分配利润, 净利润同比增长, 总股本, 预案公告日, 股权登记日, 除权除息日, 方案进度,
  最新公告日期; per 10 shares;
- Tushare ``dividend`` (https://tushare.pro/document/2?doc_id=103): ts_code, end_date, ann_date,
  div_proc, stk_div, stk_bo_rate, stk_co_rate, cash_div, cash_div_tax, record_date, ex_date,
  pay_date, div_listdate, imp_ann_date (, base_date, base_share); per share; dates YYYYMMDD.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from hypebt.cli.main import main
from hypebt.core.errors import InputError, SourceError
from hypebt.data import dividends as DV
from hypebt.data import reference
from hypebt.data.akshare_client import Akshare
from hypebt.data.store import Store
from hypebt.market import corporate as C

ak = pytest.importorskip("akshare")
REPO = Path(__file__).resolve().parents[1]
d = dt.date.fromisoformat
NaT = pd.NaT


def sina_600519() -> pd.DataFrame:
    """Shaped as stock_history_dividend_detail returns it: newest first, a plan and a no-dividend row."""
    return pd.DataFrame({
        "公告日期": [d("2025-04-03"), d("2024-06-13"), d("2023-12-14"), d("2023-06-26"), d("2001-06-28")],
        "送股": [0.0, 0.0, 0.0, 0.0, 0.0],
        "转增": [0.0, 0.0, 0.0, 0.0, 0.0],
        "派息": [276.24, 308.76, 191.06, 259.11, 0.0],
        "进度": ["预案", "实施", "实施", "实施", "不分配"],
        "除权除息日": [NaT, d("2024-06-19"), d("2023-12-20"), d("2023-06-30"), NaT],
        "股权登记日": [NaT, d("2024-06-18"), d("2023-12-19"), d("2023-06-29"), NaT],
        "红股上市日": [NaT, NaT, NaT, NaT, NaT],
    })


def fhps_em_20221231() -> pd.DataFrame:
    """Shaped as stock_fhps_em(date="20221231") returns it (column order as in akshare 1.19.5)."""
    return pd.DataFrame({
        "代码": ["300750", "600000", "688039"], "名称": ["宁德时代", "浦发银行", "当虹科技"],
        "送转股份-送转总比例": [8.0, None, 4.0], "送转股份-送转比例": [None, None, None],
        "送转股份-转股比例": [8.0, None, 4.0], "现金分红-现金分红比例": [25.2, 3.2, None],
        "现金分红-股息率": [0.0066, 0.043, None], "每股收益": [12.92, 1.71, -0.5], "每股净资产": [67.9, 22.3, 20.1],
        "每股公积金": [32.1, 3.7, 13.0], "每股未分配利润": [27.7, 11.2, 4.0], "净利润同比增长": [92.9, -19.2, -160.0],
        "总股本": [2442514841, 29352178996, 80168532],
        "预案公告日": [d("2023-03-10"), d("2023-04-29"), d("2023-04-26")],
        "股权登记日": [d("2023-04-25"), d("2023-07-20"), None], "除权除息日": [d("2023-04-26"), d("2023-07-21"), None],
        "方案进度": ["实施分配", "实施分配", "董事会决议通过"],
        "最新公告日期": [d("2023-04-20"), d("2023-07-14"), d("2023-04-26")],
    })


def tushare_export(path: Path) -> Path:
    """A Tushare pro.dividend export as to_csv writes it (dates YYYYMMDD)."""
    pd.DataFrame({
        "ts_code": ["600000.SH", "600000.SH", "000002.SZ"], "end_date": ["20231231", "20231231", "20231231"],
        "ann_date": ["20240420", "20240420", "20240329"], "div_proc": ["实施", "预案", "实施"],
        "stk_div": [0.0, 0.0, 0.3], "stk_bo_rate": [0.0, None, 0.1], "stk_co_rate": [0.0, None, 0.2],
        "cash_div": [0.3, 0.0, 0.4], "cash_div_tax": [0.321, 0.321, 0.5],
        "record_date": ["20240711", None, "20240719"], "ex_date": ["20240712", None, "20240722"],
        "pay_date": ["20240712", None, "20240722"], "div_listdate": [None, None, "20240722"],
        "imp_ann_date": ["20240705", None, "20240715"],
    }).to_csv(path, index=False)
    return path


# ------------------------------------------------------------------------- tables ---

def test_sina_table_per_10_shares_only_what_was_carried_out():
    out = DV.from_table(sina_600519(), "600519 (sina)", code="600519")
    assert out[["code", "ex_date", "record_date", "cash", "bonus", "transfer"]].to_dict("records") == [
        {"code": "600519", "ex_date": pd.Timestamp("2024-06-19"), "record_date": pd.Timestamp("2024-06-18"),
         "cash": 30.876, "bonus": 0.0, "transfer": 0.0},
        {"code": "600519", "ex_date": pd.Timestamp("2023-12-20"), "record_date": pd.Timestamp("2023-12-19"),
         "cash": 19.106, "bonus": 0.0, "transfer": 0.0},
        {"code": "600519", "ex_date": pd.Timestamp("2023-06-30"), "record_date": pd.Timestamp("2023-06-29"),
         "cash": 25.911, "bonus": 0.0, "transfer": 0.0}]
    assert out["pay_date"].isna().all()  # Sina gives none: the cash arrives on the ex-date


def test_eastmoney_table_whole_market_with_shares():
    out = DV.from_table(fhps_em_20221231(), "fhps 20221231")
    assert out[["code", "cash", "bonus", "transfer"]].to_dict("records") == [
        {"code": "300750", "cash": 2.52, "bonus": 0.0, "transfer": 0.8},
        {"code": "600000", "cash": 0.32, "bonus": 0.0, "transfer": 0.0}]  # 688039: a board plan, no ex-date
    detail = fhps_em_20221231().rename(columns={"送转股份-送转比例": "送转股份-送股比例"}).drop(columns=["代码", "名称"])
    assert DV.from_table(detail.iloc[:1], "300750 detail", code="300750")["transfer"].tolist() == [0.8]


def test_tushare_export_per_share_with_pay_dates(tmp_path):
    out = DV.read_file(tushare_export(tmp_path / "dividend.csv"))
    assert out[["code", "ex_date", "pay_date", "cash", "bonus", "transfer", "announced"]].to_dict("records") == [
        {"code": "600000", "ex_date": pd.Timestamp("2024-07-12"), "pay_date": pd.Timestamp("2024-07-12"),
         "cash": 0.321, "bonus": 0.0, "transfer": 0.0, "announced": pd.Timestamp("2024-07-05")},
        {"code": "000002", "ex_date": pd.Timestamp("2024-07-22"), "pay_date": pd.Timestamp("2024-07-22"),
         "cash": 0.5, "bonus": 0.1, "transfer": 0.2, "announced": pd.Timestamp("2024-07-15")}]
    assert out["listed"].tolist()[1] == pd.Timestamp("2024-07-22")  # div_listdate: the new shares trade from it


def test_an_unknown_table_is_refused_naming_what_is_expected():
    with pytest.raises(InputError, match=r"x\.csv: not a dividend table: expected akshare stock_history_dividend_detail"):
        DV.from_table(pd.DataFrame({"date": ["2024-01-02"], "cash": [1.0]}), "x.csv")
    with pytest.raises(InputError, match="without a code"):
        DV.from_table(sina_600519(), "sina.csv")
    bad = sina_600519().astype({"派息": object})
    bad.loc[1, "派息"] = "3o8.76"
    with pytest.raises(InputError, match=r"row 1: field '派息': '3o8.76' is not a number"):
        DV.from_table(bad, "600519.csv", code="600519")


# ----------------------------------------------------------------- the stored table ---

def test_the_stored_table_validates_and_round_trips_into_actions(tmp_path):
    store = Store(tmp_path / "store")
    rows = DV.from_table(sina_600519(), "sina", code="600519", source="akshare:sina")
    m = reference.save(store, "dividends", rows, source="akshare:sina", as_of="2025-05-01")
    assert m["rows"] == 3 and "dividends" in store.datasets()
    acts = C.records_from_table(reference.load(store, "dividends"))["600519"]
    assert [(a.ex_date, a.cash, a.record_date, a.pay_date) for a in acts][-1] == (
        d("2024-06-19"), 30.876, d("2024-06-18"), None)
    assert acts[-1].pays_on == d("2024-06-19")
    bad = rows.copy()
    bad.loc[0, "cash"] = -1.0
    with pytest.raises(InputError, match="field 'cash'.*not a number >= 0"):
        reference.save(store, "dividends", bad, source="x", as_of="2025-05-01")
    zero = rows.copy()
    zero.loc[1, "cash"] = 0.0
    with pytest.raises(InputError, match="row 2: cash, bonus, transfer are all 0"):
        reference.save(store, "dividends", zero, source="x", as_of="2025-05-01")
    twice = pd.concat([rows, rows.iloc[:1]])
    with pytest.raises(InputError, match="code=600519, ex_date=2024-06-19 is given twice"):
        reference.save(store, "dividends", twice, source="x", as_of="2025-05-01")
    assert reference.load(store, "dividends")["cash"].tolist() == rows.sort_values("ex_date")["cash"].tolist()


# ---------------------------------------------------------------- through akshare ---

class Calls:
    def __init__(self):
        self.log = []


@pytest.fixture
def substituted(monkeypatch):
    """akshare's two dividend functions replaced by ones answering with their real table shapes."""
    calls = Calls()

    def detail(symbol="000002", indicator="分红", date=""):
        calls.log.append(("sina", symbol, indicator))
        if symbol == "600519":
            return sina_600519()
        if symbol == "000004":
            return pd.DataFrame()  # akshare's answer for "暂时没有数据！"
        raise KeyError(12)  # Sina's page changed: read_html found no table 12

    def fhps(date="20231231"):
        calls.log.append(("fhps", date))
        return fhps_em_20221231() if date == "20221231" else fhps_em_20221231().iloc[:0]

    monkeypatch.setattr(ak, "stock_history_dividend_detail", detail)
    monkeypatch.setattr(ak, "stock_fhps_em", fhps)
    return calls


def quiet_source() -> Akshare:
    return Akshare(min_interval=0, max_interval=0, sleep=lambda s: None, retries=1)


def test_fetch_per_code_and_per_report_period(substituted, tmp_path):
    store = Store(tmp_path / "store")
    summary = DV.fetch(store, source=quiet_source(), codes=["600519", "000004"], periods=["20221231", "20230630"],
                       today="2025-05-01")
    assert substituted.log == [("sina", "600519", "分红"), ("sina", "000004", "分红"), ("fhps", "20221231"),
                               ("fhps", "20230630")]
    assert summary["empty"] == ["000004", "20230630"] and summary["errors"] == {}
    table = reference.load(store, "dividends")
    assert sorted(table["code"].unique()) == ["300750", "600000", "600519"]
    assert set(table["source"]) == {"akshare:stock_history_dividend_detail 600519", "akshare:stock_fhps_em 20221231"}


def test_a_broken_answer_stops_the_fetch_keeping_what_came_before(substituted, tmp_path):
    store = Store(tmp_path / "store")
    summary = DV.fetch(store, source=quiet_source(), codes=["600519", "300750", "000001"], today="2025-05-01")
    assert list(summary["errors"]) == ["300750"] and "cannot read what the server sent" in summary["errors"]["300750"]
    assert ("sina", "000001", "分红") not in substituted.log
    assert set(reference.load(store, "dividends")["code"]) == {"600519"}


def test_a_renamed_column_is_said_to_be_akshare_changing(monkeypatch, tmp_path):
    monkeypatch.setattr(ak, "stock_history_dividend_detail",
                        lambda symbol, indicator="分红", date="": sina_600519().rename(columns={"派息": "派息(税前)"}))
    summary = DV.fetch(Store(tmp_path / "store"), source=quiet_source(), codes=["600519"])
    assert "without column(s) 派息" in summary["errors"]["600519"] and "upgrade or pin akshare" in summary["errors"]["600519"]


def test_a_timeout_is_retried_then_reported(monkeypatch, tmp_path):
    def slow(symbol, indicator="分红", date=""):
        raise TimeoutError("read timed out")

    monkeypatch.setattr(ak, "stock_history_dividend_detail", slow)
    summary = DV.fetch(Store(tmp_path / "store"), source=quiet_source(), codes=["600519"])
    assert "failed after 2 attempt(s)" in summary["errors"]["600519"]


# ----------------------------------------------------------------------------- CLI ---

def run(capsys, home, *args):
    code = main(["--home", str(home), "--workspace", str(REPO), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_fetch_import_and_info(substituted, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "store"
    code, out, err = run(capsys, home, "data", "dividends", "600519", "000004", "--min-interval", "0")
    assert code == 0, err
    assert "dividends: 3 rows" in out and "empty: 000004" in out
    code, out, err = run(capsys, home, "data", "dividends", "--import", str(tushare_export(tmp_path / "d.csv")),
                         "--as-of", "2024-12-31")
    assert code == 0, err
    assert "dividends: 5 rows as of " in out and "import:d.csv" in out  # 3 fetched + Tushare's 2
    code, out, err = run(capsys, home, "data", "info")
    assert "dividends" in out
    code, out, err = run(capsys, home, "data", "dividends", "300750", "--min-interval", "0")
    assert code == 4 and "no dividend records could be fetched" in err


def test_cli_refuses_a_bad_file_and_changes_nothing(capsys, tmp_path):
    home = tmp_path / "store"
    good = tushare_export(tmp_path / "good.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("ts_code,trade_date,close\n600000.SH,20240102,7.1\n", "utf-8")
    code, out, err = run(capsys, home, "data", "dividends", "--import", str(good), str(bad), "--as-of", "2024-12-31")
    assert code == 2 and "bad.csv: not a dividend table" in err and len(err.strip().splitlines()) == 1
    assert not (home / "dividends").exists()
    code, out, err = run(capsys, home, "data", "dividends", "--import", str(good))
    assert code == 2 and "--as-of" in err
    code, out, err = run(capsys, home, "data", "dividends")
    assert code == 2 and "give codes" in err


def test_data_reference_sends_dividends_to_their_own_command(capsys, tmp_path):
    code, out, err = run(capsys, tmp_path / "store", "data", "reference", "--only", "dividends")
    assert code == 2 and "use hypebt data dividends CODE" in err
    assert not (tmp_path / "store" / "dividends").exists()


def test_data_reference_import_reads_the_vendor_tables_too(capsys, tmp_path):
    path = tushare_export(tmp_path / "dividend.csv")
    code, out, err = run(capsys, tmp_path / "store", "data", "reference", "--import", "dividends", str(path),
                         "--as-of", "2024-12-31")
    assert code == 0, err
    assert "dividends: 2 rows as of 2024-12-31" in out
