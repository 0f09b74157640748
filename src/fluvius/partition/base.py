"""The node-to-worker assignment every partitioner produces and every scheduler consumes.

A :class:`Partition` maps each item of a :class:`~fluvius.graph.Graph` (sources and nodes,
by rank, the graph's index) to a worker id in ``range(workers)``. Sources are assigned
too: the worker that owns a source receives its changes and sends its value to readers on
other workers, so a source placed with its readers costs no message.

Partitioners are functions ``(graph, workers, costs) -> Partition``; ``costs`` gives each
item's estimated compute seconds by rank (``None``: every node costs the same, sources
nothing). They are deterministic: ties are broken by rank, never by set or dict order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fluvius.graph.dag import Graph

__all__ = ["Partition", "Partitioner", "node_ranks", "place_sources", "round_robin"]


@dataclass(frozen=True, slots=True)
class Partition:
    """Which worker owns each item of a graph.

    Attributes
    ----------
    workers
        The number of workers; every id in ``owner`` is in ``range(workers)``.
    owner
        ``owner[rank]`` is the worker of the graph item with that rank.
    partitioner
        The name of the partitioner that made it (reports print it).
    """

    workers: int
    owner: tuple[int, ...]
    partitioner: str

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"a partition needs at least one worker, got {self.workers=}")
        bad = [w for w in self.owner if not 0 <= w < self.workers]
        if bad:
            raise ValueError(f"worker ids must be in range({self.workers}), found {bad[0]}")

    def items_of(self, worker: int) -> tuple[int, ...]:
        """The ranks owned by ``worker``, in rank (topological) order."""
        return tuple(r for r, w in enumerate(self.owner) if w == worker)

    def cross_edges(self, graph: Graph) -> list[tuple[int, int]]:
        """The node-to-node edges ``(input rank, reader rank)`` whose ends sit on different
        workers: the values that must travel between workers during a cycle.

        An edge counts once however often the reader lists the input. Edges from sources do
        not count: a source's value goes from the parent to every worker that reads it
        (:meth:`source_readers`), never from one worker to another. This one definition is
        what ``fluvius run --json`` (``stats.cross_edges``), the partition report and the
        ``graph-partition`` config collector all print.
        """
        owner = self.owner
        sources = frozenset(graph.sources)
        return [
            (i, r)
            for r, ins in enumerate(graph.inputs)
            for i in dict.fromkeys(ins)
            if owner[i] != owner[r] and i not in sources
        ]

    def source_readers(self, graph: Graph) -> dict[int, tuple[int, ...]]:
        """Source rank → the workers that read it (ascending; empty when nothing reads it).

        A tick of a source involves exactly these workers; a source read on two workers is
        sent twice.
        """
        owner = self.owner
        return {s: tuple(sorted({owner[c] for c in graph.children[s]})) for s in graph.sources}


Partitioner = Callable[["Graph", int, "Sequence[float] | None"], Partition]
"""``partitioner(graph, workers, costs) -> Partition``."""


def node_ranks(graph: Graph) -> list[int]:
    """The ranks of the nodes (sources left out), in rank order."""
    sources = frozenset(graph.sources)
    return [r for r in range(len(graph.items)) if r not in sources]


def place_sources(graph: Graph, owner: list[int]) -> list[int]:
    """Give each source the worker of its first (lowest-ranked) reader, 0 when unread.

    A source placed with a reader costs that reader no message; ``owner`` is updated in
    place and returned.
    """
    for s in graph.sources:
        readers = graph.children[s]
        owner[s] = owner[readers[0]] if readers else 0
    return owner


def round_robin(graph: Graph, workers: int, costs: Sequence[float] | None = None) -> Partition:
    """Deal the nodes to workers in rank order, a source going with its first reader.

    The baseline every other partitioner is compared with: perfectly balanced by count,
    blind to edges and costs.

    Examples
    --------
    >>> from fluvius import GraphBuilder
    >>> b = GraphBuilder()
    >>> x = b.source("x", 1.0)
    >>> _ = [b.node(f"n{i}", lambda v: v + 1, x) for i in range(4)]
    >>> round_robin(b.build(), 2).owner
    (0, 0, 1, 0, 1)
    """
    del costs  # round robin ignores costs by design
    owner = [0] * len(graph.items)
    for dealt, rank in enumerate(node_ranks(graph)):
        owner[rank] = dealt % workers
    place_sources(graph, owner)
    return Partition(workers=workers, owner=tuple(owner), partitioner="round_robin")
