"""Black-Scholes-Merton price and greeks against Hull's published values, an independent
implementation over scipy.stats.norm, put-call parity and finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from fluvius.nodes.options import (
    bs_delta,
    bs_gamma,
    bs_price,
    bs_rho,
    bs_theta,
    bs_vega,
    fit_smile,
    fit_smiles,
    smile_vol,
)

GREEKS = {"delta": bs_delta, "gamma": bs_gamma, "vega": bs_vega, "theta": bs_theta, "rho": bs_rho}


def oracle_price(s: float, k: float, t: float, r: float, v: float, kind: str, q: float) -> float:
    """Textbook formula (Hull eq. 17.4 with a dividend yield), written out over scipy."""
    d1 = (math.log(s / k) + (r - q + v * v / 2) * t) / (v * math.sqrt(t))
    d2 = d1 - v * math.sqrt(t)
    if kind == "call":
        return float(s * math.exp(-q * t) * norm.cdf(d1) - k * math.exp(-r * t) * norm.cdf(d2))
    return float(k * math.exp(-r * t) * norm.cdf(-d2) - s * math.exp(-q * t) * norm.cdf(-d1))


# -- published values -------------------------------------------------------------------------
def test_hull_example_15_6() -> None:
    # Hull, Options, Futures, and Other Derivatives, Example 15.6: c = 4.76, p = 0.81
    assert round(bs_price(42.0, 40.0, 0.5, 0.1, 0.2, "call"), 2) == 4.76
    assert round(bs_price(42.0, 40.0, 0.5, 0.1, 0.2, "put"), 2) == 0.81


@pytest.mark.parametrize(
    ("greek", "expected", "digits"),
    [("delta", 0.522, 3), ("gamma", 0.066, 3), ("vega", 12.1, 1), ("theta", -4.31, 2)],
)
def test_hull_chapter_19_greeks(greek: str, expected: float, digits: int) -> None:
    # Hull chapter 19: S=49, K=50, r=5 %, vol=20 %, 20 weeks (0.3846 y), a call
    assert round(GREEKS[greek](49.0, 50.0, 0.3846, 0.05, 0.2, "call"), digits) == expected


def test_hull_rho() -> None:
    assert round(bs_rho(49.0, 50.0, 0.3846, 0.05, 0.2, "call"), 2) == 8.91


# -- independent oracle, parity, finite differences -------------------------------------------
options = st.tuples(
    st.floats(10.0, 500.0),  # spot
    st.floats(-1.0, 1.0),  # log-moneyness of the strike
    st.floats(0.02, 3.0),  # years
    st.floats(-0.02, 0.1),  # rate
    st.floats(0.05, 1.0),  # vol
    st.floats(0.0, 0.05),  # dividend yield
    st.sampled_from(["call", "put"]),
)


@pytest.mark.slow
@settings(max_examples=200)
@given(options)
def test_price_matches_the_textbook_formula(opt: tuple[float, ...]) -> None:
    s, m, t, r, v, q, kind = opt
    k = s * math.exp(m)
    got = bs_price(s, k, t, r, v, kind, dividend_yield=q)
    assert got == pytest.approx(oracle_price(s, k, t, r, v, str(kind), q), rel=1e-9, abs=1e-12)


@pytest.mark.slow
@settings(max_examples=200)
@given(options)
def test_put_call_parity(opt: tuple[float, ...]) -> None:
    s, m, t, r, v, q, _ = opt
    k = s * math.exp(m)
    c = bs_price(s, k, t, r, v, "call", dividend_yield=q)
    p = bs_price(s, k, t, r, v, "put", dividend_yield=q)
    assert c - p == pytest.approx(s * math.exp(-q * t) - k * math.exp(-r * t), abs=1e-9 * s)


def _fd(args: tuple[float, ...], kind: str, i: int, h: float, second: bool = False) -> float:
    """Central finite difference of the oracle price in argument ``i`` (of s, k, t, r, v, q)."""

    def at(dx: float) -> float:
        a = list(args)
        a[i] += dx
        return oracle_price(a[0], a[1], a[2], a[3], a[4], kind, a[5])

    if second:
        return (at(h) - 2 * at(0.0) + at(-h)) / (h * h)
    return (at(h) - at(-h)) / (2 * h)


@pytest.mark.slow
@settings(max_examples=100)
@given(options)
def test_greeks_match_finite_differences(opt: tuple[float, ...]) -> None:
    s, m, t, r, v, q, kind = opt
    k = s * math.exp(m)
    args = (s, k, t, r, v, q)
    ds = s * v * math.sqrt(t)  # the spot scale over which the price curves
    fd = {
        "delta": _fd(args, str(kind), 0, 1e-4 * ds),
        "gamma": _fd(args, str(kind), 0, 1e-3 * ds, second=True),
        "vega": _fd(args, str(kind), 4, 1e-5),
        "theta": -_fd(args, str(kind), 2, 1e-6),
        "rho": _fd(args, str(kind), 3, 1e-6),
    }
    for name, expected in fd.items():
        got = GREEKS[name](s, k, t, r, v, kind, dividend_yield=q)
        scale = {"delta": 1.0, "gamma": 1.0 / s, "vega": s, "theta": s, "rho": s * t}[name]
        assert got == pytest.approx(expected, rel=2e-4, abs=2e-5 * scale), name


def test_vectorised_equals_scalar_mixed_kinds() -> None:
    rng = np.random.default_rng(3)
    n = 200
    s = rng.uniform(50, 150, n)
    k = rng.uniform(50, 150, n)
    t = rng.uniform(0.01, 2, n)
    r = rng.uniform(0, 0.05, n)
    v = rng.uniform(0.1, 0.8, n)
    q = rng.uniform(0, 0.03, n)
    is_call = rng.random(n) < 0.5
    kinds = np.where(is_call, "call", "put")
    for fn in (bs_price, *GREEKS.values()):
        vec = fn(s, k, t, r, v, kinds, dividend_yield=q)
        vec_bool = fn(s, k, t, r, v, is_call, dividend_yield=q)
        loop = [
            fn(*map(float, a[:5]), str(a[5]), dividend_yield=float(a[6]))
            for a in zip(s, k, t, r, v, kinds, q, strict=True)
        ]
        np.testing.assert_allclose(vec, loop, rtol=1e-13, atol=1e-15)
        np.testing.assert_array_equal(vec, vec_bool)


def test_deep_out_of_the_money_put_keeps_its_digits() -> None:
    # parity from the call would give 0 or noise; N(-d) keeps relative accuracy
    got = bs_price(100.0, 40.0, 0.25, 0.01, 0.2, "put")
    assert got == pytest.approx(oracle_price(100.0, 40.0, 0.25, 0.01, 0.2, "put", 0.0), rel=1e-9)
    assert 0.0 < got < 1e-15


@pytest.mark.parametrize(
    "bad",
    [
        (0.0, 40.0, 0.5, 0.1, 0.2),
        (42.0, -1.0, 0.5, 0.1, 0.2),
        (42.0, 40.0, -0.5, 0.1, 0.2),
        (42.0, 40.0, 0.5, 0.1, -0.2),
        (math.nan, 40.0, 0.5, 0.1, 0.2),
        (42.0, 40.0, 0.5, math.inf, 0.2),
    ],
)
def test_outside_the_domain_is_nan(bad: tuple[float, ...]) -> None:
    for fn in (bs_price, *GREEKS.values()):
        assert math.isnan(fn(*bad, "call"))
        assert np.isnan(fn(*(np.array([x, x]) for x in bad), "put")).all()


def test_expiry_and_zero_vol_give_the_discounted_intrinsic_limit() -> None:
    assert bs_price(42.0, 40.0, 0.0, 0.1, 0.2, "call") == 2.0
    assert bs_price(42.0, 40.0, 0.0, 0.1, 0.2, "put") == 0.0
    assert bs_price(42.0, 40.0, 1.0, 0.1, 0.0, "call") == pytest.approx(
        42.0 - 40.0 * math.exp(-0.1)
    )
    vec = bs_price([42.0, 42.0], 40.0, [0.0, 1.0], 0.1, [0.2, 0.0], "call")
    np.testing.assert_allclose(vec, [2.0, 42.0 - 40.0 * math.exp(-0.1)])
    assert math.isnan(bs_delta(42.0, 40.0, 0.0, 0.1, 0.2, "call"))


def test_bad_kind_is_named() -> None:
    with pytest.raises(ValueError, match="kind must be 'call' or 'put', got 'cal'"):
        bs_price(42.0, 40.0, 0.5, 0.1, 0.2, "cal")
    with pytest.raises(ValueError, match="got 'x' at index 1"):
        bs_price([42.0, 42.0], 40.0, 0.5, 0.1, 0.2, ["put", "x"])


# -- smile fit --------------------------------------------------------------------------------
def test_smile_fit_matches_numpy_polyfit_on_total_variance() -> None:
    rng = np.random.default_rng(5)
    k = np.linspace(-0.4, 0.3, 25)
    vol = np.sqrt(0.04 - 0.03 * k + 0.2 * k * k) + rng.normal(0, 0.002, k.size)
    w = rng.uniform(0.5, 2.0, k.size)
    fit = fit_smile(k, vol, 0.75, weights=w)
    # np.polyfit weights multiply the residuals, i.e. sqrt of least-squares weights
    c, b, a = np.polyfit(k, vol * vol * 0.75, 2, w=np.sqrt(w))
    assert (fit.a, fit.b, fit.c) == pytest.approx((a, b, c), rel=1e-9, abs=1e-12)
    assert fit.n_points == k.size
    assert fit.rms_vol_error < 0.005


def test_smile_fit_drops_nans_and_groups_by_expiry() -> None:
    k = np.array([-0.1, 0.0, 0.1, np.nan, -0.2, 0.0, 0.2])
    t = np.array([0.5, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0])
    vol = np.array([0.25, 0.2, 0.22, 0.3, 0.3, 0.25, 0.26])
    fits = fit_smiles(t, k, vol)
    assert sorted(fits) == [0.5, 1.0]
    assert fits[0.5].n_points == 3
    for expiry, fit in fits.items():  # three points: the quadratic interpolates them
        at = (t == expiry) & np.isfinite(k)
        np.testing.assert_allclose(fit.vol(k[at]), vol[at], rtol=1e-9)
    with pytest.raises(ValueError, match="at least 3 finite quotes, got 2"):
        fit_smile([0.0, 0.1, np.nan], [0.2, 0.2, 0.2], 1.0)


@settings(max_examples=300, deadline=None)
@given(
    spot=st.floats(5.0, 800.0),
    years=st.sampled_from([1 / 365, 0.1, 0.25, 1.0, 3.0]),
    rate=st.floats(0.0, 0.08),
    n=st.integers(3, 40),
    moneyness=st.sampled_from([1.0, 0.8, 1.25]),
    seed=st.integers(0, 2**32 - 1),
)
def test_smile_vol_scalar_path_matches_the_lstsq_fit(
    spot: float, years: float, rate: float, n: int, moneyness: float, seed: int
) -> None:
    """smile_vol's plain-math fit (orthogonal polynomials) against fit_smile's SVD."""
    rng = np.random.default_rng(seed)
    strikes = sorted(float(x) for x in spot * rng.uniform(0.7, 1.3, n))
    k = np.log(np.asarray(strikes) / (spot * math.exp(rate * years)))
    vols = [float(v) for v in np.sqrt(0.04 - 0.05 * k + 0.3 * k * k) + rng.normal(0, 0.01, n)]
    if n > 4:
        vols[int(rng.integers(n))] = math.nan  # dropped, as by fit_smile
    fast = smile_vol(spot, years, rate, *vols, strikes=strikes, moneyness=moneyness)
    fit = fit_smile(k, vols, years)
    if len(set(strikes)) < 3:
        return
    expected = float(fit.vol(math.log(moneyness)))
    if math.isnan(expected):
        assert math.isnan(fast)
    else:
        assert fast == pytest.approx(expected, rel=1e-12)


def test_smile_vol_degenerate_strikes_take_the_lstsq_fit() -> None:
    same = [100.0, 100.0, 100.0, 110.0]
    vols = [0.2, 0.21, 0.22, 0.25]
    k = np.log(np.asarray(same) / 100.0)
    expected = float(fit_smile(k, vols, 1.0).vol(0.0))
    assert smile_vol(100.0, 1.0, 0.0, *vols, strikes=same) == expected
    assert math.isnan(smile_vol(100.0, 1.0, 0.0, 0.2, math.nan, 0.2, strikes=[90.0, 100.0, 110.0]))
