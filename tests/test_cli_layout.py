"""The CLI is one module per command: main keeps the parser and the dispatch."""

from __future__ import annotations

import importlib

import pytest

from hypebt.cli import main as cli

MODULES = {"data": "data", "list": "listing", "run": "run", "study": "study", "report": "report", "sweep": "sweep"}


def test_every_command_of_the_parser_is_dispatched():
    sub = next(a for a in cli.build_parser()._actions if a.dest == "command")
    assert set(sub.choices) == set(cli.COMMANDS) == set(MODULES)


@pytest.mark.parametrize("command, module", sorted(MODULES.items()))
def test_each_command_runs_its_module(command, module, monkeypatch):
    mod = importlib.import_module(f"hypebt.cli.{module}")
    seen = []
    monkeypatch.setattr(mod, "run", lambda args: seen.append(args.command) or 7)
    argv = {"data": ["data", "info"], "list": ["list"], "run": ["run", "x.toml"], "study": ["study", "x.toml"],
            "report": ["report", "index"], "sweep": ["sweep", "x.toml"]}[command]
    assert cli.main(argv) == 7 and seen == [command]


def test_the_console_script_entry_point_is_main():
    import configparser
    from pathlib import Path

    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).resolve().parents[1] / "setup.cfg")
    assert cfg["options.entry_points"]["console_scripts"].strip() == "hypebt = hypebt.cli.main:main"
    assert callable(cli.main)


def test_a_closed_output_pipe_stops_quietly(tmp_path):
    """`hypebt ... | head -1`: the reader stops early; hypebt ends quietly (141, as a tool killed by
    SIGPIPE), not with an 'internal error' line (a listing of a megabyte, so the pipe does fill)."""
    import subprocess
    import sys

    code = ("import hypebt.cli.listing as L; L.run = lambda args: print('x' * 10**6); "
            "from hypebt.cli.main import main; raise SystemExit(main(['list']))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=tmp_path)
    proc.stdout.read(1)  # one byte, then the reader goes away (as head does)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert err == "", err
