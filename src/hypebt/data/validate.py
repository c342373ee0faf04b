"""Validation of canonical bar frames, on every way into the store.

Rules: valid code; no NaN, infinite, zero or negative price; low <= open,
close <= high; volume finite and >= 0; a date, and not in the future; per
code, dates sorted, and each (code, date) once in the whole frame. Suspended
days are simply missing rows, which is normal.

Strict (the default): the first bad row of the file raises an
:class:`InputError` naming the file, row and field, and how many more rows are
bad. Lenient: bad rows are dropped, each kind counted in a warning. Either way
the result is sorted by (code, date).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hypebt.core import codes
from hypebt.core.errors import InputError
from hypebt.data.formats import PRICE_COLUMNS, Origin

# Prices in akshare tables have two decimals; a little slack absorbs float noise
# from adjusted series without letting real inconsistencies through.
_EPS = 1e-6
# May be NaN (akshare leaves some empty) but never infinite.
_OPTIONAL_NUMBERS = ("amount", "pct_change", "turnover", "adj_factor")


@dataclass
class Checked:
    """A validated frame and what was dropped (lenient mode)."""

    frame: pd.DataFrame
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def n_dropped(self) -> int:
        return sum(self.dropped.values())


@dataclass(frozen=True)
class _Rule:
    """One way a row can be bad: the field it is reported on, the problem, and which rows break it."""

    field: str
    what: str
    mask: np.ndarray  # plain numpy bool, one per row of the frame as it came in
    about: Callable[[int], str] | None = None  # the problem of one row, when it can say more than `what`


def _row_rules(frame: pd.DataFrame, kind: str, today: pd.Timestamp, qfq: bool,
               ids: np.ndarray, uniques) -> list[_Rule]:
    """Every rule a row breaks on its own, in reporting order (``ids``, ``uniques``: the factorized codes)."""
    o, h, l, c = (frame[col].to_numpy(dtype="float64") for col in PRICE_COLUMNS)
    vol = frame["volume"].to_numpy(dtype="float64")
    code_ok = codes.is_stock_code if kind == "stock" else codes.is_index_code
    ok = np.array([bool(code_ok(u)) for u in uniques] + [False])  # id -1, a missing code, picks False
    rules = [_Rule("code", "is not a valid " + ("A-share code (6 digits, e.g. 600519)" if kind == "stock" else
                                                "index code (e.g. sh000300)"), ~ok[ids])]
    for name, arr in zip(PRICE_COLUMNS, (o, h, l, c)):
        rules.append(_Rule(name, "is missing (NaN)", np.isnan(arr)))
        rules.append(_Rule(name, "is infinite", np.isinf(arr)))
        if not qfq:
            rules.append(_Rule(name, "is zero or negative", arr <= 0))
    rules += [
        _Rule("high", "is below low", h < l - _EPS),
        _Rule("low", "is above open or close", (l > o + _EPS) | (l > c + _EPS)),
        _Rule("high", "is below open or close", (h < o - _EPS) | (h < c - _EPS)),
        _Rule("volume", "is negative", vol < 0),
        _Rule("volume", "is infinite", np.isinf(vol)),
    ]
    for name in _OPTIONAL_NUMBERS:
        if name in frame.columns:
            rules.append(_Rule(name, "is infinite", np.isinf(frame[name].to_numpy(dtype="float64"))))
    dates = frame["date"].to_numpy("datetime64[ns]")
    rules += [
        _Rule("date", "is missing", np.isnat(dates)),
        _Rule("date", f"is in the future (after {today.date()})", dates > today.to_datetime64()),
    ]
    if kind == "stock":
        rules.append(_Rule("volume", "is missing (NaN)", np.isnan(vol)))
    return rules


def _sort_order(c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Stable order by (code ``c``, date ``d``): by code alone when each code's dates already ascend
    (the usual file, and a cheaper sort)."""
    order = np.argsort(c, kind="stable")
    cs, ds = c[order], d[order]
    if ((cs[1:] == cs[:-1]) & (ds[1:] < ds[:-1])).any():
        order = np.lexsort((d, c))
    return order


def _order_rules(ids: np.ndarray, dates: np.ndarray, rows: np.ndarray, check_sorted: bool,
                 row_no: Callable[[int], int] = lambda pos: pos + 1) -> list[_Rule]:
    """Duplicated (code, date) anywhere among ``rows`` and, if ``check_sorted``, a date earlier than the
    one before it of the same code. ``ids`` are code ids, ``dates`` int64 nanoseconds, one per frame row;
    ``rows`` the ascending positions of the rows to compare; ``row_no`` the file's row number of a position."""
    n = len(ids)
    c, d = ids[rows], dates[rows]

    # Sorting by (code, date) stably puts every copy of a bar right after its first appearance.
    by_key = _sort_order(c, d)
    cs, ds = c[by_key], d[by_key]
    again = np.zeros(len(rows), bool)
    again[1:] = (cs[1:] == cs[:-1]) & (ds[1:] == ds[:-1])
    dup = np.zeros(n, bool)
    dup[rows[by_key[again]]] = True

    def dup_about(pos: int) -> str:
        first = int(rows[(c == ids[pos]) & (d == dates[pos])][0])
        of = "the row before" if row_no(first) == row_no(pos) - 1 else f"row {row_no(first)}"
        return f"is a duplicate of {of} (same code and date)"

    # The lenient mode sorts, so afterwards a duplicate is always "the row before".
    rules = [_Rule("date", "is a duplicate of the row before (same code and date)", dup, dup_about)]
    if check_sorted:
        by_code = np.argsort(c, kind="stable")  # file order within each code
        cs, ds = c[by_code], d[by_code]
        back_sorted = np.zeros(len(rows), bool)
        back_sorted[1:] = (cs[1:] == cs[:-1]) & (ds[1:] < ds[:-1])
        back = np.zeros(n, bool)
        back[rows[by_code[back_sorted]]] = True

        def back_about(pos: int) -> str:
            before = int(rows[(c == ids[pos]) & (rows < pos)][-1])
            of = "the row before" if row_no(before) == row_no(pos) - 1 else f"row {row_no(before)} (same code)"
            return f"is earlier than {of}: dates must be sorted ascending"

        rules.append(_Rule("date", "is earlier than the row before: dates must be sorted ascending", back,
                           back_about))
    return rules


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _text(fld: str, value) -> str:
    """How a message shows a value of ``fld``: dates as dates, numbers and codes as Python literals."""
    value = _plain(value)
    if fld == "date":
        if isinstance(value, (pd.Timestamp, dt.datetime)) and not pd.isna(value) \
                and value == pd.Timestamp(value).normalize():
            value = value.date()
        return str(value)
    return repr(value)


def _as_in_file(frame: pd.DataFrame, origin: Origin | None, fld: str, pos: int) -> str:
    """`` (in the file: 成交量 = -1)``: the file's own column and value for ``fld`` in row ``pos`` when
    the value differs from what the message shows (lots, not shares), `` (column 最低)`` when only the
    name does, else ``""``."""
    column, raw = origin.cell(fld, pos) if origin is not None else (None, None)
    if column is None:
        return ""
    raw, value = _plain(raw), _plain(frame[fld].iloc[pos])
    if pd.isna(raw):
        return f" (in the file: {column} is empty)" if column != fld else ""
    if fld == "date":
        same = _text(fld, raw) == _text(fld, value)
    elif fld == "code":
        same = str(raw) == str(value)  # a code the file gives as the number 600519 reads the same
    else:
        try:
            same = float(raw) == value
        except (TypeError, ValueError):
            same = False
    if same:
        return f" (column {column})" if column != fld else ""
    written = raw if isinstance(raw, str) else _text(fld, raw)
    return f" (in the file: {column} = {written})"


def _raise_first_bad(frame: pd.DataFrame, rules: list[_Rule], keep: np.ndarray, where: str,
                     origin: Origin | None) -> None:
    """Raise an InputError for the first bad row of the file, if any, counting all the other bad rows."""
    bad = np.zeros(len(frame), bool)
    for rule in rules:
        bad |= rule.mask
    bad &= keep
    if not bad.any():
        return
    pos = int(np.argmax(bad))
    rule = next(r for r in rules if r.mask[pos])
    what = rule.about(pos) if rule.about else rule.what
    shown = _text(rule.field, frame[rule.field].iloc[pos])
    in_file = _as_in_file(frame, origin, rule.field, pos)
    n_more = int(bad.sum()) - 1
    more = f" ({n_more} more bad rows)" if n_more > 0 else ""
    raise InputError(
        f"{where}: row {origin.row_number(pos) if origin is not None else pos + 1}: field '{rule.field}': "
        f"{shown} {what}{in_file}{more}; "
        "fix the row, or import with --lenient to drop bad rows"
    )


def validate_bars(
    frame: pd.DataFrame,
    where: str,
    kind: str = "stock",
    lenient: bool = False,
    today: dt.date | None = None,
    qfq: bool = False,
    origin: Origin | None = None,
) -> Checked:
    """Validate a canonical frame; return it sorted by (code, date).

    ``where`` names the file in messages. Rows are reported 1-based as they
    came in. Raises :class:`InputError` on the first bad row unless ``lenient``.
    ``origin`` (from :func:`hypebt.data.formats.read_source`): the table the frame
    was converted from, so a message also gives the file's column and value as
    written (``field 'volume': -100.0 is negative (in the file: 成交量 = -1)``).

    ``qfq``: the prices are forward-adjusted. Forward adjustment subtracts
    later dividends from early prices, which can push a low-priced stock's
    early bars to zero or below (872541 in January 2021 in the real data).
    Such bars are not tradable prices and give no returns, so they are dropped
    with a warning in ``Checked.dropped`` even in strict mode.

    >>> f = pd.DataFrame({"code": ["600519"], "date": pd.to_datetime(["2024-01-02"]), "open": [1.0],
    ...                   "high": [0.5], "low": [1.0], "close": [1.0], "volume": [0.0]})
    >>> validate_bars(f, "x.csv")
    Traceback (most recent call last):
    ...
    hypebt.core.errors.InputError: x.csv: row 1: field 'high': 0.5 is below low; fix the row, or import with --lenient to drop bad rows
    """
    if frame.empty:
        raise InputError(f"{where}: no rows to import: the table is empty")
    if origin is not None and len(origin.table) != len(frame):
        raise ValueError(f"origin has {len(origin.table)} rows, the frame {len(frame)}: pass the unfiltered frame")
    today_ts = pd.Timestamp(today or dt.date.today())
    # Rows keep their positions to the end (masks, never a re-index), so every message gives the
    # file's row number, whatever was dropped before.
    frame = frame.reset_index(drop=True)
    keep = np.ones(len(frame), bool)
    dropped: dict[str, int] = {}
    if qfq:
        prices = frame[list(PRICE_COLUMNS)].to_numpy(dtype="float64")
        nonpos = ((prices <= 0) & np.isfinite(prices)).any(axis=1)  # -inf is a broken value, not an adjustment
        if nonpos.any():
            bad_codes = sorted(pd.unique(frame.loc[nonpos, "code"].astype(object)))
            dropped["price <= 0 after forward adjustment (" + ", ".join(bad_codes) + ")"] = int(nonpos.sum())
            keep &= ~nonpos
    ids, uniques = pd.factorize(frame["code"], sort=True)  # sorted: ids order like the codes
    rules = _row_rules(frame, kind, today_ts, qfq, ids, uniques)
    row_bad = np.zeros(len(frame), bool)
    for rule in rules:
        row_bad |= rule.mask
    dates = frame["date"].to_numpy("datetime64[ns]").view("int64")
    # Order is judged among the rows that are otherwise good: a bad row is no reference for the next one.
    rules += _order_rules(ids, dates, np.flatnonzero(keep & ~row_bad), check_sorted=not lenient,
                          row_no=origin.row_number if origin is not None else (lambda pos: pos + 1))
    if lenient:
        counted = ~keep
        for rule in rules:
            new = rule.mask & ~counted
            if new.any():  # each row counted once, under the first rule it breaks
                key = f"{rule.field} {rule.what}"
                dropped[key] = dropped.get(key, 0) + int(new.sum())
                counted |= new
        keep = ~counted
    else:
        _raise_first_bad(frame, rules, keep, where, origin)
    rows = np.flatnonzero(keep)
    if not len(rows):
        raise InputError(f"{where}: every row was bad; nothing to import")
    # Strict input is sorted within each code already, so this only orders the codes (a market file
    # may list them in any order); lenient input is sorted here instead of refused.
    order = rows[_sort_order(ids[rows], dates[rows])]
    if len(order) != len(frame) or (np.diff(order) < 0).any():
        frame = frame.take(order).reset_index(drop=True)
    return Checked(frame, dropped)
