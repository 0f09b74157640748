"""Dask clusters for the Dask scheduler's tests: a LocalCluster on 127.0.0.1, and the
check that nothing of any run is left on a cluster (one definition for test_dask_faults
and test_dask_cluster)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from distributed import Client, LocalCluster

from fluvius.graph import GraphBuilder
from fluvius.graph.dag import Graph
from fluvius.partition import Partition
from fluvius.scheduling import DaskScheduler, run_graph
from fluvius.scheduling._dask_host import host_report
from fluvius.testing.strategies import FloatOp

GUARD_S = 30.0  # a bound reached only when something is wrong (and a long node's sleep)


@contextlib.contextmanager
def local_cluster(n: int = 2) -> Iterator[LocalCluster]:
    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    )
    try:
        yield cluster
    finally:
        cluster.close()


def rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def assert_left_clean(address: str, workers: int = 2, security: Any = None) -> None:
    """Nothing of any run on the cluster at ``address`` (waits a little for hosts whose
    parent link just closed)."""
    with Client(address, security=security, set_as_default=False) as client:
        client.wait_for_workers(workers, timeout=GUARD_S)
        deadline = time.monotonic() + 10.0
        while True:
            reports = client.run(host_report)
            clean = all(
                not r["hosts"]
                and not r["threads"]
                and not r["run_objects"]
                and r["gc_enabled"]
                and not r["gc_frozen"]
                for r in reports.values()
            )
            if clean or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert clean, reports


def on_worker(where: dict[str, int]) -> Any:
    """A partitioner placing the named nodes on the given workers, the rest on worker 0."""

    def place(graph: Graph, workers: int, costs: object) -> Partition:
        return Partition(workers, tuple(where.get(k, 0) for k in graph.keys), "by_key")

    return place


def small_graph() -> Graph:
    g = GraphBuilder()
    s = g.source("s", 1.0)
    a = g.node("a", FloatOp("add", 1.0), s)
    b = g.node("b", FloatOp("mul", 2.0), s)
    g.node("c", FloatOp("add", 0.0), a, b)
    return g.build()


def check_next_run_works(address: str, security: Any = None) -> None:
    sched = DaskScheduler(2, address=address, security=security)
    report = run_graph(small_graph(), [{"s": 3.0}], sched)
    assert report.values == {"s": 3.0, "a": 4.0, "b": 6.0, "c": 10.0}
