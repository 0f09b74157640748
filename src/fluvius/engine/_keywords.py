"""Calls of nodes whose inputs are passed by name (``inputs={"vol": iv}``).

Design
------
A node's values arrive in ``NodeSpec.inputs`` order, the keyword inputs last
(``NodeSpec.keywords`` names them). Passing them as keywords on every computation
(``fn(**kwargs)``) costs a dict and Python's keyword binding each time: measured 1.2x the
tick time of a positional ``bs_delta`` node, 2x that of a lambda (docs/benchmarks.md).
So :func:`keyword_call` works out once, from the function's signature, which positional
slot each input and each param fills, and the node then calls ``fn(*args)`` with a list
filled in place (:class:`_SlotCall`), as fast as the lambda users wrote before. A slot
left between two given ones takes the parameter's default (the same object Python would
use); params naming keyword-only parameters stay keywords, fixed once.

When the signature cannot be read (a builtin), or a keyword input names a keyword-only
parameter, or the function takes ``**kwargs``, the node falls back to
:class:`_KeywordCall`: ``fn(*first, **params, **named)``, rebuilt per computation.

Layouts are cached per function (for plain functions: per code object and defaults, as
:func:`fluvius.graph.validate.check_callable` does), so a graph of 40,000 such nodes reads
one signature, not 40,000.

>>> def f(spot, strike, years=1.0, *, q=0.0):
...     return (spot, strike, years, q)
>>> call = keyword_call(f, ("spot",), 0, {"strike": 100.0, "q": 0.5})
>>> type(call).__name__, call(90.0)
('_SlotCall', (90.0, 100.0, 1.0, 0.5))
"""

from __future__ import annotations

import inspect
from types import FunctionType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["keyword_call", "stateful_keyword_call"]

_P = inspect.Parameter


class _Default:
    """A layout slot filled with the parameter's default value."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


# one slot of a positional call: an input's index, a param's name, or a default
_Slot = int | str | _Default
_Layout = tuple[tuple[_Slot, ...], tuple[str, ...]]  # positional slots, keyword-only params
# what each node copies: args template, input slots, (slot, param name) pairs, kw-only names
_Recipe = tuple[list[Any], tuple[int, ...], tuple[tuple[int, str], ...], tuple[str, ...]]
_CACHE: dict[tuple[Any, ...], tuple[Any, Any, Any, _Recipe | None]] = {}


class _SlotCall:
    """``fn(*args)``: ``args`` is a template of params and defaults, inputs written in."""

    __slots__ = ("args", "fn", "kwargs", "slots")

    def __init__(
        self, fn: Any, args: list[Any], slots: tuple[int, ...], kwargs: dict[str, Any]
    ) -> None:
        self.fn = fn
        self.args = args
        self.slots = slots
        self.kwargs = kwargs

    def __call__(self, *values: Any) -> Any:
        # an index loop: zip(..., strict=True) alone costs about 1 µs here
        args = self.args.copy()
        for i, slot in enumerate(self.slots):
            args[slot] = values[i]
        return self.fn(*args, **self.kwargs) if self.kwargs else self.fn(*args)


class _KeywordCall:
    """``fn(*first, **params, **named)``: the general form (see the module docstring)."""

    __slots__ = ("fn", "names", "params", "positional")

    def __init__(
        self, fn: Any, names: tuple[str, ...], positional: int, params: Mapping[str, Any]
    ) -> None:
        self.fn = fn
        self.names = names
        self.positional = positional
        self.params = params

    def __call__(self, *values: Any) -> Any:
        n = self.positional
        kwargs = dict(self.params)
        kwargs.update(zip(self.names, values[n:]))  # noqa: B905 - lengths fixed
        return self.fn(*values[:n], **kwargs)


class _StatefulKeywordCall:
    """A stateful node with keyword inputs: ``obj.update(*first, **named)``, then ``get()``."""

    __slots__ = ("get", "names", "obj", "positional", "update")

    def __init__(self, obj: Any, names: tuple[str, ...], positional: int) -> None:
        self.obj = obj
        self.update = obj.update
        self.get = obj.get
        self.names = names
        self.positional = positional

    def __call__(self, *values: Any) -> Any:
        n = self.positional
        self.update(*values[:n], **dict(zip(self.names, values[n:])))  # noqa: B905 - as above
        return self.get()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_StatefulKeywordCall, (self.obj, self.names, self.positional))


def stateful_keyword_call(obj: Any, names: tuple[str, ...], positional: int) -> Callable[..., Any]:
    """The call of a stateful node whose ``update`` takes ``names`` by keyword."""
    return _StatefulKeywordCall(obj, names, positional)


def keyword_call(
    fn: Any, names: tuple[str, ...], positional: int, params: Mapping[str, Any]
) -> Callable[..., Any]:
    """The call of function node ``fn``: ``positional`` values first, then ``names``."""
    recipe = _cached_recipe(fn, names, positional, tuple(params))
    if recipe is None:
        return _KeywordCall(fn, names, positional, params)
    template, input_slots, param_slots, kwonly = recipe
    args = template.copy()
    for i, name in param_slots:
        args[i] = params[name]
    return _SlotCall(fn, args, input_slots, {k: params[k] for k in kwonly} if kwonly else {})


def _cached_recipe(
    fn: Any, names: tuple[str, ...], positional: int, param_names: tuple[str, ...]
) -> _Recipe | None:
    if fn.__class__ is FunctionType:  # closures of one function share their layout
        code, defaults, kwdefaults = fn.__code__, fn.__defaults__, fn.__kwdefaults__
    else:
        code, defaults, kwdefaults = fn, None, None
    key = (id(code), names, positional, param_names)
    entry = _CACHE.get(key)
    if (  # inline, not a generator: this runs once per node of a plan
        entry is not None
        and entry[0] is code
        and (entry[1] is defaults or entry[1] == defaults)
        and (entry[2] is kwdefaults or entry[2] == kwdefaults)
    ):
        return entry[3]
    layout = _layout(fn, names, positional, param_names)
    recipe = None if layout is None else _recipe(layout, positional + len(names))
    _CACHE[key] = (code, defaults, kwdefaults, recipe)
    return recipe


def _recipe(layout: _Layout, n_inputs: int) -> _Recipe:
    """A layout as what each node copies: the defaults template, where each input and
    each param goes, and the keyword-only params."""
    slots, kwonly = layout
    template: list[Any] = []
    input_slots = [0] * n_inputs
    param_slots = []
    for i, slot in enumerate(slots):
        template.append(slot.value if isinstance(slot, _Default) else None)
        if isinstance(slot, int):
            input_slots[slot] = i
        elif isinstance(slot, str):
            param_slots.append((i, slot))
    return template, tuple(input_slots), tuple(param_slots), kwonly


def _layout(
    fn: Any, names: tuple[str, ...], positional: int, param_names: tuple[str, ...]
) -> _Layout | None:
    """Which positional slot each input and param fills, or None (see the docstring)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    parameters = signature.parameters
    if any(p.kind is _P.VAR_KEYWORD or p.kind is _P.VAR_POSITIONAL for p in parameters.values()):
        return None
    in_order = [
        p for p in parameters.values() if p.kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)
    ]
    slot_of = {p.name: i for i, p in enumerate(in_order) if p.kind is _P.POSITIONAL_OR_KEYWORD}
    if positional > len(in_order):
        return None
    filled: dict[int, _Slot] = {i: i for i in range(positional)}
    for j, name in enumerate(names):
        i = slot_of.get(name)
        if i is None or i in filled:
            return None
        filled[i] = positional + j
    kwonly = []
    for name in param_names:
        i = slot_of.get(name)
        if i is None:
            p = parameters.get(name)
            if p is None or p.kind is not _P.KEYWORD_ONLY:
                return None
            kwonly.append(name)
        elif i in filled:
            return None
        else:
            filled[i] = name
    slots: list[_Slot] = []
    for i in range(max(filled, default=-1) + 1):
        if i in filled:
            slots.append(filled[i])
        elif in_order[i].default is not _P.empty:
            slots.append(_Default(in_order[i].default))
        else:
            return None  # a required argument nobody gives: the builder reports it
    return tuple(slots), tuple(kwonly)
