"""The scalar path of the implied-volatility solver: one option in plain ``math``.

The same algorithm as the vectorised solver in :mod:`fluvius.nodes.options.implied`
(out-of-the-money transform, start at the inflection point, Halley steps on ``ln P`` below
it and on ``P`` above it, bracket safeguard, brentq fallback) without numpy's per-call
overhead: a graph node computing one option per tick pays a few microseconds, not tens.
"""

from __future__ import annotations

import math

from fluvius.nodes.options._reasons import NOISE_ULPS, IVReason

__all__ = ["solve_one"]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_EPS = 2.220446049250313e-16


def _otm(v: float, x: float, f: float, k: float, s: float) -> tuple[float, float, float, float]:
    d1 = x / v + 0.5 * v
    d2 = d1 - v
    price = s * (
        f * 0.5 * math.erfc(-s * d1 * _INV_SQRT2) - k * 0.5 * math.erfc(-s * d2 * _INV_SQRT2)
    )
    vega = f * _INV_SQRT_2PI * math.exp(-0.5 * d1 * d1)
    return price, vega, d1, d2


def solve_one(
    price: float,
    spot: float,
    strike: float,
    years: float,
    rate: float,
    q: float,
    s: float,
    tol: float,
    max_iter: int,
) -> tuple[float, IVReason]:
    """Implied volatility of one option and its reason code (``s`` = +1 call, -1 put)."""
    if not (
        spot > 0.0
        and strike > 0.0
        and years > 0.0
        and price >= 0.0
        and math.isfinite(price + spot + strike + years + rate + q)
    ):
        return math.nan, IVReason.BAD_INPUT
    growth = math.exp(rate * years)
    f = spot * math.exp(-q * years) * growth
    p = price * growth
    intrinsic = max(s * (f - strike), 0.0)
    if p <= intrinsic:
        return math.nan, IVReason.BELOW_INTRINSIC
    if p >= (f if s > 0.0 else strike):
        return math.nan, IVReason.ABOVE_UPPER_BOUND
    if intrinsic > 0.0:  # in the money: solve the out-of-the-money option of the other kind
        otm = p - intrinsic
        if otm <= NOISE_ULPS * _EPS * p:
            return math.nan, IVReason.BELOW_INTRINSIC
        p, s = otm, -s
    x = math.log(f / strike)
    v = math.sqrt(2.0 * abs(x))
    if v <= 1e-8:
        v = math.sqrt(2.0 * math.pi) * p / f
    log_p = math.log(p)
    lo, hi = 0.0, math.inf
    lower = False
    sqrt_tol = math.sqrt(tol)
    for rounds in range(1, max_iter + 1):
        model, vega, d1, d2 = _otm(v, x, f, strike, s)
        if rounds == 1:
            lower = model >= p
        if model < p:
            lo = max(lo, v)
        else:
            hi = min(hi, v)
        curv = d1 * d2 / v
        try:
            if lower:
                g1 = vega / model
                newton = (math.log(model) - log_p) / g1
                g2 = g1 * (curv - g1)
            else:
                g1 = vega
                newton = (model - p) / g1
                g2 = vega * curv
            step = newton / (1.0 - 0.5 * newton * g2 / g1)
        except (ZeroDivisionError, ValueError, OverflowError):
            step = math.nan
        new = v - step
        if abs(step) <= sqrt_tol * max(v, 1e-3):
            return new / math.sqrt(years), IVReason.OK
        if not (math.isfinite(new) and lo < new < hi):
            new = 0.5 * (lo + hi) if math.isfinite(hi) else 2.0 * max(v, lo)
        v = new
    from fluvius.nodes.options.implied import _brent  # the rare fallback: import lazily

    root, ok = _brent(p, f, strike, s, lo, hi)
    return (root / math.sqrt(years), IVReason.OK) if ok else (math.nan, IVReason.NO_CONVERGENCE)
