"""Online logistic regression (binary) by stochastic gradient descent.

Loss: mean log-loss ``-[y ln p + (1 - y) ln(1 - p)]`` with ``p = sigmoid(x.w + b)``, plus
``0.5 * l2 * |w|**2``; the machinery is in :mod:`fluvius.nodes.models._sgd`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import expit, log_expit

from fluvius.nodes.models._sgd import _LinearGD, as_matrix, as_row
from fluvius.nodes.models._streams import classification_rows

if TYPE_CHECKING:
    from collections.abc import Callable

    from numpy.typing import ArrayLike, NDArray

__all__ = ["LogisticRegression"]


class LogisticRegression(_LinearGD):
    """Binary logistic regression, learned online (``learn_one``) or in batches (``fit``).

    Parameters
    ----------
    learning_rate, l2, fit_intercept, on_divergence, divergence_factor, seed
        As :class:`GDLinearRegression`.

    Attributes
    ----------
    coef, intercept, t, diverged
        As :class:`GDLinearRegression`.

    Notes
    -----
    Targets are 0/1 (or False/True). The log-loss is computed as ``-log_expit(±z)``, which
    is finite for any score, so confident mistakes do not overflow. With ``l2 > 0`` the
    objective is strictly convex and ``fit`` reaches scikit-learn's
    ``LogisticRegression(C=1 / (n * l2))`` solution; on separable data without ``l2`` the
    weights grow without bound (as they should), slowly. O(d) per ``learn_one``.

    Examples
    --------
    >>> model = LogisticRegression(learning_rate=0.5)
    >>> for x, y in [([-2.0], 0), ([-1.0], 0), ([1.0], 1), ([2.0], 1)] * 100:
    ...     model.learn_one(x, y)
    >>> model.predict_one([1.5]), model.predict_one([-0.5])
    (1, 0)
    >>> round(model.predict_proba_one([0.0]), 2)
    0.5
    """

    @classmethod
    def _unit_test_stream(cls, rng: np.random.Generator, n: int) -> list[tuple[Any, int]]:
        return classification_rows(rng, n)

    def _target(self, y: Any, n: int) -> Any:
        arr = np.asarray(y, dtype=np.float64).reshape(-1)
        if arr.shape != (n,) or not np.isin(arr, (0.0, 1.0)).all():
            raise ValueError(f"LogisticRegression: y must hold {n} label(s) 0 or 1, got {y!r}")
        return arr

    def _loss_scale(self, y: Any) -> float:
        return math.log(2.0)

    def _glm_one(self) -> Callable[[float, float], tuple[float, float]]:
        return _log_loss_one

    def _loss_scale_one(self, y: float) -> float:
        return math.log(2.0)

    def _loss_grad(
        self, x: NDArray[np.float64], y: Any
    ) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
        z = self._scores(x)[:, 0]
        n = x.shape[0]
        loss = -float(np.sum(np.where(y > 0.5, log_expit(z), log_expit(-z)))) / n
        err = expit(z) - y
        return loss, (x.T @ err / n)[:, None], np.array([err.sum() / n])

    def predict_proba_one(self, x: ArrayLike) -> float:
        """P(y = 1 | x)."""
        row = as_row(x, "LogisticRegression")
        return float(expit(self._scores(row[None, :])[0, 0]))

    def predict_one(self, x: ArrayLike) -> int:
        """The more likely label, 0 or 1 (1 when P(y = 1) > 0.5)."""
        return int(self.predict_proba_one(x) > 0.5)

    def predict_proba_many(self, x: ArrayLike) -> NDArray[np.float64]:
        """P(y = 1 | x) for each row."""
        return np.asarray(expit(self._scores(as_matrix(x, "LogisticRegression"))[:, 0]))

    def predict_many(self, x: ArrayLike) -> NDArray[np.int64]:
        """The more likely label of each row."""
        return (self.predict_proba_many(x) > 0.5).astype(np.int64)

    def score_one(self, x: ArrayLike, y: int) -> float:
        """The log-loss of the current model on (x, y)."""
        row = as_row(x, "LogisticRegression")
        z = float(self._scores(row[None, :])[0, 0])
        return -float(log_expit(z if y else -z))


def _log_loss_one(score: float, y: float) -> tuple[float, float]:
    # log(1 + e^-|z|) + max(-z, 0) is -log sigmoid(z), finite for any z
    if y > 0.5:
        loss = math.log1p(math.exp(-abs(score))) + max(-score, 0.0)
    else:
        loss = math.log1p(math.exp(-abs(score))) + max(score, 0.0)
    p = 1.0 / (1.0 + math.exp(-score)) if score >= 0.0 else 1.0 - 1.0 / (1.0 + math.exp(score))
    return loss, p - y
