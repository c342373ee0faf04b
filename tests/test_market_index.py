"""The equal-weight market index (:mod:`hypebt.data.market_index`): hand-made cases for
suspensions, new listings, raw prices with factors and the cache; the real daily files for a
direct mean of returns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers_engine import bars, data_file, write_store
from hypebt.core.errors import InputError
from hypebt.data import market_index as M
from hypebt.data.importers import import_paths
from hypebt.data.store import Store

D = pd.bdate_range("2024-01-02", periods=5)


def _rows(closes, opens=None, days=D):
    opens = closes if opens is None else opens
    return [(d, o, max(o, c), min(o, c), c) for d, o, c in zip(days, opens, closes) if c is not None]


def _market(tmp_path, adjust="qfq"):
    """600001 trades every day; 600002 is suspended on day 2; 300001 lists on day 1."""
    stocks = {
        "600001": bars(10.0, _rows([10.0, 11.0, 12.1, 12.1, 11.0], opens=[10.0, 10.5, 11.0, 12.0, 12.1])),
        "600002": bars(20.0, [r for i, r in enumerate(_rows([20.0, 19.0, 0, 20.9, 22.0])) if i != 2]),
        "300001": bars(5.0, _rows([5.0, 6.0, 6.6, 6.6], days=D[1:])),
    }
    return write_store(tmp_path / "store", stocks, adjust=adjust)


def test_suspension_and_new_listing_follow_the_stated_rule(tmp_path):
    store = _market(tmp_path)
    ew = M.load_equal_weight(store)
    assert list(ew["date"]) == list(D)
    assert ew["n_stocks"].tolist() == [0, 2, 2, 2, 3]
    # day 1: 600001 +10 %, 600002 -5 %; 300001's first bar has no previous close
    # day 2: 600001 +10 %, 300001 +20 %; 600002 suspended
    # day 3: 600001 0 %, 300001 +10 %; 600002 back from suspension (a 2-session move): left out
    # day 4: 600001 -1.1/12.1, 600002 22/20.9 - 1, 300001 0 %
    expected = [np.nan, (0.10 - 0.05) / 2, (0.10 + 0.20) / 2, (0.0 + 0.10) / 2,
                (11.0 / 12.1 - 1 + 22.0 / 20.9 - 1 + 0.0) / 3]
    np.testing.assert_allclose(ew["ret"], expected, rtol=1e-12)
    level = 1000 * np.cumprod(np.r_[1.0, 1 + np.array(expected[1:])])
    np.testing.assert_allclose(ew["close"], level, rtol=1e-12)
    # the open: the previous level times the mean previous-close-to-open return
    assert ew["ret_open"][1] == pytest.approx((10.5 / 10 - 1 + 19.0 / 20 - 1) / 2)
    assert ew["open"][1] == pytest.approx(1000 * (1 + ew["ret_open"][1]))
    assert np.isnan(ew["open"][0])


def test_raw_prices_use_the_adjustment_factor(tmp_path):
    store = Store(tmp_path / "store")
    frame = bars(10.0, _rows([10.0, 5.5]))
    frame.insert(0, "code", "600001")
    frame["adj_factor"] = [1.0, 2.0]          # a 2-for-1 split: the traded price halves, the value +10 %
    frame["date"] = frame["date"].astype("datetime64[ns]")
    store.write("stock_raw", frame, source="test", adjust="raw")
    ew = M.load_equal_weight(store, "stock_raw")
    assert ew["ret"][1] == pytest.approx(0.10)


def test_cached_with_a_manifest_and_rebuilt_when_the_bars_change(tmp_path):
    store = _market(tmp_path)
    first = M.load_equal_weight(store)
    name = M.dataset_name("stock_qfq")
    manifest = store.manifest(name)
    assert manifest["built_from"] == {"dataset": "stock_qfq", "sha256": store.manifest("stock_qfq")["sha256"],
                                      "rows": store.manifest("stock_qfq")["rows"]}
    pd.testing.assert_frame_equal(store.load(name), M.load_equal_weight(store), check_dtype=False)
    written = data_file(tmp_path / "store", name).stat().st_mtime_ns
    M.load_equal_weight(store)
    assert data_file(tmp_path / "store", name).stat().st_mtime_ns == written  # not rebuilt
    # a new stock changes the market: the cache follows
    extra = bars(8.0, _rows([8.0, 8.8, 8.8, 8.8, 8.8]))
    extra.insert(0, "code", "600003")
    extra["date"] = extra["date"].astype("datetime64[ns]")
    store.write("stock_qfq", extra, source="test", adjust="qfq")
    second = M.load_equal_weight(store)
    assert second["n_stocks"][1] == first["n_stocks"][1] + 1
    assert second["ret"][1] == pytest.approx((0.10 - 0.05 + 0.10) / 3)
    assert store.manifest(name)["built_from"]["sha256"] == store.manifest("stock_qfq")["sha256"]


def test_a_corrupt_cache_is_rebuilt(tmp_path):
    store = _market(tmp_path)
    good = M.load_equal_weight(store)
    path = data_file(tmp_path / "store", M.dataset_name("stock_qfq"))
    path.write_bytes(path.read_bytes()[:-20])
    pd.testing.assert_frame_equal(M.load_equal_weight(store).reset_index(drop=True), good, check_dtype=False)


def test_derived_datasets_cannot_overwrite_imported_bars(tmp_path):
    store = _market(tmp_path)
    with pytest.raises(InputError, match="stock_qfq"):
        store.write_dataset("stock_qfq", pd.DataFrame({"date": D}), source="x")


@pytest.fixture(scope="module")
def daily_store(shared_data, tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("ew") / "store")
    import_paths(store, sorted((shared_data / "ashare" / "daily").glob("*.csv")), adjust="qfq")
    return store


def test_equal_to_a_direct_mean_on_the_real_daily_files(daily_store, shared_data):
    ew = M.load_equal_weight(daily_store).set_index("date")
    closes = {}
    for path in sorted((shared_data / "ashare" / "daily").glob("*.csv")):
        table = pd.read_csv(path, usecols=["日期", "收盘"], parse_dates=["日期"])
        closes[path.stem] = table.set_index("日期")["收盘"]
    panel = pd.DataFrame(closes)                    # dates x codes, NaN where a stock has no bar
    returns = panel / panel.shift(1) - 1           # NaN unless both sessions have a bar
    for day in ["2023-02-06", "2024-02-19", "2024-02-20", "2024-05-22"]:
        row = returns.loc[day].dropna()
        assert len(row) > 50
        assert ew.loc[day, "n_stocks"] == len(row)
        assert ew.loc[day, "ret"] == pytest.approx(row.mean(), rel=1e-9)
    assert len(ew) == len(panel)


def test_size_groups_split_by_cap():
    caps = pd.Series({"a": 5.0, "b": 1.0, "c": 3.0, "d": 2.0, "e": np.nan, "f": 4.0, "g": 0.0})
    assert M.size_groups(caps, 2).to_dict() == {"b": 1, "d": 1, "c": 1, "f": 2, "a": 2}
    assert M.size_groups(caps, 5).sort_values().tolist() == [1, 2, 3, 4, 5]


def test_size_matched_indexes_average_within_each_group(tmp_path):
    store = _market(tmp_path)
    caps = pd.Series({"600001": 9e9, "600002": 8e9, "300001": 1e9, "688999": 5e9})  # 688999: no bars
    frame, member = M.load_size_matched(store, caps, "caps-v1", groups=2)
    assert member.to_dict() == {"300001": 1, "600002": 1, "600001": 2}
    small = frame[frame["code"] == "size_01"].reset_index(drop=True)
    big = frame[frame["code"] == "size_02"].reset_index(drop=True)
    # group 1 (300001, 600002) over the market's sessions; 600002 is out on day 2 and day 3
    np.testing.assert_allclose(small["ret"], [np.nan, -0.05, 0.20, 0.10, (22 / 20.9 - 1 + 0) / 2], rtol=1e-12)
    np.testing.assert_allclose(big["ret"][1:], [0.10, 0.10, 0.0, 11 / 12.1 - 1], rtol=1e-12)
    manifest = store.manifest("size2_qfq")
    assert manifest["built_from"]["caps_sha256"] == "caps-v1"
    # new caps: regrouped and rebuilt
    frame2, member2 = M.load_size_matched(store, caps.replace({1e9: 9.5e9}), "caps-v2", groups=2)
    assert member2["300001"] == 2 and store.manifest("size2_qfq")["built_from"]["caps_sha256"] == "caps-v2"


def test_benchmarks_by_name(tmp_path):
    store = _market(tmp_path)
    ew = M.load_benchmark(store, "equal_weight", ["date", "open", "close"], "spec.toml")
    assert list(ew.columns) == ["date", "open", "close"] and len(ew) == 5
    csi = M.load_benchmark(store, "sh000300", ["date", "close"], "spec.toml")
    assert csi["close"].iloc[0] == 3500.0
    with pytest.raises(Exception, match="spec.toml: benchmark sh000905 is not in the store"):
        M.load_benchmark(store, "sh000905", ["date", "close"], "spec.toml")


def test_size_matched_matrices_give_each_stock_its_group(tmp_path):
    store = _market(tmp_path)
    caps = pd.Series({"600001": 9e9, "600002": 8e9, "300001": 1e9})
    frame, _ = M.load_size_matched(store, caps, "v1", groups=2)
    o, c, group = M.size_matched_matrices(store, ["300001", "600001", "688000"], D, caps, "v1", groups=2)
    small = frame[frame["code"] == "size_01"]
    np.testing.assert_allclose(c[:, 0], small["close"])
    np.testing.assert_allclose(c[:, 1], frame[frame["code"] == "size_02"]["close"])
    assert np.isnan(c[:, 2]).all() and group.to_dict() == {"300001": 1, "600001": 2}
