"""The compiled survey pass (records → segments) and chunking: same events as the reference.

The survey walks classic pcap records itself and takes pcapng records as arrays; both must
give what the reference decoder and the numpy path give, on odd frames, damaged files,
several streams and any chunk size.
"""

from __future__ import annotations

import random
import struct
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from capture_builder import (
    DEEP,
    TOPS,
    Feed,
    frame,
    ng_epb,
    ng_idb,
    ng_shb,
    ng_spb,
    pcap,
    price_level,
    quote,
    segment,
    system_event,
    trade,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_iex_decoders import T0, _attempt, _both, feeds

from fluvius.feeds.iex import iter_capture_batches
from fluvius.feeds.iex.batch import decode_capture

if TYPE_CHECKING:
    from pathlib import Path

    from numpy.typing import NDArray


def _odd_frames(payload: bytes) -> list[bytes]:
    """Frames that are not IEX-TP datagrams: each must be counted, none decoded."""
    return [
        frame(payload, proto=6),  # TCP
        bytes(12) + b"\x86\xdd" + bytes(60),  # IPv6
        frame(payload)[:30],  # shorter than the headers
        frame(b"short"),  # a datagram too short for a segment header
        frame(bytes.fromhex("0100058001000000") + bytes(32)),  # DEEP+
        frame(bytes.fromhex("0200038001000000") + bytes(32)),  # IEX-TP version 2
        bytes(12) + b"\x81\x00\x00\x64",  # a VLAN tag and nothing after it
    ]


def _to_pcapng(records: list[tuple[int, bytes]], rnd: random.Random) -> bytes:
    """The records as pcapng: EPBs (some cut short), SPBs, a non-Ethernet interface."""
    out = ng_shb("<") + ng_idb("<", tsresol=9) + ng_idb("<", linktype=101)
    for ts, data in records:
        r = rnd.random()
        if r < 0.1:
            out += ng_epb("<", 1, ts, data)  # raw IP link type: not Ethernet
        elif r < 0.2:
            out += ng_spb("<", data)
        elif r < 0.3 and len(data) > 50:
            cut = rnd.randint(1, len(data) - 42)
            out += ng_epb("<", 0, ts, data[:-cut], orig=len(data))
        else:
            out += ng_epb("<", 0, ts, data)
    return out


def _records(data: bytes) -> list[tuple[int, bytes]]:
    """The (time, frame) records of a little-endian µs classic pcap written by ``pcap``."""
    out, pos = [], 24
    while pos + 16 <= len(data):
        sec, usec, incl, _orig = struct.unpack_from("<IIII", data, pos)
        out.append((sec * 1_000_000_000 + usec * 1000, data[pos + 16 : pos + 16 + incl]))
        pos += 16 + incl
    return out


@pytest.mark.slow
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(feeds(), st.randoms(use_true_random=False), st.booleans())
def test_pcapng_records_with_odd_frames_agree(
    tmp_path_factory: Any, case: tuple[Feed, bytes], rnd: random.Random, strict: bool
) -> None:
    feed, data = case
    records = _records(data)
    for payload in [p for _, p in feed.datagrams][:2]:
        records.insert(rnd.randrange(len(records) + 1), (T0, rnd.choice(_odd_frames(payload))))
    path = tmp_path_factory.mktemp("ng") / "feed.pcapng"
    path.write_bytes(_to_pcapng(records, rnd))
    _, error = _attempt(lambda: _both(path, strict=strict))
    assert error is None or error.offset >= 0


def test_odd_frames_are_counted_in_pcap_and_pcapng(tmp_path: Path) -> None:
    feed = Feed()
    seg = feed.add([system_event("O", 1), quote("A", 2, 1, 2, 3, 4)], T0)
    records = [(T0, f) for f in _odd_frames(seg)] + [(T0, frame(seg, vlan_tags=2, ip_options=3))]
    path = tmp_path / "odd.pcap"
    path.write_bytes(pcap(records))
    events, report = _both(path)
    assert events == feed.expected
    assert (report.non_udp, report.not_iex, report.unsupported) == (4, 2, {"0x8005": 1})
    ng = tmp_path / "odd.pcapng"
    ng.write_bytes(_to_pcapng(records, random.Random(0)))
    _both(ng)


@pytest.mark.parametrize("chunk", [64, 300, 1000])
def test_corrupt_record_in_a_later_chunk(tmp_path: Path, chunk: int) -> None:
    feed = Feed()
    for i in range(12):
        feed.add([system_event("O", i), trade("AB", i, 5, 100, i)], T0 + 1000 * i)
    data = bytearray(pcap([(ts, frame(p)) for ts, p in feed.datagrams]))
    pos = 24
    for _ in range(9):  # the tenth record's length is impossible
        pos += 16 + int.from_bytes(data[pos + 8 : pos + 12], "little")
    data[pos + 8 : pos + 12] = (1 << 30).to_bytes(4, "little")
    path = tmp_path / "bad.pcap"
    path.write_bytes(bytes(data))
    events, report = _both(path)
    assert events == feed.expected[:18]
    assert f"corrupt pcap record at byte offset {pos}" in report.capture.truncated_file
    small = decode_capture(path, chunk_bytes=chunk).report.as_dict()
    whole = report.as_dict()
    del small["capture"]["bytes_read"], whole["capture"]["bytes_read"]  # read ahead: by chunk
    assert small == whole


def test_several_streams_and_restarts_in_one_chunk(tmp_path: Path) -> None:
    a, b = Feed(protocol=TOPS, session=1), Feed(protocol=DEEP, session=2)
    for i in range(6):
        a.add([quote("A", i, 1, 2, 3, 4), trade("A", i, 1, 2, 3)], T0 + 2 * i)
        b.add([price_level("B", "B", i, 1, 2, True)], T0 + 2 * i + 1)
    replay = a.datagrams[:2]  # the first stream starts again at sequence 1
    ordered = sorted(a.datagrams + b.datagrams) + replay
    path = tmp_path / "two.pcap"
    path.write_bytes(pcap([(ts, frame(p)) for ts, p in ordered]))
    events, report = _both(path)
    assert report.restart_count == 1
    assert len(events) == len(a.expected) + len(b.expected) + 4


def _bases(rows: Any) -> NDArray[Any] | None:
    return rows.base if isinstance(rows, np.ndarray) else None


@pytest.mark.parametrize("use_numba", [True, False])
@pytest.mark.parametrize("container", ["pcap", "pcapng"])
def test_small_chunks_give_the_events_of_the_default(
    tmp_path: Path, use_numba: bool, container: str
) -> None:
    feed = Feed()
    for i in range(400):
        feed.add([quote("Q", i, 1, 2, 3, 4), trade("T", i, 5, 6, i), system_event("O", i)], T0 + i)
    records = [(ts, frame(p)) for ts, p in feed.datagrams]
    path = tmp_path / f"c.{container}"
    data = pcap(records) if container == "pcap" else _to_pcapng(records, random.Random(1))
    path.write_bytes(data)

    def events(chunk_bytes: int | None) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for batch in iter_capture_batches(path, chunk_bytes=chunk_bytes, use_numba=use_numba):
            for kind, rows in batch.items():
                out.setdefault(kind, []).extend(zip(rows["seq"], rows["recv_ns"], strict=True))
                base = _bases(rows)  # each chunk's rows own a buffer of about a chunk's rows
                assert base is None or base.nbytes <= max(chunk_bytes or len(data), 4096) * 4
        return out

    default = events(None)
    assert sum(len(v) for v in default.values()) == 1200 or container == "pcapng"
    for chunk_bytes in (100, 4096, 50_000):
        assert events(chunk_bytes) == default
    whole = decode_capture(path)
    rows = {k: b.rows for k, b in whole.batches.items()}
    assert {k: list(zip(r["seq"], r["recv_ns"], strict=True)) for k, r in rows.items()} == default


def test_a_segment_past_the_end_of_a_frame_keeps_the_chunk_careful(tmp_path: Path) -> None:
    good = segment(TOPS, 1, 1, [system_event("O", 1).raw], 0)
    bad = segment(TOPS, 1, 2, [system_event("C", 2).raw], 11, payload_length=400)
    path = tmp_path / "bad.pcap"
    path.write_bytes(pcap([(T0, frame(good)), (T0 + 1, frame(bad))]))
    events, report = _both(path)
    assert [e.seq for e in events] == [1, 2]
    assert report.corrupt == 1


@pytest.mark.parametrize("container", ["pcap", "pcapng"])
def test_files_cut_anywhere_agree_in_any_chunk_size(tmp_path: Path, container: str) -> None:
    feed = Feed()
    for i in range(8):
        feed.add([quote("Q", i, 1, 2, 3, 4), system_event("O", i)], T0 + 1000 * i)
    records = [(ts, frame(p, vlan_tags=i % 2)) for i, (ts, p) in enumerate(feed.datagrams)]
    data = pcap(records) if container == "pcap" else _to_pcapng(records, random.Random(2))
    rnd = random.Random(3)
    for cut in sorted(rnd.sample(range(30, len(data)), 12)):
        path = tmp_path / f"cut{cut}.{container}"
        path.write_bytes(data[:cut])
        events, report = _both(path)
        assert len(events) < len(feed.expected)
        whole = report.as_dict()
        small = decode_capture(path, chunk_bytes=rnd.choice([40, 200, 700])).report.as_dict()
        del small["capture"]["bytes_read"], whole["capture"]["bytes_read"]
        assert small == whole
