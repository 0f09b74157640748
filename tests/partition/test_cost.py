"""Costs files and estimates: by rank, checked against the graph, clear errors."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from fluvius import GraphBuilder
from fluvius.errors import SpecError
from fluvius.graph.spec import spec_to_graph
from fluvius.partition import Calibration, dump_costs, estimate_costs, load_costs

if TYPE_CHECKING:
    from pathlib import Path

    from fluvius.graph import Graph


def _graph() -> Graph:
    # insertion order is not topological, so ranks differ from insertion positions
    spec = {
        "sources": {"x": 1.0},
        "nodes": {
            "c": {"op": "add", "inputs": ["b"]},
            "b": {"op": "spin", "inputs": ["x"], "params": {"n": 1000}},
            "a": {"op": "add", "inputs": ["x"]},
        },
    }
    return spec_to_graph(spec)


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "costs.json"
    path.write_text(json.dumps(data))
    return path


def test_costs_are_placed_by_rank(tmp_path: Path) -> None:
    g = _graph()
    costs = load_costs(_write(tmp_path, {"a": 0.5, "b": 2.0, "c": 1.0, "x": 9.0}), g)
    assert {g.keys[r]: c for r, c in enumerate(costs)} == {"x": 0.0, "a": 0.5, "b": 2.0, "c": 1.0}


def test_dump_then_load_round_trips(tmp_path: Path) -> None:
    g = _graph()
    costs = tuple(float(r) for r in range(len(g.items)))
    costs = tuple(0.0 if r in g.sources else c for r, c in enumerate(costs))
    dump_costs(g, costs, tmp_path / "c.json")
    assert load_costs(tmp_path / "c.json", g) == costs


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"a": 1, "b": 1, "c": 1, "zzz": 1}, "'zzz', which is not a node"),
        ({"a": 1, "b": 1}, "no cost for node 'c'"),
        ({"a": 1, "b": -1, "c": 1}, "cost of 'b' must be"),
        ({"a": 1, "b": "slow", "c": 1}, "cost of 'b' must be"),
        ([1, 2, 3], "expected a JSON object"),
    ],
)
def test_bad_files_name_the_key_and_file(tmp_path: Path, data: object, needle: str) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(SpecError, match=needle) as info:
        load_costs(path, _graph())
    assert str(path) in str(info.value)


def test_duplicate_keys_and_bad_json_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"a": 1, "a": 2}')
    with pytest.raises(SpecError, match="'a' twice"):
        load_costs(path, _graph())
    path.write_text('{"a": 1,')
    with pytest.raises(SpecError, match="not valid JSON"):
        load_costs(path, _graph())
    with pytest.raises(SpecError, match="cannot read"):
        load_costs(tmp_path / "missing.json", _graph())


def test_estimates_scale_spin_with_n() -> None:
    g = _graph()
    cal = Calibration(node_s=1e-6, spin_iter_s=1e-8)
    costs = dict(zip(g.keys, estimate_costs(g, cal), strict=True))
    assert costs["x"] == 0.0
    assert costs["a"] == costs["c"] == 1e-6
    assert costs["b"] == pytest.approx(1e-6 + 1000 * 1e-8)


def test_estimates_treat_user_callables_alike() -> None:
    b = GraphBuilder()
    x = b.source("x", 1.0)
    b.node("f", lambda v: v, x)
    assert estimate_costs(b.build(), Calibration(node_s=3e-6)) == (0.0, 3e-6)


def test_profile_reports_progress_in_node_computations() -> None:
    from fluvius.partition.profile import profile_graph

    b = GraphBuilder()
    prev = b.source("x", 0.0)
    for i in range(2500):
        prev = b.node(f"n{i}", lambda v: v + 1.0, prev)
    seen: list[tuple[int, int]] = []
    profile_graph(b.build(), repeats=2, progress=lambda done, total: seen.append((done, total)))
    assert {total for _, total in seen} == {5000}
    done = [d for d, _ in seen]
    assert done == sorted(done)
    assert done[-1] == 5000
    assert len(seen) >= 4  # within each start-up, not only at its end
