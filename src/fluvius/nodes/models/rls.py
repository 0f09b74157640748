"""Recursive least squares with a forgetting factor.

Design
------
The classic RLS recursion (Haykin, *Adaptive Filter Theory*, ch. 10) on the augmented
example ``z = (x, 1)`` (the 1 carries the intercept)::

    e = y - z.w          (a priori error)
    k = P z / (lam + z' P z)
    w <- w + k e
    P <- (P - k (P z)') / lam

with ``P_0 = I / delta``, ``w_0 = 0``. After n examples ``w`` minimises
``sum_i lam^(n-i) (y_i - z_i.w)^2 + lam^n delta |w|^2``, so with ``lam = 1`` it is the
ridge solution ``(delta I + Z'Z)^-1 Z'y`` (the intercept penalised by ``delta`` too: keep
``delta`` small). ``P`` is kept symmetric by averaging it with its transpose each step,
which stops the round-off asymmetry that makes long RLS runs blow up. O(d^2) per update,
no matrix solve. With ``lam < 1`` the effective memory is about ``1 / (1 - lam)``
examples; ``P`` then grows where the data stop exciting a direction ("wind-up"): keep
``lam`` close to 1 unless the inputs vary in every direction.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from fluvius.nodes.models._sgd import as_matrix, as_row
from fluvius.nodes.models._streams import regression_rows

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["RecursiveLeastSquares"]


class RecursiveLeastSquares:
    """Online linear regression that tracks drifting coefficients (exponential forgetting).

    Parameters
    ----------
    forgetting
        Forgetting factor ``lam`` in (0, 1]; 1 remembers everything.
    delta
        Initial regularisation: ``P_0 = I / delta``.
    fit_intercept
        Learn an intercept (as the weight of a constant feature).

    Attributes
    ----------
    coef, intercept
        Current estimates.
    n
        Examples seen.

    Notes
    -----
    See the module notes. Oracle: with ``forgetting=1`` the estimate equals
    ``numpy.linalg.solve(delta I + Z'Z, Z'y)`` at every step.

    Examples
    --------
    >>> model = RecursiveLeastSquares(forgetting=1.0, delta=1e-9)
    >>> for x, y in [([0.0], 1.0), ([1.0], 3.0), ([2.0], 5.0)]:
    ...     model.learn_one(x, y)
    >>> model.coef.round(6).tolist(), round(model.intercept, 6)
    ([2.0], 1.0)
    >>> round(model.predict_one([3.0]), 6)
    7.0
    """

    def __init__(
        self, *, forgetting: float = 1.0, delta: float = 1e-6, fit_intercept: bool = True
    ) -> None:
        if not (isinstance(forgetting, int | float) and 0.0 < forgetting <= 1.0):
            raise ValueError(
                f"RecursiveLeastSquares: forgetting must be in (0, 1], got {forgetting=}"
            )
        if not (isinstance(delta, int | float) and delta > 0.0 and math.isfinite(delta)):
            raise ValueError(
                f"RecursiveLeastSquares: delta must be a finite number > 0, got {delta=}"
            )
        self.forgetting = float(forgetting)
        self.delta = float(delta)
        self.fit_intercept = bool(fit_intercept)
        self.n = 0
        self._w: NDArray[np.float64] | None = None
        self._p: NDArray[np.float64] = np.zeros((0, 0))

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        return [{}, {"forgetting": 0.97, "delta": 0.01}]

    @classmethod
    def _unit_test_stream(cls, rng: np.random.Generator, n: int) -> list[tuple[Any, float]]:
        return regression_rows(rng, n)

    def _z(self, x: ArrayLike) -> NDArray[np.float64]:
        row = as_row(x, "RecursiveLeastSquares")
        if self.fit_intercept:
            z = np.empty(row.size + 1)
            z[:-1] = row
            z[-1] = 1.0
        else:
            z = row
        if self._w is None:
            self._w = np.zeros(z.size)
            self._p = np.eye(z.size) / self.delta
        elif z.size != self._w.size:
            raise ValueError(
                f"RecursiveLeastSquares: x has {row.size} feature(s), the model has "
                f"{self._w.size - self.fit_intercept}"
            )
        return z

    def __getstate__(self) -> dict[str, Any]:
        # plain lists: exact for floats, and equal states pickle to equal bytes (numpy arrays
        # can differ in their dtype object's identity after a round trip)
        state = dict(self.__dict__)
        state["_w"] = None if self._w is None else self._w.tolist()
        state["_p"] = self._p.tolist()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._w = None if state["_w"] is None else np.array(state["_w"], dtype=np.float64)
        size = len(state["_p"])
        self._p = np.array(state["_p"], dtype=np.float64).reshape(size, size)

    def learn_one(self, x: ArrayLike, y: float) -> None:
        """One RLS update (O(d^2))."""
        y = float(y)
        if not math.isfinite(y):
            raise ValueError(f"RecursiveLeastSquares: y must be finite, got {y!r}")
        z = self._z(x)
        assert self._w is not None
        pz = self._p @ z
        gain = pz / (self.forgetting + float(z @ pz))
        self._w = self._w + gain * (y - float(z @ self._w))
        p = self._p - gain[:, None] * pz
        p += p.T  # symmetrise: 0.5 (p + p') / lam in place
        p *= 0.5 / self.forgetting
        self._p = p
        self.n += 1

    def learn_many(self, x: ArrayLike, y: ArrayLike) -> None:
        """A loop of :meth:`learn_one` over the rows (RLS is sequential by nature)."""
        mat = as_matrix(x, "RecursiveLeastSquares")
        ys = np.asarray(y, dtype=np.float64).reshape(-1)
        if ys.shape != (mat.shape[0],):
            raise ValueError(f"RecursiveLeastSquares: y must hold {mat.shape[0]} number(s)")
        for row, target in zip(mat, ys, strict=True):
            self.learn_one(row, target)

    @property
    def coef(self) -> NDArray[np.float64]:
        """The feature weights (a copy)."""
        if self._w is None:
            return np.zeros(0)
        return self._w[:-1].copy() if self.fit_intercept else self._w.copy()

    @property
    def intercept(self) -> float:
        """The intercept (0 without ``fit_intercept``)."""
        return float(self._w[-1]) if self._w is not None and self.fit_intercept else 0.0

    def predict_one(self, x: ArrayLike) -> float:
        """``z . w`` (0 before any example)."""
        if self._w is None:
            as_row(x, "RecursiveLeastSquares")
            return 0.0
        return float(self._z(x) @ self._w)

    def predict_many(self, x: ArrayLike) -> NDArray[np.float64]:
        """Predictions for the rows of ``x``."""
        mat = as_matrix(x, "RecursiveLeastSquares")
        if self._w is None:
            return np.zeros(mat.shape[0])
        return np.asarray(mat @ self.coef + self.intercept)

    def score_one(self, x: ArrayLike, y: float) -> float:
        """The squared-error loss ``0.5 (prediction - y)**2`` of the current model on (x, y)."""
        return 0.5 * (self.predict_one(x) - float(y)) ** 2

    def __repr__(self) -> str:
        return (
            f"RecursiveLeastSquares(forgetting={self.forgetting!r}, delta={self.delta!r}, "
            f"fit_intercept={self.fit_intercept!r}, n={self.n})"
        )
