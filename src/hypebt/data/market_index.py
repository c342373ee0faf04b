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

Size-matched indexes (:func:`load_size_matched`): the same equal-weight index within each
market-cap group (deciles by default), for a benchmark that fits a stock's size. The caps come
from a snapshot (:mod:`hypebt.data.stock_info`), which is look-ahead for earlier events.
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


def equal_weight_returns(codes, dates, open_, close, sessions=None):
    """Equal-weight close-to-close and previous-close-to-open returns per market session.

    Inputs are equal-length arrays of bars **sorted by (code, date)**; ``codes`` any comparable
    labels (integer codes are fastest), ``dates`` datetime64. ``sessions``: the market sessions
    (sorted datetime64; default the distinct ``dates``): give them when the bars are a subset of
    the market, so that a stock's gap is seen as one even on a day no stock of the subset traded.
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
    sessions = np.unique(dates) if sessions is None else np.asarray(sessions, dtype="datetime64[ns]")
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


def _adjusted_bars(store: Store, stock_dataset: str) -> pd.DataFrame:
    columns = ["code", "date", "open", "close"]
    manifest = store.manifest(stock_dataset) or {}
    if "adj_factor" in manifest.get("columns", []):
        columns.append("adj_factor")
    bars = store.load(stock_dataset, columns=columns)
    if bars.empty:
        raise DataError(f"{store.root}: {stock_dataset} has no bars to build an equal-weight index from")
    if "adj_factor" in bars:
        factor = bars.pop("adj_factor").fillna(1.0)  # a missing factor: the traded price itself
        bars["open"], bars["close"] = bars["open"] * factor, bars["close"] * factor
    return bars


def _index_frame(code: str, sessions, ret, ret_open, n) -> pd.DataFrame:
    growth = np.where(n > 0, 1 + np.nan_to_num(ret), 1.0)
    growth[0] = 1.0
    close = BASE_LEVEL * np.cumprod(growth)
    prev_close = np.r_[np.nan, close[:-1]]
    open_ = np.where(n > 0, prev_close * (1 + np.nan_to_num(ret_open)), prev_close)
    return pd.DataFrame({"code": code, "date": pd.DatetimeIndex(sessions).astype("datetime64[ns]"),
                         "open": open_, "close": close, "ret": ret, "ret_open": ret_open,
                         "n_stocks": np.asarray(n).astype("int64")})


def _kernel_inputs(bars: pd.DataFrame):
    return (pd.factorize(bars["code"])[0], bars["date"].to_numpy(dtype="datetime64[ns]"),
            bars["open"].to_numpy(dtype="float64"), bars["close"].to_numpy(dtype="float64"))


def build(store: Store, stock_dataset: str) -> pd.DataFrame:
    """The equal-weight index of every stock in ``stock_dataset`` (not cached; see the module doc)."""
    bars = _adjusted_bars(store, stock_dataset)
    return _index_frame(EQUAL_WEIGHT, *equal_weight_returns(*_kernel_inputs(bars)))


def _cached(store: Store, name: str, built_from: dict, make, source: str, method: str) -> pd.DataFrame:
    """``name`` from the store when its manifest's ``built_from`` matches and its file checks out;
    otherwise ``make()``, written to the store with that ``built_from``."""
    cached = store.manifest(name)
    if cached and cached.get("built_from") == built_from and store.verify(name, cached=True) is None:
        return store.load(name)
    frame = make()
    store.write_dataset(name, frame, source=source,
                        extra={"kind": "derived index", "built_from": built_from, "method": method})
    return frame


def _source(store: Store, stock_dataset: str | None) -> tuple[str, dict]:
    stock_dataset = stock_dataset or store.stock_dataset()
    manifest = store.manifest(stock_dataset)
    if manifest is None:
        raise DataError(f"{store.root}: no {stock_dataset} bars to build a market index from; import them first")
    return stock_dataset, {"dataset": stock_dataset, "sha256": manifest["sha256"], "rows": manifest["rows"]}


def load_equal_weight(store: Store, stock_dataset: str | None = None) -> pd.DataFrame:
    """The cached equal-weight index of the store's stocks, built (and cached) when missing or stale.

    ``stock_dataset``: the stock bars to build from (default: the store's preferred stock dataset,
    :meth:`Store.stock_dataset`). Stale means the stock dataset's SHA-256 differs from the one the
    cache's manifest records, or the cache file fails its own hash check.
    Columns: code ('equal_weight'), date, open, close, ret, ret_open, n_stocks.
    """
    stock_dataset, built_from = _source(store, stock_dataset)
    return _cached(store, dataset_name(stock_dataset), built_from, lambda: build(store, stock_dataset),
                   f"hypebt equal-weight index of {stock_dataset}",
                   "mean of close-to-close returns over stocks with a bar on the session and the one before")


def size_groups(caps: pd.Series, groups: int = 10) -> pd.Series:
    """code -> size group 1 (smallest caps) .. ``groups`` (largest), equal counts as near as may be.

    ``caps``: market cap per code (NaN or non-positive caps get no group and are left out).
    """
    caps = caps[caps > 0].sort_values(kind="stable")
    rank = np.arange(len(caps))
    return pd.Series(rank * groups // max(len(caps), 1) + 1, index=caps.index, name="size_group")


def size_code(group: int) -> str:
    """The index code of size group ``group`` (e.g. 'size_03')."""
    return f"size_{group:02d}"


def load_size_matched(store: Store, caps: pd.Series, caps_sha256: str, stock_dataset: str | None = None,
                      groups: int = 10) -> tuple[pd.DataFrame, pd.Series]:
    """Equal-weight indexes of the store's stocks by size group, and each code's group.

    ``caps``: market cap per code (e.g. ``total_cap`` of :mod:`hypebt.data.stock_info`);
    ``caps_sha256``: the hash of where they came from (the ``stock_info`` manifest), so the cache is
    rebuilt when the caps or the bars change. Only stocks with both bars and a cap are grouped.
    Each group's index follows the rules of the equal-weight index (module doc), over the market's
    sessions. The frame has one index per group (code ``size_01`` .. ``size_10``), cached as the
    dataset ``size<groups>_<adjust>``. Caps from one snapshot sort earlier sessions by later sizes:
    look-ahead (see :mod:`hypebt.data.stock_info`).
    """
    stock_dataset, built_from = _source(store, stock_dataset)
    built_from = {**built_from, "caps_sha256": caps_sha256, "groups": groups}
    name = f"size{groups}_{stock_dataset.removeprefix('stock_')}"

    def make():
        bars = _adjusted_bars(store, stock_dataset)
        member = size_groups(caps[caps.index.isin(pd.unique(bars["code"]))], groups)
        sessions = np.unique(bars["date"].to_numpy(dtype="datetime64[ns]"))
        group = bars["code"].map(member).to_numpy()
        frames = []
        for g in range(1, groups + 1):
            part = bars[group == g]
            if part.empty:
                continue
            frames.append(_index_frame(size_code(g), *equal_weight_returns(*_kernel_inputs(part), sessions=sessions)))
        if not frames:
            raise DataError(f"{store.root}: no stock in {stock_dataset} has a market cap; store a stock list first")
        return pd.concat(frames, ignore_index=True)

    frame = _cached(store, name, built_from, make, f"hypebt size-group indexes of {stock_dataset}",
                    f"{groups} groups by market cap, equal-weight within each group")
    present = set(frame["code"].unique())
    # the membership the indexes were built with: caps of stocks in the store only
    stored = store.load(stock_dataset, columns=["code"])["code"].unique()
    member = size_groups(caps[caps.index.isin(stored)], groups)
    return frame, member[member.map(size_code).isin(present)]


def load_benchmark(store: Store, name: str, columns: list[str], where: str,
                   stock_dataset: str | None = None) -> pd.DataFrame:
    """A benchmark's bars by name: ``equal_weight`` (the cached equal-weight index of the store's
    stocks) or an index code in the store (e.g. ``sh000300``), with ``columns`` of date/open/close.
    A missing index raises the store's :class:`DataError` saying how to get it."""
    if name == EQUAL_WEIGHT:
        return load_equal_weight(store, stock_dataset)[columns].reset_index(drop=True)
    return store.load_index(name, columns, where)


def size_matched_matrices(store: Store, codes: list[str], sessions, caps: pd.Series, caps_sha256: str,
                          stock_dataset: str | None = None, groups: int = 10):
    """Per-stock size-matched benchmark levels on ``sessions``: (open, close, group).

    ``open`` and ``close`` are (len(sessions), len(codes)) arrays holding, in column j, the level of
    the size-group index of ``codes[j]`` (:func:`load_size_matched`); NaN for a code without a cap.
    ``group`` is the Series code -> group of the codes that have one.
    """
    frame, member = load_size_matched(store, caps, caps_sha256, stock_dataset, groups)
    sessions = pd.DatetimeIndex(sessions)
    shape = (len(sessions), len(codes))
    open_, close = np.full(shape, np.nan), np.full(shape, np.nan)
    by_group = {code: g.set_index("date").reindex(sessions) for code, g in frame.groupby("code")}
    for j, code in enumerate(codes):
        g = member.get(code)
        if g is None or size_code(int(g)) not in by_group:
            continue
        idx = by_group[size_code(int(g))]
        open_[:, j], close[:, j] = idx["open"].to_numpy(), idx["close"].to_numpy()
    return open_, close, member[member.index.isin(codes)]
