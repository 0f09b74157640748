"""Generate and check the configuration of a small options universe with ``fluvius config``.

A CSV inventory of option positions and a config spec become: one fluvius graph spec per
underlying (an options chain: implied vols, greeks, smile), a Dask cluster definition (one
worker per partition of a graph, pinned with its partition's resource, the partitioner
the simulator predicts fastest), and the AWS Terraform for that cluster (one fixed worker
per partition, with the same pins). The example then checks the output folder, shows that
a one-character edit is caught, and runs one generated graph.

``make demo`` can call :func:`config_demo` (it takes the print function to use).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from fluvius.config import check_files, generate_files, write_files
from fluvius.graph.spec import load_graph
from fluvius.scheduling import run_graph

if TYPE_CHECKING:
    from collections.abc import Callable

UNIVERSE = """\
underlying,expiry,right,strike,position,multiplier,mid
AAPL,2026-12-18,C,150,10,100,42.15
AAPL,2026-12-18,P,150,-5,100,1.35
AAPL,2027-03-19,C,180,-2,100,20.53
AAPL,2027-03-19,C,190,0,100,14.6
AAPL,2027-03-19,C,200,4,100,9.8
MSFT,2027-01-15,C,400,2,100,31.5
NVDA,2026-12-18,C,120,-8,100,18.2
"""

SPEC = """\
collect:
  universe: {kind: csv, path: universe.csv}
instances:
  desk:
    type: fluvius-deployment
    inputs: {instruments: universe}
    values:
      valuation_date: 2026-12-07
      rate: 0.045
      spots: {AAPL: 190.25, MSFT: 415.5, NVDA: 135.0}
      scheduler: dask
      workers: 2
      dask_scheduler: tcp://dask-scheduler.internal:8786
  cluster:
    type: dask-cluster
    inputs:
      partition: {kind: graph-partition, spec: out/desk/specs/AAPL.yaml, workers: 2}
  aws:
    type: aws-terraform
    inputs:
      scheduler_port: {instance: cluster, field: scheduler_port}
      partition: {instance: cluster, field: partition}
      resources: {instance: cluster, field: resources}
    values:
      ami_id: ami-0123456789abcdef0
      availability_zones: [us-east-1a, us-east-1b]
"""


def config_demo(say: Callable[[str], None] = print) -> None:
    """Generate, check, tamper, re-check and run; report each step through ``say``."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "universe.csv").write_text(UNIVERSE, encoding="utf-8")
        (root / "config.yaml").write_text(SPEC, encoding="utf-8")
        out = root / "out"
        # The cluster partitions a generated spec: generate the deployment first (a spec
        # may read files an earlier generation wrote), then everything.
        first = SPEC.split("  cluster:")[0]
        (root / "first.yaml").write_text(first, encoding="utf-8")
        write_files(generate_files(root / "first.yaml", environ={}), out)
        files = generate_files(root / "config.yaml", environ={})
        report = write_files(files, out)
        say(
            f"generated {len(files)} files ({len(report.written)} written, "
            f"{len(report.unchanged)} unchanged, {len(report.removed)} stale removed):"
        )
        for rel, text in files.items():
            say(f"  {rel:<28} {len(text.encode()):>6} bytes")
        again = generate_files(root / "config.yaml", environ={})
        say(f"generated again: identical bytes = {again == files}")
        say(f"check: up to date = {check_files(files, out).ok}")
        target = out / "aws" / "workers.tf"
        text = target.read_text(encoding="utf-8")
        target.write_text(
            text.replace("max_size                  = 1", "max_size                  = 2", 1),
            encoding="utf-8",
        )
        check = check_files(files, out)
        changed = [
            ln for ln in check.diff.splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---")
        ]
        say(f"after a one-character edit: up to date = {check.ok}, changed = {check.changed}")
        for line in changed:
            say(f"  {line}")
        graph = load_graph(out / "desk" / "specs" / "AAPL.yaml")
        values = run_graph(graph).values
        say(
            f"desk/specs/AAPL.yaml: {len(graph.node_keys)} nodes; "
            f"exposure/AAPL = {values['exposure/AAPL']:.2f}; "
            f"iv/AAPL/2027-03-19/C/190 = {values['iv/AAPL/2027-03-19/C/190']:.4f}; "
            f"smile/AAPL/2027-03-19 = {values['smile/AAPL/2027-03-19']:.4f}; "
            f"delta/AAPL = {values['delta/AAPL']:.1f} shares"
        )


def main() -> None:
    """Run the demo, printing to stdout."""
    config_demo(print)


if __name__ == "__main__":
    main()
