"""Running variance and standard deviation of a whole stream: Welford, mergeable (Chan)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from fluvius.nodes.stats.base import NAN, Univariate, check_window

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["Std", "Var"]


class Var(Univariate):
    """Variance of every observation so far.

    Parameters
    ----------
    ddof
        Delta degrees of freedom: the divisor is ``n - ddof`` (1: sample variance).

    Attributes
    ----------
    n
        Number of observations.
    mean
        Their mean.

    Notes
    -----
    Welford's update: ``d = x - mean; mean += d / n; m2 += d * (x - mean)``, on values
    shifted by the first observation ``k`` (``x - k`` is exact for values within a factor
    two of ``k``, Sterbenz). Welford alone works on deviations from the mean, but the mean
    of prices near 1e9 carries rounding errors of 1e-7 that bias ``m2`` by as much
    (relative); shifted, the mean is near 0 and keeps 16 digits. The textbook
    ``sum(x**2) - n * mean**2`` loses everything. After 10^7 updates of ``1e9 + N(0, 1)``
    the result is within 1e-9 relative of an exact reference (``benchmarks/stats.py
    --stability``). ``merge`` uses Chan et al.'s pairwise formula
    ``m2 = m2_a + m2_b + d**2 * n_a * n_b / n``; ``update_many`` computes a numpy batch's
    mean and ``m2`` in two passes and merges it. NaN while ``n <= ddof``.

    Examples
    --------
    >>> v = Var()
    >>> for x in (2.0, 4.0, 9.0):
    ...     v.update(x)
    ...     print(v.get())
    nan
    2.0
    13.0
    >>> v.revert(9.0)
    >>> v.get()
    2.0

    References
    ----------
    Welford (1962), *Note on a method for calculating corrected sums of squares and
    products*. Chan, Golub and LeVeque (1979).
    """

    __slots__ = ("_k", "_m2", "_my", "_n", "ddof")
    _params = ("ddof",)

    def __init__(self, ddof: int = 1) -> None:
        self.ddof = check_window(type(self).__name__, ddof, name="ddof", least=0)
        self._n = 0.0  # a float: int arithmetic above 256 allocates, and the division converts
        self._k = 0.0  # the shift: the first observation
        self._my = 0.0  # mean of the shifted values
        self._m2 = 0.0

    @property
    def n(self) -> int:
        """Number of observations."""
        return int(self._n)

    @property
    def mean(self) -> float:
        """The mean of the observations (NaN before the first)."""
        return self._k + self._my if self._n else math.nan

    def update(self, x: float) -> None:
        """Take one observation."""
        n = self._n + 1.0
        self._n = n
        if n == 1.0:
            self._k = x
        y = x - self._k
        my = self._my
        d = y - my
        my += d / n
        self._my = my
        self._m2 += d * (y - my)

    def revert(self, x: float) -> None:
        """Forget observation ``x``, given earlier."""
        n = self._n - 1.0
        if n < 0.0:
            raise ValueError(f"{type(self).__name__}.revert: no observation to revert")
        self._n = n
        if n == 0.0:
            self._my = self._m2 = 0.0
            return
        y = x - self._k
        d = y - self._my
        self._my -= d / n
        self._m2 -= d * (y - self._my)

    def update_many(self, xs: Iterable[float]) -> None:
        """Take a batch of observations (two numpy passes), then merge it in."""
        arr = np.asarray(xs, dtype=np.float64)
        if arr.size:
            mean = float(arr.mean())  # pairwise summation: accurate whatever the offset
            dev = arr - mean
            if not self._n:
                self._k = mean  # any value near the data will do as the shift
            # einsum, not a BLAS dot: a BLAS thread pool can stall on a busy machine
            self._combine(float(arr.size), mean - self._k, float(np.einsum("i,i->", dev, dev)))

    def _combine(self, n2: float, my2: float, m22: float) -> None:
        """Merge a batch of ``n2`` values whose mean *in this shift* is ``my2``."""
        n1 = self._n
        n = n1 + n2
        d = my2 - self._my
        self._my += d * (n2 / n)
        self._m2 += m22 + d * d * (n1 * n2 / n)
        self._n = n

    def merge(self, other: Var) -> Var:
        """A new estimator of both streams (Chan et al.); neither operand changes."""
        self._check_merge(other)
        out = type(self)(self.ddof)
        src = self if self._n else other
        out._n, out._k, out._my, out._m2 = src._n, src._k, src._my, src._m2
        if self._n and other._n:
            out._combine(other._n, (other._k - self._k) + other._my, other._m2)
        return out

    def get(self) -> float:
        """The variance (NaN while ``n <= ddof``)."""
        n = self._n
        if n <= self.ddof:
            return NAN
        m2 = self._m2
        return (m2 if m2 > 0.0 else 0.0) / (n - self.ddof)


class Std(Var):
    """Standard deviation of every observation so far: the square root of :class:`Var`.

    Examples
    --------
    >>> s = Std()
    >>> for x in (2.0, 4.0, 6.0):
    ...     s.update(x)
    ...     print(s.get())
    nan
    1.4142135623730951
    2.0
    """

    __slots__ = ()

    def get(self) -> float:
        """The standard deviation (NaN while ``n <= ddof``)."""
        return math.sqrt(Var.get(self))
