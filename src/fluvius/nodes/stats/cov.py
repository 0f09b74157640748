"""Covariance, correlation and beta of a stream of pairs, whole or over a window."""

from __future__ import annotations

import math

from fluvius.nodes.stats._comoments import CoMoments
from fluvius.nodes.stats.base import NAN, check_period, check_window

__all__ = ["Beta", "Corr", "Cov"]


def _window(
    owner: str, window: int | None, period: float | None
) -> tuple[int | None, float | None]:
    if window is None and period is None:
        return None, None
    return check_period(owner, window, period)


class Cov(CoMoments):
    """Covariance of ``(x, y)`` pairs: the whole stream, or a count or time window.

    Parameters
    ----------
    window
        Count window (default: no window, the whole stream).
    period
        Time window; ``update`` then needs ``t``.
    ddof
        Delta degrees of freedom: the divisor is ``n - ddof``.

    Notes
    -----
    Welford's bivariate update with windowed removal and periodic exact recomputation
    (:mod:`fluvius.nodes.stats._comoments`), O(1) amortised. Without a window, ``merge``
    combines two streams (Chan et al.). NaN while ``n <= ddof`` or a NaN pair is counted.

    Examples
    --------
    >>> c = Cov()
    >>> for x, y in ((1.0, 2.0), (2.0, 4.0), (3.0, 7.0)):
    ...     c.update(x, y)
    ...     print(c.get())
    nan
    1.0
    2.5
    """

    __slots__ = ("ddof",)
    _params = ("window", "period", "ddof")

    def __init__(
        self, window: int | None = None, *, period: float | None = None, ddof: int = 1
    ) -> None:
        owner = type(self).__name__
        self.ddof = check_window(owner, ddof, name="ddof", least=0)
        super().__init__(*_window(owner, window, period))

    def merge(self, other: Cov) -> Cov:
        """A new Cov of both streams (no window only); neither operand changes."""
        self._check_merge(other)
        out: Cov = self._merged(other)  # type: ignore[assignment]
        return out

    def get(self) -> float:
        """The covariance (NaN while undefined)."""
        n = self.n
        if n <= self.ddof or self._nan:
            return NAN
        return self.sxy / (n - self.ddof)


class Corr(CoMoments):
    """Pearson correlation of ``(x, y)`` pairs: the whole stream, or a window.

    Parameters
    ----------
    window
        Count window (default: the whole stream).
    period
        Time window; ``update`` then needs ``t``.

    Notes
    -----
    ``sxy / sqrt(sxx * syy)`` from the shared co-moments. NaN below two pairs, when either
    series is constant over the window, or while a NaN pair is counted.

    Examples
    --------
    >>> c = Corr(window=3)
    >>> for x, y in ((1.0, 1.0), (2.0, 3.0), (3.0, 2.0), (4.0, 5.0)):
    ...     c.update(x, y)
    ...     print(round(c.get(), 6))
    nan
    1.0
    0.5
    0.654654
    """

    __slots__ = ()
    _params = ("window", "period")

    def __init__(self, window: int | None = None, *, period: float | None = None) -> None:
        super().__init__(*_window(type(self).__name__, window, period))

    def merge(self, other: Corr) -> Corr:
        """A new Corr of both streams (no window only); neither operand changes."""
        self._check_merge(other)
        out: Corr = self._merged(other)  # type: ignore[assignment]
        return out

    def get(self) -> float:
        """The correlation (NaN while undefined)."""
        if self.n < 2 or self._nan:
            return NAN
        den = self.sxx * self.syy
        if not den > 0.0:
            return NAN
        r = self.sxy / math.sqrt(den)
        return 1.0 if r > 1.0 else -1.0 if r < -1.0 else r


class Beta(CoMoments):
    """Beta of an asset on a market: ``cov(asset, market) / var(market)``.

    ``update(asset, market)`` takes one pair of returns. The result is the slope of the
    least-squares line of the asset's returns on the market's.

    Parameters
    ----------
    window
        Count window (default: the whole stream).
    period
        Time window; ``update`` then needs ``t``.

    Notes
    -----
    ``sxy / syy`` from the shared co-moments (x the asset, y the market). NaN below two
    pairs, when the market is constant over the window, or while a NaN pair is counted.

    Examples
    --------
    >>> b = Beta()
    >>> for asset, market in ((0.02, 0.01), (-0.01, -0.01), (0.05, 0.02)):
    ...     b.update(asset, market)
    ...     print(round(b.get(), 6))
    nan
    1.5
    1.928571
    """

    __slots__ = ()
    _params = ("window", "period")

    def __init__(self, window: int | None = None, *, period: float | None = None) -> None:
        super().__init__(*_window(type(self).__name__, window, period))

    def merge(self, other: Beta) -> Beta:
        """A new Beta of both streams (no window only); neither operand changes."""
        self._check_merge(other)
        out: Beta = self._merged(other)  # type: ignore[assignment]
        return out

    def get(self) -> float:
        """The beta (NaN while undefined)."""
        if self.n < 2 or self._nan or not self.syy > 0.0:
            return NAN
        return self.sxy / self.syy
