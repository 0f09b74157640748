"""The batch decoder's walk: a chunk's packet records → its IEX-TP segments, compiled.

Design note
-----------
Before its rows are written (``decode_rows``), a chunk's records must become segments:
where each record starts, its capture time and lengths, the UDP payload of its frame, the
40-byte IEX-TP header. The ``survey`` kernel (:mod:`fluvius.feeds._kernel_src`) does them
in one pass, as the packet walk of :func:`fluvius.feeds._capture.iter_chunks` (which reads
the container's header blocks between its calls):

* it walks classic pcap records or pcapng packet blocks, with the rules of the readable
  walk :func:`fluvius.feeds._capture.records`;
* per frame it applies :func:`fluvius.feeds.net.udp_payload`'s rules (802.1Q / QinQ tags,
  any IPv4 header length, fragments, the shorter of the UDP, IPv4 and captured lengths);
* per datagram it applies the reference decoder's segment rules (too short for a header, an
  unknown version or protocol, DEEP+ unsupported) and counts each for the report;
* per segment it writes one column of an int64 table (rows :data:`OFF` ... :data:`FIRST`);
* it notes whether all segments continue one stream in order, so the sequence tracker's
  usual case costs two comparisons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fluvius.feeds._capture import MAX_BLOCK, MAX_RECORD, strided_view
from fluvius.feeds.iex.transport import DEEP_PLUS_PROTOCOL_ID, DEEP_PROTOCOL_ID, PROTOCOLS

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from fluvius.feeds._capture import CaptureStats, Container, Walk
    from fluvius.feeds.iex.report import DecodeReport

__all__ = ["Survey", "join", "survey_walk"]

# the kernel's per-chunk counts, by index
USED, WHY, RECORDS, TRUNC_RECORDS, NON_ETHERNET, NON_UDP, DATAGRAMS = range(7)
SHORT_TRUNC, NOT_IEX, UNSUPPORTED, SEGMENTS, HEARTBEATS, _, IN_ORDER = range(7, 14)
SKIPPED = 15  # pcapng blocks skipped


def _families() -> NDArray[np.int64]:
    """u16 protocol id → family (0 TOPS, 1 DEEP), -1 not IEX-TP, -2 unsupported (DEEP+)."""
    fam = np.full(1 << 16, -1, dtype=np.int64)
    for protocol in PROTOCOLS:
        fam[protocol] = 1 if protocol == DEEP_PROTOCOL_ID else 0
    fam[DEEP_PLUS_PROTOCOL_ID] = -2
    return fam


_FAMILY = _families()
_NONE = np.zeros(0, dtype=np.int64)
_NO_FACTORS = np.zeros(0, dtype=np.uint64)
_WIDE = (np.dtype("<u2"), np.dtype("<u4"), np.dtype("<u8"))


OFF, AVAIL, TRUNC, RECV, PROTOCOL, CHANNEL, SESSION, PLEN, COUNT, SOFF, FIRST = range(11)
"""The rows of the segment table ``survey`` writes and ``decode_rows`` reads (one column per
segment, offsets relative to the chunk buffer): the IEX-TP header's offset, the bytes of
the datagram after it, 1 when the capture cut the frame short, the capture time, then the
header's fields (protocol, channel, session, payload length, message count, stream offset,
first sequence number)."""


@dataclass(slots=True)
class Survey:
    """What ``survey`` found in one chunk: its segment table and counts."""

    buf: bytes | bytearray | memoryview
    base: int  # the file offset of buf[0]
    table: NDArray[np.int64]  # (11, segments): rows OFF ... FIRST
    stats: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.table.shape[1])

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


def _views(buf: bytes | bytearray | memoryview) -> tuple[NDArray[Any], ...]:
    """The buffer as u8, and as u16 / u32 / u64 at every byte offset (unaligned loads)."""
    return (np.frombuffer(buf, dtype=np.uint8), *(strided_view(buf, t) for t in _WIDE))


def survey_walk(k: Any) -> Walk[Survey]:
    """The compiled packet walk for :func:`~fluvius.feeds._capture.iter_chunks` (``k``:
    the kernels)."""

    def walk(
        buf: memoryview, pos: int, c: Container, stats: CaptureStats
    ) -> tuple[Survey, int, int]:
        if c.kind == "pcap":
            found = k.survey(
                *_views(buf), pos, c.little, False, MAX_RECORD, c.ns_per_tick, c.linktype,
                _NONE, _NO_FACTORS, _NONE, 0, _FAMILY,
            )  # fmt: skip
        else:
            how, factor, links = c.units()
            found = k.survey(
                *_views(buf), pos, c.little, True, MAX_BLOCK, 0, 0, how, factor, links,
                c.interface(0)[1], _FAMILY,
            )  # fmt: skip
        rows, s = found
        stats.records += int(s[RECORDS])
        stats.truncated_records += int(s[TRUNC_RECORDS])
        stats.skipped_blocks += int(s[SKIPPED])
        return Survey(buf, 0, rows, s), int(s[USED]), int(s[WHY])

    return walk


def join(buf: memoryview, base: int, found: list[Survey]) -> Survey:
    """The one survey of a chunk walked in parts (a header block between them)."""
    if len(found) == 1:
        sv = found[0]
    else:
        table = np.concatenate([sv.table for sv in found], axis=1)
        stats = np.sum([sv.stats for sv in found], axis=0)
        stats[IN_ORDER] = 0  # the parts' junctions are not checked: the tracker looks
        sv = Survey(buf, base, table, stats)
    sv.base = base
    return sv
