"""The market a study measures abnormal returns against: ``[study] market``.

- an index code in the store (e.g. ``"sh000300"``, the default: the spec's ``benchmark``);
- ``"equal_weight"``: every stock in the store, equally weighted each session
  (:mod:`hypebt.data.market_index`; built once and cached in the store);
- ``"size_matched"``: for each stock, the equal-weight index of the stocks of its market-cap
  group (deciles, ``[study] size_groups`` to change), from the caps of the store's stock list
  (:mod:`hypebt.data.stock_info`). The caps are one snapshot, taken after most events: look-ahead,
  and the page says so.

Both the market-adjusted and the market-model abnormal returns use the chosen market.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hypebt.core.i18n import N_
from hypebt.core.errors import DataError
from hypebt.data import market_index as MI
from hypebt.data import stock_info as SI
from hypebt.data.store import Store

SIZE_MATCHED = "size_matched"
EQUAL_WEIGHT = MI.EQUAL_WEIGHT


@dataclass(frozen=True)
class Market:
    """Benchmark levels on the study's sessions: (S,) arrays, or (S, K) with one column per stock
    (size-matched). ``label`` names it on pages; ``notes`` are caveats for the page."""

    name: str
    label: str
    open: np.ndarray
    close: np.ndarray
    notes: tuple[str, ...] = ()
    manifest: dict | None = None


def resolve(store: Store, name: str, codes: list[str], sessions: pd.DatetimeIndex, stock_dataset: str,
            where: str, groups: int = 10) -> Market:
    """The :class:`Market` called ``name`` (see the module doc) for ``codes`` on ``sessions``."""
    if name == SIZE_MATCHED:
        info = SI.load(store)
        manifest = store.manifest(SI.DATASET)
        if info is None or manifest is None:
            raise DataError(f"{where}: market = \"size_matched\" needs market caps: store a stock list first "
                            "(hypebt data stock-list ../shared/data/ashare/stock_list.csv --as-of 2024-06-30), "
                            "or use market = \"equal_weight\"")
        caps = info.set_index(info["code"].astype(str))["total_cap"].astype("float64")
        open_, close, member = MI.size_matched_matrices(store, codes, sessions, caps, manifest["sha256"],
                                                        stock_dataset, groups)
        notes = [SI.look_ahead_note(manifest.get("as_of")),
                 N_("size-matched market: the equal-weight index of each stock's market-cap group (1 of %(n)s groups "
                    "by total cap)", n=groups)]
        missing = [c for c in codes if c not in member.index]
        if missing:
            notes.append(N_("%(n)s stock(s) without a market cap have no size-matched market and are left out: %(codes)s",
                            n=len(missing), codes=", ".join(missing[:20]) + (" ..." if len(missing) > 20 else "")))
        return Market(name, f"size-matched ({groups} cap groups)", open_, close, tuple(notes),
                      store.manifest(f"size{groups}_{stock_dataset.removeprefix('stock_')}"))
    bars = MI.load_equal_weight(store, stock_dataset) if name == EQUAL_WEIGHT else \
        MI.load_benchmark(store, name, ["date", "open", "close"], where, stock_dataset)
    b = bars.drop_duplicates("date").set_index("date").reindex(sessions)
    if b["close"].isna().all():
        raise DataError(f"{where}: market {name} has no bars between {sessions[0].date()} and {sessions[-1].date()}")
    if name == EQUAL_WEIGHT:
        manifest = store.manifest(MI.dataset_name(stock_dataset))
        label = f"equal-weight market ({int(np.nanmedian(b['n_stocks']))} stocks a session, from {stock_dataset})"
        notes = ("equal-weight market: each session, the mean return of every stock in the store that traded on it "
                 "and the session before (suspended stocks drop out until their second session back; new "
                 "listings enter on their second session)",)
        return Market(name, label, b["open"].to_numpy("float64"), b["close"].to_numpy("float64"), notes, manifest)
    return Market(name, name, b["open"].to_numpy("float64"), b["close"].to_numpy("float64"), (),
                  store.manifest("index"))


def column(levels: np.ndarray, j) -> np.ndarray:
    """The benchmark series of stock column ``j`` (the same series for a one-index market)."""
    return levels if levels.ndim == 1 else levels[:, j]


def span_returns(levels: np.ndarray, prev_rows: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Benchmark returns over each stock's own span: from row ``prev_rows[i, j]`` to row ``i``.

    ``levels``: (S,) or (S, K); ``prev_rows``: (S, K) row of the stock's previous traded session
    (any value where ``ok`` is False); returns (S, K), NaN where not ``ok``.
    """
    safe = np.where(ok, prev_rows, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        if levels.ndim == 1:
            out = levels[:, None] / levels[safe] - 1
        else:
            out = levels / np.take_along_axis(levels, safe, axis=0) - 1
    return np.where(ok, out, np.nan)
