"""``fluvius run``: the CLI contract (docs/reference/cli-and-spec.md), checked as a script would.

The independent evaluator below is written from the contract's text alone (it imports
nothing from fluvius): random specs and ticks go through ``fluvius run --json`` and must
give the same values and the same recomputed count per cycle.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fluvius.cli.app import app

runner = CliRunner()

# -- an evaluator of the contract rules, sharing no code with fluvius ----------------


def _fold(op: str, xs: list[float], params: dict[str, Any]) -> float:
    if op == "add":
        acc = xs[0]
        for x in xs[1:]:
            acc = acc + x
        return acc + params.get("c", 0)
    if op == "mul":
        acc = xs[0]
        for x in xs[1:]:
            acc = acc * x
        return acc * params.get("c", 1)
    if op == "sub":
        return xs[0] - xs[1]
    if op == "div":
        return xs[0] / xs[1]
    if op == "neg":
        return -xs[0]
    if op == "identity":
        return xs[0]
    if op == "scale":
        return xs[0] * params["factor"]
    if op in ("sum", "mean"):
        acc = xs[0]
        for x in xs[1:]:
            acc = acc + x
        return acc if op == "sum" else acc / len(xs)
    if op == "min":
        return min(xs)
    if op == "max":
        return max(xs)
    raise AssertionError(op)


def hand_evaluate(
    spec: dict[str, Any], ticks: list[dict[str, float]]
) -> tuple[dict[str, float], list[int]]:
    """Values after the last cycle and recomputed counts per cycle, by the book."""
    values: dict[str, Any] = dict(spec["sources"])
    nodes = spec["nodes"]
    order: list[str] = []
    placed = set(values)
    while len(order) < len(nodes):  # a plain topological order
        for key, node in nodes.items():
            if key not in placed and all(i in placed for i in node["inputs"]):
                order.append(key)
                placed.add(key)
    for key in order:  # start-up: every node once
        node = nodes[key]
        values[key] = _fold(node["op"], [values[i] for i in node["inputs"]], node.get("params", {}))
    counts = []
    for batch in ticks:
        changed = set(batch)
        values.update(batch)
        n = 0
        for key in order:
            node = nodes[key]
            if not changed.intersection(node["inputs"]):
                continue
            new = _fold(node["op"], [values[i] for i in node["inputs"]], node.get("params", {}))
            n += 1
            if new == values[key]:  # cutoff: keep the previous value, stop here
                continue
            values[key] = new
            changed.add(key)
        counts.append(n)
    return {k: values[k] for k in nodes}, counts


# -- random specs ---------------------------------------------------------------------------
_OPS = ["add", "mul", "sub", "neg", "identity", "scale", "sum", "mean", "min", "max"]
_values = st.sampled_from([0.0, -0.0, 1.0, 2.5, -3.0, 1e16, 0.1, 7.0])


@st.composite
def specs_and_ticks(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, float]]]:
    n_sources = draw(st.integers(1, 3))
    sources = {f"s/{i}": draw(_values) for i in range(n_sources)}
    keys = list(sources)
    nodes: dict[str, Any] = {}
    for i in range(draw(st.integers(1, 25))):
        op = draw(st.sampled_from(_OPS))
        arity = (
            2
            if op == "sub"
            else 1
            if op in ("neg", "identity", "scale")
            else draw(st.integers(1, 3))
        )
        inputs = [draw(st.sampled_from(keys)) for _ in range(arity)]
        node: dict[str, Any] = {"op": op, "inputs": inputs}
        if op in ("add", "mul") and draw(st.booleans()):
            node["params"] = {"c": draw(_values)}
        if op == "scale":
            node["params"] = {"factor": draw(st.sampled_from([0.0, 0.5, 2.0, -1.0]))}
        key = f"n/{i}"
        nodes[key] = node
        keys.append(key)
    ticks = draw(
        st.lists(st.dictionaries(st.sampled_from(list(sources)), _values, min_size=1), max_size=5)
    )
    return {"sources": sources, "nodes": nodes}, ticks


def _bits(x: Any) -> Any:
    return struct.pack("<d", x) if isinstance(x, float) else x


def _run_json(tmp: Path, spec: dict[str, Any], ticks: list[dict[str, Any]], *extra: str) -> Any:
    spec_file = tmp / "spec.json"
    spec_file.write_text(json.dumps(spec))
    ticks_file = tmp / "ticks.jsonl"
    ticks_file.write_text("".join(json.dumps(t) + "\n" for t in ticks))
    result = runner.invoke(
        app, ["run", str(spec_file), "--ticks", str(ticks_file), "--json", *extra]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@settings(max_examples=60, deadline=None)
@given(case=specs_and_ticks())
def test_run_json_matches_a_hand_written_evaluator(tmp_path_factory: Any, case: Any) -> None:
    spec, ticks = case
    expected, counts = hand_evaluate(spec, ticks)
    doc = _run_json(tmp_path_factory.mktemp("spec"), spec, ticks)
    assert [c["recomputed"] for c in doc["cycles"]] == counts
    for key, value in expected.items():
        if isinstance(value, float) and not math.isfinite(value):
            assert doc["values"][key] is None, key  # NaN and infinities are written as null
        else:
            assert _bits(doc["values"][key]) == _bits(value), key


def test_json_document_fields(tmp_path: Path) -> None:
    spec = {
        "sources": {"x": 1.0},
        "nodes": {"y": {"op": "scale", "inputs": ["x"], "params": {"factor": 2.0}}},
    }
    doc = _run_json(tmp_path, spec, [{"x": 2.0}, {"x": 2.0}])
    assert doc["values"] == {"y": 4.0}
    assert doc["sources"] == {"x": 2.0}
    assert [(c["index"], c["recomputed"]) for c in doc["cycles"]] == [(1, 1), (2, 1)]
    assert all(c["seconds"] >= 0 for c in doc["cycles"])
    stats = doc["stats"]
    assert stats["scheduler"] == "serial"
    assert stats["startup_recomputed"] == 1
    assert stats["startup_seconds"] >= 0
    assert [w["worker"] for w in stats["workers"]] == ["serial"]
    assert doc["errors"] == []


def test_nan_and_infinity_are_null(tmp_path: Path) -> None:
    spec = {
        "sources": {"x": 1e308},
        "nodes": {
            "big": {"op": "mul", "inputs": ["x", "x"]},
            "nan": {"op": "sub", "inputs": ["big", "big"]},
        },
    }
    doc = _run_json(tmp_path, spec, [])
    assert doc["values"] == {"big": None, "nan": None}


def _write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sources: {x: 1.0}\nnodes:\n  y: {op: ad, inputs: [x]}\n", r"node 'y'.*unknown op 'ad'"),
        ("sources: {x: 1.0}\nnodes:\n  y: {op: add, inputs: [z]}\n", r"node 'y'.*'z'"),
        ("sources: {x: 1.0}\nnodes:\n  y: {op: add, inputs: [x\n", r"spec.yaml"),
        ("sources: {x: 1.0}\nnodes:\n  y: {op: scale, inputs: [x]}\n", r"node 'y'.*factor"),
    ],
)
def test_spec_errors_are_one_line_and_exit_1(tmp_path: Path, text: str, message: str) -> None:
    spec = _write(tmp_path, "spec.yaml", text)
    result = runner.invoke(app, ["run", str(spec)])
    assert result.exit_code == 1, result.output
    first = result.stderr.strip().splitlines()[0]
    assert first.startswith("error:")
    assert "Traceback" not in result.stderr
    import re

    assert re.search(message, first), first


def test_bad_tick_line_names_the_line(tmp_path: Path) -> None:
    spec = _write(tmp_path, "spec.yaml", "sources: {x: 1.0}\nnodes:\n  y: {op: neg, inputs: [x]}\n")
    ticks = _write(tmp_path, "t.jsonl", '{"x": 2.0}\n\n{"x": oops}\n')
    result = runner.invoke(app, ["run", str(spec), "--ticks", str(ticks)])
    assert result.exit_code == 1, result.output
    assert "t.jsonl" in result.stderr
    assert "line 3" in result.stderr


def test_tick_of_a_node_is_refused(tmp_path: Path) -> None:
    spec = _write(tmp_path, "spec.yaml", "sources: {x: 1.0}\nnodes:\n  y: {op: neg, inputs: [x]}\n")
    ticks = _write(tmp_path, "t.jsonl", '{"y": 2.0}\n')
    result = runner.invoke(app, ["run", str(spec), "--ticks", str(ticks)])
    assert result.exit_code == 1, result.output
    assert "line 1" in result.stderr
    assert "'y'" in result.stderr


def test_failing_node_fail_fast_and_verbose(tmp_path: Path) -> None:
    spec = _write(
        tmp_path, "spec.yaml", "sources: {x: 0.0}\nnodes:\n  y: {op: div, inputs: [x, x]}\n"
    )
    result = runner.invoke(app, ["run", str(spec)])
    assert result.exit_code == 1, result.output
    assert "node 'y'" in result.stderr
    assert "ZeroDivisionError" in result.stderr
    assert "spec.yaml" in result.stderr  # where the node was created
    assert "Traceback" not in result.stderr
    for args in (["--verbose", "run", str(spec)], ["run", str(spec), "--verbose"]):
        verbose = runner.invoke(app, args)
        assert verbose.exit_code == 1, verbose.output
        assert "Traceback" in verbose.stderr
        assert "ZeroDivisionError" in verbose.stderr


def test_isolate_policy_reports_failed_nodes_and_recovers(tmp_path: Path) -> None:
    spec = {
        "sources": {"x": 0.0, "d": 0.0},
        "nodes": {
            "q": {"op": "div", "inputs": ["x", "d"]},
            "r": {"op": "neg", "inputs": ["q"]},
            "ok": {"op": "neg", "inputs": ["x"]},
        },
    }
    doc = _run_json(tmp_path, spec, [{"x": 1.0}, {"d": 2.0}], "--error-policy", "isolate")
    assert [c["recomputed"] for c in doc["cycles"]] == [2, 2]  # q fails again + ok; q + r
    assert [e["key"] for e in doc["cycles"][0]["errors"]] == ["q"]
    assert doc["values"] == {"q": 0.5, "r": -0.5, "ok": -1.0}
    assert doc["errors"] == []
    failing = _run_json(tmp_path, spec, [{"x": 1.0}], "--error-policy", "isolate")
    assert failing["values"]["q"] is None
    assert failing["values"]["r"] is None
    assert [(e["key"], e["cause"]) for e in failing["errors"]] == [("q", "q"), ("r", "q")]


def test_unsupported_scheduler_is_a_usage_error(tmp_path: Path) -> None:
    spec = _write(tmp_path, "spec.yaml", "sources: {x: 1.0}\nnodes: {}\n")
    result = runner.invoke(app, ["run", str(spec), "--scheduler", "nope"])
    assert result.exit_code == 2, result.output
    assert "unknown scheduler" in result.stderr


def test_missing_spec_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 1, result.output
    assert "absent.yaml" in result.stderr


def test_human_summary(tmp_path: Path) -> None:
    spec = _write(tmp_path, "spec.yaml", "sources: {x: 1.0}\nnodes:\n  y: {op: neg, inputs: [x]}\n")
    ticks = _write(tmp_path, "t.jsonl", '{"x": 2.0}\n')
    result = runner.invoke(app, ["run", str(spec), "--ticks", str(ticks)])
    assert result.exit_code == 0, result.output
    assert "1 nodes" in result.stdout
    assert "-2.0" in result.stdout
    assert result.stderr == ""


def test_version_and_help() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("fluvius ")
    result = runner.invoke(app, ["run", "--help"])
    assert result.exit_code == 0
    assert "TICKS" in result.stdout
    assert "Examples" in result.stdout
