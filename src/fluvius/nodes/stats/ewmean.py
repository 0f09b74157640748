"""Exponentially weighted mean, per observation or decayed in time for irregular ticks."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from fluvius.nodes.stats.base import NAN, Univariate, check_alpha, time_error

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["EWMean"]

_LN2 = math.log(2.0)


class EWMean(Univariate):
    """Exponentially weighted mean: ``mean += alpha * (x - mean)``.

    This is the ``ewm_mean`` spec op (param ``alpha``; the first observation taken as is).

    Parameters
    ----------
    alpha
        Weight of the newest observation, in (0, 1].
    halflife
        Instead of ``alpha``: after ``halflife`` observations an observation's weight has
        halved (``alpha = 1 - 0.5 ** (1 / halflife)``). When ``update`` is given times
        ``t``, ``halflife`` is in the unit of ``t`` and the weight decays with elapsed time
        (a time-decayed mean needs ``halflife``).

    Notes
    -----
    The first observation is taken as is, then ``mean = (1 - alpha) * mean + alpha * x``
    (pandas ``ewm(alpha=alpha, adjust=False).mean()``; river ``EWMean(fading_factor=alpha)``).

    Irregular ticks: with ``update(x, t=...)`` and a ``halflife``, an observation arriving
    ``dt`` after the previous one gets weight ``alpha = 1 - 2 ** (-dt / halflife)``, so the
    old mean's weight halves every ``halflife`` units of time whatever the tick rate. Two
    ticks at the same time give the second weight 0: aggregate simultaneous ticks upstream.
    A NaN observation makes the mean NaN from then on (IEEE arithmetic).

    Examples
    --------
    >>> m = EWMean(alpha=0.5)
    >>> for x in (1.0, 3.0, 3.0, 7.0):
    ...     m.update(x)
    ...     print(m.get())
    1.0
    2.0
    2.5
    4.75

    Decayed in time (half-life 10 seconds):

    >>> m = EWMean(halflife=10.0)
    >>> for t, x in ((0.0, 1.0), (10.0, 3.0), (30.0, 3.0)):
    ...     m.update(x, t=t)
    ...     print(m.get())
    1.0
    2.0
    2.75
    """

    __slots__ = ("_mean", "_started", "_t", "alpha", "halflife")
    _params = ("alpha", "halflife")

    def __init__(self, alpha: float | None = None, *, halflife: float | None = None) -> None:
        self.alpha = check_alpha(type(self).__name__, alpha, halflife)
        self.halflife = halflife
        self._mean = 0.0
        self._started = False
        self._t = NAN

    def update(self, x: float, t: float | None = None) -> None:
        """Take observation ``x`` (at time ``t`` for a time-decayed mean)."""
        if self._started:
            m = self._mean
            if t is None:
                self._mean = m + self.alpha * (x - m)
            else:
                self._mean = m + self._weight(t) * (x - m)
        else:
            self._mean = x
            self._started = True
            if t is not None:
                self._t = t

    def update_many(self, xs: Iterable[float]) -> None:
        """Take a batch of observations (no times): the recursion runs in C
        (``scipy.signal.lfilter``), so a batch costs a few nanoseconds per observation."""
        from scipy.signal import lfilter  # imported on first use: scipy.signal loads slowly

        arr = np.asarray(xs, dtype=np.float64)
        if not arr.size:
            return
        if not self._started:
            self._mean = float(arr[0])
            self._started = True
            arr = arr[1:]
            if not arr.size:
                return
        a = self.alpha
        out = lfilter([a], [1.0, a - 1.0], arr, zi=[(1.0 - a) * self._mean])[0]
        self._mean = float(out[-1])

    def _weight(self, t: float) -> float:
        """The weight of an observation at time ``t``, ``dt`` after the previous one."""
        last = self._t
        if t < last or self.halflife is None:
            if self.halflife is None:
                raise ValueError(f"{type(self).__name__}: update(x, t=...) needs a halflife")
            raise time_error(type(self).__name__, t, last)
        self._t = t
        return -math.expm1(-_LN2 * (t - last) / self.halflife)

    def get(self) -> float:
        """The weighted mean (NaN before the first observation)."""
        return self._mean if self._started else NAN
