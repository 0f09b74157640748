"""IEX wire layouts as the encoder writes them: one table, read off the exchange PDFs.

Each message type maps to its fields in wire order, ``(name, numpy type code)``, all
little-endian and packed (no alignment). Names are the specification's field names in
snake_case. The table is written independently of the decoder's own layouts, so that the
round-trip tests compare two readings of the specifications, not one reading with itself.

Sources (``shared/reference/iex-specs``): TOPS 1.66 (2021-10-19) "Administrative", "Trading"
and "Auction" message formats; DEEP 1.08 (2021-10-19) the same plus Security Event and Price
Level Update; IEX Transport 1.26 "IEX-TP Header" and "Message Block".

>>> MESSAGE_DTYPES[b"Q"].itemsize, MESSAGE_DTYPES[b"A"].itemsize, MESSAGE_DTYPES[b"8"].itemsize
(42, 80, 30)
>>> SEGMENT_HEADER.itemsize
40
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DEEP_PROTOCOL_ID",
    "DEEP_TYPES",
    "MESSAGE_DTYPES",
    "MESSAGE_FIELDS",
    "SEGMENT_HEADER",
    "TOPS_PROTOCOL_ID",
    "TOPS_TYPES",
]

TOPS_PROTOCOL_ID = 0x8003  # TOPS 1.6, TOPS spec "Protocol Identification on IEX-TP"
DEEP_PROTOCOL_ID = 0x8004  # DEEP 1.0, DEEP spec "Protocol Identification on IEX-TP"

_HEAD = (("message_type", "S1"),)
_SYM = (("timestamp", "<i8"), ("symbol", "S8"))

MESSAGE_FIELDS: dict[bytes, tuple[tuple[str, str], ...]] = {
    # administrative messages (TOPS and DEEP alike)
    b"S": (*_HEAD, ("system_event", "S1"), ("timestamp", "<i8")),
    b"D": (
        *_HEAD,
        ("flags", "u1"),
        *_SYM,
        ("round_lot_size", "<u4"),
        ("adjusted_poc_price", "<i8"),
        ("luld_tier", "u1"),
    ),
    b"H": (*_HEAD, ("trading_status", "S1"), *_SYM, ("reason", "S4")),
    b"I": (*_HEAD, ("retail_liquidity_indicator", "S1"), *_SYM),
    b"O": (*_HEAD, ("operational_halt_status", "S1"), *_SYM),
    b"P": (*_HEAD, ("short_sale_price_test_status", "u1"), *_SYM, ("detail", "S1")),
    b"E": (*_HEAD, ("security_event", "S1"), *_SYM),  # DEEP only
    # trading messages
    b"Q": (  # TOPS only; note bid size before bid price, ask price before ask size
        *_HEAD,
        ("flags", "u1"),
        *_SYM,
        ("bid_size", "<u4"),
        ("bid_price", "<i8"),
        ("ask_price", "<i8"),
        ("ask_size", "<u4"),
    ),
    b"T": (*_HEAD, ("flags", "u1"), *_SYM, ("size", "<u4"), ("price", "<i8"), ("trade_id", "<i8")),
    b"B": (*_HEAD, ("flags", "u1"), *_SYM, ("size", "<u4"), ("price", "<i8"), ("trade_id", "<i8")),
    b"X": (*_HEAD, ("price_type", "S1"), *_SYM, ("official_price", "<i8")),
    b"8": (*_HEAD, ("event_flags", "u1"), *_SYM, ("size", "<u4"), ("price", "<i8")),
    b"5": (*_HEAD, ("event_flags", "u1"), *_SYM, ("size", "<u4"), ("price", "<i8")),
    # auction messages
    b"A": (
        *_HEAD,
        ("auction_type", "S1"),
        *_SYM,
        ("paired_shares", "<u4"),
        ("reference_price", "<i8"),
        ("indicative_clearing_price", "<i8"),
        ("imbalance_shares", "<u4"),
        ("imbalance_side", "S1"),
        ("extension_number", "u1"),
        ("scheduled_auction_time", "<u4"),  # Event Time: seconds, not ns
        ("auction_book_clearing_price", "<i8"),
        ("collar_reference_price", "<i8"),
        ("lower_auction_collar", "<i8"),
        ("upper_auction_collar", "<i8"),
    ),
}

MESSAGE_DTYPES: dict[bytes, np.dtype[np.void]] = {
    t: np.dtype(list(fields)) for t, fields in MESSAGE_FIELDS.items()
}

TOPS_TYPES = frozenset(b"SDHIOPQTXBA"[i : i + 1] for i in range(11))
DEEP_TYPES = frozenset(b"SDHIOPE85TXBA"[i : i + 1] for i in range(13))

SEGMENT_HEADER = np.dtype(
    [
        ("version", "u1"),
        ("reserved", "u1"),
        ("protocol_id", "<u2"),
        ("channel_id", "<u4"),
        ("session_id", "<u4"),
        ("payload_length", "<u2"),
        ("message_count", "<u2"),
        ("stream_offset", "<i8"),
        ("first_seq", "<i8"),
        ("send_time", "<i8"),
    ]
)
