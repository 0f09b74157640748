"""compare_values: two runs' values, NaN-aware, first differing keys in order."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fluvius import GraphBuilder, ProcessScheduler, SerialScheduler, compare_values, run_graph
from fluvius.engine.compare import ValueDiff, same_value
from fluvius.graph.spec import spec_to_graph

NAN = math.nan


@pytest.mark.slow
def test_the_issue_case_nan_values_of_two_schedulers() -> None:
    g = GraphBuilder()
    x = g.source("x", NAN)
    g.node("y", abs, x)
    graph = g.build()
    serial = run_graph(graph, [{"x": NAN}], SerialScheduler())
    process = run_graph(graph, [{"x": NAN}], ProcessScheduler(2, "round_robin"))
    assert serial.values != process.values  # what the issue tripped over
    result = compare_values(serial.values, process.values)
    assert result.same
    assert bool(result) is True
    assert str(result) == "all 2 keys equal (NaN equal to NaN)"


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (NAN, NAN, True),
        (NAN, 1.0, False),
        (0.0, -0.0, True),
        (1, 1.0, True),
        (True, 1, False),
        ([1.0, NAN], (1.0, NAN), True),
        ([1.0, NAN], [1.0], False),
        (np.array([1.0, NAN]), [1.0, NAN], True),
        (np.array([[1.0, 2.0]]), np.array([1.0, 2.0]), False),
        (np.float64(NAN), NAN, True),
        ({"a": NAN}, {"a": NAN}, True),
        ({"a": 1.0}, {"b": 1.0}, False),
        ("x", "x", True),
        (None, None, True),
        (None, NAN, False),
        (np.array([1.0]), 1.0, False),
    ],
)
def test_same_value(a: object, b: object, equal: bool) -> None:
    assert same_value(a, b) is equal
    assert same_value(b, a) is equal


def test_tolerances() -> None:
    assert not same_value(0.1 + 0.2, 0.3)
    assert same_value(0.1 + 0.2, 0.3, rel_tol=1e-12)
    assert same_value(1.0, 1.05, abs_tol=0.1)
    assert compare_values({"a": 1.0}, {"a": 1.001}, rel_tol=0.01).same


def test_first_differing_keys_in_order_then_keys_only_in_the_second() -> None:
    left = {"k1": 1.0, "k2": NAN, "k3": 3.0, "k4": 4.0, "k5": 5.0}
    right = {"k1": 1.0, "k2": 2.0, "k3": 3.0, "k4": 4.5, "k6": 6.0}
    result = compare_values(left, right, limit=3)
    assert not result.same
    assert result.differing == 4
    assert result.compared == 6
    assert result.first[1:] == (
        ValueDiff("k4", 4.0, 4.5),
        ValueDiff("k5", 5.0, None, in_right=False),
    )
    assert result.first[0].key == "k2"
    assert math.isnan(result.first[0].left)
    assert str(result) == (
        "4 of 6 keys differ; first: k2 (nan vs 2.0), k4 (4.0 vs 4.5), k5 (only in the first), …"
    )
    everything = compare_values(left, right)
    assert [d.key for d in everything.first] == ["k2", "k4", "k5", "k6"]
    assert str(everything.first[-1]) == "k6 (only in the second)"
    with pytest.raises(ValueError, match="limit must be >= 0"):
        compare_values(left, right, limit=-1)


def test_a_spec_run_compares_with_its_json_form() -> None:
    spec = {"sources": {"x": 2.0}, "nodes": {"y": {"op": "neg", "inputs": ["x"]}}}
    report = run_graph(spec_to_graph(spec))
    assert compare_values(report.values, {"x": 2, "y": -2}).same
