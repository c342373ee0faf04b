"""Typed fields of source tables: dates, numbers, codes, exchanges, price adjustments.

Every importer and source converts its cells through these, so a bad cell gets the same
one-line message (file, row, field, how to fix) whichever format it came in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hypebt.core import codes as _codes
from hypebt.core.errors import InputError, did_you_mean, unknown

# What the store calls prices as traded, and the other names users and akshare give them.
ADJUSTS = ("qfq", "hfq", "raw")
ADJUST_ALIASES = {"none": "raw", "": "raw"}


def adjust_name(value: str, what: str = "adjust") -> str:
    """The one name for a price adjustment: ``qfq``, ``hfq`` or ``raw`` (``none`` is an alias of raw).

    >>> adjust_name("none"), adjust_name("QFQ")
    ('raw', 'qfq')
    """
    text = str(value).strip().lower()
    text = ADJUST_ALIASES.get(text, text)
    if text not in ADJUSTS:
        raise unknown(what, str(value), (*ADJUSTS, "none"))
    return text


def exchange_of(code: str) -> str | None:
    """``"SH"``, ``"SZ"`` or ``"BJ"``: where a 6-digit A-share code trades; None if it is not one.

    >>> exchange_of("688039"), exchange_of("300624"), exchange_of("830799"), exchange_of("sh000300")
    ('SH', 'SZ', 'BJ', None)
    """
    if not _codes.is_stock_code(code):
        return None
    return "SH" if code[0] == "6" else "SZ" if code[0] in "03" else "BJ"


def require_columns(found, required, where: str, fmt: str, known=()) -> None:
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


def to_float(col: pd.Series, field: str, where: str) -> pd.Series:
    """A column as float64; a cell that is not a number (and not empty) raises, naming its row."""
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
    taken from the file name) has no cell in the file. ``lines``: the file's
    1-based row number of each table row when the table was reordered (Tushare
    writes the newest day first), else None (row ``i`` is the file's row ``i + 1``).
    """

    table: pd.DataFrame
    columns: dict[str, str]
    lines: np.ndarray | None = None

    def row_number(self, row: int) -> int:
        """The file's 1-based row number of 0-based table ``row``."""
        return int(self.lines[row]) if self.lines is not None else row + 1

    def cell(self, field: str, row: int):
        """``(column, value as written)`` of ``field`` in 0-based ``row``, or ``(None, None)``."""
        column = self.columns.get(field)
        if column is None:
            return None, None
        return column, self.table[column].iloc[row]




# A code as vendors write it: 600000, 600000.SH, SH600000, sh.600000, 600000.XSHG, sh000300, 000300.SH.
_CODE_FORMS = re.compile(
    r"^(?:(?P<pre>sh|sz|bj|ss)\.?(?P<d1>\d{6})|(?P<d2>\d{6})(?:\.(?P<suf>sh|sz|bj|ss|xshg|xshe|bse))?)$",
    re.IGNORECASE,
)
_EXCHANGE_NAMES = {"sh": "SH", "ss": "SH", "xshg": "SH", "sz": "SZ", "xshe": "SZ", "bj": "BJ", "bse": "BJ"}


def parse_code(text) -> tuple[str, str] | None:
    """``("stock", "600000")`` or ``("index", "sh000300")`` for a code as vendors write it, else None.

    A code with an exchange is a stock only where that stock trades (``000300.SH`` and
    ``sh000001`` are SSE indexes, ``sz000001`` is Ping An Bank, ``899050.BJ`` the BSE 50 index);
    bare digits are a stock (``1`` is ``000001``: a spreadsheet drops leading zeros);
    ``csi930713`` is a CSI index.

    >>> parse_code("600000.SH"), parse_code("sh.000300"), parse_code("sz000001"), parse_code("1")
    (('stock', '600000'), ('index', 'sh000300'), ('stock', '000001'), ('stock', '000001'))
    """
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return None
    raw = str(text).strip()
    if raw.isdigit() and len(raw) < 6:
        raw = raw.zfill(6)
    if re.fullmatch(r"csi\d{6}", raw, re.IGNORECASE):
        return "index", raw.lower()
    m = _CODE_FORMS.match(raw)
    if m is None:
        return None
    digits = m["d1"] or m["d2"]
    exchange = _EXCHANGE_NAMES.get((m["pre"] or m["suf"] or "").lower())
    if exchange is None:
        return ("stock", digits) if _codes.is_stock_code(digits) else None
    if exchange_of(digits) == exchange and not (exchange == "BJ" and digits.startswith("899")):
        return "stock", digits
    return "index", exchange.lower() + digits
