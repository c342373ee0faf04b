"""Other vendors' daily tables -> the canonical frame: Tushare, baostock, English OHLCV, a column map.

Each :class:`Layout` says which column gives each canonical field and what the format itself
states about units and adjustment. Where a format is silent:

- the volume unit (lots of 100 shares, or shares) is read off the table when it has an amount
  column: ``amount / (volume x close)`` is about 1 for shares and about 100 for lots (at the end
  of a forward-adjusted series and throughout a raw one, prices are the traded ones); without an
  amount column, or when that ratio says neither, the caller must say (``volume_unit``);
- the price adjustment is never guessed here (:mod:`hypebt.data.importers` asks for it).

>>> parse_column_map("date=trade_dt, close=px_last")
{'date': 'trade_dt', 'close': 'px_last'}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from hypebt.core.errors import InputError, did_you_mean
from hypebt.data.fields import Origin, parse_code, parse_dates, require_columns, to_float

FIELDS = ("code", "date", "open", "high", "low", "close", "volume", "amount", "pct_change", "turnover")
REQUIRED = ("date", "open", "high", "low", "close")
VOLUME_UNITS = {"lots": 100.0, "shares": 1.0}
# English headers seen in exports (lower-cased), per canonical field.
ENGLISH = {
    "code": ("code", "symbol", "ticker", "ts_code"),
    "date": ("date", "trade_date", "datetime", "day"),
    "open": ("open",), "high": ("high",), "low": ("low",), "close": ("close",),
    "volume": ("volume", "vol"),
    "amount": ("amount",),
    "pct_change": ("pct_change", "pct_chg", "pctchg", "change_pct"),
    "turnover": ("turnover", "turnover_rate", "turn"),
}
ENGLISH_NAME = "an English-header OHLCV table"
BAOSTOCK_CODE = re.compile(r"^(sh|sz|bj)\.\d{6}$")
BAOSTOCK_ADJUST = {"1": "hfq", "2": "qfq", "3": "raw"}
# amount / (volume x close) of a raw or recently adjusted bar, per (volume unit, amount unit).
_RATIO_BANDS = (("shares", 1.0), ("lots", 100.0), ("lots, amount in thousand CNY", 0.1),
                ("shares, amount in thousand CNY", 0.001))
_BAND = 3.0  # a ratio within 3x of a band's centre belongs to it (bands are 10x apart or more)
_EDGE_ROWS = 20  # bars per code whose prices are closest to traded ones: the first and the last


@dataclass(frozen=True)
class Layout:
    """How one format maps to canonical fields, and what it says about itself.

    ``columns``: canonical field -> the table's column; ``volume_unit``: ``lots``/``shares`` when the
    format says, else None; ``amount_scale``: CNY per unit of the amount column; ``adjust``:
    ``qfq``/``hfq``/``raw`` when the table says (baostock's adjustflag), else None.
    """

    name: str
    columns: dict[str, str]
    volume_unit: str | None = None
    amount_scale: float = 1.0
    adjust: str | None = None
    notes: tuple[str, ...] = field(default=())


def parse_column_map(text: str | dict[str, str]) -> dict[str, str]:
    """``"date=trade_dt,close=px_last"`` -> ``{"date": "trade_dt", "close": "px_last"}``, checked.

    Keys are canonical fields (code, date, open, high, low, close, volume, amount, pct_change,
    turnover); each may be given once.
    """
    pairs = list(text.items()) if isinstance(text, dict) else []
    if not isinstance(text, dict):
        for part in str(text).split(","):
            if not part.strip():
                continue
            key, sep, column = part.partition("=")
            if not sep or not key.strip() or not column.strip():
                raise InputError(f"--columns: {part.strip()!r} is not FIELD=COLUMN; write e.g. "
                                 "date=trade_dt,close=px_last")
            pairs.append((key, column))
    out: dict[str, str] = {}
    for key, column in pairs:
        key, column = str(key).strip().lower(), str(column).strip()
        if key not in FIELDS:
            raise InputError(f"--columns: unknown field {key!r}{did_you_mean(key, FIELDS)}; "
                             f"fields: {', '.join(FIELDS)}")
        if key in out:
            raise InputError(f"--columns: field {key!r} is given twice; give each field once")
        out[key] = column
    if not out:
        raise InputError("--columns: no FIELD=COLUMN pairs; write e.g. date=trade_dt,close=px_last")
    return out


def _english_columns(cols: list[str], where: str) -> dict[str, str]:
    """canonical field -> column, by case-insensitive English header; two candidates for one field refuse."""
    lower = {c.strip().lower(): c for c in cols}
    out = {}
    for fld, names in ENGLISH.items():
        hits = [lower[n] for n in names if n in lower]
        if len(hits) > 1:
            raise InputError(f"{where}: columns {' and '.join(map(repr, hits))} could both be the {fld}; "
                             f"say which with --columns {fld}={hits[0]}")
        if hits:
            out[fld] = hits[0]
    return out


def detect(table: pd.DataFrame, where: str) -> Layout | None:
    """The :class:`Layout` of a Tushare, baostock or English-header table, or None for none of them."""
    cols = [str(c) for c in table.columns]
    if "ts_code" in cols and "trade_date" in cols:
        columns = {"code": "ts_code", "date": "trade_date", **{c: c for c in ("open", "high", "low", "close")},
                   "volume": "vol"}
        columns.update({k: v for k, v in (("amount", "amount"), ("pct_change", "pct_chg")) if v in cols})
        require_columns(cols, list(columns.values()), where, "a Tushare daily table (pro.daily / pro_bar)")
        return Layout("a Tushare daily table", columns, volume_unit="lots", amount_scale=1000.0)
    if "code" in cols and "date" in cols:
        first = table["code"].dropna().astype(str).str.strip()
        if len(first) and BAOSTOCK_CODE.match(first.iloc[0].lower()):
            return _baostock(table, cols, where)
    columns = _english_columns(cols, where)
    if "date" in columns and {"open", "close"} <= set(columns):
        return Layout(ENGLISH_NAME, columns)
    return None


def _baostock(table: pd.DataFrame, cols: list[str], where: str) -> Layout:
    columns = {c: c for c in ("code", "date", "open", "high", "low", "close", "volume") if c in cols}
    columns.update({k: v for k, v in (("amount", "amount"), ("pct_change", "pctChg"), ("turnover", "turn"))
                    if v in cols})
    require_columns(cols, ("code", "date", "open", "high", "low", "close", "volume"), where,
                    "a baostock query_history_k_data_plus table")
    adjust = None
    if "adjustflag" in cols:
        flags = sorted(set(table["adjustflag"].dropna().astype(str).str.strip()))
        bad = [f for f in flags if f not in BAOSTOCK_ADJUST]
        if bad or len(flags) > 1:
            raise InputError(f"{where}: column adjustflag holds {', '.join(flags)}; baostock writes one of "
                             "1 (hfq), 2 (qfq), 3 (raw) per query: export each adjustment to its own file")
        adjust = BAOSTOCK_ADJUST[flags[0]] if flags else None
    return Layout("a baostock table", columns, volume_unit="shares", adjust=adjust)


def mapped(table: pd.DataFrame, mapping: dict[str, str], where: str) -> Layout:
    """The layout a ``--columns`` map gives: its columns, then English headers for the fields it leaves out."""
    cols = [str(c) for c in table.columns]
    for fld, column in mapping.items():
        if column not in cols:
            raise InputError(f"{where}: --columns {fld}={column}: no column {column!r}"
                             f"{did_you_mean(column, cols)}; found: {', '.join(cols)}")
    taken = set(mapping.values())
    columns = {k: v for k, v in _english_columns([c for c in cols if c not in taken], where).items()
               if k not in mapping}
    columns.update(mapping)
    missing = [f for f in REQUIRED if f not in columns]
    if missing:
        raise InputError(f"{where}: --columns gives no column for {', '.join(missing)}, and the file has no such "
                         f"header; add e.g. {missing[0]}=COLUMN")
    return Layout("a table read with --columns", columns)


# --- conversion ---------------------------------------------------------------------------------

def _codes(table: pd.DataFrame, layout: Layout, name_code: tuple[str, str] | None, where: str):
    """``(kind, code per row)`` from the code column, else from the file name."""
    column = layout.columns.get("code")
    if column is None:
        if name_code is None:
            raise InputError(f"{where}: no code column, and the file name gives no code; name the file like "
                             "600519.csv (or sh000300.csv for an index), or add a code column")
        return name_code[0], pd.Series(name_code[1], index=table.index, dtype="string")
    raw = table[column].astype("string").str.strip()
    uniques = raw.dropna().unique()
    parsed = {u: parse_code(u) for u in uniques}
    bad = raw.isna() | raw.map(lambda u: parsed.get(u) is None).astype(bool)
    if bad.any():
        pos = int(np.argmax(bad.to_numpy()))
        raise InputError(f"{where}: row {pos + 1}: field '{column}': {raw.iloc[pos]!r} is not an A-share or index "
                         "code (e.g. 600519, 600519.SH, sh.600519, sh000300); fix the row")
    kinds = {parsed[u][0] for u in uniques}
    if len(kinds) > 1:
        raise InputError(f"{where}: column {column!r} mixes stocks and indexes; put each kind in its own file")
    codes = raw.map(lambda u: parsed[u][1]).astype("string")
    if name_code is not None and len(set(codes)) == 1 and name_code[1] != codes.iloc[0]:
        raise InputError(f"{where}: the file name says {name_code[1]} but column {column!r} says {codes.iloc[0]}; "
                         "rename the file or fix the column")
    return kinds.pop(), codes


def convert(table: pd.DataFrame, layout: Layout, where: str, *, name_code: tuple[str, str] | None,
            volume_unit: str | None = None) -> tuple[str, pd.DataFrame, Origin, Layout]:
    """``(kind, canonical frame, origin, layout with notes)`` of a table in ``layout``.

    ``name_code``: what the file name says (:func:`hypebt.data.fields.parse_code`), used without a
    code column. ``volume_unit`` (``lots``/``shares``): what the caller says; refused when the format
    or the table's own amounts say otherwise.
    """
    notes = list(layout.notes)
    kind, codes = _codes(table, layout, name_code, where)
    cols = layout.columns
    out = pd.DataFrame({"code": codes})
    out["date"] = parse_dates(table[cols["date"]], cols["date"], where)
    for fld in ("open", "high", "low", "close", "volume", "amount", "pct_change", "turnover"):
        out[fld] = to_float(table[cols[fld]], cols[fld], where) if fld in cols else np.nan
    if "adj_factor" in table.columns:  # a hypebt export of traded prices
        out["adj_factor"] = to_float(table["adj_factor"], "adj_factor", where)
    if kind == "stock" and "volume" not in cols:
        raise InputError(f"{where}: no volume column for {layout.name}; add it, or name it with --columns volume=COLUMN")
    out["amount"] = out["amount"] * layout.amount_scale
    lines = None
    if "tradestatus" in table.columns:  # baostock lists suspended days (no trade, price = previous close)
        halted = table["tradestatus"].astype("string").str.strip().eq("0").fillna(False).to_numpy()
        if halted.any():
            lines = np.flatnonzero(~halted) + 1
            table, out = (f[~halted].reset_index(drop=True) for f in (table, out))
            notes.append(f"left out {int(halted.sum())} suspended day(s) (tradestatus 0): "
                         "hypebt stores no bar for a day without trading")
    unit, note = _volume_unit(out, layout, kind, volume_unit, where)
    if note:
        notes.append(note)
    if unit is not None:
        out["volume"] = out["volume"] * VOLUME_UNITS[unit]
    if "turnover" in cols and (out["turnover"].abs() > 100).any():
        raise InputError(f"{where}: column {cols['turnover']!r} has values above 100, so it is not a turnover "
                         f"rate in percent; if it is the traded value, name it with --columns amount={cols['turnover']}")
    table, out, lines, reordered = _oldest_first(table, out, lines)
    if reordered:
        notes.append("rows are newest first; read oldest first (row numbers in messages are the file's)")
    columns = {f: c for f, c in cols.items()}
    if kind == "index":
        out = out[["code", "date", "open", "high", "low", "close", "volume"]]
    return kind, out, Origin(table, columns, lines), replace(layout, notes=tuple(notes))


def _oldest_first(table, out, lines):
    """Reverse a table whose every code's dates descend (Tushare's order); keep the file's row numbers."""
    if len(out) < 2:
        return table, out, lines, False
    d = out["date"].to_numpy("datetime64[ns]")
    c = out["code"].to_numpy(dtype=object)
    same = c[1:] == c[:-1]
    if not same.any() or not (d[1:][same] < d[:-1][same]).all():
        return table, out, lines, False
    order = np.lexsort((d, c))
    file_lines = (lines if lines is not None else np.arange(len(out)) + 1)[order]
    take = lambda f: f.take(order).reset_index(drop=True)  # noqa: E731
    return take(table), take(out), file_lines, True


def _ratio(out: pd.DataFrame) -> tuple[float, float] | None:
    """Median ``amount / (volume x close)`` over each code's first and last bars (None: no amounts)."""
    ok = (out["amount"] > 0) & (out["volume"] > 0) & (out["close"] > 0)
    if not ok.any():
        return None
    f = out[ok.to_numpy()]
    r = (f["amount"] / (f["volume"] * f["close"])).to_numpy()
    g = f.groupby("code", sort=False, observed=True)
    head = (g.cumcount() < _EDGE_ROWS).to_numpy()
    tail = (g.cumcount(ascending=False) < _EDGE_ROWS).to_numpy()
    return float(np.median(r[head])), float(np.median(r[tail]))


def _band(r: float) -> str | None:
    return next((name for name, centre in _RATIO_BANDS if centre / _BAND < r < centre * _BAND), None)


def _volume_unit(out, layout: Layout, kind: str, given: str | None, where: str) -> tuple[str | None, str | None]:
    """The volume unit to convert from (None: keep index volume as given), and a note for the report."""
    if given is not None and given not in VOLUME_UNITS:
        raise InputError(f"volume unit {given!r} is not one of lots, shares")
    if layout.volume_unit is not None:
        if given is not None and given != layout.volume_unit:
            raise InputError(f"{where}: {layout.name} gives volume in {layout.volume_unit}, not {given}; "
                             "drop --volume-unit, or read the file with --columns")
        return layout.volume_unit, None
    if kind == "index":
        return given, None
    ratios = _ratio(out)
    says = [b for b in (_band(r) for r in ratios) if b] if ratios else []
    evidence = sorted(set(says))
    shown = f"amount / (volume x close) is {ratios[0]:.3g} at the start, {ratios[1]:.3g} at the end" if ratios else ""
    if given is not None:
        if evidence and given not in evidence and all(e in VOLUME_UNITS for e in evidence):
            raise InputError(f"{where}: --volume-unit {given}, but {shown}, which means {evidence[0]}; "
                             "check the unit")
        return given, None
    if len(evidence) == 1 and evidence[0] in VOLUME_UNITS:
        return evidence[0], f"volume read as {evidence[0]}: {shown} (--volume-unit to override)"
    if evidence and all(e not in VOLUME_UNITS for e in evidence):
        raise InputError(f"{where}: {shown}, which means volume in {evidence[0]}; convert the amount to CNY, "
                         "or name the columns as Tushare does (ts_code, trade_date, vol, amount)")
    why = (f"{shown}, which does not tell lots from shares" if ratios
           else "the file has no amount column to tell lots (100 shares) from shares")
    raise InputError(f"{where}: the volume unit is unknown: {why}; give --volume-unit lots or --volume-unit shares")
