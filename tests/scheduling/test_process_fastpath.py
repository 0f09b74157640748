"""The parent's fast path for a live cycle (``ProcessScheduler(block_s=..., spin_s=...)``):
the replies are waited for without the event loop (one ``select`` over every worker's pipe
and sentinel), a one-worker cycle's reply is spun for from shortly before it is due.
Checked with real worker processes: the same values as serial whatever the settings, a
worker killed during a blocking or spinning wait reported at once (the one in the cycle
and the other one alike), a long cycle handing the wait back to the event loop, no
process left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import pytest
from child_procs import no_leftover_process  # noqa: F401 - an autouse fixture

from fluvius.errors import WorkerDiedError
from fluvius.graph import GraphBuilder
from fluvius.graph.dag import Graph
from fluvius.partition import Partition
from fluvius.scheduling import ProcessScheduler, SerialScheduler, WorkerPool, run_graph
from fluvius.testing.strategies import FloatOp

pytestmark = pytest.mark.slow

_GUARD_S = 30.0  # a node's sleep that only a killed worker cuts short
_SEEN_S = 10.0  # a death must be reported well before the guard: no hang


def _sleep(x: float) -> float:
    time.sleep(x)
    return x


def _graph() -> Graph:
    """Two underlyings (``a`` on worker 0, ``b`` on worker 1) and their total, which the
    parent computes: a tick of one source is a one-worker cycle, of both a two-worker one."""
    g = GraphBuilder()
    a, b = g.source("a", 1.0), g.source("b", 2.0)
    x = g.node("x", FloatOp("mul", 3.0), g.node("x0", FloatOp("add", 1.0), a))
    y = g.node("y", FloatOp("mul", 5.0), g.node("y0", FloatOp("add", 2.0), b))
    g.node("total", lambda u, v: u + v, x, y)
    return g.build()


def _split(graph: Graph, workers: int, costs: object) -> Partition:
    return Partition(workers, tuple(int(k[0] in "by") for k in graph.keys), "split")


_TICKS = [{"a": 1.5}, {"a": 2.5}, {"a": 2.5}, {"b": 4.0}, {"a": 7.0, "b": 8.0}] + [
    {"a": float(i)} for i in range(12)
]


@pytest.mark.parametrize(
    ("block_s", "spin_s"),
    [(0.0, 0.0), (0.005, 0.0), (0.005, 0.002), (10.0, 10.0)],
    ids=["event loop only", "blocking", "blocking and spin", "long spin"],
)
def test_fast_path_values_are_serials(block_s: float, spin_s: float) -> None:
    graph = _graph()
    serial = run_graph(graph, _TICKS, SerialScheduler())
    with WorkerPool(2) as pool:
        sched = ProcessScheduler(2, _split, pool=pool, block_s=block_s, spin_s=spin_s)
        report = run_graph(graph, _TICKS, sched)
    assert report.values == serial.values
    assert [c.recomputed for c in report.cycles] == [c.recomputed for c in serial.cycles]


@pytest.mark.parametrize("spin_s", [0.0, 60.0], ids=["blocking", "spinning"])
@pytest.mark.parametrize("victim", [1, 0], ids=["the cycle's worker", "the other worker"])
def test_worker_killed_during_a_fast_path_wait_is_reported(victim: int, spin_s: float) -> None:
    """A cycle of worker 1 only (a long node), waited for on the fast path for longer than
    the node runs: SIGKILL to either worker ends the wait with WorkerDiedError at once."""
    g = GraphBuilder()
    g.node("slow", _sleep, g.source("s", 0.0))
    g.node("other", FloatOp("add", 1.0), g.source("t", 0.0))
    graph = g.build()

    def place(graph: Graph, workers: int, costs: object) -> Partition:
        return Partition(workers, tuple(int(k in ("s", "slow")) for k in graph.keys), "p")

    with WorkerPool(2) as pool:
        sched = ProcessScheduler(2, place, pool=pool, block_s=60.0, spin_s=spin_s)

        async def main() -> None:
            async with sched.session(graph) as run:
                await run.start()
                await run.cycle({"s": 0.01})  # the next one spins from its expected end
                killer = threading.Timer(0.3, os.kill, (pool.pids[victim], signal.SIGKILL))
                killer.start()
                try:
                    await run.cycle({"s": _GUARD_S})
                finally:
                    killer.cancel()

        t0 = time.monotonic()
        with pytest.raises(WorkerDiedError, match=rf"worker {victim} .* was killed by SIGKILL"):
            asyncio.run(main())
        assert time.monotonic() - t0 < _SEEN_S
        assert pool.broken


def test_a_long_cycle_hands_the_wait_back_to_the_event_loop() -> None:
    """With ``block_s`` short, a cycle longer than it lets the program's other tasks run
    while it waits (a serial session would hold them for the whole cycle)."""
    g = GraphBuilder()
    g.node("slow", _sleep, g.source("s", 0.0))
    graph = g.build()
    beats = 0

    async def beat() -> None:
        nonlocal beats
        while True:
            await asyncio.sleep(0.01)
            beats += 1

    async def main() -> tuple[float, int]:
        sched = ProcessScheduler(1, block_s=0.02, spin_s=0.02)
        async with sched.session(graph) as run:
            await run.start()
            ticker = asyncio.create_task(beat())
            await asyncio.sleep(0)
            before = beats
            await run.cycle({"s": 0.5})
            during = beats - before
            ticker.cancel()
            return run.value("slow"), during

    value, during = asyncio.run(main())
    assert value == 0.5
    assert during >= 5  # ~50 beats of 10 ms in a 0.5 s cycle; none if the loop were held


@pytest.mark.parametrize("name", ["block_s", "spin_s"])
@pytest.mark.parametrize("bad", [-0.001, True, "1"])
def test_bad_wait_settings_are_refused(name: str, bad: object) -> None:
    with pytest.raises(ValueError, match=rf"{name} must be a number of seconds >= 0"):
        ProcessScheduler(2, **{name: bad})  # type: ignore[arg-type]
