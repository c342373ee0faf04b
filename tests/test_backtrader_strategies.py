"""Plain Backtrader strategy files run like any other (``hypebt run``, ``hypebt.backtest``,
``hypebt.sweep``, ``hypebt list``), their indicators see the spec's warm-up; hypebt's own strategy
API speaks Backtrader where the names meet. Hand-made bars, expected fills derived by hand."""

from __future__ import annotations

import json

import backtrader as bt
import pandas as pd
import pytest

import hypebt
from helpers_engine import BENCH, bars, make_workspace, write_spec, write_store
from hypebt.cli import main as cli
from hypebt.core.errors import InputError
from hypebt.engine import backtest as engine
from hypebt.engine.spec import load_spec

A = "600000"
DAYS = [str(d.date()) for d in pd.bdate_range("2024-01-02", periods=12)]
CLOSES = [10.0, 10.1, 10.2, 10.0, 9.8, 9.6, 9.9, 10.3, 10.6, 10.8, 10.5, 10.2]
ROWS = [(d, c, c + 0.2, c - 0.2, c) for d, c in zip(DAYS, CLOSES)]  # opens at the close: fills are readable

# A newcomer's SMA strategy, Backtrader style, no hypebt import.
SMA_CROSS = '''
"""Buy when the close crosses above its moving average; sell when it crosses back."""
import backtrader as bt


class SmaCross(bt.Strategy):
    params = (("period", 3), ("stake", 1000))

    def __init__(self):
        self.sma = bt.indicators.SMA(self.data.close, period=self.p.period)
        self.seen = []

    def next(self):
        d = self.getdatabyname("600000")
        self.seen.append((str(d.datetime.date(0)), round(self.sma[0], 4), self.position.size,
                          round(self.broker.getvalue(), 2), round(self.broker.getcash(), 2)))
        if not self.position and d.close[0] > self.sma[0]:
            self.buy(data=d, size=self.p.stake)
        elif self.position and d.close[0] < self.sma[0]:
            self.close(data=d)

    def notify_trade(self, trade):
        if trade.isclosed:
            print("closed trade", round(trade.pnlcomm, 2))

    def stop(self):
        print("final value", round(self.broker.getvalue(), 2))
'''


@pytest.fixture
def world(tmp_path):
    home = tmp_path / "home"
    write_store(home, {A: bars(10.0, ROWS)})
    ws = make_workspace(tmp_path / "ws", strategies={"sma_cross": SMA_CROSS})
    spec = write_spec(ws, "cross", {"strategy": "sma_cross", "codes": [A], "benchmark": BENCH, "cash": 100_000,
                                    "start": DAYS[3]}, {"params": {"period": 3}, "sweep": {"period": [2, 3]}})
    return ws, home, spec


def test_a_plain_backtrader_file_runs_through_hypebt_run(world, capsys):
    ws, home, spec = world
    argv = ["--workspace", str(ws), "--home", str(home), "run", str(spec), "--offline", "--no-html"]
    assert cli.main(argv) == 0
    out = ws / "reports" / "cross" / "latest"
    fills = pd.read_csv(out / "fills.csv", dtype={"code": str})
    # From 01-05 (start), the 3-session SMA of the closes: 01-10 closes at 9.9 > SMA(9.8, 9.6, 9.9) =
    # 9.77: bought at the 01-11 open (10.3); 01-16 closes at 10.5 < SMA(10.6, 10.8, 10.5) = 10.63: sold
    # at the 01-17 open (10.2). Each next() places its order for the session after, as in Backtrader.
    assert fills[["date", "side", "size", "price"]].values.tolist() == [
        ["2024-01-11", "buy", 1000, 10.3], ["2024-01-17", "sell", 1000, 10.2]]
    printed = capsys.readouterr().out
    trades = pd.read_csv(out / "trades.csv")
    assert f"closed trade {trades['net_pnl'].iloc[0]}" in printed  # Backtrader's trade = the ledger's
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    assert f"final value {stats['final_value']}" in printed
    assert stats["n_trades"] == 1 and json.loads((out / "manifest.json").read_text("utf-8"))["params"] == {
        "period": 3, "stake": 1000}


def test_the_same_file_from_python_and_in_a_sweep(world, capsys):
    ws, home, spec = world
    single = hypebt.backtest(spec, home=home)
    assert "final value" in capsys.readouterr().out  # a run shows what the strategy prints ...
    table = hypebt.sweep(spec, workers=1, home=home, out=ws / "sweep_out", html_report=True)
    assert "final value" not in capsys.readouterr().out  # ... a sweep (and its best runs' reports) do not
    assert (table["status"] == "ok").all() and table.index.tolist() == [2, 3]
    for figure in ("total_return", "sharpe", "max_drawdown"):
        assert table.loc[3, figure] == pytest.approx(single.stats[figure], abs=1e-12, nan_ok=True), figure


def test_its_params_are_listed_and_checked(world, capsys):
    ws, home, spec = world
    assert cli.main(["--workspace", str(ws), "list"]) == 0
    assert "sma_cross: Buy when the close crosses above its moving average" in capsys.readouterr().out
    with pytest.raises(InputError, match="did you mean 'period'"):
        hypebt.backtest(spec, home=home, periode=5)
    with pytest.raises(InputError, match="parameter 'period' must be int like its default 3"):
        hypebt.backtest(spec, home=home, period="5")


def test_backtrader_indicators_see_the_warmup(world):
    ws, home, spec = world
    # The strategy records what it saw at each next(): with warmup = 3 the SMA has a value at the
    # run's first session (the mean of 01-03, 01-04, 01-05: 10.1, 10.2, 10.0); without, the first
    # next() comes when the SMA has its three closes inside the run.
    seen = {}
    for warmup in (0, 3):
        from hypebt.engine.strategy import load_strategy

        cls = load_strategy(str(ws / "strategies" / "sma_cross.py"), ws / "strategies")
        prep = engine.prepare(load_spec(spec, [f"warmup={warmup}"]), ws, hypebt_store(home))
        captured = []

        class Recording(cls):
            def stop(self):
                captured.extend(self.seen)

        res = engine.run(prep, strategy_cls=Recording)
        seen[warmup] = captured
        assert res.returns.index[0] == pd.Timestamp(DAYS[3]) and res.equity["date"].iloc[0].isoformat() == DAYS[3]
    assert seen[3][0] == (DAYS[3], round((10.1 + 10.2 + 10.0) / 3, 4), 0, 100_000.0, 100_000.0)
    assert seen[0][0][0] == DAYS[5]  # the third session of the run: its first full SMA
    assert seen[3][2:] == seen[0]  # the same values once both have them


def hypebt_store(home):
    from hypebt.data.store import Store

    return Store(home)


# --- hypebt's own API where it meets Backtrader's ----------------------------------------------------

def test_a_hypebt_strategy_defining_next_is_refused_at_class_creation():
    with pytest.raises(TypeError, match=r"Mine defines next\(\): a hypebt.Strategy acts in on_close\(self, day\)"):
        class Mine(hypebt.Strategy):
            def next(self):
                pass
    with pytest.raises(TypeError, match=r"defines next_open\(\).*on_open\(self, day\).*backtrader.Strategy"):
        class Early(hypebt.Strategy):
            def next_open(self):
                pass


class Loop:
    """A mixin with Backtrader's habit: its own next()."""

    def next(self):
        pass


class Opens:
    def prenext_open(self):
        pass


def test_a_mixin_whose_next_comes_before_hypebt_strategys_is_refused_at_class_creation():
    with pytest.raises(TypeError, match=r"^Mixed gets next\(\) from Loop, ahead of hypebt.Strategy's: .*on_close"):
        class Mixed(Loop, hypebt.Strategy):
            pass
    with pytest.raises(TypeError, match=r"gets prenext_open\(\) from Opens, ahead of hypebt.Strategy's"):
        class Deeper(Opens, hypebt.Strategy):
            pass

    class Behind(hypebt.Strategy, Loop):  # hypebt.Strategy's next() comes first: nothing is replaced
        pass

    class Child(Behind):  # a subclass of an accepted strategy stays accepted
        pass

    assert Child.next is hypebt.Strategy.next


SEEN: list = []


class Speaks(hypebt.Strategy):
    """hypebt's API meeting Backtrader's: position, order_target_percent keywords, notify_order, stop."""

    def on_open(self, day):
        if self.session_no == 0:
            SEEN.append(("flat", bool(self.position), self.position.size))
            self.order_target_percent(data=self.getdatabyname(A), target=0.5)
        if self.session_no == 1:
            SEEN.append(("held", bool(self.position), self.position.size, self.shares(A)))
            try:
                self.position(A)
            except TypeError as exc:
                SEEN.append(("call", str(exc)))
            self.sell(data=A, size=100)  # Backtrader's sell: shares bought yesterday, so T+1 allows it

    def on_close(self, day):
        if self.session_no == 1:
            self.buy(size=100)  # Backtrader's buy at a close: fills at the next open

    def notify_order(self, order):
        SEEN.append(("order", order.getstatusname()))

    def stop(self):
        SEEN.append(("stop", self.shares(A)))


def test_hypebt_strategies_read_position_take_backtrader_keywords_and_hear_their_orders(tmp_path):
    SEEN.clear()
    home = tmp_path / "home"
    write_store(home, {A: bars(10.0, ROWS)})
    ws = make_workspace(tmp_path / "ws")
    res = hypebt.backtest(strategy=Speaks, codes=[A], benchmark=BENCH, workspace=ws, home=home, cash=100_000)
    # 0.5 x 100,000 / 10.0 (the 01-02 open) = 5,000 shares; sell 100 on 01-03; buy 100 at 01-04's open
    assert res.fills[["side", "size", "price"]].values.tolist() == [["buy", 5000, 10.0], ["sell", 100, 10.1],
                                                                     ["buy", 100, 10.2]]
    assert SEEN[0] == ("flat", False, 0) and SEEN[1] == ("held", True, 5000, 5000)
    assert SEEN[2][0] == "call" and "self.shares(code)" in SEEN[2][1]
    statuses = [s[1] for s in SEEN if s[0] == "order"]
    assert statuses == ["Submitted", "Accepted", "Completed"] * 2
    assert SEEN[-1] == ("stop", 5000)
    assert res.trades["status"].tolist() == ["open"]  # the run was finished before stop()


class MixedT1(hypebt.Strategy):
    def on_open(self, day):
        if self.session_no == 0:
            self.buy(size=1000)  # Backtrader's buy at this open
            self.sell(size=1000)  # ... and sale at the same open: T+1

    def on_close(self, day):
        if self.session_no == 0:
            self.sell_all(A, at="close")  # hypebt's sale of the same shares at the close: T+1 too


def test_backtrader_orders_in_a_hypebt_strategy_meet_t_plus_1(tmp_path):
    home = tmp_path / "home"
    write_store(home, {A: bars(10.0, ROWS)})
    res = hypebt.backtest(strategy=MixedT1, codes=[A], benchmark=BENCH, workspace=make_workspace(tmp_path / "ws"),
                          home=home)
    assert res.fills[["side", "size"]].values.tolist() == [["buy", 1000]]
    refused = res.orders[res.orders["status"] == "refused"]
    assert refused[["side", "reason"]].values.tolist() == [["sell", "t_plus_1"], ["sell", "t_plus_1"]]


def test_a_plain_strategy_class_is_adopted_from_python(tmp_path):
    class Hold(bt.Strategy):
        def next(self):
            if not self.position:
                self.buy(size=300)

    home = tmp_path / "home"
    write_store(home, {A: bars(10.0, ROWS)})
    res = hypebt.backtest(strategy=Hold, codes=[A], benchmark=BENCH, workspace=make_workspace(tmp_path / "ws"),
                          home=home)
    assert res.fills[["date", "side", "size"]].astype(str).values.tolist() == [[DAYS[1], "buy", "300"]]
    assert res.strategy == "Hold"
