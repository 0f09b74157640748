"""Ethernet II (optional 802.1Q / QinQ tags) → IPv4 (any header length) → UDP payloads.

Network headers are big-endian (RFC 791, RFC 768).
No port is ever filtered on: a datagram is an IEX-TP segment if its payload says so.

A datagram's payload is bounded by the UDP length, the IPv4 total length and the bytes
captured; when the capture is short (captured < original length) the payload holds what
was captured and the caller reports the truncation. Fragments other than the first, and
frames that are not IPv4/UDP, have no payload (``None``).

The compiled batch decoder applies the same rules in its own pass
(:mod:`fluvius.feeds.iex.batch`); the tests check that both find the same payloads.
"""

from __future__ import annotations

from fluvius.feeds._capture import ETHERNET

__all__ = ["ETHERNET", "udp_payload"]

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
