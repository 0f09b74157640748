"""Minimum and maximum of a whole stream, mergeable."""

from __future__ import annotations

from typing import Self

from fluvius.nodes.stats.base import NAN, Univariate

__all__ = ["Max", "Min"]


class _Extreme(Univariate):
    """What Min and Max share; each defines only its one-comparison ``update``."""

    __slots__ = ("_n", "_v")

    def __init__(self) -> None:
        self._n = 0.0  # a float: no int allocation per update
        self._v = NAN

    @property
    def n(self) -> int:
        """Number of observations (NaNs included)."""
        return int(self._n)

    def merge(self, other: Self) -> Self:
        """A new estimator of both streams; neither operand changes."""
        self._check_merge(other)
        out = type(self)()
        out._v = self._v
        out.update(other._v)
        out._n = self._n + other._n
        return out

    def get(self) -> float:
        """The extreme so far (NaN before the first observation)."""
        return self._v


class Min(_Extreme):
    """Smallest observation so far (NaN before the first; NaN observations are skipped).

    For a window use :class:`~fluvius.nodes.stats.RollingMin`.

    Examples
    --------
    >>> m = Min()
    >>> for x in (3.0, 5.0, 1.0):
    ...     m.update(x)
    ...     print(m.get())
    3.0
    3.0
    1.0
    """

    __slots__ = ()

    def update(self, x: float) -> None:
        """Take one observation."""
        self._n += 1.0
        v = self._v
        if x < v or v != v:  # v is NaN until the first non-NaN observation
            self._v = x


class Max(_Extreme):
    """Largest observation so far (NaN before the first; NaN observations are skipped).

    For a window use :class:`~fluvius.nodes.stats.RollingMax`.

    Examples
    --------
    >>> m = Max()
    >>> for x in (3.0, 5.0, 1.0):
    ...     m.update(x)
    ...     print(m.get())
    3.0
    5.0
    5.0
    """

    __slots__ = ()

    def update(self, x: float) -> None:
        """Take one observation."""
        self._n += 1.0
        v = self._v
        if x > v or v != v:  # v is NaN until the first non-NaN observation
            self._v = x
