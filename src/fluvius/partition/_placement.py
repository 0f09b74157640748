"""Nodes the process scheduler's parent computes itself: cheap aggregates across workers.

Why
---
On the usual trading shapes (one sub-graph per underlying, a few portfolio totals across
them) a partition keeps each underlying on one worker, but a total that sums every
underlying's figure reads nodes of every worker. Wherever that total lives, a tick of an
underlying owned by *another* worker pays two more process hops than serial (owner →
total's worker → parent) and wakes a worker that has nothing else to do. The parent
hears from every worker in a cycle anyway (``Done``), so a total computed there costs no
hop at all: a one-underlying tick becomes one round trip, parent → owner → parent.

Which nodes
-----------
A node is computed by the parent when

* it is a plain sync node (not async, not stateful: no state lives in the parent),
* it is cheap: a built-in arithmetic op of a spec (:data:`CHEAP_OPS`), or, when the
  scheduler was given measured ``costs``, at most :data:`PARENT_NODE_MAX_S` seconds,
* it gathers values of two workers or more, directly or through other cheap nodes (a
  total of per-desk totals, each on its own worker, counts), and
* every one of its readers is computed by the parent too, so that no value ever goes
  back from the parent to a worker within a cycle.

A node whose inputs all come from one worker stays there: its owner computes it in the
same sync loop, at no cost in hops. The parent takes at most :data:`MAX_PARENT_NODES`.
Two passes: in rank order, the workers each cheap node gathers from (:data:`_MANY` once
there are two); then from the last rank down, the nodes that qualify.

The owner table sent to the workers says :data:`~fluvius.scheduling._messages.PARENT` for
these nodes; a worker sends how their inputs settled in its ``Done`` reply
(``Done.parent_settles``), and the parent applies them and runs the engine's sync loop
(``compute_cycle``) over its own nodes once every worker of the cycle is done.

The choice lives in the partition layer so that the simulator (``simulate.py``) predicts
the same placement as the process scheduler makes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fluvius.graph.dag import Graph

__all__ = ["CHEAP_OPS", "MAX_PARENT_NODES", "PARENT_NODE_MAX_S", "parent_nodes"]

CHEAP_OPS = frozenset(
    {"add", "sub", "mul", "div", "neg", "identity", "scale", "sum", "mean", "min", "max"}
)
"""Spec ops cheap enough for the parent: arithmetic over the inputs (not ``spin``)."""

PARENT_NODE_MAX_S = 20e-6
"""With measured costs, the most a node may take to be computed by the parent."""

MAX_PARENT_NODES = 256
"""At most this many nodes go to the parent, the last ranks first (the parent computes
them one after the other, after the workers: a partition that scatters a graph of cheap
nodes, round robin over a long chain, must not turn into a serial run in the parent)."""


_MANY = -2
"""A cheap node's span when it gathers from two workers or more."""
_NONE = -3
"""... when it reads sources only."""


def parent_nodes(
    graph: Graph, owner: Sequence[int], costs: Sequence[float] | None = None
) -> list[int]:
    """The ranks the parent computes (module docstring), in rank order; ``owner`` is the
    partition's owner table; ``costs`` measured seconds per rank, if any."""
    items, inputs, children = graph.items, graph.inputs, graph.children
    n = len(items)
    if costs is None:  # the candidates: cheap plain sync nodes, in rank order
        cheap = [
            r
            for r, it in enumerate(items)
            if getattr(it, "op", None) in CHEAP_OPS and getattr(it, "kind", "") == "sync"
        ]
    else:
        cheap = [
            r
            for r, it in enumerate(items)
            if getattr(it, "kind", "") == "sync" and costs[r] <= PARENT_NODE_MAX_S
        ]
    if not cheap:
        return []
    is_source = [False] * n
    for s in graph.sources:
        is_source[s] = True
    span = [_NONE] * n  # cheap nodes: the one worker they gather from, or _MANY
    for r in cheap:
        here = _NONE
        for j in inputs[r]:
            if is_source[j]:
                continue  # a source: the parent has its value
            w = _MANY if span[j] == _MANY else owner[j]
            if w == here:
                continue
            if here != _NONE or w == _MANY:
                here = _MANY
                break
            here = w
        span[r] = here
    mine = [False] * n
    left = MAX_PARENT_NODES
    for r in reversed(cheap):  # readers first: a node's readers are decided before it
        if not left:
            break
        if span[r] == _MANY and all(mine[c] for c in children[r]):
            mine[r] = True
            left -= 1
    return [r for r in cheap if mine[r]]
