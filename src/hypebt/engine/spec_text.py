"""Spec text mistakes the TOML parser reports badly, found by line before parsing.

TOML dates must be written ``2024-01-02``; ``start = 2024-1-2`` makes tomllib say only
"Invalid value (at line 5, column 9)". :func:`precheck` names the line, the key and the padded
form instead.

>>> precheck("name = 'x'\\nstart = 2024-1-2\\n", "x.toml")
Traceback (most recent call last):
...
hypebt.core.errors.InputError: x.toml: line 2: start = 2024-1-2 is not a date; write 2024-01-02
"""

from __future__ import annotations

import datetime as dt
import re

from hypebt.core.dates import date_hint
from hypebt.core.errors import InputError

_LOOSE = re.compile(r"^\s*([A-Za-z0-9_.\-\"']+)\s*=\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2})\s*(#.*)?$")


def precheck(text: str, where: str) -> None:
    """Raise an :class:`InputError` naming the first line whose value is a date written loosely."""
    for n, line in enumerate(text.splitlines(), start=1):
        m = _LOOSE.match(line)
        if not m:
            continue
        key, value = m.group(1), m.group(2)
        try:
            dt.date.fromisoformat(value)
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                continue  # a good TOML date
        except ValueError:
            pass
        hint = date_hint(value)
        fix = hint.removeprefix("; write ").strip("'") if hint else "YYYY-MM-DD"
        raise InputError(f"{where}: line {n}: {key} = {value} is not a date; write {fix}")
