"""Price orders on daily bars: where a resting limit or stop order fills within a session.

A daily bar says where a session opened and how far it went, not in which order: the fill rules
below are the conventional, conservative reading of one bar (backtrader, zipline and RQAlpha read
daily bars the same way), in A-share terms:

- **Buy limit at L** (pay at most L): the session opens at or below L → filled at the open (a
  better price); else trades down to L (low ≤ L) → filled at L; else not filled.
- **Sell limit at L** (receive at least L): opens at or above L → the open; high ≥ L → L.
- **Buy stop at S** (buy once the price rises to S): opens at or above S → the open (the session
  gapped through the stop); high ≥ S → S; else not triggered.
- **Sell stop at S** (a stop-loss): opens at or below S → the open (a gap down through the stop
  fills at the open, below S, not at S); low ≤ S → S.

After the trigger, the fill is an ordinary order of the session: the A-share checks still apply
(:func:`hypebt.market.rules.check_fill`: no buy at or above limit-up, no sale at or below
limit-down, nothing on a 一字板 or a suspended session; T+1 and lots in
:mod:`hypebt.market.orders`). A triggered order the market refuses for the day (limit-locked, T+1,
suspended) is not lost: it rests and is tried again at the next session, as a broker's condition
order (条件单) is re-sent each session. Exchange orders are day orders; a limit order lasting
several sessions is such a condition order too.

Slippage applies to market-like fills (the open of a stop, a stop's trigger price) but never takes
a limit order's price beyond its limit.

Prices are on the exchange's tick (最小报价单位 0.01 CNY, SSE/SZSE 交易规则 3.3.x): an order price
between two ticks is the tick that does not worsen it (:func:`on_tick`: a buy limit rounds down,
a sell limit up; a buy stop triggers at the tick at or above it, a sell stop at or below), so a
fill at a limit or a stop is a price the exchange could print, and its fees are those of that price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hypebt.market import rules as R

KINDS = ("limit", "stop")
# Refusals that last only the session: a resting order is tried again at the next one.
TRANSIENT = frozenset({"limit_up", "limit_down", "locked_limit_up", "locked_limit_down", "t_plus_1",
                       "suspended"})


@dataclass(frozen=True)
class Terms:
    """What a price order asks: ``kind`` ("limit", "stop" or "stoplimit"), ``price`` (the limit, or
    the stop), ``plimit`` (a stop-limit's limit) and ``triggered`` (a stop-limit whose stop was reached
    on an earlier session: a limit order at ``plimit`` since). The order desk works out the fill price
    from them and the session's bar (:func:`reach`); no one hands it a price."""

    kind: str
    price: float
    plimit: float | None = None
    triggered: bool = False


def on_tick(price: float, up: bool, tick: float = 0.01) -> float:
    """``price`` on the tick grid, rounded ``up`` or down (a price on the grid stays).

    >>> on_tick(22.19845, up=False), on_tick(22.19845, up=True), on_tick(10.2, up=True)
    (22.19, 22.2, 10.2)
    """
    steps = round(price / tick, 6)  # 10.2 / 0.01 = 1019.9999999999999: on the grid, not below it
    return round((math.ceil(steps) if up else math.floor(steps)) * tick, 6)


def reach(terms: Terms, side: str, bar: R.Bar, tick: float = 0.01) -> tuple[bool, float | None, float | None]:
    """A price order on one bar: ``(triggered, price, cap)``; ``price`` before slippage (None when
    nothing fills this session), ``cap`` the limit slippage never passes. The order's prices are
    first put on the tick (:func:`on_tick`) so that they do not worsen.

    >>> bar = R.Bar(open=22.5, high=22.6, low=22.1, close=22.3)
    >>> reach(Terms("limit", 22.19845), "buy", bar), reach(Terms("stop", 22.555), "buy", bar)
    ((True, 22.19, 22.19), (True, 22.56, None))
    """
    buy = side == "buy"
    if terms.kind == "limit":
        limit = on_tick(terms.price, up=not buy, tick=tick)
        raw = trigger_price("limit", side, limit, bar)
        return raw is not None, raw, limit
    stop = on_tick(terms.price, up=buy, tick=tick)
    if terms.kind == "stop":
        raw = trigger_price("stop", side, stop, bar)
        return raw is not None, raw, None
    if terms.kind != "stoplimit" or terms.plimit is None:
        raise ValueError(f"a price order is a limit, stop or stoplimit (with plimit), got {terms!r}")
    limit = on_tick(terms.plimit, up=not buy, tick=tick)
    if terms.triggered:
        return True, trigger_price("limit", side, limit, bar), limit
    triggered, raw = stop_limit_price(side, stop, limit, bar)
    return triggered, raw, limit if triggered else None


def trigger_price(kind: str, side: str, price: float, bar: R.Bar) -> float | None:
    """Where a ``kind`` ("limit"/"stop") order to ``side`` ("buy"/"sell") at ``price`` fills on
    ``bar``, before slippage; None when the bar does not reach it.

    >>> bar = R.Bar(open=10.0, high=10.6, low=9.7, close=10.2)
    >>> trigger_price("limit", "buy", 9.8, bar), trigger_price("limit", "buy", 10.5, bar)
    (9.8, 10.0)
    >>> trigger_price("stop", "sell", 9.8, bar), trigger_price("stop", "sell", 10.3, bar)
    (9.8, 10.0)
    >>> trigger_price("stop", "buy", 10.7, bar) is None
    True
    """
    if kind not in KINDS:
        raise ValueError(f"order kind must be one of {KINDS}, got {kind!r}")
    if side not in ("buy", "sell"):
        raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")
    if not price > 0:
        raise ValueError(f"a {kind} price must be positive, got {price!r}")
    # A buy limit and a sell stop fill when the price comes down to them; the others going up.
    down = (kind == "limit") == (side == "buy")
    if down:
        if bar.open <= price:
            return bar.open
        return price if bar.low <= price else None
    if bar.open >= price:
        return bar.open
    return price if bar.high >= price else None


def fill_price(kind: str, side: str, price: float, bar: R.Bar, rules: R.Rules = R.DEFAULT) -> float | None:
    """The fill price after slippage (:func:`hypebt.market.rules.slipped_price`), a limit order's
    never beyond its limit; None when not triggered.

    >>> r = R.Rules(slippage_ticks=2)
    >>> bar = R.Bar(open=10.0, high=10.6, low=9.7, close=10.2)
    >>> fill_price("limit", "buy", 10.01, bar, r), fill_price("stop", "sell", 9.8, bar, r)
    (10.01, 9.78)
    """
    raw = trigger_price(kind, side, price, bar)
    if raw is None:
        return None
    slipped = R.slipped_price(side, raw, bar, rules)
    if kind == "limit":
        slipped = min(slipped, price) if side == "buy" else max(slipped, price)
    return slipped


def stop_limit_price(side: str, stop: float, limit: float, bar: R.Bar) -> tuple[bool, float | None]:
    """A stop-limit order on one bar, not yet triggered: ``(triggered, price)``.

    Triggered at the open (a gap through the stop), it is a limit order at ``limit`` for the rest of
    the session (:func:`trigger_price`). Triggered during the session, it fills at the stop when the
    limit allows the stop price (a buy's ``limit >= stop``, a sell's ``limit <= stop``); otherwise a
    daily bar cannot say whether the price came back to the limit after touching the stop, so it
    does not fill that session and works on as a limit order. ``price`` is None when nothing fills.

    >>> bar = R.Bar(open=10.0, high=10.6, low=9.7, close=10.2)
    >>> stop_limit_price("buy", 10.5, 10.55, bar), stop_limit_price("buy", 10.5, 10.4, bar)
    ((True, 10.5), (True, None))
    >>> stop_limit_price("sell", 10.2, 10.1, bar), stop_limit_price("sell", 9.5, 9.4, bar)
    ((True, 10.1), (False, None))
    """
    if side not in ("buy", "sell"):
        raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")
    if not (stop > 0 and limit > 0):
        raise ValueError(f"a stop-limit order needs positive stop and limit prices, got {stop!r}, {limit!r}")
    if side == "buy":
        if bar.open >= stop:
            return True, trigger_price("limit", "buy", limit, bar)
        if bar.high >= stop:
            return True, (stop if limit >= stop else None)
        return False, None
    if bar.open <= stop:
        return True, trigger_price("limit", "sell", limit, bar)
    if bar.low <= stop:
        return True, (stop if limit <= stop else None)
    return False, None


def trail_stop(side: str, stop: float, reference: float, amount: float | None = None,
               percent: float | None = None) -> float:
    """A trailing stop moved by a new reference price (a session's close): a sell stop follows the
    price up at ``amount`` CNY (or ``percent``, a fraction) below it and never moves down; a buy stop
    follows it down from above. ``stop`` may be ±inf for a new order.

    >>> trail_stop("sell", 9.0, 10.5, amount=1.0), trail_stop("sell", 9.8, 10.5, percent=0.1)
    (9.5, 9.8)
    >>> trail_stop("buy", float("inf"), 10.0, percent=0.05)
    10.5
    """
    if amount:
        gap = float(amount)
    elif percent:
        gap = reference * float(percent)
    else:
        gap = 0.0
    if side == "sell":
        return max(stop, reference - gap)
    return min(stop, reference + gap)
