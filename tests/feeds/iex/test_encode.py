"""The IEX encoder against the specifications' byte examples and an independent struct packing."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iex_strategies import DEEP_KINDS, TOPS_KINDS, event_streams, split_segment, wire_bytes

from fluvius.feeds import events as ev
from fluvius.feeds.iex import SegmentDecoder, iter_events
from fluvius.feeds.iex.batch import decode_capture
from fluvius.feeds.iex.encode import (
    KIND_TO_TYPE,
    CaptureFormat,
    encode_capture,
    encode_message,
    encode_segments,
    write_capture,
)

F = ev.IEX_PRICE_FACTOR
TS = 1471980632572715948


def test_spec_examples_byte_for_byte() -> None:
    # DEEP 1.08 / TOPS 1.66 example messages and the IEX Transport 1.26 example segment
    quote = ev.Quote("IEX", "ZIEXT", TS, 0, 1, 990500 * F, 9700, 990700 * F, 1000, 0)
    assert encode_message(quote).hex() == (
        "5100ac63c02096866d145a49455854202020e4250000241d0f0000000000ec1d0f0000000000e8030000"
    )
    trade = ev.Trade("IEX", "ZIEXT", 1471980683662974915, 7, 50122, 990500 * F, 100, 429974, 0)
    plu = ev.BookLevelUpdate("IEX", "ZIEXT", TS, 7, 50123, "B", 990500 * F, 9700, True)
    plu_hex = "3801ac63c02096866d145a49455854202020e4250000241d0f0000000000"
    assert encode_message(plu).hex() == plu_hex
    ((recv, segment),) = encode_segments([trade, plu], session_id=0x42870000)
    assert recv == 7
    assert segment[:16].hex() == "01000480010000000000874248000200"
    assert segment[24:32].hex() == "cac3000000000000"  # first sequence number 50122
    assert segment[40:].hex() == (
        "2600" + encode_message(trade).hex() + "1e00" + encode_message(plu).hex()
    )
    halt = ev.TradingStatus("IEX", "ZIEXT", TS, 0, 1, "H", "T1")
    assert encode_message(halt).hex() == "4848ac63c02096866d145a494558542020205431" + "2020"


@pytest.mark.parametrize(
    ("protocol", "kinds", "protocol_id"),
    [("tops", TOPS_KINDS, 0x8003), ("deep", DEEP_KINDS, 0x8004)],
    ids=["tops", "deep"],
)
@pytest.mark.slow
@settings(max_examples=60)
@given(data=st.data())
def test_segments_carry_the_struct_packed_messages(
    protocol: Literal["tops", "deep"], kinds: list[str], protocol_id: int, data: st.DataObject
) -> None:
    events = data.draw(event_streams(kinds))
    per = data.draw(st.integers(1, 5))
    segments = encode_segments(events, protocol=protocol, session_id=77, max_per_segment=per)
    messages: list[bytes] = []
    offset = 0
    expected_seq = events[0].seq
    for recv, segment in segments:
        head, blocks = split_segment(segment)
        version, _, proto, channel, session, length, count, stream_offset, first, send = head
        assert (version, proto, channel, session) == (1, protocol_id, 1, 77)
        assert 1 <= count <= per
        assert (stream_offset, first, send) == (offset, expected_seq, recv)
        assert {e.recv_ns for e in events[first - events[0].seq :][:count]} == {recv}
        offset += length
        expected_seq += count
        messages += blocks
    assert messages == [wire_bytes(e) for e in events]


def test_every_kind_has_a_message_type_of_the_documented_length() -> None:
    lengths = {b"S": 10, b"D": 31, b"H": 22, b"I": 18, b"O": 18, b"P": 19, b"E": 18}
    lengths |= {b"Q": 42, b"T": 38, b"B": 38, b"X": 26, b"8": 30, b"A": 80}
    from fluvius.feeds.iex._wire_out import MESSAGE_DTYPES

    assert set(KIND_TO_TYPE) == set(ev.KINDS)
    assert {t: d.itemsize for t, d in MESSAGE_DTYPES.items() if t != b"5"} == lengths


def test_a_sequence_gap_starts_a_new_segment_at_the_later_number() -> None:
    a = ev.SystemEvent("IEX", "", 1, 5, 10, "O")
    b = ev.SystemEvent("IEX", "", 2, 5, 14, "S")
    heads = [split_segment(s)[0] for _, s in encode_segments([b, a])]
    assert [(h[6], h[8]) for h in heads] == [(1, 10), (1, 14)]


def test_values_the_wire_cannot_carry_are_rejected() -> None:
    odd = ev.Trade("IEX", "AB", 1, 1, 1, 12345, 1, 1, 0)
    with pytest.raises(ValueError, match="px=12345 is not a whole multiple of 100000"):
        encode_message(odd)
    side = ev.BookLevelUpdate("IEX", "AB", 1, 1, 1, "X", 0, 1, True)
    with pytest.raises(ValueError, match="side must be 'B' or 'S'"):
        encode_message(side)
    quote = ev.Quote("IEX", "AB", 1, 1, 1, 0, 0, 0, 0, 0)
    plu = ev.BookLevelUpdate("IEX", "AB", 1, 1, 2, "B", 0, 1, True)
    with pytest.raises(ValueError, match="mix TOPS-only"):
        encode_capture([quote, plu])
    with pytest.raises(ValueError, match="TOPS has no message for"):
        encode_capture([plu], protocol="tops")
    with pytest.raises(ValueError, match="two events carry seq=1"):
        encode_capture([quote, ev.Trade("IEX", "AB", 1, 1, 1, 0, 1, 1, 0)])


def test_capture_formats_frame_the_same_segments() -> None:
    events = [ev.SystemEvent("IEX", "", 1, 2_000_000_000, 1, "O")]
    ((_, segment),) = encode_segments(events)
    for fmt in (CaptureFormat("pcap"), CaptureFormat("pcapng", nanosecond=True)):
        data = encode_capture(events, fmt=fmt)
        assert segment in data


# -- round trips through the project's own decoders (fluvius.feeds.iex.reference and .batch)
ROUND_TRIP_FORMATS = [
    CaptureFormat("pcap", nanosecond=True),
    CaptureFormat("pcap", nanosecond=False, byte_order=">"),
    CaptureFormat("pcapng", nanosecond=True, byte_order=">"),
    CaptureFormat("pcapng", nanosecond=False),
]


def _in_file_order(batches: dict[str, ev.EventBatch]) -> list[ev.Event]:
    return sorted((e for b in batches.values() for e in b.events()), key=lambda e: e.seq)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ROUND_TRIP_FORMATS, ids=str)
@settings(max_examples=40)
@given(data=st.data())
def test_encode_then_decode_is_the_identity(fmt: CaptureFormat, data: st.DataObject) -> None:
    protocol = data.draw(st.sampled_from(["tops", "deep"]))
    events = data.draw(event_streams(TOPS_KINDS if protocol == "tops" else DEEP_KINDS))
    if not fmt.nanosecond:  # a microsecond capture keeps the receive time to the µs
        events = [dataclasses.replace(e, recv_ns=e.recv_ns // 1000 * 1000) for e in events]
    per = data.draw(st.integers(1, 6))
    with tempfile.TemporaryDirectory() as tmp:
        path = write_capture(
            Path(tmp) / "x.cap", events, protocol=protocol, fmt=fmt, max_per_segment=per
        )
        decoded = decode_capture(path, strict=True)
        streamed = list(iter_events(path, strict=True))
    assert _in_file_order(decoded.batches) == events
    assert streamed == events
    report = decoded.report
    assert (report.messages, report.gap_count, report.offset_mismatch_count) == (len(events), 0, 0)


@pytest.mark.slow
@settings(max_examples=40)
@given(events=event_streams(DEEP_KINDS))
def test_segments_decode_one_datagram_at_a_time(events: list[ev.Event]) -> None:
    decoder = SegmentDecoder(strict=True)
    out = []
    for recv, segment in encode_segments(events, protocol="deep", max_per_segment=3):
        out += decoder.decode(segment, recv)
    assert out == events
