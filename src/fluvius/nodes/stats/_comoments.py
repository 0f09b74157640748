"""Co-moments of a stream of pairs: the shared state of Cov, Corr and Beta.

Welford's bivariate update (``dx = x - mx; mx += dx / n; my += dy / n;
sxy += dx * (y - my)``, and the same for ``sxx``, ``syy``) on values shifted by a pair
``(kx, ky)`` of the stream (the first, or the window's first at each exact recomputation),
so that large offsets cost no precision, with windowed removal; Chan et
al.'s pairwise formulas for ``merge``. As for :class:`~fluvius.nodes.stats.RollingVar`, a
window's sums are recomputed exactly (two-pass, ``math.fsum``) once per window length of
updates, so removal's rounding cannot pile up (O(1) amortised). A pair with a NaN makes the
statistic NaN while it is counted (for ever without a window).
"""

from __future__ import annotations

import math
from collections import deque

from fluvius.nodes.stats.base import Bivariate, push_time

__all__ = ["CoMoments"]


class CoMoments(Bivariate):
    """``n``, means and centred sums of squares and products of ``(x, y)`` pairs."""

    __slots__ = (
        "_fresh",
        "_kx",
        "_ky",
        "_nan",
        "_ts",
        "_xy",
        "mx",
        "my",
        "n",
        "period",
        "sxx",
        "sxy",
        "syy",
        "window",
    )

    def __init__(self, window: int | None, period: float | None) -> None:
        self.window = window
        self.period = period
        self._xy: deque[tuple[float, float]] = deque()
        self._ts: deque[float] = deque()
        self.n = 0
        self.mx = self.my = self.sxx = self.syy = self.sxy = 0.0  # mx, my: shifted means
        self._kx = self._ky = math.nan
        self._nan = 0
        self._fresh = 0

    @property
    def _windowed(self) -> bool:
        return self.window is not None or self.period is not None

    def update(self, x: float, y: float, t: float | None = None) -> None:
        """Take one pair (at time ``t`` for a time window)."""
        if self.period is not None:
            push_time(type(self).__name__, self._ts, t)
        if self._windowed:
            self._xy.append((x, y))
        if x != x or y != y:
            self._nan += 1
        else:
            if self._kx != self._kx:
                self._kx, self._ky = x, y
            x -= self._kx
            y -= self._ky
            n = self.n + 1
            self.n = n
            dx = x - self.mx
            dy = y - self.my
            self.mx += dx / n
            self.my += dy / n
            self.sxx += dx * (x - self.mx)
            self.syy += dy * (y - self.my)
            self.sxy += dx * (y - self.my)
        if self.window is not None:
            if len(self._xy) > self.window:
                self._remove(*self._xy.popleft())
        elif self.period is not None:
            self._evict()
        else:
            return
        self._fresh += 1
        if self._fresh > len(self._xy):
            self._recompute()

    def _remove(self, x: float, y: float) -> None:
        if x != x or y != y:
            self._nan -= 1
            return
        n = self.n - 1
        self.n = n
        if n == 0:
            self.mx = self.my = self.sxx = self.syy = self.sxy = 0.0
            return
        x -= self._kx
        y -= self._ky
        dx = x - self.mx
        dy = y - self.my
        self.mx -= dx / n
        self.my -= dy / n
        self.sxx -= dx * (x - self.mx)
        self.syy -= dy * (y - self.my)
        self.sxy -= dx * (y - self.my)

    def _evict(self) -> None:
        ts = self._ts
        cut = ts[-1] - self.period  # type: ignore[operator]
        while ts[0] <= cut:
            ts.popleft()
            self._remove(*self._xy.popleft())

    def _recompute(self) -> None:
        pairs = [(x, y) for x, y in self._xy if x == x and y == y]
        self._fresh = 0
        if not pairs:
            return
        kx, ky = pairs[0]
        pairs = [(x - kx, y - ky) for x, y in pairs]
        self._kx, self._ky = kx, ky
        n = len(pairs)
        mx = math.fsum(p[0] for p in pairs) / n
        my = math.fsum(p[1] for p in pairs) / n
        self.mx, self.my = mx, my
        self.sxx = math.fsum((x - mx) * (x - mx) for x, _ in pairs)
        self.syy = math.fsum((y - my) * (y - my) for _, y in pairs)
        self.sxy = math.fsum((x - mx) * (y - my) for x, y in pairs)

    def _merged(self, other: CoMoments) -> CoMoments:
        """A new state of both streams (unwindowed only); the caller checks types."""
        if self._windowed:
            raise TypeError(f"{type(self).__name__}: a windowed statistic cannot merge")
        out = type(self).__new__(type(self))
        CoMoments.__init__(out, None, None)
        for attr in type(self)._params:
            setattr(out, attr, getattr(self, attr))
        n1, n2 = self.n, other.n
        out._nan = self._nan + other._nan
        if n1 == 0 or n2 == 0:
            src = self if n2 == 0 else other
            out.n, out.mx, out.my, out._kx, out._ky = src.n, src.mx, src.my, src._kx, src._ky
            out.sxx, out.syy, out.sxy = src.sxx, src.syy, src.sxy
            return out
        n = n1 + n2
        out._kx, out._ky = self._kx, self._ky
        dx = ((other._kx - self._kx) + other.mx) - self.mx
        dy = ((other._ky - self._ky) + other.my) - self.my
        f = n1 * n2 / n
        out.n = n
        out.mx = self.mx + dx * (n2 / n)
        out.my = self.my + dy * (n2 / n)
        out.sxx = self.sxx + other.sxx + dx * dx * f
        out.syy = self.syy + other.syy + dy * dy * f
        out.sxy = self.sxy + other.sxy + dx * dy * f
        return out
