"""Corporate actions as pure rules (hypebt.market.corporate, hypebt.market.rules_exright): the
exchange's reference price, what a long holder receives and a short owes, bonus shares and odd
lots, and actions derived from the adjustment factor, checked on hand-made cases and the real
raw data (../shared/data/ashare_raw)."""

from __future__ import annotations

import doctest
from datetime import date

import numpy as np
import pandas as pd
import pytest

from hypebt.market import corporate as C
from hypebt.market import rules as R
from hypebt.market import rules_exright as X
from hypebt.market.corporate import Action

D = date.fromisoformat
# 600519's nine ex-dates of 2021-01..2026-05 and the cash per share the issue reads off the factor.
MOUTAI = {"2021-06-25": 19.29, "2022-06-30": 21.67, "2022-12-27": 21.91, "2023-06-30": 25.91, "2023-12-20": 19.11,
          "2024-06-19": 30.88, "2024-12-20": 23.88, "2025-06-26": 27.60, "2025-12-19": 23.96}


@pytest.mark.parametrize("module, at_least", [(X, 4), (C, 10)])
def test_docstring_examples_hold(module, at_least):
    result = doctest.testmod(module)
    assert result.attempted >= at_least and result.failed == 0


# ------------------------------------------------------------------ reference price ---

@pytest.mark.parametrize("prev, kw, expected", [
    (1521.50, dict(cash=30.876), 1490.62),                 # 600519 2024-06-19, 10 派 308.76
    (385.90, dict(cash=2.52, shares=0.8), 212.99),         # 300750 2023-04-26, 10 转 8 派 25.2: 212.988..
    (20.00, dict(cash=0.5, shares=0.3), 15.0),             # 10 送 3 派 5
    (10.00, dict(cash=0.125), 9.88),                       # 9.875 rounds half up
    (10.00, dict(rights_price=5.0, rights_ratio=0.2), 9.17),
    (10.00, {}, 10.0),
])
def test_reference_price_is_the_exchange_formula_rounded_half_up(prev, kw, expected):
    assert X.reference_price(prev, **kw) == expected


def test_reference_price_refuses_impossible_inputs():
    with pytest.raises(ValueError):
        X.reference_price(0.0, cash=1.0)
    with pytest.raises(ValueError):
        X.reference_price(10.0, cash=-0.1)


def test_reference_close_array_moves_only_on_factor_changes_and_broadcasts_over_panels():
    prev = np.array([[10.0, 20.0, np.nan], [385.90, 50.0, 8.0]])
    fp = np.array([[1.0, 2.0, 1.0], [1.0, np.nan, 1.0]])
    fn = np.array([[1.0, 2.0, 2.0], [1.811821, 3.0, 1.0]])
    out = X.reference_close_array(prev, fp, fn)
    assert out[0, :2].tolist() == [10.0, 20.0] and np.isnan(out[0, 2])  # NaN stays NaN
    assert out[1].tolist() == [212.99, 50.0, 8.0]  # a missing factor is no action


# ---------------------------------------------------------------- entitlements ---

def test_long_holder_gets_cash_and_whole_new_shares_with_odd_lots():
    # 300750, ex-date 2023-04-26: 10 转增 8 派 25.2. 100 shares -> 180, of which 80 an odd lot.
    a = Action("300750", D("2023-04-26"), cash=2.52, transfer=0.8, source="records")
    got = C.long_entitlement(a, 100)
    assert (got.cash, got.bonus_shares, got.transfer_shares, got.taxable) == (252.0, 0, 80, 252.0)
    held = 100 + got.new_shares
    assert held == 180 and C.odd_lot("300750", held) == 80
    # the odd lot goes with the rest or alone as the whole remainder, never split
    assert R.check_sell_size("300750", 100, held) is None
    assert R.check_sell_size("300750", 180, held) is None
    assert R.check_sell_size("300750", 50, held) == "lot_size"


def test_bonus_shares_are_whole_per_account_and_taxable_at_par():
    a = Action("600000", D("2024-05-06"), cash=0.1, bonus=0.3, transfer=0.2)
    got = C.long_entitlement(a, 333)  # 333 x 0.5 = 166.5 new shares -> 166; bonus part 99.9 -> 99
    assert (got.bonus_shares, got.transfer_shares) == (99, 67)
    assert got.cash == 33.3 and got.taxable == pytest.approx(33.3 + 99 * C.BONUS_PAR)
    assert C.long_entitlement(a, 300).new_shares == 150  # 300 x 0.5 exactly, no float loss


def test_a_short_owes_the_cash_and_the_new_shares_and_nothing_is_taxable():
    a = Action("300750", D("2023-04-26"), cash=2.52, transfer=0.8)
    owed = C.short_obligation(a, 200)
    assert (owed.cash, owed.new_shares, owed.taxable) == (504.0, 160, 0.0)
    rows = C.ledger_rows(a, -200, owed)
    assert [(r["kind"], r["amount"], r["shares_held"]) for r in rows] == [
        ("short_compensation", -504.0, -200), ("short_shares", -160, -200)]


def test_nothing_held_nothing_booked():
    a = Action("600519", D("2024-06-19"), cash=30.876)
    assert C.long_entitlement(a, 0).cash == 0 and C.short_obligation(a, 0).cash == 0


def test_ledger_rows_date_cash_on_the_pay_date_and_shares_on_the_ex_date():
    a = Action("600000", D("2024-07-15"), cash=0.41, bonus=0.1, record_date=D("2024-07-12"), pay_date=D("2024-07-16"),
               source="records (tushare:x.csv)")
    rows = C.ledger_rows(a, 1000, C.long_entitlement(a, 1000))
    assert list(rows[0]) == C.COLUMNS
    assert [(r["date"], r["kind"], r["per_share"], r["amount"]) for r in rows] == [
        (D("2024-07-16"), "cash_dividend", 0.41, 410.0), (D("2024-07-15"), "bonus_shares", 0.1, 100)]
    derived = Action("600519", D("2024-06-19"), cash=30.88, source=C.SOURCE_FACTOR, derived=True)
    (row,) = C.ledger_rows(derived, 400, C.long_entitlement(derived, 400))
    assert (row["kind"], row["source"], row["date"]) == ("cash_equivalent", "factor", D("2024-06-19"))


def test_record_date_is_the_session_before_the_ex_date_when_not_given():
    sessions = pd.to_datetime(["2024-06-17", "2024-06-18", "2024-06-19"])
    a = C.with_record_date(Action("600519", D("2024-06-19"), cash=30.876), sessions)
    assert a.record_date == D("2024-06-18")
    given = Action("600519", D("2024-06-19"), cash=30.876, record_date=D("2024-06-14"))
    assert C.with_record_date(given, sessions).record_date == D("2024-06-14")


# ------------------------------------------------------------ from records / the factor ---

def test_records_explain_the_factor_move_and_the_rest_is_derived_with_a_note():
    days = [D("2024-06-18"), D("2024-06-19"), D("2024-06-20"), D("2024-12-19"), D("2024-12-20")]
    close = [1521.50, 1501.0, 1490.0, 1551.01, 1522.0]
    factor = [6.969311, 7.113689, 7.113689, 7.113689, 7.224927]
    records = [Action("600519", D("2024-06-19"), cash=30.876, source="records")]
    acts, notes = C.actions_for("600519", days, close, factor, records)
    assert [(a.ex_date, a.derived) for a in acts] == [(D("2024-06-19"), False), (D("2024-12-20"), True)]
    assert acts[1].cash == pytest.approx(1551.01 * (1 - 7.113689 / 7.224927))
    assert len(notes) == 1 and "cash-equivalent" in notes[0]


def test_an_ex_date_inside_a_suspension_is_explained_at_the_resumption():
    days = [D("2024-06-14"), D("2024-06-21")]  # suspended 06-17..06-20, ex-date 06-19
    acts, notes = C.actions_for("600000", days, [10.0, 9.6], [1.0, 1.05],
                                [Action("600000", D("2024-06-19"), cash=0.476)])
    assert [a.ex_date for a in acts] == [D("2024-06-19")] and notes == []


def test_records_outside_the_rows_are_left_out():
    acts, _ = C.actions_for("600000", [D("2024-06-14"), D("2024-06-17")], [10.0, 10.0], [1.0, 1.0],
                            [Action("600000", D("2023-06-19"), cash=0.4), Action("600000", D("2024-07-19"), cash=0.4)])
    assert acts == []


# ------------------------------------------------------------------- real raw data ---

@pytest.fixture(scope="module")
def raw(raw_store):
    return raw_store.load("stock_raw", codes=["600519", "300750", "000002"])


def test_600519_every_dividend_the_factor_shows_recomputed_independently(raw):
    m = raw[raw["code"] == "600519"].sort_values("date")
    acts = C.derive_from_factor("600519", m["date"].tolist(), m["close"].to_numpy(), m["adj_factor"].to_numpy())
    # Independently: the adjusted close of the day before over its raw close is that day's factor;
    # the value the ex-date's factor takes away from the previous close is the distribution.
    adj = m["close"] * m["adj_factor"]
    ref = adj.shift(1) / m["adj_factor"]  # previous close on the new basis
    paid = (m["close"].shift(1) - ref)[m["adj_factor"].diff().abs() > 0]
    assert [a.ex_date.isoformat() for a in acts] == list(MOUTAI) == [d.date().isoformat() for d in m["date"][paid.index]]
    assert [round(a.cash, 2) for a in acts] == list(MOUTAI.values())
    assert [a.cash for a in acts] == pytest.approx(paid.tolist(), abs=1e-9)
    total = sum(C.long_entitlement(a, 400).cash for a in acts)
    assert total == pytest.approx(85_684, abs=1.0)  # the 85,684 CNY for 400 shares


def test_300750_transfer_record_and_factor_give_the_same_reference_price(raw):
    m = raw[raw["code"] == "300750"].set_index("date")
    prev, day = m.loc[:"2023-04-25"].iloc[-1], m.loc["2023-04-26"]
    by_factor = X.reference_close_array(prev["close"], prev["adj_factor"], day["adj_factor"])
    by_record = C.record_reference(prev["close"], Action("300750", D("2023-04-26"), cash=2.52, transfer=0.8))
    assert float(by_factor) == by_record == 212.99
    up, down = R.limits_array("300750", ["2023-04-26"], [by_record])
    assert (up[0], down[0]) == (255.59, 170.39)
    assert down[0] <= day["low"] and day["high"] <= up[0]


def test_a_falling_factor_is_noted_and_not_credited(raw):
    m = raw[raw["code"] == "000002"].sort_values("date")
    acts, notes = C.actions_for("000002", m["date"].tolist(), m["close"].to_numpy(), m["adj_factor"].to_numpy())
    assert D("2025-01-09") not in {a.ex_date for a in acts}
    assert any("falls on 2025-01-09" in n for n in notes)
    assert all(a.cash > 0 for a in acts)


# ------------------------------------------------------------- a run's distributions ---

from hypebt.market.distributions import Distributions  # noqa: E402


def test_distributions_doctest():
    from hypebt.market import distributions

    assert doctest.testmod(distributions).failed == 0


def test_cash_waits_for_its_pay_date_and_is_paid_even_if_the_shares_are_gone():
    a = Action("600000", D("2024-07-12"), cash=0.321, pay_date=D("2024-07-16"))
    dist = Distributions({"600000": [a]})
    step = dist.start_session(D("2024-07-12"), {"600000": 1000})
    assert step.cash == 0.0 and dist.receivable == 321.0 and dist.next_date() == D("2024-07-16")
    assert dist.start_session(D("2024-07-15"), {}).cash == 0.0  # sold meanwhile: still entitled
    assert dist.start_session(D("2024-07-16"), {}).cash == 321.0 and dist.receivable == 0.0
    assert [(r["date"], r["kind"], r["amount"]) for r in dist.rows] == [(D("2024-07-16"), "cash_dividend", 321.0)]


def test_a_skipped_ex_date_is_applied_at_the_next_session_with_the_shares_held_before_it():
    acts = {"300750": [Action("300750", D("2023-04-26"), cash=2.52, transfer=0.8)],
            "600519": [Action("600519", D("2023-06-30"), cash=25.911)]}
    dist = Distributions(acts)
    step = dist.start_session(D("2023-07-03"), {"300750": 100, "600519": -200})
    assert step.cash == round(252.0 - 200 * 25.911, 2)
    assert step.new_shares == {"300750": 80} and step.sellable_from == {"300750": D("2023-04-27")}
    assert step.taxable == {"300750": (D("2023-04-25"), 252.0)}  # longs only; record date: the day before
    assert dist.total("short_compensation") == -5182.2 and dist.total("cash_dividend") == 252.0


def test_a_short_owes_new_shares_and_nothing_happens_to_codes_not_held():
    dist = Distributions({"300750": [Action("300750", D("2023-04-26"), cash=2.52, transfer=0.8,
                                            listed=D("2023-04-26"))],
                          "600000": [Action("600000", D("2023-04-26"), cash=1.0)]})
    step = dist.start_session(D("2023-04-26"), {"300750": -300})
    assert step.new_shares == {"300750": -240} and step.sellable_from == {"300750": D("2023-04-26")}
    assert step.cash == -756.0 and step.taxable == {}
    assert {r["code"] for r in dist.rows} == {"300750"} and dist.pending == []


def test_dividend_tax_rows():
    dist = Distributions()
    dist.tax_row(D("2024-06-21"), "600519", 400, 2470.08)
    dist.tax_row(D("2024-06-21"), "600519", 100, 0.0)
    assert [(r["kind"], r["amount"], r["per_share"]) for r in dist.rows] == [("dividend_tax", -2470.08, 6.1752)]
