"""An equal-weighted index of every stock in the store: the market small and mid caps move with.

Concept stocks are mostly small and mid caps; CSI 300 is 300 large caps weighted by float cap.
Against it, a small-cap rally reads as abnormal return. The equal-weight index gives every stock
in the store the same weight each session:

    r_t = mean over stocks i of (close_it / close_i,t-1 − 1)
    o_t = mean over stocks i of (open_it / close_i,t-1 − 1)

over the stocks with a bar on *both* session t and the market session before it (t − 1):

- a suspended stock drops out on its suspended sessions and on the first session back (that
  bar's move spans several sessions, and averaging it with one-session returns would mix spans);
- a new listing enters on its second bar (its first has no previous close; IPO-day moves are not
  part of the market's daily return); a delisted stock leaves after its last bar;
- "market sessions" are the dates on which any stock in the store has a bar.

The index is a portfolio rebalanced to equal weights at each close: ``close`` is a level starting
at 1000 on the first session (``close_t = close_t-1 * (1 + r_t)``), ``open`` is that portfolio's
value at the next open (``close_t-1 * (1 + o_t)``; NaN on the first session), and ``n_stocks``
counts the stocks averaged. A session where no stock qualifies has return 0 and ``n_stocks`` 0.
Returns come from the store's adjusted prices (qfq/hfq as stored; raw prices times ``adj_factor``),
so dividends and splits are not moves.

The index is built once and cached in the store as the dataset ``equal_weight_<adjust>`` (e.g.
``equal_weight_qfq``); its manifest records the SHA-256 of the stock dataset it was built from,
and :func:`load_equal_weight` rebuilds it when the stock bars change.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hypebt.core.errors import DataError
from hypebt.data.store import Store

EQUAL_WEIGHT = "equal_weight"
BASE_LEVEL = 1000.0
COLUMNS = ["code", "date", "open", "close", "ret", "ret_open", "n_stocks"]


def dataset_name(stock_dataset: str) -> str:
    """The cache dataset of the equal-weight index built from ``stock_dataset`` ('stock_qfq' ...)."""
    return f"{EQUAL_WEIGHT}_{stock_dataset.removeprefix('stock_')}"


def equal_weight_returns(codes, dates, open_, close):
    """Equal-weight close-to-close and previous-close-to-open returns per market session.

    Inputs are equal-length arrays of bars **sorted by (code, date)**; ``codes`` any comparable
    labels (integer codes are fastest), ``dates`` datetime64.
    Returns ``(sessions, ret, ret_open, n_stocks)``: the sorted distinct dates and, per session,
    the mean returns over the stocks with a bar on that session and the one before (NaN and 0
    stocks on the first session or when none qualifies).

    >>> s, r, ro, n = equal_weight_returns(np.array(["a", "a"]), np.array(["2024-01-02", "2024-01-03"],
    ...     dtype="datetime64[ns]"), np.array([10.0, 10.5]), np.array([10.0, 11.0]))
    >>> round(float(r[1]), 12), round(float(ro[1]), 12), int(n[1])
    (0.1, 0.05, 1)
    """
    codes = np.asarray(codes)
    dates = np.asarray(dates, dtype="datetime64[ns]")
    open_ = np.asarray(open_, dtype="float64")
    close = np.asarray(close, dtype="float64")
    sessions = np.unique(dates)
    pos = np.searchsorted(sessions, dates)
    same = np.zeros(len(codes), dtype=bool)
    same[1:] = codes[1:] == codes[:-1]
    consecutive = np.zeros(len(codes), dtype=bool)
    consecutive[1:] = same[1:] & (pos[1:] - pos[:-1] == 1)
    prev = np.r_[np.nan, close[:-1]]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = close / prev - 1
        ro = open_ / prev - 1
    ok = consecutive & np.isfinite(r) & np.isfinite(ro) & (prev > 0)
    n = np.bincount(pos[ok], minlength=len(sessions))
    with np.errstate(invalid="ignore", divide="ignore"):
        ret = np.bincount(pos[ok], weights=r[ok], minlength=len(sessions)) / n
        ret_open = np.bincount(pos[ok], weights=ro[ok], minlength=len(sessions)) / n
    return sessions, ret, ret_open, n


def build(store: Store, stock_dataset: str) -> pd.DataFrame:
    """The equal-weight index of every stock in ``stock_dataset`` (not cached; see the module doc)."""
    columns = ["code", "date", "open", "close"]
    manifest = store.manifest(stock_dataset) or {}
    if "adj_factor" in manifest.get("columns", []):
        columns.append("adj_factor")
    bars = store.load(stock_dataset, columns=columns)
    if bars.empty:
        raise DataError(f"{store.root}: {stock_dataset} has no bars to build an equal-weight index from")
    factor = bars["adj_factor"].to_numpy(dtype="float64") if "adj_factor" in bars else 1.0
    if np.ndim(factor):
        factor = np.where(np.isnan(factor), 1.0, factor)  # a missing factor: the traded price itself
    sessions, ret, ret_open, n = equal_weight_returns(
        pd.factorize(bars["code"])[0], bars["date"].to_numpy(dtype="datetime64[ns]"),
        bars["open"].to_numpy(dtype="float64") * factor, bars["close"].to_numpy(dtype="float64") * factor)
    growth = np.where(n > 0, 1 + np.nan_to_num(ret), 1.0)
    growth[0] = 1.0
    close = BASE_LEVEL * np.cumprod(growth)
    prev_close = np.r_[np.nan, close[:-1]]
    open_ = np.where(n > 0, prev_close * (1 + np.nan_to_num(ret_open)), prev_close)
    return pd.DataFrame({"code": EQUAL_WEIGHT, "date": pd.DatetimeIndex(sessions).astype("datetime64[ns]"),
                         "open": open_, "close": close, "ret": ret, "ret_open": ret_open,
                         "n_stocks": n.astype("int64")})


def load_equal_weight(store: Store, stock_dataset: str | None = None) -> pd.DataFrame:
    """The cached equal-weight index of the store's stocks, built (and cached) when missing or stale.

    ``stock_dataset``: the stock bars to build from (default: the store's preferred stock dataset,
    :meth:`Store.stock_dataset`). Stale means the stock dataset's SHA-256 differs from the one the
    cache's manifest records, or the cache file fails its own hash check.
    Columns: code ('equal_weight'), date, open, close, ret, ret_open, n_stocks.
    """
    stock_dataset = stock_dataset or store.stock_dataset()
    source = store.manifest(stock_dataset)
    if source is None:
        raise DataError(f"{store.root}: no {stock_dataset} bars to build an equal-weight index from; import them first")
    name = dataset_name(stock_dataset)
    cached = store.manifest(name)
    if (cached and cached.get("built_from", {}).get("sha256") == source["sha256"]
            and store.verify(name, cached=True) is None):
        return store.load(name)
    frame = build(store, stock_dataset)
    store.write_derived(name, frame, source=f"hypebt equal-weight index of {stock_dataset}", extra={
        "kind": "derived index",
        "built_from": {"dataset": stock_dataset, "sha256": source["sha256"], "rows": source["rows"]},
        "method": "mean of close-to-close returns over stocks with a bar on the session and the one before",
    })
    return frame
