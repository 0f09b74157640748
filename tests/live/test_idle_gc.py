"""Garbage collection between datagrams: the idle collector, the feed's idle moment, the run."""

from __future__ import annotations

import asyncio
import gc
import socket
from pathlib import Path
from typing import Any

import pytest

from fluvius.feeds.adapter import declare_sources
from fluvius.feeds.iex.datagram import ColumnarSegmentDecoder
from fluvius.feeds.iex.encode import synthetic_tops
from fluvius.feeds.iex.live import LiveFeed
from fluvius.feeds.iex.replay import iter_datagrams, replay
from fluvius.graph import GraphBuilder
from fluvius.live import LiveRun
from fluvius.live._gc import IdleCollector


def _garbage(n: int) -> None:
    """``n`` self-referencing lists: only a collection frees them, so the allocation count
    grows by ``n``."""
    for _ in range(n):
        a: list[Any] = []
        a.append(a)


def test_the_idle_collector_pauses_automatic_collection_and_collects_when_idle() -> None:
    """Inside the context the automatic collector is off: allocations past the threshold
    collect nothing until ``idle()``, which then collects (young generation first, the older
    ones when their counts are due); the previous state is restored on exit."""
    was = gc.isenabled()
    gc.enable()
    try:
        with IdleCollector((100, 3, 1_000_000)) as collector:
            assert not gc.isenabled()
            gc.collect()
            _garbage(50)
            collector.idle()  # below the threshold: nothing
            assert collector.collections == [0, 0, 0]
            _garbage(500)
            assert gc.get_count()[0] >= 100  # nothing collected automatically
            collector.idle()
            assert collector.collections == [1, 0, 0]
            assert gc.get_count()[0] < 100
            for _ in range(4):
                _garbage(200)
                collector.idle()
            assert collector.collections[1] >= 1  # gen 1 once 3 gen-0 collections ran
            assert collector.collections[2] == 0
        assert gc.isenabled()
        gc.disable()
        with IdleCollector():
            pass
        assert not gc.isenabled()  # restored as it was
    finally:
        if was:
            gc.enable()


def test_a_busy_feed_still_collects_and_bad_thresholds_are_refused() -> None:
    """``busy()`` collects only past ``busy_factor`` thresholds: memory stays bounded when the
    feed never goes idle."""
    was = gc.isenabled()
    try:
        with IdleCollector((100, 10, 10), busy_factor=4) as collector:
            gc.collect()
            _garbage(250)
            collector.busy()
            assert collector.collections == [0, 0, 0]
            _garbage(300)
            collector.busy()
            assert collector.collections == [1, 0, 0]
    finally:
        if was:
            gc.enable()
    with pytest.raises(ValueError, match="thresholds"):
        IdleCollector((0, 10, 10))


def test_the_feed_reads_what_arrived_during_on_ready_then_calls_on_idle(tmp_path: Path) -> None:
    """After ``on_ready`` the socket is drained again in the same callback: a datagram that
    arrives while the consumer works is handed over at once; when the socket is found empty,
    ``on_idle`` runs, after the last ``on_ready``."""
    path = synthetic_tops(40, n_symbols=3, seed=2).write(tmp_path / "t.pcap")
    decoder = ColumnarSegmentDecoder()
    payloads = [p for i, p in iter_datagrams(path) if len(decoder.decode(p, i))]
    assert len(payloads) >= 2  # datagrams with events (on_ready is called for those)

    async def main() -> list[str]:
        calls: list[str] = []
        feed = await LiveFeed.bind("127.0.0.1", 0)
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

        def ready() -> None:
            calls.append(f"ready {len(feed.take_ready())}")
            if len(calls) == 1:  # the next datagram lands while the first one is consumed
                sender.sendto(payloads[1], ("127.0.0.1", feed.port))

        feed.on_ready = ready
        feed.on_idle = lambda: calls.append("idle")
        sender.sendto(payloads[0], ("127.0.0.1", feed.port))
        for _ in range(100):
            await asyncio.sleep(0.01)
            if "idle" in calls:
                break
        sender.close()
        feed.close()
        return calls

    assert asyncio.run(main()) == ["ready 1", "ready 1", "idle"]


def test_a_direct_udp_run_collects_only_between_datagrams(tmp_path: Path) -> None:
    """On the direct path the run pauses automatic collection (no collection starts inside
    a cycle) and collects when the feed is idle; the collector is back on after the run and
    the run reports its idle collections."""
    cap = synthetic_tops(3_000, n_symbols=10, seed=7)
    path = cap.write(tmp_path / "t.pcap")
    symbols = list(cap.symbols[:5])
    in_cycle: list[bool] = []

    def allocate(quote: Any) -> int:
        in_cycle.append(gc.isenabled())
        _garbage(50)  # enough garbage for young collections during the run
        return 0

    g = GraphBuilder()
    refs = declare_sources(g, symbols)
    for s in symbols:
        g.node(f"probe/{s}", allocate, refs["quote"][s])

    async def main() -> Any:
        run = LiveRun(g.build(), ["iex+udp://127.0.0.1:0?idle=1"])
        task = asyncio.create_task(run.run())
        await asyncio.wait_for(run.ready.wait(), 30)
        feed: Any = run.feeds[0]
        await replay(path, "127.0.0.1", feed.port, speed=0)
        return await task

    was = gc.isenabled()
    gc.enable()
    try:
        report = asyncio.run(main())
        assert gc.isenabled()  # back on after the run
    finally:
        if not was:
            gc.disable()
    assert len(in_cycle) > len(symbols)  # start-up, then cycles
    assert not any(in_cycle[len(symbols) :])  # paused in every cycle
    collections = report.run.stats["idle_gc_collections"]
    assert collections[0] >= 1
    (health,) = report.feeds.values()
    assert (health["gaps"], health["drops"]) == (0, 0)
