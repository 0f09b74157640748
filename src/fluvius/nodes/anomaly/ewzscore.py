"""Exponentially weighted z-score: an observation against the weighted past."""

from __future__ import annotations

import math

from fluvius.nodes.stats.base import NAN, Univariate, check_window
from fluvius.nodes.stats.ewvar import EWVar

__all__ = ["EWZScore"]


class EWZScore(Univariate):
    """``(x - mean) / std`` with the exponentially weighted mean and standard deviation of
    the observations *before* ``x``; then ``x`` joins them.

    Parameters
    ----------
    alpha
        Weight of the newest observation in the mean and variance, in (0, 1].
    halflife
        Instead of ``alpha``, in observations (or in the unit of ``t`` with
        ``update(x, t=...)``).
    min_obs
        Number of observations before the first score (warm-up: NaN until then).

    Notes
    -----
    Scoring against the past only means a spike cannot dampen its own score (with the
    window including ``x``, as in :class:`RollingZScore`, ``|z|`` is bounded by the window
    length). The state is an :class:`~fluvius.nodes.stats.EWVar` (West's update, O(1)). After
    a level shift the mean adapts with the half-life, so a shift is flagged for a few
    half-lives, then absorbed. NaN while warming up or while the variance is zero; a NaN
    observation scores NaN and poisons the state (IEEE arithmetic).

    Examples
    --------
    >>> z = EWZScore(alpha=0.5, min_obs=2)
    >>> for x in (1.0, 3.0, 3.0, 10.0):
    ...     z.update(x)
    ...     print(round(z.get(), 6))
    nan
    nan
    1.0
    8.660254
    """

    __slots__ = ("_n", "_var", "_z", "alpha", "halflife", "min_obs")
    _params = ("alpha", "halflife", "min_obs")

    def __init__(
        self, alpha: float | None = None, *, halflife: float | None = None, min_obs: int = 10
    ) -> None:
        self._var = EWVar(alpha, halflife=halflife)
        self.alpha = alpha
        self.halflife = halflife
        self.min_obs = check_window("EWZScore", min_obs, name="min_obs")
        self._n = 0
        self._z = NAN

    def update(self, x: float, t: float | None = None) -> None:
        """Score ``x`` against the past, then take it in (at time ``t`` for time decay)."""
        var = self._var
        if self._n >= self.min_obs and var.get() > 0.0:
            self._z = (x - var.mean) / math.sqrt(var.get())
        else:
            self._z = NAN
        var.update(x, t)
        self._n += 1

    def get(self) -> float:
        """The score of the latest observation (NaN while undefined)."""
        return self._z
