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

This module is the one place callers read the rules from. It implements the
price limits and the session state at them (limit prices, closed at the limit,
locked all day, board opened, fillable at a price), each as a scalar function for
the order checks and as an array form for the engine's feed and the studies'
panels; it re-exports the foundations (:mod:`hypebt.market.rules_base`: defaults,
boards, rounding) and the order-level rules (:mod:`hypebt.market.trading`: lots,
fees, slippage, T+1, margin lending), which live apart only to keep modules short.

>>> fees("sell", 1000, 10.0, date(2023, 8, 28))
Fees(commission=5.0, stamp_duty=5.0, transfer_fee=0.1)
>>> price_limits(17.35, limit_pct("600519", date(2024, 5, 6)))
Limits(up=19.09, down=15.62)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import numpy as np

# The foundations and the order-level rules live in their own modules; this one re-exports them,
# so every caller reads every rule from here.
from hypebt.core.i18n import N_
from hypebt.market.rules_base import (  # noqa: F401
    BOARDS, CHINEXT_REFORM, DEFAULT, EPS, MAIN_BOARD_REFORM, Bar, Rules, board_of, check_side, dec, fen,
    is_st, rate_on, round_half_up, rules_from_mapping, tick_size, to_fen,
)
from hypebt.market.rules_exright import (  # noqa: F401
    distribution_from_factor, factor_ratio, reference_close_array, reference_price,
)
from hypebt.market.trading import (  # noqa: F401
    Fees, board_lot, borrow_fee, borrow_rate_on, buy_size, can_cover, can_sell, check_buy_size, check_sell_size,
    check_short,
    check_short_price, fees, margin_ratio, sellable_shares, slipped_price, volume_cap,
)

__all__ = [
    "BOARDS", "DEFAULT", "REFUSAL_REASONS", "Bar", "Fees", "Limits", "Rules",
    "board_lot", "board_of", "board_opened", "borrow_fee", "borrow_rate_on", "buy_size", "can_cover", "can_sell",
    "check_buy_size", "check_fill", "check_sell_size", "check_short", "check_short_price", "closed_at_limit",
    "distribution_from_factor", "factor_ratio", "fees", "for_prices",
    "ipo_first_day_limits", "is_locked", "is_st", "limit_flags", "limit_pct", "limit_pct_array",
    "limits_array", "limits_for", "margin_ratio", "price_limits", "price_limits_array", "rate_on",
    "reference_close_array", "reference_price",
    "round_half_up", "rules_from_mapping", "sellable_shares", "slipped_price", "tick_size", "to_fen",
    "volume_cap",
]

# ---------------------------------------------------------- price limits ---

@dataclass(frozen=True)
class Limits:
    """A session's limit-up and limit-down prices; ``None`` means no limit that day."""

    up: float | None
    down: float | None


NO_LIMITS = Limits(None, None)


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
    return _price_limits(prev_close, pct, code is not None and board_of(code) == "bse")


def _price_limits(prev_close: float, pct: float | None, inward: bool) -> Limits:
    """:func:`price_limits` with the rounding given: toward the inside (Beijing) or half up."""
    if pct is None:
        return NO_LIMITS
    base, step = dec(prev_close), dec(pct)
    up, down = base * (1 + step), base * (1 - step)
    if inward:
        return Limits(fen(up, ROUND_FLOOR), fen(down, ROUND_CEILING))
    return Limits(fen(up), fen(down))


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
    base = dec(issue_price)
    return Limits(fen(base * Decimal("1.44")), fen(base * Decimal("0.64")))


# ------------------------------------------------------- fills at limits ---

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
    check_side(side)
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
    check_side(side)
    tol = rules.limit_tolerance
    if side == "buy":
        if limits.up is None:
            return None
        if is_locked(bar, limits, "buy", tol) if locked is None else locked:
            return "locked_limit_up"
        if price < limits.up - tol - EPS:
            return None
        opened = bar.low < limits.up - tol - EPS
        at_limit = abs(price - limits.up) <= tol + EPS
        if rules.fill_at_limit_when_opened and limit_order and at_limit and opened:
            return None
        return "limit_up"
    if limits.down is None:
        return None
    if is_locked(bar, limits, "sell", tol) if locked is None else locked:
        return "locked_limit_down"
    if price > limits.down + tol + EPS:
        return None
    opened = bar.high > limits.down + tol + EPS
    at_limit = abs(price - limits.down) <= tol + EPS
    if rules.fill_at_limit_when_opened and limit_order and at_limit and opened:
        return None
    return "limit_down"


def closed_at_limit(close: float, limits: Limits, side: str = "buy", tol: float = 0.0) -> bool:
    """True when the session closed at limit-up (``side="buy"``) or limit-down (``"sell"``).

    >>> closed_at_limit(11.0, Limits(11.0, 9.0)), closed_at_limit(10.98, Limits(11.0, 9.0), tol=0.011)
    (True, False)
    """
    check_side(side)
    lim = limits.up if side == "buy" else limits.down
    return lim is not None and bool(_at_limit(close, lim, side, tol))


def board_opened(bar: Bar, limits: Limits, side: str = "buy", tol: float = 0.0) -> bool:
    """True when the session touched the limit and also traded away from it (the board opened).

    >>> board_opened(Bar(11.0, 11.0, 10.6, 11.0), Limits(11.0, 9.0)), board_opened(Bar(11.0, 11.0, 11.0, 11.0), Limits(11.0, 9.0))
    (True, False)
    """
    check_side(side)
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
        return price >= limit - tol - EPS if side == "buy" else price <= limit + tol + EPS


def _locked(high, low, limit, side: str, tol: float):
    """Vectorised 一字板 test: the whole session, low to high, at the limit (see :func:`is_locked`)."""
    one_price = np.asarray(high, dtype="float64") - np.asarray(low, dtype="float64") <= tol + EPS
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


def _boards(code) -> np.ndarray:
    """The board of one code (a 0-d array), or of each of several codes as a column (codes, 1): the
    array forms below take one code with 1-D arrays over days, or several with 2-D (codes, days)."""
    if isinstance(code, str):
        return np.asarray(board_of(code))
    return np.asarray([board_of(c) for c in code])[:, None]


def limit_pct_array(code, days, *, st=False, session_no=None, listed_on: date | None = None,
                    rules: Rules = DEFAULT) -> np.ndarray:
    """:func:`limit_pct` of ``code`` on each of ``days`` (NaN: no limit that day).

    ``st`` is one flag or one per day (a dated ST status); ``session_no`` one count per day, where
    values below 1 (or NaN) mean unknown, i.e. seasoned. ``code`` may also be a list of codes: then
    ``st`` and ``session_no`` are (codes, days) arrays and so is the result (a whole market at once).

    >>> limit_pct_array("300750", ["2020-08-21", "2020-08-24"]).tolist()
    [0.1, 0.2]
    >>> limit_pct_array(["600000", "688981"], ["2024-05-06"]).tolist()
    [[0.1], [0.2]]
    """
    board, days = _boards(code), _day_array(days)
    shape = np.broadcast_shapes(board.shape, days.shape, np.shape(st),
                                () if session_no is None else np.shape(session_no))
    st = np.broadcast_to(np.asarray(st, dtype=bool), shape)
    main_band = np.where(st, _dated_array(rules.st_limit_main, days), 0.10)
    chinext_band = np.where(days >= np.datetime64(CHINEXT_REFORM), 0.20, main_band)
    pct = np.where(board == "bse", 0.30, np.where(board == "star", 0.20,
                                                  np.where(board == "chinext", chinext_band, main_band)))
    if session_no is not None:
        n = np.asarray(session_no, dtype="float64")
        listed = days if listed_on is None else np.datetime64(listed_on, "D")
        reform = np.where(board == "chinext", np.datetime64(CHINEXT_REFORM), np.datetime64(MAIN_BOARD_REFORM))
        free = np.where(board == "bse", rules.bse_no_limit_sessions,
                        np.where(board == "star", rules.no_limit_sessions,
                                 np.where(listed >= reform, rules.no_limit_sessions, 1)))
        with np.errstate(invalid="ignore"):
            pct = np.where((n >= 1) & (n <= free), np.nan, pct)
    return np.broadcast_to(pct, shape).astype("float64")


def price_limits_array(prev_close, pct, *, code=None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`price_limits` over arrays: ``(up, down)``, NaN where there is no limit or no previous close.

    ``code``: one code, or a list of codes for (codes, days) arrays (Beijing rounds toward the
    inside). Prices on the fen grid are computed exactly in integers (fen x basis points); any other
    price falls back to the decimal scalar rule, so both forms always agree.

    >>> up, down = price_limits_array([17.35, 6.56], [0.10, 0.30])
    >>> up.tolist(), price_limits_array([6.56], [0.30], code="430198")[0].tolist()
    ([19.09, 8.53], [8.52])
    """
    prev = np.atleast_1d(np.asarray(prev_close, dtype="float64"))
    pct = np.broadcast_to(np.asarray(pct, dtype="float64"), prev.shape)
    up, down = np.full(prev.shape, np.nan), np.full(prev.shape, np.nan)
    with np.errstate(invalid="ignore"):
        at = np.flatnonzero((prev > 0) & ~np.isnan(pct))  # where there is a limit: computed there only
    p, q = prev.ravel()[at], pct.ravel()[at]
    inward = np.zeros(len(at), dtype=bool) if code is None else \
        np.broadcast_to(_boards(code) == "bse", prev.shape).ravel()[at]
    # In 1e-6 CNY: whole numbers below 2**53, exact in floats; dividing one by 10,000 cannot land
    # within a rounding error of the next whole number, so floor/ceil below are exact. (In place:
    # a whole market is millions of values.)
    fen_, bp = np.multiply(p, 100), np.multiply(q, 10_000)
    grid = np.abs(fen_ - np.rint(fen_)) < 1e-6
    grid &= np.abs(bp - np.rint(bp)) < 1e-6
    off = np.flatnonzero(~grid)  # off the fen grid (rare): the decimal rule below
    p_off, q_off = p[off], q[off]
    np.rint(fen_, out=fen_)
    np.rint(bp, out=bp)
    hi = np.multiply(fen_, np.add(10_000, bp, out=p), out=p)
    lo = np.multiply(fen_, np.subtract(10_000, bp, out=q), out=q)
    bse = np.flatnonzero(inward)  # Beijing: toward the inside
    up_bse, down_bse = np.floor(hi[bse] / 10_000), np.ceil(lo[bse] / 10_000)
    up_fen = np.floor(np.divide(np.add(hi, 5_000, out=hi), 10_000, out=hi), out=hi)  # half up
    down_fen = np.floor(np.divide(np.add(lo, 5_000, out=lo), 10_000, out=lo), out=lo)
    up_fen[bse], down_fen[bse] = up_bse, down_bse
    up_flat, down_flat = up.reshape(-1), down.reshape(-1)
    up_flat[at], down_flat[at] = np.divide(up_fen, 100, out=up_fen), np.divide(down_fen, 100, out=down_fen)
    for i, pv, qv in zip(off, p_off, q_off):
        lim = _price_limits(float(pv), float(qv), bool(inward[i]))
        up_flat[at[i]], down_flat[at[i]] = lim.up, lim.down
    return up, down


def limits_array(code, days, prev_close, *, st=False, session_no=None, listed_on: date | None = None,
                 rules: Rules = DEFAULT) -> tuple[np.ndarray, np.ndarray]:
    """:func:`limits_for` over a code's sessions: ``(up, down)`` arrays, NaN where no limit (a list
    of codes: (codes, days) arrays, see :func:`limit_pct_array`).

    >>> limits_array("300750", ["2020-08-21", "2020-08-24"], [17.35, 17.35])[0].tolist()
    [19.09, 20.82]
    """
    pct = limit_pct_array(code, days, st=st, session_no=session_no, listed_on=listed_on, rules=rules)
    return price_limits_array(prev_close, pct, code=code)


def limit_flags(code, o, h, lo, c, up, down, *, prev_close=None, days=None, st=False,
                rules: Rules = DEFAULT) -> dict[str, np.ndarray]:
    """Each session's state at its limits, from its bar and its limit prices (arrays; a list of codes
    for (codes, days) arrays).

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
    band = _st_band_possible(code)
    if prev_close is not None and days is not None and rules.st_lock_evidence and band.any():
        # Only where the stock has a limit at all (not on a new listing's free sessions), not known ST,
        # and the session's range fits inside the lock test's tolerance (the only candidates: the
        # ST band's limits are computed there alone, on main boards, which round half up).
        with np.errstate(invalid="ignore"):
            unknown = band & ~np.broadcast_to(np.asarray(st, dtype=bool), c.shape) & \
                ~np.isnan(np.asarray(up, dtype="float64")) & (h - lo <= 2 * tol + EPS)
        at = np.nonzero(unknown)
        st_pct = np.broadcast_to(_dated_array(rules.st_limit_main, _day_array(days)), c.shape)[at]
        st_up, st_down = price_limits_array(np.broadcast_to(np.asarray(prev_close, dtype="float64"), c.shape)[at], st_pct)
        flags["locked_up"][at] |= _locked(h[at], lo[at], st_up, "buy", tol)
        flags["locked_down"][at] |= _locked(h[at], lo[at], st_down, "sell", tol)
    return flags


def _st_band_possible(code) -> np.ndarray:
    """Boards where risk warning narrows the band to 5 % today: the main boards (ChiNext did so only
    before 2020-08-24, not inferred here). One code: a 0-d array; several: a column (codes, 1)."""
    return np.isin(_boards(code), ("sh_main", "sz_main"))


# ----------------------------------------------------------------- reasons ---

REFUSAL_REASONS: dict[str, str] = {
    "limit_up": N_("buy at or above the limit-up price"),
    "limit_down": N_("sell at or below the limit-down price"),
    "locked_limit_up": N_("locked at limit-up all session (一字板): no seller"),
    "locked_limit_down": N_("locked at limit-down all session (一字板): no buyer"),
    "t_plus_1": N_("shares bought today can only be sold from the next session (T+1)"),
    "suspended": N_("the stock did not trade that session (suspended)"),
    "lot_size": N_("order size is not a whole lot for its board"),
    "not_shortable": N_("short selling is off or the stock is not eligible for 融券"),
    "cash": N_("not enough cash for the order and its fees"),
    "margin": N_("not enough margin for the short sale"),
    "no_position": N_("selling more shares than held"),
    "short_price_rule": N_("融券 sale below the previous close / latest trade (融券卖出提价规则)"),
    "volume_limit": N_("order above the session's volume cap ([rules] volume_limit): filled in part or not at all"),
    "maintenance_margin": N_("维持担保比例 under the call line: called, then liquidated after the grace sessions"),
}
