"""What the builder records about each node and source (frozen, slotted values)."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["NodeKind", "NodeRef", "NodeSpec", "SourceSpec", "Stateful", "classify"]

NodeKind = Literal["sync", "async", "stateful"]


@runtime_checkable
class Stateful(Protocol):
    """A stateful node: ``update`` receives the input values of each computation, then
    ``get`` gives the node's value. The object lives with the node across cycles."""

    def update(self, *values: Any) -> Any: ...

    def get(self) -> Any: ...


class NodeRef(NamedTuple):
    """A handle on a node or source of a builder; usable wherever an input key is expected."""

    key: str

    def __str__(self) -> str:
        return self.key


class SourceSpec(NamedTuple):
    """An external input: its key, initial value and tick policy.

    ``conflate=False`` means live mode never merges two ticks of this source into one cycle
    (set by the builder for every source upstream of an ``every_tick`` node).

    A NamedTuple rather than a frozen dataclass: immutable and picklable alike, and built
    five times faster (graphs hold tens of thousands of them; see docs/benchmarks.md).
    """

    key: str
    value: Any
    created_at: str = ""
    conflate: bool = True


class NodeSpec(NamedTuple):
    """A computation: ``fn(*input_values, **params)``, or ``fn.update(*input_values)`` then
    ``fn.get()`` for a stateful object. Immutable (a NamedTuple, as SourceSpec).

    ``keywords`` names the last ``len(keywords)`` inputs, which are passed by keyword
    (``inputs={"vol": iv}`` in the builder, an ``inputs`` mapping in a spec): the node
    computes ``fn(*positional_values, vol=value, **params)``.
    """

    key: str
    fn: Any
    inputs: tuple[str, ...]
    params: Mapping[str, Any]
    kind: NodeKind = "sync"
    cutoff: bool = True
    every_tick: bool = False
    created_at: str = ""
    op: str = ""  # the spec op name, when built from a spec file
    keywords: tuple[str, ...] = ()  # argument names of the last len(keywords) inputs


def _is_async_callable(fn: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(type(fn), "__call__", None)  # noqa: B004 - we want the class attribute
    return call is not None and inspect.iscoroutinefunction(call)


def classify(fn: object) -> NodeKind:
    """Tell how a node's callable is run.

    The builder decides plain functions and bound methods from their code flags in
    :func:`fluvius.graph.validate.check_callable` (cached) and calls this for the rest.

    >>> async def fetch(x): return x
    >>> class Count:
    ...     def __init__(self): self.n = 0
    ...     def update(self, x): self.n += 1
    ...     def get(self): return self.n
    >>> classify(abs), classify(fetch), classify(Count())
    ('sync', 'async', 'stateful')
    """
    if (
        not (inspect.isroutine(fn) or inspect.isclass(fn))
        and callable(getattr(fn, "update", None))
        and callable(getattr(fn, "get", None))
    ):
        return "stateful"
    if not callable(fn):
        raise TypeError(f"a node needs a callable or an object with update/get, got {fn!r}")
    return "async" if _is_async_callable(fn) else "sync"
