"""The columnar live decoder equals the reference decoder: rows, events, report, errors."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iex_strategies import damaged

from fluvius.errors import DecodeError
from fluvius.feeds import _kernels
from fluvius.feeds.events import Event, SystemEvent, Trade, events_to_array
from fluvius.feeds.iex import SegmentDecoder
from fluvius.feeds.iex.datagram import ROW_KINDS, ColumnarSegmentDecoder, DatagramBatch
from fluvius.feeds.iex.encode import encode_segments, synthetic_deep, synthetic_tops
from fluvius.feeds.iex.replay import iter_datagrams

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from capture_builder import shared_sample

SAMPLE = shared_sample() or Path("shared/data/iex/TOPS16_20170710_sample.pcap.gz")
needs_kernel = pytest.mark.skipif(_kernels.kernels() is None, reason="no numba kernel")


def _check_batch(batch: DatagramBatch, expected: list[Event]) -> None:
    """Rows, order and objects of ``batch`` against the reference decoder's events."""
    assert list(batch) == expected
    assert len(batch) == len(expected)
    kinds = [e.kind for e in expected]
    assert [ROW_KINDS[k] for k in batch.order.tolist()] == kinds
    assert batch.kinds == tuple(k for k in ROW_KINDS if k in kinds)
    for kind in ROW_KINDS:
        rows = batch.rows(kind)
        want = [e for e in expected if e.kind == kind]
        if want:  # byte-exact: every field, NUL padding included
            assert rows.tobytes() == events_to_array(want).tobytes(), kind
        else:
            assert len(rows) == 0


def _run(decoder: Any, datagrams: list[tuple[bytes, bool]]) -> tuple[list[Any], str]:
    out: list[Any] = []
    try:
        for data, cut in datagrams:
            out.append(decoder.decode(data, 7, truncated=cut))
    except DecodeError as exc:
        return out, str(exc)
    return out, ""


@pytest.mark.slow
@settings(max_examples=150)
@given(datagrams=damaged(), strict=st.booleans(), compiled=st.sampled_from([None, False]))
def test_columnar_equals_reference(
    datagrams: list[tuple[bytes, bool]], strict: bool, compiled: bool | None
) -> None:
    ref = SegmentDecoder(strict=strict)
    col = ColumnarSegmentDecoder(strict=strict, compiled=compiled)
    expected, ref_error = _run(ref, datagrams)
    got, col_error = _run(col, datagrams)
    assert col_error == ref_error
    assert len(got) == len(expected)
    for batch, events in zip(got, expected, strict=True):
        _check_batch(batch, events)
    assert col.report.as_dict() == ref.report.as_dict()


@pytest.mark.slow
@settings(max_examples=60)
@given(
    datagrams=damaged(),
    lost=st.lists(st.integers(0, 30), max_size=4),
    resend_first=st.booleans(),
)
def test_lost_and_resent_datagrams_are_tracked_alike(
    datagrams: list[tuple[bytes, bool]], lost: list[int], resend_first: bool
) -> None:
    """Gaps (lost datagrams) and restarts (the first segment again, seq 1) as the reference."""
    kept = [d for i, d in enumerate(datagrams) if i not in lost]
    if resend_first and datagrams:
        kept.append(datagrams[0])
    ref, col = SegmentDecoder(), ColumnarSegmentDecoder()
    expected, _ = _run(ref, kept)
    got, _ = _run(col, kept)
    for batch, events in zip(got, expected, strict=True):
        _check_batch(batch, events)
    assert col.report.as_dict() == ref.report.as_dict()


@needs_kernel
@pytest.mark.parametrize("make", [synthetic_tops, synthetic_deep], ids=["tops", "deep"])
def test_clean_segments_take_the_kernel(
    make: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = make(3000, n_symbols=50, seed=3).write(tmp_path / "c.pcap")
    col = ColumnarSegmentDecoder(compiled=True)
    ref = SegmentDecoder()

    def forbidden(*args: object, **kwargs: object) -> list[object]:
        raise AssertionError("the reference decoder was used")

    monkeypatch.setattr(col.reference, "decode", forbidden)
    for recv, seg in iter_datagrams(path):
        _check_batch(col.decode(seg, recv), ref.decode(seg, recv))
    assert col.report.as_dict() == ref.report.as_dict()
    assert col.report.messages == 3000


@pytest.mark.parametrize("compiled", [None, False])
def test_overlapping_duplicates_keep_the_new_tail(compiled: bool | None) -> None:
    events: list[Event] = [SystemEvent("IEX", "", 1, 0, 1, "O")]
    events += [Trade("IEX", "AB", 2 + i, 0, 2 + i, 10**9, 100, i, 0) for i in range(7)]
    first = [seg for _, seg in encode_segments(events[:4], max_per_segment=4)]
    again = [seg for _, seg in encode_segments(events[2:6], max_per_segment=4)]  # seq 3..6
    ref, col = SegmentDecoder(), ColumnarSegmentDecoder(compiled=compiled)
    for seg in first + again:
        expected = ref.decode(seg, 0)
        _check_batch(col.decode(seg, 0), expected)
    assert col.report.duplicate_messages == ref.report.duplicate_messages == 2
    assert col.report.as_dict() == ref.report.as_dict()


@pytest.mark.slow
@pytest.mark.skipif(not SAMPLE.exists(), reason="the shared IEX sample is not present")
def test_the_real_sample_datagram_by_datagram() -> None:
    ref, col = SegmentDecoder(), ColumnarSegmentDecoder()
    largest = most = 0
    for recv, payload in iter_datagrams(SAMPLE):
        batch = col.decode(payload, recv)
        _check_batch(batch, ref.decode(payload, recv))
        largest = max(largest, len(batch))
        most = max(most, int.from_bytes(payload[14:16], "little"))  # the header's Message Count
    assert col.report.as_dict() == ref.report.as_dict()
    assert col.report.messages == 57_674
    assert largest == most  # the pre-market spin's large datagrams went through


def test_batch_sequence_behaviour() -> None:
    trades = [Trade("IEX", "ZIEXT", 5, 0, i + 1, 25 * 10**9, 100, i, 0) for i in range(3)]
    ((_, seg),) = encode_segments(trades, max_per_segment=8)
    batch = ColumnarSegmentDecoder().decode(seg, 0)
    assert batch[0] == trades[0]
    assert batch[1:] == trades[1:]
    assert batch.index(trades[2]) == 2
    assert "trade=3" in repr(batch)
    with pytest.raises(ValueError, match="read-only"):
        batch.rows("trade")["px"][0] = 1
    assert batch.rows("quote").dtype.names is not None
    assert len(batch.rows("quote")) == 0
    empty = DatagramBatch.from_events([], "IEX", 0)
    assert (len(empty), empty.kinds, empty.order.tolist()) == (0, (), [])


def test_compiled_true_needs_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLUVIUS_NUMBA", "0")
    monkeypatch.setattr(_kernels, "_CACHE", {})
    assert _kernels.kernels() is None
    with pytest.raises(ValueError, match="compiled=True needs the numba kernel"):
        ColumnarSegmentDecoder(compiled=True)
    trades = [Trade("IEX", "AB", 5, 0, 1, 10**9, 100, 0, 0)]
    ((_, seg),) = encode_segments(trades)
    assert list(ColumnarSegmentDecoder().decode(seg, 0)) == trades


def test_rows_are_the_batch_decoders_dtypes() -> None:
    from fluvius.feeds.events import dtype_of

    batch = ColumnarSegmentDecoder().decode(
        encode_segments([dataclasses.replace(SystemEvent("IEX", "", 1, 0, 1, "S"))])[0][1], 3
    )
    rows = batch.rows("system_event")
    assert rows.dtype == dtype_of("system_event")
    assert rows["recv_ns"].tolist() == [3]
    assert np.array_equal(rows["symbol"], np.array([b""], dtype="S8"))


@pytest.mark.parametrize("seed", [1, 2])
def test_raw_rows_are_the_rows_with_padded_symbols(seed: int, tmp_path: Path) -> None:
    """``raw_rows`` (struct) gives what ``rows().tolist()`` (numpy) gives, the symbol kept as
    its 8 NUL-padded bytes, for every kind of every datagram, decoded or built from events."""
    path = synthetic_tops(400, n_symbols=30, seed=seed).write(tmp_path / "t.pcap")
    decoder, checked = ColumnarSegmentDecoder(), 0
    for recv, payload in iter_datagrams(path):
        decoded = decoder.decode(payload, recv)
        for batch in (decoded, DatagramBatch.from_events(list(decoded), "IEX", recv)):
            for kind in ROW_KINDS:
                padded = [(r[0].ljust(8, b"\0"), *r[1:]) for r in batch.rows(kind).tolist()]
                assert batch.raw_rows(kind) == padded, kind
                checked += len(padded)
    assert checked > 400


@pytest.mark.parametrize("seed", [1, 2])
def test_raw_rows_of_are_the_raw_rows_of_the_symbols_asked_for(seed: int, tmp_path: Path) -> None:
    """``raw_rows_of`` (the symbol compared in place, only kept rows read) keeps exactly the
    rows of ``raw_rows`` whose symbol is asked for, in order, for every kind; a set with
    symbols no row has gives nothing."""
    capture = synthetic_tops(600, n_symbols=30, seed=seed)
    path = capture.write(tmp_path / "t.pcap")
    some = frozenset(s.encode().ljust(8, b"\0") for s in capture.symbols[::3])
    decoder, kept, total = ColumnarSegmentDecoder(), 0, 0
    for recv, payload in iter_datagrams(path):
        decoded = decoder.decode(payload, recv)
        for batch in (decoded, DatagramBatch.from_events(list(decoded), "IEX", recv)):
            for kind in ROW_KINDS:
                rows = batch.raw_rows(kind)
                picked = batch.raw_rows_of(kind, some)
                assert picked == [r for r in rows if r[0] in some], kind
                assert batch.raw_rows_of(kind, frozenset({b"NOSUCH\0\0"})) == []
                kept += len(picked)
                total += len(rows)
    assert 0 < kept < total
