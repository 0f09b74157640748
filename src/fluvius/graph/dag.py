"""The built, validated, immutable graph and its introspection.

Items (sources and nodes) are numbered in a deterministic topological order: an item's
index is its *rank*, every input has a lower rank than its reader, and ties keep insertion
order. Schedulers and the engine work on these integer ranks; keys are for people.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from fluvius.errors import CycleError
from fluvius.graph import _picture
from fluvius.graph._gc import gc_paused
from fluvius.graph.node import NodeSpec, SourceSpec
from fluvius.graph.validate import check_inputs_exist, topological_order

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = ["Graph"]


class Graph:
    """A validated DAG of sources and nodes (build it with :class:`GraphBuilder`)."""

    def __init__(self, items: Sequence[SourceSpec | NodeSpec]) -> None:
        with gc_paused():
            self._build(items)

    def _build(self, items: Sequence[SourceSpec | NodeSpec]) -> None:
        position = {item.key: i for i, item in enumerate(items)}
        get = position.__getitem__
        raw_inputs: list[tuple[int, ...]] = []
        sources: list[int] = []
        in_order = True  # every input placed before its reader: insertion order is topological
        every_tick = False
        for i, item in enumerate(items):
            if not isinstance(item, NodeSpec):
                raw_inputs.append(())
                sources.append(i)
                continue
            try:
                ins = tuple(map(get, item.inputs))
            except KeyError:
                check_inputs_exist(item.key, item.inputs, position)
                raise
            if ins and max(ins) >= i:
                in_order = False
            every_tick = every_tick or item.every_tick
            raw_inputs.append(ins)
        if in_order:
            self.items: tuple[SourceSpec | NodeSpec, ...] = tuple(items)
            self.inputs: tuple[tuple[int, ...], ...] = tuple(raw_inputs)
            self.sources: tuple[int, ...] = tuple(sources)
        else:
            try:
                order = topological_order(raw_inputs)
            except CycleError as exc:
                raise CycleError([items[int(i)].key for i in exc.cycle]) from None
            rank = [0] * len(order)
            for r, i in enumerate(order):
                rank[i] = r
            self.items = tuple(items[i] for i in order)
            self.inputs = tuple(tuple(rank[j] for j in raw_inputs[i]) for i in order)
            self.sources = tuple(sorted(rank[i] for i in sources))
        self.keys: tuple[str, ...] = (
            tuple(position) if in_order else tuple(item.key for item in self.items)
        )
        self.index: dict[str, int] = (
            position if in_order else {k: r for r, k in enumerate(self.keys)}
        )
        children: list[list[int]] = [[] for _ in self.items]
        for r, ins in enumerate(self.inputs):
            if len(ins) > 1 and len(set(ins)) < len(ins):
                ins = tuple(dict.fromkeys(ins))  # a node reading one input twice is one edge
            for j in ins:
                children[j].append(r)
        self.children: tuple[tuple[int, ...], ...] = tuple(map(tuple, children))
        if every_tick:
            self._with_every_tick_sources()

    def _with_every_tick_sources(self) -> None:
        """Mark every source upstream of an ``every_tick`` node as non-conflating."""
        wanting = [
            r for r, it in enumerate(self.items) if isinstance(it, NodeSpec) and it.every_tick
        ]
        if not wanting:
            return
        upstream = self._closure(wanting, self.inputs)
        items = list(self.items)
        for r in upstream:
            item = items[r]
            if isinstance(item, SourceSpec) and item.conflate:
                items[r] = SourceSpec(item.key, item.value, item.created_at, conflate=False)
        self.items = tuple(items)

    # -- introspection ------------------------------------------------------------------
    def __len__(self) -> int:
        """Number of nodes (sources not counted)."""
        return len(self.items) - len(self.sources)

    def __contains__(self, key: object) -> bool:
        return key in self.index

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys)

    def __repr__(self) -> str:
        return f"<Graph {len(self)} nodes, {len(self.sources)} sources, depth {self.depth()}>"

    @property
    def node_count(self) -> int:
        """Number of nodes (sources not counted)."""
        return len(self)

    @property
    def source_keys(self) -> tuple[str, ...]:
        """Keys of the sources, in rank order."""
        return tuple(self.keys[r] for r in self.sources)

    @property
    def node_keys(self) -> tuple[str, ...]:
        """Keys of the nodes, in rank order."""
        return tuple(
            k for k, it in zip(self.keys, self.items, strict=True) if isinstance(it, NodeSpec)
        )

    def spec(self, key: str) -> SourceSpec | NodeSpec:
        """The recorded spec of a node or source."""
        return self.items[self._rank(key)]

    def is_source(self, key: str) -> bool:
        """True when ``key`` names a source."""
        return isinstance(self.items[self._rank(key)], SourceSpec)

    @cached_property
    def levels(self) -> tuple[int, ...]:
        """Per rank, the length of the longest path from a source (sources are level 0)."""
        level = [0] * len(self.items)
        for r, ins in enumerate(self.inputs):
            if ins:
                level[r] = 1 + max(level[j] for j in ins)
        return tuple(level)

    def depth(self) -> int:
        """Length, in edges, of the longest path in the graph."""
        return max(self.levels, default=0)

    def descendants(self, key: str) -> tuple[str, ...]:
        """Keys of every node that depends on ``key`` (transitively), in rank order."""
        return tuple(self.keys[r] for r in self._closure([self._rank(key)], self.children))

    def ancestors(self, key: str) -> tuple[str, ...]:
        """Keys of everything ``key`` depends on (transitively), in rank order."""
        return tuple(self.keys[r] for r in self._closure([self._rank(key)], self.inputs))

    def to_dot(self, scope: str | None = None, *, collapse: bool = True) -> str:
        """Graphviz DOT text of the graph: one box per scope (first key segment) with its
        node count, and edges labelled with how many node edges they stand for.

        ``scope`` draws only the keys under that prefix (plus their neighbours outside it,
        dashed); ``collapse=False`` draws one box per key. See
        :func:`fluvius.observe.picture.collapse`.
        """
        picture = _picture.collapse(self, scope, depth=1 if collapse else None)
        return _picture.dot_text(picture)

    def to_mermaid(self, scope: str | None = None, *, collapse: bool = True) -> str:
        """Mermaid flowchart text of the graph (the same picture as :meth:`to_dot`)."""
        picture = _picture.collapse(self, scope, depth=1 if collapse else None)
        return _picture.mermaid_text(picture)

    def _rank(self, key: str) -> int:
        try:
            return self.index[key]
        except KeyError:
            raise KeyError(f"no node or source {key!r} in this graph") from None

    @staticmethod
    def _closure(start: Sequence[int], edges: Sequence[Sequence[int]]) -> list[int]:
        seen: set[int] = set()
        stack = list(start)
        while stack:
            for nxt in edges[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return sorted(seen)
