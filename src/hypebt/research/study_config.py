"""The ``[study]`` table of a spec, checked, with its defaults.

Keys: ``window`` (sessions around day 0), ``estimation`` (the market model's window, before the
event window), ``car_windows`` (CAR sub-windows), ``main_window`` (the one CAR window declared
before looking, which carries the headline and the tests in summary.csv; default
``[0, end of window]``; the other windows are descriptive, their p-values not adjusted for the
several windows looked at), ``market`` (what abnormal returns are measured against: an index
code in the store, ``"equal_weight"`` or ``"size_matched"``; default the spec's benchmark),
``size_groups`` (cap groups of the size-matched market, default 10), ``min_estimation``,
``confidence``.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypebt.core.errors import InputError, unknown
from hypebt.engine.spec import Spec

STUDY_KEYS = {"window": list, "estimation": list, "car_windows": list, "min_estimation": int, "confidence": float,
              "main_window": list, "market": str, "size_groups": int}
DEFAULTS = {"window": [-5, 20], "estimation": [-120, -11], "min_estimation": 60, "confidence": 0.95,
            "car_windows": [[-5, -1], [0, 0], [0, 1], [0, 5], [0, 20]], "size_groups": 10}


@dataclass(frozen=True)
class StudyConfig:
    window: tuple[int, int]
    estimation: tuple[int, int]
    car_windows: tuple[tuple[int, int], ...]
    min_estimation: int
    confidence: float
    main_window: tuple[int, int] = (0, 20)
    market: str = "sh000300"
    size_groups: int = 10


def study_config(spec: Spec) -> StudyConfig:
    """The checked ``[study]`` table of a spec, defaults filled in."""
    where = f"{spec.path} [study]"
    raw = dict(spec.study or {})
    for key, value in raw.items():
        if key not in STUDY_KEYS:
            raise unknown("study key", key, STUDY_KEYS, where)
    for key, value in raw.items():
        expected = STUDY_KEYS[key]
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) if expected is float else \
            isinstance(value, expected) and not isinstance(value, bool)
        if not ok:
            raise InputError(f"{where}: {key} must be {'a number' if expected is float else expected.__name__}, "
                             f"got {value!r}")
    cfg = {**DEFAULTS, **raw}
    if "car_windows" not in raw and "window" in raw:
        # The default sub-windows that fit the window the user chose.
        lo, hi = raw["window"] if isinstance(raw["window"], list) and len(raw["window"]) == 2 else (0, 0)
        cfg["car_windows"] = [w for w in DEFAULTS["car_windows"]
                              if isinstance(lo, int) and isinstance(hi, int) and lo <= w[0] <= w[1] <= hi]

    def pair(name):
        v = cfg[name]
        if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in v)
                and v[0] <= v[1]):
            raise InputError(f"{where}: {name} must be two whole numbers of sessions [from, to], from <= to, "
                             f"e.g. {DEFAULTS[name]}; got {v!r}")
        return int(v[0]), int(v[1])

    window, estimation = pair("window"), pair("estimation")
    if estimation[1] >= window[0]:
        raise InputError(f"{where}: the estimation window {list(estimation)} must end before the event window "
                         f"starts ({window[0]}); e.g. estimation = [-120, -11]")
    cars = []
    for w in cfg["car_windows"]:
        if not (isinstance(w, list) and len(w) == 2 and window[0] <= w[0] <= w[1] <= window[1]):
            raise InputError(f"{where}: car_windows entry {w!r} must be [from, to] inside window {list(window)}")
        cars.append((int(w[0]), int(w[1])))
    if (0, window[1]) not in cars:
        cars.append((0, window[1]))
    main = cfg.get("main_window", [0, window[1]])
    if not (isinstance(main, list) and len(main) == 2 and all(isinstance(x, int) and not isinstance(x, bool)
                                                              for x in main)
            and window[0] <= main[0] <= main[1] <= window[1]):
        raise InputError(f"{where}: main_window {main!r} must be [from, to] inside window {list(window)}, "
                         f"e.g. [0, {window[1]}]")
    main = (int(main[0]), int(main[1]))
    if main not in cars:
        cars.append(main)
    market = cfg.get("market") or spec.benchmark
    if not 2 <= int(cfg["size_groups"]) <= 50:
        raise InputError(f"{where}: size_groups = {cfg['size_groups']} must be between 2 and 50, e.g. 10")
    conf = cfg["confidence"]
    if not 0.5 < float(conf) < 1:
        raise InputError(f"{where}: confidence must be between 0.5 and 1, e.g. 0.95")
    span = estimation[1] - estimation[0] + 1
    if not 2 <= int(cfg["min_estimation"]) <= span:
        raise InputError(f"{where}: min_estimation = {cfg['min_estimation']} must be between 2 and the "
                         f"{span} sessions of the estimation window {list(estimation)}")
    return StudyConfig(window, estimation, tuple(cars), int(cfg["min_estimation"]), float(conf), main, market,
                       int(cfg["size_groups"]))
