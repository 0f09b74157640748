"""The scalar path of the implied-volatility solver: one option in plain ``math``.

The same algorithm as the vectorised solver in :mod:`fluvius.nodes.options.implied`, step
for step (so the two agree to rounding), without numpy's per-call overhead: a graph node
computing one option per tick pays about 2 µs, not tens.

The start (:func:`guess_one`) and the step are described in the vectorised module's notes:
Corrado-Miller near the money, Mills-ratio asymptotics in the wings, then Householder
steps of order 3 (quartic convergence) on ``ln P`` below the inflection point and on ``P``
above it, safeguarded by a bracket. On the ``options`` workload's chains the start is
within a few per cent, so one or two steps reach 1e-12 (the old start at the inflection
point needed three or four Halley steps).
"""

from __future__ import annotations

from math import erfc, exp, inf, isfinite, log, pi, sqrt

from fluvius.nodes.options._reasons import NOISE_ULPS, IVReason

__all__ = ["MILLS_ROUNDS", "WING", "guess_one", "solve_one", "step_tol"]

_INV_SQRT_2PI = 1.0 / sqrt(2.0 * pi)
_INV_SQRT2 = 1.0 / sqrt(2.0)
_SQRT_2PI = sqrt(2.0 * pi)
_LOG_SQRT_2PI = log(_SQRT_2PI)
_NOISE = NOISE_ULPS * 2.220446049250313e-16
_NAN = float("nan")

WING = 1.5
"""Corrado-Miller is the start while ``|ln(F/K)| <= WING x`` its estimate of ``sigma√T``
(beyond, in the wings, it is off by tens of per cent and the Mills asymptotics take over)."""

MILLS_ROUNDS = 3
"""Fixed-point rounds of the wing start (each costs two logs, not an erfc)."""


def step_tol(tol: float) -> float:
    """Stop after a step below ``step_tol(tol) * max(v, 1e-3)``: the error left after a step
    of order 3 is about the step to the 4th power, ``tol``."""
    return float(tol**0.25)


_DEFAULT_STEP_TOL = step_tol(1e-12)


def guess_one(p: float, f: float, k: float, s: float, x: float) -> float:
    """Starting total volatility ``v = sigma√T`` for the out-of-the-money target ``p``.

    ``f`` forward, ``k`` strike, ``s`` +1 call / -1 put (out of the money), ``x = ln(f/k)``.
    """
    a = abs(x)
    fk = f - k
    m = p - 0.5 * s * fk  # the call's time value minus half the forward moneyness: > 0
    disc = m * m - fk * fk / pi
    cm = _SQRT_2PI / (f + k) * (m + sqrt(disc) if disc > 0.0 else m)
    if a <= WING * cm:
        return cm
    # the wings: p / sqrt(f k) ~ exp(-a^2/(2 v^2) - v^2/8) v^3 / (sqrt(2 pi) (a^2 - v^4/4))
    lam = -log(p / sqrt(f * k)) - _LOG_SQRT_2PI - 2.0 * log(a)
    vc = sqrt(2.0 * a)  # the inflection point: the fallback start
    if not lam > 0.0:
        return vc
    v = a / sqrt(2.0 * lam)
    for _ in range(MILLS_ROUNDS):
        q = 1.0 - v * v * v * v / (4.0 * a * a)
        if not q > 0.0:
            return vc
        den = lam + 3.0 * log(v) - 0.125 * v * v - log(q)
        if not den > 0.0:
            return vc
        v = a / sqrt(2.0 * den)
    return v


def solve_one(
    price: float,
    spot: float,
    strike: float,
    years: float,
    rate: float,
    q: float,
    s: float,
    tol: float = 1e-12,
    max_iter: int = 30,
) -> tuple[float, IVReason]:
    """Implied volatility of one option and its reason code (``s`` = +1 call, -1 put)."""
    if not (
        spot > 0.0
        and strike > 0.0
        and years > 0.0
        and price >= 0.0
        and isfinite(price + spot + strike + years + rate + q)
    ):
        return _NAN, IVReason.BAD_INPUT
    f = spot * exp((rate - q) * years)
    p = price * exp(rate * years)
    fk = f - strike
    intrinsic = s * fk
    if p <= intrinsic or p <= 0.0:
        return _NAN, IVReason.BELOW_INTRINSIC
    if p >= (f if s > 0.0 else strike):
        return _NAN, IVReason.ABOVE_UPPER_BOUND
    if intrinsic > 0.0:  # in the money: solve the out-of-the-money option of the other kind
        otm = p - intrinsic
        if otm <= _NOISE * p:
            return _NAN, IVReason.BELOW_INTRINSIC
        p, s = otm, -s
    x = log(f / strike)
    a = abs(x)
    # the start: guess_one, with its near-the-money case inlined (the common one)
    m = p - 0.5 * s * fk
    disc = m * m - fk * fk / pi
    v = _SQRT_2PI / (f + strike) * (m + sqrt(disc) if disc > 0.0 else m)
    if a > WING * v:
        v = guess_one(p, f, strike, s, x)
    lower = v * v < 2.0 * a  # below the inflection point: the objective is ln P
    log_p = log(p) if lower else 0.0
    x2 = x * x
    ms = -s * _INV_SQRT2
    fh, kh, fn = 0.5 * f, 0.5 * strike, f * _INV_SQRT_2PI
    lo, hi = 0.0, inf
    stop = _DEFAULT_STEP_TOL if tol == 1e-12 else step_tol(tol)
    for _ in range(max_iter):
        d1 = x / v + 0.5 * v
        model = s * (fh * erfc(ms * d1) - kh * erfc(ms * (d1 - v)))
        vega = fn * exp(-0.5 * d1 * d1)
        if model < p:
            if v > lo:
                lo = v
        elif v < hi:
            hi = v
        v2 = v * v
        c = x2 / (v2 * v) - 0.25 * v  # vega' / vega
        c3 = c * c - 3.0 * x2 / (v2 * v2) - 0.25  # vega'' / vega
        try:
            if lower:
                g1 = vega / model
                n = (log(model) - log_p) / g1
                c -= g1
                c3 += g1 * (2.0 * g1 - 3.0 * (c + g1))
            else:
                n = (model - p) / vega
            step = n * (1.0 - 0.5 * n * c) / (1.0 - n * c + n * n * c3 / 6.0)
        except (ZeroDivisionError, ValueError, OverflowError):
            step = _NAN
        new = v - step
        if abs(step) <= stop * (v if v > 1e-3 else 1e-3):
            return new / sqrt(years), IVReason.OK
        if not lo < new < hi:
            new = 0.5 * (lo + hi) if hi < inf else 2.0 * (v if v > lo else lo)
        v = new
    from fluvius.nodes.options.implied import _brent  # the rare fallback: import lazily

    root, ok = _brent(p, f, strike, s, lo, hi)
    return (root / sqrt(years), IVReason.OK) if ok else (_NAN, IVReason.NO_CONVERGENCE)
