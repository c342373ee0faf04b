"""Dates and times as hypebt reads them: one parser for each kind, one exchange time zone.

- :func:`parse_date`: a calendar date given by a user (spec, option, rules table), strict
  ``YYYY-MM-DD``; a near miss such as ``2024-1-2`` gets a hint with the padded form.
- :func:`exchange_day`: any date or time -> the naive midnight timestamp of its Beijing date
  (sessions are Beijing dates).
- :func:`parse_time`: an ISO 8601 event time, with or without a clock and an offset.

>>> parse_date("2024-02-19", "spec.toml: start =")
datetime.date(2024, 2, 19)
>>> exchange_day("2024-02-15T18:00Z")
Timestamp('2024-02-16 00:00:00')
"""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from hypebt.core.errors import InputError

# The A-share exchanges' time zone: sessions are Beijing dates, event times without an offset are
# Beijing times.
BEIJING = "Asia/Shanghai"

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LOOSE_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?$")
TIME_EXAMPLE = "2024-02-16T02:00+08:00"


def date_hint(text: str) -> str:
    """How to write ``text`` as ``YYYY-MM-DD`` when it is a near miss, else ``""``.

    >>> date_hint("2024-1-2")
    "; write '2024-01-02'"
    """
    m = _LOOSE_DATE.match(str(text).strip())
    if not m:
        return ""
    padded = f"{m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"
    try:
        dt.date.fromisoformat(padded)
    except ValueError:
        return ""  # not a date however it is written (month 13, 30 February)
    return f"; write {padded!r}" if padded != str(text).strip() else ""


def parse_date(value: object, what: str, example: str = "2024-02-19") -> dt.date:
    """A calendar date from a ``date``/``datetime``/``Timestamp`` or a ``YYYY-MM-DD`` string.

    ``what`` starts the error message and names the field (e.g. ``"spec.toml: start ="``).
    Anything else is an :class:`InputError` saying how to write it.

    >>> parse_date("2024-1-2", "spec.toml: start =")
    Traceback (most recent call last):
    ...
    hypebt.core.errors.InputError: spec.toml: start = '2024-1-2' is not a date; write '2024-01-02'
    """
    if isinstance(value, dt.datetime):  # also pandas.Timestamp
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    hint = date_hint(value) if isinstance(value, str) else ""
    raise InputError(f"{what} {value!r} is not a date{hint or f'; write it like {example}'}")


def exchange_day(value: object, where: str = "") -> pd.Timestamp:
    """The naive midnight timestamp of ``value``'s Beijing date (str, date, datetime, Timestamp).

    A tz-aware time is first converted to Beijing time: 2024-02-15T18:00Z is already
    2024-02-16 in Shanghai.
    """
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        ts = pd.NaT
    if ts is pd.NaT:
        prefix = f"{where}: " if where else ""
        raise InputError(f"{prefix}not a date: {value!r}; use YYYY-MM-DD")
    if ts.tzinfo is not None:
        ts = ts.tz_convert(BEIJING).tz_localize(None)
    return ts.normalize()


def parse_time(text: str, where: str, field: str) -> tuple[pd.Timestamp, bool]:
    """Parse an event time into ``(Beijing tz-aware Timestamp, has_clock)``.

    No offset means Beijing time; a date alone means the hour is not known (``has_clock`` False).

    >>> parse_time("2024-02-15T18:00:00Z", "x.csv: row 1", "time")
    (Timestamp('2024-02-16 02:00:00+0800', tz='Asia/Shanghai'), True)
    >>> parse_time("2023-06-09", "x.csv: row 1", "time")
    (Timestamp('2023-06-09 00:00:00+0800', tz='Asia/Shanghai'), False)
    """
    has_clock = not _ISO_DATE.match(text)
    ts = None
    if not has_clock or _DATE_TIME.match(text):
        try:
            ts = pd.Timestamp(text)
        except (ValueError, OverflowError):
            ts = None
    if ts is None or ts is pd.NaT:
        raise InputError(
            f"{where}: field {field!r}: {text!r} is not a valid time; expected ISO 8601 like "
            f"{TIME_EXAMPLE} (no offset = Beijing time) or a date alone like 2024-02-16"
        )
    ts = ts.tz_localize(BEIJING) if ts.tzinfo is None else ts.tz_convert(BEIJING)
    return ts, has_clock
