"""Turning library errors into one-line CLI messages (exit code 1), tracebacks on --verbose."""

from __future__ import annotations

import sys
import traceback
from contextlib import contextmanager
from typing import TYPE_CHECKING

from fluvius.cli.output import err_console
from fluvius.errors import FluviusError, NodeError, SpecError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["fail", "user_errors"]

_HINTS: dict[type[BaseException], str] = {
    SpecError: "check the file at the place named above",
    NodeError: "run with --verbose for the node's traceback",
}


def fail(message: str, hint: str = "", code: int = 1) -> None:
    """Print a one-line error (and a hint) on stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    if hint:
        err_console.print(f"[dim]hint: {hint}[/]", markup=True, soft_wrap=True)
    raise SystemExit(code)


@contextmanager
def user_errors(verbose: bool) -> Iterator[None]:
    """Map FluviusError (and a missing file) to :func:`fail`; keep internal errors loud."""
    try:
        yield
    except (FluviusError, FileNotFoundError, IsADirectoryError) as exc:
        if verbose:
            traceback.print_exception(exc, file=sys.stderr)
            if isinstance(exc, NodeError):
                sys.stderr.write("\n--- the node's own traceback ---\n" + exc.remote_traceback)
        text = str(exc) if not isinstance(exc, OSError) else f"{exc.strerror}: {exc.filename}"
        hint = next((h for t, h in _HINTS.items() if isinstance(exc, t)), "")
        fail(" ".join(text.split()), "" if verbose else hint)
