"""Issue 15 (items 1, 6, 7): a live feed against forged datagrams, over 127.0.0.1.

One spoofed heartbeat must not blind the feed; forged sessions must not grow its state;
``LiveFeed.bind`` listens on loopback by default and can keep one list of senders only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from capture_builder import shared_sample

from fluvius.feeds.events import Event
from fluvius.feeds.iex import iter_events
from fluvius.feeds.iex.live import LiveFeed
from fluvius.feeds.iex.replay import iter_datagrams, replay
from fluvius.feeds.iex.synthetic import synthetic_tops
from fluvius.feeds.iex.transport import HEADER, MAX_STREAMS

SAMPLE = shared_sample()


def _source(kind: str, tmp_path: Path) -> Path:
    if kind == "sample":
        if SAMPLE is None:
            pytest.skip("the shared IEX sample is not present")
        return SAMPLE
    return synthetic_tops(6_000, n_symbols=40, seed=15).write(tmp_path / "s.pcap")


def _heartbeat(protocol: int, channel: int, session: int, first: int, offset: int) -> bytes:
    """A 40-byte IEX-TP heartbeat (no messages), as a forger would send it."""
    return HEADER.pack(1, 0, protocol, channel, session, 0, 0, offset, first, 0)


async def _receive(
    datagrams: list[tuple[int, bytes]], **options: Any
) -> tuple[list[Event], LiveFeed]:
    async with await LiveFeed.bind(port=0, **options) as feed:
        received: list[Event] = []

        async def consume() -> None:
            received.extend([e async for e in feed.events(idle_timeout_s=2.0)])

        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(consume())
            await replay(datagrams, "127.0.0.1", feed.port, speed=0, max_rate=20_000)
            await asyncio.sleep(0.05)
            feed.close()
            await task
    return received, feed


def _no_recv(events: list[Event]) -> list[Event]:
    return [dataclasses.replace(e, recv_ns=0) for e in events]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["synthetic", "sample"])
def test_one_spoofed_heartbeat_does_not_blind_the_feed(kind: str, tmp_path: Path) -> None:
    path = _source(kind, tmp_path)
    datagrams = list(iter_datagrams(path))
    middle = len(datagrams) // 2
    ts, real = datagrams[middle]
    _, _, protocol, channel, session, _, _, soff, first, _ = HEADER.unpack(real[:40])
    forged = _heartbeat(protocol, channel, session, first + 1_000_000, soff)
    received, feed = asyncio.run(_receive([*datagrams[:middle], (ts, forged), *datagrams[middle:]]))
    expected = list(iter_events(path))
    assert feed.stats.datagrams == len(datagrams) + 1  # nothing lost on loopback
    assert _no_recv(received) == _no_recv(expected)
    assert feed.report.duplicate_messages == 0
    assert feed.report.gap_count == 0
    assert feed.report.sequence_anomaly_count == 1


@pytest.mark.slow
def test_forged_sessions_do_not_grow_the_tracked_state(tmp_path: Path) -> None:
    path = _source("synthetic", tmp_path)
    datagrams = list(iter_datagrams(path))
    protocol = HEADER.unpack(datagrams[0][1][:40])[2]
    mixed: list[tuple[int, bytes]] = []
    forged = 0
    for ts, real in datagrams:  # ten forged sessions (one heartbeat each) per real datagram
        mixed.append((ts, real))
        for _ in range(10):
            forged += 1
            mixed.append((ts, _heartbeat(protocol, 1, 1_000_000 + forged, 1, 0)))
    received, feed = asyncio.run(_receive(mixed))
    tracker = feed.decoder.tracker
    assert feed.stats.datagrams == len(mixed)
    assert len(tracker) == MAX_STREAMS  # the real stream and the newest forged ones
    report = feed.report
    assert report.stream_evictions == forged + 1 - MAX_STREAMS
    assert len(report.evicted_streams) == min(report.stream_evictions, 1000)
    assert all(s["session"] > 1_000_000 for s in report.evicted_streams)  # the real one stays
    assert _no_recv(received) == _no_recv(list(iter_events(path)))
    assert report.gap_count == report.duplicate_messages == 0


def test_bind_listens_on_loopback_by_default() -> None:
    async def main() -> tuple[str, int]:
        async with await LiveFeed.bind() as feed:
            return feed.address

    host, port = asyncio.run(main())
    assert host == "127.0.0.1"
    assert port > 0


def test_bind_with_a_group_listens_on_the_group() -> None:
    group = "239.255.42.98"  # administratively scoped: stays on this host

    async def main() -> str:
        async with await LiveFeed.bind(group=group, interface="127.0.0.1") as feed:
            return feed.address[0]

    try:
        host = asyncio.run(main())
    except OSError as exc:  # pragma: no cover - a host without multicast on loopback
        pytest.skip(f"multicast unavailable: {exc}")
    assert host == group


def test_allow_list_keeps_only_the_named_senders() -> None:
    segment = _heartbeat(0x8003, 1, 7, 1, 0)

    async def main() -> LiveFeed:
        async with await LiveFeed.bind(allow_from=["127.0.0.2"]) as feed:
            with (
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as ours,
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other,
            ):
                ours.bind(("127.0.0.2", 0))
                other.bind(("127.0.0.1", 0))
                for i in range(5):
                    ours.sendto(segment, feed.address)
                    other.sendto(_heartbeat(0x8003, 1, 8 + i, 1, 0), feed.address)
            for _ in range(100):  # wait (bounded) until all ten have been read
                if feed.stats.datagrams + feed.stats.foreign_drops >= 10:
                    break
                await asyncio.sleep(0.01)
            return feed

    feed = asyncio.run(main())
    assert feed.stats.foreign_drops == 5
    assert feed.stats.datagrams == 5
    assert feed.report.heartbeats == 5
    assert feed.decoder.tracker.expected((0x8003, 1, 7)) is not None  # type: ignore[arg-type]
    assert feed.decoder.tracker.expected((0x8003, 1, 8)) is None  # type: ignore[arg-type]


def test_allow_list_names_a_bad_address() -> None:
    with pytest.raises(ValueError, match=r"allow_from: 'feed\.example' is not an IPv4 address"):
        LiveFeed(allow_from=["feed.example"])
