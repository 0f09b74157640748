"""The batch decoder's numpy path: segments of a chunk, and their message blocks walked at once.

:func:`numpy_segments` finds a chunk's IEX-TP segments with array passes (UDP payloads of
all frames, the 40-byte headers gathered through a strided structured view), counting
what is not IEX-TP; :func:`segment_problems` words what is wrong with damaged segments.
Three walkers with one contract (per message: segment index, index in the segment, offset
and length of the message; per segment: complete blocks and where the walk stopped):

* :func:`walk_blocks_fast` — segments ordered by message count so that step *k* works on
  a prefix, no bounds checks, then one check per segment (it must end exactly at its
  payload length); returns None when any segment is damaged or cut short;
* :func:`walk_blocks` — the same with checks at every step, and a sequential tail after
  :data:`VECTOR_STEPS` steps so that hostile counts cannot multiply numpy steps;
* the numba kernel ``walk_blocks`` (:mod:`fluvius.feeds._kernels`), same result.

The rules are the reference decoder's (:mod:`fluvius.feeds.iex.reference`): blocks are
read within ``min(Payload Length, bytes present)``, at most Message Count of them, and a
block that does not fit ends the walk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fluvius.feeds._capture import strided_view
from fluvius.feeds.iex.transport import DEEP_PLUS_PROTOCOL_ID, PROTOCOLS
from fluvius.feeds.net import ETHERNET, locate_payloads

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from fluvius.feeds._capture import RecordChunk
    from fluvius.feeds.iex.report import DecodeReport

__all__ = [
    "VECTOR_STEPS",
    "Messages",
    "Segments",
    "numpy_segments",
    "segment_problems",
    "walk_blocks",
    "walk_blocks_fast",
]

_U16 = np.dtype("<u2")
VECTOR_STEPS = 256  # block-walk steps done with numpy; real segments hold at most ~70 blocks

_SEGMENT = np.dtype(
    {
        "names": ["version", "protocol", "channel", "session", "plen", "count", "soff", "first"],
        "formats": ["u1", "<u2", "<u4", "<u4", "<u2", "<u2", "<i8", "<i8"],
        "offsets": [0, 2, 4, 8, 12, 14, 16, 24],
        "itemsize": 40,
    }
)
_KNOWN_PROTOCOLS = np.zeros(1 << 16, dtype=np.bool_)  # u16 protocol id → known (a look-up)
_KNOWN_PROTOCOLS[sorted(PROTOCOLS)] = True


@dataclass(slots=True)
class Segments:
    """Per-segment arrays of one chunk (offsets relative to the chunk buffer)."""

    off: NDArray[np.int64]
    avail: NDArray[np.int64]
    trunc: NDArray[np.bool_]
    recv_ns: NDArray[np.int64]
    protocol: NDArray[np.int64]
    channel: NDArray[np.int64]
    session: NDArray[np.int64]
    plen: NDArray[np.int64]
    count: NDArray[np.int64]
    soff: NDArray[np.int64]
    first: NDArray[np.int64]


@dataclass(slots=True)
class Messages:
    """Per-message arrays in file order: segment index, index in segment, offset, length."""

    seg: NDArray[np.int64]
    k: NDArray[np.int64]
    mpos: NDArray[np.int64]
    mlen: NDArray[np.int64]
    complete: NDArray[np.int64]  # per segment: complete blocks walked
    pos_end: NDArray[np.int64]  # per segment: where the walk stopped

    def select(self, mask: NDArray[np.bool_]) -> Messages:
        kept = (self.seg[mask], self.k[mask], self.mpos[mask], self.mlen[mask])
        return Messages(*kept, self.complete, self.pos_end)


def walk_blocks_fast(buf: bytes | bytearray, seg: Segments) -> Messages | None:
    """The message blocks of segments that are all intact, or None if one is not.

    Segments are ordered by message count, so step *k* works on a prefix of them (no
    filtering); lengths are read without bounds checks (clipped to the buffer), and
    afterwards each segment must end exactly at its declared payload length inside the
    datagram. Block ends only grow, so that one check proves every block fit.
    """
    n = len(seg.off)
    count = seg.count
    order = np.argsort(-count, kind="stable")
    neg_sorted = -count[order]
    start = np.cumsum(count) - count
    start_o = start[order]
    cur = (seg.off + 40)[order]
    total = int(count.sum())
    out_pos = np.empty(total, dtype=np.int64)
    out_len = np.empty(total, dtype=np.int64)
    lengths = strided_view(buf, _U16)
    last = len(lengths) - 1
    max_count = int(-neg_sorted[0]) if n else 0
    if max_count > VECTOR_STEPS:
        return None
    prefixes = np.searchsorted(neg_sorted, -np.arange(max_count), side="left").tolist()
    for k, m in enumerate(prefixes):
        c = cur[:m]
        mlen = lengths[np.minimum(c, last)].astype(np.int64)
        where = start_o[:m] + k
        out_pos[where] = c + 2
        out_len[where] = mlen
        c += mlen + 2
    pos_end = np.empty(n, dtype=np.int64)
    pos_end[order] = cur
    if not ((seg.plen <= seg.avail) & (pos_end == seg.off + 40 + seg.plen)).all():
        return None
    seg_of = np.repeat(np.arange(n), count)
    k_of = np.arange(total) - np.repeat(start, count)
    return Messages(seg_of, k_of, out_pos, out_len, count, pos_end)


def walk_blocks(buf: bytes | bytearray, seg: Segments) -> Messages:
    """Walk the message blocks of all segments together, one block per step, with checks.

    After :data:`VECTOR_STEPS` steps the few segments still going (only damaged data has
    hundreds of blocks in a segment) are finished one by one, so hostile input cannot
    make the number of numpy steps grow to the tens of thousands.
    """
    n = len(seg.off)
    end = seg.off + 40 + np.minimum(seg.plen, seg.avail)
    pos = seg.off + 40
    complete = np.zeros(n, dtype=np.int64)
    lengths = strided_view(buf, _U16)
    steps: list[tuple[NDArray[np.int64], Any, NDArray[np.int64], NDArray[np.int64]]] = []
    active = np.flatnonzero(seg.count > 0)
    k = 0
    while len(active) and k < VECTOR_STEPS:
        p = pos[active]
        fits = p + 2 <= end[active]
        if not fits.all():
            active, p = active[fits], p[fits]
        mlen = lengths[p].astype(np.int64)
        fits = p + 2 + mlen <= end[active]
        if not fits.all():
            active, p, mlen = active[fits], p[fits], mlen[fits]
        steps.append((active, k, p + 2, mlen))
        pos[active] = p + 2 + mlen
        complete[active] += 1
        active = active[complete[active] < seg.count[active]]
        k += 1
    for i in active.tolist():  # the long tail, sequentially
        at, stop, done, todo = int(pos[i]), int(end[i]), int(complete[i]), int(seg.count[i])
        tail: list[tuple[int, int]] = []
        while done + len(tail) < todo and at + 2 <= stop:
            mlen_i = buf[at] | (buf[at + 1] << 8)
            if at + 2 + mlen_i > stop:
                break
            tail.append((at + 2, mlen_i))
            at += 2 + mlen_i
        if tail:
            arr = np.array(tail, dtype=np.int64)
            ks = np.arange(done, done + len(tail), dtype=np.int64)
            steps.append((np.full(len(tail), i, dtype=np.int64), ks, arr[:, 0], arr[:, 1]))
            complete[i] += len(tail)
            pos[i] = at
    total = int(complete.sum())
    start = np.cumsum(complete) - complete
    out_seg = np.empty(total, dtype=np.int64)
    out_k = np.empty(total, dtype=np.int64)
    out_pos = np.empty(total, dtype=np.int64)
    out_len = np.empty(total, dtype=np.int64)
    for a, ks, p, mlen in steps:
        where = start[a] + ks
        out_seg[where] = a
        out_k[where] = ks
        out_pos[where] = p
        out_len[where] = mlen
    return Messages(out_seg, out_k, out_pos, out_len, complete, pos)


def segment_problems(
    seg: Segments, msgs: Messages, base: int, report: DecodeReport
) -> list[tuple[int, str, str]]:
    """(file offset, what, expected) of each damaged segment; cut ones count in ``report``.

    A segment whose blocks stop short in a frame the capture cut is a truncation (counted),
    in a whole frame it is corrupt (listed), as in the reference decoder.
    """
    pos_end, complete = msgs.pos_end, msgs.complete
    over = seg.plen > seg.avail
    cut = over | (complete < seg.count)
    report.truncated_segments += int(np.count_nonzero(cut & seg.trunc))
    bad_end = ~cut & (pos_end != seg.off + 40 + seg.plen)
    out: list[tuple[int, str, str]] = []
    for i in np.flatnonzero((cut & ~seg.trunc) | bad_end).tolist():
        plen, count, avail = int(seg.plen[i]), int(seg.count[i]), int(seg.avail[i])
        at = base + int(seg.off[i])
        if over[i]:
            what = (
                f"IEX-TP segment declares payload length {plen}, the datagram holds {avail} bytes",
                "payload length <= datagram length - 40",
            )
        elif cut[i]:
            what = (
                f"IEX-TP segment declares {count} messages, "
                f"{int(complete[i])} message blocks fit its payload length {plen}",
                "message blocks filling the payload",
            )
        else:
            what = (
                f"IEX-TP segment's {count} message blocks end at payload byte "
                f"{int(pos_end[i] - seg.off[i]) - 40}, its payload length is {plen}",
                "message blocks ending at the payload length",
            )
        out.append((at, *what))
    return out


def numpy_segments(chunk: RecordChunk, rep: DecodeReport) -> Segments | None:
    """The numpy path's first step: frames → datagrams → known IEX-TP segments (counted)."""
    buf = chunk.buf
    eth = chunk.link == ETHERNET
    rep.capture.non_ethernet += int(np.count_nonzero(~eth))
    pay_off, pay_len = locate_payloads(buf, chunk.frame_off, chunk.cap_len, chunk.link)
    has = pay_len >= 0
    rep.non_udp += int(np.count_nonzero(eth & ~has))
    rep.datagrams += int(np.count_nonzero(has))
    trunc = chunk.cap_len < chunk.orig_len
    short = has & (pay_len < 40)  # datagrams too short for a segment header
    rep.truncated_segments += int(np.count_nonzero(short & trunc))
    rep.not_iex += int(np.count_nonzero(short & ~trunc))
    idx = np.flatnonzero(has & ~short)
    hdr = strided_view(buf, _SEGMENT)[pay_off[idx]]
    known = (hdr["version"] == 1) & _KNOWN_PROTOCOLS[hdr["protocol"]]
    rep.not_iex += int(np.count_nonzero(~known))
    plus = known & (hdr["protocol"] == DEEP_PLUS_PROTOCOL_ID)
    if plus.any():
        name = f"0x{DEEP_PLUS_PROTOCOL_ID:04x}"
        rep.unsupported[name] = rep.unsupported.get(name, 0) + int(np.count_nonzero(plus))
    sel = known & ~plus
    idx, hdr = idx[sel], hdr[sel]
    if not len(idx):
        return None
    seg = Segments(
        off=pay_off[idx],
        avail=pay_len[idx] - 40,
        trunc=trunc[idx],
        recv_ns=chunk.ts_ns[idx],
        **{name: hdr[name].astype(np.int64) for name in _SEGMENT.names[1:]},  # type: ignore[index]
    )
    rep.segments += len(idx)
    rep.heartbeats += int(np.count_nonzero(seg.count == 0))
    return seg
