"""Minimum and maximum of a whole stream, mergeable."""

from __future__ import annotations

from fluvius.nodes.stats.base import NAN, Univariate

__all__ = ["Max", "Min"]


class Min(Univariate):
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

    __slots__ = ("_v", "n")

    def __init__(self) -> None:
        self.n = 0
        self._v = NAN

    def update(self, x: float) -> None:
        """Take one observation."""
        self.n += 1
        if x < self._v or self._v != self._v:
            self._v = x

    def merge(self, other: Min) -> Min:
        """A new Min of both streams; neither operand changes."""
        self._check_merge(other)
        out = Min()
        out.n, out._v = self.n, self._v
        out.update(other._v)
        out.n += other.n - 1
        return out

    def get(self) -> float:
        """The minimum so far."""
        return self._v


class Max(Univariate):
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

    __slots__ = ("_v", "n")

    def __init__(self) -> None:
        self.n = 0
        self._v = NAN

    def update(self, x: float) -> None:
        """Take one observation."""
        self.n += 1
        if x > self._v or self._v != self._v:
            self._v = x

    def merge(self, other: Max) -> Max:
        """A new Max of both streams; neither operand changes."""
        self._check_merge(other)
        out = Max()
        out.n, out._v = self.n, self._v
        out.update(other._v)
        out.n += other.n - 1
        return out

    def get(self) -> float:
        """The maximum so far."""
        return self._v
