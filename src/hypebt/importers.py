"""``hypebt data import``: files -> validated canonical bars -> the store.

Every file is read and validated before anything is written, so a refused
file changes nothing; accepted files of one kind are written in one atomic
store write.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import formats
from .errors import InputError
from .store import Store, dataset_for
from .validate import validate_bars


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
    frames: dict[str, list[pd.DataFrame]] = {}
    for path in paths:
        try:
            kind, frame = formats.read_file(path)
            checked = validate_bars(frame, str(path), kind=kind, lenient=lenient,
                                    qfq=(kind == "stock" and adjust == "qfq"))
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
        frames.setdefault(dataset, []).append(checked.frame)
    if not frames:
        raise InputError("nothing to import: " + ("; ".join(report.refused) if report.refused else "no files given"))
    for dataset, parts in frames.items():
        bars = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        if bars.duplicated(["code", "date"]).any():
            dup = bars.loc[bars.duplicated(["code", "date"]), ["code", "date"]].iloc[0]
            raise InputError(
                f"the same bar ({dup['code']} {dup['date'].date()}) comes from two of the files given; "
                "import each code from one file"
            )
        source = "import:" + ",".join(Path(p).name for p in paths[:5]) + (" ..." if len(paths) > 5 else "")
        manifest = store.write(dataset, bars, source=source, adjust="none" if dataset == "index" else adjust)
        manifest.update(
            imported_rows=len(bars),
            imported_codes=int(bars["code"].nunique()),
            imported_first=str(bars["date"].min().date()),
            imported_last=str(bars["date"].max().date()),
        )
        report.written[dataset] = manifest
    return report
