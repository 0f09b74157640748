"""Hypothesis strategies for random graphs and tick sequences (the conformance suite's input).

Design
------
A drawn graph is a :class:`GraphRecipe`, a frozen description, never a built graph: graphs
hold stateful objects, so every run should start from :meth:`GraphRecipe.build` (a fresh
:class:`~fluvius.graph.Graph`). One graph may still be run by several evaluators, since
every :class:`~fluvius.engine.Plan` deep-copies the stateful objects it runs.

Node callables are instances of module-level classes (:class:`FloatOp`,
:class:`AsyncFloatOp`, the stateful :class:`RunningSum`, :class:`RunningCount`,
:class:`EWMean`, :class:`Delta`, :class:`History`), so every drawn graph pickles and
deep-copies, as a multi-process scheduler needs. The float operations (:data:`FLOAT_OPS`)
are deterministic and pure; they are chosen to exercise the engine's corners:

* ``round``, ``floor``, ``clamp``, ``sign`` and ``zero`` often return a value equal to the
  previous one, so the change cutoff fires; ``zero`` and ``neg`` produce ``-0.0``, which
  equals ``0.0`` but has other bits (the cutoff keeps the *old* bits);
* ``nan_above`` produces NaN, which never equals itself and always propagates;
* ``raise_above`` (``ValueError`` above a threshold) and ``raise_negative``
  (``ArithmeticError`` when the inputs sum to a negative number or NaN) raise on some
  inputs, for the error policies (drawn only when ``errors=True``).

Tick batches (:func:`tick_batches`) often repeat a source's current value: a tick with an
equal value still counts as changed.

>>> recipe = GraphRecipe(
...     sources=(("s0", 1.0),),
...     nodes=(NodeRecipe("n/0", "add", ("s0", "s0")), NodeRecipe("n/1", "sum", ("n/0",))),
... )
>>> graph = recipe.build()
>>> graph.node_keys, graph.source_keys
(('n/0', 'n/1'), ('s0',))
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st

from fluvius.graph.builder import GraphBuilder
from fluvius.graph.keys import make_key

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from fluvius.graph.dag import Graph

__all__ = [
    "ASYNC_PREFIX",
    "ERROR_OPS",
    "FLOAT_OPS",
    "STATEFUL_OPS",
    "AsyncFloatOp",
    "Delta",
    "EWMean",
    "FloatOp",
    "GraphRecipe",
    "History",
    "NodeRecipe",
    "RunningCount",
    "RunningSum",
    "Scenario",
    "float_values",
    "graph_recipes",
    "scenarios",
    "tick_batches",
]

ASYNC_PREFIX = "async:"
"""A node recipe whose op starts with this prefix is an ``async def`` version of the op."""


# -- float operations -------------------------------------------------------------------------
def _fold(op: Callable[[float, float], float], xs: Sequence[float]) -> float:
    acc = xs[0]
    for x in xs[1:]:
        acc = op(acc, x)
    return acc


def _add(a: float, b: float) -> float:
    return a + b


def _sub(a: float, b: float) -> float:
    return a - b


def _mul(a: float, b: float) -> float:
    return a * b


def _floor(xs: Sequence[float], p: float) -> float:
    x = xs[0]
    return float(math.floor(x)) if math.isfinite(x) else x


def _clamp(xs: Sequence[float], p: float) -> float:
    return min(max(_fold(_add, xs), -p), p)


def _nan_above(xs: Sequence[float], p: float) -> float:
    return math.nan if xs[0] > p else xs[0]


def _raise_above(xs: Sequence[float], p: float) -> float:
    if xs[0] > p:
        raise ValueError(f"input {xs[0]!r} is above the limit {p!r}")
    return xs[0] + 1.0


def _raise_negative(xs: Sequence[float], p: float) -> float:
    total = _fold(_add, xs)
    if not total >= 0.0:  # negative or NaN
        raise ArithmeticError(f"sum of the inputs {total!r} is negative or NaN")
    return math.sqrt(total)


FLOAT_OPS: Mapping[str, Callable[[Sequence[float], float], float]] = {
    "add": lambda xs, p: _fold(_add, xs) + p,
    "sub": lambda xs, p: _fold(_sub, xs),
    "mul": lambda xs, p: _fold(_mul, xs) * p,
    "sum": lambda xs, p: _fold(_add, xs),
    "mean": lambda xs, p: _fold(_add, xs) / len(xs),
    "max": lambda xs, p: max(xs),
    "min": lambda xs, p: min(xs),
    "hypot": lambda xs, p: math.hypot(*xs),
    "neg": lambda xs, p: -xs[0],
    "round": lambda xs, p: round(_fold(_add, xs), 1),
    "floor": _floor,
    "clamp": _clamp,
    "sign": lambda xs, p: math.copysign(1.0, xs[0]),
    "zero": lambda xs, p: xs[0] * 0.0,
    "nan_above": _nan_above,
}
"""Name -> ``f(inputs, param)``: deterministic, pure, never raising on floats."""

ERROR_OPS: Mapping[str, Callable[[Sequence[float], float], float]] = {
    "raise_above": _raise_above,
    "raise_negative": _raise_negative,
}
"""Name -> ``f(inputs, param)``: raise on some inputs (``param`` is the threshold)."""

_ALL_OPS = {**FLOAT_OPS, **ERROR_OPS}
_PARAMS: Mapping[str, tuple[float, ...]] = {
    "add": (0.0, 0.5, -1.0),
    "mul": (1.0, 0.5, -2.0),
    "clamp": (1.0, 2.5),
    "nan_above": (1.0, 2.0),
    "raise_above": (-0.5, 0.5, 1.5),
}


class FloatOp:
    """A synchronous node: ``FLOAT_OPS[name](inputs, param)`` (or an :data:`ERROR_OPS`)."""

    __slots__ = ("name", "param")

    def __init__(self, name: str, param: float = 0.0) -> None:
        if name not in _ALL_OPS:
            raise ValueError(f"unknown op {name=}; expected one of {sorted(_ALL_OPS)}")
        self.name = name
        self.param = param

    def __call__(self, *xs: float) -> float:
        return _ALL_OPS[self.name](xs, self.param)

    def __repr__(self) -> str:
        return f"FloatOp({self.name!r}, {self.param!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.name, self.param))


class AsyncFloatOp(FloatOp):
    """An ``async`` node: yields to the event loop once, then computes as :class:`FloatOp`."""

    __slots__ = ()

    async def __call__(self, *xs: float) -> float:  # type: ignore[override]
        await asyncio.sleep(0)
        return _ALL_OPS[self.name](xs, self.param)

    def __repr__(self) -> str:
        return f"AsyncFloatOp({self.name!r}, {self.param!r})"


# -- stateful nodes -----------------------------------------------------------------------------
class RunningSum:
    """Sum of every input ever seen; with ``limit``, raises ValueError once ``|sum| > limit``."""

    def __init__(self, limit: float = math.inf) -> None:
        self.limit = limit
        self.total = 0.0

    def update(self, *xs: float) -> None:
        for x in xs:
            self.total += x
        if abs(self.total) > self.limit:
            raise ValueError(f"running sum {self.total!r} beyond {self.limit!r}")

    def get(self) -> float:
        return self.total

    def __repr__(self) -> str:
        return f"RunningSum(limit={self.limit!r})"


class RunningCount:
    """Number of computations so far: its value changes on every computation."""

    def __init__(self) -> None:
        self.n = 0

    def update(self, *xs: float) -> None:
        self.n += 1

    def get(self) -> float:
        return float(self.n)

    def __repr__(self) -> str:
        return "RunningCount()"


class EWMean:
    """Exponentially weighted mean of the first input (first observation taken as is)."""

    def __init__(self, alpha: float = 0.5) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha=}")
        self.alpha = alpha
        self.mean: float | None = None

    def update(self, *xs: float) -> None:
        x = xs[0]
        self.mean = x if self.mean is None else self.alpha * x + (1.0 - self.alpha) * self.mean

    def get(self) -> float | None:
        return self.mean

    def __repr__(self) -> str:
        return f"EWMean(alpha={self.alpha!r})"


class Delta:
    """Change of the first input since the previous computation (``0.0`` at first).

    Order-sensitive, and often equal to its previous value, so the cutoff fires.
    """

    def __init__(self) -> None:
        self.last: float | None = None
        self.delta = 0.0

    def update(self, *xs: float) -> None:
        x = xs[0]
        self.delta = 0.0 if self.last is None else x - self.last
        self.last = x

    def get(self) -> float:
        return self.delta

    def __repr__(self) -> str:
        return "Delta()"


class History:
    """Every input tuple seen, in order: its value shows exactly what the node computed on."""

    def __init__(self) -> None:
        self.seen: list[tuple[Any, ...]] = []

    def update(self, *xs: Any) -> None:
        self.seen.append(xs)

    def get(self) -> tuple[tuple[Any, ...], ...]:
        return tuple(self.seen)

    def __repr__(self) -> str:
        return "History()"


STATEFUL_OPS: Mapping[str, Callable[[float], object]] = {
    "stateful:sum": lambda p: RunningSum(),
    "stateful:count": lambda p: RunningCount(),
    "stateful:ewm": lambda p: EWMean(0.5),
    "stateful:delta": lambda p: Delta(),
}
"""Name -> factory of a fresh, float-valued stateful object (the param is ignored).

:class:`History` is not among them: its value is a tuple, which float operations reject.
"""

_STATEFUL_ERROR_OPS: Mapping[str, Callable[[float], object]] = {
    "stateful:sum_limited": lambda p: RunningSum(limit=p),
}


# -- recipes ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class NodeRecipe:
    """One node of a :class:`GraphRecipe`: its key, op name, param, input keys and flags."""

    key: str
    op: str
    inputs: tuple[str, ...]
    param: float = 0.0
    cutoff: bool = True
    every_tick: bool = False

    def make_fn(self) -> object:
        """A fresh callable or stateful object for this node."""
        if self.op.startswith(ASYNC_PREFIX):
            return AsyncFloatOp(self.op.removeprefix(ASYNC_PREFIX), self.param)
        factory = STATEFUL_OPS.get(self.op) or _STATEFUL_ERROR_OPS.get(self.op)
        if factory is not None:
            return factory(self.param)
        return FloatOp(self.op, self.param)


@dataclass(frozen=True, slots=True)
class GraphRecipe:
    """A random graph as data: build it with :meth:`build` (a fresh graph on every call).

    ``nodes`` are listed so that each reads only sources and earlier nodes;
    ``insertion`` is the order in which they are handed to the builder (a permutation of
    their indices, so that inputs may be named before they exist), empty for list order.
    """

    sources: tuple[tuple[str, float], ...]
    nodes: tuple[NodeRecipe, ...]
    insertion: tuple[int, ...] = ()

    @property
    def source_keys(self) -> tuple[str, ...]:
        """Keys of the sources."""
        return tuple(k for k, _ in self.sources)

    @property
    def node_keys(self) -> tuple[str, ...]:
        """Keys of the nodes, in list order."""
        return tuple(n.key for n in self.nodes)

    def build(self) -> Graph:
        """A new graph with new stateful objects."""
        g = GraphBuilder()
        for key, value in self.sources:
            g.source(key, value)
        for i in self.insertion or range(len(self.nodes)):
            n = self.nodes[i]
            g.node(n.key, n.make_fn(), *n.inputs, cutoff=n.cutoff, every_tick=n.every_tick)
        return g.build()

    def to_code(self) -> str:
        """Python that builds this graph (paste it into a regression test)."""
        lines = ["g = GraphBuilder()"]
        lines += [f"g.source({k!r}, {v!r})" for k, v in self.sources]
        for i in self.insertion or range(len(self.nodes)):
            n = self.nodes[i]
            flags = "" if n.cutoff else ", cutoff=False"
            flags += ", every_tick=True" if n.every_tick else ""
            ins = "".join(f", {k!r}" for k in n.inputs)
            lines.append(f"g.node({n.key!r}, {n.make_fn()!r}{ins}{flags})")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Scenario:
    """A graph recipe and the tick batches to apply after start-up."""

    graph: GraphRecipe
    batches: tuple[dict[str, float], ...] = field(default=())


# -- strategies ---------------------------------------------------------------------------------
_SPECIAL_VALUES = (0.0, -0.0, 1.0, -1.0, 0.5, 1.5, 2.0, 3.0, math.nan, math.inf)


def float_values() -> st.SearchStrategy[float]:
    """Tick values: mostly a few special values (so equal values repeat), some others."""
    return st.one_of(
        st.sampled_from(_SPECIAL_VALUES),
        st.integers(-3, 3).map(float),
        st.floats(-4.0, 4.0, allow_nan=False, allow_infinity=False),
    )


@st.composite
def graph_recipes(
    draw: st.DrawFn,
    /,
    *,
    min_sources: int = 1,
    max_sources: int = 3,
    min_nodes: int = 1,
    max_nodes: int = 10,
    async_nodes: bool = True,
    stateful_nodes: bool = True,
    errors: bool = True,
    every_tick: bool = False,
    shuffle: bool = True,
) -> GraphRecipe:
    """Random DAGs: each node reads 1-3 earlier items (sources or nodes, repeats allowed).

    Parameters
    ----------
    async_nodes, stateful_nodes, errors
        Whether ``async``, stateful and raising nodes may be drawn.
    every_tick
        Whether stateful nodes may ask for ``every_tick`` (live mode).
    shuffle
        Whether nodes may be handed to the builder out of topological order.
    """
    n_sources = draw(st.integers(min_sources, max_sources))
    sources = tuple((f"s{i}", draw(float_values())) for i in range(n_sources))
    sync_ops = sorted(FLOAT_OPS) + (sorted(ERROR_OPS) * 3 if errors else [])
    stateful = sorted(STATEFUL_OPS) + (sorted(_STATEFUL_ERROR_OPS) if errors else [])
    families = ["sync", "sync", "sync"]
    if async_nodes:  # some graphs mostly async, so failures often reach async readers
        families += ["async"] * draw(st.sampled_from((1, 1, 6)))
    families += ["stateful"] if stateful_nodes else []
    keys = [k for k, _ in sources]
    nodes: list[NodeRecipe] = []
    for i in range(draw(st.integers(min_nodes, max_nodes))):
        # favour recent items, so that graphs get deep rather than all hanging off sources
        pool = keys[-4:] if draw(st.booleans()) else keys
        inputs = tuple(draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3)))
        family = draw(st.sampled_from(families))
        if family == "stateful":
            op = draw(st.sampled_from(stateful))
            param = 6.0
        else:
            op = draw(st.sampled_from(sync_ops))
            param = draw(st.sampled_from(_PARAMS.get(op, (0.0,))))
            if family == "async":
                op = ASYNC_PREFIX + op
        cutoff = draw(st.sampled_from((True, True, True, False)))
        tick = every_tick and family == "stateful" and draw(st.booleans())
        key = make_key("n", i)
        nodes.append(NodeRecipe(key, op, inputs, param, cutoff, tick))
        keys.append(key)
    insertion: tuple[int, ...] = ()
    if shuffle and len(nodes) > 1 and draw(st.booleans()):
        insertion = tuple(draw(st.permutations(range(len(nodes)))))
    return GraphRecipe(sources, tuple(nodes), insertion)


@st.composite
def tick_batches(
    draw: st.DrawFn,
    /,
    sources: Sequence[tuple[str, float]] | Sequence[str],
    *,
    min_batches: int = 0,
    max_batches: int = 6,
    allow_empty: bool = True,
) -> list[dict[str, float]]:
    """Batches ``{source key: value}``; about a third of the ticks repeat the current value.

    ``sources`` are keys, or ``(key, initial value)`` pairs so that the very first ticks can
    repeat initial values too.
    """
    current: dict[str, float] = {}
    keys: list[str] = []
    for s in sources:
        if isinstance(s, str):
            keys.append(s)
        else:
            keys.append(s[0])
            current[s[0]] = s[1]
    batches: list[dict[str, float]] = []
    for _ in range(draw(st.integers(min_batches, max_batches))):
        chosen = draw(
            st.lists(st.sampled_from(keys), min_size=0 if allow_empty else 1, unique=True)
        )
        batch: dict[str, float] = {}
        for key in chosen:
            if key in current and draw(st.integers(0, 2)) == 0:
                batch[key] = current[key]
            else:
                batch[key] = draw(float_values())
        current.update(batch)
        batches.append(batch)
    return batches


@st.composite
def scenarios(
    draw: st.DrawFn, /, *, min_batches: int = 0, max_batches: int = 6, **graph_options: Any
) -> Scenario:
    """A random graph (options as :func:`graph_recipes`) and tick batches for it."""
    recipe = draw(graph_recipes(**graph_options))
    batches = draw(tick_batches(recipe.sources, min_batches=min_batches, max_batches=max_batches))
    return Scenario(recipe, tuple(batches))
