"""Volume-weighted average price, over the whole stream or a count or time window."""

from __future__ import annotations

from fluvius.nodes.stats.base import NAN, Bivariate, check_period, time_error
from fluvius.nodes.stats.rolling_sum import RollingSum
from fluvius.nodes.stats.sum import Sum

__all__ = ["VWAP"]


class VWAP(Bivariate):
    """Volume-weighted average price: ``sum(price * size) / sum(size)``.

    ``update(price, size)`` takes one trade (``t=...`` too for a time window).

    Parameters
    ----------
    window
        Count window, in trades (default: no window, the whole session).
    period
        Time window; ``update`` then needs ``t``.

    Notes
    -----
    Two sums: compensated running sums (:class:`Sum`) for the whole stream, windowed sums
    (:class:`RollingSum`, exactly recomputed once per window) for a window; O(1) amortised.
    NaN while the window's volume is zero or a NaN is in it. Prices may be fixed-point
    integers (the unified events' 1e-9 units): the result is in the same unit, as a float.
    Without a window, ``merge`` combines two sessions (say, two venues).

    Examples
    --------
    >>> v = VWAP()
    >>> for px, sz in ((100.0, 200), (101.0, 100), (99.0, 100)):
    ...     v.update(px, sz)
    ...     print(v.get())
    100.0
    100.33333333333333
    100.0
    """

    __slots__ = ("_pv", "_v", "period", "window")
    _params = ("window", "period")

    def __init__(self, window: int | None = None, *, period: float | None = None) -> None:
        self._pv: Sum | RollingSum
        self._v: Sum | RollingSum
        if window is None and period is None:
            self.window = self.period = None
            self._pv, self._v = Sum(), Sum()
        else:
            self.window, self.period = check_period("VWAP", window, period)
            self._pv = RollingSum(window, period=period)
            self._v = RollingSum(window, period=period)

    def update(self, x: float, y: float, t: float | None = None) -> None:
        """Take one trade: price ``x`` and size ``y`` (at time ``t`` for a time window)."""
        if self.period is None:  # t is not needed (and ignored) without a time window
            self._pv.update(x * y)
            self._v.update(y)
        else:
            if t is None:
                raise time_error("VWAP", t, NAN)
            self._v.update(y, t)  # type: ignore[call-arg]  # a time window: RollingSum
            self._pv.update(x * y, t)  # type: ignore[call-arg]

    def merge(self, other: VWAP) -> VWAP:
        """A new VWAP of both sessions (no window only); neither operand changes."""
        self._check_merge(other)
        if self.window is not None or self.period is not None:
            raise TypeError("VWAP: a windowed VWAP cannot merge")
        out = VWAP()
        out._pv = self._pv.merge(other._pv)  # type: ignore[arg-type, union-attr]
        out._v = self._v.merge(other._v)  # type: ignore[arg-type, union-attr]
        return out

    def get(self) -> float:
        """The volume-weighted average price (NaN while the volume is zero)."""
        v = self._v.get()
        return self._pv.get() / v if v else NAN
