"""Order methods of a strategy on hand-made bars, each expected fill derived by hand in a comment:
partial sells and covers, targets, weights, limit and stop orders (gaps, limit locks, T+1),
cancelling, expiry, and the on_order events with the ledger's reason codes."""

from __future__ import annotations

import pytest

from helpers_engine import BENCH, LOCKED_UP_ROWS, WEEK_ROWS, bars, make_workspace, write_spec, write_store
from hypebt import Strategy
from hypebt.engine import backtest as engine
from hypebt.engine.spec import load_spec

A, B, L, U = "600000", "000001", "600004", "600005"
ROWS = WEEK_ROWS[:6]  # sessions 0-5
HALF = [(d, o / 2, h / 2, l / 2, c / 2) for d, o, h, l, c in ROWS]
# L: locked at limit-down (一字跌停, 10.00 -> 9.00) on session 2, then gaps down to open 8.50.
LOCKED = [("2024-01-02", 10.0, 10.2, 9.9, 10.0), ("2024-01-03", 10.0, 10.1, 9.95, 10.0),
          ("2024-01-04", 9.0, 9.0, 9.0, 9.0), ("2024-01-05", 8.5, 8.8, 8.3, 8.6),
          ("2024-01-08", 8.6, 8.7, 8.5, 8.6), ("2024-01-09", 8.6, 8.7, 8.5, 8.6)]
UP = LOCKED_UP_ROWS  # U: locked at limit-up (一字涨停, 10.00 -> 11.00) on session 1
EVENTS: list = []


def run(tmp_path, cls, rules=None, cash=1_000_000.0, margin=()):
    EVENTS.clear()
    store = write_store(tmp_path / "store", {A: bars(10.0, ROWS), B: bars(5.0, HALF), L: bars(10.0, LOCKED),
                                                U: bars(10.0, UP)})
    ws = make_workspace(tmp_path / "ws", margin=margin)
    spec = write_spec(ws, "t", {"strategy": "script", "codes": [A, B, L, U], "benchmark": BENCH, "cash": cash,
                                **({"margin_list": "margin"} if margin else {})},  # a named list must exist
                      {"rules": rules or {}})
    prep = engine.prepare(load_spec(spec), ws, store, strategy_cls=cls)
    return engine.run(prep, strategy_cls=cls)


class Recorder(Strategy):
    """Records every on_order event; subclasses place orders by session in ``plan_open``/``plan_close``."""

    def on_order(self, order):
        EVENTS.append((self.session_no, order.code, order.side, order.size, order.price, order.status, order.reason))

    def on_open(self, day):
        getattr(self, f"open{self.session_no}", lambda: None)()

    def on_close(self, day):
        getattr(self, f"close{self.session_no}", lambda: None)()


def fills(res, code=A):
    f = res.fills[res.fills["code"] == code]
    return [(d.isoformat()[5:], s, int(n), p) for d, s, n, p in zip(f["date"], f["side"], f["size"], f["price"])]


# --- partial sizes -------------------------------------------------------------------------------

def test_partial_sell_keeps_the_cost_basis(tmp_path):
    seen = []

    class P(Recorder):
        def open0(self):
            self.buy_shares(A, 1000)

        def close0(self):
            self.sell_shares(A, 300, at="close")        # bought this session: T+1 refuses

        def open1(self):
            self.sell_shares(A, 150)                     # not a whole lot of a partial sale
            self.sell_shares(A, 300)

        def close1(self):
            seen.append(self.holding(A))

    res = run(tmp_path, P)
    # 1000 at 10.00: 10000 + commission 5.00 (minimum) + transfer 0.10 = 10005.10; 300 sold at 10.20.
    assert fills(res) == [("01-02", "buy", 1000, 10.0), ("01-03", "sell", 300, 10.2)]
    assert seen[0].shares == 700 and seen[0].cost_basis == pytest.approx(10.0051)
    assert (0, A, "sell", 300, 10.2, "refused", "t_plus_1") in EVENTS
    assert (1, A, "sell", 150, 10.2, "refused", "lot_size") in EVENTS
    assert [e for e in EVENTS if e[5] == "filled"] == [(0, A, "buy", 1000, 10.0, "filled", ""),
                                                       (1, A, "sell", 300, 10.2, "filled", "")]


def test_partial_cover(tmp_path):
    seen = []

    class P(Recorder):
        def open0(self):
            self.short_value(A, 20_000)                  # 20,000 / 10.00 = 2,000 shares short

        def open1(self):
            self.cover_shares(A, 500)                    # buy back 500 at 10.20

        def close1(self):
            seen.append(self.holding(A))

    res = run(tmp_path, P, margin=(A,))
    assert fills(res) == [("01-02", "short", 2000, 10.0), ("01-03", "cover", 500, 10.2)]
    # The short's basis: proceeds 20,000 - commission 5.00 - stamp duty 10.00 (0.05 % on a sale since
    # 2023-08-28) - transfer 0.20 = 19,984.80 for 2,000 shares; unchanged by the partial cover.
    assert seen[0].shares == -1500 and seen[0].cost_basis == pytest.approx(19984.80 / 2000)


# --- targets -------------------------------------------------------------------------------------

def test_order_target_shares_and_value(tmp_path):
    class P(Recorder):
        def open0(self):
            self.order_target_shares(A, 1050)            # -> 1000 (whole lots, toward the position)

        def open1(self):
            self.order_target_shares(A, 450)             # 1000 -> 500: sell 500 at 10.20

        def open2(self):
            self.order_target_value(A, 10_600)           # 10600 / 10.60 = 1000: buy 500 at 10.60

        def close3(self):
            self.order_target_value(A, 0)                # at the next open (11.00): sell all 1000

    res = run(tmp_path, P)
    assert fills(res) == [("01-02", "buy", 1000, 10.0), ("01-03", "sell", 500, 10.2),
                          ("01-04", "buy", 500, 10.6), ("01-08", "sell", 1000, 11.0)]


def test_order_target_percent_sized_at_its_moment(tmp_path):
    class P(Recorder):
        def open0(self):
            self.order_target_percent(A, 0.3)            # 300,000 / 10.00 = 30,000 shares
            self.order_target_percent(A, 0.3)            # the first is on its way: nothing more

        def close1(self):
            self.order_target_percent(A, 0.25)           # sized at the open of session 2 (10.60)

    res = run(tmp_path, P)
    # Cash after the buy: 1e6 - 300,000 - commission 75.00 - transfer 3.00 = 699,922; equity at the
    # close of session 1: 699,922 + 30,000 x 10.60 = 1,017,922. At the open of session 2 the target is
    # 0.25 x 1,017,922 / 10.60 = 24,007.6 shares: sell 5,992.4 rounded toward the position, 5,900.
    assert fills(res) == [("01-02", "buy", 30000, 10.0), ("01-04", "sell", 5900, 10.6)]
    assert len(res.orders) == 2


def test_order_target_weights_two_codes(tmp_path):
    class P(Recorder):
        def open0(self):
            self.order_target_weights({A: 0.3, B: 0.2})  # 300,000 / 10 = 30,000; 200,000 / 5 = 40,000

    res = run(tmp_path, P)
    assert fills(res, A) == [("01-02", "buy", 30000, 10.0)]
    assert fills(res, B) == [("01-02", "buy", 40000, 5.0)]

    class Bad(Recorder):
        def open0(self):
            self.order_target_weights({A: 0.7, B: 0.5})

    with pytest.raises(Exception, match="add up to 1.2"):
        run(tmp_path / "bad", Bad)


# --- limit orders --------------------------------------------------------------------------------

def test_limit_orders(tmp_path):
    tickets = {}

    class P(Recorder):
        def close0(self):
            tickets["at_open"] = self.buy_limit(A, 10.4, shares=100)    # s1 opens 10.20 <= 10.40: at the open

        def open1(self):
            tickets["intraday"] = self.buy_limit(B, 5.08, shares=100)   # B s1: open 5.10, low 5.05: at 5.08
            tickets["missed"] = self.buy_limit(A, 10.0, shares=100)     # A s1 low 10.10: not reached

        def close2(self):
            tickets["sell"] = self.sell_limit(A, 11.1)                  # s3: open 10.90, high 11.20: at 11.10

    res = run(tmp_path, P)
    assert fills(res, A) == [("01-03", "buy", 100, 10.2), ("01-05", "sell", 100, 11.1)]
    assert fills(res, B) == [("01-03", "buy", 100, 5.08)]
    assert tickets["missed"].status == "expired"                          # a day order, not filled
    assert (1, A, "buy", 100, 10.0, "expired", "good_for") in EVENTS


def test_limit_price_caps_slippage(tmp_path):
    class P(Recorder):
        def open0(self):
            self.buy_limit(A, 10.01, shares=100)   # open 10.00 + 2 ticks = 10.02, capped at 10.01
            self.buy_stop(B, 4.9, shares=100)      # B opens 5.00 >= 4.90: at the open, + 2 ticks = 5.02

    res = run(tmp_path, P, rules={"slippage_ticks": 2})
    assert fills(res, A) == [("01-02", "buy", 100, 10.01)]
    assert fills(res, B) == [("01-02", "buy", 100, 5.02)]


# --- stop orders ---------------------------------------------------------------------------------

def test_stop_orders_trade_through_and_gap(tmp_path):
    class P(Recorder):
        def open0(self):
            self.buy_shares(A, 200)
            self.buy_shares(B, 200)

        def close3(self):
            self.sell_stop(A, 10.7)               # s4: open 11.00, low 10.60: at the stop 10.70
            self.sell_stop(B, 5.52)               # B s4 opens 5.50 <= 5.52: gapped through, at the open

        def open1(self):
            self.buy_stop(A, 10.7, shares=100)    # s1: open 10.20, high 10.80: at 10.70

    res = run(tmp_path, P)
    assert fills(res, A) == [("01-02", "buy", 200, 10.0), ("01-03", "buy", 100, 10.7), ("01-08", "sell", 300, 10.7)]
    assert fills(res, B) == [("01-02", "buy", 200, 5.0), ("01-08", "sell", 200, 5.5)]


def test_stop_waits_for_the_position_and_through_a_limit_down_lock(tmp_path):
    class P(Recorder):
        def open0(self):
            self.buy_shares(L, 1000)
            self.sell_stop(L, 9.95)               # s0 triggers (open 10.00 > 9.95, low 9.90) before the
                                                  # buy has filled: nothing to sell yet, it waits

    res = run(tmp_path, P)
    # s1: open 10.00, low 9.95 <= 9.95: sold at the stop, 9.95.
    assert fills(res, L) == [("01-02", "buy", 1000, 10.0), ("01-03", "sell", 1000, 9.95)]
    assert not [e for e in EVENTS if e[5] == "refused"]

    class Lock(Recorder):
        def open0(self):
            self.buy_shares(L, 1000)

        def close1(self):
            self.sell_stop(L, 9.5)                # s2 opens locked at limit-down 9.00: cannot sell;
                                                  # s3 opens 8.50 <= 9.50: sold at the open

    res = run(tmp_path / "lock", Lock)
    assert fills(res, L) == [("01-02", "buy", 1000, 10.0), ("01-05", "sell", 1000, 8.5)]
    refused = [e for e in EVENTS if e[5] == "refused"]
    assert refused and refused[0][0] == 2 and refused[0][6].endswith("limit_down")


def test_cancel_a_resting_order(tmp_path):
    class P(Recorder):
        def open0(self):
            self.buy_shares(A, 100)

        def close2(self):
            self.guard = self.sell_stop(A, 10.65)  # s3 low 10.70: not reached; s4 low 10.60 would fill it

        def open4(self):
            assert self.cancel(self.guard) is True  # before the open of s4: never filled
            assert self.cancel(self.guard) is False
            assert self.open_orders(A) == []

    res = run(tmp_path, P)
    assert fills(res, A) == [("01-02", "buy", 100, 10.0)]
    assert (4, A, "sell", 0, 10.65, "cancelled", "cancelled") in EVENTS
    assert "cancelled" in res.orders["status"].tolist()


def test_a_limit_order_waits_out_a_limit_up_lock(tmp_path):
    tickets = []

    class P(Recorder):
        def open1(self):
            tickets.append(self.buy_limit(U, 12.0, shares=100, good_for=2))  # any price, two sessions

    res = run(tmp_path, P)
    # s1 opens at 11.00 <= 12.00 but is locked at limit-up all day: refused, the order rests;
    # s2 opens at 11.50 <= 12.00: filled at the open.
    assert fills(res, U) == [("01-04", "buy", 100, 11.5)]
    assert [e for e in EVENTS if e[1] == U] == [(1, U, "buy", 100, 11.0, "refused", "locked_limit_up"),
                                                (2, U, "buy", 100, 11.5, "filled", "")]
    assert tickets[0].status == "filled" and tickets[0].at == "limit@12"


def test_stop_loss_on_a_short_covers_when_the_price_rises(tmp_path):
    class P(Recorder):
        def open0(self):
            self.short_value(A, 20_000)                              # 2,000 short at 10.00

        def close0(self):
            self.order(A, "cover", "stop", 10.7)                     # buy back once it rises to 10.70

    res = run(tmp_path, P, margin=(A,))
    # s1: open 10.20, high 10.80 >= 10.70: covered at the stop, all 2,000 shares.
    assert fills(res) == [("01-02", "short", 2000, 10.0), ("01-03", "cover", 2000, 10.7)]
    assert res.orders[res.orders["side"] == "cover"]["at"].tolist() == ["stop@10.7"]
