"""Rolling sum over a count window or a time window."""

from __future__ import annotations

import math
from collections import deque

from fluvius.nodes.stats.base import NAN, Univariate, check_period, push_time

__all__ = ["RollingSum"]


class RollingSum(Univariate):
    """Sum of the last ``window`` observations, or of those of the last ``period`` of time.

    Parameters
    ----------
    window
        Count window: the number of most recent observations summed.
    period
        Time window (instead of ``window``): observations with ``t > t_now - period`` are
        summed; ``update`` then needs ``t`` (any unit, non-decreasing).

    Attributes
    ----------
    n
        Number of observations in the window.

    Notes
    -----
    A running sum adds the new observation and subtracts the one leaving the window, O(1).
    Subtraction lets rounding errors pile up (and a large value leaving the window leaves its
    rounding error behind), so the sum is recomputed exactly (``math.fsum``) from the window
    once per window length of updates: O(1) amortised, and the error never grows past that of
    one window's worth of additions. Before the window fills the sum is over the
    observations so far. NaN policy: a NaN observation makes the sum NaN for as long as it
    is in the window (NaNs are counted, never added, so they leave cleanly).

    Examples
    --------
    >>> s = RollingSum(window=2)
    >>> for x in (1.0, 2.0, 4.0, 8.0):
    ...     s.update(x)
    ...     print(s.get())
    1.0
    3.0
    6.0
    12.0

    Over a time window, with irregular ticks:

    >>> s = RollingSum(period=10.0)
    >>> for t, x in ((0.0, 1.0), (4.0, 2.0), (10.0, 4.0), (25.0, 8.0)):
    ...     s.update(x, t=t)
    ...     print(s.get())
    1.0
    3.0
    6.0
    8.0
    """

    __slots__ = ("_fresh", "_nan", "_sum", "_ts", "_xs", "period", "window")
    _params = ("window", "period")

    def __init__(self, window: int | None = None, *, period: float | None = None) -> None:
        self.window, self.period = check_period(type(self).__name__, window, period)
        self._xs: deque[float] = deque()
        self._ts: deque[float] = deque()
        self._sum = 0.0
        self._nan = 0
        self._fresh = 0  # updates since the last exact recomputation

    @property
    def n(self) -> int:
        """Number of observations in the window."""
        return len(self._xs)

    def update(self, x: float, t: float | None = None) -> None:
        """Take observation ``x`` (at time ``t`` for a time window)."""
        window = self.window
        if window is None:
            push_time(type(self).__name__, self._ts, t)
        xs = self._xs
        xs.append(x)
        if x == x:
            self._sum += x
        else:
            self._nan += 1
        if window is not None:
            if len(xs) > window:
                old = xs.popleft()
                if old == old:
                    self._sum -= old
                else:
                    self._nan -= 1
        else:
            self._evict()
        self._fresh += 1
        if self._fresh > len(xs):
            self._sum = math.fsum(v for v in xs if v == v)
            self._fresh = 0

    def _evict(self) -> None:
        ts = self._ts
        cut = ts[-1] - self.period  # type: ignore[operator]
        xs = self._xs
        while ts[0] <= cut:
            ts.popleft()
            old = xs.popleft()
            if old == old:
                self._sum -= old
            else:
                self._nan -= 1

    def get(self) -> float:
        """The sum of the window (0.0 when empty, NaN when it holds a NaN)."""
        return self._sum if not self._nan else NAN
