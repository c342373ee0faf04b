"""Which session a move of the adjustment factor belongs to: the ex-date is where the price drops.

A source's ``adj_factor`` (adjusted / raw) should move on the ex-date itself, the session whose
limits start from the exchange's reference price (:mod:`hypebt.market.rules_exright`). In the shared
raw data it sometimes moves one session late (the price drops on day *d*, the factor on *d+1*:
28 cases in 2021-01..2026-05, most in the source's last weeks), and once it moves where the price
does not drop at all (302132 on 2025-02-18, a code change whose factor was re-based). Read as it is,
such a factor credits the distribution on the wrong day (or one that never happened) and puts that
day's limits on the wrong reference price.

:func:`factor_timing` decides each move from the bars with the price-limit rule, which no traded
bar can break: a hypothesis is *possible* where every bar it touches stays inside the limits it
gives (the board's band, the wider non-ST one since a risk warning is not known here, plus
:data:`TOLERANCE` for a reference price computed from a rounded factor).

- **late**: the move at *d+1* belongs to *d* when that reading is possible (day *d* inside the limits
  of ``close[d-1] x ratio``, day *d+1* inside those of ``close[d]``) and the factor's own reading is
  not (one of the two bars outside its limits). The factor is moved a session earlier.
- **contradicted**: neither the factor's reading nor the late one is possible but the bar is inside
  the limits of the plain previous close: the prices show no distribution. The move is taken out of
  the factor (the earlier history rescaled), so nothing is credited and the limits start from the
  previous close.
- otherwise the factor is kept as it is: either reading fits the bars (small distributions, whose
  day the limits cannot tell), or neither does (left to the plausibility check and the audit).

Pure functions over one stock's arrays, no pandas.

>>> t = factor_timing("002393", ["2026-04-27", "2026-04-28", "2026-04-29"], [10.0, 8.10, 8.20],
...                   [9.8, 7.95, 8.00], [10.0, 8.05, 8.10], [1.0, 1.0, 1.25])
>>> t.late, t.factor.tolist()
([('2026-04-29', '2026-04-28')], [1.0, 1.25, 1.25])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hypebt.market.rules import EPS, limit_pct_array, price_limits_array
from hypebt.market.rules_exright import FACTOR_EPS, factor_ratio, reference_close_array

# A reference price from a factor (a float ratio) can miss the exchange's by a fen, and so can its limits.
TOLERANCE = 0.01
# A bar within this of its reference price is inside the narrowest non-ST band (10 %) whatever the rounding.
SURE_INSIDE = 0.095


@dataclass
class Timing:
    """The factor with each move on its ex-date, and the moves it changed (ISO dates):
    ``late`` (factor day, ex-date) pairs and ``contradicted`` factor days."""

    factor: np.ndarray
    late: list = field(default_factory=list)
    contradicted: list = field(default_factory=list)


def _inside(code: str, day, prev: float, high: float, low: float, ratio: float = 1.0) -> bool:
    """Whether a bar fits inside the limits (the board's band, not ST) from the reference price of
    ``prev`` moved by ``ratio`` (in fen, as the exchange rounds it); True without a limit."""
    reference = reference_close_array([prev], [ratio], [1.0])
    up, down = price_limits_array(reference, limit_pct_array(code, [day]), code=code)
    if np.isnan(up[0]):
        return True
    return bool(high <= up[0] + TOLERANCE + EPS and low >= down[0] - TOLERANCE - EPS)


def factor_timing(code: str, days, high, low, close, factor) -> Timing:
    """Decide every move of ``factor`` over one stock's rows in date order (module docstring)."""
    days = np.asarray(days, dtype="datetime64[D]")
    h, lo, c = (np.asarray(x, dtype="float64") for x in (high, low, close))
    f = np.array(factor, dtype="float64", copy=True)
    out = Timing(f)
    if len(f) < 2:
        return out
    ratio = factor_ratio(f[:-1], f[1:])
    moves = np.flatnonzero(np.abs(ratio - 1.0) > FACTOR_EPS) + 1
    if not len(moves):
        return out
    # Most moves fit their own reading well inside any band (10 % at the least, as ST is not assumed):
    # only the others are decided one by one.
    ref = c[moves - 1] * ratio[moves - 1]
    prev2 = np.where(moves >= 2, c[np.maximum(moves - 2, 0)], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        clear = (np.abs(h[moves] / ref - 1) < SURE_INSIDE) & (np.abs(lo[moves] / ref - 1) < SURE_INSIDE)
        clear &= (moves < 2) | ((np.abs(h[moves - 1] / prev2 - 1) < SURE_INSIDE)
                                & (np.abs(lo[moves - 1] / prev2 - 1) < SURE_INSIDE))
    for i in moves[~clear]:
        r = float(f[i - 1] / f[i])
        if not (r > 0) or not (c[i - 1] > 0):
            continue
        as_given = _inside(code, days[i], c[i - 1], h[i], lo[i], r)
        plain = _inside(code, days[i], c[i - 1], h[i], lo[i])
        before_ok = before_late = True
        if i >= 2 and abs(f[i - 2] / f[i - 1] - 1.0) <= FACTOR_EPS:
            before_ok = _inside(code, days[i - 1], c[i - 2], h[i - 1], lo[i - 1])
            before_late = _inside(code, days[i - 1], c[i - 2], h[i - 1], lo[i - 1], r)
        else:
            before_late = False  # no session before, or it moved itself: no late reading
        if plain and before_late and not (as_given and before_ok):
            f[i - 1] = f[i]
            out.late.append((str(days[i]), str(days[i - 1])))
        elif plain and not as_given:
            f[:i] *= f[i] / f[i - 1]
            out.contradicted.append(str(days[i]))
    return out
