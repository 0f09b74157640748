"""fluvius-deployment: every generated spec builds and runs; values match the inventory."""

from __future__ import annotations

import csv
import datetime
from pathlib import Path

import click
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
    """Each graph is an options chain: the library's implied vols, greeks and smile, the
    position greeks and exposure, computed from the inventory's rows."""
    from fluvius.nodes.options import bs_delta, bs_gamma, bs_vega, implied_vol, smile_vol

    rows = _inventory()
    underlyings = sorted({r["underlying"] for r in rows})
    specs = sorted(rel for rel in golden_files if rel.startswith("desk/specs/"))
    assert specs == [f"desk/specs/{u}.yaml" for u in underlyings]
    spots = yaml.safe_load((INPUTS / "spots.yaml").read_text())["spots"]
    rate = 0.045
    valuation = datetime.date(2026, 12, 7)
    smiles = 0
    for u in underlyings:
        path = tmp_path / f"{u}.yaml"
        path.write_text(golden_files[f"desk/specs/{u}.yaml"], encoding="utf-8")
        graph = load_graph(path)
        mine = [r for r in rows if r["underlying"] == u]
        expiries = sorted({r["expiry"] for r in mine})
        smiled = [e for e in expiries if len({r["strike"] for r in mine if r["expiry"] == e}) >= 3]
        assert len(graph.node_keys) == 9 * len(mine) + len(smiled) + 4
        values = run_graph(graph).values
        spot = spots[u]
        assert values[f"spot/{u}"] == spot
        totals = {"delta": 0.0, "gamma": 0.0, "vega": 0.0}
        for r in mine:
            strike, kind = float(r["strike"]), "call" if r["right"] == "C" else "put"
            opt = f"{u}/{r['expiry']}/{r['right']}/{r['strike'].removesuffix('.0')}"
            years = (datetime.date.fromisoformat(r["expiry"]) - valuation).days / 365
            assert values[f"years/{u}/{r['expiry']}"] == years
            iv = implied_vol(float(r["mid"]), spot, strike, years, rate, kind)
            assert 0.05 < iv < 2.0, opt  # the inventory's mids are inside the bounds
            assert values[f"iv/{opt}"] == iv
            weight = int(r["position"]) * int(r["multiplier"] or 100)
            for greek, fn in (("delta", bs_delta), ("gamma", bs_gamma), ("vega", bs_vega)):
                assert values[f"{greek}/{opt}"] == fn(spot, strike, years, rate, iv, kind)
                totals[greek] += values[f"{greek}/{opt}"] * weight
            assert values[f"moneyness/{opt}"] == pytest.approx(spot / strike, rel=1e-12)
        for greek, total in totals.items():
            assert values[f"{greek}/{u}"] == pytest.approx(total, rel=1e-12, abs=1e-12)
        expected = sum(
            float(r["mid"]) * int(r["position"]) * int(r["multiplier"] or 100) for r in mine
        )
        assert values[f"exposure/{u}"] == pytest.approx(expected, rel=1e-12)
        for e in smiled:
            quoted = sorted(
                (r for r in mine if r["expiry"] == e),
                key=lambda r: (r["right"], float(r["strike"])),
            )
            years = values[f"years/{u}/{e}"]
            ivs = [
                values[f"iv/{u}/{e}/{r['right']}/{r['strike'].removesuffix('.0')}"] for r in quoted
            ]
            strikes = [float(r["strike"]) for r in quoted]
            fitted = values[f"smile/{u}/{e}"]
            assert fitted == smile_vol(spot, years, rate, *ivs, strikes=strikes)
            assert min(ivs) <= fitted <= max(ivs)
            smiles += 1
    assert smiles >= 1  # the golden universe has an expiry quoted at three strikes


def _command(name: str) -> click.Command:
    group = typer.main.get_command(app)
    found = group.get_command(group.make_context("fluvius", [name, "--help"]), name)  # type: ignore[attr-defined]
    assert found is not None
    return found


def test_deployment_commands_parse_with_fluvius_run(golden_files: dict[str, str]) -> None:
    body = yaml.safe_load(golden_files["desk/deployment.yaml"])
    address = "tcp://dask-scheduler.internal:8786"
    assert body["scheduler"] == {
        "kind": "dask",
        "workers": 3,
        "partitioner": "auto",  # the best predicted, for each run's graph and worker count
        "error_policy": "isolate",
        "address": address,
    }
    run = _command("run")
    for entry in body["graphs"]:
        assert entry["command"][:2] == ["fluvius", "run"]
        ctx = run.make_context("run", entry["command"][2:])
        assert ctx.params["scheduler"] == "dask"
        assert ctx.params["address"] == address
        assert ctx.params["workers"] is None  # every worker of the cluster: one per partition
        assert ctx.params["partitioner"] == "auto"
        assert str(ctx.params["spec"]) == entry["spec"]


@pytest.mark.parametrize("scheduler", ["serial", "process", "dask"])
def test_commands_of_every_scheduler_are_accepted(tmp_path: Path, scheduler: str) -> None:
    """The run and live commands pass the options each scheduler takes, and only those
    (`fluvius run --scheduler serial --workers 2` is refused, for one)."""
    from fluvius.cli.run import check_scheduler
    from fluvius.config.generate import generate_files

    values: dict[str, object] = {
        "valuation_date": "2026-12-07",
        "instruments": [{"underlying": "AAPL", "expiry": "2027-01-15", "right": "C",
                         "strike": 200.0, "mid": 5.0}],
        "scheduler": scheduler,
        "live": {"feeds": ["iex+udp://127.0.0.1:10377"]},
    }  # fmt: skip
    if scheduler == "dask":
        values["dask_scheduler"] = "tcp://10.0.0.5:8786"
    (tmp_path / "c.yaml").write_text(
        yaml.safe_dump({"instances": {"d": {"type": "fluvius-deployment", "values": values}}})
    )
    (entry,) = yaml.safe_load(generate_files(tmp_path / "c.yaml")["d/deployment.yaml"])["graphs"]
    for name, key in (("run", "command"), ("live", "live_command")):
        ctx = _command(name).make_context(name, entry[key][2:])
        assert ctx.params["scheduler"] == scheduler
        check_scheduler(scheduler, ctx.params["workers"], ctx.params["address"])  # no exit
        assert (ctx.params["workers"] is not None) == (scheduler == "process")
        assert (ctx.params["address"] is not None) == (scheduler == "dask")


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
                            "valuation_date": "2026-12-07",
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
