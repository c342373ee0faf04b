"""``[study] market`` (:mod:`hypebt.research.study_market`): each kind of market, and returns over
a stock's own span with one benchmark or one per stock."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from test_market_index import D, _market
from hypebt.core.errors import DataError
from hypebt.data import market_index as MI
from hypebt.data import stock_info as SI
from hypebt.research import study_market as SM


def test_index_and_equal_weight_markets(tmp_path):
    store = _market(tmp_path)
    csi = SM.resolve(store, "sh000300", ["600001"], D, "stock_qfq", "spec.toml")
    assert csi.close.tolist() == [3500.0, 3501.0, 3502.0, 3503.0, 3504.0] and csi.label == "sh000300"
    ew = SM.resolve(store, "equal_weight", ["600001"], D, "stock_qfq", "spec.toml")
    np.testing.assert_allclose(ew.close, MI.load_equal_weight(store)["close"])
    assert "equal-weight" in ew.label and ew.notes
    with pytest.raises(DataError, match="spec.toml: benchmark sh000905 is not in the store"):
        SM.resolve(store, "sh000905", ["600001"], D, "stock_qfq", "spec.toml")


def test_size_matched_needs_caps_and_says_look_ahead(tmp_path):
    store = _market(tmp_path)
    with pytest.raises(DataError, match="needs market caps"):
        SM.resolve(store, "size_matched", ["600001"], D, "stock_qfq", "spec.toml")
    info = pd.DataFrame({"code": ["600001", "600002", "300001"], "date": pd.Timestamp("2024-06-30"),
                         "name": ["a", "b", "c"], "total_cap": [9e9, 8e9, 1e9], "float_cap": np.nan,
                         "industry": "", "total_shares": np.nan, "float_shares": np.nan})
    SI.save(store, info, source="test")
    m = SM.resolve(store, "size_matched", ["300001", "600001", "688001"], D, "stock_qfq", "spec.toml", groups=2)
    assert m.close.shape == (5, 3) and np.isnan(m.close[:, 2]).all()
    assert any("2024-06-30" in n and "look-ahead" in n for n in m.notes)
    assert any("688001" in n for n in m.notes)


def test_span_returns_one_benchmark_or_one_per_stock():
    levels = np.array([100.0, 110.0, 121.0])
    prev = np.array([[0, 0], [0, 0], [1, 0]])
    ok = np.array([[False, False], [True, True], [True, True]])
    out = SM.span_returns(levels, prev, ok)
    np.testing.assert_allclose(out[1:], [[0.10, 0.10], [0.10, 0.21]])
    assert np.isnan(out[0]).all()
    per_stock = np.column_stack([levels, levels * np.array([1.0, 1.0, 2.0])])
    out2 = SM.span_returns(per_stock, prev, ok)
    np.testing.assert_allclose(out2[2], [0.10, 242.0 / 100 - 1])


def test_a_backtest_benchmark_can_be_the_equal_weight_market(tmp_path):
    from helpers_engine import make_workspace, write_spec
    from hypebt.engine import backtest as engine
    from hypebt.engine.spec import load_spec

    store = _market(tmp_path)
    ws = make_workspace(tmp_path / "ws")
    spec = load_spec(write_spec(ws, "t", {"strategy": "script", "codes": ["600001"], "benchmark": "equal_weight"}))
    prep = engine.prepare(spec, ws, store)
    ew = MI.load_equal_weight(store).set_index("date")["ret"].fillna(0.0)
    np.testing.assert_allclose(prep.benchmark.to_numpy(), ew.reindex(prep.benchmark.index).to_numpy(), atol=1e-12)
    assert prep.benchmark.name == "equal_weight"
