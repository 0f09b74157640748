"""Rolling prediction error (MAE, MSE, RMSE) over a count window."""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Literal

__all__ = ["RollingError", "RollingMAE", "RollingRMSE"]


class RollingError:
    """Mean absolute or squared error of the last ``window`` (target, prediction) pairs.

    Parameters
    ----------
    window
        Number of recent pairs.
    metric
        ``"mae"``, ``"mse"`` or ``"rmse"``.

    Notes
    -----
    O(1) per update: a running sum of the window's errors, recomputed exactly
    (``math.fsum``) once per ``window`` updates so that round-off cannot accumulate over a
    long run. A pair with a NaN (target not yet known, model not ready) is skipped. ``get``
    is NaN before the first pair; before the window fills it averages the pairs so far.

    Examples
    --------
    >>> err = RollingError(window=2, metric="mae")
    >>> for y, p in [(1.0, 1.5), (2.0, 1.0), (3.0, 3.0)]:
    ...     err.update(y, p)
    ...     print(err.get())
    0.5
    0.75
    0.5
    """

    def __init__(self, window: int, metric: Literal["mae", "mse", "rmse"] = "mae") -> None:
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"RollingError: window must be an int >= 1, got {window=}")
        if metric not in ("mae", "mse", "rmse"):
            raise ValueError(f"RollingError: metric must be 'mae', 'mse' or 'rmse', got {metric=}")
        self.window = window
        self.metric = metric
        self._errors: deque[float] = deque()
        self._sum = 0.0
        self._since_exact = 0

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        if cls is RollingError:
            return [{"window": 5}, {"window": 3, "metric": "rmse"}, {"window": 4, "metric": "mse"}]
        return [{"window": 5}]

    def update(self, y_true: float | None, y_pred: float | None) -> None:
        """Add one pair (skipped when either is NaN or None)."""
        if y_true is None or y_pred is None:
            return
        e = float(y_pred) - float(y_true)
        if math.isnan(e):
            return
        e = abs(e) if self.metric == "mae" else e * e
        self._errors.append(e)
        self._sum += e
        if len(self._errors) > self.window:
            self._sum -= self._errors.popleft()
            self._since_exact += 1
            if self._since_exact >= self.window:
                self._sum = math.fsum(self._errors)
                self._since_exact = 0

    def get(self) -> float:
        """The error over the window (NaN before the first pair)."""
        if not self._errors:
            return math.nan
        mean = max(self._sum, 0.0) / len(self._errors)
        return math.sqrt(mean) if self.metric == "rmse" else mean

    def __repr__(self) -> str:
        return f"{type(self).__name__}(window={self.window}, metric={self.metric!r})"


class RollingMAE(RollingError):
    """Spec op ``rolling_mae`` (inputs target, prediction; param ``window``)."""

    def __init__(self, window: int) -> None:
        super().__init__(window, "mae")


class RollingRMSE(RollingError):
    """Spec op ``rolling_rmse`` (inputs target, prediction; param ``window``)."""

    def __init__(self, window: int) -> None:
        super().__init__(window, "rmse")
