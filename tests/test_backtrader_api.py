"""Backtrader's own API in a hypebt run, on hand-made bars, each expected fill derived by hand.

A plain ``bt.Strategy`` (no hypebt import) places orders from a plan: market, close, limit, stop,
stop-limit, trailing stop, ``valid``, OCO groups, brackets, ``cancel``, ``order_target_*``. Every
order goes through the A-share checks; ``notify_order`` sees Backtrader's statuses (``Rejected`` or
``Margin`` when the market refuses it) and ``notify_trade`` Backtrader's trades; what hypebt does not
model raises one line naming what to use; reading today's close before the open raises.
"""

from __future__ import annotations

import datetime as dt

import backtrader as bt
import pytest

from helpers_engine import BENCH, LOCKED_UP_ROWS, WEEK_ROWS, bars, make_workspace, write_spec, write_store
from hypebt.core.errors import LookAheadError, StrategyError
from hypebt.engine import backtest as engine
from hypebt.engine.spec import load_spec

A, STAR, U = "600000", "688001", "600005"
ROWS = WEEK_ROWS[:6]  # sessions 0-5: 01-02 .. 01-09, opens 10.0 10.2 10.6 10.9 11.0 10.8
STAR_ROWS = [(d, 5 * o, 5 * h, 5 * l, 5 * c) for d, o, h, l, c in ROWS]
UP = LOCKED_UP_ROWS  # U: locked at limit-up (一字涨停, 10.00 -> 11.00) on session 1
EVENTS: list = []
TRADES: list = []


class Plan(bt.Strategy):
    """Places the orders of its ``plan``: (session, "open"|"close", method, keywords); keywords
    ``code`` (the feed), ``tag`` (a name for the order), ``oco``/``parent`` (a tag), ``exectype`` (a
    name). Records every notification."""

    params = (("plan", []),)

    def __init__(self):
        self.tagged = {}

    def session(self):
        return len(self.data) - 1

    def act(self, hook):
        for n, h, name, kwargs in self.p.plan:
            if n != self.session() or h != hook:
                continue
            kw = dict(kwargs)
            if name == "cancel":
                self.cancel(self.tagged[kw["tag"]])
                continue
            tag = kw.pop("tag", None)
            if "code" in kw:
                kw["data"] = self.getdatabyname(kw.pop("code"))
            for key in ("oco", "parent"):
                if key in kw:
                    kw[key] = self.tagged[kw[key]]
            if "exectype" in kw:
                kw["exectype"] = getattr(bt.Order, kw["exectype"])
            out = getattr(self, name)(**kw)
            if tag:
                self.tagged[tag] = out

    def next_open(self):
        self.act("open")

    def next(self):
        self.act("close")

    def notify_order(self, order):
        EVENTS.append((self.session(), order.ref, order.getstatusname(), order.executed.size,
                       round(order.executed.price, 4), order.info.get("reason")))

    def notify_trade(self, trade):
        TRADES.append((self.session(), trade.isclosed, round(trade.pnl, 2), round(trade.pnlcomm, 2)))


def run(tmp_path, plan, cls=Plan, cash=1_000_000.0, margin=(), rules=None, stocks=None, **spec):
    EVENTS.clear()
    TRADES.clear()
    stocks = stocks or {A: bars(10.0, ROWS), STAR: bars(50.0, STAR_ROWS), U: bars(10.0, UP)}
    store = write_store(tmp_path / "store", stocks)
    ws = make_workspace(tmp_path / "ws", margin=margin)
    path = write_spec(ws, "t", {"strategy": "plan", "codes": list(stocks), "benchmark": BENCH, "cash": cash,
                                **({"margin_list": "margin"} if margin else {}), **spec}, {"rules": rules or {}})
    prep = engine.prepare(load_spec(path), ws, store, strategy_cls=cls)
    return engine.run(prep, {"plan": plan} if cls is Plan or plan else None, strategy_cls=cls)


def statuses(ref) -> list[str]:
    return [e[2] for e in EVENTS if e[1] == ref]


def fills(res, code=A):
    f = res.fills[res.fills["code"] == code]
    return [(d.isoformat()[5:], s, int(n), p) for d, s, n, p in zip(f["date"], f["side"], f["size"], f["price"])]


# --- when orders fill ----------------------------------------------------------------------------

def test_an_order_in_next_fills_at_the_next_open_and_notify_trade_fires(tmp_path):
    res = run(tmp_path, [(0, "close", "buy", {"size": 1000}), (2, "close", "close", {})])
    assert fills(res) == [("01-03", "buy", 1000, 10.2), ("01-05", "sell", 1000, 10.9)]
    first, second = sorted({e[1] for e in EVENTS})
    assert statuses(first) == ["Submitted", "Accepted", "Completed"]
    assert [e[0] for e in EVENTS if e[1] == first] == [1, 1, 1]  # told at the fill's session
    # 700.00 gross; fees 5.10 (buy: 5 commission + 0.10 transfer) + 10.56 (sell: 5 + 5.45 stamp + 0.11)
    assert TRADES[-1] == (3, True, 700.0, 684.34)
    assert res.trades["net_pnl"].tolist() == [684.34]


def test_an_order_in_next_open_fills_at_this_open(tmp_path):
    res = run(tmp_path, [(1, "open", "buy", {"size": 1000})])
    assert fills(res) == [("01-03", "buy", 1000, 10.2)]


def test_a_close_order_fills_at_the_next_close_or_this_close_before_the_open(tmp_path):
    res = run(tmp_path, [(0, "close", "buy", {"size": 1000, "exectype": "Close"}),
                         (3, "open", "sell", {"size": 1000, "exectype": "Close"})])
    assert fills(res) == [("01-03", "buy", 1000, 10.6), ("01-05", "sell", 1000, 11.0)]
    assert res.orders["at"].tolist() == ["close", "close"]


# --- price orders ----------------------------------------------------------------------------------

def test_limit_orders_fill_at_the_limit_or_expire_after_valid(tmp_path):
    res = run(tmp_path, [(0, "close", "buy", {"size": 1000, "exectype": "Limit", "price": 10.15, "tag": "a"}),
                         (0, "close", "buy", {"size": 1000, "exectype": "Limit", "price": 10.0, "tag": "b",
                                              "valid": dt.timedelta(days=2)})])
    # a: session 1 opens at 10.2 and trades down to 10.1: filled at its limit. b: 10.0 is never
    # reached; valid until 01-04 15:00, so it expires at the 01-05 session.
    assert fills(res) == [("01-03", "buy", 1000, 10.15)]
    a, b = sorted({e[1] for e in EVENTS})
    assert statuses(b) == ["Submitted", "Accepted", "Expired"]
    assert [e[0] for e in EVENTS if e[1] == b][-1] == 3
    assert res.orders[res.orders["status"] == "expired"]["at"].tolist() == ["limit@10"]


def test_a_stop_loss_fills_at_its_stop_and_a_trailing_stop_follows_the_closes(tmp_path):
    plan = [(1, "open", "buy", {"size": 1000}),
            (3, "close", "sell", {"size": 1000, "exectype": "Stop", "price": 10.7})]
    assert fills(run(tmp_path / "stop", plan))[1] == ("01-08", "sell", 1000, 10.7)  # 11.0 open, low 10.6
    # A trailing stop 0.30 below each close, placed at the close of 01-03 (10.6 -> 10.3), moved to
    # 10.6 and 10.7 by the next closes; 01-08 trades down to 10.6: sold at 10.7.
    plan = [(1, "open", "buy", {"size": 1000}),
            (1, "close", "sell", {"size": 1000, "exectype": "StopTrail", "trailamount": 0.3})]
    assert fills(run(tmp_path / "trail", plan))[1] == ("01-08", "sell", 1000, 10.7)


def test_a_stop_limit_fills_at_its_stop_or_waits_as_a_limit_order(tmp_path):
    plan = [(1, "open", "buy", {"size": 1000}),
            (3, "close", "sell", {"size": 500, "exectype": "StopLimit", "price": 10.75, "plimit": 10.7}),
            (3, "close", "sell", {"size": 500, "exectype": "StopLimit", "price": 10.75, "plimit": 10.8})]
    # 01-08 trades down through 10.75: the first (limit below the stop) fills at the stop; the second
    # (limit above it) cannot be known to have come back up: a limit order at 10.8, filled at the
    # 01-09 open (10.8).
    assert fills(run(tmp_path, plan))[1:] == [("01-08", "sell", 500, 10.75), ("01-09", "sell", 500, 10.8)]


def test_limit_and_stop_fills_are_on_the_exchange_tick_that_does_not_worsen_the_order(tmp_path):
    """Prices move in ticks of 0.01 CNY (SSE/SZSE 交易规则 3.3.x, 最小报价单位): a limit or stop between
    two ticks fills on the tick that does not worsen it, and its fees are those of that price."""
    from hypebt.market import rules as R

    plan = [(0, "close", "buy", {"size": 1000, "exectype": "Limit", "price": 10.15845}),  # 01-03 low 10.1: 10.15
            (1, "close", "sell", {"size": 500, "exectype": "Limit", "price": 10.8333}),  # 01-04 high 11.0: 10.84
            (3, "close", "sell", {"size": 300, "exectype": "Stop", "price": 10.7049}),  # 01-08 low 10.6: 10.70
            (3, "close", "sell", {"size": 200, "exectype": "StopLimit", "price": 10.7549, "plimit": 10.7021})]
    res = run(tmp_path, plan)  # the stop-limit: stop 10.75, limit 10.71 (up for a sale): filled at its stop
    assert fills(res) == [("01-03", "buy", 1000, 10.15), ("01-04", "sell", 500, 10.84),
                          ("01-08", "sell", 300, 10.7), ("01-08", "sell", 200, 10.75)]
    for f in res.fills.itertuples():
        assert round(f.price, 2) == f.price
        side = "buy" if f.side == "buy" else "sell"
        assert (f.commission, f.stamp_duty, f.transfer_fee) == tuple(vars(R.fees(side, f.size, f.price, f.date)).values())
    assert [e[4] for e in EVENTS if e[2] == "Completed"] == [10.15, 10.84, 10.7, 10.75]


class ShortAndCover(Plan):
    def notify_trade(self, trade):
        TRADES.append((self.session(), trade.isclosed, round(trade.pnl, 2), round(trade.pnlcomm, 2),
                       round(trade.commission, 2)))


def test_a_shorts_pnlcomm_is_net_of_fees_and_borrow_interest_as_the_trade_ledger(tmp_path):
    plan = [(0, "close", "sell", {"size": 1000}), (3, "close", "buy", {"size": 1000})]
    res = run(tmp_path, plan, cls=ShortAndCover, margin=(A,))
    trade = res.trades.iloc[0]
    # shorted at the 01-03 open (10.2), covered at the 01-08 open (11.0): 800 lost, fees and 5 days of
    # interest on 10,200 at 8 % (11.33) on top
    assert (trade["direction"], trade["gross_pnl"], trade["borrow_fee"]) == ("short", -800.0, 11.33)
    closed = [t for t in TRADES if t[1]]
    assert closed == [(4, True, -800.0, round(trade["net_pnl"] - trade["distributions"], 2),
                       round(trade["fees"] + trade["borrow_fee"], 2))]


def test_one_cancels_other(tmp_path):
    res = run(tmp_path, [(0, "close", "buy", {"size": 1000, "exectype": "Limit", "price": 10.15, "tag": "a"}),
                         (0, "close", "buy", {"size": 1000, "exectype": "Limit", "price": 10.12, "tag": "b",
                                              "oco": "a"})])
    # both would fill on 01-03 (low 10.1); the first fills, the other is cancelled
    assert fills(res) == [("01-03", "buy", 1000, 10.15)]
    a, b = sorted({e[1] for e in EVENTS})
    assert statuses(a)[-1] == "Completed" and statuses(b)[-1] == "Canceled"
    assert res.orders[res.orders["status"] == "cancelled"]["reason"].tolist() == ["oco"]


def test_a_bracket_works_its_children_after_the_parent_and_one_child_cancels_the_other(tmp_path):
    res = run(tmp_path, [(0, "close", "buy_bracket", {"size": 1000, "price": 10.15, "stopprice": 10.0,
                                                       "limitprice": 11.1})])
    # parent (limit 10.15) fills on 01-03; the children work from 01-04; 01-05 trades up to 11.2:
    # the limit sell fills at 11.1 and the stop is cancelled
    assert fills(res) == [("01-03", "buy", 1000, 10.15), ("01-05", "sell", 1000, 11.1)]
    parent, stop, limit = sorted({e[1] for e in EVENTS})
    assert statuses(parent)[-1] == "Completed" and statuses(limit)[-1] == "Completed"
    assert statuses(stop)[-1] == "Canceled"


def test_bracket_children_wait_for_their_parent(tmp_path):
    res = run(tmp_path, [(0, "close", "buy_bracket", {"size": 1000, "price": 9.5, "stopprice": 9.0,
                                                       "limitprice": 10.7})])
    # the parent (limit 9.5) is never reached; the high side (10.7) is on 01-03, but a child does not
    # work before its parent has filled: nothing trades, nothing is refused
    assert len(res.fills) == 0
    assert set(res.orders["status"]) == {"cancelled"} and set(res.orders["reason"]) == {"end_of_data"}
    assert not [e for e in EVENTS if e[2] in ("Rejected", "Margin", "Completed")]


def test_cancel_before_the_order_works(tmp_path):
    res = run(tmp_path, [(0, "close", "buy", {"size": 1000, "exectype": "Limit", "price": 9.0, "tag": "a"}),
                         (1, "close", "cancel", {"tag": "a"})])
    assert len(res.fills) == 0
    assert statuses(min(e[1] for e in EVENTS)) == ["Submitted", "Accepted", "Canceled"]
    assert res.orders[["status", "reason"]].values.tolist() == [["cancelled", "cancelled"]]


# --- the market refuses --------------------------------------------------------------------------

def test_refusals_end_rejected_or_margin_and_notify_order_sees_them(tmp_path):
    res = run(tmp_path, [(0, "close", "buy", {"code": U, "size": 1000}),      # 01-03: 一字涨停
                         (0, "close", "sell", {"size": 1000}),                # no position, not on the margin list
                         (0, "close", "buy", {"size": 150}),                  # not a lot
                         (0, "close", "buy", {"size": 200_000})],             # 2.04 M > 1 M cash
              cash=1_000_000.0)
    assert len(res.fills) == 0
    got = [(statuses(ref)[-1], next(e[5] for e in EVENTS if e[1] == ref and e[2] not in ("Submitted", "Accepted")))
           for ref in sorted({e[1] for e in EVENTS})]
    assert got == [("Rejected", "locked_limit_up"), ("Rejected", "not_shortable"), ("Rejected", "lot_size"),
                   ("Margin", "cash")]


def test_the_default_sizer_buys_one_board_lot_and_targets_round_to_lots(tmp_path):
    res = run(tmp_path, [(0, "close", "buy", {}), (0, "close", "buy", {"code": STAR}),
                         (2, "close", "order_target_percent", {"target": 0.5})])
    # one lot of 100 (main board) and 200 (STAR); then half of the value at the 01-04 close in whole
    # lots at that close (10.9): the target is worked out by Backtrader at the close, filled at the next open
    assert fills(res)[0] == ("01-03", "buy", 100, 10.2) and fills(res, STAR) == [("01-03", "buy", 200, 51.0)]
    value = res.equity["value"].iloc[2]
    assert fills(res)[1] == ("01-05", "buy", int((value / 2 - 100 * 10.9) / 10.9) // 100 * 100, 10.9)


class OwnSizer(Plan):
    def __init__(self):
        super().__init__()
        self.setsizer(bt.sizers.FixedSize(stake=300))  # Backtrader's place for it: honoured


class OddSizer(Plan):
    def start(self):
        self.setsizer(bt.sizers.FixedSize(stake=150))  # not a whole lot: the market refuses it


def test_a_sizer_set_in_init_or_start_is_the_strategys_and_its_sizes_are_checked(tmp_path):
    res = run(tmp_path, [(0, "close", "buy", {})], cls=OwnSizer)
    assert fills(res) == [("01-03", "buy", 300, 10.2)]
    res = run(tmp_path / "odd", [(0, "close", "buy", {})], cls=OddSizer)
    assert res.fills.empty and res.orders[["size", "status", "reason"]].values.tolist() == [[150, "refused", "lot_size"]]
    assert [e[2] for e in EVENTS][-1] == "Rejected"


def test_a_fill_cut_by_the_volume_cap_works_on_at_the_next_session(tmp_path):
    res = run(tmp_path, [(0, "close", "buy", {"size": 300_000})], cash=5_000_000.0)
    # a quarter of the 1,000,000 shares traded on 01-03, then the rest at the 01-04 open
    assert fills(res) == [("01-03", "buy", 250_000, 10.2), ("01-04", "buy", 50_000, 10.6)]
    ref = EVENTS[0][1]
    assert statuses(ref) == ["Submitted", "Accepted", "Partial", "Completed"]


# --- what hypebt does not model, and look-ahead ------------------------------------------------------

class Historical(Plan):
    def next(self):
        self.buy(size=100, exectype=bt.Order.Historical)


class CheatOnClose(Plan):
    def start(self):
        self.broker.set_coc(True)


def test_what_hypebt_does_not_model_is_one_line_naming_what_to_use(tmp_path):
    with pytest.raises(StrategyError, match=r"test_backtrader_api.py:\d+ in next.*Historical.*use Market, Close"):
        run(tmp_path / "h", [], cls=Historical)
    with pytest.raises(StrategyError, match=r"set_coc.*a Close order"):
        run(tmp_path / "c", [], cls=CheatOnClose)


class PeekAtTheOpen(Plan):
    def next_open(self):
        self.seen = (self.data.open[0], self.data.close[-1] if len(self.data) > 1 else None)
        if len(self.data) == 3:
            return self.data.close[0]


class PeekLater(Plan):
    def __init__(self):
        super().__init__()
        self.sma = bt.ind.SMA(self.data.close, period=2)

    def next(self):
        if len(self.data) == 3:
            return self.sma[1]


def test_a_line_read_before_the_open_or_a_later_value_raises_naming_the_line(tmp_path):
    with pytest.raises(LookAheadError, match=r"test_backtrader_api.py:\d+ in next_open.*today's close "
                                             r"\(2024-01-04\) is not known before the open"):
        run(tmp_path / "open", [], cls=PeekAtTheOpen)
    with pytest.raises(LookAheadError, match=r"test_backtrader_api.py:\d+ in next.*an indicator read \[1\] a later"):
        run(tmp_path / "later", [], cls=PeekLater)
