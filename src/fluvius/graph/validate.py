"""Build-time checks: deterministic topological order, cycles, missing inputs, params.

The topological order is Kahn's algorithm with ties broken by insertion order, so a graph
whose nodes were added after their inputs keeps exactly its insertion order (checked in one
pass before Kahn runs). Cycles are reported as a short path of keys, as dask's ``getcycle``.
"""

from __future__ import annotations

import difflib
import heapq
import inspect
from inspect import CO_COROUTINE
from types import FunctionType, MethodType
from typing import TYPE_CHECKING, Any

from fluvius.errors import BadParamsError, CycleError, MissingInputError
from fluvius.graph.node import NodeKind, classify

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping, Sequence

__all__ = ["check_callable", "did_you_mean", "find_cycle", "topological_order"]


def topological_order(inputs: Sequence[Sequence[int]]) -> list[int]:
    """Order item indices so that every item comes after its inputs.

    ``inputs[i]`` are the indices item ``i`` reads. Ties go to the lower index.

    >>> topological_order([[], [2], [0]])
    [0, 2, 1]
    >>> topological_order([[1], [0]])
    Traceback (most recent call last):
    ...
    fluvius.errors.CycleError: the graph has a cycle: 1 -> 0 -> 1
    """
    n = len(inputs)
    if all(j < i for i, ins in enumerate(inputs) for j in ins):
        return list(range(n))
    pending = [len(set(ins)) for ins in inputs]
    readers: list[list[int]] = [[] for _ in range(n)]
    for i, ins in enumerate(inputs):
        for j in set(ins):
            readers[j].append(i)
    ready = [i for i in range(n) if pending[i] == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for r in readers[i]:
            pending[r] -= 1
            if pending[r] == 0:
                heapq.heappush(ready, r)
    if len(order) < n:
        placed = set(order)
        cycle = find_cycle(inputs, [i for i in range(n) if i not in placed])
        raise CycleError([str(i) for i in cycle])
    return order


def find_cycle(inputs: Sequence[Sequence[int]], candidates: Sequence[int]) -> list[int]:
    """Return one cycle ``[a, b, ..., a]`` among ``candidates`` (items Kahn could not place).

    Every candidate reads at least one other candidate, so following inputs from any of them
    must revisit an item; the part of the walk from that item on is a cycle. The cycle is
    printed in data-flow order (input before reader).
    """
    inside = set(candidates)
    start = min(candidates)
    seen: dict[int, int] = {}
    walk: list[int] = []
    node = start
    while node not in seen:
        seen[node] = len(walk)
        walk.append(node)
        node = min(j for j in inputs[node] if j in inside)
    cycle = walk[seen[node] :]
    cycle.reverse()  # the walk goes reader -> input; show data flow
    return [*cycle, cycle[0]]


_CallableEntry = tuple[Any, Any, Any, NodeKind, str | None]
_CALLABLE_CACHE: dict[tuple[int, int, tuple[str, ...]], _CallableEntry] = {}


def check_callable(
    key: str,
    fn: Any,
    n_inputs: int,
    params: Mapping[str, Any],
    keywords: tuple[str, ...] = (),
) -> NodeKind:
    """Classify a node's callable and raise BadParamsError unless
    ``fn(*inputs, **keyword_inputs, **params)`` binds (for a stateful object:
    ``fn.update(*inputs, **keyword_inputs)``, with no params).

    ``n_inputs`` counts the positional inputs; ``keywords`` names the keyword inputs.
    Functions and bound methods, the common cases, are decided once per code object, arity
    and argument names, then cached: templated graphs create thousands of closures of one
    function, and ``inspect.signature`` costs microseconds. The cache keys on ``id(code)``
    (hashing a code object hashes its bytecode) and keeps the code object and its defaults
    in the entry, so that a recycled id can never be mistaken for it.
    """
    named: Mapping[str, Any] = {**params, **dict.fromkeys(keywords)} if keywords else params
    cls = fn.__class__
    if cls is FunctionType or cls is MethodType:
        func = fn.__func__ if cls is MethodType else fn  # a method forwards attributes slowly
        code = func.__code__
        defaults = func.__defaults__
        kwdefaults = func.__kwdefaults__
        names = tuple(sorted(named)) if named else ()
        cache_key = (id(code), n_inputs + (cls is MethodType), names)
        entry = _CALLABLE_CACHE.get(cache_key)
        if (
            entry is None
            or entry[0] is not code
            or (entry[1] is not defaults and entry[1] != defaults)
            or (entry[2] is not kwdefaults and entry[2] != kwdefaults)
        ):
            kind: NodeKind = "async" if code.co_flags & CO_COROUTINE else "sync"
            entry = (code, defaults, kwdefaults, kind, _bind_problem(fn, n_inputs, named))
            _CALLABLE_CACHE[cache_key] = entry
        if entry[4] is not None:
            _raise_bad_params(key, fn, n_inputs, params, keywords, entry[4])
        return entry[3]
    try:
        kind = classify(fn)
    except TypeError as exc:
        raise BadParamsError(f"node {key!r}: {exc}") from None
    if kind == "stateful":
        if params:
            raise BadParamsError(
                f"node {key!r}: a stateful object takes its settings in its constructor, "
                f"not params={sorted(params)}"
            )
        _raise_bad_params(
            key,
            fn.update,
            n_inputs,
            {},
            keywords,
            _bind_problem(fn.update, n_inputs, named),
            f"{type(fn).__name__}.update",
        )
    else:
        _raise_bad_params(key, fn, n_inputs, params, keywords, _bind_problem(fn, n_inputs, named))
    return kind


def _raise_bad_params(
    key: str,
    fn: Any,
    n_inputs: int,
    params: Mapping[str, Any],
    keywords: tuple[str, ...],
    problem: str | None,
    what: str = "",
) -> None:
    if problem is None:
        return
    what = what or f"function {getattr(fn, '__qualname__', type(fn).__name__)}"
    if problem.startswith(_NO_ARGUMENT):
        raise BadParamsError(f"node {key!r}: {what} {problem}")
    given = f"{n_inputs} input(s)"
    if keywords:
        given += f", keyword inputs {list(keywords)}"
    raise BadParamsError(
        f"node {key!r}: {what} cannot take {given} and params {sorted(params)}: {problem}"
    )


_NO_ARGUMENT = "takes no argument"


def _bind_problem(fn: Callable[..., Any], n_inputs: int, named: Mapping[str, Any]) -> str | None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None  # builtins without a signature: nothing to check before running
    try:
        sig.bind(*([None] * n_inputs), **named)
    except TypeError as exc:
        takes = sig.parameters
        if not any(p.kind is p.VAR_KEYWORD for p in takes.values()):
            accepted = [
                n for n, p in takes.items() if p.kind not in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY)
            ]
            for name in named:
                if name not in accepted:
                    close = difflib.get_close_matches(name, accepted, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    return f"{_NO_ARGUMENT} {name!r}{hint}; signature {sig}"
        return f"{exc} (signature {sig})"
    return None


def check_inputs_exist(key: str, inputs: Sequence[str], index: Mapping[str, int]) -> None:
    """Raise MissingInputError naming the node and the first unknown input."""
    for name in inputs:
        if name not in index:
            close = _close_matches(name, index)
            hint = f"; did you mean {close}?" if close else ""
            raise MissingInputError(
                f"node {key!r} reads input {name!r}, which is neither a node nor a source{hint}"
            )


def did_you_mean(name: str, candidates: Collection[str]) -> str:
    """``" (did you mean 'x'?)"`` for the candidate closest to a mistyped ``name``, or "".

    >>> did_you_mean("AAPL/spto", ["AAPL/spot", "AAPL/rate"])
    " (did you mean 'AAPL/spot'?)"
    """
    if len(candidates) > 50_000:
        return ""  # difflib over more keys takes seconds; the error is clear without it
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _close_matches(name: str, index: Mapping[str, int]) -> str:
    if len(index) > 50_000:
        return ""
    found = difflib.get_close_matches(name, list(index), n=3)
    return ", ".join(repr(f) for f in found)
