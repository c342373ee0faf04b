"""The akshare door's policy: pacing, retries, cool-downs, offline and permanent errors, bounded calls."""

from __future__ import annotations

import random
import threading

import pandas as pd
import pytest

from hypebt.core.errors import InputError, SourceError
from hypebt.data.akshare_client import Akshare, Banned, EmptyAnswer, Offline, classify


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


TABLE = pd.DataFrame({"trade_date": ["2024-01-02"]})


class Api:
    """One function answering from a script of outcomes (a table or an exception), then TABLE."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls = 0
        self.threads: list[str] = []

    def tool_trade_date_hist_sina(self):
        self.calls += 1
        self.threads.append(threading.current_thread().name)
        out = self.outcomes.pop(0) if self.outcomes else TABLE
        if isinstance(out, BaseException):
            raise out
        return out

    def stock_board_concept_cons_em(self, symbol):
        self.threads.append(threading.current_thread().name)
        return pd.DataFrame({"代码": ["688039"], "名称": ["当虹科技"]})

    def stock_zh_a_hist(self, symbol, period, start_date, end_date, adjust, timeout=None):
        self.threads.append(threading.current_thread().name)
        self.timeout = timeout
        return pd.DataFrame()


def make(api, clock, **kw) -> Akshare:
    kw.setdefault("min_interval", 0.0)
    return Akshare(api, sleep=clock.sleep, clock=clock.clock, rng=random.Random(7), **kw)


def test_calls_are_spaced_by_a_random_interval_between_the_bounds():
    clock = Clock()
    src = make(Api(), clock, min_interval=2.0, max_interval=5.0)
    for _ in range(30):
        src.trade_dates()
    assert len(clock.sleeps) == 29 and all(2.0 <= s <= 5.0 for s in clock.sleeps)
    assert len({round(s, 3) for s in clock.sleeps}) > 20  # not a regular rhythm
    assert Akshare(Api()).max_interval == 5.0  # the defaults: 2-5 s


def test_a_dropped_connection_is_retried_with_backoff():
    clock = Clock()
    api = Api(ConnectionError("('Connection aborted.', RemoteDisconnected('Remote end closed connection'))"))
    src = make(api, clock, retries=3, backoff=2.0)
    assert len(src.trade_dates()) == 1
    assert api.calls == 2 and clock.sleeps == [2.0]


def test_a_streak_of_disconnects_cools_down_then_a_ban_is_said():
    clock = Clock()
    drop = ConnectionError("('Connection aborted.', RemoteDisconnected('Remote end closed connection'))")
    notes = []
    src = make(Api(*[drop] * 20), clock, retries=50, backoff=1.0, streak=3, cooldown=600.0, cooldowns=2,
               notify=notes.append)
    with pytest.raises(Banned, match="most likely an IP ban.*run again later"):
        src.trade_dates()
    assert clock.sleeps.count(600.0) == 2 and len(notes) == 2 and "cooling down 600s" in notes[0]


def test_success_resets_the_streak():
    clock = Clock()
    drop = ConnectionError("Connection reset by peer")
    src = make(Api(drop, drop, TABLE, drop, drop, TABLE), clock, retries=5, backoff=1.0, streak=3, cooldown=600.0)
    src.trade_dates()
    src.trade_dates()
    assert 600.0 not in clock.sleeps


@pytest.mark.parametrize("text", [
    "HTTPSConnectionPool(host='push2his.eastmoney.com', port=443): Max retries exceeded (Caused by "
    "NameResolutionError(\"Failed to resolve 'push2his.eastmoney.com' ([Errno -3] Temporary failure in name resolution)\"))",
    "HTTPSConnectionPool(host='finance.sina.com.cn', port=443): [Errno 111] Connection refused",
    "[Errno 101] Network is unreachable",
])
def test_no_network_is_said_at_once_with_the_remedy(text):
    clock = Clock()
    api = Api(ConnectionError(text))
    with pytest.raises(Offline) as info:
        make(api, clock, retries=5).trade_dates()
    assert api.calls == 1 and clock.sleeps == []
    msg = str(info.value)
    assert msg.startswith("no network") and "hypebt data import FOLDER" in msg and "\n" not in msg


@pytest.mark.parametrize("exc", [TypeError("'NoneType' object is not subscriptable"), KeyError("klines"),
                                 IndexError("index 0 is out of bounds")])
def test_a_parsing_error_is_not_retried_and_says_akshare(exc):
    api = Api(exc)
    with pytest.raises(SourceError) as info:
        make(api, Clock(), retries=5).trade_dates()
    assert api.calls == 1
    assert "failed inside akshare" in str(info.value) and "upgrade or pin akshare" in str(info.value)
    assert not isinstance(info.value, (Offline, Banned))


def test_an_empty_answer_is_not_retried():
    api = Api(pd.DataFrame())
    with pytest.raises(EmptyAnswer, match="returned no rows"):
        make(api, Clock(), retries=5).trade_dates()
    assert api.calls == 1


def test_transient_failures_give_up_after_the_retries():
    api = Api(*[TimeoutError("read timed out")] * 10)
    with pytest.raises(SourceError, match=r"failed after 3 attempt\(s\)"):
        make(api, Clock(), retries=2, streak=99).trade_dates()
    assert api.calls == 3


def test_calls_run_in_the_callers_thread_unless_they_cannot_time_out():
    api = Api()
    src = make(api, Clock(), timeout=5.0)
    src.concept_members("BK2090")  # Eastmoney's paged lists time out each page themselves
    src.stock_daily("688039", "2024-01-02", "2024-01-05", "qfq", allow_empty=True)  # takes timeout=
    src.trade_dates()  # Sina's one request has no timeout: a helper thread bounds it
    assert api.threads[:2] == [threading.current_thread().name] * 2 and api.timeout == 5.0
    assert api.threads[2] == "hypebt-akshare-call"


def test_bad_settings_are_refused():
    with pytest.raises(InputError, match="max_interval >= min_interval"):
        Akshare(min_interval=5.0, max_interval=2.0)


def test_classify():
    assert classify(ConnectionError("Remote end closed connection without response")) == "transient"
    assert classify(ConnectionError("Failed to resolve 'x'")) == "offline"
    assert classify(ValueError("could not convert")) == "permanent"
