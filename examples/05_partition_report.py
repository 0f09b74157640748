"""Partition a graph over worker processes and predict how far it scales.

``main()`` prints the partition report of the fanout workload (8 chains of 25 ``spin``
nodes, one total) for 2 workers with estimated costs: per-worker work and traffic, the
lower bound and the simulator's predicted start-up for 1 to 64 workers.

``demo()`` (for ``make demo``) also times the start-up on the serial scheduler and on
``ProcessScheduler(workers=2)`` side by side, with the measured per-worker busy time.

Run: ``python examples/05_partition_report.py`` (``--demo`` for the timed comparison).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from fluvius.graph.spec import spec_to_graph
from fluvius.partition.report import PartitionReport, partition_report
from fluvius.workloads import fanout_spec

if TYPE_CHECKING:
    from fluvius.graph import Graph


def _report(spin_n: int) -> tuple[Graph, PartitionReport]:
    graph = spec_to_graph(fanout_spec(underlyings=8, length=25, spin_n=spin_n))
    return graph, partition_report(graph, 2)


def _print(report: PartitionReport) -> None:
    print(
        f"{report.nodes} nodes on {report.workers} workers, partitioner {report.partitioner}"
        f" ({report.cost_source})"
    )
    for s in report.shares:
        print(
            f"  worker {s.worker}: {s.nodes} nodes, {s.work_s * 1e3:.1f} ms of work, "
            f"sends {s.values_out} values ({s.bytes_out} B)"
        )
    print(
        f"serial {report.serial_s * 1e3:.1f} ms; lower bound {report.lower_bound_s * 1e3:.1f} ms;"
        f" predicted {report.predicted_s * 1e3:.1f} ms"
    )
    row = report.predictions[report.partitioner]
    print(
        "predicted start-up by workers: "
        + ", ".join(f"{n}: {s * 1e3:.1f} ms" for n, s in row.items())
    )


def main() -> None:
    _, report = _report(spin_n=2_000)
    _print(report)


def demo() -> None:
    """The report, then serial and 2-process start-ups of the same graph, timed."""
    from fluvius.scheduling import SerialScheduler, run_graph

    graph, report = _report(spin_n=10_000)
    _print(report)
    serial = run_graph(graph, [], SerialScheduler())
    print(f"serial start-up      {serial.startup.seconds * 1e3:8.1f} ms")
    try:
        from fluvius.scheduling import ProcessScheduler  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        print("ProcessScheduler: not in this version")
        return
    run = run_graph(graph, [], ProcessScheduler(workers=2, partitioner=report.partitioner))
    seconds = run.startup.seconds
    print(
        f"2-process start-up   {seconds * 1e3:8.1f} ms  (x{serial.startup.seconds / seconds:.2f};"
        f" efficiency bound/measured {report.lower_bound_s / seconds:.2f})"
    )
    for w in run.stats.get("workers", []):
        print(f"  {w.get('worker')}: busy {w.get('busy_seconds', 0.0) * 1e3:.1f} ms")
    assert run.values == serial.values


if __name__ == "__main__":
    demo() if "--demo" in sys.argv else main()
