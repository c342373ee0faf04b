"""Eastmoney concept boards through akshare: find a board, fetch today's members.

A board lists today's members, so a backtest of earlier dates that trades them carries
look-ahead bias; :func:`hypebt.data.universes.snapshot_concept` writes them as a ``concept``
universe, which says so. :func:`record` adds the same snapshot to the store's dated history
(:mod:`hypebt.data.boards`), published at the time of the fetch: run it regularly and later
backtests can use each day's members as they were known.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from dataclasses import dataclass

import pandas as pd

from hypebt.core import codes as _codes
from hypebt.core import errors
from hypebt.core.dates import BEIJING
from hypebt.core.errors import SourceError
from hypebt.data import boards as B
from hypebt.data.akshare_client import Akshare, as_date

_BOARD_CODE = re.compile(r"^BK\d+$", re.IGNORECASE)


def resolve_board(board: str, boards: pd.DataFrame) -> tuple[str, str]:
    """``(name, code)`` of a concept board given by exact name, or code like ``BK1234``.

    A name that differs only in case is accepted when it is unambiguous;
    otherwise an unknown name gets "did you mean".
    """
    names = boards["板块名称"].astype("string").str.strip()
    codes = boards["板块代码"].astype("string").str.strip()
    query = str(board).strip()
    hits = boards.index[names == query]
    if not len(hits) and _BOARD_CODE.match(query):
        hits = boards.index[codes.str.upper() == query.upper()]
    if not len(hits):
        folded = names.str.casefold() == query.casefold()
        if folded.sum() == 1:
            hits = boards.index[folded]
    if not len(hits):
        raise errors.unknown("concept board", query, [n for n in names.dropna().unique()])
    pos = hits[0]
    return str(names[pos]), str(codes[pos])


@dataclass(frozen=True)
class ConceptSnapshot:
    """Today's members of one Eastmoney concept board, as :func:`concept_snapshot` fetched them.

    ``members``: ``[(code, name), ...]`` in the board's order, A-share codes only, each once;
    ``snapshot_date``: the day of the fetch; ``source``: a line for the universe file;
    ``fetched_at``: the minute the fetch ended (naive Beijing time), when the members were known.
    """

    name: str
    code: str
    members: list[tuple[str, str]]
    snapshot_date: str
    source: str
    fetched_at: pd.Timestamp | None = None


def _beijing_minute(now) -> pd.Timestamp:
    ts = pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz=BEIJING)
    if ts.tzinfo is None:
        ts = ts.tz_localize(BEIJING)
    # The next whole minute: the members are known once the fetch has ended, never before.
    return ts.tz_convert(BEIJING).tz_localize(None).ceil("min")


def concept_snapshot(board: str, *, source: Akshare, today=None, now=None) -> ConceptSnapshot:
    """Fetch today's members of a concept board, found by exact name (``Sora概念``) or code (``BK2090``).

    The board lists today's members: a backtest of earlier dates that trades them carries
    look-ahead bias (:func:`hypebt.data.universes.snapshot_concept` writes them as a ``concept``
    universe, which says so).

    >>> concept_snapshot("Sora概念", source=Akshare()).members[:1]     # doctest: +SKIP
    [('688039', '当虹科技')]
    """
    today = as_date(today, "today") or dt.date.today()
    name, code = resolve_board(board, source.concept_boards())
    table = source.concept_members(code or name)
    members: list[tuple[str, str]] = []
    seen: set[str] = set()
    dropped = []
    for raw_code, raw_name in zip(table["代码"], table["名称"]):
        member = str(raw_code).strip().zfill(6) if pd.notna(raw_code) else ""
        if not _codes.is_stock_code(member):
            dropped.append(str(raw_code))
            continue
        if member not in seen:
            seen.add(member)
            members.append((member, "" if pd.isna(raw_name) else str(raw_name)))
    if dropped:
        warnings.warn(f"concept board {name}: skipped {len(dropped)} non-A-share code(s): "
                      f"{', '.join(dropped[:5])}", stacklevel=2)
    if not members:
        raise SourceError(f"akshare stock_board_concept_cons_em {name}: no A-share members; try later")
    label = f"{name} ({code})" if code else name
    return ConceptSnapshot(name, code, members, today.isoformat(),
                           f"akshare stock_board_concept_cons_em {label} on {today.isoformat()}",
                           _beijing_minute(now))


def record(store, snap: ConceptSnapshot) -> B.Saved:
    """Add a fetched snapshot to the store's board history, published at its fetch time.

    >>> record(store, concept_snapshot("Sora概念", source=Akshare()))     # doctest: +SKIP
    """
    rows = pd.DataFrame({"published": snap.fetched_at, "clock": True, "board": snap.name,
                         "code": [c for c, _ in snap.members], "name": [n for _, n in snap.members]})
    label = f"{snap.name} ({snap.code})" if snap.code else snap.name
    return B.save(store, rows, source=f"akshare stock_board_concept_cons_em {label}")
