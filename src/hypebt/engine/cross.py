"""Reading the whole market at once: cross-sections of the market's panel at the current moment.

A ranking strategy asks, at each rebalance, for one field of every stock in its universe over the
last ``n`` sessions, and for who is in the universe and tradable today. Each answer here is one
slice of the run's (codes, sessions) panel (:mod:`hypebt.market.panel`), never a column per code:

- :class:`CrossSection`: values (sessions x codes) with their code index and sessions;
- :class:`CrossSectionViews`: the strategy's methods (a base of :class:`hypebt.engine.strategy.Strategy`):
  :meth:`~CrossSectionViews.cross_section`, :meth:`~CrossSectionViews.bars`,
  :meth:`~CrossSectionViews.members`, :meth:`~CrossSectionViews.member_mask`,
  :meth:`~CrossSectionViews.tradable_mask`.

Look-ahead rules are :mod:`hypebt.engine.window`'s: values end at the moment (before the open, a
close ends with yesterday's; the open, limits and suspension include today's), and who is a member
of the universe on a session is known before its open (:meth:`hypebt.market.panel.MarketPanel.members`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hypebt.core.errors import LookAheadError
from hypebt.engine import window as W


@dataclass(frozen=True)
class CrossSection:
    """One field of many codes over the last sessions known: ``values[i, j]`` is ``codes[j]`` on
    ``sessions[i]`` (oldest first). ``values`` is the caller's copy."""

    values: np.ndarray
    codes: np.ndarray
    sessions: pd.DatetimeIndex

    def frame(self) -> pd.DataFrame:
        """The values as a DataFrame (sessions x codes)."""
        return pd.DataFrame(self.values, index=self.sessions, columns=self.codes, copy=False)

    def __len__(self) -> int:
        return len(self.codes)


def cross_section(panel, rows: np.ndarray, field: str, n: int, moment: W.Moment, adjusted: bool = True) -> CrossSection:
    """The last ``n`` values of ``field`` known at ``moment`` for the panel's ``rows`` (fewer at the
    start of the data), as a :class:`CrossSection`."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"cross_section: n must be a whole number >= 1, got {n!r}")
    end = moment.last(field) + 1
    lo = max(0, end - int(n))
    values = W.block(panel.columns, rows, field, adjusted, lo, max(end, 0)).T
    return CrossSection(values, np.asarray(panel.codes, dtype=object)[rows], panel.sessions[lo:max(end, 0)])


BAR_FIELDS = ("open", "high", "low", "close", "adjclose", "volume", "limit_up", "limit_down", "suspended",
              "closed_up", "locked_up")


class Bars:
    """One session's bar of many codes: each field an array over ``codes`` (limits NaN where the
    session has none). Today's bar before the open has only ``open``, the limits and ``suspended``;
    reading another field raises :class:`LookAheadError`, as :class:`hypebt.engine.bars.PreOpenBar`."""

    def __init__(self, date, codes: np.ndarray, fields: dict[str, np.ndarray], pre_open: bool):
        self.date, self.codes, self._fields, self._pre_open = date, codes, fields, pre_open

    def __getattr__(self, name):
        fields = self.__dict__.get("_fields", {})
        if name in fields:
            return fields[name]
        if name in BAR_FIELDS and self.__dict__.get("_pre_open"):
            raise LookAheadError(f"today's {name} ({self.date}) is not known in on_open: before the open a bar has "
                                 "only open, limit_up, limit_down and suspended; use bars(codes, 1) for the last full bar")
        raise AttributeError(name)

    def __len__(self) -> int:
        return len(self.codes)


class CrossSectionViews:
    """The whole market at once (see the module docstring). The host strategy provides ``_ext`` (the
    run's arrays over warm-up and run: a :class:`hypebt.market.feed.PanelFeeds`, with its
    ``members``: None, every code with a bar) and ``_moment()``."""

    def _panel(self):
        panel = getattr(self._ext, "panel", None)
        if panel is None:
            raise RuntimeError("cross-sections need the run's market panel (prepared by hypebt.engine.backtest)")
        return panel

    def member_mask(self) -> np.ndarray:
        """Per code of ``self.universe``: in the universe today, as known before the open (it has a bar
        today: listed, not delisted, not suspended; and the spec's ``exclude`` does not apply). In
        ``__init__``, the last warm-up session's (none without a warm-up)."""
        members, pos = getattr(self._ext, "members", None), self._moment().pos
        if members is None:
            return self.tradable_mask()
        return members[:, pos].copy() if pos >= 0 else np.zeros(members.shape[0], dtype=bool)

    def members(self) -> tuple[str, ...]:
        """The codes of the universe today (:meth:`member_mask`), in the universe's order."""
        codes = self._panel().codes
        return tuple(codes[j] for j in np.flatnonzero(self.member_mask()))

    def tradable_mask(self) -> np.ndarray:
        """Per code of ``self.universe``: trades today (not suspended, listed); known before the open."""
        suspended, pos = self._panel().columns["suspended"], self._moment().pos
        return ~suspended[:, pos] if pos >= 0 else np.zeros(suspended.shape[0], dtype=bool)

    def bars(self, codes=None, ago: int = 0) -> Bars:
        """The bar ``ago`` sessions back of many codes at once (default: today's members), each field an
        array over ``.codes`` (a slice of the panel, as :meth:`bar` of each code would give it). In
        ``on_open``, ``bars(codes)`` is today's bar before the open (``open``, limits, ``suspended``)."""
        if isinstance(ago, bool) or not isinstance(ago, (int, np.integer)) or ago < 0:
            raise LookAheadError(f"bars(ago={ago!r}): ago is a whole number of sessions back, >= 0")
        moment, panel = self._moment(), self._panel()
        pos = moment.pos - ago
        if pos < 0:
            raise IndexError(f"bars(ago={ago}): no bar {ago} session(s) back; add warmup = N to the spec")
        rows = np.flatnonzero(self.member_mask()) if codes is None else panel.rows(list(codes))
        pre_open = ago == 0 and moment.phase == "open"
        names = ("open", "limit_up", "limit_down", "suspended") if pre_open else BAR_FIELDS
        fields = {name: panel.columns[name][rows, pos] for name in names}  # fancy indexing: copies
        return Bars(panel.sessions[pos].date(), np.asarray(panel.codes, dtype=object)[rows], fields, pre_open)

    def cross_section(self, field: str = "close", n: int = 1, adjusted: bool = True, codes=None) -> CrossSection:
        """The last ``n`` values of ``field`` known now for today's members (or for ``codes``), as a
        :class:`CrossSection` (values sessions x codes, with its codes and sessions). Prices on the
        adjusted scale by default, as :meth:`history`; in ``on_open`` a close ends with yesterday's.

        >>> cs = self.cross_section("close", 21)                     # doctest: +SKIP
        >>> momentum = cs.values[-1] / cs.values[0] - 1              # one per cs.codes
        """
        panel = self._panel()
        rows = np.flatnonzero(self.member_mask()) if codes is None else panel.rows(list(codes))
        return cross_section(panel, rows, field, n, self._moment(), adjusted)
