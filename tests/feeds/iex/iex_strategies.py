"""Hypothesis strategies for unified IEX events, and an independent struct-level wire reading.

Shared by the encoder, book and live tests (imported as a plain module: pytest puts this
directory on ``sys.path``).
"""

from __future__ import annotations

import struct
from typing import Any

from hypothesis import strategies as st

from fluvius.feeds import events as ev
from fluvius.feeds.iex.encode import encode_segments

F = ev.IEX_PRICE_FACTOR
SYMBOL_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ."

symbols = st.text(SYMBOL_CHARS, min_size=1, max_size=8)
ts = st.integers(0, 2**62)
u32 = st.integers(0, 2**32 - 1)
u8 = st.integers(0, 255)
price = st.integers(-(2**63 // F), (2**63 - 1) // F).map(lambda p: p * F)
small_price = st.integers(0, 10**7).map(lambda p: p * F)


def _code(letters: str) -> st.SearchStrategy[str]:
    return st.sampled_from(list(letters))


# per kind: the fields after the common ones, in dataclass order
KIND_FIELDS: dict[str, tuple[st.SearchStrategy[Any], ...]] = {
    "quote": (price, u32, price, u32, u8),
    "trade": (price, u32, st.integers(-(2**63), 2**63 - 1), u8),
    "book_level_update": (_code("BS"), price, u32, st.booleans()),
    "trading_status": (
        _code("HOPT"),
        st.sampled_from(["", "T1", "IPO1", "IPOD", "MCB3", "NA", "T2", "MCB1"]),
    ),
    "system_event": (_code("OSRMEC"),),
    "security_directory": (u8, u32, price, st.integers(0, 2)),
    "auction_information": (
        _code("OCIHV"),
        u32,
        price,
        price,
        u32,
        _code("BSN"),
        u8,
        u32.map(lambda s: s * 1_000_000_000),
        price,
        price,
        price,
        price,
    ),
    "trade_break": (u8, u32, price, st.integers(-(2**63), 2**63 - 1)),
    "official_price": (_code("QM"), price),
    "short_sale_status": (st.integers(0, 1), _code(" ACDN")),
    "operational_halt": (_code("ON"),),
    "retail_liquidity_indicator": (_code(" ABC"),),
    "security_event": (_code("OC"),),
}
TOPS_KINDS = sorted(set(KIND_FIELDS) - {"book_level_update", "security_event"})
DEEP_KINDS = sorted(set(KIND_FIELDS) - {"quote"})


@st.composite
def event_streams(draw: st.DrawFn, kinds: list[str], max_size: int = 30) -> list[ev.Event]:
    """Events with consecutive ``seq`` from a random start, in runs sharing ``recv_ns``."""
    n = draw(st.integers(1, max_size))
    seq = draw(st.integers(1, 2**40))
    # a classic pcap stores the capture time's seconds in 32 bits: stay below 2^32 s, with
    # room for max_size increments of up to 1 s
    recv = draw(st.integers(0, (2**32 - max_size - 1) * 10**9))
    out: list[ev.Event] = []
    for _ in range(n):
        kind = draw(st.sampled_from(kinds))
        cls = ev.EVENT_TYPES[kind]
        symbol = "" if kind == "system_event" else draw(symbols)
        fields = [draw(s) for s in KIND_FIELDS[kind]]
        out.append(cls("IEX", symbol, draw(ts), recv, seq, *fields))  # type: ignore[call-arg]
        seq += 1
        if draw(st.integers(0, 3)) == 0:
            recv += draw(st.integers(1, 10**9))
    return out


# -- an independent reading of the specs: struct formats and field order per message type
WIRE: dict[str, tuple[str, bytes]] = {
    "system_event": ("<cc q", b"S"),
    "security_directory": ("<cB q 8s I q B", b"D"),
    "trading_status": ("<cc q 8s 4s", b"H"),
    "retail_liquidity_indicator": ("<cc q 8s", b"I"),
    "operational_halt": ("<cc q 8s", b"O"),
    "short_sale_status": ("<cB q 8s c", b"P"),
    "security_event": ("<cc q 8s", b"E"),
    "quote": ("<cB q 8s I q q I", b"Q"),
    "trade": ("<cB q 8s I q q", b"T"),
    "trade_break": ("<cB q 8s I q q", b"B"),
    "official_price": ("<cc q 8s q", b"X"),
    "book_level_update": ("<cB q 8s I q", b"8"),
    "auction_information": ("<cc q 8s I q q I c B I q q q q", b"A"),
}


def wire_bytes(e: ev.Event) -> bytes:
    """The message of event ``e`` packed with :mod:`struct` straight from the spec tables."""
    fmt, t = WIRE[e.kind]
    sym = e.symbol.ljust(8).encode()
    c = e.ts_ns
    d: Any = e
    match e.kind:
        case "system_event":
            return struct.pack(fmt, t, d.system_event.encode(), c)
        case "security_directory":
            return struct.pack(
                fmt, t, d.flags, c, sym, d.round_lot_size, d.adjusted_poc_price // F, d.luld_tier
            )
        case "trading_status":
            reason = d.reason.ljust(4).encode()
            return struct.pack(fmt, t, d.trading_status.encode(), c, sym, reason)
        case "retail_liquidity_indicator":
            return struct.pack(fmt, t, d.retail_liquidity_indicator.encode(), c, sym)
        case "operational_halt":
            return struct.pack(fmt, t, d.operational_halt_status.encode(), c, sym)
        case "short_sale_status":
            return struct.pack(fmt, t, d.short_sale_price_test_status, c, sym, d.detail.encode())
        case "security_event":
            return struct.pack(fmt, t, d.security_event.encode(), c, sym)
        case "quote":
            return struct.pack(
                fmt, t, d.flags, c, sym, d.bid_sz, d.bid_px // F, d.ask_px // F, d.ask_sz
            )
        case "trade":
            return struct.pack(fmt, t, d.flags, c, sym, d.sz, d.px // F, d.trade_id)
        case "trade_break":
            return struct.pack(
                fmt, t, d.sale_condition_flags, c, sym, d.size, d.price // F, d.trade_id
            )
        case "official_price":
            return struct.pack(fmt, t, d.price_type.encode(), c, sym, d.official_price // F)
        case "book_level_update":
            t = b"8" if d.side == "B" else b"5"
            return struct.pack(fmt, t, int(d.event_end), c, sym, d.sz, d.px // F)
        case "auction_information":
            return struct.pack(
                fmt,
                t,
                d.auction_type.encode(),
                c,
                sym,
                d.paired_shares,
                d.reference_price // F,
                d.indicative_clearing_price // F,
                d.imbalance_shares,
                d.imbalance_side.encode(),
                d.extension_number,
                d.scheduled_auction_time // 1_000_000_000,
                d.auction_book_clearing_price // F,
                d.collar_reference_price // F,
                d.lower_auction_collar // F,
                d.upper_auction_collar // F,
            )
    raise AssertionError(e.kind)


HEADER = struct.Struct("<BBHIIHHqqq")


def split_segment(segment: bytes) -> tuple[tuple[int, ...], list[bytes]]:
    """The 10 IEX-TP header fields and the message blocks' contents, read with struct."""
    head = HEADER.unpack_from(segment)
    pos, messages = 40, []
    for _ in range(head[6]):
        (length,) = struct.unpack_from("<H", segment, pos)
        messages.append(segment[pos + 2 : pos + 2 + length])
        pos += 2 + length
    assert pos == len(segment) == 40 + head[5]
    return head, messages


@st.composite
def damaged(draw: st.DrawFn) -> list[tuple[bytes, bool]]:
    """Datagrams of random events, some damaged (flipped, cut, padded) or repeated."""
    protocol = draw(st.sampled_from(["tops", "deep"]))
    events = draw(event_streams(TOPS_KINDS if protocol == "tops" else DEEP_KINDS, 20))
    per = draw(st.integers(1, 4))
    out = []
    for _, seg in encode_segments(events, protocol=protocol, max_per_segment=per):
        data, cut = bytearray(seg), False
        match draw(st.integers(0, 6)):
            case 0:  # flip a byte
                i = draw(st.integers(0, len(data) - 1))
                data[i] ^= draw(st.integers(1, 255))
            case 1:  # cut short, as a capture would
                data, cut = data[: draw(st.integers(0, len(data)))], True
            case 2:  # cut short without saying so
                data = data[: draw(st.integers(0, len(data)))]
            case 3:  # trailing garbage
                data += bytes(draw(st.integers(1, 5)))
            case _:
                pass
        out.append((bytes(data), cut))
        if draw(st.integers(0, 9)) == 0:
            out.append(out[-1])  # a duplicate
    return out
