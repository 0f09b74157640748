"""Built-in spec ops, the op registry, and resolution of an op name to a node callable.

Design
------
An op is a *factory* ``make(n_inputs, params) -> callable``. The factory validates the params
and the arity once, at build time, and returns a callable specialised on the arity, so the
hot loop pays for neither a generic ``*args`` loop nor keyword arguments. Measured on this
machine (2 cores, CPython 3.11, ``fn(*args)`` with two floats):

=======================================  ========
closure ``lambda a, b: a + b + c``       66 ns
bound method ``_Add(c).two``             75 ns
``functools.partial`` with a keyword     195 ns
instance with a Python ``__call__``      127 ns
=======================================  ========

The factories return *bound methods of small slotted objects* (``_Add(c).two``), or C
builtins where the op is one (``operator.sub``, builtin ``min``). They cost ~10 ns more than
a closure but, unlike closures, they pickle (``getattr(_Add(c), "two")``), and the
multi-process schedulers must send every node to a worker process. Arities 1 to 4 have
their own method; larger arities use ``functools.reduce`` over the inputs, still left to
right. (This repetition is why the file runs a little over 400 lines.)

Float semantics are exact and fixed by the spec contract (docs/reference/cli-and-spec.md):
values combine left to right in input order starting from input 0 (never from a start value
of 0, and never with the compensated summation of Python 3.12's ``sum``). ``add`` then adds
``c`` (default 0) and ``mul`` then multiplies by ``c`` (default 1), always, so
``add(-0.0)`` is ``0.0``.

Resolution (:func:`resolve_op`) maps a spec's ``op`` to what :meth:`GraphBuilder.node`
takes: a registered op gives ``(callable, {})``; a dotted path ``package.module:function``
gives ``(function, params)`` so the builder binds the params as keywords; a dotted path to
a class with ``update``/``get`` methods gives ``(instance, {})``, the class built with the
params as keywords. A name of the node library's table (:data:`LIBRARY_OPS`, e.g.
``rolling_mean``) resolves as its dotted path, imported on first use. Every problem raises
:class:`~fluvius.errors.BadParamsError` whose message names the op, the param and the
allowed values; callers add the node and file.

>>> fn = BUILTIN_OPS["add"](2, {"c": 0.5})
>>> fn(1.0, 2.0)
3.5
>>> resolve_op("math:hypot", 2, {})[0](3.0, 4.0)
5.0
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import numbers
import operator
from collections.abc import Callable, Mapping
from functools import reduce
from types import MappingProxyType
from typing import Any, ClassVar

from fluvius.errors import BadParamsError, FluviusInternalError

__all__ = ["BUILTIN_OPS", "LIBRARY_OPS", "OpFactory", "register_op", "resolve_op", "spin_loop"]

OpFactory = Callable[[int, Mapping[str, Any]], Any]
"""``make(n_inputs, params)`` returns a node callable or a stateful object."""

_add = operator.add
_mul = operator.mul


# -- validation helpers ---------------------------------------------------------------------
def _check_names(op: str, params: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for name, value in params.items():
        if name not in allowed:
            choices = ", ".join(repr(a) for a in allowed) if allowed else "none"
            raise BadParamsError(
                f"op {op!r}: unknown param {name!r} (value {value!r}); allowed params: {choices}"
            )


_REQUIRED: Any = object()


def _real(op: str, params: Mapping[str, Any], name: str, default: Any = _REQUIRED) -> Any:
    if name not in params:
        if default is _REQUIRED:
            raise BadParamsError(f"op {op!r}: missing required param {name!r} (a real number)")
        return default
    value = params[name]
    if type(value) not in (int, float) and (
        isinstance(value, bool) or not isinstance(value, numbers.Real)
    ):
        raise BadParamsError(
            f"op {op!r}: param {name!r} must be a real number, "
            f"got {value!r} ({type(value).__name__})"
        )
    return value


def _arity(op: str, n_inputs: int, exactly: int | None = None) -> None:
    if exactly is not None and n_inputs != exactly:
        raise BadParamsError(f"op {op!r} takes exactly {exactly} input(s), got {n_inputs}")
    if n_inputs < 1:
        raise BadParamsError(f"op {op!r} takes at least 1 input, got {n_inputs}")


# -- op objects -------------------------------------------------------------------------------
def _identity(a: Any) -> Any:
    return a


class _Op:
    """Base of the op objects: a repr showing the params, and arity dispatch."""

    __slots__ = ()
    name: ClassVar[str] = ""

    def __repr__(self) -> str:
        slots: tuple[str, ...] = self.__slots__
        shown = ", ".join(f"{s}={getattr(self, s)!r}" for s in slots)
        return f"{self.name}({shown})"

    def __reduce__(self) -> tuple[Any, ...]:
        """The class and the params, in slot order (``__init__`` takes them so): half the
        time of the default pickling of a slotted object, both ways, and every node of a
        spec graph crosses to a worker process this way."""
        slots: tuple[str, ...] = self.__slots__
        return (type(self), tuple(getattr(self, s) for s in slots))

    def pick(self, n_inputs: int) -> Callable[..., Any]:
        """The method specialised on ``n_inputs`` (``many`` above four)."""
        names = ("one", "two", "three", "four")
        method: Callable[..., Any] = getattr(self, names[n_inputs - 1] if n_inputs <= 4 else "many")
        return method


class _Add(_Op):
    __slots__ = ("c",)
    name = "add"

    def __init__(self, c: Any) -> None:
        self.c = c

    def one(self, a: Any) -> Any:
        return a + self.c

    def two(self, a: Any, b: Any) -> Any:
        return a + b + self.c

    def three(self, a: Any, b: Any, x: Any) -> Any:
        return a + b + x + self.c

    def four(self, a: Any, b: Any, x: Any, y: Any) -> Any:
        return a + b + x + y + self.c

    def many(self, *args: Any) -> Any:
        return reduce(_add, args) + self.c


class _Mul(_Op):
    __slots__ = ("c",)
    name = "mul"

    def __init__(self, c: Any) -> None:
        self.c = c

    def one(self, a: Any) -> Any:
        return a * self.c

    def two(self, a: Any, b: Any) -> Any:
        return a * b * self.c

    def three(self, a: Any, b: Any, x: Any) -> Any:
        return a * b * x * self.c

    def four(self, a: Any, b: Any, x: Any, y: Any) -> Any:
        return a * b * x * y * self.c

    def many(self, *args: Any) -> Any:
        return reduce(_mul, args) * self.c


class _Sum(_Op):
    __slots__ = ()
    name = "sum"

    def three(self, a: Any, b: Any, x: Any) -> Any:
        return a + b + x

    def four(self, a: Any, b: Any, x: Any, y: Any) -> Any:
        return a + b + x + y

    def many(self, *args: Any) -> Any:
        return reduce(_add, args)


class _Mean(_Op):
    __slots__ = ()
    name = "mean"

    def one(self, a: Any) -> Any:
        return a / 1

    def two(self, a: Any, b: Any) -> Any:
        return (a + b) / 2

    def three(self, a: Any, b: Any, x: Any) -> Any:
        return (a + b + x) / 3

    def four(self, a: Any, b: Any, x: Any, y: Any) -> Any:
        return (a + b + x + y) / 4

    def many(self, *args: Any) -> Any:
        return reduce(_add, args) / len(args)


class _Scale(_Op):
    __slots__ = ("factor",)
    name = "scale"

    def __init__(self, factor: Any) -> None:
        self.factor = factor

    def one(self, a: Any) -> Any:
        return a * self.factor


def spin_loop(n: int) -> int:
    """Run ``n`` iterations of integer work in pure Python; return a checksum.

    This is the CPU work of the ``spin`` op: a linear congruential step per iteration, which
    CPython cannot skip, and nothing that releases the GIL.

    >>> spin_loop(0), spin_loop(3)
    (0, 1103515247)
    """
    acc = 0
    for i in range(n):
        acc = (acc * 1103515245 + i) & 0xFFFFFFFF
    return acc


class _Spin(_Op):
    __slots__ = ("n",)
    name = "spin"

    def __init__(self, n: int) -> None:
        self.n = n

    def _work(self) -> None:
        if spin_loop(self.n) < 0:  # never true: ties the loop's result to control flow
            raise FluviusInternalError("spin checksum cannot be negative")

    def __reduce__(self) -> tuple[Any, ...]:
        """The class and the params, in slot order (``__init__`` takes them so): half the
        time of the default pickling of a slotted object, both ways, and every node of a
        spec graph crosses to a worker process this way."""
        slots: tuple[str, ...] = self.__slots__
        return (type(self), tuple(getattr(self, s) for s in slots))

    def pick(self, n_inputs: int) -> Callable[..., Any]:
        return self.one if n_inputs == 1 else self.many  # ~2 ms of work: no need for more

    def one(self, a: Any) -> Any:
        self._work()
        return a

    def many(self, *args: Any) -> Any:
        self._work()
        return reduce(_add, args)


_SUM = _Sum()
_MEAN = _Mean()


# -- factories --------------------------------------------------------------------------------
def _make_add(n_inputs: int, params: Mapping[str, Any]) -> Callable[..., Any]:
    _check_names("add", params, ("c",))
    _arity("add", n_inputs)
    return _Add(_real("add", params, "c", 0)).pick(n_inputs)


def _make_mul(n_inputs: int, params: Mapping[str, Any]) -> Callable[..., Any]:
    _check_names("mul", params, ("c",))
    _arity("mul", n_inputs)
    return _Mul(_real("mul", params, "c", 1)).pick(n_inputs)


def _make_fixed(name: str, fn: Callable[..., Any], arity: int) -> OpFactory:
    def make(n_inputs: int, params: Mapping[str, Any]) -> Callable[..., Any]:
        _check_names(name, params, ())
        _arity(name, n_inputs, arity)
        return fn

    make.__qualname__ = make.__name__ = f"make_{name}"
    return make


def _make_scale(n_inputs: int, params: Mapping[str, Any]) -> Callable[..., Any]:
    _check_names("scale", params, ("factor",))
    _arity("scale", n_inputs, 1)
    return _Scale(_real("scale", params, "factor")).one


def _make_sum(n_inputs: int, params: Mapping[str, Any]) -> Callable[..., Any]:
    _check_names("sum", params, ())
    _arity("sum", n_inputs)
    if n_inputs == 1:
        return _identity
    return _add if n_inputs == 2 else _SUM.pick(n_inputs)


def _make_mean(n_inputs: int, params: Mapping[str, Any]) -> Callable[..., Any]:
    _check_names("mean", params, ())
    _arity("mean", n_inputs)
    return _MEAN.pick(n_inputs)


def _make_extremum(name: str, builtin: Callable[..., Any]) -> OpFactory:
    def make(n_inputs: int, params: Mapping[str, Any]) -> Callable[..., Any]:
        _check_names(name, params, ())
        _arity(name, n_inputs)
        return _identity if n_inputs == 1 else builtin  # builtin min(a) would iterate a

    make.__qualname__ = make.__name__ = f"make_{name}"
    return make


def _make_spin(n_inputs: int, params: Mapping[str, Any]) -> Callable[..., Any]:
    _check_names("spin", params, ("n",))
    _arity("spin", n_inputs)
    if "n" not in params:
        raise BadParamsError("op 'spin': missing required param 'n' (an int >= 0)")
    n = params["n"]
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise BadParamsError(f"op 'spin': param 'n' must be an int >= 0, got {n!r}")
    return _Spin(n).pick(n_inputs)


_OPS: dict[str, OpFactory] = {
    "add": _make_add,
    "sub": _make_fixed("sub", operator.sub, 2),
    "mul": _make_mul,
    "div": _make_fixed("div", operator.truediv, 2),
    "neg": _make_fixed("neg", operator.neg, 1),
    "identity": _make_fixed("identity", _identity, 1),
    "scale": _make_scale,
    "sum": _make_sum,
    "mean": _make_mean,
    "min": _make_extremum("min", min),
    "max": _make_extremum("max", max),
    "spin": _make_spin,
}

BUILTIN_OPS: Mapping[str, OpFactory] = MappingProxyType(_OPS)
"""Read-only live view of the op registry: name → factory (see :func:`register_op`)."""


# -- library ops ------------------------------------------------------------------------------
# Ops implemented by the node library (fluvius.nodes). The graph layer must not import the
# library, so each op is a dotted path resolved lazily, only when a spec names the op, by the
# same machinery as a spec's own dotted paths (_resolve_dotted). Exact shape, one line per op:
#
#     "op_name": "fluvius.nodes.<package>.<module>:<Name>",
#
# where <Name> is either a class with update/get (one instance per node, created with the
# spec's params as keywords; update receives the input values in order), or a function
# (called with the input values in order and the params as keywords). Each part appends its
# own block, sorted by op name; the table test (tests/nodes/test_library.py) imports every
# entry.
_LIBRARY_OPS: dict[str, str] = {
    # nodes/stats and nodes/anomaly
    "ewm_mean": "fluvius.nodes.stats.ewmean:EWMean",
    "rolling_max": "fluvius.nodes.stats.rolling_minmax:RollingMax",
    "rolling_mean": "fluvius.nodes.stats.rolling_mean:RollingMean",
    "rolling_min": "fluvius.nodes.stats.rolling_minmax:RollingMin",
    "rolling_std": "fluvius.nodes.stats.rolling_var:RollingStd",
    "rolling_sum": "fluvius.nodes.stats.rolling_sum:RollingSum",
    "zscore": "fluvius.nodes.anomaly.zscore:RollingZScore",
    # nodes/options
    "bs_delta": "fluvius.nodes.options.bsm:bs_delta",
    "bs_gamma": "fluvius.nodes.options.bsm:bs_gamma",
    "bs_price": "fluvius.nodes.options.bsm:bs_price",
    "bs_rho": "fluvius.nodes.options.bsm:bs_rho",
    "bs_theta": "fluvius.nodes.options.bsm:bs_theta",
    "bs_vega": "fluvius.nodes.options.bsm:bs_vega",
    "implied_vol": "fluvius.nodes.options.implied:implied_vol",
    "smile_vol": "fluvius.nodes.options.smile:smile_vol",
    # nodes/models (inputs: features..., target last; value: the prediction made before learning)
    "least_squares": "fluvius.nodes.models.prequential:PrequentialLeastSquares",
    "logistic_regression": "fluvius.nodes.models.prequential:PrequentialLogistic",
    "rls": "fluvius.nodes.models.prequential:PrequentialRLS",
    "sgd_regression": "fluvius.nodes.models.prequential:PrequentialGD",
    # nodes/monitoring
    "decay_alert": "fluvius.nodes.monitoring.decay_alert:DecayAlert",
    "fallback_switch": "fluvius.nodes.monitoring.fallback:FallbackSwitch",
    "ks_drift": "fluvius.nodes.monitoring.ks:KSDrift",
    "psi_drift": "fluvius.nodes.monitoring.psi:PSIDrift",
    "rolling_mae": "fluvius.nodes.monitoring.rolling_error:RollingMAE",
    "rolling_rmse": "fluvius.nodes.monitoring.rolling_error:RollingRMSE",
}

LIBRARY_OPS: Mapping[str, str] = MappingProxyType(_LIBRARY_OPS)
"""Read-only view of the library op table: op name → dotted path (imported on first use)."""


def register_op(name: str, factory: OpFactory, *, replace: bool = False) -> None:
    """Add an op to the registry so spec files can name it.

    Parameters
    ----------
    name
        The op name used in specs: a Python identifier (no ``:``, which marks dotted paths).
    factory
        ``make(n_inputs, params)``: validates at once (raise
        :class:`~fluvius.errors.BadParamsError` naming the op, param, value and the allowed
        values) and returns a callable of ``n_inputs`` positional values, or a stateful
        object with ``update``/``get``.
    replace
        Allow replacing an op already registered under ``name``.

    >>> register_op("twice", lambda n, p: (lambda a: 2 * a))
    >>> BUILTIN_OPS["twice"](1, {})(21)
    42
    >>> del _OPS["twice"]
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"an op name must be a Python identifier, got {name=}")
    if not callable(factory):
        raise TypeError(f"op {name!r}: the factory must be callable, got {factory!r}")
    if name in _OPS and not replace:
        raise ValueError(f"op {name!r} is already registered; pass replace=True to replace it")
    _OPS[name] = factory


def resolve_op(
    name: str,
    n_inputs: int,
    params: Mapping[str, Any] | None = None,
    *,
    by_keyword: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """Turn a spec's op into ``(callable or stateful object, params for the builder)``.

    ``by_keyword`` says the spec passes the inputs by name (an ``inputs`` mapping): dotted
    paths and library ops take them, registered ops (``add``, ``scale`` …) take their
    inputs in order only.

    >>> fn, bound = resolve_op("scale", 1, {"factor": 2})
    >>> fn(1.5), bound
    (3.0, {})
    >>> resolve_op("ad", 2, {})
    Traceback (most recent call last):
    ...
    fluvius.errors.BadParamsError: unknown op 'ad' (did you mean 'add'?)
    """
    params = {} if params is None else params
    if ":" in name:
        return _resolve_dotted(name, params)
    factory = _OPS.get(name)
    if factory is None and name in _LIBRARY_OPS:
        return _resolve_dotted(_LIBRARY_OPS[name], params, shown=name)
    if factory is None:
        close = difflib.get_close_matches(name, [*_OPS, *_LIBRARY_OPS], n=1)
        if close:
            raise BadParamsError(f"unknown op {name!r} (did you mean {close[0]!r}?)")
        raise BadParamsError(
            f"unknown op {name!r}: registered ops are {', '.join(sorted([*_OPS, *_LIBRARY_OPS]))}, "
            "or give a dotted path 'package.module:function'"
        )
    if by_keyword:
        raise BadParamsError(
            f"op {name!r} takes its inputs in order; give 'inputs' as a list of keys"
        )
    return factory(n_inputs, params), {}


def _resolve_dotted(
    path: str, params: Mapping[str, Any], shown: str = ""
) -> tuple[Any, dict[str, Any]]:
    """Import ``path`` ('package.module:attr'); errors name the op as ``shown`` (or ``path``)."""
    name = shown or path
    module_name, _, attr_path = path.partition(":")
    if not module_name or not attr_path or ":" in attr_path:
        raise BadParamsError(
            f"op {name!r} is not a valid dotted path; expected 'package.module:function'"
        )
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:  # an import can fail in any way; report it against the op
        raise BadParamsError(
            f"op {name!r}: cannot import module {module_name!r}: {type(exc).__name__}: {exc}"
        ) from exc
    for part in attr_path.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            close = difflib.get_close_matches(part, dir(target), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise BadParamsError(
                f"op {name!r}: {module_name!r} has no attribute {attr_path!r}{hint}"
            ) from None
    if (
        inspect.isclass(target)
        and callable(getattr(target, "update", None))
        and callable(getattr(target, "get", None))
    ):
        try:
            return target(**params), {}
        except (TypeError, ValueError) as exc:
            raise BadParamsError(
                f"op {name!r}: cannot create {target.__qualname__} with params "
                f"{dict(params)!r}: {exc}"
            ) from exc
    if not callable(target):
        raise BadParamsError(f"op {name!r} names {target!r}, which is not callable")
    return target, dict(params)
