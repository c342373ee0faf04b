"""Look-ahead through Backtrader's lines and arrays: every route a strategy could read a later bar by.

A forward line (``self.data.close(1)``, ``self.data(1)``, ``sma(1)``) made in ``__init__`` is refused
when made (or, built where hypebt cannot see it being made, before Backtrader computes it), with one
line naming the strategy's file and line; a line's raw buffer (``.array``, ``getzeroval``,
``get``) hands out only the values known at that moment; the run's whole arrays are not public
attributes of the feeds, the broker or a hypebt strategy's parameters.
"""

from __future__ import annotations

import backtrader as bt
import pytest

import hypebt
from helpers_engine import BENCH, WEEK_ROWS, bars, make_workspace, write_spec, write_store
from hypebt.core.errors import LookAheadError
from hypebt.engine import backtest as engine
from hypebt.engine.spec import load_spec

A = "600000"
ROWS = WEEK_ROWS[:6]  # closes 10.2 10.6 10.9 11.0 10.8 10.9
CLOSES = [r[4] for r in ROWS]
SEEN: list = []


def run(tmp_path, cls, warmup=0):
    SEEN.clear()
    store = write_store(tmp_path / "store", {A: bars(10.0, ROWS)})
    ws = make_workspace(tmp_path / "ws")
    top = {"strategy": "x", "codes": [A], "benchmark": BENCH}
    if warmup:
        top.update(start=ROWS[warmup][0], warmup=warmup)
    prep = engine.prepare(load_spec(write_spec(ws, "t", top)), ws, store, strategy_cls=cls)
    return engine.run(prep, strategy_cls=cls)


def line_of(cls, text: str) -> int:
    """The line number of ``text`` in ``cls``'s source file."""
    import inspect

    lines, first = inspect.getsourcelines(cls)
    return first + next(i for i, line in enumerate(lines) if text in line)


# --- forward lines made in __init__ ---------------------------------------------------------------

class Tomorrow(bt.Strategy):  # the reviewer's +1545 %: buy when tomorrow closes higher
    def __init__(self):
        self.tomorrow = self.data.close(1)

    def next(self):
        if self.tomorrow[0] > self.data.close[0]:
            self.buy(size=100)


class TomorrowHypebt(hypebt.Strategy):
    def __init__(self):
        super().__init__()
        self.up = self.data.close(1) > self.data.close


class WholeFeedAhead(bt.Strategy):
    def __init__(self):
        self.ahead = self.data(2)


class IndicatorAhead(bt.Strategy):
    def __init__(self):
        self.sma = bt.ind.SMA(self.data.close, period=2)
        self.later = self.sma(1)


class IndicatorAheadHypebt(hypebt.Strategy):
    def __init__(self):
        super().__init__()
        self.later = bt.ind.SMA(self.data.close, period=2)(1)


class AheadInside(bt.Indicator):  # a forward line built inside an indicator of the user's
    lines = ("next_close",)

    def __init__(self):
        self.lines.next_close = self.data.close(1)


class UsesAheadInside(bt.Strategy):
    def __init__(self):
        self.x = AheadInside(self.data)


class SmaAheadInside(bt.Indicator):
    lines = ("later",)

    def __init__(self):
        self.lines.later = bt.ind.SMA(self.data, period=2)(1)


class UsesSmaAheadInside(bt.Strategy):
    def __init__(self):
        self.x = SmaAheadInside(self.data)


@pytest.mark.parametrize("cls, where, text", [
    (Tomorrow, Tomorrow, "self.data.close(1)"), (TomorrowHypebt, TomorrowHypebt, "self.data.close(1)"),
    (WholeFeedAhead, WholeFeedAhead, "self.data(2)"), (IndicatorAheadHypebt, IndicatorAheadHypebt, "(1)"),
    (UsesAheadInside, AheadInside, "self.data.close(1)"),
], ids=["bt-close(1)", "hypebt-close(1)", "data(2)", "hypebt-sma(1)", "in-an-indicator"])
def test_a_forward_line_made_in_init_is_refused_naming_the_line(tmp_path, cls, where, text):
    with pytest.raises(LookAheadError) as info:
        run(tmp_path, cls)
    msg = str(info.value)
    assert "\n" not in msg and f"test_lookahead_lines.py:{line_of(where, text)}" in msg, msg
    assert " in __init__" in msg
    assert "ahead reads later bars" in msg


@pytest.mark.parametrize("cls", [IndicatorAhead, UsesSmaAheadInside])
def test_a_forward_line_of_an_indicator_is_refused_before_it_is_computed(tmp_path, cls):
    with pytest.raises(LookAheadError) as info:
        run(tmp_path, cls)
    msg = str(info.value)
    owner = cls if cls is IndicatorAhead else SmaAheadInside
    assert "\n" not in msg and f"test_lookahead_lines.py:{owner.__init__.__code__.co_firstlineno}" in msg, msg
    assert "ahead reads later bars" in msg


class PastLines(bt.Strategy):  # lines back in time stay allowed (Backtrader's samples use them)
    def __init__(self):
        self.yesterday = self.data.close(-1)
        self.change = self.data.close - self.data.close(-1)

    def next(self):
        SEEN.append((self.yesterday[0], round(self.change[0], 6)))


def test_lines_back_in_time_still_work(tmp_path):
    run(tmp_path, PastLines)
    assert SEEN == [(CLOSES[i - 1], round(CLOSES[i] - CLOSES[i - 1], 6)) for i in range(1, len(CLOSES))]


# --- raw buffers ------------------------------------------------------------------------------------

class ReadsArrays(bt.Strategy):
    def __init__(self):
        self.sma = bt.ind.SMA(self.data.close, period=2)
        self.diff = self.data.close - self.data.open

    def next_open(self):
        if len(self.data) == 3:
            SEEN.append(("open", list(self.data.close.array), list(self.data.open.array), len(self.sma.array)))

    def next(self):
        if len(self.data) == 3:
            SEEN.append(("close", list(self.data.close.array), self.data.close.array[-0 or 2],
                         list(self.sma.array), len(self.diff.array), self.data.close.get(size=2).tolist()))


def test_array_holds_only_the_known_values(tmp_path):
    run(tmp_path, ReadsArrays)
    opened, closed = SEEN
    # before the open of session 2: the closes of sessions 0-1, the opens of 0-2; the SMA up to yesterday
    assert opened == ("open", CLOSES[:2], [r[1] for r in ROWS[:3]], 2)
    assert closed[1] == CLOSES[:3] and closed[2] == CLOSES[2]
    assert len(closed[3]) == 3 and closed[3][2] == pytest.approx((CLOSES[1] + CLOSES[2]) / 2)
    assert closed[4] == 3 and closed[5] == CLOSES[1:3]


def _probe(read):
    class Probe(bt.Strategy):
        def __init__(self):
            self.sma = bt.ind.SMA(self.data.close, period=2)
            self.diff = self.data.close - self.data.close(-1)

        def next_open(self):
            if len(self.data) == 3 and read[0] == "open":
                read[1](self)

        def next(self):
            if len(self.data) == 3 and read[0] == "close":
                read[1](self)

    return Probe


@pytest.mark.parametrize("hook, read, words", [
    ("close", lambda s: s.data.close.array[3], "close[1]"),
    ("close", lambda s: s.data.close.getzeroval(3), "close[1]"),  # from the buffer's start: session 3
    ("close", lambda s: s.data.close.getzero(0, 3).tolist() == CLOSES[2:5] or s.data.close.array[5], "close[3]"),
    ("open", lambda s: s.data.close.getzeroval(2), "today's close"),
    ("open", lambda s: s.data.high.array[2], "today's high"),
    ("close", lambda s: s.data.datetime.date(1), "datetime[1]"),
    ("close", lambda s: s.sma.array[3], "known now"),
    ("close", lambda s: s.sma.lines.sma.getzeroval(3), "known now"),
    ("close", lambda s: s.diff[1], "known now"),
    ("close", lambda s: s.diff.array[4], "known now"),
], ids=["array[i]", "getzeroval(3)", "getzero-then-array", "getzeroval-before-open", "high-before-open",
        "datetime.date(1)", "sma.array", "sma.getzeroval(3)", "operation[1]", "operation.array"])
def test_raw_reads_past_the_known_values_raise(tmp_path, hook, read, words):
    with pytest.raises(LookAheadError, match=r"test_lookahead_lines.py:\d+ in next") as info:
        run(tmp_path, _probe((hook, read)))
    assert words in str(info.value)


def test_buflen_is_still_the_number_of_sessions(tmp_path):  # "len(data) == data.buflen()": the last bar
    run(tmp_path, _probe(("close", lambda s: SEEN.append((s.data.buflen(), len(s.data))))))
    assert SEEN == [(len(ROWS), 3)]


def test_a_slice_of_the_buffer_is_a_copy_that_stops_at_the_known_values(tmp_path):
    run(tmp_path, _probe(("close", lambda s: SEEN.append((
        list(s.data.close.array[:]), s.data.close.get(size=10), s.sma.lines.sma.get(size=10))))))
    values, got, sma = SEEN[0]
    assert values == CLOSES[:3] and list(got) == CLOSES[:3] and len(sma) == 3
    assert not isinstance(got, memoryview)  # a memoryview's .obj would be the whole array


# --- engine arrays are not public attributes -------------------------------------------------------

class LooksAround(hypebt.Strategy):
    def on_close(self, day):
        if self.session_no == 2:
            data, broker = self.getdatabyname(A), self.broker
            SEEN.append((data.p.arrays, data.params.arrays, getattr(broker, "arrays", None), broker.p.arrays,
                         len(self.p.ctx.arrays[A].columns["close"]), len(self.params.ctx.arrays[A].columns["close"]),
                         len(self.ctx.bar_cache)))


def test_the_whole_arrays_are_not_reachable_through_public_attributes(tmp_path):
    run(tmp_path, LooksAround)
    assert SEEN == [(None, None, None, None, 3, 3, 0)]
