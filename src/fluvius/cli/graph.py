"""``fluvius graph``: draw a spec's graph as DOT, Mermaid or SVG, collapsed per scope."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from fluvius.cli.errors import fail, user_errors
from fluvius.cli.output import err_console
from fluvius.graph.spec import load_graph
from fluvius.observe.picture import collapse as collapse_graph
from fluvius.observe.picture import dot_text, mermaid_text, render_svg

__all__ = ["EPILOG", "HELP", "graph"]

HELP = (
    "Draw the graph of SPEC. By default every scope (one underlying: keys that start with "
    "it, U003/spot, or name it after a kind, iv/U003/...; the live dashboard's scopes) is "
    "one box with its node count, and an edge between two boxes carries the number of node "
    "edges it stands for, so a 40,000-node graph stays readable. --scope S draws the keys "
    "of scope S (or under the key prefix S) one by one, with the other scopes that feed "
    "or read them (dashed)."
    "\n\n"
    "The picture goes to stdout (or --out). SVG needs Graphviz's `dot` program."
)
EPILOG = (
    "Examples:\n\n"
    "  fluvius workload export overhead --out overhead.json\n\n"
    "  fluvius graph overhead.json --format mermaid\n\n"
    "  fluvius graph overhead.json --format svg --out overhead.svg\n\n"
    "  fluvius graph overhead.json --scope U003 --collapse --format dot | dot -Tpng > u3.png"
)

FORMATS = ("dot", "mermaid", "svg")
MANY_BOXES = 2_000  # above this, Graphviz takes minutes: say how to draw less


def graph(
    ctx: typer.Context,
    spec: Annotated[
        Path, typer.Argument(help="Graph spec file (YAML or JSON).", show_default=False)
    ],
    *,
    format_: Annotated[
        str, typer.Option("--format", "-f", help=f"Output format: {', '.join(FORMATS)}.")
    ] = "dot",
    scope: Annotated[
        str | None,
        typer.Option(
            help="Draw only the keys of this scope or key prefix (e.g. AAPL).", show_default=False
        ),
    ] = None,
    collapse: Annotated[
        bool | None,
        typer.Option(
            "--collapse/--no-collapse",
            help="One box per scope (default without --scope) or one box per key "
            "(default with --scope).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Write the picture to this file instead of stdout.", show_default=False),
    ] = None,
) -> None:
    verbose = bool(ctx.parent and ctx.parent.obj and ctx.parent.obj.get("verbose"))
    with user_errors(verbose):
        if format_ not in FORMATS:
            fail(f"unknown format {format_!r}; expected one of {', '.join(FORMATS)}", code=2)
        loaded = load_graph(spec)
        grouped = collapse if collapse is not None else scope is None
        try:
            picture = collapse_graph(loaded, scope, depth=1 if grouped else None)
        except ValueError as exc:
            fail(str(exc), "the scope is a key prefix such as the first segment of the keys")
        if len(picture.boxes) > MANY_BOXES and format_ == "svg":
            fail(
                f"{len(picture.boxes):,} boxes are too many to draw as SVG",
                "use --collapse, or pick one --scope",
            )
        dot = dot_text(picture)
        text = (
            mermaid_text(picture)
            if format_ == "mermaid"
            else render_svg(dot)
            if format_ == "svg"
            else dot
        )
        if out is None:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
            sys.stdout.flush()
        else:
            out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
            err_console.print(
                f"wrote {out}: {len(picture.boxes):,} boxes, {len(picture.edges):,} edges"
            )
