"""`fluvius live` runner: replay determinism, no trade dropped, UDP, errors, alerts, ending."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from pathlib import Path
from typing import Any

import pytest

from fluvius.feeds.adapter import declare_sources
from fluvius.feeds.iex import iter_events
from fluvius.feeds.iex.encode import synthetic_tops
from fluvius.feeds.iex.replay import replay
from fluvius.graph import GraphBuilder
from fluvius.graph.dag import Graph
from fluvius.live import LiveRun, LiveState
from fluvius.live.feeds import FeedError
from fluvius.live.runner import take_updates
from fluvius.nodes.monitoring import DecayAlert
from fluvius.scheduling.serial import SerialScheduler, SerialSession


class TradeVolume:
    """Total size of every trade seen (a stateful node that must see each trade once)."""

    def __init__(self) -> None:
        self.total = 0

    def update(self, trades: Any) -> None:
        self.total += sum(t.sz for t in trades or ())

    def get(self) -> int:
        return self.total


def spread(quote: Any) -> float:
    return math.nan if quote is None else (quote.ask_px - quote.bid_px) / 1e9


def boom(mid: float) -> float:
    if mid == mid and mid > 0:
        raise ValueError("boom")
    return 0.0


def graph(symbols: list[str], *, failing: bool = False, alert: bool = False) -> Graph:
    g = GraphBuilder()
    refs = declare_sources(g, symbols)
    for s in symbols:
        g.node(f"volume/{s}", TradeVolume(), refs["trade"][s], every_tick=True)
        sp = g.node(f"spread/{s}", spread, refs["quote"][s])
        if failing:
            g.node(f"boom/{s}", boom, refs["mid"][s])
        if alert:
            g.node(f"wide/{s}", DecayAlert(threshold=0.0), sp)
    return g.build()


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], dict[str, int]]:
    cap = synthetic_tops(3_000, n_symbols=20, seed=5)
    path = cap.write(tmp_path_factory.mktemp("cap") / "t.pcap")
    symbols = list(cap.symbols[:8])
    volume = dict.fromkeys(symbols, 0)
    for event in iter_events(path):
        if event.kind == "trade" and event.symbol in volume:
            volume[event.symbol] += event.sz  # type: ignore[attr-defined]
    assert sum(volume.values()) > 0
    return path, symbols, volume


POLLS = {"epoll": "poll=epoll", "busy": "poll=busy", "spin": "spin=0.05"}
"""The receive modes of the UDP feed, as URL options."""


def _run(g: Graph, feeds: list[Any], **options: Any) -> Any:
    return asyncio.run(LiveRun(g, feeds, **options).run())


def test_replay_at_speed_0_is_deterministic_and_loses_no_trade(capture: Any) -> None:
    path, symbols, volume = capture
    url = f"iex+pcap://{path}?speed=0"
    first = _run(graph(symbols), [url])
    second = _run(graph(symbols), [url])
    assert first.ended_by == "feeds ended"
    assert {s: first.run.values[f"volume/{s}"] for s in symbols} == volume
    assert [(c.recomputed) for c in first.run.cycles] == [c.recomputed for c in second.run.cycles]
    assert repr(first.run.values) == repr(second.run.values)
    health = first.feeds[url]
    assert (health["messages"], health["gaps"], health["ended"]) == (3_000, 0, True)


def test_take_updates_never_splits_or_drops() -> None:
    from collections import deque

    from fluvius.live.feeds import FeedUpdate

    q = deque(
        [FeedUpdate({"trade/A": (1,)}, 1, 1), FeedUpdate({"trade/A": (2, 3), "m": 1.0}, 2, 2)]
    )
    assert take_updates(q, lambda k: True)[0] == {"trade/A": (1, 2, 3), "m": 1.0}
    q = deque([FeedUpdate({"n": 1}, 1, 1), FeedUpdate({"n": 2, "m": 1.0}, 2, 2)])
    assert take_updates(q, lambda k: k != "n")[0] == {"n": 1}
    assert len(q) == 1


def test_state_is_written_each_cycle(capture: Any) -> None:
    path, symbols, _ = capture
    state = LiveState()
    report = _run(graph(symbols, alert=True), [f"iex+pcap://{path}?speed=0"], state=state)
    assert state.ended
    assert state.cycles_total == len(report.run.cycles) + 1
    key = f"volume/{symbols[0]}"
    assert state.values[key] == report.run.values[key]
    assert state.versions[key] > 0
    kinds = {a.kind for a in state.alerts}
    assert "alert" in kinds, "a spread above 0 turns the DecayAlert nodes on"
    assert state.feeds[f"iex+pcap://{path}?speed=0"].messages == 3_000


def test_isolate_is_the_default_and_failures_are_logged(
    capture: Any, caplog: pytest.LogCaptureFixture
) -> None:
    path, symbols, volume = capture
    with caplog.at_level(logging.ERROR, logger="fluvius.live"):
        report = _run(graph(symbols, failing=True), [f"iex+pcap://{path}?speed=0"])
    assert f"boom/{symbols[0]}" in report.run.failed
    assert report.run.values[f"volume/{symbols[0]}"] == volume[symbols[0]]
    record = next(r for r in caplog.records if getattr(r, "key", "").startswith("boom/"))
    assert "test_runner.py" in record.created_at  # type: ignore[attr-defined]
    assert "ValueError: boom" in record.getMessage()


def test_bad_feeds_are_clear_errors(capture: Any) -> None:
    path, symbols, _ = capture
    g = graph(symbols)
    with pytest.raises(FeedError, match="unknown scheme 'ftp'"):
        LiveRun(g, ["ftp://x"])
    with pytest.raises(FeedError, match="no such capture file"):
        LiveRun(g, ["iex+pcap:///nowhere.pcap"])
    with pytest.raises(FeedError, match="speed must be a number >= 0"):
        LiveRun(g, [f"iex+pcap://{path}?speed=fast"])
    with pytest.raises(FeedError, match=r"unknown option\(s\) \['sped'\]"):
        LiveRun(g, [f"iex+pcap://{path}?sped=0"])
    with pytest.raises(FeedError, match="rate must be a number >= 0"):
        LiveRun(g, [f"iex+pcap://{path}?rate=-1"])
    with pytest.raises(FeedError, match="stamp must be 'read' or 'kernel'"):
        LiveRun(g, ["iex+udp://127.0.0.1:0?stamp=nic"])
    with pytest.raises(FeedError, match="poll must be 'epoll' or 'busy', got 'spin'"):
        LiveRun(g, ["iex+udp://127.0.0.1:0?poll=spin"])
    with pytest.raises(FeedError, match="spin must be a number >= 0"):
        LiveRun(g, ["iex+udp://127.0.0.1:0?spin=-1"])
    with pytest.raises(FeedError, match="spin must be a finite number"):
        LiveRun(g, ["iex+udp://127.0.0.1:0?spin=inf"])
    with pytest.raises(FeedError, match="use one or the other"):
        LiveRun(g, ["iex+udp://127.0.0.1:0?poll=busy&spin=0.001"])


class _AwaitedSession(SerialSession):
    """A serial session the runner must await (as it awaits worker processes)."""

    runs_inline = False  # type: ignore[assignment]


class _AwaitedScheduler(SerialScheduler):
    def session(self, graph: Graph) -> SerialSession:
        return _AwaitedSession(graph, self.error_policy, self.chunk)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "stamp", "poll"),
    [
        ("direct", "read", "epoll"),
        ("direct", "kernel", "epoll"),
        ("awaited", "read", "epoll"),
        ("awaited", "kernel", "epoll"),
        ("direct", "read", "busy"),
        ("direct", "kernel", "spin"),
        ("awaited", "read", "busy"),
    ],
)
def test_live_udp_equals_the_replay(capture: Any, stamp: str, path: str, poll: str) -> None:
    """A capture sent over loopback UDP at the replayer's default rate gives the values of
    the deterministic replay: no datagram lost, no trade dropped by conflation, whether the
    cycle runs in the socket callback (serial) or in the runner's task (awaited), and
    whether the receiver sleeps between datagrams or busy-polls the socket."""
    capture_path, symbols, volume = capture
    in_callback: list[bool] = []  # per cycle of the probe: ran outside any task?

    def probe(quote: Any) -> int:
        in_callback.append(asyncio.current_task() is None)
        return 0

    g = GraphBuilder()
    refs = declare_sources(g, symbols)
    for s in symbols:
        g.node(f"volume/{s}", TradeVolume(), refs["trade"][s], every_tick=True)
        g.node(f"probe/{s}", probe, refs["quote"][s])
    scheduler = _AwaitedScheduler("isolate") if path == "awaited" else "serial"

    async def main() -> Any:
        url = f"iex+udp://127.0.0.1:0?idle=1&stamp={stamp}&{POLLS[poll]}"
        run = LiveRun(g.build(), [url], scheduler=scheduler)
        task = asyncio.create_task(run.run())
        feed: Any = run.feeds[0]
        await asyncio.wait_for(run.ready.wait(), 30)
        t0 = time.time_ns()
        await replay(capture_path, "127.0.0.1", feed.port, speed=0)
        return t0, await task, feed.feed.stats.spin_slices

    t0, report, slices = asyncio.run(main())
    assert (slices > 0) == (poll != "epoll")
    assert {s: report.run.values[f"volume/{s}"] for s in symbols} == volume
    (health,) = report.feeds.values()
    assert (health["messages"], health["gaps"], health["drops"]) == (3_000, 0, 0)
    latency = report.state.latency_ns
    assert len(latency) > 0
    assert min(latency) > 0
    assert max(latency) < time.time_ns() - t0  # receive stamps are this run's wall clock
    cycles = in_callback[len(symbols) :]  # after start-up (which runs in the task)
    assert cycles
    assert all(cycles) == (path == "direct")
    assert any(cycles) == (path == "direct")


@pytest.mark.slow
@pytest.mark.parametrize("poll", ["busy", "spin"])
def test_a_busy_polling_run_serves_the_event_loop_and_ends_on_time(capture: Any, poll: str) -> None:
    """While the receiver spins on its socket, the event loop still runs other tasks and
    timers: a ticker task keeps ticking, ``duration_s`` ends the run on time and
    :meth:`LiveRun.stop` from another task ends it too; the spin stops with the run."""
    capture_path, symbols, volume = capture

    async def main(duration_s: float | None) -> Any:
        run = LiveRun(
            graph(symbols), [f"iex+udp://127.0.0.1:0?{POLLS[poll]}"], duration_s=duration_s
        )
        task = asyncio.create_task(run.run())
        await asyncio.wait_for(run.ready.wait(), 30)
        feed: Any = run.feeds[0]
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.create_task(ticker())
        t0 = time.perf_counter()
        await replay(capture_path, "127.0.0.1", feed.port, speed=0)
        await asyncio.sleep(0.3)
        if duration_s is None:
            run.stop("told")
        report = await asyncio.wait_for(task, 30)
        elapsed = time.perf_counter() - t0
        ticking.cancel()
        await asyncio.sleep(0.05)
        return report, ticks, elapsed, feed.feed, feed.feed.stats.spin_slices

    for duration_s in (None, 1.5):
        report, ticks, elapsed, live_feed, slices = asyncio.run(main(duration_s))
        assert report.ended_by == ("told" if duration_s is None else "duration")
        assert {s: report.run.values[f"volume/{s}"] for s in symbols} == volume
        assert slices > 0
        assert ticks >= 0.1 * elapsed / 0.01, (ticks, elapsed)  # the loop kept turning
        assert live_feed._spin_next is None  # no slice left scheduled after the run
        if duration_s is not None:
            assert elapsed < duration_s + 5


@pytest.mark.slow
def test_a_udp_run_ends_with_the_error_of_a_failing_cycle(capture: Any) -> None:
    """fail_fast on the direct path: the error raised in the socket callback ends the run
    and is raised by ``run()`` as itself."""
    capture_path, symbols, _ = capture

    async def main() -> Any:
        run = LiveRun(
            graph(symbols, failing=True), ["iex+udp://127.0.0.1:0"], error_policy="fail_fast"
        )
        task = asyncio.create_task(run.run())
        feed: Any = run.feeds[0]
        await asyncio.wait_for(run.ready.wait(), 30)
        await replay(capture_path, "127.0.0.1", feed.port, speed=0)
        return await asyncio.wait_for(task, 30)

    with pytest.raises(Exception, match="boom"):
        asyncio.run(main())


def test_paced_replays_run_many_cycles_and_lose_no_trade(capture: Any) -> None:
    """``rate=`` paces evenly, and a paced replay that falls behind (the synthetic capture's
    messages are microseconds apart) still runs cycles while it catches up."""
    path, symbols, volume = capture
    for options in ("speed=0&rate=20000", "speed=1000"):
        report = _run(graph(symbols), [f"iex+pcap://{path}?{options}"])
        assert {s: report.run.values[f"volume/{s}"] for s in symbols} == volume, options
        assert len(report.run.cycles) > 10, options


@pytest.mark.slow
def test_process_scheduler_gives_the_serial_values(tmp_path: Path) -> None:
    cap = synthetic_tops(600, n_symbols=6, seed=5)  # a cycle is a round trip: keep it short
    path, symbols = cap.write(tmp_path / "t.pcap"), list(cap.symbols[:4])
    url = f"iex+pcap://{path}?speed=0"
    serial = _run(graph(symbols), [url])
    process = _run(graph(symbols), [url], scheduler="process", workers=2)
    assert repr(serial.run.values) == repr(process.run.values)
    assert len(process.run.stats["workers"]) == 2


def test_duration_ends_a_paced_replay(capture: Any) -> None:
    path, symbols, _ = capture
    report = _run(graph(symbols), [f"iex+pcap://{path}?speed=1"], duration_s=0.2)
    assert report.ended_by == "duration"
    assert report.seconds < 5


def test_the_direct_path_cycles_at_each_datagram_that_sets_a_source(capture: Any) -> None:
    """On the direct path a datagram that sets a declared source is cycled before the
    datagrams behind it are read, even when they were all waiting in the socket together:
    one cycle per such datagram (its latency never includes a burst read after it), the
    values still those of the replay."""
    import socket

    from fluvius.feeds.adapter import DatagramAdapter
    from fluvius.feeds.iex.datagram import ColumnarSegmentDecoder
    from fluvius.feeds.iex.replay import iter_datagrams

    capture_path, symbols, _ = capture
    payloads = [p for _, p in iter_datagrams(capture_path)][:60]
    decoder, adapter = ColumnarSegmentDecoder(), DatagramAdapter(symbols)
    setting = sum(1 for i, p in enumerate(payloads) if adapter.batch(decoder.decode(p, i)))
    g = GraphBuilder()
    refs = declare_sources(g, symbols)
    for s in symbols:
        g.node(f"spread/{s}", spread, refs["quote"][s])  # conflates: merging is allowed

    async def main() -> Any:
        run = LiveRun(g.build(), ["iex+udp://127.0.0.1:0?idle=0.5"], lag_warn_s=1e12)
        task = asyncio.create_task(run.run())
        await asyncio.wait_for(run.ready.wait(), 30)
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for payload in payloads:  # no await: all in the socket before the loop reads one
            sender.sendto(payload, ("127.0.0.1", run.feeds[0].port))
        sender.close()
        return await task

    report = asyncio.run(main())
    (health,) = report.feeds.values()
    assert (health["datagrams"], health["gaps"], health["drops"]) == (len(payloads), 0, 0)
    assert setting > 10
    assert report.run.stats["cycles"] == setting
    assert report.run.stats["latency_us"]["count"] == setting
