"""The study's tradable rule as built (:data:`hypebt.research.study.TRADABLE_RULE`): a session that
opens at limit-up is not fillable at its open even when the board opens later, unless the spec's
[rules] turn on the limit-order model; then a buy at the limit price fills that session."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers_engine import bars, make_workspace, write_spec, write_store
from hypebt.engine.spec import load_spec
from hypebt.research import study

N, I0 = 60, 50
DAYS = pd.bdate_range("2023-03-01", periods=N)


def _store(tmp_path):
    rng = np.random.default_rng(1)
    rows, px = [], 10.0
    for i, d in enumerate(DAYS):
        if i == I0:   # opens at +10 % (the limit), trades down to +4 %, closes at +6 %
            up = round(px * 1.1, 2)
            o, h, lo, c = up, up, round(px * 1.04, 2), round(px * 1.06, 2)
        else:
            o = px
            c = round(px * (1 + rng.normal(0, 0.01)), 2)
            h, lo = max(o, c) + 0.01, min(o, c) - 0.01
        rows.append((d, o, h, lo, c))
        px = c
    stocks = {"600001": bars(10.0, rows)}
    for k, code in enumerate(("600002", "600003")):
        c = 20.0 * np.cumprod(1 + np.random.default_rng(k).normal(0, 0.01, N))
        stocks[code] = bars(20.0, [(d, x, x * 1.01, x * 0.99, x) for d, x in zip(DAYS, np.round(c, 2))])
    store = write_store(tmp_path / "store", stocks)
    ws = make_workspace(tmp_path / "ws")
    (ws / "data" / "events" / "ev.csv").write_text(f"id,name,time\nnews,News,{DAYS[I0].date()}T08:00\n", "utf-8")
    return store, ws


@pytest.mark.parametrize("limit_order, first_fill", [(False, DAYS[I0 + 1]), (True, DAYS[I0])])
def test_a_session_opening_at_limit_up_fills_only_under_the_limit_order_model(tmp_path, limit_order, first_fill):
    store, ws = _store(tmp_path)
    spec = load_spec(write_spec(ws, "s", {"codes": ["600001", "600002", "600003"], "benchmark": "sh000300"}, {
        "events": {"catalogue": "ev", "ids": ["news"]},
        "study": {"window": [-2, 5], "estimation": [-40, -5], "min_estimation": 20, "car_windows": [[0, 5]]},
        "rules": {"fill_at_limit_when_opened": limit_order}}))
    inputs = study.prepare(spec, ws, store)
    car = study.compute(inputs.panel, inputs.tradables, inputs.cfg, inputs.names)[1].set_index("code")
    row = car.loc["600001"]
    assert not row["locked_day0"]                 # the board opened: not a 一字板
    assert row["first_fill"] == str(first_fill.date())
    if limit_order:  # bought at the limit price, the day-0 open: paper and tradable are the same trade
        assert row["tradable_abnormal"] == pytest.approx(row["paper_abnormal"])
    else:
        assert row["tradable_abnormal"] != pytest.approx(row["paper_abnormal"])
