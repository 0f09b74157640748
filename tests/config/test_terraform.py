"""aws-terraform: the Terraform parses (hcl2), has the promised shape, and passes checkov.

python-hcl2 and checkov's own fork of it, bc-python-hcl2, both install the module
``hcl2`` and cannot share an environment (checkov#2317, #6540); the dev extra installs
checkov, so ``hcl2`` here is that fork (python-hcl2 0.4-era API: attribute values in lists).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

hcl2 = pytest.importorskip("hcl2")

AZS = ["us-east-1a", "us-east-1b", "us-east-1c"]


def _one(value: Any) -> Any:
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def _resources(files: dict[str, str]) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for rel, text in files.items():
        if rel.startswith("aws/") and rel.endswith(".tf"):
            for block in hcl2.loads(text).get("resource", []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        assert (rtype, name) not in found, (rtype, name)
                        found[rtype, name] = {k: _one(v) for k, v in body.items()}
    return found


@pytest.fixture(scope="module")
def resources(golden_files: dict[str, str]) -> dict[tuple[str, str], dict[str, Any]]:
    return _resources(golden_files)


def test_network_spans_every_zone(resources: dict[tuple[str, str], dict[str, Any]]) -> None:
    vpc = ipaddress.ip_network(resources["aws_vpc", "main"]["cidr_block"])
    subnets = []
    for tier in ("public", "private"):
        zones = [resources["aws_subnet", f"{tier}_{i}"]["availability_zone"] for i in range(3)]
        assert zones == AZS
        subnets += [
            ipaddress.ip_network(resources["aws_subnet", f"{tier}_{i}"]["cidr_block"])
            for i in range(3)
        ]
    assert all(s.subnet_of(vpc) for s in subnets)
    assert not any(a.overlaps(b) for i, a in enumerate(subnets) for b in subnets[i + 1 :])
    for i in range(3):  # one NAT per zone, each private route table through its own zone's NAT
        assert (
            resources["aws_nat_gateway", f"nat_{i}"]["subnet_id"]
            == f"${{aws_subnet.public_{i}.id}}"
        )
        route = _one(resources["aws_route_table", f"private_{i}"]["route"])
        assert route["nat_gateway_id"] == [f"${{aws_nat_gateway.nat_{i}.id}}"]
    for tier in ("public", "private"):
        acl = resources["aws_network_acl", tier]
        assert acl["subnet_ids"] == [f"${{aws_subnet.{tier}_{i}.id}}" for i in range(3)]


def test_no_security_group_ingress_from_anywhere(
    resources: dict[tuple[str, str], dict[str, Any]],
) -> None:
    for (rtype, name), body in resources.items():
        if rtype == "aws_security_group":
            for rule in body.get("ingress", []):
                assert "0.0.0.0/0" not in _one(rule.get("cidr_blocks", [[]])), name
                assert _one(rule["description"]), name


def _worker_command(template: dict[str, Any]) -> list[str]:
    """The `dask worker` command line a worker launch template's user data runs."""
    user_data = _one(template["user_data"])
    found = re.search(r"exec (dask worker [^\n]*?)\"?\)\}?$", user_data, re.M)
    assert found, user_data
    return shlex.split(found.group(1))


def test_workers_are_fixed_pinned_and_never_scaled_in(
    resources: dict[tuple[str, str], dict[str, Any]], golden_files: dict[str, str]
) -> None:
    from distributed.cli import dask_worker

    cluster = yaml.safe_load(golden_files["cluster/cluster.yaml"])
    groups = {
        name: body
        for (rtype, name), body in resources.items()
        if rtype == "aws_autoscaling_group" and name.startswith("worker")
    }
    assert sorted(groups) == [f"worker_{i}" for i in range(len(cluster["workers"]))]
    # nothing resizes a worker group: no scaling policy, no scheduled action
    assert not [key for key in resources if key[0].startswith("aws_autoscaling_policy")]
    assert not [key for key in resources if key[0] == "aws_autoscaling_schedule"]
    for i, worker in enumerate(cluster["workers"]):
        group = groups[f"worker_{i}"]
        assert (group["min_size"], group["max_size"], group["desired_capacity"]) == (1, 1, 1)
        assert group["protect_from_scale_in"] is True
        assert "instance_refresh" not in group  # a refresh would replace a worker mid-run
        assert group["health_check_type"] == "EC2"
        assert len(group["vpc_zone_identifier"]) == 3
        launch = _one(group["launch_template"])
        assert _one(launch["id"]) == f"${{aws_launch_template.worker_{i}.id}}"
        command = _worker_command(resources["aws_launch_template", f"worker_{i}"])
        assert command[:2] == ["dask", "worker"]
        mine = dask_worker.main.make_context("dask worker", command[2:]).params
        theirs = dask_worker.main.make_context("dask worker", worker["command"][2:]).params
        for option in ("resources", "nthreads", "memory_limit", "death_timeout"):
            assert mine[option] == theirs[option], option  # the same pins as cluster.yaml
        assert f"fluvius-partition-{i}=1" in mine["resources"].split()
        assert mine["scheduler"] == "tcp://${aws_lb.scheduler.dns_name}:8786"
    scheduler = resources["aws_autoscaling_group", "scheduler"]
    assert scheduler["health_check_type"] == "ELB"  # replaced when the NLB sees it unhealthy
    lb = resources["aws_lb", "scheduler"]
    assert (lb["internal"], lb["load_balancer_type"]) == (True, "network")
    ports = sorted(resources["aws_lb_listener", n]["port"] for n in ("comm", "dashboard"))
    assert ports == [8786, 8787]


def test_workers_without_a_plan(tmp_path: Path) -> None:
    """No partition plan: `workers` fixed groups, pinned to partitions 0 .. workers-1."""
    from fluvius.config import generate_files

    (tmp_path / "c.yaml").write_text(
        "instances:\n  aws:\n    type: aws-terraform\n    values:\n"
        "      ami_id: ami-0123456789abcdef0\n      workers: 2\n      resources: {GPU: 1}\n"
    )
    found = _resources(generate_files(tmp_path / "c.yaml", environ={}))
    for i in range(2):
        command = _worker_command(found["aws_launch_template", f"worker_{i}"])
        resources_text = command[command.index("--resources") + 1]
        assert resources_text == f"fluvius-partition-{i}=1 GPU=1"
    assert ("aws_autoscaling_group", "worker_2") not in found


def _checkov(folder: Path) -> dict[str, Any]:
    exe = Path(sys.executable).parent / "checkov"
    command = [str(exe) if exe.exists() else shutil.which("checkov") or "checkov"]
    command += ["-d", str(folder), "--framework", "terraform", "-o", "json", "--quiet"]
    command += ["--skip-download"]  # offline: no Prisma Cloud guideline download
    env = {**os.environ, "LOG_LEVEL": "ERROR"}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert done.stdout.strip(), done.stderr[-2000:]
    report = json.loads(done.stdout)
    return report[0] if isinstance(report, list) else report


@pytest.fixture(scope="session")
def checkov_reports(
    golden_files: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], dict[str, Any]]:
    """checkov over the generated Terraform, and over a copy with IMDSv1 allowed (control)."""
    pytest.importorskip("checkov")
    good = tmp_path_factory.mktemp("tf-good")
    bad = tmp_path_factory.mktemp("tf-bad")
    for rel, text in golden_files.items():
        if rel.startswith("aws/"):
            (good / Path(rel).name).write_text(text, encoding="utf-8")
            weakened = text.replace(
                'http_tokens                 = "required"',
                'http_tokens                 = "optional"',
            )
            (bad / Path(rel).name).write_text(weakened, encoding="utf-8")
    return _checkov(good), _checkov(bad)


@pytest.mark.slow
def test_checkov_finds_no_failed_check(
    checkov_reports: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    good, _ = checkov_reports
    failed = [(c["check_id"], c["resource"]) for c in good["results"]["failed_checks"]]
    assert failed == []
    assert good["summary"]["parsing_errors"] == 0
    assert good["summary"]["passed"] > 50
    assert good["summary"]["skipped"] == 1  # CKV_AWS_91, justified in scheduler.tf.j2


@pytest.mark.slow
def test_checkov_would_catch_a_weakened_template(
    checkov_reports: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    _, bad = checkov_reports
    failed = {c["check_id"] for c in bad["results"]["failed_checks"]}
    assert "CKV_AWS_79" in failed  # instance metadata service v1 allowed
