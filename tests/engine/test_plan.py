"""The compiled plan: step tables, the affected-set cache, per-plan stateful copies."""

from __future__ import annotations

import pickle
from functools import partial
from typing import Any

import pytest

import fluvius.engine.plan as plan_module
from fluvius.engine.plan import Plan, graph_tables, node_row
from fluvius.graph import GraphBuilder
from fluvius.graph.dag import Graph
from fluvius.testing.strategies import AsyncFloatOp, FloatOp, RunningSum


def scaled(x: float, *, k: float) -> float:
    return x * k


def constant() -> float:
    return 7.0


def graph() -> Graph:
    """s(0) t(1) | one(2)=s | two(3)=one,t | none(4) | p(5)=s*k | st(6)=Σ(two) | late(7)=t."""
    g = GraphBuilder()
    s = g.source("s", 1.0)
    t = g.source("t", 2.0)
    one = g.node("one", FloatOp("neg"), s)
    two = g.node("two", FloatOp("sum"), one, t, cutoff=False)
    g.node("none", constant)
    g.node("p", scaled, s, params={"k": 3.0})
    g.node("st", RunningSum(), two)
    g.node("late", AsyncFloatOp("neg"), t)
    return g.build()


def test_tables() -> None:
    plan = Plan(graph())
    assert plan.keys == ("s", "t", "one", "two", "none", "p", "st", "late")
    assert plan.size == 8
    assert plan.is_source == [True, True, False, False, False, False, False, False]
    assert plan.cutoff == [False, False, True, False, True, True, True, True]
    assert plan.is_async == [False] * 7 + [True]
    assert plan.has_async
    assert plan.initial_values() == [1.0, 2.0, None, None, None, None, None, None]
    assert [s[0] for s in plan.node_steps] == [2, 3, 4, 5, 6, 7]
    assert plan.steps[0] is None
    assert plan.steps[1] is None
    assert all(at.endswith(".py:" + at.rsplit(":", 1)[1]) for at in plan.created_at)
    assert plan.created_at[2].startswith(__file__)


def test_structure_only_plan_has_no_steps() -> None:
    full, bare = Plan(graph()), Plan(graph(), calls=False)
    assert bare.node_steps == []
    assert bare.steps == [None] * 8
    assert (bare.cutoff, bare.is_async) == (full.cutoff, full.is_async)
    assert bare.nodes == full.nodes == [2, 3, 4, 5, 6, 7]
    assert bare.affected(frozenset({0})) == full.affected(frozenset({0}))
    assert bare.affected_steps(frozenset({0})) == []
    assert bare.initial_values() == full.initial_values()


def test_from_tables_compiles_only_the_given_rows() -> None:
    g = graph()
    rows = [node_row(r, g.items[r]) for r in (3, 5)]  # type: ignore[arg-type]
    plan = Plan.from_tables(graph_tables(g), rows)
    assert [s[0] for s in plan.node_steps] == [3, 5]
    assert plan.nodes == [2, 3, 4, 5, 6, 7]
    assert plan.keys == g.keys
    assert plan.children == g.children
    assert plan.initial_values() == [1.0, 2.0, None, None, None, None, None, None]
    assert plan.cutoff[3] is False
    assert plan.cutoff[5] is True
    assert plan.created_at[5] == g.items[5].created_at
    assert plan.created_at[2] == ""  # not compiled here
    assert plan.affected(frozenset({0})) == [2, 3, 5, 6]  # the whole structure
    assert [s[0] for s in plan.affected_steps(frozenset({0}))] == [3, 5]
    assert plan.rank_of("p") == 5
    _, call, _, _ = plan.steps[5]  # type: ignore[misc]
    assert call(2.0) == 6.0  # params bound


def test_step_shapes() -> None:
    plan = Plan(graph())
    values = [1.0, 2.0, -1.0, 1.0, 7.0, 3.0, 1.0, -2.0]
    steps: list[Any] = plan.steps
    r, call, a, g = steps[2]
    assert (r, a, g) == (2, 0, None)
    assert call(values[a]) == -1.0
    r, call, a, g = steps[3]
    assert (r, a) == (3, -1)
    assert g(values) == (-1.0, 2.0)
    assert call(*g(values)) == 1.0
    r, call, a, g = steps[4]
    assert g(values) == ()
    assert call() == 7.0
    r, call, a, g = steps[5]
    assert isinstance(call, partial)
    assert call.keywords == {"k": 3.0}
    assert call(2.0) == 6.0


def test_stateful_objects_are_deep_copied_per_plan() -> None:
    g = graph()
    spec_obj: Any = g.spec("st").fn  # type: ignore[union-attr]
    first, second = Plan(g), Plan(g)
    call1: Any = first.steps[6][1]  # type: ignore[index]
    call2: Any = second.steps[6][1]  # type: ignore[index]
    assert call1.obj is not spec_obj
    assert call2.obj is not spec_obj
    assert call1.obj is not call2.obj
    assert call1(2.0) == 2.0
    assert call1(3.0) == 5.0
    assert call2(2.0) == 2.0  # unaffected by the first plan
    assert spec_obj.total == 0.0  # the user's object is untouched
    restored = pickle.loads(pickle.dumps(call1))
    assert restored.obj.total == 5.0
    assert restored(1.0) == 6.0


def test_affected_is_rank_ordered_descendants() -> None:
    plan = Plan(graph())
    assert plan.affected(frozenset({0})) == [2, 3, 5, 6]
    assert plan.affected(frozenset({1})) == [3, 6, 7]
    assert plan.affected(frozenset({0, 1})) == [2, 3, 5, 6, 7]
    assert plan.affected(frozenset()) == []


def test_affected_steps_carry_cutoff_and_readers() -> None:
    plan = Plan(graph())
    steps = plan.affected_steps(frozenset({0}))
    assert [(st[0], st[2], st[4], st[5]) for st in steps] == [
        (2, 0, True, (3,)),
        (3, -1, False, (6,)),
        (5, 0, True, ()),
        (6, 3, True, ()),
    ]


def test_affected_is_cached() -> None:
    plan = Plan(graph())
    changed = frozenset({0})
    first = plan.affected(changed)
    assert plan.affected(frozenset({0})) is first
    assert plan.affected_steps(changed) is plan.affected_steps(changed)


def test_affected_cache_is_bounded_lru(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan_module, "_DESCENDANT_CACHE_SIZE", 2)
    plan = Plan(graph())
    a, b, c = frozenset({0}), frozenset({1}), frozenset({0, 1})
    first_a, first_b = plan.affected(a), plan.affected(b)
    assert plan.affected(a) is first_a  # a is now the most recently used
    plan.affected(c)  # evicts b, the least recently used
    assert plan.affected(a) is first_a
    assert plan.affected(b) is not first_b
    assert plan.affected(b) == first_b


def test_reaches_async() -> None:
    plan = Plan(graph())
    assert plan.reaches_async(frozenset({1}))
    assert not plan.reaches_async(frozenset({0}))
    assert not plan.reaches_async(frozenset())
    g = GraphBuilder()
    g.node("n", FloatOp("neg"), g.source("s", 1.0))
    plain = Plan(g.build())
    assert not plain.has_async
    assert not plain.reaches_async(frozenset({0}))


def test_a_plan_from_tables_takes_its_rows_later() -> None:
    g = graph()
    plan = Plan.from_tables(graph_tables(g), ())
    assert plan.node_steps == []
    plan.add_steps([node_row(5, g.items[5])])  # type: ignore[arg-type]
    assert [s[0] for s in plan.node_steps] == [5]
    assert plan.created_at[5] == g.items[5].created_at
