"""Gathering one message type's fields into unified-event columns (the batch decoder's step 5).

Each field is read straight from the capture buffer at ``message offset + field offset``
(a strided numpy view, or the numba ``gather*`` kernels) and converted per column: prices
times :data:`~fluvius.feeds.events.IEX_PRICE_FACTOR`, auction seconds to ns, symbols and
reasons with trailing spaces removed, DEEP event flags to ``event_end``, the PLU side from
the type byte. Both variants give identical columns (the tests compare them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from fluvius.feeds._capture import strided_view
from fluvius.feeds.events import IEX_PRICE_FACTOR
from fluvius.feeds.iex._layout import Conv, MessageLayout
from fluvius.feeds.iex.deep import PLU_BUY

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["Columns", "gather", "gather_compiled", "rstrip_spaces"]

_FIELD_VIEW = {code: np.dtype(code) for code in ("u1", "<u4", "<i8", "S1", "S4", "S8")}

Columns = dict[str, "NDArray[Any]"]
"""One kind's events as columns: field name → array (the fields of ``dtype_of(kind)``)."""


def gather(
    buf: bytes | bytearray, layout: MessageLayout, mpos: NDArray[np.int64], typ: NDArray[np.uint8]
) -> Columns:
    """One type's fields, each gathered straight from the buffer and converted (no row copy)."""
    cols: Columns = {}
    for f in layout.fields:
        col = strided_view(buf, _FIELD_VIEW[f.wire])[mpos + f.offset]
        if f.conv is Conv.PRICE:
            col *= IEX_PRICE_FACTOR
        elif f.conv is Conv.SECONDS:
            col = col.astype(np.int64) * 1_000_000_000
        elif f.conv is Conv.TEXT:
            col = rstrip_spaces(col)
        elif f.conv is Conv.BIT0:
            col = (col & 1).astype(bool)
        cols[f.name] = col
    if "symbol" not in cols:
        cols["symbol"] = np.zeros(len(mpos), dtype="S8")
    for name, value in layout.constants:
        if name == "side":
            cols["side"] = np.where(typ == PLU_BUY, b"B", b"S")
        else:  # pragma: no cover - the only constant field is the PLU side
            cols[name] = np.full(len(mpos), value)
    return cols


def gather_compiled(
    k: Any, buf: bytes | bytearray, layout: MessageLayout, mpos: NDArray[np.int64], typ: Any
) -> Columns:
    """:func:`gather` with the numba kernels (same columns, same values)."""
    a = np.frombuffer(buf, dtype=np.uint8)
    cols: Columns = {}
    for f in layout.fields:
        if f.wire == "<i8":
            mult = IEX_PRICE_FACTOR if f.conv is Conv.PRICE else 1
            col = k.gather8(a, mpos, f.offset, mult)
        elif f.wire == "<u4":
            col = k.gather4(a, mpos, f.offset)
            if f.conv is Conv.SECONDS:
                col = col.astype(np.int64) * 1_000_000_000
        elif f.wire == "S8":
            col = k.gather_text(a, mpos, f.offset, 8).view("S8")
        elif f.wire == "S4":
            col = k.gather_text(a, mpos, f.offset, 4).astype(np.uint32).view("S4")
        else:  # one byte: u1 or S1
            col = k.gather1(a, mpos, f.offset)
            if f.conv is Conv.BIT0:
                col = (col & 1).astype(bool)
            elif f.wire == "S1":
                col = col.view("S1")
        cols[f.name] = col
    if "symbol" not in cols:
        cols["symbol"] = np.zeros(len(mpos), dtype="S8")
    if layout.constants:
        cols["side"] = np.where(typ == PLU_BUY, b"B", b"S")
    return cols


def rstrip_spaces(col: NDArray[Any]) -> NDArray[Any]:
    """Fixed-width strings with their trailing spaces turned into NULs (numpy then drops them).

    Branch-free: the run of trailing spaces is the run of leading zero bytes of
    ``value ^ 0x2020...`` (the last character is the most significant byte, little-endian),
    counted by halving (4, 2, 1 bytes) and then masked off.
    """
    width = col.dtype.itemsize
    utype = np.dtype(f"<u{width}")
    v = np.ascontiguousarray(col).view(utype)
    x = v ^ utype.type(int.from_bytes(b" " * width, "little"))
    spaces = np.zeros(len(v), dtype=utype)
    bits = 8 * width
    step = width // 2
    while step:
        shift = utype.type(8 * step)
        high_zero = (x >> utype.type(bits - 8 * step)) == 0
        spaces += np.where(high_zero, utype.type(step), utype.type(0))
        x = np.where(high_zero, x << shift, x)
        step //= 2
    spaces += (x == 0).astype(utype)  # all spaces: one more byte
    keep_bits = (utype.type(width) - spaces) * utype.type(8)
    full = np.iinfo(utype).max
    mask = np.where(
        keep_bits >= bits, utype.type(full), (utype.type(1) << (keep_bits % bits)) - utype.type(1)
    ).astype(utype)
    stripped: NDArray[Any] = (v & mask).view(col.dtype)
    return stripped
