"""``hypebt data import``: files -> validated canonical bars -> the store.

Every file is read and validated, and the files checked against each other,
before anything is written, so a refused import changes nothing; accepted
files of one kind are written in one atomic store write.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from hypebt.data import formats
from hypebt.core.errors import InputError
from hypebt.data.store import Store, dataset_for
from hypebt.data.validate import validate_bars


@dataclass
class ImportReport:
    """What an import did: per dataset the codes, rows and date range; what was refused."""

    written: dict[str, dict] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        for dataset, m in self.written.items():
            out.append(
                f"imported {m['imported_rows']:,} rows of {m['imported_codes']:,} codes into {dataset} "
                f"({m['imported_first']}..{m['imported_last']}); dataset now {m['rows']:,} rows"
            )
        out += [f"warning: {w}" for w in self.warnings]
        out += [f"refused: {r}" for r in self.refused]
        return out


def import_paths(
    store: Store,
    paths: list[str | Path],
    *,
    adjust: str = "qfq",
    lenient: bool = False,
    keep_going: bool = False,
) -> ImportReport:
    """Import akshare CSVs, index CSVs and market parquets into ``store``.

    ``adjust`` says what the stock prices are (akshare's tables carry no such
    field; the shared dataset is qfq). With ``keep_going`` a bad file is
    refused and reported while the others are imported; otherwise the first
    bad file raises and nothing is written.
    """
    report = ImportReport()
    accepted: dict[str, list[tuple[Path, pd.DataFrame]]] = {}
    for path in paths:
        try:
            kind, checked = _read_checked(path, adjust=adjust, lenient=lenient)
        except InputError as exc:
            if not keep_going:
                raise
            report.refused.append(str(exc))
            continue
        for what, n in checked.dropped.items():
            msg = f"{path}: dropped {n} row(s): {what}"
            report.warnings.append(msg)
            warnings.warn(msg, stacklevel=2)
        dataset = dataset_for(kind, adjust if kind == "stock" else None)
        accepted.setdefault(dataset, []).append((Path(path), checked.frame))
    if not accepted:
        raise InputError("nothing to import: " + ("; ".join(report.refused) if report.refused else "no files given"))
    # Every dataset is checked before any is written: a refusal leaves the store as it was.
    merged = {dataset: _one_bar_per_file(parts) for dataset, parts in accepted.items()}
    source = "import:" + ",".join(Path(p).name for p in paths[:5]) + (" ..." if len(paths) > 5 else "")
    for dataset, bars in merged.items():
        manifest = store.write(dataset, bars, source=source, adjust="none" if dataset == "index" else adjust)
        manifest.update(
            imported_rows=len(bars),
            imported_codes=int(bars["code"].nunique()),
            imported_first=str(bars["date"].min().date()),
            imported_last=str(bars["date"].max().date()),
        )
        report.written[dataset] = manifest
    return report


def _read_checked(path, *, adjust: str, lenient: bool):
    """``(kind, Checked)`` for one file; the table as read (for messages) is freed on return."""
    parsed = formats.read_source(path)
    checked = validate_bars(parsed.frame, str(path), kind=parsed.kind, lenient=lenient,
                            qfq=(parsed.kind == "stock" and adjust == "qfq"), origin=parsed.origin)
    return parsed.kind, checked


def _one_bar_per_file(parts: list[tuple[Path, pd.DataFrame]]) -> pd.DataFrame:
    """The validated frames of several files as one; refuse a (code, date) given by two of them.

    Each frame is already free of duplicates (validation), so a duplicate here is across files.
    """
    if len(parts) == 1:
        return parts[0][1]
    bars = pd.concat([frame for _, frame in parts], ignore_index=True)
    again = bars.duplicated(["code", "date"]).to_numpy()
    if again.any():
        pos = int(again.argmax())
        code, date = bars["code"].iloc[pos], bars["date"].iloc[pos]
        same = (bars["code"] == code) & (bars["date"] == date)
        first = int(same.to_numpy(dtype=bool, na_value=False).argmax())
        ends = pd.Series([len(frame) for _, frame in parts]).cumsum().to_numpy()
        one, two = (parts[int(ends.searchsorted(i, side="right"))][0] for i in (first, pos))
        raise InputError(
            f"the same bar ({code} {date.date()}) comes from two of the files given, {one} and {two}; "
            "import each code from one file"
        )
    return bars
