"""The ``components`` partitioner: keep each independent sub-DAG whole, then balance.

Trading graphs are mostly one sub-DAG per underlying, joined at the end by a few global
aggregators (a portfolio total, a risk sum). Sub-DAGs that share no edge need no message
between them, so placing whole sub-DAGs on workers sends nothing but the aggregators'
inputs.

Grouping (union-find over edges, in rank order): a node joins the groups of its inputs,
except when its inputs lie in two or more groups whose union would outweigh a fair
share, ``total cost / workers``: such a node is a *global join* and stays a group of its
own. So 20 underlyings read by one ``total`` give 21 groups (20 sub-DAGs and the join),
while the join of two halves of one underlying (spot and rate sides meeting at its
aggregator) merges them.

Then sources: a source joins the groups of *all* its readers into one, under the same
fair-share rule. So an underlying's spot, read by its rolling statistics and by every one
of its options, keeps all of them on one worker and a tick of that spot touches one worker
only; a parameter read by every underlying would outweigh the share and glues nothing (it
is sent to every worker that reads it). A source goes with its first reader. Only a group
that alone outweighs a fair share (at many workers) can leave an underlying split.

Placement: LPT bin-packing (longest processing time first): groups by decreasing cost
(ties by their lowest rank) each go to the least loaded worker (ties by lowest id), which
is within 4/3 of the optimal maximum load (Graham, 1969). A group heavier than a fair
share cannot be split here; the ``critical_path`` partitioner handles such graphs.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from fluvius.partition.base import Partition, node_ranks, place_sources

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fluvius.graph.dag import Graph

__all__ = ["components", "group_components", "lpt"]


def _find(parent: list[int], x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def group_components(graph: Graph, costs: Sequence[float], share: float) -> list[list[int]]:
    """The groups of node ranks (see the module docstring), each in rank order.

    ``share`` is the cost above which joining two or more groups is refused.
    """
    n = len(graph.items)
    parent = list(range(n))
    weight = list(costs)
    is_source = [False] * n
    for s in graph.sources:
        is_source[s] = True
    inputs = graph.inputs
    nodes = node_ranks(graph)
    for r in nodes:
        first = -1  # the root of its first non-source input; roots: when there are more
        roots: set[int] | None = None
        for i in inputs[r]:
            if is_source[i]:
                continue
            x = parent[i]
            while parent[x] != x:  # _find, inlined: this loop is the partitioner's cost
                parent[x] = parent[parent[x]]
                x = parent[x]
            if first < 0:
                first = x
            elif x != first:
                if roots is None:
                    roots = {first}
                roots.add(x)
        if first < 0:
            continue
        if roots is None:  # one group: join it
            parent[r] = first
            weight[first] += weight[r]
            continue
        order = sorted(roots)
        merged = weight[r] + sum(weight[g] for g in order)
        if merged > share:
            continue  # a global join: a group of its own
        root = order[0]
        for g in order[1:]:
            parent[g] = root
        parent[r] = root
        weight[root] = merged
    children = graph.children
    for src in graph.sources:  # a source keeps all its readers together (module docstring)
        found: set[int] = set()
        for c in children[src]:
            x = parent[c]
            while parent[x] != x:  # _find, inlined
                parent[x] = parent[parent[x]]
                x = parent[x]
            found.add(x)
        if len(found) < 2:
            continue
        joined = sorted(found)
        merged = sum(weight[g] for g in joined)
        if merged > share:
            continue  # read across the graph: a parameter, not an underlying
        for g in joined[1:]:
            parent[g] = joined[0]
        weight[joined[0]] = merged
    groups: dict[int, list[int]] = {}
    for r in nodes:
        groups.setdefault(_find(parent, r), []).append(r)
    return list(groups.values())


def lpt(groups: Sequence[Sequence[int]], costs: Sequence[float], workers: int) -> list[int]:
    """Worker per group by LPT: heaviest group first to the least loaded worker."""
    order = sorted(
        range(len(groups)), key=lambda g: (-sum(costs[r] for r in groups[g]), groups[g][0])
    )
    loads = [(0.0, w) for w in range(workers)]
    placed = [0] * len(groups)
    for g in order:
        load, w = heapq.heappop(loads)
        placed[g] = w
        heapq.heappush(loads, (load + sum(costs[r] for r in groups[g]), w))
    return placed


def components(graph: Graph, workers: int, costs: Sequence[float] | None = None) -> Partition:
    """Place whole sub-DAGs on workers, balanced by cost (see the module docstring).

    Examples
    --------
    Two chains joined by a total: each chain on its own worker, the total with one.

    >>> from fluvius import GraphBuilder
    >>> b = GraphBuilder()
    >>> ends = []
    >>> for u in "ab":
    ...     prev = b.source(f"{u}/src", 1.0)
    ...     for j in range(3):
    ...         prev = b.node(f"{u}/{j}", lambda v: v, prev)
    ...     ends.append(prev)
    >>> _ = b.node("total", lambda *v: sum(v), *ends)
    >>> g = b.build()
    >>> p = components(g, 2)
    >>> {k: p.owner[g.index[k]] for k in ("a/2", "b/2", "total")}
    {'a/2': 0, 'b/2': 1, 'total': 0}
    """
    cost = [1.0] * len(graph.items) if costs is None else list(costs)
    for s in graph.sources:
        cost[s] = 0.0
    share = sum(cost) / workers
    groups = group_components(graph, cost, share)
    owner = [0] * len(graph.items)
    for group, w in zip(groups, lpt(groups, cost, workers), strict=True):
        for r in group:
            owner[r] = w
    place_sources(graph, owner)
    return Partition(workers=workers, owner=tuple(owner), partitioner="components")
