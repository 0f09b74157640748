"""Online softmax (multinomial logistic) regression by stochastic gradient descent.

Loss: mean cross-entropy ``-ln p_y`` with ``p = softmax(x W + b)``, plus
``0.5 * l2 * |W|**2``; the machinery is in :mod:`fluvius.nodes.models._sgd`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from scipy.special import log_softmax, softmax

from fluvius.nodes.models._sgd import _LinearGD, as_matrix, as_row
from fluvius.nodes.models._streams import classification_rows

if TYPE_CHECKING:
    from collections.abc import Hashable, Sequence

    from numpy.typing import ArrayLike, NDArray

    from fluvius.nodes.models.schedules import Schedule

__all__ = ["SoftmaxRegression"]


class SoftmaxRegression(_LinearGD):
    """Multiclass logistic regression over a fixed list of class labels.

    Parameters
    ----------
    classes
        The class labels (hashable, at least 2); predictions return one of them.
    learning_rate, l2, fit_intercept, on_divergence, divergence_factor, seed
        As :class:`GDLinearRegression`.

    Attributes
    ----------
    coef
        Weights, features x classes.
    intercept
        One bias per class.

    Notes
    -----
    The parameterisation is the symmetric one (one weight vector per class, all
    penalised), as scikit-learn's multinomial ``LogisticRegression``; with ``l2 > 0``
    ``fit`` reaches its ``C = 1 / (n * l2)`` solution. Log-probabilities come from
    ``scipy.special.log_softmax`` (no overflow). O(d K) per ``learn_one``.

    Examples
    --------
    >>> model = SoftmaxRegression(["down", "flat", "up"], learning_rate=0.5)
    >>> data = [([-2.0], "down"), ([0.0], "flat"), ([2.0], "up")]
    >>> for x, y in data * 300:
    ...     model.learn_one(x, y)
    >>> [model.predict_one(x) for x, _ in data]
    ['down', 'flat', 'up']
    """

    def __init__(
        self,
        classes: Sequence[Hashable],
        *,
        learning_rate: float | Schedule = 0.01,
        l2: float = 0.0,
        fit_intercept: bool = True,
        on_divergence: Literal["raise", "flag"] = "raise",
        divergence_factor: float = 1e8,
        seed: int | None = 0,
    ) -> None:
        labels = list(classes)
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise ValueError(
                f"SoftmaxRegression: classes must hold at least 2 distinct labels, got {classes!r}"
            )
        super().__init__(
            learning_rate=learning_rate,
            l2=l2,
            fit_intercept=fit_intercept,
            on_divergence=on_divergence,
            divergence_factor=divergence_factor,
            seed=seed,
        )
        self.classes = labels
        self._index = {c: i for i, c in enumerate(labels)}

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        return [{"classes": [0, 1, 2], "learning_rate": 0.1}, {"classes": [0, 1], "l2": 0.01}]

    @classmethod
    def _unit_test_stream(cls, rng: np.random.Generator, n: int) -> list[tuple[Any, int]]:
        return classification_rows(rng, n, classes=2)

    def _n_outputs(self, y: Any) -> int:
        return len(self.classes)

    def _loss_scale(self, y: Any) -> float:
        return math.log(len(self.classes))

    def _target(self, y: Any, n: int) -> Any:
        labels = list(y)
        if len(labels) != n:
            raise ValueError(f"SoftmaxRegression: y must hold {n} label(s), got {len(labels)}")
        try:
            return np.array([self._index[c] for c in labels], dtype=np.int64)
        except (KeyError, TypeError):
            bad = next(c for c in labels if c not in self._index)
            raise ValueError(
                f"SoftmaxRegression: unknown class {bad!r}; classes are {self.classes!r}"
            ) from None

    def _loss_grad(
        self, x: NDArray[np.float64], y: Any
    ) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
        z = self._scores(x)
        n = x.shape[0]
        logp = log_softmax(z, axis=1)
        rows = np.arange(n)
        loss = -float(logp[rows, y].sum()) / n
        err = np.exp(logp)
        err[rows, y] -= 1.0
        return loss, x.T @ err / n, err.sum(axis=0) / n

    def _scores(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.weights is None:
            return np.zeros((x.shape[0], len(self.classes)))
        return super()._scores(x)

    def predict_proba_one(self, x: ArrayLike) -> dict[Hashable, float]:
        """Class label -> probability."""
        row = as_row(x, "SoftmaxRegression")
        p = softmax(self._scores(row[None, :])[0])
        return {c: float(pc) for c, pc in zip(self.classes, p, strict=True)}

    def predict_one(self, x: ArrayLike) -> Hashable:
        """The most likely label (the first listed on ties)."""
        row = as_row(x, "SoftmaxRegression")
        return self.classes[int(np.argmax(self._scores(row[None, :])[0]))]

    def predict_proba_many(self, x: ArrayLike) -> NDArray[np.float64]:
        """Probabilities, rows x classes (columns in the order of ``classes``)."""
        return np.asarray(softmax(self._scores(as_matrix(x, "SoftmaxRegression")), axis=1))

    def predict_many(self, x: ArrayLike) -> list[Hashable]:
        """The most likely label of each row."""
        best = np.argmax(self._scores(as_matrix(x, "SoftmaxRegression")), axis=1)
        return [self.classes[int(i)] for i in best]

    def score_one(self, x: ArrayLike, y: Hashable) -> float:
        """The cross-entropy ``-ln p_y`` of the current model on (x, y)."""
        row = as_row(x, "SoftmaxRegression")
        target = self._target([y], 1)
        return -float(log_softmax(self._scores(row[None, :])[0])[target[0]])
