"""Nodes the process scheduler's parent computes itself (``partition/_placement.py``)."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from fluvius.errors import NodeError
from fluvius.graph import GraphBuilder
from fluvius.graph.spec import spec_to_graph
from fluvius.partition import Partition, round_robin
from fluvius.partition._placement import MAX_PARENT_NODES, parent_nodes
from fluvius.scheduling import ProcessScheduler, SerialScheduler, WorkerPool, run_graph
from fluvius.scheduling.process import ProcessSession
from fluvius.testing import SchedulerSuite
from fluvius.testing.strategies import FloatOp
from fluvius.workloads import export_workload

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fluvius.engine.state import ErrorPolicy
    from fluvius.graph.dag import Graph

pytestmark = pytest.mark.slow


def _by_key(where: dict[str, int]) -> Any:
    def place(graph: Graph, workers: int, costs: object) -> Partition:
        return Partition(workers, tuple(where.get(k, 0) for k in graph.keys), "by_key")

    return place


def _desks() -> Graph:
    """Two desks (one per worker), their totals, a total of totals and its scaled copy;
    ``fed`` is a total read by an expensive node, ``single`` gathers one desk only."""
    spec = {
        "sources": {"a": 1.0, "b": 2.0},
        "nodes": {
            "x": {"op": "scale", "inputs": ["a"], "params": {"factor": 3.0}},
            "y": {"op": "scale", "inputs": ["b"], "params": {"factor": 5.0}},
            "desk0": {"op": "sum", "inputs": ["x", "a"]},
            "desk1": {"op": "sum", "inputs": ["y"]},
            "total": {"op": "sum", "inputs": ["desk0", "desk1"]},
            "scaled": {"op": "scale", "inputs": ["total"], "params": {"factor": 0.5}},
            "fed": {"op": "add", "inputs": ["x", "y"]},
            "heavy": {"op": "spin", "inputs": ["fed"], "params": {"n": 10}},
            "single": {"op": "sum", "inputs": ["x", "desk0"]},
        },
    }
    return spec_to_graph(spec, origin="desks")


def test_totals_across_workers_go_to_the_parent() -> None:
    graph = _desks()
    where = {"y": 1, "desk1": 1, "heavy": 1}
    owner = [where.get(k, 0) for k in graph.keys]
    placed = {graph.keys[r] for r in parent_nodes(graph, owner)}
    # fed gathers both workers but a worker reads it; single gathers worker 0 only
    assert placed == {"total", "scaled"}
    assert parent_nodes(graph, [0] * len(graph.keys)) == []  # one worker: nothing crosses


def test_the_parent_takes_a_bounded_tail() -> None:
    """A long chain of totals, each gathering both workers: the parent takes the last
    MAX_PARENT_NODES only, and with each node every reader of it."""
    n = MAX_PARENT_NODES + 50
    nodes: dict[str, Any] = {}
    where: dict[str, int] = {}
    for i in range(n):
        nodes[f"a{i}"] = {"op": "scale", "inputs": ["s"], "params": {"factor": float(i)}}
        nodes[f"b{i}"] = {"op": "scale", "inputs": ["s"], "params": {"factor": -float(i)}}
        ins = [f"a{i}", f"b{i}"] + ([f"t{i - 1}"] if i else [])
        nodes[f"t{i}"] = {"op": "sum", "inputs": ins}
        where.update({f"a{i}": 0, f"b{i}": 1, f"t{i}": i % 2})
    graph = spec_to_graph({"sources": {"s": 1.0}, "nodes": nodes}, origin="chain")
    placed = parent_nodes(graph, [where.get(k, 0) for k in graph.keys])
    assert sorted(graph.keys[r] for r in placed) == sorted(
        f"t{i}" for i in range(n - MAX_PARENT_NODES, n)
    )
    mine = set(placed)
    assert all(set(graph.children[r]) <= mine for r in placed)


def test_measured_costs_decide_for_callables() -> None:
    g = GraphBuilder()
    a, b = g.source("a", 1.0), g.source("b", 2.0)
    x, y = g.node("x", FloatOp("neg"), a), g.node("y", FloatOp("neg"), b)
    g.node("t", FloatOp("sum"), x, y)
    graph = g.build()
    owner = [{"a": 0, "x": 0, "b": 1, "y": 1, "t": 0}[k] for k in graph.keys]
    assert parent_nodes(graph, owner) == []  # a callable: its cost is unknown
    cheap = parent_nodes(graph, owner, [0.0] * len(graph.keys))
    assert [graph.keys[r] for r in cheap] == ["t"]
    costly = parent_nodes(graph, owner, [1e-3] * len(graph.keys))
    assert costly == []


def test_one_underlying_tick_runs_on_its_owner_only() -> None:
    graph = spec_to_graph(export_workload("options", {"underlyings": "4"}), origin="options")
    spots = [k for k in graph.source_keys if k.endswith("/spot")]
    ticks = [{spot: 100.0 + i} for i, spot in enumerate(spots)]
    ticks.append(dict.fromkeys(spots, 99.0))
    serial = run_graph(graph, ticks, SerialScheduler())

    async def main() -> None:
        run = ProcessScheduler(2, "components").session(graph)
        async with run:
            assert run.run_stats()["parent_nodes"] == 3
            assert [graph.keys[r] for r in run.parent_ranks] == [
                "risk/delta",
                "risk/gamma",
                "risk/vega",
            ]
            await run.start()
            counts = {c.index: c.recomputed for c in serial.cycles}
            for batch in ticks:
                before = [w["computed"] for w in run.worker_stats()]
                result = await run.cycle(batch)
                assert result.recomputed == counts[result.index]
                moved = [w["computed"] - b for w, b in zip(run.worker_stats(), before, strict=True)]
                if len(batch) == 1:  # one underlying: its owner alone, plus the parent's 3
                    assert sorted(moved) == [0, result.recomputed - 3]
                else:
                    assert all(moved)
            values = run.values()
            assert values.keys() == serial.values.keys()
            for k, v in serial.values.items():
                assert v == values[k] or (v != v and values[k] != values[k]), k

    asyncio.run(main())


def test_parent_node_failures_follow_the_policy() -> None:
    """A total whose input fails: isolate marks it failed and recovers it; fail-fast
    raises the parent's own failure."""
    g = GraphBuilder()
    a, b = g.source("a", 1.0), g.source("b", 2.0)
    x = g.node("x", FloatOp("raise_negative"), a)
    y = g.node("y", FloatOp("neg"), b)
    g.node("t", FloatOp("sum"), x, y)
    graph = g.build()
    ticks = [{"a": -1.0}, {"a": 4.0}]
    serial = run_graph(graph, ticks, SerialScheduler(error_policy="isolate"))
    sched = _ZeroCosts(2, _by_key({"y": 1}), error_policy="isolate")

    async def main() -> None:
        run = sched.session(graph)
        async with run:
            await run.start()
            assert [graph.keys[r] for r in run.parent_ranks] == ["t"]
            result = await run.cycle(ticks[0])
            assert [e.key for e in result.errors] == ["x"]
            assert sorted(run.failed) == ["t", "x"]
            result = await run.cycle(ticks[1])
            assert result.recomputed == {c.index: c for c in serial.cycles}[2].recomputed
            assert run.failed == {}
            assert run.values() == serial.values

    asyncio.run(main())
    g = GraphBuilder()
    a, b = g.source("a", 1.0), g.source("b", 2.0)
    x, y = g.node("x", FloatOp("neg"), a), g.node("y", FloatOp("neg"), b)
    g.node("t", FloatOp("raise_negative"), g.node("u", FloatOp("sum"), x, y))
    graph = g.build()
    with pytest.raises(NodeError, match="node 't'") as info:
        run_graph(graph, [{"a": 5.0}], _ZeroCosts(2, _by_key({"y": 1})))
    assert "parent" in str(info.value)


def test_unpicklable_input_of_a_parent_node_is_its_failure() -> None:
    g = GraphBuilder()
    a, b = g.source("a", 1.0), g.source("b", 2.0)
    lock = g.node("lock", lambda x: threading.Lock(), a)
    y = g.node("y", FloatOp("neg"), b)
    g.node("t", lambda lk, v: v, lock, y)
    graph = g.build()
    sched = _ZeroCosts(2, _by_key({"y": 1}), error_policy="isolate")
    report = run_graph(graph, [{"a": 2.0}], sched)
    assert sorted(report.failed) == ["lock", "t"]
    assert "cannot be pickled" in str(report.failed["lock"])
    assert "the parent" in str(report.failed["lock"])
    assert report.values["y"] == -2.0


class _ZeroCosts(ProcessScheduler):
    """Measured costs of 0 for every node: every cheap-enough gathering node, of any
    callable, is computed by the parent (the conformance suite's graphs are callables)."""

    def session(self, graph: Graph) -> ProcessSession:
        self.costs = (0.0,) * len(graph.keys)
        return super().session(graph)


class TestProcessSchedulerParentNodes(SchedulerSuite):
    """The conformance suite with every gathering node computed by the parent (round
    robin: the most nodes gather from several workers)."""

    worker_counts = (2, 3)
    shares_memory = False
    max_examples = 25
    pools: ClassVar[dict[int, WorkerPool]] = {}

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _close_pools(cls) -> Iterator[None]:
        yield
        for pool in cls.pools.values():
            pool.close()
        cls.pools.clear()

    def make_scheduler(self, error_policy: ErrorPolicy, workers: int = 1) -> ProcessScheduler:
        pool = self.pools.get(workers)
        if pool is None or pool.broken or pool.closed:
            pool = self.pools[workers] = WorkerPool(workers)
        return _ZeroCosts(
            workers, round_robin, error_policy=error_policy, pool=pool, freeze_gc=False
        )
