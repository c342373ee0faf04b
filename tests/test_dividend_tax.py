"""差别化红利税 (hypebt.market.dividend_tax): holding bands, the dated rates, first in first out,
bonus shares, the [rules] switch; on hand-made lots and on 600519's dividends read off the real
adjustment factor."""

from __future__ import annotations

import doctest
from datetime import date

import pytest

from hypebt.core.errors import InputError
from hypebt.market import corporate as C
from hypebt.market import dividend_tax as T
from hypebt.market.rules import Rules, rules_from_mapping

D = date.fromisoformat


def test_docstring_examples_hold():
    result = doctest.testmod(T)
    assert result.attempted >= 8 and result.failed == 0


@pytest.mark.parametrize("bought, sold, band", [
    ("2024-01-10", "2024-01-30", "month"),
    ("2024-01-10", "2024-02-10", "month"),   # held 01-10..02-09: one month exactly (含1个月)
    ("2024-01-10", "2024-02-11", "year"),
    ("2024-01-31", "2024-02-29", "month"),   # the month after ends on the 29th
    ("2024-01-31", "2024-03-01", "year"),
    ("2023-01-10", "2024-01-10", "year"),    # one year exactly
    ("2023-01-10", "2024-01-11", "long"),
    ("2023-02-28", "2024-02-28", "year"),
    ("2023-02-28", "2024-02-29", "long"),
])
def test_holding_bands(bought, sold, band):
    assert T.holding_band(D(bought), D(sold)) == band


@pytest.mark.parametrize("band, record, rate", [
    ("month", "2013-01-01", 0.20), ("year", "2013-01-01", 0.10), ("long", "2013-01-01", 0.05),
    ("long", "2015-09-07", 0.05), ("long", "2015-09-08", 0.0),    # 财税〔2015〕101号 from 2015-09-08
    ("month", "2024-06-18", 0.20), ("year", "2024-06-18", 0.10), ("long", "2024-06-18", 0.0),
])
def test_rates_are_dated_by_the_record_date(band, record, rate):
    assert T.tax_rate(band, D(record)) == rate


def test_the_rules_switch_and_custom_tables():
    off = rules_from_mapping({"dividend_tax": False}, "spec.toml [rules]")
    assert T.tax_rate("month", D("2024-06-18"), off) == 0.0
    lots = T.receive(T.buy((), D("2024-06-03"), 400), D("2024-06-18"), 30.876)
    assert T.sell(lots, D("2024-06-23"), 400, off)[0] == 0.0
    custom = rules_from_mapping({"dividend_tax_long": [["2013-01-01", 0.05], ["2030-01-01", 0.0]]}, "x")
    assert T.tax_rate("long", D("2024-06-18"), custom) == 0.05
    with pytest.raises(InputError, match="dividend_tax_month.*fraction"):
        rules_from_mapping({"dividend_tax_month": 20}, "x")
    with pytest.raises(InputError, match="true or false"):
        rules_from_mapping({"dividend_tax": "no"}, "x")


def test_fifo_takes_the_oldest_shares_and_their_dividends():
    lots = T.buy((), D("2024-01-02"), 300)
    lots = T.buy(lots, D("2024-06-03"), 100)
    lots = T.receive(lots, D("2024-06-18"), 30.876)  # both lots held at the record date
    lots = T.buy(lots, D("2024-06-20"), 100)         # bought after it: no dividend
    tax, rest, detail = T.sell(lots, D("2024-06-21"), 350)
    # 300 from 01-02 (held over a month: 10 %), 50 from 06-03 (18 days: 20 %)
    assert tax == round(300 * 30.876 * 0.10 + 50 * 30.876 * 0.20, 2)
    assert [(d["shares"], d["band"]) for d in detail] == [(300, "year"), (50, "month")]
    assert [(lot.bought, lot.shares) for lot in rest] == [(D("2024-06-03"), 50), (D("2024-06-20"), 100)]
    tax2, rest2, _ = T.sell(rest, D("2024-06-24"), 150)  # the other 50 of 06-03, then the no-dividend lot
    assert tax2 == round(50 * 30.876 * 0.20, 2) and rest2 == ()


def test_bonus_shares_join_their_lots_and_their_par_is_taxed():
    a = C.Action("600000", D("2024-05-06"), cash=0.5, bonus=0.3)
    lots = T.buy(T.buy((), D("2024-04-01"), 100), D("2024-04-29"), 100)
    got = C.long_entitlement(a, 200)
    lots = T.receive_amount(lots, D("2024-04-30"), got.taxable)  # 100 cash + 60 par
    lots = T.add_shares(lots, got.new_shares)
    assert [lot.shares for lot in lots] == [130, 130]
    tax, rest, _ = T.sell(lots, D("2024-05-10"), 260)
    # lot 1 held over a month (10 %), lot 2 eleven days (20 %): 80 CNY taxable each
    assert tax == round(80 * 0.10 + 80 * 0.20, 2) and rest == ()


def test_a_partial_sale_keeps_the_rest_of_the_lots_dividends():
    lots = T.receive(T.buy((), D("2024-06-03"), 400), D("2024-06-18"), 30.876)
    tax1, rest, _ = T.sell(lots, D("2024-06-20"), 100)
    tax2, _, _ = T.sell(rest, D("2024-06-20"), 300)
    assert tax1 + tax2 == pytest.approx(T.sell(lots, D("2024-06-20"), 400)[0], abs=0.01)
    assert T.pending(rest, D("2024-06-20")) == tax2


@pytest.fixture(scope="module")
def moutai(raw_store):
    m = raw_store.load("stock_raw", codes=["600519"]).sort_values("date")
    days = m["date"].tolist()
    acts = C.derive_from_factor("600519", days, m["close"].to_numpy(), m["adj_factor"].to_numpy())
    return [C.with_record_date(a, days) for a in acts]


def _hold(actions, bought, sold, shares=400):
    lots = T.buy((), bought, shares)
    received = []
    for a in actions:
        if bought <= a.record_date and a.ex_date <= sold:
            lots = T.receive_amount(lots, a.record_date, C.long_entitlement(a, shares).taxable)
            received.append(a)
    return T.sell(lots, sold, shares), received


@pytest.mark.parametrize("bought, sold, rate, n", [
    ("2024-05-30", "2024-06-19", 0.20, 1),   # 20 days, across the 2024-06-19 ex-date
    ("2024-01-02", "2024-07-02", 0.10, 1),   # 6 months: the 2024-06-19 dividend only
    ("2022-06-01", "2024-06-03", 0.00, 4),   # 2 years: four dividends, all exempt
    ("2023-12-18", "2024-06-20", 0.10, 2),   # 2023-12-20 and 2024-06-19, both in the 1-year band
])
def test_600519_sales_after_20_days_6_months_and_2_years(moutai, bought, sold, rate, n):
    (tax, rest, detail), received = _hold(moutai, D(bought), D(sold))
    assert len(received) == n and rest == ()
    assert tax == pytest.approx(round(sum(C.long_entitlement(a, 400).cash for a in received) * rate, 2), abs=0.011)
    assert {d["rate"] for d in detail} == {rate}
