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

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from hypebt.core import codes as _codes
from hypebt.core.errors import InputError, did_you_mean

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


def exchange_of(code: str) -> str | None:
    """``"SH"``, ``"SZ"`` or ``"BJ"``: where a 6-digit A-share code trades; None if it is not one.

    >>> exchange_of("688039"), exchange_of("300624"), exchange_of("830799"), exchange_of("sh000300")
    ('SH', 'SZ', 'BJ', None)
    """
    if not _codes.is_stock_code(code):
        return None
    return "SH" if code[0] == "6" else "SZ" if code[0] in "03" else "BJ"


def _missing(found, required, where: str, fmt: str, known=()) -> None:
    """Refuse a table lacking a required column: name each, suggest a look-alike, say how to fix."""
    found = [str(c) for c in found]
    missing = [c for c in required if c not in found]
    if missing:
        # Only columns the format does not already use can be a misspelt required one.
        spare = [c for c in found if c not in set(required) | set(known)]
        named = ", ".join(c + did_you_mean(c, spare) for c in missing)
        raise InputError(
            f"{where}: missing column(s) {named} for {fmt}; found: {', '.join(found) or 'none'}; "
            f"rename the column(s) to the expected header(s), or export the table again with all of: "
            f"{', '.join(required)}"
        )


def _to_float(col: pd.Series, field: str, where: str) -> pd.Series:
    out = pd.to_numeric(col, errors="coerce")
    bad = out.isna() & col.notna()
    if bad.any():
        pos = int(np.argmax(bad.to_numpy()))
        raise InputError(
            f"{where}: row {pos + 1}: field '{field}': {col.iloc[pos]!r} is not a number; fix or remove the row"
        )
    return out.astype("float64")


# datetime64[ns], the store's date type, ends in 2262: a later year is a typo, not a date.
_FIRST_DAY, _LAST_DAY = pd.Timestamp("1678-01-01"), pd.Timestamp("2261-12-31")


def parse_dates(col: pd.Series, field: str, where: str, *, allow_missing: bool = False) -> pd.Series:
    """Dates of a column as naive midnight ``datetime64[ns]``, or an InputError naming row and field.

    Accepts ``YYYY-MM-DD``, ``YYYYMMDD``, ``YYYY/MM/DD`` and datetimes (time zones dropped, one zone
    per column). ``allow_missing``: an empty cell is NaT instead of an error.

    >>> parse_dates(pd.Series(["20240102", "2024-01-03"]), "date", "x.csv").dt.day.tolist()
    [2, 3]
    """
    text = col.astype("string")
    try:
        out = pd.to_datetime(text, errors="coerce", format="mixed")
    except ValueError as exc:
        # pandas refuses (rather than coerces) dates with different UTC offsets.
        _refuse_mixed_zones(col, text, field, where)
        raise InputError(f"{where}: field '{field}': the dates cannot be read ({exc}); use YYYY-MM-DD") from None
    bad = out.isna()
    if allow_missing:
        bad &= text.fillna("").str.strip().ne("")
    if bad.any():
        pos = int(np.argmax(bad.to_numpy()))
        raise InputError(
            f"{where}: row {pos + 1}: field '{field}': {col.iloc[pos]!r} is not a date; use YYYY-MM-DD"
        )
    if getattr(out.dt, "tz", None) is not None:
        # A tz-aware index makes backtrader shift dates by a day: keep naive exchange dates.
        out = out.dt.tz_localize(None)
    far = ((out < _FIRST_DAY) | (out > _LAST_DAY)).to_numpy()
    if far.any():
        pos = int(np.argmax(far))
        raise InputError(
            f"{where}: row {pos + 1}: field '{field}': {col.iloc[pos]!r} is out of range "
            f"({_FIRST_DAY.year}..{_LAST_DAY.year}): check the year; use YYYY-MM-DD"
        )
    return out.dt.normalize().astype("datetime64[ns]")


def _zone(value) -> str | None:
    """``"+08:00"``, ``"naive"`` (no offset) or None (not a date) for one date string."""
    try:
        offset = pd.Timestamp(value).utcoffset()
    except (ValueError, TypeError):
        return None
    if offset is None:
        return "naive"
    minutes = int(offset.total_seconds()) // 60
    return f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _refuse_mixed_zones(col: pd.Series, text: pd.Series, field: str, where: str) -> None:
    """Raise an InputError at the first date that is not a date or whose UTC offset differs from the
    first date's (pandas raises on mixed offsets instead of coercing them)."""
    ids, uniques = pd.factorize(text)  # a file has few distinct dates: parse each once
    zones = [_zone(u) for u in uniques] + [None]  # id -1, a missing date, picks the last entry
    row_zones = np.asarray(zones, dtype=object)[ids]
    is_date = np.array([z is not None for z in zones])[ids]
    if not is_date.any():
        return
    first = int(np.argmax(is_date))
    odd = np.flatnonzero(row_zones != row_zones[first])
    if not len(odd):
        return
    pos = int(odd[0])
    if row_zones[pos] is None:
        raise InputError(
            f"{where}: row {pos + 1}: field '{field}': {col.iloc[pos]!r} is not a date; use YYYY-MM-DD"
        )

    def says(zone: str) -> str:
        return "no UTC offset" if zone == "naive" else f"UTC offset {zone}"

    raise InputError(
        f"{where}: row {pos + 1}: field '{field}': {col.iloc[pos]!r} has {says(row_zones[pos])} but row "
        f"{first + 1} ({col.iloc[first]!r}) has {says(row_zones[first])}; "
        "give every date in one time zone, best as plain YYYY-MM-DD"
    )


@dataclass(frozen=True)
class Origin:
    """Where a canonical frame came from, so messages speak the file's language.

    ``table`` is the table as read (row ``i`` of the canonical frame is its row
    ``i``); ``columns`` maps each canonical field to the column that gave it
    (``{"volume": "成交量", ...}``). A field missing from ``columns`` (a code
    taken from the file name) has no cell in the file.
    """

    table: pd.DataFrame
    columns: dict[str, str]

    def cell(self, field: str, row: int):
        """``(column, value as written)`` of ``field`` in 0-based ``row``, or ``(None, None)``."""
        column = self.columns.get(field)
        if column is None:
            return None, None
        return column, self.table[column].iloc[row]


def _akshare_stock(table: pd.DataFrame, code: str | None, where: str) -> tuple[pd.DataFrame, dict[str, str]]:
    _missing(table.columns, AKSHARE_STOCK_REQUIRED, where, "an akshare stock_zh_a_hist table",
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
            out[en] = _to_float(table[zh], zh, where)
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
    _missing(table.columns, INDEX_REQUIRED, where, "an index table (stock_zh_index_daily)", known=INDEX_COLUMNS)
    out = pd.DataFrame(index=table.index)
    out["code"] = pd.Series(code, index=table.index, dtype="string")
    out["date"] = parse_dates(table["date"], "date", where)
    for col in PRICE_COLUMNS:
        out[col] = _to_float(table[col], col, where)
    out["volume"] = _to_float(table["volume"], "volume", where) if "volume" in table.columns else np.nan
    columns = {c: c for c in INDEX_COLUMNS[1:] if c in table.columns}
    return out.reset_index(drop=True)[list(INDEX_COLUMNS)], columns


def from_index_table(table: pd.DataFrame, code: str, where: str) -> pd.DataFrame:
    """Convert a ``stock_zh_index_daily`` table (date,open,high,low,close,volume)."""
    return _index_table(table, code, where)[0]


def _canonical(table: pd.DataFrame, where: str, kind: str) -> tuple[pd.DataFrame, dict[str, str]]:
    cols = STOCK_COLUMNS if kind == "stock" else INDEX_COLUMNS
    _missing(table.columns, cols[:6], where, f"a canonical {kind} table", known=(*STOCK_COLUMNS, "adj_factor"))
    out = pd.DataFrame(index=table.index)
    out["code"] = table["code"].astype("string")
    out["date"] = parse_dates(table["date"], "date", where)
    for col in cols[2:]:
        out[col] = _to_float(table[col], col, where) if col in table.columns else np.nan
    if "adj_factor" in table.columns:
        out["adj_factor"] = _to_float(table["adj_factor"], "adj_factor", where)
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


@dataclass(frozen=True)
class Parsed:
    """One file read: its kind (``stock`` or ``index``), canonical frame, and :class:`Origin`."""

    kind: str
    frame: pd.DataFrame
    origin: Origin


def read_file(path: str | Path) -> tuple[str, pd.DataFrame]:
    """Read one importable file; return ``(kind, canonical frame)`` with kind ``stock`` or ``index``.

    Formats, detected from the header (not the extension alone):

    - akshare ``stock_zh_a_hist`` CSV (日期,开盘,收盘,...); the code comes from the file name.
    - akshare ``stock_zh_index_daily`` CSV (date,open,high,low,close,volume), e.g. ``sh000300.csv``.
    - a market parquet with a ``code`` column and the akshare Chinese columns
      (the layout of ``shared/data/ashare/market.parquet``), or canonical English columns.

    :func:`read_source` gives the same and the table as read, for messages.
    """
    parsed = read_source(path)
    return parsed.kind, parsed.frame


def read_source(path: str | Path) -> Parsed:
    """Like :func:`read_file`, keeping the table as read and its column names (:class:`Origin`).

    >>> p = read_source("600519.csv")                  # doctest: +SKIP
    >>> p.kind, p.origin.columns["volume"]             # doctest: +SKIP
    ('stock', '成交量')
    """
    def parsed(kind, table, converted) -> Parsed:
        frame, columns = converted
        return Parsed(kind, frame, Origin(table, columns))

    path = Path(path)
    where = str(path)
    if not path.exists():
        raise InputError(f"{where}: no such file")
    if path.is_dir():
        raise InputError(f"{where}: is a folder; give the files inside it (e.g. {where}/*.csv)")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            table = pq.read_table(path).to_pandas()
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise InputError(f"{where}: not a readable parquet file ({exc.__class__.__name__}: {exc})") from None
        if "code" not in table.columns:
            raise InputError(f"{where}: a market parquet needs a 'code' column; found: {', '.join(map(str, table.columns))}")
        if "日期" in table.columns:
            return parsed("stock", table, _akshare_stock(table, None, where))
        kind = "index" if table["code"].astype(str).str.match(r"^(sh|sz|bj|csi)").all() else "stock"
        return parsed(kind, table, _canonical(table, where, kind))
    if suffix != ".csv":
        raise InputError(f"{where}: unknown format {suffix or '(no extension)'}; hypebt imports .csv and .parquet")
    table = _read_csv(path)
    if table.empty:
        raise InputError(f"{where}: header only, no rows: export the table again with its data")
    cols = [str(c).strip() for c in table.columns]
    table.columns = cols
    code = code_from_filename(path)
    if "日期" in cols:
        if not _codes.is_stock_code(code) and "code" not in cols and "股票代码" not in cols:
            raise InputError(
                f"{where}: file name does not give a stock code ({code!r}); name it like 600519.csv"
            )
        return parsed("stock", table, _akshare_stock(table, code if _codes.is_stock_code(code) else None, where))
    if "date" in cols and "open" in cols:
        if "code" in cols:
            kind = "index" if table["code"].str.match(r"^(sh|sz|bj|csi)").all() else "stock"
            return parsed(kind, table, _canonical(table, where, kind))
        if _codes.is_index_code(code):
            return parsed("index", table, _index_table(table, code, where))
        if _codes.is_stock_code(code):
            raise InputError(
                f"{where}: English columns without 'code' look like an index table, but {code!r} is a stock "
                "code; export stocks with akshare's stock_zh_a_hist headers (日期,开盘,...)"
            )
        raise InputError(f"{where}: file name does not give an index code ({code!r}); name it like sh000300.csv")
    raise InputError(
        f"{where}: unknown format: expected akshare stock_zh_a_hist headers (日期,开盘,收盘,最高,最低,成交量,...) "
        f"or index headers (date,open,high,low,close,volume); found: {', '.join(cols)}"
    )
