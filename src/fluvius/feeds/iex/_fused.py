"""One compiled pass from message blocks to finished event rows (the batch decoder's fast path).

Design note
-----------
The numpy path of :mod:`fluvius.feeds.iex.batch` builds per-message arrays (offsets,
types, segment of each message), sorts them by type and gathers each field into its own
column; every one of those steps touches every message again. For a chunk whose segments
are all intact this module does the same work in two compiled loops over the blocks:

1. ``survey`` (:mod:`fluvius.feeds.iex._survey`, the walk from records to segments) checks
   every segment's blocks for what the general path would report (a segment cut short or
   ending before its payload length, an empty block, an undocumented type, a message
   shorter than its layout) and counts messages per (family, type). Any finding sends the
   chunk through the general path instead, which writes the report and problems; so the
   fast path never has to reproduce an error message. (``scan`` repeats the count without
   the duplicates when the sequence tracker drops some.)
2. ``fill`` walks the blocks again and writes each message's event row, bytes at a time,
   straight into one preallocated buffer: one region per kind, rows laid out exactly as
   :func:`fluvius.feeds.events.dtype_of`, in file order. Each (family, type) has a small
   *field program*: (wire offset, conversion, width, row offset) per field, built here
   from the layouts in :mod:`fluvius.feeds.iex.tops` and :mod:`fluvius.feeds.iex.deep`.

The rows come out as structured arrays (views of the buffer, one per kind), so nothing
is packed again afterwards. The tests compare this path with the numpy path and with the
reference decoder on random and damaged captures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from fluvius.feeds._capture import strided_view
from fluvius.feeds.events import IEX_PRICE_FACTOR, dtype_of
from fluvius.feeds.iex._layout import Conv
from fluvius.feeds.iex.deep import DEEP_LAYOUTS, PLU_BUY
from fluvius.feeds.iex.tops import TOPS_LAYOUTS
from fluvius.feeds.iex.transport import DEEP_PROTOCOL_ID as _DEEP

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from fluvius.feeds.iex._blocks import Segments
    from fluvius.feeds.iex.report import DecodeReport

__all__ = [
    "BIT0",
    "COPY",
    "PRICE",
    "SECONDS",
    "TEXT",
    "Arena",
    "FusedTables",
    "Rows",
    "fill_rows",
    "rows_from_columns",
]

Rows = Union[dict[str, "NDArray[Any]"], "NDArray[Any]"]
"""One kind's events of a chunk: columns (field → array) or a structured array of
:func:`~fluvius.feeds.events.dtype_of` (both index by field name)."""
_U4, _U8 = np.dtype("<u4"), np.dtype("<u8")

COPY, PRICE, SECONDS, TEXT, BIT0 = 0, 1, 2, 3, 4


@dataclass(frozen=True, slots=True)
class FusedTables:
    """The field programs and per-kind row layouts the kernels read (all int64 arrays)."""

    kinds: tuple[str, ...]  # kind index → name
    doc_len: NDArray[np.int64]  # (family << 8 | type) → documented length, 0 = undocumented
    kind_of: NDArray[np.int64]  # (family << 8 | type) → kind index, -1 = undocumented
    prog_start: NDArray[np.int64]  # (family << 8 | type) → first program row
    prog_len: NDArray[np.int64]  # (family << 8 | type) → program rows
    prog: NDArray[np.int64]  # rows of (wire offset, conversion, wire width, row offset)
    itemsize: NDArray[np.int64]  # kind → row bytes
    recv_at: NDArray[np.int64]  # kind → row offset of recv_ns
    seq_at: NDArray[np.int64]  # kind → row offset of seq
    side_at: NDArray[np.int64]  # kind → row offset of the PLU side, -1 = none


def _build() -> FusedTables:
    doc_len = np.zeros(512, dtype=np.int64)
    kind_of = np.full(512, -1, dtype=np.int64)
    prog_start = np.zeros(512, dtype=np.int64)
    prog_len = np.zeros(512, dtype=np.int64)
    prog: list[tuple[int, int, int, int]] = []
    kinds: list[str] = []
    side_at: dict[str, int] = {}
    for fam, table in enumerate((TOPS_LAYOUTS, DEEP_LAYOUTS)):
        for t, layout in table.items():
            code = fam << 8 | t
            if layout.kind not in kinds:
                kinds.append(layout.kind)
            dtype = dtype_of(layout.kind)
            doc_len[code] = layout.length
            kind_of[code] = kinds.index(layout.kind)
            prog_start[code] = len(prog)
            for f in layout.fields:
                wire = np.dtype(f.wire).itemsize
                at, out = dtype.fields[f.name][1], dtype.fields[f.name][0].itemsize  # type: ignore[index]
                conv = {Conv.PRICE: PRICE, Conv.SECONDS: SECONDS, Conv.TEXT: TEXT}.get(
                    f.conv, BIT0 if f.conv is Conv.BIT0 else COPY
                )
                want = 8 if conv in (PRICE, SECONDS) else wire
                if out != want:
                    raise ValueError(f"{layout.name}.{f.name}: {wire}-byte wire, {out}-byte row")
                prog.append((f.offset, conv, wire, at))
            prog_len[code] = len(prog) - prog_start[code]
            for name, _value in layout.constants:
                if name != "side":
                    raise ValueError(f"{layout.name}: constant field {name!r} not supported")
                side_at[layout.kind] = dtype.fields["side"][1]  # type: ignore[index]
    return FusedTables(
        kinds=tuple(kinds),
        doc_len=doc_len,
        kind_of=kind_of,
        prog_start=prog_start,
        prog_len=prog_len,
        prog=np.array(prog, dtype=np.int64),
        itemsize=np.array([dtype_of(k).itemsize for k in kinds], dtype=np.int64),
        recv_at=np.array([dtype_of(k).fields["recv_ns"][1] for k in kinds], dtype=np.int64),  # type: ignore[index]
        seq_at=np.array([dtype_of(k).fields["seq"][1] for k in kinds], dtype=np.int64),  # type: ignore[index]
        side_at=np.array([side_at.get(k, -1) for k in kinds], dtype=np.int64),
    )


_TABLES: list[FusedTables] = []


def tables() -> FusedTables:
    """The tables, built once."""
    if not _TABLES:
        _TABLES.append(_build())
    return _TABLES[0]


def rows_of(
    t: FusedTables, out: NDArray[np.uint8], start: NDArray[np.int64], sizes: NDArray[np.int64],
    order: list[int],
) -> dict[str, NDArray[Any]]:  # fmt: skip
    """The per-kind structured views of ``fill``'s buffer, kinds in ``order``."""
    at, end = start.tolist(), (start + sizes).tolist()
    return {t.kinds[k]: out[at[k] : end[k]].view(dtype_of(t.kinds[k])) for k in order}


@dataclass(slots=True)
class Arena:
    """One zeroed buffer for a whole capture's rows, a region per kind, filled chunk by chunk.

    ``fill`` can write a chunk's rows at any byte offsets of one buffer, so when the
    capture's size is known (:func:`~fluvius.feeds.iex.batch.decode_capture`) the chunks
    write into regions of one arena sized from the first chunk's rows per byte (times
    ``margin``, and ``min_rows`` for kinds it lacks): consecutive chunks' rows of a kind
    are then adjacent and the capture's rows of the kind are one view, not a copy of all
    chunks (:func:`rows_from_columns`). A chunk that does not fit
    gets its own buffer, and its kinds are then copied as before. The buffer is allocated
    zeroed (``calloc``), so the pages past the rows are never touched and cost no memory.
    """

    capture_bytes: int
    margin: float = 1.25
    min_rows: int = 4096
    buf: NDArray[np.uint8] | None = None
    cursor: NDArray[np.int64] | None = None
    limit: NDArray[np.int64] | None = None

    def take(
        self, sizes: NDArray[np.int64], itemsize: NDArray[np.int64], chunk_bytes: int
    ) -> tuple[NDArray[np.uint8], NDArray[np.int64]] | None:
        """(buffer, byte offset per kind) for a chunk's rows of ``sizes`` bytes, or None."""
        if self.buf is None:
            scale = self.margin * max(self.capture_bytes, chunk_bytes) / max(chunk_bytes, 1)
            rows = np.maximum(np.ceil(sizes // itemsize * scale).astype(np.int64), self.min_rows)
            cap = rows * itemsize
            self.buf = np.zeros(int(cap.sum()), dtype=np.uint8)
            self.cursor = np.cumsum(cap) - cap
            self.limit = self.cursor + cap
        assert self.cursor is not None
        assert self.limit is not None
        if np.any(self.cursor + sizes > self.limit):
            return None
        start = self.cursor.copy()
        self.cursor += sizes
        return self.buf, start


def fill_rows(
    k: Any,
    buf: bytes | bytearray,
    seg: Segments,
    counts: NDArray[np.int64],
    drop: NDArray[np.int64],
    report: DecodeReport,
    arena: Arena | None = None,
) -> dict[str, Rows]:
    """The rows of a chunk whose segments are all intact, from the compiled kernels ``k``.

    ``counts`` are the messages per ``family << 8 | type`` found by ``survey`` (before
    duplicates); ``drop`` the leading duplicate messages per segment (the sequence
    tracker's verdict), which are skipped and not counted. The rows go into ``arena``
    when given and the chunk fits, else into a new buffer.
    """
    t = tables()
    u8 = np.frombuffer(buf, dtype=np.uint8)
    fam = (seg.protocol == _DEEP).astype(np.int64)
    c = np.ascontiguousarray  # the ahead-of-time kernels take C-contiguous index arrays
    off, count = c(seg.off), c(seg.count)
    if drop.any():
        _, counts = k.scan(u8, off, c(seg.plen), c(seg.avail), count, fam, drop, t.doc_len)
    codes = np.flatnonzero(counts)
    kind_counts = np.bincount(t.kind_of[codes], counts[codes], len(t.kinds)).astype(np.int64)
    order: list[int] = []  # kinds in the order of their smallest type byte, as the numpy path
    for code in sorted(codes.tolist(), key=lambda c: (c & 0xFF, c)):
        if int(t.kind_of[code]) not in order:
            order.append(int(t.kind_of[code]))
    sizes = kind_counts * t.itemsize
    span = int(off[-1] + 40 + seg.plen[-1] - off[0]) if len(off) else 0
    place = arena.take(sizes, t.itemsize, span) if arena is not None else None
    if place is None:
        out = np.zeros(int(sizes.sum()), dtype=np.uint8)
        start = np.cumsum(sizes) - sizes
    else:
        out, start = place
    report.long_messages += int(
        k.fill(
            u8, strided_view(buf, _U4), strided_view(buf, _U8),
            off, count, fam, c(drop), c(seg.recv_ns), c(seg.first),
            t.doc_len, t.kind_of, t.prog_start, t.prog_len, t.prog,
            t.itemsize, t.recv_at, t.seq_at, t.side_at, start,
            out, strided_view(out, _U4), strided_view(out, _U8), PLU_BUY, IEX_PRICE_FACTOR,
        )
    )  # fmt: skip
    report.messages += int(counts.sum())
    rows: dict[str, Rows] = {}
    for kind, r in rows_of(t, out, start, sizes, order).items():
        rows[kind] = r
        report.count_event(kind, len(r))
    return rows


def rows_from_columns(kind: str, chunks: Sequence[Rows]) -> NDArray[Any]:
    """Row chunks of one kind as one structured array of :func:`dtype_of` (at most one copy)."""
    dtype = dtype_of(kind)
    arrays = [c for c in chunks if isinstance(c, np.ndarray) and c.dtype == dtype]
    if len(arrays) == len(chunks):
        if len(arrays) == 1:
            return arrays[0]
        joined = _adjacent(arrays)  # the chunks wrote into one arena: a view, no copy
        if joined is not None:
            return joined
        return np.concatenate([c.view(np.uint8) for c in arrays]).view(dtype)
    rows = np.empty(sum(len(c["seq"]) for c in chunks), dtype=dtype)
    at = 0
    for cols in chunks:
        n = len(cols["seq"])
        for name in dtype.names or ():
            rows[name][at : at + n] = cols[name]
        at += n
    return rows


def _adjacent(arrays: list[NDArray[Any]]) -> NDArray[Any] | None:
    """One view of row arrays that lie end to end in one buffer (an :class:`Arena`), else None."""
    base = arrays[0].base
    if not isinstance(base, np.ndarray) or base.dtype != np.uint8 or base.ndim != 1:
        return None
    origin = base.__array_interface__["data"][0]
    at = arrays[0].__array_interface__["data"][0] - origin
    end = at
    for a in arrays:
        if a.base is not base or a.__array_interface__["data"][0] - origin != end:
            return None
        end += a.nbytes
    return base[at:end].view(arrays[0].dtype)
