"""Live mode: batch formation (conflation) and run_live over async streams."""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluvius.engine.state import CycleResult
from fluvius.errors import NodeError
from fluvius.graph import GraphBuilder
from fluvius.graph.dag import Graph
from fluvius.scheduling import LiveReport, SerialScheduler, run_live
from fluvius.scheduling.live import take_batch
from fluvius.testing.strategies import FloatOp, History, RunningCount

NON_CONFLATING = {"n", "m"}


def conflates(key: str) -> bool:
    return key not in NON_CONFLATING


# -- take_batch -----------------------------------------------------------------------------
def test_take_batch_conflates_to_latest_value() -> None:
    q = deque([("a", 1.0), ("b", 1.0), ("a", 2.0), ("a", 3.0)])
    assert take_batch(q, conflates) == {"a": 3.0, "b": 1.0}
    assert not q


def test_take_batch_splits_at_second_tick_of_non_conflating_source() -> None:
    q = deque([("n", 1.0), ("a", 1.0), ("a", 2.0), ("n", 2.0), ("a", 3.0), ("n", 3.0)])
    assert take_batch(q, conflates) == {"n": 1.0, "a": 2.0}
    assert list(q) == [("n", 2.0), ("a", 3.0), ("n", 3.0)]  # the rest untouched, in order
    assert take_batch(q, conflates) == {"n": 2.0, "a": 3.0}
    assert take_batch(q, conflates) == {"n": 3.0}
    assert take_batch(q, conflates) == {}


def test_take_batch_keys_in_order_of_first_arrival() -> None:
    q = deque([("b", 1.0), ("a", 1.0), ("b", 2.0)])
    assert list(take_batch(q, conflates).items()) == [("b", 2.0), ("a", 1.0)]


ticks = st.lists(
    st.tuples(st.sampled_from(["a", "b", "n", "m"]), st.integers(0, 3).map(float)), max_size=30
)


@given(queue=ticks)
def test_take_batch_replays_the_queue(queue: list[tuple[str, float]]) -> None:
    """Batches are consecutive, maximal pieces of the queue, applied in order: replaying
    them gives the per-key last values of the queue at every batch boundary."""
    pending = deque(queue)
    state_by_batches: dict[str, float] = {}
    state_by_ticks: dict[str, float] = {}
    consumed = 0
    while pending:
        batch = take_batch(pending, conflates)
        assert batch, "a non-empty queue gives a non-empty batch"
        taken = len(queue) - len(pending) - consumed
        piece = queue[consumed : consumed + taken]
        consumed += taken
        assert [k for k, _ in piece if not conflates(k)] == [k for k in batch if not conflates(k)]
        assert list(batch) == list(dict.fromkeys(k for k, _ in piece))
        state_by_ticks.update(piece)  # tick by tick, the last value of a key wins
        state_by_batches.update(batch)
        assert state_by_batches == state_by_ticks
        if pending:  # a batch only ends where a non-conflating source would repeat
            key = pending[0][0]
            assert not conflates(key)
            assert key in batch
    assert consumed == len(queue)


# -- run_live -------------------------------------------------------------------------------
async def values_of(items: list[Any], *, pause: bool = False) -> AsyncIterator[Any]:
    for item in items:
        if pause:
            await asyncio.sleep(0)
        yield item


def live_graph() -> Graph:
    g = GraphBuilder()
    x = g.source("x", 0.0)
    y = g.source("y", 0.0)
    g.node("sum", FloatOp("sum"), x, y)
    g.node("cycles_seen", RunningCount(), x, y)
    return g.build()


def run(
    graph: Graph, streams: Any, **options: Any
) -> tuple[LiveReport, dict[str, Any], list[dict[str, Any]]]:
    batches: list[dict[str, Any]] = []

    def on_cycle(result: CycleResult, batch: Mapping[str, Any]) -> None:
        batches.append(dict(batch))

    async def main() -> tuple[LiveReport, dict[str, Any]]:
        async with SerialScheduler().session(graph) as session:
            await session.start()
            report = await run_live(session, streams(), on_cycle=on_cycle, **options)
            return report, session.values()

    report, values = asyncio.run(main())
    return report, values, batches


def test_run_live_mapping_of_streams_conflates() -> None:
    """Streams that deliver everything at once give one cycle with the last values."""

    def streams() -> dict[str, AsyncIterator[float]]:
        return {"x": values_of([1.0, 2.0, 3.0]), "y": values_of([10.0])}

    report, values, batches = run(live_graph(), streams)
    assert report == LiveReport(ticks=4, cycles=1, conflated=2, max_pending=4)
    assert batches == [{"x": 3.0, "y": 10.0}]
    assert values["sum"] == 13.0
    assert values["cycles_seen"] == 2.0


def test_run_live_single_stream_of_ticks() -> None:
    feed = [("x", 1.0), ("y", 2.0), ("x", 5.0), ("y", 2.0), ("x", 7.0)]
    report, values, batches = run(live_graph(), lambda: values_of(feed, pause=True))
    assert report.ticks == 5
    assert report.cycles == len(batches)
    replay: dict[str, float] = {}
    for batch in batches:
        replay.update(batch)
    assert replay == {"x": 7.0, "y": 2.0}
    assert values["sum"] == 9.0
    assert sum(len(b) for b in batches) + report.conflated == report.ticks


def test_run_live_every_tick_node_sees_every_tick_in_order() -> None:
    g = GraphBuilder()
    x = g.source("x", 0.0)
    y = g.source("y", 0.0)
    g.node("all_x", History(), x, every_tick=True)
    g.node("y_count", RunningCount(), y)
    graph = g.build()
    xs = [1.0, 1.0, 2.0, math.inf, 2.0]

    def streams() -> dict[str, AsyncIterator[float]]:
        return {"x": values_of(xs), "y": values_of([5.0, 6.0, 7.0, 8.0, 9.0, 10.0])}

    report, values, batches = run(graph, streams)
    assert values["all_x"] == tuple((v,) for v in [0.0, *xs])
    assert [b["x"] for b in batches if "x" in b] == xs
    assert report.cycles == len(xs)  # x never conflates; y rides along and conflates
    assert values["y"] == 10.0


def test_run_live_max_cycles_stops_and_cancels_endless_streams() -> None:
    closed: list[str] = []

    async def endless() -> AsyncIterator[float]:
        i = 0.0
        try:
            while True:
                await asyncio.sleep(0)
                i += 1.0
                yield i
        finally:
            closed.append("endless")

    async def main() -> tuple[LiveReport, set[asyncio.Task[Any]]]:
        async with SerialScheduler().session(live_graph()) as session:
            await session.start()
            report = await run_live(session, {"x": endless()}, max_cycles=3)
            return report, asyncio.all_tasks() - {asyncio.current_task()}

    report, left = asyncio.run(main())
    assert report.cycles == 3
    assert left == set()
    assert closed == ["endless"]


def failing_graph() -> Graph:
    g = GraphBuilder()
    g.node("bad", FloatOp("raise_above", 1.0), g.source("x", 0.0))
    return g.build()


async def endless_stream(closed: list[str]) -> AsyncIterator[float]:
    try:
        while True:
            await asyncio.sleep(0)
            yield 0.0
    finally:
        closed.append("closed")


def test_run_live_cancels_pumps_on_error() -> None:
    """A failing cycle ends the run; no pump task is left behind, streams are closed."""
    closed: list[str] = []
    g = GraphBuilder()
    g.node("bad", FloatOp("raise_above", 1.0), g.source("x", 0.0))
    g.source("y", 0.0)
    graph = g.build()

    async def main() -> set[asyncio.Task[Any]]:
        async with SerialScheduler().session(graph) as session:
            await session.start()
            with pytest.raises((NodeError, ExceptionGroup)) as info:
                await run_live(session, {"x": values_of([0.5, 5.0]), "y": endless_stream(closed)})
            error = info.value
            if isinstance(error, ExceptionGroup):  # see test_run_live_raises_the_node_error_itself
                (error,) = error.exceptions
            assert isinstance(error, NodeError)
            assert error.key == "bad"
            return asyncio.all_tasks() - {asyncio.current_task()}

    assert asyncio.run(main()) == set()
    assert closed == ["closed"]


def test_run_live_raises_the_node_error_itself() -> None:
    """run_live raises the NodeError, as run_graph and Session.cycle do.

    BUG (scheduling/live.py): the cycle runs inside the pumps' TaskGroup, so its NodeError
    comes out wrapped in an ExceptionGroup and ``except NodeError`` does not catch it.
    """

    async def main() -> None:
        async with SerialScheduler().session(failing_graph()) as session:
            await session.start()
            await run_live(session, {"x": values_of([5.0])})

    with pytest.raises(NodeError, match="node 'bad'"):
        asyncio.run(main())


def test_run_live_with_no_streams_returns_at_once() -> None:
    report, _, batches = run(live_graph(), dict)
    assert report == LiveReport(0, 0, 0, 0)
    assert batches == []
