"""Where a strategy comes from and where it failed: inline classes, source digests, error lines.

A class defined outside ``strategies/`` (a notebook cell, a test) is adopted with its class name;
the digest of its source keys sweeps and manifests; a strategy that raises is reported in one
line naming its file and line.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import linecache
import sys
from pathlib import Path

import backtrader as bt

from hypebt.core.fsio import file_sha256
from hypebt.core.errors import HypebtError, InputError, LookAheadError, StrategyError
from hypebt.engine.failures import SYSTEM_EXIT_HINT, describe
from hypebt.engine.strategy import Strategy


def adopt(cls) -> type[Strategy]:
    """Make a class defined outside ``strategies/`` (a notebook cell, a test) usable by the engine:
    its name is the class name and its path the file that defines it, if any. A plain Backtrader
    strategy (a ``bt.Strategy`` subclass) is adopted the same way.

    A class typed into a Jupyter cell has no file (``inspect`` raises ``OSError``): its path is
    None and its source is read from the cell (:func:`class_source`). Both marks are set together,
    after everything that can fail, so a failed adoption never leaves a half-marked class.
    """
    if not (inspect.isclass(cls) and issubclass(cls, bt.Strategy)) or cls in (Strategy, bt.Strategy,
                                                                              bt.SignalStrategy):
        raise InputError(f"strategy {cls!r} is not a class deriving from hypebt.Strategy or backtrader.Strategy")
    if "hypebt_name" not in cls.__dict__ or "hypebt_path" not in cls.__dict__:
        try:
            source = inspect.getsourcefile(cls)
        except (TypeError, OSError):  # a built-in, or a class of __main__ in an interactive session
            source = None
        path = Path(source) if source and Path(source).is_file() else None
        cls.hypebt_path, cls.hypebt_name = path, cls.__name__
    return cls


def _functions(cls):
    """The plain functions defined in ``cls``'s own body (methods, static and class methods, properties)."""
    for value in cls.__dict__.values():
        for fn in (value, getattr(value, "__func__", None), getattr(value, "fget", None)):
            if inspect.isfunction(fn):
                yield fn


def class_source(cls) -> str | None:
    """The source text of ``cls``'s own ``class`` statement, or None when no source exists.

    ``inspect.getsource`` finds classes of files; a class typed into a Jupyter cell has none, but
    IPython keeps each cell's text in :mod:`linecache` under the name its methods were compiled
    with: the ``class`` statement holding a method's first line is cut out of that cell.
    """
    try:
        return inspect.getsource(cls)
    except (OSError, TypeError):
        pass
    for fn in _functions(cls):
        code = fn.__code__
        lines = linecache.getlines(code.co_filename)
        if not lines:
            continue
        try:
            tree = ast.parse("".join(lines))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.ClassDef) and node.name == cls.__name__
                    and node.lineno <= code.co_firstlineno <= (node.end_lineno or node.lineno)):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                return "".join(lines[first - 1:node.end_lineno])
    return None


def _code_digest(obj, h) -> None:
    # What a code object does, not where it was compiled (file names and line numbers of notebook
    # cells change from one session to the next): its bytecode, names and constants, recursively.
    h.update(obj.co_code)
    h.update(repr((obj.co_names, obj.co_varnames, obj.co_freevars)).encode())
    for const in obj.co_consts:
        if inspect.iscode(const):
            _code_digest(const, h)
        else:
            h.update(repr(const).encode())


def code_digest(cls) -> str:
    """sha256 of what ``cls`` does when no source text exists: its bases, its plain attributes
    (``PARAMS``) and the bytecode of its own functions."""
    h = hashlib.sha256()
    h.update(repr([f"{b.__module__}.{b.__qualname__}" for b in cls.__mro__[1:]]).encode())
    for name in sorted(cls.__dict__):
        value = cls.__dict__[name]
        fns = [f for f in (value, getattr(value, "__func__", None), getattr(value, "fget", None))
               if inspect.isfunction(f)]
        h.update(name.encode())
        if fns:
            _code_digest(fns[0].__code__, h)
        elif isinstance(value, (bool, int, float, str, bytes, tuple, list, dict, set, frozenset, type(None))) \
                and not name.startswith(("__", "hypebt_")):
            h.update(repr(value).encode())  # PARAMS; not the classes Backtrader's metaclass adds (their repr has an id)
    return h.hexdigest()


def strategy_source(cls, path: Path | None = None) -> dict:
    """What the manifest records of a strategy's code: ``{"origin", "sha256", "source"}``.

    ``origin`` is ``"file"`` (``sha256`` of the file, which the path names), ``"class"`` (the
    source text of a class defined outside ``strategies/``, a notebook cell's included, in
    ``source``) or ``"code"`` (no source text anywhere: ``sha256`` of its bytecode, ``source`` None).
    """
    path = path if path is not None else getattr(cls, "hypebt_path", None)
    if path is not None and Path(path).is_file():
        return {"origin": "file", "sha256": file_sha256(Path(path)), "source": None}
    if cls is None:
        raise InputError(f"strategy file {path} does not exist")
    text = class_source(cls)
    if text is not None:
        return {"origin": "class", "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "source": text}
    return {"origin": "code", "sha256": code_digest(cls), "source": None}


def source_digest(cls, path: Path | None = None) -> str:
    """sha256 of the strategy's source: its file, else the class's own source text (a notebook
    class's from its cell), else a digest of its code (:func:`strategy_source`)."""
    return strategy_source(cls, path)["sha256"]


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
            # a notebook class: its methods were compiled under the cell's name (an error's frames say it)
            files.update(str(Path(fn.__code__.co_filename).resolve()) for fn in _functions(klass))
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