"""The serial scheduler: the conformance suite, plus what only the serial scheduler does."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from fluvius.engine.state import ErrorPolicy
from fluvius.errors import NodeError
from fluvius.graph import GraphBuilder
from fluvius.graph.dag import Graph
from fluvius.scheduling import SerialScheduler, run_graph
from fluvius.testing import GraphBench, SchedulerSuite
from fluvius.testing.strategies import AsyncFloatOp, FloatOp, RunningCount


class TestSerialScheduler(SchedulerSuite):
    max_examples = 300  # the serial scheduler is fast: spend the time on more random graphs

    def make_scheduler(self, error_policy: ErrorPolicy) -> SerialScheduler:
        # a small chunk, so that random graphs exercise the chunked start-up loop too
        # freeze_gc=False: a full collection per session costs ~0.1 s in a test process
        # holding hundreds of graphs; the freeze has tests of its own below
        return SerialScheduler(error_policy=error_policy, chunk=3, freeze_gc=False)


def chain(n: int, *, async_at: int | None = None) -> Graph:
    g = GraphBuilder()
    prev = g.source("s", 1.0)
    for i in range(n):
        op = AsyncFloatOp("neg") if i == async_at else FloatOp("neg")
        prev = g.node(f"n{i}", op, prev)
    return g.build()


# -- start-up progress --------------------------------------------------------------------------
def test_startup_progress_in_chunks_yields_to_the_loop() -> None:
    calls: list[tuple[int, int, int]] = []
    ticks = 0

    async def other() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async def main() -> None:
        task = asyncio.create_task(other())
        try:
            async with SerialScheduler(chunk=2).session(chain(5)) as run:
                await run.start(lambda done, total: calls.append((done, total, ticks)))
        finally:
            task.cancel()

    asyncio.run(main())
    assert [(d, t) for d, t, _ in calls] == [(2, 5), (4, 5), (5, 5)]
    seen = [n for _, _, n in calls]
    assert seen[0] < seen[1] < seen[2], "other tasks run between start-up chunks"


def test_startup_progress_of_an_empty_graph() -> None:
    calls: list[tuple[int, int]] = []
    run_graph(GraphBuilder().build(), progress=lambda d, t: calls.append((d, t)))
    assert calls == [(0, 0)]


@pytest.mark.parametrize("async_at", [0, 2])
def test_startup_progress_with_async_nodes_ends_at_total(async_at: int) -> None:
    """BUG (scheduling/serial.py, SerialSession._concurrent): progress is reported after
    draining the ready nodes and before each wait, never after the last completion; when
    the last node to finish is async, ``(total, total)`` is never reported (here, with the
    async node last, the only call is ``(2, 3)``)."""
    calls: list[tuple[int, int]] = []
    run_graph(chain(3, async_at=async_at), progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (3, 3), calls
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


# -- the scheduler ------------------------------------------------------------------------------
def test_constructor_checks_chunk() -> None:
    with pytest.raises(ValueError, match="chunk must be >= 1, got chunk=0"):
        SerialScheduler(chunk=0)


def test_unknown_policy_is_rejected_when_a_session_is_made() -> None:
    with pytest.raises(ValueError, match="unknown error policy 'later'"):
        SerialScheduler(error_policy="later").session(chain(1))  # type: ignore[arg-type]


def test_repr() -> None:
    assert repr(SerialScheduler("isolate")) == "SerialScheduler(error_policy='isolate')"


def test_sync_nodes_run_inline_async_nodes_as_tasks() -> None:
    """Sync nodes compute in the task that runs the session; async nodes in tasks of their
    own, which are all finished when the cycle returns."""
    seen: list[tuple[str, asyncio.Task[Any] | None]] = []

    def sync_node(x: float) -> float:
        seen.append(("sync", asyncio.current_task()))
        return x

    async def async_node(x: float) -> float:
        seen.append(("async", asyncio.current_task()))
        return x

    g = GraphBuilder()
    s = g.source("s", 1.0)
    t = g.source("t", 1.0)
    g.node("plain", sync_node, s)
    a = g.node("a", async_node, t)
    g.node("join", lambda x, y: sync_node(x + y), a, s)

    async def main() -> tuple[asyncio.Task[Any] | None, set[asyncio.Task[Any]]]:
        async with SerialScheduler().session(g.build()) as run:
            await run.start()
            await run.cycle({"s": 2.0})  # reaches no async node: the sync loop
            await run.cycle({"t": 2.0})
            return asyncio.current_task(), asyncio.all_tasks()

    me, alive = asyncio.run(main())
    assert alive == {me}
    # start-up begins "a" (it reads a source only) before any sync node; a tick does not
    assert [kind for kind, _ in seen] == ["async", "sync", "sync", "sync", "sync", "async", "sync"]
    assert all(task is me for kind, task in seen if kind == "sync")
    assert all(task is not me for kind, task in seen if kind == "async")


def test_error_points_at_the_test_line_and_names_the_serial_worker() -> None:
    g = GraphBuilder()
    s = g.source("s", 0.0)
    line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
    g.node("bad", FloatOp("raise_above", 1.0), s)
    with pytest.raises(NodeError, match=r"node 'bad' \(created at .*\) raised ValueError") as info:
        run_graph(g.build(), [{"s": 5.0}])
    assert info.value.created_at == f"{__file__}:{line}"
    assert info.value.worker == "serial"


# -- GraphBench ---------------------------------------------------------------------------------
def test_graph_bench_steps_a_session() -> None:
    g = GraphBuilder()
    s = g.source("s", 1.0)
    g.node("count", RunningCount(), s)
    g.node("bad", FloatOp("raise_above", 1.0), s)
    with GraphBench(g.build(), SerialScheduler("isolate")) as bench:
        assert bench.start().recomputed == 2
        result = bench.cycle({"s": 3.0})
        assert (result.index, result.recomputed, [e.key for e in result.errors]) == (
            1,
            2,
            ["bad"],
        )
        assert bench.value("count") == 2.0
        assert list(bench.failed) == ["bad"]
        assert "bad" not in bench.values()
        session = bench.session
    with pytest.raises(RuntimeError, match="use GraphBench as a context manager"):
        bench.start()
    assert session._closed


def test_graph_bench_closes_after_an_error() -> None:
    g = GraphBuilder()
    g.node("bad", FloatOp("raise_above", 1.0), g.source("s", 5.0))
    bench: Any = GraphBench(g.build())
    with pytest.raises(NodeError, match="node 'bad'"), bench:
        bench.start()
    assert bench._runner is None


def test_session_freezes_the_heap_after_startup_and_unfreezes_on_close() -> None:
    import gc

    graph = chain(3)
    before = gc.get_freeze_count()

    async def main() -> tuple[int, float]:
        async with SerialScheduler().session(graph) as session:
            await session.start()
            return gc.get_freeze_count(), session.gc_freeze_seconds

    frozen, seconds = asyncio.run(main())
    assert frozen > before
    assert seconds > 0
    assert gc.get_freeze_count() == 0


def test_freeze_gc_can_be_turned_off() -> None:
    import gc

    async def main() -> int:
        async with SerialScheduler(freeze_gc=False).session(chain(3)) as session:
            await session.start()
            return gc.get_freeze_count()

    assert asyncio.run(main()) == 0


def test_cycle_now_is_the_cycle_run_at_once_where_nothing_awaits() -> None:
    """``cycle_now`` gives what ``await cycle`` gives, from plain code (the live runner's
    socket callback); a session with async nodes, or whose nodes run elsewhere, refuses."""
    from fluvius.errors import FluviusError
    from fluvius.scheduling import ProcessScheduler

    def build(with_async: bool) -> Graph:
        g = GraphBuilder()
        x = g.source("x", 1.0)
        y = g.node("y", lambda v: v * 2, x)
        g.node("z", lambda v, w: v + w, x, y)
        if with_async:

            async def later(v: float) -> float:
                await asyncio.sleep(0)
                return v

            g.node("a", later, x)
        return g.build()

    async def main() -> None:
        awaited = SerialScheduler().session(build(False))
        inline = SerialScheduler().session(build(False))
        assert inline.runs_inline
        await awaited.start()
        await inline.start()
        for v in (2.0, 3.0, 3.0, -1.0):
            a = await awaited.cycle({"x": v})
            b = inline.cycle_now({"x": v})
            assert (a.index, a.recomputed, a.errors) == (b.index, b.recomputed, b.errors)
            assert awaited.values() == inline.values()
        with_async = SerialScheduler().session(build(True))
        assert not with_async.runs_inline
        await with_async.start()
        with pytest.raises(FluviusError, match="cannot run a cycle without awaiting"):
            with_async.cycle_now({"x": 1.0})
        for s in (awaited, inline, with_async):
            await s.aclose()
        assert not ProcessScheduler(1).session(build(False)).runs_inline

    asyncio.run(main())


def test_start_up_begins_source_fed_async_nodes_before_the_sync_ones() -> None:
    """An async node reading sources only awaits (a query in flight) while the sync nodes
    compute: its wait overlaps them instead of following them."""
    events: list[str] = []

    async def load(x: float) -> float:
        events.append("query sent")
        await asyncio.sleep(0.01)
        events.append("data back")
        return x

    def work(x: float) -> float:
        events.append("sync")
        return x

    g = GraphBuilder()
    s = g.source("s", 1.0)
    first = g.node("first", work, s)  # ranked before the load
    data = g.node("data", load, g.source("days", 2.0))
    g.node("use", lambda a, b: a + b, data, first)

    async def main() -> dict[str, Any]:
        async with SerialScheduler().session(g.build()) as run:
            await run.start()
            return run.values()

    assert asyncio.run(main())["use"] == 3.0
    assert events == ["query sent", "sync", "data back"]


def test_cycle_now_keeps_the_checks_and_failures_of_cycle() -> None:
    """The plain-call ``cycle_now`` (no coroutine) refuses what ``cycle`` refuses, with the
    same errors, and applies nothing of a batch with an unknown key; a fail-fast failure
    ends the run; isolate records it and goes on; a watched session gives the same values."""
    from fluvius.errors import FluviusError, UnknownSourceError

    def build() -> Graph:
        g = GraphBuilder()
        x = g.source("x", 1.0)
        w = g.source("w", 0.0)
        y = g.node("y", lambda v: 1.0 / v, x)
        g.node("z", lambda v, u: v + u, y, w)
        return g.build()

    async def main() -> None:
        fresh = SerialScheduler().session(build())
        with pytest.raises(FluviusError, match="call start"):
            fresh.cycle_now({"x": 2.0})
        await fresh.aclose()

        fast = SerialScheduler("fail_fast").session(build())
        await fast.start()
        with pytest.raises(UnknownSourceError, match="'y': it is a node, not a source"):
            fast.cycle_now({"w": 5.0, "y": 1.0})
        with pytest.raises(UnknownSourceError, match="'q': it is not in this graph"):
            fast.cycle_now({"w": 5.0, "q": 1.0})
        assert fast.value("w") == 0.0  # nothing applied
        assert fast.cycle_now({"x": 4.0}).recomputed == 2
        with pytest.raises(NodeError, match="division by zero"):
            fast.cycle_now({"x": 0.0})
        with pytest.raises(FluviusError, match="this run stopped when node 'y' failed"):
            fast.cycle_now({"x": 1.0})
        await fast.aclose()
        with pytest.raises(FluviusError, match="session is closed"):
            fast.cycle_now({"x": 1.0})

        kept = SerialScheduler("isolate").session(build())
        watched = SerialScheduler("isolate", watchdog_s=60.0).session(build())
        for s in (kept, watched):
            await s.start()
        for v in (0.0, 2.0):
            a, b = kept.cycle_now({"x": v}), watched.cycle_now({"x": v})
            assert (a.index, a.recomputed, len(a.errors)) == (b.index, b.recomputed, len(b.errors))
            assert kept.values() == watched.values()
            assert list(kept.failed) == list(watched.failed) == (["y", "z"] if v == 0 else [])
        for s in (kept, watched):
            await s.aclose()

    asyncio.run(main())
