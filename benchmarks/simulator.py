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
   relative error ``(predicted - measured) / measured`` against the minimum and the median
   of the measured runs; and again with the cores two processes really got (measured
   between runs by :func:`measure_parallelism`: on a shared machine, other work takes
   cores), the *loaded* prediction. Costs for the prediction are each node's minimum over the
   profiles, which are interleaved with the runs; on a loaded machine the minimum is the
   figure closest to what the model assumes (cores of its own).

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
from fluvius.partition import calibrate, partition_graph
from fluvius.partition.calibrate import measure_parallelism
from fluvius.partition.profile import profile_graph
from fluvius.partition.simulate import simulate
from fluvius.scheduling import SerialScheduler
from fluvius.workloads import fanout_spec, overhead_spec


class StartupHang(RuntimeError):
    """A start-up that did not finish within the benchmark's time limit."""


async def startups(
    graph: Any, scheduler: Any, repeats: int, timeout_s: float = 60.0
) -> list[float]:
    """Start-up seconds of ``repeats`` sessions (each session starts its own workers)."""

    async def once() -> float:
        async with scheduler.session(graph) as session:
            return float((await session.start()).seconds)

    out = []
    for _ in range(repeats):
        try:
            out.append(await asyncio.wait_for(once(), timeout_s))
        except TimeoutError:
            raise StartupHang(f"{scheduler!r}: no start-up after {timeout_s} s") from None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
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
        runs: list[tuple[str, Any, int]] = [("serial", SerialScheduler(), 1)]
        if ProcessScheduler is not None:
            runs += [(f"process {n}", None, n) for n in (1, 2)]
        times: dict[str, list[float]] = {label: [] for label, _, _ in runs}
        profiles = [prof.costs]
        parallelism = []
        for _ in range(args.repeats):  # interleaved, so a change of load hits every figure
            profiles.append(profile_graph(graph, repeats=1, calibration=cal).costs)
            parallelism.append(measure_parallelism(2, 0.05))
            for label, sched, n in runs:
                if sched is None:
                    sched = ProcessScheduler(workers=n, partitioner="auto", costs=prof.costs)
                times[label] += asyncio.run(startups(graph, sched, 1))
        # the mean per node: on a loaded machine a run's wall time includes the time slices
        # other processes take, and so does the mean of each node's timings (a minimum or
        # a median would keep only the undisturbed timings and predict too little)
        costs = tuple(statistics.fmean(c) for c in zip(*profiles, strict=True))
        # the profile ran on whatever share of a core one process got; two workers share
        # what two processes get: relative to the profile, max(1, cores) cores
        cores = statistics.median(parallelism)
        load = os.getloadavg()
        print(f"{name}: two CPU-bound processes got {cores:.2f} cores (median); load {load}")
        for label, _, n in runs:
            serial = label == "serial"
            part = partition_graph(graph, n, "round_robin" if serial else "auto", prof.costs)
            predicted = simulate(
                graph, costs, part, cal, sizes=prof.sizes, serial=serial
            ).makespan_s
            loaded = simulate(
                graph, costs, part, cal, sizes=prof.sizes, serial=serial, cores=max(1.0, cores)
            ).makespan_s
            row: dict[str, Any] = {
                "workload": name,
                "scheduler": label,
                "partitioner": "serial" if serial else part.partitioner,
                "nodes": len(graph),
                "predicted_seconds": predicted,
                "predicted_loaded_seconds": loaded,
                "cores_measured": cores,
            }
            for stat, fn in (("min", min), ("median", statistics.median)):
                measured = fn(times[label])
                row[f"measured_{stat}_seconds"] = measured
                row[f"error_vs_{stat}"] = (predicted - measured) / measured
                row[f"loaded_error_vs_{stat}"] = (loaded - measured) / measured
            rows.append(row)
            print(
                f"  {label:10s} {row['partitioner']:11s} predicted {predicted * 1e3:8.2f} ms"
                f" (loaded {loaded * 1e3:8.2f}); measured min"
                f" {row['measured_min_seconds'] * 1e3:8.2f} ms ({row['error_vs_min']:+6.1%},"
                f" loaded {row['loaded_error_vs_min']:+6.1%}), median"
                f" {row['measured_median_seconds'] * 1e3:8.2f} ms ({row['error_vs_median']:+6.1%},"
                f" loaded {row['loaded_error_vs_median']:+6.1%})"
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
