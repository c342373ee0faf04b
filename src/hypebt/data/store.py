"""The local parquet store: validated bars in, fast loads out, a manifest per dataset.

Layout under the store root (``data/store`` by default, ``HYPEBT_HOME`` or
``--home`` to move it)::

    stock_qfq/bars.parquet   stock_qfq/manifest.json     # forward-adjusted stock bars
    stock_raw/bars.parquet   ...                         # traded prices + adj_factor
    stock_hfq/...            index/...                   # back-adjusted; index bars
    calendar/sessions.parquet calendar/manifest.json     # akshare's trade calendar

Each dataset is one parquet file sorted by (code, date), so loading the whole
market is one sequential read, and in small row groups, so loading a few codes
reads only theirs. The manifest names the dataset's file and records its SHA-256, so
a truncated or corrupted file is caught on load and by ``hypebt data check``.

A write never touches the file the manifest names: the new data goes to a new file
named by its content (``bars-<sha256 prefix>.parquet``), and renaming the new
manifest over the old one switches the dataset in one step (:mod:`hypebt.core.fsio`).
Killed at any moment, the store holds either the old dataset or the new one, each with
its own hash record; files left by a killed write are removed by the next write.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hypebt import __version__
from hypebt.core import fsio
from hypebt.core.errors import DataError, InputError, OutputError, unknown
from hypebt.core.fsio import file_sha256
from hypebt.core.paths import store_root

ADJUSTMENTS = ("qfq", "hfq", "raw")
DATASETS = ("stock_qfq", "stock_hfq", "stock_raw", "index")
# Dated reference tables (schemas and checks in hypebt.data.reference), one parquet each.
REFERENCE_DATASETS = ("dividends", "listings", "margin_list", "st_history", "suspensions")
# The dated concept-board membership history (schema and checks in hypebt.data.boards).
BOARD_DATASETS = ("concept_boards",)
# When several stock datasets exist, traded prices (raw + factor) are preferred.
STOCK_PREFERENCE = ("stock_raw", "stock_qfq", "stock_hfq")
# Rows are sorted by code, so each row group holds a narrow range of codes and a load of a few
# codes reads only their groups: pyarrow skips the others by their min/max statistics. 2**14 rows
# (about 20 codes of the shared market) has the 37 codes of the sora universe read 15% of the file
# instead of 86% with 2**18, for ~0.1 s more on a whole-market load (benchmarks/bench_store.py).
MANIFEST_KEYS = ("dataset", "adjust", "rows", "first_date", "last_date", "sha256")
_ROW_GROUP = 1 << 14
# A file's timestamp is only trusted to show a change when the file is older than this: coarse
# filesystem clocks (FAT: 2 s) could give a rewrite the same mtime as the version hashed before.
_MTIME_SLACK_S = 2.0


def dataset_for(kind: str, adjust: str | None = None) -> str:
    """The dataset name for bars of ``kind`` ('stock' or 'index') and ``adjust``."""
    if kind == "index":
        return "index"
    if adjust not in ADJUSTMENTS:
        raise InputError(f"adjust {adjust!r} is not one of {', '.join(ADJUSTMENTS)}")
    return f"stock_{adjust}"


class _HashCache:
    """SHA-256 of files already hashed in this process, keyed by what a change of the file changes.

    A key is (path, device, inode, size, mtime, ctime): rewriting, truncating or replacing the file
    changes it, so the file is hashed again. A file modified within the clock tick of its previous
    change could keep its mtime, so a hash is only remembered once the file is older than
    ``_MTIME_SLACK_S`` (git's "racily clean" rule).
    """

    def __init__(self, limit: int = 64):
        self.limit = limit
        self._hashes: dict[tuple, str] = {}

    @staticmethod
    def _key(path: Path) -> tuple:
        st = path.stat()
        return (str(path.resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def sha256(self, path: Path) -> str:
        key = self._key(path)
        known = self._hashes.get(key)
        if known is not None:
            return known
        started = time.time()
        digest = file_sha256(path)
        mtime_s = key[4] / 1e9
        if mtime_s < started - _MTIME_SLACK_S and self._key(path) == key:  # old enough, unchanged meanwhile
            if len(self._hashes) >= self.limit:
                self._hashes.clear()
            self._hashes[key] = digest
        return digest

    def clear(self) -> None:
        self._hashes.clear()


# One per process: Store objects are cheap and made often, the files they check are shared.
_HASHES = _HashCache()


class Store:
    """A folder of parquet datasets with manifests.

    >>> store = Store("data/store")                       # doctest: +SKIP
    >>> bars = store.load("stock_qfq", codes=["688039"])  # doctest: +SKIP
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)

    # --- paths and manifests -------------------------------------------------------------------
    @staticmethod
    def _stem(dataset: str) -> str:
        return "sessions" if dataset == "calendar" else \
            "table" if dataset in (*REFERENCE_DATASETS, *BOARD_DATASETS) else "bars"

    def _file(self, dataset: str, manifest: dict | None = None) -> Path:
        """The dataset's data file: the one its manifest names (``bars-<sha>.parquet``; stores
        written before 0.4 name ``bars.parquet``); a name that is not one of these is ignored."""
        stem = self._stem(dataset)
        if manifest is None:
            try:
                manifest = self.manifest(dataset)
            except DataError:
                manifest = None
        name = (manifest or {}).get("file")
        if not (isinstance(name, str) and re.fullmatch(rf"{stem}(-[0-9a-f]{{16}})?\.parquet", name)):
            name = f"{stem}.parquet"
        return self.root / dataset / name

    def _manifest_path(self, dataset: str) -> Path:
        return self.root / dataset / "manifest.json"

    def datasets(self) -> list[str]:
        """Datasets present in the store (those with a manifest)."""
        return [d for d in (*DATASETS, "calendar", *REFERENCE_DATASETS, *BOARD_DATASETS)
                if self._manifest_path(d).is_file()]

    def manifest(self, dataset: str) -> dict[str, Any] | None:
        """The dataset's manifest, or None when the dataset does not exist."""
        path = self._manifest_path(dataset)
        if not path.is_file():
            return None
        try:
            manifest = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(
                f"{path}: manifest unreadable ({exc}); re-import the dataset to rebuild it"
            ) from None
        missing = [k for k in MANIFEST_KEYS if not isinstance(manifest, dict) or k not in manifest]
        if missing:
            raise DataError(f"{path}: manifest lacks {', '.join(missing)}; re-import the dataset to rebuild it")
        return manifest

    def stock_dataset(self, adjust: str | None = None) -> str:
        """The stock dataset to use: the one for ``adjust``, else the preferred one present."""
        present = self.datasets()
        if adjust:
            name = dataset_for("stock", adjust)
            if name not in present:
                raise DataError(
                    f"{self.root}: no {adjust} stock bars in the store; run 'hypebt data import' "
                    f"or 'hypebt data fetch --adjust {adjust}'"
                )
            return name
        for name in STOCK_PREFERENCE:
            if name in present:
                return name
        raise DataError(
            f"{self.root}: the store has no stock bars; run 'hypebt data import PATH' "
            "or 'hypebt data fetch CODE ...' first"
        )

    # --- writing -------------------------------------------------------------------------------
    def write(
        self,
        dataset: str,
        bars: pd.DataFrame,
        *,
        source: str,
        adjust: str,
        as_of: str | None = None,
        replace_codes: bool = True,
    ) -> dict[str, Any]:
        """Merge validated canonical ``bars`` into ``dataset``; return the new manifest.

        ``replace_codes``: the incoming codes' old rows are dropped first (a new
        qfq series re-bases every earlier price, so it must replace, not patch).
        Otherwise rows are upserted by (code, date) (raw and hfq history is
        stable, so incremental fetches append).
        """
        if dataset not in DATASETS:
            raise unknown("dataset", dataset, DATASETS)
        repairs: list[str] = []
        try:
            old_manifest = self.manifest(dataset)
        except DataError as exc:  # an unreadable record: the import rebuilds it
            old_manifest = None
            repairs.append(f"{dataset}: {exc}; rebuilt")
        if old_manifest and old_manifest.get("adjust") != adjust:
            raise InputError(
                f"dataset {dataset} holds {old_manifest.get('adjust')} prices, not {adjust}"
            )
        old = self._stored(dataset, repairs)
        if old is not None:
            if replace_codes:
                old = old[~old["code"].isin(pd.unique(bars["code"]))]
            merged = pd.concat([old, bars], ignore_index=True)
        else:
            merged = bars
        merged = (
            merged.drop_duplicates(["code", "date"], keep="last")
            .sort_values(["code", "date"], kind="stable")
            .reset_index(drop=True)
        )
        sources = list(dict.fromkeys([*(old_manifest or {}).get("sources", []), source]))
        return self._write_frame(dataset, merged, sources=sources, adjust=adjust, as_of=as_of,
                                 extra={"repaired": repairs[0]} if repairs else None)

    def _stored(self, dataset: str, repairs: list[str]) -> pd.DataFrame | None:
        """The dataset's rows to merge an import into; a dataset failing its check is repaired
        instead of blocking the import that would fix it: its readable rows are kept, an
        unreadable file is dropped, and ``repairs`` says which (the import prints it)."""
        manifest = self.manifest(dataset) if self._manifest_path(dataset).is_file() else None
        if manifest is None or not self._file(dataset, manifest).is_file():
            if manifest is not None:
                repairs.append(f"{dataset}: its file was missing; rebuilt from this import alone: re-import "
                               "the other codes' files too")
            return None
        problem = self.verify(dataset, cached=True)
        if problem is None:
            return self.load(dataset)
        try:
            frame = self.load(dataset, verify=False)
        except DataError:
            repairs.append(f"{dataset}: its file was unreadable; rebuilt from this import alone: re-import the "
                           "other codes' files too")
            return None
        repairs.append(f"{dataset}: its file did not match its hash record (an interrupted write, or damage); "
                       f"its {len(frame):,} readable rows were kept and the record rebuilt: run hypebt data check, "
                       "and re-import any code in doubt")
        return frame

    def write_dataset(self, dataset: str, frame: pd.DataFrame, *, source: str | list[str], as_of: str | None = None,
                      extra: dict | None = None, date_columns: tuple[str, ...] = ("date",)) -> dict[str, Any]:
        """Write a table other than imported bars (a derived index, a reference snapshot), replacing
        it whole; ``frame`` needs the ``date_columns`` (default ``date``: the manifest's first and last
        dates), ``extra`` keys (e.g. what it was built from) go into its manifest. Read it back with
        :meth:`load` and :meth:`manifest` like any dataset.
        """
        if dataset in (*DATASETS, "calendar"):
            raise InputError(f"dataset {dataset!r} holds imported bars; choose another name for this table")
        sources = [source] if isinstance(source, str) else list(source)
        return self._write_frame(dataset, frame, sources=sources, adjust="none", as_of=as_of, extra=extra,
                                 date_columns=date_columns)

    def write_reference(self, dataset: str, frame: pd.DataFrame, *, sources: list[str], as_of: str,
                        date_columns: tuple[str, ...]) -> dict[str, Any]:
        """Replace a reference table checked by :mod:`hypebt.data.reference`; return its manifest.

        ``date_columns`` give the manifest's first and last dates (e.g. ``start``, ``end``).
        """
        if dataset not in REFERENCE_DATASETS:
            raise unknown("reference dataset", dataset, REFERENCE_DATASETS)
        return self._write_frame(dataset, frame, sources=sources, adjust="none", as_of=as_of,
                                 date_columns=date_columns)

    def _write_frame(self, dataset, frame, *, sources, adjust, as_of, date_columns=("date",),
                     extra=None) -> dict[str, Any]:
        frame = frame.copy()
        if "code" in frame:
            frame["code"] = frame["code"].astype("string")
        table = pa.Table.from_pandas(frame, preserve_index=False)
        folder, stem = self.root / dataset, self._stem(dataset)
        staged = folder / f".{stem}.{os.getpid()}.staged.parquet"
        try:
            with fsio.atomic_path(staged) as tmp:
                pq.write_table(table, tmp, compression="zstd", row_group_size=_ROW_GROUP)
                digest = file_sha256(tmp)
        except OutputError as exc:  # name the dataset's file, not the staged one
            raise OutputError(str(exc).replace(str(staged), str(folder / f"{stem}.parquet"))) from None
        # Beside the current file, never over it: the manifest written below is the switch.
        path = folder / f"{stem}-{digest[:16]}.parquet"
        try:
            os.replace(staged, path)
        except OSError as exc:
            staged.unlink(missing_ok=True)
            raise OutputError(f"{path}: cannot write: {exc.strerror}") from None
        dates = pd.concat([frame[c] for c in date_columns]).dropna()
        kind = ("reference" if dataset in REFERENCE_DATASETS else "boards" if dataset in BOARD_DATASETS
                else dataset if dataset in ("index", "calendar") else "stock")
        manifest = {
            "dataset": dataset,
            "kind": kind,
            "adjust": adjust,
            "price_basis": "traded" if adjust in ("raw", "none") else f"adjusted ({adjust})",
            "sources": sources,
            "as_of": as_of or (str(dates.max().date()) if len(dates) else None),
            "rows": int(len(frame)),
            "codes": int(frame["code"].nunique()) if "code" in frame else 0,
            "first_date": str(dates.min().date()) if len(dates) else None,
            "last_date": str(dates.max().date()) if len(dates) else None,
            "columns": list(frame.columns),
            "file": path.name,
            "sha256": digest,
            "written_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "hypebt_version": __version__,
            **(extra or {}),
        }
        # The one rename that switches the dataset: before it the old manifest and file stand, after
        # it the new ones; then what the old manifest named, and leftovers of killed writes, go.
        fsio.write_json(self._manifest_path(dataset), manifest)
        self._sweep_files(folder, stem, keep=path.name)
        return manifest

    @staticmethod
    def _sweep_files(folder: Path, stem: str, keep: str) -> None:
        """Delete the data files of ``folder`` other than ``keep``: earlier versions and the staged
        files of writes killed before their switch (hypebt's own names only)."""
        mine = re.compile(rf"{stem}(-[0-9a-f]{{16}})?\.parquet|\.+{stem}\.\d+\.staged\.parquet(\..+\.tmp)?"
                          r"|\.manifest\.json\..+\.tmp")
        for p in folder.iterdir():
            if p.name != keep and mine.fullmatch(p.name):
                p.unlink(missing_ok=True)

    def write_calendar(self, sessions, source: str) -> dict[str, Any]:
        """Store trading sessions (e.g. akshare's ``tool_trade_date_hist_sina``)."""
        frame = pd.DataFrame({"date": pd.to_datetime(pd.Series(sessions)).dt.normalize().astype("datetime64[ns]")})
        frame = frame.drop_duplicates().sort_values("date").reset_index(drop=True)
        return self._write_frame("calendar", frame, sources=[source], adjust="none", as_of=str(dt.date.today()))

    # --- reading -------------------------------------------------------------------------------
    def verify(self, dataset: str, *, cached: bool = False) -> str | None:
        """None when the dataset's file matches its manifest, else what is wrong and the remedy.

        The whole file is hashed, unless ``cached`` and this process already hashed it unchanged
        (same inode, size and timestamps; :class:`_HashCache`), as :meth:`load` does.
        """
        manifest = self.manifest(dataset)
        if manifest is None:
            return f"{dataset}: no manifest; re-import the dataset"
        path = self._file(dataset, manifest)
        if not path.is_file():
            return f"{path}: missing (the manifest lists {manifest['rows']} rows); re-import the dataset"
        digest = _HASHES.sha256(path) if cached else file_sha256(path)
        if digest != manifest["sha256"]:
            return (
                f"{path}: content hash differs from its manifest (truncated or modified); "
                f"re-import it ({', '.join(manifest.get('sources', []))})"
            )
        return None

    def load(
        self,
        dataset: str,
        codes=None,
        start=None,
        end=None,
        columns: list[str] | None = None,
        verify: bool = True,
        where: dict[str, list] | None = None,
    ) -> pd.DataFrame:
        """Load bars sorted by (code, date), optionally for some codes and dates.

        The file's hash is checked against its manifest first (``verify``), so
        a corrupted store is never read silently; within one process an
        unchanged file is hashed once. ``codes=[]`` gives no rows (and the
        dataset's columns). ``where``: other columns to match, ``{"board": [...]}``.
        """
        manifest = self.manifest(dataset)
        if manifest is None:
            raise DataError(f"{self.root}: no dataset {dataset!r}; import or fetch it first")
        path = self._file(dataset, manifest)
        if verify:
            problem = self.verify(dataset, cached=True)
            if problem:
                raise DataError(problem)
        filters = []
        if codes is not None:
            codes = list(codes)
            if not codes:  # pyarrow refuses an empty 'in' filter
                try:
                    schema = pq.read_schema(path)
                except (OSError, pa.ArrowInvalid) as exc:
                    raise DataError(f"{path}: unreadable ({exc}); re-import the dataset") from None
                names = columns if columns is not None else schema.names
                return schema.empty_table().select(names).to_pandas()
            filters.append(("code", "in", codes))
        for col, values in (where or {}).items():
            values = list(values)
            if not values:
                return self.load(dataset, codes=[], columns=columns, verify=False)
            filters.append((col, "in", values))
        if start is not None:
            filters.append(("date", ">=", pd.Timestamp(start)))
        if end is not None:
            filters.append(("date", "<=", pd.Timestamp(end)))
        try:
            table = pq.read_table(path, columns=columns, filters=filters or None)
        except (OSError, pa.ArrowInvalid) as exc:
            raise DataError(f"{path}: unreadable ({exc}); re-import the dataset") from None
        return table.to_pandas()

    def load_index(self, code: str, columns: list[str], where: str) -> pd.DataFrame:
        """One index's bars (e.g. a benchmark), or a :class:`DataError` saying how to get them."""
        bars = self.load("index", codes=[code], columns=columns) if "index" in self.datasets() else None
        if bars is None or bars.empty:
            raise DataError(
                f"{where}: benchmark {code} is not in the store; import an index CSV "
                f"(e.g. {code}.csv) or run hypebt data fetch --index {code}"
            )
        return bars

    def load_calendar(self) -> pd.DatetimeIndex | None:
        """Stored akshare trading sessions, or None."""
        if self.manifest("calendar") is None:
            return None
        return pd.DatetimeIndex(self.load("calendar")["date"])

    def code_ranges(self, dataset: str) -> pd.DataFrame:
        """Per code: first date, last date and rows (for incremental fetches and ``data info``)."""
        if self.manifest(dataset) is None:
            return pd.DataFrame(columns=["first", "last", "rows"])
        frame = self.load(dataset, columns=["code", "date"])
        return frame.groupby("code", observed=True)["date"].agg(first="min", last="max", rows="size")

    def check(self) -> list[str]:
        """Integrity problems across every dataset (empty when all is well)."""
        problems = []
        for dataset in self.datasets():
            problem = self.verify(dataset)
            if problem:
                problems.append(problem)
                continue
            manifest = self.manifest(dataset)
            meta = pq.read_metadata(self._file(dataset))
            if meta.num_rows != manifest["rows"]:
                problems.append(f"{dataset}: {meta.num_rows} rows on disk, manifest says {manifest['rows']}")
        return problems


def open_store(home=None, workspace=None) -> Store:
    """The store a command uses: ``home``, else ``$HYPEBT_HOME``, else ``<workspace>/data/store``
    (:func:`hypebt.core.paths.store_root`).

    >>> open_store(None, ".").root                 # doctest: +SKIP
    PosixPath('data/store')
    """
    return Store(store_root(home, workspace))
