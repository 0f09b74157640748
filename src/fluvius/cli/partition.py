"""``fluvius partition``: the partition report, optionally checked against a real run."""

from __future__ import annotations

import asyncio
import inspect
import statistics
import time
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fluvius.cli.errors import fail, user_errors
from fluvius.cli.output import err_console, out_console, print_json
from fluvius.graph.spec import load_graph
from fluvius.partition.calibrate import Calibration, calibrate, default_calibration
from fluvius.partition.cost import load_costs
from fluvius.partition.network import parse_network
from fluvius.partition.profile import value_sizes
from fluvius.partition.registry import partitioner_names
from fluvius.partition.report import PartitionReport, partition_report
from fluvius.scheduling import run_graph

if TYPE_CHECKING:
    from fluvius.graph import Graph
    from fluvius.partition import Partitioner

__all__ = ["EPILOG", "HELP", "partition", "process_startup", "process_tick"]

HELP = (
    "Show how SPEC's nodes would be split over --workers processes: per-worker nodes, work, "
    "cross-partition edges and bytes; the lower bound max(critical path, work / workers); "
    "the simulator's predicted start-up for 1-64 workers per partitioner; the predicted "
    "start-up and single-source / market-wide tick latency for serial, 2 ... 64 workers on "
    "this machine and a verdict (how many workers, or stay serial); with --run, a "
    "measured run and its efficiency (bound / measured)."
)
EPILOG = (
    "Examples:\n\n"
    "  fluvius partition fanout.yaml --workers 2\n\n"
    "  fluvius profile fanout.yaml --out costs.json && "
    "fluvius partition fanout.yaml --workers 2 --costs costs.json --run\n\n"
    "  fluvius partition overhead.yaml --workers 4 --partitioner metis --json"
)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.2f}"


def _process_scheduler() -> Any:
    try:
        from fluvius.scheduling import ProcessScheduler  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        fail(
            "this needs fluvius.scheduling.ProcessScheduler, which this version does not have",
            "drop --run and --calibrate to see the predicted figures only",
        )
    return ProcessScheduler


def process_startup(graph: Graph, workers: int, partitioner: Partitioner | None) -> float:
    """Start-up seconds of ``graph`` on the process scheduler (calibration's ``run_startup``).

    The figure is the wall time of the session's ``start()`` (shipping, loading and
    computing: what a user waits for), on worker processes spawned before, outside the
    figure (a running pool): the calibrated per-node and per-message costs must not hold
    the fixed price of a spawn, which is ``Calibration.spawn_s``.
    """
    from fluvius.scheduling import WorkerPool

    async def timed(scheduler: Any) -> float:
        async with scheduler.session(graph) as session:
            t0 = time.perf_counter()
            await session.start()
            return time.perf_counter() - t0

    with WorkerPool(workers) as pool:
        scheduler = _process_scheduler()(
            workers=workers, partitioner=partitioner or "round_robin", pool=pool
        )
        return asyncio.run(timed(scheduler))


def process_tick(graph: Graph, workers: int, partitioner: Partitioner | None) -> float:
    """Median wall seconds of a tick of ``graph``'s first source on the process scheduler,
    after its start-up, on a running pool (calibration's ``run_tick``)."""
    from fluvius.scheduling import WorkerPool

    key = graph.keys[graph.sources[0]]

    async def timed(scheduler: Any) -> float:
        async with scheduler.session(graph) as session:
            await session.start()
            times = []
            for i in range(TICKS):
                t0 = time.perf_counter()
                await session.cycle({key: float(i)})
                times.append(time.perf_counter() - t0)
            return statistics.median(times)

    with WorkerPool(workers) as pool:
        scheduler = _process_scheduler()(
            workers=workers, partitioner=partitioner or "round_robin", pool=pool
        )
        return asyncio.run(timed(scheduler))


TICKS = 15
"""Ticks timed by :func:`process_tick` (the median is kept)."""


def _measure(graph: Graph, report: PartitionReport, costs_file: Path | None) -> dict[str, Any]:
    """Run the start-up on the process scheduler and return measured figures."""
    scheduler = _process_scheduler()
    options: dict[str, Any] = {"workers": report.workers, "partitioner": report.partitioner}
    params = inspect.signature(scheduler).parameters
    if costs_file is not None and "costs" in params:
        options["costs"] = load_costs(costs_file, graph)
    run = run_graph(graph, [], scheduler(**options))
    measured = run.startup.seconds
    workers = [
        {
            "worker": w.get("worker"),
            "nodes": w.get("nodes"),
            "busy_seconds": w.get("busy_seconds"),
            "idle_seconds": w.get("idle_seconds"),
        }
        for w in run.stats.get("workers", [])
    ]
    return {
        "startup_seconds": measured,
        "efficiency": report.lower_bound_s / measured if measured > 0 else None,
        "prediction_error": (report.predicted_here_s - measured) / measured if measured else None,
        "workers": workers,
        "parent_nodes": run.stats.get("parent_nodes", 0),  # the totals the parent computes
    }


def partition(
    ctx: typer.Context,
    spec: Annotated[
        Path, typer.Argument(help="Graph spec file (YAML or JSON).", show_default=False)
    ],
    *,
    workers: Annotated[int, typer.Option(help="Worker processes.", show_default=False)],
    partitioner: Annotated[
        str, typer.Option(help=f"One of: {', '.join(partitioner_names())}.")
    ] = "auto",
    costs: Annotated[
        Path | None, typer.Option(help="Costs file from `fluvius profile` (default: estimates).")
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option(help="Calibration JSON (default: the stored one, else built-in figures)."),
    ] = None,
    sizes: Annotated[
        bool, typer.Option(help="Measure value sizes by a serial start-up (else 9 B a value).")
    ] = False,
    run: Annotated[
        bool, typer.Option("--run", help="Also run the start-up with the process scheduler.")
    ] = False,
    recalibrate: Annotated[
        bool,
        typer.Option(
            "--calibrate",
            help="Measure this machine's figures first (start-ups and ticks on the process "
            "scheduler, a TCP ping-pong on 127.0.0.1; ~30 s) and store them.",
        ),
    ] = False,
    network: Annotated[
        str,
        typer.Option(
            help="Where the workers run: 'local' (the process scheduler on this machine), "
            "'loopback' (TCP on 127.0.0.1, as a Dask LocalCluster) or "
            "BANDWIDTH:LATENCY[:WORKERS_PER_HOST] between hosts, e.g. 10gbit:50us "
            "(see docs/how-to/scale-on-paper.md).",
        ),
    ] = "local",
    json_out: Annotated[
        bool, typer.Option("--json", help="Write one JSON document to stdout.")
    ] = False,
) -> None:
    verbose = bool(ctx.parent and ctx.parent.obj and ctx.parent.obj.get("verbose"))
    with user_errors(verbose):
        if workers < 1:
            fail(f"--workers must be >= 1, got {workers}", code=2)
        if partitioner not in partitioner_names():
            fail(
                f"unknown partitioner {partitioner!r}; expected one of: "
                f"{', '.join(partitioner_names())}",
                code=2,
            )
        try:
            net = parse_network(network)
        except ValueError as exc:
            fail(f"--network: {exc}", code=2)
        if run and net.name != "local":
            fail("--run measures the process scheduler on this machine: use --network local")
        graph = load_graph(spec)
        if recalibrate:
            cal = calibrate(run_startup=process_startup, run_tick=process_tick)
            err_console.print(f"calibration stored in {cal.save(calibration)}: {cal}")
        else:
            cal = Calibration.load(calibration) if calibration else default_calibration()
        node_costs = load_costs(costs, graph) if costs is not None else None
        value_bytes = None
        if sizes:
            value_bytes = _sizes_by_rank(graph, run_graph(graph).values)
        status = f"partitioning {len(graph):,} nodes and simulating 1-64 workers"
        busy = err_console.status(status) if err_console.is_terminal else nullcontext()
        try:
            with busy:
                report = partition_report(
                    graph,
                    workers,
                    partitioner,
                    node_costs,
                    sizes=value_bytes,
                    calibration=cal,
                    cost_source=str(costs) if costs else "",
                    network=net,
                )
        except ImportError as exc:
            fail(str(exc))
        if run:
            report.measured = _measure(graph, report, costs)
        if json_out:
            print_json(report.to_dict())
        else:
            out_console.print(report)


def _sizes_by_rank(graph: Graph, values: dict[str, Any]) -> tuple[int, ...]:
    """Sizes by rank: sources from the graph, nodes from a serial start-up's values."""
    pairs = zip(graph.keys, graph.items, strict=True)
    items = [values.get(k, getattr(it, "value", None)) for k, it in pairs]
    return value_sizes(items)
