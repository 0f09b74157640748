"""Pictures of a graph: scopes collapsed into boxes, then DOT or Mermaid text.

Design
------
A 40,000-node graph drawn node by node is a black smear. Keys are hierarchical
(``AAPL/spot``, ``iv/U003/2026-12-18/C/150``), so :func:`collapse` groups the nodes by
*scope*: with no scope, one box per scope (one per underlying), each box counting its
nodes and sources, and one edge per pair of boxes carrying the number of node-to-node
edges between them. With a scope, only its keys are drawn (grouped by the key segment
after the scope's, or one box per key with ``depth=None``), plus one box per other scope
feeding or reading them, so the picture shows where the scope's inputs come from and
where its values go. The live dashboard (:mod:`fluvius.live.graphview`) draws the same
scopes.

**Scopes** (:func:`scope_function`). Projects put the underlying first (``U000/spot``,
``AAPL/vwap``, what :meth:`GraphBuilder.scope` builds) or second, after a kind
(``mid/AAPL``, ``iv/U000/2026-12-18/C/150``), often both in one graph; the rule reads the
keys once and decides, per first part, which it is. The feed's per-symbol sources
(``quote/SYM``, ``mid/SYM``, ``trade/SYM``: :data:`FEED_KINDS`) are kind prefixes, and
name the symbols. Another first part is a kind prefix (the scope is then the second part)
when most of the second parts after it are symbols or first parts elsewhere that are not
kinds themselves (``spread/AAPL`` beside ``quote/AAPL``; ``iv/U000`` beside ``U000/spot``,
but not ``risk/delta`` beside ``delta/U000``). Otherwise the first part is the scope
(``U000/spot``, ``risk/delta``); a one-part key is its own scope. Keys such as
``iv/AAPL/…`` with neither feed sources nor ``AAPL/…`` keys are drawn per kind: a
two-level grid of keys reads the same both ways, and only the feed or the other keys tell
which part is the underlying. Pass your own ``scope_of`` when the rule does not fit.

:func:`collapse` returns plain frozen data (:class:`Picture`, :class:`Box`,
:class:`Edge`), in a deterministic order: boxes in the rank order of their first member,
edges sorted by their boxes' order. :func:`dot_text` and :func:`mermaid_text` only format
it; any other renderer (the live dashboard's graph view) can start from the same data.
The public home of these names is :mod:`fluvius.observe.picture`; they live here so that
:meth:`fluvius.graph.Graph.to_dot` can use them without an upward import.

>>> from fluvius.graph import GraphBuilder
>>> g = GraphBuilder()
>>> for und in ("AAPL", "MSFT"):
...     s = g.scope(und)
...     spot = s.source("spot", 100.0)
...     fwd = s.node("fwd", lambda x: x * 1.01, spot)
...     half = s.node("half", lambda x: x / 2, spot)
>>> total = g.node("total", lambda a, b: a + b, "AAPL/fwd", "MSFT/fwd")
>>> picture = collapse(g.build())
>>> [(b.name, b.nodes, b.sources) for b in picture.boxes]
[('AAPL', 2, 1), ('MSFT', 2, 1), ('total', 1, 0)]
>>> [(e.src, e.dst, e.count) for e in picture.edges]
[('AAPL', 'total', 1), ('MSFT', 'total', 1)]
>>> [b.name for b in collapse(g.build(), "AAPL", depth=None).boxes]
['AAPL/spot', 'AAPL/fwd', 'AAPL/half', 'total']

Kinds first, underlyings second (``mid/U0`` beside ``U0/spot``): one box per underlying.

>>> g = GraphBuilder()
>>> for und in ("U0", "U1"):
...     spot = g.source(f"{und}/spot", 100.0)
...     mid = g.node(f"mid/{und}/C/100", lambda x: x / 10, spot)
...     iv = g.node(f"iv/{und}/C/100", lambda x: x / 100, mid)
>>> [(b.name, b.nodes, b.sources) for b in collapse(g.build()).boxes]
[('U0', 2, 1), ('U1', 2, 1)]
>>> [b.name for b in collapse(g.build(), "U0").boxes]
['U0/spot', 'mid/U0/C', 'iv/U0/C']
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fluvius.graph.keys import SEPARATOR
from fluvius.graph.node import SourceSpec

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from fluvius.graph.dag import Graph

__all__ = [
    "Box",
    "Edge",
    "FEED_KINDS",
    "Picture",
    "collapse",
    "dot_text",
    "mermaid_text",
    "scope_function",
]

FEED_KINDS: tuple[str, ...] = ("quote", "mid", "trade")
"""The feed adapter's per-symbol source kinds (``fluvius.feeds.adapter.SOURCE_KINDS``)."""


def scope_function(keys: Iterable[str], kinds: Iterable[str] = FEED_KINDS) -> Callable[[str], str]:
    """The key → scope rule for a graph with these keys (see the module doc).

    ``kinds``: first parts always taken as kind prefixes (the feed's per-symbol sources).

    >>> scope_of = scope_function(["U0/spot", "iv/U0/C/100", "risk/delta", "delta/U0"])
    >>> [scope_of(k) for k in ("U0/spot", "iv/U0/C/100", "risk/delta", "delta/U0", "x")]
    ['U0', 'U0', 'risk', 'U0', 'x']
    """
    seconds: dict[str, set[str]] = {}
    for key in keys:
        head, sep, rest = key.partition(SEPARATOR)
        after = seconds.setdefault(head, set())
        if sep:
            after.add(rest.partition(SEPARATOR)[0])
    feed_kinds = {kind for kind in kinds if seconds.get(kind)}
    symbols: set[str] = set().union(*(seconds[kind] for kind in feed_kinds))
    prefixes: frozenset[str] = frozenset()
    for _ in range(2):  # then again without the kinds found: ``risk/delta`` beside ``delta/U000``
        known = symbols | (seconds.keys() - prefixes)
        prefixes = frozenset(
            head
            for head, after in seconds.items()
            if head in feed_kinds or (after and 2 * sum(s in known for s in after) > len(after))
        )

    def scope_of(key: str) -> str:
        head, sep, rest = key.partition(SEPARATOR)
        if sep and head in prefixes:
            return rest.partition(SEPARATOR)[0]
        return head

    return scope_of


@dataclass(frozen=True, slots=True)
class Box:
    """One box of a picture: a group of keys sharing a prefix, or one key.

    ``name`` is the prefix (or the key); ``nodes`` and ``sources`` count its members;
    ``outside`` marks a box outside the picture's scope, drawn because it feeds or reads a
    key in the scope; ``single`` is True when the box is exactly one key named ``name``.
    """

    name: str
    nodes: int
    sources: int
    outside: bool = False
    single: bool = False

    @property
    def label(self) -> str:
        """The text drawn in the box: the name, then its counts unless it is one key."""
        if self.single:
            return self.name
        parts = []
        if self.nodes:
            parts.append(f"{self.nodes:,} node{'s' if self.nodes != 1 else ''}")
        if self.sources:
            parts.append(f"{self.sources:,} source{'s' if self.sources != 1 else ''}")
        return f"{self.name}\n{', '.join(parts)}"


@dataclass(frozen=True, slots=True)
class Edge:
    """``count`` edges of the graph lead from keys in box ``src`` to keys in box ``dst``."""

    src: str
    dst: str
    count: int


@dataclass(frozen=True, slots=True)
class Picture:
    """The boxes and edges of a collapsed graph (see :func:`collapse`)."""

    scope: str | None
    boxes: tuple[Box, ...]
    edges: tuple[Edge, ...]


def _prefix(key: str, segments: int) -> str:
    parts = key.split(SEPARATOR, segments)
    return key if len(parts) <= segments else SEPARATOR.join(parts[:segments])


def collapse(
    graph: Graph,
    scope: str | None = None,
    *,
    depth: int | None = 1,
    scope_of: Callable[[str], str] | None = None,
) -> Picture:
    """Group ``graph``'s keys into boxes by scope and count the edges between boxes.

    Parameters
    ----------
    graph
        The built graph.
    scope
        A scope such as ``"AAPL"`` (or any key prefix, such as ``"U003/n"``): draw only its
        keys (those ``scope_of`` puts in it, and the keys under the prefix), with the boxes
        outside it that are directly connected (one per scope), marked ``outside``. None
        draws the whole graph.
    depth
        Without ``scope``: 1 (the default) gives one box per scope, ``k > 1`` one box per
        first ``k`` key segments. With ``scope``: a box per key segments through the
        scope's and ``depth`` more. None gives one box per key.
    scope_of
        Key → scope; by default :func:`scope_function` of the graph's keys.

    Raises ValueError when no key lies in ``scope`` (naming close scopes) or when
    ``depth`` is not None or a positive int.
    """
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 1):
        raise ValueError(f"collapse: depth must be None or an int >= 1, got {depth=}")
    keys = graph.keys
    items = graph.items
    if scope_of is None:
        scope_of = scope_function(keys)
    inner = 0
    if scope is not None:
        scope = scope.strip(SEPARATOR)
        inner = len(scope.split(SEPARATOR))
    under = None if scope is None else scope + SEPARATOR
    box_of: list[int] = [-1] * len(keys)  # rank -> box index, -1 when not drawn
    names: list[str] = []
    where: dict[str, int] = {}
    for r, key in enumerate(keys):
        if under is None:
            name = key if depth is None else scope_of(key) if depth == 1 else _prefix(key, depth)
        else:
            if key == scope or key.startswith(under):
                at = inner
            elif scope_of(key) == scope:
                at = 1 + inner  # the scope is the key's second part: kind/SCOPE/...
            else:
                continue
            name = key if depth is None else _prefix(key, at + depth)
        b = where.get(name)
        if b is None:
            b = where[name] = len(names)
            names.append(name)
        box_of[r] = b
    if not names:
        tops = sorted({scope_of(k) for k in keys} | {_prefix(k, inner) for k in keys})
        close = difflib.get_close_matches(scope or "", tops, n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"no key of the graph lies under scope {scope!r}{hint}")
    outside_from = len(names)
    outside_of: dict[int, int] = {}  # rank -> box, for keys outside the scope next to it
    edge_count: dict[tuple[int, int], int] = {}
    for r, ins in enumerate(graph.inputs):
        for j in dict.fromkeys(ins):
            a, b = box_of[j], box_of[r]
            if a < 0 and b < 0:
                continue  # neither end in the scope
            if a < 0 or b < 0:  # one end outside: draw it in a box outside the scope
                out = j if a < 0 else r
                o = outside_of.get(out)
                if o is None:  # its scope, or its prefix beside a deeper scope (U003/n)
                    name = scope_of(keys[out]) if inner <= 1 else _prefix(keys[out], inner)
                    o = where.get(name)
                    if o is None:
                        o = where[name] = len(names)
                        names.append(name)
                    outside_of[out] = o
                a, b = (o, b) if a < 0 else (a, o)
            if a != b:
                edge_count[a, b] = edge_count.get((a, b), 0) + 1
    nodes = [0] * len(names)
    sources = [0] * len(names)
    for r, b in [*enumerate(box_of), *outside_of.items()]:
        if b < 0:
            continue
        if isinstance(items[r], SourceSpec):
            sources[b] += 1
        else:
            nodes[b] += 1
    index = graph.index
    boxes = tuple(
        Box(
            name,
            nodes[b],
            sources[b],
            outside=b >= outside_from,
            single=nodes[b] + sources[b] == 1
            and name in index
            and b in (box_of[index[name]], outside_of.get(index[name])),
        )
        for b, name in enumerate(names)
    )
    edges = tuple(Edge(names[a], names[b], n) for (a, b), n in sorted(edge_count.items()))
    return Picture(scope, boxes, edges)


def _dot_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def dot_text(picture: Picture) -> str:
    """The picture as Graphviz DOT text (``dot -Tsvg`` draws it).

    >>> p = Picture(None, (Box("AAPL", 2, 1), Box("total", 1, 0, single=True)),
    ...             (Edge("AAPL", "total", 1),))
    >>> print(dot_text(p))
    digraph fluvius {
      rankdir=LR;
      node [fontname="Helvetica", fontsize=10];
      "AAPL" [label="AAPL\\n2 nodes, 1 source", shape=box];
      "total" [label="total", shape=ellipse];
      "AAPL" -> "total";
    }
    """
    lines = [
        "digraph fluvius {",
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=10];',
    ]
    if picture.scope is not None:
        lines.append(f"  label={_dot_quote('scope ' + picture.scope)};")
    for box in picture.boxes:
        shape = "ellipse" if box.single else "box"
        style = ", style=dashed" if box.outside else ""
        lines.append(
            f"  {_dot_quote(box.name)} [label={_dot_quote(box.label)}, shape={shape}{style}];"
        )
    for edge in picture.edges:
        label = f" [label={_dot_quote(f'{edge.count:,}')}]" if edge.count > 1 else ""
        lines.append(f"  {_dot_quote(edge.src)} -> {_dot_quote(edge.dst)}{label};")
    lines.append("}")
    return "\n".join(lines)


def _mermaid_label(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", "<br/>")


def mermaid_text(picture: Picture) -> str:
    """The picture as a Mermaid flowchart (GitHub and many wikis draw it).

    >>> p = Picture(None, (Box("AAPL", 2, 1), Box("total", 1, 0, single=True)),
    ...             (Edge("AAPL", "total", 3),))
    >>> print(mermaid_text(p))
    flowchart LR
      b0["AAPL<br/>2 nodes, 1 source"]
      b1(["total"])
      b0 -->|3| b1
    """
    ids = {box.name: f"b{i}" for i, box in enumerate(picture.boxes)}
    lines = ["flowchart LR"]
    for box in picture.boxes:
        label = _mermaid_label(box.label)
        shape = f'(["{label}"])' if box.single else f'["{label}"]'
        lines.append(f"  {ids[box.name]}{shape}")
        if box.outside:
            lines.append(f"  style {ids[box.name]} stroke-dasharray: 5 5")
    for edge in picture.edges:
        arrow = f"-->|{edge.count:,}|" if edge.count > 1 else "-->"
        lines.append(f"  {ids[edge.src]} {arrow} {ids[edge.dst]}")
    return "\n".join(lines)
