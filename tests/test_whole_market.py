"""``universe = "all"`` on the real market: every stock of the store, each a member of the universe on
the sessions it has a bar, with the spec's ``exclude`` filters evaluated as of each session."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hypebt.core.errors import InputError
from hypebt.engine import backtest as engine
from hypebt.engine.spec import load_spec
from helpers_engine import make_workspace, write_spec


@pytest.fixture(scope="module")
def whole(real_store, tmp_path_factory):
    """The whole market prepared once, 2023-06..2024-05, excluding ST stocks and new listings."""
    ws = make_workspace(tmp_path_factory.mktemp("whole") / "ws")
    spec = write_spec(ws, "all", {"strategy": "script", "universe": "all", "start": "2023-06-01",
                                  "end": "2024-05-22", "warmup": 5, "exclude": ["st", "new_listing"],
                                  "benchmark": "sh000300"})
    return engine.prepare(load_spec(spec), ws, real_store), real_store


def test_all_is_every_stock_with_a_bar_by_the_end(whole):
    prep, store = whole
    stored = store.load(store.stock_dataset(), columns=["code", "date"])
    by_end = stored[stored["date"] <= prep.sessions[-1]]["code"].unique()
    assert set(prep.codes) == set(by_end) and len(prep.codes) > 5300
    assert prep.universe_name == "all" and not prep.look_ahead


def test_a_member_has_a_bar_that_session_no_survivorship(whole):
    """A stock delisted during the run is a member until its last bar, never after; one listed during
    the run only from its first bar (and, excluding new listings, 60 sessions later)."""
    prep, store = whole
    panel, members = prep.panel, prep.members
    present = ~panel.columns["suspended"]
    assert not (members & ~present).any()  # never a member without a bar that session
    stored = store.load(store.stock_dataset(), columns=["code", "date"])
    span = stored.groupby("code")["date"].agg(["min", "max"])
    run = panel.sessions.get_indexer([prep.sessions[0]])[0]
    gone = span[(span["max"] > prep.sessions[0]) & (span["max"] < prep.sessions[-1])].index[0]  # delisted in the run
    j = panel.index[gone]
    last = panel.sessions.get_indexer([span.loc[gone, "max"]])[0]
    assert members[j, last] or panel.columns["st"][j, last]  # a member on its last bar (unless ST then)
    assert not members[j, last + 1:].any()
    new = span[(span["min"] > prep.sessions[0]) & (span["min"] < prep.sessions[-100])].index[0]  # listed in the run
    j = panel.index[new]
    first = panel.sessions.get_indexer([span.loc[new, "min"]])[0]
    assert not members[j, :first + 59].any()  # its first 60 sessions are new-listing sessions
    assert run < first


def test_st_excluded_as_of_each_session(whole):
    """000564 is ST (inferred from its locks) on 2023-12-26: not a member then."""
    prep, _ = whole
    panel = prep.panel
    j, i = panel.index["000564"], panel.sessions.get_indexer([pd.Timestamp("2023-12-26")])[0]
    assert panel.columns["st"][j, i] and not panel.columns["suspended"][j, i] and not prep.members[j, i]


def test_exclude_filters_are_checked(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    spec = write_spec(ws, "bad", {"strategy": "script", "universe": "all", "exclude": ["st", "chinnext"]})
    with pytest.raises(InputError, match="did you mean 'chinext'"):
        load_spec(spec)


def test_members_by_board_and_new_listing_sessions(whole):
    prep, _ = whole
    panel = prep.panel
    only_main = panel.members(["star", "chinext", "bse"])
    boards = np.array([c[:2] for c in panel.codes])
    assert not only_main[np.isin(boards, ["68", "30"])].any()
    assert only_main[np.isin(boards, ["60", "00"])].any()
    short = panel.members(["new_listing"], new_listing_sessions=5)
    assert (short | ~prep.members).all() and short.sum() > prep.members.sum()


def test_the_run_says_which_st_stocks_exclude_cannot_see(whole):
    """Without a dated st_history, ST is inferred from main-board bars only (a ChiNext, STAR or Beijing
    ST stock has its board's limits): the run says those are not excluded as ST."""
    prep, _ = whole
    assert any("ChiNext, STAR or Beijing" in note and "st_codes" in note for note in prep.warnings), prep.warnings
