"""Population stability index (PSI) between a reference sample and new data.

Binning (stated, because PSI depends on it): ``bins`` equal-count bins of the *reference*
sample, with edges at its quantiles ``k / bins`` (``numpy.quantile``, linear
interpolation), the outer bins open to -inf and +inf so that every new value falls in a
bin; repeated edges (heavy ties) are merged, so a discrete feature gets fewer bins. A value
equal to an edge goes to the bin on the right. Each bin's share is floored at ``eps``
(default 1e-4) so an empty bin gives a large, finite term rather than infinity::

    PSI = sum_k (a_k - e_k) ln(a_k / e_k)

with ``e_k`` and ``a_k`` the reference and new shares. Rules of thumb: < 0.1 stable,
0.1-0.25 moderate shift, > 0.25 significant shift.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["PSIDrift", "population_stability_index", "reference_edges"]


def reference_edges(reference: ArrayLike, bins: int = 10) -> NDArray[np.float64]:
    """The inner bin edges: quantiles ``k / bins`` of the reference (NaNs dropped), unique.

    >>> reference_edges([1.0, 2.0, 3.0, 4.0], bins=2).tolist()
    [2.5]
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise ValueError(f"PSI: bins must be an int >= 2, got {bins=}")
    ref = np.asarray(reference, dtype=np.float64).ravel()
    ref = ref[~np.isnan(ref)]
    if ref.size == 0:
        raise ValueError("PSI: the reference sample has no non-NaN value")
    return np.unique(np.quantile(ref, np.arange(1, bins) / bins))


def _psi(expected: NDArray[np.float64], actual: NDArray[np.float64], eps: float) -> float:
    e = np.maximum(expected, eps)
    a = np.maximum(actual, eps)
    return float(np.sum((a - e) * np.log(a / e)))


def _shares(values: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.float64]:
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1)
    return counts / max(values.size, 1)


def population_stability_index(
    reference: ArrayLike, actual: ArrayLike, *, bins: int = 10, eps: float = 1e-4
) -> float:
    """PSI of ``actual`` against ``reference`` (module notes for the binning); NaNs dropped.

    Examples
    --------
    >>> ref = list(range(100))
    >>> population_stability_index(ref, ref)
    0.0
    >>> round(population_stability_index(ref, [x + 30 for x in ref]), 3)
    2.486
    """
    edges = reference_edges(reference, bins)
    ref = np.asarray(reference, dtype=np.float64).ravel()
    act = np.asarray(actual, dtype=np.float64).ravel()
    act = act[~np.isnan(act)]
    if act.size == 0:
        return math.nan
    return _psi(_shares(ref[~np.isnan(ref)], edges), _shares(act, edges), eps)


class PSIDrift:
    """PSI of a stream (all values, or a sliding window) against a reference sample.

    Parameters
    ----------
    reference
        The reference sample; fixes the bins (module notes). ``None`` with ``warmup``: the
        first ``warmup`` values of the stream are the reference.
    bins
        Number of equal-count reference bins.
    window
        Count window of recent values, or ``None`` for every value seen.
    eps
        Floor of a bin's share.
    warmup
        With ``reference=None``: how many first values make the reference (a live feed
        has no training sample; NaN until then, those values are not monitored).

    Notes
    -----
    ``update`` is O(log bins) (a bisection) and ``get`` O(bins). NaN values are ignored;
    ``get`` is NaN before the first value.

    Examples
    --------
    >>> drift = PSIDrift(list(range(100)), bins=4, window=50)
    >>> for x in range(0, 100, 2):
    ...     drift.update(float(x))
    >>> round(drift.get(), 4)  # the even numbers fill the quartiles almost evenly
    0.0016
    >>> for x in range(25):
    ...     drift.update(90.0)
    >>> drift.get() > 0.25
    True

    With no reference sample, the first ``warmup`` values are the reference:

    >>> warm = PSIDrift(bins=4, warmup=40)
    >>> for x in range(40):
    ...     warm.update(float(x))
    >>> warm.get()
    nan
    >>> for x in range(30, 40):
    ...     warm.update(float(x))
    >>> warm.get() > 0.25  # every value now in the top quartile
    True
    """

    def __init__(
        self,
        reference: ArrayLike | None = None,
        *,
        bins: int = 10,
        window: int | None = None,
        eps: float = 1e-4,
        warmup: int | None = None,
    ) -> None:
        if window is not None and (
            isinstance(window, bool) or not isinstance(window, int) or window < 1
        ):
            raise ValueError(f"PSIDrift: window must be None or an int >= 1, got {window=}")
        if not 0.0 < eps < 1.0:
            raise ValueError(f"PSIDrift: eps must be in (0, 1), got {eps=}")
        if (reference is None) == (warmup is None):
            raise ValueError("PSIDrift: give exactly one of reference or warmup")
        if warmup is not None and (
            isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < bins
        ):
            raise ValueError(f"PSIDrift: warmup must be an int >= bins={bins}, got {warmup=}")
        self.window = window
        self.eps = eps
        self.bins = bins
        self.warmup = warmup
        self._warm: list[float] | None = [] if warmup is not None else None
        self._recent: deque[int] = deque()
        self._n = 0
        if reference is not None:
            self._set_reference(reference)

    def _set_reference(self, reference: ArrayLike) -> None:
        self.edges = reference_edges(reference, self.bins)
        ref = np.asarray(reference, dtype=np.float64).ravel()
        self.expected = _shares(ref[~np.isnan(ref)], self.edges)
        self._edges_list = self.edges.tolist()
        self._counts = [0] * (self.edges.size + 1)

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        ref = [100.0 + 0.1 * k for k in range(-20, 21)]
        return [{"reference": ref, "bins": 5, "window": 10}, {"reference": ref}]

    def update(self, x: float | None) -> None:
        """Count one value in its bin (NaN and None ignored)."""
        if x is None or math.isnan(x):
            return
        if self._warm is not None:
            self._warm.append(float(x))
            if len(self._warm) >= (self.warmup or 0):
                self._set_reference(self._warm)
                self._warm = None
            return
        k = bisect.bisect_right(self._edges_list, x)
        self._counts[k] += 1
        self._n += 1
        if self.window is not None:
            self._recent.append(k)
            if len(self._recent) > self.window:
                self._counts[self._recent.popleft()] -= 1
                self._n -= 1

    def get(self) -> float:
        """The PSI of the values counted against the reference."""
        if self._n == 0:
            return math.nan
        return _psi(self.expected, np.asarray(self._counts) / self._n, self.eps)

    def __repr__(self) -> str:
        if self._warm is not None:
            return f"PSIDrift(warmup={self.warmup}, window={self.window}, seen={len(self._warm)})"
        return f"PSIDrift(bins={self.edges.size + 1}, window={self.window}, n={self._n})"
