"""TOPS 1.6 messages (Message Protocol ID 0x8003): layouts of every message type.

Offsets, lengths and codes are from IEX TOPS Specification v1.66 (2021-10-19), section
"Messages" and Appendix A, in ``shared/reference/iex-specs/``: every message starts with
the type byte, a one-byte type-specific field at offset 1 and the Timestamp at offset 2;
messages about a symbol carry it at offset 10. All integers are little-endian; Price is a
signed int64 with 4 implied decimals; Integer is unsigned 32-bit.

The Retail Liquidity Indicator ``I`` is documented from v1.66 on. TOPS 1.5 (0x8002) differs
only by 4 reserved bytes at the end of ``T`` and ``B``; longer messages are accepted, so
the same table decodes it.

>>> TOPS_LAYOUTS[ord("Q")].length, TOPS_LAYOUTS[ord("Q")].kind
(42, 'quote')
"""

from __future__ import annotations

from fluvius.feeds.iex._layout import Conv, Field, MessageLayout, admin_fields

__all__ = [
    "ADMIN_LAYOUTS",
    "TOPS_LAYOUTS",
    "TRADE_LAYOUTS",
]

_A = admin_fields

# Administrative messages: byte-identical in TOPS 1.6 and DEEP 1.0.
ADMIN_LAYOUTS: dict[int, MessageLayout] = {
    m.type_byte: m
    for m in (
        # System Event Message (10): System Event at 1
        MessageLayout(
            0x53,
            "System Event",
            10,
            "system_event",
            (*_A(symbol=False), Field("system_event", 1, "S1", Conv.CODE)),
        ),
        # Security Directory Message (31): Flags 1, Round Lot Size 18, Adjusted POC Price 22,
        # LULD Tier 30
        MessageLayout(
            0x44,
            "Security Directory",
            31,
            "security_directory",
            (
                *_A(),
                Field("flags", 1, "u1"),
                Field("round_lot_size", 18, "<u4"),
                Field("adjusted_poc_price", 22, "<i8", Conv.PRICE),
                Field("luld_tier", 30, "u1"),
            ),
        ),
        # Trading Status Message (22): Trading Status 1, Reason 18 (String 4)
        MessageLayout(
            0x48,
            "Trading Status",
            22,
            "trading_status",
            (
                *_A(),
                Field("trading_status", 1, "S1", Conv.CODE),
                Field("reason", 18, "S4", Conv.TEXT),
            ),
        ),
        # Retail Liquidity Indicator Message (18): Retail Liquidity Indicator 1
        MessageLayout(
            0x49,
            "Retail Liquidity Indicator",
            18,
            "retail_liquidity_indicator",
            (*_A(), Field("retail_liquidity_indicator", 1, "S1", Conv.CODE)),
        ),
        # Operational Halt Status Message (18): Operational Halt Status 1
        MessageLayout(
            0x4F,
            "Operational Halt Status",
            18,
            "operational_halt",
            (*_A(), Field("operational_halt_status", 1, "S1", Conv.CODE)),
        ),
        # Short Sale Price Test Status Message (19): status 1 (a number 0/1), Detail 18
        MessageLayout(
            0x50,
            "Short Sale Price Test Status",
            19,
            "short_sale_status",
            (
                *_A(),
                Field("short_sale_price_test_status", 1, "u1"),
                Field("detail", 18, "S1", Conv.CODE),
            ),
        ),
    )
}

# Trading messages shared by TOPS 1.6 and DEEP 1.0.
TRADE_LAYOUTS: dict[int, MessageLayout] = {
    m.type_byte: m
    for m in (
        # Trade Report Message (38): Sale Condition Flags 1, Size 18, Price 22, Trade ID 30
        MessageLayout(
            0x54,
            "Trade Report",
            38,
            "trade",
            (
                *_A(),
                Field("flags", 1, "u1"),
                Field("sz", 18, "<u4"),
                Field("px", 22, "<i8", Conv.PRICE),
                Field("trade_id", 30, "<i8"),
            ),
        ),
        # Official Price Message (26): Price Type 1, Official Price 18
        MessageLayout(
            0x58,
            "Official Price",
            26,
            "official_price",
            (
                *_A(),
                Field("price_type", 1, "S1", Conv.CODE),
                Field("official_price", 18, "<i8", Conv.PRICE),
            ),
        ),
        # Trade Break Message (38): the Trade Report layout
        MessageLayout(
            0x42,
            "Trade Break",
            38,
            "trade_break",
            (
                *_A(),
                Field("sale_condition_flags", 1, "u1"),
                Field("size", 18, "<u4"),
                Field("price", 22, "<i8", Conv.PRICE),
                Field("trade_id", 30, "<i8"),
            ),
        ),
        # Auction Information Message (80); Scheduled Auction Time (44) is Event Time:
        # u32 seconds. The prices after it sit at unaligned offsets 48, 56, 64, 72.
        MessageLayout(
            0x41,
            "Auction Information",
            80,
            "auction_information",
            (
                *_A(),
                Field("auction_type", 1, "S1", Conv.CODE),
                Field("paired_shares", 18, "<u4"),
                Field("reference_price", 22, "<i8", Conv.PRICE),
                Field("indicative_clearing_price", 30, "<i8", Conv.PRICE),
                Field("imbalance_shares", 38, "<u4"),
                Field("imbalance_side", 42, "S1", Conv.CODE),
                Field("extension_number", 43, "u1"),
                Field("scheduled_auction_time", 44, "<u4", Conv.SECONDS),
                Field("auction_book_clearing_price", 48, "<i8", Conv.PRICE),
                Field("collar_reference_price", 56, "<i8", Conv.PRICE),
                Field("lower_auction_collar", 64, "<i8", Conv.PRICE),
                Field("upper_auction_collar", 72, "<i8", Conv.PRICE),
            ),
        ),
    )
}

# Quote Update Message (42): Flags 1, Bid Size 18, Bid Price 22, Ask Price 30, Ask Size 38.
# Note the order: bid size before bid price, ask price before ask size.
QUOTE_LAYOUT = MessageLayout(
    0x51,
    "Quote Update",
    42,
    "quote",
    (
        *_A(),
        Field("flags", 1, "u1"),
        Field("bid_sz", 18, "<u4"),
        Field("bid_px", 22, "<i8", Conv.PRICE),
        Field("ask_px", 30, "<i8", Conv.PRICE),
        Field("ask_sz", 38, "<u4"),
    ),
)

TOPS_LAYOUTS: dict[int, MessageLayout] = {
    **ADMIN_LAYOUTS,
    **TRADE_LAYOUTS,
    QUOTE_LAYOUT.type_byte: QUOTE_LAYOUT,
}
"""Every TOPS 1.6 message type (type byte → layout)."""
