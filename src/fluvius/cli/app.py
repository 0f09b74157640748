"""The ``fluvius`` command line (typer + rich).

Commands are thin: they parse options and call library functions. User errors (a bad spec,
a bad ticks line, a failing node) print one line on stderr and exit with code 1 (2 for bad
usage); ``--verbose`` adds the traceback.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from fluvius import __version__
from fluvius.cli import config as config_cmd
from fluvius.cli import iex as iex_cmd
from fluvius.cli import partition as partition_cmd
from fluvius.cli import profile as profile_cmd
from fluvius.cli import run as run_cmd
from fluvius.cli import workload as workload_cmd

__all__ = ["app", "main"]

app = typer.Typer(
    name="fluvius",
    help="Incremental computation graphs for live trading analytics.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command(
    "run",
    help=run_cmd.HELP,
    epilog=run_cmd.EPILOG,
    no_args_is_help=True,
)(run_cmd.run)
app.add_typer(workload_cmd.app, name="workload")
app.add_typer(config_cmd.app, name="config")
app.add_typer(iex_cmd.app, name="iex")
app.command("profile", help=profile_cmd.HELP, epilog=profile_cmd.EPILOG)(profile_cmd.profile)
app.command("partition", help=partition_cmd.HELP, epilog=partition_cmd.EPILOG)(
    partition_cmd.partition
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fluvius {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show tracebacks and where settings came from.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    ctx.obj = {"verbose": verbose}


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``fluvius`` script."""
    return app(args=argv if argv is not None else sys.argv[1:])
