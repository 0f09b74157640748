"""The library spec ops through ``fluvius run --json``, against pandas rolling oracles.

The contract (docs/reference/cli-and-spec.md): a window counts the node's own
computations. Start-up computes every node once on the sources' initial values, so the
observations of a node are the initial value, then one per tick line.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fluvius.cli.app import app
from fluvius.errors import BadParamsError
from fluvius.graph.ops import LIBRARY_OPS, resolve_op

runner = CliRunner()


def run_spec(tmp_path: Path, nodes: dict[str, Any], xs: list[float]) -> dict[str, Any]:
    spec = {"sources": {"x": xs[0]}, "nodes": nodes}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    (tmp_path / "ticks.jsonl").write_text("".join(json.dumps({"x": x}) + "\n" for x in xs[1:]))
    result = runner.invoke(
        app,
        ["run", str(tmp_path / "spec.json"), "--ticks", str(tmp_path / "ticks.jsonl"), "--json"],
    )
    assert result.exit_code == 0, result.output
    values: dict[str, Any] = json.loads(result.stdout)["values"]
    return values


def expect(got: Any, want: float) -> None:
    if math.isnan(want):
        assert got is None  # NaN is written as null
    else:
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12), (got, want)


@pytest.mark.slow
@pytest.mark.parametrize(("n", "seed"), [(1, 0), (2, 1), (9, 2), (40, 3)])
def test_library_ops_match_pandas(tmp_path: Path, n: int, seed: int) -> None:
    xs = (100.0 + np.random.default_rng(seed).standard_normal(n).cumsum()).tolist()
    nodes: dict[str, Any] = {}
    windows = (1, 2, 3, 5, 50)
    for w in windows:
        for op in ("rolling_mean", "rolling_sum", "rolling_min", "rolling_max", "zscore"):
            nodes[f"{op}/{w}"] = {"op": op, "inputs": ["x"], "params": {"window": w}}
        nodes[f"rolling_std/{w}"] = {"op": "rolling_std", "inputs": ["x"], "params": {"window": w}}
        nodes[f"rolling_std0/{w}"] = {
            "op": "rolling_std",
            "inputs": ["x"],
            "params": {"window": w, "ddof": 0},
        }
    for alpha in (0.1, 0.5, 1.0):
        nodes[f"ewm_mean/{alpha}"] = {"op": "ewm_mean", "inputs": ["x"], "params": {"alpha": alpha}}
    values = run_spec(tmp_path, nodes, xs)

    s = pd.Series(xs)
    for w in windows:
        r = s.rolling(w, min_periods=1)
        expect(values[f"rolling_mean/{w}"], r.mean().iloc[-1])
        expect(values[f"rolling_sum/{w}"], r.sum().iloc[-1])
        expect(values[f"rolling_min/{w}"], r.min().iloc[-1])
        expect(values[f"rolling_max/{w}"], r.max().iloc[-1])
        std1 = s.rolling(w, min_periods=2).std().iloc[-1] if w >= 2 else math.nan
        expect(values[f"rolling_std/{w}"], std1)
        expect(values[f"rolling_std0/{w}"], s.rolling(w, min_periods=1).std(ddof=0).iloc[-1])
        mean = s.rolling(w, min_periods=1).mean().iloc[-1]
        z = (xs[-1] - mean) / std1 if std1 > 0 else math.nan
        expect(values[f"zscore/{w}"], z)
    for alpha in (0.1, 0.5, 1.0):
        expect(values[f"ewm_mean/{alpha}"], s.ewm(alpha=alpha, adjust=False).mean().iloc[-1])


def test_zscore_of_a_flat_window_is_null(tmp_path: Path) -> None:
    values = run_spec(
        tmp_path, {"z": {"op": "zscore", "inputs": ["x"], "params": {"window": 3}}}, [5.0] * 4
    )
    assert values["z"] is None


def test_every_library_op_resolves() -> None:
    for name, path in LIBRARY_OPS.items():
        assert ":" in path, name
        module, _, attr = path.partition(":")
        assert module.startswith("fluvius.nodes."), name
        assert __import__(module, fromlist=[attr]) is not None


def test_library_op_errors_name_the_op() -> None:
    with pytest.raises(BadParamsError, match=r"op 'rolling_mean': cannot create RollingMean"):
        resolve_op("rolling_mean", 1, {"window": 0})
    with pytest.raises(BadParamsError, match=r"op 'rolling_std': cannot create RollingStd"):
        resolve_op("rolling_std", 1, {"windw": 3})
    with pytest.raises(BadParamsError, match=r"did you mean 'ewm_mean'"):
        resolve_op("ewm_maen", 1, {"alpha": 0.5})


def test_each_node_gets_its_own_state() -> None:
    a, _ = resolve_op("rolling_mean", 1, {"window": 2})
    b, _ = resolve_op("rolling_mean", 1, {"window": 2})
    assert a is not b


def test_time_windows_by_dotted_path_with_a_time_input(tmp_path: Path) -> None:
    """Any class is a spec op by dotted path; a time window takes the time as input 2."""
    rng = np.random.default_rng(7)
    ts = np.cumsum(rng.exponential(1.0, 30)).tolist()
    px = (100.0 + rng.standard_normal(30)).tolist()
    spec = {
        "sources": {"px": px[0], "ts": ts[0]},
        "nodes": {
            "mean5s": {
                "op": "fluvius.nodes.stats:RollingMean",
                "inputs": ["px", "ts"],
                "params": {"period": 5.0},
            },
            "q90": {
                "op": "fluvius.nodes.stats:RollingQuantile",
                "inputs": ["px"],
                "params": {"q": 0.9, "window": 10},
            },
        },
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    lines = [json.dumps({"px": p, "ts": t}) for p, t in zip(px[1:], ts[1:], strict=True)]
    (tmp_path / "ticks.jsonl").write_text("\n".join(lines) + "\n")
    result = runner.invoke(
        app,
        ["run", str(tmp_path / "spec.json"), "--ticks", str(tmp_path / "ticks.jsonl"), "--json"],
    )
    assert result.exit_code == 0, result.output
    values = json.loads(result.stdout)["values"]
    idx = pd.to_datetime(ts, unit="s")
    want = pd.Series(px, idx).rolling(pd.Timedelta(seconds=5)).mean().iloc[-1]
    expect(values["mean5s"], want)
    expect(values["q90"], pd.Series(px).rolling(10).quantile(0.9).iloc[-1])
