"""Validation of canonical bar frames, on every way into the store.

Rules: valid code; no NaN, zero or negative price; low <= open, close <= high;
volume >= 0; no date in the future; per code, dates sorted and unique.
Suspended days are simply missing rows, which is normal.

Strict (the default): the first bad row raises an :class:`InputError` naming
the file, row and field, and how many more rows are bad. Lenient: bad rows are
dropped, each kind counted in a warning.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import codes
from .errors import InputError
from .formats import PRICE_COLUMNS

# Prices in akshare tables have two decimals; a little slack absorbs float noise
# from adjusted series without letting real inconsistencies through.
_EPS = 1e-6


@dataclass
class Checked:
    """A validated frame and what was dropped (lenient mode)."""

    frame: pd.DataFrame
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def n_dropped(self) -> int:
        return sum(self.dropped.values())


def _row_problems(frame: pd.DataFrame, kind: str, today: pd.Timestamp, qfq: bool) -> list[tuple[str, str, np.ndarray]]:
    """(field, problem, bad-row mask) for every row-level rule, in reporting order."""
    o, h, l, c = (frame[col].to_numpy(dtype="float64") for col in PRICE_COLUMNS)
    vol = frame["volume"].to_numpy(dtype="float64")
    code_ok = codes.is_stock_code if kind == "stock" else codes.is_index_code
    uniq = pd.unique(frame["code"].astype(object))
    bad_codes = {x for x in uniq if not code_ok(x)}
    problems = [
        ("code", "is not a valid " + ("A-share code (6 digits, e.g. 600519)" if kind == "stock" else
                                      "index code (e.g. sh000300)"),
         frame["code"].isin(bad_codes).to_numpy() if bad_codes else np.zeros(len(frame), bool)),
    ]
    for name, arr in zip(PRICE_COLUMNS, (o, h, l, c)):
        problems.append((name, "is missing (NaN)", np.isnan(arr)))
        if not qfq:
            problems.append((name, "is zero or negative", arr <= 0))
    problems += [
        ("high", "is below low", h < l - _EPS),
        ("low", "is above open or close", (l > o + _EPS) | (l > c + _EPS)),
        ("high", "is below open or close", (h < o - _EPS) | (h < c - _EPS)),
        ("volume", "is negative", vol < 0),
        ("date", f"is in the future (after {today.date()})", (frame["date"] > today).to_numpy()),
    ]
    if kind == "stock":
        problems.append(("volume", "is missing (NaN)", np.isnan(vol)))
    return problems


def _order_problems(frame: pd.DataFrame) -> list[tuple[str, str, np.ndarray]]:
    same_code = (frame["code"] == frame["code"].shift()).to_numpy()
    diff = frame["date"].diff().to_numpy()
    zero = np.timedelta64(0, "ns")
    dup = same_code & (diff == zero)
    back = same_code & (diff < zero)
    return [
        ("date", "is a duplicate of the row before (same code and date)", dup),
        ("date", "is earlier than the row before: dates must be sorted ascending", back),
    ]


def validate_bars(
    frame: pd.DataFrame,
    where: str,
    kind: str = "stock",
    lenient: bool = False,
    today: dt.date | None = None,
    qfq: bool = False,
) -> Checked:
    """Validate a canonical frame; return it sorted by (code, date).

    ``where`` names the file in messages. Rows are reported 1-based as they
    came in. Raises :class:`InputError` on the first bad row unless ``lenient``.

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
    hypebt.errors.InputError: x.csv: row 1: field 'high': 0.5 is below low; fix the row, or import with --lenient to drop bad rows
    """
    if frame.empty:
        raise InputError(f"{where}: no rows to import: the table is empty")
    today_ts = pd.Timestamp(today or dt.date.today())
    frame = frame.reset_index(drop=True)
    dropped: dict[str, int] = {}
    if qfq:
        nonpos = (frame[list(PRICE_COLUMNS)] <= 0).any(axis=1).to_numpy()
        if nonpos.any():
            bad_codes = sorted(frame.loc[nonpos, "code"].unique())
            dropped["price <= 0 after forward adjustment (" + ", ".join(bad_codes) + ")"] = int(nonpos.sum())
            frame = frame.loc[~nonpos].reset_index(drop=True)
    for stage in (_row_problems, _order_problems):
        problems = stage(frame, kind, today_ts, qfq) if stage is _row_problems else stage(frame)
        any_bad = np.zeros(len(frame), bool)
        for fld, what, mask in problems:
            if not mask.any():
                continue
            if not lenient:
                pos = int(np.argmax(mask))
                n_more = int((any_bad | mask).sum()) - 1
                value = frame[fld].iloc[pos]
                shown = value.date() if isinstance(value, pd.Timestamp) else getattr(value, "item", lambda: value)()
                more = f" ({n_more} more bad rows)" if n_more > 0 else ""
                shown = str(shown) if fld == "date" else repr(shown)
                raise InputError(
                    f"{where}: row {pos + 1}: field '{fld}': {shown} {what}{more}; "
                    "fix the row, or import with --lenient to drop bad rows"
                )
            dropped[f"{fld} {what}"] = int((mask & ~any_bad).sum())
            any_bad |= mask
        if any_bad.any():
            frame = frame.loc[~any_bad].reset_index(drop=True)
        if stage is _row_problems and lenient:
            # Lenient: sort first, then only true duplicates remain to drop.
            frame = frame.sort_values(["code", "date"], kind="stable").reset_index(drop=True)
    if frame.empty:
        raise InputError(f"{where}: every row was bad; nothing to import")
    return Checked(frame, dropped)
