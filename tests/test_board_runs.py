"""Runs, studies and sweeps on board universes: each event trades its boards' members as published
before it (the four shared Eastmoney snapshots, ``board_market`` in conftest.py), on the real market.

What is checked against the files and the store themselves: which snapshot an event gets, its age,
the members traded, the members without a bar that session (recomputed from the stored bars),
refusals before a board's first snapshot, the look-ahead flag, CLI = Python API, and the event-level
validation's figures recomputed from plain single-event runs.
"""

from __future__ import annotations

import html
import json
import warnings

import numpy as np
import pandas as pd
import pytest

import hypebt
from hypebt.cli.main import main
from hypebt.core.errors import InputError, LookAheadError
from hypebt.data import boards as B
from hypebt.engine import backtest as engine
from hypebt.engine import metrics
from hypebt.engine.spec import load_spec

from conftest import REPO

SORA_BOARD = REPO / "backtests" / "sora_board.toml"


def raw_members(shared_data, file: str, board: str) -> set[str]:
    """A board's members in a shared snapshot file, read directly (UTF-8)."""
    text = (shared_data / "concepts" / "hikyuu" / file).read_text("utf-8")
    block = text.split(f"[{board}]\n", 1)[1].split("\n[", 1)[0]
    return {line.split(",")[1] for line in block.splitlines() if line.strip()}


def cli(*args) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return main(["--workspace", str(REPO), *args])


def spec_file(tmp_path, name: str, text: str):
    path = tmp_path / f"{name}.toml"
    path.write_text(text, "utf-8")
    return path


def test_sora_on_the_board_as_published_before_it(board_market, shared_data, tmp_path):
    """The shipped sora_board spec: CLI and API agree; the event used the 2024-01-02 15:55 snapshot
    of 多模态AI, 45 days old, and traded only its members; manifest, report and Result say so."""
    out = tmp_path / "cli"
    assert cli("--home", str(board_market.root), "run", str(SORA_BOARD), "--out", str(out), "--offline") == 0
    res = hypebt.backtest(SORA_BOARD, home=board_market.root, workspace=REPO)
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    assert all(stats[k] == v for k, v in res.stats.items())
    members = raw_members(shared_data, "gnbk-2024-01-02.ini", "多模态AI")
    row = res.universes.iloc[0]
    assert (row["event"], row["board"], row["published"], row["age_days"]) == ("sora", "多模态AI", "2024-01-02 15:55", 45)
    assert row["board_members"] == len(members) and not row["look_ahead"]
    assert set(res.trades["code"]) <= members and len(res.trades)
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    (rec,) = manifest["event_universes"]
    assert rec["boards"][0]["published"] == "2024-01-02 15:55" and rec["boards"][0]["age_days"] == 45
    assert manifest["universe"]["look_ahead"] is False and "concept_boards" in manifest["data"]
    page = (out / "report.html").read_text("utf-8")
    assert "多模态AI: snapshot 2024-01-02 15:55, 45 days old, 32 members" in page
    assert stats["look_ahead_warning"] == "" and html.escape(B.LOOK_AHEAD_WARNING) not in page


def test_an_event_before_the_boards_first_snapshot_is_refused(board_market, tmp_path, capsys):
    spec = spec_file(tmp_path, "early", '\n'.join([
        'strategy = "hype_buy"', 'universe = "board:多模态AI"', "start = 2023-03-01", "end = 2023-04-28",
        "[events]", 'catalogue = "ai_releases"', 'ids = ["gpt4"]']))
    assert cli("--home", str(board_market.root), "run", str(spec), "--offline", "--out", str(tmp_path / "o")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "event gpt4 (ai_releases row 15, known 2023-03-15 01:00 Beijing)" in err
    assert "no snapshot of board 多模态AI was published by then (its earliest: 2023-12-18 19:25)" in err
    assert "allow_look_ahead = true" in err and not (tmp_path / "o").exists()


def test_allow_look_ahead_uses_the_later_snapshot_and_flags_the_run(board_market, tmp_path):
    text = '\n'.join(['strategy = "hype_buy"', 'universe = "board:多模态AI"', "allow_look_ahead = true",
                      "start = 2023-03-01", "end = 2023-04-28", "[events]", 'catalogue = "ai_releases"',
                      'ids = ["gpt4"]'])
    spec = spec_file(tmp_path, "early", text)
    res = hypebt.backtest(spec, home=board_market.root, workspace=REPO)
    row = res.universes.iloc[0]
    assert row["look_ahead"] and row["published"] == "2023-12-18 19:25" and row["age_days"] < 0
    assert B.LOOK_AHEAD_WARNING in res.warnings
    out = tmp_path / "reports" / "early"
    assert cli("--home", str(board_market.root), "run", str(spec), "--offline", "--out", str(out), "--no-html") == 0
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["universe"]["look_ahead"] and manifest["universe"]["look_ahead_warning"] == B.LOOK_AHEAD_WARNING
    assert json.loads((out / "stats.json").read_text("utf-8"))["look_ahead_warning"] == B.LOOK_AHEAD_WARNING
    index = (tmp_path / "reports" / "index.html").read_text("utf-8")
    assert "look-ahead bias" in index


def test_the_whole_catalogue_on_a_board_cli_and_api_agree(board_market, tmp_path):
    """Every event of ai_releases, each on 多模态AI as known before it (look-ahead where the history
    starts later, flagged): a run and a study, from the CLI and from Python, with identical figures."""
    text = '\n'.join(['name = "catalogue_board"', 'strategy = "hype_buy"', 'universe = "board:多模态AI"',
                      "allow_look_ahead = true", "start = 2021-01-04", "end = 2024-05-22",
                      "[events]", 'catalogue = "ai_releases"', "[params]", "hold_days = 3",
                      "[study]", "window = [-5, 5]", "car_windows = [[0, 0], [0, 5]]"])
    spec = spec_file(tmp_path, "catalogue_board", text)
    out = tmp_path / "run"
    assert cli("--home", str(board_market.root), "run", str(spec), "--out", str(out), "--offline", "--no-html") == 0
    res = hypebt.backtest(spec, home=board_market.root, workspace=REPO)
    stats = json.loads((out / "stats.json").read_text("utf-8"))
    assert all(stats[k] == v for k, v in res.stats.items())
    # the catalogue's events up to the run's end (it goes on to 2025: those are outside the run)
    events = {e.id for e in hypebt.api.load_spec(spec).events and _catalogue() if str(e.time.date()) <= "2024-05-22"}
    assert set(res.universes["event"]) == events and res.stats["n_trades"] > 0
    early = res.universes[res.universes["session"] < pd.Timestamp("2023-12-19")]
    assert early["look_ahead"].all() and not res.universes.loc[~res.universes.index.isin(early.index),
                                                                "look_ahead"].any()
    study_out = tmp_path / "study"
    assert cli("--home", str(board_market.root), "study", str(spec), "--out", str(study_out), "--offline") == 0
    st = hypebt.study(spec, home=board_market.root, workspace=REPO)
    cli_car = pd.read_csv(study_out / "car.csv", dtype={"code": str})
    assert list(cli_car["event"]) == list(st.car["event"]) and list(cli_car["code"]) == list(st.car["code"])
    numbers = [c for c in st.car.columns if pd.api.types.is_float_dtype(st.car[c])]
    np.testing.assert_array_equal(cli_car[numbers].to_numpy(dtype=float), st.car[numbers].to_numpy(dtype=float))
    manifest = json.loads((study_out / "manifest.json").read_text("utf-8"))
    assert manifest["universe"]["look_ahead"] and len(manifest["event_universes"]) == len(st.inputs.tradables)
    # Each event's stocks are its own universe's members, nothing else.
    by_event = {r["event"]: r for r in manifest["event_universes"]}
    members = {t.event.id: set(t.universe) for t in st.inputs.tradables}
    for ev, g in st.car.groupby("event"):
        assert set(g["code"]) <= members[ev] and by_event[ev]["traded"] == len(members[ev])


def _catalogue():
    from hypebt.data.events import load_events

    return load_events("ai_releases", REPO)


@pytest.fixture(scope="module")
def known(board_market):
    """The shipped ai_boards_known spec (events from 2023-12-19, each on its own boards), prepared once."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return engine.prepare(load_spec(REPO / "backtests" / "ai_boards_known.toml"), REPO, board_market)


def test_each_event_trades_its_own_boards_as_known_then(known, board_market, shared_data):
    prep = known
    assert not prep.look_ahead and len(prep.events) >= 15
    bars = board_market.load(board_market.stock_dataset(), codes=list(prep.codes) + [
        c for r in prep.event_universes for c in r["no_bar"]], columns=["code", "date"])
    traded_days = bars.groupby("code")["date"].apply(set).to_dict()
    history = B.load(board_market)
    for t, rec in zip(prep.events, prep.event_universes):
        assert rec["event"] == t.event.id
        expected = set()
        for board in t.event.boards:
            snap = history.as_of(board, t.event.known_instant)
            assert snap.known_from <= t.event.known_instant  # published before the event became known
            b = next(x for x in rec["boards"] if x["board"] == board)
            assert b["published"] == snap.label and b["members"] == len(snap.codes) and not b["look_ahead"]
            expected |= set(snap.codes)
        assert set(t.universe) == {c for c in expected if c in traded_days}
        # Members without a bar on the event's session are reported (with why), not dropped silently.
        missing = {c for c in expected if t.session not in traded_days.get(c, ())}
        assert set(rec["no_bar"]) == missing and rec["members"] == len(expected)
    res = engine.run(prep)
    bought = res.orders[res.orders["side"] == "buy"]
    universes = {t.event.id: set(t.universe) for t in prep.events}
    for ev, g in bought.groupby("note"):
        assert set(g["code"]) <= universes[ev], ev
    sleeping = engine.run(prep, sleep=False)
    assert np.array_equal(res.returns.to_numpy(), sleeping.returns.to_numpy())


def test_a_universe_is_unreadable_before_its_snapshot_was_published(board_market):
    """A scheduled event is seen from the run's start, but its universe only once its board snapshot
    (2024-01-02 15:55) was published: reading it earlier is a look-ahead."""
    class Peek(hypebt.Strategy):
        PARAMS = {"when": 0}

        def on_open(self, day):
            if self.session_no == self.cfg.when:
                for t in self.events:
                    self.record("n", len(t.universe))

    kw = dict(strategy=Peek, universe="board:多模态AI", start="2023-12-20", end="2024-02-28",
              events={"catalogue": "ai_releases", "ids": ["vision_pro_launch"]}, home=board_market.root,
              workspace=REPO)
    with pytest.raises(LookAheadError, match="universe of event vision_pro_launch is not known yet at 2023-12-20 "
                                             "09:30: its board snapshot was published 2024-01-02 15:55"):
        hypebt.backtest(**kw)
    res = hypebt.backtest(**kw, when=9)  # 2024-01-03: published the day before
    assert res.equity["n"].max() == 32


def test_a_run_without_events_takes_the_boards_as_of_its_start(board_market):
    res = hypebt.backtest(strategy="buy_and_hold", boards=["多模态AI", "混合现实"], start="2024-01-03",
                          end="2024-02-28", home=board_market.root, workspace=REPO)
    assert any("as of the run's start" in w and "多模态AI snapshot 2024-01-02 15:55" in w for w in res.warnings)
    with pytest.raises(InputError, match="no snapshot of board 混合现实 was published by then"):
        hypebt.backtest(strategy="buy_and_hold", boards=["混合现实"], start="2023-06-01", end="2023-07-01",
                        home=board_market.root, workspace=REPO)


def test_board_spec_keys_are_checked(tmp_path):
    from hypebt.engine.spec import parse_spec

    def error(raw):
        with pytest.raises(InputError) as info:
            parse_spec(raw, tmp_path / "s.toml")
        return str(info.value)

    assert "names no board" in error({"universe": "board:"})
    assert "is a list and boards names concept boards" in error({"universe": "sora", "boards": ["A"]})
    assert "takes each event's own boards" in error({"universe": "event_boards", "boards": ["A"], "events": {}})
    assert "needs an [events] table" in error({"universe": "event_boards"})
    assert "names a board twice" in error({"boards": ["A", "A"]})
    assert "allow_look_ahead must be true or false" in error({"boards": ["A"], "allow_look_ahead": "yes"})
    spec = parse_spec({"universe": "board:A", "boards": ["B", "A"]}, tmp_path / "s.toml")
    assert spec.board_names == ("A", "B") and spec.uses_boards


# --- event-level validation ----------------------------------------------------------------------------

VALIDATE = '\n'.join([
    'name = "val"', 'strategy = "hype_buy"', 'universe = "board:多模态AI"', "start = 2024-01-03", "end = 2024-05-22",
    "[events]", 'catalogue = "ai_releases"', 'ids = ["spark_v3_5", "sora", "claude3", "llama3"]',
    "[params]", "retry_days = 1",
    "[sweep]", "hold_days = [1, 4]", 'metric = "sharpe"', "event_window = 12", "validate_from = 2", "top = 1"])


def test_validate_events_writes_figures_a_plain_run_recomputes(board_market, tmp_path):
    spec = spec_file(tmp_path, "val", VALIDATE)
    out = tmp_path / "sweep"
    assert cli("--home", str(board_market.root), "sweep", str(spec), "--validate", "events", "--workers", "1",
               "--out", str(out), "--offline") == 0
    table = pd.read_csv(out / "validation.csv")
    # Independently: each (hold_days, event) as a plain single-event backtest, its returns cut to the
    # event's 12 sessions from its first tradable session.
    figures, windows = {}, {}
    for h in (1, 4):
        for ev in ("spark_v3_5", "sora", "claude3", "llama3"):
            res = hypebt.backtest(spec, home=board_market.root, workspace=REPO, hold_days=h,
                                  events={"catalogue": "ai_releases", "ids": [ev]})
            day0 = pd.Timestamp(res.universes["session"].iloc[0])
            i = res.returns.index.get_loc(day0)
            figures[(h, ev)] = res.returns.iloc[i:i + 12].to_numpy()
            windows[ev] = (i, i + 12)
    order = sorted(windows, key=lambda e: windows[e][0])

    def sharpe(evs, h):
        value = metrics.from_returns(pd.Series(np.concatenate([figures[(h, e)] for e in evs])))["sharpe"]
        return np.nan if value is None else value

    expected = []
    for k, ev in enumerate(order):
        for method, train in (("walk_forward", [e for e in order if windows[e][1] <= windows[ev][0]]),
                              ("leave_one_out", [e for e in order if e != ev])):
            if method == "walk_forward" and k < 1:
                continue
            ins = {h: sharpe(train, h) if train else np.nan for h in (1, 4)}
            best = None if all(np.isnan(v) for v in ins.values()) else max((1, 4), key=lambda h: (
                -np.inf if np.isnan(ins[h]) else ins[h], -h))
            expected.append((method, ev, best, ins.get(best, np.nan), sharpe([ev], best) if best else np.nan))
    got = table[["method", "event", "hold_days", "is_sharpe", "oos_sharpe"]]
    assert len(got) == len(expected)
    for (method, ev, best, is_, oos) in expected:
        row = got[(got["method"] == method) & (got["event"] == ev)].iloc[0]
        assert (row["hold_days"] if row["hold_days"] == row["hold_days"] else None) == best, (method, ev)
        assert np.isclose(row["is_sharpe"], is_, rtol=0, atol=1e-12, equal_nan=True), (method, ev)
        assert np.isclose(row["oos_sharpe"], oos, rtol=0, atol=1e-12, equal_nan=True), (method, ev)
    per_event = pd.read_csv(out / "validation_events.csv")  # every combination on every event, run alone
    assert len(per_event) == 8
    for r in per_event.itertuples():
        assert np.isclose(r.sharpe, sharpe([r.event], r.hold_days), rtol=0, atol=1e-12, equal_nan=True)
        assert np.isclose(r.total_return, np.prod(1 + figures[(r.hold_days, r.event)]) - 1, rtol=0, atol=1e-12)
        assert r.outside_window_return == 0  # each run's returns lie inside its window
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert summary["validation"]["walk_forward"]["held_out"] == 3 and summary["validation"]["event_window"] == 12
    page = (out / "sweep.html").read_text("utf-8")
    assert "Event-level validation: in-sample best vs out-of-sample" in page and "leave-one-out" in page
    # The same from Python.
    frame = hypebt.sweep(spec, home=board_market.root, workspace=REPO, workers=1, validate="events")
    pd.testing.assert_frame_equal(frame.attrs["validation"].reset_index(drop=True).fillna({"train": ""}),
                                  table.fillna({"train": ""}), check_dtype=False)


def test_validate_events_refuses_what_it_cannot_do(board_market, tmp_path, capsys):
    spec = spec_file(tmp_path, "val", VALIDATE.replace('metric = "sharpe"', 'metric = "win_rate"'))
    assert cli("--home", str(board_market.root), "sweep", str(spec), "--validate", "events", "--offline",
               "--out", str(tmp_path / "o")) == 2
    assert "ranks by a figure of the returns" in capsys.readouterr().err
    one = spec_file(tmp_path, "one", VALIDATE.replace('"spark_v3_5", "sora", "claude3", "llama3"', '"sora"'))
    assert cli("--home", str(board_market.root), "sweep", str(one), "--validate", "events", "--offline",
               "--out", str(tmp_path / "o")) == 2
    assert "needs at least 2 events in the run, found 1" in capsys.readouterr().err


def test_an_event_without_boards_is_named(board_market, tmp_path, capsys):
    # A catalogue path must lie inside the workspace (issue 26): tmp_path is one, with the shipped strategy.
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "hype_buy.py").write_text(
        (REPO / "strategies" / "hype_buy.py").read_text("utf-8"), "utf-8")
    catalogue = tmp_path / "mine.csv"
    catalogue.write_text("id,name,time,boards\nsora,Sora,2024-02-16T02:00,多模态AI\nquiet,Quiet,2024-03-01,\n", "utf-8")
    spec = spec_file(tmp_path, "mine", '\n'.join([
        'strategy = "hype_buy"', 'universe = "event_boards"', "start = 2024-01-03", "end = 2024-05-22",
        "[events]", f'catalogue = "{catalogue}"']))
    assert main(["--workspace", str(tmp_path), "--home", str(board_market.root), "run", str(spec), "--offline",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "event quiet (mine row 2, known 2024-03-01 00:00 Beijing) names no boards" in err and err.count("\n") == 1
