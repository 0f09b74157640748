"""Capture writers: UDP datagrams → Ethernet/IPv4/UDP frames → classic pcap or pcapng bytes.

Design
------
Every writer here is vectorised: a capture is laid out from the payload lengths alone
(:func:`layout_capture` gives each payload's byte offset in the file), then the frame headers
of all packets are written in one pass of numpy operations (:func:`fill_frames`). The caller
writes the payloads at those offsets itself, so the synthetic IEX generator can build a
10^7-message capture in place without first concatenating the segments elsewhere;
:func:`capture_bytes` does both steps for payloads given as ``bytes``.

Layout of one packet (all network fields big-endian, RFC 791 / RFC 768)::

    pcap record header (16, file byte order) | pcapng EPB header (28, file byte order)
    Ethernet II (14): dst MAC 01:00:5e + low 23 bits of the group, src MAC, ethertype 0x0800
    IPv4 (20): version 4, IHL 5, total length, identification, DF, TTL 64, protocol 17,
               header checksum (valid), source, destination
    UDP (8): ports, length, checksum 0 ("not computed", allowed over IPv4)
    payload                                 [pcapng: zero padding to 4, trailing block length]

The classic pcap global header, or the pcapng SHB (byte-order magic, section length -1, a
comment) and IDB (options ``if_name`` then ``if_tsresol`` 6 or 9, as in IEX's HIST files),
come first. Timestamps are int64 ns; a microsecond container truncates them to the microsecond.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

__all__ = [
    "CaptureFormat",
    "UdpFlow",
    "capture_bytes",
    "file_header",
    "fill_frames",
    "layout_capture",
    "put_rows",
]

NET_HEADER_BYTES = 14 + 20 + 8
_EPB_HEAD = 28
_PCAP_RECORD = 16


@dataclass(frozen=True, slots=True)
class CaptureFormat:
    """Which capture container to write.

    Parameters
    ----------
    container
        ``"pcap"`` (classic libpcap) or ``"pcapng"`` (SHB, IDB, EPBs).
    nanosecond
        Nanosecond timestamps (pcap magic ``a1b23c4d``; pcapng ``if_tsresol`` 9) instead of
        microseconds.
    byte_order
        ``"<"`` little-endian (what IEX publishes) or ``">"`` big-endian.
    """

    container: Literal["pcap", "pcapng"] = "pcap"
    nanosecond: bool = False
    byte_order: Literal["<", ">"] = "<"

    def __post_init__(self) -> None:
        if self.container not in ("pcap", "pcapng"):
            raise ValueError(f"container must be 'pcap' or 'pcapng', got {self.container=}")
        if self.byte_order not in ("<", ">"):
            raise ValueError(f"byte_order must be '<' or '>', got {self.byte_order=}")

    @property
    def record_overhead(self) -> int:
        """Bytes before the frame in each record (pcap record header or EPB head)."""
        return _PCAP_RECORD if self.container == "pcap" else _EPB_HEAD


@dataclass(frozen=True, slots=True)
class UdpFlow:
    """The addresses written into every frame (defaults: IEX TOPS primary feed, spec §3)."""

    src_ip: str = "23.226.155.132"
    dst_ip: str = "233.215.21.3"
    src_port: int = 10377
    dst_port: int = 10377
    src_mac: bytes = b"\x00\x1b\x21\x3c\x4d\x5e"

    def dst_mac(self) -> bytes:
        """Multicast MAC of the destination group (RFC 1112 §6.4), else a unicast MAC."""
        ip = ipaddress.IPv4Address(self.dst_ip)
        if ip.is_multicast:
            low = int(ip) & 0x7FFFFF
            return b"\x01\x00\x5e" + low.to_bytes(3, "big")
        return b"\x02\x00" + ip.packed


def file_header(fmt: CaptureFormat, snaplen: int = 65535) -> bytes:
    """The bytes before the first record: pcap global header, or pcapng SHB + IDB."""
    o = fmt.byte_order
    if fmt.container == "pcap":
        magic = 0xA1B23C4D if fmt.nanosecond else 0xA1B2C3D4
        return np.array(
            [(magic, 2, 4, 0, 0, snaplen, 1)],
            dtype=np.dtype(
                [
                    ("magic", o + "u4"),
                    ("major", o + "u2"),
                    ("minor", o + "u2"),
                    ("zone", o + "i4"),
                    ("sigfigs", o + "u4"),
                    ("snaplen", o + "u4"),
                    ("linktype", o + "u4"),
                ]
            ),
        ).tobytes()
    u2, u4, i8 = np.dtype(o + "u2"), np.dtype(o + "u4"), np.dtype(o + "i8")

    def pack(*items: tuple[np.dtype[np.generic], int]) -> bytes:
        return b"".join(np.array([v], dtype=d).tobytes() for d, v in items)

    comment = b"fluvius synthetic capture"  # IEX's own files: "File created by merging: ..."
    shb_opts = pack((u2, 1), (u2, len(comment))) + _pad4(comment) + pack((u2, 0), (u2, 0))
    shb = pack((u4, 0x0A0D0D0A), (u4, 28 + len(shb_opts)), (u4, 0x1A2B3C4D), (u2, 1), (u2, 0))
    shb += pack((i8, -1)) + shb_opts + pack((u4, 28 + len(shb_opts)))
    # as in IEX's HIST files: if_name, then if_tsresol
    name = b"eth0"
    idb_opts = pack((u2, 2), (u2, len(name))) + _pad4(name)
    idb_opts += pack((u2, 9), (u2, 1)) + bytes([9 if fmt.nanosecond else 6, 0, 0, 0])
    idb_opts += pack((u2, 0), (u2, 0))
    idb_len = 20 + len(idb_opts)
    idb = pack((u4, 1), (u4, idb_len), (u2, 1), (u2, 0), (u4, snaplen)) + idb_opts
    idb += pack((u4, idb_len))
    return shb + idb


def _pad4(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


def layout_capture(
    payload_lengths: NDArray[np.int64], fmt: CaptureFormat, snaplen: int = 65535
) -> tuple[int, NDArray[np.int64]]:
    """File size and the byte offset of each UDP payload in a capture of these payloads.

    A frame longer than ``snaplen`` takes only ``snaplen`` bytes of the file.
    """
    if snaplen < NET_HEADER_BYTES:
        raise ValueError(f"snaplen must be at least {NET_HEADER_BYTES}, got {snaplen=}")
    frame = np.minimum(payload_lengths.astype(np.int64) + NET_HEADER_BYTES, snaplen)
    record = _PCAP_RECORD + frame if fmt.container == "pcap" else _EPB_HEAD + (frame + 3 & ~3) + 4
    head = len(file_header(fmt, snaplen))
    starts = np.empty(len(record), dtype=np.int64)
    if len(record):
        starts[0] = head
        np.cumsum(record[:-1], out=starts[1:])
        starts[1:] += head
    total = head + int(record.sum())
    return total, starts + fmt.record_overhead + NET_HEADER_BYTES


def put_rows(buf: NDArray[np.uint8], at: NDArray[np.int64], values: NDArray[Any]) -> None:
    """Write ``values[i]`` (fixed-size records or scalars) at byte ``at[i]`` of ``buf``.

    Fancy-indexed stores in the widest word (8, 4, 2 or 1 bytes) that divides the record
    size: rows are grouped by ``at`` modulo the word, and each group goes through a word view
    of ``buf`` starting at that remainder. Chunks bound the index arrays' memory.
    """
    n = len(values)
    raw = np.ascontiguousarray(values).view(np.uint8).reshape(n, -1)
    width = raw.shape[1]
    word = next(w for w in (8, 4, 2, 1) if width % w == 0)
    words = raw.view(f"u{word}")
    per_row = width // word
    span = np.arange(per_row, dtype=np.int64)
    step = max(1, (1 << 15) // per_row)  # index chunks that stay in cache
    groups = [(0, np.arange(n))] if word == 1 else []
    if word > 1:
        rem = at % word
        groups = [(r, np.flatnonzero(rem == r)) for r in range(word)]
    for r, rows in groups:
        if not len(rows):
            continue
        usable = (len(buf) - r) // word * word
        view = buf[r : r + usable].view(f"u{word}")
        index = (at[rows] - r) // word
        for lo in range(0, len(rows), step):
            sel = rows[lo : lo + step]
            view[(index[lo : lo + step, None] + span).ravel()] = words[sel].ravel()


def _ipv4_checksums(total_len: NDArray[np.int64], ident: NDArray[np.int64], const: int) -> Any:
    """RFC 1071 checksums of headers differing only in total length and identification."""
    s = const + total_len + ident
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def fill_frames(
    buf: NDArray[np.uint8],
    payload_offsets: NDArray[np.int64],
    payload_lengths: NDArray[np.int64],
    ts_ns: NDArray[np.int64],
    fmt: CaptureFormat,
    flow: UdpFlow | None = None,
    snaplen: int = 65535,
) -> None:
    """Write the file header and every packet's record and network headers into ``buf``.

    ``buf`` is the whole file (size from :func:`layout_capture`); payload bytes are the
    caller's. Frames longer than ``snaplen`` are recorded truncated (captured < original
    length), as a capture tool would; the caller then must not write past the captured part.
    """
    flow = flow or UdpFlow()
    head = file_header(fmt, snaplen)
    buf[: len(head)] = np.frombuffer(head, dtype=np.uint8)
    n = len(payload_offsets)
    if n == 0:
        return
    off = payload_offsets.astype(np.int64)
    plen = payload_lengths.astype(np.int64)
    frame_len = plen + NET_HEADER_BYTES
    cap_len = np.minimum(frame_len, snaplen)
    eth = off - NET_HEADER_BYTES
    o = fmt.byte_order
    ts = ts_ns.astype(np.int64)
    if fmt.container == "pcap":
        unit = 1 if fmt.nanosecond else 1000
        rec = np.empty(
            n, dtype=[("sec", o + "u4"), ("frac", o + "u4"), ("incl", o + "u4"), ("orig", o + "u4")]
        )
        rec["sec"] = ts // 1_000_000_000
        rec["frac"] = (ts % 1_000_000_000) // unit
        rec["incl"] = cap_len
        rec["orig"] = frame_len
        put_rows(buf, eth - _PCAP_RECORD, rec)
    else:
        ticks = ts if fmt.nanosecond else ts // 1000
        block_len = _EPB_HEAD + ((cap_len + 3) & ~3) + 4
        epb = np.empty(
            n,
            dtype=[
                ("type", o + "u4"),
                ("len", o + "u4"),
                ("iface", o + "u4"),
                ("hi", o + "u4"),
                ("lo", o + "u4"),
                ("cap", o + "u4"),
                ("orig", o + "u4"),
            ],
        )
        epb["type"] = 6
        epb["len"] = block_len
        epb["iface"] = 0
        epb["hi"] = ticks >> 32
        epb["lo"] = ticks & 0xFFFFFFFF
        epb["cap"] = cap_len
        epb["orig"] = frame_len
        start = eth - _EPB_HEAD
        put_rows(buf, start, epb)
        tail = start + block_len - 4
        pad_from = eth + cap_len
        for k in range(3):  # zero the (at most 3) padding bytes
            m = pad_from + k < tail
            buf[(pad_from + k)[m]] = 0
        put_rows(buf, tail, epb["len"].copy())
    src_ip = int(ipaddress.IPv4Address(flow.src_ip))
    dst_ip = int(ipaddress.IPv4Address(flow.dst_ip))
    ident = np.arange(n, dtype=np.int64) & 0xFFFF
    total_len = plen + 28
    # constant 16-bit words of the IPv4 header: 0x4500, flags 0x4000 (DF), TTL 64 | proto 17
    const = 0x4500 + 0x4000 + (64 << 8 | 17)
    const += (src_ip >> 16) + (src_ip & 0xFFFF) + (dst_ip >> 16) + (dst_ip & 0xFFFF)
    net = np.zeros(
        n,
        dtype=[
            ("dst_mac", "S6"),
            ("src_mac", "S6"),
            ("ethertype", ">u2"),
            ("ver_ihl", "u1"),
            ("tos", "u1"),
            ("total_len", ">u2"),
            ("ident", ">u2"),
            ("frag", ">u2"),
            ("ttl", "u1"),
            ("proto", "u1"),
            ("checksum", ">u2"),
            ("src", ">u4"),
            ("dst", ">u4"),
            ("sport", ">u2"),
            ("dport", ">u2"),
            ("udp_len", ">u2"),
            ("udp_sum", ">u2"),
        ],
    )
    net["dst_mac"] = flow.dst_mac()
    net["src_mac"] = flow.src_mac
    net["ethertype"] = 0x0800
    net["ver_ihl"] = 0x45
    net["total_len"] = total_len
    net["ident"] = ident
    net["frag"] = 0x4000
    net["ttl"] = 64
    net["proto"] = 17
    net["checksum"] = _ipv4_checksums(total_len, ident, const)
    net["src"] = src_ip
    net["dst"] = dst_ip
    net["sport"] = flow.src_port
    net["dport"] = flow.dst_port
    net["udp_len"] = plen + 8
    # frames shorter than the 42 header bytes cannot happen: snaplen >= 42 is checked by callers
    put_rows(buf, eth, net)


def capture_bytes(
    payloads: Sequence[bytes],
    ts_ns: Sequence[int] | NDArray[np.int64],
    fmt: CaptureFormat | None = None,
    flow: UdpFlow | None = None,
    snaplen: int = 65535,
) -> bytes:
    """A whole capture file holding one UDP datagram per payload, stamped ``ts_ns``.

    >>> data = capture_bytes([b"hello"], [1_500_000_000_123_456_789])
    >>> len(data), data[:4].hex(), data[-5:]
    (87, 'd4c3b2a1', b'hello')
    """
    fmt = fmt or CaptureFormat()
    if len(payloads) != len(ts_ns):
        raise ValueError(f"{len(payloads)} payloads but {len(ts_ns)} timestamps")
    lengths = np.fromiter((len(p) for p in payloads), dtype=np.int64, count=len(payloads))
    size, offsets = layout_capture(lengths, fmt, snaplen)
    captured = np.minimum(lengths + NET_HEADER_BYTES, snaplen) - NET_HEADER_BYTES
    buf = np.zeros(size, dtype=np.uint8)
    fill_frames(buf, offsets, lengths, np.asarray(ts_ns, dtype=np.int64), fmt, flow, snaplen)
    for at, payload, keep in zip(offsets.tolist(), payloads, captured.tolist(), strict=True):
        buf[at : at + keep] = np.frombuffer(payload, dtype=np.uint8, count=keep)
    return buf.tobytes()
