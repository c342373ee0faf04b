"""Words of the study page (:mod:`hypebt.reports.study_text`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hypebt.reports import study_text as T


def test_headline_names_the_test_and_why_and_the_plain_t():
    row = {"n": 37, "mean_car_mkt": 0.249, "median_car_mkt": 0.21, "positive": 35, "t_stat": 7.26, "t_p": 1.5e-8,
           "headline_test": "standardized BMP with Kolari-Pynnonen correction", "headline_t": 1.64,
           "headline_p": 0.11, "headline_why": "all 37 stock-events share day 0"}
    text = " ".join(T.headline(row, (0, 20), "sh000300"))
    assert "Mean CAR[0,20] +24.90% (market-adjusted, against sh000300; 37 stock-events, median +21.00%" in text
    assert "Kolari-Pynnonen correction: t = 1.64, p = 0.110, not significant at 5 %" in text
    assert "Why this test: all 37 stock-events share day 0." in text
    assert "t = 7.26 (p = 1.5e-08)" in text
    mm = " ".join(T.headline({**row, "mean_car_mm": 0.2, "mm_headline_test": "x", "mm_headline_t": 2.5,
                              "mm_headline_p": 0.01}, (0, 20), "sh000300", "mm_"))
    assert "market model" in mm and "significant at 5 %" in mm and "plain" not in mm


def test_day0_context_only_after_a_closure():
    lines = T.day0_context([
        {"id": "sora", "day0": "2024-02-19", "prev_session": "2024-02-08", "span_days": 11, "closure": True},
        {"id": "x", "day0": "2024-02-26", "prev_session": "2024-02-23", "span_days": 3, "closure": False}])
    assert len(lines) == 1 and "spans 11 calendar days since the close of 2024-02-08" in lines[0]


def test_trim_keeps_top_and_bottom():
    frame = pd.DataFrame({"code": [f"{i:06d}" for i in range(100)], "x": np.r_[np.arange(95.0), [np.nan] * 5]})
    out, total = T.trim(frame, "x", n=3)
    assert total == 100 and out["x"].tolist() == [94.0, 93.0, 92.0, 2.0, 1.0, 0.0]
    small, total = T.trim(frame.head(6), "x", n=3)
    assert len(small) == 6 and total == 6


def test_company_rows():
    car = pd.DataFrame({"event": ["e", "e"], "code": ["002230", "300024"], "name": ["科大讯飞", "机器人"],
                        "car_mkt[0,10]": [0.1, 0.2], "car_mm[0,10]": [0.09, 0.1], "bhar_mkt[0,10]": [0.11, 0.3],
                        "paper_abnormal": [0.05, 0.1], "tradable_abnormal": [0.04, np.nan]})
    rows = T.company_rows(car, {"e": ("002230",)}, (0, 10))
    assert len(rows) == 1 and rows[0]["name"] == "科大讯飞" and rows[0]["BHAR[0,10]"] == 0.11
