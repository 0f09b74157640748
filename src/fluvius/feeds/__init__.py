"""Market-data feeds: capture readers, venue decoders and the unified event schema.

Layers, bottom up: ``_capture`` (files, gzip, classic pcap and pcapng: the walk of capture
records) · ``net`` (Ethernet/IPv4/UDP) · ``iex`` (IEX-TP, TOPS 1.6, DEEP 1.0) ·
``events`` (the unified schema every venue decodes into).
"""

from __future__ import annotations

from fluvius.feeds.events import EVENT_TYPES as EVENT_TYPES
from fluvius.feeds.events import IEX_PRICE_FACTOR as IEX_PRICE_FACTOR
from fluvius.feeds.events import KINDS as KINDS
from fluvius.feeds.events import PRICE_SCALE as PRICE_SCALE
from fluvius.feeds.events import AuctionInformation as AuctionInformation
from fluvius.feeds.events import BookLevelUpdate as BookLevelUpdate
from fluvius.feeds.events import Event as Event
from fluvius.feeds.events import EventBatch as EventBatch
from fluvius.feeds.events import OfficialPrice as OfficialPrice
from fluvius.feeds.events import OperationalHalt as OperationalHalt
from fluvius.feeds.events import Price as Price
from fluvius.feeds.events import Quote as Quote
from fluvius.feeds.events import RetailLiquidityIndicator as RetailLiquidityIndicator
from fluvius.feeds.events import SecurityDirectory as SecurityDirectory
from fluvius.feeds.events import SecurityEvent as SecurityEvent
from fluvius.feeds.events import ShortSaleStatus as ShortSaleStatus
from fluvius.feeds.events import SystemEvent as SystemEvent
from fluvius.feeds.events import TimestampNs as TimestampNs
from fluvius.feeds.events import Trade as Trade
from fluvius.feeds.events import TradeBreak as TradeBreak
from fluvius.feeds.events import TradingStatus as TradingStatus
from fluvius.feeds.events import arrow_schema as arrow_schema
from fluvius.feeds.events import dtype_of as dtype_of
from fluvius.feeds.events import event_to_dict as event_to_dict
from fluvius.feeds.events import event_to_json as event_to_json
from fluvius.feeds.events import events_from_array as events_from_array
from fluvius.feeds.events import events_to_array as events_to_array
from fluvius.feeds.events import to_arrow as to_arrow

__all__ = [
    "AuctionInformation",
    "BookLevelUpdate",
    "EVENT_TYPES",
    "Event",
    "EventBatch",
    "IEX_PRICE_FACTOR",
    "KINDS",
    "OfficialPrice",
    "OperationalHalt",
    "PRICE_SCALE",
    "Price",
    "Quote",
    "RetailLiquidityIndicator",
    "SecurityDirectory",
    "SecurityEvent",
    "ShortSaleStatus",
    "SystemEvent",
    "TimestampNs",
    "Trade",
    "TradeBreak",
    "TradingStatus",
    "arrow_schema",
    "dtype_of",
    "event_to_dict",
    "event_to_json",
    "events_from_array",
    "events_to_array",
    "to_arrow",
]
