"""Do the engine's limit prices explain the traded prices? Price limits checked against real raw bars.

The limits checked are the ones a run reads: the market panel (:func:`hypebt.market.panel.build`,
what :mod:`hypebt.engine.market` builds for a run) of a store of traded prices with their
adjustment factor (``stock_raw``), built at once for every code over its stored history — the
reference price on ex-dates, the board's band, the dated ST status the engine's checks apply (a
dated ``st_history`` list when given, else inferred from the bars up to the session, its own
one-price bar included, as :func:`hypebt.market.status.day_limits`; else the static ``st_codes``), a new
listing's free sessions. Then two figures, counting only those limits:

- **one-price sessions at the computed limit**: of the sessions that traded all day at one price
  at least 4.5 % away from the reference price (only a limit holds a price there all day: a 一字板),
  the share that sits exactly on the panel's limit-up or limit-down;
- **rows inside their limits**: of the sessions with limits, the share whose high and low stay
  within the panel's limits.

Every miss is an exception, listed with its figures and a ``kind`` saying what it fits instead.
The kind is a description, never counted as a hit: choosing, after the fact, the ST status that
makes a bar fit is not evidence of it.

>>> audit(bars).lines()          # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hypebt.market import panel as MP
from hypebt.market import rules as R
from hypebt.market import status as MS

# A one-price session this far from the reference price can only be a limit lock.
LOCK_MOVE = 0.045
_EPS = 1e-6
EXCEPTION_COLUMNS = ["code", "date", "what", "kind", "st", "reference", "limit_up", "limit_down", "open", "high",
                     "low", "close"]

KINDS = {
    "st_unknown": "at or inside the ST band's limits, the stock taken as not ST (no evidence of the risk warning "
                  "up to that session)",
    "st_stale": "beyond the ST band, the stock taken as ST (the warning lifted, or older evidence)",
    "factor_late": "fits if the adjustment factor had moved one session earlier (the source's factor is late)",
    "unexplained": "fits none of these",
}


@dataclass
class Audit:
    """The figures of :func:`audit` (counts of stock-sessions) and its exceptions."""

    rows: int = 0
    no_limit: dict = field(default_factory=lambda: {"first row (no previous close)": 0, "new listing": 0})
    limited: int = 0
    inside: int = 0
    one_price_up: int = 0
    one_price_down: int = 0
    at_limit_up: int = 0
    at_limit_down: int = 0
    locked: int = 0  # one-price limit sessions the panel's flags lock (the blocked side refused)
    st_source: dict = field(default_factory=dict)  # traded stock-sessions per ST source
    exceptions: list = field(default_factory=list)

    @property
    def one_price(self) -> int:
        return self.one_price_up + self.one_price_down

    @property
    def at_limit_share(self) -> float:
        """Share of one-price limit sessions exactly on the panel's limit-up or limit-down."""
        return (self.at_limit_up + self.at_limit_down) / self.one_price if self.one_price else float("nan")

    @property
    def inside_share(self) -> float:
        """Share of rows with limits whose high and low stay inside the panel's limits."""
        return self.inside / self.limited if self.limited else float("nan")

    def exceptions_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.exceptions, columns=EXCEPTION_COLUMNS)

    def kind_counts(self) -> dict[str, dict[str, int]]:
        """what ("one-price, not at the limit" / "outside the limits") -> kind -> count."""
        frame = self.exceptions_frame()
        return {what: {k: int(((frame["what"] == what) & (frame["kind"] == k)).sum()) for k in KINDS}
                for what in ("one-price, not at the limit", "outside the limits")}

    def lines(self, show: int = 20) -> list[str]:
        """The printed report: figures, the exceptions by kind, then the first ``show`` of them."""
        counts = self.kind_counts()
        kinds = lambda what: "; ".join(f"{n:,} {k}" for k, n in counts[what].items() if n)  # noqa: E731
        out = [
            f"rows: {self.rows:,} stock-sessions; with limits: {self.limited:,}; without: "
            + ", ".join(f"{n:,} {what}" for what, n in self.no_limit.items()),
            "ST status per traded stock-session: {:,} from a dated st_history list, {:,} inferred from the bars before "
            "it, {:,} without evidence (not ST unless the names snapshot says so)".format(
                *(self.st_source.get(s, 0) for s in ("st_history", "inferred", "names"))),
            f"share of one-price sessions at the computed limit: {self.at_limit_share:.4%} of {self.one_price:,} "
            f"(limit-up {self.at_limit_up:,} of {self.one_price_up:,}, limit-down {self.at_limit_down:,} of "
            f"{self.one_price_down:,}); missed: {kinds('one-price, not at the limit') or 'none'}",
            f"share of rows inside their limits: {self.inside_share:.4%} of {self.limited:,}; outside: "
            f"{kinds('outside the limits') or 'none'}",
            f"one-price limit sessions the engine locks (一字板: the blocked side refused all session): {self.locked:,} "
            f"of {self.one_price:,} = {self.locked / max(self.one_price, 1):.4%}",
            f"exceptions: {len(self.exceptions):,} (" + "; ".join(f"{k}: {v}" for k, v in KINDS.items()) + ")",
        ]
        frame = self.exceptions_frame()
        if len(frame) and show:
            with pd.option_context("display.width", 220, "display.max_columns", 20):
                out += ["  " + line for line in frame.head(show).to_string(index=False).splitlines()]
            if len(frame) > show:
                out.append(f"  ... and {len(frame) - show:,} more")
        return out


def audit(bars: pd.DataFrame, rules: R.Rules = R.DEFAULT, *, st_static=(), st_history: pd.DataFrame | None = None,
          st_covered_to=None) -> Audit:
    """Audit every stock in ``bars`` (canonical columns, ``adj_factor`` when the prices are raw)
    against the market panel a run builds of them.

    The sessions are the dates of ``bars``; a stock whose first row comes after the frame's first
    date is taken as listed that day (its first sessions are a new listing's), the others as
    seasoned. ``st_static``, ``st_history``, ``st_covered_to``: the ST inputs a run passes
    (:func:`hypebt.market.panel.build`).
    """
    result = Audit()
    if bars.empty:
        return result
    bars = bars.sort_values(["code", "date"], kind="stable").reset_index(drop=True)
    bars["code"] = bars["code"].astype(str)
    sessions = pd.DatetimeIndex(np.unique(bars["date"].to_numpy()))
    panel = MP.build(bars, sessions, first_store_date=sessions[0], rules=rules, st_static=st_static,
                     st_history=st_history, st_covered_to=st_covered_to)
    j = pd.Index(panel.codes).get_indexer(bars["code"])
    s = sessions.get_indexer(bars["date"])
    col = {k: panel.columns[k][j, s] for k in ("prev_close", "limit_up", "limit_down", "st", "st_day", "locked_up",
                                               "locked_down")}
    result.st_source = {name: int(n) for name, n in
                        zip(("st_history", "inferred", "names"), np.bincount(panel.st_source[j, s], minlength=3))}
    o, h, lo, c = (bars[k].to_numpy(dtype="float64") for k in ("open", "high", "low", "close"))
    prev, st = col["prev_close"], col["st_day"]
    # the limits the order checks apply (the session's own ST status), not the ones shown at the open
    up, down = MS.day_limits(list(bars["code"]), bars["date"].to_numpy(), prev, col["limit_up"], col["limit_down"],
                             col["st"], st, rules)
    has = ~np.isnan(up)
    result.rows = len(bars)
    result.no_limit["first row (no previous close)"] = int(np.isnan(prev).sum())
    result.no_limit["new listing"] = int((~has & ~np.isnan(prev)).sum())
    result.limited = int(has.sum())
    with np.errstate(invalid="ignore"):
        move = c / prev - 1
        one = has & (h - lo <= _EPS) & (np.abs(move) >= LOCK_MOVE)
    inside, at = _inside(h, lo, up, down, has), one & _at(c, up, down)
    result.locked = int((one & (((move > 0) & col["locked_up"]) | ((move < 0) & col["locked_down"]))).sum())
    result.inside = int(inside.sum())
    result.one_price_up, result.one_price_down = int((one & (move > 0)).sum()), int((one & (move < 0)).sum())
    result.at_limit_up, result.at_limit_down = int((at & (move > 0)).sum()), int((at & (move < 0)).sum())
    miss_at, miss_in = one & ~at, has & ~inside
    kind = _kinds(bars, miss_at | miss_in, prev, st, o, h, lo, c, rules)
    days = bars["date"].dt.date.astype(str).to_numpy()
    codes = bars["code"].to_numpy()
    for what, mask in (("one-price, not at the limit", miss_at), ("outside the limits", miss_in)):
        for i in np.flatnonzero(mask):
            result.exceptions.append([codes[i], days[i], what, kind[i], bool(st[i]), prev[i], up[i], down[i], o[i],
                                      h[i], lo[i], c[i]])
    result.exceptions.sort(key=lambda e: (e[0], e[1]))
    return result


def _at(c, up, down):
    with np.errstate(invalid="ignore"):
        return (np.abs(c - up) <= _EPS) | (np.abs(c - down) <= _EPS)


def _inside(h, lo, up, down, has):
    with np.errstate(invalid="ignore"):
        return has & (h <= up + _EPS) & (lo >= down - _EPS)


def _kinds(bars, miss, prev, st, o, h, lo, c, rules) -> np.ndarray:
    """For each missed row, what its bar fits instead (:data:`KINDS`): a description of the miss."""
    kind = np.full(len(bars), "", dtype=object)
    rows = np.flatnonzero(miss)
    if not len(rows):
        return kind
    codes = bars["code"].to_numpy()[rows]
    days = bars["date"].to_numpy()[rows]
    one = h[rows] - lo[rows] <= _EPS

    def fits(p, st_flag):
        u, d = R.limits_array(list(codes), days[None, :].T, p[:, None], st=st_flag[:, None], rules=rules)
        u, d = u[:, 0], d[:, 0]
        return np.where(one, _at(c[rows], u, d), _inside(h[rows], lo[rows], u, d, ~np.isnan(u)))

    main = np.isin([R.board_of(x) for x in codes], ("sh_main", "sz_main"))
    other = fits(prev[rows], ~st[rows]) & main
    kind[rows] = "unexplained"
    kind[rows[other & ~st[rows]]] = "st_unknown"
    kind[rows[other & st[rows]]] = "st_stale"
    if "adj_factor" in bars:
        # The reference price as if each factor move had come one session earlier (the source late):
        # the previous traded close carried by the factor series shifted back one session.
        code = bars["code"].to_numpy()
        same_prev = np.r_[False, code[1:] == code[:-1]]
        same_next = np.r_[same_prev[1:], False]
        f = bars["adj_factor"].to_numpy(dtype="float64")
        early = np.where(same_next, np.r_[f[1:], np.nan], f)  # each row's factor taken from the next row
        early_prev = np.where(same_prev, np.r_[np.nan, early[:-1]], np.nan)
        close_prev = np.where(same_prev, np.r_[np.nan, c[:-1]], np.nan)
        p = R.reference_close_array(close_prev[rows], early_prev[rows], early[rows])
        late = fits(p, st[rows]) & (kind[rows] == "unexplained")
        kind[rows[late]] = "factor_late"
    return kind
