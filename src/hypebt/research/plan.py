"""A sweep's plan: the parameter combinations of a spec's ``[sweep]`` table, checked.

``make_plan`` reads the table in three steps: the axes (lists and ranges of
strategy parameters), the combinations (the full grid or a seeded random
sample, filtered by the constraints), and how results are judged (ranking
metric, top N, in-sample/out-of-sample split, walk-forward windows).
Constraints are parsed into a syntax tree and evaluated by a small walker that
allows comparisons, and/or/not, + - * /, parameter names and numbers: they are
never ``eval``'d.
"""

from __future__ import annotations

import ast
import math
import operator
import random
from dataclasses import dataclass

from hypebt.core.errors import InputError, unknown
from hypebt.engine.strategy import strategy_params

RESERVED = {"method", "n", "seed", "constraints", "max_combinations", "split", "walk_forward", "top", "metric",
            "event_window", "validate_from"}
DEFAULT_CAP = 5000
RANK_METRICS = ("sharpe", "sortino", "total_return", "cagr", "max_drawdown", "win_rate")


@dataclass(frozen=True)
class Plan:
    """What a sweep runs: the combinations and how results are judged."""

    axes: dict[str, list]
    combos: list[dict]
    grid_size: int
    method: str
    metric: str = "sharpe"
    top: int = 3
    split: str | None = None
    walk_forward: int = 0
    event_window: int = 20  # --validate events: sessions of each event's window (hypebt.research.validate)
    validate_from: int = 3  # --validate events: the first event walk-forward scores (1-based, time order)


def _axis(name: str, value, where: str) -> list:
    if isinstance(value, dict):
        extra = set(value) - {"start", "stop", "step"}
        if extra or not {"start", "stop"} <= set(value):
            raise InputError(f"{where}: sweep.{name}: a range is {{start = 1, stop = 10, step = 1}} (stop included)")
        start, stop, step = value["start"], value["stop"], value.get("step", 1)
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (start, stop, step)) or step <= 0:
            raise InputError(f"{where}: sweep.{name}: start, stop and a positive step must be numbers")
        n = int(math.floor((stop - start) / step + 1e-9)) + 1
        if n <= 0:
            raise InputError(f"{where}: sweep.{name}: the range {start}..{stop} is empty")
        ints = all(isinstance(x, int) for x in (start, stop, step))
        return [start + i * step if ints else round(start + i * step, 10) for i in range(n)]
    if isinstance(value, list):
        if not value:
            raise InputError(f"{where}: sweep.{name} is an empty list; give at least one value")
        return list(dict.fromkeys(value))
    return [value]


_OPS = {ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Lt: operator.lt, ast.LtE: operator.le,
        ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Add: operator.add, ast.Sub: operator.sub,
        ast.Mult: operator.mul, ast.Div: operator.truediv}


def _safe_eval(node, names: dict):
    """Evaluate a constraint's syntax tree: comparisons, and/or/not, + - * /, names, numbers only."""
    if isinstance(node, ast.Expression):
        return _safe_eval(node.body, names)
    if isinstance(node, ast.BoolOp):
        vals = [_safe_eval(v, names) for v in node.values]
        return all(vals) if isinstance(node.op, ast.And) else any(vals)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _safe_eval(node.operand, names)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_safe_eval(node.operand, names)
    if isinstance(node, ast.Compare):
        left = _safe_eval(node.left, names)
        for op, right_node in zip(node.ops, node.comparators):
            right = _safe_eval(right_node, names)
            if type(op) not in _OPS or not _OPS[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_safe_eval(node.left, names), _safe_eval(node.right, names))
    if isinstance(node, ast.Name):
        if node.id in ("true", "True"):
            return True
        if node.id in ("false", "False"):
            return False
        return names[node.id]
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, bool)):
        return node.value
    raise ValueError(f"{ast.dump(node)[:40]} is not allowed")


_ALLOWED = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.Compare, ast.BinOp,
            ast.Name, ast.Load, ast.Constant, *(_OPS))


def _check_nodes(tree) -> None:
    """Only comparisons, and/or/not, + - * /, parameter names and numbers."""
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ValueError(f"{node.__class__.__name__} is not allowed")
        if isinstance(node, ast.Constant) and (not isinstance(node.value, (int, float)) or isinstance(node.value, bool)):
            raise ValueError(f"the constant {node.value!r} is not a number")


def _satisfies(trees, values: dict) -> bool:
    """True when every constraint holds; a constraint that cannot be computed for a combination
    (a division by zero, an overflow) excludes it."""
    try:
        return all(_safe_eval(t, values) for t in trees)
    except ArithmeticError:
        return False


def compile_constraint(text: str, params: dict, where: str):
    """Parse ``take_profit > stop_loss`` into a checked syntax tree (never eval'd)."""
    try:
        tree = ast.parse(text, mode="eval")
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id not in params and node.id not in ("true", "false", "True", "False"):
                raise unknown("parameter in constraint", node.id, params, where)
        _check_nodes(tree)
    except SyntaxError:
        raise InputError(f"{where}: constraint {text!r} is not an expression like 'take_profit > stop_loss'") from None
    except (ValueError, TypeError) as exc:
        raise InputError(f"{where}: constraint {text!r}: {exc}; use comparisons, and/or/not, + - * /") from None
    return tree


def make_plan(spec, strategy_cls, cap: int | None = None) -> Plan:
    """Build the combinations of ``spec.sweep`` for ``strategy_cls``; check everything.

    >>> plan = make_plan(spec, cls)          # doctest: +SKIP  ([sweep] hold_days = [1, 3])
    >>> plan.combos
    [{'hold_days': 1}, {'hold_days': 3}]
    """
    where = f"{spec.path} [sweep]"
    table = dict(spec.sweep or {})
    if not table:
        raise InputError(f"{spec.path}: no [sweep] table; add one, e.g. [sweep] hold_days = [1, 3, 5]")
    axes = _axes(table, strategy_cls, where)
    method = table.get("method", "grid")
    if method not in ("grid", "random"):
        raise InputError(f"{where}: method must be \"grid\" or \"random\", got {method!r}")
    grid = _Grid(axes)
    defaults = {**strategy_params(strategy_cls), **spec.params}
    constraints = table.get("constraints", [])
    if isinstance(constraints, str):
        constraints = [constraints]
    trees = [compile_constraint(c, defaults, where) for c in constraints]

    def ok(combo: dict) -> bool:
        return _satisfies(trees, {**defaults, **combo})

    cap = cap or int(table.get("max_combinations", DEFAULT_CAP))
    if method == "grid":
        combos = _grid_combos(grid, ok, cap, where)
    else:
        combos = _random_combos(grid, ok, table, cap, where)
    if not combos:
        raise InputError(f"{where}: no combination satisfies the constraints {constraints}")
    return Plan(axes=axes, combos=combos, grid_size=grid.size, method=method, **_judging(table, where))


def _axes(table: dict, strategy_cls, where: str) -> dict[str, list]:
    """The swept parameters and their values; every name must be a parameter of the strategy.

    A parameter named like a sweep setting (``n``, ``top``, ``metric`` ...) is written in the
    ``[sweep.params]`` sub-table; at the top of ``[sweep]`` such a name is refused, never silently
    read as the setting (the parameter would vanish from the grid).
    """
    params = strategy_params(strategy_cls)
    nested = table.get("params") if isinstance(table.get("params"), dict) and "params" not in params else {}
    axes = {}
    for key, value in table.items():
        if key in RESERVED:
            if key in params and key not in nested:
                raise InputError(
                    f"{where}: {key} is both a sweep setting and a parameter of strategy {strategy_cls.hypebt_name}; "
                    f"write the parameter's values in a [sweep.params] table ({key} = [...]) and keep [sweep] "
                    f"{key} for the setting")
            continue
        if key == "params" and value is nested:
            continue
        if key not in params:
            raise unknown(f"parameter of strategy {strategy_cls.hypebt_name}", key, params, where)
        axes[key] = _axis(key, value, where)
    for key, value in nested.items():
        if key not in params:
            raise unknown(f"parameter of strategy {strategy_cls.hypebt_name}", key, params, f"{where} [sweep.params]")
        if key in axes:
            raise InputError(f"{where}: {key} is given both in [sweep] and in [sweep.params]; keep one")
        axes[key] = _axis(key, value, where)
    if not axes:
        raise InputError(f"{where}: no parameter to sweep; add e.g. hold_days = [1, 3, 5]")
    return axes


class _Grid:
    """The full product of the axes, addressed by index (last axis fastest) without building it."""

    def __init__(self, axes: dict[str, list]):
        self.axes = axes
        self.names = list(axes)
        self.sizes = [len(v) for v in axes.values()]
        self.size = math.prod(self.sizes)

    def at(self, index: int) -> dict:
        out = {}
        for name, size in zip(reversed(self.names), reversed(self.sizes)):
            index, j = divmod(index, size)
            out[name] = self.axes[name][j]
        return {n: out[n] for n in self.names}


def _grid_combos(grid: _Grid, ok, cap: int, where: str) -> list[dict]:
    if grid.size > cap:
        raise InputError(
            f"{where}: the grid has {grid.size:,} combinations, over the cap of {cap:,}; shrink it, "
            f"sample it with method = \"random\" and n = ..., or raise --max-combinations"
        )
    return [c for c in (grid.at(i) for i in range(grid.size)) if ok(c)]


def _random_combos(grid: _Grid, ok, table: dict, cap: int, where: str) -> list[dict]:
    n = table.get("n")
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise InputError(f"{where}: method = \"random\" needs n = a positive whole number")
    if n > cap:
        raise InputError(f"{where}: n = {n:,} is over the cap of {cap:,}; lower n or raise --max-combinations")
    rng = random.Random(table.get("seed", 0))
    # Walk a random permutation of the grid until n combinations pass the constraints.
    order = rng.sample(range(grid.size), grid.size) if grid.size <= 2_000_000 else \
        (rng.randrange(grid.size) for _ in range(200 * n))
    combos, seen = [], set()
    for i in order:
        if i in seen:
            continue
        seen.add(i)
        c = grid.at(i)
        if ok(c):
            combos.append(c)
            if len(combos) == n:
                break
    return combos


def check_period(plan: Plan, sessions, where: str) -> None:
    """Refuse a ``split`` or ``walk_forward`` the run's sessions cannot fill: a split date outside
    them, or windows of fewer than two sessions, would report 0.0 for figures that have no data."""
    import pandas as pd

    first, last, n = sessions[0], sessions[-1], len(sessions)
    if plan.split is not None:
        try:
            cut = pd.Timestamp(plan.split)
        except (TypeError, ValueError):
            raise InputError(f"{where}: split = {plan.split!r} is not a date; write split = 2024-03-01") from None
        before, after = int((sessions < cut).sum()), int((sessions >= cut).sum())
        if before < 2 or after < 2:
            raise InputError(
                f"{where}: split = {cut.date()} leaves {before} session(s) in sample and {after} out of sample "
                f"(the run has {first.date()}..{last.date()}); choose a date with at least 2 sessions on each side")
    if plan.walk_forward and n // plan.walk_forward < 2:
        raise InputError(
            f"{where}: walk_forward = {plan.walk_forward} windows of the run's {n} session(s) "
            f"({first.date()}..{last.date()}) leave fewer than 2 sessions each; use at most {max(2, n // 2)} "
            "windows, or a longer period")


def _judging(table: dict, where: str) -> dict:
    """How results are ranked and split: metric, top, split date, walk-forward windows."""
    metric = table.get("metric", "sharpe")
    if metric not in RANK_METRICS:
        raise unknown("ranking metric", metric, RANK_METRICS, where)
    split = table.get("split")
    if split is not None:
        split = str(split)
    wf = table.get("walk_forward", 0)
    if not isinstance(wf, int) or wf < 0 or wf == 1:
        raise InputError(f"{where}: walk_forward must be 0 (off) or a number of windows >= 2")
    window, first = table.get("event_window", 20), table.get("validate_from", 3)
    if not isinstance(window, int) or isinstance(window, bool) or window < 1:
        raise InputError(f"{where}: event_window must be a number of sessions >= 1 (each event's window), e.g. 20")
    if not isinstance(first, int) or isinstance(first, bool) or first < 2:
        raise InputError(f"{where}: validate_from must be a whole number >= 2 (walk-forward needs an earlier event "
                         "to choose on), e.g. 3")
    return {"metric": metric, "top": int(table.get("top", 3)), "split": split, "walk_forward": wf,
            "event_window": window, "validate_from": first}
