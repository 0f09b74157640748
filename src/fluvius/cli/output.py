"""Output for people (rich, on stderr unless asked) and for programs (one JSON document).

``--json`` writes exactly one JSON document to stdout. NaN and infinities become ``null``
(ARCHITECTURE.md), numpy arrays become lists, numpy scalars plain numbers, tuples lists;
any other object is written as its ``repr`` string.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from rich.console import Console

__all__ = ["err_console", "jsonable", "print_json"]

err_console = Console(stderr=True, highlight=False)


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
