"""The independent rule check (``tests/rulecheck.py``) catches each rule broken on purpose.

Each case runs a small hand-made market through the engine, checks the clean run passes, then
breaks one thing in the result (or reads the market with other evidence) and expects the check
to name it. The bars come from the test store's own parquet file, never from the run's arrays.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import hypebt
import rulecheck
from helpers_engine import BENCH, WEEK_ROWS, bars, make_workspace, write_spec, write_store
from hypebt.engine import backtest as engine
from hypebt.engine.spec import load_spec

A = "600000"
ROWS = WEEK_ROWS[:4]  # 01-02 open 10.0 (prev 10.0) .. 01-05


class Trip(hypebt.Strategy):
    def on_open(self, day):
        if self.session_no == 0:
            self.buy_shares(A, 1000)
        if self.session_no == 2:
            self.sell_all(A)


def run(tmp_path, stocks=None, cls=Trip, adj=None):
    stocks = stocks or {A: bars(10.0, ROWS)}
    store = write_store(tmp_path / "store", stocks)
    if adj is not None:  # traded prices with their adjustment factor (an ex-date where it changes)
        frame = stocks[A].copy()
        frame.insert(0, "code", A)
        frame["adj_factor"] = adj
        frame["date"] = frame["date"].astype("datetime64[ns]")
        store.write("stock_raw", frame, source="test", adjust="raw")
    ws = make_workspace(tmp_path / "ws")
    path = write_spec(ws, "t", {"strategy": "x", "codes": list(stocks), "benchmark": BENCH})
    prep = engine.prepare(load_spec(path), ws, store, strategy_cls=cls)
    return prep, engine.run(prep, strategy_cls=cls)


def at(frame, i, **values):
    out = frame.copy()
    for k, v in values.items():
        out[k] = out[k].astype(object)
        out.at[i, k] = v
    return out


@pytest.mark.parametrize("doctor, expected", [
    (lambda r: setattr(r, "fills", at(r.fills, 0, price=10.005)), "off the 0.01 tick"),
    (lambda r: setattr(r, "fills", at(r.fills, 0, price=10.6)), "outside the bar"),
    (lambda r: setattr(r, "fills", at(r.fills, 0, price=11.0)), "a buy at or above limit-up 11.0"),
    (lambda r: setattr(r, "fills", at(r.fills, 0, date=dt.date(2024, 1, 6))), "no bar that session"),
    (lambda r: setattr(r, "fills", at(r.fills, 0, size=120)), "not a valid lot"),
    (lambda r: setattr(r, "fills", at(r.fills, 1, date=dt.date(2024, 1, 2))), "T+1"),
    (lambda r: setattr(r, "fills", at(r.fills, 0, transfer_fee=r.fills["transfer_fee"][0] + 0.01)), "but the rules give"),
    (lambda r: setattr(r, "fills", at(r.fills, 1, side="short")), "a short sale while long"),
    (lambda r: setattr(r, "fills", r.fills.assign(commission=r.fills["commission"] + 0.01)), "but the rules give"),
    (lambda r: setattr(r, "equity", at(r.equity, 1, cash=r.equity["cash"][1] + 0.01)), "cash rebuilt"),
    (lambda r: setattr(r, "equity", at(r.equity, 1, value=r.equity["value"][1] - 0.01)), "not cash plus positions"),
    (lambda r: setattr(r, "orders", at(r.orders, 0, at="limit@9.99")), "worse than its limit 9.99"),
    (lambda r: setattr(r, "orders", at(r.orders, 0, at="stop@10.6")), "never reached its stop 10.6"),
], ids=["tick", "bar", "limit-up", "no-bar", "lot", "t+1", "fee-fen", "naked", "fees", "cash-fen", "value-fen", "limit-order",
        "stop-order"])
def test_the_checker_catches_each_broken_rule(tmp_path, doctor, expected):
    prep, res = run(tmp_path)
    market = rulecheck.Market.store(tmp_path / "store")
    assert rulecheck.violations(res, prep, market) == []
    doctor(res)
    found = rulecheck.violations(res, prep, market)
    assert any(expected in v for v in found), found


def test_st_status_comes_from_the_markets_dated_names(tmp_path):
    """A buy at +5 % (10.50 on a 10.00 close) is inside a main-board stock's 10 % band, and at the
    limit-up of one under risk warning: the check knows which from the market's dated names."""
    prep, res = run(tmp_path)
    res.fills = at(res.fills, 0, price=10.5)
    plain = rulecheck.Market.store(tmp_path / "store")  # no names: the 10 % band (cash lines: the doctored price)
    assert not any("limit" in v for v in rulecheck.violations(res, prep, plain))
    names = tmp_path / "names.csv"
    names.write_text(f"code,name,date\n{A},*ST浦发,2023-12-29\n{A},*ST浦发,2024-01-31\n", "utf-8")
    found = rulecheck.violations(res, prep, rulecheck.Market.store(tmp_path / "store", names=names))
    assert any("a buy at or above limit-up 10.5" in v for v in found), found
    names.write_text(f"code,name,date\n{A},*ST浦发,2023-12-29\n{A},浦发银行,2024-01-31\n", "utf-8")  # changed: unknown
    found = rulecheck.violations(res, prep, rulecheck.Market.store(tmp_path / "store", names=names))
    assert not any("limit" in v for v in found), found


class BuysOnTheExDate(hypebt.Strategy):
    def on_open(self, day):
        if self.session_no == 1:
            self.buy_shares(A, 1000)
        if self.session_no == 3:
            self.sell_all(A)


def test_limits_on_an_ex_date_come_from_the_reference_price(tmp_path):
    """A 2-for-1 split on 01-03: the reference price is 10.20 x 1 / 2 = 5.10, limits 4.59..5.61. The
    fill at the open 5.10 is inside them (against the last close 10.20 it would be far below)."""
    rows = [ROWS[0], ("2024-01-03", 5.1, 5.8, 5.0, 5.3), ("2024-01-04", 5.3, 5.5, 5.2, 5.4),
            ("2024-01-05", 5.4, 5.6, 5.3, 5.5)]
    prep, res = run(tmp_path, {A: bars(10.0, rows)}, BuysOnTheExDate, adj=[1.0, 2.0, 2.0, 2.0])
    market = rulecheck.Market.store(tmp_path / "store")
    assert res.fills["price"].tolist() == [5.1, 5.4] and rulecheck.violations(res, prep, market) == []
    res.fills = at(res.fills, 0, price=5.7)
    assert any("outside the day's limits 4.59..5.61" in v for v in rulecheck.violations(res, prep, market))


def test_the_shared_market_reads_the_parquet_and_its_st_evidence(shared_data):
    market = rulecheck.Market.shared(["300781", "000615"], data=shared_data)
    row = market.row("300781", dt.date(2024, 2, 19))  # one price at limit-up all day (qfq)
    assert row.open == row.high == row.low == row.close
    assert rulecheck.limit_prices(row.prev, 20)[0] == pytest.approx(row.close, abs=0.011)
    # 000615: not in [ST股] of 2019-02-17, in those of 2023-12-18 and 2024-01-02 and "ST" in the names
    assert market.st("000615", dt.date(2024, 1, 2)) is True and market.st("000615", dt.date(2024, 5, 6)) is True
    assert market.st("000615", dt.date(2021, 6, 1)) is None  # between evidence that disagrees: unknown
    assert market.st("300781", dt.date(2024, 2, 19)) is False


@pytest.mark.realdata
def test_every_real_traded_bar_lies_inside_the_checkers_limits(shared_data):
    """The checker's limits are the exchange's: over the whole traded-price history of stocks of every
    board (ex-dates of dividends and bonus shares included: 600519, 000002, 300750's), every bar's
    high and low lie inside the limits it computes from the reference price (and would not from the
    plain previous close on the ex-dates)."""
    if not (shared_data / "ashare_raw" / "market_raw.parquet").is_file():
        pytest.skip("no raw market data")
    codes = ["600519", "300750", "000002", "688039", "002230", "000615", "600000", "300781"]
    market = rulecheck.Market.shared(codes, adjust="raw", data=shared_data)
    outside, ex_dates, checked = [], 0, 0
    for r in market.bars.itertuples(index=False):
        if r.free or r.prev != r.prev:
            continue
        st = market.st(r.code, r.date) if rulecheck.board(r.code) == "main" else False
        up5, down5 = rulecheck.limit_prices(r.prev, 5)
        st = bool(st) and r.low >= down5 and r.high <= up5
        down_, up_ = rulecheck.limit_prices(r.prev, rulecheck.band(r.code, r.date, st))[::-1]
        checked += 1
        if not down_ <= r.low <= r.high <= up_:
            outside.append((r.code, r.date, r.low, r.high, down_, up_))
        ex_dates += abs(r.prev - market.close_on(r.code, r.date - dt.timedelta(days=1))) > 0.005
    assert checked > 10_000 and ex_dates > 20 and outside == []
