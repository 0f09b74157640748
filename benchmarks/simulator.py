"""Simulator validation: predicted vs measured start-up at 1 and 2 workers.

For each workload (fanout: chains of ~2 ms ``spin`` nodes; overhead: 40-column layered
sub-DAGs of trivial ``add`` nodes), this program

1. calibrates the machine (``fluvius.partition.calibrate``, through the process
   scheduler, as ``fluvius partition --calibrate`` does) and profiles the graph
   (``profile_graph``, median of 3 serial start-ups per node) for the costs;
2. measures the start-up (median over ``--repeats`` sessions) on the serial scheduler and
   on ``ProcessScheduler(workers=1)`` and ``(workers=2)`` (partitioner ``auto``; process
   start-up is outside the figure: it is the session's reported start-up seconds);
3. predicts each with the simulator, on the partition the scheduler used, and prints the
   relative error ``(predicted - measured) / measured``.

Run: ``python benchmarks/simulator.py --out benchmarks/results/simulator.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
from typing import Any

from _common import write_results
from fluvius.cli.partition import process_startup
from fluvius.graph.spec import spec_to_graph
from fluvius.partition import Partition, calibrate, partition_graph
from fluvius.partition.profile import profile_graph
from fluvius.partition.simulate import simulate
from fluvius.scheduling import SerialScheduler
from fluvius.workloads import fanout_spec, overhead_spec


async def startups(graph: Any, scheduler: Any, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        async with scheduler.session(graph) as session:
            out.append((await session.start()).seconds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    try:
        from fluvius.scheduling import ProcessScheduler  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        ProcessScheduler = None
    cal = calibrate(run_startup=process_startup if ProcessScheduler is not None else None)
    print(f"calibration: {cal}; load {os.getloadavg()}")
    workloads = {
        "fanout 4x25 (2 ms nodes)": fanout_spec(underlyings=4, length=25),
        "overhead 4x(40x50) (add nodes)": overhead_spec(underlyings=4),
    }
    rows = []
    for name, spec in workloads.items():
        graph = spec_to_graph(spec)
        prof = profile_graph(graph, repeats=3, calibration=cal)
        costs, sizes = prof.costs, prof.sizes
        runs: list[tuple[str, Any, Partition]] = [
            ("serial", SerialScheduler(), Partition(1, (0,) * len(graph.items), "serial"))
        ]
        if ProcessScheduler is not None:
            for n in (1, 2):
                part = partition_graph(graph, n, "auto", costs)
                sched = ProcessScheduler(workers=n, partitioner=part.partitioner, costs=costs)
                runs.append((f"process {n}", sched, part))
        times: dict[str, list[float]] = {label: [] for label, _, _ in runs}
        for _ in range(args.repeats):  # interleaved, so a change of load hits every scheduler
            for label, sched, _ in runs:
                times[label] += asyncio.run(startups(graph, sched, 1))
        for label, _, part in runs:
            measured = statistics.median(times[label])
            serial = label == "serial"
            predicted = simulate(graph, costs, part, cal, sizes=sizes, serial=serial).makespan_s
            error = (predicted - measured) / measured
            rows.append(
                {
                    "workload": name,
                    "scheduler": label,
                    "partitioner": part.partitioner,
                    "nodes": len(graph),
                    "measured_seconds": measured,
                    "predicted_seconds": predicted,
                    "error": error,
                }
            )
            print(
                f"{name:32s} {label:10s} {part.partitioner:13s} measured {measured * 1e3:9.2f} ms"
                f"  predicted {predicted * 1e3:9.2f} ms  error {error:+7.1%}"
            )
    write_results(
        args.out,
        {
            "repeats": args.repeats,
            "load_average": os.getloadavg(),
            "calibration": cal.to_dict(),
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
