"""An independent writer of IEX test captures: struct formats typed in from the specs.

Nothing here uses fluvius's decoders, layouts or encoder (only its event classes): the
layouts are written again, field by field, from IEX TOPS v1.66 / DEEP v1.08 / Transport
v1.26, so the decoders are checked against a second reading of the specs rather than
against themselves. Each message builder returns the message bytes and the unified event it
must decode to (``Msg``); ``recv_ns`` and ``seq`` are filled in by :class:`Feed`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fluvius.feeds import events as ev

SCALE = 100_000  # IEX 1e-4 prices -> 1e-9


@dataclass
class Msg:
    """A message's bytes and the event it must become (common fields filled later)."""

    raw: bytes
    cls: type[ev.Event] | None  # None: a message the decoder must skip (unknown type)
    fields: dict[str, Any] = field(default_factory=dict)

    def event(self, recv_ns: int, seq: int) -> ev.Event:
        assert self.cls is not None
        return self.cls(venue="IEX", recv_ns=recv_ns, seq=seq, **self.fields)


def _sym(symbol: str) -> bytes:
    return symbol.encode("ascii").ljust(8, b" ")


def system_event(code: str, ts: int) -> Msg:
    raw = struct.pack("<ccq", b"S", code.encode(), ts)
    return Msg(raw, ev.SystemEvent, {"symbol": "", "ts_ns": ts, "system_event": code})


def security_directory(sym: str, ts: int, flags: int, lot: int, poc: int, tier: int) -> Msg:
    raw = struct.pack("<cBq8sIqB", b"D", flags, ts, _sym(sym), lot, poc, tier)
    return Msg(
        raw,
        ev.SecurityDirectory,
        {"symbol": sym, "ts_ns": ts, "flags": flags, "round_lot_size": lot,
         "adjusted_poc_price": poc * SCALE, "luld_tier": tier},
    )  # fmt: skip


def trading_status(sym: str, ts: int, status: str, reason: str) -> Msg:
    raw = struct.pack("<ccq8s4s", b"H", status.encode(), ts, _sym(sym), reason.encode().ljust(4))
    return Msg(
        raw,
        ev.TradingStatus,
        {"symbol": sym, "ts_ns": ts, "trading_status": status, "reason": reason},
    )


def retail_liquidity(sym: str, ts: int, indicator: str) -> Msg:
    raw = struct.pack("<ccq8s", b"I", indicator.encode(), ts, _sym(sym))
    return Msg(
        raw,
        ev.RetailLiquidityIndicator,
        {"symbol": sym, "ts_ns": ts, "retail_liquidity_indicator": indicator},
    )


def operational_halt(sym: str, ts: int, status: str) -> Msg:
    raw = struct.pack("<ccq8s", b"O", status.encode(), ts, _sym(sym))
    return Msg(
        raw, ev.OperationalHalt, {"symbol": sym, "ts_ns": ts, "operational_halt_status": status}
    )


def short_sale(sym: str, ts: int, status: int, detail: str) -> Msg:
    raw = struct.pack("<cBq8sc", b"P", status, ts, _sym(sym), detail.encode())
    return Msg(
        raw,
        ev.ShortSaleStatus,
        {"symbol": sym, "ts_ns": ts, "short_sale_price_test_status": status, "detail": detail},
    )


def quote(sym: str, ts: int, bid_sz: int, bid: int, ask: int, ask_sz: int, flags: int = 0) -> Msg:
    # Quote Update: bid size (18) before bid price (22); ask price (30) before ask size (38)
    raw = struct.pack("<cBq8sIqqI", b"Q", flags, ts, _sym(sym), bid_sz, bid, ask, ask_sz)
    return Msg(
        raw,
        ev.Quote,
        {"symbol": sym, "ts_ns": ts, "bid_px": bid * SCALE, "bid_sz": bid_sz,
         "ask_px": ask * SCALE, "ask_sz": ask_sz, "flags": flags},
    )  # fmt: skip


def trade(sym: str, ts: int, size: int, price: int, trade_id: int, flags: int = 0) -> Msg:
    raw = struct.pack("<cBq8sIqq", b"T", flags, ts, _sym(sym), size, price, trade_id)
    return Msg(
        raw,
        ev.Trade,
        {"symbol": sym, "ts_ns": ts, "px": price * SCALE, "sz": size, "trade_id": trade_id,
         "flags": flags},
    )  # fmt: skip


def trade_break(sym: str, ts: int, size: int, price: int, trade_id: int, flags: int = 0) -> Msg:
    raw = struct.pack("<cBq8sIqq", b"B", flags, ts, _sym(sym), size, price, trade_id)
    return Msg(
        raw,
        ev.TradeBreak,
        {"symbol": sym, "ts_ns": ts, "sale_condition_flags": flags, "size": size,
         "price": price * SCALE, "trade_id": trade_id},
    )  # fmt: skip


def official_price(sym: str, ts: int, price_type: str, price: int) -> Msg:
    raw = struct.pack("<ccq8sq", b"X", price_type.encode(), ts, _sym(sym), price)
    return Msg(
        raw,
        ev.OfficialPrice,
        {"symbol": sym, "ts_ns": ts, "price_type": price_type, "official_price": price * SCALE},
    )


def auction(sym: str, ts: int, values: tuple[int, ...], side: str = "B", kind: str = "O") -> Msg:
    paired, ref, icp, imb, ext, sched, abcp, crp, lower, upper = values
    raw = struct.pack(
        "<ccq8sIqqIcBIqqqq",
        b"A", kind.encode(), ts, _sym(sym), paired, ref, icp, imb, side.encode(), ext, sched,
        abcp, crp, lower, upper,
    )  # fmt: skip
    assert len(raw) == 80
    return Msg(
        raw,
        ev.AuctionInformation,
        {"symbol": sym, "ts_ns": ts, "auction_type": kind, "paired_shares": paired,
         "reference_price": ref * SCALE, "indicative_clearing_price": icp * SCALE,
         "imbalance_shares": imb, "imbalance_side": side, "extension_number": ext,
         "scheduled_auction_time": sched * 1_000_000_000,
         "auction_book_clearing_price": abcp * SCALE, "collar_reference_price": crp * SCALE,
         "lower_auction_collar": lower * SCALE, "upper_auction_collar": upper * SCALE},
    )  # fmt: skip


def security_event(sym: str, ts: int, code: str) -> Msg:
    raw = struct.pack("<ccq8s", b"E", code.encode(), ts, _sym(sym))
    return Msg(raw, ev.SecurityEvent, {"symbol": sym, "ts_ns": ts, "security_event": code})


def price_level(side: str, sym: str, ts: int, size: int, price: int, end: bool) -> Msg:
    raw = struct.pack(
        "<cBq8sIq", b"8" if side == "B" else b"5", int(end), ts, _sym(sym), size, price
    )
    return Msg(
        raw,
        ev.BookLevelUpdate,
        {"symbol": sym, "ts_ns": ts, "side": side, "px": price * SCALE, "sz": size,
         "event_end": end},
    )  # fmt: skip


def unknown(type_byte: int, length: int) -> Msg:
    return Msg(bytes([type_byte]) + bytes(length - 1), None)


# ---- transport, network, containers -------------------------------------------------------

TOPS, DEEP = 0x8003, 0x8004


def segment(
    protocol: int,
    session: int,
    first_seq: int,
    messages: list[bytes],
    stream_offset: int,
    *,
    send_time: int = 0,
    channel: int = 1,
    count: int | None = None,
    payload_length: int | None = None,
) -> bytes:
    """One IEX-TP segment (Transport v1.26: 40-byte header, then u16-length blocks)."""
    payload = b"".join(struct.pack("<H", len(m)) + m for m in messages)
    header = struct.pack(
        "<BBHIIHHqqq",
        1, 0, protocol, channel, session,
        len(payload) if payload_length is None else payload_length,
        len(messages) if count is None else count,
        stream_offset, first_seq, send_time,
    )  # fmt: skip
    return header + payload


def frame(
    payload: bytes, *, vlan_tags: int = 0, ip_options: int = 0, dport: int = 10377, proto: int = 17
) -> bytes:
    """Ethernet II (+ 802.1Q/802.1ad tags) / IPv4 (IHL 5 + options words) / UDP, big-endian."""
    eth = bytes.fromhex("01005e15150300112233445566")[:12]
    for i in range(vlan_tags):
        eth += struct.pack(">HH", 0x88A8 if i == 0 and vlan_tags > 1 else 0x8100, 100 + i)
    eth += struct.pack(">H", 0x0800)
    ihl = 5 + ip_options
    udp = struct.pack(">HHHH", 5000, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(
        ">BBHHHBBH4s4s", 0x40 | ihl, 0, 4 * ihl + len(udp), 0, 0x4000, 64, proto, 0,
        bytes([10, 0, 0, 1]), bytes([233, 215, 21, 3]),
    ) + bytes(4 * ip_options)  # fmt: skip
    return eth + ip + udp


def pcap(
    records: list[tuple[int, bytes]],
    *,
    endian: str = "<",
    nano: bool = False,
    snaplen: int = 65535,
) -> bytes:
    """A classic pcap file; frames longer than ``snaplen`` are cut (orig_len kept)."""
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, 1)
    for ts_ns, data in records:
        sec, frac = divmod(ts_ns, 1_000_000_000)
        if not nano:
            frac //= 1000
        kept = data[:snaplen]
        out += struct.pack(endian + "IIII", sec, frac, len(kept), len(data)) + kept
    return out


def _pad4(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


def ng_block(endian: str, block_type: int, body: bytes) -> bytes:
    body = _pad4(body)
    total = 12 + len(body)
    return struct.pack(endian + "II", block_type, total) + body + struct.pack(endian + "I", total)


def ng_shb(endian: str = "<", comment: bytes = b"") -> bytes:
    opts = b""
    if comment:
        opts = struct.pack(endian + "HH", 1, len(comment)) + _pad4(comment) + bytes(4)
    body = struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1) + opts
    return ng_block(endian, 0x0A0D0D0A, body)


def ng_idb(
    endian: str = "<", tsresol: int | None = 6, snaplen: int = 0, linktype: int = 1
) -> bytes:
    opts = struct.pack(endian + "HH", 2, 4) + b"eth0"  # if_name
    if tsresol is not None:
        opts += struct.pack(endian + "HH", 9, 1) + _pad4(bytes([tsresol]))
    opts += bytes(4)
    return ng_block(endian, 1, struct.pack(endian + "HHI", linktype, 0, snaplen) + opts)


def ng_epb(endian: str, iface: int, ticks: int, data: bytes, orig: int | None = None) -> bytes:
    head = struct.pack(
        endian + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data),
        len(data) if orig is None else orig,
    )  # fmt: skip
    return ng_block(endian, 6, head + _pad4(data) + struct.pack(endian + "HH", 0, 0))


def ng_pb(endian: str, iface: int, ticks: int, data: bytes) -> bytes:
    head = struct.pack(
        endian + "HHIIII", iface, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)
    )
    return ng_block(endian, 2, head + _pad4(data))


def ng_spb(endian: str, data: bytes) -> bytes:
    return ng_block(endian, 3, struct.pack(endian + "I", len(data)) + _pad4(data))


def pcapng(records: list[tuple[int, bytes]], layout: list[tuple[str, ...]]) -> bytes:
    """A pcapng file of ``records`` (ns capture times, exact in the units chosen).

    ``layout`` gives per record how it is written: (byte order, what precedes it), where
    "section" starts a new section (an SHB with a comment and two interfaces: 0 in µs, 1 in
    ns), "skip" adds a name-resolution and a custom block; the record goes in an EPB of
    interface 0 or 1 by the time's precision, or in an obsolete PB when "pb" is given.
    """
    out = b""
    endian = ""
    for (ts_ns, data), how in zip(records, layout, strict=True):
        if not endian or "section" in how:
            endian = how[0]
            out += ng_shb(endian, comment=b"File created by merging: a.pcap b.pcap")
            out += ng_idb(endian, tsresol=6, snaplen=65535) + ng_idb(endian, tsresol=9)
        if "skip" in how:
            out += ng_block(endian, 4, bytes(8)) + ng_block(endian, 0x40000BAD, b"custom")
        iface, ticks = (0, ts_ns // 1000) if ts_ns % 1000 == 0 else (1, ts_ns)
        if "pb" in how:
            out += ng_pb(endian, iface, ticks, data)
        else:
            out += ng_epb(endian, iface, ticks, data)
    if not out:
        out = ng_shb("<") + ng_idb("<")
    return out


@dataclass
class Feed:
    """Builds a sequenced IEX-TP stream: segments of messages with seq and stream offsets."""

    protocol: int = TOPS
    session: int = 0x42870000
    next_seq: int = 1
    next_offset: int = 0
    expected: list[ev.Event] = field(default_factory=list)
    datagrams: list[tuple[int, bytes]] = field(default_factory=list)  # (capture ts, payload)

    def add(self, messages: list[Msg], recv_ns: int) -> bytes:
        raws = [m.raw for m in messages]
        seg = segment(self.protocol, self.session, self.next_seq, raws, self.next_offset)
        for i, m in enumerate(messages):
            if m.cls is not None:
                self.expected.append(m.event(recv_ns, self.next_seq + i))
        self.next_seq += len(messages)
        self.next_offset += len(seg) - 40
        self.datagrams.append((recv_ns, seg))
        return seg


def shared_sample(name: str = "TOPS16_20170710_sample.pcap.gz") -> Path | None:
    """The real IEX sample in ``shared/data/iex`` of the nearest ancestor that has it.

    IEX's data is never committed: a clone without it gets None (the tests skip).
    """
    for parent in Path(__file__).resolve().parents:
        path = parent / "shared" / "data" / "iex" / name
        if path.exists():
            return path
    return None


def sample_segments(data: bytes) -> list[tuple[int, int]]:
    """(byte offset of the IEX-TP header, message count) of each segment of a classic pcap.

    Written from the pcap, Ethernet, IPv4 and UDP layouts alone (no fluvius reader).
    """
    assert data[:4] == b"\xd4\xc3\xb2\xa1", "a little-endian microsecond pcap"
    out = []
    pos = 24
    while pos + 16 <= len(data):
        (incl,) = struct.unpack_from("<I", data, pos + 8)
        frame_at = pos + 16
        if frame_at + incl > len(data):
            break
        ip = frame_at + 14
        while data[ip - 2 : ip] in (b"\x81\x00", b"\x88\xa8", b"\x91\x00"):  # VLAN tags
            ip += 4
        udp = ip + (data[ip] & 0x0F) * 4
        iex = udp + 8
        if incl >= iex - frame_at + 40 and data[iex] == 1:
            out.append((iex, struct.unpack_from("<H", data, iex + 14)[0]))
        pos = frame_at + incl
    return out


def parquet_events(out: Path) -> dict[str, list[dict[str, object]]]:
    """A Parquet dataset written by ``write_parquet`` as event dicts per kind (as
    ``event_to_dict`` gives them): the kind from the partition, timestamps as int ns."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    found: dict[str, list[dict[str, object]]] = {}
    for part in sorted(out.glob("kind=*")):
        kind = part.name.removeprefix("kind=")
        table = ds.dataset(part, format="parquet").to_table()
        columns = {}
        for name in table.column_names:
            column = table.column(name)
            if pa.types.is_timestamp(column.type):
                column = column.cast(pa.int64())
            columns[name] = column.to_pylist()
        found[kind] = [
            {"kind": kind, **dict(zip(columns, values, strict=True))}
            for values in zip(*columns.values(), strict=True)
        ]
    return found
