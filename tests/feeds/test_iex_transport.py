"""IEX-TP sequence tracking: gaps, duplicates, restarts, offset mismatches, sessions."""

from __future__ import annotations

from pathlib import Path

from capture_builder import TOPS, frame, pcap, segment, system_event
from test_iex_decoders import _both

from fluvius.feeds.iex import DecodeReport, SequenceTracker
from fluvius.feeds.iex.transport import StreamKey

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
    assert tracker.expected(key) == (3, 20)


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
