"""The package's shape, read from its source with ``ast`` (imports inside functions included).

Rules (see ``/work/shared/STYLE.md`` and issue 9):

- imports run one way: core <- data <- market <- engine <- research <- reports <- cli (a module may
  import its own layer and the layers to its left, never one to its right); ``hypebt/__init__.py``
  may lazily expose names and ``hypebt.__version__`` may be imported from anywhere;
- no import cycle between modules;
- no ``from x import _private`` (nor ``x._private`` on an imported hypebt module) across modules;
- no module over 500 lines;
- Backtrader's private internals only in :mod:`hypebt.engine.bt_adapter`: no override of a private
  Backtrader method elsewhere (except its documented extension hooks) and no use of a private
  Backtrader attribute; backtrader itself imported only by market.broker, .feed, .orders and engine.

``ALLOWED`` lists the known offenders in files other engineers are changing this round, each with
its owner; an entry that no longer matches anything fails too, so the list only shrinks.
"""

from __future__ import annotations

import ast
import functools
import warnings
from dataclasses import dataclass
from pathlib import Path

import backtrader
import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "hypebt"
LAYERS = ("core", "data", "market", "engine", "research", "reports", "cli")
ADAPTER = "hypebt.engine.bt_adapter"
MAX_LINES = 500
# Backtrader's documented extension points, underscored but meant to be overridden:
# CommInfoBase._getcommission ("Commission Schemes: extending"), DataBase._load ("Data Feeds:
# extending"), Sizer._getsizing ("Sizers").
BT_HOOKS = frozenset({"_getcommission", "_load", "_getsizing"})
# The public-API adapters (CommInfo, orders, feed) and the engine; never the pure rules.
BT_IMPORTERS = ("hypebt.market.broker", "hypebt.market.feed", "hypebt.market.orders", "hypebt.engine.")

# Known offenders allowed for now (none left); the test fails on any entry that no longer matches.
ALLOWED: set[str] = set()


# --- reading the package -------------------------------------------------------------------------

def module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def read_package(src: Path = SRC) -> dict[str, str]:
    """{module name: source text} of every module under ``src/hypebt``."""
    return {module_name(p, src): p.read_text("utf-8") for p in sorted((src / ROOT).rglob("*.py"))}


@dataclass(frozen=True)
class Import:
    target: str  # a hypebt module (or package) name, or a third-party top-level name
    names: tuple[str, ...]  # names taken with "from target import ..."
    alias: str  # the name bound for "import x as a" / "from pkg import module as a"
    line: int


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, text: str, modules: set[str]) -> list[Import]:
    """Every import in ``text`` (module level and inside functions), resolved to modules."""
    out: list[Import] = []
    is_package = any(m.startswith(module + ".") for m in modules) or module == ROOT
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            for a in node.names:
                out.append(Import(a.name, (), a.asname or a.name.split(".")[0], node.lineno))
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node)
            for a in node.names:
                sub = f"{base}.{a.name}"
                if sub in modules:  # "from hypebt.data import events": the module events
                    out.append(Import(sub, (), a.asname or a.name, node.lineno))
                else:
                    out.append(Import(base, (a.name,), "", node.lineno))
    return out


def layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != ROOT or len(parts) < 2:
        return None
    return LAYERS.index(parts[1]) if parts[1] in LAYERS else None


# --- the rules -----------------------------------------------------------------------------------

def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as a closed path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                found.append(_path(sorted(comp), graph))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _path(comp: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A closed path through a component from its first module, for the message."""
    members, start = set(comp), comp[0]
    prev: dict[str, str] = {}
    todo, seen = [start], {start}
    while todo:
        v = todo.pop(0)
        for w in sorted(graph.get(v, ()) & members):
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(prev[path[-1]])
                return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, v, start]
            if w not in seen:
                seen.add(w)
                prev[w] = v
                todo.append(w)
    return [*comp, comp[0]]


@functools.lru_cache(maxsize=1)
def _bt_private_names() -> frozenset[str]:
    """Every ``_name`` (not dunder) Backtrader's own source uses: its private namespace."""
    names: set[str] = set()
    for path in Path(backtrader.__file__).parent.rglob("*.py"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Backtrader's old escape sequences
            tree = ast.parse(path.read_text("utf-8", errors="replace"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name):
                names.add(node.id)
    return frozenset(n for n in names if n.startswith("_") and not n.startswith("__"))


def _bt_violations(sources: dict[str, str], bt_private: frozenset[str]) -> list[str]:
    trees = {m: ast.parse(t) for m, t in sources.items()}
    # Classes deriving from Backtrader, directly (bt.X) or through another such class.
    bt_classes: set[str] = set()
    grew = True
    while grew:
        grew = False
        for tree in trees.values():
            for c in ast.walk(tree):
                if isinstance(c, ast.ClassDef) and c.name not in bt_classes and any(
                        ast.unparse(b).startswith(("bt.", "backtrader."))
                        or ast.unparse(b).split(".")[-1] in bt_classes for b in c.bases):
                    bt_classes.add(c.name)
                    grew = True
    # Private names hypebt gives its own objects (outside the adapter): not Backtrader's.
    own: set[str] = set()
    for m, tree in trees.items():
        if m == ADAPTER:
            continue
        for n in ast.walk(tree):
            if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name.startswith("_"):
                own.add(n.name)
            elif isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store) and n.attr.startswith("_"):
                own.add(n.attr)
    out: set[str] = set()
    for m, tree in trees.items():
        if m == ADAPTER:
            continue
        for c in ast.walk(tree):
            if not (isinstance(c, ast.ClassDef) and c.name in bt_classes):
                continue
            for n in ast.walk(c):
                if isinstance(n, ast.FunctionDef) and n.name in bt_private and n.name not in BT_HOOKS:
                    out.add(f"backtrader private: {m} overrides {c.name}.{n.name}")
                elif (isinstance(n, ast.Attribute) and n.attr in bt_private and n.attr not in BT_HOOKS
                      and isinstance(n.value, ast.Name) and n.value.id == "self"):
                    out.add(f"backtrader private: {m} uses self.{n.attr} in {c.name}")
        for n in ast.walk(tree):
            if (isinstance(n, ast.Attribute) and n.attr in bt_private and n.attr not in own
                    and not (isinstance(n.value, ast.Name) and n.value.id == "self")):
                out.add(f"backtrader private: {m} uses .{n.attr}")
    return sorted(out)


def violations(sources: dict[str, str], bt_private: frozenset[str] = frozenset()) -> list[str]:
    """Every breach of the rules in ``sources`` ({module name: source}), one line each."""
    modules = set(sources)
    out: set[str] = set()
    graph: dict[str, set[str]] = {m: set() for m in modules if m != ROOT}
    for m, text in sources.items():
        lines = len(text.splitlines())
        if lines > MAX_LINES:
            out.add(f"size: {m} has {lines} lines")
        imps = imports_of(m, text, modules)
        hypebt_aliases: dict[str, str] = {}
        for imp in imps:
            top = imp.target.split(".")[0]
            if top == "backtrader" and m != ROOT and not m.startswith(BT_IMPORTERS):
                out.add(f"backtrader import: {m}")
            if top != ROOT or imp.target == m:
                continue
            if imp.alias:
                hypebt_aliases[imp.alias] = imp.target
            for name in imp.names:
                if name.startswith("_") and not name.startswith("__"):
                    out.add(f"private import: {m} imports {name} from {imp.target}")
            if m == ROOT or imp.target == ROOT:
                continue  # the top-level package exposes names lazily; __version__ lives there
            graph[m].add(imp.target)
            lm, lt = layer(m), layer(imp.target)
            if lm is not None and lt is not None and lt > lm:
                out.add(f"direction: {m} -> {imp.target}")
        for node in ast.walk(ast.parse(text)):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in hypebt_aliases and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                out.add(f"private use: {m} uses {hypebt_aliases[node.value.id]}.{node.attr}")
    for cycle in _cycles(graph):
        out.add("cycle: " + " -> ".join(cycle))
    out.update(_bt_violations(sources, bt_private))
    return sorted(out)


# --- the package obeys them ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def found() -> list[str]:
    return violations(read_package(), _bt_private_names())


def test_the_package_keeps_its_architecture(found):
    new = [v for v in found if v not in ALLOWED]
    assert not new, "architecture rules broken (see tests/test_architecture.py):\n" + "\n".join(new)


def test_the_allow_list_only_shrinks(found):
    stale = sorted(ALLOWED - set(found))
    assert not stale, "fixed: remove from ALLOWED in tests/test_architecture.py:\n" + "\n".join(stale)


def test_every_subpackage_is_a_declared_layer():
    packages = {p.name for p in (SRC / ROOT).iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert packages == set(LAYERS)


def test_backtrader_privates_live_in_the_adapter():
    """The adapter really is where the private overrides are (guards the reading of the rules)."""
    sources = read_package()
    bt_private = _bt_private_names()
    assert {"_runonce", "_execute", "_notify_fund", "_lineiterators", "_idx"} <= bt_private
    assert "_runonce" in sources[ADAPTER] and "_notify_fund" in sources[ADAPTER]
    moved = {ADAPTER: "", **{m: t for m, t in sources.items() if m != ADAPTER}}
    moved["hypebt.engine.backtest"] = sources[ADAPTER] + "\n" + sources["hypebt.engine.backtest"]
    found = violations(moved, bt_private)
    assert "backtrader private: hypebt.engine.backtest overrides AlignedCerebro._runonce" in found
    assert "backtrader private: hypebt.engine.backtest uses ._notify_fund" in found


def test_the_backtrader_we_override_is_the_one_we_read():
    """Every Backtrader function the adapter (or the ArrayFeed) overrides, copies or calls privately
    has the source it was written against; a Backtrader upgrade fails here until it is read again."""
    from hypebt.engine.bt_pins import BACKTRADER_SOURCES, backtrader_sources

    changed = sorted(k for k, v in backtrader_sources().items() if BACKTRADER_SOURCES[k] != v)
    assert not changed, ("the installed Backtrader's source changed for " + ", ".join(changed)
                         + ": read it, adapt hypebt.engine.bt_adapter, then update hypebt.engine.bt_pins")
    assert backtrader.__version__ == "1.9.78.123"


def test_every_backtrader_override_is_hashed():
    """The list above covers every Backtrader method the adapter's classes (and the feed) override."""
    import inspect

    from hypebt.engine import bt_adapter as A
    from hypebt.engine.bt_pins import BACKTRADER_SOURCES
    from hypebt.market.feed import ArrayFeed

    overridden = set()
    classes = [c for c in vars(A).values() if inspect.isclass(c) and c.__module__ == A.__name__] + [ArrayFeed]
    for cls in classes:
        bases = [k for k in cls.__mro__ if k.__module__.startswith("backtrader")]
        for name, obj in vars(cls).items():
            if not (inspect.isfunction(obj) or isinstance(obj, property)) or name in ("__init__", "_load", "start"):
                continue  # __init__ and the documented feed hooks (_load, start) are Backtrader's extension points
            definer = next((k for k in bases if name in vars(k)), None)
            if definer is not None:
                overridden.add(f"{definer.__name__}.{name}")
    assert overridden and overridden <= set(BACKTRADER_SOURCES), sorted(overridden - set(BACKTRADER_SOURCES))



def _bt_privates_used(sources: dict[str, str], bt_private: frozenset[str]) -> dict[str, set[str]]:
    """{Backtrader private name: modules} read, set or called (``x._name``) by the modules that import
    backtrader; the names those modules define themselves outside the adapter (their own helpers,
    such as the broker's ``_transmit``) are theirs, not Backtrader's."""
    trees = {m: ast.parse(t) for m, t in sources.items() if "import backtrader" in t}
    own = {n.name for m, tree in trees.items() if m != ADAPTER for n in ast.walk(tree)
           if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    used: dict[str, set[str]] = {}
    for m, tree in trees.items():
        for n in ast.walk(tree):
            if isinstance(n, ast.Attribute) and n.attr in bt_private and n.attr not in own:
                used.setdefault(n.attr, set()).add(m)
    return used


def test_every_backtrader_private_used_is_hashed():
    """Every private Backtrader method the engine calls (``Cerebro._check_timers``, ``Strategy._once``,
    ...) is in ``BACKTRADER_SOURCES``; every private data attribute it reads or sets names the
    Backtrader functions of that list that give it its meaning, and they do mention it."""
    from hypebt.engine.bt_pins import BACKTRADER_PRIVATE_DATA, BACKTRADER_SOURCES

    used = _bt_privates_used(read_package(), _bt_private_names())
    assert {"_check_timers", "_next_writers", "_once", "_oncepost", "_event_stop"} <= set(used)
    methods = {key.split(".")[1] for key in BACKTRADER_SOURCES}
    missing = sorted(f"{name} (in {', '.join(sorted(mods))})" for name, mods in used.items()
                     if name not in methods and name not in BACKTRADER_PRIVATE_DATA)
    assert not missing, "Backtrader privates used but not hashed in BACKTRADER_SOURCES: " + "; ".join(missing)
    for name, keys in BACKTRADER_PRIVATE_DATA.items():
        assert keys and set(keys) <= set(BACKTRADER_SOURCES), (name, keys)
        for key in keys:
            owner, attr = key.split(".")
            assert name in _bt_source(owner, attr), f"{key} does not mention {name}"


def _bt_source(owner: str, attr: str) -> str:
    import inspect

    classes = {c.__name__: c for mod in (backtrader.cerebro, backtrader.strategy, backtrader.linebuffer,
                                          backtrader.lineiterator, backtrader.lineseries, backtrader.metabase)
               for c in vars(mod).values() if isinstance(c, type)}
    return inspect.getsource(getattr(classes[owner], attr))


def test_the_hash_guard_fails_when_a_source_differs(monkeypatch):
    """The guard above really compares: an expected hash that is not the installed one is reported."""
    from hypebt.engine import bt_pins as bt_adapter

    for key in ("Cerebro._check_timers", "Strategy._once"):
        changed = dict(bt_adapter.BACKTRADER_SOURCES, **{key: "0" * 16})
        monkeypatch.setattr(bt_adapter, "BACKTRADER_SOURCES", changed)
        with pytest.raises(AssertionError, match=key.replace(".", r"\.")):
            test_the_backtrader_we_override_is_the_one_we_read()


# --- the checker catches each breach (so the test above can fail) -------------------------------

def _mini(**modules: str) -> dict[str, str]:
    base = {"hypebt": "", "hypebt.core": "", "hypebt.data": "", "hypebt.engine": "", "hypebt.cli": ""}
    return {**base, **{name.replace("__", "."): text for name, text in modules.items()}}


@pytest.mark.parametrize("modules, expected", [
    (dict(hypebt__data__a="def f():\n    from hypebt.cli import main\n", hypebt__cli__main=""),
     "direction: hypebt.data.a -> hypebt.cli.main"),
    (dict(hypebt__data__a="from hypebt.data import b\n", hypebt__data__b="import hypebt.data.a\n"),
     "cycle: hypebt.data.a -> hypebt.data.b -> hypebt.data.a"),
    (dict(hypebt__data__a="from hypebt.data.b import _helper\n", hypebt__data__b="def _helper(): pass\n"),
     "private import: hypebt.data.a imports _helper from hypebt.data.b"),
    (dict(hypebt__engine__a="from hypebt.data import b\nb._cache.clear()\n", hypebt__data__b="_cache = {}\n"),
     "private use: hypebt.engine.a uses hypebt.data.b._cache"),
    (dict(hypebt__data__a="x = 1\n" * 501), "size: hypebt.data.a has 501 lines"),
    (dict(hypebt__data__a="import backtrader as bt\n"), "backtrader import: hypebt.data.a"),
    (dict(hypebt__engine__a="import backtrader as bt\nclass C(bt.Cerebro):\n    def _runonce(self, s): pass\n"),
     "backtrader private: hypebt.engine.a overrides C._runonce"),
    (dict(hypebt__engine__a="def f(analyzer):\n    analyzer._notify_fund(1, 2, 3, 4)\n"),
     "backtrader private: hypebt.engine.a uses ._notify_fund"),
    (dict(hypebt__engine__a="import backtrader as bt\nclass S(bt.Strategy):\n"
                            "    def next(self):\n        return self._lineiterators\n"),
     "backtrader private: hypebt.engine.a uses self._lineiterators in S"),
], ids=["direction-in-function", "cycle", "private-import", "private-attribute", "size", "bt-import",
        "bt-override", "bt-attribute", "bt-self-attribute"])
def test_the_checker_catches(modules, expected):
    bt_private = frozenset({"_runonce", "_notify_fund", "_lineiterators"})
    assert expected in violations(_mini(**modules), bt_private)


def test_the_checker_allows_what_the_rules_allow():
    ok = _mini(
        hypebt__core__a="",
        hypebt__data__a="from hypebt.core import a\nfrom hypebt import __version__\n",
        hypebt__engine__a="import backtrader as bt\nclass K(bt.CommInfoBase):\n"
                          "    def _getcommission(self, size, price, pseudoexec): return 0.0\n",
        hypebt__cli__main="from hypebt.data import a\nfrom hypebt.engine import a as e\n",
    )
    ok["hypebt"] = "def __getattr__(name):\n    from hypebt.engine.a import K\n    return K\n"
    assert violations(ok, frozenset({"_getcommission"})) == []
