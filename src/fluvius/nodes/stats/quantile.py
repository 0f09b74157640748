"""Rolling quantile over a count or time window: a sorted list kept with bisection."""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque

from fluvius.nodes.stats.base import NAN, Univariate, check_period, time_error

__all__ = ["RollingQuantile"]


class RollingQuantile(Univariate):
    """The ``q`` quantile of the last ``window`` observations, or of the last ``period``.

    Parameters
    ----------
    q
        The quantile, in [0, 1] (0.5: the median).
    window
        Count window: the number of most recent observations.
    period
        Time window (instead of ``window``); ``update`` then needs ``t``.

    Notes
    -----
    State: the window's observations in arrival order (a deque) and in sorted order (a
    Python list). An update inserts the new value with ``bisect.insort`` and deletes the
    leaving one found by ``bisect_left``: O(log n) comparisons plus an O(n) ``memmove`` of
    pointers, which is a few nanoseconds per thousand elements, so it beats two heaps with
    lazy deletion (O(log n) but with Python-level sifting) for windows up to tens of
    thousands. ``get`` is O(1): linear interpolation between the two nearest order
    statistics, numpy's default (``method="linear"``; pandas ``rolling().quantile(q)``).
    Before the window fills, over the observations so far. NaN while the window is empty
    or holds a NaN.

    Examples
    --------
    >>> med = RollingQuantile(0.5, window=3)
    >>> for x in (5.0, 1.0, 3.0, 10.0, 0.0):
    ...     med.update(x)
    ...     print(med.get())
    5.0
    3.0
    3.0
    3.0
    3.0
    """

    __slots__ = ("_nan", "_sorted", "_ts", "_xs", "period", "q", "window")
    _params = ("q", "window", "period")

    def __init__(
        self, q: float = 0.5, window: int | None = None, *, period: float | None = None
    ) -> None:
        owner = type(self).__name__
        if isinstance(q, bool) or not isinstance(q, int | float) or not 0.0 <= q <= 1.0:
            raise ValueError(f"{owner}: q must be in [0, 1], got {q=}")
        self.q = q
        self.window, self.period = check_period(owner, window, period)
        self._xs: deque[float] = deque()
        self._ts: deque[float] = deque()
        self._sorted: list[float] = []
        self._nan = 0

    @property
    def sorted_values(self) -> list[float]:
        """The window's observations (NaNs left out), sorted (a copy)."""
        return list(self._sorted)

    def update(self, x: float, t: float | None = None) -> None:
        """Take observation ``x`` (at time ``t`` for a time window)."""
        if self.window is None:
            ts = self._ts
            if t is None or (ts and t < ts[-1]):
                raise time_error(type(self).__name__, t, ts[-1] if ts else NAN)
            ts.append(t)
        self._xs.append(x)
        if x == x:
            insort(self._sorted, x)
        else:
            self._nan += 1
        if self.window is not None:
            if len(self._xs) > self.window:
                self._remove(self._xs.popleft())
        else:
            ts = self._ts
            cut = t - self.period  # type: ignore[operator]
            while ts[0] <= cut:
                ts.popleft()
                self._remove(self._xs.popleft())

    def _remove(self, old: float) -> None:
        if old == old:
            s = self._sorted
            del s[bisect_left(s, old)]
        else:
            self._nan -= 1

    def get(self) -> float:
        """The quantile of the window (NaN when empty or holding a NaN)."""
        s = self._sorted
        if not s or self._nan:
            return NAN
        pos = self.q * (len(s) - 1)
        lo = math.floor(pos)
        frac = pos - lo
        if frac == 0.0:
            return s[lo]
        a, b = s[lo], s[lo + 1]
        return a + (b - a) * frac
