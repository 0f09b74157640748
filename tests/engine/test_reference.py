"""The oracle: the evaluation rules, checked on small graphs with known answers."""

from __future__ import annotations

import inspect
import math

import pytest

from fluvius.engine.reference import ReferenceEvaluator
from fluvius.errors import NodeError, UnknownSourceError
from fluvius.graph import GraphBuilder
from fluvius.graph.dag import Graph
from fluvius.testing.strategies import AsyncFloatOp, FloatOp, History, RunningCount


def chain(*, cutoff: bool = True) -> Graph:
    g = GraphBuilder()
    s = g.source("s", 1.0)
    r = g.node("r", FloatOp("round"), s, cutoff=cutoff)
    g.node("count", RunningCount(), r)
    g.node("other", RunningCount(), g.source("t", 0.0))
    return g.build()


def test_start_then_cycles() -> None:
    oracle = ReferenceEvaluator(chain())
    start = oracle.start()
    assert (start.index, start.recomputed, start.errors) == (0, 3, ())
    assert oracle.values() == {"s": 1.0, "r": 1.0, "count": 1.0, "t": 0.0, "other": 1.0}
    first = oracle.cycle({"s": 1.5})
    assert (first.index, first.recomputed) == (1, 2)
    second = oracle.cycle({"t": 0.0})  # an equal tick is a change
    assert (second.index, second.recomputed) == (2, 1)
    assert oracle.values()["other"] == 2.0


@pytest.mark.parametrize(("cutoff", "recomputed", "count"), [(True, 1, 1.0), (False, 2, 2.0)])
def test_cutoff(cutoff: bool, recomputed: int, count: float) -> None:
    oracle = ReferenceEvaluator(chain(cutoff=cutoff))
    oracle.start()
    assert oracle.cycle({"s": 1.01}).recomputed == recomputed
    assert oracle.values()["count"] == count


def test_nan_propagates_and_negative_zero_is_cut() -> None:
    g = GraphBuilder()
    s = g.source("s", 1.0)
    z = g.node("z", FloatOp("zero"), s)
    g.node("seen", History(), z)
    oracle = ReferenceEvaluator(g.build())
    oracle.start()
    assert oracle.cycle({"s": -1.0}).recomputed == 1  # -0.0 == 0.0
    assert math.copysign(1.0, oracle.values()["z"]) == 1.0
    assert oracle.cycle({"s": math.inf}).recomputed == 2
    assert oracle.cycle({"s": math.inf}).recomputed == 2  # NaN != NaN
    assert len(oracle.values()["seen"]) == 3


def test_async_nodes_run_on_a_private_loop() -> None:
    g = GraphBuilder()
    g.node("a", AsyncFloatOp("neg"), g.source("s", 1.0))
    oracle = ReferenceEvaluator(g.build())
    try:
        oracle.start()
        oracle.cycle({"s": 4.0})
        assert oracle.values()["a"] == -4.0
    finally:
        oracle.close()
    oracle.close()  # idempotent


def test_fail_fast_raises_node_error_pointing_at_the_creating_line() -> None:
    g = GraphBuilder()
    s = g.source("s", 0.0)
    line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
    g.node("bad", FloatOp("raise_above", 1.0), s)
    oracle = ReferenceEvaluator(g.build())
    oracle.start()
    with pytest.raises(
        NodeError, match=r"node 'bad' \(created at .*test_reference.py:\d+\)"
    ) as info:
        oracle.cycle({"s": 2.0})
    err = info.value
    assert err.created_at == f"{__file__}:{line}"
    assert (err.key, err.worker, err.exc_type) == ("bad", "oracle", "ValueError")
    assert err.exc_message == "input 2.0 is above the limit 1.0"
    assert isinstance(err.__cause__, ValueError)
    assert "_raise_above" in err.remote_traceback


def test_isolate_marks_root_error_and_recovers() -> None:
    g = GraphBuilder()
    s = g.source("s", 0.0)
    bad = g.node("bad", FloatOp("raise_above", 1.0), s)
    g.node("after", FloatOp("neg"), bad)
    g.node("fine", FloatOp("neg"), s)
    oracle = ReferenceEvaluator(g.build(), "isolate")
    oracle.start()
    result = oracle.cycle({"s": 2.0})
    (err,) = result.errors
    assert result.recomputed == 2
    assert oracle.failed == {"bad": err, "after": err}
    assert oracle.values() == {"s": 2.0, "fine": -2.0}
    result = oracle.cycle({"s": 0.0})  # bad gives 1.0 again: recovery propagates anyway
    assert (result.recomputed, result.errors, oracle.failed) == (3, (), {})
    assert oracle.values() == {"s": 0.0, "bad": 1.0, "after": -1.0, "fine": -0.0}


def test_unknown_policy() -> None:
    with pytest.raises(ValueError, match=r"unknown error policy 'nope'; expected one of"):
        ReferenceEvaluator(chain(), "nope")  # type: ignore[arg-type]


def test_unknown_source() -> None:
    oracle = ReferenceEvaluator(chain())
    oracle.start()
    with pytest.raises(UnknownSourceError, match="'nope' is not a source"):
        oracle.cycle({"nope": 1.0})
    with pytest.raises(UnknownSourceError, match="'r' is not a source"):
        oracle.cycle({"r": 1.0})


def test_rejected_batch_changes_nothing() -> None:
    """A batch naming an unknown source is rejected as a whole, as sessions do.

    BUG (engine/reference.py, ReferenceEvaluator.cycle): sources listed before the unknown
    key are assigned before the error, without their dependents being recomputed, so the
    oracle's state is left inconsistent (``s`` is 5.0 while ``r`` still reflects 1.0).
    """
    oracle = ReferenceEvaluator(chain())
    oracle.start()
    with pytest.raises(UnknownSourceError):
        oracle.cycle({"s": 5.0, "nope": 1.0})
    assert oracle.values()["s"] == 1.0
