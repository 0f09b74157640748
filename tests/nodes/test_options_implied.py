"""Implied volatility: round trips, scipy's brentq as the oracle, reason codes, and the
options spec ops through ``fluvius run --json``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.stats import norm
from typer.testing import CliRunner

from fluvius.cli.app import app
from fluvius.nodes.options import IVReason, bs_price, bs_vega, implied_vol, solve_implied_vol

runner = CliRunner()


def _book(n: int, seed: int) -> dict[str, np.ndarray]:
    """Calls and puts over strikes from deep ITM to deep OTM and expiries from 1 day to 5 y."""
    rng = np.random.default_rng(seed)
    return {
        "spot": np.full(n, 100.0),
        "strike": 100.0 * np.exp(rng.uniform(-1.2, 1.2, n)),
        "years": rng.choice([1 / 365, 7 / 365, 30 / 365, 0.25, 1.0, 5.0], n),
        "rate": rng.uniform(0.0, 0.08, n),
        "q": rng.uniform(0.0, 0.03, n),
        "vol": rng.uniform(0.05, 1.5, n),
        "is_call": rng.random(n) < 0.5,
    }


def test_round_trip_on_a_mixed_book() -> None:
    b = _book(5000, 11)
    price = bs_price(
        b["spot"], b["strike"], b["years"], b["rate"], b["vol"], b["is_call"], dividend_yield=b["q"]
    )
    res = solve_implied_vol(
        price, b["spot"], b["strike"], b["years"], b["rate"], b["is_call"], dividend_yield=b["q"]
    )
    ok = res.reason == IVReason.OK
    # only options whose time value drowned in rounding may fail, and only as BELOW_INTRINSIC
    assert set(np.unique(res.reason[~ok]).tolist()) <= {int(IVReason.BELOW_INTRINSIC)}
    assert ok.mean() > 0.85
    back = bs_price(
        b["spot"], b["strike"], b["years"], b["rate"], res.vol, b["is_call"], dividend_yield=b["q"]
    )
    # deep in the wings ln(price) moves ~x^2/v^2 times faster than ln(vol) (1e3 and more)
    tiny = price < 1e-100
    np.testing.assert_allclose(back[ok & ~tiny], price[ok & ~tiny], rtol=1e-9)
    np.testing.assert_allclose(back[ok & tiny], price[ok & tiny], rtol=1e-8, atol=1e-300)
    # where the price pins the volatility down (vega well above rounding), the vol is recovered
    vega = (
        b["spot"]
        * np.exp(-b["q"] * b["years"])
        * norm.pdf(
            (
                np.log(b["spot"] / b["strike"])
                + (b["rate"] - b["q"] + b["vol"] ** 2 / 2) * b["years"]
            )
            / (b["vol"] * np.sqrt(b["years"]))
        )
        * np.sqrt(b["years"])
    )
    pinned = ok & (vega > 1e-6 * price)
    np.testing.assert_allclose(res.vol[pinned], b["vol"][pinned], rtol=1e-8)


@settings(max_examples=60)
@given(
    st.floats(-0.8, 0.8),
    st.floats(0.05, 2.0),
    st.floats(0.05, 1.2),
    st.floats(0.0, 0.08),
    st.sampled_from(["call", "put"]),
)
def test_matches_scipy_brentq(m: float, t: float, vol: float, r: float, kind: str) -> None:
    s, k = 100.0, 100.0 * math.exp(m)
    price = bs_price(s, k, t, r, vol, kind)
    intrinsic = max((s - k * math.exp(-r * t)) * (1 if kind == "call" else -1), 0.0)
    if price - intrinsic < 1e-8 * price:
        return  # no time value left to invert
    oracle = brentq(
        lambda x: bs_price(s, k, t, r, x, kind) - price, 1e-6, 10.0, xtol=1e-15, rtol=1e-15
    )
    assert implied_vol(price, s, k, t, r, kind) == pytest.approx(oracle, rel=1e-8)


def test_reason_codes() -> None:
    # S=42, K=40, r=0.1, T=0.5: call bounds (42 - 40 e^{-0.05}, 42) = (3.951, 42)
    res = solve_implied_vol(
        [3.9, 42.0, 43.0, -1.0, np.nan, 4.759422392871535, 1.0],
        [42.0, 42.0, 42.0, 42.0, 42.0, 42.0, 0.0],
        40.0,
        0.5,
        0.1,
        "call",
    )
    assert [IVReason(c).name for c in res.reason] == [
        "BELOW_INTRINSIC",
        "ABOVE_UPPER_BOUND",
        "ABOVE_UPPER_BOUND",
        "BAD_INPUT",
        "BAD_INPUT",
        "OK",
        "BAD_INPUT",
    ]
    assert np.isnan(res.vol[res.reason != 0]).all()
    assert res.vol[5] == pytest.approx(0.2, rel=1e-12)
    # put: upper bound K e^{-rT}, lower bound max(K e^{-rT} - S, 0)
    put = solve_implied_vol([38.05, 0.0], 1.0, 40.0, 0.5, 0.1, "put")
    assert [IVReason(c).name for c in put.reason] == ["ABOVE_UPPER_BOUND", "BELOW_INTRINSIC"]
    with pytest.raises(ValueError, match="tol must be"):
        solve_implied_vol(1.0, 1.0, 1.0, 1.0, 0.0, tol=0.0)


def test_shape_scalar_and_put() -> None:
    price = bs_price(100.0, [[90.0, 100.0], [110.0, 120.0]], 0.5, 0.02, 0.3, "put")
    vol = implied_vol(price, 100.0, [[90.0, 100.0], [110.0, 120.0]], 0.5, 0.02, "put")
    assert vol.shape == (2, 2)
    np.testing.assert_allclose(vol, 0.3, rtol=1e-10)
    one = implied_vol(float(price[0, 0]), 100.0, 90.0, 0.5, 0.02, "put")
    assert isinstance(one, float)
    assert one == pytest.approx(0.3, rel=1e-10)


def test_deep_wings_and_extreme_vols() -> None:
    strikes = np.array([20.0, 50.0, 200.0, 500.0])
    for vol in (0.01, 0.1, 3.0, 8.0):
        for kind in ("call", "put"):
            price = bs_price(100.0, strikes, 1.0, 0.03, vol, kind)
            res = solve_implied_vol(price, 100.0, strikes, 1.0, 0.03, kind)
            ok = res.reason == 0
            back = bs_price(100.0, strikes, 1.0, 0.03, res.vol, kind)
            np.testing.assert_allclose(back[ok], price[ok], rtol=1e-10)
            otm = (strikes > 100.0) if kind == "call" else (strikes < 100.0)
            assert ok[otm & (price > 1e-250)].all(), (vol, kind, res)


# -- spec ops through the CLI -----------------------------------------------------------------
def test_spec_ops_through_fluvius_run(tmp_path: Path) -> None:
    spec = {
        "sources": {"S": 42.0, "K": 40.0, "T": 0.5, "r": 0.1, "vol": 0.2},
        "nodes": {
            f"{op}/{kind}": {
                "op": op,
                "inputs": ["S", "K", "T", "r", "vol"],
                "params": {"kind": kind},
            }
            for op in ("bs_price", "bs_delta", "bs_gamma", "bs_vega", "bs_theta", "bs_rho")
            for kind in ("call", "put")
        }
        | {
            "iv/call": {
                "op": "implied_vol",
                "inputs": ["bs_price/call", "S", "K", "T", "r"],
                "params": {"kind": "call"},
            },
            "iv/put": {
                "op": "implied_vol",
                "inputs": ["px", "S", "K", "T", "r"],
                "params": {"kind": "put"},
            },
        },
    }
    spec["sources"]["px"] = 0.81
    (tmp_path / "s.json").write_text(json.dumps(spec), encoding="utf-8")
    (tmp_path / "t.jsonl").write_text('{"px": 50.0}\n{"vol": 0.3, "px": 1.5}\n', encoding="utf-8")
    result = runner.invoke(
        app, ["run", str(tmp_path / "s.json"), "--ticks", str(tmp_path / "t.jsonl"), "--json"]
    )
    assert result.exit_code == 0, result.output
    values = json.loads(result.stdout)["values"]
    # after the last tick vol = 0.3; the oracle is the textbook formula over scipy.stats.norm
    s, k, t, r, v = 42.0, 40.0, 0.5, 0.1, 0.3
    d1 = (math.log(s / k) + (r + v * v / 2) * t) / (v * math.sqrt(t))
    d2 = d1 - v * math.sqrt(t)
    disc = k * math.exp(-r * t)
    expected = {
        "bs_price/call": s * norm.cdf(d1) - disc * norm.cdf(d2),
        "bs_price/put": disc * norm.cdf(-d2) - s * norm.cdf(-d1),
        "bs_delta/call": norm.cdf(d1),
        "bs_delta/put": norm.cdf(d1) - 1.0,
        "bs_gamma/call": norm.pdf(d1) / (s * v * math.sqrt(t)),
        "bs_vega/put": s * norm.pdf(d1) * math.sqrt(t),
        "bs_theta/call": -s * norm.pdf(d1) * v / (2 * math.sqrt(t)) - r * disc * norm.cdf(d2),
        "bs_rho/put": -t * disc * norm.cdf(-d2),
        "iv/call": 0.3,
    }
    for key, want in expected.items():
        assert values[key] == pytest.approx(want, rel=1e-9), key
    put_oracle = brentq(lambda x: bs_price(s, k, t, r, x, "put") - 1.5, 1e-4, 5.0, xtol=1e-14)
    assert values["iv/put"] == pytest.approx(put_oracle, rel=1e-9)


def test_implied_vol_op_gives_null_outside_the_bounds(tmp_path: Path) -> None:
    spec = {
        "sources": {"px": 50.0, "S": 42.0, "K": 40.0, "T": 0.5, "r": 0.1},
        "nodes": {
            "iv": {
                "op": "implied_vol",
                "inputs": ["px", "S", "K", "T", "r"],
                "params": {"kind": "call"},
            }
        },
    }
    (tmp_path / "s.json").write_text(json.dumps(spec), encoding="utf-8")
    result = runner.invoke(app, ["run", str(tmp_path / "s.json"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["values"]["iv"] is None


def test_scalar_path_agrees_with_the_vectorised_solver() -> None:
    b = _book(400, 12)
    price = bs_price(
        b["spot"], b["strike"], b["years"], b["rate"], b["vol"], b["is_call"], dividend_yield=b["q"]
    )
    price[:5] = [-1.0, 0.0, 1e9, np.nan, 0.5]  # bad, at intrinsic or below, above the bound
    vec = solve_implied_vol(
        price, b["spot"], b["strike"], b["years"], b["rate"], b["is_call"], dividend_yield=b["q"]
    )
    for i in range(price.size):
        kind = "call" if b["is_call"][i] else "put"
        one = implied_vol(
            float(price[i]), 100.0, float(b["strike"][i]), float(b["years"][i]),
            float(b["rate"][i]), kind, dividend_yield=float(b["q"][i]),
        )  # fmt: skip
        assert isinstance(one, float)
        if vec.reason[i] == IVReason.OK:
            # the price pins the vol down to about eps * price / vega
            vega = bs_vega(
                100.0, b["strike"][i], b["years"][i], b["rate"][i], vec.vol[i], kind,
                dividend_yield=b["q"][i],
            )  # fmt: skip
            slack = 1e-9 * vec.vol[i] + 50 * np.finfo(float).eps * price[i] / vega
            assert abs(one - vec.vol[i]) <= slack, i
        else:
            assert math.isnan(one), i
