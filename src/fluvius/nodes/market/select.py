"""Pick one field of a value: a named tuple's (``KSResult.statistic``) or an event's."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["get_field"]


def get_field(value: Any, *, name: str) -> Any:
    """``value.name`` (NaN when ``value`` is None), for spec files that need one field.

    >>> from fluvius.nodes.monitoring import KSResult
    >>> get_field(KSResult(0.5, 0.01), name="pvalue"), get_field(None, name="pvalue")
    (0.01, nan)
    """
    if value is None:
        return math.nan
    try:
        return getattr(value, name)
    except AttributeError:
        raise AttributeError(f"get_field: {type(value).__name__} has no field {name!r}") from None
