"""Rolling variance and standard deviation: Welford's update with windowed removal."""

from __future__ import annotations

import math
from collections import deque

from fluvius.nodes.stats.base import NAN, Univariate, check_period, check_window, push_time

__all__ = ["RollingStd", "RollingVar"]


class RollingVar(Univariate):
    """Variance of the last ``window`` observations, or of those of the last ``period``.

    Parameters
    ----------
    window
        Count window: the number of most recent observations.
    period
        Time window (instead of ``window``): observations with ``t > t_now - period``;
        ``update`` then needs ``t``.
    ddof
        Delta degrees of freedom: the divisor is ``n - ddof`` (1: sample variance).

    Attributes
    ----------
    mean
        Mean of the window.
    n
        Number of observations in the window.

    Notes
    -----
    Welford's update adds an observation (``d = x - mean; mean += d / n; m2 += d * (x -
    mean)``) and its inverse removes the one leaving the window, O(1). Both work on
    deviations from the running mean, and on values shifted by one of the window's values
    (as :class:`~fluvius.nodes.stats.Var`), so a large common offset (prices near 1e9) costs
    no precision, where ``sum(x**2) - n * mean**2`` would cancel catastrophically. Removal
    still lets rounding pile up, so mean and ``m2`` are recomputed exactly (two-pass,
    ``math.fsum``) once per window length of updates: O(1) amortised. A window whose
    observations are all equal has variance exactly 0.0 (tracked by the length of the
    trailing run of equal values), so a flat price gives 0 rather than rounding noise.

    Warm-up: NaN while the window holds ``ddof`` observations or fewer (pandas
    ``rolling(window, min_periods=ddof + 1).var(ddof=ddof)``). A NaN observation makes the
    result NaN for as long as it is in the window.

    Examples
    --------
    >>> v = RollingVar(window=3)
    >>> for x in (1.0, 3.0, 5.0, 5.0, 5.0):
    ...     v.update(x)
    ...     print(round(v.get(), 12))
    nan
    2.0
    4.0
    1.333333333333
    0.0
    """

    __slots__ = (
        "_fresh",
        "_k",
        "_last",
        "_m2",
        "_my",
        "_nan",
        "_run",
        "_ts",
        "_xs",
        "ddof",
        "period",
        "window",
    )
    _params = ("window", "period", "ddof")

    def __init__(
        self, window: int | None = None, *, period: float | None = None, ddof: int = 1
    ) -> None:
        owner = type(self).__name__
        self.window, self.period = check_period(owner, window, period)
        self.ddof = check_window(owner, ddof, name="ddof", least=0)
        self._xs: deque[float] = deque()
        self._ts: deque[float] = deque()
        self._k = NAN  # shift: a value of the window, re-chosen at each exact recomputation
        self._my = 0.0  # mean of the shifted values
        self._m2 = 0.0
        self._nan = 0
        self._run = 0  # length of the trailing run of equal observations
        self._last = NAN
        self._fresh = 0

    @property
    def n(self) -> int:
        """Number of observations in the window."""
        return len(self._xs)

    @property
    def mean(self) -> float:
        """Mean of the window (NaN when empty or holding a NaN)."""
        return self._k + self._my if self._xs and not self._nan else NAN

    def update(self, x: float, t: float | None = None) -> None:
        """Take observation ``x`` (at time ``t`` for a time window)."""
        window = self.window
        if window is None:
            push_time(type(self).__name__, self._ts, t)
        xs = self._xs
        xs.append(x)
        if x == self._last:
            self._run += 1
        else:
            self._run = 1
            self._last = x
        if x == x:
            if self._k != self._k:
                self._k = x
            n = len(xs) - self._nan
            y = x - self._k
            d = y - self._my
            self._my += d / n
            self._m2 += d * (y - self._my)
        else:
            self._nan += 1
        if window is not None:
            if len(xs) > window:
                self._remove(xs.popleft())
        else:
            self._evict()
        self._fresh += 1
        if self._fresh > len(xs):
            self._recompute()

    def _remove(self, old: float) -> None:
        if old != old:
            self._nan -= 1
            return
        n = len(self._xs) - self._nan
        if n == 0:
            self._my = self._m2 = 0.0
            return
        y = old - self._k
        d = y - self._my
        self._my -= d / n
        self._m2 -= d * (y - self._my)

    def _recompute(self) -> None:
        values = [v for v in self._xs if v == v]
        if values:
            k = values[0]
            ys = [v - k for v in values]
            my = math.fsum(ys) / len(ys)
            self._k = k
            self._my = my
            self._m2 = math.fsum([(y - my) * (y - my) for y in ys])
        self._fresh = 0

    def _evict(self) -> None:
        ts = self._ts
        cut = ts[-1] - self.period  # type: ignore[operator]
        while ts[0] <= cut:
            ts.popleft()
            self._remove(self._xs.popleft())

    def get(self) -> float:
        """The variance of the window (NaN while undefined)."""
        n = len(self._xs)
        if n <= self.ddof or self._nan:
            return NAN
        if self._run >= n:
            return 0.0
        m2 = self._m2
        return (m2 if m2 > 0.0 else 0.0) / (n - self.ddof)


class RollingStd(RollingVar):
    """Standard deviation of a count or time window: the square root of :class:`RollingVar`.

    This is the ``rolling_std`` spec op (params ``window``, ``ddof`` default 1; NaN below
    ``ddof + 1`` observations).

    Examples
    --------
    >>> s = RollingStd(window=2)
    >>> for x in (1.0, 3.0, 4.0):
    ...     s.update(x)
    ...     print(round(s.get(), 6))
    nan
    1.414214
    0.707107
    """

    __slots__ = ()

    def get(self) -> float:
        """The standard deviation of the window (NaN while undefined)."""
        return math.sqrt(RollingVar.get(self))
