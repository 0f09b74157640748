"""Small synthetic streams for the introspective library suite (``_unit_test_stream``)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["classification_rows", "regression_rows"]

_BETA = np.array([1.0, -2.0, 0.5])


def regression_rows(rng: np.random.Generator, n: int) -> list[tuple[Any, float]]:
    """``(x, y)`` with three standard-normal features and a linear target plus noise."""
    x = rng.standard_normal((n, 3))
    y = x @ _BETA + 0.3 + 0.1 * rng.standard_normal(n)
    return [(row, float(t)) for row, t in zip(x, y, strict=True)]


def classification_rows(
    rng: np.random.Generator, n: int, classes: int = 2
) -> list[tuple[Any, int]]:
    """``(x, label)`` with labels 0 .. classes-1 drawn from a softmax of linear scores."""
    x = rng.standard_normal((n, 3))
    scores = x[:, :1] * np.arange(classes)[None, :]
    labels = np.argmax(scores + rng.gumbel(size=scores.shape), axis=1)
    return [(row, int(c)) for row, c in zip(x, labels, strict=True)]
