"""Walking a chain of pcap records with numpy: many sub-walks at once, verified end to end.

Design note
-----------
A pcap record's length field says where the next record starts, so finding the records of
a 16 MiB chunk is a chain of ~60,000 dependent steps: too many for a Python loop at the
speeds we want. The chain is split instead:

1. the first record is parsed in Python; if it holds an IEX-TP segment, the first 8 bytes
   of its header (version, reserved, protocol, channel) and the network header length
   become a *signature* and an *offset*;
2. the chunk is cut into regions of :data:`REGION` bytes; in each, ``bytes.find`` (C speed)
   locates the first occurrence of the signature, which gives a candidate record start;
3. all regions are walked together, one record per numpy step, each from its candidate
   start until it reaches the next region's candidate;
4. **verification**: every walk must land exactly on the next region's candidate start and
   the last walk on the end of the complete records. A candidate that was not a real
   record start (the signature also occurring inside data) cannot satisfy this except by
   coincidence of every length along the way; any failure, or a record length beyond
   :data:`~fluvius.feeds.pcap.MAX_RECORD`, returns ``None`` and the caller walks the chunk
   sequentially, which also produces the exact error report.

Captures with other traffic still work: the walks step over every record whatever it holds;
only the candidate starts need the signature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fluvius.feeds._capture import IndexResult, strided_view

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["REGION", "walk_in_parallel"]

REGION = 1 << 15
"""Bytes per sub-walk: ~120 records of real IEX data, so ~120 numpy steps per chunk."""

_MIN_BYTES = 4 * REGION  # below this the sequential loop is as fast
_MAX_RECORD = 1 << 18


def _first_signature(buf: bytes | bytearray, start: int, endian: str) -> tuple[bytes, int] | None:
    from fluvius.feeds.net import udp_payload

    end = len(buf)
    if start + 16 > end:
        return None
    incl = int.from_bytes(buf[start + 8 : start + 12], "little" if endian == "<" else "big")
    if start + 16 + incl > end:
        return None
    found = udp_payload(buf, start + 16, incl)
    if found is None or found[1] < 40 or buf[found[0]] != 1:
        return None
    return bytes(buf[found[0] : found[0] + 8]), found[0] - start


def walk_in_parallel(buf: bytes | bytearray, start: int, endian: str) -> IndexResult | None:
    """Record starts of the complete records in ``buf[start:]``, or None to walk sequentially."""
    end = len(buf)
    if end - start < _MIN_BYTES:
        return None
    first = _first_signature(buf, start, endian)
    if first is None:
        return None
    signature, lead = first
    starts = [start]
    for region in range(start + REGION, end - REGION, REGION):
        at = buf.find(signature, region + lead, region + REGION + lead + len(signature))
        if at >= 0 and at - lead > starts[-1]:
            starts.append(at - lead)
    pos = np.array(starts, dtype=np.int64)
    limit = np.append(pos[1:], end)
    lengths = strided_view(buf, np.dtype(endian + "u4"))
    n_chains = len(pos)
    last = n_chains - 1
    counts = np.zeros(n_chains, dtype=np.int64)
    steps: list[tuple[NDArray[np.int64], NDArray[np.int64]]] = []
    active = np.arange(n_chains)
    used = start
    while len(active):
        p = pos[active]
        head_ok = p + 16 <= end
        incl = lengths[np.minimum(p + 8, len(lengths) - 1)].astype(np.int64)
        nxt = p + 16 + incl
        complete = head_ok & (nxt <= end)
        if (incl[head_ok] > _MAX_RECORD).any():
            return None
        if not complete.all():  # only the last walk may run into the end of the chunk
            stopped = active[~complete]
            if len(stopped) != 1 or stopped[0] != last:
                return None
            used = int(p[~complete][0])
            active, p, nxt = active[complete], p[complete], nxt[complete]
        steps.append((active, p))
        counts[active] += 1
        pos[active] = nxt
        going = nxt < limit[active]
        if not going.all():
            done = active[~going]
            if (pos[done] != limit[done]).any():
                return None  # a walk overshot the next start: a false candidate
            if len(done) and done[-1] == last:
                used = end
            active = active[going]
    offsets = np.cumsum(counts) - counts
    out = np.empty(int(counts.sum()), dtype=np.int64)
    for k, (chains, p) in enumerate(steps):
        out[offsets[chains] + k] = p
    found = IndexResult(used=used)
    found.starts = out
    return found
