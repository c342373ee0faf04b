"""Target sizing steps and the daily-bar fill rules of limit and stop orders: tables of cases."""

from __future__ import annotations

import pytest

from hypebt.engine.sizing import normalise_weights, sell_size, target_steps
from hypebt.market import rules as R
from hypebt.market.triggers import fill_price, trigger_price

BAR = R.Bar(open=10.0, high=10.6, low=9.7, close=10.2)


@pytest.mark.parametrize("code, held, target, steps", [
    ("600519", 0, 1050, [("buy", 1000)]),          # rounded down to whole lots
    ("600519", 0, 99, []),                         # less than a lot: nothing
    ("600519", 1000, 1000, []),
    ("600519", 1000, 1720, [("buy", 700)]),
    ("600519", 1000, 450, [("sell", 500)]),        # toward the position: 500 held, not 400
    ("600519", 1050, 0, [("sell", 1050)]),         # to zero: the odd lot goes too
    ("600519", 1050, 100, [("sell", 900)]),
    ("600519", 300, -500, [("sell", 300)]),        # crossing zero: close first
    ("600519", 0, -250, [("short", 200)]),
    ("600519", -800, -300, [("cover", 500)]),
    ("600519", -800, -1000, [("short", 200)]),
    ("600519", -800, 400, [("cover", 800)]),
    ("688981", 0, 199, []),                        # STAR: at least 200
    ("688981", 0, 250.7, [("buy", 250)]),          # then any whole number
    ("688981", 1000, 850, []),                     # a 150-share STAR sale is below the minimum
    ("688981", 1000, 700, [("sell", 300)]),
    ("830799", 0, 123, [("buy", 123)]),            # Beijing: at least 100, then whole shares
])
def test_target_steps(code, held, target, steps):
    assert target_steps(code, held, target) == steps


def test_sell_size_never_above_held():
    assert sell_size("600519", 5000, 1050) == 1050 and sell_size("600519", 0, 1050) == 0
    with pytest.raises(ValueError):
        target_steps("600519", 0, float("nan"))


def test_weights_checked():
    assert normalise_weights({"600519": 0.5, "000001": -0.5}) == {"600519": 0.5, "000001": -0.5}
    with pytest.raises(ValueError, match="add up to 1.2"):
        normalise_weights({"600519": 0.7, "000001": 0.5})
    with pytest.raises(ValueError, match="must be a number"):
        normalise_weights({"600519": "half"})


@pytest.mark.parametrize("kind, side, price, expected", [
    # buy limit: at or below the open fills at the open; reached intraday fills at the limit
    ("limit", "buy", 10.5, 10.0), ("limit", "buy", 10.0, 10.0), ("limit", "buy", 9.8, 9.8),
    ("limit", "buy", 9.7, 9.7), ("limit", "buy", 9.6, None),
    # sell limit
    ("limit", "sell", 9.5, 10.0), ("limit", "sell", 10.4, 10.4), ("limit", "sell", 10.7, None),
    # buy stop: a gap through the stop fills at the open
    ("stop", "buy", 9.9, 10.0), ("stop", "buy", 10.5, 10.5), ("stop", "buy", 10.7, None),
    # sell stop (stop-loss): a gap down fills at the open, below the stop
    ("stop", "sell", 10.3, 10.0), ("stop", "sell", 9.8, 9.8), ("stop", "sell", 9.6, None),
])
def test_trigger_price(kind, side, price, expected):
    assert trigger_price(kind, side, price, BAR) == expected


def test_slippage_never_beyond_a_limit():
    r = R.Rules(slippage_ticks=2)
    assert fill_price("limit", "buy", 10.01, BAR, r) == 10.01    # open 10.00 + 2 ticks capped at 10.01
    assert fill_price("limit", "buy", 10.5, BAR, r) == 10.02
    assert fill_price("limit", "sell", 10.4, BAR, r) == 10.4     # 10.40 - 2 ticks would be below the limit
    assert fill_price("stop", "sell", 9.8, BAR, r) == 9.78       # a stop is a market order once triggered
    assert fill_price("stop", "buy", 10.7, BAR, r) is None


def test_bad_orders():
    with pytest.raises(ValueError, match="kind"):
        trigger_price("trailing", "buy", 10.0, BAR)
    with pytest.raises(ValueError, match="positive"):
        trigger_price("limit", "buy", 0.0, BAR)
