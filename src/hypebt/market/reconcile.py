"""The end-of-run check that the one record of positions and cash is what the ledgers say.

:class:`hypebt.market.account.Account` is written by the order desk's fills, the daily borrow
interest and the corporate actions, and each of them leaves a ledger: the fills (price, shares,
fees), the borrow rows of :class:`hypebt.market.credit.CreditBook`, the rows of
:class:`hypebt.market.distributions.Distributions` (dividends, short compensation, dividend tax,
bonus and transfer shares). :func:`reconcile` derives positions and cash from those ledgers alone
and compares them with the account at the end of the run: anything that changed the account
around the market (a strategy writing cash, a fill no ledger shows) makes the run fail instead of
reporting figures no ledger can explain. Pure Python.
"""

from __future__ import annotations

from hypebt.market.account import Account

CASH_KINDS = frozenset({"cash_dividend", "cash_equivalent", "short_compensation", "dividend_tax"})
SHARE_KINDS = frozenset({"bonus_shares", "transfer_shares", "short_shares"})
FEN = 0.01


class ReconciliationError(RuntimeError):
    """The account does not match its ledgers (see :func:`reconcile`)."""


def derive(start_cash: float, fills, borrow_rows, distribution_rows, receivable: float) -> tuple[float, dict]:
    """Cash and positions (code -> signed shares, non-zero) from the ledgers alone: the starting
    cash, each fill's value and fees, the borrow interest charged (settled and accrued), the cash
    of the corporate actions paid (declared less what is still to be paid, ``receivable``) and the
    shares they added.

    >>> fills = [{"code": "600000", "side": "buy", "size": 1000, "price": 10.0, "fees": 5.01}]
    >>> derive(100_000.0, fills, [], [], 0.0)
    (89994.99, {'600000': 1000})
    """
    cash, held = float(start_cash), {}
    for f in fills:
        buying = f["side"] in ("buy", "cover")
        cash += (-1 if buying else 1) * f["size"] * f["price"] - f["fees"]
        held[f["code"]] = held.get(f["code"], 0) + (f["size"] if buying else -f["size"])
    cash -= sum(r["fee"] for r in borrow_rows)
    for r in distribution_rows:
        if r["kind"] in CASH_KINDS:
            cash += r["amount"]
        elif r["kind"] in SHARE_KINDS:
            held[r["code"]] = held.get(r["code"], 0) + int(r["amount"])
    cash -= receivable
    return round(cash, 2), {code: n for code, n in held.items() if n}


def reconcile(account: Account, fills: list[dict]) -> None:
    """Raise :class:`ReconciliationError` when the account's cash or positions differ from what
    :func:`derive` finds in the ledgers (cash to the fen, with a fen of rounding per cash event:
    the account rounds its cash to the fen at each fill and interest charge)."""
    dist = account.distributions
    cash, held = derive(account.start_cash, fills, account.credit.rows, dist.rows, dist.receivable)
    positions = {code: rec.shares for code, rec in account.records.items() if rec.shares}
    if positions != held:
        codes = sorted(c for c in set(positions) | set(held) if positions.get(c, 0) != held.get(c, 0))
        shown = ", ".join(f"{c}: {positions.get(c, 0)} held, {held.get(c, 0)} in the ledgers" for c in codes[:3])
        raise ReconciliationError(f"the account's positions do not reconcile with the fills and corporate actions "
                                  f"at the end of the run ({shown}): something changed them outside an order")
    events = len(fills) + len(account.credit.rows) + len(dist.rows)
    if abs(account.cash - cash) > FEN * (1 + events) / 2 + 1e-6:
        raise ReconciliationError(
            f"the account's cash {account.cash:,.2f} does not reconcile with the ledgers at the end of the run: the "
            f"fills, fees, borrow interest and corporate actions give {cash:,.2f}: something changed it outside an order")
