"""Run, sweep and study specs: TOML files in ``backtests/``.

A spec names what to run; every key is checked, unknown ones get "did you
mean". Example (``backtests/sora_hype.toml``)::

    name = "sora_hype"
    strategy = "hype_buy"
    universe = "sora"
    start = 2024-01-02
    end = 2024-05-22
    cash = 1_000_000
    benchmark = "sh000300"

    [events]
    catalogue = "ai_releases"
    ids = ["sora"]

    [params]
    hold_days = 5

    [rules]
    borrow_rate = 0.08
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypebt.core.codes import index_code_hint, is_index_code, is_stock_code
from hypebt.core.dates import parse_date
from hypebt.data.market_index import EQUAL_WEIGHT
from hypebt.core.errors import InputError, unknown
from hypebt.core.i18n import check_lang
from hypebt.core.paths import safe_name
from hypebt.engine.spec_text import precheck

TOP_KEYS = {
    "name": str, "description": str, "strategy": str, "universe": str, "codes": list,
    "start": dt.date, "end": dt.date, "cash": float, "benchmark": str, "adjust": str,
    "margin_list": str, "st_codes": list, "events": dict, "params": dict, "rules": dict,
    "sweep": dict, "study": dict, "warmup": int, "boards": list, "allow_look_ahead": bool, "lang": str, "keep": int,
}
# Universes drawn from the dated concept-board history (hypebt.data.boards), as of each event:
# universe = "board:AIGC概念" (or boards = [...]), or each event's own catalogue boards.
BOARD_PREFIX = "board:"
EVENT_BOARDS = "event_boards"
EVENT_KEYS = {"catalogue": str, "ids": list, "name": (str, list), "tag": (str, list),
              "company": (str, list), "scheduled": bool}
DEFAULT_BENCHMARK = "sh000300"


@dataclass(frozen=True)
class EventFilter:
    catalogue: str = "ai_releases"
    ids: tuple[str, ...] | None = None
    name: Any = None
    tag: Any = None
    company: Any = None
    scheduled: bool | None = None

    def describe(self) -> str:
        parts = [f"{k}={v}" for k in ("ids", "name", "tag", "company", "scheduled")
                 if (v := getattr(self, k)) is not None]
        return f"{self.catalogue}[{', '.join(parts) or 'all'}]"


@dataclass(frozen=True)
class Spec:
    """A parsed, checked spec."""

    path: Path
    name: str
    strategy: str
    universe: str | None = None
    codes: tuple[str, ...] = ()
    start: dt.date | None = None
    end: dt.date | None = None
    cash: float = 1_000_000.0
    benchmark: str = DEFAULT_BENCHMARK
    adjust: str | None = None
    margin_list: str = "margin_eligible"
    st_codes: tuple[str, ...] = ()
    description: str = ""
    events: EventFilter | None = None
    params: dict = field(default_factory=dict)
    rules: dict = field(default_factory=dict)
    sweep: dict | None = None
    study: dict | None = None
    warmup: int = 0  # sessions loaded before start for history and indicators (no trading, no returns)
    boards: tuple[str, ...] = ()  # concept boards whose members, as of each event, are its universe
    allow_look_ahead: bool = False  # a board with no snapshot known by an event: use the earliest later one
    lang: str | None = None  # the pages' and console lines' language, "zh" or "en" (hypebt.core.i18n)
    keep: int | None = None  # runs kept under reports/<name>/ after each run (older ones pruned); None: all
    # The top-level keys the spec (with its --set overrides) gave: a named resource must exist.
    named: frozenset = field(default=frozenset(), compare=False)

    @property
    def board_names(self) -> tuple[str, ...]:
        """The boards the spec names (``universe = "board:X"`` and ``boards``), each once."""
        named = [self.universe[len(BOARD_PREFIX):]] if (self.universe or "").startswith(BOARD_PREFIX) else []
        return tuple(dict.fromkeys([*named, *self.boards]))

    @property
    def uses_boards(self) -> bool:
        """True when each event's universe comes from the board history (named boards or the events')."""
        return bool(self.board_names) or self.universe == EVENT_BOARDS

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("path", "named")}
        out["events"] = None if self.events is None else self.events.__dict__
        out["path"] = str(self.path)
        return out


def _type_ok(value, expected) -> bool:
    if isinstance(expected, tuple):
        return any(_type_ok(value, e) for e in expected)
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is dt.date:
        return isinstance(value, (dt.date, str)) and not isinstance(value, dt.datetime)
    return isinstance(value, expected)


def _date(value, key: str, where: str) -> dt.date:
    return parse_date(value, f"{where}: {key} =")


def load_spec(path: str | Path, overrides: list[str] | None = None) -> Spec:
    """Read and check a spec file, applying ``--set key=value`` overrides.

    >>> load_spec("backtests/sora_hype.toml", ["hold_days=3"]).params["hold_days"]  # doctest: +SKIP
    3
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise InputError(f"{where}: spec file not found")
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8; save the spec as UTF-8") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        precheck(text, where)  # a loosely written date: say which line and how to write it
        raise InputError(f"{where}: invalid TOML: {exc}") from None
    for item in overrides or []:
        apply_override(raw, item, where)
    return parse_spec(raw, path)


def parse_literal(text: str) -> Any:
    """A CLI value as a TOML literal (number, bool, date, list, quoted string); bare words stay strings.

    No eval: values are parsed by the TOML parser only.

    >>> parse_literal("5"), parse_literal("0.1"), parse_literal("true"), parse_literal("False"), parse_literal("sora")
    (5, 0.1, True, False, 'sora')
    """
    if text in ("True", "False"):  # Python's spelling, as ``hypebt list`` prints defaults
        return text == "True"
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_override(raw: dict, item: str, where: str) -> None:
    """Apply one ``key=value`` (``params.hold_days=5``, ``rules.borrow_rate=0.1``, ``start=...``).

    A bare key that is not a top-level key is taken as a strategy parameter.
    """
    if "=" not in item:
        raise InputError(f"--set {item!r}: write it as key=value, e.g. --set hold_days=5")
    key, _, text = item.partition("=")
    key = key.strip()
    value = parse_literal(text.strip())
    parts = key.split(".")
    if len(parts) == 1 and parts[0] not in TOP_KEYS:
        parts = ["params", parts[0]]
    if len(parts) > 2 or (len(parts) == 2 and parts[0] not in ("params", "rules", "events", "sweep", "study")):
        raise InputError(f"--set {key}: use KEY, params.KEY, rules.KEY or events.KEY")
    target = raw
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def not_a_number(value, key: str) -> str | None:
    """The first value in ``value`` (a number, or lists and tables of them) that is NaN or infinite,
    told as ``key = nan``; None when every number is finite. TOML writes ``nan`` and ``inf`` as
    floats, and every comparison with NaN is false: ``cash = nan`` would pass ``cash > 0``.

    >>> not_a_number({"a": [1, float("inf")]}, "sweep")
    'sweep.a[1] = inf'
    """
    if isinstance(value, float) and not math.isfinite(value):
        return f"{key} = {value}"
    if isinstance(value, dict):
        return next((hit for k, v in value.items() if (hit := not_a_number(v, f"{key}.{k}" if key else str(k)))), None)
    if isinstance(value, (list, tuple)):
        return next((hit for i, v in enumerate(value) if (hit := not_a_number(v, f"{key}[{i}]"))), None)
    return None


def refuse_not_a_number(value, key: str, where: str) -> None:
    """An :class:`InputError` naming the first NaN or infinite number in ``value`` (see :func:`not_a_number`)."""
    hit = not_a_number(value, key)
    if hit:
        raise InputError(f"{where}: {hit} is not a number; write a finite number (e.g. 0.05), "
                         "or leave the key out for its default")


def parse_spec(raw: dict, path: Path) -> Spec:
    """Check a spec's keys and types and build a :class:`Spec`."""
    where = str(path)
    refuse_not_a_number(raw, "", where)
    for key, value in raw.items():
        if key not in TOP_KEYS:
            raise unknown("spec key", key, TOP_KEYS, where)
        if not _type_ok(value, TOP_KEYS[key]):
            raise InputError(f"{where}: {key} must be {_tname(TOP_KEYS[key])}, got {value!r}")
    if "universe" not in raw and "codes" not in raw and "boards" not in raw:
        raise InputError(f"{where}: give a universe (a name in data/universes/, \"board:AIGC概念\" or "
                         f"\"{EVENT_BOARDS}\"), boards = [\"AIGC概念\"] or codes = [\"002230\"]")
    boards = _boards(raw, where)
    name = raw.get("name", path.stem)
    safe_name(name, f"{where}: run name")
    start = _date(raw["start"], "start", where) if "start" in raw else None
    end = _date(raw["end"], "end", where) if "end" in raw else None
    if start and end and start > end:
        raise InputError(f"{where}: start {start} is after end {end}; swap them")
    benchmark = raw.get("benchmark", DEFAULT_BENCHMARK)
    if benchmark != EQUAL_WEIGHT and not is_index_code(benchmark):
        raise InputError(f"{where}: benchmark {benchmark!r} is not an index code{index_code_hint(benchmark)}; "
                         "write it with its exchange prefix, e.g. \"sh000300\", or \"equal_weight\"")
    if raw.get("warmup", 0) < 0:
        raise InputError(f"{where}: warmup must be a number of sessions >= 0, got {raw['warmup']}")
    if "keep" in raw and raw["keep"] < 1:
        raise InputError(f"{where}: keep must be a number of runs >= 1 (the latest is always kept), got {raw['keep']}")
    lang = check_lang(raw["lang"], f"{where}: lang") if "lang" in raw else None
    if "cash" in raw and raw["cash"] <= 0:
        raise InputError(f"{where}: cash must be positive, got {raw['cash']}")
    for code in raw.get("codes", ()):
        if not isinstance(code, str) or not is_stock_code(code):
            hint = f"; write it as a quoted 6-digit string, e.g. \"{int(code):06d}\"" if isinstance(code, int) else \
                "; use 6-digit A-share codes such as \"002230\""
            raise InputError(f"{where}: codes: {code!r} is not an A-share code{hint}")
    events = None
    if "events" in raw:
        ev = raw["events"]
        for key, value in ev.items():
            if key not in EVENT_KEYS:
                raise unknown("events key", key, EVENT_KEYS, where)
            if not _type_ok(value, EVENT_KEYS[key]):
                raise InputError(f"{where}: events.{key} must be {_tname(EVENT_KEYS[key])}, got {value!r}")
        events = EventFilter(
            catalogue=ev.get("catalogue", "ai_releases"),
            ids=tuple(ev["ids"]) if "ids" in ev else None,
            name=ev.get("name"), tag=ev.get("tag"), company=ev.get("company"), scheduled=ev.get("scheduled"),
        )
    for key in ("params", "rules"):
        if key in raw and not isinstance(raw[key], dict):
            raise InputError(f"{where}: [{key}] must be a table")
    return Spec(
        path=path, name=name, strategy=raw.get("strategy", ""), universe=raw.get("universe"),
        codes=tuple(str(c) for c in raw.get("codes", ())), start=start, end=end,
        cash=float(raw.get("cash", 1_000_000.0)), benchmark=benchmark,
        adjust=raw.get("adjust"), margin_list=raw.get("margin_list", "margin_eligible"),
        st_codes=tuple(raw.get("st_codes", ())), description=raw.get("description", ""), events=events,
        params=dict(raw.get("params", {})), rules=dict(raw.get("rules", {})),
        sweep=raw.get("sweep"), study=raw.get("study"), warmup=int(raw.get("warmup", 0)),
        boards=boards, allow_look_ahead=bool(raw.get("allow_look_ahead", False)), lang=lang, keep=raw.get("keep"),
        named=frozenset(raw),
    )


def _boards(raw: dict, where: str) -> tuple[str, ...]:
    """The ``boards`` list, checked against ``universe`` (a board universe, or each event's boards)."""
    universe = raw.get("universe") or ""
    if universe.startswith(BOARD_PREFIX) and not universe[len(BOARD_PREFIX):].strip():
        raise InputError(f"{where}: universe = {universe!r} names no board; write it as \"board:AIGC概念\"")
    boards = raw.get("boards", [])
    if "boards" in raw and not boards:
        raise InputError(f"{where}: boards is an empty list; name at least one, e.g. boards = [\"AIGC概念\"]")
    for b in boards:
        if not isinstance(b, str) or not b.strip():
            raise InputError(f"{where}: boards: {b!r} is not a board name; write names as strings, e.g. \"AIGC概念\"")
    if len(set(boards)) < len(boards):
        raise InputError(f"{where}: boards names a board twice; keep one")
    if boards and universe == EVENT_BOARDS:
        raise InputError(f"{where}: universe = \"{EVENT_BOARDS}\" takes each event's own boards; remove boards, or "
                         "remove the universe to use the same boards for every event")
    if boards and universe and not universe.startswith(BOARD_PREFIX):
        raise InputError(f"{where}: universe = {universe!r} is a list and boards names concept boards; give one of "
                         f"them (a board universe: boards = [...] or universe = \"board:NAME\")")
    if universe == EVENT_BOARDS and "events" not in raw:
        raise InputError(f"{where}: universe = \"{EVENT_BOARDS}\" needs an [events] table whose events name boards")
    return tuple(b.strip() for b in boards)


def _tname(t) -> str:
    if isinstance(t, tuple):
        return " or ".join(_tname(x) for x in t)
    return {str: "a string", float: "a number", list: "a list", dict: "a table", bool: "true or false",
            dt.date: "a date (2024-02-19)", int: "a whole number"}.get(t, t.__name__)
