"""Capture writers: parsed back by an independent struct-level reader of pcap and pcapng."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluvius.feeds._writers import CaptureFormat, UdpFlow, capture_bytes

FORMATS = [
    CaptureFormat(container, ns, order)
    for container in ("pcap", "pcapng")
    for ns in (False, True)
    for order in ("<", ">")
]


def _ipv4_ok(header: bytes) -> bool:
    total = sum(struct.unpack(">10H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return total == 0xFFFF


def _frames(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """(ts in the file's unit as ns, captured length, original length, frame) per packet."""
    out = []
    little = (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
    big = (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d")
    if data[:4] in little + big:
        order = "<" if data[:4] in little else ">"
        unit = 1 if data[:4] in (little[1], big[1]) else 1000
        major, minor, _, _, _, link = struct.unpack(order + "HHiIII", data[4:24])
        assert (major, minor, link) == (2, 4, 1)
        pos = 24
        while pos < len(data):
            sec, frac, incl, orig = struct.unpack(order + "IIII", data[pos : pos + 16])
            out.append((sec * 10**9 + frac * unit, incl, orig, data[pos + 16 : pos + 16 + incl]))
            pos += 16 + incl
        return out
    assert data[:4] == b"\x0a\x0d\x0d\x0a"
    order = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    pos, unit = 0, 1000
    while pos < len(data):
        btype, blen = struct.unpack(order + "II", data[pos : pos + 8])
        assert blen % 4 == 0
        assert struct.unpack(order + "I", data[pos + blen - 4 : pos + blen])[0] == blen
        body = data[pos + 8 : pos + blen - 4]
        if btype == 1:
            assert struct.unpack(order + "HHI", body[:8])[0] == 1
            opt, options = 8, {}
            while opt < len(body):
                code, length = struct.unpack(order + "HH", body[opt : opt + 4])
                options[code] = body[opt + 4 : opt + 4 + length]
                opt += 4 + length + (-length % 4)
            assert list(options) == [2, 9, 0]  # if_name, if_tsresol, end of options
            unit = 10 ** (9 - options[9][0])
        elif btype == 6:
            _, hi, lo, cap, orig = struct.unpack(order + "5I", body[:20])
            out.append((((hi << 32) | lo) * unit, cap, orig, body[20 : 20 + cap]))
        pos += blen
    return out


def _udp_payload(frame: bytes, flow: UdpFlow) -> bytes:
    assert frame[:6] == flow.dst_mac()
    assert frame[12:14] == b"\x08\x00"
    ip = frame[14:34]
    assert ip[0] == 0x45
    assert ip[9] == 17
    assert _ipv4_ok(ip), "IPv4 header checksum"
    total = struct.unpack(">H", ip[2:4])[0]
    sport, dport, ulen, _ = struct.unpack(">HHHH", frame[34:42])
    assert (sport, dport) == (flow.src_port, flow.dst_port)
    assert ulen == total - 20
    return frame[42 : 14 + total]


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
@given(
    payloads=st.lists(st.binary(max_size=300), max_size=8),
    base=st.integers(0, 2**32 - 2),
)
def test_every_container_reads_back(fmt: CaptureFormat, payloads: list[bytes], base: int) -> None:
    ts = [base * 10**9 + 123_456_789 + i * 1001 for i in range(len(payloads))]
    flow = UdpFlow()
    frames = _frames(capture_bytes(payloads, ts, fmt, flow))
    assert len(frames) == len(payloads)
    for (t, incl, orig, frame), payload, want_ts in zip(frames, payloads, ts, strict=True):
        assert incl == orig == len(payload) + 42
        assert _udp_payload(frame, flow) == payload
        assert t == (want_ts if fmt.nanosecond else want_ts // 1000 * 1000)


@pytest.mark.parametrize("container", ["pcap", "pcapng"])
def test_snaplen_truncates_frames_and_keeps_the_original_length(container: str) -> None:
    fmt = CaptureFormat(container)  # type: ignore[arg-type]
    frames = _frames(capture_bytes([b"x" * 100, b"y" * 10], [0, 1000], fmt, snaplen=60))
    assert [(incl, orig) for _, incl, orig, _ in frames] == [(60, 142), (52, 52)]
    assert frames[0][3][42:] == b"x" * 18


def test_unicast_destination_and_bad_arguments() -> None:
    flow = UdpFlow(dst_ip="127.0.0.1", dst_port=9)
    assert _udp_payload(_frames(capture_bytes([b"ab"], [5], flow=flow))[0][3], flow) == b"ab"
    with pytest.raises(ValueError, match="snaplen must be at least 42"):
        capture_bytes([b""], [0], snaplen=10)
    with pytest.raises(ValueError, match="2 payloads but 1 timestamps"):
        capture_bytes([b"", b""], [0])
    with pytest.raises(ValueError, match="container must be"):
        CaptureFormat("erf")  # type: ignore[arg-type]
