"""``hypebt data import``: files -> validated canonical bars -> the store.

Every file is read and validated, and the files checked against each other,
before anything is written, so a refused import changes nothing; accepted
files of one kind are written in one atomic store write.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hypebt.data import formats
from hypebt.core.errors import HypebtError, InputError
from hypebt.data.calendar_check import xshg_sessions
from hypebt.data.fields import adjust_name
from hypebt.data.store import Store, dataset_for
from hypebt.data.validate import validate_bars


@dataclass
class ImportReport:
    """What an import did: per dataset the codes, rows and date range; what was refused; notes."""

    written: dict[str, dict] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        for dataset, m in self.written.items():
            out.append(
                f"imported {m['imported_rows']:,} rows of {m['imported_codes']:,} codes into {dataset} "
                f"({m['imported_first']}..{m['imported_last']}); dataset now {m['rows']:,} rows"
            )
        out += [f"note: {n}" for n in self.notes]
        out += [f"warning: {w}" for w in self.warnings]
        out += [f"refused: {r}" for r in self.refused]
        return out


IMPORTABLE = (".csv", ".parquet")
# Said when a format does not record its adjustment and none was given.
_ADJUST_HINTS = {
    "a Tushare daily table": " (Tushare's pro.daily is unadjusted: --adjust raw; pro_bar(adj='qfq') is qfq)",
    "a baostock table": " (baostock's adjustflag column says it: export it with the table)",
}


def expand_paths(paths: list[str | Path]) -> tuple[list[Path], list[str]]:
    """The files to import: each file given, and every .csv and .parquet directly inside each folder.

    Returns ``(files, notes)``; the notes name what a folder held besides (subfolders and other
    files are not imported). A folder without importable files is refused.

    >>> expand_paths(["../shared/data/index"])[0]     # doctest: +SKIP
    [PosixPath('../shared/data/index/sh000001.csv'), PosixPath('../shared/data/index/sh000300.csv')]
    """
    files: list[Path] = []
    notes: list[str] = []
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            files.append(path)
            continue
        entries = sorted(p for p in path.iterdir() if not p.name.startswith("."))
        found = [p for p in entries if p.is_file() and p.suffix.lower() in IMPORTABLE]
        if not found:
            raise InputError(f"{path}: no .csv or .parquet files in this folder; give the folder that holds "
                             "the tables (subfolders are not searched)")
        files += found
        other = [p.name + ("/" if p.is_dir() else "") for p in entries if p not in found]
        if other:
            notes.append(f"{path}: imported its {len(found)} .csv/.parquet file(s); left out "
                         f"{', '.join(other[:5])}{' ...' if len(other) > 5 else ''}")
    return files, notes


def import_paths(
    store: Store,
    paths: list[str | Path],
    *,
    adjust: str | None = None,
    volume_unit: str | None = None,
    columns: str | dict[str, str] | None = None,
    lenient: bool = False,
    keep_going: bool = False,
    mode: str | None = None,
    plausible=None,
) -> ImportReport:
    """Import bar files and folders of them into ``store`` (formats: :func:`formats.read_source`).

    ``adjust`` (``qfq``/``hfq``/``raw``, ``none`` = raw) says what the stock prices are where the
    format does not (a file that says, baostock, must agree); without it akshare tables are taken
    as qfq (hypebt's documented default: the shared dataset's basis) and other formats are refused.
    ``volume_unit`` (``lots``/``shares``) likewise, for formats that do not say and whose amounts
    do not tell; ``columns`` maps fields to columns for any other table
    (``"date=trade_dt,close=px_last"``). With ``keep_going`` a bad file is refused and reported
    while the others are imported; otherwise the first bad file raises and nothing is written.

    Bars that cannot exist are refused like any bad row: a date that is no trading session (a
    weekend; a day the store's calendar, else exchange_calendars' XSHG, does not list) and, when
    ``plausible`` is given (:data:`hypebt.market.plausible.CHECK`: its ``implausible`` and ``describe``,
    passed in by ``hypebt data import`` and by a first run's import of a local dataset alike, as the
    rule lives in the market layer), a price no daily limit allows.

    ``mode`` decides what happens to codes already stored: ``"merge"`` adds and updates the file's
    bars in their history, ``"replace"`` replaces each code's whole history with the file; without
    it an import that would drop stored bars is refused, saying which and how to choose.
    """
    adjust = adjust_name(adjust) if adjust is not None else None
    if mode not in (None, "merge", "replace"):
        raise InputError(f"import mode {mode!r}: use merge or replace")
    report = ImportReport()
    files, report.notes = expand_paths(paths)
    calendar = known_sessions(store)
    accepted: dict[str, list[tuple[Path, pd.DataFrame]]] = {}
    for path in files:
        try:
            parsed = formats.read_source(path, volume_unit=volume_unit, columns=columns)
            file_adjust = _adjust_for(parsed, adjust, str(path))
            checked = validate_bars(parsed.frame, str(path), kind=parsed.kind, lenient=lenient,
                                    qfq=(file_adjust == "qfq"), origin=parsed.origin)
            _drop_impossible(checked, str(path), calendar, plausible if parsed.kind == "stock" else None,
                             file_adjust, lenient)
        except InputError as exc:
            if not keep_going:
                raise
            report.refused.append(str(exc))
            continue
        report.notes += [f"{path}: {n}" for n in parsed.notes]
        if file_adjust == "raw" and "adj_factor" not in checked.frame.columns:
            report.notes.append(f"{path}: raw prices without adj_factor: signals see unadjusted prices "
                                "across ex-dividend days")
        for what, n in checked.dropped.items():
            msg = f"{path}: dropped {n} row(s): {what}"
            report.warnings.append(msg)
            warnings.warn(msg, stacklevel=2)
        dataset = dataset_for(parsed.kind, file_adjust)
        accepted.setdefault(dataset, []).append((path, checked.frame))
    if not accepted:
        raise InputError("nothing to import: " + ("; ".join(report.refused) if report.refused else "no files given"))
    # Every dataset is checked before any is written: a refusal leaves the store as it was.
    merged = {dataset: _one_bar_per_file(parts) for dataset, parts in accepted.items()}
    names = [Path(p).name for p in paths]
    source = "import:" + ",".join(names[:5]) + (" ..." if len(names) > 5 else "")
    replace = {dataset: _history_choice(store, dataset, bars, mode, report) for dataset, bars in merged.items()}
    for dataset, bars in merged.items():
        manifest = store.write(dataset, bars, source=source, replace_codes=replace[dataset],
                               adjust="none" if dataset == "index" else dataset.removeprefix("stock_"))
        manifest.update(
            imported_rows=len(bars),
            imported_codes=int(bars["code"].nunique()),
            imported_first=str(bars["date"].min().date()),
            imported_last=str(bars["date"].max().date()),
        )
        report.written[dataset] = manifest
        if manifest.get("repaired"):
            report.warnings.append(manifest["repaired"])
    return report


def known_sessions(store: Store) -> tuple[pd.DatetimeIndex, str] | None:
    """The trading sessions bars are checked against, and where they come from: the store's
    exchange calendar, else exchange_calendars' XSHG (when installed); None when neither is known."""
    try:
        stored = store.load_calendar()
    except Exception:  # a damaged calendar is data check's business, not a reason to refuse bars
        stored = None
    if stored is not None and len(stored):
        return pd.DatetimeIndex(stored), "the store's exchange calendar"
    xshg = xshg_sessions()
    return (xshg, "exchange_calendars' XSHG") if xshg is not None else None


def _drop_impossible(checked, where: str, calendar, plausible, adjust: str | None, lenient: bool) -> None:
    """Refuse (or, ``lenient``, drop with a warning) bars that cannot exist: on a day that is no
    session, or (``plausible``) at a price no daily limit allows."""
    frame = checked.frame
    days = pd.DatetimeIndex(frame["date"])
    rules = [("date", "is not a trading session (a Saturday or Sunday)", days.day_of_week.to_numpy() >= 5)]
    if calendar is not None:
        sessions, source = calendar
        inside = (days >= sessions[0]) & (days <= sessions[-1])
        rules.append(("date", f"is not a trading session (per {source})", inside & ~days.isin(sessions)))
    if plausible is not None:
        implausible, describe = plausible
        frame.attrs["adjust"] = adjust
        rules.append(("price", "", implausible(frame)))
    bad_any = np.zeros(len(frame), bool)
    for field_, what, mask in rules:
        mask = np.asarray(mask, bool) & ~bad_any
        if not mask.any():
            continue
        if lenient:
            checked.dropped[f"{field_} {what or 'beyond any daily limit'}"] = int(mask.sum())
            bad_any |= mask
            continue
        pos = int(mask.argmax())
        more = f" ({int(mask.sum()) - 1} more such row(s))" if mask.sum() > 1 else ""
        if field_ == "price":
            problem = describe(frame, pos)
        else:
            problem = f"{frame['code'].iloc[pos]} {days[pos].date()}: field 'date': {days[pos].date()} {what}"
        raise InputError(f"{where}: {problem}{more}; fix the row, or import with --lenient to drop such rows")
    if bad_any.any():
        checked.frame = frame[~bad_any].reset_index(drop=True)


def _history_choice(store: Store, dataset: str, bars: pd.DataFrame, mode: str | None, report) -> bool:
    """Whether the import replaces its codes' stored histories (True) or merges into them (False);
    an import that would silently drop stored bars is refused until ``mode`` says which."""
    if dataset not in store.datasets():
        return True
    try:
        stored = store.load(dataset, codes=list(pd.unique(bars["code"])), columns=["code", "date"])
    except HypebtError:  # a damaged dataset: the write repairs it and says so
        return mode != "merge"
    if stored.empty:
        return True
    incoming = pd.MultiIndex.from_frame(bars[["code", "date"]].astype({"code": str}))
    lost = ~pd.MultiIndex.from_frame(stored[["code", "date"]].astype({"code": str})).isin(incoming)
    codes = sorted(pd.unique(stored.loc[lost, "code"].astype(str)))
    if mode == "merge":
        report.notes.append(f"{dataset}: merged into the stored history of {stored['code'].nunique()} code(s)")
        return False
    if not codes:
        return True
    if mode == "replace":
        report.notes.append(f"{dataset}: replaced the whole history of {len(codes)} code(s) "
                            f"({', '.join(codes[:5])}{' ...' if len(codes) > 5 else ''}): {int(lost.sum()):,} "
                            "stored bar(s) not in the file(s) were dropped")
        return True
    first = stored[stored["code"].astype(str) == codes[0]]["date"]
    given = bars[bars["code"].astype(str) == codes[0]]["date"]
    raise InputError(
        f"{codes[0]}: the store holds {len(first)} bar(s) ({first.min().date()}..{first.max().date()}), the file(s) "
        f"{len(given)} ({given.min().date()}..{given.max().date()}); importing would drop {int(lost.sum()):,} stored "
        f"bar(s) of {len(codes)} code(s): give --merge to add these bars to the stored history, or --replace to "
        "replace each code's history with the file(s)")


def _adjust_for(parsed: formats.Parsed, given: str | None, where: str) -> str | None:
    """What the stock prices of one file are: what the file says, else what was given, else the
    format's default; refused when none of these says (None for an index)."""
    if parsed.kind == "index":
        return None
    if parsed.adjust is not None:
        if given is not None and given != parsed.adjust:
            raise InputError(f"{where}: the file says its prices are {parsed.adjust}, not {given}; "
                             "drop --adjust, or export the adjustment you want")
        return parsed.adjust
    if given is not None:
        return given
    if parsed.default_adjust is not None:
        return parsed.default_adjust
    raise InputError(f"{where}: {parsed.fmt} does not say whether its prices are adjusted"
                     f"{_ADJUST_HINTS.get(parsed.fmt, '')}; give --adjust qfq (forward-adjusted), "
                     "hfq (back-adjusted) or raw (as traded)")


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
