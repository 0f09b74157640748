"""Faults of the Dask scheduler, on real LocalClusters (127.0.0.1, no dashboard): a Dask
worker SIGKILLed mid-cycle, a node exception, Ctrl-C mid-cycle, and runs that end normally
or on an error. After each: a clear error within seconds, nothing of the run left on the
cluster (no partition host, no fluvius thread or object, the garbage collector as it was),
the next run on the same cluster works, and no process is left behind."""

from __future__ import annotations

import _thread
import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from child_procs import no_leftover_process  # noqa: F401 - an autouse fixture
from dask_helpers import (
    GUARD_S,
    assert_left_clean,
    check_next_run_works,
    local_cluster,
    on_worker,
    rss,
)
from distributed import Client, LocalCluster

from fluvius.errors import CycleTimeoutError, FluviusError, NodeError, WorkerDiedError
from fluvius.graph import GraphBuilder
from fluvius.scheduling import DaskPool, DaskScheduler, run_graph
from fluvius.testing.strategies import FloatOp

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shared_cluster() -> Iterator[LocalCluster]:
    with local_cluster(2) as cluster:
        yield cluster


def _sleep(x: float) -> float:
    time.sleep(x)
    return x


def test_worker_killed_mid_cycle_raises_worker_died_within_5_s() -> None:
    g = GraphBuilder()
    s = g.source("s", 0.0)
    g.node("slow", _sleep, s)
    g.node("other", FloatOp("add", 1.0), s)
    graph = g.build()
    with local_cluster(2) as cluster:
        sched = DaskScheduler(2, on_worker({"slow": 1}), address=cluster.scheduler_address)
        killed_at: list[float] = []

        async def main() -> None:
            async with sched.session(graph) as run:
                await run.start()
                pool = run.pool
                assert isinstance(pool, DaskPool)
                address, pid = pool.addresses[1], pool.pids[1]

                def kill() -> None:
                    killed_at.append(time.monotonic())
                    os.kill(pid, signal.SIGKILL)

                killer = threading.Timer(0.5, kill)
                killer.start()
                try:
                    with pytest.raises(WorkerDiedError) as info:
                        await run.cycle({"s": GUARD_S})
                finally:
                    killer.cancel()
                detected = time.monotonic() - killed_at[0]
                assert detected < 5.0, detected
                message = str(info.value)
                assert f"Dask worker 1 ({address}, pid {pid})" in message
                assert "owned 1 nodes ('slow')" in message

        asyncio.run(main())
        # the nanny restarts the killed worker: a new, empty one; the run did not go on there
        assert_left_clean(cluster.scheduler_address)
        check_next_run_works(cluster.scheduler_address)


@pytest.mark.parametrize("policy", ["fail_fast", "isolate"])
def test_node_error_names_key_worker_and_remote_traceback(
    shared_cluster: LocalCluster, policy: str
) -> None:
    g = GraphBuilder()
    s = g.source("s", 0.0)
    a = g.node("a", FloatOp("add", 1.0), s)
    g.node("risk/AAPL", FloatOp("raise_above", 1.0), a)
    g.node("b", FloatOp("add", 2.0), s)
    graph = g.build()
    place = on_worker({"risk/AAPL": 1, "b": 1})
    sched = DaskScheduler(2, place, error_policy=policy, address=shared_cluster.scheduler_address)

    async def main() -> NodeError:
        async with sched.session(graph) as run:
            await run.start()
            try:
                result = await run.cycle({"s": 5.0})
            except NodeError as exc:
                return exc
            (err,) = result.errors
            assert run.values()["b"] == 7.0  # the rest of the run goes on (isolate)
            return err

    err = asyncio.run(main())
    assert err.key == "risk/AAPL"
    assert err.worker.startswith("worker-1[pid "), err.worker
    assert "_raise_above" in err.remote_traceback
    assert "ValueError: input 6.0 is above the limit 1.0" in err.remote_traceback
    if policy == "fail_fast":
        assert isinstance(err.__cause__, ValueError)
    assert_left_clean(shared_cluster.scheduler_address)


def test_runs_leave_the_cluster_as_found(shared_cluster: LocalCluster) -> None:
    """A normal end, an error and a refused start leave nothing; memory returns to its
    baseline (a few MB of allocator slack) after runs of a 20,000-node graph."""
    address = shared_cluster.scheduler_address
    g = GraphBuilder()
    s = g.source("s", 1.0)
    for i in range(20_000):
        g.node(f"n/{i}", FloatOp("add", float(i)), s)
    big = g.build()
    run_graph(big, [{"s": 2.0}], DaskScheduler(2, address=address))  # imports, caches
    assert_left_clean(address)
    with Client(address, set_as_default=False) as client:
        before = client.run(rss)
        for i in range(3):
            report = run_graph(big, [{"s": float(i)}], DaskScheduler(2, address=address))
            assert report.values["n/19999"] == i + 19_999.0
        after = client.run(rss)
    grown = {a: (after[a] - before[a]) / 2**20 for a in before}
    assert all(mb < 25 for mb in grown.values()), grown
    with pytest.raises(FluviusError, match="fewer than the 3 asked for"):
        DaskScheduler(3, address=address).session(big)
    assert_left_clean(address)


def test_ctrl_c_mid_cycle_leaves_nothing_on_the_cluster() -> None:
    """Ctrl-C while a Dask worker is inside a 30 s node: the run stops at once; the worker
    whose thread cannot be stopped is restarted; nothing is left; the next run works."""
    g = GraphBuilder()
    g.node("slow", _sleep, g.source("s", 0.0))
    graph = g.build()
    with local_cluster(2) as cluster:
        address = cluster.scheduler_address
        sched = DaskScheduler(2, on_worker({"slow": 1}), address=address)
        interrupt = threading.Timer(0.5, _thread.interrupt_main)
        interrupt.start()
        t0 = time.monotonic()
        try:
            with pytest.raises(KeyboardInterrupt):
                run_graph(graph, [{"s": GUARD_S}], sched)
        finally:
            interrupt.cancel()
        assert time.monotonic() - t0 < GUARD_S / 2
        assert_left_clean(address)
        check_next_run_works(address)


def test_unreachable_cluster_is_a_clear_error() -> None:
    with pytest.raises(OSError, match=r"127\.0\.0\.1:9"):
        DaskPool(address="tcp://127.0.0.1:9", start_timeout_s=1.0)


def test_cycle_timeout_names_the_running_node_and_restarts_its_worker() -> None:
    g = GraphBuilder()
    s = g.source("s", 0.0)
    g.node("slow", _sleep, s)
    g.node("other", FloatOp("add", 1.0), s)
    graph = g.build()
    with local_cluster(2) as cluster:
        address = cluster.scheduler_address
        sched = DaskScheduler(2, on_worker({"slow": 1}), address=address, cycle_timeout_s=1.5)
        t0 = time.monotonic()
        with pytest.raises(CycleTimeoutError, match=r"running: 'slow' .* on worker 1") as info:
            run_graph(graph, [{"s": GUARD_S}], sched)
        assert time.monotonic() - t0 < GUARD_S / 2
        assert info.value.running == ("slow",)
        assert_left_clean(address)
        check_next_run_works(address)


class _WrongPeers(DaskPool):
    """A pool whose hello gives the partitions a dead address for partition 0."""

    async def _connect(self, listen: list[str], args: dict[str, Any]) -> None:
        from distributed.comm import connect

        peers = ["tcp://127.0.0.1:9", *listen[1:]]

        async def one(w: int) -> None:
            comm = await connect(listen[w], **args)
            await comm.write({"fluvius": self.token, "role": "parent", "peers": peers})
            self.links[w].attach(comm)

        await asyncio.gather(*(one(w) for w in range(len(listen))))


def test_partitions_that_cannot_reach_each_other_fail_the_start(
    shared_cluster: LocalCluster,
) -> None:
    address = shared_cluster.scheduler_address
    with pytest.raises(FluviusError, match=r"partition 1 .* cannot reach partition 0 at tcp://"):
        _WrongPeers(2, address=address, start_timeout_s=4.0)
    assert_left_clean(address)
    check_next_run_works(address)
