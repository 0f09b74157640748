"""Partitioners by name, and :func:`partition_graph`, the one entry point schedulers call.

``partition_graph(graph, workers, "auto")`` takes the ``components`` partition at once
when it is at the lower bound (balanced within 2 %, under 2 % of the node-to-node edges
crossing: nothing can beat it, and simulating the others would cost more than a light
graph's start-up); otherwise it runs every registered partitioner whose dependencies are
installed, predicts each result's start-up makespan with the simulator
(:mod:`fluvius.partition.simulate`) and keeps the fastest; ties go to the earlier name in
:data:`PARTITIONERS` (cheaper, simpler partitioners are listed first), so the choice is
deterministic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fluvius.partition.base import Partition, Partitioner, round_robin
from fluvius.partition.components import components
from fluvius.partition.cost import check_costs, estimate_costs
from fluvius.partition.critical_path import critical_path
from fluvius.partition.metis import metis, metis_available
from fluvius.partition.simulate import simulate

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fluvius.graph.dag import Graph

__all__ = [
    "PARTITIONERS",
    "auto_candidates",
    "get_partitioner",
    "partition_graph",
    "partitioner_names",
]

PARTITIONERS: dict[str, Partitioner] = {
    "round_robin": round_robin,
    "components": components,
    "critical_path": critical_path,
    "metis": metis,
}
"""Every partitioner, by the name the CLI and :func:`partition_graph` accept."""


def partitioner_names() -> tuple[str, ...]:
    """The names :func:`partition_graph` accepts, ``"auto"`` first.

    >>> partitioner_names()[:2]
    ('auto', 'round_robin')
    """
    return ("auto", *PARTITIONERS)


def get_partitioner(name: str) -> Partitioner:
    """The partitioner called ``name``; a ValueError lists the known names otherwise."""
    try:
        return PARTITIONERS[name]
    except KeyError:
        known = ", ".join(partitioner_names())
        raise ValueError(f"unknown partitioner {name!r}; expected one of: {known}") from None


def partition_graph(
    graph: Graph,
    workers: int,
    partitioner: str | Partitioner = "auto",
    costs: Sequence[float] | None = None,
) -> Partition:
    """Assign every item of ``graph`` to one of ``workers`` workers.

    Parameters
    ----------
    graph
        The graph.
    workers
        How many workers (>= 1).
    partitioner
        A name from :data:`PARTITIONERS`, ``"auto"`` (the best predicted by the simulator)
        or a partitioner function.
    costs
        Compute seconds per item, by rank (e.g. from :func:`load_costs`); default:
        :func:`estimate_costs`.

    Examples
    --------
    >>> from fluvius import GraphBuilder
    >>> b = GraphBuilder()
    >>> x = b.source("x", 1.0)
    >>> _ = [b.node(f"n{i}", lambda v: v + 1, x) for i in range(4)]
    >>> p = partition_graph(b.build(), 2, "round_robin")
    >>> p.owner, p.partitioner
    ((0, 0, 1, 0, 1), 'round_robin')
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    resolved = estimate_costs(graph) if costs is None else check_costs(graph, costs)
    if callable(partitioner):
        return partitioner(graph, workers, resolved)
    if partitioner == "auto":
        return _best(graph, workers, resolved)
    return get_partitioner(partitioner)(graph, workers, resolved)


def auto_candidates() -> tuple[str, ...]:
    """The partitioners ``"auto"`` compares: every registered one that can run here."""
    return tuple(name for name in PARTITIONERS if name != "metis" or metis_available())


_BALANCED = 0.02
"""``auto`` takes a ``components`` partition at once when its heaviest worker is within
this fraction of a fair share and under this fraction of node-to-node edges cross."""


def _good_enough(graph: Graph, workers: int, costs: Sequence[float], p: Partition) -> bool:
    """True when ``p`` is at the lower bound of start-up makespan (a fair share of the work
    per worker, almost nothing crossing): no other partitioner can do better, so ``auto``
    skips simulating them (the simulations cost more than a light graph's whole start-up)."""
    load = [0.0] * workers
    for r, w in enumerate(p.owner):
        load[w] += costs[r]
    fair = sum(load) / workers
    if max(load) > fair * (1 + _BALANCED):
        return False
    owner = list(p.owner)
    for s in graph.sources:
        owner[s] = -1  # an edge from a source is not node-to-node
    edges = cross = 0
    for r, ins in enumerate(graph.inputs):
        mine = owner[r]
        for i in ins:
            w = owner[i]
            if w >= 0:
                edges += 1
                cross += w != mine
    return cross <= _BALANCED * max(edges, 1)


def _best(graph: Graph, workers: int, costs: tuple[float, ...]) -> Partition:
    first = components(graph, workers, costs)
    if _good_enough(graph, workers, costs, first):
        return first
    best: tuple[float, Partition] | None = None
    for name in auto_candidates():
        partition = PARTITIONERS[name](graph, workers, costs)
        makespan = simulate(graph, costs, partition).makespan_s
        if best is None or makespan < best[0]:
            best = (makespan, partition)
    assert best is not None  # round_robin is always a candidate
    return best[1]
