"""Linear regression by gradient descent: stochastic (``learn_one``), mini-batch and batch.

Loss: ``0.5 * mean((x.w + b - y)**2) + 0.5 * l2 * |w|**2``; the machinery (schedules,
convergence, divergence detection) is in :mod:`fluvius.nodes.models._sgd`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from fluvius.nodes.models._sgd import _LinearGD, as_matrix, as_row
from fluvius.nodes.models._streams import regression_rows

if TYPE_CHECKING:
    from collections.abc import Callable

    from numpy.typing import ArrayLike, NDArray

__all__ = ["GDLinearRegression"]


class GDLinearRegression(_LinearGD):
    """Linear regression fitted by gradient descent, online or in batches.

    Parameters
    ----------
    learning_rate
        A number (constant rate) or a schedule (:class:`ConstantRate`,
        :class:`InverseScalingRate`, :class:`ExponentialDecayRate`).
    l2
        L2 penalty on the weights (not on the intercept).
    fit_intercept
        Learn an intercept.
    on_divergence
        ``"raise"`` :class:`~fluvius.errors.ModelDivergedError` (default) or ``"flag"``
        (set ``diverged`` and stop learning).
    divergence_factor
        How far above its typical value the loss may jump before the run counts as diverged.
    seed
        Seed of the mini-batch shuffles of :meth:`fit`.

    Attributes
    ----------
    coef, intercept
        The fitted weights and intercept.
    t
        Steps taken.
    diverged
        True once a step diverged (the parameters are those before that step).

    Notes
    -----
    One stochastic step is ``w <- (1 - eta l2) w - eta (x.w + b - y) x`` and
    ``b <- b - eta (x.w + b - y)``: scikit-learn's ``SGDRegressor`` update for the squared
    loss, so the two agree step for step. Gradient descent converges for a constant rate
    below ``2 / L`` with ``L`` the largest eigenvalue of ``X'X / n``: scale the features.
    Costs O(d) per ``learn_one``.

    Examples
    --------
    >>> model = GDLinearRegression(learning_rate=0.1)
    >>> for x, y in [([1.0], 3.0), ([2.0], 5.0), ([0.0], 1.0)] * 200:
    ...     model.learn_one(x, y)
    >>> round(model.predict_one([3.0]), 3), round(model.intercept, 3)
    (7.0, 1.0)
    >>> model.coef.round(3).tolist()
    [2.0]
    >>> model.fit([[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0]).converged
    True
    """

    @classmethod
    def _unit_test_stream(cls, rng: np.random.Generator, n: int) -> list[tuple[Any, float]]:
        return regression_rows(rng, n)

    def _glm_one(self) -> Callable[[float, float], tuple[float, float]]:
        return _squared_one

    def _loss_grad(
        self, x: NDArray[np.float64], y: Any
    ) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
        resid = self._scores(x)[:, 0] - y
        n = x.shape[0]
        loss = 0.5 * float(resid @ resid) / n
        return loss, (x.T @ resid / n)[:, None], np.array([resid.sum() / n])

    def predict_one(self, x: ArrayLike) -> float:
        """The prediction ``x.w + b`` for one example (0 before any learning)."""
        row = as_row(x, "GDLinearRegression")
        return float(self._scores(row[None, :])[0, 0])

    def predict_many(self, x: ArrayLike) -> NDArray[np.float64]:
        """Predictions for a batch (rows of ``x``)."""
        return self._scores(as_matrix(x, "GDLinearRegression"))[:, 0]

    def score_one(self, x: ArrayLike, y: float) -> float:
        """The squared-error loss ``0.5 (prediction - y)**2`` of the current model on (x, y)."""
        return 0.5 * (self.predict_one(x) - float(y)) ** 2


def _squared_one(score: float, y: float) -> tuple[float, float]:
    resid = score - y
    return 0.5 * resid * resid, resid
