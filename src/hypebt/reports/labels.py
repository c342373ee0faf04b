"""Names of the figures a sweep reports (its result columns), in words, for pages and notebooks."""

from __future__ import annotations

from hypebt.core import i18n
from hypebt.core.i18n import N_

LABELS = {"total_return": N_("total return"), "cagr": N_("CAGR"), "sharpe": N_("Sharpe"), "sortino": N_("Sortino"),
          "max_drawdown": N_("max drawdown"), "win_rate": N_("win rate"), "n_trades": N_("closed trades"),
          "exposure": N_("exposure"), "refused_orders": N_("refused by the market"),
          "cancelled_orders": N_("cancelled by the strategy"), "expired_orders": N_("expired"),
          "open_positions": N_("open positions at the end"), "final_value": N_("final value"),
          "status": N_("status"), "error": N_("error"), "seconds": N_("seconds"), "volatility": N_("volatility"),
          "grid": N_("grid"), "random": N_("random"), "ok": N_("ok"), "failed": N_("failed")}


def header(col: str, lang: str) -> str:
    """A result column's name on the page: a figure in words (in/out-of-sample and walk-forward
    prefixes kept), a parameter as it is."""
    for prefix, text in (("is_", N_("in-sample %(figure)s")), ("oos_", N_("out-of-sample %(figure)s"))):
        if col.startswith(prefix) and col[len(prefix):] in LABELS:
            return i18n.translate(N_(text.msgid, figure=LABELS[col[len(prefix):]]), lang)
    return i18n.translate(LABELS[col], lang) if col in LABELS else col


