"""The fast IEX decoder: whole captures to columnar events, compiled or with vectorised numpy.

Design note
-----------
The capture is read in chunks (:func:`fluvius.feeds._capture.iter_record_chunks`, one
reused buffer; :data:`DECODE_CHUNK_BYTES` in :func:`decode_capture`, small enough that a
chunk is still in the CPU caches for its second pass).
With the compiled kernels (:mod:`fluvius.feeds._kernels`, the default when numba or the
ahead-of-time module is there) a chunk takes **two passes**:

1. **survey** (:mod:`fluvius.feeds.iex._survey`): one walk from records to segments. For
   classic pcap it walks the record chain itself (the chunk reader hands it the raw buffer,
   no per-record arrays); pcapng records come indexed. Per frame: Ethernet, 802.1Q tags,
   IPv4, UDP, the 40-byte IEX-TP header; per segment one column of int64 fields; and, while
   all are intact, every message block checked and counted per (family, type). It also
   notes whether the segments continue one stream in order.
2. **fill** (:mod:`fluvius.feeds.iex._fused`): when every segment is intact, each
   message's event row is written in place, rows of a kind adjacent in file order (one
   :class:`~fluvius.feeds.iex._fused.Arena` per capture in :func:`decode_capture`, so the
   capture's rows of a kind are one view, not a join). Sequence tracking needs two
   comparisons when the chunk continues the expected stream in order; otherwise the same
   :class:`~fluvius.feeds.iex.transport.SequenceTracker` the reference decoder uses decides
   which leading duplicates to drop (and ``scan`` recounts without them).

A chunk with anything to report (a damaged or cut segment, an empty, short or
undocumented message) takes the **careful path** from the survey's segments: the
``walk_blocks`` kernel lists every block, problems are worded and ordered like the
reference decoder's, and fields are gathered per type (:mod:`fluvius.feeds.iex._columns`).

Without numba (``use_numba=False``) the same steps run as numpy array passes: UDP payloads
of all frames (:func:`~fluvius.feeds.net.locate_payloads`), segment headers through a
strided structured view, the blocks of all segments walked together one block per numpy
step (:mod:`fluvius.feeds.iex._blocks`), then the careful path's per-type gathers.

The result equals the reference decoder's (:mod:`fluvius.feeds.iex.reference`): same events
in the same order, same report; the tests check all three paths on random and damaged
captures, strict and lenient.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from fluvius.errors import DecodeError
from fluvius.feeds._capture import CHUNK_BYTES, RecordChunk, iter_record_chunks
from fluvius.feeds._kernels import kernels
from fluvius.feeds.events import KINDS, EventBatch
from fluvius.feeds.iex._blocks import (
    Messages,
    Segments,
    numpy_segments,
    segment_problems,
    walk_blocks,
    walk_blocks_fast,
)
from fluvius.feeds.iex._columns import Columns, gather, gather_compiled
from fluvius.feeds.iex._fused import Arena, Rows, fill_rows, rows_from_columns, tables
from fluvius.feeds.iex._survey import Survey, container_walk, survey_records
from fluvius.feeds.iex.deep import DEEP_LAYOUTS
from fluvius.feeds.iex.report import DecodeReport
from fluvius.feeds.iex.tops import TOPS_LAYOUTS
from fluvius.feeds.iex.transport import (
    DEEP_PROTOCOL_ID,
    SequenceTracker,
    StreamKey,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from numpy.typing import NDArray

    from fluvius.feeds.iex._layout import MessageLayout

__all__ = [
    "DECODE_CHUNK_BYTES",
    "BatchDecoder",
    "Columns",
    "DecodedCapture",
    "decode_capture",
    "iter_capture_batches",
    "rows_from_columns",
]

DECODE_CHUNK_BYTES = 4 << 20
""":func:`decode_capture`'s chunk size: the chunk stays in the CPU caches between the survey
and the fill of its rows (16 MiB chunks decoded 16-27% slower here) and the buffer is small
next to the rows. :func:`iter_capture_batches` keeps :data:`CHUNK_BYTES` unless told."""

# documented length per (family << 8 | type byte); family 0 = TOPS, 1 = DEEP; 0 = undocumented
_DOC_FLAT = tables().doc_len
_LAYOUT_OF: dict[int, MessageLayout] = {**TOPS_LAYOUTS, **DEEP_LAYOUTS}


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
class BatchDecoder:
    """Decodes the chunks of one capture, carrying sequence state from chunk to chunk."""

    venue: str = "IEX"
    strict: bool = False
    report: DecodeReport = field(default_factory=DecodeReport)
    use_numba: bool = True  # compiled kernels when numba is installed (else numpy)
    arena: Arena | None = None  # one buffer for all chunks' rows (decode_capture)
    tracker: SequenceTracker = field(init=False)
    _k: Any = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.tracker = SequenceTracker(self.report, strict=self.strict)
        self._k = kernels() if self.use_numba else None

    def decode_chunk(self, chunk: RecordChunk | Survey) -> dict[str, Rows]:
        """The events of one chunk: kind → rows in file order.

        Rows are columns (field → array) or a structured array of ``dtype_of(kind)``;
        both index by field name the same way. A :class:`Survey` comes from the compiled
        pcap walk (:func:`~fluvius.feeds.iex._survey.pcap_walk`).
        """
        k = self._k
        if k is None:
            assert isinstance(chunk, RecordChunk)
            seg = numpy_segments(chunk, self.report)
            if seg is None:
                return {}
            buf, base = chunk.buf, chunk.base
            msgs = walk_blocks_fast(buf, seg)
            if msgs is None:  # a truncated or corrupt segment in the chunk: walk with checks
                msgs = walk_blocks(buf, seg)
            return self._careful(buf, seg, msgs, base)
        sv = chunk if isinstance(chunk, Survey) else survey_records(k, chunk)
        sv.count(self.report)
        seg = sv.seg
        if not len(seg.off):
            return {}
        if sv.intact:  # the usual case: one pass writes the rows
            drop = self._track(seg, sv.base, sv.in_order)
            return fill_rows(k, sv.buf, seg, sv.counts, drop, self.report, self.arena)
        end = seg.off + 40 + np.minimum(seg.plen, seg.avail)
        u8 = np.frombuffer(sv.buf, dtype=np.uint8)
        msgs = Messages(*k.walk_blocks(u8, seg.off, end, seg.count))
        return self._careful(sv.buf, seg, msgs, sv.base)

    def _careful(
        self, buf: bytes | bytearray, seg: Segments, msgs: Messages, base: int
    ) -> dict[str, Rows]:
        """The general path: problems of each segment and message, then the fields."""
        problems = segment_problems(seg, msgs, base, self.report)
        drop = np.zeros(len(seg.off), dtype=np.int64)
        try:
            self._track(seg, base, drop=drop)
            sequence_error = None
        except DecodeError as exc:  # strict: raised below if nothing comes before it
            sequence_error = exc
        if drop.any():
            msgs = msgs.select(msgs.k >= drop[msgs.seg])
        self.report.messages += len(msgs.mpos)
        return self._fields(buf, seg, msgs, problems, base, sequence_error)

    def _track(
        self,
        seg: Segments,
        base: int,
        in_order: bool | None = None,
        drop: NDArray[np.int64] | None = None,
    ) -> NDArray[np.int64]:
        """Leading duplicate messages per segment; the tracker's state moves past the chunk.

        ``in_order``: whether all segments continue one stream in order (computed if None).
        ``drop`` receives the counts (filled up to the segment of a strict-mode error).
        """
        n = len(seg.off)
        if drop is None:
            drop = np.zeros(n, dtype=np.int64)
        key = StreamKey(int(seg.protocol[0]), int(seg.channel[0]), int(seg.session[0]))
        if in_order is None:
            in_order = bool(
                (seg.protocol == key.protocol).all()
                and (seg.channel == key.channel).all()
                and (seg.session == key.session).all()
                and (seg.first[1:] == (seg.first + seg.count)[:-1]).all()
                and (seg.soff[1:] == (seg.soff + seg.plen)[:-1]).all()
            )
        if in_order and self.tracker.advance_chunk(
            key,
            int(seg.first[0]),
            int(seg.soff[0]),
            int(seg.first[-1] + seg.count[-1]),
            int(seg.soff[-1] + seg.plen[-1]),
            segments=n,
            at=int(seg.off[0]) + base,
        ):
            return drop
        rows = zip(
            seg.protocol.tolist(),
            seg.channel.tolist(),
            seg.session.tolist(),
            seg.first.tolist(),
            seg.count.tolist(),
            seg.soff.tolist(),
            seg.plen.tolist(),
            (seg.off + base).tolist(),
            strict=True,
        )
        observe = self.tracker.observe
        for i, (p, c, s, first, count, soff, plen, at) in enumerate(rows):
            drop[i] = observe(StreamKey(p, c, s), first, count, soff, plen, at)
        return drop

    def _fields(
        self,
        buf: bytes | bytearray,
        seg: Segments,
        msgs: Messages,
        problems: list[tuple[int, str, str]],
        base: int,
        sequence_error: DecodeError | None = None,
    ) -> dict[str, Rows]:
        rep = self.report
        mpos, mlen = msgs.mpos, msgs.mlen
        u8 = np.frombuffer(buf, dtype=np.uint8)
        empty = mlen == 0
        typ = u8[np.minimum(mpos, len(buf) - 1)] if len(mpos) else np.zeros(0, np.uint8)
        fam = (seg.protocol == DEEP_PROTOCOL_ID).astype(np.intp)
        code = (fam[msgs.seg] << 8) + typ if len(fam) > 1 else typ + (fam[0] << 8)
        doc = _DOC_FLAT[code]
        unknown = ~empty & (doc == 0)
        bad = empty | (~unknown & (mlen < doc))
        good = ~empty & ~unknown & ~bad
        rep.long_messages += int(np.count_nonzero(good & (mlen > doc)))
        if unknown.any():
            types, counts = np.unique(typ[unknown], return_counts=True)
            for t, c in zip(types.tolist(), counts.tolist(), strict=True):
                rep.count_unknown(t, c)
        for i in np.flatnonzero(bad).tolist():
            at = base + int(mpos[i])
            if empty[i]:
                problems.append((at, "empty message block", "a message type byte"))
            else:
                t = int(typ[i])
                problems.append(
                    (
                        at,
                        f"{_LAYOUT_OF[t].name} message ({t:#04x}) of {int(mlen[i])} bytes",
                        f"at least {int(doc[i])} bytes",
                    )
                )
        if problems or sequence_error is not None:
            problems.sort(key=lambda p: p[0])
            # strict: the first in file order, as the reference decoder meets them (a damaged
            # segment is reported before its sequence number, its messages after it)
            if sequence_error is not None and (
                not problems or sequence_error.offset < problems[0][0]
            ):
                raise sequence_error
            if self.strict:
                at, what, expected = problems[0]
                raise DecodeError(f"{what} (expected {expected})", offset=at, expected=expected)
            for at, what, expected in problems:
                rep.add_problem(at, f"{what} (expected {expected})")
        gi = np.flatnonzero(good) if not good.all() else None
        gtyp = typ if gi is None else typ[gi]
        order = np.argsort(gtyp, kind="stable")
        if gi is not None:
            order = gi[order]
        sorted_typ = typ[order]
        present = np.flatnonzero(np.bincount(sorted_typ, minlength=256)).tolist()
        bounds = np.searchsorted(sorted_typ, [*present, 256])
        by_type = {t: order[bounds[j] : bounds[j + 1]] for j, t in enumerate(present)}
        kinds: dict[str, list[int]] = {}
        for t in present:  # book level updates come from two types: '8' buy and '5' sell
            kinds.setdefault(_LAYOUT_OF[t].kind, []).append(t)
        out: dict[str, Rows] = {}
        for kind, kind_types in kinds.items():
            rows: NDArray[np.intp] = (
                by_type[kind_types[0]]
                if len(kind_types) == 1
                else np.sort(np.concatenate([by_type[t] for t in kind_types]))
            )
            layout = _LAYOUT_OF[kind_types[0]]
            if self._k is not None:
                cols = gather_compiled(self._k, buf, layout, mpos[rows], typ[rows])
            else:
                cols = gather(buf, layout, mpos[rows], typ[rows])
            cols["recv_ns"] = seg.recv_ns[msgs.seg[rows]]
            cols["seq"] = seg.first[msgs.seg[rows]] + msgs.k[rows]
            out[kind] = cols
            rep.count_event(kind, len(rows))
        return out


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
    ``use_numba`` picks the compiled kernels when numba is installed; the results are the
    same either way.
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
) -> Iterator[dict[str, Rows]]:
    k = decoder._k
    chunks = iter_record_chunks(
        path,
        decoder.report.capture,
        chunk_bytes=chunk_bytes,
        progress=progress,
        reuse_buffer=True,  # the decoder copies what it keeps out of each chunk
        walk=None if k is None else container_walk(k, decoder.report.capture),
        strict=decoder.strict,
    )
    for chunk in chunks:
        arrays = decoder.decode_chunk(chunk)
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
    decoder.arena = Arena(os.stat(path).st_size)  # the chunks' rows adjacent: no join copy
    for columns in _batches(decoder, path, chunk_bytes):
        for kind, cols in columns.items():
            parts.setdefault(kind, []).append(cols)
    batches = {
        kind: EventBatch(kind, venue, rows_from_columns(kind, chunks))
        for kind in KINDS
        if (chunks := parts.get(kind))
    }
    return DecodedCapture(batches, report, time.perf_counter() - t0)
