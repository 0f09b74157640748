"""The missing-value policy of the library's estimators: skip ``None`` and NaN observations.

Market data has holes: a one-sided quote makes ``mid/SYM`` NaN, a cycle without trades
makes ``trade/SYM`` empty, a source starts as ``None``. A plain estimator takes every
observation, so one NaN poisons a whole-stream VWAP for good and a ``RollingMean(50)`` for
50 ticks. :class:`SkipMissing` wraps any estimator (``update``/``get``) so that an update
in which any input is ``None`` or NaN is *skipped* (counted, not observed), and ``get`` is
NaN until ``min_periods`` observations were taken.

Where the policy applies by default:

* spec files: the estimator ops (``rolling_mean``, ``rolling_sum``, ``rolling_min``,
  ``rolling_max``, ``rolling_std``, ``ewm_mean``, ``zscore``, ``vwap`` …) take the params
  ``missing`` (``"skip"``, the default, or ``"propagate"``) and ``min_periods`` (default
  1; :data:`fluvius.graph.ops.MISSING_POLICY_OPS` lists them);
* Python: :func:`fluvius.nodes.add_stateful` wraps every
  :class:`~fluvius.nodes.stats.Statistic` (``missing="skip"``, ``min_periods=1``).

An estimator object used alone, or given to ``GraphBuilder.node`` directly, keeps the plain
behaviour (every observation counts; NaN propagates, as its Notes say).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["MISSING_POLICIES", "SkipMissing", "is_missing", "with_missing_policy"]

MISSING_POLICIES = ("skip", "propagate")


def is_missing(x: Any) -> bool:
    """Whether ``x`` is a missing observation: ``None``, a NaN, or an empty tuple.

    >>> [is_missing(v) for v in (None, float("nan"), (), 0.0, (1,))]
    [True, True, True, False, False]
    """
    if x is None:
        return True
    if isinstance(x, float):
        return x != x
    return type(x) is tuple and not x


class SkipMissing:
    """An estimator that skips updates with a missing input (module doc).

    Parameters
    ----------
    stat
        The estimator (anything with ``update`` and ``get``).
    min_periods
        Observations needed before ``get`` gives the estimator's value (NaN until then).

    Attributes
    ----------
    n
        Observations taken.
    skipped
        Updates skipped because an input was missing.

    Examples
    --------
    >>> from fluvius.nodes.stats import RollingMean
    >>> m = SkipMissing(RollingMean(2), min_periods=2)
    >>> for x in (1.0, float("nan"), 3.0, None, 5.0):
    ...     m.update(x)
    ...     print(m.get())
    nan
    nan
    2.0
    2.0
    4.0
    >>> m
    SkipMissing(RollingMean(window=2): 4, min_periods=2, n=3, skipped=2)
    """

    __slots__ = ("min_periods", "n", "skipped", "stat")

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        from fluvius.nodes.stats.rolling_mean import RollingMean

        return [{"stat": RollingMean(3)}, {"stat": RollingMean(4), "min_periods": 3}]

    def __init__(self, stat: Any, *, min_periods: int = 1) -> None:
        if not (callable(getattr(stat, "update", None)) and callable(getattr(stat, "get", None))):
            raise TypeError(f"SkipMissing: {stat!r} has no update/get methods")
        if isinstance(min_periods, bool) or not isinstance(min_periods, int) or min_periods < 0:
            raise ValueError(f"SkipMissing: min_periods must be an int >= 0, got {min_periods=}")
        self.stat = stat
        self.min_periods = min_periods
        self.n = 0
        self.skipped = 0

    def update(self, *xs: Any, **kw: Any) -> None:
        """Pass the observation on unless one of its values is missing."""
        for x in xs:
            if is_missing(x):
                self.skipped += 1
                return
        for x in kw.values():
            if is_missing(x):
                self.skipped += 1
                return
        self.stat.update(*xs, **kw)
        self.n += 1

    def get(self) -> Any:
        """The estimator's value, or NaN before ``min_periods`` observations."""
        return self.stat.get() if self.n >= self.min_periods else math.nan

    def __repr__(self) -> str:
        return (
            f"SkipMissing({self.stat!r}, min_periods={self.min_periods}, n={self.n}, "
            f"skipped={self.skipped})"
        )


def with_missing_policy(stat: Any, missing: str = "skip", min_periods: int = 1) -> Any:
    """``stat`` under ``missing`` policy: wrapped in :class:`SkipMissing`, or as it is.

    >>> from fluvius.nodes.stats import Mean
    >>> with_missing_policy(Mean(), "propagate")
    Mean(): nan
    """
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing must be one of {MISSING_POLICIES}, got {missing=}")
    if missing == "propagate":
        if min_periods != 1:
            raise ValueError("min_periods applies to missing='skip'")
        return stat
    return SkipMissing(stat, min_periods=min_periods)
