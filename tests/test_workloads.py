from __future__ import annotations

import inspect
import json
from typing import TYPE_CHECKING, Any

import pytest

from fluvius.errors import ConfigError
from fluvius.graph.node import NodeSpec
from fluvius.graph.spec import dump_spec, load_graph, load_spec, spec_to_graph
from fluvius.workloads import (
    WORKLOADS,
    calibrate_spin,
    export_workload,
    fanout_spec,
    options_spec,
    overhead_spec,
    tick_stream,
)

if TYPE_CHECKING:
    from pathlib import Path

    from fluvius.graph.dag import Graph

SMALL = {"underlyings": 2, "width": 6, "depth": 4, "spot_cols": 4}


def evaluate(graph: Graph) -> dict[str, Any]:
    """Full evaluation in rank order (a tiny oracle, independent of the engine)."""
    values: dict[str, Any] = {}
    for item in graph.items:
        if isinstance(item, NodeSpec):
            values[item.key] = item.fn(*(values[k] for k in item.inputs), **item.params)
        else:
            values[item.key] = item.value
    return values


# -- overhead -------------------------------------------------------------------------------
@pytest.mark.slow
def test_overhead_default_shape() -> None:
    spec = export_workload("overhead", {})
    graph = spec_to_graph(spec, origin="overhead")
    assert len(graph.node_keys) == 20 * 2001 + 1 == 40_021
    assert len(graph.source_keys) == 40
    assert len(graph.descendants("U000/spot")) == 22 * 50 + 1 + 1 == 1_102
    assert len(graph.descendants("U019/rate")) == 18 * 50 + 1 + 1
    assert graph.depth() == 50 + 2
    assert spec["meta"]["params"] == {
        "underlyings": 20,
        "width": 40,
        "depth": 50,
        "spot_cols": 22,
        "seed": 0,
    }


def test_overhead_small_shape_and_descendants() -> None:
    graph = spec_to_graph(overhead_spec(**SMALL, seed=5))
    assert len(graph.node_keys) == 2 * (6 * 4 + 1) + 1
    assert graph.source_keys == ("U000/spot", "U000/rate", "U001/spot", "U001/rate")
    spot = graph.descendants("U000/spot")
    assert len(spot) == 4 * 4 + 1 + 1
    assert {k for k in spot if "/n/" in k} == {
        f"U000/n/{r}/{c}" for r in range(4) for c in range(4)
    }
    assert len(graph.descendants("U001/rate")) == 2 * 4 + 2
    assert graph.spec("total").inputs == ("U000/agg", "U001/agg")
    assert graph.spec("U001/agg").inputs == tuple(f"U001/n/3/{c}" for c in range(6))


def test_overhead_node_rules() -> None:
    spec = overhead_spec(**SMALL, seed=11)
    nodes = spec["nodes"]
    counts = set()
    for key, node in nodes.items():
        if not key.startswith("U000/n/"):
            continue
        layer, col = (int(p) for p in key.split("/")[2:])
        group = range(0, 4) if col < 4 else range(4, 6)
        assert node["op"] == "add"
        c = node["params"]["c"]
        assert -1.0 <= c <= 1.0
        assert round(c, 3) == c
        if layer == 0:
            assert node["inputs"] == ["U000/spot" if col < 4 else "U000/rate"]
            continue
        cols = [int(k.split("/")[-1]) for k in node["inputs"]]
        assert all(k.startswith(f"U000/n/{layer - 1}/") for k in node["inputs"])
        assert cols == sorted(set(cols))
        assert 1 <= len(cols) <= 3
        assert all(j in group for j in cols)
        counts.add(len(cols))
    assert counts == {1, 2, 3}


def test_overhead_is_deterministic_from_params_and_seed() -> None:
    a = overhead_spec(**SMALL, seed=3)
    assert json.dumps(a) == json.dumps(overhead_spec(**SMALL, seed=3))
    assert a["nodes"] != overhead_spec(**SMALL, seed=4)["nodes"]
    # a bigger graph starts with the smaller one (one RNG, drawn in underlying order)
    one = overhead_spec(**{**SMALL, "underlyings": 1}, seed=3)
    assert all(a["nodes"][k] == v for k, v in one["nodes"].items() if k != "total")


def test_overhead_evaluates() -> None:
    values = evaluate(spec_to_graph(overhead_spec(underlyings=2, width=3, depth=2, spot_cols=2)))
    assert values["total"] == values["U000/agg"] + values["U001/agg"]


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"spot_cols": 41}, r"workload 'overhead': param 'spot_cols' must be an int in \[1, 40\]"),
        ({"width": 0}, r"param 'width' must be an int >= 1, got 0"),
        ({"depth": True}, r"param 'depth' must be an int >= 1, got True"),
        ({"seed": -1}, r"param 'seed' must be an int >= 0, got -1"),
    ],
)
def test_overhead_rejects_bad_params(params: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        overhead_spec(**params)


# -- fanout -----------------------------------------------------------------------------------
def test_fanout_shape_and_values() -> None:
    spec = fanout_spec(underlyings=3, length=4, spin_n=7, seed=2)
    graph = spec_to_graph(spec)
    assert len(graph.node_keys) == 3 * 4 + 1
    assert graph.spec("U001/spin/0").inputs == ("U001/src",)
    assert graph.spec("U001/spin/3").inputs == ("U001/spin/2",)
    assert graph.spec("total").inputs == ("U000/spin/3", "U001/spin/3", "U002/spin/3")
    assert all(spec["nodes"][k]["params"] == {"n": 7} for k in graph.node_keys if k != "total")
    srcs = [spec["sources"][f"U00{i}/src"] for i in range(3)]
    assert evaluate(graph)["total"] == srcs[0] + srcs[1] + srcs[2]
    assert spec["meta"]["spin_n"] == 7
    assert spec["meta"]["spin_calibrated"] is False


def test_fanout_default_size() -> None:
    graph = spec_to_graph(fanout_spec(spin_n=1))
    assert len(graph.node_keys) == 20 * 50 + 1
    assert len(graph.descendants("U007/src")) == 50 + 1
    assert graph.depth() == 51


def test_fanout_is_deterministic_from_params_and_seed() -> None:
    assert fanout_spec(spin_n=5, seed=1) == fanout_spec(spin_n=5, seed=1)
    assert fanout_spec(spin_n=5, seed=1)["sources"] != fanout_spec(spin_n=5, seed=2)["sources"]


def test_fanout_calibrates_when_spin_n_is_auto() -> None:
    spec = export_workload(
        "fanout", {"underlyings": "1", "length": "2", "spin_n": "auto", "target_s": "0.0001"}
    )
    n = spec["meta"]["spin_n"]
    assert isinstance(n, int)
    assert n > 0
    assert spec["meta"]["spin_calibrated"] is True
    assert spec["meta"]["target_s"] == 0.0001
    assert spec["nodes"]["U000/spin/1"]["params"] == {"n": n}


def test_calibrate_spin_validates() -> None:
    assert calibrate_spin(0.00005, repeats=1) >= 1
    with pytest.raises(ConfigError, match=r"target_s must be a positive number, got 0"):
        calibrate_spin(0)
    with pytest.raises(ConfigError, match=r"repeats must be an int >= 1, got 0"):
        calibrate_spin(0.001, repeats=0)


# -- registry and export ------------------------------------------------------------------
def test_registry_describes_each_workload() -> None:
    assert set(WORKLOADS) == {"overhead", "fanout", "options"}
    for name, workload in WORKLOADS.items():
        assert workload.name == name
        assert workload.description
        assert "\n" not in workload.description
        signature = inspect.signature(workload.build)
        assert list(signature.parameters) == [p.name for p in workload.params]
        for param in workload.params:
            assert signature.parameters[param.name].default == param.default, param.name


def test_export_parses_cli_strings() -> None:
    spec = export_workload(
        "overhead", {"underlyings": "1", "width": "5", "depth": "2", "seed": "9"}
    )
    assert spec["meta"]["params"] == {
        "underlyings": 1,
        "width": 5,
        "depth": 2,
        "spot_cols": 3,  # auto: 55 % of the width
        "seed": 9,
    }
    assert spec == overhead_spec(underlyings=1, width=5, depth=2, spot_cols=3, seed=9)
    typed = export_workload("fanout", {"underlyings": 2, "length": "3", "spin_n": "4"})
    assert typed == fanout_spec(underlyings=2, length=3, spin_n=4)


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("nope", {}, r"^unknown workload 'nope'; workloads: overhead, fanout, options$"),
        (
            "overhead",
            {"widht": "3"},
            r"^workload 'overhead': unknown param 'widht'; valid params: underlyings, width, "
            r"depth, spot_cols, seed$",
        ),
        (
            "overhead",
            {"width": "x"},
            r"^workload 'overhead': param 'width' \(columns per layer\) "
            r"cannot be 'x'$",
        ),
        (
            "fanout",
            {"spin_n": "many"},
            r"param 'spin_n' \(spin iterations; None or 'auto': calibrated\) cannot be",
        ),
        ("fanout", {"spin_n": "-1"}, r"param 'spin_n' must be an int >= 0, got -1"),
    ],
)
def test_export_errors(name: str, params: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        export_workload(name, params)


def test_export_round_trips_through_files(tmp_path: Path) -> None:
    spec = export_workload("overhead", {"underlyings": "2", "width": "5", "depth": "3"})
    for name in ("w.json", "w.yaml"):
        dump_spec(spec, tmp_path / name)
        assert load_spec(tmp_path / name) == spec
        graph = load_graph(tmp_path / name)
        assert evaluate(graph) == evaluate(spec_to_graph(spec))
    assert spec["meta"]["workload"] == "overhead"
    assert set(spec["meta"]) >= {"workload", "params", "seed", "fluvius_version"}


# -- ticks ----------------------------------------------------------------------------------
def test_tick_stream_is_a_deterministic_walk_of_price_sources() -> None:
    spec = overhead_spec(**SMALL)
    ticks = list(tick_stream(spec, 50, seed=1))
    assert ticks == list(tick_stream(spec, 50, seed=1))
    assert ticks != list(tick_stream(spec, 50, seed=2))
    assert all(len(t) == 1 for t in ticks)
    assert {k for t in ticks for k in t} == {"U000/spot", "U001/spot"}
    assert all(90.0 < v < 110.0 for t in ticks for v in t.values())
    two = list(tick_stream(spec, 5, seed=1, sources_per_tick=2))
    assert all(list(t) == ["U000/spot", "U001/spot"] for t in two)


def test_tick_stream_for_fanout_and_errors() -> None:
    spec = fanout_spec(underlyings=3, length=1, spin_n=0)
    assert {k for t in tick_stream(spec, 30, seed=0) for k in t} == {
        "U000/src",
        "U001/src",
        "U002/src",
    }
    with pytest.raises(ConfigError, match=r"param 'sources_per_tick' must be an int in \[1, 3\]"):
        next(tick_stream(spec, 1, sources_per_tick=4))
    with pytest.raises(ConfigError, match="no numeric source"):
        next(tick_stream({"sources": {"a": "x"}, "nodes": {}}, 1))


# -- options --------------------------------------------------------------------------------
def test_options_default_shape() -> None:
    spec = options_spec()
    # per underlying: 2 statistics, 4 x 25 x 2 options x (iv + 3 greeks), 4 smiles, 3 sums
    assert len(spec["nodes"]) == 50 * (2 + 4 * 25 * 2 * 4 + 4 + 3) + 3
    assert len(spec["sources"]) == 50 * (2 + 25 + 4 + 4 * 25 * 2)
    assert spec["meta"]["params"] == {
        "underlyings": 50,
        "expiries": 4,
        "strikes": 25,
        "window": 20,
        "history_days": 0,
        "load_ms": 30.0,
        "calib_grid": 115,
        "seed": 0,
    }


def test_options_spot_tick_reaches_every_option_of_its_underlying() -> None:
    graph = spec_to_graph(options_spec(underlyings=3, expiries=2, strikes=5))
    reached = set(graph.descendants("U001/spot"))
    options = [k for k in graph.node_keys if k.split("/")[1:2] == ["U001"]]
    assert len(options) == 2 * 5 * 2 * 4 + 2  # options' nodes and the smiles
    assert set(options) <= reached
    assert not any("U000" in k or "U002" in k for k in reached)
    assert {"risk/delta", "risk/gamma", "risk/vega", "U001/spot/std"} <= reached


@pytest.mark.slow
def test_options_ivs_reprice_the_mids_and_sums_add_up() -> None:
    from fluvius import SerialScheduler, run_graph
    from fluvius.nodes.options import bs_price

    spec = options_spec(underlyings=2, expiries=2, strikes=7, seed=3)
    values = run_graph(spec_to_graph(spec), (), SerialScheduler()).values
    sources = spec["sources"]
    for key, node in spec["nodes"].items():
        if node["op"] != "implied_vol":
            continue
        mid, spot, strike, years, rate = (sources[k] for k in node["inputs"])
        price = bs_price(spot, strike, years, rate, values[key], node["params"]["kind"])
        assert price == pytest.approx(mid, abs=1e-8), key
    for greek in ("delta", "gamma", "vega"):
        per_option = [v for k, v in values.items() if k.startswith(f"{greek}/")]
        assert values[f"risk/{greek}"] == pytest.approx(sum(per_option), rel=1e-12)
        assert values[f"risk/{greek}"] == values[f"U000/{greek}"] + values[f"U001/{greek}"]


def test_options_is_deterministic_and_validates() -> None:
    assert options_spec(underlyings=2, seed=5) == options_spec(underlyings=2, seed=5)
    assert options_spec(underlyings=2, seed=5) != options_spec(underlyings=2, seed=6)
    with pytest.raises(ConfigError, match="strikes"):
        options_spec(strikes=2)


# -- options, heavy preset -----------------------------------------------------------------
HEAVY_SMALL = {"underlyings": "2", "expiries": "2", "strikes": "5", "history_days": "30"}


def test_heavy_preset_adds_loads_and_calibrations_to_the_light_graph() -> None:
    light = export_workload("options", {"underlyings": "3"})
    heavy = export_workload("options", {"underlyings": "3"}, preset="heavy")
    assert (
        export_workload("options", {"underlyings": "3"}, preset="light")["nodes"]
        == (light["nodes"])
    )
    assert heavy["meta"]["preset"] == "heavy"
    assert heavy["meta"]["params"]["history_days"] == 750
    added = set(heavy["nodes"]) - set(light["nodes"])
    # per underlying: one history load, and per expiry a calibration and a premium
    assert len(added) == 3 * (1 + 4 * 2)
    assert {k: v for k, v in heavy["nodes"].items() if k in light["nodes"]} == light["nodes"]
    assert set(heavy["sources"]) - set(light["sources"]) == {
        f"U00{i}/history/days" for i in range(3)
    }
    load = heavy["nodes"]["U001/history"]
    assert load["op"] == "fluvius.workloads.script:load_history"
    assert load["inputs"] == ["U001/history/days"]
    assert load["params"]["load_ms"] == 30.0
    calib = heavy["nodes"]["calib/U001/2"]
    assert calib == {
        "op": "fluvius.workloads.script:calibrate_expiry",
        "inputs": ["U001/history", "U001/years/2"],
        "params": {"grid": 115},
    }
    assert heavy["nodes"]["premium/U001/2"] == {
        "op": "sub",
        "inputs": ["smile/U001/2", "calib/U001/2"],
    }


def test_heavy_spot_tick_skips_loads_and_calibrations() -> None:
    graph = spec_to_graph(export_workload("options", HEAVY_SMALL, preset="heavy"))
    reached = set(graph.descendants("U001/spot"))
    assert {"premium/U001/0", "premium/U001/1"} <= reached
    assert not any(k.startswith("calib/") or k.endswith("/history") for k in reached)
    assert set(graph.descendants("U001/history/days")) == {
        "U001/history",
        "calib/U001/0",
        "calib/U001/1",
        "premium/U001/0",
        "premium/U001/1",
    }


@pytest.mark.slow
def test_heavy_runs_serially_with_async_loads(tmp_path: Path) -> None:
    from fluvius import SerialScheduler, run_graph

    spec = export_workload("options", {**HEAVY_SMALL, "load_ms": "1"}, preset="heavy")
    dump_spec(spec, tmp_path / "heavy.json")
    values = run_graph(load_graph(tmp_path / "heavy.json"), (), SerialScheduler()).values
    for i in range(2):
        assert len(values[f"U00{i}/history"]) == 30
        for e in range(2):
            calib = values[f"calib/U00{i}/{e}"]
            assert 0.0 < calib < 2.0
            assert values[f"premium/U00{i}/{e}"] == values[f"smile/U00{i}/{e}"] - calib


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"history_days": "1"}, r"param 'history_days' must be an int >= 2, got 1"),
        ({"load_ms": "-1"}, r"param 'load_ms' must be >= 0, got -1.0"),
        ({"calib_grid": "-2"}, r"param 'calib_grid' must be an int >= 0, got -2"),
    ],
)
def test_heavy_params_are_checked(params: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        export_workload("options", params, preset="heavy")


def test_unknown_preset_names_the_presets() -> None:
    with pytest.raises(ConfigError, match=r"unknown preset 'huge'; presets: light, heavy$"):
        export_workload("options", preset="huge")
    with pytest.raises(ConfigError, match=r"'overhead': unknown preset 'heavy'; presets: none$"):
        export_workload("overhead", preset="heavy")


def test_calibration_without_history_is_left_out() -> None:
    spec = export_workload("options", {**HEAVY_SMALL, "calib_grid": "0"}, preset="heavy")
    assert "U000/history" in spec["nodes"]
    assert not any(k.startswith(("calib/", "premium/")) for k in spec["nodes"])
