"""``fluvius config``: generate, check, validate and list component configurations."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.syntax import Syntax

from fluvius.cli.errors import fail, user_errors
from fluvius.cli.output import err_console, out_console, print_json

if TYPE_CHECKING:
    from fluvius.config.component import Registry
    from fluvius.config.spec import ConfigSpec, ConfigValidationError

# The config package (pydantic, jinja2) is imported inside the commands, not here: every
# `fluvius` command imports this module, and only `fluvius config ...` needs it.
# tests/config/test_cli.py checks this literal against fluvius.config.component.ENV_VAR.
ENV_VAR = "FLUVIUS_COMPONENTS"

__all__ = ["app"]

app = typer.Typer(
    add_completion=False,  # a subcommand group: completion belongs to the root
    help="Generate configuration files from component types (schema + templates) and facts.",
    no_args_is_help=True,
)

_EPILOG = """Examples:

  fluvius config generate config.yaml --out deploy/

  fluvius config generate config.yaml --out deploy/ --check   # CI: exit 1 and a diff if stale

  fluvius config validate config.yaml

  fluvius config list --components ./my-components --json

Component types come from the built-in folder, the spec's `components:` list, \
$FLUVIUS_COMPONENTS (path-separated) and --components, later ones overriding \
earlier ones by name; --verbose says where each type came from.
"""

_Components = Annotated[
    list[Path] | None,
    typer.Option(
        "--components",
        "-c",
        help=f"A folder of component types (repeatable; overrides ${ENV_VAR} and the spec).",
    ),
]
_Json = Annotated[bool, typer.Option("--json", help="Write one JSON document to stdout.")]
_Verbose = Annotated[
    bool,
    typer.Option("--verbose", "-v", help="Where each component type came from; tracebacks."),
]


def _verbose(ctx: typer.Context, here: bool) -> bool:
    """``--verbose`` given after the command, or before it (``fluvius -v config ...``)."""
    obj = ctx.find_root().obj
    return here or bool(obj and obj.get("verbose"))


def _report_sources(registry: Registry) -> None:
    for source, root in registry.searched:
        err_console.print(f"[dim]component folder {root} (from {source})[/]", soft_wrap=True)
    for name, comp in registry.types.items():
        shadowed = f"; overrides {', '.join(comp.shadows)}" if comp.shadows else ""
        err_console.print(f"[dim]component type {name}: {comp.source}{shadowed}[/]", soft_wrap=True)


def _problems(exc: ConfigValidationError, json_out: bool) -> None:
    if json_out:
        print_json({"ok": False, "problems": exc.problems})
    else:
        for line in exc.problems:
            err_console.print(f"[red]error:[/] {escape(line)}", soft_wrap=True)
    fail(f"{len(exc.problems)} problem(s) in the inputs", "each line names file, line and field")


@app.command("generate", epilog=_EPILOG, no_args_is_help=True)
def generate(
    ctx: typer.Context,
    spec: Annotated[Path, typer.Argument(help="Config spec (YAML).", show_default=False)],
    *,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 with a diff if OUT differs.")
    ] = False,
    components: _Components = None,
    json_out: _Json = False,
    verbose: _Verbose = False,
) -> None:
    """Write every file of every instance of SPEC under OUT (deterministic bytes)."""
    from fluvius.config import ConfigValidationError, load_config_spec, write_files

    verbose = _verbose(ctx, verbose)
    with user_errors(verbose):
        loaded = load_config_spec(spec, components=components or ())
        if verbose:
            _report_sources(loaded.registry)
        try:
            files = _render_with_progress(loaded, show=err_console.is_terminal and not json_out)
        except ConfigValidationError as exc:
            _problems(exc, json_out)
        if check:
            _check(files, out, json_out)
            return
        report = write_files(files, out)
        if json_out:
            print_json(
                {
                    "ok": True,
                    "files": list(files),
                    "written": report.written,
                    "unchanged": report.unchanged,
                    "removed": report.removed,
                }
            )
        err_console.print(
            f"wrote {len(report.written)} file(s) under {out}, {len(report.unchanged)} unchanged"
            + (f", removed {len(report.removed)} stale" if report.removed else "")
        )


def _render_with_progress(loaded: ConfigSpec, *, show: bool) -> dict[str, str]:
    """Render, with a progress bar over the instances on a terminal."""
    from fluvius.config.generate import render_spec

    if not show:
        return render_spec(loaded)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("rendering", total=len(loaded.data["instances"]))

        def advance(name: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=f"rendered {name}")

        return render_spec(loaded, progress=advance)


def _check(files: dict[str, str], out: Path, json_out: bool) -> None:
    from fluvius.config import check_files

    report = check_files(files, out)
    if json_out:
        print_json(
            {
                "ok": report.ok,
                "files": list(files),
                "changed": report.changed,
                "missing": report.missing,
                "stale": report.stale,
                "diff": report.diff,
            }
        )
    if report.ok:
        if not json_out:
            out_console.print(f"{out} is up to date ({len(files)} file(s))")
        return
    if not json_out:
        if out_console.is_terminal:
            out_console.print(Syntax(report.diff, "diff", theme="ansi_dark"))
        else:
            sys.stdout.write(report.diff)
            sys.stdout.flush()
    fail(
        f"{out} differs from the generated configuration: {len(report.changed)} changed, "
        f"{len(report.missing)} missing, {len(report.stale)} stale",
        "run without --check to regenerate",
    )


@app.command("validate", epilog=_EPILOG, no_args_is_help=True)
def validate(
    ctx: typer.Context,
    spec: Annotated[Path, typer.Argument(help="Config spec (YAML).", show_default=False)],
    *,
    components: _Components = None,
    json_out: _Json = False,
    verbose: _Verbose = False,
) -> None:
    """Collect the inputs of SPEC and check them against the component schemas."""
    from fluvius.config import ConfigValidationError, load_config_spec, resolve_instances

    verbose = _verbose(ctx, verbose)
    with user_errors(verbose):
        loaded = load_config_spec(spec, components=components or ())
        if verbose:
            _report_sources(loaded.registry)
        try:
            instances = resolve_instances(loaded)
        except ConfigValidationError as exc:
            _problems(exc, json_out)
        if json_out:
            print_json(
                {
                    "ok": True,
                    "problems": [],
                    "instances": {i.name: i.component.name for i in instances},
                }
            )
        else:
            out_console.print(f"ok: {len(instances)} instance(s) valid")


def _type_document(registry: Registry) -> dict[str, Any]:
    from fluvius.config.schema import field_infos

    return {
        name: {
            "description": comp.description,
            "source": comp.source,
            "fields": [
                {
                    "name": f.name,
                    "type": f.type,
                    "required": f.required,
                    "default": f.default,
                    "description": f.description,
                }
                for f in field_infos(comp.fields)
            ],
            "outputs": [o.path for o in comp.outputs],
        }
        for name, comp in registry.types.items()
    }


@app.command("list", epilog=_EPILOG)
def list_types(
    ctx: typer.Context,
    *,
    components: _Components = None,
    json_out: _Json = False,
    verbose: _Verbose = False,
) -> None:
    """Show the component types, the fields each needs and the files each writes."""
    from fluvius.config import discover_components

    verbose = _verbose(ctx, verbose)
    with user_errors(verbose):
        registry = discover_components(cli=components or (), env=os.environ.get(ENV_VAR, ""))
        if verbose:
            _report_sources(registry)
        document = _type_document(registry)
        if json_out:
            print_json(document)
            return
        for name, info in document.items():
            _print_type(name, info)


def _print_type(name: str, info: dict[str, Any]) -> None:
    """One component type as text that wraps at any width (a table would cut long names).

    Each field is a line ``name  type, default`` (or ``required``), then its meaning,
    indented, wrapped at words.
    """
    from rich.padding import Padding
    from rich.text import Text

    out_console.print(Text.assemble((name, "bold"), f" — {info['description']}"))
    for f in info["fields"]:
        default = "required" if f["required"] else f"default {f['default']!r}"
        out_console.print(
            Padding(Text.assemble((f["name"], "bold"), f"  {f['type']}, {default}"), (0, 0, 0, 2))
        )
        if f["description"]:
            out_console.print(Padding(Text(f["description"]), (0, 0, 0, 6)))
    out_console.print(
        Padding(Text(f"writes: {', '.join(info['outputs'])}   ({info['source']})\n"), (0, 0, 0, 2))
    )
