"""pcapng blocks: SHB (either byte order), IDB with ``if_tsresol``, EPB, SPB, obsolete PB.

Layout (the pcapng specification, draft-ietf-opsawg-pcapng): blocks of ``u32 type, u32 total length,
body, u32 total length``, lengths a multiple of 4. The byte order is learned from each
Section Header Block's magic before any length is read; a new section resets the
interface list. Each Interface Description Block gives a link type, a snap length and
the timestamp unit (option ``if_tsresol``, code 9: 10^-v s, or 2^-v s when the high bit
is set; 10^-6 when absent). Packets: Enhanced Packet Blocks (interface, 64-bit timestamp,
captured and original length), Simple Packet Blocks (interface 0, no timestamp: capture
time 0) and the obsolete Packet Block. Every other block is skipped by its length.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from fluvius.errors import DecodeError
from fluvius.feeds._capture import (
    CaptureStats,
    IndexResult,
    RecordChunk,
    as_int64,
)

__all__ = ["MAX_BLOCK", "Interface", "PcapngIndexer", "ticks_to_ns"]

MAX_BLOCK = 1 << 20
"""The largest block accepted (bytes); a longer length means the file is corrupt there."""

SHB, IDB, PB, SPB, EPB = 0x0A0D0D0A, 0x00000001, 0x00000002, 0x00000003, 0x00000006
_RUN_AFTER = 8
"""Blocks of one type and length in a row after which the walk looks for a longer run."""
BYTE_ORDER_MAGIC = 0x1A2B3C4D
_WRAP, _HALF = 1 << 64, 1 << 63  # a corrupt timestamp beyond int64 wraps, as in C


@dataclass(frozen=True, slots=True)
class Interface:
    """One interface of a section: link type, snap length and timestamp unit."""

    linktype: int
    snaplen: int
    tsresol: int = 6  # the raw if_tsresol byte


def ticks_to_ns(ticks: int, tsresol: int) -> int:
    """A pcapng timestamp in ``if_tsresol`` units as integer ns (exact, floor).

    >>> ticks_to_ns(1_500_000_000_123_456, 6)
    1500000000123456000
    >>> ticks_to_ns(3, 0x81)  # 2^-1 s units
    1500000000
    """
    if tsresol & 0x80:
        return int((ticks * 1_000_000_000) >> (tsresol & 0x7F))
    if tsresol <= 9:
        return int(ticks * 10 ** (9 - tsresol))
    return int(ticks // 10 ** (tsresol - 9))


@dataclass(slots=True)
class PcapngIndexer:
    """Block walker of one pcapng file; keeps the section's byte order and interfaces."""

    name: str = "capture"
    endian: str = ""
    interfaces: list[Interface] = field(default_factory=list)
    # every interface seen, across sections: per-record index into it (for the ts unit)
    all_interfaces: list[Interface] = field(default_factory=list)
    global_ids: list[int] = field(default_factory=list)  # this section's: index in all_interfaces
    undeclared: int = -1  # index in all_interfaces of the stand-in for undeclared interfaces

    def index(
        self, buf: bytes | bytearray, start: int, base: int, stats: CaptureStats
    ) -> IndexResult:
        """Packets of the complete blocks in ``buf[start:]``."""
        found = IndexResult()
        found.used, _ = self._blocks(buf, start, base, stats, found, one=False)
        return found

    def read_block(
        self, buf: bytes | bytearray, pos: int, base: int, stats: CaptureStats, found: IndexResult
    ) -> tuple[int, bool]:
        """Read the one block at ``buf[pos]`` (a section header, an interface description):
        (next position, whether one was read whole); ``found.stop`` says why not."""
        return self._blocks(buf, pos, base, stats, found, one=True)

    def corrupt(self, buf: bytes | bytearray, pos: int, base: int, packet: bool) -> str:
        """Why reading stops at the block at ``buf[pos]`` (its length, or a short packet)."""
        return self._corrupt(buf, pos, base, packet)

    def _corrupt(self, buf: bytes | bytearray, pos: int, base: int, packet: bool) -> str:
        (blen,) = struct.unpack_from(self.endian + "I", buf, pos + 4)
        if packet:
            return f"corrupt pcapng packet block at byte offset {base + pos}: {blen=}"
        return (
            f"corrupt pcapng block at byte offset {base + pos}: total length {blen} "
            f"(expected a multiple of 4 between 12 and {MAX_BLOCK})"
        )

    def _blocks(
        self,
        buf: bytes | bytearray,
        pos: int,
        base: int,
        stats: CaptureStats,
        found: IndexResult,
        *,
        one: bool,
    ) -> tuple[int, bool]:
        """Walk blocks from ``pos`` in Python (``one``: a single block); (position, more)."""
        ticks = found.ts_ns  # raw ticks for now; converted in to_chunk
        ifaces = found.link  # global interface index for now
        end = len(buf)
        previous, repeats = (-1, -1), 0
        while pos + 12 <= end:
            raw_type = bytes(buf[pos : pos + 4])
            if raw_type == b"\x0a\x0d\x0d\x0a":
                magic = bytes(buf[pos + 8 : pos + 12])
                if magic == b"\x4d\x3c\x2b\x1a":
                    self.endian = "<"
                elif magic == b"\x1a\x2b\x3c\x4d":
                    self.endian = ">"
                else:
                    found.stop = (
                        f"corrupt pcapng section header at byte offset {base + pos}: "
                        f"byte-order magic {magic.hex()} is neither 1a2b3c4d nor 4d3c2b1a"
                    )
                    return pos, False
            elif not self.endian:
                raise DecodeError(
                    f"{self.name}: pcapng block before any section header at {base + pos}",
                    offset=base + pos,
                    expected="a Section Header Block (0a0d0d0a)",
                )
            e = self.endian
            btype, blen = struct.unpack_from(e + "II", buf, pos)
            if blen < 12 or blen % 4 or blen > MAX_BLOCK:
                found.stop = self._corrupt(buf, pos, base, packet=False)
                return pos, False
            if pos + blen > end:
                return pos, False
            repeats = repeats + 1 if (btype, blen) == previous else 0
            previous = (btype, blen)
            if repeats >= _RUN_AFTER and btype not in (SHB, IDB, PB, SPB):
                # degenerate input (runs of one block shape): in bulk
                run = self._same_block_run(buf, pos, btype, blen, base, stats, found)
                if run:
                    pos += run * blen
                    repeats = 0
                    continue
            body = pos + 8
            body_end = pos + blen - 4
            if btype in (EPB, PB):
                if body_end - body < 20:
                    found.stop = self._corrupt(buf, pos, base, packet=True)
                    return pos, False
                if btype == EPB:
                    iface, hi, lo, cap, orig = struct.unpack_from(e + "IIIII", buf, body)
                else:
                    iface, _drops, hi, lo, cap, orig = struct.unpack_from(e + "HHIIII", buf, body)
                cap = min(cap, body_end - body - 20)
                found.frame_off.append(body + 20)
                found.cap_len.append(cap)
                found.orig_len.append(orig)
                ticks.append((hi << 32) | lo)
                ifaces.append(self._interface_index(iface, base + pos, stats))
            elif btype == SPB:
                (orig,) = struct.unpack_from(e + "I", buf, body)
                cap = min(orig, body_end - body - 4)
                if self.interfaces and self.interfaces[0].snaplen:
                    cap = min(cap, self.interfaces[0].snaplen)
                found.frame_off.append(body + 4)
                found.cap_len.append(max(cap, 0))
                found.orig_len.append(orig)
                ticks.append(0)
                ifaces.append(self._interface_index(0, base + pos, stats))
            elif btype == SHB:
                self.interfaces = []
                self.global_ids = []
            elif btype == IDB:
                self._add_interface(buf, body, body_end, e)
            else:
                stats.skipped_blocks += 1
            pos += blen
            if one:
                return pos, True
        return pos, False

    def _same_block_run(
        self,
        buf: bytes | bytearray,
        pos: int,
        btype: int,
        blen: int,
        base: int,
        stats: CaptureStats,
        found: IndexResult,
    ) -> int:
        """Take the complete blocks of type ``btype`` and length ``blen`` in a row from
        ``buf[pos]`` (a block start of that shape) in one numpy pass; returns how many.

        EPBs become packets exactly as one at a time; other blocks are skipped. Probed in
        growing slices, so a short run costs little.
        """
        if btype == EPB and blen < 32:
            return 0  # a corrupt packet block: the sequential walk reports it
        e = self.endian
        words = np.ndarray(
            ((len(buf) - pos) // blen, blen // 4), dtype=e + "u4", buffer=buf, offset=pos
        )
        fits, n, size = len(words), 0, 256
        while n < fits:
            part = words[n : n + size]
            same = (part[:, 0] == btype) & (part[:, 1] == blen)
            if not same.all():
                n += int(np.argmin(same))
                break
            n += len(part)
            size *= 4
        if n < 2:
            return 0
        run = words[:n]
        if btype != EPB:
            stats.skipped_blocks += n
            return n
        starts = pos + blen * np.arange(n, dtype=np.int64)
        found.frame_off.extend((starts + 28).tolist())
        found.cap_len.extend(np.minimum(run[:, 5], blen - 32).tolist())
        found.orig_len.extend(run[:, 6].tolist())
        found.ts_ns.extend(((run[:, 3].astype(np.uint64) << np.uint64(32)) | run[:, 4]).tolist())
        ids = run[:, 2]
        first = int(ids[0])
        if (ids == first).all():
            found.link.extend([self._interface_index(first, base + pos, stats)] * n)
        else:
            at = base + pos
            table = {i: self._interface_index(i, at, stats) for i in np.unique(ids).tolist()}
            found.link.extend(table[i] for i in ids.tolist())
        return n

    def _interface_index(self, iface: int, offset: int, stats: CaptureStats) -> int:
        if iface < len(self.interfaces):
            return self.global_ids[iface]
        # a packet of an undeclared interface (a damaged file): kept, read as Ethernet with
        # the default unit; one shared entry, however large the bogus interface id
        if self.undeclared < 0:
            self.undeclared = len(self.all_interfaces)
            self.all_interfaces.append(Interface(1, 0))
        return self.undeclared

    def _declare(self, iface: Interface) -> None:
        self.interfaces.append(iface)
        self.global_ids.append(len(self.all_interfaces))
        self.all_interfaces.append(iface)

    def _add_interface(self, buf: bytes | bytearray, body: int, body_end: int, e: str) -> None:
        linktype, _reserved, snaplen = struct.unpack_from(e + "HHI", buf, body)
        tsresol = 6
        opt = body + 8
        while opt + 4 <= body_end:
            code, length = struct.unpack_from(e + "HH", buf, opt)
            if code == 0:
                break
            if code == 9 and length >= 1:
                tsresol = buf[opt + 4]
            opt += 4 + ((length + 3) & ~3)
        self._declare(Interface(linktype, snaplen, tsresol))

    def to_chunk(self, buf: bytes | bytearray, base: int, found: IndexResult) -> RecordChunk:
        """Convert ticks to ns per interface unit and pack the records into arrays."""
        frame_off = as_int64(found.frame_off)
        cap_len = as_int64(found.cap_len)
        orig_len = as_int64(found.orig_len)
        ticks = np.fromiter(found.ts_ns, dtype=np.uint64, count=len(found.ts_ns))
        iface = as_int64(found.link)
        units = np.array([i.tsresol for i in self.all_interfaces], dtype=np.int64)
        ts = np.empty(len(ticks), dtype=np.int64)
        distinct = set(units[np.unique(iface)].tolist()) if len(units) > 1 else set(units.tolist())
        for u in distinct:  # a corrupt timestamp beyond int64 wraps, as in C
            at = slice(None) if len(distinct) == 1 else units[iface] == u
            if u <= 9:  # 10^-u s: a wrap-around multiply in uint64
                ts[at] = (ticks[at] * np.uint64(10 ** (9 - u))).view(np.int64)
            else:  # finer than ns, or binary units: exact, one by one
                ns = [ticks_to_ns(t, u) for t in ticks[at].tolist()]
                ts[at] = as_int64([(n + _HALF) % _WRAP - _HALF for n in ns])
        linktypes = np.fromiter(
            (i.linktype for i in self.all_interfaces), dtype=np.int32, count=len(units)
        )
        return RecordChunk(
            buf=buf,
            base=base,
            frame_off=frame_off,
            cap_len=cap_len,
            orig_len=orig_len,
            ts_ns=ts,
            link=linktypes[iface] if len(iface) else np.zeros(0, np.int32),
        )
