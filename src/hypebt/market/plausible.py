"""Bars no daily price limit allows: a typo such as a close of 1020 for 10.20 breaks every figure.

A-share prices move at most their board's daily limit (:func:`hypebt.market.rules.limit_pct`) from
the session's reference price. Every import of stock bars is checked here, the command line's
``hypebt data import`` and a first run's import of a local dataset alike (:data:`CHECK`, passed to
:func:`hypebt.data.importers.import_paths` by both). How exactly depends on what the prices are:

**Traded prices (``raw``)** are judged against the limits the exchange set, computed as the engine
computes them: from the previous close, or on an ex-date from the reference price (the previous close
moved by the factor's ratio, :func:`hypebt.market.rules.reference_close_array`), with the factor's
moves put on the session whose price dropped (:func:`hypebt.market.exdates.factor_timing`: the source
sometimes moves it a session late); the board's band by date (ST's 5 % only narrows it, and a risk
warning is not known at import, so the board's band is used); and on ex-dates
:data:`hypebt.market.exdates.TOLERANCE` for a reference price from a rounded factor. A bar is impossible when its high is above the limit-up
price or its low below the limit-down price, except:

- the first ``Rules.no_limit_sessions`` bars of a code (a new listing trades free those days);
- a bar after a gap of more than 20 calendar days (a relisting or a long suspension may reopen free);
- the code's last bar falling below its limit-down, or any bar without a factor doing so: an ex-date
  whose factor the file does not hold (yet) lowers the reference price by an amount no bar shows;
- codes on the Beijing board's ranges, which NEEQ quotes share (no daily limit there).

On the shared raw dataset (5,188 stocks, 2021-01..2026-05) no bar is flagged.

**Adjusted prices (qfq, hfq)** are not the prices that traded: qfq subtracts dividends, which
stretches old moves. A bar is only called impossible when it moves more than its limit plus 30 % of
the price plus 0.05 CNY from the previous close of the same code, with the exceptions above and a
previous close under 1 CNY (a tick is then several percent, and qfq pushes old prices there). On the
real market (2021-01..2024-05, qfq, 5,363 codes) no bar is flagged.

>>> import pandas as pd
>>> f = pd.DataFrame({"code": ["600000"] * 7, "date": pd.bdate_range("2024-01-02", periods=7),
...                   "high": [10.1] * 6 + [20.0], "low": [9.9] * 7, "close": [10.0] * 7})
>>> implausible(f).tolist()
[False, False, False, False, False, False, True]
>>> f.attrs["adjust"] = "raw"
>>> f.loc[6, "high"] = 11.01          # the limit-up from 10.00 is 11.00 on the main board
>>> implausible(f).tolist()[-1], describe(f, 6)
(True, "600000 2024-01-10: field 'high': 11.01 is above the limit-up price 11.00 (from the reference price 10.00; sh_main board: 10% a session)")
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hypebt.market.exdates import TOLERANCE, factor_timing
from hypebt.market.rules import EPS, limit_pct_array, price_limits_array, reference_close_array
from hypebt.market.rules_base import DEFAULT, Rules, board_of

# How far beyond its limit an adjusted bar may seem to move before it is called impossible (module doc).
RELATIVE_SLACK = 0.30
ABSOLUTE_SLACK = 0.05
FREE_AFTER_GAP_DAYS = 20
MIN_PREV_CLOSE = 1.0


def _traded(frame: pd.DataFrame) -> bool:
    return frame.attrs.get("adjust") == "raw"


def _code_limits(code: str, d: np.ndarray, high, low, close, factor, rules: Rules):
    """One code's (reference, limit-up, limit-down, free) arrays on traded prices: ``free`` marks the
    sessions without a limit to judge (module doc: a listing's first sessions, after a long gap)."""
    if factor is not None:
        factor = factor_timing(code, d, high, low, close, factor).factor
        f_prev = np.r_[np.nan, factor[:-1]]
    prev = np.r_[np.nan, close[:-1]]
    reference = reference_close_array(prev, f_prev, factor) if factor is not None else prev
    up, down = price_limits_array(reference, limit_pct_array(code, d, rules=rules), code=code)
    gap = np.r_[10 ** 6, np.diff(d).astype("int64")]
    free = gap > FREE_AFTER_GAP_DAYS
    free[: rules.no_limit_sessions] = True
    return reference, up, down, free


def _tolerance(reference: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Float noise, plus :data:`TOLERANCE` on ex-dates (a reference price from a rounded factor)."""
    with np.errstate(invalid="ignore"):
        return np.where(reference != np.r_[np.nan, close[:-1]], TOLERANCE + EPS, EPS)


def _implausible_traded(code: str, d, high, low, close, factor, rules: Rules) -> np.ndarray:
    """Rows of one code of traded prices outside the exchange's limits (module doc)."""
    reference, up, down, free = _code_limits(code, d, high, low, close, factor, rules)
    tol = _tolerance(reference, close)
    with np.errstate(invalid="ignore"):
        above = high > up + tol
        below = low < down - tol
    if factor is None:
        below[:] = False  # any bar may be an ex-date nobody recorded
    else:
        below[-1:] = False  # the last bar may be an ex-date whose factor the file does not hold yet
    return (above | below) & ~free


def implausible(frame: pd.DataFrame, rules: Rules = DEFAULT) -> np.ndarray:
    """A boolean per row of ``frame`` (canonical bars sorted by code and date: code, date, high, low,
    close and an optional adj_factor; ``frame.attrs["adjust"]`` says what the prices are): True
    where the bar is beyond what any daily limit allows (module doc): traded prices (``raw``) against
    the exchange's limits from its reference price, adjusted prices against a wide margin."""
    out = np.zeros(len(frame), dtype=bool)
    if not len(frame):
        return out
    if _traded(frame):
        codes = frame["code"].astype(str).to_numpy()
        factor = frame["adj_factor"].to_numpy("float64") if "adj_factor" in frame else None
        high, low, close = (frame[c].to_numpy("float64") for c in ("high", "low", "close"))
        days = frame["date"].to_numpy("datetime64[D]")
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        for lo, hi in zip(starts, np.r_[starts[1:], len(frame)]):
            if board_of(codes[lo]) == "bse":
                continue
            out[lo:hi] = _implausible_traded(codes[lo], days[lo:hi], high[lo:hi], low[lo:hi], close[lo:hi],
                                             None if factor is None else factor[lo:hi], rules)
        return out
    codes = frame["code"].astype(str).to_numpy()
    factor = frame["adj_factor"].to_numpy("float64") if "adj_factor" in frame else np.ones(len(frame))
    up_only = "adj_factor" not in frame and frame.attrs.get("adjust") == "raw"
    high, low, close = (frame[c].to_numpy("float64") * factor for c in ("high", "low", "close"))
    days = frame["date"].to_numpy("datetime64[D]")
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    for lo, hi in zip(starts, np.r_[starts[1:], len(frame)]):
        code = codes[lo]
        if board_of(code) == "bse" or hi - lo <= rules.no_limit_sessions:
            continue
        d = days[lo:hi]
        prev = np.r_[np.nan, close[lo:hi - 1]]
        pct = limit_pct_array(code, d, rules=rules)
        gap = np.r_[10 ** 6, np.diff(d).astype("int64")]
        with np.errstate(invalid="ignore"):
            up = high[lo:hi] > prev * (1 + pct) * (1 + RELATIVE_SLACK) + ABSOLUTE_SLACK
            down = low[lo:hi] < prev * (1 - pct) * (1 - RELATIVE_SLACK) - ABSOLUTE_SLACK
            bad = (up | (down & ~up_only)) & (gap <= FREE_AFTER_GAP_DAYS) & (prev >= MIN_PREV_CLOSE)
        bad[: rules.no_limit_sessions] = False
        out[lo:hi] = bad
    return out


def describe(frame: pd.DataFrame, pos: int, rules: Rules = DEFAULT) -> str:
    """What is impossible about row ``pos`` (one flagged by :func:`implausible`), on one line."""
    row = frame.iloc[pos]
    if _traded(frame):
        code = str(row["code"])
        rows = np.flatnonzero(frame["code"].astype(str).to_numpy() == code)
        part = frame.iloc[rows]
        factor = part["adj_factor"].to_numpy("float64") if "adj_factor" in part else None
        reference, up, down, _ = _code_limits(code, part["date"].to_numpy("datetime64[D]"),
                                              *(part[c].to_numpy("float64") for c in ("high", "low", "close")),
                                              factor, rules)
        k = int(np.searchsorted(rows, pos))
        pct = limit_pct_array(code, [row["date"]], rules=rules)[0]
        if row["high"] > up[k] + _tolerance(reference, part["close"].to_numpy("float64"))[k]:
            what = f"field 'high': {row['high']:.2f} is above the limit-up price {up[k]:.2f}"
        else:
            what = f"field 'low': {row['low']:.2f} is below the limit-down price {down[k]:.2f}"
        return (f"{code} {pd.Timestamp(row['date']).date()}: {what} (from the reference price {reference[k]:.2f}; "
                f"{board_of(code)} board: {pct:.0%} a session)")
    prev = frame["close"].iloc[pos - 1]
    pct = limit_pct_array(str(row["code"]), [row["date"]])[0]
    field, price = ("high", row["high"]) if row["high"] - prev >= prev - row["low"] else ("low", row["low"])
    return (f"{row['code']} {pd.Timestamp(row['date']).date()}: field '{field}': {price:g} is {price / prev - 1:+.0%} "
            f"from the previous close {prev:g}, beyond any daily limit ({board_of(str(row['code']))} board: "
            f"{pct:.0%} a session)")


# What every import of stock bars checks (the command line's and a first run's): see the module doc.
CHECK = (implausible, describe)
