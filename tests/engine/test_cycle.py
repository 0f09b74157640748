"""Exact-state tests of each cycle transition (dask ``test_local.py::test_finish_task``).

The graph used throughout, with its ranks::

    s(0) ──> a(2) ──┐
                    ├──> c(4) ──> d(5)
    t(1) ──> b(3) ──┘

``a``, ``b``, ``c`` and ``d`` add their inputs. ``c`` has ``cutoff=True`` like every node here
unless a test says otherwise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from fluvius.engine.cycle import (
    CHANGED,
    FAILED,
    UNCHANGED,
    CycleState,
    apply_settles,
    compute_cycle,
    compute_startup,
    fail_node,
    finish_node,
    first_error,
    next_ready,
    settle,
    start_cycle,
    stop_above,
    values_equal,
)
from fluvius.engine.plan import Plan
from fluvius.engine.state import RunState
from fluvius.errors import NodeError
from fluvius.graph import GraphBuilder
from fluvius.testing.strategies import FloatOp, RunningCount

S, T, A, B, C, D = range(6)


def error(key: str) -> NodeError:
    return NodeError(
        key, worker="test", exc_type="ValueError", exc_message=key, remote_traceback=""
    )


def diamond(**fns: Any) -> Plan:
    g = GraphBuilder()
    s = g.source("s", 1.0)
    t = g.source("t", 2.0)
    a = g.node("a", fns.get("a", FloatOp("sum")), s)
    b = g.node("b", fns.get("b", FloatOp("sum")), t)
    c = g.node("c", fns.get("c", FloatOp("sum")), a, b)
    g.node("d", fns.get("d", FloatOp("sum")), c)
    plan = Plan(g.build())
    assert plan.keys == ("s", "t", "a", "b", "c", "d")
    return plan


def started(plan: Plan) -> RunState:
    """A run state after start-up (for the plain diamond: a = 1, b = 2, c = 3, d = 3)."""
    state = RunState(plan.initial_values())
    assert compute_startup(plan, state, plan.node_steps, "fail_fast", "test") == (4, [])
    return state


# -- start_cycle --------------------------------------------------------------------------------
def test_start_cycle_startup() -> None:
    cs = start_cycle(diamond(), None)
    assert cs.waiting == {C: 2, D: 1}
    assert sorted(cs.ready) == [A, B]
    assert cs.dirty == {A, B, C, D}
    assert (cs.running, cs.recomputed, cs.errors, cs.stop_above) == (set(), 0, [], None)
    assert not cs.finished


def test_start_cycle_one_source() -> None:
    cs = start_cycle(diamond(), frozenset({S}))
    assert cs.waiting == {C: 1, D: 1}  # c waits only for a: b is not affected
    assert cs.ready == [A]
    assert cs.dirty == {A}


def test_start_cycle_both_sources() -> None:
    cs = start_cycle(diamond(), frozenset({S, T}))
    assert cs.waiting == {C: 2, D: 1}
    assert sorted(cs.ready) == [A, B]
    assert cs.dirty == {A, B}


def test_start_cycle_counts_an_input_read_twice_once() -> None:
    g = GraphBuilder()
    s = g.source("s", 1.0)
    a = g.node("a", FloatOp("sum"), s)
    g.node("twice", FloatOp("sum"), a, a, s)
    cs = start_cycle(Plan(g.build()), frozenset({0}))
    assert cs.waiting == {2: 1}
    assert cs.dirty == {1, 2}


def test_start_cycle_no_sources() -> None:
    cs = start_cycle(diamond(), frozenset())
    assert (cs.waiting, cs.ready, cs.dirty) == ({}, [], set())
    assert cs.finished


# -- settle -------------------------------------------------------------------------------------
def test_settle_changed_readies_reader() -> None:
    plan = diamond()
    cs = start_cycle(plan, frozenset({S}))
    cs.ready.clear()
    settle(plan, cs, A, True)
    assert cs.waiting == {D: 1}
    assert cs.ready == [C]
    assert cs.dirty == {A, C}


def test_settle_unchanged_cascades_without_computing() -> None:
    plan = diamond()
    cs = start_cycle(plan, frozenset({S}))
    cs.ready.clear()
    settle(plan, cs, A, False)
    assert (cs.waiting, cs.ready, cs.dirty) == ({}, [], {A})  # c and d settle unchanged


def test_settle_partial_waits_for_other_inputs() -> None:
    plan = diamond()
    cs = start_cycle(plan, frozenset({S, T}))
    cs.ready.clear()
    settle(plan, cs, A, False)
    assert (cs.waiting, cs.ready, cs.dirty) == ({C: 1, D: 1}, [], {A, B})
    settle(plan, cs, B, True)
    assert (cs.waiting, cs.ready, cs.dirty) == ({D: 1}, [C], {A, B, C})


# -- stop_above ---------------------------------------------------------------------------------
def test_stop_above_drops_waiting_and_returns_running_above() -> None:
    plan = diamond()
    cs = start_cycle(plan, frozenset({S, T}))
    cs.ready.clear()
    cs.running = {A, B}
    assert stop_above(cs, A) == [B]
    assert (cs.stop_above, cs.running, cs.waiting) == (A, {A}, {})


def test_stop_above_keeps_the_lowest_failure() -> None:
    plan = diamond()
    cs = start_cycle(plan, frozenset({S, T}))
    cs.ready.clear()
    assert stop_above(cs, C) == []
    assert (cs.stop_above, cs.waiting) == (C, {C: 2})  # c itself still waits (it may fail first)
    cs.running = {B}
    assert stop_above(cs, D) == []  # a higher failure changes nothing
    assert (cs.stop_above, cs.running) == (C, {B})
    assert stop_above(cs, A) == [B]
    assert (cs.stop_above, cs.running, cs.waiting) == (A, set(), {})


# -- apply_settles ------------------------------------------------------------------------------
def test_apply_settles_stores_changed_values_and_settles() -> None:
    plan = diamond()
    state = started(plan)
    cs = start_cycle(plan, frozenset({S, T}))
    cs.ready.clear()
    apply_settles(plan, state, cs, [(A, CHANGED, 10.0), (B, UNCHANGED, None)])
    assert state.values[A] == 10.0
    assert state.values[B] == 2.0  # unchanged: the old value stays
    assert (cs.waiting, cs.ready, cs.dirty) == ({D: 1}, [C], {A, B, C})


def test_apply_settles_all_unchanged_cascades() -> None:
    plan = diamond()
    state = started(plan)
    cs = start_cycle(plan, frozenset({S, T}))
    cs.ready.clear()
    cs.settled = []
    apply_settles(plan, state, cs, [(A, UNCHANGED, None), (B, UNCHANGED, None)])
    assert (cs.waiting, cs.ready) == ({}, [])
    assert cs.settled == [(A, False), (B, False), (C, False), (D, False)]


def test_apply_settles_failed_marks_and_recovers() -> None:
    plan = diamond()
    state = started(plan)
    err = error("a")
    cs = start_cycle(plan, frozenset({S}))
    cs.ready.clear()
    apply_settles(plan, state, cs, [(A, FAILED, err)])
    assert state.failed == {A: err}
    assert state.values[A] == 1.0  # the last good value stays
    assert (cs.waiting, cs.ready) == ({D: 1}, [C])  # a failure settles as changed
    state.cycles += 1
    cs = start_cycle(plan, frozenset({S}))
    cs.ready.clear()
    apply_settles(plan, state, cs, [(A, CHANGED, 5.0)])
    assert (state.failed, state.values[A]) == ({}, 5.0)


# -- next_ready ---------------------------------------------------------------------------------
def test_next_ready_pops_lowest_rank_and_marks_running() -> None:
    plan = diamond()
    state = started(plan)
    cs = start_cycle(plan, None)
    assert next_ready(plan, state, cs) == A
    assert next_ready(plan, state, cs) == B
    assert next_ready(plan, state, cs) is None
    assert cs.running == {A, B}


def test_next_ready_isolate_skips_nodes_with_failed_inputs() -> None:
    plan = diamond()
    state = started(plan)
    err = error("b")
    state.failed[B] = err
    cs = start_cycle(plan, frozenset({S}))
    assert next_ready(plan, state, cs) == A
    finish_node(plan, state, cs, A, 5.0, startup=False)
    assert cs.ready == [C]
    # c reads the failed b: marked failed with b's error, not run; so is d after it
    assert next_ready(plan, state, cs) is None
    assert state.failed == {B: err, C: err, D: err}
    assert state.failed[D] is err
    assert (cs.running, cs.recomputed, cs.waiting, cs.ready) == (set(), 1, {}, [])
    assert cs.dirty == {A, C, D}
    assert state.values[C] == 3.0  # the last good value is kept
    assert cs.finished


def test_next_ready_fail_fast_drops_ranks_above_the_failure() -> None:
    plan = diamond()
    state = started(plan)
    cs = start_cycle(plan, None)
    cs.stop_above = A
    assert next_ready(plan, state, cs) == A  # not above
    assert next_ready(plan, state, cs) is None  # b is dropped
    assert (cs.ready, cs.running) == ([], {A})


# -- finish_node --------------------------------------------------------------------------------
def test_finish_node_changed_value_is_stored_and_settled() -> None:
    plan = diamond()
    state = started(plan)
    cs = start_cycle(plan, frozenset({S}))
    assert next_ready(plan, state, cs) == A
    finish_node(plan, state, cs, A, 7.0, startup=False)
    assert state.values[A] == 7.0
    assert (cs.running, cs.recomputed, cs.ready, cs.waiting, cs.dirty) == (
        set(),
        1,
        [C],
        {D: 1},
        {A, C},
    )


def test_finish_node_cutoff_keeps_previous_value() -> None:
    plan = diamond()
    state = started(plan)
    state.values[A] = 0.0
    cs = start_cycle(plan, frozenset({S}))
    next_ready(plan, state, cs)
    new = -0.0  # equal to 0.0, other bits
    finish_node(plan, state, cs, A, new, startup=False)
    assert math.copysign(1.0, state.values[A]) == 1.0  # the old 0.0 is kept
    assert (cs.running, cs.recomputed, cs.ready, cs.waiting, cs.dirty) == (set(), 1, [], {}, {A})
    assert cs.finished


def test_finish_node_nan_always_changes() -> None:
    plan = diamond()
    state = started(plan)
    state.values[A] = math.nan
    cs = start_cycle(plan, frozenset({S}))
    next_ready(plan, state, cs)
    finish_node(plan, state, cs, A, math.nan, startup=False)
    assert cs.ready == [C]


def test_finish_node_without_cutoff_always_changes() -> None:
    g = GraphBuilder()
    a = g.node("a", FloatOp("sum"), g.source("s", 1.0), cutoff=False)
    g.node("b", FloatOp("sum"), a)
    plan = Plan(g.build())
    state = RunState(plan.initial_values())
    compute_startup(plan, state, plan.node_steps, "fail_fast", "test")
    cs = start_cycle(plan, frozenset({0}))
    next_ready(plan, state, cs)
    finish_node(plan, state, cs, 1, 1.0, startup=False)
    assert (cs.ready, cs.dirty) == ([2], {1, 2})


def test_finish_node_at_startup_ignores_cutoff() -> None:
    plan = diamond()
    state = RunState(plan.initial_values())
    state.values[A] = 1.0
    cs = start_cycle(plan, None)
    next_ready(plan, state, cs)
    finish_node(plan, state, cs, A, 1.0, startup=True)
    assert C in cs.dirty


def test_finish_node_recovery_propagates_an_equal_value() -> None:
    plan = diamond()
    state = started(plan)
    state.failed = {A: error("a"), C: error("a"), D: error("a")}
    cs = start_cycle(plan, frozenset({S}))
    assert next_ready(plan, state, cs) == A
    finish_node(plan, state, cs, A, 1.0, startup=False)  # equal to its last good value
    assert set(state.failed) == {C, D}
    assert (cs.ready, cs.dirty) == ([C], {A, C})
    assert next_ready(plan, state, cs) == C  # a recovered: c may compute
    finish_node(plan, state, cs, C, 3.0, startup=False)
    assert next_ready(plan, state, cs) == D
    finish_node(plan, state, cs, D, 3.0, startup=False)
    assert (state.failed, cs.recomputed) == ({}, 3)
    assert cs.finished


# -- fail_node / first_error --------------------------------------------------------------------
def test_fail_node_isolate_marks_and_settles_changed() -> None:
    plan = diamond()
    state = started(plan)
    cs = start_cycle(plan, frozenset({S}))
    next_ready(plan, state, cs)
    err = error("a")
    fail_node(plan, state, cs, A, err, "isolate")
    assert state.failed == {A: err}
    assert (cs.running, cs.recomputed, cs.errors, cs.stop_above) == (set(), 1, [err], None)
    assert (cs.ready, cs.dirty) == ([C], {A, C})
    assert state.values[A] == 1.0
    assert first_error(plan, cs) is None


def test_fail_node_fail_fast_stops_above_the_lowest_failure() -> None:
    plan = diamond()
    state = started(plan)
    cs = start_cycle(plan, None)
    assert next_ready(plan, state, cs) == A
    assert next_ready(plan, state, cs) == B
    err_b, err_a = error("b"), error("a")
    fail_node(plan, state, cs, B, err_b, "fail_fast")
    assert (cs.stop_above, cs.errors, cs.running, cs.recomputed) == (B, [err_b], {A}, 1)
    assert first_error(plan, cs) is err_b
    fail_node(plan, state, cs, A, err_a, "fail_fast")  # lower rank, later in time: it wins
    assert (cs.stop_above, cs.errors, cs.running, cs.recomputed) == (A, [err_b, err_a], set(), 2)
    assert first_error(plan, cs) is err_a
    assert state.failed == {}  # fail-fast marks nothing: the run is over
    assert cs.waiting == {C: 2, D: 1}  # nothing released
    assert cs.finished


def test_fail_node_fail_fast_higher_rank_does_not_raise_stop_above() -> None:
    plan = diamond()
    state = started(plan)
    cs = start_cycle(plan, None)
    fail_node(plan, state, cs, A, error("a"), "fail_fast")
    fail_node(plan, state, cs, B, error("b"), "fail_fast")
    assert cs.stop_above == A
    assert first_error(plan, cs) == cs.errors[0]


def test_first_error_none_without_failures() -> None:
    assert first_error(diamond(), CycleState({}, set())) is None


# -- the sync loop --------------------------------------------------------------------------------
def test_compute_startup_computes_everything_in_order() -> None:
    plan = diamond()
    state = RunState(plan.initial_values())
    assert compute_startup(plan, state, plan.node_steps, "isolate", "test") == (4, [])
    assert state.values == [1.0, 2.0, 1.0, 2.0, 3.0, 3.0]
    assert state.failed == {}


def test_compute_startup_in_chunks_equals_one_pass() -> None:
    plan = diamond()
    state = RunState(plan.initial_values())
    steps = plan.node_steps
    assert compute_startup(plan, state, steps[:3], "isolate", "test") == (3, [])
    assert compute_startup(plan, state, steps[3:], "isolate", "test") == (1, [])
    assert state.values == [1.0, 2.0, 1.0, 2.0, 3.0, 3.0]


def test_compute_startup_isolate_marks_dependents() -> None:
    plan = diamond(b=FloatOp("raise_above", 1.0))
    state = RunState(plan.initial_values())
    n, errors = compute_startup(plan, state, plan.node_steps, "isolate", "test")
    assert n == 2  # a, and b which raised; c and d are only marked
    (err,) = errors
    assert (err.key, err.exc_type, err.worker) == ("b", "ValueError", "test")
    assert state.failed == {B: err, C: err, D: err}
    assert state.values == [1.0, 2.0, 1.0, None, None, None]


def test_compute_startup_fail_fast_raises_with_cause() -> None:
    plan = diamond(b=FloatOp("raise_above", 1.0))
    state = RunState(plan.initial_values())
    with pytest.raises(NodeError, match=r"node 'b'.*ValueError: input 2.0 is above") as info:
        compute_startup(plan, state, plan.node_steps, "fail_fast", "test")
    assert isinstance(info.value.__cause__, ValueError)
    assert "_raise_above" in info.value.remote_traceback
    assert state.failed == {}


def test_compute_cycle_recomputes_affected_nodes() -> None:
    plan = diamond()
    state = started(plan)
    state.values[S] = 5.0
    state.cycles = 1
    assert compute_cycle(plan, state, frozenset({S}), "fail_fast", "test") == (3, [])
    assert state.values == [5.0, 2.0, 5.0, 2.0, 7.0, 7.0]
    assert len(state.marks) == plan.size
    assert [state.marks[r] for r in (A, C, D)] == [1, 1, 1]
    assert state.marks[B] != 1


def test_compute_cycle_reports_the_nodes_that_stored_a_value() -> None:
    plan = diamond()
    state = started(plan)
    state.values[S] = 5.0
    state.cycles = 1
    moved: list[int] = []
    compute_cycle(plan, state, frozenset({S}), "fail_fast", "test", moved)
    assert moved == [A, C, D]
    state.values[S] = 5.0  # the same value: a changes nothing, so nothing moves below it
    state.cycles = 2
    moved.clear()
    assert compute_cycle(plan, state, frozenset({S}), "fail_fast", "test", moved) == (1, [])
    assert moved == []


def test_compute_cycle_runs_only_the_given_steps() -> None:
    plan = diamond()
    state = started(plan)
    state.values[S] = 5.0
    state.cycles = 1
    steps = [s for s in plan.affected_steps(frozenset({S})) if s[0] == A]
    moved: list[int] = []
    assert compute_cycle(plan, state, frozenset({S}), "fail_fast", "t", moved, steps) == (1, [])
    assert (moved, state.values[A], state.values[C]) == ([A], 5.0, 3.0)
    assert state.marks[C] == 1  # stamped for whoever computes c next


def test_compute_cycle_cutoff_stops_propagation() -> None:
    plan = diamond(a=FloatOp("round"))
    state = started(plan)
    state.values[S] = 1.01
    state.cycles = 1
    assert compute_cycle(plan, state, frozenset({S}), "fail_fast", "test") == (1, [])
    assert state.values[A] == 1.0


def test_compute_cycle_keeps_previous_bits_and_propagates_nan() -> None:
    plan = diamond(a=FloatOp("zero"), d=RunningCount())
    state = started(plan)
    state.values[S] = -1.0  # a: -0.0 == 0.0: kept as 0.0
    state.cycles = 1
    assert compute_cycle(plan, state, frozenset({S}), "fail_fast", "test") == (1, [])
    assert math.copysign(1.0, state.values[A]) == 1.0
    state.values[S] = math.inf  # a: inf * 0 is NaN: changed, and c, d follow
    state.cycles = 2
    assert compute_cycle(plan, state, frozenset({S}), "fail_fast", "test") == (3, [])
    assert math.isnan(state.values[A])
    assert math.isnan(state.values[C])
    state.cycles = 3  # NaN again: never equal, propagates again
    assert compute_cycle(plan, state, frozenset({S}), "fail_fast", "test") == (3, [])
    assert state.values[D] == 3.0  # the counter saw start-up and two cycles


def test_compute_cycle_non_float_values_use_values_equal() -> None:
    plan = diamond(a=lambda x: np.array([round(x), 0.0]), c=lambda a, b: float(a.sum() + b))
    state = started(plan)
    state.values[S] = 1.2
    state.cycles = 1
    assert compute_cycle(plan, state, frozenset({S}), "fail_fast", "test") == (1, [])
    state.values[S] = 2.2
    state.cycles = 2
    assert compute_cycle(plan, state, frozenset({S}), "fail_fast", "test") == (3, [])
    assert state.values[D] == 4.0


def test_compute_cycle_aborted_cycle_leaves_nothing_behind() -> None:
    """Cycle 1 marks ``k`` dirty, then aborts before reaching it; cycle 2 reaches ``k``
    only through a node whose value is unchanged, so ``k`` must not compute."""
    g = GraphBuilder()
    s = g.source("s", 0.0)
    t = g.source("t", 1.0)
    g.node("bad", FloatOp("raise_above", 1.0), s)
    r = g.node("r", FloatOp("round"), t)
    g.node("k", RunningCount(), s, r)
    plan = Plan(g.build())
    state = RunState(plan.initial_values())
    compute_startup(plan, state, plan.node_steps, "fail_fast", "test")
    state.values[0] = 5.0
    state.cycles = 1
    with pytest.raises(NodeError, match="node 'bad'"):
        compute_cycle(plan, state, frozenset({0}), "fail_fast", "test")
    state.values[1] = 1.01
    state.cycles = 2
    assert compute_cycle(plan, state, frozenset({1}), "fail_fast", "test") == (1, [])
    assert state.values[4] == 1.0  # k computed at start-up only


def test_compute_cycle_isolate_marks_and_recovers() -> None:
    plan = diamond(a=FloatOp("raise_above", 3.0), d=RunningCount())
    state = started(plan)
    assert state.values[A] == 2.0
    state.values[S] = 5.0
    state.cycles = 1
    n, errors = compute_cycle(plan, state, frozenset({S}), "isolate", "test")
    (err,) = errors
    assert (n, err.key) == (1, "a")
    assert state.failed == {A: err, C: err, D: err}
    state.values[T] = 3.0
    state.cycles = 2
    assert compute_cycle(plan, state, frozenset({T}), "isolate", "test") == (1, [])
    assert state.failed == {A: err, C: err, D: err}  # c still reads the failed a
    state.values[S] = 1.0  # a recovers with its last good value: still propagates
    state.cycles = 3
    assert compute_cycle(plan, state, frozenset({S}), "isolate", "test") == (3, [])
    assert state.failed == {}
    assert state.values == [1.0, 3.0, 2.0, 3.0, 5.0, 2.0]


def test_compute_cycle_fail_fast_raises_lowest_rank_with_cause() -> None:
    plan = diamond(a=FloatOp("raise_above", 3.0), b=FloatOp("raise_above", 3.0))
    state = started(plan)
    state.values[S] = state.values[T] = 5.0
    state.cycles = 1
    with pytest.raises(NodeError, match="node 'a'") as info:
        compute_cycle(plan, state, frozenset({S, T}), "fail_fast", "test")
    assert str(info.value.__cause__) == "input 5.0 is above the limit 3.0"


# -- values_equal ---------------------------------------------------------------------------------
class RaisingEq:
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparison")

    __hash__ = None  # type: ignore[assignment]


class AmbiguousEq:
    def __eq__(self, other: object) -> Any:
        return np.array([True, False])

    __hash__ = None  # type: ignore[assignment]


@pytest.mark.parametrize(
    ("new", "old", "equal"),
    [
        (1.0, 1.0, True),
        (1.0, 2.0, False),
        (math.nan, math.nan, False),
        (0.0, -0.0, True),
        (math.inf, math.inf, True),
        (1, 1.0, True),
        (None, None, True),
        (None, 0.0, False),
        ("a", "a", True),
        ((1.0, 2.0), (1.0, 2.0), True),
        (np.float64(1.0), np.float64(1.0), True),
        (np.array([1.0, 2.0]), np.array([1.0, 2.0]), True),
        (np.array([1.0, 2.0]), np.array([1.0, 3.0]), False),
        (np.array([1.0, math.nan]), np.array([1.0, math.nan]), False),
        (np.array([1.0]), np.array([1.0, 1.0]), False),  # broadcasts, but shapes differ
        (np.array([1.0, 2.0]), np.array([1.0, 2.0, 3.0]), False),  # does not broadcast
        (np.ones((2, 2)), np.ones((2, 2)), True),
        (np.ones((2, 2)), np.ones(4), False),
        (np.array([1.0]), 1.0, False),
        (RaisingEq(), 1.0, False),
        (1.0, RaisingEq(), False),
        (AmbiguousEq(), 1.0, False),
    ],
)
def test_values_equal(new: Any, old: Any, equal: bool) -> None:
    assert values_equal(new, old) is equal
