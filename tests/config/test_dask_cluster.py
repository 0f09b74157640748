"""dask-cluster: dask.yaml fits distributed's config schema; the command lines parse."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

distributed = pytest.importorskip("distributed")
from distributed.cli import dask_scheduler, dask_worker  # noqa: E402


@pytest.mark.slow
def test_dask_yaml_matches_the_distributed_schema(golden_files: dict[str, str]) -> None:
    config = yaml.safe_load(golden_files["cluster/dask.yaml"])
    schema = yaml.safe_load(
        (Path(distributed.__file__).parent / "distributed-schema.yaml").read_text()
    )
    jsonschema.validate(config, schema)
    defaults = yaml.safe_load((Path(distributed.__file__).parent / "distributed.yaml").read_text())

    def paths(tree: dict[str, object], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
        out = []
        for key, value in tree.items():
            here = (*prefix, key)
            out += paths(value, here) if isinstance(value, dict) else [here]
        return out

    for path in paths(config):  # every key we write is one distributed knows
        node: object = defaults
        for part in path:
            assert isinstance(node, dict), ".".join(path)
            assert part in node, ".".join(path)
            node = node[part]
    assert config["distributed"]["scheduler"]["work-stealing"] is False


def test_cluster_commands_parse_with_the_dask_cli(golden_files: dict[str, str]) -> None:
    cluster = yaml.safe_load(golden_files["cluster/cluster.yaml"])
    command = cluster["scheduler"]["command"]
    assert command[:2] == ["dask", "scheduler"]
    params = dask_scheduler.main.make_context("dask scheduler", command[2:]).params
    assert (params["port"], params["dashboard_address"]) == ("8786", ":8787")
    assert len(cluster["workers"]) == 3  # one per partition of the plan
    for i, worker in enumerate(cluster["workers"]):
        assert worker["command"][:2] == ["dask", "worker"]
        params = dask_worker.main.make_context("dask worker", worker["command"][2:]).params
        assert params["scheduler"] == cluster["scheduler"]["address"]
        assert params["name"] == worker["name"]
        assert params["memory_limit"] == "8GiB"
        parsed = dict(item.split("=") for item in params["resources"].split())
        assert {k: float(v) for k, v in parsed.items()} == {
            k: float(v) for k, v in worker["resources"].items()
        }
        assert worker["resources"][f"fluvius-partition-{i}"] == 1
    assert sum(w["nodes"] for w in cluster["workers"]) == cluster["plan"]["nodes"]
