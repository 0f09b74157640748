"""Two-sample Kolmogorov-Smirnov test, batch and over a sliding window.

Design
------
The statistic ``D = max |F_a(x) - F_b(x)|`` is taken over the pooled sample with
``searchsorted`` on the two sorted samples (ties handled exactly). Two p-values:

- **exact** (no ties assumed, as scipy): ``P(D >= d)`` is the probability that a uniformly
  random monotone lattice path from (0, 0) to (m, n) leaves the band
  ``|i n - j m| < h`` with ``h = d m n`` (an integer, so the band test is exact). The
  dynamic programme walks the anti-diagonals ``i + j = s`` carrying probabilities (each
  step goes right with probability ``(n - j) / (m + n - s)``), and adds up the mass that
  leaves the band, so small p-values keep their relative accuracy. O(m n) work in
  O(m + n) numpy steps.
- **asymptotic**: the Kolmogorov distribution of ``D`` with ``round(m n / (m + n))``
  observations (``scipy.stats.kstwo``), scipy's own large-sample choice.

``method="auto"`` is exact when ``m * n <= 10**6`` (about 0.15 s at 1000 x 1000),
asymptotic above.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
from scipy.stats import kstwo

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["KSDrift", "KSResult", "ks_2samp"]

_EXACT_MAX_CELLS = 10**6


class KSResult(NamedTuple):
    """The two-sample KS statistic and its two-sided p-value."""

    statistic: float
    pvalue: float


def _sample(values: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64).ravel()
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        raise ValueError(f"ks_2samp: {name} has no non-NaN value")
    return np.sort(arr)


def _exact_pvalue(m: int, n: int, h: int) -> float:
    """P(a random lattice path from (0,0) to (m,n) touches |i n - j m| >= h)."""
    if h <= 0:
        return 1.0
    total = m + n
    f = np.array([1.0])  # probabilities on diagonal s, indexed by i - lo
    lo = 0
    out = 0.0
    for s in range(total):
        i = np.arange(lo, lo + f.size)
        rem = total - s
        right = f * ((n - (s - i)) / rem)  # j + 1
        down = f * ((m - i) / rem)  # i + 1
        new_lo = max(0, s + 1 - n)
        new_hi = min(m, s + 1)
        g = np.zeros(new_hi - new_lo + 1)
        keep_r = (s - i) < n  # the indices within each move are distinct: plain += is safe
        g[i[keep_r] - new_lo] += right[keep_r]
        keep_d = i < m
        g[i[keep_d] + 1 - new_lo] += down[keep_d]
        ii = np.arange(new_lo, new_hi + 1)
        outside = np.abs(ii * n - (s + 1 - ii) * m) >= h
        out += float(g[outside].sum())
        g[outside] = 0.0
        f, lo = g, new_lo
    return min(out, 1.0)


def ks_2samp(
    a: ArrayLike, b: ArrayLike, *, method: Literal["auto", "exact", "asymp"] = "auto"
) -> KSResult:
    """Two-sample, two-sided Kolmogorov-Smirnov test (NaNs dropped).

    Parameters
    ----------
    a, b
        The two samples.
    method
        ``"exact"``, ``"asymp"`` or ``"auto"`` (module notes).

    Returns
    -------
    KSResult
        ``statistic`` D and ``pvalue`` P(D >= d) under the null of one distribution.

    Examples
    --------
    >>> res = ks_2samp([0.1, 0.4, 0.7], [0.2, 0.5, 0.9, 1.2])
    >>> round(res.statistic, 4), round(res.pvalue, 4)  # scipy.stats.ks_2samp: 0.5, 0.6571
    (0.5, 0.6571)
    """
    xa, xb = _sample(a, "a"), _sample(b, "b")
    m, n = xa.size, xb.size
    pooled = np.concatenate([xa, xb])
    cdf_a = np.searchsorted(xa, pooled, side="right") / m
    cdf_b = np.searchsorted(xb, pooled, side="right") / n
    d = float(np.max(np.abs(cdf_a - cdf_b)))
    if method == "auto":
        method = "exact" if m * n <= _EXACT_MAX_CELLS else "asymp"
    if method == "exact":
        h = round(d * m * n)
        return KSResult(d, _exact_pvalue(m, n, h))
    if method == "asymp":
        en = m * n / (m + n)
        return KSResult(d, float(kstwo.sf(d, max(round(en), 1))))  # m = n = 1: n_eff 1, not 0
    raise ValueError(f"ks_2samp: method must be 'auto', 'exact' or 'asymp', got {method!r}")


class KSDrift:
    """KS test of a sliding window of recent values against a fixed reference sample.

    Parameters
    ----------
    reference
        The reference sample (e.g. the training data of a feature). ``None`` with
        ``warmup``: the first ``warmup`` values of the stream are the reference.
    window
        Number of recent values compared.
    method
        p-value method of :func:`ks_2samp` (``"asymp"`` by default: cheap per update).

    Notes
    -----
    ``update`` is O(1); ``get`` costs O((w + r) log w) (a sort of the window) plus the
    p-value, and is cached until the next update. NaN values are ignored. Before the
    window holds ``min_count`` values ``get`` is ``KSResult(nan, nan)``.

    Examples
    --------
    >>> drift = KSDrift([0.0, 1.0, 2.0, 3.0, 4.0], window=3, min_count=3)
    >>> for x in [10.0, 11.0, 12.0]:
    ...     drift.update(x)
    >>> drift.get().statistic
    1.0
    >>> warm = KSDrift(window=3, min_count=3, warmup=5)  # the first 5 values: the reference
    >>> for x in [0.0, 1.0, 2.0, 3.0, 4.0, 10.0, 11.0, 12.0]:
    ...     warm.update(x)
    >>> warm.get().statistic
    1.0
    """

    def __init__(
        self,
        reference: ArrayLike | None = None,
        *,
        window: int = 500,
        min_count: int = 20,
        method: Literal["auto", "exact", "asymp"] = "asymp",
        warmup: int | None = None,
    ) -> None:
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"KSDrift: window must be an int >= 1, got {window=}")
        if not 1 <= min_count <= window:
            raise ValueError(
                f"KSDrift: min_count must be in [1, window={window}], got {min_count=}"
            )
        if (reference is None) == (warmup is None):
            raise ValueError("KSDrift: give exactly one of reference or warmup")
        if warmup is not None and (
            isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 1
        ):
            raise ValueError(f"KSDrift: warmup must be an int >= 1, got {warmup=}")
        self.warmup = warmup
        self._warm: list[float] | None = [] if warmup is not None else None
        self.reference = _sample(reference, "reference") if reference is not None else None
        self.window = window
        self.min_count = min_count
        self.method = method
        self._recent: deque[float] = deque(maxlen=window)
        self._cached: KSResult | None = None

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        ref = [100.0 + 0.1 * k for k in range(-20, 21)]
        return [
            {"reference": ref, "window": 5, "min_count": 2},
            {"reference": ref, "method": "exact"},
        ]

    def update(self, x: float | None) -> None:
        """Add one value (NaN and None ignored)."""
        if x is not None and not math.isnan(x):
            if self._warm is not None:
                self._warm.append(float(x))
                if len(self._warm) >= (self.warmup or 0):
                    self.reference = _sample(self._warm, "reference")
                    self._warm = None
                return
            self._recent.append(float(x))
            self._cached = None

    def get(self) -> KSResult:
        """The KS statistic and p-value of the window against the reference."""
        if self.reference is None or len(self._recent) < self.min_count:
            return KSResult(math.nan, math.nan)
        if self._cached is None:
            self._cached = ks_2samp(self.reference, list(self._recent), method=self.method)
        return self._cached

    def __repr__(self) -> str:
        return (
            f"KSDrift(reference=<{0 if self.reference is None else self.reference.size} values>, "
            f"window={self.window}, "
            f"method={self.method!r}, n={len(self._recent)})"
        )
