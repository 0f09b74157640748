"""The simulator's network model against measured start-ups at 1 and 2 workers, then the
same graphs predicted over hosts (issue 12, item 5 "Scale on paper").

1. Calibrates this machine through the process scheduler, as ``fluvius partition
   --calibrate`` does (per-node figures, the pipe latency fitted through the scheduler, the
   raw pipe and a ``distributed.comm`` TCP ping-pong on 127.0.0.1), unless
   ``--calibration FILE``.
2. Per graph (the ``options`` workload's light and heavy presets by default), profiles 3
   serial start-ups for the node costs, then measures ``start()`` (median of
   ``--repeats``) serially and on the process scheduler with 1 and 2 workers on a running
   pool, and, when this fluvius has the Dask scheduler, on a ``LocalCluster`` of 1 and 2
   Dask workers on a running pool; and predicts each: network ``local`` (pipes) for the
   process scheduler, ``loopback`` (TCP on one host) for Dask, on the partition the
   scheduler makes.
3. Prints the report's verdict rows (start-up, single-source and market-wide ticks) for
   2-64 workers over ``--network`` (default ``10gbit:50us``, one worker per host).

The machine is shared: the load average and the cores two busy processes get
(``measure_parallelism``) are printed before and after.

Run: ``python benchmarks/network_model.py --out benchmarks/results/network_model.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
from typing import TYPE_CHECKING, Any

import fluvius.scheduling
from _common import write_results
from fluvius.cli.partition import process_startup, process_tick
from fluvius.graph.spec import spec_to_graph
from fluvius.partition import Calibration, Partition, calibrate, partition_graph
from fluvius.partition.calibrate import measure_parallelism
from fluvius.partition.profile import profile_graph
from fluvius.partition.report import partition_report
from fluvius.partition.simulate import simulate
from fluvius.scheduling import ProcessScheduler, SerialScheduler, WorkerPool
from fluvius.workloads import export_workload

if TYPE_CHECKING:
    from fluvius.graph.dag import Graph


async def _start(scheduler: Any, graph: Graph) -> float:
    async with scheduler.session(graph) as session:
        await session.start()
        return float(session.startup_seconds)


def measure(graph: Graph, make: Any, repeats: int) -> float:
    """Median ``start()`` seconds over ``repeats`` sessions (one unmeasured first)."""
    asyncio.run(_start(make(), graph))
    return statistics.median(asyncio.run(_start(make(), graph)) for _ in range(repeats))


def runners(workers: int, pools: dict[str, Any]) -> dict[str, Any]:
    """``{label: (network, make scheduler)}`` for ``workers`` workers on running pools."""
    out: dict[str, Any] = {
        f"process{workers}": ("local", lambda: ProcessScheduler(workers, pool=pools["process"]))
    }
    if "dask" in pools:
        dask = fluvius.scheduling.DaskScheduler  # type: ignore[attr-defined]
        out[f"dask{workers}"] = ("loopback", lambda: dask(workers, pool=pools["dask"]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--presets", default="light,heavy", help="options presets, commas")
    parser.add_argument("--network", default="10gbit:50us", help="the network to predict on")
    parser.add_argument("--calibration", default="", help="calibration JSON (default: measure)")
    parser.add_argument("--out", default="", help="write the figures as JSON here")
    args = parser.parse_args()
    doc: dict[str, Any] = {"repeats": args.repeats, "network": args.network}
    doc["load_before"] = os.getloadavg()
    doc["cores_before"] = measure_parallelism(2, 0.2)
    print(f"load average {doc['load_before']}; cores for 2 processes {doc['cores_before']:.2f}")
    if args.calibration:
        cal = Calibration.load(args.calibration)
    else:
        cal = calibrate(run_startup=process_startup, run_tick=process_tick)
    doc["calibration"] = cal.to_dict()
    print(f"calibration: {cal}")
    has_dask = hasattr(fluvius.scheduling, "DaskScheduler")
    doc["graphs"] = {}
    for preset in args.presets.split(","):
        graph = spec_to_graph(export_workload("options", preset=preset), origin=preset)
        profile = profile_graph(graph, repeats=3, calibration=cal)
        sim = {"sizes": profile.sizes, "waits": profile.waits}
        one = Partition(1, (0,) * len(graph.items), "single")
        rows: dict[str, dict[str, float]] = {}
        serial = measure(graph, SerialScheduler, args.repeats)
        predicted = simulate(
            graph, profile.costs, one, cal, serial=True, collect_s=profile.collect_s, **sim
        ).makespan_s
        rows["serial"] = {"measured_s": serial, "predicted_s": predicted}
        for workers in (1, 2):
            part = one if workers == 1 else partition_graph(graph, 2, "auto")
            pools: dict[str, Any] = {"process": WorkerPool(workers)}
            if has_dask:
                pools["dask"] = fluvius.scheduling.DaskPool(workers)  # type: ignore[attr-defined]
            try:
                for label, (network, make) in runners(workers, pools).items():
                    measured = measure(graph, make, args.repeats)
                    here = network == "local"  # the process scheduler computes its totals
                    predicted = simulate(
                        graph, profile.costs, part, cal, network=network, parent_nodes=here, **sim
                    ).makespan_s
                    rows[label] = {"measured_s": measured, "predicted_s": predicted}
            finally:
                for pool in pools.values():
                    pool.close()
        print(f"\n{preset}: {len(graph):,} nodes; start() in s")
        print("  runner      measured   predicted   error")
        for label, r in rows.items():
            r["error"] = (r["predicted_s"] - r["measured_s"]) / r["measured_s"]
            m, p = r["measured_s"], r["predicted_s"]
            print(f"  {label:10} {m:9.4f}   {p:9.4f}   {r['error']:+6.1%}")
        report = partition_report(graph, 2, "auto", profile, calibration=cal, network=args.network)
        assert report.verdict is not None
        print(f"  predicted on {args.network} (ms):  workers  start-up  one tick  market tick")
        for row in report.verdict.rows:
            print(
                f"    {row.workers:>30}  {row.startup_s * 1e3:8.1f}  {row.tick_s * 1e3:8.3f}  "
                f"{row.market_tick_s * 1e3:10.2f}"
            )
        print(f"  verdict: {report.verdict.reason}")
        over = [dataclasses.asdict(row) for row in report.verdict.rows]
        doc["graphs"][preset] = {"nodes": len(graph), "runs": rows, "over_hosts": over}
    doc["load_after"] = os.getloadavg()
    doc["cores_after"] = measure_parallelism(2, 0.2)
    print(f"load average {doc['load_after']}; cores for 2 processes {doc['cores_after']:.2f}")
    write_results(args.out, doc)


if __name__ == "__main__":
    main()
