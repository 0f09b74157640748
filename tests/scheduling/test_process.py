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
from fluvius.partition import round_robin
from fluvius.scheduling import ProcessScheduler, WorkerPool
from fluvius.testing import SchedulerSuite

pytestmark = pytest.mark.slow


class TestProcessScheduler(SchedulerSuite):
    worker_counts = (1, 2, 3)
    shares_memory = False
    max_examples = 40  # every example is several round trips between processes
    pools: ClassVar[dict[int, WorkerPool]] = {}

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
        # round robin spreads even tiny graphs over every worker: the most cross edges
        return ProcessScheduler(
            workers, round_robin, error_policy=error_policy, pool=pool, freeze_gc=False
        )
