"""``fluvius partition`` and ``fluvius profile`` end to end."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from fluvius.cli.app import app
from fluvius.graph.spec import dump_spec, load_graph
from fluvius.workloads import fanout_spec

if TYPE_CHECKING:
    from pathlib import Path

runner = CliRunner()


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "fanout.json"
    dump_spec(fanout_spec(underlyings=4, length=3, spin_n=200), path)
    return path


def test_profile_writes_a_cost_for_every_node(spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "costs.json"
    result = runner.invoke(app, ["profile", str(spec), "--out", str(out), "--repeats", "2"])
    assert result.exit_code == 0, result.output
    costs = json.loads(out.read_text())
    assert set(costs) == set(load_graph(spec).node_keys)
    assert all(c > 0 for c in costs.values())


def test_partition_json_is_one_document(spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "costs.json"
    assert runner.invoke(app, ["profile", str(spec), "--out", str(out)]).exit_code == 0
    args = ["partition", str(spec), "--workers", "2", "--costs", str(out), "--json", "--sizes"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    graph = load_graph(spec)
    assert sum(s["nodes"] for s in doc["shares"]) == len(graph)
    costs = json.loads(out.read_text())
    assert sum(s["work_s"] for s in doc["shares"]) == pytest.approx(sum(costs.values()))
    assert doc["lower_bound_s"] == pytest.approx(
        max(doc["critical_path_s"], sum(costs.values()) / 2)
    )
    assert set(doc["predictions"]["components"]) == {"1", "2", "4", "8", "16", "64"}
    assert doc["cost_source"] == str(out)
    verdict = doc["verdict"]
    assert [r["workers"] for r in verdict["rows"]] == [1, 2, 4, 8, 16, 64]
    assert verdict["recommended"] in {r["workers"] for r in verdict["rows"]}
    assert verdict["tick_source"] == "U000/src"
    assert verdict["market_sources"] == 4
    assert doc["cross_edges"] == sum(s["edges_in"] for s in doc["shares"])


def test_partition_human_report_goes_to_stdout(spec: Path) -> None:
    result = runner.invoke(app, ["partition", str(spec), "--workers", "3"])
    assert result.exit_code == 0, result.output
    assert "lower bound" in result.stdout
    assert "verdict: " in result.stdout
    assert "one-source tick ms" in result.stdout
    assert "lower bound" not in result.stderr


def test_partition_over_a_network(spec: Path) -> None:
    args = ["partition", str(spec), "--workers", "4", "--network", "10gbit:50us", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["network"], doc["hosts"]) == ("10gbit:50us", 4)
    assert doc["verdict"]["network"] == "10gbit:50us"
    local = json.loads(
        runner.invoke(app, ["partition", str(spec), "--workers", "4", "--json"]).stdout
    )
    assert (local["network"], local["hosts"]) == ("local", 1)
    # one core per worker on either: the wire only adds
    for n in ("2", "4", "8"):
        assert doc["predictions"]["components"][n] > local["predictions"]["components"][n]
    text = runner.invoke(app, [*args[:-1]])
    assert "network 10gbit:50us" in text.stdout
    refused = runner.invoke(app, [*args[:-1], "--run"])
    assert refused.exit_code == 1
    assert "use --network local" in refused.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--workers", "0"], "--workers must be >= 1"),
        (["--workers", "2", "--partitioner", "best"], "unknown partitioner 'best'"),
        (["--workers", "2", "--network", "10gbps:1us"], "--network: network '10gbps:1us'"),
    ],
)
def test_usage_errors(spec: Path, args: list[str], needle: str) -> None:
    result = runner.invoke(app, ["partition", str(spec), *args])
    assert result.exit_code == 2
    assert needle in result.stderr


def test_a_costs_file_of_another_graph_is_a_one_line_error(spec: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"nope": 1.0}))
    result = runner.invoke(app, ["partition", str(spec), "--workers", "2", "--costs", str(bad)])
    assert result.exit_code == 1
    assert "'nope'" in result.stderr
    assert str(bad) in result.stderr


@pytest.mark.slow
def test_run_adds_measured_figures(spec: Path) -> None:
    pytest.importorskip("fluvius.scheduling.process")
    args = ["partition", str(spec), "--workers", "2", "--partitioner", "components"]
    result = runner.invoke(app, [*args, "--run", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    measured = doc["measured"]
    assert measured["startup_seconds"] > 0
    assert measured["efficiency"] == pytest.approx(
        doc["lower_bound_s"] / measured["startup_seconds"]
    )
    assert len(measured["workers"]) == 2
    # the cheap totals across workers are computed by the parent (partition/_placement.py)
    on_workers = sum(w["nodes"] for w in measured["workers"])
    assert on_workers + measured["parent_nodes"] == sum(s["nodes"] for s in doc["shares"])
