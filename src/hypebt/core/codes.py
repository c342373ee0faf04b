"""A-share and index code formats.

>>> is_stock_code("688039"), is_stock_code("12345"), is_index_code("sh000300")
(True, False, True)
"""

from __future__ import annotations

import re

# Shanghai main 600-605, STAR 688/689, Shenzhen main 000-003, ChiNext 300-302,
# Beijing 4xxxxx/8xxxxx (legacy NEEQ numbering) and 920xxx (since 2024).
STOCK_CODE = re.compile(r"^(60[0-5]\d{3}|68[89]\d{3}|00[0-3]\d{3}|30[0-2]\d{3}|[48]\d{5}|92\d{4})$")
INDEX_CODE = re.compile(r"^(sh|sz|bj|csi)\d{6}$")


def is_stock_code(code: object) -> bool:
    """True for a 6-digit A-share code on a known board."""
    return isinstance(code, str) and bool(STOCK_CODE.match(code))


def is_index_code(code: object) -> bool:
    """True for an exchange-prefixed index code such as ``sh000300``."""
    return isinstance(code, str) and bool(INDEX_CODE.match(code))


def bad_code_hint(code: str) -> str:
    """Why ``code`` is not an A-share code, and how to fix it."""
    if code.isdigit() and len(code) < 6:
        return f"leading zeros lost? write {code.zfill(6)!r} (a spreadsheet drops them; keep the column as text)"
    if code.isdigit() and len(code) == 6:
        return "no A-share board uses that prefix"
    return "use a 6-digit A-share code such as 002230; Hong Kong and US listings cannot be traded here"


def index_code_hint(code: str) -> str:
    """A suggestion for an index code written without its exchange prefix, else ``""``.

    >>> index_code_hint("000300"), index_code_hint("399006"), index_code_hint("sora")
    (" (did you mean 'sh000300'?)", " (did you mean 'sz399006'?)", '')
    """
    text = str(code).strip().lower()
    if is_index_code(text):
        return ""
    digits = text[-6:] if text[-6:].isdigit() else ""
    if len(text) < 6 or not digits:
        return ""
    # Shanghai publishes 000xxx (CSI 300 = 000300), Shenzhen 399xxx, Beijing 899xxx.
    prefix = {"0": "sh", "3": "sz", "8": "bj"}.get(digits[0])
    return f" (did you mean '{prefix}{digits}'?)" if prefix else ""
