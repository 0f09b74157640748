"""Rolling z-score: how many window standard deviations an observation is from the mean."""

from __future__ import annotations

import math

from fluvius.nodes.stats.base import NAN, Univariate
from fluvius.nodes.stats.rolling_var import RollingVar

__all__ = ["RollingZScore"]


class RollingZScore(Univariate):
    """``(x - rolling mean) / rolling std``, both over the window *including* ``x``.

    This is the ``zscore`` spec op (param ``window``).

    Parameters
    ----------
    window
        Count window: the number of most recent observations, ``x`` included.
    period
        Time window (instead of ``window``); ``update`` then needs ``t``.

    Notes
    -----
    Mean and sample standard deviation (ddof 1) come from :class:`RollingVar` (Welford with
    windowed removal, O(1) amortised). NaN while undefined: fewer than two observations, a
    standard deviation of zero (a flat window: every observation equals the mean), or a NaN
    in the window. Because ``x`` is part of its own window, ``|z|`` cannot exceed
    ``(n - 1) / sqrt(n)`` for ``n`` observations: a lone spike in a window of 20 scores at
    most 4.25. To score an observation against the past only, use
    :class:`~fluvius.nodes.anomaly.EWZScore` or :class:`~fluvius.nodes.anomaly.RobustZScore`.

    Examples
    --------
    >>> z = RollingZScore(window=3)
    >>> for x in (1.0, 2.0, 3.0, 3.0, 9.0):
    ...     z.update(x)
    ...     print(round(z.get(), 6))
    nan
    0.707107
    1.0
    0.57735
    1.154701
    """

    __slots__ = ("_var", "_x", "period", "window")
    _params = ("window", "period")

    def __init__(self, window: int | None = None, *, period: float | None = None) -> None:
        self._var = RollingVar(window, period=period, ddof=1)
        self.window = self._var.window
        self.period = self._var.period
        self._x = NAN

    def update(self, x: float, t: float | None = None) -> None:
        """Take observation ``x`` (at time ``t`` for a time window)."""
        self._var.update(x, t)
        self._x = x

    def get(self) -> float:
        """The z-score of the latest observation (NaN while undefined)."""
        var = self._var.get()
        if not var > 0.0:  # NaN or a flat window
            return NAN
        return (self._x - self._var.mean) / math.sqrt(var)
