"""Streaming statistics and anomaly detection, three ways: standalone, graph node, spec op.

Run: ``python examples/02_stats_anomaly.py``. ``main()`` is what ``make demo`` can call for
the node-library part of the demonstration.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from fluvius.cli.app import app
from fluvius.graph import GraphBuilder
from fluvius.nodes import add_stateful
from fluvius.nodes.anomaly import Alert, Detector, RobustZScore
from fluvius.nodes.stats import VWAP, EWMean, RollingStd
from fluvius.scheduling import run_graph


def standalone() -> None:
    """1. In a notebook: update, then get."""
    vol = RollingStd(window=3)
    for px in (100.0, 100.5, 99.8, 101.2):
        vol.update(px)
        print(f"standalone  px={px:6.1f}  rolling std(3)={vol.get():.4f}")
    vwap = VWAP()
    for px, size in ((100.0, 200), (100.5, 100)):
        vwap.update(px, size)
    print(f"standalone  VWAP of two trades = {vwap.get():.4f}")


def as_graph_nodes() -> None:
    """2. In a graph: the object lives with its node across cycles."""
    g = GraphBuilder()
    px = g.source("AAPL/px", 100.0)
    add_stateful(g, "AAPL/px/ewm", EWMean(alpha=0.5), px)
    detector = Detector(RobustZScore(window=20), Alert(threshold=5.0, clear=3.0))
    add_stateful(g, "AAPL/px/alert", detector, px)
    rng = np.random.default_rng(0)
    prices = [*(100.0 + 0.05 * rng.standard_normal(25)).tolist(), 103.0]  # then a bad print
    report = run_graph(g.build(), [{"AAPL/px": p} for p in prices])
    print(f"graph       EW mean after {len(prices)} ticks = {report.values['AAPL/px/ewm']:.4f}")
    print(f"graph       alert on after the bad print: {report.values['AAPL/px/alert']}")


def as_spec_ops() -> None:
    """3. In a spec file, by op name, through ``fluvius run --json``."""
    spec = {
        "sources": {"px": 100.0},
        "nodes": {
            "mean3": {"op": "rolling_mean", "inputs": ["px"], "params": {"window": 3}},
            "std3": {"op": "rolling_std", "inputs": ["px"], "params": {"window": 3}},
            "z3": {"op": "zscore", "inputs": ["px"], "params": {"window": 3}},
            "ewm": {"op": "ewm_mean", "inputs": ["px"], "params": {"alpha": 0.5}},
        },
    }
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "spec.json").write_text(json.dumps(spec))
        (Path(tmp) / "ticks.jsonl").write_text('{"px": 101.0}\n{"px": 104.0}\n')
        result = CliRunner().invoke(
            app,
            ["run", f"{tmp}/spec.json", "--ticks", f"{tmp}/ticks.jsonl", "--json"],
        )
    values = json.loads(result.stdout)["values"]
    for key in ("mean3", "std3", "z3", "ewm"):
        print(f"spec op     {key:<5} = {values[key]:.4f}")


def main() -> None:
    standalone()
    as_graph_nodes()
    as_spec_ops()


if __name__ == "__main__":
    main()
