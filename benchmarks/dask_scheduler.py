"""Dask scheduler benchmark (issue 12): a LocalCluster of 2 workers against serial, with the
process scheduler's figures from the same run beside them.

Figures (medians over ``--repeats``; serial, process and Dask runs interleaved, so a change
of load hits them alike):

* fanout workload: start-up speed-up over serial, i.e. serial's time to first value
  (session creation + ``start()``) over Dask's, on partitions placed once beforehand on a
  LocalCluster of 2 workers (``DaskPool``; the cluster's start and the placement are
  ``spawn``, reported apart, as for a running process pool).
* overhead workload (40,021 trivial nodes): distribution overhead per node = (Dask's time
  to first value - serial's) / nodes.
* overhead workload: one tick of one source (the sources in turn, the first round not
  counted), median, Dask and process minus serial.
* the cluster's start and the placement of the partitions (``spawn_s``), once.
* the cores two busy processes really get and the load average, before and after.

Run: ``python benchmarks/dask_scheduler.py --out benchmarks/results/dask_scheduler.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from typing import TYPE_CHECKING, Any

from distributed import LocalCluster

from _common import finish_with_targets
from fluvius.graph.spec import spec_to_graph
from fluvius.partition.calibrate import measure_parallelism
from fluvius.scheduling import (
    DaskPool,
    DaskScheduler,
    ProcessScheduler,
    SerialScheduler,
    WorkerPool,
)
from fluvius.workloads import export_workload
from parallel import _first_value, _show, first_values

if TYPE_CHECKING:
    from fluvius.graph.dag import Graph
    from fluvius.scheduling.base import Scheduler

TARGETS = {
    "fanout_speedup": 1.7,  # >= 1.7x serial's speed
    "tick_extra_ms": 2.0,  # <= serial + 2 ms
    "overhead_us_per_node": 5.0,  # <= 5 us per node
}


async def _one_tick(scheduler: Scheduler, graph: Graph, rounds: int) -> float:
    """Median seconds of a cycle that changes one source (each source in turn)."""
    sources = list(graph.source_keys)
    async with scheduler.session(graph) as session:
        await session.start()
        times: list[float] = []
        for i in range(rounds + 1):
            for key in sources:
                t0 = time.perf_counter()
                await session.cycle({key: 1.0 + 0.01 * i})
                if i:  # the first round walks and caches each source's descendants
                    times.append(time.perf_counter() - t0)
        return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=20, help="tick rounds over every source")
    parser.add_argument("--partitioner", default="auto")
    parser.add_argument("--out", default="", help="write the figures as JSON here")
    args = parser.parse_args()
    doc: dict[str, Any] = {"repeats": args.repeats, "partitioner": args.partitioner}
    doc["load_before"] = os.getloadavg()
    doc["cores_before"] = measure_parallelism(2, 0.2)
    print(f"load average {doc['load_before']}; cores for 2 processes {doc['cores_before']:.2f}")
    part = args.partitioner
    over = spec_to_graph(export_workload("overhead"), origin="overhead")
    fan = spec_to_graph(export_workload("fanout"), origin="fanout")
    t0 = time.perf_counter()
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    )
    cluster_s = time.perf_counter() - t0
    try:
        with DaskPool(2, address=cluster.scheduler_address) as dpool, WorkerPool(2) as ppool:
            print(f"LocalCluster of 2 workers: started in {cluster_s:.2f} s; partitions "
                  f"placed in {dpool.spawn_seconds:.3f} s")  # fmt: skip
            doc["cluster_start_s"] = cluster_s
            doc["placement_s"] = dpool.spawn_seconds

            def serial() -> Scheduler:
                return SerialScheduler()

            def dask() -> Scheduler:
                return DaskScheduler(2, part, pool=dpool)

            def process() -> Scheduler:
                return ProcessScheduler(2, part, pool=ppool)

            for g in (over, fan):  # running partitions have imported the node library
                asyncio.run(_first_value(dask(), g))
                asyncio.run(_first_value(process(), g))
            makers = {"serial": serial, "dask2": dask, "process2": process}
            print(f"fanout: {len(fan):,} nodes")
            fno = first_values(makers, fan, args.repeats)
            _show("fanout", fno)
            print(f"overhead: {len(over):,} nodes, {len(over.sources)} sources")
            ovh = first_values(makers, over, args.repeats)
            _show("overhead", ovh)
            ticks: dict[str, list[float]] = {}
            for _ in range(args.repeats):
                for name, make in makers.items():
                    ticks.setdefault(name, []).append(
                        asyncio.run(_one_tick(make(), over, args.rounds))
                    )
            tick = {name: statistics.median(t) * 1e3 for name, t in ticks.items()}
            print("  ticks    one source: " + ", ".join(f"{k} {v:.3f} ms" for k, v in tick.items()))
    finally:
        cluster.close()
    doc.update(fanout=fno, overhead=ovh, tick_ms=tick)
    measured = {
        "fanout_speedup": fno["serial"]["ttfv_s"] / fno["dask2"]["ttfv_s"],
        "fanout_speedup_process": fno["serial"]["ttfv_s"] / fno["process2"]["ttfv_s"],
        "tick_extra_ms": tick["dask2"] - tick["serial"],
        "tick_extra_ms_process": tick["process2"] - tick["serial"],
        "overhead_us_per_node": (ovh["dask2"]["ttfv_s"] - ovh["serial"]["ttfv_s"])
        / len(over)
        * 1e6,
        "overhead_us_per_node_process": (ovh["process2"]["ttfv_s"] - ovh["serial"]["ttfv_s"])
        / len(over)
        * 1e6,
    }
    finish_with_targets(args.out, doc, measured, TARGETS)


if __name__ == "__main__":
    main()
