"""End to end over 127.0.0.1: replay a capture, receive it live, compare with the file's events."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from fluvius.errors import DecodeError
from fluvius.feeds.events import Event
from fluvius.feeds.iex import iter_events
from fluvius.feeds.iex.encode import CaptureFormat, encode_segments, synthetic_deep, synthetic_tops
from fluvius.feeds.iex.live import LiveFeed
from fluvius.feeds.iex.replay import iter_datagrams, replay

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from capture_builder import shared_sample

SAMPLE = shared_sample() or Path("shared/data/iex/TOPS16_20170710_sample.pcap.gz")


def _no_recv(events: list[Event]) -> list[Event]:
    return [dataclasses.replace(e, recv_ns=0) for e in events]


async def _replay_and_receive(
    source: object, *, speed: float = 0.0, **feed_options: object
) -> tuple[list[Event], LiveFeed, object]:
    async with await LiveFeed.bind("127.0.0.1", 0, **feed_options) as feed:  # type: ignore[arg-type]
        received: list[Event] = []

        async def consume() -> None:
            received.extend([e async for e in feed.events(idle_timeout_s=2.0)])

        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(consume())
            report = await replay(source, "127.0.0.1", feed.port, speed=speed)  # type: ignore[arg-type]
            await asyncio.sleep(0.05)
            feed.close()
            await task
    return received, feed, report


@pytest.mark.slow
@pytest.mark.parametrize("make", [synthetic_tops, synthetic_deep], ids=["tops", "deep"])
def test_replayed_capture_is_received_as_decoded(make: object, tmp_path: Path) -> None:
    fmt = CaptureFormat("pcapng", nanosecond=True)
    path = make(8_000, n_symbols=200, seed=11, fmt=fmt).write(tmp_path / "c.pcapng")  # type: ignore[operator]
    expected = list(iter_events(path, strict=True))
    received, feed, report = asyncio.run(_replay_and_receive(path, strict=True))
    assert _no_recv(received) == _no_recv(expected)
    assert (feed.report.gap_count, feed.report.duplicate_messages) == (0, 0)
    assert feed.stats.overflow_drops == 0
    assert report.datagrams == feed.stats.datagrams == feed.report.segments  # type: ignore[attr-defined]


@pytest.mark.slow
@pytest.mark.skipif(not SAMPLE.exists(), reason="the shared IEX sample is not present")
def test_the_real_sample_replays_exactly() -> None:
    expected = list(iter_events(SAMPLE))
    received, feed, report = asyncio.run(_replay_and_receive(SAMPLE))
    assert len(received) == len(expected) == 57_674
    assert _no_recv(received) == _no_recv(expected)
    assert feed.report.gap_count == 0
    assert report.skipped_truncated == 0  # type: ignore[attr-defined]


@pytest.mark.slow
@pytest.mark.parametrize("make", [synthetic_tops, synthetic_deep], ids=["tops", "deep"])
def test_columnar_batches_received_equal_the_batch_decoder(make: object, tmp_path: Path) -> None:
    """``LiveFeed.batches``: per kind, the rows of every datagram in turn are the capture's
    rows as the batch decoder gives them (``recv_ns`` aside), and the events the same."""
    import numpy as np

    from fluvius.feeds.iex import decode_capture

    path = make(6_000, n_symbols=100, seed=4).write(tmp_path / "c.pcap")  # type: ignore[operator]
    decoded = decode_capture(path, strict=True)

    async def main() -> tuple[list[Any], LiveFeed]:
        async with await LiveFeed.bind("127.0.0.1", 0, strict=True) as feed:
            got: list[Any] = []

            async def consume() -> None:
                got.extend([b async for b in feed.batches(idle_timeout_s=2.0)])

            async with asyncio.TaskGroup() as tg:
                task = tg.create_task(consume())
                await replay(path, "127.0.0.1", feed.port, speed=0)
                await asyncio.sleep(0.05)
                feed.close()
                await task
        return got, feed

    got, feed = asyncio.run(main())
    assert feed.report.gap_count == 0
    assert sum(len(b) for b in got) == decoded.report.total_events
    for kind, batch in decoded.batches.items():
        rows = np.concatenate([b.rows(kind) for b in got])
        names = [n for n in rows.dtype.names if n != "recv_ns"]
        assert rows[names].tolist() == batch.rows[names].tolist(), kind
    events = [e for b in got for e in b]
    assert _no_recv(events) == _no_recv(list(iter_events(path)))


def _segments(n: int) -> list[tuple[int, bytes]]:
    from fluvius.feeds.events import SystemEvent, Trade

    events: list[Event] = [SystemEvent("IEX", "", 1, 0, 1, "O")]
    events += [Trade("IEX", "AB", 2 + i, 0, 2 + i, 10**9, 100, i, 0) for i in range(n)]
    return encode_segments(events, max_per_segment=2)


@pytest.mark.slow
def test_lost_datagrams_are_reported_as_gaps() -> None:
    segments = _segments(20)  # 11 segments of 2 messages (the last holds 1)
    kept = [s for i, s in enumerate(segments) if i not in (3, 4, 7)]
    received, feed, _ = asyncio.run(_replay_and_receive(kept))
    assert len(received) == 21 - 6
    assert (feed.report.gap_count, feed.report.missing_messages) == (2, 6)
    assert [g["first_missing"] for g in feed.report.gaps] == [7, 15]


@pytest.mark.slow
def test_a_slow_consumer_overflows_into_reported_gaps() -> None:
    async def main() -> LiveFeed:
        async with await LiveFeed.bind("127.0.0.1", 0, max_pending=5) as feed:
            await replay(_segments(20), "127.0.0.1", feed.port, speed=0)
            await asyncio.sleep(0.05)
            feed.close()
            got = [e async for e in feed.events()]
            assert len(got) == 6  # three datagrams' worth before the bound
            return feed

    feed = asyncio.run(main())
    assert feed.stats.overflow_drops == 11 - 3
    assert feed.stats.overflow_drops + 3 == feed.stats.datagrams


@pytest.mark.slow
def test_strict_mode_ends_iteration_with_the_decode_error() -> None:
    ts, good = _segments(1)[0]
    bad = good[:12] + (999).to_bytes(2, "little") + good[14:]  # payload length too large

    async def main() -> None:
        async with await LiveFeed.bind("127.0.0.1", 0, strict=True) as feed:
            await replay([(ts, bad)], "127.0.0.1", feed.port, speed=0)
            with pytest.raises(DecodeError, match="declares payload length 999"):
                async for _ in feed.events(idle_timeout_s=2.0):
                    pass

    asyncio.run(main())


def test_paced_replay_keeps_the_recorded_spacing() -> None:
    # three datagrams recorded 40 ms apart, replayed at 2x: about 40 ms in all
    pairs = [(i * 40_000_000, b"x") for i in range(3)]

    async def main() -> float:
        async with await LiveFeed.bind("127.0.0.1", 0) as feed:
            report = await replay(pairs, "127.0.0.1", feed.port, speed=2.0)
            return report.seconds

    assert asyncio.run(main()) >= 0.039


def test_bad_replay_arguments() -> None:
    with pytest.raises(ValueError, match="speed must be >= 0"):
        asyncio.run(replay([], "127.0.0.1", 9, speed=-1))
    with pytest.raises(ValueError, match="max_rate must be > 0"):
        asyncio.run(replay([], "127.0.0.1", 9, max_rate=0))


def test_iter_datagrams_skips_truncated_frames(tmp_path: Path) -> None:
    from fluvius.feeds._writers import capture_bytes

    path = tmp_path / "t.pcap"
    path.write_bytes(capture_bytes([b"a" * 50, b"b" * 5], [1000, 2000], snaplen=60))
    from fluvius.feeds.iex.replay import ReplayReport

    report = ReplayReport()
    assert list(iter_datagrams(path, report)) == [(2000, b"b" * 5)]
    assert report.skipped_truncated == 1


def test_multicast_group_join() -> None:
    # IEX publishes on multicast groups; an administratively scoped group stays on this host
    group = "239.255.42.99"

    async def main() -> list[Event]:
        async with await LiveFeed.bind("0.0.0.0", 0, group=group) as feed:
            await replay(_segments(3), group, feed.port, speed=0)
            await asyncio.sleep(0.1)
            feed.close()
            return [e async for e in feed.events()]

    try:
        got = asyncio.run(main())
    except OSError as exc:  # no multicast route in this environment
        pytest.skip(f"multicast unavailable: {exc}")
    if not got:
        pytest.skip("multicast datagrams are not looped back on this host")
    assert [e.seq for e in got] == [1, 2, 3, 4]


@pytest.mark.parametrize("kernel_stamps", [False, True])
def test_a_direct_consumer_gets_every_batch_in_the_socket_callback(
    tmp_path: Path, kernel_stamps: bool
) -> None:
    """``on_ready`` runs in the socket callback with the batches queued; ``until_done`` ends
    when the feed goes idle; receive stamps (read or kernel) are this run's wall clock."""
    path = synthetic_tops(3_000, n_symbols=40, seed=2).write(tmp_path / "t.pcap")
    expected = list(iter_events(path))

    async def main() -> tuple[list[Event], list[bool], int, int]:
        feed = await LiveFeed.bind("127.0.0.1", 0, kernel_stamps=kernel_stamps)
        got: list[Event] = []
        outside_tasks: list[bool] = []

        def on_ready() -> None:
            outside_tasks.append(asyncio.current_task() is None)
            for batch in feed.take_ready():
                got.extend(batch.events())

        feed.on_ready = on_ready
        t0 = time.time_ns()
        async with asyncio.TaskGroup() as tg:
            waiting = tg.create_task(feed.until_done(idle_timeout_s=0.5, tick_s=0.1))
            await replay(path, "127.0.0.1", feed.port, speed=0)
        assert waiting.done()
        feed.close()
        return got, outside_tasks, t0, time.time_ns()

    got, outside_tasks, t0, t1 = asyncio.run(main())
    assert _no_recv(got) == _no_recv(expected)
    assert outside_tasks
    assert all(outside_tasks)
    assert all(t0 <= e.recv_ns <= t1 for e in got)


def test_until_done_ends_when_the_feed_closes_and_raises_its_error() -> None:
    async def main() -> None:
        feed = await LiveFeed.bind("127.0.0.1", 0)
        asyncio.get_running_loop().call_later(0.05, feed.close)
        await asyncio.wait_for(feed.until_done(tick_s=10.0), 5)  # closing wakes it at once
        failing = await LiveFeed.bind("127.0.0.1", 0)
        failing._fail(OSError("network is down"))
        with pytest.raises(OSError, match="network is down"):
            await failing.until_done()
        failing.close()

    asyncio.run(main())


def test_a_bounded_spin_goes_back_to_epoll_and_resumes_on_the_next_datagram(
    tmp_path: Path,
) -> None:
    """``spin_s``: after a datagram the receiver polls the socket for ``spin_s``, then
    sleeps in the event loop again (no slice runs while idle); the next datagram starts a
    new spin. ``math.inf`` spins from the bind on, and ``close`` stops it."""
    import math
    import socket

    path = synthetic_tops(200, n_symbols=5, seed=4).write(tmp_path / "t.pcap")
    payloads = [p for _, p in iter_datagrams(path)]

    async def main() -> tuple[int, int, int, int, list[Event], bool]:
        feed = await LiveFeed.bind("127.0.0.1", 0, spin_s=0.02)
        got: list[Event] = []
        feed.on_ready = lambda: got.extend(e for b in feed.take_ready() for e in b.events())
        await asyncio.sleep(0.1)
        before = feed.stats.spin_slices  # nothing received: no spin yet
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.sendto(payloads[0], ("127.0.0.1", feed.port))
        await asyncio.sleep(0.2)  # 20 ms of spinning, then back to epoll_wait
        spun = feed.stats.spin_slices
        await asyncio.sleep(0.1)
        idle = feed.stats.spin_slices
        for payload in payloads[1:]:
            sender.sendto(payload, ("127.0.0.1", feed.port))
        await asyncio.sleep(0.2)
        sender.close()
        again = feed.stats.spin_slices
        feed.close()
        busy = await LiveFeed.bind("127.0.0.1", 0, spin_s=math.inf)
        await asyncio.sleep(0.05)
        spinning = busy.stats.spin_slices > 0 and busy._spin_next is not None
        busy.close()
        assert busy._spin_next is None
        return before, spun, idle, again, got, spinning

    before, spun, idle, again, got, spinning = asyncio.run(main())
    assert before == 0
    assert spun > 0
    assert idle == spun  # the spin ended: the loop sleeps again
    assert again > idle
    assert _no_recv(got) == _no_recv(list(iter_events(path)))
    assert spinning
    with pytest.raises(ValueError, match="spin_s must be >= 0"):
        LiveFeed(spin_s=-1.0)


def test_an_iterating_consumer_gets_every_event_while_the_receiver_spins(
    tmp_path: Path,
) -> None:
    """Without ``on_ready`` a task consumes the queue: a spinning receiver hands over at the
    first datagram of a slice, and the task sees every event, in order."""
    import math

    path = synthetic_tops(2_000, n_symbols=20, seed=6).write(tmp_path / "t.pcap")

    async def main() -> list[Event]:
        feed = await LiveFeed.bind("127.0.0.1", 0, spin_s=math.inf)
        got: list[Event] = []

        async def consume() -> None:
            got.extend([event async for event in feed.events(idle_timeout_s=0.5)])

        async with asyncio.TaskGroup() as tg:
            tg.create_task(consume())
            await replay(path, "127.0.0.1", feed.port, speed=0)
        feed.close()
        return got

    assert _no_recv(asyncio.run(main())) == _no_recv(list(iter_events(path)))


@pytest.mark.parametrize("spin_s", [0.0, 0.05])
def test_on_batch_takes_each_datagram_as_read_and_ends_the_drain_at_the_one_it_wants(
    tmp_path: Path, spin_s: float
) -> None:
    """``on_batch`` gets every decoded datagram in arrival order, nothing is queued, and a
    datagram it wants (True) ends the drain: ``on_ready`` runs before the next datagram is
    read, although the others are already waiting in the socket (sent before the event
    loop could read any). Same with busy polling (``spin_s``)."""
    import socket

    path = synthetic_tops(400, n_symbols=10, seed=5).write(tmp_path / "t.pcap")
    payloads = [p for _, p in iter_datagrams(path)][:30]
    expected = [e for p in payloads for e in _decode_one(p)]
    with_events = sum(1 for p in payloads if _decode_one(p))  # on_batch gets only those

    async def main() -> tuple[list[Event], list[tuple[str, int]], int]:
        feed = await LiveFeed.bind("127.0.0.1", 0, spin_s=spin_s)
        got: list[Event] = []
        log: list[tuple[str, int]] = []  # ("batch", n seen) and ("ready", n seen)

        def take(batch: Any) -> bool:
            got.extend(batch.events())
            n = sum(k == "batch" for k, _ in log) + 1
            log.append(("batch", n))
            return n % 3 == 1  # wants the 1st, 4th, 7th … datagram

        feed.on_batch = take
        feed.on_ready = lambda: log.append(("ready", 0))
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for payload in payloads:  # all in the socket before the loop reads the first
            sender.sendto(payload, ("127.0.0.1", feed.port))
        sender.close()
        await asyncio.sleep(0.3)
        queued = len(feed.take_ready())
        feed.close()
        return got, log, queued

    got, log, queued = asyncio.run(main())
    assert _no_recv(got) == _no_recv(expected)
    assert queued == 0
    assert [n for k, n in log if k == "batch"] == list(range(1, with_events + 1))
    for i, (kind, n) in enumerate(log):  # a wanted batch is followed by on_ready at once
        if kind == "batch" and n % 3 == 1:
            assert log[i + 1][0] == "ready", log[: i + 2]
    assert with_events > 10


def _decode_one(payload: bytes) -> list[Event]:
    from fluvius.feeds.iex.datagram import ColumnarSegmentDecoder

    return ColumnarSegmentDecoder().decode(payload, 0).events()
