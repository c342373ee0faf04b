"""A strategy's runtime error, told in one line: the strategy file, the line, the hook.

>>> describe(exc, Path("strategies/gap.py"))             # doctest: +SKIP
"strategies/gap.py:14 in on_open: AttributeError: 'BarView' object has no attribute 'adjclos' (did you mean 'adjclose'?)"
"""

from __future__ import annotations

import traceback
from pathlib import Path

from hypebt.core.errors import did_you_mean

# sys.exit() in strategy code would end hypebt with that code and no word: it is a failure instead.
SYSTEM_EXIT_HINT = (" (a strategy must not call sys.exit() or exit(), nor raise a BaseException: return from the hook, "
                    "or raise an Exception)")


def _same(a: str, b: Path) -> bool:
    try:
        return Path(a).resolve() == b
    except (OSError, ValueError):
        return False


def _hint(exc: BaseException) -> str:
    # Python shows "Did you mean" only in a printed traceback: repeat it in the one line.
    if isinstance(exc, AttributeError) and getattr(exc, "name", None) and getattr(exc, "obj", None) is not None:
        names = [n for n in dir(exc.obj) if not n.startswith("_")]
        return did_you_mean(exc.name, names)
    return ""


def describe(exc: BaseException, strategy_path: str | Path, files: set[str] | None = None) -> str:
    """``<file>:<line> in <hook>: <Error>: <message>`` for an exception raised in a strategy.

    The line is the innermost frame in the strategy's file; the hook is the outermost one
    (``on_open``, ``on_close``, ``__init__``...), the method hypebt called. Without a frame in
    the file (the error came from hypebt itself), the hook is left out. ``files``: the resolved
    source files of the strategy's classes (a class defined in a notebook has no strategy file).
    """
    path = Path(strategy_path)
    resolved = {Path(f) for f in files} if files else {path.resolve()}
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if any(_same(f.filename, r) for r in resolved)]
    message = f"{exc.__class__.__name__}: {exc}{_hint(exc)}"
    if not frames:
        return f"{path}: {message}"
    hook, line = frames[0].name, frames[-1].lineno
    inner = f" (line {line} is in {frames[-1].name})" if frames[-1].name != hook else ""
    return f"{frames[-1].filename}:{line} in {hook}{inner}: {message}"
