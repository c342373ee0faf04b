"""hypebt: event-driven backtests of China A-share strategies on Backtrader.

Data flows one way, one module per arrow::

    sources (akshare) / importers (CSV, parquet)  ->  store  ->  feed  ->  engine  ->  report

The A-share market rules (limits, T+1, lots, costs, margin lending) live in
:mod:`hypebt.market.rules` as pure functions; the Backtrader adapters only call them.

Backtrader runs the strategy (hypebt's or a plain ``bt.Strategy``), its lines, indicators and
notifications; hypebt is the market: every order goes through one broker
(:mod:`hypebt.engine.broker`), its A-share checks (:mod:`hypebt.market.orders`) and one account
(:mod:`hypebt.market.account`). Why, and what is private: ``docs/backtrader.md``.
"""

__version__ = "0.1.0"


__all__ = ["Strategy", "backtest", "sweep", "study", "HypebtError"]


def __getattr__(name):
    # ``from hypebt import Strategy`` (and the Python API) without importing Backtrader for every CLI call.
    if name == "Strategy":
        from hypebt.engine.strategy import Strategy

        return Strategy
    if name == "HypebtError":  # every error a user can act on (its one line says what to do)
        from hypebt.core.errors import HypebtError

        return HypebtError
    if name in ("backtest", "sweep", "study"):
        from hypebt import api

        return getattr(api, name)
    raise AttributeError(f"module 'hypebt' has no attribute {name!r}")
