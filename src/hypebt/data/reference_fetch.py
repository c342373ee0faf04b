"""akshare -> the dated reference tables of :mod:`hypebt.data.reference` (``hypebt data reference``).

Where each table comes from (all through :class:`~hypebt.data.akshare_client.Akshare`):

- ``margin_list``: the exchanges' margin-eligible lists of one day: SZSE
  ``stock_margin_underlying_info_szse``, BSE ``stock_margin_underlying_info_bse``; the SSE
  publishes no dated list akshare reads, so its closest dated source is the day's margin detail
  ``stock_margin_detail_sse`` (every security with margin positions that day, i.e. eligible);
- ``suspensions``: Eastmoney's suspensions of one day (``stock_tfp_em``); intraday halts
  (停牌期限 with 盘中/小时) are left out, the stock traded that day;
- ``st_history``: cninfo announcements of category 特别处理和退市
  (``stock_zh_a_disclosure_report_cninfo``), read by their titles: a warning starts, and ends,
  the day after the announcement that imposes or lifts it (the exchange changes the name on the
  next session; the exact day is in the announcement's body, which is not read);
- ``listings``: the exchanges' lists (``stock_info_sh_name_code``, ``stock_info_sz_name_code``,
  ``stock_info_bj_name_code``) and their delisted companies (``stock_info_sh_delist``,
  ``stock_info_sz_delist``).

Each ``*_table`` function converts one akshare answer (pure, tested with real-shaped tables);
:func:`fetch_reference` fetches and saves.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import numpy as np
import pandas as pd

from hypebt.core import codes as _codes
from hypebt.core.errors import InputError, SourceError
from hypebt.data import reference
from hypebt.data.akshare_client import Akshare, EmptyAnswer
from hypebt.data.store import Store

WHAT = ("listings", "margin_list", "st_history", "suspensions")
_YES = {"y", "yes", "是", "1", "true", "t"}
_INTRADAY = re.compile(r"盘中|小时|分钟")


def _codes_of(column: pd.Series) -> pd.Series:
    text = column.astype("string").str.strip().str.split(".").str[0].str.zfill(6)
    return text


def _stock_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Only A-share stock rows (lists also carry ETFs, bonds and B shares)."""
    keep = np.array([_codes.is_stock_code(c) for c in frame["code"].fillna("").astype(object)], dtype=bool)
    return frame[keep].reset_index(drop=True)


def margin_table(table: pd.DataFrame, exchange: str, day: dt.date, source: str) -> pd.DataFrame:
    """One exchange's margin-eligible codes on ``day`` from its akshare table.

    SZSE/BSE tables flag 融资标的 / 融券标的 (a code eligible for either is listed); the SSE detail
    lists every security with positions (标的证券代码).
    """
    if "标的证券代码" in table.columns:
        codes = _codes_of(table["标的证券代码"])
    else:
        eligible = np.zeros(len(table), bool)
        for col in ("融资标的", "融券标的"):
            if col in table.columns:
                eligible |= table[col].astype("string").str.strip().str.lower().isin(_YES).fillna(False).to_numpy()
        codes = _codes_of(table["证券代码"])[eligible]
    out = pd.DataFrame({"date": pd.Timestamp(day), "code": codes.to_numpy(), "exchange": exchange, "source": source})
    return _stock_rows(out).drop_duplicates(["date", "code"])


def suspension_table(table: pd.DataFrame, source: str) -> pd.DataFrame:
    """Whole-day suspensions from a ``stock_tfp_em`` answer (code, start, end or NaT, reason)."""
    term = table.get("停牌期限", pd.Series("", index=table.index)).astype("string").fillna("")
    whole = ~term.str.contains(_INTRADAY).fillna(False).to_numpy()
    t = table[whole]
    out = pd.DataFrame({
        "code": _codes_of(t["代码"]).to_numpy(),
        "start": pd.to_datetime(t["停牌时间"], errors="coerce").dt.normalize().to_numpy(),
        "end": pd.to_datetime(t["停牌截止时间"], errors="coerce").dt.normalize().to_numpy(),
        "reason": t["停牌原因"].astype("string").fillna("").to_numpy(),
        "source": source,
    })
    out = _stock_rows(out[out["start"].notna()])
    return out.drop_duplicates(["code", "start"], keep="last")


# Titles of 特别处理和退市 announcements, in the order they are tested (first match wins).
_ST_RULES = (
    (re.compile(r"可能|提示性|申请|预告|进展"), None, None),  # a warning of a warning, an application
    (re.compile(r"撤销退市风险警示并实施其他风险警示|撤销.*退市风险警示.*实施.*其他风险警示"), "*ST", "ST"),
    (re.compile(r"撤销.*(退市)?风险警示|撤销.*特别处理"), "end", None),
    (re.compile(r"实施退市风险警示|实施.*\*ST"), None, "*ST"),
    (re.compile(r"实施其他风险警示|实施.*特别处理"), None, "ST"),
)


def st_events(table: pd.DataFrame) -> pd.DataFrame:
    """``code, day, ends, starts`` for each announcement whose title imposes or lifts a warning."""
    rows = []
    for code, title, when in zip(table["代码"], table["公告标题"], table["公告时间"]):
        title = str(title)
        for pattern, ends, starts in _ST_RULES:
            if pattern.search(title):
                if ends or starts:
                    day = pd.Timestamp(str(when)[:10]) + pd.Timedelta(days=1)
                    rows.append((str(code).zfill(6), day, ends, starts))
                break
    return pd.DataFrame(rows, columns=["code", "day", "ends", "starts"])


def st_table(table: pd.DataFrame, source: str) -> pd.DataFrame:
    """Risk-warning periods (code, start, end or NaT, kind) from cninfo announcements."""
    events = st_events(table).sort_values(["code", "day"], kind="stable")
    periods: list[tuple] = []
    for code, group in events.groupby("code", sort=True):
        kind = start = None
        for day, ends, starts in zip(group["day"], group["ends"], group["starts"]):
            ends, starts = (v if isinstance(v, str) else None for v in (ends, starts))  # pandas keeps NaN
            if kind is not None and (ends or starts):
                if starts == kind and not ends:
                    continue  # the same warning announced again
                periods.append((code, start, day - pd.Timedelta(days=1), kind))
                kind = start = None
            if starts:
                kind, start = starts, day
        if kind is not None:
            periods.append((code, start, pd.NaT, kind))
    out = pd.DataFrame(periods, columns=["code", "start", "end", "kind"]).assign(source=source)
    out = out[out["end"].isna() | (out["end"] >= out["start"])]
    return _stock_rows(out)


def listing_table(lists: list[tuple[pd.DataFrame, str, str]], delisted: list[tuple[pd.DataFrame, str, str, str]],
                  source: str) -> pd.DataFrame:
    """Listing and delisting dates from the exchanges' lists ``(table, code column, date column)`` and
    delisted tables ``(table, code column, list date column, delist date column)``."""
    parts = [pd.DataFrame({"code": _codes_of(t[c]).to_numpy(), "list_date": pd.to_datetime(t[d], errors="coerce"),
                           "delist_date": pd.NaT}) for t, c, d in lists]
    parts += [pd.DataFrame({"code": _codes_of(t[c]).to_numpy(), "list_date": pd.to_datetime(t[d], errors="coerce"),
                            "delist_date": pd.to_datetime(t[x], errors="coerce")}) for t, c, d, x in delisted]
    out = pd.concat(parts, ignore_index=True)
    out = out[out["list_date"].notna()]
    # A delisted code's row wins over a stale listed one; a code relisted later keeps its listing.
    out = out.sort_values(["code", "delist_date"], na_position="first").drop_duplicates("code", keep="last")
    return _stock_rows(out.assign(source=source))


def _close_open_periods(store: Store, name: str, new: pd.DataFrame) -> pd.DataFrame:
    """Stored open-ended periods that a newer period of the same code follows, ended the day before it."""
    old = reference.load(store, name)
    if old is None or new.empty:
        return new
    first_new = new.groupby("code")["start"].min()
    open_old = old[old["end"].isna() & old["code"].isin(first_new.index)]
    later = open_old["start"].to_numpy() < first_new.reindex(open_old["code"]).to_numpy()
    closed = open_old[later].copy()
    closed["end"] = first_new.reindex(closed["code"]).to_numpy() - np.timedelta64(1, "D")
    keys = set(zip(new["code"], new["start"]))
    closed = closed[[(c, s) not in keys for c, s in zip(closed["code"], closed["start"])]]
    return pd.concat([closed, new], ignore_index=True)


def fetch_reference(store: Store, *, source: Akshare, what=WHAT, today=None, since=None) -> dict[str, Any]:
    """Fetch the reference tables ``what`` through akshare into ``store``; return per table a summary.

    Margin lists and suspensions are the day's snapshot (``today``, default the current date),
    which accumulate into a dated history over repeated runs; ST history covers announcements
    from ``since`` (default 2010-01-01) to ``today``; listings are the exchanges' current lists.
    A table whose source fails is reported (``errors``) and the others go on.

    >>> fetch_reference(Store("data/store"), source=Akshare())    # doctest: +SKIP
    {'margin_list': {'rows': 4172, 'as_of': '2024-05-22'}, ...}
    """
    today = pd.Timestamp(today or dt.date.today()).date()
    since = pd.Timestamp(since or "2010-01-01").date()
    ymd = today.strftime("%Y%m%d")
    summary: dict[str, Any] = {"errors": {}}
    for name in what:
        reference.schema(name)
        if name not in WHAT:  # dividend records are fetched per stock or report period: hypebt data dividends
            raise InputError(f"data reference: {name} is not fetched here; use hypebt data {name} CODE ... "
                             f"(or --market), or import a table with --import {name} FILE")
        try:
            table = _fetch_one(name, source, store, today, since, ymd)
        except SourceError as exc:
            summary["errors"][name] = str(exc)
            continue
        if table.empty:
            summary[name] = {"rows": 0, "as_of": str(today)}
            continue
        label = table["source"].iloc[0]
        manifest = reference.save(store, name, table, source=label, as_of=today)
        summary[name] = {"rows": int(manifest["rows"]), "added": len(table), "as_of": manifest["as_of"]}
    return summary


def _fetch_one(name: str, source: Akshare, store: Store, today: dt.date, since: dt.date, ymd: str) -> pd.DataFrame:
    if name == "margin_list":
        parts = []
        for func, exchange in (("stock_margin_underlying_info_szse", "SZ"), ("stock_margin_underlying_info_bse", "BJ"),
                               ("stock_margin_detail_sse", "SH")):
            try:
                table = source.table(func, date=ymd)
            except EmptyAnswer:
                continue  # not a session there (a holiday), or nothing published yet
            parts.append(margin_table(table, exchange, today, f"akshare:{func} {ymd}"))
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if name == "suspensions":
        table = source.table("stock_tfp_em", allow_empty=True, date=ymd)
        if table.empty:
            return table
        return _close_open_periods(store, name, suspension_table(table, f"akshare:stock_tfp_em {ymd}"))
    if name == "st_history":
        table = source.table("stock_zh_a_disclosure_report_cninfo", symbol="", market="沪深京", category="特别处理和退市",
                             start_date=since.strftime("%Y%m%d"), end_date=ymd)
        label = f"akshare:stock_zh_a_disclosure_report_cninfo 特别处理和退市 {since:%Y%m%d}..{ymd} (titles)"
        return _close_open_periods(store, name, st_table(table, label))
    sh = source.table("stock_info_sh_name_code", symbol="主板A股")
    star = source.table("stock_info_sh_name_code", symbol="科创板")
    sz = source.table("stock_info_sz_name_code", symbol="A股列表")
    bj = source.table("stock_info_bj_name_code")
    sh_gone = source.table("stock_info_sh_delist", symbol="全部")
    sz_gone = source.table("stock_info_sz_delist", symbol="终止上市公司")
    return listing_table(
        [(sh, "证券代码", "上市日期"), (star, "证券代码", "上市日期"), (sz, "A股代码", "A股上市日期"), (bj, "证券代码", "上市日期")],
        [(sh_gone, "公司代码", "上市日期", "暂停上市日期"), (sz_gone, "证券代码", "上市日期", "终止上市日期")],
        f"akshare:stock_info_*_name_code/delist {ymd}",
    )
