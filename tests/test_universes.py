"""Universes: the shipped lists, and the checks on hand-made ones."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hypebt.core.codes import is_stock_code
from hypebt.core.errors import InputError
from hypebt.data.universes import (
    LOOK_AHEAD_WARNING,
    Universe,
    load_universe,
    read_universe,
    universe_paths,
    write_universe,
)

HEADER = "code,name,snapshot_date,source,kind\n"


def test_shipped_universes_are_found(repo):
    assert {"sora", "chatgpt", "margin_eligible"} <= set(universe_paths(repo))


@pytest.mark.parametrize("name,look_ahead,snapshot", [("sora", True, "2024-02"), ("chatgpt", True, "2023-02"),
                                                      ("margin_eligible", False, "2024-05")])
def test_shipped_universes_load(repo, name, look_ahead, snapshot):
    u = load_universe(name, repo)
    assert (u.name, u.look_ahead, u.snapshot_date) == (name, look_ahead, snapshot)
    assert u.kind == ("concept" if look_ahead else "list")
    assert u.warning == (LOOK_AHEAD_WARNING if look_ahead else "")
    assert len(u.codes) == len(set(u.codes)) > 0
    assert all(is_stock_code(c) for c in u.codes)
    assert set(u.names) == set(u.codes) and all(u.names.values())
    assert u.source and u.path == repo / "data" / "universes" / f"{name}.csv"


def test_codes_keep_leading_zeros(repo):
    chatgpt = load_universe("chatgpt", repo)
    assert chatgpt.codes[0] == "002230" and chatgpt.names["002230"] == "科大讯飞"
    margin = load_universe("margin_eligible", repo)
    for code in ("002230", "601360", "300418", "300033", "600519", "601398", "000333", "601318"):
        assert code in margin.codes
    assert "hand-assembled" in margin.source and "official" in margin.source


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["sora", "chatgpt"])
def test_shipped_concepts_match_the_shared_lists(repo, shared_data, name):
    shared = pd.read_csv(shared_data / "concepts" / f"{name}.csv", dtype=str)
    u = load_universe(name, repo)
    assert list(u.codes) == list(shared["code"])
    assert dict(u.names) == dict(zip(shared["code"], shared["name"]))


def test_look_ahead_warning_says_why():
    assert "after the fact" in LOOK_AHEAD_WARNING and "look-ahead" in LOOK_AHEAD_WARNING


def test_universe_is_hashable_and_read_only(repo):
    u = load_universe("sora", repo)
    assert hash(u) == hash(load_universe("sora", repo)) and u == load_universe("sora", repo)
    with pytest.raises(TypeError):
        u.names["688039"] = "x"


def test_unknown_name_suggests(repo):
    hint = r"unknown universe 'sorra' \(did you mean 'sora'\?\); known: .*margin_eligible"
    with pytest.raises(InputError, match=hint):
        load_universe("sorra", repo)


def write(tmp_path: Path, text: str, name: str = "mine.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def error_of(path: Path) -> str:
    with pytest.raises(InputError) as info:
        read_universe(path)
    msg = str(info.value)
    assert "\n" not in msg and path.name in msg
    return msg


def test_load_by_path(tmp_path, repo):
    path = write(tmp_path, "code,kind\n002230,list\n600519,\n")
    u = load_universe(str(path), tmp_path)  # a path inside the workspace
    assert (u.name, u.codes, u.look_ahead, dict(u.names)) == ("mine", ("002230", "600519"), False,
                                                              {"002230": "", "600519": ""})


@pytest.mark.parametrize("name", ["../../../etc/passwd", "/etc/passwd", "..", ".hidden", "a\x00b"])
def test_a_universe_name_or_path_never_reads_outside_the_workspace(tmp_path, name):
    """Issue 26: a spec from someone else must not read files elsewhere through its universe."""
    ws = tmp_path / "ws"
    (ws / "data" / "universes").mkdir(parents=True)
    with pytest.raises(InputError, match="not a safe name|neither a name nor a .csv path|outside the workspace"):
        load_universe(name, ws)
    outside = write(tmp_path, "code,kind\n002230,list\n")  # a real universe file, beside the workspace
    with pytest.raises(InputError, match="outside the workspace"):
        load_universe(str(outside), ws)
    with pytest.raises(InputError, match="outside the workspace"):
        load_universe(f"{ws}/data/universes/../../../mine.csv", ws)


@pytest.mark.parametrize("code,hint", [("2230", "'002230'"), ("09888", "'009888'"), ("BIDU", "Hong Kong and US"),
                                       ("700001", "prefix")])
def test_bad_code_is_rejected_with_file_and_row(tmp_path, code, hint):
    rows = "002230,科大讯飞,2024-02,x,concept\n" + f"{code},?,2024-02,x,concept\n"
    msg = error_of(write(tmp_path, HEADER + rows))
    assert "row 2" in msg and "'code'" in msg and repr(code) in msg and hint in msg


def test_repeated_code(tmp_path):
    msg = error_of(write(tmp_path, HEADER + "002230,a,,,list\n600519,b,,,\n002230,c,,,\n"))
    assert "row 3" in msg and "already listed in row 1" in msg


def test_missing_kind_column_explains_look_ahead(tmp_path):
    msg = error_of(write(tmp_path, "code,name\n002230,科大讯飞\n"))
    assert "missing column 'kind'" in msg and "look-ahead" in msg and "found: code, name" in msg


def test_bad_and_empty_kind(tmp_path):
    msg = error_of(write(tmp_path, HEADER + "002230,a,2024-02,x,concpet\n"))
    assert "row 1" in msg and "'kind'" in msg and "did you mean 'concept'" in msg
    msg = error_of(write(tmp_path, HEADER + "002230,a,2024-02,x,\n"))
    assert "row 1" in msg and "'kind' is empty" in msg


def test_rows_must_agree_on_kind_and_snapshot(tmp_path):
    msg = error_of(write(tmp_path, HEADER + "002230,a,2024-02,x,concept\n600519,b,2024-02,x,list\n"))
    assert "row 2" in msg and "'kind'" in msg and "differs from row 1" in msg
    msg = error_of(write(tmp_path, HEADER + "002230,a,2024-02,x,concept\n600519,b,2023-02,x,concept\n"))
    assert "row 2" in msg and "'snapshot_date'" in msg


def test_bad_snapshot_date(tmp_path):
    msg = error_of(write(tmp_path, HEADER + "002230,a,Feb 2024,x,concept\n"))
    assert "row 1" in msg and "'snapshot_date'" in msg and "YYYY-MM" in msg


def test_empty_header_only_and_gbk(tmp_path):
    assert "empty file" in error_of(write(tmp_path, ""))
    assert "header only" in error_of(write(tmp_path, HEADER))
    assert "not UTF-8" in error_of(write(tmp_path, HEADER + "002230,科大讯飞,2024-02,x,concept\n", encoding="gbk"))


def test_write_then_read_round_trip(tmp_path):
    path = tmp_path / "sub" / "ai.csv"
    members = [("002230", "科大讯飞"), ("000977", "浪潮信息"), ("688039", "当虹科技, 视频")]
    write_universe(path, members, "2024-02", "eastmoney board, fetched 2024-02-20", "concept")
    u = read_universe(path)
    assert isinstance(u, Universe)
    assert u.codes == ("002230", "000977", "688039") and u.names["688039"] == "当虹科技, 视频"
    assert (u.snapshot_date, u.source, u.look_ahead) == ("2024-02", "eastmoney board, fetched 2024-02-20", True)
    assert [p.name for p in path.parent.iterdir()] == ["ai.csv"]       # no temporary file left behind


@pytest.mark.parametrize("members,kind,snapshot,match", [
    ([("2230", "科大讯飞")], "concept", "2024-02", r"member 1: code '2230'.*'002230'"),
    ([("002230", "a"), ("002230", "b")], "list", "2024-02", "member 2: code '002230' is listed twice"),
    ([], "list", "2024-02", "no members"),
    ([("002230", "a")], "concepts", "2024-02", "did you mean 'concept'"),
    ([("002230", "a")], "list", "February", "snapshot_date"),
])
def test_write_rejects_bad_input_and_leaves_no_file(tmp_path, members, kind, snapshot, match):
    path = tmp_path / "bad.csv"
    with pytest.raises(InputError, match=match):
        write_universe(path, members, snapshot, "x", kind)
    assert not path.exists()
