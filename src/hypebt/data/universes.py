"""Universes: named lists of A-share codes a strategy may trade.

A universe is a CSV file in ``data/universes/`` (its name is the file stem)::

    code,name,snapshot_date,source,kind
    002230,科大讯飞,2024-02,"press coverage, assembled after the fact",concept

``kind`` is ``concept`` for a concept-stock list drawn up after the fact
(e.g. "Sora concept stocks" as the press listed them once the rally had
happened), ``list`` otherwise. Trading a concept list in a backtest of the
days it was drawn up from is look-ahead: the list already knows which stocks
moved. :attr:`Universe.look_ahead` carries that, and reports must print
:data:`LOOK_AHEAD_WARNING` for such a universe.

Codes are read as text: ``002230`` keeps its leading zeros.

>>> u = load_universe("sora", Path("."))                  # doctest: +SKIP
>>> u.codes[:2], u.names["688039"], u.look_ahead         # doctest: +SKIP
(('688039', '300624'), '当虹科技', True)
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from hypebt.core.i18n import N_
from hypebt.core import codes as _codes
from hypebt.core import errors
from hypebt.core import fsio
from hypebt.core.errors import InputError
from hypebt.core.codes import bad_code_hint
from hypebt.data.concepts import concept_snapshot
from hypebt.data.csvfiles import check_columns, find_named, named_files, read_rows
from hypebt.core.paths import safe_name

COLUMNS = ("code", "name", "snapshot_date", "source", "kind")
REQUIRED = ("code", "kind")
KINDS = ("concept", "list")
LOOK_AHEAD_WARNING = N_(
    "This universe is a concept-stock list drawn up after the fact: a backtest that trades it "
    "carries look-ahead bias, because the list was chosen knowing which stocks the hype lifted, "
    "so its returns overstate what a trader could have earned at the time."
)

_SNAPSHOT = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_KIND_HELP = "use 'concept' for a list drawn up after the fact (look-ahead) or 'list' otherwise"


@dataclass(frozen=True)
class Universe:
    """A named, ordered list of A-share codes, with where it came from.

    ``names`` maps code to stock name (read-only). ``look_ahead`` is True for a
    concept list drawn up after the fact (``kind == "concept"``).
    """

    name: str
    codes: tuple[str, ...]
    # A read-only mapping is not hashable: leave it out of eq/hash (codes identify the members).
    names: Mapping[str, str] = field(compare=False)
    snapshot_date: str
    source: str
    look_ahead: bool
    path: Path

    @property
    def kind(self) -> str:
        """``concept`` or ``list``, as in the file."""
        return "concept" if self.look_ahead else "list"

    @property
    def warning(self) -> str:
        """:data:`LOOK_AHEAD_WARNING` for a concept list, else ``""``."""
        return LOOK_AHEAD_WARNING if self.look_ahead else ""

    def __len__(self) -> int:
        return len(self.codes)


def universe_paths(workspace: Path) -> dict[str, Path]:
    """The workspace's universes, ``data/universes/*.csv``, by name (file stem), sorted."""
    return named_files(workspace, "universes")


def read_universe(path: str | Path) -> Universe:
    """Read and validate one universe CSV.

    Errors (:class:`~hypebt.core.errors.InputError`, naming file, row and field): a
    missing ``code`` or ``kind`` column, an invalid or repeated code, a kind
    other than concept/list, rows that disagree on snapshot_date, source or
    kind (later rows may leave them empty), an empty file, a file not UTF-8.
    """
    path = Path(path)
    header, rows = read_rows(path, "universe")
    check_columns(path, header, COLUMNS, REQUIRED, why={"kind": _KIND_HELP})
    meta = {"snapshot_date": "", "source": "", "kind": ""}
    members: dict[str, str] = {}
    first_row: dict[str, int] = {}
    for row_no, rec in rows:
        where = f"{path}: row {row_no}"
        code = rec["code"]
        if not _codes.is_stock_code(code):
            raise InputError(f"{where}: field 'code': {code!r} is not an A-share code; {bad_code_hint(code)}")
        if code in first_row:
            raise InputError(f"{where}: field 'code': {code!r} is already listed in row {first_row[code]}; remove one")
        first_row[code] = row_no
        members[code] = rec.get("name", "")
        for key in meta:
            value = rec.get(key, "")
            if row_no == 1:
                meta[key] = value
            elif value and value != meta[key]:
                raise InputError(
                    f"{where}: field {key!r}: {value!r} differs from row 1 ({meta[key]!r}); "
                    f"a universe has one {key}: make the rows agree, or leave it empty after row 1"
                )
    if meta["kind"] not in KINDS:
        if not meta["kind"]:
            raise InputError(f"{path}: row 1: field 'kind' is empty; {_KIND_HELP}")
        raise errors.unknown("kind", meta["kind"], KINDS, where=f"{path}: row 1: field 'kind'")
    if meta["snapshot_date"] and not _SNAPSHOT.match(meta["snapshot_date"]):
        raise InputError(
            f"{path}: row 1: field 'snapshot_date': {meta['snapshot_date']!r} is not a date; "
            "use YYYY-MM-DD, YYYY-MM or YYYY"
        )
    return Universe(
        name=path.stem,
        codes=tuple(members),
        names=MappingProxyType(members),
        snapshot_date=meta["snapshot_date"],
        source=meta["source"],
        look_ahead=meta["kind"] == "concept",
        path=path,
    )


def load_universe(name_or_path: str, workspace: Path) -> Universe:
    """Load a universe by name (``sora``) or by path (``my/list.csv``).

    A path is taken as given (relative to the current folder); a name is looked
    up in ``<workspace>/data/universes/``, with a "did you mean" for a near miss.

    >>> load_universe("sorra", Path("."))                     # doctest: +SKIP
    InputError: data/universes: unknown universe 'sorra' (did you mean 'sora'?); known: chatgpt, margin_eligible, sora
    """
    return read_universe(find_named(name_or_path, workspace, "universes", "universe"))


def write_universe(
    path: str | Path,
    members: Iterable[tuple[str, str]],
    snapshot_date: str,
    source: str,
    kind: str,
) -> None:
    """Write a universe CSV atomically, after the checks :func:`read_universe` makes.

    ``members`` is ``[(code, name), ...]`` in the order to keep. Used by
    ``hypebt data concepts NAME`` (a concept board fetched today is a
    ``concept`` list: it was drawn up after the fact).

    >>> write_universe("data/universes/sora.csv", [("688039", "当虹科技")], "2024-02",
    ...                "press coverage, assembled after the fact", "concept")    # doctest: +SKIP
    """
    path = Path(path)
    safe_name(path.stem, "universe name")
    if kind not in KINDS:
        raise errors.unknown("universe kind", kind, KINDS, where=str(path))
    if not _SNAPSHOT.match(snapshot_date or ""):
        raise InputError(f"{path}: snapshot_date {snapshot_date!r} is not a date; use YYYY-MM-DD, YYYY-MM or YYYY")
    members = [(str(code).strip(), " ".join(str(name).split())) for code, name in members]
    if not members:
        raise InputError(f"{path}: no members to write; a universe needs at least one code")
    seen: set[str] = set()
    for i, (code, _) in enumerate(members, start=1):
        if not _codes.is_stock_code(code):
            raise InputError(f"{path}: member {i}: code {code!r} is not an A-share code; {bad_code_hint(code)}")
        if code in seen:
            raise InputError(f"{path}: member {i}: code {code!r} is listed twice; remove one")
        seen.add(code)
    source = " ".join(source.split())
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(COLUMNS)
    for code, name in members:
        out.writerow((code, name, snapshot_date, source, kind))
    fsio.write_text(path, buf.getvalue())


def snapshot_concept(board: str, out_path: str | Path, *, source, today=None) -> Path:
    """Save today's members of an Eastmoney concept board as a ``concept`` universe CSV; return its path.

    ``source`` is a :class:`hypebt.data.akshare_client.Akshare`. The board is found by exact name
    (``Sora概念``) or code (``BK2090``); the snapshot date is ``today``: the board lists today's
    members, so a backtest of earlier dates that trades it carries look-ahead bias.

    >>> snapshot_concept("Sora概念", "data/universes/sora_em.csv", source=Akshare())   # doctest: +SKIP
    PosixPath('data/universes/sora_em.csv')
    """
    snap = concept_snapshot(board, source=source, today=today)
    out_path = Path(out_path)
    write_universe(out_path, snap.members, snapshot_date=snap.snapshot_date, source=snap.source, kind="concept")
    return out_path
