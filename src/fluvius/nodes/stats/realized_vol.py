"""Realized volatility of a price stream over a count or time window of log returns."""

from __future__ import annotations

import math

from fluvius.nodes.stats.base import NAN, Univariate
from fluvius.nodes.stats.rolling_sum import RollingSum

__all__ = ["RealizedVol"]


class RealizedVol(Univariate):
    """Realized volatility: the root of the sum of squared log returns over a window.

    ``update(price)`` takes a price; the window holds the log returns between consecutive
    prices.

    Parameters
    ----------
    window
        Count window, in returns.
    period
        Time window (instead of ``window``); ``update`` then needs ``t``.
    annualize
        When given, the number of returns per year: the result is
        ``sqrt(annualize * mean(r**2))``, an annualized volatility. Otherwise
        ``sqrt(sum(r**2))``, the realized volatility of the window's span.

    Notes
    -----
    ``r = log(p / p_prev)``; the squared returns go into a :class:`RollingSum` (O(1)
    amortised, exactly recomputed once per window). Mean returns are not subtracted: over
    intraday horizons they are noise, and this is the usual definition (Andersen et al.).
    NaN before the second price; a non-positive or NaN price makes the returns around it NaN
    (and so the result, while they are in the window).

    Examples
    --------
    >>> rv = RealizedVol(window=2)
    >>> for px in (100.0, 101.0, 100.0, 100.0):
    ...     rv.update(px)
    ...     print(round(rv.get(), 6))
    nan
    0.00995
    0.014072
    0.00995

    References
    ----------
    Andersen, Bollerslev, Diebold and Labys (2003), *Modeling and forecasting realized
    volatility*.
    """

    __slots__ = ("_prev", "_r2", "annualize", "period", "window")
    _params = ("window", "period", "annualize")

    def __init__(
        self,
        window: int | None = None,
        *,
        period: float | None = None,
        annualize: float | None = None,
    ) -> None:
        self._r2 = RollingSum(window, period=period)
        self.window, self.period = self._r2.window, self._r2.period
        if annualize is not None and not (
            isinstance(annualize, int | float) and not isinstance(annualize, bool) and annualize > 0
        ):
            raise ValueError(f"RealizedVol: annualize must be a number > 0, got {annualize=}")
        self.annualize = annualize
        self._prev = NAN

    def update(self, x: float, t: float | None = None) -> None:
        """Take price ``x`` (at time ``t`` for a time window)."""
        prev = self._prev
        self._prev = x
        if prev != prev and not self._r2.n:
            return  # the first price: no return yet
        r = math.log(x / prev) if x > 0.0 and prev > 0.0 else NAN
        self._r2.update(r * r, t)

    def get(self) -> float:
        """The realized volatility (NaN before two prices)."""
        n = self._r2.n
        if not n:
            return NAN
        s = self._r2.get()
        if s < 0.0:  # a window of tiny returns after huge ones: rounding below zero
            s = 0.0
        if self.annualize is None:
            return math.sqrt(s)
        return math.sqrt(self.annualize * s / n)
