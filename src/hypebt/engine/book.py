"""What a strategy records and logs (its holdings are read from the run's account,
:mod:`hypebt.market.account`, the one record of positions).

:class:`Journal` keeps the values a strategy records per session (``self.record``: extra columns of
``equity.csv``) and the lines it logs (``self.log``: the run's ``log.txt``, never the console, so a
sweep's workers stay quiet).
"""

from __future__ import annotations

import math

import pandas as pd

from hypebt.market.account import Holding  # noqa: F401  (importable from here, as before)

RESERVED_COLUMNS = ("date", "cash", "value")


class Journal:
    """Recorded values (per session) and log lines of one run."""

    def __init__(self):
        self.records: dict[str, dict[int, float]] = {}
        self.lines: list[str] = []

    def record(self, name: str, value, session_no: int) -> None:
        if not isinstance(name, str) or not name or name in RESERVED_COLUMNS:
            raise ValueError(f"record: the name must be a non-empty string other than {', '.join(RESERVED_COLUMNS)}; "
                             f"got {name!r}")
        if session_no < 0:
            raise ValueError("record: call it from on_open or on_close (a value belongs to a session)")
        try:
            self.records.setdefault(name, {})[session_no] = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"record({name!r}): the value must be a number, got {value!r}") from None

    def log(self, day, phase: str, parts) -> None:
        self.lines.append(f"{day} {phase}: " + " ".join(str(p) for p in parts))

    def equity_frame(self, rows: list[tuple]) -> pd.DataFrame:
        """``date, cash, value`` per session, then one column per recorded name (empty where not
        recorded on a session)."""
        frame = pd.DataFrame(rows, columns=list(RESERVED_COLUMNS))
        for name, values in self.records.items():
            frame[name] = [values.get(i, math.nan) for i in range(len(frame))]
        return frame
