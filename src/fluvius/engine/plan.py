"""The compiled form of a graph that one run evaluates.

Design
------
A :class:`Plan` is built once per run from a :class:`~fluvius.graph.Graph`. Everything the
hot loops need is precomputed into flat, rank-indexed sequences, so a cycle does no key
lookups, no signature inspection and no allocation beyond the values it produces:

``steps[r]``
    ``(rank, call, arg, getter)``: the node is computed as ``call(values[arg])`` when
    ``getter`` is None (one input, the common case), else ``call(*getter(values))`` where
    ``getter`` is an :func:`operator.itemgetter` over the input ranks (or a function returning
    ``()`` for a node without inputs). Measured on this machine: ~0.13 µs per call for an
    arity-specialised closure, against ~0.45 µs for ``fn(*[values[j] for j in inputs])``.
``call``
    The user's function; ``functools.partial(fn, **params)`` when it has params; for a
    stateful object a bound ``_StatefulCall`` that runs ``update`` then ``get``. A node
    with keyword inputs (``NodeSpec.keywords``) gets the call of
    :mod:`fluvius.engine._keywords`, which places them in their positional slots.
``node_call``
    A plain function may offer a faster call for fixed params: ``fn.node_call(n_inputs,
    params)`` (an attribute of the function) returns a callable of the ``n_inputs`` values
    that computes exactly ``fn(*values, **params)``, same values and same errors, or None
    (then ``partial``). The options functions do (``nodes/options/_node_calls.py``: a greek
    node 0.48 against 0.66 µs a call through ``partial``). ``Plan(graph, specialise=False)``
    never asks: the reference oracle (``engine/reference.py``) computes every node as
    ``fn(*values, **params)``, so the conformance suite checks the specialised calls.
``children[r]``, ``cutoff[r]``, ``is_async[r]``
    Readers of each rank, the per-node cutoff flag, and whether ``call`` returns a coroutine.

Descendant lists (the affected set of a batch of sources, in rank order) are computed on
first use and cached per set of changed sources, so a repeated tick pattern costs only the
walk over its own affected nodes, never a pass over the whole graph.

A plan may compute only part of its graph: :meth:`Plan.from_tables` builds one from the
structure tables (:class:`GraphTables`, the whole graph's keys, inputs and readers) and the
rows of the nodes it computes (:data:`NodeRow`); a worker process of the process scheduler
gets exactly that, so it never unpickles or compiles the other workers' nodes. Nodes
without a step are left out of ``node_steps`` and of the affected steps, but they keep
their place in ``nodes``, ``children`` and ``affected`` (a worker waits for them). The
structure can come first (:meth:`Plan.from_tables` with no rows) and the rows later
(:meth:`Plan.add_steps`): a worker builds the structure while the parent partitions.

Stateful objects are deep-copied when the plan is built: two runs of one graph never share
state, and the user's object stays as it was constructed.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from operator import itemgetter
from types import FunctionType
from typing import TYPE_CHECKING, Any, NamedTuple

from fluvius.engine._keywords import keyword_call, stateful_keyword_call
from fluvius.graph._gc import gc_paused
from fluvius.graph.node import NodeSpec

if TYPE_CHECKING:
    from fluvius.graph.dag import Graph

__all__ = ["CycleStep", "GraphTables", "NodeRow", "Plan", "Step", "graph_tables", "node_row"]

Step = tuple[int, Callable[..., Any], int, Callable[[Sequence[Any]], Any] | None]
CycleStep = tuple[
    int, Callable[..., Any], int, Callable[[Sequence[Any]], Any] | None, bool, tuple[int, ...]
]
"""A Step with the node's cutoff flag and readers appended: what the incremental loop reads."""

_DESCENDANT_CACHE_SIZE = 1024


def _no_inputs(values: Sequence[Any]) -> tuple[()]:
    return ()


class _StatefulCall:
    """Runs a stateful node: ``obj.update(*inputs)`` then ``obj.get()``."""

    __slots__ = ("get", "obj", "update")

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self.update = obj.update
        self.get = obj.get

    def __call__(self, *values: Any) -> Any:
        self.update(*values)
        return self.get()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_StatefulCall, (self.obj,))


def make_call(
    fn: Any,
    params: Any,
    kind: str,
    keywords: tuple[str, ...] = (),
    n_inputs: int = 0,
    *,
    specialise: bool = True,
) -> Callable[..., Any]:
    """The callable that computes a node (NodeSpec's ``fn``, ``params``, ``kind`` and
    ``keywords``) from its input values, in ``NodeSpec.inputs`` order (``n_inputs`` of them;
    the last ``len(keywords)`` are passed by name). With ``specialise``, a function's own
    ``node_call`` is asked first (module docstring)."""
    if keywords:
        positional = n_inputs - len(keywords)
        if kind == "stateful":
            return stateful_keyword_call(copy.deepcopy(fn), keywords, positional)
        return keyword_call(fn, keywords, positional, params)
    if kind == "stateful":
        return _StatefulCall(copy.deepcopy(fn))
    if specialise and fn.__class__ is FunctionType:
        node_call = fn.__dict__.get("node_call")
        if node_call is not None:
            call = node_call(n_inputs, params)
            if call is not None:
                return call  # type: ignore[no-any-return]
    if params:
        return partial(fn, **params)
    return fn  # type: ignore[no-any-return]


class GraphTables(NamedTuple):
    """A graph's structure as flat rank-indexed tables: what a worker process needs of the
    whole graph (it compiles only its own nodes' callables, from :data:`NodeRow` s).

    Tuples of ints and strings pickle in a few milliseconds for 40,000 nodes, where the
    graph's items (callables, params, per-node tuples of input keys) take ~25x longer.
    """

    keys: tuple[str, ...]
    inputs: tuple[tuple[int, ...], ...]
    children: tuple[tuple[int, ...], ...]
    sources: tuple[int, ...]
    source_values: tuple[Any, ...]
    """Initial value of each source, in the order of ``sources``."""


NodeRow = tuple[int, Any, Any, str, bool, str, tuple[str, ...]]
"""``(rank, fn, params, kind, cutoff, created_at, keywords)``: one node to compile
(NodeSpec's fields that evaluation reads)."""


def graph_tables(graph: Graph) -> GraphTables:
    """The structure tables of ``graph``."""
    items = graph.items
    values = tuple(items[r].value for r in graph.sources)  # type: ignore[union-attr]
    return GraphTables(graph.keys, graph.inputs, graph.children, graph.sources, values)


def node_row(r: int, spec: NodeSpec) -> NodeRow:
    """The :data:`NodeRow` of node ``spec`` at rank ``r``."""
    return (r, spec.fn, spec.params, spec.kind, spec.cutoff, spec.created_at, spec.keywords)


class Plan:
    """Flat, rank-indexed tables for evaluating one graph (see the module docstring).

    ``calls=False`` builds the structure only (no step, no copy of stateful objects): what
    a process that computes no node needs (the process scheduler's parent).
    ``specialise=False`` binds every node's params with ``partial``, never asking the
    function's ``node_call`` (module docstring): the reference oracle's plan.
    """

    specialise = True

    def __init__(self, graph: Graph, *, calls: bool = True, specialise: bool = True) -> None:
        if not specialise:
            self.specialise = False
        with gc_paused():
            self._structure(graph_tables(graph))
            self.graph: Graph | None = graph
            self.index = graph.index
            items = graph.items
            self.created_at = [item.created_at for item in items]
            if calls:
                for r, item in enumerate(items):
                    if isinstance(item, NodeSpec):
                        self._compile_node(node_row(r, item))
            else:  # the structure's flags only (a source's are False)
                self.cutoff = [getattr(item, "cutoff", False) for item in items]
                self.is_async = [getattr(item, "kind", "") == "async" for item in items]
            self._finish()

    @classmethod
    def from_tables(cls, tables: GraphTables, rows: Iterable[NodeRow]) -> Plan:
        """A plan of the whole structure that computes only the nodes of ``rows`` (one
        worker's share: every other node has no step)."""
        plan = cls.__new__(cls)
        with gc_paused():
            plan._structure(tables)
            plan.graph = None
            plan.index = {}
            plan.add_steps(rows)
        return plan

    def add_steps(self, rows: Iterable[NodeRow]) -> None:
        """Compile the nodes of ``rows`` into a plan built without them (``calls=False``,
        or :meth:`from_tables` without rows): a worker's own nodes once the structure is
        built; the few nodes the process scheduler's parent computes
        (``partition/_placement.py``)."""
        created = self.created_at
        for row in rows:
            created[row[0]] = row[5]
            self._compile_node(row)
        self._finish()

    def _structure(self, tables: GraphTables) -> None:
        self.keys = tables.keys
        self.children = tables.children
        self.inputs = tables.inputs
        n = len(tables.keys)
        self.size = n
        self.is_source = [False] * n
        self._initial: list[Any] = [None] * n
        for r, value in zip(tables.sources, tables.source_values, strict=True):
            self.is_source[r] = True
            self._initial[r] = value
        self.nodes: list[int] = [r for r, src in enumerate(self.is_source) if not src]
        """Every node's rank (computed here or not), in rank order."""
        self.steps: list[Step | None] = [None] * n
        self.cutoff = [False] * n
        self.is_async = [False] * n
        self.created_at = [""] * n

    def _compile_node(self, row: NodeRow) -> None:
        r, fn, params, kind, cutoff, _, keywords = row
        ins = self.inputs[r]
        call = make_call(fn, params, kind, keywords, len(ins), specialise=self.specialise)
        if len(ins) == 1:
            self.steps[r] = (r, call, ins[0], None)
        elif ins:
            self.steps[r] = (r, call, -1, itemgetter(*ins))
        else:
            self.steps[r] = (r, call, -1, _no_inputs)
        self.cutoff[r] = cutoff
        self.is_async[r] = kind == "async"

    def _finish(self) -> None:
        self.node_steps: list[Step] = [s for s in self.steps if s is not None]
        """The steps of the nodes this plan computes, in rank order."""
        self.has_async = any(self.is_async)
        self._descendants: OrderedDict[frozenset[int], tuple[list[int], list[CycleStep]]] = (
            OrderedDict()
        )
        self._reaches_async: dict[frozenset[int], bool] = {}

    def rank_of(self, key: str) -> int:
        """The rank of ``key`` (the key index is built on first use in a worker's plan)."""
        if not self.index:
            self.index = {k: r for r, k in enumerate(self.keys)}
        return self.index[key]

    def initial_values(self) -> list[Any]:
        """Source values as given to the builder; nodes start as None until start-up."""
        return list(self._initial)

    def affected(self, changed: frozenset[int]) -> list[int]:
        """Ranks of every node downstream of ``changed`` sources, in rank order (cached)."""
        return self._affected(changed)[0]

    def affected_steps(self, changed: frozenset[int]) -> list[CycleStep]:
        """The steps of :meth:`affected`, ready for the sync loop (cached alongside)."""
        return self._affected(changed)[1]

    def _affected(self, changed: frozenset[int]) -> tuple[list[int], list[CycleStep]]:
        found = self._descendants.get(changed)
        if found is not None:
            self._descendants.move_to_end(changed)
            return found
        children = self.children
        seen: set[int] = set()
        stack = list(changed)
        while stack:
            for c in children[stack.pop()]:
                if c not in seen:
                    seen.add(c)
                    stack.append(c)
        ranks = sorted(seen)
        steps, cutoff, children = self.steps, self.cutoff, self.children
        found = (
            ranks,
            [(*steps[r], cutoff[r], children[r]) for r in ranks if steps[r] is not None],  # type: ignore[misc]
        )
        self._descendants[changed] = found
        if len(self._descendants) > _DESCENDANT_CACHE_SIZE:
            self._descendants.popitem(last=False)
        return found

    def reaches_async(self, changed: frozenset[int]) -> bool:
        """True when an async node is downstream of ``changed``."""
        found = self._reaches_async.get(changed)
        if found is None:
            is_async = self.is_async
            found = self.has_async and any(is_async[r] for r in self.affected(changed))
            if len(self._reaches_async) < _DESCENDANT_CACHE_SIZE:
                self._reaches_async[changed] = found
        return found
