"""The shared vocabulary of streaming statistics (river's ``stats/base.py`` is the model).

Every estimator is a small slotted object with:

- ``update(x)`` (univariate) or ``update(x, y)`` (bivariate): take one observation, O(1)
  amortised; windowed estimators over a time window take ``update(x, t=...)``;
- ``get()``: the current value, a float (NaN while undefined, never an exception);
- ``update_many(xs)``: a batch of observations, equal to a loop of ``update`` (some classes
  override it with a numpy path);
- optionally ``revert(x)``: forget an observation given earlier (unbounded estimators);
- optionally ``merge(other)``: a *new* estimator equal to one that saw both streams (for
  partitioned graphs); neither operand changes. Only estimators whose mathematics allows it
  have it: windows do not merge (which observations are "the last n" of two streams?).

The repr shows the parameters and the value (``RollingMean(window=3): 2.``) so that a graph
dump or a log line says what a node is and holds.
"""

from __future__ import annotations

import abc
import math
import operator
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "Bivariate",
    "Statistic",
    "Univariate",
    "check_alpha",
    "check_period",
    "check_window",
    "push_time",
    "time_error",
]

NAN = math.nan


class Statistic(abc.ABC):
    """Base class of every streaming statistic: ``get`` and a repr with params and value."""

    __slots__ = ()
    _params: ClassVar[tuple[str, ...]] = ()
    """Constructor parameters, shown by the repr (each stored under the same name)."""

    @abc.abstractmethod
    def get(self) -> float:
        """The current value (NaN while undefined)."""

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in self._params
            if getattr(self, name) is not None
        )
        return f"{type(self).__name__}({shown}): {self.get():.6g}"

    def _check_merge(self, other: Any) -> None:
        if type(other) is not type(self) or any(
            getattr(self, p) != getattr(other, p) for p in self._params
        ):
            raise TypeError(f"cannot merge {self!r} with {other!r}: type or params differ")


class Univariate(Statistic):
    """A statistic of one stream of numbers."""

    __slots__ = ()

    @abc.abstractmethod
    def update(self, x: float) -> None:
        """Take one observation."""

    def update_many(self, xs: Iterable[float]) -> None:
        """Take observations in order; the same state as a loop of :meth:`update`."""
        update = self.update
        for x in xs:
            update(x)


class Bivariate(Statistic):
    """A statistic of a stream of pairs ``(x, y)``."""

    __slots__ = ()

    @abc.abstractmethod
    def update(self, x: float, y: float) -> None:
        """Take one pair of observations."""

    def update_many(self, xs: Iterable[float], ys: Iterable[float]) -> None:
        """Take pairs in order; the same state as a loop of :meth:`update`."""
        update = self.update
        for x, y in zip(xs, ys, strict=True):
            update(x, y)


def check_window(owner: str, window: Any, *, name: str = "window", least: int = 1) -> int:
    """Validate a count window: an int >= ``least``.

    >>> check_window("RollingMean", 0)
    Traceback (most recent call last):
    ...
    ValueError: RollingMean: window must be an int >= 1, got window=0
    """
    try:
        value = operator.index(window)  # an int, or an integer numpy scalar; never a float
    except TypeError:
        value = least - 1
    if isinstance(window, bool) or value < least:
        raise ValueError(f"{owner}: {name} must be an int >= {least}, got {name}={window!r}")
    return value


def check_alpha(owner: str, alpha: Any, halflife: Any) -> float:
    """The smoothing factor in (0, 1] from exactly one of ``alpha`` or ``halflife`` (> 0).

    ``halflife`` h counts observations: the weight of an observation halves after h more.

    >>> check_alpha("EWMean", None, 1.0)
    0.5
    >>> check_alpha("EWMean", 1.5, None)
    Traceback (most recent call last):
    ...
    ValueError: EWMean: alpha must be in (0, 1], got alpha=1.5
    """
    if (alpha is None) == (halflife is None):
        raise ValueError(
            f"{owner}: give exactly one of alpha or halflife, got {alpha=} and {halflife=}"
        )
    if halflife is not None:
        if isinstance(halflife, bool) or not isinstance(halflife, int | float) or halflife <= 0:
            raise ValueError(f"{owner}: halflife must be a number > 0, got {halflife=}")
        return float(1.0 - 0.5 ** (1.0 / halflife))
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha <= 1:
        raise ValueError(f"{owner}: alpha must be in (0, 1], got {alpha=}")
    return float(alpha)


def check_period(owner: str, window: Any, period: Any) -> tuple[int | None, float | None]:
    """Validate a window given either as a count (``window``) or as a time span (``period``).

    A time window holds the observations of times ``t`` with ``t > now - period``.

    >>> check_period("RollingMean", None, 60.0)
    (None, 60.0)
    >>> check_period("RollingMean", 5, 60.0)
    Traceback (most recent call last):
    ...
    ValueError: RollingMean: give exactly one of window or period, got window=5 and period=60.0
    """
    if (window is None) == (period is None):
        raise ValueError(
            f"{owner}: give exactly one of window or period, got {window=} and {period=}"
        )
    if window is not None:
        return check_window(owner, window), None
    if isinstance(period, bool) or not isinstance(period, int | float) or not period > 0:
        raise ValueError(f"{owner}: period must be a number > 0, got {period=}")
    return None, float(period)


def push_time(owner: str, ts: Any, t: Any) -> None:
    """Append time ``t`` to deque ``ts`` after checking it is given and non-decreasing."""
    if t is None or (ts and t < ts[-1]):
        raise time_error(owner, t, ts[-1] if ts else NAN)
    ts.append(t)


def time_error(owner: str, t: Any, last: float) -> ValueError:
    """The error for a missing or decreasing timestamp of a time window."""
    if t is None:
        return ValueError(f"{owner}: a time window (period=...) needs update(x, t=...)")
    return ValueError(f"{owner}: timestamps must not decrease, got t={t!r} after t={last!r}")
