"""The batch IEX decoder: whole captures to event rows, capture chunks → the decoder kernel.

Design note (the whole core: docs/reference/iex.md, "The decoder core")
-----------------------------------------------------------------------
Per chunk of the capture (:func:`fluvius.feeds._capture.iter_chunks`, one reused buffer):
the ``survey`` kernel lists its IEX-TP segments (one column of an int64 table per segment,
rows :data:`OFF` ... :data:`NEXT`); ``decode_rows`` checks and counts clean runs of them,
in file order, the sequence tracker dropping leading duplicates (two comparisons when a
run continues one stream in order); each segment that is not clean goes alone to the
reference decoder, which words its problems and fills the report. Then one buffer takes
all the chunk's rows, a region per kind: the kernel writes each clean run's rows in
place, the reference decoder's are copied in between (one :class:`Arena` per capture in
:func:`decode_capture`, so a kind's rows are one view, not a join). Without the kernels
(numba missing, ``FLUVIUS_NUMBA=0``, ``use_numba=False``) the reference decoder does
everything, on the readable walk's records: the same rows and report, at its speed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from fluvius.feeds._capture import (
    CHUNK_BYTES,
    MAX_BLOCK,
    MAX_RECORD,
    capture_size,
    iter_chunks,
    iter_records,
    strided_view,
)
from fluvius.feeds._inflate import WHOLE_BYTES
from fluvius.feeds._kernels import kernels
from fluvius.feeds.events import KINDS, EventBatch, dtype_of
from fluvius.feeds.iex._layout import CHECK, WRITE, programs
from fluvius.feeds.iex.reference import SegmentDecoder, decode_records, rows_of
from fluvius.feeds.iex.report import DecodeReport
from fluvius.feeds.iex.transport import (
    DEEP_PLUS_PROTOCOL_ID,
    DEEP_PROTOCOL_ID,
    PROTOCOLS,
    StreamKey,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

    from numpy.typing import NDArray

    from fluvius.feeds._capture import CaptureStats, Container, Walk


__all__ = [
    "DECODE_CHUNK_BYTES",
    "Arena",
    "BatchDecoder",
    "DecodedCapture",
    "Rows",
    "Survey",
    "decode_capture",
    "iter_capture_batches",
    "join_rows",
]

Rows = np.ndarray
"""One kind's events of a chunk: a structured array of :func:`~fluvius.feeds.events.dtype_of`."""

DECODE_CHUNK_BYTES = 4 << 20
""":func:`decode_capture`'s chunk size: the chunk stays in the CPU caches between the check
and the fill of its rows (16 MiB chunks decoded 16-27% slower here) and the buffer is small
next to the rows. :func:`iter_capture_batches` keeps :data:`CHUNK_BYTES` unless told."""

_P = programs()
_NK = len(_P.kinds)
_INDEX = {kind: i for i, kind in enumerate(_P.kinds)}
_U2, _U4, _U8 = np.dtype("<u2"), np.dtype("<u4"), np.dtype("<u8")
_NONE1, _NONE4, _NONE8 = np.zeros(8, np.uint8), np.zeros(1, np.uint32), np.zeros(1, np.uint64)
_NO_RES = np.zeros(_P.res, np.int64)  # decode_rows' WRITE mode does not count
_NONE, _NO_FACTORS = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
# survey's counts per chunk, by index
USED, WHY, RECORDS, TRUNC_RECORDS, NON_ETHERNET, NON_UDP, DATAGRAMS = range(7)
SHORT_TRUNC, NOT_IEX, UNSUPPORTED, SEGMENTS, HEARTBEATS, SKIPPED = range(7, 13)
OFF, AVAIL, TRUNC, RECV, PROTOCOL, CHANNEL, SESSION, PLEN, COUNT, SOFF, FIRST, NEXT = range(12)
"""The rows of the segment table ``survey`` writes and ``decode_rows`` reads (one column per
segment, offsets relative to the chunk buffer): the IEX-TP header's offset, the bytes of
the datagram after it, 1 when the capture cut the frame short, the capture time, then the
header's fields (protocol, channel, session, payload length, message count, stream offset,
first sequence number), and 1 when the segment continues the previous one's stream in
order (its first sequence number and stream offset where that one's end)."""
_FAMILY = np.full(1 << 16, -1, dtype=np.int64)  # u16 protocol id → 0 TOPS, 1 DEEP, -1 not
_FAMILY[list(PROTOCOLS)] = [int(p == DEEP_PROTOCOL_ID) for p in PROTOCOLS]  # IEX-TP
_FAMILY[DEEP_PLUS_PROTOCOL_ID] = -2  # a protocol the decoder does not support


@dataclass(slots=True)
class Survey:
    """What ``survey`` found in one chunk: its segment table and counts."""

    buf: bytes | bytearray | memoryview
    base: int  # the file offset of buf[0]
    table: NDArray[np.int64]  # (12, segments): rows OFF ... NEXT
    stats: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.table.shape[1])

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
    return (np.frombuffer(buf, dtype=np.uint8), *(strided_view(buf, t) for t in (_U2, _U4, _U8)))


def survey_walk(k: Any) -> Walk[Survey]:
    """The compiled packet walk for :func:`~fluvius.feeds._capture.iter_chunks` (``k``:
    the kernels), which reads the container's header blocks between its calls."""

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
        sv = Survey(buf, base, table, stats)
    sv.base = base
    return sv


@dataclass(slots=True)
class DecodedCapture:
    """A whole capture decoded: one :class:`EventBatch` per kind found, and the report."""

    batches: dict[str, EventBatch]
    report: DecodeReport
    seconds: float = 0.0

    @property
    def messages_per_second(self) -> float:
        """Decoded messages per second of wall time."""
        return self.report.messages / self.seconds if self.seconds > 0 else 0.0


@dataclass(slots=True)
class Arena:
    """One zeroed buffer for a whole capture's rows, a region per kind, filled chunk by chunk.

    The kernel writes a chunk's rows at any byte offsets of one buffer, so when the
    capture's size is known (:func:`decode_capture`) the chunks write into regions of one
    arena sized from the first chunk's rows per byte (times ``margin``, and ``min_rows``
    for kinds it lacks): consecutive chunks' rows of a kind are then adjacent and the
    capture's rows of the kind are one view (:meth:`rows`), not a copy of all chunks. From
    the first chunk that does not fit on, every chunk gets its own buffer and the rows are
    joined by copy (:func:`join_rows`). The buffer is allocated zeroed (``calloc``), so the
    pages past the rows cost no memory.
    """

    capture_bytes: int
    margin: float = 1.25
    min_rows: int = 4096
    buf: NDArray[np.uint8] | None = None
    first: NDArray[np.int64] | None = None  # where each kind's region starts
    cursor: NDArray[np.int64] | None = None
    limit: NDArray[np.int64] | None = None
    spilled: bool = False  # a chunk did not fit

    def take(
        self, sizes: NDArray[np.int64], itemsize: NDArray[np.int64], chunk_bytes: int
    ) -> tuple[NDArray[np.uint8], NDArray[np.int64]] | None:
        """(buffer, byte offset per kind) for a chunk's rows of ``sizes`` bytes, or None."""
        if self.buf is None:
            scale = self.margin * max(self.capture_bytes, chunk_bytes) / max(chunk_bytes, 1)
            rows = np.maximum(np.ceil(sizes // itemsize * scale).astype(np.int64), self.min_rows)
            cap = rows * itemsize
            self.buf = np.zeros(int(cap.sum()), dtype=np.uint8)
            self.first = np.cumsum(cap) - cap
            self.cursor = self.first.copy()
            self.limit = self.first + cap
        assert self.cursor is not None
        assert self.limit is not None
        self.spilled = self.spilled or bool(np.any(self.cursor + sizes > self.limit))
        if self.spilled:
            return None
        start = self.cursor.copy()
        self.cursor += sizes
        return self.buf, start

    def rows(self, kind: str) -> Rows | None:
        """All chunks' rows of ``kind``, one view (None after a spill, or without rows)."""
        if self.spilled or self.buf is None or self.first is None or self.cursor is None:
            return None
        i = _INDEX[kind]
        return self.buf[int(self.first[i]) : int(self.cursor[i])].view(dtype_of(kind))


@dataclass(slots=True)
class BatchDecoder:
    """Decodes the chunks of one capture, carrying sequence state from chunk to chunk."""

    venue: str = "IEX"
    strict: bool = False
    report: DecodeReport = field(default_factory=DecodeReport)
    use_numba: bool = True  # the compiled kernel when numba is installed (else the reference)
    arena: Arena | None = None  # one buffer for all chunks' rows (decode_capture)
    reference: SegmentDecoder = field(init=False)
    _k: Any = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.reference = SegmentDecoder(venue=self.venue, strict=self.strict, report=self.report)
        self._k = kernels() if self.use_numba else None

    def decode_chunk(self, sv: Survey) -> dict[str, Rows]:
        """The events of one chunk's segments (the compiled walk's): kind → rows in file order."""
        k = self._k
        sv.count(self.report)
        seg = sv.table
        n = len(sv)
        if not n:
            return {}
        a = _views(sv.buf)
        drop = np.zeros(n, dtype=np.int64)
        res = np.zeros(_P.res, dtype=np.int64)
        none = (_NONE1, _NONE4, _NONE8, res, res)
        # pass 1, in file order: the clean runs checked, tracked and counted (the report
        # filled as it goes), each segment that is not clean decoded by the reference
        pieces: list[tuple[int, int, NDArray[np.int64]] | dict[str, Rows]] = []
        lo = 0
        while lo < n:
            stop = k.decode_rows(*a, seg, drop, lo, n, CHECK, *none)
            if stop > lo:
                if self._track(seg, sv.base, lo, stop, drop):
                    k.decode_rows(*a, seg, drop, lo, stop, CHECK, *none)
                self.report.count_rows(_P.kinds, res.tolist())
                pieces.append((lo, stop, res[:_NK].copy()))
            if stop < n:
                rows = self._reference(sv, stop)
                if rows:
                    pieces.append(rows)
            lo = stop + 1
        # pass 2: every row of the chunk into one buffer, a region per kind in file order
        return self._write(k, a, seg, drop, pieces)

    def _write(
        self,
        k: Any,
        a: tuple[NDArray[Any], ...],
        seg: NDArray[np.int64],
        drop: NDArray[np.int64],
        pieces: list[tuple[int, int, NDArray[np.int64]] | dict[str, Rows]],
    ) -> dict[str, Rows]:
        """The rows of ``pieces``: clean runs ``(lo, hi, rows per kind)`` the kernel writes,
        and the reference decoder's rows of a segment, copied in (kinds in order of first
        appearance, as the pieces come)."""
        counts = np.zeros(_NK, dtype=np.int64)
        order: dict[int, None] = {}
        for piece in pieces:
            if isinstance(piece, dict):
                for kind, rows in piece.items():
                    i = _INDEX[kind]
                    counts[i] += len(rows)
                    order[i] = None
            else:
                counts += piece[2]
                order.update(dict.fromkeys(np.flatnonzero(piece[2]).tolist()))
        if not order:
            return {}
        sizes = counts * _P.itemsize
        span = int(seg[OFF, -1] + 40 + seg[PLEN, -1] - seg[OFF, 0])
        place = self.arena.take(sizes, _P.itemsize, span) if self.arena is not None else None
        if place is None:
            out = np.empty(int(sizes.sum()), dtype=np.uint8)
            start = np.cumsum(sizes) - sizes
        else:
            out, start = place
        cursor = np.append(start, 0)
        o = (out, strided_view(out, _U4), strided_view(out, _U8))
        for piece in pieces:
            if isinstance(piece, dict):
                for kind, rows in piece.items():
                    i = _INDEX[kind]
                    at = int(cursor[i])
                    out[at : at + rows.nbytes] = rows.view(np.uint8)
                    cursor[i] = at + rows.nbytes
            else:
                k.decode_rows(*a, seg, drop, piece[0], piece[1], WRITE, *o, cursor, _NO_RES)
        ends = (start + sizes).tolist()
        return {
            _P.kinds[i]: out[int(start[i]) : ends[i]].view(dtype_of(_P.kinds[i])) for i in order
        }

    def _reference(self, sv: Survey, i: int) -> dict[str, Rows]:
        """The rows of segment ``i``, decoded (and reported) by the reference decoder."""
        off, avail, trunc, recv = sv.table[:PROTOCOL, i].tolist()
        payload = memoryview(sv.buf)[off : off + 40 + avail]
        events = self.reference.decode_segment(
            payload, recv, offset=sv.base + off, truncated=bool(trunc)
        )
        return rows_of(events)

    def _track(
        self,
        seg: NDArray[np.int64],
        base: int,
        lo: int,
        hi: int,
        drop: NDArray[np.int64],
    ) -> bool:
        """Leading duplicate messages of segments ``lo..hi-1`` into ``drop``; True if any.

        The tracker's state moves past the segments: in two comparisons when each continues
        the one before it in order (the table's ``NEXT`` row), else segment by segment.
        """
        t = seg[:, lo:hi]
        protocol, channel, session, plen, count, soff, first = t[PROTOCOL:NEXT]
        key = StreamKey(int(protocol[0]), int(channel[0]), int(session[0]))
        tracker = self.reference.tracker
        if t[NEXT, 1:].all() and tracker.advance_chunk(
            key,
            int(first[0]),
            int(soff[0]),
            int(first[-1] + count[-1]),
            int(soff[-1] + plen[-1]),
            segments=hi - lo,
            at=int(t[OFF, 0]) + base,
        ):
            return False
        columns = (protocol, channel, session, first, count, soff, plen, t[OFF] + base)
        rows = zip(*(c.tolist() for c in columns), strict=True)
        for i, (p, c, s, first_i, count_i, soff_i, plen_i, at) in enumerate(rows, lo):
            drop[i] = tracker.observe(StreamKey(p, c, s), first_i, count_i, soff_i, plen_i, at)
        return bool(drop[lo:hi].any())


def iter_capture_batches(
    path: str | Path,
    *,
    strict: bool = False,
    venue: str = "IEX",
    report: DecodeReport | None = None,
    chunk_bytes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    use_numba: bool = True,
) -> Iterator[dict[str, Rows]]:
    """The events of a capture chunk by chunk: kind → rows in file order (see ``decode_chunk``).

    ``report`` receives the counts; ``progress(done, total)`` is called after each chunk.
    ``chunk_bytes`` is the size of the chunks read (None: :data:`CHUNK_BYTES`). Each
    yielded dict's rows live in a buffer of that chunk alone (views of it, one region per
    kind; no arena shared across chunks), so the decoder's working set is a small multiple
    of ``chunk_bytes`` and rows the caller drops are freed; a caller that keeps a small
    kind's rows for long may copy them to free the rest of the chunk's buffer.
    ``use_numba=False`` decodes with the reference decoder (same results, slower).
    """
    decoder = BatchDecoder(
        venue=venue, strict=strict, report=report or DecodeReport(), use_numba=use_numba
    )
    return _batches(decoder, path, CHUNK_BYTES if chunk_bytes is None else chunk_bytes, progress)


def _batches(
    decoder: BatchDecoder,
    path: str | Path,
    chunk_bytes: int,
    progress: Callable[[int, int], None] | None = None,
    whole_below: int = 0,
) -> Iterator[dict[str, Rows]]:
    k = decoder._k
    stats = decoder.report.capture
    options: dict[str, Any] = {"chunk_bytes": chunk_bytes, "progress": progress}
    options.update(strict=decoder.strict, whole_below=whole_below)
    if k is None:  # the reference decoder, on the readable walk's records
        for buf, base, found in iter_records(path, stats, **options):
            arrays = rows_of(list(decode_records(decoder.reference, buf, base, found)))
            if arrays:
                yield arrays
        return
    for buf, base, surveys in iter_chunks(path, stats, survey_walk(k), **options):
        arrays = decoder.decode_chunk(join(buf, base, surveys))
        if arrays:
            yield arrays


def decode_capture(
    path: str | Path,
    *,
    strict: bool = False,
    venue: str = "IEX",
    chunk_bytes: int = DECODE_CHUNK_BYTES,
    use_numba: bool = True,
) -> DecodedCapture:
    """Decode a whole capture into one :class:`EventBatch` per kind (in file order).

    >>> import pathlib, tempfile
    >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "empty.pcap"
    >>> _ = tmp.write_bytes(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
    >>> decode_capture(tmp).report.messages
    0
    """
    t0 = time.perf_counter()
    report = DecodeReport()
    parts: dict[str, list[Rows]] = {}
    decoder = BatchDecoder(venue=venue, strict=strict, report=report, use_numba=use_numba)
    arena = decoder.arena = Arena(capture_size(path))  # the chunks' rows adjacent: no copy
    # the rows are all kept: a gzip file of up to WHOLE_BYTES is inflated in one piece
    for rows in _batches(decoder, path, chunk_bytes, whole_below=WHOLE_BYTES):
        for kind, r in rows.items():
            parts.setdefault(kind, []).append(r)
    batches = {
        kind: EventBatch(kind, venue, join_rows(kind, chunks, arena))
        for kind in KINDS
        if (chunks := parts.get(kind))
    }
    return DecodedCapture(batches, report, time.perf_counter() - t0)


def join_rows(kind: str, chunks: Sequence[Rows], arena: Arena | None = None) -> Rows:
    """Row chunks of one kind as one structured array of :func:`dtype_of`: the ``arena``'s
    view when the chunks all wrote into it, else one copy (none for one chunk)."""
    whole = arena.rows(kind) if arena is not None else None
    if whole is not None:
        return whole
    if len(chunks) == 1:
        return chunks[0]
    return np.concatenate([c.view(np.uint8) for c in chunks]).view(dtype_of(kind))
