"""``fluvius workload``: export and list."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fluvius.cli.app import app
from fluvius.graph.spec import load_graph

runner = CliRunner()


def test_export_fanout_is_deterministic_and_runs(tmp_path: Path) -> None:
    args = [
        "workload",
        "export",
        "fanout",
        "--param",
        "underlyings=3",
        "--param",
        "length=4",
        "--param",
        "spin_n=10",
    ]
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for out in (a, b):
        result = runner.invoke(app, [*args, "--out", str(out)])
        assert result.exit_code == 0, result.output
    assert a.read_bytes() == b.read_bytes()
    graph = load_graph(a)
    assert len(graph) == 3 * 4 + 1
    spec = json.loads(a.read_text())
    assert spec["meta"]["spin_n"] == 10
    run = runner.invoke(app, ["run", str(a), "--json"])
    assert run.exit_code == 0, run.output
    assert len(json.loads(run.stdout)["values"]) == 13


def test_export_rejects_unknown_param(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["workload", "export", "overhead", "--param", "widht=3", "--out", str(tmp_path / "x.json")],
    )
    assert result.exit_code == 1, result.output
    assert "widht" in result.stderr


def test_export_rejects_malformed_param(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["workload", "export", "overhead", "--param", "width", "--out", str(tmp_path / "x.json")],
    )
    assert result.exit_code == 2, result.output
    assert "key=value" in result.stderr


def test_list_names_the_workloads() -> None:
    result = runner.invoke(app, ["workload", "list"])
    assert result.exit_code == 0, result.output
    assert "overhead" in result.stdout
    assert "fanout" in result.stdout


def test_export_heavy_preset(tmp_path: Path) -> None:
    out = tmp_path / "heavy.json"
    result = runner.invoke(
        app,
        [
            "workload",
            "export",
            "options",
            "--preset",
            "heavy",
            "--param",
            "underlyings=2",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "preset 'heavy'" in result.stderr  # "wrote FILE ..." is a log line
    spec = json.loads(out.read_text())
    assert spec["meta"]["preset"] == "heavy"
    assert spec["nodes"]["calib/U001/3"]["params"] == {"grid": 115}
    listed = runner.invoke(app, ["workload", "list"])
    assert "--preset heavy" in listed.stdout, listed.output
