"""``fluvius partition``: the partition report, optionally checked against a real run."""

from __future__ import annotations

import inspect
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from fluvius.cli.errors import fail, user_errors
from fluvius.cli.output import err_console, out_console, print_json
from fluvius.graph.spec import load_graph
from fluvius.partition.calibrate import Calibration, calibrate, default_calibration
from fluvius.partition.cost import load_costs
from fluvius.partition.profile import value_sizes
from fluvius.partition.registry import partitioner_names
from fluvius.partition.report import PartitionReport, partition_report
from fluvius.scheduling import run_graph

if TYPE_CHECKING:
    from fluvius.graph import Graph
    from fluvius.partition import Partitioner

__all__ = ["EPILOG", "HELP", "partition", "process_startup"]

HELP = (
    "Show how SPEC's nodes would be split over --workers processes: per-worker nodes, work, "
    "cross-partition edges and bytes; the lower bound max(critical path, work / workers); "
    "the simulator's predicted start-up for 1-64 workers per partitioner; with --run, a "
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
    """Start-up seconds of ``graph`` on the process scheduler (calibration's ``run_startup``)."""
    scheduler = _process_scheduler()(workers=workers, partitioner=partitioner or "round_robin")
    return run_graph(graph, [], scheduler).startup.seconds


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
    }


def _print(report: PartitionReport) -> None:
    out_console.print(
        f"{report.nodes:,} nodes, {report.sources:,} sources; costs: {report.cost_source}; "
        f"total work {_ms(report.total_work_s)} ms, critical path "
        f"{_ms(report.critical_path_s)} ms"
    )
    table = Table(
        "worker", "nodes", "work ms", "edges in", "edges out", "values out", "bytes out",
        title=f"{report.partitioner} on {report.workers} workers",
    )  # fmt: skip
    for s in report.shares:
        table.add_row(
            str(s.worker), f"{s.nodes:,}", _ms(s.work_s), f"{s.edges_in:,}",
            f"{s.edges_out:,}", f"{s.values_out:,}", f"{s.bytes_out:,}",
        )  # fmt: skip
    out_console.print(table)
    out_console.print(
        f"serial {_ms(report.serial_s)} ms; lower bound {_ms(report.lower_bound_s)} ms; "
        "predicted start-up "
        f"{_ms(report.predicted_s)} ms (one core per worker), {_ms(report.predicted_here_s)} ms "
        f"on this machine's {report.cores} cores, plus {_ms(report.spawn_s)} ms to start "
        "the processes"
    )
    counts = sorted({n for row in report.predictions.values() for n in row})
    scaling = Table(
        "partitioner", *(f"{n} w" for n in counts), title="predicted start-up, ms (one core/worker)"
    )
    for name, row in report.predictions.items():
        scaling.add_row(name, *(_ms(row[n]) if n in row else "" for n in counts))
    out_console.print(scaling)
    m = report.measured
    if m is not None:
        busy = Table("worker", "nodes", "busy ms", "idle ms", title="measured start-up")
        for w in m["workers"]:
            busy.add_row(
                str(w["worker"]), str(w["nodes"]),
                _ms(w["busy_seconds"] or 0.0), _ms(w["idle_seconds"] or 0.0),
            )  # fmt: skip
        out_console.print(busy)
        out_console.print(
            f"measured start-up {_ms(m['startup_seconds'])} ms; efficiency (bound / measured) "
            f"{m['efficiency']:.2f}; prediction error {m['prediction_error']:+.1%}"
        )


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
            "--calibrate", help="Measure this machine's figures first and store them (~2 s)."
        ),
    ] = False,
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
        graph = load_graph(spec)
        if recalibrate:
            cal = calibrate(run_startup=process_startup)
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
                )
        except ImportError as exc:
            fail(str(exc))
        if run:
            report.measured = _measure(graph, report, costs)
        if json_out:
            print_json(report.to_dict())
        else:
            _print(report)


def _sizes_by_rank(graph: Graph, values: dict[str, Any]) -> tuple[int, ...]:
    """Sizes by rank: sources from the graph, nodes from a serial start-up's values."""
    pairs = zip(graph.keys, graph.items, strict=True)
    items = [values.get(k, getattr(it, "value", None)) for k, it in pairs]
    return value_sizes(items)
