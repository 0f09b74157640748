"""Build-time checks: deterministic topological order, cycles, missing inputs, params.

The topological order is Kahn's algorithm with ties broken by insertion order, so a graph
whose nodes were added after their inputs keeps exactly its insertion order (checked in one
pass before Kahn runs). Cycles are reported as a short path of keys, as dask's ``getcycle``.
"""

from __future__ import annotations

import heapq
import inspect
from types import MethodType
from typing import TYPE_CHECKING, Any

from fluvius.errors import BadParamsError, CycleError, MissingInputError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

__all__ = ["check_signature", "find_cycle", "topological_order"]


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


_SIGNATURE_CACHE: dict[tuple[int, int, tuple[str, ...]], tuple[Any, str | None]] = {}


def check_signature(
    key: str, fn: Callable[..., Any], n_inputs: int, params: Mapping[str, Any], what: str
) -> None:
    """Raise BadParamsError unless ``fn(*inputs, **params)`` binds.

    Outcomes are cached per code object, arity and param names: templated graphs create
    thousands of closures of one function, and binding costs microseconds. The cache keys on
    ``id(code)`` (hashing a code object hashes its bytecode) and keeps the code object, with
    its defaults, in the entry so that a recycled id can never be mistaken for it.
    """
    code = getattr(fn, "__code__", None)
    if code is None:
        problem = _bind_problem(fn, n_inputs, params)
    else:
        defaults = (getattr(fn, "__defaults__", None), getattr(fn, "__kwdefaults__", None))
        n_args = n_inputs + (fn.__class__ is MethodType)  # a bound method's code takes self
        cache_key = (id(code), n_args, tuple(sorted(params)) if params else ())
        entry = _SIGNATURE_CACHE.get(cache_key)
        if entry is not None and entry[0][0] is code and entry[0][1] == defaults:
            problem = entry[1]
        else:
            problem = _bind_problem(fn, n_inputs, params)
            _SIGNATURE_CACHE[cache_key] = ((code, defaults), problem)
    if problem is not None:
        raise BadParamsError(
            f"node {key!r}: {what} cannot take {n_inputs} input(s) and params "
            f"{sorted(params)}: {problem}"
        )


def _bind_problem(fn: Callable[..., Any], n_inputs: int, params: Mapping[str, Any]) -> str | None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None  # builtins without a signature: nothing to check before running
    try:
        sig.bind(*([None] * n_inputs), **params)
    except TypeError as exc:
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


def _close_matches(name: str, index: Mapping[str, int]) -> str:
    import difflib

    if len(index) > 50_000:
        return ""
    found = difflib.get_close_matches(name, list(index), n=3)
    return ", ".join(repr(f) for f in found)
