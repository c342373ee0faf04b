"""Dividend records (分红送转): akshare's and Tushare's tables -> the store's ``dividends`` table.

The stored table (schema in :mod:`hypebt.data.reference`) has one row per stock and ex-date:
``code, ex_date, record_date, pay_date, listed, cash, bonus, transfer, announced, source`` (``listed``:
the first trading day of the new shares, 红股上市日), amounts **per share**: cash before tax (派息), bonus shares (送股) and capitalisation shares (转增). Only
distributions carried out (实施) with an ex-date are kept: plans, proposals and "no distribution"
rows are not distributions.

Tables read (headers as those functions return them; each detected from its columns):

- akshare ``stock_history_dividend_detail(symbol, indicator="分红")`` (Sina, one stock):
  公告日期, 送股, 转增, 派息, 进度, 除权除息日, 股权登记日, 红股上市日 — amounts **per 10 shares**
  (派息 before tax); 进度 "实施"; no pay date; the code from the call, a ``code`` column or the file name;
- akshare ``stock_fhps_em(date=<report period>)`` (Eastmoney, the whole market for one report
  period): 代码, 名称, 送转股份-送转总比例, 送转股份-送转比例 (bonus), 送转股份-转股比例 (capitalisation),
  现金分红-现金分红比例 (cash), ..., 预案公告日, 股权登记日, 除权除息日, 方案进度, 最新公告日期 — **per 10
  shares**; 方案进度 "实施分配"; no pay date (``stock_fhps_detail_em``, one stock, names the bonus
  column 送转股份-送股比例 and is read too);
- Tushare ``dividend``: ts_code, end_date, ann_date, div_proc, stk_div, stk_bo_rate, stk_co_rate,
  cash_div, cash_div_tax, record_date, ex_date, pay_date, div_listdate, imp_ann_date — **per
  share**, cash_div_tax before tax; div_proc "实施"; dates YYYYMMDD; the only one with a pay date;
- hypebt's own columns (an export of the stored table).

:func:`fetch` asks akshare for them (per code through Sina, or per report period through
Eastmoney for the whole market) and stores them; :func:`import_files` imports saved tables.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from hypebt.core.errors import InputError, SourceError
from hypebt.data import reference
from hypebt.data.akshare_client import Akshare, EmptyAnswer
from hypebt.data.fields import parse_dates
from hypebt.data.formats import code_in_filename
from hypebt.data.store import Store

NAME = "dividends"
SINA = ("公告日期", "送股", "转增", "派息", "进度", "除权除息日", "股权登记日")
EASTMONEY = ("现金分红-现金分红比例", "送转股份-转股比例", "股权登记日", "除权除息日", "方案进度")
EASTMONEY_BONUS = ("送转股份-送转比例", "送转股份-送股比例")  # stock_fhps_em / stock_fhps_detail_em
TUSHARE = ("ts_code", "div_proc", "stk_bo_rate", "stk_co_rate", "cash_div_tax", "record_date", "ex_date", "pay_date")
DONE = {"sina": "实施", "eastmoney": "实施分配", "tushare": "实施"}


def detect(table: pd.DataFrame) -> str | None:
    """Which table this is: ``sina``, ``eastmoney``, ``tushare``, ``hypebt`` or None.

    >>> detect(pd.DataFrame(columns=["公告日期", "送股", "转增", "派息", "进度", "除权除息日", "股权登记日", "红股上市日"]))
    'sina'
    """
    cols = set(map(str, table.columns))
    if set(SINA) <= cols:
        return "sina"
    if set(EASTMONEY) <= cols and cols & set(EASTMONEY_BONUS):
        return "eastmoney"
    if set(TUSHARE) <= cols:
        return "tushare"
    if set(reference.schema(NAME).columns) - {"source"} <= cols:
        return "hypebt"
    return None


def _num(col: pd.Series, field: str, where: str) -> pd.Series:
    text = col.astype("string").str.strip().replace({"--": "", "-": "", "nan": "", "None": ""})
    out = pd.to_numeric(text.fillna(""), errors="coerce")
    bad = out.isna() & text.fillna("").ne("")
    if bad.any():
        pos = int(np.argmax(bad.to_numpy()))
        raise InputError(f"{where}: row {pos + 1}: field '{field}': {col.iloc[pos]!r} is not a number; fix the row")
    return out.fillna(0.0).astype("float64")


def _dates(col: pd.Series, field: str, where: str) -> pd.Series:
    text = col.astype("string").str.strip().replace({"--": "", "-": "", "NaT": "", "nan": "", "None": ""})
    text = text.str.replace(r"\.0$", "", regex=True)  # YYYYMMDD read as a float
    return parse_dates(text, field, where, allow_missing=True)


def _codes(col: pd.Series) -> pd.Series:
    return col.astype("string").str.strip().str.split(".").str[0].str.zfill(6)


def from_table(table: pd.DataFrame, where: str, *, code: str | None = None, source: str | None = None) -> pd.DataFrame:
    """The distributions carried out in one table, in the stored columns (not yet validated).

    ``code``: the stock of a one-stock table without a code column (Sina's, Eastmoney's detail).
    ``source`` names the table in the ``source`` column (default: the format and ``where``).

    >>> t = pd.DataFrame({"公告日期": ["2024-06-13"], "送股": [0], "转增": [0], "派息": [308.76], "进度": ["实施"],
    ...                   "除权除息日": ["2024-06-19"], "股权登记日": ["2024-06-18"], "红股上市日": [None]})
    >>> from_table(t, "x", code="600519")[["code", "ex_date", "cash"]].to_dict("records")
    [{'code': '600519', 'ex_date': Timestamp('2024-06-19 00:00:00'), 'cash': 30.876}]
    """
    table = table.rename(columns=lambda c: str(c).strip()).reset_index(drop=True)
    fmt = detect(table)
    if fmt is None:
        raise InputError(
            f"{where}: not a dividend table: expected akshare stock_history_dividend_detail (公告日期,送股,转增,派息,进度,"
            "除权除息日,股权登记日,...), stock_fhps_em (代码,...,送转股份-送转比例,送转股份-转股比例,现金分红-现金分红比例,"
            "股权登记日,除权除息日,方案进度,...), Tushare dividend (ts_code,div_proc,stk_bo_rate,stk_co_rate,cash_div_tax,"
            f"record_date,ex_date,pay_date,...) or hypebt's columns ({', '.join(reference.schema(NAME).columns)}); "
            f"found: {', '.join(map(str, table.columns))}")
    label = source or f"{fmt}:{Path(where).name}"
    if fmt == "hypebt":
        out = table.copy()
        if "source" not in out:
            out["source"] = label
        return out
    status = {"sina": "进度", "eastmoney": "方案进度", "tushare": "div_proc"}[fmt]
    done = table[status].astype("string").str.strip().eq(DONE[fmt]).fillna(False).to_numpy()
    ex_col = {"sina": "除权除息日", "eastmoney": "除权除息日", "tushare": "ex_date"}[fmt]
    table = table[done].reset_index(drop=True)
    ex = _dates(table[ex_col], ex_col, where)
    table, ex = table[ex.notna().to_numpy()].reset_index(drop=True), ex[ex.notna()].reset_index(drop=True)
    out = pd.DataFrame({"ex_date": ex})
    if fmt == "tushare":
        out["code"] = _codes(table["ts_code"])
        out["record_date"] = _dates(table["record_date"], "record_date", where)
        out["pay_date"] = _dates(table["pay_date"], "pay_date", where)
        out["listed"] = _dates(table["div_listdate"], "div_listdate", where) if "div_listdate" in table else pd.NaT
        out["cash"] = _num(table["cash_div_tax"], "cash_div_tax", where)
        out["bonus"] = _num(table["stk_bo_rate"], "stk_bo_rate", where)
        out["transfer"] = _num(table["stk_co_rate"], "stk_co_rate", where)
        if "stk_div" in table:
            # Older rows give only the total (每股送转): without the split it is counted as capitalisation
            # shares (no tax on par); the share count is right either way.
            total = _num(table["stk_div"], "stk_div", where)
            unsplit = (out["bonus"] + out["transfer"] == 0) & (total > 0)
            out.loc[unsplit, "transfer"] = total[unsplit]
        ann = next((c for c in ("imp_ann_date", "ann_date") if c in table), None)
        out["announced"] = _dates(table[ann], ann, where) if ann else pd.NaT
    else:
        if "代码" in table:
            out["code"] = _codes(table["代码"])
        elif "code" in table:
            out["code"] = _codes(table["code"])
        elif code is not None:
            out["code"] = code
        else:
            raise InputError(f"{where}: a one-stock dividend table without a code: name the file like 600519.csv")
        out["record_date"] = _dates(table["股权登记日"], "股权登记日", where)
        out["pay_date"] = pd.NaT
        out["listed"] = _dates(table["红股上市日"], "红股上市日", where) if "红股上市日" in table else pd.NaT
        if fmt == "sina":
            cash, bonus, transfer, ann = "派息", "送股", "转增", "公告日期"
        else:
            bonus = next(c for c in EASTMONEY_BONUS if c in table)
            cash, transfer, ann = "现金分红-现金分红比例", "送转股份-转股比例", "最新公告日期"
        for col, field in ((cash, "cash"), (bonus, "bonus"), (transfer, "transfer")):
            out[field] = (_num(table[col], col, where) / 10).round(8)  # per 10 shares -> per share (no float tail)
        out["announced"] = _dates(table[ann], ann, where) if ann in table else pd.NaT
    out["source"] = label
    keep = (out[["cash", "bonus", "transfer"]] > 0).any(axis=1).to_numpy()
    return out[keep][list(reference.schema(NAME).columns)].reset_index(drop=True)


def read_file(path: str | Path) -> pd.DataFrame:
    """The distributions in one saved table (.csv or .parquet), see :func:`from_table`."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise InputError(f"{where}: no such file")
    try:
        if path.suffix.lower() == ".parquet":
            table = pq.read_table(path).to_pandas()
        elif path.suffix.lower() == ".csv":
            table = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False, na_values=[""])
        else:
            raise InputError(f"{where}: unknown format {path.suffix or '(no extension)'}; give a .csv or .parquet")
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8 (GBK?): save it as UTF-8 and import again") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{where}: the file is empty: export the table again with its header row") from None
    except (pd.errors.ParserError, OSError) as exc:
        raise InputError(f"{where}: not a readable table ({str(exc).splitlines()[0]})") from None
    found = code_in_filename(path)
    return from_table(table, where, code=found[1] if found and found[0] == "stock" else None)


def import_files(store: Store, paths, *, as_of) -> dict[str, Any]:
    """Read every file, then store their distributions in one write (a bad file changes nothing).

    ``as_of``: the date the tables are complete up to.
    """
    parts = [read_file(p) for p in paths]
    if not parts:
        raise InputError("dividends: no files given")
    table = pd.concat(parts, ignore_index=True)
    if table.empty:
        raise InputError(f"{', '.join(map(str, paths))}: no distribution carried out (实施) with an ex-date in "
                         "these tables; nothing to import")
    table = table.drop_duplicates(["code", "ex_date"], keep="last")
    names = [Path(p).name for p in paths]
    return reference.save(store, NAME, table, source="import:" + ",".join(names[:5]), as_of=as_of,
                          where=", ".join(map(str, paths[:3])))


def report_periods(since, until) -> list[str]:
    """Half-year report periods (YYYY0630, YYYY1231) from ``since`` to ``until``: the ``date`` argument
    of ``stock_fhps_em`` (distributions for the year and for the half-year; quarterly ones are rare).

    >>> report_periods("2023-03-01", "2024-07-01")
    ['20230630', '20231231', '20240630']
    """
    since, until = pd.Timestamp(since), pd.Timestamp(until)
    out = []
    for year in range(since.year, until.year + 1):
        for md in ("0630", "1231"):
            day = pd.Timestamp(f"{year}{md}")
            if since <= day <= until:
                out.append(f"{year}{md}")
    return out


def fetch(store: Store, *, source: Akshare, codes=(), periods=(), today=None) -> dict[str, Any]:
    """Fetch dividend records through akshare and store them; return a summary.

    ``codes``: one Sina table per stock (``stock_history_dividend_detail``); ``periods``: one
    Eastmoney table of the whole market per report period (``stock_fhps_em``). A stock with no
    records is listed as ``empty``; a failing call stops the fetch after storing what came before.
    """
    today = pd.Timestamp(today or dt.date.today()).date()
    parts, empty, errors = [], [], {}
    calls = [("stock_history_dividend_detail", dict(symbol=c, indicator="分红"), c, SINA) for c in codes]
    calls += [("stock_fhps_em", dict(date=p), None, EASTMONEY + EASTMONEY_BONUS[:1]) for p in periods]
    for func, kwargs, code, required in calls:
        label = f"akshare:{func} {code or kwargs['date']}"
        try:
            table = source.table(func, required=required, **kwargs)
        except EmptyAnswer:
            empty.append(code or kwargs["date"])
            continue
        except SourceError as exc:
            errors[code or kwargs["date"]] = str(exc)
            break
        parts.append(from_table(table, label, code=code, source=label))
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    summary: dict[str, Any] = {"rows": 0, "empty": empty, "errors": errors, "as_of": str(today)}
    if len(rows):
        rows = rows.drop_duplicates(["code", "ex_date"], keep="last")
        sources = sorted(set(rows["source"]))
        label = sources[0] if len(sources) == 1 else f"akshare:{len(sources)} tables"
        manifest = reference.save(store, NAME, rows, source=label, as_of=today)
        summary.update(rows=int(manifest["rows"]), added=len(rows))
    return summary
