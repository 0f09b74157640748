"""The partition report's predictions against measured runs, per graph shape, then the
same graphs predicted over hosts (issue 11 item 4 "Honest partitioning", issue 12 item 5
"Scale on paper").

1. Calibrates this machine through the process scheduler, as ``fluvius partition
   --calibrate`` does (per-node figures, the pipe latency fitted through the scheduler, the
   raw pipe and a ``distributed.comm`` TCP ping-pong on 127.0.0.1), unless
   ``--calibration FILE``.
2. Per shape (``--shapes``; default: the ``options`` workload's ``light`` and ``heavy``
   presets at their defaults, the ``overhead`` workload, and ``small``, a 5-underlying
   light options graph as a new user builds first), profiles 3 serial start-ups, as a user
   would (``profile_graph``), measures the cores two busy processes get
   (``measure_parallelism``) and asks :func:`~fluvius.partition.partition_report` for 2
   workers on them. Its verdict rows for the serial scheduler and 2 workers are the predictions
   (the profile's measured ticks, ``Profile.ticks``, the per-node cost of a cycle beyond the
   profile by the cycle's size, are printed with them).
   Then, in the same process, it measures them at the defaults a user runs with:
   ``SerialScheduler()`` and ``ProcessScheduler(2)`` on a running pool: ``start()``
   (median over ``--repeats`` sessions, one unmeasured first), the one-source tick (the
   verdict's ``tick_source``, median of ``--ticks`` per session after one unmeasured) and
   the market-wide tick (every source named like it at once, median of 3 per session).
   It prints predicted and measured side by side, with the error.
3. With ``--more``, for the ``options`` shapes, ``start()`` on the process scheduler with
   1 worker and, when this fluvius has the Dask scheduler, on a ``LocalCluster`` of 1 and
   2 Dask workers (running pools), each against the simulator on the network its
   scheduler uses (``local`` pipes, ``loopback`` TCP).
4. Prints the report's verdict rows (start-up, single-source and market-wide ticks) for
   2-64 workers over ``--network`` (default ``10gbit:50us``, one worker per host).

The machine is shared: the load average and the cores two busy processes get
(``measure_parallelism``) are printed before and after.

All four shapes take about 5 minutes; on the shared machine run them in two parts of under
3 minutes each: ``python benchmarks/network_model.py --shapes light,overhead,small --out
benchmarks/results/network_model.json`` and ``python benchmarks/network_model.py --shapes
heavy --out benchmarks/results/network_model_heavy.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import time
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

SHAPES: dict[str, tuple[str, dict[str, str], str | None]] = {
    "light": ("options", {}, "light"),
    "heavy": ("options", {}, "heavy"),
    "overhead": ("overhead", {}, None),
    "small": ("options", {"underlyings": "5"}, "light"),
}
"""Shape name -> (workload, params, preset)."""


async def _session(
    scheduler: Any, graph: Graph, one: str, market: list[str], ticks: int
) -> dict[str, float]:
    """One session: ``start()``, then the one-source and market-wide ticks (medians)."""
    async with scheduler.session(graph) as session:
        await session.start()
        startup = float(session.startup_seconds)
        base = {k: graph.spec(k).value for k in (one, *market)}
        base = {k: v if isinstance(v, float) else 1.0 for k, v in base.items()}
        value = base[one]
        await session.cycle({one: value * 1.001})  # the first tick of a source walks it
        times = []
        for i in range(ticks):
            t0 = time.perf_counter()
            await session.cycle({one: value * (1.0 + (i % 7 + 2) / 1000)})
            times.append(time.perf_counter() - t0)
        wide = []
        for i in range(4):
            batch = {k: base[k] * (1.0 + (i + 1) / 997) for k in market}
            t0 = time.perf_counter()
            await session.cycle(batch)
            wide.append(time.perf_counter() - t0)
        return {
            "startup_s": startup,
            "tick_s": statistics.median(times),
            "market_tick_s": statistics.median(wide[1:]),
        }


def measure_all(
    graph: Graph, make: Any, one: str, market: list[str], repeats: int, ticks: int
) -> dict[str, float]:
    """Medians over ``repeats`` sessions (one unmeasured first) of :func:`_session`."""
    asyncio.run(_session(make(), graph, one, market, 2))
    runs = [asyncio.run(_session(make(), graph, one, market, ticks)) for _ in range(repeats)]
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


async def _start(scheduler: Any, graph: Graph) -> float:
    async with scheduler.session(graph) as session:
        await session.start()
        return float(session.startup_seconds)


def measure(graph: Graph, make: Any, repeats: int) -> float:
    """Median ``start()`` seconds over ``repeats`` sessions (one unmeasured first)."""
    asyncio.run(_start(make(), graph))
    return statistics.median(asyncio.run(_start(make(), graph)) for _ in range(repeats))


def more_runners(pools: dict[str, Any], workers: int) -> dict[str, Any]:
    """``{label: (network, make scheduler)}`` for the start-up-only runners."""
    out: dict[str, Any] = {}
    if workers == 1:
        out["process1"] = ("local", lambda: ProcessScheduler(1, pool=pools["process"]))
    if "dask" in pools:
        dask = fluvius.scheduling.DaskScheduler  # type: ignore[attr-defined]
        out[f"dask{workers}"] = ("loopback", lambda: dask(workers, pool=pools["dask"]))
    return out


def _error(predicted: float, measured: float) -> float:
    return (predicted - measured) / measured if measured > 0 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ticks", type=int, default=15, help="one-source ticks a session")
    parser.add_argument(
        "--shapes", default=",".join(SHAPES), help=f"commas, of: {', '.join(SHAPES)}"
    )
    parser.add_argument("--more", action="store_true", help="add the 1-worker and Dask runs")
    parser.add_argument("--network", default="10gbit:50us", help="the network to predict on")
    parser.add_argument("--calibration", default="", help="calibration JSON (default: measure)")
    parser.add_argument("--out", default="", help="write the figures as JSON here")
    args = parser.parse_args()
    shapes = args.shapes.split(",")
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        parser.error(f"unknown shape(s) {', '.join(unknown)}; known: {', '.join(SHAPES)}")
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
    for shape in shapes:
        workload, params, preset = SHAPES[shape]
        graph = spec_to_graph(export_workload(workload, params, preset=preset), origin=shape)
        profile = profile_graph(graph, repeats=3, calibration=cal)
        cores = measure_parallelism(2, 0.2)  # what two busy processes get here, now
        try:
            report = partition_report(graph, 2, "auto", profile, calibration=cal, cores=cores)
        except TypeError:  # an older fluvius (the "before" of a comparison): its cores
            report = partition_report(graph, 2, "auto", profile, calibration=cal)
        verdict = report.verdict
        assert verdict is not None
        predicted = {1: verdict.rows[0], 2: next(r for r in verdict.rows if r.workers == 2)}
        one = verdict.tick_source
        suffix = one.rsplit("/", 1)[-1]
        market = [k for k in graph.source_keys if k.rsplit("/", 1)[-1] == suffix]
        pool = WorkerPool(2)
        try:
            makers = {1: SerialScheduler, 2: lambda p=pool: ProcessScheduler(2, pool=p)}
            measured = {
                n: measure_all(graph, make, one, market, args.repeats, args.ticks)
                for n, make in makers.items()
            }
        finally:
            pool.close()
        base_s = getattr(profile, "collect_base_s", 0.0) or 0.0
        print(
            f"\n{shape}: {len(graph):,} nodes, {len(graph.sources):,} sources; profile: "
            f"work {sum(profile.costs) * 1e3:.1f} ms, collection "
            f"{(profile.collect_s or 0) * 1e3:.1f} ms (without the started graph "
            f"{base_s * 1e3:.1f} ms); cores for 2 processes {cores:.2f}"
        )
        ticks = getattr(profile, "ticks", ())  # an older fluvius's profile has none
        if ticks:
            print(
                "  profiled ticks, per node beyond the profile (nodes: us): "
                + ", ".join(f"{n:,}: {e * 1e6:+.3f}" for n, e in ticks)
            )
        print(f"  the report's predictions vs measured (ms); ticks: {one!r}, {len(market)} at once")
        print("  runner    figure           predicted    measured    error")
        rows: dict[str, dict[str, float]] = {}
        for n, label in ((1, "serial"), (2, "process2")):
            for fig in ("startup_s", "tick_s", "market_tick_s"):
                p, m = getattr(predicted[n], fig), measured[n][fig]
                rows[f"{label}/{fig}"] = {"predicted_s": p, "measured_s": m, "error": _error(p, m)}
                print(
                    f"  {label:9} {fig[:-2]:15} {p * 1e3:11.3f} {m * 1e3:11.3f}   "
                    f"{_error(p, m):+6.1%}"
                )
        print(f"  verdict: {verdict.reason}")
        if workload == "options" and args.more:
            sim = {"sizes": profile.sizes, "waits": profile.waits}
            for workers in (1, 2):
                part = (
                    Partition(1, (0,) * len(graph.items), "single")
                    if workers == 1
                    else partition_graph(graph, 2, "auto")
                )
                pools: dict[str, Any] = {"process": WorkerPool(workers)}
                if has_dask:
                    pools["dask"] = fluvius.scheduling.DaskPool(workers)  # type: ignore[attr-defined]
                try:
                    for label, (network, make) in more_runners(pools, workers).items():
                        m = measure(graph, make, args.repeats)
                        here = network == "local"  # the process scheduler computes its totals
                        p = simulate(
                            graph, profile.costs, part, cal, network=network, parent_nodes=here,
                            **sim,
                        ).makespan_s  # fmt: skip
                        rows[f"{label}/startup_s"] = {
                            "predicted_s": p,
                            "measured_s": m,
                            "error": _error(p, m),
                        }
                        print(
                            f"  {label:9} {'startup':15} {p * 1e3:11.3f} {m * 1e3:11.3f}   "
                            f"{_error(p, m):+6.1%}   (simulate, network {network})"
                        )
                finally:
                    for each in pools.values():
                        each.close()
        far = partition_report(graph, 2, "auto", profile, calibration=cal, network=args.network)
        assert far.verdict is not None
        print(f"  predicted on {args.network} (ms):  workers  start-up  one tick  market tick")
        for row in far.verdict.rows:
            print(
                f"    {row.workers:>30}  {row.startup_s * 1e3:8.1f}  {row.tick_s * 1e3:8.3f}  "
                f"{row.market_tick_s * 1e3:10.2f}"
            )
        print(f"  verdict: {far.verdict.reason}")
        over = [dataclasses.asdict(row) for row in far.verdict.rows]
        doc["graphs"][shape] = {
            "nodes": len(graph),
            "work_s": sum(profile.costs),
            "collect_s": profile.collect_s,
            "collect_base_s": getattr(profile, "collect_base_s", None),
            "profiled_ticks": [list(t) for t in ticks],
            "partition_costs": getattr(report, "partition_costs", None),
            "cores": cores,
            "verdict": verdict.reason,
            "runs": rows,
            "over_hosts": over,
        }
    doc["load_after"] = os.getloadavg()
    doc["cores_after"] = measure_parallelism(2, 0.2)
    print(f"load average {doc['load_after']}; cores for 2 processes {doc['cores_after']:.2f}")
    write_results(args.out, doc)


if __name__ == "__main__":
    main()
