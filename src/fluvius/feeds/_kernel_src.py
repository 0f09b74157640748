"""The IEX decoder's compiled loops as plain Python (numba compiles them; see ``_kernels``).

Design note (the whole core: docs/reference/iex.md, "The decoder core")
-----------------------------------------------------------------------
Written in the subset of Python and numpy that numba compiles; run uncompiled they are
correct but very slow, so nothing calls them so. ``survey`` walks a chunk's packet
records (pcap records or pcapng packet blocks; the file headers are read in Python by
:mod:`fluvius.feeds._capture`) to its IEX-TP segments. ``decode_rows`` is **the** decoder
kernel, over N segments: it checks that each is *clean* and writes each message's row
(:func:`fluvius.feeds.events.dtype_of`) by interpreting its type's field program
(:func:`fluvius.feeds.iex._layout.programs`, frozen in as constants); it stops at the
first segment that is not clean, which the caller hands to the reference decoder.
"""

# mypy: ignore-errors

from __future__ import annotations

from typing import Any

import numpy as np

from fluvius.feeds.events import IEX_PRICE_FACTOR
from fluvius.feeds.iex._layout import BIT0, CHECK, COPY, PRICE, SECONDS, TEXT, WRITE, programs
from fluvius.feeds.iex.deep import PLU_BUY
from fluvius.feeds.iex.transport import DEEP_PROTOCOL_ID

__all__ = ["NKINDS", "RES", "decode_rows", "survey"]

_P = programs()
DOC = _P.doc_len
KIND_OF = _P.kind_of
PROG_START = _P.prog_start
PROG_LEN = _P.prog_len
PROG = _P.prog
ITEMSIZE = _P.itemsize
RECV_AT = _P.recv_at
SEQ_AT = _P.seq_at
SIDE_AT = _P.side_at
PARTIAL = _P.partial
NKINDS = len(_P.kinds)
if (COPY, PRICE, SECONDS, TEXT, BIT0) != (0, 1, 2, 3, 4):  # the branches test the numbers
    raise ValueError("field program conversions changed")

# The frequent types (quote, trade, price level update) write their fields but the symbol
# in straight-line code: FAST[code] picks one of these shapes when the code's program is
# exactly the shape's (wire offset, conversion, width) rows plus TEXT rows; FAST_AT[code]
# holds those rows' row offsets (from the program: kinds differ) and the interpreter runs
# the TEXT rows alone (LEFT_START / LEFT_LEN). A layout that stops matching a shape only
# loses the shortcut. The write pass takes about 20 % less time on TOPS, 15 % on DEEP.
_SHAPES = (
    ((1, COPY, 1), (2, COPY, 8), (18, COPY, 4), (22, PRICE, 8), (30, PRICE, 8), (38, COPY, 4)),
    ((1, COPY, 1), (2, COPY, 8), (18, COPY, 4), (22, PRICE, 8), (30, COPY, 8)),
    ((1, BIT0, 1), (2, COPY, 8), (18, COPY, 4), (22, PRICE, 8)),
)
FAST = np.zeros(len(DOC), np.int64)
FAST_AT = np.zeros((len(DOC), 6), np.int64)
LEFT_START = PROG_START.copy()
LEFT_LEN = PROG_LEN.copy()
LEFT = np.zeros((len(PROG) + 2 * len(DOC), 4), np.int64)
LEFT[: len(PROG)] = PROG
_free = len(PROG)
for _code in range(len(DOC)):
    _rows = PROG[PROG_START[_code] : PROG_START[_code] + PROG_LEN[_code]]
    _text = [r for r in _rows.tolist() if r[1] == TEXT]
    _rest = [r for r in _rows.tolist() if r[1] != TEXT]
    for _shape, _want in enumerate(_SHAPES, 1):
        if PARTIAL[_code] == 0 and [tuple(r[:3]) for r in _rest] == list(_want):
            FAST[_code] = _shape
            FAST_AT[_code, : len(_rest)] = [r[3] for r in _rest]
            LEFT[_free : _free + len(_text)] = _text
            LEFT_START[_code], LEFT_LEN[_code] = _free, len(_text)
            _free += len(_text)
            break
LEFT = LEFT[:_free]

RES = _P.res


def decode_rows(
    a1: Any, a2: Any, a4: Any, a8: Any, seg: Any, drop: Any, lo: int, hi: int, mode: int,
    o1: Any, o4: Any, o8: Any, place: Any, res: Any,
) -> int:  # fmt: skip
    # a1, a2, a4, a8: the input viewed as u8 / u16 / u32 / u64 at every byte offset
    # (stride 1); o1, o4, o8: the output, the same way. seg: the survey's (12, N) table;
    # rows 0 (header offset), 1 (bytes after the header) and 3 (capture time) are read, the
    # rest from the header. drop: leading duplicates per segment (skipped, not counted).
    # CHECK: segments lo..hi-1 up to the first that is not clean; res (RES entries) =
    #   rows per kind, long messages; returns the index of the segment that is not clean
    #   (hi: all clean).
    # WRITE: the rows of segments lo..hi-1 (all clean) at place[k], the byte offset of
    #   kind k's next row (advanced); returns hi.
    # BOTH: CHECK, then (all clean) the rows from place[NKINDS] on, kinds in index order;
    #   place[k] = where kind k's rows end.
    nk = NKINDS
    if mode != WRITE:
        for k in range(RES):
            res[k] = 0
        for i in range(lo, hi):
            h = seg[0, i]
            plen = np.int64(a2[h + 12])
            count = np.int64(a2[h + 14])
            code0 = np.int64(256) if a2[h + 2] == DEEP_PROTOCOL_ID else np.int64(0)
            pos = h + 40
            e = pos + plen
            c = 0
            clean = plen <= seg[1, i]
            while clean and c < count:
                length = np.int64(a2[pos])
                m = pos + 2
                if length == 0 or m + length > e:
                    clean = False
                    break
                code = code0 | np.int64(a1[m])
                d = DOC[code]
                if d == 0 or length < d:
                    clean = False
                    break
                if c >= drop[i]:
                    res[KIND_OF[code]] += 1
                    if length > d:
                        res[nk] += 1
                pos = m + length
                c += 1
            if clean and pos == e:
                continue
            # not clean: take back this segment's counts, and stop before it
            pos = h + 40
            for j in range(c):
                length = np.int64(a2[pos])
                code = code0 | np.int64(a1[pos + 2])
                if j >= drop[i]:
                    res[KIND_OF[code]] -= 1
                    if length > DOC[code]:
                        res[nk] -= 1
                pos += 2 + length
            return i
        if mode == CHECK:
            return hi
        at = place[nk]
        for k in range(nk):
            place[k] = at
            at += res[k] * ITEMSIZE[k]
    for i in range(lo, hi):
        h = seg[0, i]
        recv = np.uint64(seg[3, i])
        code0 = np.int64(256) if a2[h + 2] == DEEP_PROTOCOL_ID else np.int64(0)
        seq = np.int64(a8[h + 24])
        pos = h + 40
        for c in range(a2[h + 14]):
            m = pos + 2
            pos = m + np.int64(a2[pos])
            if c < drop[i]:
                continue
            code = code0 | np.int64(a1[m])
            k = KIND_OF[code]
            r = place[k]
            place[k] = r + ITEMSIZE[k]
            if PARTIAL[code]:  # a row field the program does not write (a symbol-less type)
                for b in range(ITEMSIZE[k]):
                    o1[r + b] = 0
            fast = FAST[code]
            if fast != 0:  # all but the TEXT rows, straight-line
                o1[r + FAST_AT[code, 0]] = a1[m + 1] & 1 if fast == 3 else a1[m + 1]
                o8[r + FAST_AT[code, 1]] = a8[m + 2]
                o4[r + FAST_AT[code, 2]] = a4[m + 18]
                o8[r + FAST_AT[code, 3]] = np.uint64(np.int64(a8[m + 22]) * IEX_PRICE_FACTOR)
                if fast == 1:
                    o8[r + FAST_AT[code, 4]] = np.uint64(np.int64(a8[m + 30]) * IEX_PRICE_FACTOR)
                    o4[r + FAST_AT[code, 5]] = a4[m + 38]
                elif fast == 2:
                    o8[r + FAST_AT[code, 4]] = a8[m + 30]
            for j in range(LEFT_START[code], LEFT_START[code] + LEFT_LEN[code]):
                src = m + LEFT[j, 0]
                conv = LEFT[j, 1]
                width = LEFT[j, 2]
                dst = r + LEFT[j, 3]
                if conv == 0:  # copy
                    if width == 8:
                        o8[dst] = a8[src]
                    elif width == 4:
                        o4[dst] = a4[src]
                    else:
                        o1[dst] = a1[src]
                elif conv == 1:  # price: i8 times the factor (wraps like numpy)
                    o8[dst] = np.uint64(np.int64(a8[src]) * IEX_PRICE_FACTOR)
                elif conv == 2:  # u4 seconds to ns
                    o8[dst] = np.uint64(np.int64(a4[src]) * 1_000_000_000)
                elif conv == 3:  # text: trailing spaces become NULs
                    # mark the bytes that are not spaces (high bit of each byte of t), spread
                    # the marks to every byte below the last one, widen them to a byte mask
                    if width == 8:
                        v = a8[src]
                        x = v ^ np.uint64(0x2020202020202020)
                    else:
                        v = np.uint64(a4[src])
                        x = v ^ np.uint64(0x20202020)
                    low7 = np.uint64(0x7F7F7F7F7F7F7F7F)
                    t = (((x & low7) + low7) | x) & np.uint64(0x8080808080808080)
                    t |= t >> np.uint64(8)
                    t |= t >> np.uint64(16)
                    t |= t >> np.uint64(32)
                    v &= (t >> np.uint64(7)) * np.uint64(0xFF)
                    if width == 8:
                        o8[dst] = v
                    else:
                        o4[dst] = np.uint32(v)
                else:  # 4: bit 0 of a flags byte
                    o1[dst] = a1[src] & 1
            o8[r + RECV_AT[k]] = recv
            o8[r + SEQ_AT[k]] = np.uint64(seq + c)
            if SIDE_AT[k] >= 0:
                o1[r + SIDE_AT[k]] = 66 if a1[m] == PLU_BUY else 83  # 'B' / 'S'
    return hi


def survey(
    a: Any, a2: Any, a4: Any, a8: Any, start: int, little: bool, ng: bool, max_len: int,
    ns_per_tick: int, linktype: int, how: Any, factor: Any, links: Any, snap0: int, fam_of: Any,
) -> Any:  # fmt: skip
    # Walks the complete records from a[start:]: classic pcap (ns_per_tick, linktype) or,
    # with ng, pcapng packet blocks (EPB, SPB, PB; other blocks skipped) of the section's
    # interfaces: per interface its link type and time unit, ticks * factor (how 0),
    # ticks // factor (1; factor 0: 0) or ticks * 10^9 >> factor (2). a2, a4, a8: the buffer
    # as u16 / u32 / u64 at every byte offset. stats[1] says why it stopped: the end of the
    # complete records (0), a section header or interface description (1, pcapng), a record
    # or block length above max_len (2), a packet block too short for its fields (3).
    n = len(a)
    nif = len(links)
    segs = np.empty((12, (n - start) // 98 + 1), np.int64)  # a segment's record is >= 98 bytes
    stats = np.zeros(14, np.int64)
    nseg = 0
    nxt_seq = np.int64(0)
    nxt_off = np.int64(0)
    pos = start
    why = 0

    def word(p):  # the u32 at a[p] in the file's byte order
        v = np.int64(a4[p])
        if little:
            return v
        return ((v & 0xFF) << 24) | ((v & 0xFF00) << 8) | ((v >> 8) & 0xFF00) | (v >> 24)

    while True:
        # the next record: frame offset, captured and original length, time, link type
        if ng:
            if pos + 12 > n:
                break
            btype = word(pos)
            blen = word(pos + 4)
            if btype == 0x0A0D0D0A or btype == 1:
                why = 1
                break
            if blen < 12 or blen % 4 != 0 or blen > max_len:
                why = 2
                break
            if pos + blen > n:
                break
            room = blen - 12
            if btype != 6 and btype != 2 and btype != 3:
                stats[12] += 1
                pos += blen
                continue
            if btype != 3 and room < 20:
                why = 3
                break
            if btype == 3:  # SPB: original length, then the packet; interface 0, no time
                iface = np.int64(0)
                orig = word(pos + 8)
                cap = min(orig, room - 4)
                if snap0 > 0:
                    cap = min(cap, snap0)
                cap = max(cap, np.int64(0))
                fo = pos + 12
                ticks = np.uint64(0)
            else:  # EPB, PB: interface, time (two words), captured and original length
                w = word(pos + 8)
                iface = w if btype == 6 else (w & 0xFFFF if little else w >> 16)
                ticks = (np.uint64(word(pos + 12)) << np.uint64(32)) | np.uint64(word(pos + 16))
                cap = min(word(pos + 20), room - 20)
                orig = word(pos + 24)
                fo = pos + 28
            if iface < nif:
                lk, h, f = links[iface], how[iface], factor[iface]
            else:  # an undeclared interface (a damaged file): Ethernet, microseconds
                lk, h, f = np.int64(1), np.int64(0), np.uint64(1000)
            if h == 0:  # wraps beyond int64, as numpy does
                ts = np.int64(ticks * f)
            elif h == 1:
                ts = np.int64(ticks // f) if f > 0 else np.int64(0)
            elif f < 32:  # floor(ticks * 10^9 / 2^f), exactly
                low = ticks & ((np.uint64(1) << f) - np.uint64(1))
                ts = np.int64((ticks >> f) * np.uint64(10**9) + ((low * np.uint64(10**9)) >> f))
            else:
                big = (ticks >> np.uint64(32)) * np.uint64(10**9)
                big += ((ticks & np.uint64(0xFFFFFFFF)) * np.uint64(10**9)) >> np.uint64(32)
                ts = np.int64(big >> (f - np.uint64(32))) if f < 95 else np.int64(0)
            pos += blen
        else:  # a 16-byte header: seconds, fraction, captured and original length
            if pos + 16 > n:
                break
            cap = word(pos + 8)
            if cap > max_len:
                why = 2
                break
            if pos + 16 + cap > n:
                break
            fo = pos + 16
            orig = word(pos + 12)
            ts = word(pos) * 1_000_000_000 + word(pos + 4) * ns_per_tick
            lk = linktype
            pos = fo + cap
        stats[2] += 1
        trunc = cap < orig
        if trunc:
            stats[3] += 1
        if lk != 1:
            stats[4] += 1
            continue
        # Ethernet, 802.1Q / QinQ tags, IPv4 (any header length), UDP: as net.udp_payload
        end = fo + cap
        q = fo + 12
        if q + 2 > end:
            stats[5] += 1
            continue
        et = (np.int64(a[q]) << 8) | np.int64(a[q + 1])
        while et == 0x8100 or et == 0x88A8 or et == 0x9100:
            q += 4
            if q + 2 > end:
                break
            et = (np.int64(a[q]) << 8) | np.int64(a[q + 1])
        ip = q + 2
        if et != 0x0800 or ip + 20 > end:
            stats[5] += 1
            continue
        ihl = (np.int64(a[ip]) & 0x0F) * 4
        frag = ((np.int64(a[ip + 6]) << 8) | np.int64(a[ip + 7])) & 0x1FFF
        if a[ip] >> 4 != 4 or ihl < 20 or a[ip + 9] != 17 or frag != 0:
            stats[5] += 1
            continue
        udp = ip + ihl
        if udp + 8 > end:
            stats[5] += 1
            continue
        total = (np.int64(a[ip + 2]) << 8) | np.int64(a[ip + 3])
        udp_len = (np.int64(a[udp + 4]) << 8) | np.int64(a[udp + 5])
        h = udp + 8
        length = min(min(udp_len - 8, total - ihl - 8), end - h)
        if length < 0:
            stats[5] += 1
            continue
        stats[6] += 1
        # the IEX-TP segment header
        if length < 40:
            if trunc:
                stats[7] += 1
            else:
                stats[8] += 1
            continue
        protocol = np.int64(a2[h + 2])
        fam = fam_of[protocol]
        if a[h] != 1 or fam == -1:
            stats[8] += 1
            continue
        if fam == -2:  # a protocol the decoder does not support (DEEP+)
            stats[9] += 1
            continue
        channel = np.int64(a4[h + 4])
        session = np.int64(a4[h + 8])
        plen = np.int64(a2[h + 12])
        count = np.int64(a2[h + 14])
        soff = np.int64(a8[h + 16])
        first = np.int64(a8[h + 24])
        avail = length - 40
        segs[11, nseg] = 0  # 1: continues the previous segment's stream in order
        if nseg > 0 and (
            protocol == segs[4, nseg - 1] and channel == segs[5, nseg - 1]
            and session == segs[6, nseg - 1] and first == nxt_seq and soff == nxt_off
        ):  # fmt: skip
            segs[11, nseg] = 1
        segs[0, nseg] = h
        segs[1, nseg] = avail
        segs[2, nseg] = 1 if trunc else 0
        segs[3, nseg] = ts
        segs[4, nseg] = protocol
        segs[5, nseg] = channel
        segs[6, nseg] = session
        segs[7, nseg] = plen
        segs[8, nseg] = count
        segs[9, nseg] = soff
        segs[10, nseg] = first
        nseg += 1
        nxt_seq = first + count
        nxt_off = soff + plen
        if count == 0:
            stats[11] += 1
    stats[0] = pos
    stats[1] = why
    stats[10] = nseg
    return segs[:, :nseg], stats
