"""Config specs: collecting, merging and validating instances; errors name file, line, field."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fluvius.config import ConfigValidationError, load_config_spec, resolve_instances
from fluvius.errors import ConfigError

Case = Callable[[dict[str, str]], Path]

CSV = "underlying,expiry,right,strike,position\nAAPL,2026-12-18,C,150,1\nAAPL,2026-12-18,P,150,2\n"


def _spec(instances: str, collect: str = "") -> str:
    return (f"collect:\n{collect}" if collect else "") + "instances:\n" + instances


def _problems(environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigValidationError) as info:
        resolve_instances(
            load_config_spec(Path("c.yaml"), env_components=""), environ=environ or {}
        )
    return info.value.problems


def test_bad_csv_cell_names_file_line_column_and_field(case: Case) -> None:
    case(
        {
            "u.csv": CSV + "MSFT,2027-01-15,C,-5,1\n",
            "c.yaml": _spec(
                "  d:\n    type: fluvius-deployment\n    values: {valuation_date: 2026-12-01}\n"
                "    inputs:\n      instruments: u\n",
                "  u: {kind: csv, path: u.csv}\n",
            ),
        }
    )
    (problem,) = _problems()
    assert problem.startswith("u.csv:4 (column 'strike'): instance 'd' (fluvius-deployment): ")
    assert "field 'instruments[2].strike': Input should be greater than 0, got '-5'" in problem


def test_bad_yaml_value_names_line_and_field(case: Case) -> None:
    case(
        {
            "c.yaml": _spec(
                "  k:\n    type: dask-cluster\n    values:\n      scheduler_port: 80\n"
                "      memory_limit: 4 gigs\n      workrs: 3\n"
            ),
        }
    )
    problems = _problems()
    assert problems == [
        "c.yaml:5:23: instance 'k' (dask-cluster): field 'scheduler_port': "
        "Input should be greater than or equal to 1024, got 80",
        "c.yaml:6:21: instance 'k' (dask-cluster): field 'memory_limit': "
        "String should match pattern '^[0-9]+(\\.[0-9]+)?(B|kB|MB|GB|TB|KiB|MiB|GiB|TiB)$', "
        "got '4 gigs'",
        "c.yaml:7:15: instance 'k' (dask-cluster): field 'workrs': "
        "unknown field (did you mean 'workers'?)",
    ]


def test_missing_required_field_points_at_the_instance(case: Case) -> None:
    case({"c.yaml": _spec("  a:\n    type: aws-terraform\n")})
    (problem,) = _problems()
    assert problem == "c.yaml:3:5: instance 'a' (aws-terraform): field 'ami_id': Field required"


def test_problems_of_every_instance_are_reported_and_dependents_skipped(case: Case) -> None:
    case(
        {
            "c.yaml": _spec(
                "  k:\n    type: dask-cluster\n    values: {scheduler_port: 1}\n"
                "  a:\n    type: aws-terraform\n    inputs:\n"
                "      scheduler_port: {instance: k, field: scheduler_port}\n"
                "  b:\n    type: aws-terraform\n    values: {ami_id: nope}\n"
            ),
        }
    )
    problems = _problems()
    assert [p.split(":")[0:2] for p in problems] == [["c.yaml", "4"], ["c.yaml", "11"]]
    assert "instance 'b'" in problems[1]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("instances: {}\n", r"c\.yaml:1:\d+: 'instances' must be a non-empty mapping"),
        ("instance: {a: 1}\n", r"c\.yaml:1:1: unknown top-level key 'instance' \(did you mean "),
        (
            "instances:\n  a: {type: nope}\n",
            r"c\.yaml:2:\d+: unknown component type 'nope'; known:",
        ),
        ("instances:\n  a: {type: dask-cluster, valus: {}}\n", r"unknown instance key 'valus'"),
        (
            "instances:\n  a:\n    type: dask-cluster\n    inputs: {workers: nope}\n",
            r"c\.yaml:4:23: no collector named 'nope' under 'collect'",
        ),
        (
            "instances:\n  a:\n    type: dask-cluster\n    inputs: {workers: {kind: sql}}\n",
            r"c\.yaml:4:\d+: unknown collector kind 'sql'; known: csv, env, graph-partition",
        ),
        (
            "instances:\n  a:\n    type: dask-cluster\n"
            "    inputs: {workers: {kind: csv, pth: x}}\n",
            r"collector 'csv': unknown argument 'pth' \(did you mean 'path'\?\)",
        ),
        (
            "instances:\n  a:\n    type: dask-cluster\n"
            "    inputs: {workers: {kind: csv, path: x.csv}}\n",
            r"c\.yaml:4:\d+: collector 'csv': file not found: x\.csv",
        ),
        (
            "instances:\n  a:\n    type: dask-cluster\n    values: {workers: 2}\n"
            "    inputs: {workers: {instance: b}}\n",
            r"field 'workers' is given both in 'values' and in 'inputs'",
        ),
        (
            "instances:\n  a:\n    type: dask-cluster\n    inputs: {workers: {instance: b}}\n",
            r"instance 'b' is not defined before this one",
        ),
    ],
)
def test_spec_errors(case: Case, spec: str, message: str) -> None:
    case({"c.yaml": spec})
    with pytest.raises(ConfigError, match=message):
        resolve_instances(load_config_spec(Path("c.yaml"), env_components=""), environ={})


def test_yaml_collector_with_key_keeps_lines(case: Case) -> None:
    case(
        {
            "s.yaml": "meta: 1\nspots:\n  AAPL: 190.5\n  MSFT: lots\n",
            "c.yaml": _spec(
                "  d:\n    type: fluvius-deployment\n    values: {valuation_date: 2026-12-01}\n"
                "    inputs:\n"
                "      instruments: {kind: csv, path: u.csv}\n"
                "      spots: {kind: yaml, path: s.yaml, key: spots}\n"
            ),
            "u.csv": CSV,
        }
    )
    (problem,) = _problems()
    assert problem.startswith("s.yaml:4:9: instance 'd' (fluvius-deployment): field 'spots.MSFT'")


def test_env_collector(case: Case) -> None:
    case(
        {
            "c.yaml": _spec(
                "  k:\n    type: dask-cluster\n    inputs:\n"
                "      resources: {kind: env, prefix: RES_, defaults: {gpu: 0}}\n"
            ),
        }
    )
    spec = load_config_spec(Path("c.yaml"), env_components="")
    (inst,) = resolve_instances(spec, environ={"RES_MEM": "8e9", "OTHER": "1"})
    assert inst.values["resources"] == {"mem": 8e9, "gpu": 0.0}
    problems = _problems({"RES_MEM": "lots"})
    assert problems[0].startswith("environment variable $RES_MEM: instance 'k'")


def test_env_collector_requires_named_variables(case: Case) -> None:
    case(
        {
            "c.yaml": _spec(
                "  k:\n    type: dask-cluster\n    inputs:\n"
                "      scheduler_host: {kind: env, names: [HOST]}\n"
            ),
        }
    )
    with pytest.raises(ConfigError, match=r"\$HOST is not set and has no default"):
        resolve_instances(load_config_spec(Path("c.yaml"), env_components=""), environ={})


def test_iex_symbols_from_csv_and_capture_guard(case: Case) -> None:
    folder = case(
        {
            "sym.csv": "symbol,round_lot_size\nAAPL,100\nMSFT,100\n",
            "dup.csv": "symbol\nAAPL\nAAPL\n",
            "cap.pcap": "",
            "c.yaml": _spec(
                "  k:\n    type: dask-cluster\n    values: {workers: 1}\n",
                "  s: {kind: iex-symbols, csv: sym.csv}\n",
            ),
        }
    )
    from fluvius.config._marks import Location
    from fluvius.config.collectors.base import CollectContext
    from fluvius.config.collectors.iex import collect_iex_symbols

    ctx = CollectContext(folder, Location("c.yaml", 9))
    got = collect_iex_symbols({"kind": "iex-symbols", "csv": "sym.csv"}, ctx)
    assert [row["symbol"] for row in got.data] == ["AAPL", "MSFT"]
    with pytest.raises(ConfigError, match=r"dup\.csv:3: symbol 'AAPL' listed twice"):
        collect_iex_symbols({"kind": "iex-symbols", "csv": "dup.csv"}, ctx)
    with pytest.raises(ConfigError, match="exactly one of capture, csv"):
        collect_iex_symbols({"kind": "iex-symbols"}, ctx)
    if importlib.util.find_spec("fluvius.feeds") is None:
        with pytest.raises(ConfigError, match=r"c\.yaml:9: .*needs the IEX feed handler"):
            collect_iex_symbols({"kind": "iex-symbols", "capture": "cap.pcap"}, ctx)


def test_iex_symbols_from_a_capture(case: Case) -> None:
    """Runs where the IEX feed handler exists: a synthetic TOPS capture's symbols."""
    synthetic = pytest.importorskip("fluvius.feeds.iex.synthetic")
    from fluvius.config._marks import Location
    from fluvius.config.collectors.base import CollectContext
    from fluvius.config.collectors.iex import collect_iex_symbols

    folder = case({})
    capture = synthetic.synthetic_tops(3000, n_symbols=30, seed=1)
    capture.write(folder / "day.pcap")
    ctx = CollectContext(folder, Location("c.yaml", 2))
    rows = collect_iex_symbols({"kind": "iex-symbols", "capture": "day.pcap"}, ctx).data
    assert [r["symbol"] for r in rows] == sorted(set(capture.symbols))
    assert any("round_lot_size" in r for r in rows)  # from the security directory


def test_partition_plan_covers_every_node(case: Case) -> None:
    graph = "sources: {x: 1.0}\nnodes:\n" + "".join(
        f"  n{i}: {{op: neg, inputs: [x]}}\n" for i in range(7)
    )
    case(
        {
            "g.yaml": graph,
            "c.yaml": _spec(
                "  k:\n    type: dask-cluster\n    inputs:\n      partition: p\n",
                "  p: {kind: graph-partition, spec: g.yaml, workers: 3}\n",
            ),
        }
    )
    (inst,) = resolve_instances(load_config_spec(Path("c.yaml"), env_components=""), environ={})
    plan = inst.values["partition"]
    assert plan["nodes"] == 7
    assert sum(w["nodes"] for w in plan["per_worker"]) == 7
    assert sum(w["sources"] for w in plan["per_worker"]) == 1
    assert [w["worker"] for w in plan["per_worker"]] == [0, 1, 2]


def test_partition_plan_takes_the_best_predicted_partitioner(
    case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Default: the partitioner with the fastest predicted start-up, from the documented
    machine figures (a stored calibration of this machine changes nothing); a named one
    is used as given, with its own prediction."""
    from fluvius.partition import Calibration

    chains = "".join(  # two independent chains of spin nodes: round_robin cuts every link
        f"  {c}{i}: {{op: spin, inputs: [{f'{c}{i - 1}' if i else 'src'}], params: {{n: 2000}}}}\n"
        for c in "ab"
        for i in range(20)
    )
    case(
        {
            "g.yaml": f"sources: {{src: 1.0}}\nnodes:\n{chains}",
            "c.yaml": _spec(
                "  k:\n    type: dask-cluster\n    inputs:\n      partition: p\n"
                "  r:\n    type: dask-cluster\n    inputs:\n      partition: q\n",
                "  p: {kind: graph-partition, spec: g.yaml, workers: 2}\n"
                "  q: {kind: graph-partition, spec: g.yaml, workers: 2,\n"
                "      partitioner: round_robin}\n",
            ),
        }
    )

    def plans() -> tuple[dict[str, Any], dict[str, Any]]:
        spec = load_config_spec(Path("c.yaml"), env_components="")
        k, r = resolve_instances(spec, environ={})
        return k.values["partition"], r.values["partition"]

    best, named = plans()
    predicted = best["predicted_startup_s"]
    assert set(predicted) >= {"round_robin", "components", "critical_path"}
    assert best["partitioner"] == min(predicted, key=lambda name: predicted[name])
    assert predicted[best["partitioner"]] < predicted["round_robin"]
    assert best["cross_edges"] < named["cross_edges"]
    assert named["partitioner"] == "round_robin"
    assert named["predicted_startup_s"]["round_robin"] == predicted["round_robin"]
    slow = Calibration(latency_s=0.5, spawn_s=9.0)  # a very different machine's figures
    slow.save(Path("calibration.json"))
    monkeypatch.setenv("FLUVIUS_CALIBRATION", str(Path("calibration.json").resolve()))
    assert plans() == (best, named)


def test_partition_unknown_partitioner(case: Case) -> None:
    case(
        {
            "g.yaml": "sources: {x: 1.0}\nnodes: {y: {op: neg, inputs: [x]}}\n",
            "c.yaml": _spec(
                "  k:\n    type: dask-cluster\n    inputs:\n"
                "      partition:\n"
                "        {kind: graph-partition, spec: g.yaml, workers: 2, partitioner: nope}\n"
            ),
        }
    )
    with pytest.raises(ConfigError, match=r"c\.yaml:6:9: collector 'graph-partition': .*'nope'"):
        resolve_instances(load_config_spec(Path("c.yaml"), env_components=""), environ={})


def test_declared_checks_report_at_the_field(case: Case) -> None:
    case(
        {
            "u.csv": CSV + "AAPL,2026-12-18,P,150,5\n",
            "c.yaml": _spec(
                "  d:\n    type: fluvius-deployment\n    values: {valuation_date: 2026-12-18}\n"
                "    inputs:\n"
                "      instruments: {kind: csv, path: u.csv}\n"
                "  a:\n    type: aws-terraform\n    values:\n"
                "      ami_id: ami-0123456789abcdef0\n      partition: {nodes: 5}\n"
                "      availability_zones: [us-east-1a, eu-west-1a]\n"
            ),
        }
    )
    assert _problems() == [
        "u.csv:1: instance 'd' (fluvius-deployment): field 'instruments': 3 instrument(s) "
        "expire on or before valuation_date 2026-12-18, the first: AAPL 2026-12-18 C 150.0",
        "u.csv:1: instance 'd' (fluvius-deployment): field 'instruments': 1 instrument(s) "
        "listed twice (underlying expiry right strike), the first: AAPL 2026-12-18 P 150.0",
        "c.yaml:11:18: instance 'a' (aws-terraform): field 'partition': "
        "a partition plan needs 'workers', a number of partitions >= 1",
        "c.yaml:12:27: instance 'a' (aws-terraform): field 'availability_zones': "
        "every zone must be in region us-east-1",
    ]
