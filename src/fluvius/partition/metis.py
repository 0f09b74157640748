"""The ``metis`` partitioner: k-way minimum edge cut with a balance constraint (METIS).

METIS (Karypis and Kumar, 1998) splits an undirected graph into ``k`` parts of near-equal
vertex weight while cutting as few edges as it can, by multilevel coarsening, an initial
partition of the coarsest graph, and refinement while uncoarsening. Here the vertices are
the nodes (sources go with their first reader), the edges the node-to-node edges taken
both ways, and a vertex weighs its cost in microseconds (at least 1), so balance means
balanced work. The imbalance tolerance is 3 % (``ufactor=30``) and the random seed is
fixed, so a graph always gets the same partition.

METIS minimises messages, not makespan: it ignores the order of work, so it can give a
worker a part of the graph that only becomes ready late (the simulator sees that).

pymetis is an optional dependency (``pip install 'fluvius[metis]'``); without it this
partitioner raises an ImportError saying so, and ``auto`` skips it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING, Any

from fluvius.partition.base import Partition, node_ranks, place_sources

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from fluvius.graph.dag import Graph

__all__ = ["metis", "metis_available"]

_UFACTOR = 30  # allowed imbalance, in thousandths
_SEED = 0


def _import_pymetis() -> Any:
    try:
        import pymetis
    except ImportError as exc:
        raise ImportError(
            "the 'metis' partitioner needs pymetis: pip install 'fluvius[metis]' "
            "(or choose another partitioner: round_robin, components, critical_path)"
        ) from exc
    return pymetis


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """METIS prints to the C-level standard output (``***Cannot bisect a graph with 0
    vertices!`` when a part of its recursion is empty: harmless, it still returns a valid
    partition); a user reading a report would take it for an error. Point file
    descriptor 1 at the null device meanwhile."""
    try:
        saved = os.dup(1)
    except OSError:  # no standard output to silence
        yield
        return
    sys.stdout.flush()
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def metis_available() -> bool:
    """True when pymetis can be imported."""
    try:
        _import_pymetis()
    except ImportError:
        return False
    return True


def metis(graph: Graph, workers: int, costs: Sequence[float] | None = None) -> Partition:
    """k-way min-cut partition with balanced cost, through pymetis (module docstring).

    Raises
    ------
    ImportError
        pymetis is not installed.
    """
    pymetis = _import_pymetis()
    owner = [0] * len(graph.items)
    nodes = node_ranks(graph)
    if len(nodes) <= workers:  # METIS refuses more parts than vertices: one node each
        for w, r in enumerate(nodes):
            owner[r] = w
    elif workers > 1:
        vertex = {r: v for v, r in enumerate(nodes)}
        adjacency: list[set[int]] = [set() for _ in nodes]
        for r in nodes:
            for i in graph.inputs[r]:
                j = vertex.get(i)
                if j is not None and j != vertex[r]:
                    adjacency[vertex[r]].add(j)
                    adjacency[j].add(vertex[r])
        xadj = [0]
        adjncy: list[int] = []
        for near in adjacency:
            adjncy.extend(sorted(near))
            xadj.append(len(adjncy))
        weights = (
            [1] * len(nodes) if costs is None else [max(1, round(costs[r] * 1e6)) for r in nodes]
        )
        options = pymetis.Options(seed=_SEED, ufactor=_UFACTOR)
        csr = pymetis.CSRAdjacency(adj_starts=xadj, adjacent=adjncy)
        with _quiet_stdout():
            _, parts = pymetis.part_graph(workers, csr, vweights=weights, options=options)
        for r, w in zip(nodes, parts, strict=True):
            owner[r] = int(w)
    place_sources(graph, owner)
    return Partition(workers=workers, owner=tuple(owner), partitioner="metis")
