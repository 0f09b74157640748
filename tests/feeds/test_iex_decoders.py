"""Both IEX decoders against an independent writer, against each other, and under damage."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from capture_builder import (
    DEEP,
    TOPS,
    Feed,
    Msg,
    auction,
    frame,
    official_price,
    operational_halt,
    pcap,
    pcapng,
    price_level,
    quote,
    retail_liquidity,
    security_directory,
    security_event,
    segment,
    short_sale,
    system_event,
    trade,
    trade_break,
    trading_status,
    unknown,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fluvius.errors import DecodeError
from fluvius.feeds import events as ev
from fluvius.feeds.iex import DecodeReport, SegmentDecoder, SegmentHeader, iter_events
from fluvius.feeds.iex.batch import decode_capture

T0 = 1_600_000_000_000_000_000
T = TypeVar("T")

# ---- the spec's worked examples (TOPS v1.66 / DEEP v1.08 / Transport v1.26) ---------------

QUOTE_HEX = "5100ac63c02096866d145a49455854202020e4250000241d0f0000000000ec1d0f0000000000e8030000"
PLU_HEX = "3801ac63c02096866d145a49455854202020e4250000241d0f0000000000"
HEADER_HEX = "010004800100000000008742480002008ca6210000000000cac3000000000000ec45c22096866d14"


def test_spec_examples_decode_as_the_spec_says() -> None:
    trade_hex = "5400c3dff705a2866d145a49455854202020640000" + "00241d0f0000000000968f060000000000"
    payload = (
        bytes.fromhex(HEADER_HEX)
        + b"\x26\x00"
        + bytes.fromhex(trade_hex)
        + b"\x1e\x00"
        + bytes.fromhex(PLU_HEX)
    )
    header = SegmentHeader.parse(payload)
    assert (header.protocol, header.session, header.payload_length) == (0x8004, 0x42870000, 72)
    assert (header.message_count, header.stream_offset, header.first_seq) == (2, 2205324, 50122)
    got = SegmentDecoder().decode(payload, recv_ns=7)
    assert got == [
        ev.Trade("IEX", "ZIEXT", 1471980683662974915, 7, 50122, 99_050_000_000, 100, 429974, 0),
        ev.BookLevelUpdate("IEX", "ZIEXT", 1471980632572715948, 7, 50123, "B", 99_050_000_000,
                           9700, True),
    ]  # fmt: skip
    tops = bytes.fromhex(
        "0100" "0380" "01000000" "00008742" "2c00" "0100"
        "8ca6210000000000" "cac3000000000000" "ec45c22096866d14"
    ) + b"\x2a\x00" + bytes.fromhex(QUOTE_HEX)  # fmt: skip
    (q,) = SegmentDecoder().decode(tops, recv_ns=1)
    assert q == ev.Quote("IEX", "ZIEXT", 1471980632572715948, 1, 50122, 99_050_000_000, 9700,
                         99_070_000_000, 1000, 0)  # fmt: skip


# ---- random feeds ----------------------------------------------------------------------

symbols = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ.", min_size=0, max_size=8)
ts = st.integers(0, 2**63 - 1)
u32 = st.integers(0, 2**32 - 1)
price = st.integers(-(10**13), 10**13)
code = st.sampled_from(list(" ABCDEHIMNOPQRSTV"))


def _messages(protocol: int) -> st.SearchStrategy[Msg]:
    admin = [
        st.builds(system_event, code, ts),
        st.builds(security_directory, symbols, ts, st.integers(0, 255), u32, price,
                  st.integers(0, 2)),
        st.builds(trading_status, symbols, ts, code, st.text("T12IPOMCBDNA", max_size=4)),
        st.builds(retail_liquidity, symbols, ts, code),
        st.builds(operational_halt, symbols, ts, code),
        st.builds(short_sale, symbols, ts, st.integers(0, 1), code),
        st.builds(trade, symbols, ts, u32, price, st.integers(-(2**63), 2**63 - 1),
                  st.integers(0, 255)),
        st.builds(trade_break, symbols, ts, u32, price, st.integers(0, 2**63 - 1),
                  st.integers(0, 255)),
        st.builds(official_price, symbols, ts, code, price),
        st.builds(auction, symbols, ts,
                  st.tuples(u32, price, price, u32, st.integers(0, 255), u32, price, price,
                            price, price), code, code),
        st.builds(unknown, st.sampled_from([0x5A, 0x01, 0x7E]), st.integers(1, 60)),
    ]  # fmt: skip
    if protocol == TOPS:
        extra = [
            st.builds(quote, symbols, ts, u32, price, price, u32, st.integers(0, 255)),
            st.builds(unknown, st.just(ord("8")), st.just(30)),  # a DEEP type inside TOPS
        ]
    else:
        extra = [
            st.builds(price_level, st.sampled_from("BS"), symbols, ts, u32, price, st.booleans()),
            st.builds(security_event, symbols, ts, code),
            st.builds(unknown, st.just(ord("Q")), st.just(42)),  # a TOPS type inside DEEP
        ]
    return st.one_of(*admin, *extra)


WAYS = ("section", "skip", "pb")  # pcapng: what may precede a record, or carry it
CONTAINERS = ("pcap", "pcap-ns", "pcap-big", "pcapng")


@st.composite
def feeds(draw: st.DrawFn, containers: tuple[str, ...] = ("pcap",)) -> tuple[Feed, bytes]:
    """A random feed as a capture: classic little-endian µs pcap, or any of ``containers``
    (CONTAINERS: also ns pcap, big-endian pcap, and pcapng with sections, skipped blocks,
    obsolete packet blocks, µs and ns interfaces)."""
    container = draw(st.sampled_from(containers))
    protocol = draw(st.sampled_from([TOPS, DEEP]))
    feed = Feed(protocol=protocol)
    records = []
    for i in range(draw(st.integers(0, 12))):
        msgs = draw(st.lists(_messages(protocol), max_size=6))
        at = T0 + 1000 * i + (0 if container == "pcap" else draw(st.sampled_from([0, 0, 1])))
        payload = feed.add(msgs, at)
        shape = draw(st.sampled_from([(0, 0), (1, 0), (2, 0), (0, 2), (1, 1)]))
        records.append((at, frame(payload, vlan_tags=shape[0], ip_options=shape[1])))
    if container != "pcapng":
        nano = container == "pcap-ns" or any(t % 1000 for t, _ in records)
        return feed, pcap(records, nano=nano, endian=">" if container == "pcap-big" else "<")
    how = st.tuples(st.sampled_from("<>"), *(st.sampled_from(["", w]) for w in WAYS))
    return feed, pcapng(records, [draw(how) for _ in records])


def _attempt(fn: Callable[[], T]) -> tuple[T | None, DecodeError | None]:
    try:
        return fn(), None
    except DecodeError as exc:
        return None, exc


def _reference(path: Path, strict: bool) -> tuple[list[ev.Event], DecodeReport]:
    report = DecodeReport()
    return list(iter_events(path, report=report, strict=strict)), report


def _both(path: Path, *, strict: bool = False) -> tuple[list[ev.Event], DecodeReport]:
    """Decode with both decoders, check they agree, return the reference's result."""
    ref, ref_error = _attempt(lambda: _reference(path, strict))
    batch, batch_error = _attempt(lambda: decode_capture(path, strict=strict))
    numpy_only, numpy_error = _attempt(lambda: decode_capture(path, strict=strict, use_numba=False))
    if numpy_error is not None or batch_error is not None:
        assert (numpy_error is None) == (batch_error is None)
        assert numpy_error is not None
        assert batch_error is not None
        assert (numpy_error.offset, str(numpy_error)) == (batch_error.offset, str(batch_error))
    else:
        assert numpy_only is not None
        assert batch is not None
        assert numpy_only.report.as_dict() == batch.report.as_dict()
        for kind, rows in batch.batches.items():
            assert (numpy_only.batches[kind].rows == rows.rows).all()
    if ref_error is not None or batch_error is not None:
        assert ref_error is not None, f"only the batch decoder raised {batch_error}"
        assert batch_error is not None, f"only the reference decoder raised {ref_error}"
        assert (batch_error.offset, str(batch_error)) == (ref_error.offset, str(ref_error))
        raise ref_error
    assert ref is not None
    assert batch is not None
    events, report = ref
    by_kind: dict[str, list[ev.Event]] = {}
    for e in events:
        by_kind.setdefault(e.kind, []).append(e)
    assert {k: b.events() for k, b in batch.batches.items()} == by_kind
    assert batch.report.as_dict() == report.as_dict()
    return events, report


@pytest.mark.slow
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(feeds(CONTAINERS))
def test_decoders_give_the_written_events(tmp_path_factory: Any, case: tuple[Feed, bytes]) -> None:
    feed, data = case
    path = tmp_path_factory.mktemp("cap") / "feed.pcap"
    path.write_bytes(data)
    events, report = _both(path)
    assert events == feed.expected
    assert report.corrupt == 0
    assert report.gap_count == report.duplicate_messages == report.restart_count == 0
    assert report.total_events == len(feed.expected)


@pytest.mark.slow
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(feeds(CONTAINERS), st.randoms(use_true_random=False), st.booleans())
def test_damaged_captures_never_crash_and_decoders_agree(
    tmp_path_factory: Any, case: tuple[Feed, bytes], rnd: random.Random, strict: bool
) -> None:
    _, data = case
    damaged = bytearray(data)
    for _ in range(rnd.randint(1, 8)):
        action = rnd.random()
        pos = rnd.randrange(len(damaged)) if damaged else 0
        if action < 0.6 and damaged:
            damaged[pos] = rnd.randrange(256)
        elif action < 0.8:
            del damaged[pos : pos + rnd.randint(1, 20)]
        else:
            damaged[pos:pos] = rnd.randbytes(rnd.randint(1, 20))
    path = tmp_path_factory.mktemp("bad") / "bad.pcap"
    path.write_bytes(bytes(damaged))
    _, error = _attempt(lambda: _both(path, strict=strict))
    assert error is None or error.offset >= 0


def _one_segment_capture(tmp_path: Path, payload: bytes, *, cut: int = 0) -> Path:
    record = frame(payload)
    data = pcap([(T0, record)], snaplen=len(record) - cut)
    path = tmp_path / "one.pcap"
    path.write_bytes(data)
    return path


def test_count_larger_than_the_blocks_is_corrupt(tmp_path: Path) -> None:
    msgs = [system_event("O", 1).raw, system_event("S", 2).raw]
    path = _one_segment_capture(tmp_path, segment(TOPS, 1, 1, msgs, 0, count=3))
    events, report = _both(path)
    assert [e.system_event for e in events] == ["O", "S"]  # type: ignore[attr-defined]
    assert report.corrupt == 1
    assert "declares 3 messages, 2 message blocks fit" in report.problems[0]["problem"]
    with pytest.raises(DecodeError, match="declares 3 messages") as info:
        _both(path, strict=True)
    assert info.value.offset == 24 + 16 + 42  # the segment's first byte in the file


def test_short_and_long_messages(tmp_path: Path) -> None:
    good = quote("A", 5, 1, 2, 3, 4)
    longer = quote("B", 6, 1, 2, 3, 4).raw + b"extra"
    short = trade("C", 7, 1, 2, 3).raw[:30]
    path = _one_segment_capture(tmp_path, segment(TOPS, 1, 1, [good.raw, longer, short, b""], 0))
    events, report = _both(path)
    assert [e.symbol for e in events] == ["A", "B"]
    assert report.long_messages == 1
    assert report.corrupt == 2
    assert report.problems[0]["problem"].startswith("Trade Report message (0x54) of 30 bytes")
    assert report.problems[1]["problem"].startswith("empty message block")
    with pytest.raises(DecodeError, match=r"Trade Report .* \(expected at least 38 bytes\)"):
        _both(path, strict=True)


def test_declared_payload_beyond_the_datagram(tmp_path: Path) -> None:
    msgs = [system_event("O", 1).raw]
    seg = segment(TOPS, 1, 1, msgs, 0, payload_length=200)
    _, report = _both(_one_segment_capture(tmp_path, seg))
    assert report.corrupt == 1
    assert (
        "declares payload length 200, the datagram holds 12 bytes" in report.problems[0]["problem"]
    )
    # the same shortfall in a frame the capture cut short is a truncation, not corruption
    full = segment(TOPS, 1, 1, [*msgs, system_event("S", 2).raw], 0)
    _, report = _both(_one_segment_capture(tmp_path, full, cut=5))
    assert (report.corrupt, report.truncated_segments) == (0, 1)


def test_non_iex_traffic_is_skipped_not_filtered_by_port(tmp_path: Path) -> None:
    feed = Feed()
    seg = feed.add([system_event("O", 1)], T0)
    records = [
        (T0, frame(b"not an IEX segment", dport=10377)),
        (T0, frame(seg, dport=53)),  # an IEX segment on any port is decoded
        (T0, frame(seg[:20])),
        (T0, frame(seg, proto=6)),  # TCP
        (T0, bytes(12) + b"\x86\xdd" + bytes(60)),  # IPv6
        (T0, frame(bytes.fromhex("0100058001000000") + bytes(32))),  # DEEP+
    ]
    path = tmp_path / "mixed.pcap"
    path.write_bytes(pcap(records))
    events, report = _both(path)
    assert events == feed.expected
    assert (report.not_iex, report.non_udp, report.unsupported) == (2, 2, {"0x8005": 1})


def test_hundreds_of_blocks_and_absurd_counts(tmp_path: Path) -> None:
    many = [system_event("O", i).raw for i in range(300)]  # past the vectorised steps
    segs = [
        segment(TOPS, 1, 1, many, 0),
        segment(TOPS, 1, 301, [b""] * 3, 3000, count=65535),  # damaged count
    ]
    path = tmp_path / "many.pcap"
    path.write_bytes(pcap([(T0, frame(s)) for s in segs]))
    events, report = _both(path)
    assert [e.ts_ns for e in events] == list(range(300))
    assert [e.seq for e in events] == list(range(1, 301))
    assert report.corrupt == 4  # the count, then three empty blocks


def test_clean_segments_take_the_kernel(tmp_path: Path, monkeypatch: Any) -> None:
    """The kernel writes the rows of clean segments (never handed to the reference decoder)
    and agrees with the reference: long messages, replayed and overlapping segments, both
    PLU sides, inner spaces."""
    pytest.importorskip("numba")
    from fluvius.feeds.iex import batch

    taken: list[bool] = []
    real = batch.BatchDecoder._write

    def spy(*args: Any) -> Any:
        taken.append(True)
        return real(*args)

    def forbidden(*args: Any) -> Any:
        raise AssertionError("a clean segment went to the reference decoder")

    monkeypatch.setattr(batch.BatchDecoder, "_write", spy)
    monkeypatch.setattr(batch.BatchDecoder, "_reference", forbidden)
    for protocol, msgs in (
        (TOPS, [trade("A B", 5, 100, 1_234_500, 7, 0x80).raw + b"xx",
                quote("ZZZZZZZZ", 6, 1, 2, 3, 4).raw, quote("", 6, 1, 2, 3, 4).raw,
                system_event("O", 1).raw]),
        (DEEP, [price_level("B", "AB", 7, 10, 5, True).raw,
                price_level("S", "Q", 8, 0, -1, False).raw, trading_status("X", 9, "H", "T1").raw]),
    ):  # fmt: skip
        size = [2 + len(m) for m in msgs]
        segs = [
            segment(protocol, 1, 1, msgs, 0),
            segment(protocol, 1, 1, msgs, 0),  # replayed from 1: a restart
            segment(protocol, 1, 3, [msgs[2], msgs[0]], sum(size[:2])),  # one duplicate
            segment(protocol, 1, 5, msgs[1:], sum(size) + size[0]),
        ]
        path = tmp_path / f"{protocol:x}.pcap"
        path.write_bytes(pcap([(T0 + i, frame(s)) for i, s in enumerate(segs)]))
        taken.clear()
        events, report = _both(path)
        assert taken  # every segment was clean: the rows came from the kernel
        assert report.duplicate_messages >= 1  # the overlapping segment
        assert report.restart_count == 1  # the replay starts again at sequence 1
        assert (report.long_messages > 0) == (protocol == TOPS)
        assert ("A B" if protocol == TOPS else "AB") in {e.symbol for e in events}
