"""Errors a user can act on, each with its documented exit code.

Every error hypebt raises for bad input or a failed outside call is a
:class:`HypebtError`; the CLI prints its one-line message on stderr and exits
with :attr:`HypebtError.exit_code`. Anything else is a bug and exits 1.

Exit codes (also listed by ``hypebt --help``):

==== ==========================================================
0    success
1    internal error (a bug: please report it, rerun with --debug)
2    bad input: a file, spec, name or option is wrong
3    data: the store is missing data, or fails its integrity check
4    source: akshare could not deliver (network, changed tables)
5    output: a file could not be written (disk full, read-only)
6    sweep: its workers were lost (killed, Dask cluster gone); --resume
==== ==========================================================
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class HypebtError(Exception):
    """Base class: an error whose message says what is wrong and how to fix it."""

    exit_code = 2
    # The CLI adds "(rerun with --debug for the traceback)" when the traceback would help.
    traceback_helps = False

    def _render_traceback_(self) -> list[str]:
        """How IPython and Jupyter show the error: its one line, as the CLI prints it, instead of
        a traceback through hypebt's internals (``%tb`` still shows the whole traceback)."""
        hint = " (%tb shows the traceback)" if self.traceback_helps else ""
        return [f"hypebt: error: {' '.join(str(self).split())}{hint}"]


class InputError(HypebtError):
    """A file, spec, name or option given by the user is wrong (exit 2)."""

    exit_code = 2


class StrategyError(HypebtError):
    """A strategy raised while running (exit 2): the message names the strategy file, line and hook."""

    exit_code = 2
    traceback_helps = True


class SweepError(StrategyError):
    """Every combination of a sweep failed (exit 2): the message gives the count and the first error."""

    traceback_helps = False  # each failure's error is in results.csv; the tracebacks were in workers


class LookAheadError(StrategyError):
    """A strategy asked for something not known yet at the current moment (exit 2): today's close
    before the open, a negative ``ago``, a bar after today, an indicator computed from later bars."""

    exit_code = 2


class DataError(HypebtError):
    """The store lacks the data asked for, or fails its integrity check (exit 3)."""

    exit_code = 3


class SourceError(HypebtError):
    """akshare failed after retries, or returned a table of an unknown shape (exit 4)."""

    exit_code = 4


class OutputError(HypebtError):
    """An output file could not be written (exit 5)."""

    exit_code = 5


class SweepLostError(HypebtError):
    """A sweep lost its workers (exit 6): a local worker process was killed, or the Dask cluster
    went away. The finished combinations are stored: the message says to rerun with ``--resume``."""

    exit_code = 6


EXIT_CODES = {
    0: "success",
    1: "internal error (a bug; rerun with --debug and report it)",
    InputError.exit_code: "bad input (file, spec, name or option)",
    DataError.exit_code: "data missing from the store or failing its integrity check",
    SourceError.exit_code: "akshare could not deliver",
    OutputError.exit_code: "an output could not be written",
    SweepLostError.exit_code: "a sweep lost its workers (one killed, or the Dask cluster gone); rerun with --resume",
}


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return a hint such as ``" (did you mean 'hold_days'?)"`` or ``""``.

    >>> did_you_mean("hold_day", ["hold_days", "delay"])
    " (did you mean 'hold_days'?)"
    """
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


def unknown(what: str, name: str, choices: Iterable[str], where: str = "") -> InputError:
    """Build the standard 'unknown X' error, with a suggestion and what exists.

    >>> str(unknown("strategy", "hype_by", ["hype_buy", "buy_and_hold"]))
    "unknown strategy 'hype_by' (did you mean 'hype_buy'?); known: buy_and_hold, hype_buy"
    """
    choices = sorted(choices)
    prefix = f"{where}: " if where else ""
    known = ", ".join(choices) if choices else "none"
    return InputError(f"{prefix}unknown {what} {name!r}{did_you_mean(name, choices)}; known: {known}")
