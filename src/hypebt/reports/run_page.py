"""``report.html``: the page a person reads after a run.

What the strategy did, in the order a reviewer asks: the headline against the benchmark
(with the data and look-ahead notes), each event (when it happened, when it became
tradable, what was bought and what was refused and why), the trades with the stocks'
Chinese names, open positions, refused and cancelled orders, net P&L per stock, equity
and drawdown against the benchmark, the strategy's recorded series, and one price chart
per traded stock with its entries, exits, refusals, limit-locked sessions and event lines.
Charts are interactive (plotly, embedded: the page works offline from disk); the quantstats
tearsheet stays beside it, linked.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from hypebt.core import i18n
from hypebt.core.i18n import N_
from hypebt.engine import metrics
from hypebt.market import rules as R
from hypebt.reports import charts
from hypebt.reports.templating import Cell, Table, render, table

MAX_PRICE_CHARTS = 30  # a whole-market run may trade hundreds of stocks: the largest moves only
RESERVED_EQUITY = ("date", "cash", "value")
_en = i18n.translator("en")

# Why an order did not fill, in words: the market's refusal reasons (hypebt.market.rules, the one
# list) and how the strategy's own orders end.
REASONS = {
    **R.REFUSAL_REASONS,
    "cancelled": N_("cancelled by the strategy (cancel)"),
    "good_for": N_("expired: its good_for sessions ran out"),
    "end_of_data": N_("still waiting when the run ended"),
    "forced_liquidation": N_("covered by the forced liquidation of a margin call"),
}
OUTCOMES = {"refused": N_("refused by the market"), "cancelled": N_("cancelled by the strategy"),
            "expired": N_("expired")}


def reason_text(reason: str):
    """The words for an order's reason code (the code itself when hypebt has no words for it)."""
    return REASONS.get(reason, reason)


def label(code: str, names: dict[str, str]) -> str:
    """``"300624 万兴科技"``, or the code alone when its name is unknown."""
    name = names.get(code, "")
    return f"{code} {name}" if name else code


def _pct(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:+.2%}"


def _num(v, digits: int = 2) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:,.{digits}f}"


def _tone(v) -> str:
    """A-share colours: a gain red, a loss green."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v == 0:
        return ""
    return "gain" if v > 0 else "loss"


def counts(stats: dict) -> list[tuple[str, str]]:
    """The run's honest counts, each apart: closed trades, positions still open at the end, orders
    refused by the market, cancelled by the strategy, expired."""
    return [(N_("closed trades"), str(stats.get("n_trades", 0))),
            (N_("open positions at the end"), str(stats.get("open_positions", 0))),
            (N_("refused by the market"), str(stats.get("refused_orders", 0))),
            (N_("cancelled by the strategy"), str(stats.get("cancelled_orders", 0))),
            (N_("expired"), str(stats.get("expired_orders", 0)))]


def headline(stats: dict, benchmark: str, bench: dict | None = None, _=_en) -> Table:
    """Strategy vs benchmark: the figures a reader compares first (``bench``: the benchmark's
    :func:`hypebt.engine.metrics.from_returns` figures over the same sessions)."""
    bench = bench or {}
    na = _("n/a")
    rows = [  # (label, strategy, benchmark, format, coloured as a gain or a loss)
        (_("total return"), stats.get("total_return"), stats.get("benchmark_total_return"), _pct, True),
        (_("annualised return (CAGR, 242 sessions a year)"), stats.get("cagr"), stats.get("benchmark_cagr"), _pct, True),
        (_("Sharpe ratio"), stats.get("sharpe"), bench.get("sharpe"), _num, False),
        (_("max drawdown"), stats.get("max_drawdown"), bench.get("max_drawdown"), _pct, False),
        (_("volatility (annualised)"), stats.get("volatility"), None, _pct, False),
        (_("exposure (share of sessions invested)"), stats.get("exposure"), None, _pct, False),
    ]
    cells = [[Cell(a), Cell(f(b) or na, tone=_tone(b) if toned else ""), Cell(f(c), tone=_tone(c) if toned else "")]
             for a, b, c, f, toned in rows]
    text_rows = [
        (_("closed trades / win rate"), f"{stats.get('n_trades', 0)} / {_pct(stats.get('win_rate')) or na}"),
        (_("open positions at the end"), str(stats.get("open_positions", 0))),
        (_("orders refused by the market / cancelled by the strategy / expired"),
         f"{stats.get('refused_orders', 0)} / {stats.get('cancelled_orders', 0)} / {stats.get('expired_orders', 0)}"),
        (_("fees / borrow fees, CNY"), f"{_num(stats.get('fees'))} / {_num(stats.get('borrow_fees'))}"),
        (_("distributions received / dividend tax / 融券 compensation paid, CNY"),
         f"{_num(stats.get('distributions', 0.0))} / {_num(stats.get('dividend_tax', 0.0))} / "
         f"{_num(stats.get('short_compensation', 0.0))}"),
        (_("start cash → final value, CNY"), f"{_num(stats.get('start_cash'))} → {_num(stats.get('final_value'))}"),
    ]
    cells += [[Cell(a), Cell(b), Cell("")] for a, b in text_rows]
    return Table([_("figure"), _("strategy"), _("benchmark %(code)s", code=benchmark)], cells, cls="")


def _event_orders(orders: pd.DataFrame, ev_id: str, day0: str) -> pd.DataFrame:
    """Orders an event caused: tagged with its id, or placed on its first tradable session."""
    if orders.empty:
        return orders
    return orders[(orders["note"].astype(str) == ev_id) | (orders["date"].astype(str) == day0)]


def universe_text(record: dict | None, names: dict, _=_en) -> str:
    """One event's board universe in words: each board's snapshot, its age, the members, and those
    without a bar on the event's session (why)."""
    if not record:
        return ""
    boards = "; ".join(_("%(board)s: snapshot %(published)s, %(age)s days old, %(n)s members", board=b["board"],
                         published=b["published"], age=b["age_days"], n=b["members"])
                       + (_(" (published after the event: look-ahead)") if b["look_ahead"] else "")
                       for b in record["boards"])
    missing = record["no_bar"]
    if missing:
        boards += _("; %(n)s without a bar that session: ", n=len(missing)) + ", ".join(
            f"{label(c, names)} ({why})" for c, why in list(missing.items())[:8]) + (" ..." if len(missing) > 8 else "")
    return boards


def events_table(prep, orders: pd.DataFrame, names: dict, _=_en) -> Table:
    """Per event: when it happened and became known (Beijing), its first tradable session and
    price (open or close), its universe (board universes: the snapshot each board came from and its
    age), what was bought or shorted, what was refused and why."""
    rows = []
    nothing = _("nothing")
    universes = {r["event"]: r for r in getattr(prep, "event_universes", [])}
    for t in prep.events:
        ev, day0 = t.event, str(t.session.date())
        mine = _event_orders(orders, ev.id, day0)
        opening = mine[mine["side"].isin(["buy", "short"])] if len(mine) else mine
        done = opening[opening["status"] == "filled"] if len(opening) else opening
        refused = opening[opening["status"] != "filled"] if len(opening) else opening
        rows.append([
            Cell(ev.id), Cell(ev.name), Cell(ev.company), Cell(str(ev.time)), Cell(str(ev.known_time)),
            Cell(f"{day0} {word(t.at, _.lang, AT)}"),
            Cell(universe_text(universes.get(ev.id), names, _)
                 or _("%(universe)s (%(n)s codes)", universe=prep.universe_name,
                      n=len(t.universe) if t.universe is not None else len(prep.codes))),
            Cell("; ".join(f"{word(r.side, _.lang)} {label(r.code, names)} {int(r.size)} @ {r.price:.2f}"
                           for r in done.itertuples())
                 or nothing),
            Cell("; ".join(f"{label(r.code, names)}: {i18n.translate(reason_text(r.reason), _.lang)}"
                           for r in refused.itertuples()) or nothing),
        ])
    return Table([_("event"), _("name"), _("company"), _("happened (Beijing)"), _("known (Beijing)"),
                  _("first tradable"), _("universe (as known then)"), _("bought / shorted"), _("refused (why)")], rows,
                 empty=_("no events in this run"))


def trades_table(trades: pd.DataFrame, names: dict, empty: str = "", _=_en) -> Table:
    """Every trade with the stock's name; open positions say so (marked to the last close)."""
    if trades.empty:
        return Table([_("stock")], [], empty=empty or _("no trades"))
    frame = pd.DataFrame({
        _("stock"): [label(c, names) for c in trades["code"]],
        _("direction"): [word(d, _.lang) for d in trades["direction"]],
        _("entry session"): trades["entry_date"].astype(str),
        _("entry price"): trades["entry_price"],
        _("exit session"): [(_("open (marked to the last close)") if s == "open" else str(d))
                            for d, s in zip(trades["exit_date"], trades["status"])],
        _("exit price"): trades["exit_price"],
        _("shares"): trades["size"],
        _("gross P&L"): trades["gross_pnl"], _("fees"): trades["fees"], _("borrow"): trades["borrow_fee"],
        _("distributions"): trades["distributions"] if "distributions" in trades else 0.0,
        _("net P&L"): trades["net_pnl"],
        _("return"): trades["net_pnl"] / (trades["entry_price"] * trades["size"]),
    })
    ret, shares = _("return"), _("shares")

    def fmt(col, v):
        if col == ret:
            return _pct(v)
        if col == shares:
            return f"{int(v):,}"
        return _num(v, 2) if isinstance(v, float) else str(v)

    out = table(frame, fmt)
    tones = [_tone(v) for v in frame[_("net P&L")]]
    for row, tone in zip(out.rows, tones):  # the P&L and return cells in A-share colours
        row[-2], row[-1] = Cell(row[-2].text, tone=tone), Cell(row[-1].text, tone=tone)
    return out


# corporate_actions.csv's kinds in words (hypebt.market.corporate.KINDS)
KIND_WORDS = {"cash_dividend": N_("cash dividend (before tax)"),
              "cash_equivalent": N_("distribution derived from the adjustment factor, credited as cash"),
              "bonus_shares": N_("bonus shares (送股)"), "transfer_shares": N_("capitalisation shares (转增)"),
              "short_compensation": N_("融券 compensation paid to the lender"),
              "short_shares": N_("new shares owed to the lender (the short grows)"),
              "dividend_tax": N_("dividend tax at a sale (差别化红利税)")}


def basis_of(prep) -> str:
    """The stock prices a run read: ``raw`` (traded), ``qfq`` or ``hfq``."""
    for name, m in prep.data_manifests.items():
        if name.startswith("stock_"):
            return m.get("adjust", "")
    return ""


def corporate_table(frame: pd.DataFrame | None, names: dict, basis: str, _=_en) -> Table:
    """Every dividend, bonus share, 融券 compensation and dividend tax the run booked
    (``corporate_actions.csv``): cash rows in CNY on their pay date, share rows in shares on the ex-date."""
    if frame is None or frame.empty:
        empty = (_("none: on adjusted prices the distributions are in the prices, none is credited")
                 if basis in ("qfq", "hfq") else _("none: no position was held over an ex-date"))
        return Table([_("session")], [], empty=empty)
    shares = frame["kind"].isin(["bonus_shares", "transfer_shares", "short_shares"])
    out = pd.DataFrame({
        _("session"): frame["date"].astype(str), _("stock"): [label(c, names) for c in frame["code"]],
        _("what"): [word(k, _.lang, KIND_WORDS) for k in frame["kind"]],
        _("per share"): [f"{v:.4f}" for v in frame["per_share"]],
        _("shares held"): [f"{int(v):,}" for v in frame["shares_held"]],
        _("amount"): [f"{int(v):,} " + _("shares") if s else _num(float(v)) for v, s in zip(frame["amount"], shares)],
        _("source"): frame["source"].astype(str),
    })
    return table(out, lambda col, v: str(v))


def orders_table(orders: pd.DataFrame, names: dict, _=_en) -> Table:
    """Orders that did not fill, each with who ended it (the market, the strategy, its lifetime)
    and the reason in words."""
    bad = orders[orders["status"] != "filled"] if len(orders) else orders
    if bad.empty:
        return Table([_("order")], [], empty=_("every order was filled"))
    frame = pd.DataFrame({
        _("session"): bad["date"].astype(str), _("stock"): [label(c, names) for c in bad["code"]],
        _("side"): [word(x, _.lang) for x in bad["side"]], _("shares"): bad["size"].astype(int),
        _("price"): bad["price"], _("at"): [word(x, _.lang, AT) for x in bad["at"]],
        _("ended by"): [i18n.translate(OUTCOMES[metrics.outcome_of(s, r)], _.lang)
                        for s, r in zip(bad["status"], bad["reason"])],
        _("status"): [word(x, _.lang) for x in bad["status"]],
        _("why"): [i18n.translate(reason_text(r), _.lang) for r in bad["reason"]],
        _("reason code"): bad["reason"], _("note"): bad["note"],
    })
    return table(frame, lambda col, v: _num(v) if isinstance(v, float) else ("" if v is None else str(v)))


# Values of the ledgers' columns shown in words (each marked here so the catalogue has it).
WORDS = {"buy": N_("buy"), "sell": N_("sell"), "short": N_("short"), "cover": N_("cover"), "long": N_("long"),
         "filled": N_("filled"), "partial": N_("partial"), "refused": N_("refused"), "cancelled": N_("cancelled"),
         "expired": N_("expired"), "submitted": N_("submitted")}
AT = {"open": N_("at the open"), "close": N_("at the close"), "limit": N_("at the open, limit at limit-up")}


def word(value, lang: str, vocabulary: dict = WORDS) -> str:
    """A ledger value (``buy``, ``filled``, ``open``...) in ``lang``."""
    return i18n.translate(vocabulary.get(value, value), lang) if isinstance(value, str) else value


def pnl_chart(trades: pd.DataFrame, names: dict, _=_en) -> dict | None:
    if trades.empty:
        return None
    by = trades.groupby("code", sort=False).agg(net=("net_pnl", "sum"), open=("status", lambda s: (s == "open").any()))
    by = by.sort_values("net", ascending=False)
    return charts.pnl_by_stock([label(c, names) for c in by.index], by["net"].tolist(), by["open"].tolist(), _)


def _locked(cols: dict) -> tuple[np.ndarray, np.ndarray]:
    """Sessions locked at limit-up / limit-down all day (一字板): the flags the engine's order checks
    used (built with the feed, the dated ST status and the run's tolerance included), so a marker is
    exactly where the engine refused."""
    return np.asarray(cols["locked_up"], dtype=bool), np.asarray(cols["locked_down"], dtype=bool)


def chart_codes(trades: pd.DataFrame, orders: pd.DataFrame) -> list[str]:
    """Stocks that get a price chart, at most :data:`MAX_PRICE_CHARTS`: the traded ones by
    |net P&L|, and the ones only refused (a stock locked at limit-up on the event day is what a
    reviewer asks about: a third of the charts are kept for them)."""
    traded: list[str] = []
    if len(trades):
        pnl = trades.groupby("code", sort=False)["net_pnl"].sum().abs().sort_values(ascending=False, kind="stable")
        traded = list(pnl.index)
    refused = [] if orders.empty else list(dict.fromkeys(orders.loc[orders["status"] != "filled", "code"]))
    only_refused = [c for c in refused if c not in set(traded)][:MAX_PRICE_CHARTS // 3]
    return traded[:MAX_PRICE_CHARTS - len(only_refused)] + only_refused


def price_charts(prep, trades: pd.DataFrame, orders: pd.DataFrame, names: dict, _=_en) -> list[dict]:
    """One interactive price chart per traded stock (see :func:`hypebt.reports.charts.price_chart`)."""
    lang = _.lang
    events = [(str(t.session.date()), t.event.name or t.event.id) for t in prep.events]
    out = []
    for code in chart_codes(trades, orders):
        arrays = prep.arrays.get(code)
        if arrays is None:
            continue
        mine = trades[trades["code"] == code] if len(trades) else trades
        marks = {
            "entries": [(str(r.entry_date), r.entry_price,
                         _("%(day)s: %(direction)s entry, %(shares)s @ %(price)s", day=r.entry_date,
                           direction=word(r.direction, lang), shares=f"{int(r.size):,}", price=f"{r.entry_price:.2f}"))
                        for r in mine.itertuples()],
            "exits": [(str(r.exit_date), r.exit_price,
                       _("%(day)s: exit @ %(price)s, net %(pnl)s CNY", day=r.exit_date, price=f"{r.exit_price:.2f}",
                         pnl=f"{r.net_pnl:,.2f}")) for r in mine.itertuples() if r.status == "closed"],
        }
        refused = orders[(orders["code"] == code) & (orders["status"] != "filled")] if len(orders) else orders
        marks["refused"] = [(str(r.date), r.price,
                             _("%(day)s: %(side)s %(outcome)s: %(why)s", day=r.date, side=word(r.side, lang),
                               outcome=OUTCOMES[metrics.outcome_of(r.status, r.reason)], why=reason_text(r.reason)))
                            for r in refused.itertuples()]
        up, down = _locked(arrays.columns)
        out.append(charts.price_chart(label(code, names), prep.sessions, arrays.columns, marks, events, up, down, _))
    return out


def page(prep, result, names: dict, *, title: str, notes: list[str], warning: str, tearsheet: str | None,
         plotly_src: str, lang: str = "en") -> str:
    """The whole ``report.html`` of one run in ``lang``, as text; ``plotly_src``: the relative URL of
    plotly.js (:mod:`hypebt.reports.assets`)."""
    _ = i18n.translator(lang)
    stats, spec = result.stats, prep.spec
    recorded = [c for c in result.equity.columns if c not in RESERVED_EQUITY]
    figures = [("equity", charts.equity_drawdown(result.returns, prep.benchmark, prep.strategy_name, spec.benchmark, _))]
    if recorded:
        figures.append(("recorded", charts.recorded(result.equity, recorded, _)))
    pnl = pnl_chart(result.trades, names, _)
    prices = price_charts(prep, result.trades, result.orders, names, _)
    open_trades = result.trades[result.trades["status"] == "open"] if len(result.trades) else result.trades
    return render(
        "run.html", lang=lang, title=title, heading=title, notes_list=notes, warning=warning,
        period=_("%(start)s..%(end)s (%(n)s sessions)", start=stats["start"], end=stats["end"], n=stats["sessions"]),
        benchmark=spec.benchmark, counts=counts(stats),
        headline=headline(stats, spec.benchmark, metrics.from_returns(prep.benchmark), _),
        events=events_table(prep, result.orders, names, _), trades=trades_table(result.trades, names, _=_),
        open_positions=trades_table(open_trades, names, _("no position left open"), _),
        n_open=len(open_trades), orders=orders_table(result.orders, names, _),
        corporate=corporate_table(getattr(result, "corporate_actions", None), names, basis_of(prep), _),
        sessions=charts.session_days(prep.sessions), pnl=pnl, figures=figures,
        prices=prices, n_price_charts=len(prices), max_price_charts=MAX_PRICE_CHARTS, tearsheet=tearsheet,
        plotly_src=plotly_src, params=", ".join(f"{k}={v}" for k, v in result.params.items()),
    )
