"""A strategy's own state: its holdings with their cost basis, and what it records and logs.

:class:`PositionBook` follows the order desk's fills (:mod:`hypebt.market.orders`), so a
holding's cost basis is what was really paid: the fill price after slippage, plus the fees.
:class:`Journal` keeps the values a strategy records per session (``self.record``: extra
columns of ``equity.csv``) and the lines it logs (``self.log``: the run's ``log.txt``, never the
console, so a sweep's workers stay quiet).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import pandas as pd

RESERVED_COLUMNS = ("date", "cash", "value")


@dataclass(frozen=True)
class Holding:
    """One code's position as the strategy holds it.

    ``shares`` is negative when short. ``cost_basis`` is the average price per share of the
    shares still held, fees included: for a long, (price paid + buy fees) per share; for a short,
    (sale proceeds - sale fees) per share. ``avg_price`` is the average fill price of the shares
    held (slippage included, fees not). ``entry_date``/``entry_session`` are those of the fill
    that opened the position from flat (``entry_session`` counts run sessions from 0).
    ``sessions_held`` is the number of sessions since that fill (0 on its own session).
    """

    code: str
    shares: int = 0
    cost_basis: float = math.nan
    cost: float = 0.0          # cost_basis * |shares|
    fees: float = 0.0          # fees paid on the fills of the open position
    entry_date: dt.date | None = None
    entry_session: int | None = None
    sessions_held: int = 0
    avg_price: float = math.nan

    @property
    def is_open(self) -> bool:
        return self.shares != 0


class PositionBook:
    """Holdings rebuilt from the fills ledger (read lazily: only the new fills at each call)."""

    def __init__(self, fills: list, session_of):
        self._fills = fills
        self._seen = 0
        self._session_of = session_of  # datetime.date -> run session number
        self._open: dict[str, dict] = {}

    def _sync(self) -> None:
        while self._seen < len(self._fills):
            self._apply(self._fills[self._seen])
            self._seen += 1

    def _apply(self, fill: dict) -> None:
        code, side, size, price, fee = fill["code"], fill["side"], int(fill["size"]), float(fill["price"]), \
            float(fill["fees"])
        pos = self._open.get(code)
        if side in ("buy", "short"):
            if pos is None:
                pos = self._open[code] = {"shares": 0, "cost": 0.0, "value": 0.0, "fees": 0.0, "date": fill["date"]}
            sign = 1 if side == "buy" else -1
            pos["shares"] += sign * size
            # A long's basis adds the fees paid; a short's entry nets them from the proceeds.
            pos["cost"] += price * size + (fee if side == "buy" else -fee)
            pos["value"] += price * size
            pos["fees"] += fee
        elif pos is not None:  # sell / cover: the basis per share of what remains is unchanged
            held = abs(pos["shares"])
            pos["cost"] *= (held - size) / held if held else 0.0
            pos["value"] *= (held - size) / held if held else 0.0
            pos["shares"] += -size if side == "sell" else size
            pos["fees"] += fee
            if pos["shares"] == 0:
                del self._open[code]

    def holding(self, code: str, session_no: int) -> Holding:
        """The holding of ``code`` now (shares 0 when flat)."""
        self._sync()
        pos = self._open.get(code)
        if pos is None:
            return Holding(code)
        shares = pos["shares"]
        entry = self._session_of(pos["date"])
        return Holding(code, shares, pos["cost"] / abs(shares), pos["cost"], pos["fees"], pos["date"], entry,
                       max(session_no - entry, 0) if entry is not None else 0, pos["value"] / abs(shares))

    def codes(self) -> list[str]:
        self._sync()
        return list(self._open)


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
