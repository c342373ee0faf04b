"""Reference tables from akshare's answers (real-shaped tables; a fake api, no network)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from hypebt.core.errors import SourceError
from hypebt.data import reference as R
from hypebt.data import reference_fetch as F
from hypebt.data.akshare_client import Akshare
from hypebt.data.store import Store

DAY = dt.date(2024, 5, 22)


class FakeApi:
    """akshare's reference functions, answering with tables shaped like theirs."""

    __version__ = "1.19-fake"

    def __init__(self):
        self.calls = []
        self.broken: set[str] = set()

    def _log(self, name, **kw):
        self.calls.append((name, kw))
        if name in self.broken:
            raise KeyError("result")  # akshare failing to parse a changed answer

    def stock_margin_underlying_info_szse(self, date):
        self._log("szse", date=date)
        return pd.DataFrame({"证券代码": ["000001", "000002", "159915", "300750"],
                             "证券简称": ["平安银行", "万科A", "创业板ETF", "宁德时代"],
                             "融资标的": ["Y", "Y", "Y", "N"], "融券标的": ["Y", "N", "Y", "N"],
                             "当日可融资": ["Y", "Y", "Y", "N"], "当日可融券": ["Y", "N", "Y", "N"],
                             "融券卖出价格限制": ["Y"] * 4, "涨跌幅限制": ["10%", "10%", "10%", "20%"]})

    def stock_margin_underlying_info_bse(self, date):
        self._log("bse", date=date)
        return pd.DataFrame({"证券代码": ["830799", "920002"], "证券简称": ["艾融软件", "万达轴承"],
                             "融资标的": ["是", "否"], "融券标的": ["是", "否"], "当日可融资": ["是", "否"],
                             "当日可融券": ["是", "否"]})

    def stock_margin_detail_sse(self, date):
        self._log("sse", date=date)
        return pd.DataFrame({"信用交易日期": [date] * 3, "标的证券代码": ["600000", "510300", "688039"],
                             "标的证券简称": ["浦发银行", "300ETF", "当虹科技"], "融资余额": [1e9, 2e9, 3e7],
                             "融资买入额": [1e7, 2e7, 1e6], "融资偿还额": [1e7, 2e7, 1e6], "融券余量": [1, 2, 3],
                             "融券卖出量": [0, 0, 0], "融券偿还量": [0, 0, 0]})

    def stock_tfp_em(self, date):
        self._log("tfp", date=date)
        return pd.DataFrame({
            "序号": [1, 2, 3], "代码": ["600289", "000004", "300624"], "名称": ["ST信通", "*ST国华", "万兴科技"],
            "停牌时间": [dt.date(2024, 5, 20), dt.date(2024, 5, 22), dt.date(2024, 5, 22)],
            "停牌截止时间": [None, dt.date(2024, 5, 22), dt.date(2024, 5, 22)],
            "停牌期限": ["连续停牌", "停牌一天", "盘中停牌"], "停牌原因": ["重大事项", "刊登重要公告", "交易异常波动"],
            "所属市场": ["沪市A股", "深市A股", "创业板"], "预计复牌时间": [None, dt.date(2024, 5, 23), None]})

    def stock_zh_a_disclosure_report_cninfo(self, symbol, market, category, start_date, end_date):
        self._log("cninfo", symbol=symbol, category=category, start_date=start_date, end_date=end_date)
        return pd.DataFrame({
            "代码": ["000004", "000004", "000004", "600289", "600289", "600289"],
            "简称": ["国华网安"] * 3 + ["ST信通"] * 3,
            "公告标题": ["关于公司股票可能被实施退市风险警示的提示性公告",
                     "关于公司股票交易被实施退市风险警示暨停牌的公告",
                     "关于撤销退市风险警示并实施其他风险警示暨停牌的公告",
                     "关于公司股票被实施其他风险警示的公告",
                     "关于申请撤销其他风险警示的公告",
                     "关于撤销公司股票其他风险警示的公告"],
            "公告时间": ["2023-01-30", "2023-04-28", "2024-04-29", "2021-05-06", "2022-04-01", "2022-06-01"],
            "公告链接": ["http://www.cninfo.com.cn/x"] * 6})

    def stock_info_sh_name_code(self, symbol):
        self._log("sh", symbol=symbol)
        if symbol == "科创板":
            return pd.DataFrame({"证券代码": ["688039"], "证券简称": ["当虹科技"], "公司全称": ["x"],
                                 "上市日期": [dt.date(2019, 12, 11)]})
        return pd.DataFrame({"证券代码": ["600000"], "证券简称": ["浦发银行"], "公司全称": ["x"],
                             "上市日期": [dt.date(1999, 11, 10)]})

    def stock_info_sz_name_code(self, symbol):
        self._log("sz", symbol=symbol)
        return pd.DataFrame({"板块": ["主板"], "A股代码": ["000001"], "A股简称": ["平安银行"],
                             "A股上市日期": ["1991-04-03"], "A股总股本": ["1"], "A股流通股本": ["1"], "所属行业": ["J"]})

    def stock_info_bj_name_code(self):
        self._log("bj")
        return pd.DataFrame({"证券代码": ["830799"], "证券简称": ["艾融软件"], "总股本": [1], "流通股本": [1],
                             "上市日期": [dt.date(2020, 7, 27)], "所属行业": ["I"], "地区": ["上海"],
                             "报告日期": [dt.date(2024, 5, 22)]})

    def stock_info_sh_delist(self, symbol):
        self._log("sh_delist", symbol=symbol)
        return pd.DataFrame({"公司代码": ["600087"], "公司简称": ["退市长油"], "上市日期": [dt.date(1997, 6, 26)],
                             "暂停上市日期": [dt.date(2014, 6, 5)]})

    def stock_info_sz_delist(self, symbol):
        self._log("sz_delist", symbol=symbol)
        return pd.DataFrame({"证券代码": ["000003"], "证券简称": ["PT金田A"], "上市日期": [dt.date(1991, 7, 3)],
                             "终止上市日期": [dt.date(2002, 6, 14)]})


@pytest.fixture
def api():
    return FakeApi()


def source(api) -> Akshare:
    return Akshare(api, min_interval=0.0, sleep=lambda s: None, timeout=None)


def test_fetch_reference_stores_all_four_tables(api, tmp_path):
    store = Store(tmp_path / "s")
    summary = F.fetch_reference(store, source=source(api), today=DAY)
    assert summary["errors"] == {}
    margin = R.load(store, "margin_list")
    assert list(zip(margin["code"], margin["exchange"])) == [
        ("000001", "SZ"), ("000002", "SZ"), ("600000", "SH"), ("688039", "SH"), ("830799", "BJ")]
    assert set(margin["date"]) == {pd.Timestamp(DAY)}
    sus = R.load(store, "suspensions")
    assert list(sus["code"]) == ["000004", "600289"]  # the intraday halt of 300624 is not a suspension
    assert sus.set_index("code").loc["600289", "end"] is pd.NaT
    st = R.load(store, "st_history")
    assert [(c, str(s.date()), None if pd.isna(e) else str(e.date()), k)
            for c, s, e, k in zip(st["code"], st["start"], st["end"], st["kind"])] == [
        ("000004", "2023-04-29", "2024-04-29", "*ST"), ("000004", "2024-04-30", None, "ST"),
        ("600289", "2021-05-07", "2022-06-01", "ST")]
    listings = R.load(store, "listings").set_index("code")
    assert list(listings.index) == ["000001", "000003", "600000", "600087", "688039", "830799"]
    assert listings.loc["600087", "delist_date"] == pd.Timestamp("2014-06-05")
    assert pd.isna(listings.loc["688039", "delist_date"])
    assert {store.manifest(n)["as_of"] for n in F.WHAT} == {"2024-05-22"}
    assert ("cninfo", {"symbol": "", "category": "特别处理和退市", "start_date": "20100101",
                       "end_date": "20240522"}) in api.calls


def test_a_new_snapshot_ends_a_stored_open_suspension_and_adds_a_day(api, tmp_path):
    store = Store(tmp_path / "s")
    F.fetch_reference(store, source=source(api), what=("suspensions", "margin_list"), today=DAY)
    later = api.stock_tfp_em

    def next_day(date):
        table = later(date)
        table.loc[0, "停牌时间"] = dt.date(2024, 6, 3)  # 600289 resumed, then was suspended again
        return table

    api.stock_tfp_em = next_day
    F.fetch_reference(store, source=source(api), what=("suspensions", "margin_list"), today=dt.date(2024, 6, 3))
    sus = R.load(store, "suspensions")
    mine = sus[sus["code"] == "600289"]
    assert list(mine["start"].dt.strftime("%m-%d")) == ["05-20", "06-03"]
    assert mine["end"].iloc[0] == pd.Timestamp("2024-06-02") and pd.isna(mine["end"].iloc[1])
    assert sorted(R.load(store, "margin_list")["date"].dt.strftime("%m-%d").unique()) == ["05-22", "06-03"]


def test_a_failing_source_is_reported_and_the_others_go_on(api, tmp_path):
    api.broken.add("tfp")
    store = Store(tmp_path / "s")
    summary = F.fetch_reference(store, source=source(api), what=("suspensions", "listings"), today=DAY)
    assert "suspensions" in summary["errors"] and "upgrade or pin akshare" in summary["errors"]["suspensions"]
    assert summary["listings"]["rows"] == 6 and R.load(store, "suspensions") is None


@pytest.mark.parametrize("title,expected", [
    ("关于公司股票被实施退市风险警示的公告", (None, "*ST")),
    ("关于公司股票实施其他风险警示的公告", (None, "ST")),
    ("关于撤销公司股票退市风险警示的公告", ("end", None)),
    ("关于撤销退市风险警示并实施其他风险警示的公告", ("*ST", "ST")),
    ("关于公司股票可能被实施退市风险警示的提示性公告", None),
    ("关于申请撤销其他风险警示的公告", None),
    ("2023年年度报告", None),
])
def test_st_titles(title, expected):
    events = F.st_events(pd.DataFrame({"代码": ["000004"], "公告标题": [title], "公告时间": ["2024-04-29"]}))
    got = None if events.empty else tuple(v if isinstance(v, str) else None
                                          for v in (events["ends"].iloc[0], events["starts"].iloc[0]))
    assert got == expected
