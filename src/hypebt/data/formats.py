"""Source tables -> hypebt's canonical bar frame, and format detection.

The canonical frame has one row per (code, date) and these columns:

``code`` (str), ``date`` (naive datetime64 at midnight), ``open``, ``high``,
``low``, ``close`` (float, CNY), ``volume`` (float, **shares**), ``amount``
(float, CNY), ``pct_change`` and ``turnover`` (float, percent), and for raw
prices fetched beside an adjusted series, ``adj_factor`` (adjusted / raw).

akshare's ``stock_zh_a_hist`` reports 成交量 in lots of 100 shares; it is
converted to shares here, once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from hypebt.core.errors import InputError
from hypebt.data import vendors
from hypebt.data.fields import Origin, parse_code, parse_dates, require_columns, to_float

# stock_zh_a_hist's Chinese headers -> canonical names
AKSHARE_STOCK = {
    "日期": "date",
    "开盘": "open",
    "收盘": "close",
    "最高": "high",
    "最低": "low",
    "成交量": "volume",
    "成交额": "amount",
    "振幅": "amplitude",
    "涨跌幅": "pct_change",
    "涨跌额": "change",
    "换手率": "turnover",
}
AKSHARE_STOCK_REQUIRED = ("日期", "开盘", "收盘", "最高", "最低", "成交量")
INDEX_REQUIRED = ("date", "open", "high", "low", "close")
AKSHARE_CODE_COLUMNS = ("code", "股票代码")

PRICE_COLUMNS = ("open", "high", "low", "close")
STOCK_COLUMNS = ("code", "date", "open", "high", "low", "close", "volume", "amount", "pct_change", "turnover")
INDEX_COLUMNS = ("code", "date", "open", "high", "low", "close", "volume")
SHARES_PER_LOT = 100


def _akshare_stock(table: pd.DataFrame, code: str | None, where: str) -> tuple[pd.DataFrame, dict[str, str]]:
    require_columns(table.columns, AKSHARE_STOCK_REQUIRED, where, "an akshare stock_zh_a_hist table",
             known=(*AKSHARE_STOCK, *AKSHARE_CODE_COLUMNS))
    out = pd.DataFrame(index=table.index)
    columns = {}
    if code is None:
        col = next((c for c in AKSHARE_CODE_COLUMNS if c in table.columns), None)
        if col is None:
            raise InputError(f"{where}: no code column and no code in the file name; name the file like 600519.csv")
        out["code"] = table[col].astype("string").str.zfill(6)
        columns["code"] = col
    else:
        out["code"] = code
    out["date"] = parse_dates(table["日期"], "日期", where)
    columns["date"] = "日期"
    for zh, en in AKSHARE_STOCK.items():
        if en in ("date", "amplitude", "change"):
            continue
        if zh in table.columns:
            out[en] = to_float(table[zh], zh, where)
            columns[en] = zh
        else:
            out[en] = np.nan
    out["volume"] = out["volume"] * SHARES_PER_LOT
    out["code"] = out["code"].astype("string")
    return out.reset_index(drop=True)[list(STOCK_COLUMNS)], columns


def from_akshare_stock(table: pd.DataFrame, code: str | None, where: str) -> pd.DataFrame:
    """Convert a ``stock_zh_a_hist`` table (Chinese headers) to the canonical frame.

    ``code`` is taken from the argument, or from a ``code``/``股票代码`` column.

    >>> t = pd.DataFrame({"日期": ["2024-02-08"], "开盘": [17.45], "收盘": [19.69], "最高": [19.8],
    ...                   "最低": [17.3], "成交量": [1000]})
    >>> from_akshare_stock(t, "688039", "x.csv")["volume"].iloc[0]
    np.float64(100000.0)
    """
    return _akshare_stock(table, code, where)[0]


def _index_table(table: pd.DataFrame, code: str, where: str) -> tuple[pd.DataFrame, dict[str, str]]:
    require_columns(table.columns, INDEX_REQUIRED, where, "an index table (stock_zh_index_daily)", known=INDEX_COLUMNS)
    out = pd.DataFrame(index=table.index)
    out["code"] = pd.Series(code, index=table.index, dtype="string")
    out["date"] = parse_dates(table["date"], "date", where)
    for col in PRICE_COLUMNS:
        out[col] = to_float(table[col], col, where)
    out["volume"] = to_float(table["volume"], "volume", where) if "volume" in table.columns else np.nan
    columns = {c: c for c in INDEX_COLUMNS[1:] if c in table.columns}
    return out.reset_index(drop=True)[list(INDEX_COLUMNS)], columns


def from_index_table(table: pd.DataFrame, code: str, where: str) -> pd.DataFrame:
    """Convert a ``stock_zh_index_daily`` table (date,open,high,low,close,volume)."""
    return _index_table(table, code, where)[0]


def _canonical(table: pd.DataFrame, where: str, kind: str) -> tuple[pd.DataFrame, dict[str, str]]:
    cols = STOCK_COLUMNS if kind == "stock" else INDEX_COLUMNS
    require_columns(table.columns, cols[:6], where, f"a canonical {kind} table", known=(*STOCK_COLUMNS, "adj_factor"))
    out = pd.DataFrame(index=table.index)
    out["code"] = table["code"].astype("string")
    out["date"] = parse_dates(table["date"], "date", where)
    for col in cols[2:]:
        out[col] = to_float(table[col], col, where) if col in table.columns else np.nan
    if "adj_factor" in table.columns:
        out["adj_factor"] = to_float(table["adj_factor"], "adj_factor", where)
    columns = {c: c for c in out.columns if c in table.columns}
    return out.reset_index(drop=True), columns


# --- reading files -----------------------------------------------------------------------------

def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False, na_values=[""])
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 (GBK?): save it as UTF-8 and import again") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the file is empty: export the table again with its header row") from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None


def code_from_filename(path: Path) -> str:
    """The code a file name gives: ``600519.csv`` -> ``600519``, ``sh000300.csv`` -> ``sh000300``."""
    return path.stem.split(".")[0].strip().lower()


def code_in_filename(path: Path) -> tuple[str, str] | None:
    """``(kind, code)`` a file name gives, in any vendor's spelling, or None.

    >>> code_in_filename(Path("600519.SH.csv")), code_in_filename(Path("sh.000300.csv"))
    (('stock', '600519'), ('index', 'sh000300'))
    """
    stem = path.stem.strip()
    tokens = [t for t in re.split(r"[._\-\s]+", stem) if t]
    pairs = [a + "." + b for a, b in zip(tokens, tokens[1:])]
    for candidate in (stem, stem.split(".")[0], *pairs, *tokens):
        found = parse_code(candidate) if re.search(r"\d{6}", candidate) else None
        if found:
            return found
    return None


@dataclass(frozen=True)
class Parsed:
    """One file read: its kind (``stock`` or ``index``), canonical frame (volume in shares), :class:`Origin`.

    ``fmt`` names the format for messages; ``adjust`` is what the file says its prices are
    (baostock's adjustflag), ``default_adjust`` what hypebt assumes for a format that does not
    say (akshare tables: qfq, the basis of the shared dataset), both None when the importer must
    be told; ``notes`` say what was inferred or left out.
    """

    kind: str
    frame: pd.DataFrame
    origin: Origin
    fmt: str = "an akshare stock_zh_a_hist table"
    adjust: str | None = None
    default_adjust: str | None = None
    notes: tuple[str, ...] = ()


def read_file(path: str | Path, **options) -> tuple[str, pd.DataFrame]:
    """Read one importable file; return ``(kind, canonical frame)`` with kind ``stock`` or ``index``.

    Formats, detected from the header (not the extension alone); see :func:`read_source`.
    """
    parsed = read_source(path, **options)
    return parsed.kind, parsed.frame


def _akshare(table, code, where, volume_unit) -> Parsed:
    if volume_unit not in (None, "lots"):
        raise InputError(f"{where}: akshare's 成交量 is in lots, not {volume_unit}; drop --volume-unit, "
                         "or read the file with --columns")
    frame, columns = _akshare_stock(table, code, where)
    return Parsed("stock", frame, Origin(table, columns), default_adjust="qfq")


def read_source(path: str | Path, *, volume_unit: str | None = None,
                columns: str | dict[str, str] | None = None) -> Parsed:
    """Read one file into a :class:`Parsed` (canonical frame, the table as read, what the format says).

    Formats, detected from the header, not the extension alone:

    - akshare ``stock_zh_a_hist`` (日期,开盘,收盘,...; 成交量 in lots); code from the file name or a
      ``code``/``股票代码`` column; market parquets with a ``code`` column (``shared/data``'s layout);
    - Tushare daily (``ts_code`` like ``600000.SH``, ``trade_date`` YYYYMMDD, ``vol`` in lots,
      ``amount`` in thousand CNY; newest day first is fine);
    - baostock (``code`` like ``sh.600000``, volume in shares, ``adjustflag`` 1 hfq / 2 qfq / 3 raw,
      suspended days with ``tradestatus`` 0 left out);
    - English-header OHLCV (date, open, high, low, close, volume in any order and case; optional
      amount, pct_change, turnover); the code from a ``code``/``symbol`` column or the file name
      (``600519.csv``; ``sh000300.csv`` is an index); volume unit from ``volume_unit`` or the
      amounts (see :mod:`hypebt.data.vendors`);
    - anything else with ``columns`` (``"date=trade_dt,close=px_last"``; other fields by English name).

    >>> p = read_source("600519.csv")                  # doctest: +SKIP
    >>> p.kind, p.origin.columns["volume"]             # doctest: +SKIP
    ('stock', '成交量')
    """
    path = Path(path)
    where = str(path)
    if not path.exists():
        raise InputError(f"{where}: no such file")
    if path.is_dir():
        raise InputError(f"{where}: is a folder; import it as a folder (every .csv and .parquet in it), "
                         f"or give the files inside it (e.g. {where}/*.csv)")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            table = pq.read_table(path).to_pandas()
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise InputError(f"{where}: not a readable parquet file ({exc.__class__.__name__}: {exc})") from None
    elif suffix == ".csv":
        table = _read_csv(path)
    else:
        raise InputError(f"{where}: unknown format {suffix or '(no extension)'}; hypebt imports .csv and .parquet")
    if table.empty:
        raise InputError(f"{where}: header only, no rows: export the table again with its data")
    table.columns = [str(c).strip() for c in table.columns]
    cols = list(table.columns)
    name_code = code_in_filename(path)
    if columns is not None:
        return _vendor(table, vendors.mapped(table, vendors.parse_column_map(columns), where), where,
                       name_code, volume_unit)
    if "日期" in cols:
        code = name_code[1] if name_code and name_code[0] == "stock" else None
        if code is None and not any(c in cols for c in AKSHARE_CODE_COLUMNS):
            raise InputError(f"{where}: file name does not give a stock code ({code_from_filename(path)!r}); "
                             "name it like 600519.csv, or add a code column")
        return _akshare(table, code, where, volume_unit)
    layout = vendors.detect(table, where)
    if suffix == ".parquet" and "code" in cols and layout is not None and layout.name == vendors.ENGLISH_NAME:
        # hypebt's own layout (a store file, or an export of one): volume already in shares.
        kind = "index" if table["code"].astype(str).str.match(r"^(sh|sz|bj|csi)").all() else "stock"
        frame, used = _canonical(table, where, kind)
        return Parsed(kind, frame, Origin(table, used), fmt=f"a canonical {kind} parquet", default_adjust="qfq")
    if layout is None:
        if suffix == ".parquet" and "code" not in cols:
            raise InputError(f"{where}: a market parquet needs a 'code' column; found: {', '.join(cols)}")
        raise InputError(
            f"{where}: unknown format: expected akshare stock_zh_a_hist headers (日期,开盘,收盘,最高,最低,成交量,...), "
            "Tushare (ts_code,trade_date,...,vol), baostock (code like sh.600000) or English headers "
            f"(date,open,high,low,close,volume); found: {', '.join(cols)}; or map them with "
            "--columns date=COLUMN,close=COLUMN,..."
        )
    return _vendor(table, layout, where, name_code, volume_unit)


def _vendor(table, layout, where, name_code, volume_unit) -> Parsed:
    kind, frame, origin, layout = vendors.convert(table, layout, where, name_code=name_code, volume_unit=volume_unit)
    return Parsed(kind, frame, origin, fmt=layout.name, adjust=layout.adjust, notes=layout.notes)
