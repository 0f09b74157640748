"""One compiled pass from capture records to checked IEX-TP segments (the batch decoder's step 1).

Design note
-----------
Before its rows are written (``decode_rows``), a chunk's records must become segments:
where each record starts (classic pcap: a chain of lengths), its capture time and lengths,
the UDP payload of its frame, the 40-byte IEX-TP header. The ``survey`` kernel
(:mod:`fluvius.feeds._kernel_src`) does them in one walk:

* classic pcap: it walks the records itself (the chunk reader hands it the raw buffer
  through :data:`fluvius.feeds._capture.ContainerWalk`), so no per-record array is made at all;
  other containers (pcapng) come as :class:`~fluvius.feeds._capture.RecordChunk` arrays;
* per frame it applies :func:`fluvius.feeds.net.udp_payload`'s rules (802.1Q / QinQ tags,
  any IPv4 header length, fragments, the shorter of the UDP, IPv4 and captured lengths);
* per datagram it applies the reference decoder's segment rules (too short for a header, an
  unknown version or protocol, DEEP+ unsupported) and counts each for the report;
* per segment it writes one column of an int64 table (:class:`Segments`);
* it notes whether all segments continue one stream in order, so the sequence tracker's
  usual case costs two comparisons.

The segments then go to the decoder kernel (``decode_rows``, :mod:`fluvius.feeds.iex.batch`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fluvius.feeds._capture import IndexResult, strided_view
from fluvius.feeds.iex.transport import DEEP_PLUS_PROTOCOL_ID, DEEP_PROTOCOL_ID, PROTOCOLS
from fluvius.feeds.pcap import MAX_RECORD, corrupt_record
from fluvius.feeds.pcapng import MAX_BLOCK

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from fluvius.feeds._capture import CaptureStats, ContainerWalk, RecordChunk
    from fluvius.feeds.iex.report import DecodeReport
    from fluvius.feeds.pcap import PcapIndexer
    from fluvius.feeds.pcapng import PcapngIndexer

__all__ = ["Segments", "Survey", "container_walk", "pcap_walk", "pcapng_walk", "survey_records"]

# the kernel's per-chunk counts, by index
USED, STOP, RECORDS, TRUNC_RECORDS, NON_ETHERNET, NON_UDP, DATAGRAMS = range(7)
SHORT_TRUNC, NOT_IEX, UNSUPPORTED, SEGMENTS, HEARTBEATS, _, IN_ORDER = range(7, 14)
NG_STOP, NG_SKIPPED = 14, 15  # pcapng: why the walk stopped, blocks skipped


def _families() -> NDArray[np.int64]:
    """u16 protocol id → family (0 TOPS, 1 DEEP), -1 not IEX-TP, -2 unsupported (DEEP+)."""
    fam = np.full(1 << 16, -1, dtype=np.int64)
    for protocol in PROTOCOLS:
        fam[protocol] = 1 if protocol == DEEP_PROTOCOL_ID else 0
    fam[DEEP_PLUS_PROTOCOL_ID] = -2
    return fam


_FAMILY = _families()
_NO_RECORDS = np.zeros(0, dtype=np.int64)
_NO_LINKS = np.zeros(0, dtype=np.int32)
_WIDE = (np.dtype("<u2"), np.dtype("<u4"), np.dtype("<u8"))


@dataclass(slots=True)
class Segments:
    """Per-segment arrays of one chunk (offsets relative to the chunk buffer): rows of
    ``table``, the (11, N) int64 array ``survey`` writes and ``decode_rows`` reads."""

    table: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.table.shape[1])

    off = property(lambda self: self.table[0])  # the IEX-TP header's offset
    avail = property(lambda self: self.table[1])  # bytes of the datagram after the header
    trunc = property(lambda self: self.table[2])  # 1: the capture cut the frame short
    recv_ns = property(lambda self: self.table[3])
    protocol = property(lambda self: self.table[4])
    channel = property(lambda self: self.table[5])
    session = property(lambda self: self.table[6])
    plen = property(lambda self: self.table[7])
    count = property(lambda self: self.table[8])
    soff = property(lambda self: self.table[9])
    first = property(lambda self: self.table[10])


@dataclass(slots=True)
class Survey:
    """What ``survey`` found in one chunk: its segments and counts."""

    buf: bytes | bytearray
    base: int
    seg: Segments
    stats: NDArray[np.int64]

    @property
    def in_order(self) -> bool:
        """All segments continue one stream: each starts where the previous one ended."""
        return bool(self.stats[IN_ORDER])

    def count(self, report: DecodeReport) -> None:
        """Add the chunk's frame and datagram counts to ``report``."""
        s = self.stats.tolist()
        report.capture.non_ethernet += s[NON_ETHERNET]
        report.non_udp += s[NON_UDP]
        report.datagrams += s[DATAGRAMS]
        report.truncated_segments += s[SHORT_TRUNC]
        report.not_iex += s[NOT_IEX]
        if s[UNSUPPORTED]:
            name = f"0x{DEEP_PLUS_PROTOCOL_ID:04x}"
            report.unsupported[name] = report.unsupported.get(name, 0) + s[UNSUPPORTED]
        report.segments += s[SEGMENTS]
        report.heartbeats += s[HEARTBEATS]


def _views(buf: bytes | bytearray) -> tuple[NDArray[Any], ...]:
    """The buffer as u8, and as u16 / u32 / u64 at every byte offset (unaligned loads)."""
    return (np.frombuffer(buf, dtype=np.uint8), *(strided_view(buf, t) for t in _WIDE))


def _survey(buf: bytes | bytearray, base: int, found: tuple[Any, ...]) -> Survey:
    rows, stats = found
    return Survey(buf, base, Segments(rows), stats)


def survey_records(k: Any, chunk: RecordChunk) -> Survey:
    """Survey the records of a chunk that an indexer found (pcapng)."""
    c = np.ascontiguousarray
    found = k.survey(
        *_views(chunk.buf), -1, True, 0, 0, 0,
        c(chunk.frame_off), c(chunk.cap_len), c(chunk.orig_len), c(chunk.ts_ns), c(chunk.link),
        _FAMILY, False, _NO_RECORDS, _NO_RECORDS, 0,
    )  # fmt: skip
    return _survey(chunk.buf, chunk.base, found)


def pcap_walk(k: Any, stats: CaptureStats) -> ContainerWalk[Survey]:
    """The chunk reader's walk of classic pcap records (``iter_record_chunks(walk=...)``)."""

    def walk(
        buf: bytearray, start: int, base: int, ix: PcapIndexer
    ) -> tuple[Survey | None, int, str]:
        little = ix.endian == "<"
        found = k.survey(
            *_views(buf), start, little, MAX_RECORD, ix.ns_per_tick, ix.linktype,
            _NO_RECORDS, _NO_RECORDS, _NO_RECORDS, _NO_RECORDS, _NO_LINKS, _FAMILY,
            False, _NO_RECORDS, _NO_RECORDS, 0,
        )  # fmt: skip
        s = found[1]
        used, stop_at, records = int(s[USED]), int(s[STOP]), int(s[RECORDS])
        stats.records += records
        stats.truncated_records += int(s[TRUNC_RECORDS])
        stop = corrupt_record(buf, stop_at, base, ix.endian) if stop_at >= 0 else ""
        return (_survey(buf, base, found) if records else None), used, stop

    return walk


def pcapng_walk(k: Any, stats: CaptureStats) -> ContainerWalk[Survey]:
    """The chunk reader's walk of pcapng blocks (``iter_record_chunks(walk=...)``).

    The ``survey`` kernel walks the packet blocks itself, as it walks classic pcap records;
    the indexer (:class:`~fluvius.feeds.pcapng.PcapngIndexer`) reads the section headers and
    interface descriptions at the start of the chunk. A chunk that the kernel cannot walk
    whole (another section header or interface description inside it, a packet of an
    undeclared interface, a timestamp unit that is not a power of ten down to the ns) is
    indexed by the indexer and surveyed from its records instead: same result.
    """

    def walk(
        buf: bytearray, start: int, base: int, ix: PcapngIndexer
    ) -> tuple[Survey | None, int, str]:
        pos = start
        head = IndexResult()  # the leading section headers and interface descriptions
        while pos + 12 <= len(buf) and (
            not ix.endian
            or bytes(buf[pos : pos + 4]) == b"\x0a\x0d\x0d\x0a"
            or _is_idb(buf, pos, ix)
        ):
            pos, more = ix.read_block(buf, pos, base, stats, head)
            if head.stop or not more:
                return None, pos, head.stop
        units = [i.tsresol for i in ix.interfaces]
        if not all(0 <= u <= 9 for u in units):
            return _indexed(buf, pos, base, ix)
        mult = np.array([10 ** (9 - u) for u in units], dtype=np.int64)
        link = np.array([i.linktype for i in ix.interfaces], dtype=np.int64)
        snap0 = ix.interfaces[0].snaplen if ix.interfaces else 0
        found = k.survey(
            *_views(buf), pos, ix.endian == "<", MAX_BLOCK, 0, 0,
            _NO_RECORDS, _NO_RECORDS, _NO_RECORDS, _NO_RECORDS, _NO_LINKS, _FAMILY,
            True, mult, link, snap0,
        )  # fmt: skip
        s = found[1]
        why = int(s[NG_STOP])
        if why in (1, 4):  # a new section or interface, an undeclared interface
            return _indexed(buf, pos, base, ix)
        records = int(s[RECORDS])
        stats.records += records
        stats.truncated_records += int(s[TRUNC_RECORDS])
        stats.skipped_blocks += int(s[NG_SKIPPED])
        stop = ix.corrupt(buf, int(s[STOP]), base, packet=why == 3) if why else ""
        return (_survey(buf, base, found) if records else None), int(s[USED]), stop

    def _indexed(
        buf: bytearray, pos: int, base: int, ix: PcapngIndexer
    ) -> tuple[Survey | None, int, str]:
        found = ix.index(buf, pos, base, stats)
        chunk = ix.to_chunk(buf, base, found)
        stats.records += len(chunk)
        stats.truncated_records += int(np.count_nonzero(chunk.cap_len < chunk.orig_len))
        return (survey_records(k, chunk) if len(chunk) else None), found.used, found.stop

    return walk


def _is_idb(buf: bytearray, pos: int, ix: PcapngIndexer) -> bool:
    return int.from_bytes(buf[pos : pos + 4], "little" if ix.endian == "<" else "big") == 1


def container_walk(k: Any, stats: CaptureStats) -> ContainerWalk[Survey]:
    """The compiled walk of either container, for ``iter_record_chunks(walk=...)``."""
    walks = {"pcap": pcap_walk(k, stats), "pcapng": pcapng_walk(k, stats)}
    return lambda buf, start, base, ix: walks[stats.container](buf, start, base, ix)
