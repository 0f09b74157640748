"""Rolling mean over a count window or a time window."""

from __future__ import annotations

from fluvius.nodes.stats.base import NAN
from fluvius.nodes.stats.rolling_sum import RollingSum

__all__ = ["RollingMean"]


class RollingMean(RollingSum):
    """Mean of the last ``window`` observations, or of those of the last ``period`` of time.

    This is the ``rolling_mean`` spec op (param ``window``).

    Parameters
    ----------
    window
        Count window: the number of most recent observations averaged.
    period
        Time window (instead of ``window``): observations with ``t > t_now - period``;
        ``update`` then needs ``t``.

    Notes
    -----
    The running sum of :class:`RollingSum` (exactly recomputed once per window length of
    updates) divided by the count. Before the window fills, the mean is over the
    observations so far (pandas ``rolling(window, min_periods=1).mean()``). NaN while the
    window is empty or holds a NaN.

    Examples
    --------
    >>> m = RollingMean(window=3)
    >>> for x in (1.0, 2.0, 3.0, 10.0):
    ...     m.update(x)
    ...     print(m.get())
    1.0
    1.5
    2.0
    5.0
    """

    __slots__ = ()

    def get(self) -> float:
        """The mean of the window (NaN when empty or holding a NaN)."""
        n = len(self._xs)
        return self._sum / n if n and not self._nan else NAN
