"""The batch decoder's compiled loops as plain Python (numba compiles them; see ``_kernels``).

Design note
-----------
These functions are written in the subset of Python and numpy that numba compiles (no
objects, only arrays and integers). :mod:`fluvius.feeds._kernels` compiles them just in
time (``numba.njit``) or loads them ahead-of-time compiled (:mod:`fluvius.feeds._aot`);
run as plain Python they are correct but very slow, so nothing calls them uncompiled.

* ``walk_pcap``, ``pcap_heads``: the pcap record walk (record starts of a chunk) and the
  record headers (capture time, captured and original lengths);
* ``locate_plain``: UDP payloads of plain frames (Ethernet, IPv4 without options, UDP);
* ``segment_heads``: the 40-byte IEX-TP segment headers, as int64 rows;
* ``walk_blocks``: the walk of message blocks inside segments, with checks;
* ``gather1/4/8``, ``gather_text``: little-endian fields at arbitrary offsets;
* ``scan`` and ``fill``: the fused path (:mod:`fluvius.feeds.iex._fused`): check intact
  segments and count, then write each message's event row straight into its kind's rows.
  Its region between ``BEGIN GENERATED`` and ``END GENERATED`` is written by
  :mod:`fluvius.feeds.iex._fillgen` (straight-line rows of the most frequent types).
"""

# mypy: ignore-errors

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "fill",
    "gather1",
    "gather4",
    "gather8",
    "gather_text",
    "locate_plain",
    "pcap_heads",
    "scan",
    "segment_heads",
    "walk_blocks",
    "walk_pcap",
]


def walk_pcap(a: Any, start: Any, little: bool, max_record: int) -> Any:
    n = len(a)
    out = np.empty((n - start) // 16 + 1, np.int64)
    k = 0
    pos = start
    stop = -1
    while pos + 16 <= n:
        b0 = np.int64(a[pos + 8])
        b1 = np.int64(a[pos + 9])
        b2 = np.int64(a[pos + 10])
        b3 = np.int64(a[pos + 11])
        if little:  # noqa: SIM108
            incl = b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)
        else:
            incl = b3 | (b2 << 8) | (b1 << 16) | (b0 << 24)
        if incl > max_record:
            stop = pos
            break
        nxt = pos + 16 + incl
        if nxt > n:
            break
        out[k] = pos
        k += 1
        pos = nxt
    return out[:k], pos, stop


def walk_blocks(a: Any, off: Any, end: Any, count: Any) -> Any:
    nseg = len(off)
    cap = 0
    for i in range(nseg):
        room = (end[i] - off[i] - 40) // 2
        cap += min(count[i], room if room > 0 else 0)
    mpos = np.empty(cap, np.int64)
    mlen = np.empty(cap, np.int64)
    seg = np.empty(cap, np.int64)
    kk = np.empty(cap, np.int64)
    complete = np.zeros(nseg, np.int64)
    pos_end = np.empty(nseg, np.int64)
    j = 0
    for i in range(nseg):
        pos = off[i] + 40
        e = end[i]
        c = 0
        while c < count[i] and pos + 2 <= e:
            length = np.int64(a[pos]) | (np.int64(a[pos + 1]) << 8)
            if pos + 2 + length > e:
                break
            mpos[j] = pos + 2
            mlen[j] = length
            seg[j] = i
            kk[j] = c
            j += 1
            c += 1
            pos += 2 + length
        complete[i] = c
        pos_end[i] = pos
    return seg[:j], kk[:j], mpos[:j], mlen[:j], complete, pos_end


def gather1(a: Any, idx: Any, off: int) -> Any:
    out = np.empty(len(idx), np.uint8)
    for i in range(len(idx)):
        out[i] = a[idx[i] + off]
    return out


def gather4(a: Any, idx: Any, off: int) -> Any:
    out = np.empty(len(idx), np.uint32)
    for i in range(len(idx)):
        p = idx[i] + off
        out[i] = (
            np.uint32(a[p])
            | (np.uint32(a[p + 1]) << 8)
            | (np.uint32(a[p + 2]) << 16)
            | (np.uint32(a[p + 3]) << 24)
        )
    return out


def gather8(a: Any, idx: Any, off: int, mult: int) -> Any:
    out = np.empty(len(idx), np.int64)
    for i in range(len(idx)):
        p = idx[i] + off
        v = np.uint64(0)
        for b in range(8):
            v |= np.uint64(a[p + b]) << np.uint64(8 * b)
        out[i] = np.int64(v) * mult  # wraps like int64, as the numpy path does
    return out


def gather_text(a: Any, idx: Any, off: int, width: int) -> Any:
    out = np.empty(len(idx), np.uint64)
    for i in range(len(idx)):
        p = idx[i] + off
        last = width
        while last > 0 and a[p + last - 1] == 32:  # trailing spaces only
            last -= 1
        v = np.uint64(0)
        for b in range(last):
            v |= np.uint64(a[p + b]) << np.uint64(8 * b)
        out[i] = v
    return out


def scan(a: Any, off: Any, plen: Any, avail: Any, count: Any, fam: Any, drop: Any, doc: Any) -> Any:
    counts = np.zeros(512, np.int64)
    for i in range(len(off)):
        if plen[i] > avail[i]:
            return False, counts
        pos = off[i] + 40
        e = pos + plen[i]
        code0 = fam[i] << 8
        for c in range(count[i]):
            if pos + 2 > e:
                return False, counts
            length = np.int64(a[pos]) | (np.int64(a[pos + 1]) << 8)
            pos += 2
            if length == 0 or pos + length > e:
                return False, counts
            code = code0 | np.int64(a[pos])
            d = doc[code]
            if d == 0 or length < d:
                return False, counts
            if c >= drop[i]:
                counts[code] += 1
            pos += length
        if pos != e:
            return False, counts
    return True, counts


def fill(
    a1: Any, a4: Any, a8: Any, off: Any, count: Any, fam: Any, drop: Any, recv: Any,
    first: Any, doc: Any, kind_of: Any, prog_start: Any, prog_len: Any, prog: Any,
    itemsize: Any, recv_at: Any, seq_at: Any, side_at: Any, start: Any,
    o1: Any, o4: Any, o8: Any, plu_buy: int, price_factor: int,
) -> Any:  # fmt: skip
    # a4, a8, o4, o8: the buffers viewed as u32 / u64 at every byte offset (stride 1)
    cursor = start.copy()
    long_messages = 0
    for i in range(len(off)):
        pos = off[i] + 40
        code0 = fam[i] << 8
        for c in range(count[i]):
            length = np.int64(a1[pos]) | (np.int64(a1[pos + 1]) << 8)
            m = pos + 2
            pos = m + length
            if c < drop[i]:
                continue
            code = code0 | np.int64(a1[m])
            if length > doc[code]:
                long_messages += 1
            k = kind_of[code]
            r = cursor[k]
            cursor[k] = r + itemsize[k]
            # BEGIN GENERATED by fluvius.feeds.iex._fillgen: do not edit
            hot = True
            if code == 0x051:  # quote rows
                o1[r + 56] = a1[m + 1]
                o8[r + 8] = a8[m + 2]
                v = a8[m + 10]
                x = v ^ np.uint64(0x2020202020202020)
                keep = 8
                if x == 0:
                    keep = 0
                else:
                    if x >> np.uint64(32) == 0:
                        keep -= 4
                        x <<= np.uint64(32)
                    if x >> np.uint64(48) == 0:
                        keep -= 2
                        x <<= np.uint64(16)
                    if x >> np.uint64(56) == 0:
                        keep -= 1
                if keep < 8:
                    v &= (np.uint64(1) << np.uint64(8 * keep)) - np.uint64(1)
                o8[r + 0] = v
                o4[r + 40] = a4[m + 18]
                o8[r + 32] = np.uint64(np.int64(a8[m + 22]) * price_factor)
                o8[r + 44] = np.uint64(np.int64(a8[m + 30]) * price_factor)
                o4[r + 52] = a4[m + 38]
            elif code == 0x054 or code == 0x154:  # trade rows
                o1[r + 52] = a1[m + 1]
                o8[r + 8] = a8[m + 2]
                v = a8[m + 10]
                x = v ^ np.uint64(0x2020202020202020)
                keep = 8
                if x == 0:
                    keep = 0
                else:
                    if x >> np.uint64(32) == 0:
                        keep -= 4
                        x <<= np.uint64(32)
                    if x >> np.uint64(48) == 0:
                        keep -= 2
                        x <<= np.uint64(16)
                    if x >> np.uint64(56) == 0:
                        keep -= 1
                if keep < 8:
                    v &= (np.uint64(1) << np.uint64(8 * keep)) - np.uint64(1)
                o8[r + 0] = v
                o4[r + 40] = a4[m + 18]
                o8[r + 32] = np.uint64(np.int64(a8[m + 22]) * price_factor)
                o8[r + 44] = a8[m + 30]
            elif code == 0x138 or code == 0x135:  # book_level_update rows
                o1[r + 45] = a1[m + 1] & 1
                o8[r + 8] = a8[m + 2]
                v = a8[m + 10]
                x = v ^ np.uint64(0x2020202020202020)
                keep = 8
                if x == 0:
                    keep = 0
                else:
                    if x >> np.uint64(32) == 0:
                        keep -= 4
                        x <<= np.uint64(32)
                    if x >> np.uint64(48) == 0:
                        keep -= 2
                        x <<= np.uint64(16)
                    if x >> np.uint64(56) == 0:
                        keep -= 1
                if keep < 8:
                    v &= (np.uint64(1) << np.uint64(8 * keep)) - np.uint64(1)
                o8[r + 0] = v
                o4[r + 41] = a4[m + 18]
                o8[r + 33] = np.uint64(np.int64(a8[m + 22]) * price_factor)
            else:
                hot = False
            # END GENERATED
            if not hot:  # every other type: interpret its field program
                for j in range(prog_start[code], prog_start[code] + prog_len[code]):
                    src = m + prog[j, 0]
                    conv = prog[j, 1]
                    width = prog[j, 2]
                    dst = r + prog[j, 3]
                    if conv == 0:  # copy
                        if width == 8:
                            o8[dst] = a8[src]
                        elif width == 4:
                            o4[dst] = a4[src]
                        else:
                            o1[dst] = a1[src]
                    elif conv == 1:  # price: i8 times the factor (wraps like numpy)
                        o8[dst] = np.uint64(np.int64(a8[src]) * price_factor)
                    elif conv == 2:  # u4 seconds to ns
                        o8[dst] = np.uint64(np.int64(a4[src]) * 1_000_000_000)
                    elif conv == 3:  # text: trailing spaces become NULs
                        # the last characters are the high bytes: count the leading zero
                        # bytes of v ^ "        " by halving (4, 2, 1 bytes)
                        if width == 8:
                            v = a8[src]
                            x = v ^ np.uint64(0x2020202020202020)
                        else:
                            v = np.uint64(a4[src])
                            x = (v ^ np.uint64(0x20202020)) << np.uint64(32)
                        keep = width
                        if x == 0:
                            keep = 0
                        else:
                            if x >> np.uint64(32) == 0:
                                keep -= 4
                                x <<= np.uint64(32)
                            if x >> np.uint64(48) == 0:
                                keep -= 2
                                x <<= np.uint64(16)
                            if x >> np.uint64(56) == 0:
                                keep -= 1
                        if keep < 8:
                            v &= (np.uint64(1) << np.uint64(8 * keep)) - np.uint64(1)
                        if width == 8:
                            o8[dst] = v
                        else:
                            o4[dst] = np.uint32(v)
                    else:  # 4: bit 0 of a flags byte
                        o1[dst] = a1[src] & 1
            o8[r + recv_at[k]] = np.uint64(recv[i])
            o8[r + seq_at[k]] = np.uint64(first[i] + c)
            if side_at[k] >= 0:
                o1[r + side_at[k]] = 66 if a1[m] == plu_buy else 83  # 'B' / 'S'
    return long_messages


def pcap_heads(a: Any, starts: Any, little: bool, ns_per_tick: int) -> Any:
    n = len(starts)
    ts = np.empty(n, np.int64)
    cap = np.empty(n, np.int64)
    orig = np.empty(n, np.int64)
    for i in range(n):
        p = starts[i]
        if little:
            sec = np.int64(a[p]) | (np.int64(a[p + 1]) << 8) | (np.int64(a[p + 2]) << 16)
            sec |= np.int64(a[p + 3]) << 24
            frac = np.int64(a[p + 4]) | (np.int64(a[p + 5]) << 8) | (np.int64(a[p + 6]) << 16)
            frac |= np.int64(a[p + 7]) << 24
            incl = np.int64(a[p + 8]) | (np.int64(a[p + 9]) << 8) | (np.int64(a[p + 10]) << 16)
            incl |= np.int64(a[p + 11]) << 24
            wire = np.int64(a[p + 12]) | (np.int64(a[p + 13]) << 8)
            wire |= (np.int64(a[p + 14]) << 16) | (np.int64(a[p + 15]) << 24)
        else:
            sec = np.int64(a[p + 3]) | (np.int64(a[p + 2]) << 8) | (np.int64(a[p + 1]) << 16)
            sec |= np.int64(a[p]) << 24
            frac = np.int64(a[p + 7]) | (np.int64(a[p + 6]) << 8) | (np.int64(a[p + 5]) << 16)
            frac |= np.int64(a[p + 4]) << 24
            incl = np.int64(a[p + 11]) | (np.int64(a[p + 10]) << 8) | (np.int64(a[p + 9]) << 16)
            incl |= np.int64(a[p + 8]) << 24
            wire = np.int64(a[p + 15]) | (np.int64(a[p + 14]) << 8)
            wire |= (np.int64(a[p + 13]) << 16) | (np.int64(a[p + 12]) << 24)
        ts[i] = sec * 1_000_000_000 + frac * ns_per_tick
        cap[i] = incl
        orig[i] = wire
    return ts, cap, orig


def locate_plain(a: Any, frame_off: Any, cap_len: Any, link: Any) -> Any:
    n = len(frame_off)
    pay_len = np.full(n, -1, np.int64)
    plain = np.zeros(n, np.bool_)
    last = len(a) - 42
    if last < 0:
        return pay_len, plain
    for i in range(n):
        h = min(frame_off[i], last)
        if (
            link[i] != 1
            or cap_len[i] < 42
            or a[h + 12] != 0x08
            or a[h + 13] != 0x00
            or a[h + 14] != 0x45
            or a[h + 23] != 17
            or (a[h + 20] & 0x1F) != 0
            or a[h + 21] != 0
        ):
            continue
        plain[i] = True
        udp = ((np.int64(a[h + 38]) << 8) | np.int64(a[h + 39])) - 8
        total = ((np.int64(a[h + 16]) << 8) | np.int64(a[h + 17])) - 28
        length = min(min(udp, total), cap_len[i] - 42)
        if length >= 0:
            pay_len[i] = length
    return pay_len, plain


def segment_heads(a: Any, off: Any) -> Any:
    n = len(off)
    out = np.empty((8, n), np.int64)
    for i in range(n):
        p = off[i]
        out[0, i] = a[p]
        out[1, i] = np.int64(a[p + 2]) | (np.int64(a[p + 3]) << 8)
        out[2, i] = np.int64(a[p + 4]) | (np.int64(a[p + 5]) << 8) | (np.int64(a[p + 6]) << 16)
        out[2, i] |= np.int64(a[p + 7]) << 24
        out[3, i] = np.int64(a[p + 8]) | (np.int64(a[p + 9]) << 8) | (np.int64(a[p + 10]) << 16)
        out[3, i] |= np.int64(a[p + 11]) << 24
        out[4, i] = np.int64(a[p + 12]) | (np.int64(a[p + 13]) << 8)
        out[5, i] = np.int64(a[p + 14]) | (np.int64(a[p + 15]) << 8)
        for f in range(2):
            q = p + 16 + 8 * f
            v = np.uint64(0)
            for b in range(8):
                v |= np.uint64(a[q + b]) << np.uint64(8 * b)
            out[6 + f, i] = np.int64(v)
    return out
