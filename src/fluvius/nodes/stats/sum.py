"""Running sum of a whole stream, compensated (Neumaier), mergeable."""

from __future__ import annotations

from fluvius.nodes.stats.base import Univariate

__all__ = ["Sum"]


class Sum(Univariate):
    """Sum of every observation so far, with compensated summation.

    Attributes
    ----------
    n
        Number of observations.

    Notes
    -----
    Neumaier's variant of Kahan summation carries the rounding error of each addition in a
    second float, so the result is about as accurate as if it were computed with twice the
    precision (a plain running sum of 10^7 values near 1e9 is off by several hundred; this
    one matches ``math.fsum`` there). A comparison and three more additions per update.
    ``merge`` adds the sums and their compensations; ``revert`` adds ``-x``.

    Examples
    --------
    >>> s = Sum()
    >>> for x in (1e16, 1.0, -1e16):
    ...     s.update(x)
    ...     print(s.get())
    1e+16
    1e+16
    1.0

    References
    ----------
    Neumaier (1974), *Rundungsfehleranalyse einiger Verfahren zur Summation endlicher
    Summen*.
    """

    __slots__ = ("_c", "_s", "n")

    def __init__(self) -> None:
        self.n = 0
        self._s = 0.0
        self._c = 0.0  # the compensation: the low-order part lost by the additions

    def update(self, x: float) -> None:
        """Take one observation."""
        self.n += 1
        s = self._s
        t = s + x
        if abs(s) >= abs(x):
            self._c += (s - t) + x
        else:
            self._c += (x - t) + s
        self._s = t

    def revert(self, x: float) -> None:
        """Forget observation ``x``, given earlier."""
        self.update(-x)
        self.n -= 2

    def merge(self, other: Sum) -> Sum:
        """A new Sum of both streams; neither operand changes."""
        self._check_merge(other)
        out = Sum()
        out._s, out._c, out.n = self._s, self._c, self.n
        out.update(other._s)
        out._c += other._c
        out.n += other.n - 1
        return out

    def get(self) -> float:
        """The sum (0.0 before the first observation)."""
        return self._s + self._c
