"""China A-share market rules as pure functions and small frozen dataclasses.

Everything the engine needs to decide whether an order fills, and at what cost:
boards, price limits (涨跌停), fills at the limits, lot sizes, fees, slippage,
T+1, and margin lending (融券). No Backtrader and no pandas here: inputs are
plain floats, ints and :class:`datetime.date`, so each rule can be tested with a
table of real cases and called from any adapter.

Every default lives in one frozen dataclass, :class:`Rules`; a spec's
``[rules]`` TOML table overrides it through :func:`rules_from_mapping`. Rules
that changed over time are *dated tables*: tuples of ``(effective_date, value)``
read with :func:`rate_on`.

>>> fees("sell", 1000, 10.0, date(2023, 8, 28))
Fees(commission=5.0, stamp_duty=5.0, transfer_fee=0.1)
>>> price_limits(17.35, limit_pct("600519", date(2024, 5, 6)))
Limits(up=19.09, down=15.62)
"""

from __future__ import annotations

import dataclasses  # noqa: F401  (used by the docstring examples)
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

import numpy as np

from hypebt.core.codes import is_stock_code
from hypebt.core.errors import InputError, unknown

__all__ = [
    "BOARDS", "DEFAULT", "REFUSAL_REASONS", "Bar", "Fees", "Limits", "Rules",
    "board_of", "board_opened", "borrow_fee", "buy_size", "can_cover", "can_sell", "check_buy_size",
    "check_fill", "check_sell_size", "check_short", "closed_at_limit", "fees", "for_prices",
    "ipo_first_day_limits", "is_locked", "is_st", "limit_flags", "limit_pct", "limit_pct_array",
    "limits_array", "limits_for", "margin_ratio", "price_limits", "price_limits_array", "rate_on",
    "round_half_up", "rules_from_mapping", "sellable_shares", "slipped_price", "tick_size", "to_fen",
]

BOARDS = ("sh_main", "sz_main", "star", "chinext", "bse")

# Dates the regimes changed, each the first session under the new rule. (STAR needs none: it
# opened on 2019-07-22 already registration-based.)
CHINEXT_REFORM = date(2020, 8, 24)     # 创业板注册制: 20 % limits for all ChiNext stocks, 5 free sessions
MAIN_BOARD_REFORM = date(2023, 4, 10)  # 主板注册制: first registration-based main-board listings

# Prices are quoted in fen; anything far below one fen is float noise, not a price difference.

def _dec(x) -> Decimal:
    """Exact decimal of a float's shortest repr (numpy floats too: their repr is not a number)."""
    return Decimal(repr(float(x)))

_EPS = 1e-6


# ---------------------------------------------------------------- defaults ---

@dataclass(frozen=True)
class Rules:
    """Every market-rule default in one place; field names are the spec's ``[rules]`` keys.

    Dated fields are tuples of ``(effective_date, value)`` in date order; see :func:`rate_on`.

    >>> Rules().commission_min, rate_on(Rules().stamp_duty, date(2023, 8, 28))
    (5.0, 0.0005)
    >>> dataclasses.replace(Rules(), short_enabled=False).short_enabled
    False
    """

    # Broker commission (佣金): a typical retail rate; the exchange handling fee (经手费) and the
    # CSRC levy (证管费) are normally bundled into it by brokers, so they are not separate here.
    commission_rate: float = 0.00025
    commission_min: float = 5.0
    # Stamp duty (印花税), sells only. 2008-09-19: 0.1 % on the seller only (before that it was
    # charged on both sides, which hypebt does not model: days before the first row use its value).
    # 2023-08-28: halved to 0.05 % (财政部/税务总局 announcement of 2023-08-27).
    stamp_duty: tuple = ((date(2008, 9, 19), 0.001), (date(2023, 8, 28), 0.0005))
    # Transfer fee (过户费), both sides, of the traded value, charged by CSDC (中国结算).
    # 2015-08-01: unified at 0.02 ‰ for Shanghai and Shenzhen (before, Shanghai charged on face
    # value and Shenzhen not at all; days before the first row use its value).
    # 2022-04-29: halved to 0.01 ‰ = 0.001 % (CSDC notice of 2022-04-28, to cut trading costs).
    # Beijing was 0.025 ‰ until 2022-04-29, then also 0.01 ‰; the small pre-2022 gap is not modelled.
    transfer_fee: tuple = ((date(2015, 8, 1), 0.00002), (date(2022, 4, 29), 0.00001))
    slippage_bps: float = 0.0
    slippage_ticks: int = 0
    # Minimum price step (最小报价单位) of every A-share board: 0.01 CNY. Slippage moves in ticks.
    tick: float = 0.01
    # Absolute CNY tolerance for "is this price at the limit". 0 for traded (raw) prices, which sit
    # on the fen grid. A run or study on forward-adjusted (qfq) prices uses qfq_limit_tolerance
    # instead (see for_prices): a limit recomputed from an adjusted close and the adjusted close
    # it is compared with can each be off the exchange's figure by about half a fen.
    limit_tolerance: float = 0.0
    qfq_limit_tolerance: float = 0.011
    # A one-price session (一字板) at the ST band's limit price (rules.st_limit_main from the previous
    # close), on a main board, is taken as locked even when the stock is not known to be ST: without
    # a dated ST list a 10 % band is assumed, and a whole session at exactly the 5 % limit is a lock.
    st_lock_evidence: bool = True
    # Optional model: a limit order priced at the limit fills if the board opened (traded away from
    # the limit) during the day. Off by default: a daily bar cannot say whether our order was queued.
    fill_at_limit_when_opened: bool = False
    short_enabled: bool = True
    borrow_rate: float = 0.08            # annual 融券 fee rate; brokers quote around 8 % to 10 %
    borrow_day_count: int = 360          # brokers accrue per calendar day on a 360-day year
    # A short opened on one session is covered no earlier than the next. This is hypebt's
    # conservative default (it mirrors T+1 for longs), not an exchange rule: set 0 to allow
    # covering in the same session (买券还券 on the day of the short sale).
    short_cover_min_sessions: int = 1
    # 融券保证金比例 (minimum margin for short sales), dated:
    # 2010-03-31 margin trading pilot opens, short-sale margin >= 50 %;
    # 2023-10-16 raised to 80 % (CSRC announcement of 2023-10-14);
    # 2024-07-22 raised to 100 % (CSRC announcement of 2024-07-10: the exchanges' notices take
    #   effect on 2024-07-22; relending was suspended from 2024-07-11). Private funds: 120 %.
    short_margin: tuple = ((date(2010, 3, 31), 0.5), (date(2023, 10, 16), 0.8), (date(2024, 7, 22), 1.0))
    lot_size: int = 100                  # main board and ChiNext: whole lots of 100 shares
    star_min_shares: int = 200           # STAR: at least 200 per order, then any whole number
    bse_min_shares: int = 100            # Beijing: at least 100 per order, then any whole number
    # New listings trade without limits for their first sessions: 5 on STAR (since 2019-07-22),
    # ChiNext (registration listings from 2020-08-24) and the main board (listings from 2023-04-10).
    no_limit_sessions: int = 5
    bse_no_limit_sessions: int = 1       # Beijing: only the first session is free
    # ST / *ST limit on the main board (and on ChiNext before 2020-08-24). On 2025-06-27 the Shanghai
    # and Shenzhen exchanges proposed raising it to 10 %; the effective date is not confirmed here, so
    # it is not encoded: add e.g. [["1990-12-19", 0.05], ["YYYY-MM-DD", 0.10]] in a spec once known.
    st_limit_main: tuple = ((date.min, 0.05),)


DEFAULT = Rules()

# How rules_from_mapping checks each key's value.
_RATE, _MONEY, _INT, _BOOL, _DATED = "rate", "money", "int", "bool", "dated"
_KINDS: dict[str, str] = {
    "commission_rate": _RATE, "commission_min": _MONEY, "stamp_duty": _DATED,
    "transfer_fee": _DATED, "slippage_bps": _MONEY, "slippage_ticks": _INT, "tick": _MONEY,
    "limit_tolerance": _MONEY, "qfq_limit_tolerance": _MONEY, "st_lock_evidence": _BOOL,
    "fill_at_limit_when_opened": _BOOL, "short_enabled": _BOOL,
    "borrow_rate": _RATE, "borrow_day_count": _INT, "short_cover_min_sessions": _INT,
    "short_margin": _DATED, "lot_size": _INT, "star_min_shares": _INT, "bse_min_shares": _INT,
    "no_limit_sessions": _INT, "bse_no_limit_sessions": _INT, "st_limit_main": _DATED,
}
# Keys that must be strictly positive (a zero lot or day count would divide by zero or mean nothing).
_POSITIVE = {"lot_size", "star_min_shares", "bse_min_shares", "borrow_day_count", "tick"}
# Dated keys whose values are fractions of a trade value: 0.001 means 0.1 %, so 1 or more is a typo.
_FRACTION_TABLES = {"stamp_duty", "transfer_fee", "st_limit_main"}


def rules_from_mapping(mapping: dict, where: str) -> Rules:
    """Build :class:`Rules` from a spec's ``[rules]`` table, checking every key and value.

    Dated keys take a single number (constant) or a list of ``[date, value]`` pairs, the date a
    TOML date or an ISO string. Unknown keys get a "did you mean" error; wrong types and negative
    rates raise :class:`~hypebt.core.errors.InputError` naming ``where`` and the key.

    >>> r = rules_from_mapping({"commission_rate": 0.0003, "stamp_duty": 0.001}, "spec.toml [rules]")
    >>> r.commission_rate, r.stamp_duty
    (0.0003, ((datetime.date(1, 1, 1), 0.001),))
    >>> rules_from_mapping({"stamp_dutty": 0.001}, "spec.toml [rules]")
    Traceback (most recent call last):
    ...
    hypebt.core.errors.InputError: spec.toml [rules]: unknown rules key 'stamp_dutty' (did you mean 'stamp_duty'?); known: ...
    """
    if not isinstance(mapping, dict):
        raise InputError(f"{where}: [rules] must be a table of key = value, got {type(mapping).__name__}")
    values = {}
    for key, value in mapping.items():
        if key not in _KINDS:
            raise unknown("rules key", key, _KINDS, where)
        values[key] = _check_value(key, value, where)
    return Rules(**values)


def _check_value(key: str, value: object, where: str):
    kind = _KINDS[key]
    at = f"{where}: rules key {key!r}"
    if kind == _BOOL:
        if not isinstance(value, bool):
            raise InputError(f"{at} must be true or false, got {value!r}")
        return value
    if kind == _DATED:
        return _dated_table(key, value, at)
    if kind == _INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{at} must be a whole number, got {value!r}")
        _check_number(key, value, at)
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{at} must be a number, got {value!r}")
    _check_number(key, value, at)
    return float(value)


def _check_number(key: str, value: float, at: str) -> None:
    if math.isnan(value) or value < 0:
        raise InputError(f"{at} must not be negative, got {value!r}")
    if key in _POSITIVE and value == 0:
        raise InputError(f"{at} must be {'above 0' if _KINDS[key] == _MONEY else 'at least 1'}, got {value!r}")
    if _KINDS[key] == _RATE and value >= 1:
        raise InputError(f"{at} is a fraction (0.00025 means 0.025 %), got {value!r}")


def _dated_table(key: str, value: object, at: str) -> tuple:
    """Turn a number or a list of [date, value] pairs into a sorted tuple of (date, float)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        pairs = [(date.min, value)]
    elif isinstance(value, (list, tuple)) and value:
        pairs = []
        for item in value:
            if not (isinstance(item, (list, tuple)) and len(item) == 2):
                raise InputError(f"{at} must be a number or a list of [date, value] pairs, got item {item!r}")
            pairs.append((_as_date(item[0], at), item[1]))
    else:
        raise InputError(f"{at} must be a number or a list of [date, value] pairs, got {value!r}")
    table = []
    for day, rate in sorted(pairs, key=lambda p: p[0]):
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or math.isnan(rate):
            raise InputError(f"{at}: the value for {day} must be a number, got {rate!r}")
        if rate < 0:
            raise InputError(f"{at}: the value for {day} must not be negative, got {rate!r}")
        if key in _FRACTION_TABLES and rate >= 1:
            raise InputError(f"{at}: the value for {day} is a fraction (0.001 means 0.1 %), got {rate!r}")
        if key == "short_margin" and rate == 0:
            raise InputError(f"{at}: the margin ratio for {day} must be above 0")
        if table and table[-1][0] == day:
            raise InputError(f"{at}: date {day} is given twice")
        table.append((day, float(rate)))
    return tuple(table)


def _as_date(value: object, at: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InputError(f"{at}: {value!r} is not a date; write it as 2023-08-28 or \"2023-08-28\"")


def rate_on(table, day: date) -> float:
    """Value of a dated table on ``day``: the last row whose date is on or before ``day``.

    Days before the first row take the first row's value (a table is read as "from here on, and
    as far back as we model"). A plain number is a constant table.

    >>> table = ((date(2008, 9, 19), 0.001), (date(2023, 8, 28), 0.0005))
    >>> rate_on(table, date(2023, 8, 25)), rate_on(table, date(2023, 8, 28)), rate_on(table, date(2001, 1, 1))
    (0.001, 0.0005, 0.001)
    """
    if isinstance(table, (int, float)):
        return float(table)
    value = table[0][1]
    for start, rate in table:
        if start > day:
            break
        value = rate
    return value


# ------------------------------------------------------------------ boards ---

_BOARD_BY_HEAD = {"60": "sh_main", "00": "sz_main", "68": "star", "30": "chinext"}


def board_of(code: str) -> str:
    """Board of a 6-digit A-share code: one of :data:`BOARDS`.

    >>> board_of("600519"), board_of("000001"), board_of("688981"), board_of("300750"), board_of("830799")
    ('sh_main', 'sz_main', 'star', 'chinext', 'bse')
    """
    # hypebt.core.codes knows the valid prefixes (Shanghai 600-605, STAR 688/689, Shenzhen 000-003,
    # ChiNext 300-302, Beijing 4xxxxx/8xxxxx/92xxxx); the first two digits then name the board.
    # Shenzhen 002 was the SME board until it merged into the main board in 2021, same rules.
    if is_stock_code(code):
        return _BOARD_BY_HEAD.get(code[:2], "bse")
    raise InputError(
        f"{code!r} is not an A-share stock code on a known board: expected 6 digits such as "
        "600519 (Shanghai), 000001 (Shenzhen), 688981 (STAR), 300750 (ChiNext) or 830799 (Beijing)"
    )


_ST_PREFIX = re.compile(r"^(?:S\*ST|SST|\*ST|ST)")


def is_st(name: str | None) -> bool:
    """True when a stock name carries the ST / *ST risk-warning prefix (full-width forms too).

    >>> is_st("ST中程"), is_st("*ST左江"), is_st("ＳＴ长康"), is_st("＊ST 海投"), is_st("贵州茅台"), is_st(None)
    (True, True, True, True, False, False)
    """
    if not name:
        return False
    # NFKC folds full-width letters and the full-width asterisk (Ｓ, Ｔ, ＊) into ASCII.
    text = "".join(unicodedata.normalize("NFKC", name).split()).upper()
    return bool(_ST_PREFIX.match(text))


def tick_size(code: str, rules: Rules = DEFAULT) -> float:
    """Minimum price step (``rules.tick``): 0.01 CNY for every A-share board.

    >>> tick_size("688981")
    0.01
    """
    board_of(code)  # rejects non-stock codes, so a fund or index never gets a stock's tick by accident
    return rules.tick


# ---------------------------------------------------------- price limits ---

@dataclass(frozen=True)
class Limits:
    """A session's limit-up and limit-down prices; ``None`` means no limit that day."""

    up: float | None
    down: float | None


NO_LIMITS = Limits(None, None)


def round_half_up(x: float, places: int = 2) -> float:
    """Round half up (四舍五入) in decimal, so 2.675 rounds to 2.68 despite binary floats.

    >>> round_half_up(2.675), round(2.675, 2), round_half_up(3.025)
    (2.68, 2.67, 3.03)
    """
    return float(_dec(x).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP))


def to_fen(x: float) -> float:
    """CNY rounded to the fen (0.01), half up, as brokers bill: the package's one fen rounder.

    >>> to_fen(116.185), to_fen(0.005), to_fen(-1.005)
    (116.19, 0.01, -1.01)
    """
    return round_half_up(x, 2)


def _fen(value: Decimal, mode: str = ROUND_HALF_UP) -> float:
    """A decimal amount rounded to the fen (0.01 CNY), half up unless told otherwise."""
    return float(value.quantize(Decimal("0.01"), mode))


def limit_pct(
    code: str,
    day: date,
    *,
    st: bool = False,
    session_no: int | None = None,
    listed_on: date | None = None,
    rules: Rules = DEFAULT,
) -> float | None:
    """Daily price-limit fraction for ``code`` on ``day``, or ``None`` when the stock has no limit.

    ``session_no`` is the 1-based count of sessions since listing (``None``: unknown, treated as
    seasoned). ``listed_on`` decides which listing regime applies; when ``None`` the regime of
    ``day`` is assumed, which is wrong only for a stock listed in the few sessions before a reform.

    - main board 10 %, ST 5 % (``rules.st_limit_main``); STAR 20 %; ChiNext 20 % from 2020-08-24
      (10 %, ST 5 % before); Beijing 30 %; ST on STAR, ChiNext (from 2020-08-24) and Beijing keep
      their board's limit.
    - no limit for the first ``rules.no_limit_sessions`` sessions of STAR listings, ChiNext
      listings from 2020-08-24 and main-board listings from 2023-04-10; for the first
      ``rules.bse_no_limit_sessions`` on Beijing.
    - before those reforms a listing's first session returns ``None`` too: its band (+44 % / -36 %,
      from the IPO restart of early 2014) was set on the issue price, not a previous close, so it is not a fraction of
      ``prev_close``; use :func:`ipo_first_day_limits` when the issue price is known.

    >>> limit_pct("600519", date(2024, 5, 6)), limit_pct("600519", date(2024, 5, 6), st=True)
    (0.1, 0.05)
    >>> limit_pct("300750", date(2020, 8, 21)), limit_pct("300750", date(2020, 8, 24))
    (0.1, 0.2)
    >>> [limit_pct("688981", date(2024, 5, 6), session_no=n) for n in (5, 6)]
    [None, 0.2]
    """
    board = board_of(code)
    if session_no is not None:
        if session_no < 1:
            raise ValueError(f"session_no counts from 1, got {session_no}")
        if session_no <= _free_sessions(board, listed_on or day, rules):
            return None
    if board == "bse":
        return 0.30
    if board == "star":
        return 0.20
    if board == "chinext" and day >= CHINEXT_REFORM:
        return 0.20
    return rate_on(rules.st_limit_main, day) if st else 0.10


def _free_sessions(board: str, listed: date, rules: Rules) -> int:
    """How many first sessions of a listing trade without a limit."""
    if board == "bse":
        return rules.bse_no_limit_sessions
    if board == "star":
        return rules.no_limit_sessions
    reform = CHINEXT_REFORM if board == "chinext" else MAIN_BOARD_REFORM
    return rules.no_limit_sessions if listed >= reform else 1


def price_limits(prev_close: float, pct: float | None, *, code: str | None = None) -> Limits:
    """Limit-up and limit-down prices from the previous close.

    The exchanges round ``prev_close * (1 ± pct)`` half up to the fen (四舍五入), computed here in
    decimal so float error cannot move a price by a fen. Beijing (when ``code`` is given and on
    the Beijing board) never lets a limit exceed 30 %: limit-up is rounded down and limit-down up,
    as its real bars show (430198 on 2023-12-12: 6.56 * 1.3 = 8.528, limit-up 8.52).

    >>> price_limits(17.35, 0.10), price_limits(10.05, 0.10), price_limits(2.35, 0.05)
    (Limits(up=19.09, down=15.62), Limits(up=11.06, down=9.05), Limits(up=2.47, down=2.23))
    >>> price_limits(6.56, 0.30, code="430198"), price_limits(10.0, None)
    (Limits(up=8.52, down=4.6), Limits(up=None, down=None))
    """
    if pct is None:
        return NO_LIMITS
    base, step = _dec(prev_close), _dec(pct)
    up, down = base * (1 + step), base * (1 - step)
    if code is not None and board_of(code) == "bse":
        return Limits(_fen(up, ROUND_FLOOR), _fen(down, ROUND_CEILING))
    return Limits(_fen(up), _fen(down))


def limits_for(
    code: str,
    day: date,
    prev_close: float,
    *,
    st: bool = False,
    session_no: int | None = None,
    listed_on: date | None = None,
    rules: Rules = DEFAULT,
) -> Limits:
    """Both steps at once: :func:`limit_pct` then :func:`price_limits` with the board's rounding.

    >>> limits_for("300750", date(2024, 5, 6), 17.35)
    Limits(up=20.82, down=13.88)
    """
    pct = limit_pct(code, day, st=st, session_no=session_no, listed_on=listed_on, rules=rules)
    return price_limits(prev_close, pct, code=code)


def ipo_first_day_limits(issue_price: float) -> Limits:
    """First-session band of a pre-registration IPO (2014 to the reforms): +44 % / -36 % of issue price.

    >>> ipo_first_day_limits(10.0)
    Limits(up=14.4, down=6.4)
    """
    base = _dec(issue_price)
    return Limits(_fen(base * Decimal("1.44")), _fen(base * Decimal("0.64")))


# ------------------------------------------------------- fills at limits ---

@dataclass(frozen=True)
class Bar:
    """One session's open, high, low and close."""

    open: float
    high: float
    low: float
    close: float


def _check_side(side: str) -> None:
    if side not in ("buy", "sell"):
        raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")


def is_locked(bar: Bar, limits: Limits, side: str, tol: float = 0.0) -> bool:
    """True when the whole session traded at the limit that blocks ``side`` (一字板).

    A buy is blocked all day when every price sat at limit-up (nobody would sell below it and the
    queue of buyers at it never cleared); a sell, when every price sat at limit-down. A bar whose
    range went beyond the limit was not held by it (the computed limit does not apply, e.g. a
    relisting after a long gap): not locked; a one-price bar just beyond it (adjusted prices) is.

    >>> lim = Limits(up=11.0, down=9.0)
    >>> is_locked(Bar(11.0, 11.0, 11.0, 11.0), lim, "buy"), is_locked(Bar(10.5, 11.0, 10.4, 11.0), lim, "buy")
    (True, False)
    """
    _check_side(side)
    lim = limits.up if side == "buy" else limits.down
    return lim is not None and bool(_locked(bar.high, bar.low, lim, side, tol))


def check_fill(
    side: str,
    price: float,
    bar: Bar,
    limits: Limits,
    *,
    limit_order: bool = False,
    locked: bool | None = None,
    rules: Rules = DEFAULT,
) -> str | None:
    """``None`` if a fill at ``price`` is allowed, else the refusal reason (a key of REFUSAL_REASONS).

    A buy at or above limit-up is refused ("limit_up"), a sell at or below limit-down
    ("limit_down"); a session locked at the limit refuses that side all day ("locked_limit_up",
    "locked_limit_down"). ``rules.limit_tolerance`` widens "at the limit" for adjusted prices.
    With ``rules.fill_at_limit_when_opened``, a limit order priced at the limit fills when the
    board opened during the session. ``locked``, when given, is this side's 一字板 flag already
    computed by :func:`limit_flags` (which also applies ``rules.st_lock_evidence``).

    >>> lim = Limits(up=11.0, down=9.0)
    >>> opened_at_limit = Bar(open=11.0, high=11.0, low=10.6, close=11.0)
    >>> check_fill("buy", 10.9, opened_at_limit, lim), check_fill("buy", 11.0, opened_at_limit, lim)
    (None, 'limit_up')
    """
    _check_side(side)
    tol = rules.limit_tolerance
    if side == "buy":
        if limits.up is None:
            return None
        if is_locked(bar, limits, "buy", tol) if locked is None else locked:
            return "locked_limit_up"
        if price < limits.up - tol - _EPS:
            return None
        opened = bar.low < limits.up - tol - _EPS
        at_limit = abs(price - limits.up) <= tol + _EPS
        if rules.fill_at_limit_when_opened and limit_order and at_limit and opened:
            return None
        return "limit_up"
    if limits.down is None:
        return None
    if is_locked(bar, limits, "sell", tol) if locked is None else locked:
        return "locked_limit_down"
    if price > limits.down + tol + _EPS:
        return None
    opened = bar.high > limits.down + tol + _EPS
    at_limit = abs(price - limits.down) <= tol + _EPS
    if rules.fill_at_limit_when_opened and limit_order and at_limit and opened:
        return None
    return "limit_down"


def closed_at_limit(close: float, limits: Limits, side: str = "buy", tol: float = 0.0) -> bool:
    """True when the session closed at limit-up (``side="buy"``) or limit-down (``"sell"``).

    >>> closed_at_limit(11.0, Limits(11.0, 9.0)), closed_at_limit(10.98, Limits(11.0, 9.0), tol=0.011)
    (True, False)
    """
    _check_side(side)
    lim = limits.up if side == "buy" else limits.down
    return lim is not None and bool(_at_limit(close, lim, side, tol))


def board_opened(bar: Bar, limits: Limits, side: str = "buy", tol: float = 0.0) -> bool:
    """True when the session touched the limit and also traded away from it (the board opened).

    >>> board_opened(Bar(11.0, 11.0, 10.6, 11.0), Limits(11.0, 9.0)), board_opened(Bar(11.0, 11.0, 11.0, 11.0), Limits(11.0, 9.0))
    (True, False)
    """
    _check_side(side)
    lim = limits.up if side == "buy" else limits.down
    touched, away = (bar.high, bar.low) if side == "buy" else (bar.low, bar.high)
    return lim is not None and bool(_at_limit(touched, lim, side, tol)) and not _at_limit(away, lim, side, tol)


def for_prices(rules: Rules, adjusted: bool, explicit: bool = False) -> Rules:
    """``rules`` for a run or study on adjusted (qfq) or traded prices: on adjusted prices the limit
    tolerance becomes ``rules.qfq_limit_tolerance``, unless the spec set ``limit_tolerance`` itself
    (``explicit``).

    >>> for_prices(Rules(), adjusted=True).limit_tolerance, for_prices(Rules(), adjusted=False).limit_tolerance
    (0.011, 0.0)
    """
    if adjusted and not explicit:
        return dataclasses.replace(rules, limit_tolerance=rules.qfq_limit_tolerance)
    return rules


# ------------------------------------------- the same rules over arrays ---
# The engine's feed builds per-code arrays and a study a whole-market panel: these are the vectorised
# forms of limit_pct, price_limits and the lock tests above, giving the same answers (tests compare them).

def _at_limit(price, limit, side: str, tol: float):
    """Vectorised "price at or beyond the limit"; False where the limit is NaN (no limit)."""
    price, limit = np.asarray(price, dtype="float64"), np.asarray(limit, dtype="float64")
    with np.errstate(invalid="ignore"):
        return price >= limit - tol - _EPS if side == "buy" else price <= limit + tol + _EPS


def _locked(high, low, limit, side: str, tol: float):
    """Vectorised 一字板 test: the whole session, low to high, at the limit (see :func:`is_locked`)."""
    one_price = np.asarray(high, dtype="float64") - np.asarray(low, dtype="float64") <= tol + _EPS
    if side == "buy":
        return _at_limit(low, limit, "buy", tol) & (_at_limit(high, limit, "sell", tol) | one_price)
    return _at_limit(high, limit, "sell", tol) & (_at_limit(low, limit, "buy", tol) | one_price)


def _day_array(days) -> np.ndarray:
    return np.asarray(days, dtype="datetime64[D]")


def _dated_array(table, days: np.ndarray) -> np.ndarray:
    """:func:`rate_on` for an array of days."""
    starts = np.asarray([d for d, _ in table], dtype="datetime64[D]")
    values = np.asarray([v for _, v in table], dtype="float64")
    return values[np.maximum(np.searchsorted(starts, days, side="right") - 1, 0)]


def limit_pct_array(code: str, days, *, st=False, session_no=None, listed_on: date | None = None,
                    rules: Rules = DEFAULT) -> np.ndarray:
    """:func:`limit_pct` of ``code`` on each of ``days`` (NaN: no limit that day).

    ``st`` is one flag or one per day (a dated ST status); ``session_no`` one count per day, where
    values below 1 (or NaN) mean unknown, i.e. seasoned.

    >>> limit_pct_array("300750", ["2020-08-21", "2020-08-24"]).tolist()
    [0.1, 0.2]
    """
    board, days = board_of(code), _day_array(days)
    st = np.broadcast_to(np.asarray(st, dtype=bool), days.shape)
    main_band = np.where(st, _dated_array(rules.st_limit_main, days), 0.10)
    if board == "bse":
        pct = np.full(days.shape, 0.30)
    elif board == "star":
        pct = np.full(days.shape, 0.20)
    elif board == "chinext":
        pct = np.where(days >= np.datetime64(CHINEXT_REFORM), 0.20, main_band)
    else:
        pct = main_band
    if session_no is not None:
        n = np.asarray(session_no, dtype="float64")
        listed = days if listed_on is None else np.full(days.shape, np.datetime64(listed_on, "D"))
        if board in ("bse", "star"):
            free = np.full(days.shape, _free_sessions(board, date.max, rules))
        else:
            reform = np.datetime64(CHINEXT_REFORM if board == "chinext" else MAIN_BOARD_REFORM)
            free = np.where(listed >= reform, rules.no_limit_sessions, 1)
        with np.errstate(invalid="ignore"):
            pct = np.where((n >= 1) & (n <= free), np.nan, pct)
    return pct


def price_limits_array(prev_close, pct, *, code: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`price_limits` over arrays: ``(up, down)``, NaN where there is no limit or no previous close.

    Prices on the fen grid are computed exactly in integers (fen x basis points); any other price
    falls back to the decimal scalar rule, so both forms always agree.

    >>> up, down = price_limits_array([17.35, 6.56], [0.10, 0.30])
    >>> up.tolist(), price_limits_array([6.56], [0.30], code="430198")[0].tolist()
    ([19.09, 8.53], [8.52])
    """
    prev = np.atleast_1d(np.asarray(prev_close, dtype="float64"))
    pct = np.broadcast_to(np.asarray(pct, dtype="float64"), prev.shape)
    up, down = np.full(prev.shape, np.nan), np.full(prev.shape, np.nan)
    with np.errstate(invalid="ignore"):
        ok = (prev > 0) & ~np.isnan(pct)
    fen, bp = np.round(np.where(ok, prev, 0) * 100), np.round(np.where(ok, pct, 0) * 10_000)
    grid = ok & (np.abs(np.where(ok, prev, 0) * 100 - fen) < 1e-6) & (np.abs(np.where(ok, pct, 0) * 10_000 - bp) < 1e-6)
    fen, bp = fen.astype("int64"), bp.astype("int64")
    hi, lo = fen * (10_000 + bp), fen * (10_000 - bp)  # in 1e-6 CNY
    if code is not None and board_of(code) == "bse":
        up_fen, down_fen = hi // 10_000, -(-lo // 10_000)  # toward the inside
    else:
        up_fen, down_fen = (hi + 5_000) // 10_000, (lo + 5_000) // 10_000  # half up
    up[grid], down[grid] = up_fen[grid] / 100, down_fen[grid] / 100
    for i in np.flatnonzero(ok & ~grid):
        lim = price_limits(float(prev[i]), float(pct[i]), code=code)
        up[i], down[i] = lim.up, lim.down
    return up, down


def limits_array(code: str, days, prev_close, *, st=False, session_no=None, listed_on: date | None = None,
                 rules: Rules = DEFAULT) -> tuple[np.ndarray, np.ndarray]:
    """:func:`limits_for` over a code's sessions: ``(up, down)`` arrays, NaN where no limit.

    >>> limits_array("300750", ["2020-08-21", "2020-08-24"], [17.35, 17.35])[0].tolist()
    [19.09, 20.82]
    """
    pct = limit_pct_array(code, days, st=st, session_no=session_no, listed_on=listed_on, rules=rules)
    return price_limits_array(prev_close, pct, code=code)


def limit_flags(code: str, o, h, lo, c, up, down, *, prev_close=None, days=None, st=False,
                rules: Rules = DEFAULT) -> dict[str, np.ndarray]:
    """Each session's state at its limits, from its bar and its limit prices (arrays).

    Returns boolean arrays ``closed_up``/``closed_down`` (closed at the limit), ``locked_up``/
    ``locked_down`` (一字板: the whole session at the limit, that side cannot trade, as
    :func:`is_locked`) and ``opened_up``/``opened_down`` (touched the limit and traded away).
    With ``prev_close`` and ``days`` and ``rules.st_lock_evidence``, a main-board stock not flagged
    ``st`` whose whole session sat at the ST band's limit price also counts as locked.

    >>> f = limit_flags("600000", [11.0, 10.5], [11.0, 11.0], [11.0, 10.4], [11.0, 11.0], [11.0, 11.0], [9.0, 9.0])
    >>> f["locked_up"].tolist(), f["opened_up"].tolist(), f["closed_up"].tolist()
    ([True, False], [False, True], [True, True])
    """
    tol = rules.limit_tolerance
    h, lo, c = (np.asarray(x, dtype="float64") for x in (h, lo, c))
    flags = {
        "closed_up": _at_limit(c, up, "buy", tol), "closed_down": _at_limit(c, down, "sell", tol),
        "locked_up": _locked(h, lo, up, "buy", tol), "locked_down": _locked(h, lo, down, "sell", tol),
    }
    flags["opened_up"] = _at_limit(h, up, "buy", tol) & ~flags["locked_up"]
    flags["opened_down"] = _at_limit(lo, down, "sell", tol) & ~flags["locked_down"]
    if prev_close is not None and days is not None and rules.st_lock_evidence and _st_band_possible(code):
        st_pct = _dated_array(rules.st_limit_main, _day_array(days))
        st_up, st_down = price_limits_array(prev_close, st_pct, code=code)
        # Only where the stock has a limit at all (not on a new listing's free sessions), not known ST.
        unknown = ~np.broadcast_to(np.asarray(st, dtype=bool), c.shape) & ~np.isnan(np.asarray(up, dtype="float64"))
        flags["locked_up"] |= unknown & _locked(h, lo, st_up, "buy", tol)
        flags["locked_down"] |= unknown & _locked(h, lo, st_down, "sell", tol)
    return flags


def _st_band_possible(code: str) -> bool:
    """Boards where risk warning narrows the band to 5 % today: the main boards (ChiNext did so only
    before 2020-08-24, not inferred here)."""
    return board_of(code) in ("sh_main", "sz_main")


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
    _check_side(side)
    if shares < 0:
        raise ValueError(f"shares must not be negative, got {shares}")
    if shares == 0:
        return Fees(0.0, 0.0, 0.0)
    value = _dec(price) * shares
    commission = max(value * _dec(rules.commission_rate), _dec(rules.commission_min))
    stamp = value * _dec(rate_on(rules.stamp_duty, day)) if side == "sell" else Decimal(0)
    transfer = value * _dec(rate_on(rules.transfer_fee, day))
    return Fees(_fen(commission), _fen(stamp), _fen(transfer))


def slipped_price(side: str, price: float, bar: Bar, rules: Rules = DEFAULT) -> float:
    """Fill price after slippage: buys pay up, sells receive less, by bps then whole ticks.

    The result is rounded to the 0.01 tick against the trader (up for buys, down for sells) so a
    small slippage is never rounded away, then kept inside the bar's [low, high]. With no slippage
    configured the price is returned unchanged (adjusted prices stay off the tick grid).

    >>> r, bar = Rules(slippage_bps=10, slippage_ticks=1), Bar(10.0, 10.5, 9.8, 10.2)
    >>> slipped_price("buy", 10.0, bar, r), slipped_price("sell", 10.0, bar, r)
    (10.02, 9.98)
    """
    _check_side(side)
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

def borrow_fee(short_value: float, days: int, rules: Rules = DEFAULT) -> float:
    """融券 fee for holding a short of ``short_value`` CNY over ``days`` calendar days (unrounded).

    >>> borrow_fee(100_000, 30)
    666.6666666666666
    """
    return short_value * rules.borrow_rate * days / rules.borrow_day_count


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


# ----------------------------------------------------------------- reasons ---

REFUSAL_REASONS: dict[str, str] = {
    "limit_up": "buy at or above the limit-up price",
    "limit_down": "sell at or below the limit-down price",
    "locked_limit_up": "locked at limit-up all session (一字板): no seller",
    "locked_limit_down": "locked at limit-down all session (一字板): no buyer",
    "t_plus_1": "shares bought today can only be sold from the next session (T+1)",
    "suspended": "the stock did not trade that session (suspended)",
    "lot_size": "order size is not a whole lot for its board",
    "not_shortable": "short selling is off or the stock is not eligible for 融券",
    "cash": "not enough cash for the order and its fees",
    "margin": "not enough margin for the short sale",
    "no_position": "selling more shares than held",
}
