"""Black-Scholes-Merton implied volatility, vectorised, with a reason code for every NaN.

Design
------
The solve works on the *undiscounted, out-of-the-money* option in total volatility
``v = sigma√T``: with forward ``F = S e^{(r-q)T}`` and undiscounted price ``p = price e^{rT}``,
an in-the-money option is turned into the out-of-the-money one of the other kind by
put-call parity (the time value is what carries the volatility), so every target lies in
``(0, min(F, K))`` and ``P(v) = s (F N(s d1) - K N(s d2))`` is increasing in ``v``.

``P`` is convex below its inflection point ``v_c = sqrt(2 |ln(F/K)|)`` and concave above it
(Jaeckel, *By implication*, 2006). The solve has two parts:

- **The start.** Near the money the Corrado-Miller approximation
  ``v_cm = sqrt(2 pi) / (F + K) (m + sqrt(m^2 - (F - K)^2 / pi))``, where
  ``m = p - s (F - K) / 2`` (without the root when it is imaginary), is within a few per
  cent; the exact ``v / v_cm`` is a smooth function of ``u = |x| / v_cm`` and ``v_cm`` alone
  (``x = ln(F/K)``; the price in units of ``sqrt(FK)`` depends on nothing else), so it is
  tabulated on a grid of step 1/40 over ``u < 1.35``, ``v_cm < 2``
  (:data:`~fluvius.nodes.options._scalar_iv.START_TABLE`, 4,536 points solved by
  ``_scalar_iv.refine`` from Corrado-Miller, in ``math``; stored in the package and read
  at import, so no process pays the ~10-20 ms of solving them) and interpolated
  bilinearly: the start is then within about 1e-4 (3e-5 median, a few 1e-4 at the
  edges), and one order-3 step on ``P`` is the last. Above ``u = 1.35``
  Corrado-Miller drops its root near ``u = sqrt(2)`` and the ratio
  has a kink, so there (``u <= 1.5``) and above ``v_cm = 2`` Corrado-Miller alone is the
  start. In the wings, the Mills-ratio asymptotics of the normalised price,
  ``p / sqrt(FK) ~ exp(-x^2 / (2 v^2) - v^2 / 8) v^3 / (sqrt(2 pi) (x^2 - v^4 / 4))``,
  solved for ``v`` by three fixed-point rounds (two logs each); the inflection point when
  they fail. Away from the table the start decides the region: below ``v_c`` the objective
  is ``ln P(v) - ln p`` (``ln P`` is close to ``-x^2 / (2 v^2)`` there, far less curved than
  ``P``, on which Newton crawls), above it ``P(v) - p``; from a tabled start it is ``P``.
- **The steps**: Householder's method of order 3 (quartic convergence),
  ``v -= n (1 - n a / 2) / (1 - n a + n^2 b / 6)`` with ``n = g / g'``, ``a = g'' / g'``,
  ``b = g''' / g'``; the derivatives are nearly free: ``vega' / vega = x^2 / v^3 - v / 4``
  and ``vega'' / vega = (x^2 / v^3 - v / 4)^2 - 3 x^2 / v^4 - 1 / 4``. A step below
  ``tol^(1/4) max(v, 1e-3)`` ends the solve (the error left is about its 4th power): from
  a tabled start, one step (one evaluation of ``P``: two ``erfc`` and one ``exp``); from a
  start a few per cent off, two.

Every iterate is *safeguarded*: each element keeps a bracket ``[lo, hi]`` that the sign of
``P(v) - p`` updates, and a step that leaves the bracket (or is not finite) is replaced by
bisection. Elements still unconverged after ``max_iter`` vectorised rounds go to
:func:`scipy.optimize.brentq` on their bracket, one by one (rare). The unconverged
elements are the columns of one state matrix, lower region first, compacted by one
``take`` as elements converge, so converged elements cost nothing more. The scalar path
(:func:`implied_vol` on floats, with :mod:`fluvius.nodes.options._scalar_iv`) runs the
same start and steps in ``math``, so the two agree to rounding.

Reason codes (:class:`IVReason`) say why a volatility is NaN: a bad input (non-positive or
non-finite spot/strike/years, negative or non-finite price), a price at or below the
no-arbitrage lower bound ``max(s (S e^{-qT} - K e^{-rT}), 0)`` (there the volatility is 0
or undetermined), at or above the upper bound (``S e^{-qT}`` for a call, ``K e^{-rT}`` for a
put), or no convergence.
"""

from __future__ import annotations

import math
from functools import partial
from math import erfc, exp, floor, log, sqrt
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np

from fluvius.nodes.options._node_calls import implied_vol_node_call
from fluvius.nodes.options._reasons import NOISE_ULPS, IVReason
from fluvius.nodes.options._scalar_iv import (
    MILLS_ROUNDS,
    START_CELLS,
    TABLE_CELLS,
    TABLE_U,
    TABLE_W,
    WING,
    guess_one,
    refine,
    step_tol,
)
from fluvius.nodes.options.bsm import Kind, _is_scalar, kind_sign, ndtr

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["IVReason", "IVResult", "implied_vol", "solve_implied_vol"]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_LOG_SQRT_2PI = math.log(_SQRT_2PI)
_INV_PI = 1.0 / math.pi
_START_CELLS = np.array(START_CELLS)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_NAN = math.nan
_NOISE = NOISE_ULPS * float(np.finfo(np.float64).eps)
_STOP = step_tol(1e-12)


class IVResult(NamedTuple):
    """Implied volatilities, their reason codes (:class:`IVReason` values) and the number of
    vectorised Newton rounds the solve took."""

    vol: NDArray[np.float64]
    reason: NDArray[np.int8]
    rounds: int


def solve_implied_vol(
    price: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    rate: ArrayLike,
    kind: Kind | ArrayLike = "call",
    *,
    dividend_yield: ArrayLike = 0.0,
    tol: float = 1e-12,
    max_iter: int = 30,
) -> IVResult:
    """Implied volatilities with a reason code per option (vectorised).

    Parameters
    ----------
    price
        Option prices (discounted, as quoted).
    spot, strike, years, rate, kind, dividend_yield
        As :func:`~fluvius.nodes.options.bs_price`.
    tol
        Relative accuracy goal on ``v = sigma√T``: an element stops after an order-3 step
        below ``tol**(1/4) * max(v, 1e-3)``, which (quartic convergence) leaves an error of
        order ``tol``; the round-trip tests check 1e-9 on prices and 1e-8 on volatilities.
    max_iter
        Vectorised Newton rounds before the :func:`scipy.optimize.brentq` fallback.

    Returns
    -------
    IVResult
        ``vol`` (NaN where not solvable), ``reason`` (:class:`IVReason` codes), ``rounds``.

    Examples
    --------
    >>> res = solve_implied_vol([4.7594, 1.0, 50.0, -1.0], 42.0, 40.0, 0.5, 0.1, "call")
    >>> res.vol.round(4).tolist()
    [0.2, nan, nan, nan]
    >>> [IVReason(c).name for c in res.reason]
    ['OK', 'BELOW_INTRINSIC', 'ABOVE_UPPER_BOUND', 'BAD_INPUT']
    """
    if not (tol > 0.0 and math.isfinite(tol)):
        raise ValueError(f"tol must be a finite number > 0, got {tol=}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be an int >= 1, got {max_iter=}")
    sign = kind_sign(kind)
    arrays = np.broadcast_arrays(
        *(
            np.asarray(a, dtype=np.float64)
            for a in (price, spot, strike, years, rate, dividend_yield, sign)
        )
    )
    shape = arrays[0].shape
    c, spot_a, k, t, r, q, s = (a.ravel() for a in arrays)
    vol = np.full(c.shape, np.nan)
    reason = np.full(c.shape, IVReason.BAD_INPUT, dtype=np.int8)
    with np.errstate(all="ignore"):
        valid = (
            (spot_a > 0.0)
            & (k > 0.0)
            & (t > 0.0)
            & (c >= 0.0)
            & np.isfinite(c + spot_a + k + t + r + q)
        )
        growth = np.exp(r * t)
        f = spot_a * np.exp((r - q) * t)  # forward
        p = c * growth  # undiscounted price
        intrinsic = np.maximum(s * (f - k), 0.0)
        upper = np.where(s > 0.0, f, k)
    below = valid & (p <= intrinsic)
    above = valid & ~below & (p >= upper)
    reason[below] = IVReason.BELOW_INTRINSIC
    reason[above] = IVReason.ABOVE_UPPER_BOUND
    todo = np.flatnonzero(valid & ~below & ~above)
    rounds = 0
    if todo.size:
        f_t, k_t, s_t, p_t = f[todo], k[todo], s[todo], p[todo]
        itm = s_t * (f_t - k_t) > 0.0
        otm_p = np.where(itm, p_t - s_t * (f_t - k_t), p_t)  # parity: the OTM option's price
        # an ITM time value within 1e4 ulps of the price is rounding noise: no volatility
        noise = itm & (otm_p <= NOISE_ULPS * np.finfo(np.float64).eps * p_t)
        if noise.any():
            reason[todo[noise]] = IVReason.BELOW_INTRINSIC
            keep = ~noise
            todo, f_t, k_t, s_t, otm_p, itm = (a[keep] for a in (todo, f_t, k_t, s_t, otm_p, itm))
        p_t = otm_p
        s_t = np.where(itm, -s_t, s_t)
        v, ok, rounds = _newton(p_t, f_t, k_t, s_t, tol, max_iter)
        vol[todo] = v / np.sqrt(t[todo])
        reason[todo] = np.where(ok, IVReason.OK, IVReason.NO_CONVERGENCE)
        vol[todo[~ok]] = np.nan
    return IVResult(vol.reshape(shape), reason.reshape(shape), rounds)


def _guess(
    p: NDArray[np.float64], f: NDArray[np.float64], k: NDArray[np.float64], s: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """(start v, x = ln(f/k), tabled): :func:`~fluvius.nodes.options._scalar_iv.guess_one` per
    element; ``tabled`` marks the starts corrected by the ratio table (near the money)."""
    x = np.log(f / k)
    a = np.abs(x)
    fk = f - k
    m = p - 0.5 * s * fk
    disc = m * m - fk * fk * _INV_PI
    cm = _SQRT_2PI / (f + k) * np.where(disc > 0.0, m + np.sqrt(np.maximum(disc, 0.0)), m)
    vc = np.sqrt(2.0 * a)
    v = cm.copy()
    tabled = (cm < TABLE_W) & (a < TABLE_U * cm)
    if tabled.any():  # bilinear in the ratio table, as _scalar_iv does it
        ct = cm[tabled]
        iu, iw = a[tabled] / ct * TABLE_CELLS, ct * TABLE_CELLS
        i, j = np.floor(iu), np.floor(iw)
        b0, b1, b2, b3 = _START_CELLS[j.astype(np.intp), i.astype(np.intp)].T
        iu -= i
        v[tabled] = ct * (b0 + b1 * iu + (b2 + b3 * iu) * (iw - j))
    wing = ~tabled & ~(a <= WING * cm)
    if wing.any():  # the wings (NaNs where the asymptotics fail are replaced by vc)
        aw = a[wing]
        lam = -np.log(p[wing] / np.sqrt(f[wing] * k[wing])) - _LOG_SQRT_2PI - 2.0 * np.log(aw)
        fallback = ~(lam > 0.0)
        vw = aw / np.sqrt(2.0 * lam)
        for _ in range(MILLS_ROUNDS):
            q = 1.0 - vw * vw * vw * vw / (4.0 * aw * aw)
            den = lam + 3.0 * np.log(vw) - 0.125 * vw * vw - np.log(q)
            fallback |= ~(q > 0.0) | ~(den > 0.0)
            vw = np.where(fallback, vw, aw / np.sqrt(2.0 * den))
        v[wing] = np.where(fallback, vc[wing], vw)
    return v, x, tabled


def _newton(
    p: NDArray[np.float64],
    f: NDArray[np.float64],
    k: NDArray[np.float64],
    s: NDArray[np.float64],
    tol: float,
    max_iter: int,
) -> tuple[NDArray[np.float64], NDArray[np.bool_], int]:
    """Safeguarded Householder steps for OTM undiscounted targets ``p``: (v, converged, rounds).

    The unconverged elements live in the columns of one state matrix (rows below), lower
    region first (sorted once, by the start), so each region's objective is computed on a
    slice (a view) and dropping converged elements is a single ``take``.
    """
    out = np.full(p.size, np.nan)
    done = np.zeros(p.size, dtype=bool)
    stop = step_tol(tol)
    with np.errstate(all="ignore"):
        v, x, tabled = _guess(p, f, k, s)
    # below the inflection point the objective is ln P, except from a tabled start (close
    # enough that one step on P is the last)
    lower = (v * v < 2.0 * np.abs(x)) & ~tabled
    idx = np.arange(p.size, dtype=np.float64)  # exact below 2**53
    state = np.vstack([v, x, f, k, s, p, np.zeros(p.size), np.full(p.size, np.inf), idx, p])
    order = np.argsort(~lower, kind="stable")
    state = state.take(order, axis=1)
    n_lower = int(np.count_nonzero(lower))
    state[9, :n_lower] = np.log(state[5, :n_lower])
    rounds = 0
    with np.errstate(all="ignore"):
        while state.shape[1] and rounds < max_iter:
            rounds += 1
            v, x, f, k, s, p, lo, hi, idx, log_p = state
            xv = x / v
            d1 = xv + 0.5 * v
            d2 = d1 - v
            price = s * (f * ndtr(s * d1) - k * ndtr(s * d2))
            vega = f * _INV_SQRT_2PI * np.exp(-0.5 * d1 * d1)
            under = price < p
            lo[:] = np.where(under, np.maximum(lo, v), lo)
            hi[:] = np.where(under, hi, np.minimum(hi, v))
            # order-3 steps: g = ln P - ln p in the lower region, g = P - p in the upper one
            xv3 = xv * xv / v  # x^2 / v^3
            c = xv3 - 0.25 * v  # vega' / vega
            c3 = c * c - 3.0 * xv3 / v - 0.25  # vega'' / vega
            n = np.empty_like(v)
            lw, up = slice(0, n_lower), slice(n_lower, None)
            g1 = vega[lw] / price[lw]
            n[lw] = (np.log(price[lw]) - log_p[lw]) / g1
            c[lw] -= g1
            c3[lw] += g1 * (2.0 * g1 - 3.0 * (c[lw] + g1))
            n[up] = (price[up] - p[up]) / vega[up]
            nc = n * c
            step = n * (1.0 - 0.5 * nc) / (1.0 - nc + n * n * c3 / 6.0)
            new = v - step
            # quartic convergence: after a step this small the error is ~step**4 ~ tol
            conv = np.abs(step) <= stop * np.maximum(v, 1e-3)
            bad = ~(conv | ((new > lo) & (new < hi)))  # also catches a NaN step
            if bad.any():  # leave the bracket: bisect (or double while unbounded above)
                lb, hb = lo[bad], hi[bad]
                new[bad] = np.where(np.isfinite(hb), 0.5 * (lb + hb), 2.0 * np.maximum(v[bad], lb))
            v[:] = new
            if conv.any():
                hit = idx[conv].astype(np.intp)
                out[hit] = new[conv]
                done[hit] = True
                keep = np.flatnonzero(~conv)
                n_lower = int(np.searchsorted(keep, n_lower))
                state = state.take(keep, axis=1)
    v, x, f, k, s, p, lo, hi, idx, _ = state
    for j, i in enumerate(idx.astype(np.intp)):  # the bracketing fallback
        out[i], done[i] = _brent(float(p[j]), float(f[j]), float(k[j]), float(s[j]), lo[j], hi[j])
    return out, done, rounds


def _brent(p: float, f: float, k: float, s: float, lo: float, hi: float) -> tuple[float, bool]:
    def excess(v: float) -> float:
        d1 = math.log(f / k) / v + 0.5 * v
        d2 = d1 - v
        return (
            s * (f * 0.5 * math.erfc(-s * d1 / math.sqrt(2.0)))
            - s * (k * 0.5 * math.erfc(-s * d2 / math.sqrt(2.0)))
            - p
        )

    lo = max(lo, 1e-12)
    if not math.isfinite(hi):
        hi = max(2.0 * lo, 1.0)
        while excess(hi) < 0.0 and hi < 1e6:
            hi *= 2.0
    try:
        if excess(lo) > 0.0 or excess(hi) < 0.0:
            return math.nan, False
        from scipy.optimize import brentq  # rare; scipy.optimize costs ~0.1 s to import

        root: Any = brentq(excess, lo, hi, xtol=1e-15, rtol=4.5e-16, maxiter=200)
    except (ValueError, RuntimeError):
        return math.nan, False
    return float(root), True


def implied_vol(
    price: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    rate: ArrayLike,
    kind: Kind | ArrayLike = "call",
    *,
    dividend_yield: ArrayLike = 0.0,
) -> Any:
    """Black-Scholes-Merton implied volatility; NaN outside the no-arbitrage bounds.

    Parameters
    ----------
    price
        Option price.
    spot, strike, years, rate, kind, dividend_yield
        As :func:`~fluvius.nodes.options.bs_price`.

    Returns
    -------
    float or ndarray
        A float when every argument is a scalar, else an array. Use
        :func:`solve_implied_vol` for the reason codes of the NaNs.

    Notes
    -----
    The solver is described in the module notes: a tabulated start near the money,
    safeguarded Householder steps of order 3, bracketing fallback. Accuracy: the price
    recomputed from the volatility matches the input to about 1e-12 relative wherever the
    option has a non-negligible vega.

    Examples
    --------
    >>> round(implied_vol(4.759422392871532, 42.0, 40.0, 0.5, 0.1, "call"), 12)
    0.2
    >>> implied_vol(0.5, 42.0, 40.0, 0.5, 0.1, "call")  # below the lower bound 3.95
    nan
    """
    if type(kind) is str:
        try:  # floats (ints among them are exact) first: this runs on every call of a node
            total = price + spot + strike + years + rate + dividend_yield  # type: ignore[operator]
            floats = type(total) is float
        except (TypeError, OverflowError):
            floats = False
        if floats:
            # The scalar path, written out here (each layer of calls costs ~0.1 µs): the
            # checks and the parity of solve_implied_vol, guess_one's start, and from a tabled
            # start the first step of _scalar_iv.refine (which takes over if it was not the
            # last). The same operations as the vectorised solver, so the two agree.
            if TYPE_CHECKING:  # narrowed by the sum's type (at run time: no code)
                assert isinstance(price, float)
                assert isinstance(spot, float)
                assert isinstance(strike, float)
                assert isinstance(years, float)
                assert isinstance(rate, float)
                assert isinstance(dividend_yield, float)
            s = 1.0 if kind == "call" else -1.0 if kind == "put" else kind_sign(kind)
            if not (  # total - total is 0 unless something is infinite or NaN
                spot > 0.0
                and strike > 0.0
                and years > 0.0
                and price >= 0.0
                and total - total == 0.0
            ):
                return _NAN
            growth = exp(rate * years)
            f = spot * (growth if dividend_yield == 0.0 else exp((rate - dividend_yield) * years))
            p = price * growth
            fk = f - strike
            intrinsic = s * fk
            if p <= intrinsic or p <= 0.0 or p >= (f if s > 0.0 else strike):
                return _NAN
            if intrinsic > 0.0:  # in the money: the out-of-the-money option of the other kind
                otm = p - intrinsic
                if otm <= _NOISE * p:
                    return _NAN
                p, s = otm, -s
            x = log(f / strike)
            a = -s * x  # |x|: the option is out of the money
            m = p - 0.5 * s * fk
            disc = m * m - fk * fk * _INV_PI
            v = _SQRT_2PI / (f + strike) * (m + sqrt(disc) if disc > 0.0 else m)
            if v < TABLE_W and a < TABLE_U * v:
                iu, iw = a / v * TABLE_CELLS, v * TABLE_CELLS
                i, j = floor(iu), floor(iw)  # floor: half the cost of int()
                b0, b1, b2, b3 = START_CELLS[j][i]
                iu -= i
                v *= b0 + b1 * iu + (b2 + b3 * iu) * (iw - j)
                xv = x / v
                d1 = xv + 0.5 * v
                ms = -s * _INV_SQRT2
                xv3 = xv * xv / v
                c = xv3 - 0.25 * v
                try:
                    n = (0.5 * s * (f * erfc(ms * d1) - strike * erfc(ms * (d1 - v))) - p) / (
                        f * _INV_SQRT_2PI * exp(-0.5 * d1 * d1)
                    )
                    nc = n * c
                    step = (
                        n
                        * (1.0 - 0.5 * nc)
                        / (1.0 - nc + n * n * (c * c - 3.0 * xv3 / v - 0.25) / 6.0)
                    )
                except (ZeroDivisionError, ValueError, OverflowError):
                    step = _NAN
                if abs(step) <= _STOP * (v if v > 1e-3 else 1e-3):
                    return (v - step) / sqrt(years)
                return refine(p, f, strike, s, x, v, False, years)
            if a > WING * v:
                v = guess_one(p, f, strike, s, x)
            return refine(p, f, strike, s, x, v, v * v < 2.0 * a, years)
        if _is_scalar(price, spot, strike, years, rate, dividend_yield):
            c0, s0, k0, t0, r0, q0 = (
                float(cast("float", a)) for a in (price, spot, strike, years, rate, dividend_yield)
            )
            return implied_vol(c0, s0, k0, t0, r0, kind, dividend_yield=q0)
    return solve_implied_vol(
        price, spot, strike, years, rate, kind, dividend_yield=dividend_yield
    ).vol


# A graph node calls it with ``kind`` fixed by its params (``_node_calls``, ``engine/plan.py``).
implied_vol.__dict__["node_call"] = partial(implied_vol_node_call, implied_vol)
