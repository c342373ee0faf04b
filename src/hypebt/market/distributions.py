"""A run's corporate actions, session by session: what the one record of positions and cash is
credited and debited on each ex-date and pay date (:mod:`hypebt.market.corporate` for the rules).

:meth:`Distributions.start_session` is called before a session's first fill, with the shares held
then (the position at the record date's close: nothing trades in between). For each action whose
ex-date has come (an ex-date that fell while the run was not looking, e.g. a skipped session,
is applied at the next one), it returns a :class:`Step`:

- ``cash``: CNY to add to cash now (received cash dividends, minus what shorts pay);
- ``new_shares``: code -> shares to add to the position (negative for a short: its debt grows),
  and ``sellable_from``: code -> the first day they may be sold;
- ``taxable``: code -> (record date, CNY) dividend income of the long position, for the tax lots;
- ledger rows for ``corporate_actions.csv``.

Cash whose pay date is after the ex-date waits in :attr:`Distributions.receivable` (counted in the
account's value from the ex-date: the price has dropped, the claim is the holder's) and is paid on
its pay date. Pure Python, no Backtrader.

>>> from datetime import date
>>> from hypebt.market.corporate import Action
>>> d = Distributions({"600519": [Action("600519", date(2024, 6, 19), cash=30.876)]})
>>> d.start_session(date(2024, 6, 18), {"600519": 400}).cash
0.0
>>> step = d.start_session(date(2024, 6, 19), {"600519": 400})
>>> step.cash, [r["kind"] for r in d.rows], d.total("cash_dividend")
(12350.4, ['cash_dividend'], 12350.4)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from hypebt.market import corporate as C
from hypebt.market.corporate import Action


@dataclass
class Step:
    """What one session's start books (see the module docstring)."""

    cash: float = 0.0
    new_shares: dict = field(default_factory=dict)
    sellable_from: dict = field(default_factory=dict)
    taxable: dict = field(default_factory=dict)
    declared: dict = field(default_factory=dict)  # code -> CNY its position gets (+) or pays (-), now or later
    actions: list = field(default_factory=list)  # (action, shares held) applied

    def __bool__(self) -> bool:
        return bool(self.cash or self.new_shares or self.actions)


class Distributions:
    """Every code's actions in ex-date order, the cash still to be paid, and the ledger rows."""

    def __init__(self, actions: dict[str, list[Action]] | None = None):
        self.pending = sorted((a for acts in (actions or {}).values() for a in acts),
                              key=lambda a: (a.ex_date, a.code))
        self.owed: list[tuple[date, str, float]] = []  # (pay date, code, CNY) to pay or charge later
        self.rows: list[dict] = []
        self.last_day: date | None = None

    @property
    def receivable(self) -> float:
        """Cash declared but not paid yet (negative: owed by shorts)."""
        return round(sum(amount for _, _, amount in self.owed), 2)

    def next_date(self) -> date | None:
        """The next day something happens (an ex-date or a pay date), or None."""
        days = [a.ex_date for a in self.pending[:1]] + [p for p, _, _ in self.owed]
        return min(days) if days else None

    def start_session(self, day: date, shares: dict[str, int]) -> Step:
        """Apply the actions with ex-date on or before ``day`` to ``shares`` (code -> signed shares
        held before the session), and pay what falls due; returns the :class:`Step` to book."""
        step = Step()
        while self.pending and self.pending[0].ex_date <= day:
            action = self.pending.pop(0)
            held = int(shares.get(action.code, 0))
            if held:
                self._apply(action, held, day, step)
        due = [o for o in self.owed if o[0] <= day]
        if due:
            self.owed = [o for o in self.owed if o[0] > day]
            step.cash = round(step.cash + sum(amount for _, _, amount in due), 2)
        self.last_day = day
        return step

    def _apply(self, action: Action, held: int, day: date, step: Step) -> None:
        got = C.long_entitlement(action, held) if held > 0 else C.short_obligation(action, -held)
        signed_cash = got.cash if held > 0 else -got.cash
        if got.cash:
            step.declared[action.code] = round(step.declared.get(action.code, 0.0) + signed_cash, 2)
            if action.pays_on > day:
                self.owed.append((action.pays_on, action.code, signed_cash))
            else:
                step.cash = round(step.cash + signed_cash, 2)
        if got.new_shares:
            step.new_shares[action.code] = step.new_shares.get(action.code, 0) + (
                got.new_shares if held > 0 else -got.new_shares)
            # Tradable from the record's listing day, else from the session after the ex-date.
            step.sellable_from[action.code] = action.listed or (action.ex_date + timedelta(days=1))
        if held > 0 and got.taxable:
            step.taxable[action.code] = (action.record_date or action.ex_date - timedelta(days=1), got.taxable)
        step.actions.append((action, held))
        self.rows += C.ledger_rows(action, held, got)

    def tax_row(self, day: date, code: str, shares: int, tax: float) -> None:
        """Book the dividend tax charged on a sale of ``shares`` of ``code``."""
        if tax:
            self.rows.append({"date": day, "code": code, "kind": "dividend_tax", "per_share": round(tax / shares, 6),
                              "shares_held": shares, "amount": -tax, "source": "差别化红利税 (hypebt.market.dividend_tax)"})

    def total(self, kind: str) -> float:
        """Sum of the ledger's ``amount`` of one kind (CNY for the cash kinds)."""
        return round(sum(r["amount"] for r in self.rows if r["kind"] == kind), 2)
