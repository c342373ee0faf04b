"""Concept-board membership files, read into one shape: who was in which board, and since when.

Formats, recognised from the file itself (the first line, or the CSV header):

- **TDX / hikyuu block files** (``gnbk.ini``): a line ``[board name]`` opens a board, each
  following line ``M,CODE`` is a member (``M``: 0 Shanghai, 1 Shenzhen and Beijing). UTF-8 or
  GBK (older 通达信 exports), detected. Needs ``published``: the file does not say when it was true.
- **CSV** ``board,code[,name]`` (UTF-8): one membership a row. Needs ``published``.
- **Tushare exports** (CSV): ``concept_detail`` (``id, concept_name, ts_code, name, in_date,
  out_date``), ``ths_member`` (``ts_code`` = the board's index, ``con_code, con_name, weight,
  in_date, out_date, is_new``), ``dc_member`` (``trade_date, ts_code`` = the board, ``con_code,
  name``) and ``tdx_member`` (the same with ``con_name``). Their own dates are used: a
  ``trade_date`` is a snapshot of that day; ``in_date``/``out_date`` are periods, turned into a
  snapshot of the board at each date a member joined or left. Rows without a date (ths_member's
  ``in_date`` is mostly empty) need ``published``; ``is_new = N`` rows without an ``out_date``
  (former members, left on an unknown day) are left out and counted.

Every table comes out as :data:`COLUMNS` (``published`` naive Beijing time, ``clock`` False for a
date alone, which counts from the end of that day). Codes that are not A-share stocks (B shares,
funds, an index under a board) are skipped and counted; a line or row that cannot be read refuses
the whole file, naming it.

>>> read_board_file("gnbk-2024-01-02.ini", published="2024-01-02T15:55")   # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hypebt.core import codes as _codes
from hypebt.core.dates import BEIJING, parse_time
from hypebt.core.errors import InputError

COLUMNS = ("published", "clock", "board", "code", "name")
FORMATS = ("tdx", "csv", "concept_detail", "ths_member", "dc_member", "tdx_member")
_TDX_LINE = re.compile(r"^(\d)\s*,\s*(\d{6})\s*$")
_TUSHARE_CODE = re.compile(r"^(\d{6})\.(SH|SZ|BJ)$", re.IGNORECASE)
_DAY = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")
# Each format by the header columns it must have (lower case); the first that fits is the file's.
_HEADERS = (
    ("dc_member", {"trade_date", "ts_code", "con_code", "name"}),
    ("tdx_member", {"trade_date", "ts_code", "con_code", "con_name"}),
    ("ths_member", {"ts_code", "con_code"}),
    ("concept_detail", {"concept_name", "ts_code"}),
    ("csv", {"board", "code"}),
)
_KNOWN_COLUMNS = {
    "csv": {"board", "code", "name"},
    "concept_detail": {"id", "concept_name", "ts_code", "name", "in_date", "out_date"},
    "ths_member": {"ts_code", "con_code", "con_name", "weight", "in_date", "out_date", "is_new"},
    "dc_member": {"trade_date", "ts_code", "con_code", "name"},
    "tdx_member": {"trade_date", "ts_code", "con_code", "con_name"},
}


@dataclass
class BoardFile:
    """One file read: its memberships (:data:`COLUMNS`), format, encoding and what was left out."""

    path: Path
    format: str
    encoding: str
    rows: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    boards_named: dict[str, str] = field(default_factory=dict)  # board code -> name, for Tushare codes

    @property
    def boards(self) -> int:
        """How many boards the file gave members to."""
        return int(self.rows["board"].nunique())


def _text(path: Path) -> tuple[str, str]:
    """The file's text and its encoding: UTF-8 (a BOM is fine), else GBK (GB18030, its superset)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    try:
        return data.decode("gb18030"), "gbk"
    except UnicodeDecodeError:
        line = data[:first_bad].count(b"\n") + 1
        raise InputError(f"{path}: line {line}: neither UTF-8 nor GBK (byte 0x{data[first_bad]:02x}); "
                         "save the file as UTF-8") from None


def _published(text: str | None, where: str) -> tuple[pd.Timestamp, bool] | None:
    """``(naive Beijing time, has clock)`` of a ``--published`` value, or None."""
    if text is None or str(text).strip() == "":
        return None
    ts, clock = parse_time(str(text).strip(), where, "published")
    return ts.tz_convert(BEIJING).tz_localize(None), clock


def _need_published(published, path: Path, fmt: str):
    if published is None:
        raise InputError(f"{path}: a {fmt} file does not say when it was true: give --published TIME (when the "
                         "snapshot was published, Beijing time, e.g. 2024-01-02T15:55, or a date alone)")
    return published


def _frame(published, clock, boards, codes, names) -> pd.DataFrame:
    n = len(codes)
    return pd.DataFrame({
        "published": pd.to_datetime(pd.Series(published if isinstance(published, list) else [published] * n),
                                    ).astype("datetime64[ns]"),
        "clock": np.asarray(clock if isinstance(clock, list) else [clock] * n, dtype=bool),
        "board": pd.Series(boards, dtype="string"), "code": pd.Series(codes, dtype="string"),
        "name": pd.Series(names, dtype="string"),
    }, columns=list(COLUMNS))


def _skipped_note(skipped: list[str], what: str = "") -> list[str]:
    if not skipped:
        return []
    shown = ", ".join(dict.fromkeys(skipped[:6]))
    return [f"skipped {len(skipped)} membership(s) of codes that are not A-share stocks{what} "
            f"(B shares, funds, indexes): {shown}{' ...' if len(skipped) > 6 else ''}"]


# --- TDX block files ----------------------------------------------------------------------------

def _exchange_ok(flag: str, code: str) -> bool:
    """The TDX market flag agrees with the code's exchange (0: Shanghai; 1: Shenzhen and Beijing)."""
    return (code[0] == "6") == (flag == "0")


def read_tdx(path: Path, text: str, published) -> tuple[pd.DataFrame, list[str]]:
    """A TDX/hikyuu block file: ``[board]`` lines, then ``market,code`` lines (see module doc)."""
    when, clock = _need_published(published, path, "TDX block")
    boards, codes, skipped, repeated = [], [], [], []
    members: dict[str, set] = {}  # board -> its codes so far
    first_line: dict[str, int] = {}
    board = None
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith((";", "#")):
            continue
        if line.startswith("["):
            if not line.endswith("]") or not line[1:-1].strip():
                raise InputError(f"{path}: line {line_no}: {line!r} is not a board line; write it as [board name]")
            board = line[1:-1].strip()
            if board in first_line:
                repeated.append(f"{board} (lines {first_line[board]} and {line_no})")
            first_line.setdefault(board, line_no)
            members.setdefault(board, set())
            continue
        m = _TDX_LINE.match(line)
        if m is None:
            raise InputError(f"{path}: line {line_no}: {line!r} is not a member line; a TDX block file has "
                             "[board] lines followed by market,code lines such as 0,600519")
        if board is None:
            raise InputError(f"{path}: line {line_no}: member {line!r} comes before any [board] line")
        flag, code = m.groups()
        if flag not in "01" or not _codes.is_stock_code(code) or not _exchange_ok(flag, code):
            skipped.append(f"{flag},{code}")
            continue
        if code in members[board]:
            continue
        members[board].add(code)
        boards.append(board)
        codes.append(code)
    if board is None:
        raise InputError(f"{path}: no [board] line; a TDX block file starts with a line like [AIGC概念]")
    notes = _skipped_note(skipped)
    empty = [b for b, m in members.items() if not m]
    if empty:
        notes.append(f"{len(empty)} board(s) without A-share members, not recorded: {', '.join(empty[:5])}")
    if repeated:
        notes.append(f"board(s) listed twice, members merged: {'; '.join(repeated[:3])}")
    return _frame(when, clock, boards, codes, [""] * len(codes)), notes


# --- CSV and Tushare exports --------------------------------------------------------------------

def _table(path: Path, text: str) -> pd.DataFrame:
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: empty file; a board file has a header line and rows") from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]}); quote values with commas") \
            from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    return table.apply(lambda col: col.str.strip())


def detect_format(path: Path, text: str) -> str:
    """The file's format (one of :data:`FORMATS`), from its first line or its CSV header."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if not first:
        raise InputError(f"{path}: empty file; a board file has [board] lines or a CSV header")
    if first.startswith("[") or _TDX_LINE.match(first):  # a board line, or a member line before any
        return "tdx"
    header = {c.strip().lower() for c in next(csv.reader([first]))}
    for fmt, needed in _HEADERS:
        if needed <= header:
            return fmt
    raise InputError(f"{path}: header {first!r} is no board format hypebt reads: a CSV needs board,code[,name]; "
                     "Tushare exports: concept_detail (concept_name, ts_code, ...), ths_member (ts_code, con_code, "
                     "...), dc_member (trade_date, ts_code, con_code, name); or a TDX block file ([board] lines)")


def _code(text: str, tushare: bool) -> str | None:
    """A 6-digit A-share code from ``600519``, ``600519.SH`` (suffix checked), or a spreadsheet's ``519``."""
    m = _TUSHARE_CODE.match(text)
    if m:
        code, exchange = m.group(1), m.group(2).upper()
        ok = _codes.is_stock_code(code) and (exchange == "SH") == (code[0] == "6") \
            and (exchange == "BJ") == (code[0] in "489")
        return code if ok else None
    if tushare or not text.isdigit() or len(text) > 6:
        return None
    code = text.zfill(6)  # a spreadsheet drops leading zeros
    return code if _codes.is_stock_code(code) else None


def _day(text: str, where: str, col: str) -> pd.Timestamp | None:
    """A Tushare date (``20240102`` or ``2024-01-02``); None when empty."""
    if not text:
        return None
    m = _DAY.match(text)
    if m:
        try:
            return pd.Timestamp(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            pass
    raise InputError(f"{where}: field {col!r}: {text!r} is not a date; Tushare writes YYYYMMDD, e.g. 20240102")


def _check_columns(path: Path, table: pd.DataFrame, fmt: str) -> None:
    extra = [c for c in table.columns if c not in _KNOWN_COLUMNS[fmt]]
    if extra:
        raise InputError(f"{path}: column(s) {', '.join(extra)} are not part of a {fmt} table "
                         f"({', '.join(sorted(_KNOWN_COLUMNS[fmt]))}); remove them or check the export")


def _members(path: Path, table: pd.DataFrame, board_col: str, code_col: str, name_col: str | None,
             tushare: bool) -> tuple[list, list, list, np.ndarray, list]:
    """Boards, codes and names of the rows, a mask of the rows kept, and the skipped codes."""
    boards, codes, names, keep, skipped = [], [], [], np.zeros(len(table), dtype=bool), []
    for i, (board, raw) in enumerate(zip(table[board_col], table[code_col])):
        if not board:
            raise InputError(f"{path}: row {i + 1}: field {board_col!r} is empty; every row names its board")
        if not raw:
            raise InputError(f"{path}: row {i + 1}: field {code_col!r} is empty; every row names a stock")
        code = _code(raw, tushare)
        if code is None:
            if not tushare and not (raw.isdigit() or _TUSHARE_CODE.match(raw)):
                raise InputError(f"{path}: row {i + 1}: field {code_col!r}: {raw!r} is not a stock code; use "
                                 "6 digits such as 600519 (or Tushare's 600519.SH)")
            skipped.append(raw)
            continue
        keep[i] = True
        boards.append(board)
        codes.append(code)
        names.append(table[name_col].iat[i] if name_col else "")
    return boards, codes, names, keep, skipped


def read_csv_boards(path: Path, text: str, published) -> tuple[pd.DataFrame, list[str]]:
    """A CSV ``board,code[,name]``: one snapshot of every board it names, at ``published``."""
    when, clock = _need_published(published, path, "board CSV")
    table = _table(path, text)
    _check_columns(path, table, "csv")
    boards, codes, names, _, skipped = _members(path, table, "board", "code", "name" if "name" in table else None,
                                                tushare=False)
    return _frame(when, clock, boards, codes, names), _skipped_note(skipped)


def read_dated_members(path: Path, text: str, fmt: str) -> tuple[pd.DataFrame, list[str]]:
    """Tushare ``dc_member`` / ``tdx_member``: a snapshot of each board on each ``trade_date``."""
    table = _table(path, text)
    _check_columns(path, table, fmt)
    name_col = "name" if fmt == "dc_member" else "con_name"
    boards, codes, names, keep, skipped = _members(path, table, "ts_code", "con_code", name_col, tushare=True)
    days = [_day(t, f"{path}: row {i + 1}", "trade_date") for i, t in enumerate(table["trade_date"])]
    missing = [i for i, d in enumerate(days) if d is None]
    if missing:
        raise InputError(f"{path}: row {missing[0] + 1}: field 'trade_date' is empty; every {fmt} row is dated")
    kept_days = [d for d, k in zip(days, keep) if k]
    return _frame(kept_days, False, boards, codes, names), _skipped_note(skipped)


def read_periods(path: Path, text: str, fmt: str, published) -> tuple[pd.DataFrame, list[str]]:
    """Tushare ``concept_detail`` / ``ths_member``: membership periods -> a snapshot of each board at
    each date a member joined or left (rows without ``in_date`` count from ``published``)."""
    table = _table(path, text)
    _check_columns(path, table, fmt)
    board_col, code_col, name_col = (("concept_name", "ts_code", "name") if fmt == "concept_detail"
                                     else ("ts_code", "con_code", "con_name"))
    boards, codes, names, keep, skipped = _members(path, table, board_col, code_col,
                                                   name_col if name_col in table else None, tushare=True)
    rows = np.flatnonzero(keep)
    ins = [_day(table["in_date"].iat[i], f"{path}: row {i + 1}", "in_date") if "in_date" in table else None
           for i in rows]
    outs = [_day(table["out_date"].iat[i], f"{path}: row {i + 1}", "out_date") if "out_date" in table else None
            for i in rows]
    new = [table["is_new"].iat[i].upper() if "is_new" in table else "" for i in rows]
    notes = _skipped_note(skipped)
    former = [k for k, (o, n) in enumerate(zip(outs, new)) if n == "N" and o is None]
    if former:
        notes.append(f"left out {len(former)} row(s) marked is_new = N without an out_date (former members; the day "
                     "they left is unknown)")
    undated = [k for k, d in enumerate(ins) if d is None and k not in set(former)]
    when = None
    if undated:
        when = _need_published(published, path, f"{fmt} file with rows lacking in_date (row {rows[undated[0]] + 1})")
    periods = []
    for k in range(len(rows)):
        if k in set(former):
            continue
        start, start_clock = (ins[k], False) if ins[k] is not None else when
        end = outs[k]
        if end is not None and end <= start.normalize():
            raise InputError(f"{path}: row {rows[k] + 1}: out_date {end.date()} is not after in_date "
                             f"{start.date()}; fix the row")
        periods.append((boards[k], codes[k], names[k], start, start_clock, end))
    return _expand(periods), notes


def _known(ts: pd.Timestamp, clock: bool) -> pd.Timestamp:
    """When a time is known: itself, or the end of its day for a date alone."""
    return ts if clock else ts.normalize() + pd.Timedelta(days=1)


def _expand(periods: list[tuple]) -> pd.DataFrame:
    """Membership periods -> one snapshot of each board at every date one of its periods starts or
    ends: the members whose period covers it (a date-only day counts from its end)."""
    out = []
    frame = pd.DataFrame(periods, columns=["board", "code", "name", "start", "clock", "end"])
    for board, g in frame.groupby("board", sort=False):
        starts = [(s, c) for s, c in zip(g["start"], g["clock"])]
        points = {(s, c) for s, c in starts} | {(e, False) for e in g["end"].dropna()}
        begin = np.array([_known(s, c) for s, c in starts], dtype="datetime64[ns]")
        finish = np.array([_known(e, False) if pd.notna(e) else pd.Timestamp.max for e in g["end"]],
                          dtype="datetime64[ns]")
        for when, clock in sorted(points):
            at = np.datetime64(_known(when, clock), "ns")
            inside = (begin <= at) & (finish > at)
            if inside.any():
                out.append(_frame(when, clock, [board] * int(inside.sum()), g["code"][inside].tolist(),
                                  g["name"][inside].tolist()))
    if not out:
        return _frame([], [], [], [], [])
    return pd.concat(out, ignore_index=True)


def board_names(path: str | Path) -> dict[str, str]:
    """Board code -> name from a Tushare ``ths_index`` / ``dc_index`` export (``ts_code, name``), to
    name the boards of ``ths_member``/``dc_member`` files (which give codes only)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file (a ths_index or dc_index export with ts_code,name)")
    text, _ = _text(path)
    table = _table(path, text)
    if not {"ts_code", "name"} <= set(table.columns):
        raise InputError(f"{path}: a board-name table needs the columns ts_code,name (Tushare ths_index or "
                         f"dc_index); found: {', '.join(table.columns)}")
    if "trade_date" in table:  # dc_index has one row per day: the latest name of each board
        table = table.sort_values("trade_date", kind="stable")
    return {c: n for c, n in zip(table["ts_code"], table["name"]) if c and n}


def read_board_file(path: str | Path, *, published=None, fmt: str | None = None,
                    names: dict[str, str] | None = None) -> BoardFile:
    """Read one membership file (format detected unless ``fmt``); see the module doc.

    ``published``: when the file's snapshot was published (an ISO time, Beijing unless it says; a
    date alone counts from the end of that day), needed by the formats without dates of their own.
    ``names``: board code -> name (:func:`board_names`), for Tushare files that give codes only.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file" + (" (it is a folder)" if path.is_dir() else ""))
    text, encoding = _text(path)
    detected = detect_format(path, text)
    if fmt is not None and fmt != detected:
        raise InputError(f"{path}: --format {fmt} given, but the file reads as {detected}")
    when = _published(published, f"{path}: --published")
    if detected == "tdx":
        rows, notes = read_tdx(path, text, when)
    elif detected == "csv":
        rows, notes = read_csv_boards(path, text, when)
    elif detected in ("dc_member", "tdx_member"):
        rows, notes = read_dated_members(path, text, detected)
    else:
        rows, notes = read_periods(path, text, detected, when)
    if when is not None and detected in ("dc_member", "tdx_member"):
        notes.append(f"--published ignored: a {detected} file dates each row (trade_date)")
    named = {}
    if names:
        named = {c: names[c] for c in rows["board"].unique() if c in names}
        rows["board"] = rows["board"].map(lambda b: names.get(b, b)).astype("string")
    if rows.empty:
        raise InputError(f"{path}: no A-share membership in the file; nothing to import")
    return BoardFile(path, detected, encoding, rows.reset_index(drop=True), notes, named)
