"""Robust z-score: distance from the rolling median in units of the rolling MAD."""

from __future__ import annotations

import math
from bisect import bisect_left

from fluvius.nodes.stats.base import NAN, Univariate
from fluvius.nodes.stats.quantile import RollingQuantile

__all__ = ["RobustZScore"]

MAD_TO_SIGMA = 1.482602218505602
"""1 / Φ⁻¹(3/4): the MAD of a normal distribution times this is its standard deviation."""


def mad_of_sorted(s: list[float], median: float) -> float:
    """Median absolute deviation of sorted ``s`` from ``median``, in O(log n).

    The deviations of the values below the median, read downwards, and those of the values
    from the median up, read upwards, are two sorted sequences (never built: each element is
    computed when needed). Their k-th smallest element is found by bisecting how many of the
    k + 1 smallest come from the first sequence (the "median of two sorted arrays" search).

    >>> mad_of_sorted([1.0, 2.0, 3.0, 4.0, 100.0], 3.0)
    1.0
    """
    n = len(s)
    split = bisect_left(s, median)  # s[:split] < median <= s[split:]

    def kth(k: int) -> float:
        # a(i) = median - s[split - 1 - i] (i < split), b(j) = s[split + j] - median
        lo, hi = max(0, k + 1 - (n - split)), min(k + 1, split)
        while lo < hi:
            i = (lo + hi) // 2
            j = k + 1 - i  # take i deviations from below and j from above
            if j > 0 and median - s[split - 1 - i] < s[split + j - 1] - median:
                lo = i + 1
            else:
                hi = i
        i = lo
        j = k + 1 - i
        below = median - s[split - i] if i > 0 else -math.inf
        above = s[split + j - 1] - median if j > 0 else -math.inf
        return below if below > above else above

    half = (n - 1) / 2
    return (kth(int(half)) + kth(int(half + 0.5))) / 2


class RobustZScore(Univariate):
    """``(x - median) / (1.4826 * MAD)`` over the ``window`` observations *before* ``x``.

    Parameters
    ----------
    window
        Number of past observations the median and MAD are taken over.

    Notes
    -----
    Median and median absolute deviation are hardly moved by the outliers themselves (50 %
    breakdown point), so a burst of spikes does not hide the next one, as it does with a
    mean and standard deviation. The factor 1.4826 makes the MAD estimate the standard
    deviation of normal data, so thresholds read as for z-scores. State: a
    :class:`~fluvius.nodes.stats.RollingQuantile` (sorted list; O(log n) search + O(n)
    memmove per update); the MAD is found in the sorted window by bisection, O(log n), so
    the whole update is O(log n) comparisons plus the memmove. NaN until the window is full, when
    the MAD is zero (over half the window equal), or while a NaN is in the window.

    Examples
    --------
    >>> z = RobustZScore(window=4)
    >>> for x in (1.0, 2.0, 3.0, 4.0, 2.5, 40.0):
    ...     z.update(x)
    ...     print(round(z.get(), 4))
    nan
    nan
    nan
    nan
    0.0
    50.2495
    """

    __slots__ = ("_q", "_z", "window")
    _params = ("window",)

    def __init__(self, window: int = 50) -> None:
        self._q = RollingQuantile(0.5, window)
        self.window = window
        self._z = NAN

    def update(self, x: float) -> None:
        """Score ``x`` against the window of past observations, then take it in."""
        q = self._q
        s = q._sorted
        z = NAN
        if len(q._xs) == self.window and not q._nan:
            med = q.get()
            mad = mad_of_sorted(s, med)
            if mad > 0.0:
                z = (x - med) / (MAD_TO_SIGMA * mad)
        self._z = z
        q.update(x)

    def get(self) -> float:
        """The score of the latest observation (NaN while undefined)."""
        return self._z
