"""The builder API: keys, scopes, stamping, creation sites, checks, and Graph introspection."""

from __future__ import annotations

import datetime
import inspect
import math
from typing import Any

import pytest

from fluvius.errors import BadParamsError, DuplicateKeyError, MissingInputError
from fluvius.graph import Graph, GraphBuilder, NodeRef, NodeSpec, Scope, SourceSpec
from fluvius.graph.keys import check_key, make_key
from fluvius.graph.node import classify
from fluvius.testing.strategies import AsyncFloatOp, FloatOp, History, RunningSum


def here() -> int:
    """The caller's line number."""
    return inspect.stack()[1].lineno


def add(a: float, b: float, *, c: float = 0.0) -> float:
    return a + b + c


def neg(x: float) -> float:
    return -x


# -- adding nodes and sources -----------------------------------------------------------------
def test_source_and_node_specs() -> None:
    g = GraphBuilder()
    ref = g.source("spot/AAPL", 100.0)
    assert ref == NodeRef("spot/AAPL")
    assert str(ref) == "spot/AAPL"
    line = here() + 1
    mid = g.node("mid/AAPL", add, ref, "spot/AAPL", params={"c": 1.0}, cutoff=False)
    graph = g.build()
    spec = graph.spec("mid/AAPL")
    assert isinstance(spec, NodeSpec)
    assert (spec.key, spec.fn, spec.inputs, dict(spec.params)) == (
        "mid/AAPL",
        add,
        ("spot/AAPL", "spot/AAPL"),
        {"c": 1.0},
    )
    assert (spec.kind, spec.cutoff, spec.every_tick) == ("sync", False, False)
    assert spec.created_at == f"{__file__}:{line}"
    assert mid.key == "mid/AAPL"
    source = graph.spec("spot/AAPL")
    assert isinstance(source, SourceSpec)
    assert (source.value, source.conflate) == (100.0, True)
    assert len(g) == 2
    assert "mid/AAPL" in g
    assert "nope" not in g


def test_kinds() -> None:
    g = GraphBuilder()
    s = g.source("s", 1.0)
    g.node("sync", neg, s)
    g.node("async", AsyncFloatOp("neg"), s)
    g.node("stateful", RunningSum(), s)
    g.node("callable", FloatOp("neg"), s)
    graph = g.build()
    kinds = {k: graph.spec(k).kind for k in graph.node_keys}  # type: ignore[union-attr]
    assert kinds == {"sync": "sync", "async": "async", "stateful": "stateful", "callable": "sync"}


def test_classify_rejects_what_cannot_run() -> None:
    with pytest.raises(TypeError, match="a node needs a callable or an object with update/get"):
        classify(42)


def test_duplicate_key_names_key_and_first_site() -> None:
    g = GraphBuilder()
    line = here() + 1
    g.source("spot/AAPL", 1.0)
    with pytest.raises(DuplicateKeyError, match=r"duplicate key 'spot/AAPL'") as info:
        g.node("spot/AAPL", neg, "spot/AAPL")
    assert f"(first created at {__file__}:{line})" in str(info.value)
    with pytest.raises(DuplicateKeyError, match="duplicate key 'spot/AAPL'"):
        g.source("spot/AAPL", 2.0)


def test_inputs_must_be_keys_or_refs() -> None:
    g = GraphBuilder()
    with pytest.raises(BadParamsError, match=r"node 'n': inputs must be keys or NodeRefs, got 3"):
        g.node("n", neg, 3)  # type: ignore[arg-type]


def test_not_callable_is_rejected_naming_the_node() -> None:
    g = GraphBuilder()
    with pytest.raises(BadParamsError, match=r"node 'n': a node needs a callable.*got 3\.5"):
        g.node("n", 3.5, g.source("s"))


def test_wrong_arity_names_node_function_and_signature() -> None:
    g = GraphBuilder()
    s = g.source("s", 1.0)
    with pytest.raises(
        BadParamsError,
        match=r"node 'n': function neg cannot take 2 input\(s\) and params \[\]: "
        r"too many positional arguments \(signature \(x: 'float'\) -> 'float'\)",
    ):
        g.node("n", neg, s, s)
    assert "n" not in g
    assert len(g) == 1


def test_unknown_param_names_node_and_param() -> None:
    g = GraphBuilder()
    s = g.source("s", 1.0)
    with pytest.raises(
        BadParamsError,
        match=r"node 'n': function add takes no argument 'z'; signature \(a: 'float'",
    ):
        g.node("n", add, s, s, params={"z": 1.0})


def test_stateful_object_with_params_is_rejected() -> None:
    g = GraphBuilder()
    with pytest.raises(
        BadParamsError,
        match=r"node 'sum': a stateful object takes its settings in its constructor, "
        r"not params=\['limit'\]",
    ):
        g.node("sum", RunningSum(), g.source("s"), params={"limit": 1.0})


def test_stateful_update_arity_is_checked() -> None:
    class One:
        def update(self, x: float) -> None: ...

        def get(self) -> float:
            return 0.0

    g = GraphBuilder()
    s = g.source("s")
    with pytest.raises(BadParamsError, match=r"node 'n': One.update cannot take 2 input\(s\)"):
        g.node("n", One(), s, s)


def test_invalid_keys_are_rejected() -> None:
    g = GraphBuilder()
    with pytest.raises(ValueError, match=r"invalid key 'a//b': empty part"):
        g.source("a//b")
    with pytest.raises(ValueError, match="surrounding white space"):
        g.node(" n", neg, "a")


def test_missing_input_fails_at_build() -> None:
    g = GraphBuilder()
    g.source("spot/AAPL", 1.0)
    g.node("mid/AAPL", neg, "spot/AAPl")
    with pytest.raises(
        MissingInputError,
        match=r"node 'mid/AAPL' reads input 'spot/AAPl', which is neither a node nor a source"
        r"; did you mean 'spot/AAPL'\?",
    ):
        g.build()


# -- created_at ---------------------------------------------------------------------------------
def test_created_at_points_at_the_callers_line_through_scopes_and_stamps() -> None:
    g = GraphBuilder()
    scope = g.scope("AAPL")
    line_source = here() + 1
    s = scope.source("spot", 1.0)
    line_node = here() + 1
    scope.scope("greeks").node("delta", neg, s)

    def template(sc: Scope, und: object) -> NodeRef:
        return sc.node("fwd", neg, sc.source("spot", 1.0))

    line_template = here() - 2
    g.stamp(template, ["MSFT"])
    graph = g.build()
    assert graph.spec("AAPL/spot").created_at == f"{__file__}:{line_source}"
    assert graph.spec("AAPL/greeks/delta").created_at == f"{__file__}:{line_node}"
    assert graph.spec("MSFT/fwd").created_at == f"{__file__}:{line_template}"


# -- scopes and stamping ------------------------------------------------------------------------
def test_scope_prefixes_keys_and_keeps_string_inputs_absolute() -> None:
    g = GraphBuilder()
    g.source("rate", 0.05)
    scope = g.scope("AAPL", datetime.date(2026, 12, 18))
    assert repr(scope) == "Scope(prefix='AAPL/2026-12-18')"
    assert scope.key("C", 150) == "AAPL/2026-12-18/C/150"
    spot = scope.source("spot", 100.0)
    fwd = scope.node("fwd", add, spot, "rate")
    inner = scope.scope("C", 150).node("iv", neg, fwd)
    assert (spot.key, fwd.key, inner.key) == (
        "AAPL/2026-12-18/spot",
        "AAPL/2026-12-18/fwd",
        "AAPL/2026-12-18/C/150/iv",
    )
    spec = g.build().spec("AAPL/2026-12-18/fwd")
    assert isinstance(spec, NodeSpec)
    assert spec.inputs == ("AAPL/2026-12-18/spot", "rate")


def test_stamp_one_subgraph_per_underlying() -> None:
    def template(sc: Scope, und: object, rate: float) -> NodeRef:
        spot = sc.source("spot", 100.0)
        return sc.node("fwd", lambda x: x * (1 + rate), spot)

    g = GraphBuilder()
    outs = g.stamp(template, ["AAPL", "MSFT"], rate=0.5)
    assert {k: v.key for k, v in outs.items()} == {"AAPL": "AAPL/fwd", "MSFT": "MSFT/fwd"}
    graph = g.build()
    assert graph.keys == ("AAPL/spot", "AAPL/fwd", "MSFT/spot", "MSFT/fwd")
    with pytest.raises(DuplicateKeyError, match="stamp: underlying 'IBM' given twice"):
        GraphBuilder().stamp(template, ["IBM", "IBM"], rate=0.0)


# -- Graph introspection ------------------------------------------------------------------------
def sample() -> Graph:
    """s, t -> a(s) -> b(a, t) -> c(b); d(t); e reads nothing."""
    g = GraphBuilder()
    s = g.source("s", 1.0)
    t = g.source("t", 2.0)
    a = g.node("a", neg, s)
    b = g.node("b", add, a, t)
    g.node("c", neg, b)
    g.node("d", neg, t)
    g.node("e", lambda: 1.0)
    return g.build()


def test_introspection() -> None:
    graph = sample()
    assert len(graph) == graph.node_count == 5
    assert repr(graph) == "<Graph 5 nodes, 2 sources, depth 3>"
    assert graph.keys == ("s", "t", "a", "b", "c", "d", "e") == tuple(graph)
    assert graph.node_keys == ("a", "b", "c", "d", "e")
    assert graph.source_keys == ("s", "t")
    assert "a" in graph
    assert "z" not in graph
    assert graph.is_source("t")
    assert not graph.is_source("a")
    assert graph.levels == (0, 0, 1, 2, 3, 1, 0)
    assert graph.depth() == 3
    assert graph.descendants("s") == ("a", "b", "c")
    assert graph.descendants("t") == ("b", "c", "d")
    assert graph.descendants("c") == ()
    assert graph.ancestors("c") == ("s", "t", "a", "b")
    assert graph.ancestors("s") == ()
    assert graph.inputs[graph.index["b"]] == (2, 1)
    assert graph.children[graph.index["t"]] == (3, 5)
    with pytest.raises(KeyError, match="no node or source 'z' in this graph"):
        graph.descendants("z")


def test_empty_graph() -> None:
    graph = GraphBuilder().build()
    assert (len(graph), graph.depth(), graph.keys) == (0, 0, ())


def test_reading_one_input_twice_is_one_edge() -> None:
    g = GraphBuilder()
    s = g.source("s", 1.0)
    g.node("sq", lambda a, b: a * b, s, s)
    graph = g.build()
    assert graph.inputs[1] == (0, 0)
    assert graph.children[0] == (1,)


def test_topological_order_is_deterministic_with_insertion_order_ties() -> None:
    def build() -> Graph:
        g = GraphBuilder()
        g.node("late", neg, "mid")  # reads a node added later
        g.node("free", lambda: 0.0)
        g.source("s", 1.0)
        g.node("mid", neg, "s")
        g.node("other", neg, "s")
        return g.build()

    graph = build()
    # Kahn with ties to the earlier-inserted item: free, s (ready), then mid, late, other
    assert graph.keys == ("free", "s", "mid", "late", "other")
    assert build().keys == graph.keys
    assert graph.inputs == ((), (), (1,), (2,), (1,))
    assert graph.sources == (1,)


def test_every_tick_marks_upstream_sources_non_conflating() -> None:
    g = GraphBuilder()
    x = g.source("x", 0.0)
    y = g.source("y", 0.0)
    z = g.source("z", 0.0)
    mid = g.node("mid", add, x, y)
    g.node("hist", History(), mid, every_tick=True)
    g.node("plain", neg, z)
    graph = g.build()
    conflate = {k: graph.spec(k).conflate for k in graph.source_keys}  # type: ignore[union-attr]
    assert conflate == {"x": False, "y": False, "z": True}
    assert graph.spec("hist").every_tick  # type: ignore[union-attr]


# -- keys ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("parts", "key"),
    [
        (("iv", "AAPL", datetime.date(2026, 12, 18), "C", 150), "iv/AAPL/2026-12-18/C/150"),
        (("AAPL", "mid/fast"), "AAPL/mid/fast"),
        (("k", 1.5), "k/1.5"),
        (("k", -2), "k/-2"),
    ],
)
def test_make_key(parts: tuple[Any, ...], key: str) -> None:
    assert make_key(*parts) == key


@pytest.mark.parametrize(
    ("parts", "error", "message"),
    [
        ((), ValueError, "make_key needs at least one part"),
        (("a", True), TypeError, r"a key part must be a str, int, float or date, got part=True"),
        (("a", None), TypeError, r"got part=None"),
        (("a", ""), ValueError, "a key part must be non-empty without surrounding spaces"),
        (("a", " b"), ValueError, "without surrounding spaces, got ' b'"),
        (("a/", "b"), ValueError, r"invalid key 'a//b': empty part"),
    ],
)
def test_make_key_rejects(parts: tuple[Any, ...], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        make_key(*parts)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "a key must be a non-empty str"),
        (3, r"a key must be a str, got 3 \(int\)"),
        ("a ", r"invalid key 'a ': surrounding white space"),
        ("a\tb", "control characters"),
        ("/a", "empty part between"),
        ("a/", "empty part between"),
        ("a//b", "empty part between"),
    ],
)
def test_check_key_rejects(key: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_key(key)


def test_check_key_accepts() -> None:
    assert check_key("iv/AAPL/2026-12-18/C/150") == "iv/AAPL/2026-12-18/C/150"
    assert check_key("a b") == "a b"


def _times(x: Any, *, k: Any = 1.0) -> Any:
    return x * k


def test_equal_plain_params_are_one_object_and_others_are_not() -> None:
    g = GraphBuilder()
    x = g.source("x", 1.0)
    mine = {"k": 2.0}
    for i in range(3):
        g.node(f"a{i}", _times, x, params={"k": 2.0})
    g.node("own", _times, x, params=mine)
    for key, k in [("zero", 0.0), ("minus_zero", -0.0), ("int", 1), ("float", 1.0), ("true", True)]:
        g.node(key, _times, x, params={"k": k})
    g.node("list", _times, x, params={"k": [2.0]})
    mine["k"] = 3.0  # the builder took a copy
    graph = g.build()
    params = {it.key: it.params for it in graph.items if isinstance(it, NodeSpec)}
    assert params["a0"] is params["a1"] is params["a2"] is params["own"]
    assert params["own"] == {"k": 2.0}
    alike = ["zero", "minus_zero", "int", "float", "true"]
    assert len({id(params[k]) for k in alike}) == len(alike)  # by type and bits
    assert math.copysign(1.0, params["minus_zero"]["k"]) == -1.0
    assert type(params["int"]["k"]) is int
    assert type(params["true"]["k"]) is bool
    assert params["list"] == {"k": [2.0]}
