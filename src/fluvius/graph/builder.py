"""The Python builder API: sources, nodes, params, scopes and templated sub-graphs.

>>> g = GraphBuilder()
>>> spot = g.source("spot/AAPL", 100.0)
>>> mid = g.node("mid/AAPL", lambda s, k: s * k, spot, params={"k": 0.5})
>>> graph = g.build()
>>> len(graph), graph.depth(), graph.descendants("spot/AAPL")  # len counts nodes
(1, 1, ('mid/AAPL',))

Inputs can also be passed by keyword, the other arguments fixed as params:

>>> def forward(spot, rate, years=1.0):
...     return spot * (1 + rate) ** years
>>> g = GraphBuilder()
>>> spot, rate = g.source("spot", 100.0), g.source("rate", 0.05)
>>> fwd = g.node("fwd", forward, inputs={"spot": spot, "rate": rate}, params={"years": 2})
>>> g.build().spec("fwd").keywords
('spot', 'rate')
>>> g.node("bad", forward, inputs={"spot": spot, "rte": rate})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
fluvius.errors.BadParamsError: node 'bad': function forward takes no argument 'rte' (did...

Every node records the file and line where the user created it; runtime errors quote it.
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from fluvius.errors import BadParamsError, DuplicateKeyError
from fluvius.graph.dag import Graph
from fluvius.graph.keys import check_key, make_key
from fluvius.graph.node import NodeRef, NodeSpec, SourceSpec
from fluvius.graph.validate import check_callable

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["GraphBuilder", "Scope"]

T = TypeVar("T")
Input = NodeRef | str

_NO_PARAMS: Mapping[str, Any] = {}  # shared, never mutated
_PLAIN_PARAM_TYPES = frozenset({str, int, bool, type(None)})
_DOUBLE = struct.Struct("<d")


def _params_key(params: Mapping[str, Any]) -> tuple[tuple[str, type, Any], ...] | None:
    """What makes two sets of params interchangeable: the names in order and each value's
    type and value (a float's bits: -0.0 is not 0.0, 1 is not 1.0 nor True); None when a
    value is not a plain str, int, float, bool or None."""
    key = []
    for name, value in params.items():
        kind = type(value)
        if kind is float:
            value = _DOUBLE.pack(value)
        elif kind not in _PLAIN_PARAM_TYPES:
            return None
        key.append((name, kind, value))
    return tuple(key)


# NamedTuple's generated __new__ is a Python frame; tuple.__new__ builds the same value
# directly (0.5 -> 0.2 µs per spec; graphs hold tens of thousands).
_new_node_spec = partial(tuple.__new__, NodeSpec)
_new_ref = partial(tuple.__new__, NodeRef)
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _user_location() -> str:
    """``file:line`` of the first frame outside the fluvius package (the user's line)."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return ""
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


class GraphBuilder:
    """Collects sources and nodes; :meth:`build` validates them into a :class:`Graph`."""

    def __init__(self) -> None:
        self._items: dict[str, SourceSpec | NodeSpec] = {}
        self._params: dict[tuple[tuple[str, type, Any], ...], dict[str, Any]] = {}

    def _shared_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``params``, the same object for every node given equal plain params
        (:func:`_params_key`): a graph of thousands of alike nodes (an option chain's
        ``{"kind": "call"}``) then holds each set once, and a process scheduler pickles
        and ships it once per worker instead of once per node."""
        key = _params_key(params)
        if key is None:
            return dict(params)
        found = self._params.get(key)
        if found is None:
            found = self._params[key] = dict(params)
        return found

    # -- adding -------------------------------------------------------------------------
    def source(self, key: str, value: Any = None, *, created_at: str | None = None) -> NodeRef:
        """Add an external input with its initial value."""
        check_key(key)
        self._claim(key)
        where = _user_location() if created_at is None else created_at
        self._items[key] = SourceSpec(key, value, where)
        return NodeRef(key)

    def node(
        self,
        key: str,
        fn: Any,
        *args: Input,
        inputs: Mapping[str, Input] | None = None,
        params: Mapping[str, Any] | None = None,
        cutoff: bool = True,
        every_tick: bool = False,
        op: str = "",
        created_at: str | None = None,
    ) -> NodeRef:
        """Add a computation of ``args`` (keys or refs, in call order) and ``inputs``.

        Parameters
        ----------
        key
            Unique, readable key (see :func:`fluvius.graph.make_key`).
        fn
            A function, an ``async def``, or a stateful object with ``update``/``get``.
        args
            The nodes or sources whose values are passed positionally, in order.
        inputs
            Nodes or sources whose values are passed by keyword: a mapping argument name
            → key or NodeRef, e.g. ``inputs={"spot": spot, "vol": iv}``.
        params
            Fixed keyword arguments (functions only): every argument not taken from a
            node, e.g. ``params={"strike": 150.0, "kind": "call"}``.
        cutoff
            When True (default) a recomputed value equal (``==``) to the previous one stops
            propagation; set False for nodes whose dependents must run on every change.
        every_tick
            Ask live mode never to conflate ticks of the sources this node depends on.
        op
            The spec op name, when the node comes from a spec file.
        created_at
            Where the node was defined, for error messages; by default the caller's
            ``file:line`` (a spec loader passes the spec file instead).

        An argument name that ``fn`` does not take, or one given twice (as an input and a
        param, or positionally and by name), raises :class:`~fluvius.errors.BadParamsError`
        naming it.
        """
        check_key(key)
        if key in self._items:
            self._claim(key)
        names: tuple[str, ...] = tuple(
            [i.key if i.__class__ is NodeRef else i for i in args]  # type: ignore[misc]
        )
        for name in names:
            if name.__class__ is not str:
                raise BadParamsError(f"node {key!r}: inputs must be keys or NodeRefs, got {name!r}")
        params = self._shared_params(params) if params else _NO_PARAMS
        keywords: tuple[str, ...] = ()
        if inputs:
            keywords, by_name = _keyword_inputs(key, inputs, params)
            names += by_name
        kind = check_callable(key, fn, len(names) - len(keywords), params, keywords)
        where = _user_location() if created_at is None else created_at
        self._items[key] = _new_node_spec(
            (key, fn, names, params, kind, cutoff, every_tick, where, op, keywords)
        )
        ref: NodeRef = _new_ref((key,))
        return ref

    def scope(self, *parts: object) -> Scope:
        """A view of this builder that prefixes every key with ``parts``."""
        return Scope(self, make_key(*parts))

    def stamp(
        self,
        template: Callable[..., T],
        underlyings: Iterable[object],
        **kwargs: Any,
    ) -> dict[str, T]:
        """Stamp out one sub-graph per underlying: ``template(scope, underlying, **kwargs)``.

        Returns each template's result keyed by the underlying's name.

        >>> def per_und(s, und, rate):
        ...     spot = s.source("spot", 100.0)
        ...     return s.node("fwd", lambda x: x * (1 + rate), spot)
        >>> g = GraphBuilder()
        >>> outs = g.stamp(per_und, ["AAPL", "MSFT"], rate=0.05)
        >>> outs["MSFT"].key, len(g.build())
        ('MSFT/fwd', 2)
        """
        results: dict[str, T] = {}
        for und in underlyings:
            name = make_key(und)
            if name in results:
                raise DuplicateKeyError(f"stamp: underlying {name!r} given twice")
            results[name] = template(self.scope(name), und, **kwargs)
        return results

    # -- finishing ----------------------------------------------------------------------
    def build(self) -> Graph:
        """Validate (missing inputs, cycles) and freeze into a :class:`Graph`."""
        return Graph(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def _claim(self, key: str) -> None:
        if key in self._items:
            first = self._items[key].created_at
            where = f" (first created at {first})" if first else ""
            raise DuplicateKeyError(f"duplicate key {key!r}{where}")


def _keyword_inputs(
    key: str, inputs: Mapping[str, Input], params: Mapping[str, Any]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Check a node's ``inputs`` mapping; return (argument names, input keys)."""
    if not isinstance(inputs, Mapping):
        raise BadParamsError(
            f"node {key!r}: inputs must be a mapping of argument name -> key or NodeRef, "
            f"got {type(inputs).__name__} (pass positional inputs after fn)"
        )
    names: list[str] = []
    keys: list[str] = []
    for name, ref in inputs.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise BadParamsError(f"node {key!r}: input name {name!r} is not a Python identifier")
        target = ref.key if isinstance(ref, NodeRef) else ref
        if not isinstance(target, str):
            raise BadParamsError(
                f"node {key!r}: inputs[{name!r}] must be a key or NodeRef, got {ref!r}; "
                "fixed values go in params"
            )
        if name in params:
            raise BadParamsError(f"node {key!r}: {name!r} is given both as an input and a param")
        names.append(name)
        keys.append(target)
    return tuple(names), tuple(keys)


class Scope:
    """Adds nodes under a key prefix; input keys given as strings stay absolute."""

    def __init__(self, builder: GraphBuilder, prefix: str) -> None:
        self.builder = builder
        self.prefix = prefix

    def key(self, *parts: object) -> str:
        """The absolute key of ``parts`` inside this scope."""
        return make_key(self.prefix, *parts)

    def source(self, name: str, value: Any = None) -> NodeRef:
        """Add a source keyed ``prefix/name``."""
        return self.builder.source(self.key(name), value)

    def node(self, name: str, fn: Any, *args: Input, **options: Any) -> NodeRef:
        """Add a node keyed ``prefix/name`` (``inputs``, ``params`` and the other options
        as :meth:`GraphBuilder.node`; input keys given as strings stay absolute)."""
        return self.builder.node(self.key(name), fn, *args, **options)

    def scope(self, *parts: object) -> Scope:
        """A nested scope."""
        return Scope(self.builder, self.key(*parts))

    def __repr__(self) -> str:
        return f"Scope(prefix={self.prefix!r})"
