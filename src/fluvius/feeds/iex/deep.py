"""DEEP 1.0 messages (Message Protocol ID 0x8004): layouts of every message type.

From IEX DEEP Specification v1.08 (2021-10-19) in ``shared/reference/iex-specs/``: the
administrative messages (``S D H I O P``) and ``T X B A`` are byte-identical to TOPS 1.6
(:mod:`fluvius.feeds.iex.tops`); DEEP has no Quote Update and adds the Security Event
``E`` and the Price Level Updates ``8`` (buy) and ``5`` (sell). The side of a price level
update is its type byte; its Event Flags (offset 1) are 1 when the book event is complete
(``event_end``) and 0 while the book is in transition.

>>> DEEP_LAYOUTS[ord("8")].kind, DEEP_LAYOUTS[ord("5")].constants
('book_level_update', (('side', 'S'),))
"""

from __future__ import annotations

from fluvius.feeds.iex._layout import Conv, Field, MessageLayout, admin_fields
from fluvius.feeds.iex.tops import ADMIN_LAYOUTS, TRADE_LAYOUTS

__all__ = ["DEEP_LAYOUTS", "PLU_BUY", "PLU_SELL"]

PLU_BUY = 0x38  # '8'
PLU_SELL = 0x35  # '5'


def _price_level_update(type_byte: int, side: str) -> MessageLayout:
    # Price Level Update Message (30): Event Flags 1, Size 18, Price 22
    return MessageLayout(
        type_byte,
        f"Price Level Update ({'buy' if side == 'B' else 'sell'} side)",
        30,
        "book_level_update",
        (
            *admin_fields(),
            Field("event_end", 1, "u1", Conv.BIT0),
            Field("sz", 18, "<u4"),
            Field("px", 22, "<i8", Conv.PRICE),
        ),
        constants=(("side", side),),
    )


# Security Event Message (18): Security Event 1 ('O' opening / 'C' closing process complete)
SECURITY_EVENT_LAYOUT = MessageLayout(
    0x45,
    "Security Event",
    18,
    "security_event",
    (*admin_fields(), Field("security_event", 1, "S1", Conv.CODE)),
)

DEEP_LAYOUTS: dict[int, MessageLayout] = {
    **ADMIN_LAYOUTS,
    **TRADE_LAYOUTS,
    SECURITY_EVENT_LAYOUT.type_byte: SECURITY_EVENT_LAYOUT,
    PLU_BUY: _price_level_update(PLU_BUY, "B"),
    PLU_SELL: _price_level_update(PLU_SELL, "S"),
}
"""Every DEEP 1.0 message type (type byte → layout)."""
