"""Ethernet II (optional 802.1Q / QinQ tags) → IPv4 (any header length) → UDP payloads.

Network headers are big-endian (RFC 791, RFC 768).
No port is ever filtered on: a datagram is an IEX-TP segment if its payload says so.

A datagram's payload is bounded by the UDP length, the IPv4 total length and the bytes
captured; when the capture is short (captured < original length) the payload holds what
was captured and the caller reports the truncation. Fragments other than the first, and
frames that are not IPv4/UDP, have no payload (``None``).

:func:`locate_payloads` does the same for all frames of a chunk at once: frames with the
common layout (no tag, IHL 5) are handled with numpy, the others one by one with
:func:`udp_payload`, so both paths give identical results. (The compiled batch decoder
applies the same rules in its own pass, :mod:`fluvius.feeds.iex._survey`.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from fluvius.feeds._capture import strided_view

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["ETHERNET", "locate_payloads", "udp_payload"]

ETHERNET = 1  # pcap / pcapng link type of Ethernet II
_VLAN_TYPES = (0x8100, 0x88A8, 0x9100)  # 802.1Q, 802.1ad (QinQ outer), legacy QinQ
_IPV4 = 0x0800
_UDP = 17


def udp_payload(buf: bytes | bytearray | memoryview, off: int, cap: int) -> tuple[int, int] | None:
    """(offset, length) in ``buf`` of the UDP payload of the frame at ``buf[off:off+cap]``.

    >>> frame = bytes(12) + b"\\x08\\x00" + bytes.fromhex("4500001e000040004011") + bytes(10)
    >>> frame += bytes.fromhex("04d2162e000a0000") + b"hi"
    >>> udp_payload(frame, 0, len(frame))
    (42, 2)
    """
    end = off + cap
    pos = off + 12
    if pos + 2 > end:
        return None
    ethertype = (buf[pos] << 8) | buf[pos + 1]
    while ethertype in _VLAN_TYPES:
        pos += 4
        if pos + 2 > end:
            return None
        ethertype = (buf[pos] << 8) | buf[pos + 1]
    if ethertype != _IPV4:
        return None
    ip = pos + 2
    if ip + 20 > end:
        return None
    version_ihl = buf[ip]
    ihl = (version_ihl & 0x0F) * 4
    if version_ihl >> 4 != 4 or ihl < 20 or buf[ip + 9] != _UDP:
        return None
    if ((buf[ip + 6] << 8) | buf[ip + 7]) & 0x1FFF:  # a later fragment: no UDP header
        return None
    total = (buf[ip + 2] << 8) | buf[ip + 3]
    udp = ip + ihl
    if udp + 8 > end:
        return None
    udp_len = (buf[udp + 4] << 8) | buf[udp + 5]
    start = udp + 8
    length = min(udp_len - 8, total - ihl - 8, end - start)
    if length < 0:
        return None
    return start, length


_FIXED = np.dtype(
    {
        "names": ["ethertype", "version_ihl", "total", "frag", "proto", "udp_len"],
        "formats": [">u2", "u1", ">u2", ">u2", "u1", ">u2"],
        "offsets": [12, 14, 16, 20, 23, 38],
        "itemsize": 42,
    }
)


def locate_payloads(
    buf: bytes | bytearray,
    frame_off: NDArray[np.int64],
    cap_len: NDArray[np.int64],
    link: NDArray[np.int32],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """UDP payload offset and length of every frame; length -1 for frames without one."""
    n = len(frame_off)
    pay_off = frame_off + 42
    pay_len = np.full(n, -1, dtype=np.int64)
    # a frame shorter than Ethernet + IPv4 + UDP headers (42 bytes) has no payload: empty
    # records (degenerate input) cost no gather and no step of the loop below
    sel = np.flatnonzero((cap_len >= 42) & (link == ETHERNET))
    if len(sel) == 0:
        return pay_off, pay_len
    if len(sel) == n:
        sel_off, sel_cap = frame_off, cap_len
    else:
        sel_off, sel_cap = frame_off[sel], cap_len[sel]
    heads: NDArray[Any] = strided_view(buf, _FIXED)[sel_off]
    plain = _plain_frames(heads)
    length = np.minimum(
        np.minimum(heads["udp_len"].astype(np.int64) - 8, heads["total"].astype(np.int64) - 28),
        sel_cap - 42,
    )
    ok = plain & (length >= 0)
    pay_len[sel[ok]] = length[ok]
    # the rest one by one: tagged frames, IPv4 options, odd frames
    for i in sel[~plain].tolist():
        found = udp_payload(buf, int(frame_off[i]), int(cap_len[i]))
        if found is not None:
            pay_off[i], pay_len[i] = found
    return pay_off, pay_len


def _plain_frames(heads: NDArray[Any]) -> NDArray[np.bool_]:
    """Frames (Ethernet, at least 42 bytes) with the common layout: untagged IPv4 without
    options, UDP, not a later fragment."""
    plain: NDArray[np.bool_] = (
        (heads["ethertype"] == _IPV4)
        & (heads["version_ihl"] == 0x45)
        & (heads["proto"] == _UDP)
        & ((heads["frag"] & 0x1FFF) == 0)
    )
    return plain
