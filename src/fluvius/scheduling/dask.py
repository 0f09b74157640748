"""The Dask scheduler: one graph on the workers of a Dask distributed cluster.

Design note
-----------
Dask places, starts and watches; values go worker to worker. Measured on loopback, an
actor call costs 0.6 to 1.2 ms, a task round trip about 11 ms, and ``Queue`` and Pub/Sub
go through the scheduler (or are gone), while a persistent ``distributed.comm``
connection costs about 0.3 ms (0.36 ms with TLS). So the Dask scheduler is the process
scheduler with another placement and another transport, and nothing else:

- one partition per Dask worker, placed with ``Client.run`` and held there for the whole
  run by a partition host (``_dask_host.py``) that runs the process scheduler's worker
  runtime (``_worker.py``: the same messages, the same cycle driver, the same semantics)
  in a thread of the Dask worker process;
- per cycle, one batched one-way message per peer over connections opened once per pair
  (``_comm.CommLink`` over ``distributed.comm``, with the cluster's ``Security``: TLS
  when the cluster uses it);
- the parent's protocol is :class:`~fluvius.scheduling.process.ProcessSession`'s, run on
  a :class:`~fluvius.scheduling._dask_pool.DaskPool` instead of a ``WorkerPool``;
- Dask for placement, life cycle (``LocalCluster`` or an existing cluster), health (the
  pool's own heartbeats, and the links closing when a worker dies) and its dashboard.

Clusters. Without ``address`` a session starts a ``LocalCluster`` of ``workers`` processes
bound to 127.0.0.1 (dashboard on a free loopback port) and closes it at the end;
with ``address`` it runs on that cluster (``workers``: how many of its workers to use,
default all) and leaves it as it found it: no task, actor or plugin is ever registered,
and every partition host is gone when the session closes (see ``_dask_pool.py``). A
:class:`~fluvius.scheduling._dask_pool.DaskPool` given as ``pool`` runs many sessions in
turn on the same placed partitions (tests, notebooks).

Faults. A Dask worker that dies (even SIGKILL) closes its connections: the session
raises ``WorkerDiedError`` naming its address and its nodes at once; a worker silent for
``heartbeat_timeout_s`` (3 s) counts as dead too. The run never goes on with a worker its
nanny restarted: that worker's partition state is gone. A node exception is a
``NodeError`` with the remote traceback, as on every scheduler.

Figures: ``spawn_seconds`` is the cluster's start (local) or the connection (existing),
plus placing the partitions; ``startup_seconds`` shipping, loading and computing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fluvius.engine.state import check_policy
from fluvius.scheduling.base import check_seconds
from fluvius.scheduling.process import ProcessSession

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

    from distributed import Client, Security

    from fluvius.engine.state import ErrorPolicy
    from fluvius.graph.dag import Graph
    from fluvius.partition.base import Partitioner
    from fluvius.scheduling._dask_pool import DaskPool
    from fluvius.scheduling._pool import Pool

__all__ = ["DaskScheduler", "DaskSession"]


class DaskScheduler:
    """Runs graphs on a Dask distributed cluster, one partition per Dask worker.

    Parameters
    ----------
    workers
        Partitions, one per Dask worker. Without ``address``: the local cluster's size
        (default 2). With ``address``: how many of the cluster's workers to use (default
        all of them).
    address
        ``tcp://HOST:PORT`` or ``tls://HOST:PORT`` of an existing cluster's scheduler;
        default: a ``LocalCluster`` on 127.0.0.1, started and closed by each session.
    security
        A ``distributed.Security`` (TLS certificates); default: Dask's configuration
        (``distributed.comm.tls.*``, e.g. ``DASK_DISTRIBUTED__COMM__TLS__CA_FILE``).
    partitioner, costs, error_policy, trace, freeze_gc, watchdog_s, cycle_timeout_s
        As for :class:`~fluvius.scheduling.ProcessScheduler`. At ``cycle_timeout_s`` the
        Dask workers still in the cycle are restarted by their nannies.
    pool
        A :class:`~fluvius.scheduling.DaskPool` to run on (kept open after the session).
    client
        A ``distributed.Client`` to use (kept open); excludes ``address``.
    dashboard_address
        The local cluster's dashboard; default: a free port on 127.0.0.1 (its pages need
        ``bokeh``).
    heartbeat_timeout_s
        A Dask worker silent this long (no value, no heartbeat) counts as dead.

    Examples
    --------
    >>> from fluvius import GraphBuilder, run_graph
    >>> g = GraphBuilder()
    >>> x = g.source("x", 1.0)
    >>> _ = g.node("double", lambda v: 2 * v, x)
    >>> run_graph(g.build(), [{"x": 4.0}], DaskScheduler(workers=1)).values["double"]
    8.0
    """

    name = "dask"

    def __init__(
        self,
        workers: int | None = None,
        partitioner: str | Partitioner = "auto",
        costs: Sequence[float] | None = None,
        error_policy: ErrorPolicy = "fail_fast",
        trace: bool | str | os.PathLike[str] = False,
        *,
        address: str | None = None,
        security: Security | None = None,
        pool: DaskPool | None = None,
        client: Client | None = None,
        dashboard_address: str = "127.0.0.1:0",
        freeze_gc: bool = True,
        watchdog_s: float | None = None,
        cycle_timeout_s: float | None = None,
        heartbeat_timeout_s: float = 3.0,
    ) -> None:
        if workers is not None and (
            isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
        ):
            raise ValueError(f"workers must be an int >= 1 or None, got {workers=}")
        if address is not None and not isinstance(address, str):
            raise ValueError(f"address must be a string like 'tcp://HOST:PORT', got {address!r}")
        if address is not None and "://" not in address:
            raise ValueError(
                f"address {address!r} names no protocol; write tcp://{address} or tls://{address}"
            )
        if pool is not None and workers is not None and pool.workers != workers:
            raise ValueError(f"the pool has {pool.workers} workers, not {workers=}")
        if sum(x is not None for x in (address, pool, client)) > 1:
            raise ValueError("give at most one of address, pool and client")
        self.workers = workers
        self.address = address
        self.security = security
        self.client = client
        self.dashboard_address = dashboard_address
        self.partitioner = partitioner
        self.costs = costs
        self.error_policy = check_policy(error_policy)
        self.trace = trace
        self.pool = pool
        self.freeze_gc = freeze_gc
        self.watchdog_s = check_seconds("watchdog_s", watchdog_s)
        self.cycle_timeout_s = check_seconds("cycle_timeout_s", cycle_timeout_s)
        self.heartbeat_timeout_s = check_seconds("heartbeat_timeout_s", heartbeat_timeout_s)
        # the parent's own totals (process scheduler, ``partition/_placement.py``) are not used on
        # Dask yet: the hosts run the same worker code, but nothing measured them there
        self.parent_nodes = False
        # replies come through the I/O loop's thread, in milliseconds over the network: a
        # live cycle's wait always returns to the event loop (ProcessScheduler.block_s)
        self.block_s = 0.0
        self.spin_s = 0.0

    def session(self, graph: Graph) -> DaskSession:
        """A new run of ``graph``: places its partitions on the cluster (starting a local
        one when no address, pool or client is given)."""
        return DaskSession(graph, self)

    def __repr__(self) -> str:
        where = self.address or ("a pool" if self.pool else "a local cluster")
        return (
            f"DaskScheduler(workers={self.workers}, on {where}, "
            f"partitioner={self.partitioner!r}, error_policy={self.error_policy!r})"
        )


class DaskSession(ProcessSession):
    """One run on the Dask scheduler (the process scheduler's session on a DaskPool)."""

    worker_name = "dask"

    def __init__(self, graph: Graph, scheduler: DaskScheduler) -> None:
        self.dask = scheduler
        super().__init__(graph, scheduler)

    def _open_pool(self) -> Pool:
        from fluvius.scheduling._dask_pool import DaskPool

        s = self.dask
        return DaskPool(
            s.workers,
            address=s.address,
            security=s.security,
            client=s.client,
            dashboard_address=s.dashboard_address,
            heartbeat_timeout_s=s.heartbeat_timeout_s or 3.0,
        )

    def _dask_pool(self) -> DaskPool | None:
        pool = self.pool if self.pool is not None else self.dask.pool
        return pool  # type: ignore[return-value]

    def worker_stats(self) -> list[dict[str, Any]]:
        """The process scheduler's figures, plus each worker's Dask address."""
        stats = super().worker_stats()
        pool = self._dask_pool()
        if pool is not None:
            for w, row in enumerate(stats):
                row["address"] = pool.addresses[w]
        return stats

    def run_stats(self) -> dict[str, Any]:
        stats = super().run_stats()
        pool = self._dask_pool()
        if pool is not None:
            stats["dask_scheduler"] = pool.scheduler_address
        return stats
