"""Bivariate statistics, merges and river: scipy.stats, numpy, pandas and river as oracles."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from fluvius.nodes.stats import (
    VWAP,
    Beta,
    Corr,
    Cov,
    EWMean,
    EWVar,
    Max,
    Mean,
    Min,
    RollingQuantile,
    Std,
    Sum,
    Var,
)

river_stats = pytest.importorskip("river.stats")


def pairs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    y = 0.7 * x + 0.3 * rng.standard_normal(n) + 5.0
    return x, y


def feed2(stat: Any, x: Any, y: Any) -> list[float]:
    out = []
    for a, b in zip(x, y, strict=True):
        stat.update(float(a), float(b))
        out.append(stat.get())
    return out


def test_whole_stream_bivariate_matches_scipy_and_numpy() -> None:
    x, y = pairs(200, 1)
    assert math.isclose(feed2(Cov(), x, y)[-1], np.cov(x, y)[0, 1], rel_tol=1e-10)
    assert math.isclose(feed2(Cov(ddof=0), x, y)[-1], np.cov(x, y, ddof=0)[0, 1], rel_tol=1e-10)
    assert math.isclose(feed2(Corr(), x, y)[-1], sps.pearsonr(x, y)[0], rel_tol=1e-10)
    # Beta.update(asset, market): the slope of asset on market
    assert math.isclose(feed2(Beta(), y, x)[-1], sps.linregress(x, y).slope, rel_tol=1e-10)


@pytest.mark.parametrize("window", [2, 3, 17])
def test_windowed_bivariate_matches_pandas(window: int) -> None:
    x, y = pairs(150, 2)
    sx, sy = pd.Series(x), pd.Series(y)
    np.testing.assert_allclose(
        feed2(Cov(window), x, y), sx.rolling(window, min_periods=2).cov(sy), rtol=1e-8
    )
    np.testing.assert_allclose(
        feed2(Corr(window), x, y), sx.rolling(window, min_periods=2).corr(sy), rtol=1e-8
    )
    beta = sy.rolling(window, min_periods=2).cov(sx) / sx.rolling(window, min_periods=2).var()
    np.testing.assert_allclose(feed2(Beta(window), y, x), beta, rtol=1e-8)


def test_time_windowed_cov_matches_pandas() -> None:
    x, y = pairs(120, 3)
    ts = np.cumsum(np.random.default_rng(3).exponential(1.0, 120))
    idx = pd.to_datetime(ts, unit="s")
    c = Cov(period=4.0)
    got = []
    for a, b, t in zip(x, y, ts, strict=True):
        c.update(float(a), float(b), t=float(t))
        got.append(c.get())
    want = pd.Series(x, idx).rolling(pd.Timedelta(seconds=4)).cov(pd.Series(y, idx))
    np.testing.assert_allclose(got, want, rtol=1e-8)


# -- the same estimator, the same stream, in river -----------------------------------------
def test_river_agrees_on_the_same_stream() -> None:
    xs = (50.0 + np.random.default_rng(4).standard_normal(500)).tolist()
    ys = [2.0 * v + 1.0 for v in xs[::-1]]
    ours: list[tuple[Any, Any]] = [
        (Mean(), river_stats.Mean()),
        (Var(), river_stats.Var()),
        (Sum(), river_stats.Sum()),
        (Min(), river_stats.Min()),
        (Max(), river_stats.Max()),
        (EWMean(0.1), river_stats.EWMean(fading_factor=0.1)),
        (EWVar(0.1), river_stats.EWVar(fading_factor=0.1)),
        (RollingQuantile(0.3, 25), river_stats.RollingQuantile(q=0.3, window_size=25)),
    ]
    for i, x in enumerate(xs):
        for a, b in ours:
            a.update(x)
            b.update(x)
        if i == 0:
            continue  # warm-up: river's Var says 0.0 after one observation, ours NaN (ddof=1)
        for a, b in ours:
            assert math.isclose(a.get(), b.get(), rel_tol=1e-6, abs_tol=1e-9), (a, b.get())
    cov, rcov = Cov(), river_stats.Cov()
    corr, rcorr = Corr(), river_stats.PearsonCorr()
    for x, y in zip(xs, ys, strict=True):
        for a, b in ((cov, rcov), (corr, rcorr)):
            a.update(x, y)
            b.update(x, y)
    assert math.isclose(cov.get(), rcov.get(), rel_tol=1e-9)
    assert math.isclose(corr.get(), rcorr.get(), rel_tol=1e-9)


# -- merge: equals one estimator over both streams, and is associative ---------------------
MERGEABLE = [Mean, Sum, Var, Std, Min, Max]
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


def _fed(cls: Any, xs: list[float]) -> Any:
    stat = cls()
    for x in xs:
        stat.update(x)
    return stat


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-6)


@pytest.mark.slow
@settings(max_examples=60)
@given(st.lists(finite, max_size=20), st.lists(finite, max_size=20), st.lists(finite, max_size=20))
def test_univariate_merge_is_associative(a: list[float], b: list[float], c: list[float]) -> None:
    for cls in MERGEABLE:
        sa, sb, sc = _fed(cls, a), _fed(cls, b), _fed(cls, c)
        left = sa.merge(sb).merge(sc).get()
        right = sa.merge(sb.merge(sc)).get()
        whole = _fed(cls, a + b + c).get()
        assert _same(left, right), (cls, left, right)
        assert _same(left, whole), (cls, left, whole)
        assert _same(sa.get(), _fed(cls, a).get())  # the operands did not change


@settings(max_examples=40)
@given(st.lists(st.tuples(finite, finite, st.floats(1, 100)), max_size=30), st.integers(0, 30))
def test_bivariate_merge_is_associative(rows: list[tuple[float, float, float]], cut: int) -> None:
    a, b, c = rows[:cut], rows[cut : cut + 5], rows[cut + 5 :]
    for cls in (Cov, Corr, Beta, VWAP):

        def fed(part: list[tuple[float, float, float]], cls: Any = cls) -> Any:
            stat = cls()
            for x, y, size in part:
                stat.update(x, size if cls is VWAP else y)
            return stat

        left = fed(a).merge(fed(b)).merge(fed(c)).get()
        right = fed(a).merge(fed(b).merge(fed(c))).get()
        whole = fed(rows).get()
        assert _same(left, right), (cls, left, right)
        assert _same(left, whole) or abs(left - whole) < 1e-6 * (1 + abs(whole)), (cls, left)


def test_windowed_statistics_refuse_to_merge() -> None:
    with pytest.raises(TypeError, match="windowed"):
        Cov(3).merge(Cov(3))
    with pytest.raises(TypeError, match="type or params differ"):
        Var(ddof=0).merge(Var(ddof=1))
