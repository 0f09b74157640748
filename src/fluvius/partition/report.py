"""The partition report: is this assignment of nodes to workers good, how far would it scale?

:func:`partition_report` gathers, for one graph, costs and worker count:

* per worker: nodes owned, estimated work (sum of costs), cross-partition edges in and out,
  and the values and bytes it sends (one value per destination worker, however many
  readers it has there; sources come with the graph and are never sent);
* the lower bound on the start-up makespan, ``max(critical path, total work / workers)``:
  no schedule on that many workers can beat it, so ``bound / makespan`` is an efficiency;
* the simulator's predicted makespan (:mod:`fluvius.partition.simulate`) for each
  partitioner at 1, 2, 4, 8, 16 and 64 worker processes, with one core per worker (the
  graph's own scalability) and with the cores of this machine; and the serial scheduler's
  (the sum of the costs), which the process figures are to be compared with.

The report is data (:class:`PartitionReport`, :meth:`PartitionReport.to_dict` for JSON);
``fluvius partition`` prints it and can add a measured run (``--run``).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from fluvius.partition.calibrate import Calibration, default_calibration
from fluvius.partition.cost import check_costs, critical_path_s, estimate_costs
from fluvius.partition.registry import auto_candidates, partition_graph
from fluvius.partition.simulate import FLOAT_BYTES, simulate

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fluvius.graph.dag import Graph
    from fluvius.partition.base import Partition, Partitioner

__all__ = ["SCALING_WORKERS", "PartitionReport", "WorkerShare", "partition_report"]

SCALING_WORKERS = (1, 2, 4, 8, 16, 64)
"""The worker counts the report predicts a makespan for."""


@dataclass(frozen=True, slots=True)
class WorkerShare:
    """One worker's part of a partition."""

    worker: int
    nodes: int
    work_s: float
    edges_in: int
    edges_out: int
    values_out: int
    bytes_out: int


@dataclass(slots=True)
class PartitionReport:
    """See the module docstring; ``predictions[name][n]`` is a predicted makespan in seconds
    (one core per worker) and ``predictions_here`` the same on this machine's cores."""

    workers: int
    partitioner: str
    cost_source: str
    nodes: int
    sources: int
    total_work_s: float
    critical_path_s: float
    lower_bound_s: float
    serial_s: float
    predicted_s: float
    predicted_here_s: float
    spawn_s: float
    cores: int
    shares: list[WorkerShare]
    predictions: dict[str, dict[int, float]]
    predictions_here: dict[str, dict[int, float]]
    calibration: dict[str, float]
    measured: dict[str, Any] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (worker counts become string keys)."""
        doc = asdict(self)
        for key in ("predictions", "predictions_here"):
            doc[key] = {name: {str(n): s for n, s in row.items()} for name, row in doc[key].items()}
        return doc


def worker_shares(
    graph: Graph, partition: Partition, costs: Sequence[float], sizes: Sequence[int]
) -> list[WorkerShare]:
    """Per-worker nodes, work and cross-partition traffic of ``partition``."""
    owner = partition.owner
    sources = frozenset(graph.sources)
    nodes = [0] * partition.workers
    work = [0.0] * partition.workers
    edges_in = [0] * partition.workers
    edges_out = [0] * partition.workers
    sent: set[tuple[int, int]] = set()
    for r in range(len(graph.items)):
        if r not in sources:
            nodes[owner[r]] += 1
            work[owner[r]] += costs[r]
    for i, r in partition.cross_edges(graph):
        if i in sources:
            continue
        edges_out[owner[i]] += 1
        edges_in[owner[r]] += 1
        sent.add((i, owner[r]))
    values_out = [0] * partition.workers
    bytes_out = [0] * partition.workers
    for i, _ in sent:
        values_out[owner[i]] += 1
        bytes_out[owner[i]] += sizes[i]
    return [
        WorkerShare(w, nodes[w], work[w], edges_in[w], edges_out[w], values_out[w], bytes_out[w])
        for w in range(partition.workers)
    ]


def partition_report(
    graph: Graph,
    workers: int,
    partitioner: str | Partitioner = "auto",
    costs: Sequence[float] | None = None,
    *,
    sizes: Sequence[int] | None = None,
    calibration: Calibration | None = None,
    cost_source: str = "",
    scaling: Sequence[int] = SCALING_WORKERS,
) -> PartitionReport:
    """Report on partitioning ``graph`` for ``workers`` workers (see the module docstring).

    Parameters
    ----------
    graph, workers, partitioner, costs
        As for :func:`~fluvius.partition.partition_graph` (default costs: estimates).
    sizes
        Bytes of each value when sent, by rank (e.g. from a profile); default: a float each.
    calibration
        Machine figures; default :func:`default_calibration`.
    cost_source
        Where the costs came from, for the reader (default: "estimates" or "given").
    scaling
        Worker counts to predict for.

    Examples
    --------
    >>> from fluvius import GraphBuilder
    >>> b = GraphBuilder()
    >>> ends = [b.node(f"c{i}", lambda v: v, b.source(f"s{i}", 1.0)) for i in range(4)]
    >>> _ = b.node("total", lambda *v: sum(v), *ends)
    >>> r = partition_report(b.build(), 2, "components", [0, 1, 0, 1, 0, 1, 0, 1, 0.5])
    >>> [s.work_s for s in r.shares], r.lower_bound_s
    ([2.5, 2.0], 2.25)
    """
    cal = calibration or default_calibration()
    if costs is None:
        resolved = estimate_costs(graph, cal)
        cost_source = cost_source or "estimates"
    else:
        resolved = check_costs(graph, costs)
        cost_source = cost_source or "given"
    size = tuple(sizes) if sizes is not None else (FLOAT_BYTES,) * len(graph.items)
    cores = os.cpu_count() or 1
    chosen = partition_graph(graph, workers, partitioner, resolved)
    names = list(dict.fromkeys([*auto_candidates(), chosen.partitioner]))
    predictions: dict[str, dict[int, float]] = {}
    here: dict[str, dict[int, float]] = {}
    for name in names:
        predictions[name], here[name] = {}, {}
        for n in scaling:
            part = chosen if (n == workers and name == chosen.partitioner) else None
            if part is None:
                if name not in auto_candidates():
                    continue  # a partitioner function given by the caller: only at ``workers``
                part = partition_graph(graph, n, name, resolved)
            predictions[name][n] = simulate(graph, resolved, part, cal, sizes=size).makespan_s
            here[name][n] = (
                predictions[name][n]  # enough cores: the same simulation
                if n <= cores
                else simulate(graph, resolved, part, cal, sizes=size, cores=cores).makespan_s
            )
    total = sum(resolved)
    critical = critical_path_s(graph, resolved)
    mine = simulate(graph, resolved, chosen, cal, sizes=size)
    mine_here = simulate(graph, resolved, chosen, cal, sizes=size, cores=cores)
    return PartitionReport(
        workers=workers,
        partitioner=chosen.partitioner,
        cost_source=cost_source,
        nodes=len(graph),
        sources=len(graph.sources),
        total_work_s=total,
        critical_path_s=critical,
        lower_bound_s=max(critical, total / workers),
        serial_s=total,
        predicted_s=mine.makespan_s,
        predicted_here_s=mine_here.makespan_s,
        spawn_s=mine_here.spawn_s,
        cores=cores,
        shares=worker_shares(graph, chosen, resolved, size),
        predictions=predictions,
        predictions_here=here,
        calibration=cal.to_dict(),
    )
