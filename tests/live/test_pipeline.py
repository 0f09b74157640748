"""The ingestion -> inference example spec (issue 13 item 8): in step with its generator and
built from the library only. (Its determinism on a replay at speed 0 is checked by the
example itself, which tests/test_examples.py runs.)"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from fluvius.graph.spec import load_spec

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
