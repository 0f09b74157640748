"""Classic pcap (libpcap) records: both byte orders, microsecond and nanosecond magics.

File layout (libpcap's file format): a 24-byte global header (magic, version,
thiszone, sigfigs, snaplen, linktype) then records of a 16-byte header (ts_sec, ts_frac,
incl_len, orig_len; in the file's byte order) and ``incl_len`` bytes of frame.

Each record's length says where the next starts, so the walk is sequential. The indexer
first tries :func:`fluvius.feeds._chains.walk_in_parallel` (many sub-walks at once with
numpy, verified end to end) and otherwise walks record headers in one tight loop; either
way the header fields are gathered afterwards with numpy. A record length beyond
:data:`MAX_RECORD` cannot be a UDP frame: the file is corrupt there and cannot be
re-synchronised, so reading stops with a report. (The compiled batch decoder walks pcap
records in its own pass instead, :mod:`fluvius.feeds.iex._survey`, with the same rules.)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fluvius.errors import DecodeError
from fluvius.feeds._capture import (
    PCAP_MAGICS,
    CaptureStats,
    IndexResult,
    RecordChunk,
    as_int64,
    strided_view,
)
from fluvius.feeds._chains import walk_in_parallel

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["MAX_RECORD", "PcapIndexer", "corrupt_record"]

MAX_RECORD = 1 << 18
"""The largest record length accepted (bytes); IPv4 datagrams are at most 65,535 bytes."""


def corrupt_record(buf: bytes | bytearray, pos: int, base: int, endian: str) -> str:
    """Why reading stops at the record at ``buf[pos]`` whose length exceeds MAX_RECORD."""
    (incl,) = struct.unpack_from(endian + "I", buf, pos + 8)
    return (
        f"corrupt pcap record at byte offset {base + pos}: captured length {incl} "
        f"exceeds {MAX_RECORD}; the rest of the file cannot be read"
    )


_RUN_AFTER = 8
"""Records of one length in a row after which the sequential walk looks for a longer run."""


def _same_length_run(buf: bytes | bytearray, pos: int, incl: int, endian: str) -> NDArray[np.int64]:
    """Starts of the complete records from ``buf[pos]`` on that all have length ``incl``.

    ``pos`` is a record start of that length. Each record's length gives the next start, so
    the records of equal length in a row are found in bulk, exactly: the walk of degenerate
    input (a pcap header followed by empty records, a gzip bomb of zeros) costs a numpy pass
    instead of a Python step per 16 bytes. Probed in growing blocks, so a short run costs
    little.
    """
    step = 16 + incl
    fits = (len(buf) - pos) // step  # complete records of that length the buffer can hold
    lengths = strided_view(buf, np.dtype(endian + "u4"))
    n, block = 0, 256
    while n < fits:
        k = np.arange(n, min(fits, n + block), dtype=np.int64)
        same = lengths[pos + 8 + step * k] == incl
        if not same.all():
            n += int(np.argmin(same))
            break
        n = int(k[-1]) + 1
        block *= 4
    return pos + step * np.arange(n, dtype=np.int64)


@dataclass(slots=True)
class PcapIndexer:
    """Record indexer of one classic pcap file (its byte order, time unit and link type)."""

    endian: str
    ns_per_tick: int
    snaplen: int
    linktype: int
    name: str = "capture"

    @classmethod
    def from_header(cls, head: bytes, *, name: str = "capture") -> PcapIndexer:
        """Parse the 24-byte global header (a :class:`DecodeError` if it is short or bad)."""
        if len(head) < 24:
            raise DecodeError(
                f"{name}: the pcap global header is cut short ({len(head)} of 24 bytes)",
                offset=len(head),
                expected="24-byte pcap global header",
            )
        endian, ns_per_tick = PCAP_MAGICS[bytes(head[:4])]
        _major, _minor, _zone, _sigfigs, snaplen, linktype = struct.unpack_from(
            endian + "HHiIII", head, 4
        )
        return cls(endian, ns_per_tick, snaplen, linktype & 0xFFFF, name)

    def index(
        self, buf: bytes | bytearray, start: int, base: int, stats: CaptureStats
    ) -> IndexResult:
        """Offsets of the complete records in ``buf[start:]``."""
        fast = walk_in_parallel(buf, start, self.endian)
        if fast is not None:
            return fast
        found = IndexResult()
        starts = found.frame_off  # record starts for now; made frame offsets in to_chunk
        append = starts.append
        length_at = struct.Struct(self.endian + "I").unpack_from
        end = len(buf)
        pos = start
        runs: list[NDArray[np.int64]] = []
        previous, repeats = -1, 0
        while pos + 16 <= end:
            incl = length_at(buf, pos + 8)[0]
            if incl > MAX_RECORD:
                found.stop = corrupt_record(buf, pos, base, self.endian)
                break
            nxt = pos + 16 + incl
            if nxt > end:
                break
            repeats = repeats + 1 if incl == previous else 0
            previous = incl
            if repeats >= _RUN_AFTER:  # degenerate input (e.g. empty records): in bulk
                run = _same_length_run(buf, pos, incl, self.endian)
                if len(run) > 1:
                    runs.extend((as_int64(starts), run))
                    starts.clear()
                    pos = int(run[-1]) + 16 + incl
                    repeats = 0
                    continue
            append(pos)
            pos = nxt
        if runs:
            found.starts = np.concatenate([*runs, as_int64(starts)])
        found.used = pos
        return found

    def to_chunk(self, buf: bytes | bytearray, base: int, found: IndexResult) -> RecordChunk:
        """Gather the header fields of the records found into a :class:`RecordChunk`."""
        starts = found.starts if found.starts is not None else as_int64(found.frame_off)
        e = self.endian
        header = np.dtype(
            {"names": ["sec", "frac", "incl", "orig"], "formats": [e + "u4"] * 4, "itemsize": 16}
        )
        heads = strided_view(buf, header)[starts] if len(starts) else np.empty(0, header)
        ts = heads["sec"].astype(np.int64) * 1_000_000_000 + heads["frac"].astype(
            np.int64
        ) * np.int64(self.ns_per_tick)
        cap = heads["incl"].astype(np.int64)
        orig = heads["orig"].astype(np.int64)
        return RecordChunk(
            buf=buf,
            base=base,
            frame_off=starts + 16,
            cap_len=cap,
            orig_len=orig,
            ts_ns=ts,
            link=np.full(len(starts), self.linktype, dtype=np.int32),
        )
