"""Models as stateful graph nodes: predict, then learn ("prequential" evaluation).

Each computation receives the features and the target (last input), predicts from the
features with the model as it stands, then learns from (features, target). The node's value
is that prediction: out of sample, so it can be monitored honestly downstream (e.g. by
:class:`~fluvius.nodes.monitoring.RollingError`). A NaN or ``None`` target means "not known
yet": the node predicts and does not learn. The features are either several scalar inputs
or one array input.

These classes are what the spec ops ``least_squares``, ``rls``, ``sgd_regression`` and
``logistic_regression`` build, one per node, with the spec's params as keywords.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from fluvius.nodes.models._streams import regression_rows
from fluvius.nodes.models.least_squares import LeastSquares
from fluvius.nodes.models.linear_gd import GDLinearRegression
from fluvius.nodes.models.logistic import LogisticRegression
from fluvius.nodes.models.rls import RecursiveLeastSquares
from fluvius.nodes.models.schedules import (
    ConstantRate,
    ExponentialDecayRate,
    InverseScalingRate,
    Schedule,
)

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "Prequential",
    "PrequentialGD",
    "PrequentialLeastSquares",
    "PrequentialLogistic",
    "PrequentialRLS",
]


class Prequential:
    """Wrap a model with ``predict_one``/``learn_one`` as an ``update``/``get`` node.

    Parameters
    ----------
    model
        Any model of :mod:`fluvius.nodes.models`.
    proba
        For classifiers: the value is ``predict_proba_one`` instead of ``predict_one``.

    Examples
    --------
    >>> node = Prequential(RecursiveLeastSquares(delta=1e-9))
    >>> for x, y in [(0.0, 1.0), (1.0, 3.0), (2.0, 5.0), (3.0, math.nan)]:
    ...     node.update(x, y)
    ...     print(round(node.get(), 6))
    0.0
    1.0
    5.0
    7.0
    """

    def __init__(self, model: Any, *, proba: bool = False) -> None:
        self.model = model
        self.proba = proba
        self._value: Any = math.nan

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        if cls is Prequential:
            return [{"model": RecursiveLeastSquares()}, {"model": LeastSquares(ridge=0.5)}]
        return [{}]

    @classmethod
    def _unit_test_stream(cls, rng: np.random.Generator, n: int) -> list[tuple[Any, ...]]:
        rows = regression_rows(rng, n)
        if cls is PrequentialLogistic:
            return [(*x, float(y > 0.3)) for x, y in rows]
        return [(*x, y) for x, y in rows]

    def update(self, *values: Any) -> None:
        """Predict from ``values[:-1]`` (the features), then learn with target ``values[-1]``."""
        if len(values) < 2:
            raise ValueError(
                f"{type(self).__name__} needs the features then the target as inputs, "
                f"got {len(values)} input(s)"
            )
        *features, y = values
        x = (
            features[0]
            if len(features) == 1 and not isinstance(features[0], int | float)
            else features
        )
        self._value = self.model.predict_proba_one(x) if self.proba else self.model.predict_one(x)
        if y is not None and not (isinstance(y, float) and math.isnan(y)):
            self.model.learn_one(x, y)

    def get(self) -> Any:
        """The prediction made at the last update (NaN before the first)."""
        return self._value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model!r})"


def _schedule(
    owner: str, learning_rate: float, schedule: str, power: float, decay: float
) -> Schedule:
    if schedule == "constant":
        return ConstantRate(learning_rate)
    if schedule == "invscaling":
        return InverseScalingRate(learning_rate, power)
    if schedule == "exponential":
        return ExponentialDecayRate(learning_rate, decay)
    raise ValueError(
        f"{owner}: schedule must be 'constant', 'invscaling' or 'exponential', got {schedule=}"
    )


class PrequentialLeastSquares(Prequential):
    """Spec op ``least_squares``: :class:`LeastSquares` (params ``ridge``, ``fit_intercept``)."""

    def __init__(self, *, ridge: float = 0.0, fit_intercept: bool = True) -> None:
        super().__init__(LeastSquares(ridge=ridge, fit_intercept=fit_intercept))


class PrequentialRLS(Prequential):
    """Spec op ``rls``: :class:`RecursiveLeastSquares` (params ``forgetting``, ``delta``,
    ``fit_intercept``)."""

    def __init__(
        self, *, forgetting: float = 1.0, delta: float = 1e-6, fit_intercept: bool = True
    ) -> None:
        super().__init__(
            RecursiveLeastSquares(forgetting=forgetting, delta=delta, fit_intercept=fit_intercept)
        )


class PrequentialGD(Prequential):
    """Spec op ``sgd_regression``: :class:`GDLinearRegression` learned one example per
    computation (params ``learning_rate``, ``schedule`` = "constant" | "invscaling" |
    "exponential", ``power``, ``decay``, ``l2``, ``fit_intercept``)."""

    def __init__(
        self,
        *,
        learning_rate: float = 0.01,
        schedule: Literal["constant", "invscaling", "exponential"] = "constant",
        power: float = 0.25,
        decay: float = 0.999,
        l2: float = 0.0,
        fit_intercept: bool = True,
    ) -> None:
        rate = _schedule("sgd_regression", learning_rate, schedule, power, decay)
        super().__init__(GDLinearRegression(learning_rate=rate, l2=l2, fit_intercept=fit_intercept))


class PrequentialLogistic(Prequential):
    """Spec op ``logistic_regression``: :class:`LogisticRegression`; the value is
    P(y = 1) (params as ``sgd_regression``)."""

    def __init__(
        self,
        *,
        learning_rate: float = 0.1,
        schedule: Literal["constant", "invscaling", "exponential"] = "constant",
        power: float = 0.25,
        decay: float = 0.999,
        l2: float = 0.0,
        fit_intercept: bool = True,
    ) -> None:
        rate = _schedule("logistic_regression", learning_rate, schedule, power, decay)
        super().__init__(
            LogisticRegression(learning_rate=rate, l2=l2, fit_intercept=fit_intercept), proba=True
        )
