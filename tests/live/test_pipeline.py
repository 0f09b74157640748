"""The ingestion -> inference example spec (issue 13 item 8): in step with its generator,
built from the library only, and deterministic on a replay at speed 0."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from fluvius.graph.spec import load_spec, spec_to_graph

ROOT = Path(__file__).resolve().parents[2]


def _example() -> Any:
    spec = importlib.util.spec_from_file_location("pipeline", ROOT / "examples/09_live_pipeline.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_spec_is_the_generators_output() -> None:
    example = _example()
    assert load_spec(example.SPEC_FILE) == example.pipeline_spec(example.SYMBOLS)


def test_the_spec_uses_library_ops_only() -> None:
    spec = load_spec(_example().SPEC_FILE)
    ops = {node["op"] for node in spec["nodes"].values()}
    assert not [op for op in ops if ":" in op], "no dotted paths: the library's ops only"
    assert {"rls", "psi_drift", "ks_drift", "fallback_switch", "trade_imbalance"} <= ops


@pytest.mark.slow
def test_the_pipeline_is_deterministic_and_switches(tmp_path: Path) -> None:
    example = _example()
    path, symbols = example.capture(tmp_path)
    spec = example.pipeline_spec(symbols)
    first, state = example.run_once(spec, path)
    second, _ = example.run_once(spec, path)
    assert {k: repr(v) for k, v in first.items()} == {k: repr(v) for k, v in second.items()}
    assert not state.errors, state.errors
    assert any(a.key.startswith("served/") and a.kind == "alert" for a in state.alerts)
    assert len(spec_to_graph(spec).node_keys) == len(spec["nodes"])
