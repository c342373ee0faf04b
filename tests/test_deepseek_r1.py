"""The shipped DeepSeek-R1 backtest and study (backtests/deepseek_r1*.toml) on traded prices: the
members of the event's boards as published 2024-01-02 (no look-ahead), the shared raw prices of just
those stocks, every fill and ledger row checked against the raw bars."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import hypebt
from hypebt.data import boards as B
from hypebt.data.importers import import_paths
from hypebt.data.store import Store
from hypebt.market import corporate as C

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def r1_store(shared_data, board_history, tmp_path_factory):
    """The R1 boards' members' traded prices (only those), the CSI 300 and the board history."""
    path = shared_data / "ashare_raw" / "market_raw.parquet"
    if not path.is_file():
        pytest.skip(f"no raw dataset at {path}")
    root = tmp_path_factory.mktemp("r1")
    codes = B.board_codes(board_history, {"ChatGPT概念", "AIGC概念"})
    subset = root / "members.parquet"
    pq.write_table(pq.read_table(path, filters=[("code", "in", sorted(codes))]), subset)
    store = Store(root / "store")
    import_paths(store, [subset, shared_data / "index" / "sh000300.csv"], adjust="raw")
    shutil.copytree(board_history.root / "concept_boards", store.root / "concept_boards")
    return store


@pytest.fixture(scope="module")
def r1_run(r1_store):
    return hypebt.backtest(str(REPO / "backtests" / "deepseek_r1.toml"), workspace=REPO, home=r1_store.root)


def test_r1_runs_on_traded_prices_on_the_boards_as_known_before(r1_run):
    notes = " ".join(r1_run.warnings)
    assert "prices are traded (raw)" in notes and "corporate actions on traded prices" in notes
    u = r1_run.universes
    assert set(u["board"]) == {"ChatGPT概念", "AIGC概念"} and (u["published"].astype(str) < "2025-01-20").all()
    assert r1_run._prep.look_ahead is False


def test_r1_buys_at_the_first_tradable_open_at_the_traded_price(r1_run, r1_store):
    buys = r1_run.fills[(r1_run.fills["side"] == "buy")]
    first = buys[buys["date"] == pd.Timestamp("2025-01-21")]
    assert len(first) > 50
    bars = r1_store.load("stock_raw", codes=list(first["code"]), start="2025-01-21", end="2025-01-21").set_index("code")
    assert (first.set_index("code")["price"] == bars.loc[first["code"], "open"]).all()  # no slippage by default
    refused = r1_run.orders[(r1_run.orders["date"] == pd.Timestamp("2025-01-21")) & (r1_run.orders["status"] == "refused")]
    assert set(refused["reason"]) <= {"limit_up", "locked_limit_up", "suspended", "volume_limit", "cash", "lot_size"}


def test_r1_cash_reconciles_with_trades_and_corporate_actions(r1_run, r1_store):
    t, ca = r1_run.trades, r1_run.corporate_actions
    assert r1_run.stats["final_value"] == pytest.approx(1_000_000 + t["net_pnl"].sum(), abs=0.01)
    assert t["distributions"].sum() == pytest.approx(ca["amount"].sum(), abs=0.01)
    assert len(ca) >= 1 and set(ca["kind"]) <= {"cash_equivalent", "dividend_tax"}
    for row in ca[ca["kind"] == "cash_equivalent"].itertuples():
        m = r1_store.load("stock_raw", codes=[row.code]).set_index("date")
        i = m.index.get_loc(row.date)
        per_share = m["close"].iloc[i - 1] * (1 - m["adj_factor"].iloc[i - 1] / m["adj_factor"].iloc[i])
        assert row.amount == pytest.approx(row.shares_held * per_share, abs=0.011)


def test_r1_study_on_traded_prices(r1_store):
    s = hypebt.study(str(REPO / "backtests" / "deepseek_r1_study.toml"), workspace=REPO, home=r1_store.root)
    assert any("returns use the adjusted close" in n for n in s.notes)
    assert set(s.car["day0"]) == {"2025-01-21"} and len(s.car) > 100
    ar = s.abnormal_returns
    assert ar["rel_day"].min() == -5 and ar["rel_day"].max() == 30
