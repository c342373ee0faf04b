"""What a strategy may read and write besides bars: history, indicators, holdings, names, the
benchmark, recorded values and log lines (a base of :class:`hypebt.engine.strategy.Strategy`).

Every read stops at the strategy's current moment (:mod:`hypebt.engine.window`); the state it
uses (extended arrays, position book, journal) is set up by ``Strategy.__init__``.
"""

from __future__ import annotations

import pandas as pd

from hypebt.engine import window as W
from hypebt.engine.cross import CrossSectionViews
from hypebt.market.account import Holding


class StrategyViews(CrossSectionViews):
    """History, indicators and state of a strategy (see each method)."""
    def history(self, codes, field: str = "close", n: int = 1, adjusted: bool = True, array: bool = False):
        """The last ``n`` values of ``field`` known now, oldest first (fewer at the start of the data:
        set the spec's ``warmup`` to have them from the first session).

        ``codes`` is a code (a Series indexed by session) or a list of codes (a DataFrame, one column
        each). Fields: open, high, low, close, volume, adjclose, limit_up, limit_down, suspended.
        Prices are on the adjusted scale by default (for signals); ``adjusted=False`` gives the
        traded prices. In ``on_open`` the window ends with yesterday, except ``open``, the limits and
        ``suspended``, which include today. ``array=True``: a numpy array (2-D for several codes),
        without the session index, for speed.

        >>> self.history("600000", "close", 20).mean()  # doctest: +SKIP
        """
        return W.history(self._ext, codes, field, n, self._moment(), adjusted, array)

    def I(self, fn, code: str, *args, field="close", adjusted: bool = True, name: str | None = None,  # noqa: E743
          **kwargs) -> W.Indicator:
        """An indicator computed once from ``code``'s whole series and revealed bar by bar.

        ``fn(data, *args, **kwargs)`` gets a Series of ``field`` (a DataFrame for a list of fields)
        over every session, warm-up included, and returns one value per session. Call it in
        ``__init__``. The result ``ind`` gives ``ind[0]`` (the latest value known now), ``ind[1]``
        (one session before), ``ind.values``. A function that reads later bars is refused
        (:class:`LookAheadError`).

        >>> self.sma = self.I(lambda s, n: s.rolling(n).mean(), "600000", 20)  # doctest: +SKIP
        """
        fields = (field,) if isinstance(field, str) else tuple(field)
        ext = self._ext[code]
        cols = {f: W.column(ext.columns, f, adjusted) for f in fields}
        data = pd.Series(cols[fields[0]], index=ext.sessions, name=fields[0]) if isinstance(field, str) \
            else pd.DataFrame(cols, index=ext.sessions)
        label = name or f"{getattr(fn, '__name__', 'indicator')}({code}{''.join(f', {a!r}' for a in args)})"
        values = W.compute_indicator(lambda d: fn(d, *args, **kwargs), data, label)
        return W.Indicator(label, values, ext.sessions, fields, self._moment)

    def holding(self, code: str) -> Holding:
        """``code``'s position with its cost basis (fill prices after slippage, plus fees) and entry."""
        return self.broker.account.holding(code, self.session_no)

    def holdings(self) -> dict[str, Holding]:
        """Every open position, by code."""
        return {c: self.broker.account.holding(c, self.session_no) for c in self.broker.account.held_codes()}

    def name(self, code: str) -> str:
        """The stock's name from the universe file ("" when unknown)."""
        return self.ctx.names.get(code, "")

    def benchmark_returns(self) -> pd.Series:
        """The benchmark's daily returns up to now (in ``on_open``: up to yesterday's close)."""
        bench = self._benchmark
        if bench is None:
            return pd.Series(dtype="float64")
        end = self.session_no + (1 if self._phase == "close" else 0)
        return bench.iloc[: max(end, 0)].copy()

    def record(self, name: str, value) -> None:
        """Record a number for this session: a column ``name`` of ``equity.csv`` (the last value
        recorded in a session wins)."""
        self._journal.record(name, value, self.session_no)

    def log(self, *parts) -> None:
        """Write a line to the run's ``log.txt`` (prefixed with the session and hook; never printed)."""
        day = self.today if self.session_no >= 0 else "setup"
        self._journal.log(day, f"on_{self._phase}" if self.session_no >= 0 else "init", parts)

    def equity_frame(self) -> pd.DataFrame:
        """``date, cash, value`` at each close, and the recorded columns."""
        return self._journal.equity_frame(self.equity_rows)

    @property
    def log_lines(self) -> list[str]:
        return list(self._journal.lines)
