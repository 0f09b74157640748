"""Synthetic captures of the ``iex`` workload, read back by the project's decoders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fluvius.feeds.iex.batch import decode_capture
from fluvius.feeds.iex.encode import CaptureFormat, synthetic_deep, synthetic_tops

KIND_OF = {
    "Q": "quote",
    "T": "trade",
    "8": "book_level_update",
    "5": "book_level_update",
    "S": "system_event",
    "D": "security_directory",
    "H": "trading_status",
    "O": "operational_halt",
    "P": "short_sale_status",
    "I": "retail_liquidity_indicator",
    "E": "security_event",
    "A": "auction_information",
    "X": "official_price",
}


def _expected_kinds(counts: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t, n in counts.items():
        out[KIND_OF[t]] = out.get(KIND_OF[t], 0) + n
    return out


@pytest.mark.parametrize("make", [synthetic_tops, synthetic_deep], ids=["tops", "deep"])
@pytest.mark.parametrize(
    "fmt", [CaptureFormat(), CaptureFormat("pcapng", nanosecond=True, byte_order=">")], ids=str
)
def test_synthetic_capture_decodes_cleanly(
    make: object, fmt: CaptureFormat, tmp_path: Path
) -> None:
    cap = make(20_000, n_symbols=300, seed=3, fmt=fmt)  # type: ignore[operator]
    decoded = decode_capture(cap.write(tmp_path / "s.cap"), strict=True)
    report = decoded.report
    assert report.messages == cap.messages == 20_000
    assert report.events == _expected_kinds(cap.counts)
    assert (report.segments, report.heartbeats) == (cap.segments, 2)
    assert (report.gap_count, report.offset_mismatch_count, report.corrupt) == (0, 0, 0)
    system = decoded.batches["system_event"].rows["system_event"].tolist()
    assert system == [b"O", b"S", b"R", b"M", b"E", b"C"]
    body = decoded.batches["trade"].rows
    assert (body["px"] > 0).all()
    assert (np.diff(body["ts_ns"]) >= 0).all()
    assert len(set(body["symbol"].tolist())) > 50  # many symbols trade


def test_tops_mix_and_segment_sizes() -> None:
    cap = synthetic_tops(100_000, n_symbols=2000, seed=0)
    body = cap.counts["Q"] + cap.counts["T"]
    assert 0.93 < cap.counts["Q"] / body < 0.95
    assert 2.5 < cap.messages / (cap.segments - 2) < 4.5  # several messages per segment


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    a = synthetic_deep(5_000, n_symbols=100, seed=7)
    assert a.tobytes() == synthetic_deep(5_000, n_symbols=100, seed=7).tobytes()
    assert a.tobytes() != synthetic_deep(5_000, n_symbols=100, seed=8).tobytes()


def test_deep_events_flag_only_their_last_price_level_update(tmp_path: Path) -> None:
    cap = synthetic_deep(30_000, n_symbols=200, seed=5)
    rows = decode_capture(cap.write(tmp_path / "d.pcap")).batches["book_level_update"].rows
    # an event is a run of consecutive PLUs of one symbol with one timestamp (trades may
    # precede it); in feed (seq) order the flag must be set exactly at each run's end
    key = np.rec.fromarrays([rows["symbol"], rows["ts_ns"]])
    run_end = np.ones(len(rows), dtype=bool)
    run_end[:-1] = key[1:] != key[:-1]
    assert (rows["event_end"] == run_end).all()
    multi = np.flatnonzero(~run_end)
    assert len(multi) > 1000  # plenty of multi-level events


def test_too_few_messages_for_the_preamble() -> None:
    with pytest.raises(ValueError, match="leaves no room after the"):
        synthetic_tops(100, n_symbols=2000)


def test_quotes_keep_a_book_per_symbol(tmp_path: Path) -> None:
    cap = synthetic_tops(40_000, n_symbols=300, seed=9)
    q = decode_capture(cap.write(tmp_path / "q.pcap"), strict=True).batches["quote"].rows
    assert (q["bid_px"] > 0).all()
    assert (q["bid_px"] < q["ask_px"]).all()  # never locked or crossed
    assert (q["bid_sz"] % 100 == 0).mean() > 0.8  # round lots, some odd lots
    order = np.argsort(q["symbol"], kind="stable")
    s = q[order]
    same = s["symbol"][1:] == s["symbol"][:-1]  # each quote against the symbol's previous
    bid = (s["bid_px"][1:] != s["bid_px"][:-1]) | (s["bid_sz"][1:] != s["bid_sz"][:-1])
    ask = (s["ask_px"][1:] != s["ask_px"][:-1]) | (s["ask_sz"][1:] != s["ask_sz"][:-1])
    assert (bid & ask)[same].mean() < 0.05  # one side changes at a time
    assert (bid ^ ask)[same].mean() > 0.7
    ticks = np.abs(np.diff(s["bid_px"].astype(np.int64)))[same & bid] // 10_000_000  # cents
    assert np.median(ticks[ticks > 0]) <= 10  # a walk in ticks, not random prices


@pytest.mark.parametrize("most", [1, 10, 30])
def test_segments_hold_one_to_max_messages(most: int) -> None:
    from fluvius.feeds.iex.synthetic import _segment_counts

    counts = _segment_counts(np.random.default_rng(4), 50_000, most)
    assert counts.sum() == 50_000
    assert counts.min() >= 1
    assert counts.max() == most
    if most > 1:
        assert (counts == 1).mean() > 0.5  # most segments carry one message, as IEX's do
