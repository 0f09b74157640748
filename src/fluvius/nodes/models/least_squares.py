"""Closed-form least squares (optionally ridge) from streaming sufficient statistics.

Design
------
The model keeps the co-moments of the data seen so far, updated Welford-style (no sum of
squares of raw values, so a large offset in ``x`` or ``y`` costs no precision)::

    n, mean_x, mean_y, Sxx = sum (x - mean_x)(x - mean_x)',  Sxy = sum (x - mean_x)(y - mean_y)

``learn_one`` is O(d^2); ``learn_many`` merges a batch's co-moments (Chan et al.), equal to
a loop of ``learn_one`` up to rounding. The coefficients solve the *normal equations*
``(Sxx + ridge I) w = Sxy``, with ``b = mean_y - mean_x . w`` (the intercept is not
penalised: scikit-learn's ``Ridge``); without an intercept the raw moments are used.

The solve, done lazily when a prediction needs it and cached until the next update:

1. the 2-norm condition number of ``A = Sxx + ridge I`` (``numpy.linalg.cond``, an SVD of
   a d x d matrix);
2. if it is below ``cond_limit``, a Cholesky factorisation and two triangular solves
   (``scipy.linalg.cho_factor`` / ``cho_solve``): never an explicit inverse;
3. otherwise (or if Cholesky finds ``A`` not positive definite) an
   :class:`~fluvius.errors.IllConditionedWarning` and the SVD least-squares solution
   (``numpy.linalg.lstsq`` with ``rcond = 1 / cond_limit``): directions of ``A`` weaker
   than ``1 / cond_limit`` of the strongest are dropped, which gives the minimum-norm
   solution for collinear features (the pseudo-inverse solution).

The normal equations square the condition number of the data (``cond(A) = cond(X)^2``);
``cond_limit = 1e10`` keeps at least ~6 significant digits in the coefficients.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve

from fluvius.errors import IllConditionedWarning
from fluvius.nodes.models._sgd import as_matrix, as_row
from fluvius.nodes.models._streams import regression_rows

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["LeastSquares"]


class LeastSquares:
    """Ordinary or ridge least squares, learned one example at a time or in batches.

    Parameters
    ----------
    ridge
        L2 penalty ``alpha`` on the weights (0 = ordinary least squares).
    fit_intercept
        Learn an unpenalised intercept.
    cond_limit
        Condition number of the normal-equations matrix above which the solve warns and
        falls back to SVD least squares.

    Attributes
    ----------
    n
        Examples seen.
    coef, intercept
        The solution for the data so far (solved on first use after an update).
    solver
        ``"cholesky"`` or ``"svd"``: how the last solve was done.
    condition_number
        The condition number of the last solve's matrix.

    Notes
    -----
    See the module notes for the method. Without a ridge penalty, the coefficients and
    predictions are NaN while there are fewer examples than unknowns (features, plus one
    for the intercept): the solution is not identified yet; ``solver`` then says
    ``"underdetermined"``.
    Co-moments are exact sufficient statistics, so the model equals a batch fit on all the
    data at every step (what :class:`RecursiveLeastSquares` approximates with
    ``forgetting=1``).

    Examples
    --------
    >>> model = LeastSquares()
    >>> for x, y in [([0.0, 1.0], 3.0), ([1.0, 0.0], 2.0), ([1.0, 1.0], 4.0), ([2.0, 1.0], 5.0)]:
    ...     model.learn_one(x, y)
    >>> model.coef.round(6).tolist(), round(model.intercept, 6), model.solver
    ([1.0, 2.0], 1.0, 'cholesky')
    >>> round(model.predict_one([3.0, 3.0]), 6)
    10.0
    """

    def __init__(
        self, *, ridge: float = 0.0, fit_intercept: bool = True, cond_limit: float = 1e10
    ) -> None:
        if not (isinstance(ridge, int | float) and ridge >= 0.0 and math.isfinite(ridge)):
            raise ValueError(f"LeastSquares: ridge must be a finite number >= 0, got {ridge=}")
        if not cond_limit > 1.0:
            raise ValueError(f"LeastSquares: cond_limit must be > 1, got {cond_limit=}")
        self.ridge = float(ridge)
        self.fit_intercept = bool(fit_intercept)
        self.cond_limit = float(cond_limit)
        self.n = 0
        self._mx: NDArray[np.float64] | None = None
        self._my = 0.0
        self._sxx: NDArray[np.float64] = np.zeros((0, 0))
        self._sxy: NDArray[np.float64] = np.zeros(0)
        self._coef: NDArray[np.float64] | None = None
        self._intercept = 0.0
        self.solver = ""
        self.condition_number = math.nan

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        return [{}, {"ridge": 1.0}, {"fit_intercept": False}]

    @classmethod
    def _unit_test_stream(cls, rng: np.random.Generator, n: int) -> list[tuple[Any, float]]:
        return regression_rows(rng, n)

    def _start(self, d: int) -> None:
        if self._mx is None:
            self._mx = np.zeros(d)
            self._sxx = np.zeros((d, d))
            self._sxy = np.zeros(d)
        elif self._mx.size != d:
            raise ValueError(f"LeastSquares: x has {d} feature(s), the model has {self._mx.size}")

    def learn_one(self, x: ArrayLike, y: float) -> None:
        """Add one example (O(d^2))."""
        row = as_row(x, "LeastSquares")
        y = float(y)
        if not math.isfinite(y):
            raise ValueError(f"LeastSquares: y must be finite, got {y!r}")
        self._start(row.size)
        assert self._mx is not None
        self.n += 1
        if self.fit_intercept:
            dx = row - self._mx
            dy = y - self._my
            self._mx = self._mx + dx / self.n
            self._my += dy / self.n
            self._sxx += np.outer(dx, row - self._mx)
            self._sxy += dx * (y - self._my)
        else:
            self._sxx += np.outer(row, row)
            self._sxy += row * y
        self._coef = None

    def learn_many(self, x: ArrayLike, y: ArrayLike) -> None:
        """Add a batch of examples (merges its co-moments; equals a loop of ``learn_one``)."""
        mat = as_matrix(x, "LeastSquares")
        ys = np.asarray(y, dtype=np.float64).reshape(-1)
        if ys.shape != (mat.shape[0],) or not np.isfinite(ys).all():
            raise ValueError(f"LeastSquares: y must hold {mat.shape[0]} finite number(s)")
        if mat.shape[0] == 0:
            return
        self._start(mat.shape[1])
        assert self._mx is not None
        m = mat.shape[0]
        if self.fit_intercept:
            bx, by = mat.mean(axis=0), float(ys.mean())
            cx, cy = mat - bx, ys - by
            total = self.n + m
            dx, dy = bx - self._mx, by - self._my
            self._sxx += cx.T @ cx + np.outer(dx, dx) * (self.n * m / total)
            self._sxy += cx.T @ cy + dx * dy * (self.n * m / total)
            self._mx = self._mx + dx * (m / total)
            self._my += dy * (m / total)
        else:
            self._sxx += mat.T @ mat
            self._sxy += mat.T @ ys
        self.n += m
        self._coef = None

    def fit(self, x: ArrayLike, y: ArrayLike) -> LeastSquares:
        """Forget everything, then learn the batch; returns ``self``."""
        self.__init__(  # type: ignore[misc]
            ridge=self.ridge, fit_intercept=self.fit_intercept, cond_limit=self.cond_limit
        )
        self.learn_many(x, y)
        return self

    def _solve(self) -> None:
        if self._mx is None:
            self._coef, self._intercept = np.zeros(0), math.nan
            return
        if self.ridge == 0.0 and self.n < self._mx.size + self.fit_intercept:
            # fewer examples than unknowns: not identified, and no warning for a cold start
            self._coef, self._intercept = np.full(self._mx.size, math.nan), math.nan
            self.solver, self.condition_number = "underdetermined", math.inf
            return
        a = self._sxx + self.ridge * np.eye(self._mx.size)
        self.condition_number = float(np.linalg.cond(a))
        coef = None
        if self.condition_number < self.cond_limit:
            try:
                coef = cho_solve(cho_factor(a), self._sxy)
                self.solver = "cholesky"
            except LinAlgError:
                coef = None
        if coef is None:
            warnings.warn(
                f"LeastSquares: the normal equations are ill-conditioned (condition number "
                f"{self.condition_number:.3g} >= cond_limit {self.cond_limit:.3g}, n={self.n}); "
                "solved by SVD least squares, dropping the weakest directions: check for "
                "collinear or badly scaled features, or add a ridge penalty",
                IllConditionedWarning,
                stacklevel=3,
            )
            coef = np.linalg.lstsq(a, self._sxy, rcond=1.0 / self.cond_limit)[0]
            self.solver = "svd"
        self._coef = np.asarray(coef, dtype=np.float64)
        self._intercept = self._my - float(self._mx @ self._coef) if self.fit_intercept else 0.0

    @property
    def coef(self) -> NDArray[np.float64]:
        """The weights (a copy)."""
        if self._coef is None:
            self._solve()
        assert self._coef is not None
        return self._coef.copy()

    @property
    def intercept(self) -> float:
        """The intercept (0 without ``fit_intercept``; NaN before it is identified)."""
        if self._coef is None:
            self._solve()
        return self._intercept

    def predict_one(self, x: ArrayLike) -> float:
        """``x . w + b`` (NaN until the coefficients are identified)."""
        row = as_row(x, "LeastSquares")
        coef = self.coef
        if coef.size == 0:
            return math.nan
        return float(row @ coef) + self._intercept

    def predict_many(self, x: ArrayLike) -> NDArray[np.float64]:
        """Predictions for the rows of ``x``."""
        mat = as_matrix(x, "LeastSquares")
        coef = self.coef
        if coef.size == 0:
            return np.full(mat.shape[0], np.nan)
        return np.asarray(mat @ coef + self._intercept)

    def score_one(self, x: ArrayLike, y: float) -> float:
        """The squared-error loss ``0.5 (prediction - y)**2`` of the current model on (x, y)."""
        return 0.5 * (self.predict_one(x) - float(y)) ** 2

    def __repr__(self) -> str:
        return (
            f"LeastSquares(ridge={self.ridge!r}, fit_intercept={self.fit_intercept!r}, "
            f"cond_limit={self.cond_limit!r}, n={self.n})"
        )
