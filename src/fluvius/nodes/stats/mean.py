"""Running mean of a whole stream: Welford's update, mergeable (Chan et al.)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fluvius.nodes.stats.base import NAN, Univariate

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["Mean"]


class Mean(Univariate):
    """Mean of every observation so far.

    Attributes
    ----------
    n
        Number of observations.

    Notes
    -----
    ``mean += (x - mean) / n`` (Welford), on values shifted by the first observation (exact
    for values within a factor two of it), so a large common offset costs no precision:
    after 10^7 observations of ``1e9 + noise`` the result is within 1e-9 relative of
    ``math.fsum`` (checked by ``benchmarks/stats.py --stability``). ``revert`` removes an
    observation; ``merge`` combines two streams' means weighted by their counts (Chan, Golub
    and LeVeque). ``update_many`` takes a numpy batch in one pass (pairwise-summed mean) and
    merges it. NaN before the first observation; a NaN observation makes the mean NaN from
    then on.

    Examples
    --------
    >>> m = Mean()
    >>> for x in (1.0, 2.0, 6.0):
    ...     m.update(x)
    ...     print(m.get())
    1.0
    1.5
    3.0
    >>> m.revert(6.0)
    >>> m.get()
    1.5

    References
    ----------
    Chan, Golub and LeVeque (1979), *Updating formulae and a pairwise algorithm for computing
    sample variances*.
    """

    __slots__ = ("_k", "_my", "n")

    def __init__(self) -> None:
        self.n = 0
        self._k = 0.0  # the shift: the first observation
        self._my = 0.0  # mean of the shifted values

    def update(self, x: float) -> None:
        """Take one observation."""
        n = self.n + 1
        self.n = n
        if n == 1:
            self._k = x
        self._my += (x - self._k - self._my) / n

    def revert(self, x: float) -> None:
        """Forget observation ``x``, given earlier."""
        n = self.n - 1
        if n < 0:
            raise ValueError("Mean.revert: no observation to revert")
        self.n = n
        self._my = self._my - (x - self._k - self._my) / n if n else 0.0

    def update_many(self, xs: Iterable[float]) -> None:
        """Take a batch of observations in one numpy pass, then merge it in."""
        arr = np.asarray(xs, dtype=np.float64)
        if arr.size:
            if not self.n:
                self._k = float(arr[0])
            self._combine(arr.size, float((arr - self._k).mean()))

    def _combine(self, n2: int, my2: float) -> None:
        n = self.n + n2
        self._my += (my2 - self._my) * (n2 / n)
        self.n = n

    def merge(self, other: Mean) -> Mean:
        """A new Mean of both streams; neither operand changes."""
        self._check_merge(other)
        out = Mean()
        src = self if self.n else other
        out.n, out._k, out._my = src.n, src._k, src._my
        if self.n and other.n:
            out._combine(other.n, (other._k - self._k) + other._my)
        return out

    def get(self) -> float:
        """The mean (NaN before the first observation)."""
        return self._k + self._my if self.n else NAN
