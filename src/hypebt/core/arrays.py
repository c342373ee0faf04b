"""Fills along the sessions axis of (codes, sessions) arrays, in numpy: what pandas' ``ffill`` and
``bfill`` do column by column, for a whole market at once.

>>> ffill(np.array([[np.nan, 1.0, np.nan, 3.0, np.nan]])).tolist()
[[nan, 1.0, 1.0, 3.0, 3.0]]
>>> bfill(np.array([np.nan, 1.0, np.nan, 3.0, np.nan])).tolist()
[1.0, 1.0, 3.0, 3.0, nan]
"""

from __future__ import annotations

import numpy as np


def last_valid(valid: np.ndarray) -> np.ndarray:
    """Per position along the last axis, the index of the latest ``True`` at or before it (0 where
    there is none yet: check ``valid`` there)."""
    idx = np.where(valid, np.arange(valid.shape[-1]), 0)
    np.maximum.accumulate(idx, axis=-1, out=idx)
    return idx


def ffill(a: np.ndarray) -> np.ndarray:
    """``a`` with each NaN replaced by the latest non-NaN value before it along the last axis (a new
    array; NaN before the first value)."""
    return np.take_along_axis(a, last_valid(~np.isnan(a)), axis=-1)


def bfill(a: np.ndarray) -> np.ndarray:
    """``a`` with each NaN replaced by the next non-NaN value after it along the last axis."""
    return ffill(a[..., ::-1])[..., ::-1]


def shift(a: np.ndarray, fill=np.nan) -> np.ndarray:
    """``a`` moved one position later along the last axis, ``fill`` at the first position."""
    out = np.empty_like(a)
    out[..., 1:] = a[..., :-1]
    out[..., :1] = fill
    return out
