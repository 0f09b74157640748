"""The gradient-descent machinery shared by the linear, logistic and softmax models.

Design
------
A model here is a parameter matrix ``W`` (features x outputs) and a bias row ``b`` (one per
output; one output for regression and binary logistic regression, K for softmax), an L2
penalty ``l2`` on ``W`` (never on ``b``, as scikit-learn), a learning-rate schedule and a
step counter ``t``. Subclasses give only the loss and its gradient on a batch
(:meth:`_LinearGD._loss_grad`) and the link from scores to predictions.

Three ways to learn, one update rule ``W -= eta(t) * grad``:

- ``learn_one(x, y)``: one stochastic step on one example (the online path, O(d K));
- ``learn_many(X, y)``: one step on the mean gradient of a mini-batch;
- ``fit(X, y)``: repeated steps until convergence. ``batch_size=None`` is full-batch
  gradient descent (deterministic); an int runs shuffled mini-batch epochs, shuffled by
  ``numpy.random.default_rng(seed)``, so a run is reproducible. Convergence: the relative
  change of the loss below ``tol``, or the gradient norm below ``gtol``, checked after
  each full-batch step or epoch; ``max_iter`` bounds the steps (or epochs). The
  :class:`FitReport` says which criterion stopped the run.

Divergence is never a silent NaN. After each step the loss and the parameters must be
finite and the loss must stay below ``divergence_factor`` times a yardstick: the larger of
exponentially weighted means (weight 0.05) of past step losses and of the loss of a trivial
model on the targets (``y**2 / 2`` for regression, ``ln K`` for classification), and that
trivial loss on the current batch; when
they do not, the step is undone (the model keeps its last good parameters), ``diverged``
is set and, with ``on_divergence="raise"`` (the default),
:class:`~fluvius.errors.ModelDivergedError` names the step, the loss and the rate. With
``on_divergence="flag"`` the model stops learning and keeps predicting with its last good
parameters; ``fit`` returns a report whose ``stopped_by`` is ``"diverged"``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from fluvius.errors import ModelDivergedError
from fluvius.nodes.models.schedules import (
    ConstantRate,
    ExponentialDecayRate,
    InverseScalingRate,
    Schedule,
)

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["FitReport"]

Float = np.float64
_GLMOne = Callable[[float, float], tuple[float, float]]
_REF_ALPHA = 0.05  # weight of the newest step in the divergence yardstick


@dataclass(frozen=True, slots=True)
class FitReport:
    """What a ``fit`` did: steps (or epochs) run, final loss and gradient norm, and why it
    stopped (``"tol"``, ``"gtol"``, ``"max_iter"`` or ``"diverged"``)."""

    iterations: int
    loss: float
    grad_norm: float
    stopped_by: Literal["tol", "gtol", "max_iter", "diverged"]

    @property
    def converged(self) -> bool:
        """True when a convergence criterion (``tol`` or ``gtol``) stopped the run."""
        return self.stopped_by in ("tol", "gtol")


def _total(a: NDArray[Float]) -> float:
    """Sum of all elements (``np.add.reduce`` directly: ``ndarray.sum`` costs ~1 us more)."""
    return float(np.add.reduce(a.ravel()))


def _sq(a: NDArray[Float]) -> float:
    """Sum of squares of an array of any shape."""
    flat = a.ravel()
    return float(flat @ flat)


def as_row(x: ArrayLike, owner: str) -> NDArray[Float]:
    """One example as a 1-D float array, checked finite."""
    row = np.asarray(x, dtype=Float)
    if row.ndim != 1:
        raise ValueError(f"{owner}: x must be 1-D (one example), got shape {row.shape}")
    if not math.isfinite(_total(row)):  # NaN and inf propagate through the sum
        raise ValueError(f"{owner}: x must be finite, got {row.tolist()}")
    return row


def as_matrix(x: ArrayLike, owner: str) -> NDArray[Float]:
    """A batch as a 2-D float array, checked finite."""
    mat = np.asarray(x, dtype=Float)
    if mat.ndim != 2:
        raise ValueError(f"{owner}: X must be 2-D (examples x features), got shape {mat.shape}")
    if not math.isfinite(_total(mat)):
        raise ValueError(f"{owner}: X must be finite")
    return mat


class _LinearGD:
    """Base of the gradient-descent models (see the module notes)."""

    n_outputs_fixed: int | None = 1

    def __init__(
        self,
        learning_rate: float | Schedule = 0.01,
        *,
        l2: float = 0.0,
        fit_intercept: bool = True,
        on_divergence: Literal["raise", "flag"] = "raise",
        divergence_factor: float = 1e8,
        seed: int | None = 0,
    ) -> None:
        owner = type(self).__name__
        if isinstance(learning_rate, int | float) and not isinstance(learning_rate, bool):
            self.schedule: Schedule = ConstantRate(learning_rate)
        elif isinstance(learning_rate, ConstantRate | InverseScalingRate | ExponentialDecayRate):
            self.schedule = learning_rate
        else:
            raise ValueError(
                f"{owner}: learning_rate must be a number > 0 or a schedule, "
                f"got learning_rate={learning_rate!r}"
            )
        if not (isinstance(l2, int | float) and l2 >= 0.0 and math.isfinite(l2)):
            raise ValueError(f"{owner}: l2 must be a finite number >= 0, got l2={l2!r}")
        if on_divergence not in ("raise", "flag"):
            raise ValueError(
                f"{owner}: on_divergence must be 'raise' or 'flag', got {on_divergence=}"
            )
        if not divergence_factor > 1.0:
            raise ValueError(f"{owner}: divergence_factor must be > 1, got {divergence_factor=}")
        self.l2 = float(l2)
        self.fit_intercept = bool(fit_intercept)
        self.on_divergence = on_divergence
        self.divergence_factor = float(divergence_factor)
        self.seed = seed
        self.t = 0
        self.diverged = False
        self.weights: NDArray[Float] | None = None  # (features, outputs)
        self.bias: NDArray[Float] = np.zeros(0)
        self._loss_ref = 0.0
        self._scale_ref = 0.0

    # -- subclass hooks -----------------------------------------------------------------------
    def _loss_grad(
        self, x: NDArray[Float], y: Any
    ) -> tuple[float, NDArray[Float], NDArray[Float]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _n_outputs(self, y: Any) -> int:
        return 1

    def _glm_one(self) -> _GLMOne | None:
        """``(score, y) -> (loss, err)`` for the one-example fast path, or None."""
        return None

    def _loss_scale_one(self, y: float) -> float:
        """:meth:`_loss_scale` of one target."""
        return 0.5 * y * y

    def _loss_scale(self, y: Any) -> float:
        """The loss of a trivial model on targets ``y``: what "exploding" is measured by."""
        return 0.5 * float(y @ y) / float(y.size)

    def _target(self, y: Any, n: int) -> Any:
        """Validate and convert targets of a batch of ``n`` examples."""
        arr = np.asarray(y, dtype=Float).reshape(-1)
        if arr.shape != (n,) or not math.isfinite(_total(arr)):
            raise ValueError(
                f"{type(self).__name__}: y must hold {n} finite number(s), got {np.asarray(y)!r}"
            )
        return arr

    # -- shared machinery ---------------------------------------------------------------------
    def _init(self, n_features: int, y: Any) -> None:
        if self.weights is None:
            k = self._n_outputs(y)
            self.weights = np.zeros((n_features, k))
            self.bias = np.zeros(k)
        elif self.weights.shape[0] != n_features:
            raise ValueError(
                f"{type(self).__name__}: x has {n_features} feature(s), the model was "
                f"started with {self.weights.shape[0]}"
            )

    def _scores(self, x: NDArray[Float]) -> NDArray[Float]:
        if self.weights is None:
            return np.zeros((x.shape[0], 1))
        if x.shape[1] != self.weights.shape[0]:
            raise ValueError(
                f"{type(self).__name__}: x has {x.shape[1]} feature(s), the model has "
                f"{self.weights.shape[0]}"
            )
        return x @ self.weights + self.bias

    def _step(self, x: NDArray[Float], y: Any) -> tuple[float, float]:
        """One gradient step on batch (x, y); returns (loss before the step, grad norm)."""
        assert self.weights is not None
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is checked in _apply
            loss, gw, gb = self._loss_grad(x, y)
            return self._apply(loss, gw, gb, self._loss_scale(y))

    def _step_one(self, row: NDArray[Float], y: float, glm: _GLMOne) -> None:
        """The one-example step of a one-output model: fewer, smaller numpy calls.

        For these models the gradient is ``err * x`` (and ``err`` for the bias), with
        ``loss, err = glm(score, y)``: the same step as :meth:`_step` on a batch of one.
        """
        assert self.weights is not None
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is checked in _apply
            score = float(row @ self.weights[:, 0]) + float(self.bias[0])
            loss, err = glm(score, y)
            self._apply(loss, row[:, None] * err, np.array([err]), self._loss_scale_one(y))

    def _apply(
        self, loss: float, gw: NDArray[Float], gb: NDArray[Float], scale: float
    ) -> tuple[float, float]:
        """Penalise, check for divergence, and take the step (module notes).

        Callers run it under ``np.errstate(over="ignore", invalid="ignore")``: an overflow
        is a divergence, reported below, not a warning.
        """
        assert self.weights is not None
        if self.l2:
            loss += 0.5 * self.l2 * _sq(self.weights)
            gw = gw + self.l2 * self.weights
        gsq = _sq(gw) + (_sq(gb) if self.fit_intercept else 0.0)
        gnorm = math.sqrt(gsq) if math.isfinite(gsq) else math.inf
        eta = self.schedule(self.t + 1)
        new_w = self.weights - eta * gw
        new_b = self.bias - eta * gb if self.fit_intercept else self.bias
        reference = max(self._loss_ref, self._scale_ref, scale, 1e-300)
        if not (
            math.isfinite(loss)
            and (self.t == 0 or loss <= self.divergence_factor * reference)
            and math.isfinite(_total(new_w) + _total(new_b))
        ):
            self._diverge(loss, reference, eta)
            return loss, gnorm
        # the yardstick of "exploding": EW means of the loss and of the loss scale of y
        a = 1.0 if self.t == 0 else _REF_ALPHA
        self._loss_ref += a * (loss - self._loss_ref)
        self._scale_ref += a * (scale - self._scale_ref)
        self.weights, self.bias = new_w, new_b
        self.t += 1
        return loss, gnorm

    def _diverge(self, loss: float, reference: float, eta: float) -> None:
        self.diverged = True
        if self.on_divergence == "raise":
            raise ModelDivergedError(
                f"{type(self).__name__} diverged at step {self.t + 1}: loss {loss!r} "
                f"(typical loss so far {reference:.6g}, limit x{self.divergence_factor:g}) with "
                f"learning rate {eta!r}; the model keeps its last finite parameters; "
                "lower the learning rate or scale the features"
            )

    def learn_one(self, x: ArrayLike, y: Any) -> None:
        """One stochastic gradient step on one example (skipped once diverged and flagged)."""
        row = as_row(x, type(self).__name__)
        self._init(row.size, y)
        if self.diverged:
            return
        glm = self._glm_one()
        if glm is None:
            self._step(row[None, :], self._target([y], 1))
        else:
            self._step_one(row, float(self._target([y], 1)[0]), glm)

    def learn_many(self, x: ArrayLike, y: ArrayLike) -> None:
        """One gradient step on the mean gradient of a mini-batch."""
        mat = as_matrix(x, type(self).__name__)
        targets = self._target(y, mat.shape[0])
        self._init(mat.shape[1], targets)
        if not self.diverged:
            self._step(mat, targets)

    def fit(
        self,
        x: ArrayLike,
        y: ArrayLike,
        *,
        batch_size: int | None = None,
        max_iter: int = 1000,
        tol: float = 1e-10,
        gtol: float = 1e-8,
    ) -> FitReport:
        """Gradient descent on a data set until convergence (module notes).

        ``batch_size=None``: full-batch steps; an int: shuffled mini-batch epochs
        (``seed``), ``max_iter`` then counts epochs. ``tol=0`` or ``gtol=0`` turns that
        criterion off. Learning continues from the current
        parameters and step count.
        """
        mat = as_matrix(x, type(self).__name__)
        targets = self._target(y, mat.shape[0])
        self._init(mat.shape[1], targets)
        n = mat.shape[0]
        rng = np.random.default_rng(self.seed)
        prev = math.inf
        loss = gnorm = math.nan
        for it in range(1, max_iter + 1):
            if self.diverged:
                return FitReport(it - 1, loss, gnorm, "diverged")
            if batch_size is None:
                loss, gnorm = self._step(mat, targets)
            else:
                order = rng.permutation(n)
                for start in range(0, n, batch_size):
                    pick = order[start : start + batch_size]
                    self._step(mat[pick], targets[pick])
                    if self.diverged:
                        return FitReport(it, math.nan, math.nan, "diverged")
                loss, gnorm = self._full_loss(mat, targets)
            if self.diverged:
                return FitReport(it, loss, gnorm, "diverged")
            if gnorm <= gtol:
                return FitReport(it, loss, gnorm, "gtol")
            if tol > 0.0 and abs(prev - loss) <= tol * max(1.0, abs(loss)):
                return FitReport(it, loss, gnorm, "tol")
            prev = loss
        return FitReport(max_iter, loss, gnorm, "max_iter")

    def _full_loss(self, x: NDArray[Float], y: Any) -> tuple[float, float]:
        assert self.weights is not None
        loss, gw, gb = self._loss_grad(x, y)
        loss += 0.5 * self.l2 * _sq(self.weights)
        gw = gw + self.l2 * self.weights
        return loss, math.sqrt(_sq(gw) + _sq(gb))

    @property
    def coef(self) -> NDArray[Float]:
        """The feature weights (a copy; 1-D for one output, features x outputs otherwise)."""
        if self.weights is None:
            return np.zeros(0)
        return self.weights[:, 0].copy() if self.weights.shape[1] == 1 else self.weights.copy()

    @property
    def intercept(self) -> Any:
        """The bias: a float for one output, an array otherwise."""
        if self.bias.size == 1:
            return float(self.bias[0])
        return self.bias.copy()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(learning_rate={self.schedule!r}, l2={self.l2!r}, "
            f"fit_intercept={self.fit_intercept!r}, t={self.t}, diverged={self.diverged})"
        )
