"""Order-level A-share rules: lot sizes, fees, slippage, T+1 and margin lending (融券).

Re-exported by :mod:`hypebt.market.rules`, the one place callers use. Defaults live in
:class:`hypebt.market.rules_base.Rules`.

>>> fees("sell", 1000, 10.0, date(2023, 8, 28))
Fees(commission=5.0, stamp_duty=5.0, transfer_fee=0.1)
"""

from __future__ import annotations

import functools

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from hypebt.market.rules_base import DEFAULT, EPS, Bar, Rules, board_of, check_side, dec, fen, rate_on

# -------------------------------------------------------------------- lots ---

def buy_size(code: str, shares_wanted: float, rules: Rules = DEFAULT) -> int:
    """Largest valid buy size not above ``shares_wanted`` (0 when none is).

    Main board and ChiNext buy in whole lots of 100; STAR at least 200, then any whole number;
    Beijing at least 100, then any whole number.

    >>> buy_size("600519", 250), buy_size("688981", 199.9), buy_size("688981", 250.7), buy_size("830799", 123)
    (200, 0, 250, 123)
    """
    board = board_of(code)
    if not shares_wanted > 0:  # also catches NaN
        return 0
    # A hair of tolerance so 299.99999999 from a division still counts as 300.
    whole = int(math.floor(shares_wanted + 1e-9))
    if board == "star":
        return whole if whole >= rules.star_min_shares else 0
    if board == "bse":
        return whole if whole >= rules.bse_min_shares else 0
    return whole // rules.lot_size * rules.lot_size


def board_lot(code: str, rules: Rules = DEFAULT) -> int:
    """The smallest buy order of ``code``'s board: a lot of 100 (main board, ChiNext), 200 shares
    (STAR), 100 shares (Beijing).

    >>> board_lot("600519"), board_lot("688981"), board_lot("830799")
    (100, 200, 100)
    """
    board = board_of(code)
    if board == "star":
        return rules.star_min_shares
    if board == "bse":
        return rules.bse_min_shares
    return rules.lot_size


def check_buy_size(code: str, shares: int, rules: Rules = DEFAULT) -> str | None:
    """``None`` if ``shares`` is a valid buy order size for ``code``, else ``"lot_size"``.

    >>> check_buy_size("600519", 300), check_buy_size("600519", 350), check_buy_size("688981", 201)
    (None, 'lot_size', None)
    """
    return None if shares > 0 and buy_size(code, shares, rules) == shares else "lot_size"


def check_sell_size(code: str, shares: int, held: int, rules: Rules = DEFAULT) -> str | None:
    """``None`` if selling ``shares`` out of ``held`` is valid, else ``"lot_size"`` or ``"no_position"``.

    Sells go in whole lots (main board, ChiNext) or at least the board's minimum (STAR 200,
    Beijing 100), except that a remainder below that must be sold in one order: selling all of
    ``held`` is always valid. Selling more than ``held`` is ``"no_position"``.

    >>> [check_sell_size("600519", shares, held=250) for shares in (250, 150, 100)]
    [None, 'lot_size', None]
    """
    if shares <= 0:
        return "lot_size"
    if shares > held:
        return "no_position"
    if shares == held:
        return None
    board = board_of(code)
    if board == "star":
        return None if shares >= rules.star_min_shares else "lot_size"
    if board == "bse":
        return None if shares >= rules.bse_min_shares else "lot_size"
    return None if shares % rules.lot_size == 0 else "lot_size"


# ------------------------------------------------------------------- costs ---

@dataclass(frozen=True)
class Fees:
    """The costs of one fill, each in CNY rounded to the fen."""

    commission: float
    stamp_duty: float
    transfer_fee: float

    @property
    def total(self) -> float:
        """Sum of the three, in CNY.

        >>> Fees(5.0, 0.5, 0.01).total
        5.51
        """
        return round(self.commission + self.stamp_duty + self.transfer_fee, 2)


def fees(side: str, shares: int, price: float, day: date, rules: Rules = DEFAULT) -> Fees:
    """Commission, stamp duty and transfer fee of one fill.

    commission = max(value * rate, minimum) (0 when no shares trade); stamp duty on sells only, at
    the rate in force on ``day``; transfer fee on both sides, dated too. Brokers bill in fen, so
    each part is rounded half up to 0.01 CNY on its own, in decimal.

    >>> fees("buy", 100, 10.0, date(2024, 1, 2))
    Fees(commission=5.0, stamp_duty=0.0, transfer_fee=0.01)
    >>> fees("sell", 25000, 12.1, date(2023, 8, 28))
    Fees(commission=75.63, stamp_duty=151.25, transfer_fee=3.03)
    """
    check_side(side)
    if shares < 0:
        raise ValueError(f"shares must not be negative, got {shares}")
    if shares == 0:
        return Fees(0.0, 0.0, 0.0)
    value = dec(price) * shares
    commission = max(value * _rate(rules.commission_rate), _rate(rules.commission_min))
    stamp = value * _rate(rate_on(rules.stamp_duty, day)) if side == "sell" else Decimal(0)
    transfer = value * _rate(rate_on(rules.transfer_fee, day))
    return Fees(fen(commission), fen(stamp), fen(transfer))


@functools.lru_cache(maxsize=256)
def _rate(x: float) -> Decimal:
    """:func:`dec` of a rate or minimum (a handful of values, asked at every fill)."""
    return dec(x)


def slipped_price(side: str, price: float, bar: Bar, rules: Rules = DEFAULT) -> float:
    """Fill price after slippage: buys pay up, sells receive less, by bps then whole ticks.

    The result is rounded to the 0.01 tick against the trader (up for buys, down for sells) so a
    small slippage is never rounded away, then kept inside the bar's [low, high]. With no slippage
    configured the price is returned unchanged (adjusted prices stay off the tick grid).

    >>> r, bar = Rules(slippage_bps=10, slippage_ticks=1), Bar(10.0, 10.5, 9.8, 10.2)
    >>> slipped_price("buy", 10.0, bar, r), slipped_price("sell", 10.0, bar, r)
    (10.02, 9.98)
    """
    check_side(side)
    if rules.slippage_bps == 0 and rules.slippage_ticks == 0:
        return price
    tick = rules.tick
    sign = 1 if side == "buy" else -1
    moved = price * (1 + sign * rules.slippage_bps / 10_000) + sign * rules.slippage_ticks * tick
    # round(…, 6) first so 10.0100000001 from float arithmetic is not pushed a whole tick further.
    steps = round(moved / tick, 6)
    steps = math.ceil(steps) if side == "buy" else math.floor(steps)
    return round(min(max(steps * tick, bar.low), bar.high), 6)


# --------------------------------------------------------------------- T+1 ---

def can_sell(bought_on: date, day: date) -> bool:
    """T+1: shares bought on a session can be sold from the next session on.

    >>> can_sell(date(2024, 5, 6), date(2024, 5, 6)), can_sell(date(2024, 5, 6), date(2024, 5, 7))
    (False, True)
    """
    return day > bought_on


def sellable_shares(held: int, buys, day: date) -> int:
    """Shares of ``held`` that may be sold on ``day``: all but those bought on sessions that
    :func:`can_sell` does not yet release. ``buys`` is an iterable of ``(bought_on, shares)``.

    >>> sellable_shares(500, [(date(2024, 5, 6), 200), (date(2024, 5, 7), 100)], date(2024, 5, 7))
    400
    """
    return max(0, held - sum(n for bought_on, n in buys if not can_sell(bought_on, day)))


# ---------------------------------------------------- margin lending (融券) ---

def borrow_rate_on(day: date, rules: Rules = DEFAULT) -> float:
    """The annual 融券 rate of a short sold on ``day`` (``rules.borrow_rate``, a dated table).

    >>> borrow_rate_on(date(2023, 8, 15))
    0.08
    """
    return rate_on(rules.borrow_rate, day)


def borrow_fee(short_value: float, days: int, rules: Rules = DEFAULT, sold_on: date | None = None) -> float:
    """融券 fee for holding a short of ``short_value`` CNY over ``days`` calendar days (unrounded),
    at the rate in force on its sale day ``sold_on`` (default: the table's latest rate).

    >>> borrow_fee(100_000, 30)
    666.6666666666666
    """
    return short_value * borrow_rate_on(sold_on or date.max, rules) * days / rules.borrow_day_count


def margin_ratio(day: date, rules: Rules = DEFAULT) -> float:
    """Minimum margin for a short sale on ``day`` (融券保证金比例), as a fraction of its value.

    >>> margin_ratio(date(2023, 10, 13)), margin_ratio(date(2023, 10, 16)), margin_ratio(date(2024, 7, 22))
    (0.5, 0.8, 1.0)
    """
    return rate_on(rules.short_margin, day)


def check_short(code: str, eligible: frozenset[str] | set[str], rules: Rules = DEFAULT) -> str | None:
    """``None`` if ``code`` may be sold short, else ``"not_shortable"``.

    >>> check_short("600519", {"600519"}), check_short("600000", {"600519"})
    (None, 'not_shortable')
    """
    return None if rules.short_enabled and code in eligible else "not_shortable"


def can_cover(opened_session_no: int, session_no: int, rules: Rules = DEFAULT) -> bool:
    """True when a short opened on session ``opened_session_no`` may be covered on ``session_no``.

    >>> can_cover(10, 10), can_cover(10, 11)
    (False, True)
    """
    return session_no - opened_session_no >= rules.short_cover_min_sessions


# ------------------------------------------------- short-sale price rule ---

def check_short_price(at: str, prev_close: float | None, bar: Bar, rules: Rules = DEFAULT,
                      price: float | None = None) -> tuple[str | None, float | None]:
    """融券卖出提价规则 for a short sale at the open or the close: ``(reason, price)``.

    A 融券 sale may not be priced below the latest trade, nor below the previous close before the
    session's first trade (``rules.short_price_rule``, see :class:`Rules` for the rule text). At the
    open the latest trade is the previous close, so a short fills there only if ``open >=
    prev_close``; at the close only if ``close >= prev_close`` (the close stands for the latest trade
    before the closing auction, whose own price may not fall below it either). When refused, the
    optional ``rules.short_fill_at_prev_close`` model fills at the previous close if the session's
    high reached it. Returns ``(None, None)`` when the price is allowed, ``(None, prev_close)`` for
    the optional fill, ``("short_price_rule", None)`` when refused.

    >>> bar = Bar(open=63.76, high=64.5, low=63.0, close=64.2)
    >>> check_short_price("open", 63.98, bar), check_short_price("close", 63.98, bar)
    (('short_price_rule', None), (None, None))
    >>> check_short_price("open", 63.98, bar, Rules(short_fill_at_prev_close=True))
    (None, 63.98)

    ``price``: a short sale triggered within the session (a limit or stop order) at that price: it
    trades only at or above the previous close too (the latest trade is not known from a daily bar;
    the previous close is the floor the rule always keeps).

    >>> check_short_price("open", 63.98, bar, price=63.5), check_short_price("open", 63.98, bar, price=64.0)
    (('short_price_rule', None), (None, None))
    """
    if not rules.short_price_rule or prev_close is None or not prev_close > 0:
        return None, None
    if price is not None:
        return (None, None) if price >= prev_close - EPS else ("short_price_rule", None)
    price = bar.close if at == "close" else bar.open
    if price >= prev_close - EPS:
        return None, None
    if rules.short_fill_at_prev_close and bar.high >= prev_close - EPS:
        return None, float(prev_close)
    return "short_price_rule", None


# ------------------------------------------------------ volume participation ---

def volume_cap(code: str, side: str, volume: float, held: int = 0, rules: Rules = DEFAULT) -> int | None:
    """Most shares one order may fill in a session of ``volume`` shares (``rules.volume_limit``), as a
    valid size for the board (a sale of the whole holding ``held`` stays valid); ``None``: no cap.

    >>> volume_cap("600519", "buy", 10_000), volume_cap("688981", "buy", 1_000), volume_cap("600519", "sell", 1_000, held=250)
    (2500, 250, 250)
    """
    check_side(side)
    if rules.volume_limit <= 0:
        return None
    cap = volume * rules.volume_limit
    if side == "sell" and held and cap >= held:
        return held
    return buy_size(code, cap, rules)
