"""Target sizing: the orders that take a position from what is held to a target.

Sizes are rounded to what the board allows (:func:`hypebt.market.rules.buy_size`, and for sells
:func:`hypebt.market.rules.check_sell_size`: whole lots, or the whole odd remainder), always toward
the current position: a target is approached, never overshot. A target on the other side of zero
(long to short) first closes the position; the other side is opened by a later target, once the
close has filled (shorting while still long is refused by the order checks).
"""

from __future__ import annotations

import math

from hypebt.market import rules as R


def sell_size(code: str, wanted: float, held: int, rules: R.Rules = R.DEFAULT) -> int:
    """Largest valid sale of at most ``wanted`` shares out of ``held`` (all of them when
    ``wanted >= held``); 0 when none is valid.

    >>> sell_size("600519", 250, 1000), sell_size("600519", 2000, 1050), sell_size("688981", 150, 1000)
    (200, 1050, 0)
    """
    if held <= 0 or not wanted > 0:
        return 0
    if wanted >= held:
        return held
    size = R.buy_size(code, wanted, rules)  # the board's lot rounding, the same for both sides
    return size if size and R.check_sell_size(code, size, held, rules) is None else 0


def target_steps(code: str, held: int, target: float, rules: R.Rules = R.DEFAULT) -> list[tuple[str, int]]:
    """``[(side, shares)]`` taking ``held`` (signed shares) toward ``target`` (signed shares).

    >>> target_steps("600519", 0, 1050), target_steps("600519", 1000, 450), target_steps("600519", 300, -500)
    ([('buy', 1000)], [('sell', 500)], [('sell', 300)])
    >>> target_steps("600519", -800, -300), target_steps("600519", 0, -250)
    ([('cover', 500)], [('short', 200)])
    """
    if isinstance(target, bool) or not isinstance(target, (int, float)) or math.isnan(target):
        raise ValueError(f"a target must be a number of shares, got {target!r}")
    if held > 0:
        if target >= held:
            step = ("buy", R.buy_size(code, target - held, rules))
        else:
            step = ("sell", sell_size(code, held - max(target, 0), held, rules))
    elif held < 0:
        if target <= held:
            step = ("short", R.buy_size(code, held - target, rules))
        else:
            step = ("cover", sell_size(code, min(target, 0) - held, -held, rules))
    elif target > 0:
        step = ("buy", R.buy_size(code, target, rules))
    elif target < 0:
        step = ("short", R.buy_size(code, -target, rules))
    else:
        return []
    return [step] if step[1] > 0 else []


def shares_for_value(value: float, price: float) -> float:
    """Signed (fractional) shares worth ``value`` CNY at ``price``; rounded later by the steps."""
    if not price > 0:
        raise ValueError(f"cannot size an order at a price of {price!r}")
    return value / price


def normalise_weights(weights: dict[str, float], where: str = "weights") -> dict[str, float]:
    """Check per-stock weights (fractions of equity, negative = short): numbers, gross <= 1.

    >>> normalise_weights({"600519": 0.3, "000001": 0.2})
    {'600519': 0.3, '000001': 0.2}
    """
    out = {}
    for code, w in weights.items():
        if isinstance(w, bool) or not isinstance(w, (int, float)) or math.isnan(w):
            raise ValueError(f"{where}: the weight of {code} must be a number, got {w!r}")
        out[code] = float(w)
    gross = sum(abs(w) for w in out.values())
    if gross > 1 + 1e-9:
        raise ValueError(f"{where}: the weights add up to {gross:.4f} of equity (gross); keep them at most 1")
    return out
