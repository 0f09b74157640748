"""The batch decoder's compiled loops as plain Python (numba compiles them; see ``_kernels``).

Design note
-----------
These functions are written in the subset of Python and numpy that numba compiles (no
objects, only arrays and integers). :mod:`fluvius.feeds._kernels` compiles them just in
time (``numba.njit``) or loads them ahead-of-time compiled (:mod:`fluvius.feeds._aot`);
run as plain Python they are correct but very slow, so nothing calls them uncompiled.

* ``survey``: one pass from a chunk's records (a walk of classic pcap records or of pcapng
  packet blocks, or given records) to
  its IEX-TP segments: frames, UDP payloads, segment headers, block checks and counts
  (:mod:`fluvius.feeds.iex._survey`);
* ``walk_blocks``: the walk of message blocks inside segments, with checks;
* ``gather1/4/8``, ``gather_text``: little-endian fields at arbitrary offsets;
* ``scan`` and ``fill``: the fused path (:mod:`fluvius.feeds.iex._fused`): count the
  messages of intact segments past dropped duplicates, and write each message's event
  row straight into its kind's rows.
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
    "scan",
    "survey",
    "walk_blocks",
]


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
                t = ((x & np.uint64(0x7F7F7F7F7F7F7F7F)) + np.uint64(0x7F7F7F7F7F7F7F7F)) | x
                t &= np.uint64(0x8080808080808080)
                t |= t >> np.uint64(8)
                t |= t >> np.uint64(16)
                t |= t >> np.uint64(32)
                o8[r + 0] = v & ((t >> np.uint64(7)) * np.uint64(0xFF))
                o4[r + 40] = a4[m + 18]
                o8[r + 32] = np.uint64(np.int64(a8[m + 22]) * price_factor)
                o8[r + 44] = np.uint64(np.int64(a8[m + 30]) * price_factor)
                o4[r + 52] = a4[m + 38]
                o8[r + 16] = np.uint64(recv[i])
                o8[r + 24] = np.uint64(first[i] + c)
            elif code == 0x054 or code == 0x154:  # trade rows
                o1[r + 52] = a1[m + 1]
                o8[r + 8] = a8[m + 2]
                v = a8[m + 10]
                x = v ^ np.uint64(0x2020202020202020)
                t = ((x & np.uint64(0x7F7F7F7F7F7F7F7F)) + np.uint64(0x7F7F7F7F7F7F7F7F)) | x
                t &= np.uint64(0x8080808080808080)
                t |= t >> np.uint64(8)
                t |= t >> np.uint64(16)
                t |= t >> np.uint64(32)
                o8[r + 0] = v & ((t >> np.uint64(7)) * np.uint64(0xFF))
                o4[r + 40] = a4[m + 18]
                o8[r + 32] = np.uint64(np.int64(a8[m + 22]) * price_factor)
                o8[r + 44] = a8[m + 30]
                o8[r + 16] = np.uint64(recv[i])
                o8[r + 24] = np.uint64(first[i] + c)
            elif code == 0x138 or code == 0x135:  # book_level_update rows
                o1[r + 45] = a1[m + 1] & 1
                o8[r + 8] = a8[m + 2]
                v = a8[m + 10]
                x = v ^ np.uint64(0x2020202020202020)
                t = ((x & np.uint64(0x7F7F7F7F7F7F7F7F)) + np.uint64(0x7F7F7F7F7F7F7F7F)) | x
                t &= np.uint64(0x8080808080808080)
                t |= t >> np.uint64(8)
                t |= t >> np.uint64(16)
                t |= t >> np.uint64(32)
                o8[r + 0] = v & ((t >> np.uint64(7)) * np.uint64(0xFF))
                o4[r + 41] = a4[m + 18]
                o8[r + 33] = np.uint64(np.int64(a8[m + 22]) * price_factor)
                o8[r + 16] = np.uint64(recv[i])
                o8[r + 24] = np.uint64(first[i] + c)
                o1[r + 32] = 66 if a1[m] == plu_buy else 83
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
                        # mark the bytes that are not spaces (high bit of each byte of t),
                        # spread the marks to every byte below the last one, widen to a mask
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
                o8[r + recv_at[k]] = np.uint64(recv[i])
                o8[r + seq_at[k]] = np.uint64(first[i] + c)
                if side_at[k] >= 0:
                    o1[r + side_at[k]] = 66 if a1[m] == plu_buy else 83  # 'B' / 'S'
    return long_messages


def survey(
    a: Any, a2: Any, a4: Any, a8: Any,
    start: int, little: bool, max_record: int, ns_per_tick: int, linktype: int,
    frame_off: Any, cap_len: Any, orig_len: Any, ts_ns: Any, link: Any, fam_of: Any, doc: Any,
    ng: bool, ng_mult: Any, ng_link: Any, snap0: int,
) -> Any:  # fmt: skip
    # start >= 0: walk records from a[start:], classic pcap or (ng) pcapng packet blocks;
    # start < 0: the given records. a2, a4, a8: the buffer viewed as u16 / u32 / u64 at
    # every byte offset (stride 1). pcapng: ng_mult / ng_link per interface of the section
    # (ns per tick, link type); it stops before a section header or interface description
    # (stats[14] = 1), at an impossible block length (2, max_record is the largest block),
    # a packet block too short (3) or a packet of an undeclared interface (4).
    walk = start >= 0
    n = len(a)
    nrec = len(frame_off)
    nif = len(ng_mult)
    cap_seg = (n - start) // 98 + 1 if walk else nrec  # a segment's record is >= 98 bytes
    segs = np.empty((11, cap_seg), np.int64)
    stats = np.zeros(16, np.int64)
    counts = np.zeros(512, np.int64)
    ok = True
    in_order = True
    nseg = 0
    nxt_seq = np.int64(0)
    nxt_off = np.int64(0)
    pos = start
    stop = -1
    r = 0
    wv = np.empty(4, np.int64)  # a pcapng packet block's u32 words after the first
    while True:
        # the next record: frame offset, captured and original length, time, link type
        if walk and ng:
            if pos + 12 > n:
                break
            btype = np.int64(a4[pos])
            blen = np.int64(a4[pos + 4])
            if not little:
                t = btype
                btype = ((t & 0xFF) << 24) | ((t & 0xFF00) << 8) | ((t >> 8) & 0xFF00) | (t >> 24)
                t = blen
                blen = ((t & 0xFF) << 24) | ((t & 0xFF00) << 8) | ((t >> 8) & 0xFF00) | (t >> 24)
            if btype == 0x0A0D0D0A or btype == 1:
                stats[14] = 1
                break
            if blen < 12 or blen % 4 != 0 or blen > max_record:
                stats[14] = 2
                stop = pos
                break
            if pos + blen > n:
                break
            body = pos + 8
            room = blen - 12
            if btype != 6 and btype != 2 and btype != 3:
                stats[15] += 1
                pos += blen
                continue
            if btype != 3 and room < 20:
                stats[14] = 3
                stop = pos
                break
            w0 = np.int64(a4[body])
            if not little:
                w0 = ((w0 & 0xFF) << 24) | ((w0 & 0xFF00) << 8) | ((w0 >> 8) & 0xFF00) | (w0 >> 24)
            if btype == 3:
                iface = np.int64(0)
            elif btype == 6:
                iface = w0
            else:
                iface = w0 & 0xFFFF if little else w0 >> 16
            if iface >= nif:
                stats[14] = 4
                break
            if btype == 3:  # SPB: original length, then the packet; no time
                orig = w0
                cap = min(orig, room - 4)
                if snap0 > 0:
                    cap = min(cap, snap0)
                cap = max(cap, np.int64(0))
                fo = body + 4
                ts = np.int64(0)
            else:
                for f in range(4):
                    v = np.int64(a4[body + 4 + 4 * f])
                    if not little:
                        v = (
                            ((v & 0xFF) << 24)
                            | ((v & 0xFF00) << 8)
                            | ((v >> 8) & 0xFF00)
                            | (v >> 24)
                        )
                    wv[f] = v
                ticks = (np.uint64(wv[0]) << np.uint64(32)) | np.uint64(wv[1])
                ts = np.int64(ticks * np.uint64(ng_mult[iface]))  # wraps, as in C
                cap = min(wv[2], room - 20)
                orig = wv[3]
                fo = body + 20
            lk = ng_link[iface]
            pos += blen
        elif walk:
            if pos + 16 > n:
                break
            p = pos
            if little:
                incl = np.int64(a4[p + 8])
            else:
                incl = np.int64(a[p + 11]) | (np.int64(a[p + 10]) << 8)
                incl |= (np.int64(a[p + 9]) << 16) | (np.int64(a[p + 8]) << 24)
            if incl > max_record:
                stop = pos
                break
            if pos + 16 + incl > n:
                break
            if little:
                sec = np.int64(a4[p])
                frac = np.int64(a4[p + 4])
                orig = np.int64(a4[p + 12])
            else:
                sec = np.int64(a[p + 3]) | (np.int64(a[p + 2]) << 8) | (np.int64(a[p + 1]) << 16)
                sec |= np.int64(a[p]) << 24
                frac = np.int64(a[p + 7]) | (np.int64(a[p + 6]) << 8)
                frac |= (np.int64(a[p + 5]) << 16) | (np.int64(a[p + 4]) << 24)
                orig = np.int64(a[p + 15]) | (np.int64(a[p + 14]) << 8)
                orig |= (np.int64(a[p + 13]) << 16) | (np.int64(a[p + 12]) << 24)
            fo = pos + 16
            cap = incl
            ts = sec * 1_000_000_000 + frac * ns_per_tick
            lk = linktype
            pos = fo + incl
        else:
            if r >= nrec:
                break
            fo = frame_off[r]
            cap = cap_len[r]
            orig = orig_len[r]
            ts = ts_ns[r]
            lk = link[r]
            r += 1
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
        if nseg > 0 and (
            protocol != segs[4, 0] or channel != segs[5, 0] or session != segs[6, 0]
            or first != nxt_seq or soff != nxt_off
        ):  # fmt: skip
            in_order = False
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
        if not ok:
            continue
        # the message blocks, checked as scan does (no duplicates dropped yet)
        if plen > avail:
            ok = False
            continue
        m = h + 40
        e = m + plen
        code0 = fam << 8
        for _c in range(count):
            if m + 2 > e:
                ok = False
                break
            mlen = np.int64(a2[m])
            m += 2
            if mlen == 0 or m + mlen > e:
                ok = False
                break
            code = code0 | np.int64(a[m])
            d = doc[code]
            if d == 0 or mlen < d:
                ok = False
                break
            counts[code] += 1
            m += mlen
        if ok and m != e:
            ok = False
    stats[0] = pos
    stats[1] = stop
    stats[10] = nseg
    stats[12] = 1 if ok else 0
    stats[13] = 1 if in_order else 0
    return segs[:, :nseg], stats, counts
