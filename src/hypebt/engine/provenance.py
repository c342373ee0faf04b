"""Where a strategy comes from and where it failed: inline classes, source digests, error lines.

A class defined outside ``strategies/`` (a notebook cell, a test) is adopted with its class name;
the digest of its source keys sweeps and manifests; a strategy that raises is reported in one
line naming its file and line.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
from pathlib import Path

import backtrader as bt

from hypebt.core.fsio import file_sha256
from hypebt.core.errors import HypebtError, InputError, LookAheadError, StrategyError
from hypebt.engine.failures import describe
from hypebt.engine.strategy import SYSTEM_EXIT_HINT, Strategy


def adopt(cls) -> type[Strategy]:
    """Make a class defined outside ``strategies/`` (a notebook cell, a test) usable by the engine:
    its name is the class name and its path the file that defines it, if any."""
    if not (inspect.isclass(cls) and issubclass(cls, Strategy)) or cls is Strategy:
        raise InputError(f"strategy {cls!r} is not a class deriving from hypebt.Strategy")
    if "hypebt_name" not in cls.__dict__:
        cls.hypebt_name = cls.__name__
        try:
            source = inspect.getsourcefile(cls)
        except TypeError:  # defined in __main__ of an interactive session
            source = None
        cls.hypebt_path = Path(source) if source and Path(source).is_file() else None
    return cls


def source_digest(cls, path: Path | None = None) -> str:
    """sha256 of the strategy's source: its file, else the class's own source text (a notebook
    class), else its qualified name."""
    path = path if path is not None else getattr(cls, "hypebt_path", None)
    if path is not None and Path(path).is_file():
        return file_sha256(Path(path))
    if cls is None:
        raise InputError(f"strategy file {path} does not exist")
    try:
        text = inspect.getsource(cls)
    except (OSError, TypeError):
        text = f"{cls.__module__}.{cls.__qualname__}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def workspace_sources(workspace: Path, strategy_path: Path | None = None) -> dict[str, str]:
    """sha256 of the strategy file and of every Python module loaded from inside the workspace
    (what a strategy imports from it: a helper beside it), by path relative to the workspace.

    A sweep's result key holds them: editing a helper a strategy imports changes its figures.
    """
    try:
        root = Path(workspace).resolve()
    except OSError:
        return {}
    files = {Path(strategy_path).resolve()} if strategy_path else set()
    for module in list(sys.modules.values()):
        name = getattr(module, "__file__", None)
        if name and name.endswith(".py"):
            path = Path(name).resolve()
            if path.is_relative_to(root):
                files.add(path)
    return {str(p.relative_to(root)) if p.is_relative_to(root) else str(p): file_sha256(p)
            for p in sorted(files) if p.is_file()}


def _strategy_files(cls) -> set[str]:
    files = set()
    for klass in cls.__mro__:
        if klass in (Strategy, bt.Strategy) or klass.__module__.startswith(("hypebt.", "backtrader")):
            continue
        try:
            files.add(str(Path(inspect.getsourcefile(klass)).resolve()))
        except (TypeError, OSError):
            continue
    return files


def strategy_failure(exc: BaseException, cls, name: str, path) -> HypebtError:
    """The one-line error of a strategy that raised: what it raised, in which file, line and hook
    (:func:`hypebt.engine.failures.describe`).

    A :class:`LookAheadError` stays one (exit code 2); a user-facing hypebt error other than a
    strategy error is returned unchanged; anything else becomes a :class:`StrategyError`. The CLI
    adds "rerun with --debug" itself, so ``--debug`` never suggests itself.
    """
    if isinstance(exc, HypebtError) and not isinstance(exc, StrategyError):
        return exc
    if isinstance(exc, StrategyError) and not isinstance(exc, LookAheadError):
        return exc
    where = describe(exc, path if path else name, _strategy_files(cls) or None)
    if not isinstance(exc, Exception):  # SystemExit, GeneratorExit, a BaseException of its own
        where += SYSTEM_EXIT_HINT
    if isinstance(exc, LookAheadError):
        return LookAheadError(f"strategy {name} looked ahead at {where}")
    return StrategyError(f"strategy {name} failed: {where}")