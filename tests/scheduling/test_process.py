"""The process scheduler: the conformance suite at 1, 2 and 3 workers.

Sessions run on long-lived worker pools (one per worker count, spawned once for the whole
class) so that hundreds of random graphs do not each pay for spawning processes; the
fault tests (test_process_faults.py) spawn their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pytest

from fluvius.engine.state import ErrorPolicy
from fluvius.graph import GraphBuilder
from fluvius.graph.dag import Graph
from fluvius.partition import Partition, round_robin
from fluvius.scheduling import ProcessScheduler, WorkerPool, run_graph
from fluvius.testing import SchedulerSuite
from fluvius.testing.strategies import FloatOp

pytestmark = pytest.mark.slow


class TestProcessScheduler(SchedulerSuite):
    worker_counts = (1, 2, 3)
    shares_memory = False
    max_examples = 40  # every example is several round trips between processes
    pools: ClassVar[dict[int, WorkerPool]] = {}
    # round robin spreads even tiny graphs over every worker: the most cross edges, so
    # workers mostly run the event-driven path
    partitioner: ClassVar[object] = staticmethod(round_robin)

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _close_pools(cls) -> Iterator[None]:
        yield
        for pool in cls.pools.values():
            pool.close()
        cls.pools.clear()

    def make_scheduler(  # type: ignore[override]
        self, error_policy: ErrorPolicy, workers: int = 1
    ) -> ProcessScheduler:
        pool = self.pools.get(workers)
        if pool is None or pool.broken or pool.closed:
            pool = self.pools[workers] = WorkerPool(workers)
        return ProcessScheduler(
            workers,
            self.partitioner,  # type: ignore[arg-type]
            error_policy=error_policy,
            pool=pool,
            freeze_gc=False,
        )


class TestProcessSchedulerComponents(TestProcessScheduler):
    """Whole sub-graphs per worker: some workers take the fast path (the engine's sync
    loop) while others wait for values, in the same cycle."""

    worker_counts = (2, 3)
    max_examples = 20
    pools: ClassVar[dict[int, WorkerPool]] = {}
    partitioner = "components"


def test_pool_runs_sessions_in_turn() -> None:
    """Regression: with the heap freeze on, a worker's "done" and "frozen" replies can be
    read in one go; the second must wait for its reader, not be dropped (it hung)."""
    g = GraphBuilder()
    s = g.source("s", 1.0)
    g.node("n", FloatOp("add", 1.0), s)
    graph = g.build()
    with WorkerPool(2) as pool:
        for i in range(4):
            sched = ProcessScheduler(2, round_robin, pool=pool)
            report = run_graph(graph, [{"s": float(i)}], sched)
            assert report.values == {"s": float(i), "n": float(i) + 1.0}
        assert not pool.broken


def test_large_arrays_travel_through_shared_memory() -> None:
    np = pytest.importorskip("numpy")
    g = GraphBuilder()
    s = g.source("s", np.arange(100_000, dtype=np.float64))
    a = g.node("a", FloatOp("neg"), s)
    g.node("b", FloatOp("neg"), a)
    graph = g.build()

    def split(graph: Graph, workers: int, costs: object) -> Partition:
        return Partition(2, tuple(0 if k != "b" else 1 for k in graph.keys), "split")

    ticks = [{"s": np.full(100_000, 2.5)}]
    report = run_graph(graph, ticks, ProcessScheduler(2, split))  # type: ignore[arg-type]
    assert report.values["b"].tobytes() == np.full(100_000, 2.5).tobytes()
    assert report.stats["workers"][0]["bytes_sent"] < 100_000  # a segment name, not 800 kB


def test_start_up_overlaps_a_source_fed_load_with_the_local_part() -> None:
    """A worker begins its async nodes that read sources only before its sync loop, so a
    50 ms history load waits while ~100 ms of local work computes, not after it (the
    worker's idle time counts the waits for async results)."""
    import asyncio

    from fluvius.graph.spec import spec_to_graph

    script = "fluvius.workloads.script"
    spec = {
        "sources": {"days": 4, "years": 0.5, "x": 1.0},
        "nodes": {
            "local": {"op": "spin", "inputs": ["x"], "params": {"n": 1_200_000}},
            "history": {
                "op": f"{script}:load_history",
                "inputs": ["days"],
                "params": {"seed": 1, "vol": 0.2, "load_ms": 50.0},
            },
            "calib": {
                "op": f"{script}:calibrate_expiry",
                "inputs": ["history", "years"],
                "params": {"grid": 2},
            },
            "total": {"op": "add", "inputs": ["calib", "local"]},
        },
    }
    graph = spec_to_graph(spec, origin="overlap")

    async def main() -> tuple[float, float]:
        async with ProcessScheduler(1).session(graph) as run:
            await run.start()
            (stats,) = run.worker_stats()
            return stats["idle_seconds"], run.value("total")

    idle, total = asyncio.run(main())
    assert total > 1.0
    assert idle < 0.03  # the load came back during the local part (it waited 50 ms)
