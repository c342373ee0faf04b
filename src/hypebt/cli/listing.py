"""``hypebt list``: the workspace's strategies with their parameters, catalogues, universes, specs."""

from __future__ import annotations

import sys

from hypebt.cli.common import workspace_of
from hypebt.core.errors import HypebtError, InputError


def run(args) -> int:
    """Print every strategy (with its parameters), event catalogue, universe and spec."""
    from hypebt.data import events as E
    from hypebt.data import universes as U
    from hypebt.engine.strategy import load_strategy, strategy_params, strategy_paths

    ws = workspace_of(args)
    broken: list[str] = []
    print("strategies (strategies/*.py):")
    for name, path in strategy_paths(ws / "strategies").items():
        try:
            cls = load_strategy(name, ws / "strategies")
            params = ", ".join(f"{k}={_shown(v)}" for k, v in strategy_params(cls).items())
            doc = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or "").strip().splitlines()
            print(f"  {name}: {doc[0] if doc else ''}\n      params: {params}")
        except HypebtError as exc:
            print(f"  {name}: cannot load: {exc}")
            broken.append(str(exc))
    print("event catalogues (data/events/*.csv):")
    for name, path in E.catalogue_paths(ws).items():
        evs = E.load_catalogue(path)
        print(f"  {name}: {len(evs)} events: " + ", ".join(e.id for e in evs))
    print("universes (data/universes/*.csv):")
    for name, path in U.universe_paths(ws).items():
        u = U.read_universe(path)
        flag = " [concept list: look-ahead]" if u.look_ahead else ""
        print(f"  {name}: {len(u)} codes, snapshot {u.snapshot_date}{flag}")
    print("specs (backtests/*.toml):")
    for path in sorted((ws / "backtests").glob("*.toml")):
        print(f"  {path.relative_to(ws)}")
    if broken:  # the listing is printed; the exit code still says a strategy is unusable
        raise InputError(f"{len(broken)} strategy file(s) cannot load; first: {broken[0]}")
    return 0


def _shown(value) -> str:
    """A parameter's default as the listing shows it (a class, as Backtrader's ``ma=bt.ind.SMA``, by name)."""
    return value.__name__ if isinstance(value, type) else repr(value)
