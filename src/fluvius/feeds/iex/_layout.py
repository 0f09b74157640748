"""Message layouts → field programs: the one table both decoders read.

A :class:`MessageLayout` (one per message type, in :mod:`~fluvius.feeds.iex.tops` and
:mod:`~fluvius.feeds.iex.deep`) lists where each unified-event field sits in the message
(offset, wire type) and how the wire value becomes the event value (:class:`Conv`). The
reference decoder turns a layout into one :class:`struct.Struct` and converts the unpacked
tuple in Python (:meth:`MessageLayout.decode`); the compiled kernel reads the same layouts
as *field programs* (:func:`programs`): per ``family << 8 | type byte`` (family 0 TOPS,
1 DEEP) its documented length, its kind, and one row per field of (wire offset,
conversion, wire width, offset in the event row of :func:`~fluvius.feeds.events.dtype_of`).
Keeping the table in one place means the byte offsets are written once, from the spec; the
tests check them against the spec's worked examples and an independent struct writer.
"""

from __future__ import annotations

import dataclasses
import enum
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from fluvius.feeds.events import EVENT_TYPES, IEX_PRICE_FACTOR, TimestampNs

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from fluvius.feeds.events import Event

__all__ = ["Conv", "Field", "MessageLayout", "Programs", "admin_fields", "programs"]


class Conv(enum.Enum):
    """How a wire value becomes an event value."""

    RAW = "raw"  # integers as they are
    PRICE = "price"  # 1e-4 fixed point → 1e-9 (times IEX_PRICE_FACTOR)
    SECONDS = "seconds"  # u32 seconds → ns
    CODE = "code"  # one ASCII byte → a one-letter str (a space stays a space)
    TEXT = "text"  # space-padded string → trailing spaces (then NULs) removed
    BIT0 = "bit0"  # a flags byte → bool of its lowest bit (DEEP Event Flags)


_WRAP, _HALF = 1 << 64, 1 << 63
_STRUCT_CODES = {"u1": "B", "<u4": "I", "<i8": "q", "S1": "c", "S4": "4s", "S8": "8s"}


@dataclass(frozen=True, slots=True)
class Field:
    """One event field: its byte offset in the message, wire type and conversion."""

    name: str
    offset: int
    wire: str  # numpy type code of the wire value
    conv: Conv = Conv.RAW


def admin_fields(*, symbol: bool = True) -> tuple[Field, ...]:
    """Timestamp (offset 2) and symbol (offset 10): common to nearly every message."""
    ts = Field("ts_ns", 2, "<i8")
    return (ts, Field("symbol", 10, "S8", Conv.TEXT)) if symbol else (ts,)


@dataclass(frozen=True, slots=True)
class MessageLayout:
    """The layout of one message type (spec section in ``spec``)."""

    type_byte: int
    name: str
    length: int  # the documented length; longer messages are accepted, shorter are corrupt
    kind: str
    fields: tuple[Field, ...]
    constants: tuple[tuple[str, Any], ...] = ()  # event fields fixed by the type (PLU side)
    _struct: struct.Struct = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_offset = sorted(self.fields, key=lambda f: f.offset)
        fmt, pos = "<", 0
        for f in by_offset:
            fmt += "x" * (f.offset - pos) + _STRUCT_CODES[f.wire]
            pos = f.offset + np.dtype(f.wire).itemsize
        object.__setattr__(self, "_struct", struct.Struct(fmt))
        missing = [
            name
            for name in (f.name for f in dataclasses.fields(EVENT_TYPES[self.kind]))
            if name not in ("venue", "recv_ns", "seq", "symbol")
            and name not in {f.name for f in self.fields}
            and name not in dict(self.constants)
        ]
        if missing:
            raise ValueError(f"layout {self.name!r} does not fill the fields {missing}")
        object.__setattr__(self, "fields", tuple(by_offset))

    def decode(
        self, buf: bytes | bytearray | memoryview, off: int, venue: str, recv_ns: int, seq: int
    ) -> Event:
        """The event of the message at ``buf[off:]`` (at least :attr:`length` bytes there)."""
        raw = self._struct.unpack_from(buf, off)
        values = {f.name: convert(f.conv, v) for f, v in zip(self.fields, raw, strict=True)}
        values.update(self.constants)
        values.setdefault("symbol", "")
        cls = EVENT_TYPES[self.kind]
        return cls(venue=venue, recv_ns=TimestampNs(recv_ns), seq=seq, **values)


def convert(conv: Conv, value: Any) -> Any:
    """One wire value converted (the scalar twin of the batch decoder's column conversions)."""
    if conv is Conv.RAW:
        return value
    if conv is Conv.PRICE:  # wraps like int64 on absurd (corrupt) values, as numpy does
        return (value * IEX_PRICE_FACTOR + _HALF) % _WRAP - _HALF
    if conv is Conv.SECONDS:
        return value * 1_000_000_000
    if conv is Conv.CODE:
        return value.decode("latin-1")
    if conv is Conv.TEXT:
        return value.rstrip(b" ").rstrip(b"\x00").decode("latin-1")
    return bool(value & 1)  # Conv.BIT0


COPY, PRICE, SECONDS, TEXT, BIT0 = 0, 1, 2, 3, 4
"""The conversions of a field program row (the kernel branches on these numbers)."""
CHECK, WRITE, BOTH = 0, 1, 2
"""The kernel ``decode_rows``' modes: check and count; write at given places; both, rows packed."""
_CONV_CODE = {Conv.PRICE: PRICE, Conv.SECONDS: SECONDS, Conv.TEXT: TEXT, Conv.BIT0: BIT0}


@dataclass(frozen=True, slots=True)
class Programs:
    """The layouts as the kernel reads them (int64 arrays, indexed by family << 8 | type)."""

    kinds: tuple[str, ...]  # kind index → name
    doc_len: NDArray[np.int64]  # code → documented length, 0 = undocumented
    kind_of: NDArray[np.int64]  # code → kind index, -1 = undocumented
    prog_start: NDArray[np.int64]  # code → first program row
    prog_len: NDArray[np.int64]  # code → program rows
    prog: NDArray[np.int64]  # rows of (wire offset, conversion, wire width, row offset)
    itemsize: NDArray[np.int64]  # kind → row bytes
    recv_at: NDArray[np.int64]  # kind → row offset of recv_ns
    seq_at: NDArray[np.int64]  # kind → row offset of seq
    side_at: NDArray[np.int64]  # kind → row offset of the PLU side, -1 = none
    partial: NDArray[np.int64]  # code → 1 when its program leaves row bytes unwritten

    @property
    def res(self) -> int:
        """The entries of ``decode_rows``' counts: rows per kind, then long messages."""
        return len(self.kinds) + 1

    def arrays(self) -> list[NDArray[np.int64]]:
        """Every table (what the compiled kernel freezes into its machine code)."""
        return [getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "kinds"]


_PROGRAMS: list[Programs] = []


def programs() -> Programs:
    """The field programs of every TOPS and DEEP layout (built once)."""
    if not _PROGRAMS:
        _PROGRAMS.append(_build_programs())
    return _PROGRAMS[0]


def _build_programs() -> Programs:
    from fluvius.feeds.events import dtype_of
    from fluvius.feeds.iex.deep import DEEP_LAYOUTS
    from fluvius.feeds.iex.tops import TOPS_LAYOUTS

    doc_len = np.zeros(512, dtype=np.int64)
    kind_of = np.full(512, -1, dtype=np.int64)
    prog_start = np.zeros(512, dtype=np.int64)
    prog_len = np.zeros(512, dtype=np.int64)
    partial = np.zeros(512, dtype=np.int64)
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
            written = 16  # recv_ns and seq
            for f in layout.fields:
                wire = np.dtype(f.wire).itemsize
                at, out = dtype.fields[f.name][1], dtype.fields[f.name][0].itemsize  # type: ignore[index]
                conv = _CONV_CODE.get(f.conv, COPY)
                if out != (8 if conv in (PRICE, SECONDS) else wire):
                    raise ValueError(f"{layout.name}.{f.name}: {wire}-byte wire, {out}-byte row")
                prog.append((f.offset, conv, wire, at))
                written += out
            prog_len[code] = len(prog) - prog_start[code]
            for name, _value in layout.constants:
                if name != "side":
                    raise ValueError(f"{layout.name}: constant field {name!r} not supported")
                side_at[layout.kind] = dtype.fields["side"][1]  # type: ignore[index]
                written += 1
            partial[code] = written != dtype.itemsize
    return Programs(
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
        partial=partial,
    )
