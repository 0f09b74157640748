"""Fanout benchmark (docs/reference/workloads.md, "fanout"): start-up on 2 processes against Dask.

The fanout workload (20 chains of 50 ``spin`` nodes of about 2 ms, one ``total``) is the
ideal shape for parallelism. Its start-up (every node computed once) is timed, in one run,
on:

* fluvius's serial scheduler;
* fluvius's ProcessScheduler(workers=2) (when this version has it);
* Dask's multiprocessing scheduler (``dask.multiprocessing.get``, 2 processes) on a dask
  graph built from the very same spec and node functions, without and with chain fusion
  (``dask.optimization.fuse``);
* Dask distributed on ``LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
  processes=True)``.

Process start-up is kept out of every figure: the fluvius worker pool, the Dask process
pool (created, then warmed by small tasks) and the LocalCluster are started before
timing, and each figure is the wall time of computing the whole graph on them (median
over ``--repeats``); the fluvius figures are the start-up seconds the runs report. The
repeats are interleaved (serial, fluvius, Dask, Dask fused, distributed, then again), so
that a change of load on a shared machine hits every runner alike.
Speedups are serial / other, from the same run. Beside each figure: the simulator's
prediction (costs from a profiling run, machine figures from ``calibrate()``), and the
lower bound max(critical path, total work / workers). On a shared machine the *loaded*
prediction also counts the cores two CPU-bound processes really get
(``measure_parallelism``, measured just before the process run).

Run: ``make bench`` or ``python benchmarks/fanout.py --out benchmarks/results/fanout.json``
(needs the ``bench`` extra: ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import multiprocessing
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from _common import write_results
from fluvius.cli.partition import process_startup
from fluvius.graph.node import NodeSpec
from fluvius.graph.spec import spec_to_graph
from fluvius.partition import calibrate, partition_graph
from fluvius.partition.calibrate import measure_parallelism
from fluvius.partition.cost import lower_bound
from fluvius.partition.profile import profile_graph
from fluvius.partition.simulate import simulate
from fluvius.scheduling import SerialScheduler
from fluvius.workloads import fanout_spec
from simulator import startups

WORKERS = 2


def dask_graph(graph: Any) -> dict[str, Any]:
    """The graph as a Dask task graph: ``{key: value}`` for sources, tuples for nodes."""
    dsk: dict[str, Any] = {}
    for key, item in zip(graph.keys, graph.items, strict=True):
        if isinstance(item, NodeSpec):
            fn = functools.partial(item.fn, **item.params) if item.params else item.fn
            dsk[key] = (fn, *item.inputs)
        else:
            dsk[key] = item.value
    return dsk


def _noop() -> int:
    return os.getpid()


def timed(fn: Any, repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--underlyings", type=int, default=20)
    parser.add_argument("--length", type=int, default=50)
    parser.add_argument("--target-s", type=float, default=0.002, help="seconds per spin node")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="")
    args = parser.parse_args()

    spec = fanout_spec(underlyings=args.underlyings, length=args.length, target_s=args.target_s)
    graph = spec_to_graph(spec)
    total_key = "total"
    cal = calibrate(run_startup=process_startup)
    prof = profile_graph(graph, repeats=1, calibration=cal)
    costs = prof.costs
    part = partition_graph(graph, WORKERS, "auto", costs)
    predicted = {
        "serial": simulate(graph, costs, partition_graph(graph, 1), serial=True).makespan_s,
        "fluvius_process_2": simulate(graph, costs, part, cal, sizes=prof.sizes).makespan_s,
    }
    predicted_loaded = dict(predicted)
    bound = lower_bound(graph, costs, WORKERS)
    print(f"fanout: {len(graph):,} nodes, spin_n={spec['meta']['spin_n']}, load {os.getloadavg()}")
    print(f"profiled work {sum(costs):.3f} s; lower bound on {WORKERS} workers {bound:.3f} s")
    print(f"partition {part.partitioner}: predicted {predicted['fluvius_process_2']:.3f} s")

    import dask
    import dask.multiprocessing
    from dask.optimization import fuse
    from distributed import Client, LocalCluster

    try:
        from fluvius.scheduling import ProcessScheduler, WorkerPool  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        ProcessScheduler = WorkerPool = None
        print("fluvius ProcessScheduler: not in this version, skipped")

    dsk = dask_graph(graph)
    fused, _ = fuse(dsk, keys=[total_key])
    ctx = multiprocessing.get_context("spawn")
    times: dict[str, list[float]] = {}
    extra: dict[str, dict[str, Any]] = {
        "dask_multiprocessing": {"tasks": len(dsk)},
        "dask_multiprocessing_fused": {"tasks": len(fused)},
        "dask_distributed": {"tasks": len(dsk)},
    }
    with contextlib.ExitStack() as stack:
        # every pool and cluster is started (and warmed) before any timing
        pool = stack.enter_context(ProcessPoolExecutor(WORKERS, mp_context=ctx))
        for _ in range(4):
            pool.submit(_noop).result()
        cluster = stack.enter_context(
            LocalCluster(
                n_workers=WORKERS,
                threads_per_worker=1,
                host="127.0.0.1",
                processes=True,
                dashboard_address="127.0.0.1:0",
            )
        )
        client = stack.enter_context(Client(cluster))
        client.submit(_noop).result()
        runners: dict[str, Any] = {
            "serial": lambda: asyncio.run(startups(graph, SerialScheduler(), 1))[0],
        }
        if ProcessScheduler is not None:
            workers = stack.enter_context(WorkerPool(WORKERS))
            sched = ProcessScheduler(workers=WORKERS, partitioner=part.partitioner, pool=workers)
            runners["fluvius_process_2"] = lambda: asyncio.run(startups(graph, sched, 1))[0]
        runners["dask_multiprocessing"] = lambda: timed(
            lambda: dask.multiprocessing.get(dsk, total_key, pool=pool), 1
        )[0]
        runners["dask_multiprocessing_fused"] = lambda: timed(
            lambda: dask.multiprocessing.get(fused, total_key, pool=pool), 1
        )[0]
        runners["dask_distributed"] = lambda: timed(lambda: client.get(dsk, total_key), 1)[0]
        cores_seen = []
        for _ in range(args.repeats):  # interleaved: a change of load hits every runner
            cores_seen.append(measure_parallelism(WORKERS, 0.1))
            for name, run in runners.items():
                times.setdefault(name, []).append(run())
    cores = statistics.median(cores_seen)
    loaded = simulate(graph, costs, part, cal, sizes=prof.sizes, cores=max(1.0, cores))
    predicted_loaded["fluvius_process_2"] = loaded.makespan_s
    print(f"two CPU-bound processes got {cores:.2f} cores (median); load {os.getloadavg()}")
    results: dict[str, dict[str, Any]] = {
        name: {"seconds": statistics.median(runs), "runs": runs, **extra.get(name, {})}
        for name, runs in times.items()
    }

    base = results["serial"]["seconds"]
    for name, r in results.items():
        r["speedup_vs_serial"] = base / r["seconds"]
        r["predicted_seconds"] = predicted.get(name)
        r["predicted_loaded_seconds"] = predicted_loaded.get(name)
        pred = ""
        if name in predicted:
            pred = f", predicted {predicted[name]:.3f} s (loaded {predicted_loaded[name]:.3f} s)"
        print(f"{name:28s} {r['seconds']:8.3f} s  x{r['speedup_vs_serial']:.2f}{pred}")
    write_results(
        args.out,
        {
            "workload": "fanout",
            "nodes": len(graph),
            "spin_n": spec["meta"]["spin_n"],
            "repeats": args.repeats,
            "load_average": os.getloadavg(),
            "calibration": cal.to_dict(),
            "profiled_work_seconds": sum(costs),
            "lower_bound_seconds": bound,
            "partitioner": part.partitioner,
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
