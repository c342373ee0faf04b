"""Do the market rules explain the traded prices? Price limits checked against real raw bars.

For every stock-session of a store of traded prices with their adjustment factor (``stock_raw``),
the limits the engine would use are computed with the package's one implementation: the reference
price on ex-dates (:func:`hypebt.market.rules.reference_close_array`), the board's band, ST from
the bars' evidence (:func:`hypebt.market.status.st_status`), a new listing's free sessions
(:func:`hypebt.market.rules.limits_array`). Then two figures:

- **one-price sessions at the limit**: of the sessions that traded all day at one price at least
  4.5 % away from the reference price (only a limit holds a price there all day: a 一字板), the
  share that sits exactly on the computed limit-up or limit-down;
- **rows inside their limits**: of the sessions with limits, the share whose high and low stay
  within them.

Sessions the rules explain otherwise are counted apart (a risk warning starting or lifted that the
bars had not shown yet; no limit on a new listing's first sessions or on a stock's first row,
which has no previous close); every other miss is an exception, listed with its figures.

>>> audit(bars).lines()          # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hypebt.market import rules as R
from hypebt.market import status as MS

# A one-price session this far from the reference price can only be a limit lock.
LOCK_MOVE = 0.045
_EPS = 1e-6
EXCEPTION_COLUMNS = ["code", "date", "what", "reference", "limit_up", "limit_down", "open", "high", "low", "close"]


EXPLAINED = {
    "st": "risk warning started or lifted that session (the ST band's limit, or the board's, unknown from the bars before)",
    "factor_late": "the source's adjustment factor moves one session after the ex-date",
}


@dataclass
class Audit:
    """The figures of :func:`audit` (counts of stock-sessions) and its exceptions."""

    rows: int = 0
    no_limit: dict = field(default_factory=lambda: {"first row (no previous close)": 0, "new listing": 0})
    limited: int = 0
    inside: int = 0
    inside_explained: dict = field(default_factory=lambda: dict.fromkeys(EXPLAINED, 0))
    one_price_up: int = 0
    one_price_down: int = 0
    at_limit_up: int = 0
    at_limit_down: int = 0
    at_explained: dict = field(default_factory=lambda: dict.fromkeys(EXPLAINED, 0))
    locked: int = 0  # one-price limit sessions the engine's limit_flags lock (the blocked side refused)
    exceptions: list = field(default_factory=list)

    @property
    def one_price(self) -> int:
        return self.one_price_up + self.one_price_down

    @property
    def at_limit_share(self) -> float:
        """Share of one-price limit sessions exactly on a limit the rules compute (the engine's, or the
        one an explained case gives)."""
        hit = self.at_limit_up + self.at_limit_down + sum(self.at_explained.values())
        return hit / self.one_price if self.one_price else float("nan")

    @property
    def inside_share(self) -> float:
        """Share of rows with limits whose high and low stay inside the limits the rules compute."""
        return (self.inside + sum(self.inside_explained.values())) / self.limited if self.limited else float("nan")

    def exceptions_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.exceptions, columns=EXCEPTION_COLUMNS)

    def lines(self, show: int = 30) -> list[str]:
        """The printed report: figures, explained cases, then up to ``show`` exceptions."""
        engine_at = self.at_limit_up + self.at_limit_down
        out = [
            f"rows: {self.rows:,} stock-sessions; with limits: {self.limited:,}; without: "
            + ", ".join(f"{n:,} {what}" for what, n in self.no_limit.items()),
            f"one-price sessions at the computed limit: {self.at_limit_share:.4%} of {self.one_price:,} "
            f"(limit-up {self.one_price_up:,}, limit-down {self.one_price_down:,}); at the engine's limit "
            f"{engine_at:,} ({engine_at / max(self.one_price, 1):.4%}: up {self.at_limit_up:,}, down "
            f"{self.at_limit_down:,}), explained otherwise: "
            + "; ".join(f"{n:,} {EXPLAINED[k]}" for k, n in self.at_explained.items()),
            f"one-price limit sessions the engine locks (一字板: the blocked side refused all session): {self.locked:,} "
            f"of {self.one_price:,} = {self.locked / max(self.one_price, 1):.4%}",
            f"rows inside their limits: {self.inside_share:.4%} of {self.limited:,} (inside the engine's limits "
            f"{self.inside:,}, explained otherwise: "
            + "; ".join(f"{n:,} {EXPLAINED[k]}" for k, n in self.inside_explained.items()) + ")",
            f"exceptions the rules do not explain: {len(self.exceptions):,}",
        ]
        frame = self.exceptions_frame()
        if len(frame):
            with pd.option_context("display.width", 200, "display.max_columns", 20):
                out += ["  " + line for line in frame.head(show).to_string(index=False).splitlines()]
            if len(frame) > show:
                out.append(f"  ... and {len(frame) - show:,} more")
        return out


def _limits(code, days, c, factor, st, session_no, listed_on, rules):
    """(reference, up, down) from the previous close carried to the ex-date's basis by ``factor``."""
    prev = np.concatenate(([np.nan], c[:-1]))
    if factor is not None:
        prev = R.reference_close_array(prev, np.concatenate(([np.nan], factor[:-1])), factor)
    up, down = R.limits_array(code, days, prev, st=st, session_no=session_no, listed_on=listed_on, rules=rules)
    return prev, up, down


def audit_code(result: Audit, code: str, days, o, h, lo, c, factor=None, *, listed_in_data: bool = False,
               rules: R.Rules = R.DEFAULT) -> None:
    """Add one stock's rows (in date order, traded sessions only) to ``result``."""
    days = np.asarray(days, dtype="datetime64[D]")
    o, h, lo, c = (np.asarray(x, dtype="float64") for x in (o, h, lo, c))
    f = None if factor is None else np.asarray(factor, dtype="float64")
    n = len(c)
    if n == 0:
        return
    session_no = np.arange(1, n + 1) if listed_in_data else None
    listed_on = days[0].astype(object) if listed_in_data else None
    args = (session_no, listed_on, rules)
    prev = _limits(code, days, c, f, False, *args)[0]
    st, _ = MS.st_status(code, days, o, h, lo, c, prev, rules=rules)
    prev, up, down = _limits(code, days, c, f, st, *args)
    # The alternatives that explain a miss: the other ST band; the factor's move one session earlier.
    alternatives = {"st": _limits(code, days, c, f, ~st if MS_ST_BOARDS(code) else st, *args)[1:]}
    if f is not None:
        alternatives["factor_late"] = _limits(code, days, c, np.concatenate((f[1:], f[-1:])), st, *args)[1:]
    result.rows += n
    has = ~np.isnan(up)
    result.no_limit["first row (no previous close)"] += int(np.isnan(prev).sum())
    result.no_limit["new listing"] += int((~has & ~np.isnan(prev)).sum())
    result.limited += int(has.sum())

    def inside_of(u, d):
        with np.errstate(invalid="ignore"):
            return has & (h <= u + _EPS) & (lo >= d - _EPS)

    def at_of(u, d):
        with np.errstate(invalid="ignore"):
            return (np.abs(c - u) <= _EPS) | (np.abs(c - d) <= _EPS)

    with np.errstate(invalid="ignore"):
        move = c / prev - 1
        one = has & (h - lo <= _EPS) & (np.abs(move) >= LOCK_MOVE)
    inside, at = inside_of(up, down), one & at_of(up, down)
    flags = R.limit_flags(code, o, h, lo, c, up, down, prev_close=prev, days=days, st=st, rules=rules)
    result.locked += int((one & (((move > 0) & flags["locked_up"]) | ((move < 0) & flags["locked_down"]))).sum())
    result.inside += int(inside.sum())
    result.one_price_up += int((one & (move > 0)).sum())
    result.one_price_down += int((one & (move < 0)).sum())
    result.at_limit_up += int((at & (move > 0)).sum())
    result.at_limit_down += int((at & (move < 0)).sum())
    miss_at, miss_in = one & ~at, has & ~inside
    for key, (u, d) in alternatives.items():
        ok_at, ok_in = miss_at & at_of(u, d), miss_in & inside_of(u, d)
        result.at_explained[key] += int(ok_at.sum())
        result.inside_explained[key] += int(ok_in.sum())
        miss_at, miss_in = miss_at & ~ok_at, miss_in & ~ok_in
    for what, mask in (("one-price, not at the limit", miss_at), ("outside the limits", miss_in)):
        for i in np.flatnonzero(mask):
            result.exceptions.append([code, str(days[i]), what, prev[i], up[i], down[i], o[i], h[i], lo[i], c[i]])


def MS_ST_BOARDS(code: str) -> bool:
    """Boards where a risk warning narrows the band (the main boards)."""
    return R.board_of(code) in ("sh_main", "sz_main")


def audit(bars: pd.DataFrame, rules: R.Rules = R.DEFAULT) -> Audit:
    """Audit every stock in ``bars`` (canonical columns, ``adj_factor`` when the prices are raw).

    A stock whose first row comes after the frame's first date is taken as listed that day (its first
    sessions are a new listing's); the others as seasoned.
    """
    result = Audit()
    if bars.empty:
        return result
    bars = bars.sort_values(["code", "date"], kind="stable")
    first = bars["date"].min()
    has_factor = "adj_factor" in bars
    code_col = bars["code"].astype(str).to_numpy()
    starts = np.flatnonzero(np.r_[True, code_col[1:] != code_col[:-1]])
    ends = np.r_[starts[1:], len(bars)]
    cols = {k: bars[k].to_numpy() for k in ("date", "open", "high", "low", "close")}
    factor = bars["adj_factor"].to_numpy(dtype="float64") if has_factor else None
    for s, e in zip(starts, ends):
        audit_code(result, code_col[s], cols["date"][s:e], cols["open"][s:e], cols["high"][s:e], cols["low"][s:e],
                   cols["close"][s:e], factor[s:e] if has_factor else None,
                   listed_in_data=bool(cols["date"][s] > first), rules=rules)
    return result
