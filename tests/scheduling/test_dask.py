"""The Dask scheduler: the conformance suite at 1, 2 and 3 Dask workers.

One LocalCluster of three workers (127.0.0.1, no dashboard) serves the whole class, and
sessions run on long-lived partition pools (one per worker count, placed once) so that
random graphs do not each pay for placing partitions; the fault, cluster and TLS tests
(test_dask_faults.py, test_dask_cluster.py) start their own clusters.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from distributed import LocalCluster

from fluvius.engine.state import ErrorPolicy
from fluvius.partition import round_robin
from fluvius.scheduling import DaskPool, DaskScheduler
from fluvius.testing import SchedulerSuite

pytestmark = pytest.mark.slow


class TestDaskScheduler(SchedulerSuite):
    worker_counts = (1, 2, 3)
    shares_memory = False
    max_examples = 15  # every example is several round trips over TCP
    pools: ClassVar[dict[int, DaskPool]] = {}
    cluster: ClassVar[Any] = None
    # round robin spreads even tiny graphs over every worker: the most cross edges, so
    # partitions mostly run the event-driven path and values cross between Dask workers
    partitioner: ClassVar[object] = staticmethod(round_robin)

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _cluster(cls) -> Iterator[None]:
        cluster = LocalCluster(
            n_workers=3,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        )
        TestDaskScheduler.cluster = cluster
        try:
            yield
        finally:
            for pool in cls.pools.values():
                pool.close()
            cls.pools.clear()
            cluster.close()

    def make_scheduler(  # type: ignore[override]
        self, error_policy: ErrorPolicy, workers: int = 1
    ) -> DaskScheduler:
        pool = self.pools.get(workers)
        if pool is None or pool.broken or pool.closed:
            address = TestDaskScheduler.cluster.scheduler_address
            pool = self.pools[workers] = DaskPool(workers, address=address)
        return DaskScheduler(
            workers,
            self.partitioner,  # type: ignore[arg-type]
            error_policy=error_policy,
            pool=pool,
            freeze_gc=False,
        )
