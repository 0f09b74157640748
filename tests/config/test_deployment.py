"""fluvius-deployment: every generated spec builds and runs; values match the inventory."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import typer.main
import yaml

from fluvius.cli.app import app
from fluvius.graph.spec import load_graph
from fluvius.scheduling import run_graph

INPUTS = Path(__file__).parent / "golden" / "inputs"


def _inventory() -> list[dict[str, str]]:
    with (INPUTS / "universe.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_one_spec_per_underlying_that_builds_and_runs(
    tmp_path: Path, golden_files: dict[str, str]
) -> None:
    rows = _inventory()
    underlyings = sorted({r["underlying"] for r in rows})
    specs = sorted(rel for rel in golden_files if rel.startswith("desk/specs/"))
    assert specs == [f"desk/specs/{u}.yaml" for u in underlyings]
    spots = yaml.safe_load((INPUTS / "spots.yaml").read_text())["spots"]
    for u in underlyings:
        path = tmp_path / f"{u}.yaml"
        path.write_text(golden_files[f"desk/specs/{u}.yaml"], encoding="utf-8")
        graph = load_graph(path)
        mine = [r for r in rows if r["underlying"] == u]
        assert len(graph.node_keys) == 2 * len(mine) + 1
        values = run_graph(graph).values
        assert values[f"spot/{u}"] == spots[u]
        expected = sum(
            float(r["mid"]) * int(r["position"]) * int(r["multiplier"] or 100) for r in mine
        )
        assert values[f"exposure/{u}"] == pytest.approx(expected, rel=1e-12)
        for r in mine:
            strike = float(r["strike"])
            key = f"{r['expiry']}/{r['right']}/{r['strike'].removesuffix('.0')}"
            assert values[f"moneyness/{u}/{key}"] == pytest.approx(spots[u] / strike, rel=1e-12)


def test_deployment_commands_parse_with_fluvius_run(golden_files: dict[str, str]) -> None:
    body = yaml.safe_load(golden_files["desk/deployment.yaml"])
    assert body["scheduler"] == {
        "kind": "dask",
        "workers": 3,
        "partitioner": "round_robin",
        "error_policy": "isolate",
        "address": "tcp://dask-scheduler.internal:8786",
    }
    group = typer.main.get_command(app)
    run = group.get_command(group.make_context("fluvius", ["run", "--help"]), "run")  # type: ignore[attr-defined]
    assert run is not None
    for entry in body["graphs"]:
        assert entry["command"][:2] == ["fluvius", "run"]
        ctx = run.make_context("run", entry["command"][2:])
        assert ctx.params["scheduler"] == "dask"
        assert ctx.params["workers"] == 3
        assert str(ctx.params["spec"]) == entry["spec"]
