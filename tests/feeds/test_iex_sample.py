"""The real IEX sample (shared/data/iex, IEX's data, never committed): the README's counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from capture_builder import shared_sample

from fluvius.feeds.iex import DecodeReport, iter_events
from fluvius.feeds.iex.batch import decode_capture

SAMPLE = shared_sample() or Path("shared/data/iex/TOPS16_20170710_sample.pcap.gz")
pytestmark = pytest.mark.skipif(not SAMPLE.exists(), reason=f"{SAMPLE} is not present")

# from shared/data/iex/README.md
README_COUNTS = {
    "quote": 27_217,
    "trade": 6_390,
    "auction_information": 642,
    "trade_break": 3,
    "security_directory": 10,
    "system_event": 6,
}


@pytest.mark.slow
def test_sample_decodes_with_the_readme_counts() -> None:
    batch = decode_capture(SAMPLE)
    report = batch.report
    assert report.capture.container == "pcap"  # named .pcapng upstream; the bytes say pcap
    assert report.segments == 13_022
    assert report.messages == 57_674
    assert report.total_events == 57_674
    for kind, count in README_COUNTS.items():
        assert report.events[kind] == count, kind
    for kind in ("trading_status", "operational_halt", "short_sale_status"):
        assert 7_700 <= report.events[kind] <= 7_900, kind  # "about 7,800 each"
    assert report.gap_count == report.duplicate_messages == report.restart_count == 0
    assert report.corrupt == report.truncated_segments == 0
    assert report.unknown_types == {}
    assert report.capture.truncated_file == ""


@pytest.mark.slow
def test_sample_reference_and_batch_agree() -> None:
    report = DecodeReport()
    events = list(iter_events(SAMPLE, report=report))
    batch = decode_capture(SAMPLE)
    # the inflaters differ (decode_capture inflates the whole file, iter_events streams)
    assert (batch.report.capture.compressed, report.capture.compressed) == ("libdeflate", "isal")
    report.capture.compressed = "libdeflate"
    assert batch.report.as_dict() == report.as_dict()
    for kind, rows in batch.batches.items():
        assert rows.events() == [e for e in events if e.kind == kind]
    # session framing (TOPS v1.66 System Event: 'O' first, 'C' last), seq 1..57,674
    assert events[0].kind == "system_event"
    assert events[-1].kind == "system_event"
    assert [e.seq for e in events] == list(range(1, 57_675))
    quotes = batch.batches["quote"].rows
    assert (quotes["bid_px"] % 100_000 == 0).all()  # 1e-4 prices scaled to 1e-9
