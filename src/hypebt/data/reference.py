"""Dated reference data: listings, margin-eligible lists, suspensions, risk-warning (ST) history.

Each table is a store dataset with a manifest (``sources``, ``as_of``: the date the data is
known to be true up to). The schemas, fixed for every producer (CSV import here, the akshare
fetch in :mod:`hypebt.data.sources`) and every consumer (the market rules):

- ``listings``: code, list_date, delist_date (NaT while listed), source
- ``margin_list``: date (snapshot date), code, exchange (``SH``/``SZ``/``BJ``), source; a code is
  eligible on a session if it is in the latest snapshot dated on or before that session
- ``st_history``: code, start, end (NaT: still under warning), kind (``ST``, ``*ST``, ...), source
- ``suspensions``: code, start, end (both inclusive; NaT: not resumed as of ``as_of``), reason, source
- ``dividends``: code, ex_date, record_date, pay_date and listed (the new shares' first trading day;
  NaT: not given), cash, bonus, transfer (per share, before tax), announced, source (:mod:`hypebt.data.dividends` reads akshare's and Tushare's tables)

Codes are 6-digit strings, dates naive midnight ``datetime64[ns]`` like the bars. A save merges
into what is stored, a new row replacing an old one with the same key (``margin_list`` keeps every
snapshot date), so repeated fetches build a history.

>>> table = pd.DataFrame({"code": ["688039"], "list_date": ["2021-06-08"], "delist_date": [None]})
>>> save(store, "listings", table, source="exchange notices", as_of="2024-05-22")   # doctest: +SKIP
>>> load(store, "listings")                                                          # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hypebt.core import codes as _codes
from hypebt.core.errors import InputError, did_you_mean, unknown
from hypebt.data.fields import exchange_of, parse_dates
from hypebt.data.store import REFERENCE_DATASETS, Store


@dataclass(frozen=True)
class Schema:
    """One reference table: its columns, which are dates (and which may be empty), its key."""

    name: str
    columns: tuple[str, ...]
    dates: tuple[str, ...]
    open_ended: tuple[str, ...]  # date columns where an empty cell means "not yet"
    key: tuple[str, ...]
    interval: tuple[str, str] | None = None  # (start, end) columns of a per-code period
    numbers: tuple[str, ...] = ()  # numeric columns (>= 0; an empty cell is 0)


SCHEMAS = {
    "listings": Schema("listings", ("code", "list_date", "delist_date", "source"),
                       ("list_date", "delist_date"), ("delist_date",), ("code",),
                       interval=("list_date", "delist_date")),
    "margin_list": Schema("margin_list", ("date", "code", "exchange", "source"), ("date",), (), ("date", "code")),
    "st_history": Schema("st_history", ("code", "start", "end", "kind", "source"), ("start", "end"), ("end",),
                         ("code", "start"), interval=("start", "end")),
    "suspensions": Schema("suspensions", ("code", "start", "end", "reason", "source"), ("start", "end"), ("end",),
                          ("code", "start"), interval=("start", "end")),
    # Per share, before tax: cash (派息), bonus shares (送股), capitalisation shares (转增); see hypebt.data.dividends.
    "dividends": Schema("dividends", ("code", "ex_date", "record_date", "pay_date", "listed", "cash", "bonus",
                                      "transfer", "announced", "source"),
                        ("ex_date", "record_date", "pay_date", "listed", "announced"),
                        ("record_date", "pay_date", "listed", "announced"), ("code", "ex_date"),
                        numbers=("cash", "bonus", "transfer")),
}
assert tuple(sorted(SCHEMAS)) == REFERENCE_DATASETS
# Risk-warning labels the exchanges use (SST, S*ST: not yet through the 2005-2006 share reform).
ST_KINDS = ("ST", "*ST", "SST", "S*ST")
EXCHANGES = ("SH", "SZ", "BJ")


def schema(name: str) -> Schema:
    """The :class:`Schema` of a reference dataset, or an InputError with "did you mean"."""
    if name not in SCHEMAS:
        raise unknown("reference dataset", name, SCHEMAS)
    return SCHEMAS[name]


def _codes_column(col: pd.Series, where: str) -> pd.Series:
    text = col.astype("string").str.strip()
    # A spreadsheet stores 000001 as the number 1: digits-only codes are padded back.
    digits = text.str.fullmatch(r"\d{1,5}").fillna(False)
    text = text.where(~digits, text.str.zfill(6))
    ok = np.array([_codes.is_stock_code(c) for c in text.fillna("").astype(object)])
    if not ok.all():
        pos = int(np.argmax(~ok))
        raise InputError(f"{where}: row {pos + 1}: field 'code': {col.iloc[pos]!r} is not an A-share code "
                         "(6 digits, e.g. 600519); fix the row")
    return text


def _text_column(col: pd.Series, field: str, where: str, choices: tuple[str, ...] | None = None) -> pd.Series:
    text = col.astype("string").str.strip()
    empty = text.isna() | (text == "")
    if empty.any():
        pos = int(np.argmax(empty.to_numpy()))
        raise InputError(f"{where}: row {pos + 1}: field '{field}' is empty; fill it in")
    if choices is not None:
        bad = ~text.isin(choices)
        if bad.any():
            pos = int(np.argmax(bad.to_numpy()))
            value = str(text.iloc[pos])
            raise InputError(f"{where}: row {pos + 1}: field '{field}': {value!r} is not one of "
                             f"{', '.join(choices)}{did_you_mean(value, choices)}; fix the row")
    return text


def validate(name: str, table: pd.DataFrame, where: str, *, source: str | None = None) -> pd.DataFrame:
    """Check a reference table against its schema; return it typed, sorted by its key.

    ``table`` may have extra columns (dropped) and may lack ``source`` when ``source`` is given
    (it fills the column). Every problem raises a one-line :class:`InputError` naming ``where``,
    the row (1-based, as given) and the field: a bad code or date, an empty required cell, an end
    before its start, a duplicated key, two periods of one code that overlap, a margin snapshot
    listing a code under the wrong exchange.

    >>> validate("listings", pd.DataFrame({"code": ["688039"], "list_date": ["2021-06-08"],
    ...          "delist_date": [""]}), "x.csv", source="notices")["delist_date"].isna().all()
    np.True_
    """
    sch = schema(name)
    table = table.rename(columns=lambda c: str(c).strip()).reset_index(drop=True)
    if "source" not in table.columns and source:
        table = table.assign(source=source)
    missing = [c for c in sch.columns if c not in table.columns]
    if missing:
        spare = [c for c in table.columns if c not in sch.columns]
        named = ", ".join(c + did_you_mean(c, spare) for c in missing)
        raise InputError(f"{where}: missing column(s) {named} for {name}; "
                         f"a {name} table has the columns {', '.join(sch.columns)}")
    if table.empty:
        raise InputError(f"{where}: no rows; a {name} table needs at least one")
    out = pd.DataFrame(index=table.index)
    for col in sch.columns:
        if col == "code":
            out[col] = _codes_column(table[col], where)
        elif col in sch.dates:
            out[col] = parse_dates(table[col], col, where, allow_missing=col in sch.open_ended)
        elif col == "kind":
            out[col] = _text_column(table[col].astype("string").str.upper(), col, where, ST_KINDS)
        elif col == "exchange":
            out[col] = _text_column(table[col].astype("string").str.upper(), col, where, EXCHANGES)
        elif col == "reason":
            out[col] = table[col].astype("string").str.strip().fillna("")
        elif col in sch.numbers:
            out[col] = _number_column(table[col], col, where)
        else:
            out[col] = _text_column(table[col], col, where)
    if name == "margin_list":
        wrong = out["exchange"].to_numpy() != np.array([exchange_of(c) for c in out["code"]])
        if wrong.any():
            pos = int(np.argmax(wrong))
            raise InputError(f"{where}: row {pos + 1}: field 'exchange': {out['exchange'].iloc[pos]} but "
                             f"{out['code'].iloc[pos]} trades on {exchange_of(out['code'].iloc[pos])}; fix the row")
    if sch.interval:
        _check_intervals(out, sch, where)
    if sch.numbers:
        nothing = (out[list(sch.numbers)] == 0).all(axis=1).to_numpy()
        if nothing.any():
            pos = int(np.argmax(nothing))
            raise InputError(f"{where}: row {pos + 1}: {', '.join(sch.numbers)} are all 0: nothing is distributed; "
                             "drop the row")
    dup = out.duplicated(list(sch.key), keep="first").to_numpy()
    if dup.any():
        pos = int(np.argmax(dup))
        key = ", ".join(f"{k}={_show(out[k].iloc[pos])}" for k in sch.key)
        raise InputError(f"{where}: row {pos + 1}: {key} is given twice; keep one row")
    return out.sort_values(list(sch.key), kind="stable").reset_index(drop=True)


def _number_column(col: pd.Series, field: str, where: str) -> pd.Series:
    text = col.astype("string").str.strip()
    out = pd.to_numeric(text.fillna(""), errors="coerce")
    bad = (out.isna() & text.fillna("").ne("")) | (out < 0)
    if bad.any():
        pos = int(np.argmax(bad.to_numpy()))
        raise InputError(f"{where}: row {pos + 1}: field '{field}': {col.iloc[pos]!r} is not a number >= 0; fix the row")
    return out.fillna(0.0).astype("float64")


def _show(value) -> str:
    return str(value.date()) if isinstance(value, pd.Timestamp) else str(value)


def _check_intervals(out: pd.DataFrame, sch: Schema, where: str) -> None:
    """End on or after start; and, except listings (one row per code), no two periods of a code overlapping."""
    start, end = sch.interval
    backwards = (out[end] < out[start]).to_numpy()
    if backwards.any():
        pos = int(np.argmax(backwards))
        raise InputError(f"{where}: row {pos + 1}: field '{end}': {_show(out[end].iloc[pos])} is before "
                         f"{start} {_show(out[start].iloc[pos])}; fix the row")
    if sch.name == "listings":
        return
    # Sorted by (code, start): a period overlaps the previous one of its code when it starts on or
    # before that one's end (an open end overlaps everything after it).
    order = np.lexsort((out[start].to_numpy(), out["code"].to_numpy(dtype=object)))
    s = out[start].to_numpy()[order]
    e = out[end].to_numpy()[order]
    c = out["code"].to_numpy(dtype=object)[order]
    same = c[1:] == c[:-1]
    prev_end = e[:-1]
    overlap = same & (np.isnat(prev_end) | (s[1:] <= prev_end)) & (s[1:] != s[:-1])  # equal starts: duplicates
    if overlap.any():
        i = int(np.argmax(overlap))
        pos, before = int(order[i + 1]), int(order[i])
        raise InputError(f"{where}: row {pos + 1}: {sch.name} period of {c[i + 1]} starting "
                         f"{_show(pd.Timestamp(s[i + 1]))} overlaps row {before + 1} "
                         f"({_show(pd.Timestamp(s[i]))}..{_show(pd.Timestamp(e[i])) if not np.isnat(e[i]) else 'open'}); "
                         "end one period before the next starts")


def _as_of(value, where: str) -> str:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        ts = pd.NaT
    if ts is pd.NaT:
        raise InputError(f"{where}: as_of {value!r} is not a date; give the date the data is true up to, YYYY-MM-DD")
    return str(ts.date())


def save(store: Store, name: str, table: pd.DataFrame, *, source: str, as_of,
         where: str | None = None, replace: bool = False) -> dict[str, Any]:
    """Validate ``table`` and merge it into the store's ``name`` dataset; return the manifest.

    ``source`` names where the rows came from (filled into a missing ``source`` column and added
    to the manifest's ``sources``); ``as_of`` is the date the data is true up to (the manifest
    keeps the latest). Rows replace stored rows with the same key; ``replace`` drops the stored
    table first. The merged table is validated again (a new period must not overlap a stored one),
    so a refused save leaves the store unchanged.

    >>> save(store, "margin_list", pd.DataFrame({"date": ["2024-05-22"], "code": ["600000"],
    ...      "exchange": ["SH"]}), source="akshare:sse", as_of="2024-05-22")   # doctest: +SKIP
    """
    sch = schema(name)
    where = where or f"{name} from {source}"
    as_of = _as_of(as_of, where)
    new = validate(name, table, where, source=source)
    old_manifest = store.manifest(name)
    sources = [source]
    if old_manifest is not None and not replace:
        old = load(store, name)
        # Drop stored rows the new ones replace, then check the union as one table.
        kept = old.merge(new[list(sch.key)], on=list(sch.key), how="left", indicator=True)
        old = old[(kept["_merge"] == "left_only").to_numpy()]
        new = validate(name, pd.concat([old, new], ignore_index=True), f"{where} (with the stored {name})")
        sources = list(dict.fromkeys([*old_manifest.get("sources", []), source]))
        as_of = max(as_of, str(old_manifest.get("as_of") or as_of))
    return store.write_reference(name, new, sources=sources, as_of=as_of, date_columns=sch.dates)


def import_csv(store: Store, name: str, path: str | Path, *, as_of, source: str | None = None,
               replace: bool = False) -> dict[str, Any]:
    """Import a reference CSV (UTF-8, the schema's columns; ``source`` column optional) into the store.

    ``as_of`` must be given: a file does not say up to when it is complete. ``source`` defaults
    to ``import:<file name>``.

    >>> import_csv(store, "st_history", "st.csv", as_of="2024-05-22")   # doctest: +SKIP
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise InputError(f"{where}: no such file")
    try:
        table = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False, na_values=[""])
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8 (GBK?): save it as UTF-8 and import again") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{where}: the file is empty; a {name} table has the columns "
                         f"{', '.join(schema(name).columns)}") from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{where}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    return save(store, name, table, source=source or f"import:{path.name}", as_of=as_of, where=where,
                replace=replace)


def load(store: Store, name: str) -> pd.DataFrame | None:
    """The stored ``name`` table (typed as in the schema, sorted by its key), or None if absent.

    The file's hash is checked against its manifest (a corrupted table raises DataError).

    >>> st = load(store, "st_history")    # doctest: +SKIP
    >>> st is None or list(st.columns) == ["code", "start", "end", "kind", "source"]   # doctest: +SKIP
    True
    """
    sch = schema(name)
    if store.manifest(name) is None:
        return None
    frame = store.load(name)
    for col in sch.columns:
        if col in sch.dates:
            frame[col] = frame[col].astype("datetime64[ns]")
        elif col in sch.numbers:
            frame[col] = frame[col].astype("float64")
        else:
            frame[col] = frame[col].astype("string")
    return frame[list(sch.columns)]


def as_of(store: Store, name: str) -> dt.date | None:
    """The date the stored ``name`` table is true up to (its manifest's ``as_of``), or None."""
    manifest = store.manifest(schema(name).name)
    if manifest is None or not manifest.get("as_of"):
        return None
    return pd.Timestamp(manifest["as_of"]).date()


def listed_before_first_bar(store: Store, bars: pd.DataFrame, first_date) -> set[str]:
    """The codes of ``bars`` whose first stored bar comes after ``first_date`` (the data's first) and
    which the stored ``listings`` table says listed before that bar (empty without the table): that
    bar is a stock coming back from a suspension, not a listing day.
    """
    if store.manifest("listings") is None or not len(bars):
        return set()
    table = load(store, "listings")
    first = bars.groupby("code", observed=True, sort=False)["date"].min()
    first = first[first > pd.Timestamp(first_date)]
    first.index = first.index.astype(str)
    listed = table.set_index(table["code"].astype(str))["list_date"].reindex(first.index)
    return set(first.index[(listed < first).to_numpy()])
