"""The partition report's verdict on the ``options`` presets, and the simulator against a
measured 2-worker start-up of the heavy preset.

1. Calibrates the machine through the process scheduler (as ``fluvius partition
   --calibrate`` does: per-node and per-message costs from start-ups on a running pool),
   kept in memory (the stored calibration of this machine is left alone).
2. For each preset (``light``, ``heavy``): profiles the graph (``profile_graph``, median
   of ``--profile-repeats`` serial start-ups per node; async waits apart) and prints
   ``partition_report(graph, 2, costs=profile)``: predicted start-up and tick latencies
   for serial, 2, 4 ... 64 workers on this machine's cores, and the verdict.
3. For the heavy preset, measures ``--repeats`` start-ups serially and on
   ``ProcessScheduler(workers=2, costs=profile costs)`` with a running pool (spawning is
   outside every figure): the session's creation (partitioning, pickling) and the wall
   time of its ``start()`` (shipping, loading and computing), each run between two
   measurements of the cores two processes really get (``measure_parallelism``). The
   simulator's prediction for the partition the scheduler used, on this machine's cores
   and on the measured cores, is compared with the median: error = (predicted -
   measured) / measured, for ``start()`` and for creation + ``start()``; and *normalised*:
   the prediction scaled by measured / predicted serial start-up (a loaded machine slows
   every process alike; this is the predicted speed-up against the measured one).

Run: ``python benchmarks/partition_verdict.py --out benchmarks/results/partition_verdict.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from typing import Any

from _common import write_results
from fluvius.cli.partition import process_startup, process_tick
from fluvius.graph.spec import spec_to_graph
from fluvius.partition import calibrate
from fluvius.partition.calibrate import measure_parallelism
from fluvius.partition.profile import profile_graph
from fluvius.partition.report import partition_report
from fluvius.partition.simulate import simulate
from fluvius.scheduling import ProcessScheduler, SerialScheduler, WorkerPool
from fluvius.workloads import export_workload


async def timed_start(scheduler: Any, graph: Any) -> tuple[float, float, Any]:
    """(session creation seconds, wall seconds of start(), the partition or None)."""
    t0 = time.perf_counter()
    session = scheduler.session(graph)
    created = time.perf_counter() - t0
    async with session:
        t0 = time.perf_counter()
        await session.start()
        started = time.perf_counter() - t0
        return created, started, getattr(session, "partition", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="measured start-ups per scheduler")
    parser.add_argument("--profile-repeats", type=int, default=3)
    parser.add_argument("--out", default="", help="write the figures as JSON here")
    args = parser.parse_args()

    t0 = time.perf_counter()
    cal = calibrate(run_startup=process_startup, run_tick=process_tick)
    print(f"calibration ({time.perf_counter() - t0:.1f} s, load {os.getloadavg()}): {cal}")
    doc: dict[str, Any] = {"calibration": cal.to_dict(), "presets": {}}
    for preset in ("light", "heavy"):
        graph = spec_to_graph(export_workload("options", preset=preset), origin=preset)
        profile = profile_graph(graph, repeats=args.profile_repeats, calibration=cal)
        report = partition_report(graph, 2, costs=profile, calibration=cal)
        print(f"\n== options --preset {preset} ==")
        print(report)
        entry: dict[str, Any] = {"report": report.to_dict()}
        doc["presets"][preset] = entry
        if preset != "heavy":
            continue
        serial = [
            asyncio.run(timed_start(SerialScheduler(), graph))[1] for _ in range(args.repeats)
        ]
        created, started, cores = [], [], [measure_parallelism(2, 0.1)]
        partition = None
        with WorkerPool(2) as pool:
            scheduler = ProcessScheduler(2, costs=profile.costs, pool=pool)
            for _ in range(args.repeats):
                c, s, partition = asyncio.run(timed_start(scheduler, graph))
                created.append(c)
                started.append(s)
                cores.append(measure_parallelism(2, 0.1))
        assert partition is not None
        figures = {"sizes": profile.sizes, "waits": profile.waits}
        here = simulate(graph, profile.costs, partition, cal, cores=os.cpu_count(), **figures)
        loaded = simulate(
            graph, profile.costs, partition, cal, cores=statistics.median(cores), **figures
        )
        m_start, m_total = (
            statistics.median(started),
            statistics.median([c + s for c, s in zip(created, started, strict=True)]),
        )
        # a loaded machine slows every process alike: scale the prediction by how much the
        # measured serial start-up exceeds the predicted one (the same as comparing the
        # predicted and measured speed-ups)
        slowdown = statistics.median(serial) / report.serial_s
        normalised = here.makespan_s * slowdown
        result = {
            "serial_startup_s": serial,
            "process2_created_s": created,
            "process2_start_s": started,
            "parallelism": cores,
            "partitioner": partition.partitioner,
            "predicted_s": here.makespan_s,
            "predicted_loaded_s": loaded.makespan_s,
            "error_start": (here.makespan_s - m_start) / m_start,
            "error_start_loaded": (loaded.makespan_s - m_start) / m_start,
            "error_created_and_start": (here.makespan_s - m_total) / m_total,
            "serial_slowdown": slowdown,
            "predicted_normalised_s": normalised,
            "error_start_normalised": (normalised - m_start) / m_start,
            "predicted_speedup": report.serial_s / here.makespan_s,
            "speedup_start": statistics.median(serial) / m_start,
            "speedup_created_and_start": statistics.median(serial) / m_total,
        }
        entry["measured"] = result
        print(
            f"\nheavy, measured: serial start-up {statistics.median(serial):.3f} s (median of "
            f"{args.repeats}: {', '.join(f'{x:.3f}' for x in serial)}); 2 workers "
            f"({partition.partitioner}, running pool): session creation "
            f"{statistics.median(created):.3f} s + start() {m_start:.3f} s "
            f"({', '.join(f'{x:.3f}' for x in started)}); cores really available "
            f"{', '.join(f'{x:.2f}' for x in cores)}"
        )
        print(
            f"predicted start(): {here.makespan_s:.3f} s on {os.cpu_count()} cores "
            f"(error {result['error_start']:+.1%}), {loaded.makespan_s:.3f} s on the measured "
            f"{statistics.median(cores):.2f} cores (error {result['error_start_loaded']:+.1%}); "
            f"against creation + start() {result['error_created_and_start']:+.1%}. Speed-up "
            f"over serial: start() {result['speedup_start']:.2f}x, creation + start() "
            f"{result['speedup_created_and_start']:.2f}x"
        )
        print(
            f"serial measured {slowdown:.2f}x its prediction: scaled alike, 2 workers "
            f"{normalised:.3f} s (error {result['error_start_normalised']:+.1%}); predicted "
            f"speed-up {result['predicted_speedup']:.2f}x vs measured "
            f"{result['speedup_start']:.2f}x"
        )
    doc["load_average"] = os.getloadavg()
    write_results(args.out, doc)


if __name__ == "__main__":
    main()
