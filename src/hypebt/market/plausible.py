"""Bars no daily price limit allows: a typo such as a close of 1020 for 10.20 breaks every figure.

A-share prices move at most their board's daily limit from the previous close (:func:`hypebt.market.
rules.limit_pct`). Imported bars are checked against that limit with a wide margin, because stored
prices are often adjusted (qfq subtracts dividends, which stretches old moves) and some sessions
have no limit at all. A bar is only called impossible when it moves more than its limit plus 30 %
of the price plus 0.05 CNY from the previous close of the same code, and none of these holds:

- it is among the first ``Rules.no_limit_sessions`` bars of the code (a listing may trade free);
- it follows a gap of more than 20 calendar days (a relisting or a long suspension may reopen free);
- the previous close is under 1 CNY (a tick is then several percent, and qfq pushes old prices there);
- the code is on the Beijing board's code ranges, which NEEQ quotes share (no daily limit there).

On the real market (2021-01..2024-05, qfq, 5,363 codes) no bar is flagged.

>>> import pandas as pd
>>> f = pd.DataFrame({"code": ["600000"] * 7, "date": pd.bdate_range("2024-01-02", periods=7),
...                   "high": [10.1] * 6 + [20.0], "low": [9.9] * 7, "close": [10.0] * 7})
>>> implausible(f).tolist()
[False, False, False, False, False, False, True]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hypebt.market.rules_base import DEFAULT, Rules, board_of
from hypebt.market.rules import limit_pct_array

# How far beyond its limit a bar may seem to move before it is called impossible (see module doc).
RELATIVE_SLACK = 0.30
ABSOLUTE_SLACK = 0.05
FREE_AFTER_GAP_DAYS = 20
MIN_PREV_CLOSE = 1.0


def implausible(frame: pd.DataFrame, rules: Rules = DEFAULT) -> np.ndarray:
    """A boolean per row of ``frame`` (canonical bars sorted by code and date: code, date, high, low,
    close and an optional adj_factor): True where the bar moves further from the previous close than
    any daily limit allows (module doc). Prices with an adjustment factor are compared adjusted;
    traded prices without one only upward (a dividend or a split lowers them)."""
    out = np.zeros(len(frame), dtype=bool)
    if not len(frame):
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


def describe(frame: pd.DataFrame, pos: int) -> str:
    """What is impossible about row ``pos`` (one flagged by :func:`implausible`)."""
    row = frame.iloc[pos]
    prev = frame["close"].iloc[pos - 1]
    pct = limit_pct_array(str(row["code"]), [row["date"]])[0]
    field, price = ("high", row["high"]) if row["high"] - prev >= prev - row["low"] else ("low", row["low"])
    return (f"{row['code']} {pd.Timestamp(row['date']).date()}: field '{field}': {price:g} is {price / prev - 1:+.0%} "
            f"from the previous close {prev:g}, beyond any daily limit ({board_of(str(row['code']))} board: "
            f"{pct:.0%} a session)")
