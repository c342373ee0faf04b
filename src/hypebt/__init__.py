"""hypebt: event-driven backtests of China A-share strategies on Backtrader.

Data flows one way, one module per arrow::

    sources (akshare) / importers (CSV, parquet)  ->  store  ->  feed  ->  engine  ->  report

The A-share market rules (limits, T+1, lots, costs, margin lending) live in
:mod:`hypebt.market.rules` as pure functions; the Backtrader adapters only call them.
"""

__version__ = "0.1.0"


def __getattr__(name):
    # ``from hypebt import Strategy`` without importing Backtrader for every CLI call.
    if name == "Strategy":
        from hypebt.engine.strategy import Strategy

        return Strategy
    raise AttributeError(name)
