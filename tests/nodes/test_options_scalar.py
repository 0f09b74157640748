"""The scalar paths of the options ops agree with the vectorised ones over a grid of edge
cases: deep in and out of the money, tiny and long times, zero and extreme vols, negative
rates, dividends, and prices outside the no-arbitrage bounds (issue 11, item 3)."""

from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from fluvius.nodes.options import (
    _scalar_iv,
    bs_delta,
    bs_gamma,
    bs_price,
    bs_rho,
    bs_theta,
    bs_vega,
    implied,
    implied_vol,
    solve_implied_vol,
)
from fluvius.nodes.options._scalar_iv import guess_one

SPOT = 100.0
MONEYNESS = (-3.0, -1.5, -0.5, -0.05, 0.0, 0.05, 0.5, 1.5, 3.0)  # ln(K / S)
YEARS = (0.0, 1e-6, 1 / 365, 0.25, 1.0, 10.0)
VOLS = (0.0, 1e-4, 0.01, 0.2, 1.0, 4.0)
RATES = (-0.01, 0.0, 0.05)
YIELDS = (0.0, 0.02)
KINDS = ("call", "put")
GRID = list(itertools.product(MONEYNESS, YEARS, VOLS, RATES, YIELDS, KINDS))
REL = 1e-12


def _columns() -> tuple[np.ndarray, ...]:
    m, t, v, r, q, kind = (np.array(c) for c in zip(*GRID, strict=True))
    return SPOT * np.exp(m), t, v, r, q, kind


EPS = float(np.finfo(float).eps)


def _agree(scalar: float, vector: float, rel: float = REL) -> bool:
    """Both NaN, or equal to ``rel`` relative (values below 1e-300 compare absolutely)."""
    if math.isnan(scalar) or math.isnan(vector):
        return math.isnan(scalar) and math.isnan(vector)
    return abs(scalar - vector) <= rel * abs(vector) + 1e-300


def _bs_tolerance(m: float, years: float, vol: float, rate: float, div: float, kind: str) -> float:
    """REL, or where the formulas are ill-conditioned the rounding they amplify.

    Both paths round ``d1`` and the normal CDF (scipy's ``ndtr`` is itself off by ~2 d²
    ulps far in the tails: 1.5e-13 at d = 21, where ``math.erfc`` is within an ulp); the
    price is a difference of two terms, so its relative rounding grows by the terms' sum
    over their difference (deep out of the money, or at the money with sigma√T -> 0).
    """
    if years == 0.0 or vol == 0.0:
        return REL
    vst = vol * math.sqrt(years)
    drift = abs(m) + abs(rate - div + 0.5 * vol * vol) * years  # |ln(S/K)| + |mu T|
    d1 = (-m + (rate - div + 0.5 * vol * vol) * years) / vst
    d2 = d1 - vst
    d = max(abs(d1), abs(d2))
    s = 1.0 if kind == "call" else -1.0
    a = math.exp(-div * years) * 0.5 * math.erfc(-s * d1 / math.sqrt(2.0))
    b = math.exp(m - rate * years) * 0.5 * math.erfc(-s * d2 / math.sqrt(2.0))
    cancel = (a + b) / abs(a - b) if a != b else 1.0
    kappa = (1.0 + d * d) * (1.0 + drift / vst) * max(1.0, cancel)
    return max(REL, 8.0 * EPS * kappa)


@pytest.mark.parametrize("fn", [bs_price, bs_delta, bs_gamma, bs_vega, bs_theta, bs_rho])
def test_black_scholes_scalar_equals_vector_over_the_grid(fn: object) -> None:
    assert callable(fn)
    strike, t, v, r, q, kind = _columns()
    vector = fn(SPOT, strike, t, r, v, kind, dividend_yield=q)
    bad = []
    within = 0
    for i, (m, years, vol, rate, div, k) in enumerate(GRID):
        one = fn(SPOT, float(strike[i]), years, rate, vol, k, dividend_yield=div)
        assert type(one) is float
        if not _agree(one, float(vector[i]), _bs_tolerance(m, years, vol, rate, div, k)):
            bad.append((m, years, vol, rate, div, k, one, float(vector[i])))
        elif _bs_tolerance(m, years, vol, rate, div, k) == REL:
            within += 1
    assert not bad, f"{len(bad)} disagreements, first: {bad[:3]}"
    assert within > len(GRID) // 2  # most of the grid is held to REL itself


def test_black_scholes_limits_and_domain() -> None:
    # zero time or zero vol: the price is the intrinsic value, the greeks are NaN
    assert bs_price(110.0, 100.0, 0.0, 0.05, 0.2, "call") == pytest.approx(10.0, rel=1e-15)
    assert bs_price(110.0, 100.0, 1.0, 0.05, 0.0, "put") == 0.0
    assert math.isnan(bs_delta(110.0, 100.0, 0.0, 0.05, 0.2, "call"))
    assert math.isnan(bs_vega(110.0, 100.0, 1.0, 0.05, 0.0, "call"))
    for bad in (
        (-1.0, 100.0, 1.0, 0.0, 0.2),
        (100.0, 0.0, 1.0, 0.0, 0.2),
        (100.0, 100.0, -1.0, 0.0, 0.2),
        (100.0, 100.0, 1.0, 0.0, -0.2),
        (100.0, 100.0, 1.0, math.inf, 0.2),
        (math.nan, 100.0, 1.0, 0.0, 0.2),
    ):
        assert math.isnan(bs_price(*bad, "call")), bad
        assert math.isnan(bs_gamma(*bad, "put")), bad
    # ints and numpy scalars take the scalar path too
    assert bs_price(100, 100, 1, 0, np.float32(0.25), "call") == bs_price(
        100.0, 100.0, 1.0, 0.0, float(np.float32(0.25)), "call"
    )
    with pytest.raises(ValueError, match="kind must be 'call' or 'put', got 'cal'"):
        bs_delta(100.0, 100.0, 1.0, 0.0, 0.2, "cal")


def _iv_cases() -> list[tuple[float, float, float, float, float, str]]:
    """(price, strike, years, rate, q, kind): grid prices, plus prices at and beyond bounds."""
    cases = []
    for m, years, vol, rate, div, kind in GRID:
        strike = SPOT * math.exp(m)
        fair = bs_price(SPOT, strike, years, rate, vol, kind, dividend_yield=div)
        lower = max(
            (SPOT * math.exp(-div * years) - strike * math.exp(-rate * years))
            * (1 if kind == "call" else -1),
            0.0,
        )
        upper = (
            SPOT * math.exp(-div * years) if kind == "call" else strike * math.exp(-rate * years)
        )
        # at a bound itself rounding decides (the price is undiscounted first): step off it
        prices = (fair, lower * (1 - 1e-9), 0.5 * lower, upper * (1 + 1e-9), -1.0, math.nan)
        cases.extend((price, strike, years, rate, div, kind) for price in prices)
    return cases


def _terms(strike: float, years: float, rate: float, div: float, vol: float, kind: str) -> float:
    """``S e^{-qT} N(s d1) + K e^{-rT} N(s d2)``: the scale of the rounding of a price."""
    vst = vol * math.sqrt(years)
    d1 = (math.log(SPOT / strike) + (rate - div + 0.5 * vol * vol) * years) / vst
    s = 1.0 if kind == "call" else -1.0
    n1 = 0.5 * math.erfc(-s * d1 / math.sqrt(2.0))
    n2 = 0.5 * math.erfc(-s * (d1 - vst) / math.sqrt(2.0))
    return SPOT * math.exp(-div * years) * n1 + strike * math.exp(-rate * years) * n2


def _vega(strike: float, years: float, rate: float, div: float, vol: float) -> float:
    return max(bs_vega(SPOT, strike, years, rate, vol, "call", dividend_yield=div), 1e-300)


def test_implied_vol_scalar_equals_vector_over_the_grid() -> None:
    cases = _iv_cases()
    price, strike, years, rate, div, kind = (np.array(c) for c in zip(*cases, strict=True))
    vector = solve_implied_vol(price, SPOT, strike, years, rate, kind, dividend_yield=div).vol
    bad = []
    for i, (p, k, t, r, q, kd) in enumerate(cases):
        one = implied_vol(p, SPOT, k, t, r, kd, dividend_yield=q)
        assert type(one) is float
        if 0.0 < p < sys.float_info.min:
            continue  # subnormal prices: scipy's ndtr underflows first, the vector path gives up
        vol = float(vector[i])
        rel = REL
        if not math.isnan(vol):  # the price pins the vol down only to ~ulp(terms) / vega
            rel = max(REL, 50 * EPS * _terms(k, t, r, q, vol, kd) / (_vega(k, t, r, q, vol) * vol))
        if not _agree(one, vol, rel):
            bad.append((p, k, t, r, q, kd, one, vol))
    assert not bad, f"{len(bad)} disagreements, first: {bad[:3]}"


def test_implied_vol_is_nan_outside_the_no_arbitrage_bounds() -> None:
    solved = 0
    for p, k, t, r, q, kind in _iv_cases():
        one = implied_vol(p, SPOT, k, t, r, kind, dividend_yield=q)
        lower = max(
            (SPOT * math.exp(-q * t) - k * math.exp(-r * t)) * (1 if kind == "call" else -1), 0.0
        )
        upper = SPOT * math.exp(-q * t) if kind == "call" else k * math.exp(-r * t)
        noise = 1e-12 * (SPOT + k)  # a bound this close to 0 is rounding itself
        outside = p < 0.0 or p >= upper * (1 + 1e-10) or (lower > noise and p <= lower)
        if t == 0.0 or math.isnan(p) or outside:
            assert math.isnan(one), (p, k, t, r, q, kind)
        elif not math.isnan(one) and bs_vega(SPOT, k, t, r, one, kind, dividend_yield=q) > (
            1e-6 * p
        ):  # where the price pins the vol down, it reprices
            solved += 1
            back = bs_price(SPOT, k, t, r, one, kind, dividend_yield=q)
            assert back == pytest.approx(p, rel=1e-9), (p, k, t, r, q, kind)
    assert solved > 500


@pytest.mark.parametrize(
    ("m", "vol"),
    [(0.0, 0.2), (0.05, 0.2), (-0.1, 0.3), (0.5, 0.1), (1.5, 0.2), (-3.0, 0.5), (0.02, 1.5)],
)
def test_the_start_is_close_where_it_matters(m: float, vol: float) -> None:
    """Near the money the tabulated correction of Corrado-Miller is within 1e-3 (so one
    order-3 step is the last), the Mills asymptotics in the wings within 30 %."""
    f, k = SPOT, SPOT * math.exp(m)
    s = 1.0 if k >= f else -1.0  # the out-of-the-money kind
    p = bs_price(f, k, 1.0, 0.0, vol, "call" if s > 0 else "put")
    v = guess_one(p, f, k, s, math.log(f / k))
    assert v == pytest.approx(vol, rel=1e-3 if abs(m) <= 0.1 else 0.3)


def _otm_call(u: float, w: float) -> tuple[float, float, float]:
    """(price, forward, strike) of the out-of-the-money call at table coordinates (u, v_cm):
    the closed-form inverse of Corrado-Miller, as the table is built."""
    a = u * w
    f, k = math.exp(-0.5 * a), math.exp(0.5 * a)
    d2 = (f - k) ** 2 / math.pi
    c = w * (f + k) / math.sqrt(2.0 * math.pi)
    m = (c * c + d2) / (2.0 * c) if c * c > d2 else c
    return m + 0.5 * (f - k), f, k


def test_the_stored_start_table_is_the_computed_one() -> None:
    """The table every process reads at import (``_start_table.f64``) is what the solver
    computes (to 1e-12: another machine's libm may round differently), and the cells of
    the bilinear interpolation are built from it exactly as a loop over the cells does."""
    fresh = _scalar_iv.compute_start_table()
    stored = _scalar_iv.START_TABLE
    assert len(stored) == len(fresh)
    worst = max(abs(a - b) / abs(b) for a, b in zip(stored, fresh, strict=True))
    assert worst <= REL
    cols, t = _scalar_iv.TABLE_COLS, stored
    for j, row in enumerate(_scalar_iv.START_CELLS):
        for i, cell in enumerate(row):
            n = j * cols + i
            up = n + cols
            assert cell == (
                t[n],
                t[n + 1] - t[n],
                t[up] - t[n],
                t[up + 1] - t[up] - t[n + 1] + t[n],
            )


def test_a_start_table_of_the_wrong_size_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "short.f64"
    _scalar_iv.write_start_table(str(path))
    assert path.stat().st_size == Path(_scalar_iv._TABLE_PATH).stat().st_size
    path.write_bytes(path.read_bytes()[:-8])
    monkeypatch.setattr(_scalar_iv, "_TABLE_PATH", str(path))
    with pytest.raises(RuntimeError, match=r"holds 4535 floats, expected 4536 .*write_start_table"):
        _scalar_iv.load_start_table()


def test_the_start_table_holds_the_exact_ratio() -> None:
    """Every 7th grid point: Corrado-Miller of the grid point's price is its v_cm, and the
    tabulated ratio times v_cm reprices it to 1e-12 (the table is the solver's own answer)."""
    t, cols, cells = _scalar_iv.START_TABLE, _scalar_iv.TABLE_COLS, _scalar_iv.TABLE_CELLS
    checked = 0
    for n in range(cols * 2, len(t), 7):  # rows from v_cm = 2/40 (row 0 is the v -> 0 limit)
        j, i = divmod(n, cols)
        u, w = i / cells, j / cells
        p, f, k = _otm_call(u, w)
        if p >= f:  # above the upper bound (no input maps here): a neighbour's copy
            assert t[n] == t[n - 1], (u, w)
            continue
        x = math.log(f / k)
        fk = f - k
        disc = (p - 0.5 * fk) ** 2 - fk * fk / math.pi
        cm = math.sqrt(2.0 * math.pi) / (f + k) * (p - 0.5 * fk + math.sqrt(disc))
        assert cm == pytest.approx(w, rel=1e-12), (u, w)
        v = t[n] * w
        back = bs_price(f, k, 1.0, 0.0, v, "call")
        assert back == pytest.approx(p, rel=1e-12, abs=1e-15), (u, w, x)
        checked += 1
    assert checked > 500


def test_near_the_money_one_evaluation_is_the_last(monkeypatch: pytest.MonkeyPatch) -> None:
    """From the tabulated start one order-3 step meets the stopping rule: two erfc calls (one
    evaluation of the price) per solve, over a grid of moneyness, vol, time and kind."""
    calls = [0]
    real = _scalar_iv.erfc

    def counted(z: float) -> float:
        calls[0] += 1
        return real(z)

    monkeypatch.setattr(_scalar_iv, "erfc", counted)  # the loop
    monkeypatch.setattr(implied, "erfc", counted)  # implied_vol's first step
    solved = 0
    for m, vol, years, kind in itertools.product(
        (-0.2, -0.05, 0.0, 0.03, 0.1, 0.25), (0.05, 0.2, 0.6), (0.02, 0.25, 2.0), KINDS
    ):
        strike = SPOT * math.exp(m)
        p = bs_price(SPOT, strike, years, 0.01, vol, kind)
        if bs_vega(SPOT, strike, years, 0.01, vol, kind) < 1e-6 * p:
            continue  # the price does not pin the vol down (deep in the money, short time)
        calls[0] = 0
        iv = implied_vol(p, SPOT, strike, years, 0.01, kind)
        assert iv == pytest.approx(vol, rel=1e-10), (m, vol, years, kind)
        if abs(m) < 0.9 * vol * math.sqrt(years):  # well inside the table (u < 1.35)
            assert calls[0] == 2, (m, vol, years, kind, calls[0])
            solved += 1
    assert solved > 40


def test_ints_among_floats_take_the_scalar_path_unchanged() -> None:
    exact = implied_vol(10.0, 100.0, 100.0, 1.0, 0.0, "put")
    assert type(exact) is float
    assert implied_vol(10, 100.0, 100, 1.0, 0, "put") == exact
    assert implied_vol(10, 100, 100, 1, 0, "put") == exact
    assert implied_vol(np.float64(10.0), 100.0, 100.0, 1.0, 0.0, "put") == exact
