"""Output for people (rich) and for programs (one JSON document).

The convention of every command: results go to stdout, whether for people
(:data:`out_console`: tables, summaries, reports) or for programs (``--json``: exactly one
JSON document, :func:`print_json`); progress bars, logs ("wrote FILE") and errors go to
stderr (:data:`err_console`). So ``fluvius run spec.yaml | less`` shows the results and
``fluvius run spec.yaml --json | jq`` gets JSON only.

``--json`` writes exactly one JSON document to stdout. NaN and infinities become ``null``
(docs/reference/cli-and-spec.md), numpy arrays become lists, numpy scalars plain numbers,
tuples lists; any other object is written as its ``repr`` string.
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "err_console",
    "exit_fast_when_done",
    "exit_now",
    "fast_exit_requested",
    "jsonable",
    "out_console",
    "print_json",
]


class _LazyConsole:
    """A rich ``Console`` on stderr or stdout, made (and rich imported, 60-90 ms) on first use.

    Commands that print nothing rich (``fluvius iex decode`` writes one plain line) never
    pay for it. Every attribute is the real console's. The console is made on first use,
    so it writes to the ``sys.stdout``/``sys.stderr`` of that moment (tests capture them).
    """

    __slots__ = ("_console", "_stderr")

    def __init__(self, *, stderr: bool) -> None:
        self._console: Console | None = None
        self._stderr = stderr

    def __getattr__(self, name: str) -> Any:
        console = self._console
        if console is None:
            from rich.console import Console

            console = self._console = Console(stderr=self._stderr, highlight=False)
        return getattr(console, name)


err_console = cast("Console", _LazyConsole(stderr=True))
"""Progress, logs and errors (stderr)."""

out_console = cast("Console", _LazyConsole(stderr=False))
"""Results for people: tables, summaries, reports (stdout)."""


def jsonable(value: Any) -> Any:
    """A JSON-ready copy of ``value`` (see the module docstring).

    >>> jsonable({"a": float("nan"), "b": (1, 2.5, float("inf")), "c": None})
    {'a': None, 'b': [1, 2.5, None], 'c': None}
    """
    cls = value.__class__
    if cls is float:
        return value if math.isfinite(value) else None
    if cls is int or cls is str or cls is bool or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if tolist is not None:
        return jsonable(tolist())
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, int):
        return int(value)
    return repr(value)


def print_json(document: Any) -> None:
    """Write ``document`` as one JSON document on stdout."""
    sys.stdout.write(json.dumps(jsonable(document), allow_nan=False))
    sys.stdout.write("\n")
    sys.stdout.flush()


_FAST_EXIT: list[bool] = []


def exit_fast_when_done() -> None:
    """Let the ``fluvius`` script end this process without finalisation (see ``main``).

    Call it only when the command has closed every file it wrote and started no process
    or thread that is still running; the script still flushes stdout and stderr.
    """
    _FAST_EXIT.append(True)


def fast_exit_requested() -> bool:
    """Whether a command called :func:`exit_fast_when_done`."""
    return bool(_FAST_EXIT)


def exit_now(code: object) -> None:
    """Flush stdout and stderr and end the process with ``code`` (``SystemExit``'s)."""
    sys.stdout.flush()
    sys.stderr.flush()
    status = code if isinstance(code, int) else (0 if code is None else 1)
    os._exit(status)
