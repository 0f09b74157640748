"""Black-Scholes-Merton price and greeks of European options, scalar and vectorised.

Design
------
One formula per quantity, written once over a small *backend* (``exp``, ``sqrt``, ``log``,
the normal CDF and density): :data:`_NUMPY` for arrays (``scipy.special.ndtr``,
broadcasting). A call is scalar when every argument is a Python/NumPy scalar and ``kind`` a
string; it then runs the same formula written out in plain ``math``
(:mod:`fluvius.nodes.options._scalar_bs`, ``math.erfc``: about 0.4 µs a call, the per-tick
path of a graph node); anything array-like goes the vectorised way and returns an
``ndarray``.

Calls and puts share one formula through the sign ``s`` (+1 call, -1 put)::

    price = s (S e^{-qT} N(s d1) - K e^{-rT} N(s d2))

so a deep out-of-the-money put is computed from ``N(-d)`` directly, never by parity from the
call (which would cancel catastrophically). Greeks are per unit change of their variable:
``vega`` per 1.0 of volatility, ``rho`` per 1.0 of rate, ``theta`` = -∂V/∂T per year.

Domain: spot > 0, strike > 0, years ≥ 0, vol ≥ 0, all finite; anything else gives NaN. At
``years == 0`` or ``vol == 0`` the price is the limit max(s (S e^{-qT} - K e^{-rT}), 0) and
the greeks, which have no finite limit at the money, are NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np

from fluvius.nodes.options import _scalar_bs
from fluvius.nodes.options._node_calls import greek_node_call

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["Kind", "bs_delta", "bs_gamma", "bs_price", "bs_rho", "bs_theta", "bs_vega"]

Kind = Literal["call", "put"]
NAN = math.nan
_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class _Backend(NamedTuple):
    exp: Callable[[Any], Any]
    sqrt: Callable[[Any], Any]
    log: Callable[[Any], Any]
    ncdf: Callable[[Any], Any]
    npdf: Callable[[Any], Any]


def _npdf_array(x: Any) -> Any:
    return _INV_SQRT_2PI * np.exp(-0.5 * x * x)


def ndtr(x: Any) -> Any:
    """``scipy.special.ndtr``, imported on first use: scipy takes ~0.5 s to import, and the
    scalar paths (all that a graph of one-option nodes calls) never need it; a worker
    process of a multi-process run would pay it at spawn."""
    from scipy.special import ndtr as scipy_ndtr

    return scipy_ndtr(x)


_NUMPY = _Backend(np.exp, np.sqrt, np.log, ndtr, _npdf_array)


def kind_sign(kind: Any, name: str = "kind") -> Any:
    """+1.0 for a call, -1.0 for a put: a float for a string, an array for an array.

    ``kind`` is ``"call"`` or ``"put"``, or an array of those strings, or a boolean array
    (True = call).

    >>> kind_sign("put"), kind_sign(["call", "put"]).tolist()
    (-1.0, [1.0, -1.0])
    """
    if isinstance(kind, str):
        if kind == "call":
            return 1.0
        if kind == "put":
            return -1.0
        raise ValueError(f"{name} must be 'call' or 'put', got {kind!r}")
    arr = np.asarray(kind)
    if arr.dtype == bool:
        return np.where(arr, 1.0, -1.0)
    if arr.dtype.kind in "UO":
        is_call = arr == "call"
        bad = ~(is_call | (arr == "put"))
        if bad.any():
            raise ValueError(
                f"{name} must hold 'call' or 'put', got {str(arr[bad].flat[0])!r} "
                f"at index {int(np.flatnonzero(bad.ravel())[0])}"
            )
        return np.where(is_call, 1.0, -1.0)
    raise ValueError(f"{name} must be 'call', 'put' or an array of them, got {kind!r}")


_SCALAR_TYPES = (int, float, np.floating, np.integer)


def _is_scalar(*values: Any) -> bool:
    # a float fast path before the isinstance check: this runs on every scalar call
    return all(type(v) is float or isinstance(v, _SCALAR_TYPES) for v in values)


class _Terms(NamedTuple):
    """What every formula needs: discounted spot and strike, d1, d2, sqrt(T), sign."""

    s: Any  # +1 call, -1 put
    spot_q: Any  # S e^{-qT}
    strike_r: Any  # K e^{-rT}
    d1: Any
    d2: Any
    sqrt_t: Any


def _terms(m: _Backend, spot: Any, strike: Any, t: Any, r: Any, q: Any, vol: Any, s: Any) -> _Terms:
    sqrt_t = m.sqrt(t)
    vst = vol * sqrt_t
    d1 = (m.log(spot / strike) + (r - q + 0.5 * vol * vol) * t) / vst
    return _Terms(s, spot * m.exp(-q * t), strike * m.exp(-r * t), d1, d1 - vst, sqrt_t)


def _price(m: _Backend, x: _Terms, vol: Any, t: Any, r: Any, q: Any) -> Any:
    return x.s * (x.spot_q * m.ncdf(x.s * x.d1) - x.strike_r * m.ncdf(x.s * x.d2))


def _delta(m: _Backend, x: _Terms, vol: Any, t: Any, r: Any, q: Any) -> Any:
    return x.s * m.exp(-q * t) * m.ncdf(x.s * x.d1)


def _gamma(m: _Backend, x: _Terms, vol: Any, t: Any, r: Any, q: Any) -> Any:
    # spot_q / spot = e^{-qT}; divide by spot through spot_q to avoid another exp
    return m.npdf(x.d1) * m.exp(-q * t) / (x.spot_q / m.exp(-q * t) * vol * x.sqrt_t)


def _vega(m: _Backend, x: _Terms, vol: Any, t: Any, r: Any, q: Any) -> Any:
    return x.spot_q * m.npdf(x.d1) * x.sqrt_t


def _theta(m: _Backend, x: _Terms, vol: Any, t: Any, r: Any, q: Any) -> Any:
    decay = -x.spot_q * m.npdf(x.d1) * vol / (2.0 * x.sqrt_t)
    return (
        decay - x.s * r * x.strike_r * m.ncdf(x.s * x.d2) + x.s * q * x.spot_q * m.ncdf(x.s * x.d1)
    )


def _rho(m: _Backend, x: _Terms, vol: Any, t: Any, r: Any, q: Any) -> Any:
    return x.s * x.strike_r * t * m.ncdf(x.s * x.d2)


_Formula = Callable[[_Backend, _Terms, Any, Any, Any, Any], Any]


_Scalar = Callable[[float, float, float, float, float, float, float], float]


def _evaluate(
    formula: _Formula,
    scalar: _Scalar,
    spot: Any,
    strike: Any,
    years: Any,
    rate: Any,
    vol: Any,
    kind: Any,
    q: Any,
) -> Any:
    """Route to the scalar (:mod:`._scalar_bs`) or the vectorised path; NaN outside the domain.

    The scalar test runs on every call of a graph node, so it costs one addition: the sum
    of the arguments is a ``float`` exactly when each is a float or an int (exact as
    floats), and it is finite exactly when each is. Other scalar types (numpy's) are
    converted first; arrays take the vectorised path.
    """
    if type(kind) is str:
        try:
            total = spot + strike + years + rate + vol + q
        except TypeError:  # not numbers: numpy converts them, or says what is wrong
            total = None
        if type(total) is not float:
            if not _is_scalar(spot, strike, years, rate, vol, q):
                return _evaluate_array(formula, spot, strike, years, rate, vol, kind, q)
            spot, strike, years, rate, vol, q = (
                float(spot),
                float(strike),
                float(years),
                float(rate),
                float(vol),
                float(q),
            )
            total = spot + strike + years + rate + vol + q
        s = 1.0 if kind == "call" else -1.0 if kind == "put" else kind_sign(kind)
        if spot > 0.0 and strike > 0.0 and years > 0.0 and vol > 0.0 and total - total == 0.0:
            return scalar(spot, strike, years, rate, vol, s, q)
        return _scalar_bs.limit(spot, strike, years, rate, vol, s, q) if formula is _price else NAN
    return _evaluate_array(formula, spot, strike, years, rate, vol, kind, q)


def _evaluate_array(
    formula: _Formula,
    spot: Any,
    strike: Any,
    years: Any,
    rate: Any,
    vol: Any,
    kind: Any,
    q: Any,
) -> NDArray[np.float64]:
    sign = kind_sign(kind)
    spot, strike, years, rate, vol, q, sign = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (spot, strike, years, rate, vol, q, sign))
    )
    with np.errstate(all="ignore"):
        valid = (
            (spot > 0.0)
            & (strike > 0.0)
            & (years >= 0.0)
            & (vol >= 0.0)
            & np.isfinite(spot + strike + years + rate + vol + q)
        )
        x = _terms(_NUMPY, spot, strike, years, rate, q, vol, sign)
        out = np.asarray(formula(_NUMPY, x, vol, years, rate, q), dtype=np.float64)
        degenerate = valid & ((years == 0.0) | (vol == 0.0))
        if formula is _price and degenerate.any():
            limit = np.maximum(sign * (x.spot_q - x.strike_r), 0.0)
            out = np.where(degenerate, limit, out)
            return np.where(valid, out, np.nan)
    return np.where(valid & ~degenerate, out, np.nan)


def bs_price(
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    rate: ArrayLike,
    vol: ArrayLike,
    kind: Kind | ArrayLike = "call",
    *,
    dividend_yield: ArrayLike = 0.0,
) -> Any:
    """Black-Scholes-Merton price of a European call or put.

    Parameters
    ----------
    spot, strike
        Underlying price and strike (> 0).
    years
        Time to expiry in years (≥ 0).
    rate
        Continuously compounded risk-free rate.
    vol
        Volatility per sqrt(year) (≥ 0).
    kind
        ``"call"`` or ``"put"``, or an array of them (or booleans, True = call).
    dividend_yield
        Continuous dividend yield ``q`` (default 0).

    Returns
    -------
    float or ndarray
        A float when every argument is a scalar, else an array (broadcast shape).

    Notes
    -----
    ``s (S e^{-qT} N(s d1) - K e^{-rT} N(s d2))`` with ``s`` = +1 for a call and -1 for a
    put, ``d1 = (ln(S/K) + (r - q + sigma²/2) T) / (sigma√T)``, ``d2 = d1 - sigma√T``.
    NaN outside the domain (module notes); at ``years == 0`` or ``vol == 0`` the
    intrinsic-value limit.

    Examples
    --------
    Hull, *Options, Futures, and Other Derivatives*, Example 15.6 (S=42, K=40, r=10 %,
    sigma=20 %, six months): call 4.76, put 0.81.

    >>> round(bs_price(42.0, 40.0, 0.5, 0.1, 0.2, "call"), 2)
    4.76
    >>> round(bs_price(42.0, 40.0, 0.5, 0.1, 0.2, "put"), 2)
    0.81
    >>> bs_price([42.0, 42.0], 40.0, 0.5, 0.1, 0.2, ["call", "put"]).round(4).tolist()
    [4.7594, 0.8086]

    References
    ----------
    J. C. Hull, *Options, Futures, and Other Derivatives*, chapter 15.
    """
    return _evaluate(_price, _scalar_bs.price, spot, strike, years, rate, vol, kind, dividend_yield)


def bs_delta(
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    rate: ArrayLike,
    vol: ArrayLike,
    kind: Kind | ArrayLike = "call",
    *,
    dividend_yield: ArrayLike = 0.0,
) -> Any:
    """∂price/∂spot: ``s e^{-qT} N(s d1)``.

    Parameters as :func:`bs_price`. NaN at ``years == 0`` or ``vol == 0``.

    Examples
    --------
    Hull Example 19.1 (S=49, K=50, r=5 %, sigma=20 %, T=0.3846): call delta 0.522.

    >>> round(bs_delta(49.0, 50.0, 0.3846, 0.05, 0.2, "call"), 3)
    0.522
    """
    return _evaluate(_delta, _scalar_bs.delta, spot, strike, years, rate, vol, kind, dividend_yield)


def bs_gamma(
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    rate: ArrayLike,
    vol: ArrayLike,
    kind: Kind | ArrayLike = "call",
    *,
    dividend_yield: ArrayLike = 0.0,
) -> Any:
    """∂²price/∂spot²: ``e^{-qT} n(d1) / (S sigma √T)`` (the same for calls and puts).

    Parameters as :func:`bs_price`.

    Examples
    --------
    Hull Example 19.4 (the option of Example 19.1): gamma 0.066.

    >>> round(bs_gamma(49.0, 50.0, 0.3846, 0.05, 0.2, "call"), 3)
    0.066
    """
    return _evaluate(_gamma, _scalar_bs.gamma, spot, strike, years, rate, vol, kind, dividend_yield)


def bs_vega(
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    rate: ArrayLike,
    vol: ArrayLike,
    kind: Kind | ArrayLike = "call",
    *,
    dividend_yield: ArrayLike = 0.0,
) -> Any:
    """∂price/∂vol per 1.0 of volatility (not per 1 %): ``S e^{-qT} n(d1) √T``.

    Parameters as :func:`bs_price`.

    Examples
    --------
    Hull Example 19.6: vega 12.1 (a 1 % move in vol moves the price by 0.121).

    >>> round(bs_vega(49.0, 50.0, 0.3846, 0.05, 0.2, "call"), 1)
    12.1
    """
    return _evaluate(_vega, _scalar_bs.vega, spot, strike, years, rate, vol, kind, dividend_yield)


def bs_theta(
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    rate: ArrayLike,
    vol: ArrayLike,
    kind: Kind | ArrayLike = "call",
    *,
    dividend_yield: ArrayLike = 0.0,
) -> Any:
    """Time decay -∂price/∂years, per year (divide by 365 for calendar days).

    Parameters as :func:`bs_price`.

    Examples
    --------
    Hull Example 19.2: theta -4.31 per year.

    >>> round(bs_theta(49.0, 50.0, 0.3846, 0.05, 0.2, "call"), 2)
    -4.31
    """
    return _evaluate(_theta, _scalar_bs.theta, spot, strike, years, rate, vol, kind, dividend_yield)


def bs_rho(
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    rate: ArrayLike,
    vol: ArrayLike,
    kind: Kind | ArrayLike = "call",
    *,
    dividend_yield: ArrayLike = 0.0,
) -> Any:
    """∂price/∂rate per 1.0 of rate: ``s K T e^{-rT} N(s d2)``.

    Parameters as :func:`bs_price`.

    Examples
    --------
    Hull Example 19.7: rho 8.91.

    >>> round(bs_rho(49.0, 50.0, 0.3846, 0.05, 0.2, "call"), 2)
    8.91
    """
    return _evaluate(_rho, _scalar_bs.rho, spot, strike, years, rate, vol, kind, dividend_yield)


# Graph nodes call these with ``kind`` (and maybe ``dividend_yield``) fixed by their params:
# the engine takes the call specialised on them (``_node_calls``, ``engine/plan.py``).
for _fn, _scalar in (
    (bs_price, _scalar_bs.price),
    (bs_delta, _scalar_bs.delta),
    (bs_gamma, _scalar_bs.gamma),
    (bs_vega, _scalar_bs.vega),
    (bs_theta, _scalar_bs.theta),
    (bs_rho, _scalar_bs.rho),
):
    _fn.__dict__["node_call"] = partial(greek_node_call, _fn, _scalar)
del _fn, _scalar
