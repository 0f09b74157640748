"""Finding the object that stops a node from being sent to a worker process.

cloudpickle's own error names a type (``cannot pickle '_thread.lock' object``), not where
it hides. :func:`find_culprit` walks what a node holds (its params, a ``partial``'s
arguments, a bound method's object, a function's closure cells, defaults and the globals
its code names, an object's attributes, container items) and returns the path to the
innermost object that still fails to pickle, e.g. ``fn closure 'lock'``.

:func:`value_error` does the same for a node's *value* at run time: a value that must
cross to another process (a reader on another worker, the parent asking for values) and
cannot be pickled becomes that node's :class:`NodeError`, never the worker's death.
"""

from __future__ import annotations

import functools
import traceback
import types
from typing import Any

import cloudpickle

from fluvius.errors import NodeError, UnpicklableNodeError

__all__ = ["check_item", "find_culprit", "value_error"]

_MAX_DEPTH = 6


def _pickles(obj: Any) -> str | None:
    """None when ``obj`` pickles with cloudpickle, else the error text."""
    try:
        cloudpickle.dumps(obj)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _parts(obj: Any) -> list[tuple[str, Any]]:
    """The named parts of ``obj`` that pickling it would pickle too."""
    if isinstance(obj, functools.partial):
        return [
            ("partial function", obj.func),
            *((f"partial arg {i}", a) for i, a in enumerate(obj.args)),
            *((f"partial keyword {k!r}", v) for k, v in obj.keywords.items()),
        ]
    if isinstance(obj, types.MethodType):
        return [("bound object", obj.__self__), ("method", obj.__func__)]
    if isinstance(obj, types.FunctionType):
        code = obj.__code__
        parts: list[tuple[str, Any]] = []
        for name, cell in zip(code.co_freevars, obj.__closure__ or (), strict=False):
            try:
                parts.append((f"closure variable {name!r}", cell.cell_contents))
            except ValueError:  # an empty cell
                continue
        parts += [(f"default {i}", d) for i, d in enumerate(obj.__defaults__ or ())]
        parts += [
            (f"global {name!r}", obj.__globals__[name])
            for name in code.co_names
            if name in obj.__globals__
        ]
        return parts
    if isinstance(obj, dict):
        return [(f"item {k!r}", v) for k, v in obj.items()]
    if isinstance(obj, list | tuple | set | frozenset):
        return [(f"item {i}", v) for i, v in enumerate(obj)]
    attrs = getattr(obj, "__dict__", None)
    if isinstance(attrs, dict):
        return [(f"attribute {k!r}", v) for k, v in attrs.items()]
    return [
        (f"attribute {k!r}", getattr(obj, k))
        for k in getattr(type(obj), "__slots__", ())
        if hasattr(obj, k)
    ]


def find_culprit(obj: Any, path: str = "", depth: int = 0) -> tuple[str, Any, str] | None:
    """``(path, object, error)`` of the innermost part of ``obj`` that does not pickle.

    None when ``obj`` pickles.

    >>> import threading
    >>> lock = threading.Lock()
    >>> path, culprit, error = find_culprit(lambda x: lock.acquire() and x, "fn")
    >>> path, culprit is lock, "lock" in error
    ("fn -> global 'lock'", True, True)
    """
    error = _pickles(obj)
    if error is None:
        return None
    if depth < _MAX_DEPTH:
        for name, part in _parts(obj):
            inner = find_culprit(part, f"{path} -> {name}" if path else name, depth + 1)
            if inner is not None:
                return inner
    return path or "the object itself", obj, error


def check_item(key: str, what: str, obj: Any) -> None:
    """Raise :class:`UnpicklableNodeError` naming ``key`` when ``obj`` does not pickle."""
    found = find_culprit(obj, what)
    if found is None:
        return
    path, culprit, error = found
    text = repr(culprit)
    if len(text) > 120:
        text = text[:117] + "..."
    raise UnpicklableNodeError(
        f"node {key!r} cannot be sent to a worker process: its {path} is {text}, which "
        f"cannot be pickled ({error}); create that object inside the node, or run with "
        "the serial scheduler"
    )


def value_error(
    key: str, created_at: str, value: Any, worker: str, destination: str
) -> NodeError | None:
    """The NodeError of node ``key`` whose ``value`` cannot be pickled to reach
    ``destination`` (``"worker 1"``, ``"the parent"``); None when it pickles.

    >>> import threading
    >>> err = value_error("lk", "", {"a": threading.Lock()}, "worker-0", "worker 1")
    >>> head, tail = err.exc_message.split(", so ")
    >>> head
    "its value of type dict cannot be pickled (value -> item 'a' is a _thread.lock)"
    >>> tail
    "it cannot be sent to worker 1: TypeError: cannot pickle '_thread.lock' object"
    """
    try:
        cloudpickle.dumps(value)
    except Exception as exc:
        found = find_culprit(value, "value")
        inner = ""
        if found is not None and found[1] is not value:
            inner = f" ({found[0]} is a {_type_name(found[1])})"
        return NodeError(
            key,
            worker=worker,
            exc_type=type(exc).__qualname__,
            exc_message=f"its value of type {_type_name(value)} cannot be pickled{inner}, "
            f"so it cannot be sent to {destination}: {type(exc).__name__}: {exc}",
            remote_traceback="".join(traceback.format_exception(exc)),
            created_at=created_at,
        )
    return None


def _type_name(obj: Any) -> str:
    t = type(obj)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
