from __future__ import annotations

import math
import operator
import pickle
import sys
from typing import TYPE_CHECKING, Any

import pytest

from fluvius.errors import BadParamsError
from fluvius.graph import GraphBuilder
from fluvius.graph.ops import _OPS, BUILTIN_OPS, register_op, resolve_op, spin_loop

if TYPE_CHECKING:
    from pathlib import Path


def make(name: str, *inputs: Any, **params: Any) -> Any:
    """Build op ``name`` for ``len(inputs)`` inputs and apply it."""
    return BUILTIN_OPS[name](len(inputs), params)(*inputs)


def same(a: float, b: float) -> bool:
    """Same type and bit-identical value (repr tells 0.0 from -0.0 and round-trips)."""
    return type(a) is type(b) and repr(a) == repr(b)


# -- exact semantics ------------------------------------------------------------------------
def test_registry_holds_exactly_the_contract_ops() -> None:
    contract = {"add", "sub", "mul", "div", "neg", "identity", "scale"}
    contract |= {"sum", "mean", "min", "max", "spin"}
    assert contract <= set(BUILTIN_OPS)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 9])
def test_add_sums_left_to_right_then_adds_c(n: int) -> None:
    values = [0.1 * (k + 1) for k in range(n)]
    expected = values[0]
    for v in values[1:]:
        expected = expected + v
    assert same(make("add", *values, c=0.7), expected + 0.7)
    assert same(make("add", *values), expected + 0)


def test_add_float_order_is_left_to_right() -> None:
    assert make("add", 1e16, 1.0, -1e16) == 0.0  # (1e16 + 1.0) rounds back to 1e16
    assert make("add", 1e16, -1e16, 1.0) == 1.0
    assert make("add", *([1e16, 1.0, -1e16] + [0.0] * 5)) == 0.0  # generic arity path


def test_add_always_adds_c_so_minus_zero_becomes_zero() -> None:
    assert same(make("add", -0.0), 0.0)
    assert same(make("add", -0.0, -0.0), 0.0)
    assert same(make("sum", -0.0), -0.0)  # sum starts from input 0: no implicit 0 added
    assert same(make("sum", -0.0, -0.0), -0.0)
    assert same(make("add", -0.0, c=-0.0), -0.0)


def test_add_keeps_ints_exact() -> None:
    assert make("add", 2**60, 1, c=1) == 2**60 + 2
    assert type(make("add", 1, 2)) is int


@pytest.mark.parametrize("n", [1, 2, 3, 4, 6])
def test_mul_multiplies_left_to_right_then_by_c(n: int) -> None:
    values = [1.1 + k for k in range(n)]
    expected = values[0]
    for v in values[1:]:
        expected = expected * v
    assert same(make("mul", *values, c=3.0), expected * 3.0)
    assert same(make("mul", *values), expected * 1)
    assert same(make("mul", -0.0), -0.0)
    assert make("mul", 1e308, 10.0, 1e-308) == math.inf  # overflow first: left to right


def test_two_input_and_one_input_ops() -> None:
    assert make("sub", 5.0, 3.5) == 1.5
    assert make("div", 1.0, 4.0) == 0.25
    assert make("div", 1, 2) == 0.5
    assert same(make("neg", 0.0), -0.0)
    assert make("identity", "x") == "x"
    assert make("scale", 3.0, factor=-2) == -6.0
    with pytest.raises(ZeroDivisionError):
        make("div", 1.0, 0.0)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 12])
def test_sum_and_mean(n: int) -> None:
    values = [0.1 * (k + 1) ** 2 for k in range(n)]
    total = values[0]
    for v in values[1:]:
        total = total + v
    assert same(make("sum", *values), total)
    assert same(make("mean", *values), total / n)


def test_mean_of_one_int_is_true_division() -> None:
    assert make("mean", 3) == 3.0
    assert type(make("mean", 3)) is float


def test_min_max_follow_the_builtins_in_input_order() -> None:
    assert make("min", 3.0, 1.0, 2.0) == 1.0
    assert make("max", 3.0, 1.0, 2.0) == 3.0
    assert make("min", 7) == 7
    # builtins keep the first of equal values and skip NaN only after it
    assert same(make("min", 0.0, -0.0), 0.0)
    assert same(make("min", -0.0, 0.0), -0.0)
    assert math.isnan(make("max", math.nan, 1.0))
    assert make("max", 1.0, math.nan) == 1.0


def test_spin_does_work_then_sums_inputs() -> None:
    assert spin_loop(0) == 0
    assert spin_loop(1000) == spin_loop(1000) > 0
    assert make("spin", 1.5, n=100) == 1.5
    assert make("spin", 1.0, 2.0, 3.0, n=10) == 6.0
    assert make("spin", *([1e16, 1.0, -1e16] + [0.0] * 3), n=0) == 0.0
    assert same(make("spin", -0.0, n=0), -0.0)


def test_ops_pickle_and_have_reprs() -> None:
    for name, params, n in [
        ("add", {"c": 0.5}, 2),
        ("add", {}, 7),
        ("mul", {"c": 2}, 3),
        ("scale", {"factor": 2.0}, 1),
        ("spin", {"n": 3}, 2),
        ("mean", {}, 1),
        ("sum", {}, 5),
        ("min", {}, 3),
        ("identity", {}, 1),
    ]:
        fn = BUILTIN_OPS[name](n, params)
        args = [float(k + 1) for k in range(n)]
        assert pickle.loads(pickle.dumps(fn))(*args) == fn(*args), name
    assert "add(c=0.5)" in repr(BUILTIN_OPS["add"](2, {"c": 0.5}))


def test_ops_are_specialised_on_arity() -> None:
    assert BUILTIN_OPS["sub"](2, {}) is operator.sub
    assert BUILTIN_OPS["min"](2, {}) is min
    assert BUILTIN_OPS["add"](2, {"c": 1}).__name__ == "two"
    assert BUILTIN_OPS["add"](5, {"c": 1}).__name__ == "many"


# -- validation -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "n", "params", "match"),
    [
        ("add", 2, {"k": 1}, r"op 'add': unknown param 'k' \(value 1\); allowed params: 'c'"),
        ("add", 2, {"c": "1"}, r"op 'add': param 'c' must be a real number, got '1' \(str\)"),
        ("add", 2, {"c": True}, r"param 'c' must be a real number, got True \(bool\)"),
        ("add", 2, {"c": None}, r"param 'c' must be a real number, got None"),
        ("add", 0, {}, r"op 'add' takes at least 1 input, got 0"),
        ("sum", 2, {"c": 1}, r"op 'sum': unknown param 'c' \(value 1\); allowed params: none"),
        ("sub", 3, {}, r"op 'sub' takes exactly 2 input\(s\), got 3"),
        ("div", 1, {}, r"op 'div' takes exactly 2 input\(s\), got 1"),
        ("neg", 2, {}, r"op 'neg' takes exactly 1 input\(s\), got 2"),
        ("identity", 0, {}, r"op 'identity' takes exactly 1 input\(s\), got 0"),
        ("scale", 1, {}, r"op 'scale': missing required param 'factor' \(a real number\)"),
        ("scale", 2, {"factor": 2}, r"op 'scale' takes exactly 1 input\(s\), got 2"),
        ("scale", 1, {"factor": [2]}, r"param 'factor' must be a real number, got \[2\]"),
        ("mean", 0, {}, r"op 'mean' takes at least 1 input, got 0"),
        ("min", 0, {}, r"op 'min' takes at least 1 input"),
        ("spin", 1, {}, r"op 'spin': missing required param 'n' \(an int >= 0\)"),
        ("spin", 1, {"n": -1}, r"op 'spin': param 'n' must be an int >= 0, got -1"),
        ("spin", 1, {"n": 2.0}, r"param 'n' must be an int >= 0, got 2.0"),
        ("spin", 1, {"n": True}, r"param 'n' must be an int >= 0, got True"),
    ],
)
def test_bad_params_and_arity(name: str, n: int, params: dict[str, Any], match: str) -> None:
    with pytest.raises(BadParamsError, match=match):
        BUILTIN_OPS[name](n, params)


def test_unknown_op_suggests_a_close_name() -> None:
    with pytest.raises(BadParamsError, match=r"unknown op 'ad' \(did you mean 'add'\?\)"):
        resolve_op("ad", 2, {})
    with pytest.raises(BadParamsError, match=r"unknown op 'zzz': registered ops are add, "):
        resolve_op("zzz", 2, {})


# -- registry -------------------------------------------------------------------------------
def test_register_op() -> None:
    def make_twice(n_inputs: int, params: Any) -> Any:
        return lambda a: 2 * a

    try:
        register_op("twice", make_twice)
        assert BUILTIN_OPS["twice"] is make_twice
        fn, bound = resolve_op("twice", 1, {})
        assert (fn(4), bound) == (8, {})
        with pytest.raises(ValueError, match="op 'twice' is already registered"):
            register_op("twice", make_twice)
        register_op("twice", make_twice, replace=True)
    finally:
        _OPS.pop("twice", None)
    with pytest.raises(ValueError, match="an op name must be a Python identifier"):
        register_op("pkg:fn", make_twice)
    with pytest.raises(TypeError, match="the factory must be callable"):
        register_op("bad", 3)  # type: ignore[arg-type]
    assert "bad" not in BUILTIN_OPS


def test_builtin_ops_mapping_is_read_only() -> None:
    with pytest.raises(TypeError):
        BUILTIN_OPS["x"] = BUILTIN_OPS["add"]  # type: ignore[index]


# -- dotted paths -------------------------------------------------------------------------------
HELPER = '''
class Counter:
    """Counts its updates; adds ``start``."""
    def __init__(self, start=0):
        if start < 0:
            raise ValueError(f"start must be >= 0, got {start=}")
        self.n = start
    def update(self, *values):
        self.n += 1
    def get(self):
        return self.n

def scaled_sum(a, b, *, k=1.0):
    return (a + b) * k

NOT_CALLABLE = 3
'''


@pytest.fixture
def helper_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "fluvius_test_ops_helper.py").write_text(HELPER)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fluvius_test_ops_helper", raising=False)
    return "fluvius_test_ops_helper"


def test_dotted_function_keeps_params_for_the_builder() -> None:
    fn, bound = resolve_op("math:hypot", 2, {})
    assert (fn(3.0, 4.0), bound) == (5.0, {})
    fn, bound = resolve_op("os.path:join", 2, {})
    assert fn("a", "b") == "a/b"


def test_dotted_function_with_params(helper_module: str) -> None:
    fn, bound = resolve_op(f"{helper_module}:scaled_sum", 2, {"k": 2.0})
    assert bound == {"k": 2.0}
    g = GraphBuilder()
    g.source("x", 1.0)
    g.node("y", fn, "x", "x", params=bound)
    assert g.build().spec("y").params == {"k": 2.0}


def test_dotted_stateful_class_is_instantiated_with_params(helper_module: str) -> None:
    obj, bound = resolve_op(f"{helper_module}:Counter", 1, {"start": 10})
    assert bound == {}
    obj.update(1.0)
    assert obj.get() == 11
    other, _ = resolve_op(f"{helper_module}:Counter", 1, {})
    assert other is not obj  # one instance, hence one state, per node


@pytest.mark.parametrize(
    ("op", "params", "match"),
    [
        (
            "no_such_module_xyz:f",
            {},
            r"op 'no_such_module_xyz:f': cannot import module "
            r"'no_such_module_xyz': ModuleNotFoundError",
        ),
        (
            "math:hypott",
            {},
            r"op 'math:hypott': 'math' has no attribute 'hypott' "
            r"\(did you mean 'hypot'\?\)",
        ),
        ("math:", {}, r"op 'math:' is not a valid dotted path"),
        (":f", {}, r"op ':f' is not a valid dotted path"),
        ("math:pi", {}, r"op 'math:pi' names 3.14\S*, which is not callable"),
        ("{m}:NOT_CALLABLE", {}, r"which is not callable"),
        (
            "{m}:Counter",
            {"start": -1},
            r"op '\S+:Counter': cannot create Counter with params "
            r"\{'start': -1\}: start must be >= 0, got start=-1",
        ),
        (
            "{m}:Counter",
            {"stop": 1},
            r"cannot create Counter with params \{'stop': 1\}: .*"
            r"unexpected keyword argument 'stop'",
        ),
    ],
)
def test_dotted_errors(helper_module: str, op: str, params: dict[str, Any], match: str) -> None:
    with pytest.raises(BadParamsError, match=match):
        resolve_op(op.format(m=helper_module), 1, params)
