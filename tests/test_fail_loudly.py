"""Issue 15's helpers on their own: the workspace from the spec's path, a strategy's error in
one line, loosely written dates found by line. (The command-line rows are in test_bad_input.py.)"""

from __future__ import annotations

import importlib.util

import pytest

from hypebt.core.errors import InputError
from hypebt.core.workspace import find_workspace, is_workspace, resolve_workspace
from hypebt.engine.failures import describe
from hypebt.engine.spec_text import precheck


@pytest.fixture
def tree(tmp_path):
    ws = tmp_path / "proj"
    (ws / "strategies").mkdir(parents=True)
    (ws / "backtests" / "deep").mkdir(parents=True)
    spec = ws / "backtests" / "deep" / "x.toml"
    spec.write_text("name = 'x'\n", "utf-8")
    (tmp_path / "elsewhere").mkdir()
    return tmp_path, ws, spec


def test_the_workspace_is_the_nearest_folder_above_the_spec(tree):
    root, ws, spec = tree
    assert is_workspace(ws) and not is_workspace(root / "elsewhere")
    assert find_workspace(spec) == ws.resolve()
    assert resolve_workspace(None, spec, cwd=root / "elsewhere") == ws.resolve()
    assert resolve_workspace(str(root), spec, cwd=root / "elsewhere") == root  # --workspace wins


def test_no_workspace_anywhere_says_how_to_point_at_one(tree):
    root, ws, spec = tree
    lone = root / "elsewhere" / "y.toml"
    lone.write_text("name = 'y'\n", "utf-8")
    with pytest.raises(InputError, match=r"y.toml: no workspace above the spec.*--workspace FOLDER"):
        resolve_workspace(None, lone, cwd=root / "elsewhere")
    assert resolve_workspace(None, lone, cwd=ws) == ws  # the current folder, when it is one
    with pytest.raises(InputError, match=r"elsewhere is not a hypebt workspace"):
        resolve_workspace(None, None, cwd=root / "elsewhere")


STRATEGY = '''
class Bar:
    adjclose = 1.0


def helper(bar):
    return bar.adjclos


def on_open(day):
    return helper(Bar())
'''


def test_a_strategy_error_names_file_line_and_hook(tmp_path):
    path = tmp_path / "gap.py"
    path.write_text(STRATEGY, "utf-8")
    spec = importlib.util.spec_from_file_location("gap_for_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with pytest.raises(AttributeError) as exc:
        mod.on_open(None)
    assert describe(exc.value, path) == (
        f"{path}:7 in on_open (line 7 is in helper): AttributeError: 'Bar' object has no attribute "
        "'adjclos' (did you mean 'adjclose'?)")


def test_an_error_outside_the_strategy_file_names_the_file_only(tmp_path):
    try:
        {}["x"]
    except KeyError as exc:
        assert describe(exc, tmp_path / "s.py") == f"{tmp_path / 's.py'}: KeyError: 'x'"


@pytest.mark.parametrize("text, message", [
    ("name = 'x'\nstart = 2024-1-2\n", "x.toml: line 2: start = 2024-1-2 is not a date; write 2024-01-02"),
    ("end = 2024/06/30 # last day\n", "x.toml: line 1: end = 2024/06/30 is not a date; write 2024-06-30"),
    ("end = 2024-13-01\n", "x.toml: line 1: end = 2024-13-01 is not a date; write YYYY-MM-DD"),
])
def test_loose_dates_are_found_by_line(text, message):
    with pytest.raises(InputError) as exc:
        precheck(text, "x.toml")
    assert str(exc.value) == message


def test_good_dates_and_strings_pass():
    precheck("start = 2024-01-02\nname = \"2024-1-2\"\n", "x.toml")


def test_the_readme_says_a_shared_workspace_is_code():
    """Issue 26: ``hypebt list`` imports every strategy file; the README says so where sharing is."""
    from pathlib import Path

    text = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8").split())
    assert "A workspace, spec or strategy from someone else is code" in text
    assert "`hypebt list` imports *every* file in `strategies/`" in text
