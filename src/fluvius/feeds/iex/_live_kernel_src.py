"""The live decoder's per-datagram kernel, plain Python that numba compiles (``_live_kernels``).

Design note
-----------
:func:`decode_datagram` turns one clean IEX-TP segment (TOPS 1.6 or DEEP 1.0) into event
rows laid out exactly as :func:`fluvius.feeds.events.dtype_of`, one region per kind, plus
the kind of every message in file order. It is written for the cost of *one call per
datagram*: numba unboxes every array argument (a few tenths of a µs each), so the call takes
two arrays, both preallocated and reused by the caller
(:class:`~fluvius.feeds.iex.datagram.ColumnarSegmentDecoder`):

* ``ws`` (``uint8``): the datagram at ``[0, n)``, and the output from :data:`OUT`: the
  kind index of each message (``count`` bytes), then the rows of kind 0, 1, ... in kind
  order (each row zeroed, then written field by field);
* ``meta`` (``int64``): the row count of each kind at ``[0, NKINDS)``; the rest is scratch.

The field programs (wire offset, conversion, width, row offset per field) are the batch
decoder's (:func:`fluvius.feeds.iex._fused.tables`), read here as module globals, which
numba freezes into the compiled code as constants (no table arguments to unbox).

Two passes over the message blocks: the first checks that the segment is *clean* (every
block inside the datagram, of a documented type and of exactly its documented length, the
blocks ending at the datagram's end) and counts rows per kind; anything else returns -1
before a row is written and the caller hands the datagram to the reference decoder, which
reports it. The second pass writes the rows. The return value is the number of output
bytes (kind bytes and rows). Values are written byte by byte (rows are packed, fields sit
at unaligned offsets); prices wrap like int64, as everywhere else.
"""

# mypy: ignore-errors

from __future__ import annotations

from typing import Any

import numpy as np

from fluvius.feeds.events import IEX_PRICE_FACTOR
from fluvius.feeds.iex._fused import BIT0, COPY, PRICE, SECONDS, TEXT, tables
from fluvius.feeds.iex.deep import PLU_BUY

__all__ = ["IN_CAP", "NKINDS", "OUT", "OUT_CAP", "decode_datagram"]

_T = tables()
DOC = _T.doc_len
KIND_OF = _T.kind_of
PROG_START = _T.prog_start
PROG_LEN = _T.prog_len
PROG = _T.prog
ITEMSIZE = _T.itemsize
RECV_AT = _T.recv_at
SEQ_AT = _T.seq_at
SIDE_AT = _T.side_at
NKINDS = len(_T.kinds)


def _partial() -> Any:
    """Per (family << 8 | type): 1 when its program, recv, seq and side leave row bytes unset."""
    out = np.zeros(len(DOC), dtype=np.int64)
    for code in np.flatnonzero(DOC).tolist():
        k = KIND_OF[code]
        rows = PROG[PROG_START[code] : PROG_START[code] + PROG_LEN[code]]
        # bytes written: each field's row width (prices and times are 8 wide in the row)
        wide = np.where((rows[:, 1] == 1) | (rows[:, 1] == 2), 8, rows[:, 2])
        written = int(wide.sum()) + 16 + (SIDE_AT[k] >= 0)
        out[code] = written != ITEMSIZE[k]
    return out


PARTIAL = _partial()

IN_CAP = 65536
"""The largest datagram the kernel takes (a UDP payload is at most 65,507 bytes)."""
OUT = IN_CAP
"""Where the output starts in the workspace."""
_documented = np.flatnonzero(DOC)
# worst case: the datagram full of the type with the largest row per wire byte
OUT_CAP = int(
    (IN_CAP // int((DOC[_documented] + 2).min()) + 1)
    + IN_CAP * float((ITEMSIZE[KIND_OF[_documented]] / (DOC[_documented] + 2)).max())
    + 64
)
"""Output bytes the workspace reserves after :data:`OUT`."""

_CODES = (COPY, PRICE, SECONDS, TEXT, BIT0)
if _CODES != (0, 1, 2, 3, 4):  # the branches below test the numbers
    raise ValueError(f"field program conversions changed: {_CODES}")


def decode_datagram(
    ws: Any, meta: Any, n: int, count: int, fam: int, recv_ns: int, first: int
) -> int:
    code0 = fam << 8
    for k in range(NKINDS):
        meta[k] = 0
    # pass 1: is the segment clean? count rows per kind; the kind of each message
    pos = 40
    for c in range(count):
        if pos + 2 > n:
            return -1
        length = np.int64(ws[pos]) | (np.int64(ws[pos + 1]) << 8)
        m = pos + 2
        if m + length > n or length == 0:
            return -1
        code = code0 | np.int64(ws[m])
        if DOC[code] == 0 or length != DOC[code]:
            return -1
        k = KIND_OF[code]
        meta[k] += 1
        ws[OUT + c] = k
        pos = m + length
    if pos != n:
        return -1
    # row regions: kinds in index order after the kind bytes; cursors in meta's scratch
    at = OUT + count
    for k in range(NKINDS):
        meta[NKINDS + k] = at
        at += meta[k] * ITEMSIZE[k]
    # pass 2: the rows
    pos = 40
    for c in range(count):
        length = np.int64(ws[pos]) | (np.int64(ws[pos + 1]) << 8)
        m = pos + 2
        pos = m + length
        code = code0 | np.int64(ws[m])
        k = KIND_OF[code]
        r = meta[NKINDS + k]
        meta[NKINDS + k] = r + ITEMSIZE[k]
        if PARTIAL[code]:  # a row field the program does not write (a symbol-less type)
            for b in range(ITEMSIZE[k]):
                ws[r + b] = 0
        for j in range(PROG_START[code], PROG_START[code] + PROG_LEN[code]):
            src = m + PROG[j, 0]
            conv = PROG[j, 1]
            width = PROG[j, 2]
            dst = r + PROG[j, 3]
            # constant trip counts: the compiler turns each loop into one load and store
            if conv == 0:  # copy
                if width == 8:
                    for b in range(8):
                        ws[dst + b] = ws[src + b]
                elif width == 4:
                    for b in range(4):
                        ws[dst + b] = ws[src + b]
                else:
                    ws[dst] = ws[src]
            elif conv == 1:  # price: i8 times the factor
                v = np.uint64(0)
                for b in range(8):
                    v |= np.uint64(ws[src + b]) << np.uint64(8 * b)
                v = np.uint64(np.int64(v) * IEX_PRICE_FACTOR)
                for b in range(8):
                    ws[dst + b] = np.uint8((v >> np.uint64(8 * b)) & np.uint64(0xFF))
            elif conv == 2:  # u4 seconds to ns
                v = np.uint64(0)
                for b in range(4):
                    v |= np.uint64(ws[src + b]) << np.uint64(8 * b)
                v = np.uint64(np.int64(v) * 1_000_000_000)
                for b in range(8):
                    ws[dst + b] = np.uint8((v >> np.uint64(8 * b)) & np.uint64(0xFF))
            elif conv == 3:  # text: trailing spaces become NULs
                last = width
                while last > 0 and ws[src + last - 1] == 32:
                    last -= 1
                if width == 8:
                    for b in range(8):
                        ws[dst + b] = ws[src + b] if b < last else 0
                else:
                    for b in range(4):
                        ws[dst + b] = ws[src + b] if b < last else 0
            else:  # 4: bit 0 of a flags byte
                ws[dst] = ws[src] & 1
        v = np.uint64(recv_ns)
        s = np.uint64(first + c)
        ra = r + RECV_AT[k]
        sa = r + SEQ_AT[k]
        for b in range(8):
            ws[ra + b] = np.uint8((v >> np.uint64(8 * b)) & np.uint64(0xFF))
            ws[sa + b] = np.uint8((s >> np.uint64(8 * b)) & np.uint64(0xFF))
        if SIDE_AT[k] >= 0:
            ws[r + SIDE_AT[k]] = 66 if ws[m] == PLU_BUY else 83  # 'B' / 'S'
    return at - OUT
