"""Learning-rate schedules of the gradient-descent models: ``rate(t)`` for step ``t = 1, 2, …``.

Each schedule is a small immutable value (it pickles, copies and compares), called with the
1-based step count of the model that owns it. The formulas are those of scikit-learn's
``SGDRegressor`` (``constant``, ``invscaling``) plus exponential decay, so runs can be
compared one to one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ConstantRate", "ExponentialDecayRate", "InverseScalingRate", "Schedule"]


def _check_positive(owner: str, name: str, value: float) -> None:
    if isinstance(value, bool) or not (isinstance(value, int | float) and value > 0.0):
        raise ValueError(f"{owner}: {name} must be a number > 0, got {name}={value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be finite, got {name}={value!r}")


@dataclass(frozen=True, slots=True)
class ConstantRate:
    """``eta(t) = eta0``.

    >>> ConstantRate(0.1)(1), ConstantRate(0.1)(100)
    (0.1, 0.1)
    """

    eta0: float

    def __post_init__(self) -> None:
        _check_positive("ConstantRate", "eta0", self.eta0)

    def __call__(self, t: int) -> float:
        """The rate of step ``t`` (1-based)."""
        return self.eta0


@dataclass(frozen=True, slots=True)
class InverseScalingRate:
    """``eta(t) = eta0 / t**power`` (scikit-learn's ``invscaling``; Robbins-Monro for
    ``0.5 < power <= 1``).

    >>> InverseScalingRate(0.1, power=0.5)(4)
    0.05
    """

    eta0: float
    power: float = 0.25

    def __post_init__(self) -> None:
        _check_positive("InverseScalingRate", "eta0", self.eta0)
        _check_positive("InverseScalingRate", "power", self.power)

    def __call__(self, t: int) -> float:
        """The rate of step ``t`` (1-based)."""
        return float(self.eta0 / t**self.power)


@dataclass(frozen=True, slots=True)
class ExponentialDecayRate:
    """``eta(t) = max(eta0 * decay**(t - 1), floor)``.

    >>> ExponentialDecayRate(0.1, decay=0.5)(3)
    0.025
    """

    eta0: float
    decay: float = 0.999
    floor: float = 0.0

    def __post_init__(self) -> None:
        _check_positive("ExponentialDecayRate", "eta0", self.eta0)
        if not 0.0 < self.decay <= 1.0:
            raise ValueError(
                f"ExponentialDecayRate: decay must be in (0, 1], got decay={self.decay!r}"
            )
        if not 0.0 <= self.floor <= self.eta0:
            raise ValueError(
                f"ExponentialDecayRate: floor must be in [0, eta0={self.eta0}], "
                f"got floor={self.floor!r}"
            )

    def __call__(self, t: int) -> float:
        """The rate of step ``t`` (1-based)."""
        return max(self.eta0 * self.decay ** (t - 1), self.floor)


Schedule = ConstantRate | InverseScalingRate | ExponentialDecayRate
"""Any of the learning-rate schedules."""
