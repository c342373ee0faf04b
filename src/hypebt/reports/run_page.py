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

from hypebt.engine import metrics
from hypebt.market import rules as R
from hypebt.reports import charts
from hypebt.reports.templating import Cell, Table, render, table

MAX_PRICE_CHARTS = 30  # a whole-market run may trade hundreds of stocks: the largest moves only
RESERVED_EQUITY = ("date", "cash", "value")

REASONS = {
    "locked_limit_up": "locked at limit-up all day (一字板): no seller",
    "locked_limit_down": "locked at limit-down all day: no buyer",
    "limit_up": "price at or above the limit-up price",
    "limit_down": "price at or below the limit-down price",
    "suspended": "suspended: no trading",
    "cash": "not enough cash",
    "end_of_data": "still waiting when the run ended",
}


def label(code: str, names: dict[str, str]) -> str:
    """``"300624 万兴科技"``, or the code alone when its name is unknown."""
    name = names.get(code, "")
    return f"{code} {name}" if name else code


def _pct(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:+.2%}"


def _num(v, digits: int = 2) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:,.{digits}f}"


def headline(stats: dict, benchmark: str, bench: dict | None = None) -> Table:
    """Strategy vs benchmark: the figures a reader compares first (``bench``: the benchmark's
    :func:`hypebt.engine.metrics.from_returns` figures over the same sessions)."""
    bench = bench or {}
    rows = [
        ("total return", _pct(stats.get("total_return")), _pct(stats.get("benchmark_total_return"))),
        ("annualised return (CAGR, 242 sessions a year)", _pct(stats.get("cagr")), _pct(stats.get("benchmark_cagr"))),
        ("Sharpe ratio", _num(stats.get("sharpe")) or "n/a", _num(bench.get("sharpe"))),
        ("max drawdown", _pct(stats.get("max_drawdown")), _pct(bench.get("max_drawdown"))),
        ("volatility (annualised)", _pct(stats.get("volatility")), ""),
        ("closed trades / win rate", f"{stats.get('n_trades', 0)} / {_pct(stats.get('win_rate')) or 'n/a'}", ""),
        ("exposure (share of sessions invested)", _pct(stats.get("exposure")), ""),
        ("refused or cancelled orders", str(stats.get("refused_orders", 0)), ""),
        ("fees / borrow fees, CNY", f"{_num(stats.get('fees'))} / {_num(stats.get('borrow_fees'))}", ""),
        ("start cash → final value, CNY", f"{_num(stats.get('start_cash'))} → {_num(stats.get('final_value'))}", ""),
    ]
    return Table(["figure", "strategy", f"benchmark {benchmark}"], [[Cell(a), Cell(b), Cell(c)] for a, b, c in rows],
                 cls="")


def _event_orders(orders: pd.DataFrame, ev_id: str, day0: str) -> pd.DataFrame:
    """Orders an event caused: tagged with its id, or placed on its first tradable session."""
    if orders.empty:
        return orders
    return orders[(orders["note"].astype(str) == ev_id) | (orders["date"].astype(str) == day0)]


def universe_text(record: dict | None, names: dict) -> str:
    """One event's board universe in words: each board's snapshot, its age, the members, and those
    without a bar on the event's session (why)."""
    if not record:
        return ""
    boards = "; ".join(f"{b['board']}: snapshot {b['published']}, {b['age_days']} days old, {b['members']} members"
                       + (" (published after the event: look-ahead)" if b["look_ahead"] else "")
                       for b in record["boards"])
    missing = record["no_bar"]
    if missing:
        boards += f"; {len(missing)} without a bar that session: " + ", ".join(
            f"{label(c, names)} ({why})" for c, why in list(missing.items())[:8]) + (" ..." if len(missing) > 8 else "")
    return boards


def events_table(prep, orders: pd.DataFrame, names: dict) -> Table:
    """Per event: when it happened and became known (Beijing), its first tradable session and
    price (open or close), its universe (board universes: the snapshot each board came from and its
    age), what was bought or shorted, what was refused and why."""
    rows = []
    universes = {r["event"]: r for r in getattr(prep, "event_universes", [])}
    for t in prep.events:
        ev, day0 = t.event, str(t.session.date())
        mine = _event_orders(orders, ev.id, day0)
        opening = mine[mine["side"].isin(["buy", "short"])] if len(mine) else mine
        done = opening[opening["status"] == "filled"] if len(opening) else opening
        refused = opening[opening["status"] != "filled"] if len(opening) else opening
        rows.append([
            Cell(ev.id), Cell(ev.name), Cell(ev.company), Cell(str(ev.time)), Cell(str(ev.known_time)),
            Cell(f"{day0} at the {t.at}"),
            Cell(universe_text(universes.get(ev.id), names)
                 or f"{prep.universe_name} ({len(t.universe) if t.universe is not None else len(prep.codes)} codes)"),
            Cell("; ".join(f"{r.side} {label(r.code, names)} {int(r.size)} @ {r.price:.2f}" for r in done.itertuples())
                 or "nothing"),
            Cell("; ".join(f"{label(r.code, names)}: {REASONS.get(r.reason, r.reason)}" for r in refused.itertuples())
                 or "nothing"),
        ])
    return Table(["event", "name", "company", "happened (Beijing)", "known (Beijing)", "first tradable",
                  "universe (as known then)", "bought / shorted", "refused (why)"], rows, empty="no events in this run")


def trades_table(trades: pd.DataFrame, names: dict, empty: str = "no trades") -> Table:
    """Every trade with the stock's name; open positions say so (marked to the last close)."""
    if trades.empty:
        return Table(["stock"], [], empty=empty)
    frame = pd.DataFrame({
        "stock": [label(c, names) for c in trades["code"]],
        "direction": trades["direction"],
        "entry session": trades["entry_date"].astype(str),
        "entry price": trades["entry_price"],
        "exit session": [("open (marked to the last close)" if s == "open" else str(d))
                         for d, s in zip(trades["exit_date"], trades["status"])],
        "exit price": trades["exit_price"],
        "shares": trades["size"],
        "gross P&L": trades["gross_pnl"], "fees": trades["fees"], "borrow": trades["borrow_fee"],
        "net P&L": trades["net_pnl"],
        "return": trades["net_pnl"] / (trades["entry_price"] * trades["size"]),
    })

    def fmt(col, v):
        if col == "return":
            return _pct(v)
        if col == "shares":
            return f"{int(v):,}"
        return _num(v, 2) if isinstance(v, float) else str(v)

    return table(frame, fmt)


def orders_table(orders: pd.DataFrame, names: dict) -> Table:
    """Refused and cancelled orders with the reason in words."""
    bad = orders[orders["status"] != "filled"] if len(orders) else orders
    if bad.empty:
        return Table(["order"], [], empty="every order was filled")
    frame = pd.DataFrame({
        "session": bad["date"].astype(str), "stock": [label(c, names) for c in bad["code"]], "side": bad["side"],
        "shares": bad["size"].astype(int), "price": bad["price"], "at": bad["at"], "status": bad["status"],
        "why": [REASONS.get(r, r) for r in bad["reason"]], "reason code": bad["reason"], "note": bad["note"],
    })
    return table(frame, lambda col, v: _num(v) if isinstance(v, float) else ("" if v is None else str(v)))


def pnl_chart(trades: pd.DataFrame, names: dict) -> dict | None:
    if trades.empty:
        return None
    by = trades.groupby("code", sort=False).agg(net=("net_pnl", "sum"), open=("status", lambda s: (s == "open").any()))
    by = by.sort_values("net", ascending=False)
    return charts.pnl_by_stock([label(c, names) for c in by.index], by["net"].tolist(), by["open"].tolist())


def _locked(code: str, cols: dict, rules, st: bool) -> tuple[np.ndarray, np.ndarray]:
    """Sessions locked at limit-up / limit-down all day (一字板), from the one rules implementation
    (:func:`hypebt.market.rules.limit_flags`, with the run's tolerance)."""
    flags = R.limit_flags(code, cols["open"], cols["high"], cols["low"], cols["close"], cols["limit_up"],
                          cols["limit_down"], prev_close=cols.get("prev_close"), st=st, rules=rules)
    return np.asarray(flags["locked_up"], dtype=bool), np.asarray(flags["locked_down"], dtype=bool)


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


def price_charts(prep, trades: pd.DataFrame, orders: pd.DataFrame, names: dict) -> list[dict]:
    """One interactive price chart per traded stock (see :func:`hypebt.reports.charts.price_chart`)."""
    events = [(str(t.session.date()), t.event.name or t.event.id) for t in prep.events]
    out = []
    for code in chart_codes(trades, orders):
        arrays = prep.arrays.get(code)
        if arrays is None:
            continue
        mine = trades[trades["code"] == code] if len(trades) else trades
        marks = {
            "entries": [(str(r.entry_date), r.entry_price, f"{r.entry_date}: {r.direction} entry, {int(r.size):,} @ "
                         f"{r.entry_price:.2f}") for r in mine.itertuples()],
            "exits": [(str(r.exit_date), r.exit_price, f"{r.exit_date}: exit @ {r.exit_price:.2f}, net "
                       f"{r.net_pnl:,.2f} CNY") for r in mine.itertuples() if r.status == "closed"],
        }
        refused = orders[(orders["code"] == code) & (orders["status"] != "filled")] if len(orders) else orders
        marks["refused"] = [(str(r.date), r.price, f"{r.date}: {r.side} refused: {REASONS.get(r.reason, r.reason)}")
                            for r in refused.itertuples()]
        st = code in set(prep.spec.st_codes) or R.is_st(names.get(code))
        up, down = _locked(code, arrays.columns, prep.rules, st)
        out.append(charts.price_chart(label(code, names), prep.sessions, arrays.columns, marks, events, up, down))
    return out


def page(prep, result, names: dict, *, title: str, notes: list[str], warning: str, tearsheet: str | None) -> str:
    """The whole ``report.html`` of one run, as text."""
    stats, spec = result.stats, prep.spec
    recorded = [c for c in result.equity.columns if c not in RESERVED_EQUITY]
    figures = [("equity", charts.equity_drawdown(result.returns, prep.benchmark, prep.strategy_name, spec.benchmark))]
    if recorded:
        figures.append(("recorded", charts.recorded(result.equity, recorded)))
    pnl = pnl_chart(result.trades, names)
    prices = price_charts(prep, result.trades, result.orders, names)
    open_trades = result.trades[result.trades["status"] == "open"] if len(result.trades) else result.trades
    return render(
        "run.html", lang="zh-CN", title=title, heading=title, notes_list=notes, warning=warning,
        period=f"{stats['start']}..{stats['end']} ({stats['sessions']} sessions)", benchmark=spec.benchmark,
        headline=headline(stats, spec.benchmark, metrics.from_returns(prep.benchmark)), events=events_table(prep, result.orders, names),
        trades=trades_table(result.trades, names), open_positions=trades_table(open_trades, names, "no position left open"),
        n_open=len(open_trades), orders=orders_table(result.orders, names),
        pnl=charts.to_json(pnl) if pnl else None,
        figures=[(k, charts.to_json(f)) for k, f in figures],
        prices=[charts.to_json(f) for f in prices], n_price_charts=len(prices),
        max_price_charts=MAX_PRICE_CHARTS, tearsheet=tearsheet, plotly_js=charts.plotly_js(),
        params=", ".join(f"{k}={v}" for k, v in result.params.items()),
    )
