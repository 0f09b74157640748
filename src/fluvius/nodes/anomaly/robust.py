"""Robust z-score: distance from the rolling median in units of the rolling MAD."""

from __future__ import annotations

from fluvius.nodes.stats.base import NAN, Univariate
from fluvius.nodes.stats.quantile import RollingQuantile

__all__ = ["RobustZScore"]

MAD_TO_SIGMA = 1.482602218505602
"""1 / Φ⁻¹(3/4): the MAD of a normal distribution times this is its standard deviation."""


def mad_of_sorted(s: list[float], median: float) -> float:
    """Median absolute deviation of sorted ``s`` from ``median``, in O(n).

    The deviations below the median, read downwards, and those above, read upwards, are two
    sorted sequences; merging them to the middle gives the median deviation without sorting.

    >>> mad_of_sorted([1.0, 2.0, 3.0, 4.0, 100.0], 3.0)
    1.0
    """
    n = len(s)
    hi = 0
    while hi < n and s[hi] < median:
        hi += 1
    lo = hi - 1  # s[lo] < median <= s[hi]
    target = (n - 1) / 2  # the deviations' median position: mean of ranks k0 and k1
    k0, k1 = int(target), int(target + 0.5)
    prev = cur = 0.0
    for k in range(k1 + 1):
        if lo >= 0 and (hi >= n or median - s[lo] <= s[hi] - median):
            cur = median - s[lo]
            lo -= 1
        else:
            cur = s[hi] - median
            hi += 1
        if k == k0:
            prev = cur
    return (prev + cur) / 2


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
    memmove per update); the MAD is a merge walk over the sorted window, O(window) per
    update (no O(1) algorithm exists for a sliding MAD). NaN until the window is full, when
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
