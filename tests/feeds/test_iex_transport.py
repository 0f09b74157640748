"""IEX-TP sequence tracking: gaps, duplicates, restarts, offset mismatches, sessions."""

from __future__ import annotations

import dataclasses
import gzip
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from capture_builder import (
    TOPS,
    frame,
    pcap,
    sample_segments,
    segment,
    shared_sample,
    system_event,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_iex_decoders import _both, feeds

from fluvius.errors import DecodeError
from fluvius.feeds.iex import DecodeReport, SequenceTracker, iter_events
from fluvius.feeds.iex.transport import PLAUSIBLE_JUMP, StreamKey

T0 = 1_600_000_000_000_000_000


def _msgs(*ts: int) -> list[bytes]:
    return [system_event("O", t).raw for t in ts]


def test_tracker_in_isolation() -> None:
    report = DecodeReport()
    tracker = SequenceTracker(report)
    key = StreamKey(TOPS, 1, 7)
    assert tracker.observe(key, 1, 0, 0, 0, at=0) == 0  # heartbeat: next is 1
    assert tracker.observe(key, 1, 3, 0, 30, at=1) == 0
    assert tracker.observe(key, 4, 1, 30, 10, at=2) == 0
    assert tracker.observe(key, 3, 4, 40, 40, at=3) == 2  # 3, 4 seen; 5, 6 new
    assert tracker.expected(key) == (7, 80)
    assert tracker.observe(key, 9, 1, 100, 10, at=4) == 0  # 7, 8 missing
    assert tracker.observe(key, 10, 1, 999, 10, at=5) == 0  # offset should be 110
    assert tracker.observe(key, 1, 2, 0, 20, at=6) == 0  # restart
    assert tracker.observe(StreamKey(TOPS, 1, 8), 50, 1, 0, 10, at=7) == 0  # another session
    assert report.duplicate_messages == 2
    assert report.gaps == [
        {"protocol": TOPS, "channel": 1, "session": 7, "first_missing": 7, "last_missing": 8,
         "at": 4}
    ]  # fmt: skip
    assert (report.gap_count, report.missing_messages) == (1, 2)
    assert report.offset_mismatches == [
        {"protocol": TOPS, "channel": 1, "session": 7, "seq": 10, "expected_offset": 110,
         "stream_offset": 999, "at": 5}
    ]  # fmt: skip
    assert report.restarts == [
        {"protocol": TOPS, "channel": 1, "session": 7, "after_seq": 10, "at": 6}
    ]
    assert tracker.expected(key) == (11, 1009)  # the restart is held until confirmed
    assert tracker.observe(key, 3, 1, 20, 10, at=8) == 0  # continues the restart
    assert tracker.expected(key) == (4, 30)
    assert report.sequence_anomaly_count == 0


def test_decoders_drop_duplicates_and_report_gaps(tmp_path: Path) -> None:
    segs = [
        segment(TOPS, 7, 1, _msgs(1, 2), 0),
        segment(TOPS, 8, 1, _msgs(100), 0),  # another session, interleaved
        segment(TOPS, 7, 3, _msgs(3), 24),  # a system event block is 2 + 10 bytes
        segment(TOPS, 7, 3, _msgs(3), 24),  # duplicate segment (an A/B line repeat)
        segment(TOPS, 7, 6, _msgs(6), 60),  # 4, 5 missing
        segment(TOPS, 7, 6, _msgs(6, 7), 60),  # 6 again, 7 new
        segment(TOPS, 7, 1, _msgs(11), 0),  # restart
        segment(TOPS, 7, 2, [], 12),  # heartbeat
    ]
    path = tmp_path / "seq.pcap"
    path.write_bytes(pcap([(T0 + i * 1000, frame(s)) for i, s in enumerate(segs)]))
    events, report = _both(path)
    assert [(e.ts_ns, e.seq) for e in events] == [
        (1, 1), (2, 2), (100, 1), (3, 3), (6, 6), (7, 7), (11, 1)
    ]  # fmt: skip
    assert report.duplicate_messages == 2
    assert (report.gap_count, report.missing_messages, report.restart_count) == (1, 2, 1)
    assert report.offset_mismatch_count == 0
    assert report.heartbeats == 1
    assert report.messages == 7


# -- issue 15, item 1: one bad sequence number must not cut off the rest of a stream --------

SAMPLE = shared_sample()
needs_sample = pytest.mark.skipif(SAMPLE is None, reason="the shared IEX sample is not present")
JUMP = 1_000_000


def _sample_with_jump(tmp_path: Path, heartbeat: bool) -> tuple[Path, int, int]:
    """The real sample, one segment (or heartbeat) in the middle given first seq + 1,000,000.

    Returns the capture, the segment's byte offset and its message count.
    """
    assert SAMPLE is not None
    data = bytearray(gzip.decompress(SAMPLE.read_bytes()))
    segments = sample_segments(bytes(data))
    middle = len(segments) // 2
    at, count = next((a, c) for a, c in segments[middle:] if (c == 0) == heartbeat)
    (first,) = struct.unpack_from("<q", data, at + 24)
    struct.pack_into("<q", data, at + 24, first + JUMP)
    path = tmp_path / ("jump_hb.pcap" if heartbeat else "jump.pcap")
    path.write_bytes(bytes(data))
    return path, at, count


@needs_sample
@pytest.mark.slow
@pytest.mark.parametrize("heartbeat", [False, True], ids=["segment", "heartbeat"])
def test_one_bad_sequence_number_does_not_cut_off_the_sample(
    tmp_path: Path, heartbeat: bool
) -> None:
    assert SAMPLE is not None
    path, at, count = _sample_with_jump(tmp_path, heartbeat)
    events, report = _both(path)  # reference, compiled and numpy-only decoders agree
    clean = list(iter_events(SAMPLE))
    assert len(events) == report.messages == len(clean) == 57_674
    assert report.duplicate_messages == 0
    assert report.gap_count == report.restart_count == 0
    assert report.sequence_anomaly_count == 1
    (anomaly,) = report.sequence_anomalies
    assert anomaly["at"] == at
    assert anomaly["seq"] == anomaly["expected_seq"] + JUMP
    # the segment's own messages are kept, with the sequence numbers it claims
    moved = [i for i, (a, b) in enumerate(zip(events, clean, strict=True)) if a != b]
    assert len(moved) == count
    for i in moved:
        assert events[i] == dataclasses.replace(clean[i], seq=clean[i].seq + JUMP)
    ahead = r"jumps from \d+ to \d+, more than 65536 messages ahead"
    with pytest.raises(DecodeError, match=ahead) as exc:
        _both(path, strict=True)
    assert exc.value.offset == at


@needs_sample
@pytest.mark.slow
def test_strict_cli_fails_on_a_sequence_anomaly(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fluvius.cli.app import app

    path, at, _ = _sample_with_jump(tmp_path, heartbeat=True)
    runner = CliRunner()
    strict = runner.invoke(app, ["iex", "decode", str(path), "--strict", "-o", str(tmp_path / "o")])
    assert strict.exit_code == 1, strict.output
    assert f"at byte offset {at}" in strict.output
    lenient = runner.invoke(app, ["iex", "info", str(path), "--json"])
    assert lenient.exit_code == 0, lenient.output
    doc = json.loads(lenient.stdout)
    assert doc["messages"] == 57_674
    assert doc["report"]["sequence_anomaly_count"] == 1


def test_a_confirmed_jump_is_a_gap_and_a_rejected_restart_an_anomaly() -> None:
    report = DecodeReport()
    tracker = SequenceTracker(report)
    key = StreamKey(TOPS, 1, 7)
    assert tracker.observe(key, 1, 10, 0, 100, at=0) == 0
    # a far jump, confirmed by the next segment: a real gap, the stream follows it
    assert tracker.observe(key, 11 + JUMP, 5, 100, 50, at=1) == 0
    assert tracker.expected(key) == (11, 100)  # held
    assert tracker.observe(key, 16 + JUMP, 1, 150, 10, at=2) == 0
    assert tracker.expected(key) == (17 + JUMP, 160)
    assert report.gaps[-1] == {"protocol": TOPS, "channel": 1, "session": 7,
                               "first_missing": 11, "last_missing": 10 + JUMP, "at": 1}  # fmt: skip
    # a forged restart (a heartbeat at 1), then the stream goes on: rejected
    assert tracker.observe(key, 1, 0, 0, 0, at=3) == 0
    assert tracker.observe(key, 17 + JUMP, 2, 160, 20, at=4) == 0
    assert tracker.expected(key) == (19 + JUMP, 180)
    assert report.restart_count == 1
    assert report.sequence_anomaly_count == 2  # the jump, then the restart not followed
    assert report.sequence_anomalies[-1]["at"] == 4
    # a jump the next segment does not confirm: the messages after it are not "duplicates"
    assert tracker.observe(key, 19 + 2 * JUMP, 1, 180, 10, at=5) == 0
    assert tracker.observe(key, 19 + JUMP, 3, 180, 30, at=6) == 0
    assert tracker.expected(key) == (22 + JUMP, 210)
    assert report.duplicate_messages == 0
    strict = SequenceTracker(DecodeReport(), strict=True)
    strict.observe(key, 1, 1, 0, 10, at=0)
    strict.observe(key, 1, 1, 0, 10, at=1)  # a restart: fine until it is not followed
    not_followed = r"restart at sequence 1 \(byte offset 1\) is not followed"
    with pytest.raises(DecodeError, match=not_followed):
        strict.observe(key, 2 + JUMP, 1, 10, 10, at=2)


@st.composite
def _jumpy_captures(draw: st.DrawFn) -> bytes:
    """A capture of feeds() whose segments get random sequence numbers now and then."""
    feed, data = draw(feeds())
    del feed
    buf = bytearray(data)
    for at, _count in sample_segments(bytes(buf)):
        action = draw(st.sampled_from(["keep"] * 4 + ["far", "back", "one", "near"]))
        (first,) = struct.unpack_from("<q", buf, at + 24)
        new = {
            "keep": first,
            "far": first + draw(st.integers(PLAUSIBLE_JUMP + 1, 2**40)),
            "back": first - draw(st.integers(1, 2**40)),
            "one": 1,
            "near": first + draw(st.integers(1, PLAUSIBLE_JUMP)),
        }[action]
        struct.pack_into("<q", buf, at + 24, new)
    return bytes(buf)


@pytest.mark.slow
@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])
@given(_jumpy_captures())
def test_sequence_jumps_decoders_agree(tmp_path_factory: Any, data: bytes) -> None:
    """Reference, compiled and numpy decoders agree on random sequence jumps (lenient and
    strict); no message is lost but the ones judged duplicates; strict fails exactly when
    the lenient decode reports an anomaly."""
    path = tmp_path_factory.mktemp("jumps") / "j.pcap"
    path.write_bytes(data)
    _, report = _both(path)
    sent = sum(count for _, count in sample_segments(data))
    assert report.messages + report.duplicate_messages == sent
    if report.sequence_anomaly_count:
        with pytest.raises(DecodeError, match="IEX-TP stream"):
            _both(path, strict=True)
    else:
        assert _both(path, strict=True)[1].as_dict() == report.as_dict()
