"""The session x stock matrices of a study (:class:`Panel`): the traded prices, limits and 一字板 flags
the engine's market panel builds (:mod:`hypebt.market.panel`), and on traded prices the factor that
carries them to one basis across ex-dates for returns. Split from :mod:`hypebt.research.study`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hypebt.core import arrays as A
from hypebt.market import panel as MP
from hypebt.market import rules as R
from hypebt.market import status as MS


@dataclass
class Panel:
    """Session x code matrices of one study."""

    sessions: pd.DatetimeIndex
    codes: list[str]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    present: np.ndarray  # True where the stock traded (False: suspended / not listed)
    limit_up: np.ndarray
    bench_open: np.ndarray
    bench_close: np.ndarray
    # 一字板 at limit-up, from hypebt.market.rules.limit_flags (None: computed from the matrices)
    locked: np.ndarray | None = None
    rules: R.Rules = R.DEFAULT
    st_counts: dict | None = None  # traded stock-sessions per ST source (hypebt.market.status)
    # Traded prices (raw) to adjusted ones, per session and stock (adjclose / close): fills and
    # limits read the traded prices, returns the adjusted ones. None: the prices are adjusted already.
    factor: np.ndarray | None = None

    @property
    def adj_close(self) -> np.ndarray:
        """Closes on one basis across ex-dates (what returns are computed from)."""
        return self.close if self.factor is None else self.close * self.factor

    def adjusted(self, price: float, i: int, j: int) -> float:
        """A traded price of stock ``j`` at session ``i`` on the basis of :attr:`adj_close`."""
        return price if self.factor is None else price * self.factor[i, j]


def build_panel(bars: pd.DataFrame, sessions: pd.DatetimeIndex, bench: pd.DataFrame, names: dict[str, str],
                listed_first: pd.Timestamp, st_codes: set[str] | None = None,
                rules: R.Rules = R.DEFAULT, st_history: pd.DataFrame | None = None, st_covered_to=None,
                span: pd.DatetimeIndex | None = None, seasoned=()) -> Panel:
    """Matrices of the stocks of ``bars`` aligned to ``sessions``, with limit-up and 一字板 per session.

    Built by the engine's one market panel (:func:`hypebt.market.panel.build`, every code at once)
    over ``span`` (the sessions from the stocks' first stored bar to the study's end; default:
    ``sessions`` and the bars' dates before them), then cut to ``sessions``: a session's limits, ST
    status and flags are those a backtest sees, whatever the study's start. A stock listed after
    the store's first date (``listed_first``) gets the new-listing rules for its first sessions. ST
    is dated as in the engine (``st_history`` up to ``st_covered_to``, else the bars' evidence, else
    ``st_codes``; ``names``, a later snapshot, is not read for it); ``st_counts`` counts where it
    came from over the study's sessions. ``seasoned``: codes listed before their first stored bar
    (:func:`hypebt.data.reference.listed_before_first_bar`).
    """
    st_codes = set(st_codes or ())
    if span is None:
        early = pd.DatetimeIndex(np.unique(bars.loc[bars["date"] < sessions[0], "date"].to_numpy()))
        span = early.append(sessions)
    in_study = bars[bars["date"].between(sessions[0], sessions[-1])]
    codes = sorted(in_study["code"].astype(str).unique())
    static = {c for c in codes if c in st_codes}  # as the engine: not the names (a later snapshot)
    market = MP.build(bars, span[span <= sessions[-1]], first_store_date=listed_first, codes=codes, rules=rules,
                      st_static=static, st_history=st_history, st_covered_to=st_covered_to, seasoned=seasoned)
    at = market.sessions.get_indexer(sessions)
    if (at < 0).any() or (np.diff(at) != 1).any():
        raise ValueError("build_panel: the study's sessions must be consecutive sessions of its span")
    part = market.window(int(at[0]), int(at[-1]) + 1)
    cols = {k: v.T for k, v in part.columns.items()}  # (sessions, codes) views
    present = ~cols["suspended"]

    def traded(name):
        return np.where(present, cols[name], np.nan)

    b = bench.set_index("date").reindex(sessions)
    factor = None
    if "adj_factor" in bars:
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = np.where(cols["close"] > 0, cols["adjclose"] / cols["close"], 1.0)
    # a paper fill is checked as the engine checks an order: against the limits applied that session
    day_up, _ = MS.day_limits(part.codes, part.sessions.values, *(part.columns[k] for k in (
        "prev_close", "limit_up", "limit_down", "st", "st_day")), rules)
    panel = Panel(sessions, codes, traded("open"), traded("high"), traded("low"), traded("close"), present,
                  np.ascontiguousarray(day_up.T), b["open"].to_numpy(dtype="float64"),
                  b["close"].to_numpy(dtype="float64"), np.ascontiguousarray(cols["locked_up"]), rules, factor=factor)
    panel.st_counts = MS.count_sources(part.st_source, ~part.columns["suspended"])
    return panel


def locked_limit_up(panel: Panel) -> np.ndarray:
    """Sessions a stock was locked at limit-up all day (一字板), as the engine refuses them
    (``locked_limit_up``): :func:`hypebt.market.rules.limit_flags` on the panel's bars and limits,
    including its ``st_lock_evidence`` inference for stocks not known to be ST."""
    if panel.locked is not None:
        return panel.locked
    close = panel.close.T
    prev = A.shift(A.ffill(close))
    flags = R.limit_flags(panel.codes, panel.open.T, panel.high.T, panel.low.T, close, panel.limit_up.T,
                          np.full(close.shape, np.nan), prev_close=prev, days=panel.sessions.values, rules=panel.rules)
    return (flags["locked_up"] & panel.present.T).T
