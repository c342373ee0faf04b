"""The foundations of hypebt's A-share rules: every default in :class:`Rules`, reading a spec's
``[rules]`` table, dated tables, boards, and the decimal arithmetic of prices.

:mod:`hypebt.market.rules` is the one place callers use (it re-exports everything here); this
module holds what the other rule modules (:mod:`hypebt.market.trading`, the limits in
:mod:`hypebt.market.rules`) build on. Pure functions and frozen dataclasses, no Backtrader.
"""

from __future__ import annotations

import dataclasses  # noqa: F401  (used by the docstring examples)
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from hypebt.core.codes import is_stock_code
from hypebt.core.dates import parse_date
from hypebt.core.errors import InputError, unknown

BOARDS = ("sh_main", "sz_main", "star", "chinext", "bse")

# Dates the regimes changed, each the first session under the new rule. (STAR needs none: it
# opened on 2019-07-22 already registration-based.)
CHINEXT_REFORM = date(2020, 8, 24)     # 创业板注册制: 20 % limits for all ChiNext stocks, 5 free sessions
MAIN_BOARD_REFORM = date(2023, 4, 10)  # 主板注册制: first registration-based main-board listings


def dec(x) -> Decimal:
    """Exact decimal of a float's shortest repr (numpy floats too: their repr is not a number).

    >>> dec(2.675)
    Decimal('2.675')
    """
    return Decimal(repr(float(x)))


# Prices are quoted in fen; anything far below one fen is float noise, not a price difference.
EPS = 1e-6


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
    # Annual 融券 fee rate (融券费率), dated: the rate in force on a short's sale day applies to that
    # short until it is covered. No exchange rule sets it: each broker quotes its own in the credit
    # contract (typically 8 % to 10.6 % since the margin pilot opened on 2010-03-31). hypebt's default
    # is one row from that date at 8 %; put your broker's history as [[date, rate], ...] pairs.
    borrow_rate: tuple = ((date(2010, 3, 31), 0.08),)
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
    # 融券卖出提价规则 (the short-sale price rule): a 融券 sale may not be priced below the latest trade
    # price, nor below the previous close before the session's first trade (上交所/深交所《融资融券交易
    # 实施细则》, in force since the pilot opened on 2010-03-31; 北交所《融资融券交易细则》 carries the
    # same rule). At the open this means open >= previous close; at the close, close >= previous close.
    short_price_rule: bool = True
    # Optional model, off by default: a short refused at the open fills at the previous close when
    # the session's high reached it (a sale priced at the previous close, matched later in the day).
    short_fill_at_prev_close: bool = False
    # 维持担保比例 (maintenance collateral ratio) = (cash + long positions at market) / (shorts at
    # market + accrued interest). Brokers set the call line (平仓线 / 追保线) themselves; 130 % is the
    # common line of the exchanges' model contract (《融资融券交易实施细则》 2015 revision let brokers
    # set it; most kept 130 %), with two sessions (T+2) to restore it before forced liquidation.
    maintenance_call: float = 1.30
    maintenance_grace: int = 2
    # Volume participation: one order may take at most this share of the session's volume; the rest
    # is a partial fill. Daily volume stands in for the auction's volume, which daily bars lack.
    volume_limit: float = 0.25
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
    # 差别化红利税 (individual investors' tax on listed companies' dividends, by how long the shares were
    # held; hypebt.market.dividend_tax). Each row's date is the dividend's record date (股权登记日):
    # 2013-01-01 (财税〔2012〕85号): held 1 month or less 20 %, over 1 month up to 1 year 10 %, over 1 year 5 %;
    # 2015-09-08 (财税〔2015〕101号): over 1 year exempt. Charged when the shares are sold, first in first
    # out. Turn it off (dividend_tax = false) for accounts it does not apply to (funds, institutions).
    dividend_tax: bool = True
    dividend_tax_month: tuple = ((date(2013, 1, 1), 0.20),)
    dividend_tax_year: tuple = ((date(2013, 1, 1), 0.10),)
    dividend_tax_long: tuple = ((date(2013, 1, 1), 0.05), (date(2015, 9, 8), 0.0))


DEFAULT = Rules()

# How rules_from_mapping checks each key's value.
_RATE, _MONEY, _INT, _BOOL, _DATED = "rate", "money", "int", "bool", "dated"
_KINDS: dict[str, str] = {
    "commission_rate": _RATE, "commission_min": _MONEY, "stamp_duty": _DATED,
    "transfer_fee": _DATED, "slippage_bps": _MONEY, "slippage_ticks": _INT, "tick": _MONEY,
    "limit_tolerance": _MONEY, "qfq_limit_tolerance": _MONEY, "st_lock_evidence": _BOOL,
    "fill_at_limit_when_opened": _BOOL, "short_enabled": _BOOL,
    "borrow_rate": _DATED, "borrow_day_count": _INT, "short_cover_min_sessions": _INT,
    "short_margin": _DATED, "lot_size": _INT, "star_min_shares": _INT, "bse_min_shares": _INT,
    "no_limit_sessions": _INT, "bse_no_limit_sessions": _INT, "st_limit_main": _DATED,
    "short_price_rule": _BOOL, "short_fill_at_prev_close": _BOOL, "maintenance_call": _MONEY,
    "maintenance_grace": _INT, "volume_limit": _MONEY, "dividend_tax": _BOOL,
    "dividend_tax_month": _DATED, "dividend_tax_year": _DATED, "dividend_tax_long": _DATED,
}
# Keys that must be strictly positive (a zero lot or day count would divide by zero or mean nothing).
_POSITIVE = {"lot_size", "star_min_shares", "bse_min_shares", "borrow_day_count", "tick"}
# Dated keys whose values are fractions of a trade value: 0.001 means 0.1 %, so 1 or more is a typo.
_FRACTION_TABLES = {"stamp_duty", "transfer_fee", "st_limit_main", "borrow_rate", "dividend_tax_month",
                    "dividend_tax_year", "dividend_tax_long"}


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
    if not math.isfinite(value):
        raise InputError(f"{at} must be a finite number, got {value!r}")
    if value < 0:
        raise InputError(f"{at} must not be negative, got {value!r}")
    if key in _POSITIVE and value == 0:
        raise InputError(f"{at} must be {'above 0' if _KINDS[key] == _MONEY else 'at least 1'}, got {value!r}")
    if _KINDS[key] == _RATE and value >= 1:
        raise InputError(f"{at} is a fraction (0.00025 means 0.025 %), got {value!r}")
    if key == "volume_limit" and value > 1:
        raise InputError(f"{at} is a share of the session's volume (0.25 means 25 %), at most 1; got {value!r}")
    if key == "maintenance_call" and value < 1:
        raise InputError(f"{at} is a collateral ratio (1.3 means 130 %), at least 1; got {value!r}")


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
        # A single number is a constant table: its message names the key alone, not a date.
        what = at if day == date.min else f"{at}: the value for {day}"
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate):
            raise InputError(f"{what} must be a number, got {rate!r}")
        if rate < 0:
            raise InputError(f"{what} must not be negative, got {rate!r}")
        if key in _FRACTION_TABLES and rate >= 1:
            raise InputError(f"{what} is a fraction (0.001 means 0.1 %), got {rate!r}")
        if key == "short_margin" and rate == 0:
            raise InputError(f"{what}: the margin ratio must be above 0")
        if table and table[-1][0] == day:
            raise InputError(f"{at}: date {day} is given twice")
        table.append((day, float(rate)))
    return tuple(table)


def _as_date(value: object, at: str) -> date:
    return parse_date(value, f"{at}:", example="2023-08-28")


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



# -------------------------------------------------------------- rounding ---

def round_half_up(x: float, places: int = 2) -> float:
    """Round half up (四舍五入) in decimal, so 2.675 rounds to 2.68 despite binary floats.

    >>> round_half_up(2.675), round(2.675, 2), round_half_up(3.025)
    (2.68, 2.67, 3.03)
    """
    text = repr(float(x))
    dot = text.find(".")
    if 0 <= dot and len(text) - dot - 1 <= places and "e" not in text:
        return float(text)  # already at most ``places`` decimals: rounding changes nothing
    return float(Decimal(text).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP))


def to_fen(x: float) -> float:
    """CNY rounded to the fen (0.01), half up, as brokers bill: the package's one fen rounder.

    >>> to_fen(116.185), to_fen(0.005), to_fen(-1.005)
    (116.19, 0.01, -1.01)
    """
    return round_half_up(x, 2)


def fen(value: Decimal, mode: str = ROUND_HALF_UP) -> float:
    """A decimal amount rounded to the fen (0.01 CNY), half up unless told otherwise."""
    return float(value.quantize(Decimal("0.01"), mode))



# ------------------------------------------------------------------ bars ---

@dataclass(frozen=True)
class Bar:
    """One session's open, high, low and close."""

    open: float
    high: float
    low: float
    close: float


def check_side(side: str) -> None:
    if side not in ("buy", "sell"):
        raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")
