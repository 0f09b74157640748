"""The options functions as graph nodes: one call per option and tick, params fixed once.

A graph node calls its function with the params the spec gives (``kind``, maybe
``dividend_yield``) on every tick. Through ``functools.partial`` that costs a dict merge and
Python's keyword binding per call, then :func:`~fluvius.nodes.options.bsm.bs_delta`'s
routing (``_evaluate``: the kind's sign, the scalar test) before the formula itself: about
0.65 µs a greek of which the formula (``_scalar_bs``) is 0.3. The engine asks a function
for a call specialised on its params (``fn.node_call(n_inputs, params)``, see
:mod:`fluvius.engine.plan`); these are the options functions' answers:

:class:`GreekNode`
    ``bs_*`` of five inputs ``(spot, strike, years, rate, vol)`` with ``kind`` and
    ``dividend_yield`` fixed: the sign is worked out once, and floats inside the domain go
    straight to the ``_scalar_bs`` formula, exactly as ``_evaluate`` sends them; anything
    else (ints that make no float sum, numpy values, arrays, NaN, the domain's edges, wrong
    types) calls the function itself, so every value and every error is the function's.
:class:`ImpliedVolNode`
    ``implied_vol`` of five inputs ``(price, spot, strike, years, rate)``: the function
    called positionally (no keyword dict per call).

Either answer is None (the engine then binds the params with ``partial``) when the params
are not these or the inputs are not five: the node then runs as it always did.

>>> from fluvius.nodes.options import bs_delta
>>> call = bs_delta.node_call(5, {"kind": "put"})
>>> call(42.0, 40.0, 0.5, 0.1, 0.2) == bs_delta(42.0, 40.0, 0.5, 0.1, 0.2, kind="put")
True
>>> bs_delta.node_call(6, {}) is None  # the kind is an input: nothing to fix
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["GreekNode", "ImpliedVolNode", "greek_node_call", "implied_vol_node_call"]

_SIGNS = {"call": 1.0, "put": -1.0}


class GreekNode:
    """``fn(spot, strike, years, rate, vol, kind, dividend_yield=q)`` with ``kind`` and ``q``
    fixed (module docstring); :meth:`five` is the node's call."""

    __slots__ = ("fn", "kind", "q", "s", "scalar")

    def __init__(self, fn: Callable[..., Any], scalar: Callable[..., float], kind: str, q: Any):
        self.fn = fn
        self.scalar = scalar
        self.kind = kind
        self.q = q
        self.s = _SIGNS[kind]

    def five(self, spot: Any, strike: Any, years: Any, rate: Any, vol: Any) -> Any:
        """The greek of one option: ``_evaluate``'s float path, else the function."""
        q = self.q
        try:
            total = spot + strike + years + rate + vol + q
        except Exception:  # not numbers: the function says what is wrong
            return self.fn(spot, strike, years, rate, vol, self.kind, dividend_yield=q)
        if (
            total.__class__ is float
            and spot > 0.0
            and strike > 0.0
            and years > 0.0
            and vol > 0.0
            and total - total == 0.0  # everything finite
        ):
            return self.scalar(spot, strike, years, rate, vol, self.s, q)
        return self.fn(spot, strike, years, rate, vol, self.kind, dividend_yield=q)

    def __repr__(self) -> str:
        return f"{self.fn.__name__}(kind={self.kind!r}, dividend_yield={self.q!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (GreekNode, (self.fn, self.scalar, self.kind, self.q))


class ImpliedVolNode:
    """``fn(price, spot, strike, years, rate, kind)`` with ``kind`` fixed (and
    ``dividend_yield`` when the params give one: ``has_q``); :meth:`five` or :meth:`five_q`
    is the node's call."""

    __slots__ = ("fn", "has_q", "kind", "q")

    def __init__(self, fn: Callable[..., Any], kind: str, q: Any, has_q: bool) -> None:
        self.fn = fn
        self.kind = kind
        self.q = q
        self.has_q = has_q

    def five(self, price: Any, spot: Any, strike: Any, years: Any, rate: Any) -> Any:
        """The implied volatility of one option (the function's own default yield)."""
        return self.fn(price, spot, strike, years, rate, self.kind)

    def five_q(self, price: Any, spot: Any, strike: Any, years: Any, rate: Any) -> Any:
        """The same with the params' dividend yield."""
        return self.fn(price, spot, strike, years, rate, self.kind, dividend_yield=self.q)

    def __repr__(self) -> str:
        shown = f", dividend_yield={self.q!r}" if self.has_q else ""
        return f"{self.fn.__name__}(kind={self.kind!r}{shown})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (ImpliedVolNode, (self.fn, self.kind, self.q, self.has_q))


def _fixed(n_inputs: int, params: Mapping[str, Any]) -> tuple[str, Any] | None:
    """``(kind, dividend_yield)`` when five inputs and these params only, else None."""
    if n_inputs != 5 or not params.keys() <= {"kind", "dividend_yield"}:
        return None
    kind = params.get("kind", "call")
    if kind.__class__ is not str or kind not in _SIGNS:
        return None  # not a plain kind: the function's own path (and its error)
    return kind, params.get("dividend_yield", _UNSET)


_UNSET: Any = object()


def greek_node_call(
    fn: Callable[..., Any], scalar: Callable[..., float], n_inputs: int, params: Mapping[str, Any]
) -> Callable[..., Any] | None:
    """The node call of ``bs_*`` function ``fn`` (``scalar``: its ``_scalar_bs`` formula)."""
    fixed = _fixed(n_inputs, params)
    if fixed is None:
        return None
    kind, q = fixed
    return GreekNode(fn, scalar, kind, 0.0 if q is _UNSET else q).five


def implied_vol_node_call(
    fn: Callable[..., Any], n_inputs: int, params: Mapping[str, Any]
) -> Callable[..., Any] | None:
    """The node call of ``implied_vol`` (``fn``)."""
    fixed = _fixed(n_inputs, params)
    if fixed is None:
        return None
    kind, q = fixed
    if q is _UNSET:
        return ImpliedVolNode(fn, kind, None, False).five
    return ImpliedVolNode(fn, kind, q, True).five_q
