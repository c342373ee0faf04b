"""Per-stock reference facts from a snapshot: names, market caps, industry.

akshare's ``stock_zh_a_spot_em`` (and the shared ``ashare/stock_list.csv``) gives, for every listed
stock on the day it is fetched: code, name, total and float market cap (CNY), industry and share
counts. Stored in the store as the dataset ``stock_info`` with its manifest (source, as-of date),
it gives whole-market studies their Chinese names and size-matched benchmarks their caps.

**A snapshot is not history.** Caps taken on one day (the shared list: mid-2024) and used to
sort stocks into size groups for 2021-2024 events use information from after the events (a
stock's cap in mid-2024 reflects how it moved before): look-ahead. Anything built from it says so.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hypebt.core.i18n import N_
from hypebt.core.errors import InputError
from hypebt.data.store import Store

DATASET = "stock_info"
# stock_list.csv / stock_zh_a_spot_em headers -> canonical names
HEADERS = {"code": "code", "代码": "code", "name": "name", "名称": "name", "总市值": "total_cap",
           "流通市值": "float_cap", "行业": "industry", "总股本": "total_shares", "流通股": "float_shares"}
COLUMNS = ["code", "date", "name", "total_cap", "float_cap", "industry", "total_shares", "float_shares"]
def look_ahead_note(as_of) -> str:
    """The note of a study whose size groups come from a market-cap snapshot taken after its events."""
    return N_("market caps are a snapshot taken on %(as_of)s, after the events: size groups use look-ahead", as_of=as_of)


def read_stock_list(path: str | Path, as_of: str) -> pd.DataFrame:
    """Read a stock-list snapshot (``code,name,总市值,流通市值,行业,...``) into the canonical frame.

    ``as_of``: the day the snapshot was taken (YYYY-MM-DD; the file does not say), stored as the
    ``date`` column. Codes are kept as 6-digit strings; caps in CNY.
    """
    path = Path(path)
    try:
        day = pd.Timestamp(as_of)
    except (ValueError, TypeError):
        raise InputError(f"{path}: as-of date {as_of!r} is not a date; give YYYY-MM-DD") from None
    try:
        raw = pd.read_csv(path, dtype=str)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable stock list ({exc})") from None
    frame = raw.rename(columns={c: HEADERS[c] for c in raw.columns if c in HEADERS})
    for need in ("code", "name"):
        if need not in frame:
            raise InputError(f"{path}: a stock list needs a {need!r} column (found {', '.join(raw.columns)}); "
                             "export it with akshare's stock_zh_a_spot_em headers")
    frame["code"] = frame["code"].str.strip().str.zfill(6)
    bad = frame.loc[~frame["code"].str.fullmatch(r"\d{6}"), "code"]
    if len(bad):
        raise InputError(f"{path}: code {bad.iloc[0]!r} is not a 6-digit stock code")
    for col in ("total_cap", "float_cap", "total_shares", "float_shares"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce") if col in frame else float("nan")
    frame["name"] = frame["name"].str.replace(r"\s+", "", regex=True)  # '万  科Ａ' -> '万科Ａ'
    frame["industry"] = frame["industry"] if "industry" in frame else ""
    frame["date"] = day.normalize()
    frame["date"] = frame["date"].astype("datetime64[ns]")
    return frame[COLUMNS].drop_duplicates("code", keep="last").sort_values("code").reset_index(drop=True)


def save(store: Store, frame: pd.DataFrame, source: str) -> dict:
    """Store a snapshot read by :func:`read_stock_list` as the ``stock_info`` dataset (replacing it)."""
    as_of = str(frame["date"].max().date()) if len(frame) else None
    return store.write_dataset(DATASET, frame, source=source, as_of=as_of, extra={"kind": "reference"})


def load(store: Store) -> pd.DataFrame | None:
    """The stored snapshot, or None when the store has none."""
    if store.manifest(DATASET) is None:
        return None
    return store.load(DATASET)


def names(store: Store) -> dict[str, str]:
    """code -> Chinese name from the stored snapshot (empty without one)."""
    frame = load(store)
    return {} if frame is None else dict(zip(frame["code"].astype(str), frame["name"].astype(str)))
