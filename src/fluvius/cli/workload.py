"""``fluvius workload``: list the named benchmark workloads and write them as spec files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fluvius.cli.errors import fail, user_errors
from fluvius.cli.output import err_console, out_console
from fluvius.graph.spec import dump_spec
from fluvius.workloads import WORKLOADS, export_workload

__all__ = ["app"]

app = typer.Typer(
    add_completion=False,  # a subcommand group: completion belongs to the root
    help="Named benchmark workloads (docs/reference/workloads.md): list them, export them as "
    "spec files.",
    no_args_is_help=True,
)


@app.command("list")
def list_workloads() -> None:
    """List the workloads with their params and defaults."""
    table = Table("workload", "param", "default", "meaning")
    for name, workload in WORKLOADS.items():
        table.add_row(f"[bold]{name}[/]", "", "", workload.description)
        for param in workload.params:
            table.add_row("", param.name, str(param.default), param.help)
        for preset, values in workload.presets.items():
            shown = ", ".join(f"{k}={v}" for k, v in values.items()) or "the defaults"
            table.add_row("", f"--preset {preset}", "", shown)
    out_console.print(table)


@app.command(
    "export",
    epilog=(
        "Examples: fluvius workload export fanout --param underlyings=4 --out fanout.yaml\n\n"
        "fluvius workload export options --preset heavy --out heavy.json"
    ),
)
def export(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Workload name (see `fluvius workload list`).")],
    *,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Override a parameter: --param underlyings=4."),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(
            help="Start from a named param set (options: 'light', the defaults, or 'heavy', "
            "a real script's start-up with history loads and calibrations); --param "
            "overrides it."
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Spec file to write (.json, .yaml or .yml).")],
) -> None:
    """Write workload NAME as a graph spec file (deterministic from params and seed)."""
    verbose = bool(ctx.parent and ctx.parent.obj and ctx.parent.obj.get("verbose"))
    with user_errors(verbose):
        overrides: dict[str, str] = {}
        for item in param or []:
            key, sep, value = item.partition("=")
            if not sep or not key:
                fail(f"--param expects key=value, got {item!r}", code=2)
            overrides[key.strip()] = value.strip()
        spec = export_workload(name, overrides, preset=preset)
        dump_spec(spec, out)
        shown = f" (preset {preset!r})" if preset else ""
        err_console.print(
            f"wrote {out}: workload {name!r}{shown}, {len(spec['nodes']):,} nodes, "
            f"{len(spec['sources']):,} sources"
        )
