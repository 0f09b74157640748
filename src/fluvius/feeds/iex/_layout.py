"""Message layouts: one table per IEX message type, read by both decoders.

A :class:`MessageLayout` lists where each unified-event field sits in the message
(offset, wire type) and how the wire value becomes the event value (:class:`Conv`). The
reference decoder turns a layout into one :class:`struct.Struct` and converts the unpacked
tuple in Python (:meth:`MessageLayout.decode`); the batch decoder turns it into a numpy
dtype with explicit offsets (:meth:`MessageLayout.wire_dtype`) and converts whole columns.
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
    from fluvius.feeds.events import Event

__all__ = ["Conv", "Field", "MessageLayout", "admin_fields"]


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

    def wire_dtype(self) -> np.dtype[Any]:
        """A numpy dtype reading every field at its offset (itemsize = documented length)."""
        return np.dtype(
            {
                "names": [f.name for f in self.fields],
                "formats": [f.wire for f in self.fields],
                "offsets": [f.offset for f in self.fields],
                "itemsize": self.length,
            }
        )

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
