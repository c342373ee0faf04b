"""One run's Backtrader pieces: the feeds, the broker, the sizer, the strategy, the analyzer.

:func:`cerebro_for` puts together what :func:`hypebt.engine.backtest.run` runs: hypebt's Cerebro
(:class:`hypebt.engine.bt_adapter.AlignedCerebro`), one aligned feed per code over the warm-up and
the run, the A-share broker (:class:`hypebt.engine.broker.AShareBroker`, the one door every order
goes through) with each code's commission scheme, and the strategy: a hypebt
strategy gets its :class:`hypebt.engine.strategy.Context`, a plain Backtrader one its ``params``.
"""

from __future__ import annotations

import backtrader as bt

from hypebt.engine.broker import AShareBroker
from hypebt.engine.bt_adapter import AlignedArrayFeed, AlignedCerebro, share_index
from hypebt.engine.strategy import Context, is_backtrader_strategy
from hypebt.market.broker import AShareCommInfo


def feeds(prep, reuse: bool) -> list:
    """The run's data feeds with their commission schemes, ``[(code, feed, comminfo)]``, over the
    warm-up and the run's sessions (Backtrader's indicators see the warm-up; nothing trades there),
    all sharing one bar index (:func:`hypebt.engine.bt_adapter.share_index`). With ``reuse``
    (sweeps), built once per prepared data and reused: Backtrader resets and reloads every feed at
    the start of each run."""
    if reuse and "_feeds" in prep.__dict__:
        return prep.__dict__["_feeds"]
    source = prep.history or prep.arrays
    out = [(code, AlignedArrayFeed(arrays=source[code], name=code), AShareCommInfo(rules=prep.rules, code=code))
           for code in prep.codes]
    share_index([feed for _, feed, _ in out])
    if reuse:
        prep.__dict__["_feeds"] = out
    return out


def cerebro_for(prep, cls, params: dict, reuse: bool, sleep: bool, timereturn: bool):
    """``(cerebro, broker)`` of one run of ``cls`` with ``params`` on ``prep`` (see the module
    docstring); ``reuse``: the feeds (and the bar cache) are kept for the next run of ``prep``."""
    cerebro = AlignedCerebro(stdstats=False, cheat_on_open=True, preload=True, runonce=True, maxcpus=1)
    cerebro.hypebt_sleep = sleep
    cerebro.hypebt_keep_aligned = reuse  # the same feeds run together again (AlignedCerebro)
    cerebro.hypebt_warmup = prep.warmup if prep.history else 0
    broker = AShareBroker(cash=prep.spec.cash, rules=prep.rules, arrays=prep.arrays, eligible=prep.eligible,
                          days=prep.days, fee_memo=prep.__dict__.setdefault("_fee_memo", {}) if reuse else None,
                          actions=prep.actions)
    cerebro.broker = broker
    for code, feed, comminfo in feeds(prep, reuse):
        cerebro.adddata(feed, name=code)
        broker.addcommissioninfo(comminfo, name=code)
    if is_backtrader_strategy(cls):
        cerebro.addstrategy(cls, **params)
    else:
        ctx = Context(params=params, universe=prep.codes, names=prep.names, events=prep.events,
                      sessions=prep.sessions, days=prep.days, session_index=prep.session_index, rules=prep.rules,
                      eligible=prep.eligible, arrays=prep.arrays, history=prep.history, warmup=prep.warmup,
                      benchmark=prep.benchmark, bar_cache=prep.__dict__.setdefault("_bar_cache", {}) if reuse else {})
        cerebro.addstrategy(cls, ctx=ctx)
    if timereturn:
        cerebro.addanalyzer(bt.analyzers.TimeReturn, timeframe=bt.TimeFrame.Days, _name="timereturn")
    return cerebro, broker
