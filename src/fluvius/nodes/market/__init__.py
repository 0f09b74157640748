"""Market-data nodes: features of the feed's ``quote/SYM``, ``mid/SYM`` and ``trade/SYM``
sources (:mod:`fluvius.feeds.adapter`), as plain functions and small stateful classes.

=====================  =======================================================  ========
name                   what                                                     inputs
=====================  =======================================================  ========
``spread``             ask - bid in currency units (NaN one-sided)              quote
``spread_bp``          spread in basis points of the mid                        quote
``MidReturn``          log return of the mid in bp since the last valid mid     mid
``TradeVWAP``          volume-weighted price of every trade (currency units)    trades
``TradeVolume``        shares traded                                            trades
``TradeImbalance``     (buy - sell) / (buy + sell) volume over a trade window   trades, mid
``NextMoveSample``     (features before a quote, move it made) pairs for models quote, x…
``get_field``          one field of a value (a named tuple, an event)           any
=====================  =======================================================  ========

``trades`` is the cycle's tuple of :class:`~fluvius.feeds.events.Trade` (``None`` before
the first, ``()`` in a cycle without): every class takes all of them, none is dropped.
"""

from __future__ import annotations

from fluvius.nodes.market.quotes import MidReturn as MidReturn
from fluvius.nodes.market.quotes import spread as spread
from fluvius.nodes.market.quotes import spread_bp as spread_bp
from fluvius.nodes.market.sample import NextMoveSample as NextMoveSample
from fluvius.nodes.market.sample import Sample as Sample
from fluvius.nodes.market.sample import sample_features as sample_features
from fluvius.nodes.market.sample import sample_target as sample_target
from fluvius.nodes.market.select import get_field as get_field
from fluvius.nodes.market.trades import TradeImbalance as TradeImbalance
from fluvius.nodes.market.trades import TradeVolume as TradeVolume
from fluvius.nodes.market.trades import TradeVWAP as TradeVWAP

__all__ = [
    "MidReturn",
    "NextMoveSample",
    "Sample",
    "TradeImbalance",
    "TradeVWAP",
    "TradeVolume",
    "get_field",
    "sample_features",
    "sample_target",
    "spread",
    "spread_bp",
]
