"""Values as JSON: the one conversion behind ``--json`` output and the live HTTP API.

NaN and infinities become ``null``, numpy arrays become lists, numpy scalars plain numbers,
tuples lists; any other object is written as its ``repr`` string.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["jsonable"]


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
