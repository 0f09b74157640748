"""Build-time checks: topological order, cycles, missing inputs, signature checks."""

from __future__ import annotations

import itertools

import pytest

from fluvius.errors import BadParamsError, CycleError, MissingInputError
from fluvius.graph import GraphBuilder
from fluvius.graph.validate import (
    check_callable,
    check_inputs_exist,
    find_cycle,
    topological_order,
)
from fluvius.testing.strategies import AsyncFloatOp, FloatOp, RunningSum


def neg(x: float) -> float:
    return -x


# -- topological order --------------------------------------------------------------------------
def test_topological_order_keeps_an_order_that_is_already_topological() -> None:
    assert topological_order([[], [0], [0, 1], []]) == [0, 1, 2, 3]


def test_topological_order_breaks_ties_by_index() -> None:
    # 0 reads 3; 1 reads 3; 2 free; 3 free -> ready {2, 3}: 2 first, then 3, then 0, 1
    assert topological_order([[3], [3], [], []]) == [2, 3, 0, 1]
    assert topological_order([[], [2], [0]]) == [0, 2, 1]


def test_topological_order_counts_a_repeated_input_once() -> None:
    assert topological_order([[1, 1], []]) == [1, 0]


def test_topological_order_reports_a_cycle_by_index() -> None:
    with pytest.raises(CycleError, match=r"the graph has a cycle: 1 -> 0 -> 1") as info:
        topological_order([[1], [0]])
    assert info.value.cycle == ["1", "0", "1"]


def test_find_cycle_in_data_flow_order() -> None:
    # 0 reads 2, 1 reads 0, 2 reads 1: data flows 2 -> 0 -> 1 -> 2
    assert find_cycle([[2], [0], [1]], [0, 1, 2]) == [1, 2, 0, 1]
    assert find_cycle([[0]], [0]) == [0, 0]


# -- cycles, through the builder ----------------------------------------------------------------
def test_cycle_error_prints_the_cycle_keys_in_order() -> None:
    g = GraphBuilder()
    g.source("s", 1.0)
    g.node("a", lambda x, y: x, "s", "c")
    g.node("b", neg, "a")
    g.node("c", neg, "b")
    g.node("downstream", neg, "c")  # blocked by the cycle, but not part of it
    # data flows c -> a -> b -> c; the walk starts from the first item it could not place
    with pytest.raises(CycleError, match=r"^the graph has a cycle: b -> c -> a -> b$") as info:
        g.build()
    assert info.value.cycle == ["b", "c", "a", "b"]


def test_self_loop_is_a_cycle() -> None:
    g = GraphBuilder()
    g.node("me", neg, "me")
    with pytest.raises(CycleError, match=r"the graph has a cycle: me -> me$"):
        g.build()


def test_cycle_reported_is_a_real_path() -> None:
    g = GraphBuilder()
    g.source("s")
    g.node("x", lambda a, b: a, "s", "z")
    g.node("y", neg, "x")
    g.node("z", lambda a, b: a, "y", "w")
    g.node("w", neg, "w2")
    g.node("w2", neg, "w")
    with pytest.raises(CycleError) as info:
        g.build()
    cycle = info.value.cycle
    assert cycle[0] == cycle[-1]
    assert len(set(cycle[:-1])) == len(cycle) - 1
    graph_inputs = {"x": ("s", "z"), "y": ("x",), "z": ("y", "w"), "w": ("w2",), "w2": ("w",)}
    for src, dst in itertools.pairwise(cycle):
        assert src in graph_inputs[dst], f"{dst} does not read {src}"


# -- missing inputs -----------------------------------------------------------------------------
def test_missing_input_without_a_close_match() -> None:
    with pytest.raises(
        MissingInputError,
        match=r"^node 'n' reads input 'zzz', which is neither a node nor a source$",
    ):
        check_inputs_exist("n", ["s", "zzz"], {"s": 0, "spot/AAPL": 1})


def test_missing_input_suggests_close_keys() -> None:
    with pytest.raises(MissingInputError, match=r"; did you mean '.*'\?$") as info:
        check_inputs_exist("n", ["spot/AAPX"], {"spot/AAPL": 0, "spot/AAPM": 1, "zz": 2})
    hint = str(info.value).split("did you mean ")[1]
    assert sorted(hint.rstrip("?").split(", ")) == ["'spot/AAPL'", "'spot/AAPM'"]


# -- callables and signatures -------------------------------------------------------------------
def two(a: float, b: float, *, k: float = 1.0) -> float:
    return (a + b) * k


async def fetch(x: float) -> float:
    return x


def test_check_callable_classifies_what_binds() -> None:
    assert check_callable("n", two, 2, {}) == "sync"
    assert check_callable("n", two, 2, {"k": 2.0}) == "sync"
    assert check_callable("n", max, 3, {}) == "sync"  # no signature to check: accepted
    assert check_callable("n", fetch, 1, {}) == "async"
    assert check_callable("n", AsyncFloatOp("neg"), 1, {}) == "async"
    assert check_callable("n", FloatOp("neg"), 1, {}) == "sync"
    assert check_callable("n", RunningSum(), 2, {}) == "stateful"
    assert check_callable("n", RunningSum().update, 2, {}) == "sync"  # a bound method


@pytest.mark.parametrize(
    ("n_inputs", "params", "problem"),
    [
        (1, {}, "missing a required argument: 'b'"),
        (3, {}, "too many positional arguments"),
        (2, {"k": 1.0, "b": 2.0}, "multiple values for argument 'b'"),
    ],
)
def test_check_callable_names_node_and_problem(
    n_inputs: int, params: dict[str, float], problem: str
) -> None:
    for _ in range(2):  # the second time from the cache, with the same message
        with pytest.raises(
            BadParamsError,
            match=rf"^node 'iv/AAPL': function two cannot take {n_inputs} input\(s\) and "
            rf"params \[.*\]: {problem}",
        ):
            check_callable("iv/AAPL", two, n_inputs, params)


class One:
    def update(self, x: float) -> None: ...

    def get(self) -> float:
        return 0.0


def test_check_callable_stateful_objects() -> None:
    assert check_callable("n", One(), 1, {}) == "stateful"
    with pytest.raises(BadParamsError, match=r"node 'n': One.update cannot take 2 input\(s\)"):
        check_callable("n", One(), 2, {})
    with pytest.raises(BadParamsError, match=r"constructor, not params=\['limit'\]"):
        check_callable("n", RunningSum(), 1, {"limit": 1.0})
    with pytest.raises(BadParamsError, match=r"node 'n': a node needs a callable.*got 'text'"):
        check_callable("n", "text", 1, {})


def test_check_callable_cache_follows_changed_defaults() -> None:
    def f(a: float, b: float = 0.0) -> float:
        return a + b

    assert check_callable("n", f, 1, {}) == "sync"
    f.__defaults__ = None
    with pytest.raises(BadParamsError, match="missing a required argument: 'b'"):
        check_callable("n", f, 1, {})


def test_check_callable_cache_tells_bound_methods_from_functions() -> None:
    """A method and its bound form share one code object but not one signature (the cache
    once keyed on ``id(__code__)`` and arity only, and accepted ``K.m`` after ``K().m``)."""

    class K:
        def m(self, x: float) -> float:
            return x

    assert check_callable("a", K().m, 1, {}) == "sync"
    with pytest.raises(BadParamsError, match=r"node 'b'.*missing a required argument: 'x'"):
        check_callable("b", K.m, 1, {})
    assert check_callable("c", K.m, 2, {}) == "sync"
    with pytest.raises(BadParamsError, match=r"node 'd'.*too many positional arguments"):
        check_callable("d", K().m, 2, {})
