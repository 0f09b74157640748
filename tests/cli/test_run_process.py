"""``fluvius run --scheduler process``: same JSON as serial, per-worker stats, trace, costs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fluvius.cli.app import app
from fluvius.workloads import overhead_spec, tick_stream

pytestmark = pytest.mark.slow

runner = CliRunner()


@pytest.fixture
def spec_and_ticks(tmp_path: Path) -> tuple[Path, Path]:
    spec = overhead_spec(underlyings=3, width=6, depth=4, seed=5)
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    ticks_path = tmp_path / "ticks.jsonl"
    lines = [json.dumps(t) for t in tick_stream(spec, 6, seed=2, sources_per_tick=2)]
    ticks_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return spec_path, ticks_path


def _run(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["run", *args, "--json"])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_process_run_reports_what_serial_reports(spec_and_ticks: tuple[Path, Path]) -> None:
    spec, ticks = spec_and_ticks
    serial = _run(str(spec), "--ticks", str(ticks))
    process = _run(
        str(spec), "--ticks", str(ticks), "--scheduler", "process", "--workers", "2",
        "--partitioner", "round_robin",
    )  # fmt: skip
    assert process["values"] == serial["values"]
    assert [c["recomputed"] for c in process["cycles"]] == [
        c["recomputed"] for c in serial["cycles"]
    ]
    stats = process["stats"]
    assert stats["scheduler"] == "process"
    assert stats["partitioner"] == "round_robin"
    workers = stats["workers"]
    assert [w["worker"] for w in workers] == ["worker-0", "worker-1"]
    assert sum(w["nodes"] for w in workers) + stats["parent_nodes"] == stats["nodes"]
    for w in workers:
        assert set(w) >= {"busy_seconds", "idle_seconds", "messages_sent", "bytes_sent", "pid"}
    assert sum(w["messages_sent"] for w in workers) > 0  # round robin cuts many edges
    # "cross edges" means one thing in run stats, the partition report and the collector
    from fluvius.config.collectors.partition import partition_plan
    from fluvius.graph.spec import load_graph
    from fluvius.partition import round_robin
    from fluvius.partition.report import partition_report

    graph = load_graph(spec)
    part = round_robin(graph, 2)
    report = partition_report(graph, 2, "round_robin", scaling=(2,))
    assert stats["cross_edges"] == report.cross_edges == partition_plan(graph, part)["cross_edges"]
    assert stats["cross_edges"] == sum(s.edges_in for s in report.shares) > 0


def test_trace_and_costs_files(spec_and_ticks: tuple[Path, Path], tmp_path: Path) -> None:
    spec, ticks = spec_and_ticks
    costs_path = tmp_path / "costs.json"
    spec_doc = json.loads(spec.read_text(encoding="utf-8"))
    costs_path.write_text(json.dumps(dict.fromkeys(spec_doc["nodes"], 1e-6)), encoding="utf-8")
    trace_path = tmp_path / "trace.json"
    doc = _run(
        str(spec), "--ticks", str(ticks), "--scheduler", "process", "--workers", "2",
        "--costs", str(costs_path), "--trace", str(trace_path), "--partitioner", "round_robin",
    )  # fmt: skip
    trace = json.loads(trace_path.read_text(encoding="utf-8"))
    events = trace["traceEvents"]
    slices = [e for e in events if e["ph"] == "X" and e["cat"] == "node"]
    computed = doc["stats"]["startup_recomputed"] + sum(c["recomputed"] for c in doc["cycles"])
    assert len(slices) == computed  # one slice per node computation
    assert {e["name"] for e in slices} == set(spec_doc["nodes"])
    pids = {w["pid"] for w in doc["stats"]["workers"]}
    assert {e["pid"] for e in slices} == pids  # one track per worker
    starts = {e["id"] for e in events if e["ph"] == "s"}
    ends = {e["id"] for e in events if e["ph"] == "f"}
    assert starts
    assert ends == starts  # every value that crossed has both ends of its arrow


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scheduler", "nope"], "unknown scheduler 'nope'"),
        (["--workers", "2"], "--workers applies to the process and dask schedulers"),
        (["--partitioner", "components"], "--partitioner apply to the process and dask"),
        (["--address", "tcp://127.0.0.1:1"], "--address applies to the dask scheduler"),
        (["--scheduler", "dask", "--address", "127.0.0.1:1"], "names no protocol"),
        (["--scheduler", "dask", "--workers", "0"], "--workers must be at least 1"),
        (["--scheduler", "process", "--partitioner", "nope"], "unknown partitioner 'nope'"),
        (["--scheduler", "process", "--workers", "0"], "--workers must be at least 1"),
    ],
)
def test_bad_usage_exits_2(
    spec_and_ticks: tuple[Path, Path], args: list[str], message: str
) -> None:
    spec, _ = spec_and_ticks
    result = runner.invoke(app, ["run", str(spec), *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
