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
