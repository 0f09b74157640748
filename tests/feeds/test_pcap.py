"""Capture containers: classic pcap, pcapng, gzip; truncation and damaged files."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest
from capture_builder import (
    Feed,
    frame,
    ng_block,
    ng_epb,
    ng_idb,
    ng_pb,
    ng_shb,
    ng_spb,
    pcap,
    quote,
    system_event,
    trade,
)

from fluvius.errors import DecodeError
from fluvius.feeds._capture import CaptureStats, iter_records, ticks_to_ns
from fluvius.feeds.iex import DecodeReport, iter_events
from fluvius.feeds.iex.batch import decode_capture

T0 = 1_499_697_155_788_781_000  # a microsecond-exact capture time


def _feed() -> Feed:
    feed = Feed()
    feed.add([system_event("O", 10)], T0)
    feed.add(
        [quote("AAPL", 11, 100, 1_500_000, 1_500_100, 200), trade("AAPL", 12, 5, 1_500_050, 7)],
        T0 + 1000,
    )
    feed.add([], T0 + 2000)  # heartbeat
    feed.add([quote("ZIEXT", 13, 0, 0, 990_700, 1000, flags=0x40)], T0 + 3000)
    return feed


def _write(tmp_path: Path, data: bytes, name: str = "cap.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _decode_both(path: Path) -> tuple[list[object], DecodeReport]:
    report = DecodeReport()
    events = list(iter_events(path, report=report))
    batch = decode_capture(path)
    by_kind = {k: b.events() for k, b in batch.batches.items()}
    ref_by_kind: dict[str, list[object]] = {}
    for e in events:
        ref_by_kind.setdefault(e.kind, []).append(e)
    assert by_kind == ref_by_kind
    got, want = batch.report.as_dict(), report.as_dict()
    # decode_capture may inflate a gzip file whole (libdeflate) where iter_events streams
    assert got["capture"].pop("compressed") in (want["capture"].pop("compressed"), "libdeflate")
    assert got == want
    return list(events), report


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_pcap_byte_orders_and_time_units(tmp_path: Path, endian: str, nano: bool) -> None:
    feed = _feed()
    data = pcap([(ts, frame(p)) for ts, p in feed.datagrams], endian=endian, nano=nano)
    events, report = _decode_both(_write(tmp_path, data))
    assert events == feed.expected
    assert report.capture.container == "pcap"
    assert report.heartbeats == 1
    assert report.messages == 4


def test_nanosecond_pcap_keeps_nanoseconds(tmp_path: Path) -> None:
    feed = Feed()
    feed.add([system_event("O", 10)], T0 + 123)
    data = pcap([(ts, frame(p)) for ts, p in feed.datagrams], nano=True)
    (event,) = _decode_both(_write(tmp_path, data))[0]
    assert event.recv_ns == T0 + 123


def test_gzip_is_detected_from_the_bytes_not_the_name(tmp_path: Path) -> None:
    feed = _feed()
    data = gzip.compress(pcap([(ts, frame(p)) for ts, p in feed.datagrams]))
    path = _write(tmp_path, data, "looks_plain.pcapng")
    events, report = _decode_both(path)
    assert events == feed.expected
    assert report.capture.compressed in ("isal", "zlib-ng", "gzip")
    assert decode_capture(path).report.capture.compressed == "libdeflate"


def test_gzip_inflated_whole_gives_the_stream_s_records(tmp_path: Path) -> None:
    feed = _feed()
    data = pcap([(ts, frame(p)) for ts, p in feed.datagrams])
    path = _write(tmp_path, gzip.compress(data), "c.pcap.gz")

    def walk(stats: CaptureStats, **options: int) -> list[tuple[int, ...]]:
        chunks = iter_records(path, stats, **options)
        return [(base + r[0], *r[1:]) for _, base, found in chunks for r in found]

    want = walk(CaptureStats())
    for chunk in (7, 50, 1 << 20):
        stats = CaptureStats()
        got = walk(stats, chunk_bytes=chunk, whole_below=1 << 20)
        assert (got, stats.compressed, stats.bytes_read) == (want, "libdeflate", len(data))


@pytest.mark.parametrize("case", ["two members", "trailing bytes", "cut short", "bad crc"])
def test_gzip_that_cannot_be_inflated_whole_streams(tmp_path: Path, case: str) -> None:
    feed = _feed()
    data = pcap([(ts, frame(p)) for ts, p in feed.datagrams])
    half = len(data) // 2
    packed = {
        "two members": gzip.compress(data[:half]) + gzip.compress(data[half:]),
        "trailing bytes": gzip.compress(data) + bytes(3),
        "cut short": gzip.compress(data)[:-9],
        "bad crc": bytearray(gzip.compress(data)),
    }[case]
    if case == "bad crc":
        packed[-8] ^= 0xFF
    path = _write(tmp_path, bytes(packed), "c.pcap.gz")
    report = DecodeReport()
    if case in ("cut short", "bad crc"):  # a small file: nothing inflated before the damage
        with pytest.raises(DecodeError, match="cannot inflate") as streamed:
            list(iter_events(path, report=report))
        with pytest.raises(DecodeError, match="cannot inflate") as whole:
            decode_capture(path)
        assert str(whole.value) == str(streamed.value)
        return
    events = list(iter_events(path, report=report))
    batch = decode_capture(path)
    assert batch.report.capture.compressed == "isal"  # the stream reader's report
    assert batch.report.as_dict() == report.as_dict()
    assert [e for e in events if e.kind == "quote"] == batch.batches["quote"].events()
    assert events == feed.expected


def test_not_a_capture_is_a_decode_error(tmp_path: Path) -> None:
    path = _write(tmp_path, b"GET / HTTP/1.1\r\n" * 3, "x.pcap")
    with pytest.raises(DecodeError, match="not a pcap or pcapng capture") as info:
        list(iter_events(path))
    assert info.value.offset == 0


def test_file_ending_mid_record_stops_cleanly(tmp_path: Path) -> None:
    feed = _feed()
    data = pcap([(ts, frame(p)) for ts, p in feed.datagrams])
    cut = data[:-30]
    events, report = _decode_both(_write(tmp_path, cut))
    assert events == feed.expected[:-1]
    assert "ends inside a record" in report.capture.truncated_file
    assert report.corrupt == 0


def test_snaplen_truncation_keeps_complete_messages(tmp_path: Path) -> None:
    feed = Feed()
    msgs = [quote("AAPL", 11 + i, 100, 1_500_000, 1_500_100, 200) for i in range(3)]
    feed.add(msgs, T0)
    feed.add([system_event("C", 20)], T0 + 1000)
    # 42 network bytes + 40 header + two 44-byte blocks + part of the third
    data = pcap([(ts, frame(p)) for ts, p in feed.datagrams], snaplen=42 + 40 + 2 * 44 + 10)
    events, report = _decode_both(_write(tmp_path, data))
    assert events == [*feed.expected[:2], feed.expected[3]]
    assert report.capture.truncated_records == 1
    assert report.truncated_segments == 1
    assert report.corrupt == 0
    assert report.gap_count == 0  # the cut messages were sent: the sequence continues


def test_corrupt_record_length_stops_with_a_report(tmp_path: Path) -> None:
    feed = _feed()
    data = bytearray(pcap([(ts, frame(p)) for ts, p in feed.datagrams]))
    first_len = int.from_bytes(data[24 + 8 : 24 + 12], "little")
    second = 24 + 16 + first_len
    data[second + 8 : second + 12] = (10**9).to_bytes(4, "little")
    events, report = _decode_both(_write(tmp_path, bytes(data)))
    assert events == feed.expected[:1]
    assert "corrupt pcap record" in report.capture.truncated_file
    assert str(second) in report.capture.truncated_file


def test_small_chunks_give_the_same_records(tmp_path: Path) -> None:
    feed = _feed()
    path = _write(tmp_path, pcap([(ts, frame(p)) for ts, p in feed.datagrams]))
    whole = [r[3] for _, _, found in iter_records(path, CaptureStats()) for r in found]
    pieces = [
        r[3] for _, _, found in iter_records(path, CaptureStats(), chunk_bytes=7) for r in found
    ]
    assert whole == pieces
    assert len(whole) == len(feed.datagrams)
    assert decode_capture(path, chunk_bytes=50).batches["quote"].events() == [
        e for e in feed.expected if e.kind == "quote"
    ]


@pytest.mark.parametrize("endian", ["<", ">"])
def test_pcapng_blocks_sections_and_interfaces(tmp_path: Path, endian: str) -> None:
    feed = _feed()
    (t1, p1), (t2, p2), (t3, p3), (t4, p4) = feed.datagrams
    data = (
        ng_shb(endian, comment=b"File created by merging: a.pcap b.pcap")
        + ng_idb(endian, tsresol=6)
        + ng_idb(endian, tsresol=9)
        + ng_block(endian, 4, bytes(8))  # name resolution: skipped
        + ng_epb(endian, 0, t1 // 1000, frame(p1))
        + ng_epb(endian, 1, t2, frame(p2))
        + ng_block(endian, 0x40000BAD, b"custom data")  # custom block: skipped
        # a new section resets the interfaces: interface 0 is now 2^-10 s (tsresol 0x8a)
        + ng_shb(endian)
        + ng_idb(endian, tsresol=0x8A)
        + ng_pb(endian, 0, (t3 << 10) // 1_000_000_000, frame(p3))
        + ng_block(endian, 5, bytes(16))  # interface statistics: skipped
        + ng_epb(endian, 0, (t4 << 10) // 1_000_000_000, frame(p4))
    )
    events, report = _decode_both(_write(tmp_path, data))
    assert report.capture.container == "pcapng"
    assert report.capture.skipped_blocks == 3
    got = [(e.kind, e.seq) for e in events]
    assert got == [(e.kind, e.seq) for e in feed.expected]
    assert events[:3] == feed.expected[:3]  # µs and ns interfaces are exact
    expected_t4 = ticks_to_ns((t4 << 10) // 1_000_000_000, 0x8A)
    assert events[3].recv_ns == expected_t4
    assert abs(expected_t4 - t4) < 1_000_000  # 2^-10 s units


def test_pcapng_simple_packet_block_and_default_resolution(tmp_path: Path) -> None:
    feed = Feed()
    feed.add([system_event("O", 10)], 0)
    feed.add([system_event("C", 11)], T0)
    (_, p1), (t2, p2) = feed.datagrams
    data = ng_shb("<") + ng_idb("<", tsresol=None) + ng_spb("<", frame(p1))
    data += ng_epb("<", 0, t2 // 1000, frame(p2))
    events, _ = _decode_both(_write(tmp_path, data))
    assert events == feed.expected  # SPB has no time (0); EPB in default µs


def test_pcapng_snaplen_truncated_epb(tmp_path: Path) -> None:
    feed = Feed()
    feed.add([system_event("O", 10), system_event("S", 11)], T0)
    ((t1, p1),) = feed.datagrams
    full = frame(p1)
    data = ng_shb("<") + ng_idb("<") + ng_epb("<", 0, t1 // 1000, full[:-5], orig=len(full))
    events, report = _decode_both(_write(tmp_path, data))
    assert events == feed.expected[:1]
    assert report.truncated_segments == 1
    assert report.capture.truncated_records == 1


def test_pcapng_damaged_block_length_stops_with_a_report(tmp_path: Path) -> None:
    feed = _feed()
    (t1, p1), (t2, p2) = feed.datagrams[:2]
    good = ng_shb("<") + ng_idb("<") + ng_epb("<", 0, t1 // 1000, frame(p1))
    bad = bytearray(ng_epb("<", 0, t2 // 1000, frame(p2)))
    bad[4:8] = (7).to_bytes(4, "little")
    events, report = _decode_both(_write(tmp_path, good + bytes(bad)))
    assert events == feed.expected[:1]
    assert f"byte offset {len(good)}" in report.capture.truncated_file


def test_pcapng_undeclared_interface_and_huge_timestamps(tmp_path: Path) -> None:
    # found by benchmarks/iex_fuzz.py: a damaged interface id once declared 4 billion
    # interfaces; timestamps beyond int64 ns once overflowed
    feed = Feed()
    feed.add([system_event("O", 10)], T0)
    feed.add([system_event("C", 11)], T0 + 1000)
    (t1, p1), (_, p2) = feed.datagrams
    data = ng_shb("<") + ng_idb("<", tsresol=6) + ng_epb("<", 0xFFFFFFFF, t1 // 1000, frame(p1))
    data += ng_epb("<", 0, (1 << 64) - 1, frame(p2))
    events, _ = _decode_both(_write(tmp_path, data))
    assert events[0] == feed.expected[0]
    assert events[1].recv_ns == (((1 << 64) - 1) * 1000 + (1 << 63)) % (1 << 64) - (1 << 63)


@pytest.mark.parametrize("endian", ["<", ">"])
def test_pcapng_every_time_unit_converts_alike_in_both_walks(tmp_path: Path, endian: str) -> None:
    """Any ``if_tsresol`` (10^-0..10^-30 s, 2^-0..2^-127 s), any 64-bit tick count and an
    undeclared interface: the compiled walk gives the readable walk's times, exactly."""
    rnd = random.Random(14)
    feed = Feed()
    for i in range(96):
        feed.add([system_event("O", 10 + i)], T0 + i)
    units = [rnd.choice([*range(31), *range(0x80, 0x100)]) for _ in range(8)] + [9, 0x8A]
    data = ng_shb(endian) + b"".join(ng_idb(endian, tsresol=u) for u in units)
    expected = []
    for ts, p in feed.datagrams:
        iface = rnd.randrange(len(units) + 1)  # the last: undeclared (Ethernet, µs)
        ticks = rnd.choice([rnd.randrange(1 << 64), rnd.randrange(1 << 40), ts])
        data += ng_epb(endian, iface, ticks, frame(p))
        ns = ticks_to_ns(ticks, units[iface] if iface < len(units) else 6)
        expected.append((ns + (1 << 63)) % (1 << 64) - (1 << 63))
    events, _ = _decode_both(_write(tmp_path, data))
    assert [e.recv_ns for e in events] == expected
