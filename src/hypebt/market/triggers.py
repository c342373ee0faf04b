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
"""

from __future__ import annotations

from hypebt.market import rules as R

KINDS = ("limit", "stop")
# Refusals that last only the session: a resting order is tried again at the next one.
TRANSIENT = frozenset({"limit_up", "limit_down", "locked_limit_up", "locked_limit_down", "t_plus_1",
                       "suspended"})


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
