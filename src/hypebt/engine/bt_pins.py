"""What hypebt relies on of Backtrader's private source, pinned (``backtrader==1.9.78.123``).

:mod:`hypebt.engine.bt_adapter` is the one module that touches Backtrader's internals; this is its
list of them. :data:`BACKTRADER_SOURCES` holds a hash of the installed Backtrader's source of every
function the adapter (or hypebt's ``ArrayFeed``) overrides, copies part of, calls privately, or
whose private data it reads; :data:`BACKTRADER_PRIVATE_DATA` names, for each private data attribute
the adapter reads or sets, the functions of that list that give it its meaning.
``tests/test_architecture.py`` fails when the installed Backtrader's source differs (read the new
source, adapt the adapter, update the hash) and when the adapter uses a private not listed here.
"""

from __future__ import annotations

import hashlib
import inspect

import backtrader as bt

# sha256 (first 16 hex digits) of inspect.getsource of each Backtrader function the adapter (or
# hypebt's ArrayFeed) overrides, copies part of, or relies on privately (see the module docstring).
BACKTRADER_SOURCES = {
    "Cerebro._runonce": "c13179923cde2641",            # replaced: AlignedCerebro._runonce keeps its per-bar sequence
    "Cerebro._brokernotify": "69e93a0f90550b6c",                       # called per session
    "Strategy._oncepost": "980361d4a31f0eb5",          # called per session; warm-up bars repeat its first steps
    "Strategy._oncepost_open": "67791d7f067888d4",     # called per session
    "Strategy._getminperstatus": "fad88e260175334d",   # skipped without indicators; set after the warm-up
    "Strategy._addnotification": "56496c442d3bdc59",                   # books Backtrader's trades from executed orders (notify_trade)
    "LineBuffer.__getitem__": "2ea3fe3af00750bb",      # _AlignedLine/_IndicatorLine: the same read, guarded
    "LineBuffer.get": "ec14f5dffc950495",              # idem
    "LineBuffer.get_idx": "d334983f021f8aad",          # _AlignedLine: its _idx is the shared position
    "LineBuffer.set_idx": "1ce1072261060de5",                    # idem
    "LineBuffer.forward": "19fbf69aa6a99323",          # skip_sessions extends the strategy's lines at once
    "LineSeries.reset": "98a56381398c0034",                            # AlignedArrayFeed keeps its buffers between sweep runs
    "LineSeries.__getattr__": "fbe300eb9fe0926b",                      # AlignedStrategy resolves data{i}_{line} names lazily
    "AbstractDataBase.preload": "3e354a030eb6492a",                    # ArrayFeed loads whole arrays at once
    "AbstractDataBase.advance": "c515dced700396bd",    # AlignedArrayFeed.advance moves the shared index
    "AbstractDataBase.advance_peek": "87b4c2bcfb1eaa34",  # idem
    "MetaStrategy.donew": "32e2673f8ba2851c",                          # _LazyDataNames: the feeds set as it sets them
    "MetaLineIterator.donew": "4832ef84faf0f64a",      # idem, names lazily
    "Analyzer._notify_fund": "825eae33b4eccd3f",       # AlignedStrategy.renotify_fund after at-close fills
    "OrderBase.__init__": "cb05e0f0f97837a3",          # bt_orders replaces the reference price it takes before the open
    "Cerebro._check_timers": "b6fd7188f04c9be2",       # called per session, as Cerebro._runonce does
    "Cerebro._next_writers": "7843b9613463c87b",       # idem
    "Strategy._once": "95cbfefb2044f10c",              # (LineIterator's) AlignedCerebro._runonce precomputes indicators with it
    "Cerebro.run": "b472da75a449bf85",                 # sets _event_stop, read by the loop
    "Cerebro.runstop": "b0f38274131f9922",             # idem
    "Cerebro.runstrategies": "5262414a37ff78f0",       # sets _timers, _timerscheat, _oldsync read by the loop
    "Cerebro.adddata": "a9aeba11c3704686",             # sets the feed's _name (dnames)
    "Strategy._start": "c65d6510bcf192b9",             # sets _minperstatus, which the warm-up sets after its bars
    "Strategy._notify": "3bc7cf6a81a3073b",            # empties _orderspending/_tradespending (notifications_pending)
    "AutoInfoClass._derive": "71470e3d55f904ad",       # sets _getpairs, read by strategy_params and declarations
    "AutoInfoClass._getitems": "70419c7982f4c329",     # strategy_params
    "MetaStrategy.dopreinit": "dd7d2e8511a8018b",      # sets _orderspending/_tradespending (notifications_pending)
    "MetaLineIterator.dopreinit": "eed45ed1de8f7a0c",  # sets an indicator's _clock (the warm-up steps by it)
    "LineBuffer.__call__": "eb455bd27a5ca498",  # _AlignedLine: a line ahead of a feed's line (close(1)) is refused when made
    "LineSeries.__call__": "afd2ea6666cc5fe6",  # AlignedArrayFeed: idem, data(1)
    "LineIterator.addindicator": "622d0bd73e2e458c",  # AlignedStrategy: idem, any line ahead a hypebt strategy makes
    "linebuffer.LineDelay": "ef5c22774725b7ad",  # a positive ago makes a _LineForward (ago, a): what the refusals look for
    "LineBuffer.getzeroval": "4ab85ab6601a5c81",  # reads self.array: the known values only (line_values.KnownValues)
    "LineBuffer.getzero": "be3b31643c4247f0",  # idem
    "LineBuffer.buflen": "2f415f37a3522eda",  # _AlignedLine: len(self.array) would be the known values only
    "LineBuffer.reset": "f6a74a6861b4a2f4",  # sets self.array: _AlignedLine's array property keeps it as _raw
    "Lines._derive": "cdb5ca0bbbc30064",               # sets _getlines, read by declarations
    "Trade.update": "d73c9b6dafbc8ab2",                # book_new_shares: bonus shares join the open trades
}

# Backtrader's private data attributes the adapter reads or sets, each with the functions of
# BACKTRADER_SOURCES that define its meaning (set it, or read it as the adapter relies on).
BACKTRADER_PRIVATE_DATA = {
    "_event_stop": ("Cerebro.run", "Cerebro.runstop"),
    "_timers": ("Cerebro.runstrategies",),
    "_timerscheat": ("Cerebro.runstrategies",),
    "_oldsync": ("Cerebro.runstrategies",),
    "_name": ("Cerebro.adddata",),
    "_minperstatus": ("Strategy._start", "Strategy._getminperstatus"),
    "_orderspending": ("MetaStrategy.dopreinit", "Strategy._notify", "Strategy._addnotification"),
    "_tradespending": ("MetaStrategy.dopreinit", "Strategy._notify"),
    "_lineiterators": ("MetaLineIterator.donew",),
    "_clock": ("MetaLineIterator.dopreinit",),
    "_idx": ("LineBuffer.get_idx", "LineBuffer.set_idx"),
    "_getpairs": ("AutoInfoClass._derive",),
    "_getitems": ("AutoInfoClass._getitems",),
    "_getlines": ("Lines._derive",),
    "_trades": ("MetaStrategy.dopreinit", "Strategy._addnotification"),
}


def backtrader_sources() -> dict[str, str]:
    """The hash of the installed Backtrader's source of each entry of :data:`BACKTRADER_SOURCES`."""
    owners = {"Cerebro": bt.Cerebro, "Strategy": bt.Strategy, "LineBuffer": bt.linebuffer.LineBuffer,
              "LineSeries": bt.LineSeries, "AbstractDataBase": bt.feed.AbstractDataBase,
              "MetaStrategy": bt.strategy.MetaStrategy, "MetaLineIterator": bt.lineiterator.MetaLineIterator,
              "Analyzer": bt.Analyzer, "OrderBase": bt.order.OrderBase, "LineIterator": bt.LineIterator,
              "AutoInfoClass": bt.metabase.AutoInfoClass, "Lines": bt.lineseries.Lines,
              "linebuffer": bt.linebuffer, "Trade": bt.trade.Trade}
    out = {}
    for name in BACKTRADER_SOURCES:
        owner, attr = name.split(".")
        # through the class's MRO: "Strategy._once" is the LineIterator._once a strategy runs
        text = inspect.getsource(getattr(owners[owner], attr))
        out[name] = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return out
