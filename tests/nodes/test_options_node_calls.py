"""The options functions' node calls (``node_call``, ``nodes/options/_node_calls.py``) give
exactly what ``fn(*values, **params)`` gives: the same bits, the same errors, over a grid of
edge cases and of input types (floats, ints, bools, numpy scalars, arrays, None, NaN, inf)."""

from __future__ import annotations

import itertools
import math
import pickle
import struct
from functools import partial
from typing import Any

import numpy as np
import pytest

from fluvius.engine.plan import Plan, make_call
from fluvius.graph.spec import spec_to_graph
from fluvius.nodes.options import (
    bs_delta,
    bs_gamma,
    bs_price,
    bs_rho,
    bs_theta,
    bs_vega,
    implied_vol,
)
from fluvius.nodes.options._node_calls import GreekNode, ImpliedVolNode

GREEKS = (bs_price, bs_delta, bs_gamma, bs_vega, bs_theta, bs_rho)
PARAMS: list[dict[str, Any]] = [
    {},
    {"kind": "call"},
    {"kind": "put"},
    {"kind": "put", "dividend_yield": 0.02},
    {"kind": "call", "dividend_yield": 0},
]
SPOTS: tuple[Any, ...] = (100.0, 250, 0.0, -1.0, math.nan, math.inf, np.float64(99.5), True)
STRIKES: tuple[Any, ...] = (40.0, 100.0, 300.0, np.int64(100))
YEARS: tuple[Any, ...] = (0.0, 1e-6, 0.5, 10.0)
RATES: tuple[Any, ...] = (-0.01, -0.0, 0.05)
VOLS: tuple[Any, ...] = (0.0, 1e-4, 0.25, 4.0, math.nan)


def _node_call(fn: Any) -> Any:
    """The function's ``node_call`` (an attribute set on it, unknown to its type)."""
    return fn.__dict__["node_call"]


def _bits(value: Any) -> Any:
    if isinstance(value, float):
        return (type(value), struct.pack("<d", value))
    if isinstance(value, np.ndarray):
        return (value.dtype, value.shape, value.tobytes())
    return (type(value), repr(value))


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        return ("value", _bits(fn(*args)))
    except Exception as exc:  # the same error, by type and message
        return ("raised", type(exc), str(exc))


@pytest.mark.parametrize("fn", GREEKS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("params", PARAMS, ids=repr)
def test_greek_node_call_is_the_function_with_its_params(fn: Any, params: dict[str, Any]) -> None:
    call = _node_call(fn)(5, params)
    assert call.__self__.__class__ is GreekNode
    plain = partial(fn, **params)
    for args in itertools.product(SPOTS, STRIKES, YEARS, RATES, VOLS):
        assert _outcome(call, *args) == _outcome(plain, *args), args


@pytest.mark.parametrize("params", PARAMS, ids=repr)
def test_implied_vol_node_call_is_the_function_with_its_params(params: dict[str, Any]) -> None:
    call = _node_call(implied_vol)(5, params)
    assert call.__self__.__class__ is ImpliedVolNode
    plain = partial(implied_vol, **params)
    prices: tuple[Any, ...] = (0.0, 1e-9, 3.0, 25.0, 99.0, math.nan, 7)
    for args in itertools.product(prices, SPOTS, STRIKES, YEARS, RATES):
        assert _outcome(call, *args) == _outcome(plain, *args), args


def test_wrong_inputs_raise_the_functions_errors() -> None:
    call = _node_call(bs_delta)(5, {"kind": "put"})
    for args in [("a", 1.0, 1.0, 0.0, 0.2), (None, 1.0, 1.0, 0.0, 0.2), ([1.0, 2.0], 1, 1, 0, 1)]:
        assert _outcome(call, *args) == _outcome(partial(bs_delta, kind="put"), *args)
    arrays = (np.array([90.0, 110.0]), 100.0, 0.5, 0.01, 0.2)
    assert _outcome(call, *arrays) == _outcome(partial(bs_delta, kind="put"), *arrays)


def test_no_node_call_for_other_shapes() -> None:
    """The kind as an input, unknown params, a kind that is not a plain call/put: the engine
    binds the params with partial, as before (and the function reports a bad kind)."""
    assert _node_call(bs_delta)(6, {}) is None
    assert _node_call(bs_delta)(5, {"kind": "call", "extra": 1}) is None
    assert _node_call(bs_delta)(5, {"kind": "straddle"}) is None
    assert _node_call(bs_delta)(5, {"kind": np.array(["call"])}) is None
    assert _node_call(implied_vol)(4, {"kind": "call"}) is None
    call = make_call(bs_delta, {"kind": "straddle"}, "function", (), 5)
    assert isinstance(call, partial)
    with pytest.raises(ValueError, match="straddle"):
        call(100.0, 100.0, 0.5, 0.01, 0.2)


def test_node_calls_pickle_and_show_their_params() -> None:
    greek = _node_call(bs_vega)(5, {"kind": "put", "dividend_yield": 0.01})
    again = pickle.loads(pickle.dumps(greek))
    assert again(100.0, 90.0, 0.5, 0.01, 0.3) == greek(100.0, 90.0, 0.5, 0.01, 0.3)
    assert repr(greek.__self__) == "bs_vega(kind='put', dividend_yield=0.01)"
    iv = _node_call(implied_vol)(5, {"kind": "call"})
    assert pickle.loads(pickle.dumps(iv))(8.0, 100.0, 100.0, 0.5, 0.01) == iv(
        8.0, 100.0, 100.0, 0.5, 0.01
    )
    assert repr(iv.__self__) == "implied_vol(kind='call')"


def test_plan_takes_node_calls_unless_told_not_to() -> None:
    spec = {
        "sources": {"s": 100.0, "k": 95.0, "t": 0.5, "r": 0.02, "v": 0.3, "p": 9.0},
        "nodes": {
            "d": {"op": "bs_delta", "inputs": ["s", "k", "t", "r", "v"], "params": {"kind": "put"}},
            "iv": {"op": "implied_vol", "inputs": ["p", "s", "k", "t", "r"]},
        },
    }
    graph = spec_to_graph(spec, origin="test")
    fast, plain = Plan(graph), Plan(graph, specialise=False)
    d, iv = graph.index["d"], graph.index["iv"]
    assert fast.steps[d][1].__self__.__class__ is GreekNode  # type: ignore[index, union-attr]
    assert isinstance(plain.steps[d][1], partial)  # type: ignore[index]
    assert plain.steps[iv][1] is implied_vol  # type: ignore[index]
    assert fast.steps[iv][1].__self__.__class__ is ImpliedVolNode  # type: ignore[index, union-attr]
    values = [100.0, 95.0, 0.5, 0.02, 0.3, 9.0, None, None]
    for plan in (fast, plain):
        for r in (d, iv):
            step: Any = plan.steps[r]
            _, call, _, getter = step
            values[r] = call(*getter(values))
    assert values[d] == bs_delta(100.0, 95.0, 0.5, 0.02, 0.3, "put")
