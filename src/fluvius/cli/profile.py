"""``fluvius profile``: time every node of a graph and write a costs file for partitioners."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fluvius.cli.errors import fail, user_errors
from fluvius.cli.output import err_console, print_json
from fluvius.graph.spec import load_graph
from fluvius.partition.cost import dump_costs
from fluvius.partition.profile import profile_graph

__all__ = ["EPILOG", "HELP", "profile"]

HELP = (
    "Time each node of SPEC serially (the median of --repeats start-ups) and write "
    "{node key: seconds} to --out, for `fluvius partition --costs` and `fluvius run --costs`."
)
EPILOG = (
    "Examples:\n\n"
    "  fluvius workload export fanout --out fanout.yaml\n\n"
    "  fluvius profile fanout.yaml --out costs.json\n\n"
    "  fluvius partition fanout.yaml --workers 2 --costs costs.json"
)

PROGRESS_MIN_NODES = 5_000  # a bar only when a start-up takes noticeable time


def profile(
    ctx: typer.Context,
    spec: Annotated[
        Path, typer.Argument(help="Graph spec file (YAML or JSON).", show_default=False)
    ],
    *,
    out: Annotated[Path, typer.Option(help="Costs file to write (JSON).", show_default=False)],
    repeats: Annotated[
        int, typer.Option(help="Start-ups to time; each node's cost is its median.")
    ] = 5,
    json_out: Annotated[
        bool, typer.Option("--json", help="Also write a summary JSON document to stdout.")
    ] = False,
) -> None:
    verbose = bool(ctx.parent and ctx.parent.obj and ctx.parent.obj.get("verbose"))
    with user_errors(verbose):
        if repeats < 1:
            fail(f"--repeats must be >= 1, got {repeats}", code=2)
        graph = load_graph(spec)
        show = len(graph) * repeats >= PROGRESS_MIN_NODES and err_console.is_terminal
        with Progress(
            TextColumn("profiling"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("node computations"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=not show,
        ) as bar:
            task = bar.add_task("profile", total=repeats * len(graph))
            result = profile_graph(
                graph, repeats=repeats, progress=lambda done, _: bar.update(task, completed=done)
            )
        dump_costs(graph, result.costs, out)
        total = sum(result.costs)
        heaviest = max(range(len(result.costs)), key=result.costs.__getitem__, default=0)
        err_console.print(
            f"wrote {out}: {len(graph):,} nodes, total work {total * 1e3:.2f} ms per start-up, "
            f"heaviest {graph.keys[heaviest]!r} {result.costs[heaviest] * 1e3:.3f} ms "
            f"({repeats} start-ups in {result.seconds:.2f} s)"
        )
        if json_out:
            print_json(
                {
                    "out": str(out),
                    "nodes": len(graph),
                    "repeats": repeats,
                    "total_work_seconds": total,
                    "seconds": result.seconds,
                }
            )
