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


def test_live_commands_run_the_graphs_on_a_feed(tmp_path: Path) -> None:
    """Issue 13: with `live`, each graph declares its underlying's feed sources, and
    deployment.yaml gives a `fluvius live` command that parses and runs."""
    import asyncio

    from fluvius.config.generate import generate_files
    from fluvius.feeds.iex import iter_events
    from fluvius.feeds.iex.encode import synthetic_tops
    from fluvius.live import LiveRun

    cap = synthetic_tops(2_000, n_symbols=5, seed=1)
    capture = cap.write(tmp_path / "t.pcap")
    u = cap.symbols[0]
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "instances": {
                    "desk": {
                        "type": "fluvius-deployment",
                        "values": {
                            "instruments": [
                                {"underlying": u, "expiry": "2026-12-18", "right": "C",
                                 "strike": 100.0, "position": 2, "mid": 1.5}
                            ],
                            "scheduler": "serial",
                            "live": {
                                "feeds": [f"iex+pcap://{capture}?speed=0"],
                                "record": "rec",
                                "record_keys": ["spot/*"],
                                "http": "127.0.0.1:8800",
                            },
                        },
                    }
                }
            }
        )
    )  # fmt: skip
    files = generate_files(tmp_path / "config.yaml")
    spec = tmp_path / "spec.yaml"
    spec.write_text(files[f"desk/specs/{u}.yaml"])
    (entry,) = yaml.safe_load(files["desk/deployment.yaml"])["graphs"]
    command = entry["live_command"]
    assert command[:3] == ["fluvius", "live", f"specs/{u}.yaml"]
    assert command[command.index("--feed") + 1] == f"iex+pcap://{capture}?speed=0"
    assert command[command.index("--record") + 1] == f"rec/{u}"
    assert command[command.index("--http") + 1] == "127.0.0.1:8800"
    assert "--workers" not in command
    report = asyncio.run(LiveRun(load_graph(spec), [f"iex+pcap://{capture}?speed=0"]).run())
    mids = [  # the spot follows the feed's last valid mid
        (e.bid_px + e.ask_px) / 2e9  # type: ignore[attr-defined]
        for e in iter_events(capture)
        if e.kind == "quote" and e.symbol == u and e.bid_px and e.ask_px  # type: ignore[attr-defined]
    ]
    spot = report.run.values[f"spot/{u}"]
    assert spot == mids[-1]
    assert report.run.values[f"moneyness/{u}/2026-12-18/C/100"] == pytest.approx(spot / 100.0)
