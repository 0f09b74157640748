"""Rolling minimum and maximum over a count or time window: a monotonic deque."""

from __future__ import annotations

import math
from collections import deque

from fluvius.nodes.stats.base import NAN, Univariate, check_period, time_error

__all__ = ["RollingMax", "RollingMin"]


class _RollingExtremum(Univariate):
    """Shared machinery: a deque of ``(position, value)`` kept monotonic."""

    __slots__ = ("_i", "_nan_at", "_q", "period", "window")
    _params = ("window", "period")
    _sign = 1.0  # +1 keeps the minimum at the front, -1 the maximum

    def __init__(self, window: int | None = None, *, period: float | None = None) -> None:
        self.window, self.period = check_period(type(self).__name__, window, period)
        self._q: deque[tuple[float, float]] = deque()
        # position of the latest observation: a count, or its time
        self._i = 0.0 if self.window is not None else -math.inf
        self._nan_at = -math.inf  # position of the latest NaN observation

    def update(self, x: float, t: float | None = None) -> None:
        """Take observation ``x`` (at time ``t`` for a time window)."""
        q = self._q
        if self.window is not None:
            i = self._i + 1.0
            start = i - self.window
        else:
            if t is None or t < self._i:
                raise time_error(type(self).__name__, t, self._i)
            i = t
            start = t - self.period  # type: ignore[operator]
        self._i = i
        if x != x:
            self._nan_at = i
        else:
            key = x * self._sign
            while q and q[-1][1] * self._sign >= key:
                q.pop()
            q.append((i, x))
        while q and q[0][0] <= start:
            q.popleft()

    def get(self) -> float:
        """The extremum of the window (NaN when empty or holding a NaN)."""
        q = self._q
        span = self.window if self.window is not None else self.period
        start = self._i - span  # type: ignore[operator]
        if not q or self._nan_at > start:
            return NAN
        return q[0][1]


class RollingMin(_RollingExtremum):
    """Minimum of the last ``window`` observations, or of those of the last ``period``.

    This is the ``rolling_min`` spec op (param ``window``).

    Parameters
    ----------
    window
        Count window: the number of most recent observations.
    period
        Time window (instead of ``window``): observations with ``t > t_now - period``;
        ``update`` then needs ``t``.

    Notes
    -----
    A deque holds the observations that can still become the minimum, increasing from
    front to back: a new value first pops every value at the back that is not smaller (they
    can never be the minimum again), and the front leaves once it falls out of the window.
    Each observation is pushed and popped at most once: O(1) amortised, O(window) memory at
    worst. Before the window fills, over the observations so far. NaN while a NaN
    observation is in the window.

    Examples
    --------
    >>> m = RollingMin(window=2)
    >>> for x in (3.0, 1.0, 2.0, 5.0):
    ...     m.update(x)
    ...     print(m.get())
    3.0
    1.0
    1.0
    2.0
    """

    __slots__ = ()
    _sign = 1.0


class RollingMax(_RollingExtremum):
    """Maximum of the last ``window`` observations, or of those of the last ``period``.

    This is the ``rolling_max`` spec op (param ``window``). The algorithm is that of
    :class:`RollingMin` with the order reversed.

    Parameters
    ----------
    window
        Count window: the number of most recent observations.
    period
        Time window (instead of ``window``); ``update`` then needs ``t``.

    Examples
    --------
    >>> m = RollingMax(period=5.0)
    >>> for t, x in ((0.0, 3.0), (1.0, 1.0), (5.5, 2.0), (6.0, 0.5)):
    ...     m.update(x, t=t)
    ...     print(m.get())
    3.0
    3.0
    2.0
    2.0
    """

    __slots__ = ()
    _sign = -1.0
