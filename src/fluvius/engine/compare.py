"""Comparing the values of two runs, NaN-aware, reporting the first differing keys.

``serial.values == process.values`` is False as soon as one node holds NaN, because NaN
never equals itself (the change cutoff relies on that). :func:`compare_values` compares
two key → value mappings the way a person means "the same results":

- floats are equal when ``==`` says so, or when both are NaN (any NaN); with ``rel_tol``
  or ``abs_tol`` they may differ by that much (:func:`math.isclose`);
- numbers of different types compare by value (``1 == 1.0``, a numpy scalar and a float),
  so a run compares with its own ``--json`` document;
- lists, tuples and numpy arrays element by element, of the same length (shape);
  mappings key by key;
- anything else with ``==``.

The result lists the differing keys in the order of the first mapping (a run's values are
in rank order, so the first listed is upstream of the others), then the keys only in the
second.

>>> nan = float("nan")
>>> same = compare_values({"a": nan, "b": [1.0, nan]}, {"a": nan, "b": [1, nan]})
>>> same.same, (nan == nan)
(True, False)
>>> diff = compare_values({"a": 1.0, "b": nan, "c": 3.0}, {"a": 1.0, "b": 2.0, "d": 4.0})
>>> print(diff)
3 of 4 keys differ; first: b (nan vs 2.0), c (only in the first), d (only in the second)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Comparison", "ValueDiff", "compare_values", "same_value"]

_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class ValueDiff:
    """One key whose values differ; ``left``/``right`` are None where the key is missing
    (``in_left``/``in_right`` say which)."""

    key: str
    left: Any
    right: Any
    in_left: bool = True
    in_right: bool = True

    def __str__(self) -> str:
        if not self.in_right:
            return f"{self.key} (only in the first)"
        if not self.in_left:
            return f"{self.key} (only in the second)"
        return f"{self.key} ({_short(self.left)} vs {_short(self.right)})"


@dataclass(frozen=True, slots=True)
class Comparison:
    """The outcome of :func:`compare_values`.

    ``first`` holds up to ``limit`` differences in key order; ``differing`` counts them
    all; ``compared`` counts the keys of both mappings together.
    """

    first: tuple[ValueDiff, ...]
    differing: int
    compared: int

    @property
    def same(self) -> bool:
        """True when no key differs."""
        return self.differing == 0

    def __bool__(self) -> bool:
        return self.same

    def __str__(self) -> str:
        if self.same:
            return f"all {self.compared:,} keys equal (NaN equal to NaN)"
        shown = ", ".join(str(d) for d in self.first)
        more = "" if len(self.first) == self.differing else ", …"
        return f"{self.differing:,} of {self.compared:,} keys differ; first: {shown}{more}"


def _short(value: Any, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def same_value(a: Any, b: Any, rel_tol: float = 0.0, abs_tol: float = 0.0) -> bool:
    """Whether two values are equal, NaN equal to NaN (see the module docstring).

    >>> same_value(float("nan"), float("nan")), same_value(0.1 + 0.2, 0.3)
    (True, False)
    >>> same_value(0.1 + 0.2, 0.3, rel_tol=1e-12)
    True
    """
    if a is b:
        return True
    if isinstance(a, numbers.Real) and isinstance(b, numbers.Real):
        if isinstance(a, bool) is not isinstance(b, bool):
            return False
        if a == b:
            return True
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        return (rel_tol > 0 or abs_tol > 0) and math.isclose(
            fa, fb, rel_tol=rel_tol, abs_tol=abs_tol
        )
    seq_a, seq_b = _as_sequence(a), _as_sequence(b)
    if (seq_a is None) is not (seq_b is None):
        return False  # a sequence or array against a scalar
    if seq_a is not None and seq_b is not None:
        if _shape(a) != _shape(b) or len(seq_a) != len(seq_b):
            return False
        return all(same_value(x, y, rel_tol, abs_tol) for x, y in zip(seq_a, seq_b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same_value(a[k], b[k], rel_tol, abs_tol) for k in a)
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # e.g. an array against a scalar
        return False


def _as_sequence(value: Any) -> list[Any] | tuple[Any, ...] | None:
    if isinstance(value, list | tuple):
        return value
    tolist = getattr(value, "tolist", None)
    if tolist is not None and getattr(value, "ndim", 0) > 0:  # a numpy array
        listed = tolist()
        return listed if isinstance(listed, list) else None
    return None


def _shape(value: Any) -> tuple[int, ...] | None:
    shape = getattr(value, "shape", None)
    return tuple(shape) if shape is not None and getattr(value, "ndim", 0) > 1 else None


def compare_values(
    left: Mapping[str, Any],
    right: Mapping[str, Any],
    *,
    limit: int = 10,
    rel_tol: float = 0.0,
    abs_tol: float = 0.0,
) -> Comparison:
    """Compare two key → value mappings (two runs' ``values``), NaN-aware.

    Parameters
    ----------
    left, right
        The mappings, e.g. ``RunReport.values`` of two runs, or the ``values`` of two
        ``fluvius run --json`` documents.
    limit
        How many differences :attr:`Comparison.first` keeps (all are counted).
    rel_tol, abs_tol
        Float tolerances (:func:`math.isclose`); the default 0 asks for equal values.
    """
    if limit < 0:
        raise ValueError(f"compare_values: limit must be >= 0, got {limit=}")
    first: list[ValueDiff] = []
    differing = 0
    for key, value in left.items():
        other = right.get(key, _MISSING)
        if other is _MISSING:
            diff = ValueDiff(key, value, None, in_right=False)
        elif same_value(value, other, rel_tol, abs_tol):
            continue
        else:
            diff = ValueDiff(key, value, other)
        differing += 1
        if len(first) < limit:
            first.append(diff)
    for key, other in right.items():
        if key not in left:
            differing += 1
            if len(first) < limit:
                first.append(ValueDiff(key, None, other, in_left=False))
    compared = len(left) + sum(1 for k in right if k not in left)
    return Comparison(tuple(first), differing, compared)
