"""Traded prices through the plausibility check of every import (hypebt.market.plausible), and the
factor's moves put on their ex-dates (hypebt.market.exdates), on the shared raw data.

Importing the whole raw file once (``hypebt data import market_raw.parquet --adjust raw``) used to
exit 2 on these bars, which the check judged on adjusted prices: 000981 2022-02-25 and 02-28 (a
reorganisation's 转增 whose factor moves a session late), 302132 2025-02-18 (a factor re-based on a
code change, no price move), 603031 2026-04-30 (a late factor). A first run's import of the same
file skipped the check altogether. Both now run one check, on the exchange's limits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import hypebt
from conftest import raw_market_file
from hypebt.cli.main import main
from hypebt.core.errors import InputError
from hypebt.data.store import Store
from hypebt.market import plausible
from hypebt.market.exdates import factor_timing

REPO = Path(__file__).resolve().parents[1]
# The codes the check refused on the whole file, the late-factor cases and a plain large cap.
REFUSED = ("000981", "302132", "603031")
LATE = {  # code: (the day the factor moves, the ex-date: the day the price dropped)
    "000981": ("2022-02-28", "2022-02-25"), "001299": ("2026-04-30", "2026-04-29"),
    "002393": ("2026-04-29", "2026-04-28"), "002866": ("2026-05-08", "2026-05-07"),
    "003038": ("2022-03-30", "2022-03-29"), "300501": ("2026-04-29", "2026-04-28"),
    "300532": ("2026-05-07", "2026-05-06"), "301171": ("2026-04-29", "2026-04-28"),
    "301279": ("2026-05-07", "2026-05-06"), "600313": ("2021-01-18", "2021-01-15"),
    "600506": ("2026-05-07", "2026-05-06"), "603031": ("2026-04-30", "2026-04-29"),
    "605123": ("2026-04-30", "2026-04-29"), "605299": ("2026-04-30", "2026-04-29"),
    "688615": ("2026-04-28", "2026-04-27"),
}
CODES = sorted({*REFUSED, *LATE, "600519", "300932"})


@pytest.fixture(scope="module")
def raw_subset(shared_data, tmp_path_factory) -> Path:
    path = raw_market_file(shared_data)
    out = tmp_path_factory.mktemp("raw") / "market_raw.parquet"
    pq.write_table(pq.read_table(path, filters=[("code", "in", CODES)]), out)
    return out


@pytest.fixture(scope="module")
def bars(raw_subset) -> pd.DataFrame:
    frame = pd.read_parquet(raw_subset)
    frame["code"] = frame["code"].astype(str)
    return frame.sort_values(["code", "date"], kind="stable").reset_index(drop=True)


def cli(capsys, home: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--home", str(home), *args])
    out, err = capsys.readouterr()
    return code, out, err


def doctored(bars: pd.DataFrame, folder: Path) -> Path:
    """The subset with one impossible bar: 600519's high of 2024-01-03 at twice the limit-up."""
    bad = bars.copy()
    at = bad.index[(bad["code"] == "600519") & (bad["date"] == pd.Timestamp("2024-01-03"))][0]
    bad.loc[at, "high"] = round(bad.loc[at - 1, "close"] * 1.2, 2)
    folder.mkdir(parents=True, exist_ok=True)
    bad.to_parquet(folder / "market_raw.parquet", index=False)
    return folder / "market_raw.parquet"


# ------------------------------------------------------------------------- defect: the check ---

def test_the_issue_command_imports_the_real_traded_bars_it_used_to_refuse(raw_subset, tmp_path, capsys):
    code, out, err = cli(capsys, tmp_path / "store", "data", "import", str(raw_subset), "--adjust", "raw")
    assert code == 0, err
    assert f"of {len(CODES)} codes into stock_raw" in out
    stored = Store(tmp_path / "store").load("stock_raw", codes=list(REFUSED))
    assert sorted(stored["code"].unique()) == list(REFUSED)


def test_the_real_bars_are_inside_their_limits_and_a_doctored_one_is_not(bars):
    frame = bars.copy()
    frame.attrs["adjust"] = "raw"
    assert not plausible.implausible(frame).any()
    bad = frame.copy()
    at = bad.index[(bad["code"] == "600519") & (bad["date"] == pd.Timestamp("2024-01-03"))][0]
    bad.loc[at, "low"] = round(bad.loc[at - 1, "close"] * 0.85, 2)  # 15 % below: beyond the 10 % band
    assert np.flatnonzero(plausible.implausible(bad)).tolist() == [at]
    assert plausible.describe(bad, at).startswith("600519 2024-01-03: field 'low': ")
    assert "is below the limit-down price" in plausible.describe(bad, at)


def test_a_doctored_bar_is_refused_by_the_import_with_one_line(bars, tmp_path, capsys):
    path = doctored(bars, tmp_path / "in")
    code, out, err = cli(capsys, tmp_path / "store", "data", "import", str(path), "--adjust", "raw")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert f"{path}: 600519 2024-01-03: field 'high': " in lines[0]
    assert "is above the limit-up price" in lines[0] and "--lenient" in lines[0]
    assert not (tmp_path / "store" / "stock_raw").exists()


def test_a_first_run_imports_through_the_same_check(bars, shared_data, tmp_path, monkeypatch):
    """hypebt.backtest (and hypebt run) on an empty store import the local dataset: the doctored bar is
    refused there with the same message as hypebt data import; the real bars are imported."""
    def dataset(folder: Path, raw: Path) -> Path:
        (folder / "ashare").mkdir(parents=True)
        qfq = pq.read_table(shared_data / "ashare" / "market.parquet", filters=[("code", "=", "600519")])
        pq.write_table(qfq, folder / "ashare" / "market.parquet")
        (folder / "index").mkdir()
        (folder / "index" / "sh000300.csv").write_bytes((shared_data / "index" / "sh000300.csv").read_bytes())
        if raw != folder / "ashare_raw" / "market_raw.parquet":
            (folder / "ashare_raw").mkdir()
            raw.replace(folder / "ashare_raw" / "market_raw.parquet")
        return folder

    spec = {"name": "t", "strategy": "buy_and_hold", "codes": ["600519"], "start": "2024-01-02",
            "end": "2024-01-31", "cash": 1_000_000}
    bad = dataset(tmp_path / "bad", doctored(bars, tmp_path / "staged"))
    monkeypatch.setenv("HYPEBT_SHARED_DATA", str(bad))
    with pytest.raises(InputError, match=r"market_raw.parquet: 600519 2024-01-03: field 'high': .* is above the "
                                         r"limit-up price"):
        hypebt.backtest(spec, workspace=REPO, home=tmp_path / "store_bad")
    good_raw = tmp_path / "staged2" / "market_raw.parquet"
    good_raw.parent.mkdir()
    bars.to_parquet(good_raw, index=False)
    monkeypatch.setenv("HYPEBT_SHARED_DATA", str(dataset(tmp_path / "good", good_raw)))
    res = hypebt.backtest(spec, workspace=REPO, home=tmp_path / "store_good")
    assert sorted(Store(tmp_path / "store_good").load("stock_raw", columns=["code"])["code"].unique()) == CODES
    assert res.stats["final_value"] > 0


# ------------------------------------------------------------------- defect: late factors ---

def test_every_late_factor_of_these_codes_is_put_on_its_ex_date(bars):
    found, contradicted = {}, {}
    for code, g in bars.groupby("code", sort=True):
        t = factor_timing(code, g["date"].to_numpy(), g["high"].to_numpy(), g["low"].to_numpy(),
                          g["close"].to_numpy(), g["adj_factor"].to_numpy())
        found.update({code: pair for pair in t.late})
        contradicted.update({code: day for day in t.contradicted})
        for moved, ex in t.late:  # the move is on the ex-date now, and only there
            f = pd.Series(t.factor, index=g["date"].dt.strftime("%Y-%m-%d"))
            assert f[moved] == f[ex] != f.shift(1)[ex]
    assert found == LATE
    assert contradicted == {"302132": "2025-02-18"}  # the factor re-based, the price did not move


@pytest.fixture(scope="module")
def subset_store(raw_subset, shared_data, tmp_path_factory) -> Store:
    from hypebt.data.importers import import_paths

    store = Store(tmp_path_factory.mktemp("subset") / "store")
    import_paths(store, [raw_subset, shared_data / "index" / "sh000300.csv"], adjust="raw",
                 plausible=plausible.CHECK)
    return store


def hold(store: Store, code: str, start: str, end: str):
    return hypebt.backtest({"name": "bh", "strategy": "buy_and_hold", "codes": [code], "start": start, "end": end,
                            "cash": 1_000_000}, workspace=REPO, home=store.root)


@pytest.mark.parametrize("code", ["002393", "300501", "000981"])
def test_a_late_factor_credits_the_drop_day_from_the_close_before_it(subset_store, bars, code):
    moved, ex = LATE[code]
    g = bars[bars["code"] == code].set_index(bars.loc[bars["code"] == code, "date"].dt.strftime("%Y-%m-%d"))
    days = list(g.index)
    before = days[days.index(ex) - 1]
    res = hold(subset_store, code, days[days.index(ex) - 5], days[min(days.index(moved) + 3, len(days) - 1)])
    ca = res.corporate_actions
    assert [str(d.date()) for d in ca["date"]] == [ex]  # not the factor's day
    held = int(ca["shares_held"].iloc[0])
    per_share = g.loc[before, "close"] * (1 - g.loc[before, "adj_factor"] / g.loc[moved, "adj_factor"])
    assert ca["amount"].iloc[0] == pytest.approx(held * per_share, abs=0.011)
    assert any(f"{code}: the adjustment factor moves on {moved}, a session after the price drop of {ex}" in w
               for w in res.warnings)
    # the ex-date's limits start from the reference price: its bar is inside them, and the next day's too
    prep = res._prep
    j, pos = prep.panel.index[code], list(prep.panel.sessions.strftime("%Y-%m-%d"))
    for day in (ex, moved):
        k = pos.index(day)
        up, down = prep.panel.columns["limit_up"][j, k], prep.panel.columns["limit_down"][j, k]
        assert down - 1e-6 <= g.loc[day, "low"] and g.loc[day, "high"] <= up + 1e-6, (day, down, up)


def test_a_factor_move_the_prices_contradict_credits_nothing(subset_store):
    res = hold(subset_store, "302132", "2025-02-10", "2025-02-28")
    assert res.corporate_actions.empty and res.stats["distributions"] == 0
    assert any("302132: the adjustment factor moves on 2025-02-18 but the price does not" in w for w in res.warnings)
