"""Exponentially weighted variance, per observation or decayed in time for irregular ticks."""

from __future__ import annotations

import math

from fluvius.nodes.stats.base import NAN, Univariate, check_alpha, time_error

__all__ = ["EWVar"]

_LN2 = math.log(2.0)


class EWVar(Univariate):
    """Exponentially weighted variance (and mean) of a stream.

    Parameters
    ----------
    alpha
        Weight of the newest observation, in (0, 1].
    halflife
        Instead of ``alpha``: in observations, or in the unit of ``t`` when ``update`` is
        given times (as :class:`~fluvius.nodes.stats.EWMean`).

    Notes
    -----
    West's incremental form: ``d = x - mean; mean += alpha * d;
    var = (1 - alpha) * (var + alpha * d * d)``, starting from the first observation with
    variance 0. This is pandas ``ewm(alpha=alpha, adjust=False).var(bias=True)``. Like
    Welford's update it works on deviations from the mean, so a large offset costs no
    precision (values are also shifted by the first observation, as in :class:`Var`), and
    the variance can never turn negative. River's ``EWVar`` computes
    ``E[x^2] - E[x]^2`` instead, which cancels catastrophically for prices.

    Examples
    --------
    >>> v = EWVar(alpha=0.5)
    >>> for x in (1.0, 3.0, 3.0):
    ...     v.update(x)
    ...     print(v.get())
    0.0
    1.0
    0.75

    References
    ----------
    West (1979), *Updating mean and variance estimates: an improved method*.
    """

    __slots__ = ("_k", "_my", "_started", "_t", "_var", "alpha", "halflife")
    _params = ("alpha", "halflife")

    def __init__(self, alpha: float | None = None, *, halflife: float | None = None) -> None:
        self.alpha = check_alpha(type(self).__name__, alpha, halflife)
        self.halflife = halflife
        self._k = NAN  # the shift: the first observation (as for Var)
        self._my = 0.0  # the weighted mean of the shifted values
        self._var = 0.0
        self._started = False
        self._t = NAN

    def update(self, x: float, t: float | None = None) -> None:
        """Take observation ``x`` (at time ``t`` for time decay)."""
        if not self._started:
            self._k = x
            self._started = True
            if t is not None:
                self._t = t
            return
        a = self.alpha if t is None else self._weight(t)
        d = x - self._k - self._my
        self._my += a * d
        self._var = (1.0 - a) * (self._var + a * d * d)

    @property
    def mean(self) -> float:
        """The exponentially weighted mean (NaN before the first observation)."""
        return self._k + self._my

    def _weight(self, t: float) -> float:
        last = self._t
        if t < last or self.halflife is None:
            if self.halflife is None:
                raise ValueError(f"{type(self).__name__}: update(x, t=...) needs a halflife")
            raise time_error(type(self).__name__, t, last)
        self._t = t
        return -math.expm1(-_LN2 * (t - last) / self.halflife)

    def get(self) -> float:
        """The weighted variance (NaN before the first observation)."""
        return self._var if self._started else NAN
