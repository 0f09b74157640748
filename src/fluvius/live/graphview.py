"""The dashboard's picture of the graph: collapsed per scope, or one scope's nodes.

Design note
-----------
A live graph has tens of thousands of nodes, far too many to draw. The dashboard shows it
in two levels, both computed here (server side, once per graph and scope, then cached by
the HTTP server) so that the page only draws boxes and edges:

* :func:`collapse`: one box per *scope* (an underlying), with its node and source counts,
  and one edge per pair of scopes joined by at least one node edge (with the count);
* :func:`scope_view`: the nodes of one scope, plus one box per other scope feeding it
  (``in``) or reading from it (``out``).

:func:`collapse_members` also gives each scope's keys (their ranks): with them, a scope's
own view (``members=``) costs its nodes, not a pass over the whole graph.

Both give every box a *layer* for a simple layered drawing (columns left to right). The
layer of a box is one more than the highest layer among its inputs, computed in one pass
in the graph's topological order. Scopes can depend on each other both ways (``A/x →
B/y → A/z``): the pass gives such a pair an order all the same, and the edge that goes
back is drawn backwards (a scope is not moved after a scope that it already feeds).

**Scopes** are the ones ``fluvius graph`` draws: :func:`scope_function` is
:func:`fluvius.graph._picture.scope_function` (public in :mod:`fluvius.observe.picture`),
whose module doc gives the rule (the underlying, whether it comes first, ``U000/spot``, or
after a kind, ``mid/AAPL``, ``iv/U000/…``). Pass your own ``scope_of`` to the server when
the rule does not fit.

>>> from fluvius.graph import GraphBuilder
>>> b = GraphBuilder()
>>> for sym in ("AAPL", "MSFT", "IBM"):
...     m = b.source(f"mid/{sym}", 1.0)
...     _ = b.node(f"spread/{sym}", lambda x: x, m)
>>> _ = b.node("index/sum", lambda *xs: sum(xs), "mid/AAPL", "mid/MSFT", "mid/IBM")
>>> g = b.build()
>>> scope_of = scope_function(g.keys)
>>> scope_of("mid/AAPL"), scope_of("index/sum")
('AAPL', 'index')
>>> view = collapse(g, scope_of)
>>> [(s["id"], s["nodes"], s["layer"]) for s in view["scopes"]]
[('AAPL', 2, 0), ('IBM', 2, 0), ('MSFT', 2, 0), ('index', 1, 1)]
>>> view["edges"]
[[0, 3, 1], [1, 3, 1], [2, 3, 1]]
>>> one = scope_view(g, "AAPL", scope_of)
>>> [(n["key"], n["layer"]) for n in one["nodes"]]
[('mid/AAPL', 0), ('spread/AAPL', 1)]
>>> one["external"], one["edges"]
([{'scope': 'index', 'dir': 'out', 'layer': 1}], [[0, 1], [0, 2]])
>>> view2, members = collapse_members(g, scope_of)
>>> view2 == view, members["AAPL"]
(True, [0, 1])
>>> scope_view(g, "AAPL", scope_of, members=members["AAPL"]) == one
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fluvius.graph._picture import scope_function
from fluvius.graph.node import NodeSpec

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from fluvius.graph.dag import Graph

__all__ = ["collapse", "collapse_members", "scope_function", "scope_view"]


def collapse(graph: Graph, scope_of: Callable[[str], str]) -> dict[str, Any]:
    """One box per scope (sorted by name) and the edges between scopes.

    Returns ``{"nodes": total, "scopes": [{"id", "nodes", "sources", "layer"}], "edges":
    [[from index, to index, node edges], ...]}`` with edges sorted.
    """
    return collapse_members(graph, scope_of)[0]


def collapse_members(
    graph: Graph, scope_of: Callable[[str], str]
) -> tuple[dict[str, Any], dict[str, list[int]]]:
    """:func:`collapse`, and per scope the ranks of its keys (in topological order)."""
    keys = graph.keys
    of_rank = [scope_of(k) for k in keys]
    layer: dict[str, int] = {}
    counts: dict[str, list[int]] = {}
    pairs: dict[tuple[str, str], int] = {}
    members: dict[str, list[int]] = {}
    items = graph.items
    for r, ins in enumerate(graph.inputs):
        here = of_rank[r]
        count = counts.get(here)
        if count is None:
            count = counts[here] = [0, 0]
            layer[here] = 0
            members[here] = []
        members[here].append(r)
        count[0] += 1
        if not isinstance(items[r], NodeSpec):
            count[1] += 1
        for j in dict.fromkeys(ins):
            there = of_rank[j]
            if there != here:
                pairs[there, here] = pairs.get((there, here), 0) + 1
                if layer[there] >= layer[here] and (here, there) not in pairs:
                    layer[here] = layer[there] + 1
    names = sorted(counts)
    index = {name: i for i, name in enumerate(names)}
    picture = {
        "nodes": len(keys),
        "scopes": [
            {"id": n, "nodes": counts[n][0], "sources": counts[n][1], "layer": layer[n]}
            for n in names
        ],
        "edges": sorted([index[a], index[b], c] for (a, b), c in pairs.items()),
    }
    return picture, members


def scope_view(
    graph: Graph,
    scope: str,
    scope_of: Callable[[str], str],
    *,
    limit: int = 5000,
    members: Sequence[int] | None = None,
) -> dict[str, Any]:
    """The nodes of ``scope`` (at most ``limit``, in topological order) and their edges.

    Returns ``{"scope", "total", "truncated", "nodes": [{"key", "op", "source",
    "created_at", "layer"}], "external": [{"scope", "dir", "layer"}], "edges": [[from,
    to], ...]}``. Edge ends index ``nodes`` then ``external`` (``len(nodes) + i``).
    ``members``: the ranks of the scope's keys when known (:func:`collapse_members`), so
    that the graph's other keys are not looked at.
    """
    keys = graph.keys
    if members is None:
        mine = [r for r, k in enumerate(keys) if scope_of(k) == scope]
    else:
        mine = list(members)
    position = {r: i for i, r in enumerate(mine[:limit])}
    nodes: list[dict[str, Any]] = []
    external: dict[tuple[str, str], dict[str, Any]] = {}
    edges: set[tuple[int, int]] = set()

    def outside(name: str, direction: str) -> int:
        box = external.get((name, direction))
        if box is None:
            box = external[name, direction] = {"scope": name, "dir": direction, "layer": 0}
            box["_id"] = len(external) - 1
        return int(box["_id"])

    pending_out: list[tuple[int, str]] = []
    for r, i in position.items():
        item = graph.items[r]
        depth = 0
        for j in dict.fromkeys(graph.inputs[r]):
            if j in position:
                depth = max(depth, nodes[position[j]]["layer"] + 1)
                edges.add((position[j], i))
            else:
                depth = max(depth, 1)
                edges.add((-1 - outside(scope_of(keys[j]), "in"), i))
        nodes.append(
            {
                "key": keys[r],
                "op": item.op if isinstance(item, NodeSpec) else "",
                "source": not isinstance(item, NodeSpec),
                "created_at": item.created_at,
                "layer": depth,
            }
        )
        pending_out.extend(
            (i, scope_of(keys[c])) for c in graph.children[r] if scope_of(keys[c]) != scope
        )
    for i, name in pending_out:
        box_id = outside(name, "out")
        box = external[name, "out"]
        box["layer"] = max(box["layer"], nodes[i]["layer"] + 1)
        edges.add((i, -1 - box_id))
    n = len(nodes)
    ordered = sorted(external.values(), key=lambda b: (b["dir"], b["scope"]))
    new_id = {int(b["_id"]): n + k for k, b in enumerate(ordered)}
    for b in ordered:
        del b["_id"]

    def end(e: int) -> int:
        return e if e >= 0 else new_id[-1 - e]

    return {
        "scope": scope,
        "total": len(mine),
        "truncated": len(mine) > limit,
        "nodes": nodes,
        "external": ordered,
        "edges": sorted([end(a), end(b)] for a, b in edges),
    }
