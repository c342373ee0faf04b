"""Both shipped specs on the real shared data: properties that must hold on real markets.

The shared market parquet and the CSI 300 CSV are imported once (module fixture) into a
temporary qfq store; ``backtests/sora_hype.toml`` and ``backtests/iflytek_release_short.toml``
run with the repository as workspace. Needs ``../shared/data`` (skipped without it, failed
under CI=true).
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest

from hypebt.engine import backtest as engine
from hypebt.reports import run_report as report
from hypebt.market import rules as R
from hypebt.market.broker import to_fen
from hypebt.data.importers import import_paths
from hypebt.engine.spec import load_spec
from hypebt.data.store import Store

REPO = Path(__file__).resolve().parents[1]
SPECS = ("sora_hype", "iflytek_release_short")


@pytest.fixture(scope="module")
def real(shared_data, tmp_path_factory):
    """{spec name: (prep, result)} plus the store and a written Sora report folder."""
    root = tmp_path_factory.mktemp("real")
    store = Store(root / "store")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the market has a few qfq rows <= 0; the report lists them
        imported = import_paths(store, [shared_data / "ashare" / "market.parquet",
                                        shared_data / "index" / "sh000300.csv"], adjust="qfq")
    assert set(imported.written) == {"stock_qfq", "index"}
    runs = {}
    for name in SPECS:
        prep = engine.prepare(load_spec(REPO / "backtests" / f"{name}.toml"), REPO, store)
        runs[name] = (prep, engine.run(prep))
    prep, res = runs["sora_hype"]
    out = report.write_run(prep, res, root / "reports" / "sora_hype", command=["test"], html_report=True)
    return {"runs": runs, "store": store, "sora_report": out}


def session_index(prep, date) -> int:
    i = prep.sessions.get_indexer([pd.Timestamp(date)])[0]
    assert i >= 0, f"{date} is not a session of the run"
    return i


@pytest.fixture(params=SPECS)
def run(request, real):
    return real["runs"][request.param]


# ----------------------------------------------------------------------------- the data ---

def test_a_known_real_bar_688039_on_2024_02_08(real):
    bars = real["store"].load("stock_qfq", codes=["688039"], start="2024-02-08", end="2024-02-08")
    assert len(bars) == 1
    b = bars.iloc[0]
    assert (b["open"], b["close"], b["pct_change"]) == (17.45, 19.69, 13.49)


def test_688039_was_locked_at_limit_up_on_2024_02_19_in_the_data_and_the_feed(real):
    prep, _ = real["runs"]["sora_hype"]
    i = session_index(prep, "2024-02-19")
    col = prep.arrays["688039"].columns
    # next session after the Spring Festival; previous close 19.69 (2024-02-08); STAR +20 % -> 23.63
    assert col["prev_close"][i] == pytest.approx(19.69)
    assert col["limit_up"][i] == 23.63
    assert col["open"][i] == col["high"][i] == col["low"][i] == col["close"][i] == pytest.approx(23.63)
    assert col["suspended"][i] == 0.0


# ------------------------------------------------------------------------------- events ---

def test_sora_maps_to_the_2024_02_19_open(real):
    prep, res = real["runs"]["sora_hype"]
    assert [(t.event.id, t.session, t.at) for t in prep.events] == [("sora", pd.Timestamp("2024-02-19"), "open")]
    buys = res.orders[(res.orders["side"] == "buy") & (res.orders["note"] == "sora")]
    assert buys["date"].min() == dt.date(2024, 2, 19)
    assert set(buys.loc[buys["date"] == dt.date(2024, 2, 19), "at"]) == {"open"}


def test_688039_buy_on_2024_02_19_is_refused_locked_limit_up(real):
    _, res = real["runs"]["sora_hype"]
    o = res.orders
    rows = o[(o["code"] == "688039") & (o["date"] == dt.date(2024, 2, 19))]
    assert rows[["side", "status", "reason"]].values.tolist() == [["buy", "refused", "locked_limit_up"]]
    assert not ((res.fills["code"] == "688039") & (res.fills["date"] == dt.date(2024, 2, 19))).any()


# ------------------------------------------------------------------- market properties ---

def test_no_buy_filled_at_or_above_limit_up(run):
    prep, res = run
    buys = res.fills[res.fills["side"].isin(["buy", "cover"])]
    assert len(buys) > 0
    tol = prep.rules.limit_tolerance
    assert tol == prep.rules.qfq_limit_tolerance == 0.011
    for f in buys.itertuples():
        up = prep.arrays[f.code].columns["limit_up"][session_index(prep, f.date)]
        assert math.isnan(up) or f.price < up - tol, (f.code, f.date, f.price, up)


def test_no_sell_filled_at_or_below_limit_down(run):
    prep, res = run
    sells = res.fills[res.fills["side"].isin(["sell", "short"])]
    assert len(sells) > 0
    tol = prep.rules.limit_tolerance
    for f in sells.itertuples():
        down = prep.arrays[f.code].columns["limit_down"][session_index(prep, f.date)]
        assert math.isnan(down) or f.price > down + tol, (f.code, f.date, f.price, down)


def test_fills_are_on_traded_sessions_at_the_open_or_close(run):
    prep, res = run
    orders = res.orders[res.orders["status"] == "filled"]
    assert len(orders) == len(res.fills)
    for o, f in zip(orders.itertuples(), res.fills.itertuples()):
        assert (o.code, o.side, o.size, o.price, o.date) == (f.code, f.side, f.size, f.price, f.date)
        col = prep.arrays[f.code].columns
        i = session_index(prep, f.date)
        assert col["suspended"][i] == 0.0
        assert f.price == pytest.approx(col[o.at][i], abs=1e-9)


def test_no_sale_of_shares_bought_the_same_session(run):
    _, res = run
    held: dict[str, int] = {}
    for d, fills in res.fills.groupby("date", sort=True):
        for f in fills.itertuples():
            if f.side in ("sell", "cover"):
                # what was held before this session: the sale must not touch today's buys
                before = held.get(f.code, 0)
                assert (before if f.side == "sell" else -before) >= f.size, (d, f.code, f.side, f.size, before)
        for f in fills.itertuples():
            held[f.code] = held.get(f.code, 0) + (f.size if f.side in ("buy", "cover") else -f.size)
    assert all(v == 0 for v in held.values())


def test_fill_fees_follow_the_dated_rules(run):
    prep, res = run
    for f in res.fills.itertuples():
        side = "buy" if f.side in ("buy", "cover") else "sell"
        want = R.fees(side, f.size, f.price, f.date, prep.rules)
        assert (f.commission, f.stamp_duty, f.transfer_fee) == (want.commission, want.stamp_duty, want.transfer_fee)
        assert f.commission >= 5.0
        # independent of the rules table: 0.1 % before 2023-08-28, 0.05 % from then, half up to the fen
        rate = Decimal("0.001") if f.date < dt.date(2023, 8, 28) else Decimal("0.0005")
        stamp = Decimal(repr(f.price)) * f.size * rate if side == "sell" else Decimal(0)
        assert f.stamp_duty == float(stamp.quantize(Decimal("0.01"), ROUND_HALF_UP)), f


def test_fees_borrow_and_cash_reconcile_to_the_trade_list(run):
    prep, res = run
    t = res.trades
    assert len(t) > 0 and (t["status"] == "closed").all()
    assert round(res.fills["fees"].sum(), 2) == round(t["fees"].sum(), 2)
    assert round(res.borrow["fee"].sum(), 2) == round(t["borrow_fee"].sum(), 2)
    assert round(t["gross_pnl"].sum() - t["fees"].sum() - t["borrow_fee"].sum(), 2) == round(t["net_pnl"].sum(), 2)
    final = res.equity.iloc[-1]
    assert final["value"] == pytest.approx(final["cash"], abs=1e-6)  # everything closed
    assert round(final["value"], 2) == round(prep.spec.cash + t["net_pnl"].sum(), 2)
    assert res.stats["final_value"] == pytest.approx(final["value"])


def test_returns_are_timezone_naive_one_per_session(run):
    prep, res = run
    assert res.returns.index.tz is None
    assert res.returns.index.equals(prep.sessions)
    assert res.equity["date"].tolist() == [d.date() for d in prep.sessions]
    total = (1 + res.returns).prod() - 1
    assert total == pytest.approx(res.equity["value"].iloc[-1] / prep.spec.cash - 1, abs=1e-9)


# ------------------------------------------------------------------------- iFlytek short ---

def test_iflytek_trades_are_002230_shorts_with_positive_borrow(real):
    prep, res = real["runs"]["iflytek_release_short"]
    t = res.trades
    # Five releases; the 2023-08-15 short is refused by the short-sale price rule (open 63.76 below
    # the previous close 63.98), so four trades.
    assert len(prep.events) == 5 and len(t) == 4
    refused = res.orders[res.orders["status"] == "refused"]
    assert refused[["date", "reason"]].astype(str).values.tolist() == [["2023-08-15", "short_price_rule"]]
    assert set(t["code"]) == {"002230"} and set(t["direction"]) == {"short"}
    assert (t["borrow_fee"] > 0).all()
    assert set(res.fills["side"]) == {"short", "cover"}
    for trade in t.itertuples():
        ledger = res.borrow[(res.borrow["opened"] == trade.entry_date) & (res.borrow["date"] == trade.exit_date)]
        assert round(ledger["fee"].sum(), 2) == trade.borrow_fee


def test_iflytek_borrow_is_the_sale_value_times_rate_times_calendar_days(real):
    prep, res = real["runs"]["iflytek_release_short"]
    assert len(res.borrow) == len(res.trades) > 0
    for b in res.borrow.itertuples():
        sale = res.fills[(res.fills["side"] == "short") & (res.fills["date"] == b.opened)].iloc[0]
        assert b.sale_value == to_fen(sale["size"] * sale["price"])
        assert b.days == (b.date - b.opened).days
        rate = R.borrow_rate_on(b.opened, prep.rules)
        assert b.rate == rate == 0.08  # the default table's rate in 2023
        want = to_fen(sale["size"] * sale["price"] * rate * b.days / prep.rules.borrow_day_count)
        assert b.fee == want and b.status == "settled", (b.date, b.fee, want)


def test_every_shipped_short_obeys_the_short_price_rule(real):
    prep, res = real["runs"]["iflytek_release_short"]
    c = prep.arrays["002230"].columns
    for f in res.fills[res.fills["side"] == "short"].itertuples():
        i = session_index(prep, f.date)
        assert f.price >= c["prev_close"][i] - 1e-9, (f.date, f.price, c["prev_close"][i])


def test_every_shipped_fill_is_within_the_volume_cap(run):
    prep, res = run
    for f in res.fills.itertuples():
        volume = prep.arrays[f.code].columns["volume"][session_index(prep, f.date)]
        assert f.size <= volume * prep.rules.volume_limit, (f.code, f.date, f.size, volume)


def test_no_buy_on_a_one_price_limit_up_day_under_either_band(run):
    """A whole session at one price at +5 % or +10 % (main board), +20 % (ChiNext, STAR): never bought."""
    prep, res = run
    for f in res.fills[res.fills["side"].isin(["buy", "cover"])].itertuples():
        c = prep.arrays[f.code].columns
        i = session_index(prep, f.date)
        one_price = c["high"][i] - c["low"][i] < 1e-9
        bands = (0.05, 0.10) if R.board_of(f.code) in ("sh_main", "sz_main") else (0.20, 0.30)
        ups = [R.price_limits(c["prev_close"][i], b, code=f.code).up for b in bands]
        assert not (one_price and any(abs(c["close"][i] - u) <= 0.011 for u in ups)), (f.code, f.date)


# ------------------------------------------------------------------------------- report ---

def test_tearsheet_names_the_benchmark(real):
    out = real["sora_report"]
    html = (out / "tearsheet.html").read_text("utf-8")
    assert "sh000300" in html
    assert "look-ahead" in html.lower()  # the Sora universe is a concept list drawn up after the fact
    assert (out / "manifest.json").is_file() and (out / "trades.csv").is_file()


@pytest.mark.parametrize("name, params", [
    ("sora_hype", {}),
    ("sora_hype", {"hold_days": 3, "stop_loss": 0.05}),
    ("iflytek_release_short", {}),
    ("iflytek_release_short", {"at": "close", "offset": -1}),  # shorts filled at the close
])
def test_sweep_returns_equal_timereturn_exactly(real, name, params):
    """Sweeps take daily returns from the recorded closing values instead of TimeReturn (and
    reuse feeds): both must give the same series, bit for bit, at-close fills included."""
    prep, _ = real["runs"][name]
    with_tr = engine.run(prep, params)
    fast = engine.run(prep, params, reuse_feeds=True, timereturn=False)
    again = engine.run(prep, params, reuse_feeds=True, timereturn=False)  # the reused feeds
    if params.get("at") == "close":
        assert (with_tr.fills["side"] == "short").any()
    pd.testing.assert_series_equal(with_tr.returns, fast.returns, check_exact=True)
    pd.testing.assert_series_equal(with_tr.returns, again.returns, check_exact=True)
    assert with_tr.stats == fast.stats
