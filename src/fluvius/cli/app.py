"""The ``fluvius`` command line (typer + rich).

Commands are thin: they parse options and call library functions. User errors (a bad spec,
a bad ticks line, a failing node) print one line on stderr and exit with code 1 (2 for bad
usage); ``--verbose`` adds the traceback.

Start-up: each command lives in its own module and is imported only when it runs (or when
``fluvius --help`` lists every command), through :class:`_LazyGroup`, the "lazily loading
subcommands" pattern of click. ``fluvius iex decode`` therefore never imports the graph
engine, the schedulers or the config generator: the command pays for what it uses, which
matters for a command whose whole run is a fraction of a second.
"""

from __future__ import annotations

import copy
import sys
from importlib import import_module
from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.main
from typer.core import TyperGroup
from typer.models import CommandInfo, TyperInfo

from fluvius import __version__
from fluvius.cli import output

if TYPE_CHECKING:
    from typer._click.core import Command, Context  # typer vendors its own click

__all__ = ["COMMANDS", "app", "main"]

# name -> (module, attribute, kind): "group" is a typer.Typer of subcommands, "command"
# one function whose module also defines HELP and EPILOG. The order is --help's order.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("fluvius.cli.run", "run", "command"),
    "live": ("fluvius.cli.live", "live", "command"),
    "workload": ("fluvius.cli.workload", "app", "group"),
    "config": ("fluvius.cli.config", "app", "group"),
    "iex": ("fluvius.cli.iex", "app", "group"),
    "profile": ("fluvius.cli.profile", "profile", "command"),
    "partition": ("fluvius.cli.partition", "partition", "command"),
    "graph": ("fluvius.cli.graph", "graph", "command"),
}
_NO_ARGS_IS_HELP = {"run", "live", "graph"}


def _load(name: str) -> Command:
    """Import command ``name``'s module and build its click command."""
    module_name, attr, kind = COMMANDS[name]
    module = import_module(module_name)
    target = getattr(module, attr)
    if kind == "group":
        command = _SubGroup.of(target)
    else:
        single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        single.command(
            name,
            help=module.HELP,
            epilog=module.EPILOG,
            no_args_is_help=name in _NO_ARGS_IS_HELP,
        )(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class _LazyGroup(TyperGroup):
    """The root group: knows its commands' names, imports a command when it is used."""

    def list_commands(self, ctx: Context) -> list[str]:
        return [*COMMANDS, *(n for n in super().list_commands(ctx) if n not in COMMANDS)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in COMMANDS:
            loaded = _load(cmd_name)
            self.add_command(loaded, cmd_name)
            return loaded
        return command


class _SubGroup(TyperGroup):
    """A command group (``fluvius iex``, ...) that builds each of its commands when used.

    typer builds all of a group's commands at once, each by evaluating its parameters'
    annotations (``fluvius iex`` has three commands with 30 parameters between them, about
    5 ms); ``fluvius iex decode`` needs only its own. ``fluvius iex --help`` still lists
    every command, building them then.
    """

    lazy: dict[str, CommandInfo]
    options: dict[str, Any]

    @classmethod
    def of(cls, group: typer.Typer) -> Command:
        """The click group of typer app ``group``, commands built on first use."""
        options: dict[str, Any] = {
            "pretty_exceptions_short": group.pretty_exceptions_short,
            "rich_markup_mode": group.rich_markup_mode,
        }
        if group.registered_groups or group.registered_callback:
            return typer.main.get_command(group)  # not needed so far: built as typer does
        bare = copy.copy(group)  # the group's settings without its commands
        bare.registered_commands = []
        built = typer.main.get_group_from_info(
            TyperInfo(bare, cls=cls), suggest_commands=group.suggest_commands, **options
        )
        assert isinstance(built, cls)
        built.options = options
        built.lazy = {
            info.name or typer.main.get_command_name(info.callback.__name__): info
            for info in group.registered_commands
            if info.callback is not None
        }
        return built

    def list_commands(self, ctx: Context) -> list[str]:
        return [*self.lazy, *(n for n in super().list_commands(ctx) if n not in self.lazy)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in self.lazy:
            command = typer.main.get_command_from_info(self.lazy[cmd_name], **self.options)
            self.add_command(command, cmd_name)
        return command


app = typer.Typer(
    name="fluvius",
    cls=_LazyGroup,
    help="Incremental computation graphs for live trading analytics.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
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
    """Entry point of the ``fluvius`` script.

    Run as the script (``argv`` None), a command that has closed everything it wrote and
    asked for it (:func:`fluvius.cli.output.exit_fast_when_done`) ends the process without
    the interpreter's finalisation: tearing down numpy's and pyarrow's modules takes
    about 30 ms, a tenth of ``fluvius iex decode`` on a 70 MB capture. Called with
    ``argv`` (tests, other programs), ``main`` returns or raises as usual.
    """
    if argv is not None:
        return app(args=argv)
    try:
        return app(args=sys.argv[1:])
    except SystemExit as done:
        if output.fast_exit_requested():
            output.exit_now(done.code)
        raise
