"""The exchange's reference price on an ex-dividend / ex-rights day (除权除息参考价).

On an ex-date the previous close no longer prices the share: the exchange publishes a reference
price, and that day's price limits are computed from it, not from the traded previous close.
Source: 上海证券交易所交易规则 and 深圳证券交易所交易规则, section 除权与除息 (in force throughout the
data hypebt models; the formula has not changed since the markets opened):

    reference = [(previous close - cash dividend) + rights price x rights ratio] / (1 + share change ratio)

where the share change ratio (流通股份变动比例) counts bonus shares (送股), capitalisation shares
(转增) and rights shares (配股) per share held. The result is a price, so it is quoted in fen,
rounded half up (四舍五入) like every computed price.

Two forms: :func:`reference_price` from a dividend record (cash and shares per share), and
:func:`reference_close_array` from an adjustment factor (``adj_factor`` = adjusted / raw, which
moves by exactly the ratio reference / previous close on each ex-date), over arrays of any shape
so the engine's feeds and whole-market panels share it. Pure functions, no pandas.

>>> reference_price(1521.50, cash=30.876)      # 600519, ex-date 2024-06-19: 10 派 308.76
1490.62
>>> reference_close_array([19.69, 20.0], [1.0, 1.0], [1.0, 1.25]).tolist()
[19.69, 16.0]
"""

from __future__ import annotations

import numpy as np

from hypebt.market.rules_base import dec, fen, to_fen

# A factor ratio this close to 1 is float noise in a stored factor, not a corporate action.
FACTOR_EPS = 1e-9


def reference_price(prev_close: float, *, cash: float = 0.0, shares: float = 0.0, rights_price: float = 0.0,
                    rights_ratio: float = 0.0) -> float:
    """The exchange's ex-date reference price, in fen (half up), from the distribution per share.

    ``cash``: cash dividend per share (before tax); ``shares``: bonus plus capitalisation shares per
    share (10 送 3 转 2 is 0.5); ``rights_price`` and ``rights_ratio``: a rights issue's price and
    rights shares per share held.

    >>> reference_price(20.00, cash=0.5, shares=0.3)            # 10 送 3 派 5: (20 - 0.5) / 1.3
    15.0
    >>> reference_price(10.00, rights_price=5.0, rights_ratio=0.2)   # 10 配 2 at 5 CNY
    9.17
    """
    if prev_close <= 0 or cash < 0 or shares < 0 or rights_price < 0 or rights_ratio < 0:
        raise ValueError(f"a reference price needs a positive previous close and distributions >= 0, got "
                         f"prev_close={prev_close}, cash={cash}, shares={shares}, rights {rights_ratio} at {rights_price}")
    value = (dec(prev_close) - dec(cash) + dec(rights_price) * dec(rights_ratio)) / (1 + dec(shares) + dec(rights_ratio))
    return fen(value)


def factor_ratio(factor_prev, factor_now) -> np.ndarray:
    """``factor_prev / factor_now`` where both are positive, else 1 (no factor, no action): the ratio
    of the reference price to the previous close on an ex-date.

    >>> factor_ratio([6.566930770874, 1.0, np.nan], [6.628761768341, 1.0, 2.0]).round(6).tolist()
    [0.990672, 1.0, 1.0]
    """
    fp, fn = np.asarray(factor_prev, dtype="float64"), np.asarray(factor_now, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = (fp > 0) & (fn > 0)
        return np.where(ok, fp / np.where(ok, fn, 1.0), 1.0)


def reference_close_array(prev_close, factor_prev, factor_now) -> np.ndarray:
    """The close each session's limits start from: the previous close, or on an ex-date (the factor
    moved) the exchange's reference price ``previous close x factor_prev / factor_now`` in fen, half up.

    Arrays broadcast against each other (a code's sessions, or a sessions x codes panel); NaN
    previous closes stay NaN, a missing factor means no action.

    >>> reference_close_array([2068.05, 1685.01], [6.566930770874, 6.969311237335],   # 600519, 2021-06-25
    ...                       [6.628761768341, 6.969311237335]).tolist()
    [2048.76, 1685.01]
    """
    prev = np.asarray(prev_close, dtype="float64")
    ratio = factor_ratio(factor_prev, factor_now)
    prev, ratio = np.broadcast_arrays(prev, ratio)
    out = np.array(prev, dtype="float64", copy=True)
    flat, r = out.reshape(-1), ratio.reshape(-1)  # a view of ``out`` (0-d included)
    with np.errstate(invalid="ignore"):
        moved = np.flatnonzero((np.abs(r - 1.0) > FACTOR_EPS) & (flat > 0))
    # Ex-dates are rare (about one a stock-year), so the exact decimal rounding per moved entry is cheap.
    for i in moved:
        flat[i] = to_fen(float(flat[i]) * float(r[i]))
    return out


def distribution_from_factor(prev_close, factor_prev, factor_now) -> np.ndarray:
    """The cash-equivalent distribution per share a factor move shows: ``previous close x (1 - factor_prev
    / factor_now)``, unrounded (0 where the factor did not move; negative where it fell, which no
    distribution explains).

    >>> round(float(distribution_from_factor(2068.05, 6.566930770874, 6.628761768341)), 2)  # 600519, 2021-06-25
    19.29
    """
    prev = np.asarray(prev_close, dtype="float64")
    ratio = factor_ratio(factor_prev, factor_now)
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(ratio - 1.0) > FACTOR_EPS, prev * (1.0 - ratio), 0.0)
