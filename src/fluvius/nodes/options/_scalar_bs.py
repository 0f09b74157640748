"""The scalar path of the Black-Scholes-Merton formulas: one option in plain ``math``.

Each function takes floats (spot, strike, years, rate, vol, sign ``s`` = +1 call / -1 put,
dividend yield ``q``) and writes out the formula of :mod:`fluvius.nodes.options.bsm` once,
with ``N(x) = erfc(-x / sqrt(2)) / 2`` (``scipy.special.ndtr`` in the vectorised path:
both agree to a few ulps) and nothing else: no backend indirection, no named tuple of
terms, no ``exp(-q T)`` when ``q`` is 0 (that factor is exactly 1). A graph node calls
one of them per option and tick, so every operation counts: about 0.4 µs a call here
against 2.2 µs for the generic path it replaces.

The formulas assume spot, strike, years and vol > 0 and everything finite: the caller
(``bsm._evaluate``) checks that once and otherwise returns NaN, or for the price
:func:`limit` (the intrinsic value at ``years == 0`` or ``vol == 0``, NaN outside the
domain).
"""

from __future__ import annotations

from math import erfc, exp, isfinite, log, pi, sqrt

__all__ = ["delta", "gamma", "limit", "price", "rho", "theta", "vega"]

_INV_SQRT2 = 1.0 / sqrt(2.0)
_INV_SQRT_2PI = 1.0 / sqrt(2.0 * pi)
_NAN = float("nan")


def limit(
    spot: float, strike: float, years: float, rate: float, vol: float, s: float, q: float
) -> float:
    """The price where the formulas do not apply: NaN outside the domain, the intrinsic
    limit ``max(s (S e^{-qT} - K e^{-rT}), 0)`` at ``years == 0`` or ``vol == 0``."""
    if (
        spot > 0.0
        and strike > 0.0
        and years >= 0.0
        and vol >= 0.0
        and isfinite(spot + strike + years + rate + vol + q)
    ):
        return max(s * (spot * exp(-q * years) - strike * exp(-rate * years)), 0.0)
    return _NAN


def price(
    spot: float, strike: float, years: float, rate: float, vol: float, s: float, q: float
) -> float:
    """``s (S e^{-qT} N(s d1) - K e^{-rT} N(s d2))``; the intrinsic limit at T = 0 or vol = 0."""
    spot_q = spot * exp(-q * years) if q else spot
    strike_r = strike * exp(-rate * years)
    vst = vol * sqrt(years)
    d1 = (log(spot / strike) + (rate - q + 0.5 * vol * vol) * years) / vst
    d2 = d1 - vst
    return s * (
        spot_q * 0.5 * erfc(-(s * d1 * _INV_SQRT2)) - strike_r * 0.5 * erfc(-(s * d2 * _INV_SQRT2))
    )


def delta(
    spot: float, strike: float, years: float, rate: float, vol: float, s: float, q: float
) -> float:
    """``s e^{-qT} N(s d1)``."""
    vst = vol * sqrt(years)
    d1 = (log(spot / strike) + (rate - q + 0.5 * vol * vol) * years) / vst
    return s * (exp(-q * years) if q else 1.0) * 0.5 * erfc(-(s * d1 * _INV_SQRT2))


def gamma(
    spot: float, strike: float, years: float, rate: float, vol: float, s: float, q: float
) -> float:
    """``e^{-qT} n(d1) / (S vol √T)``."""
    sqrt_t = sqrt(years)
    vst = vol * sqrt_t
    d1 = (log(spot / strike) + (rate - q + 0.5 * vol * vol) * years) / vst
    npdf = _INV_SQRT_2PI * exp(-0.5 * d1 * d1)
    return npdf * (exp(-q * years) if q else 1.0) / (spot * vol * sqrt_t)


def vega(
    spot: float, strike: float, years: float, rate: float, vol: float, s: float, q: float
) -> float:
    """``S e^{-qT} n(d1) √T``."""
    sqrt_t = sqrt(years)
    vst = vol * sqrt_t
    d1 = (log(spot / strike) + (rate - q + 0.5 * vol * vol) * years) / vst
    spot_q = spot * exp(-q * years) if q else spot
    return spot_q * _INV_SQRT_2PI * exp(-0.5 * d1 * d1) * sqrt_t


def theta(
    spot: float, strike: float, years: float, rate: float, vol: float, s: float, q: float
) -> float:
    """``-S e^{-qT} n(d1) vol / (2√T) - s r K e^{-rT} N(s d2) + s q S e^{-qT} N(s d1)``."""
    sqrt_t = sqrt(years)
    vst = vol * sqrt_t
    d1 = (log(spot / strike) + (rate - q + 0.5 * vol * vol) * years) / vst
    d2 = d1 - vst
    spot_q = spot * exp(-q * years) if q else spot
    strike_r = strike * exp(-rate * years)
    decay = -spot_q * _INV_SQRT_2PI * exp(-0.5 * d1 * d1) * vol / (2.0 * sqrt_t)
    return (
        decay
        - s * rate * strike_r * 0.5 * erfc(-(s * d2 * _INV_SQRT2))
        + s * q * spot_q * 0.5 * erfc(-(s * d1 * _INV_SQRT2))
    )


def rho(
    spot: float, strike: float, years: float, rate: float, vol: float, s: float, q: float
) -> float:
    """``s K T e^{-rT} N(s d2)``."""
    vst = vol * sqrt(years)
    d1 = (log(spot / strike) + (rate - q + 0.5 * vol * vol) * years) / vst
    d2 = d1 - vst
    return s * strike * exp(-rate * years) * years * 0.5 * erfc(-(s * d2 * _INV_SQRT2))
