"""nodes/stats against independent oracles: pandas and numpy rolling functions, fractions.

NaN policy under test: a NaN observation makes a windowed statistic NaN while it is in
the window (numpy's propagation over a sliding window), and leaves cleanly afterwards.
"""

from __future__ import annotations

import math
import re
import statistics
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fluvius.nodes.stats import (
    VWAP,
    EWMean,
    EWVar,
    Max,
    Mean,
    Min,
    RealizedVol,
    RollingMax,
    RollingMean,
    RollingMin,
    RollingQuantile,
    RollingStd,
    RollingSum,
    RollingVar,
    Std,
    Sum,
    Var,
)


def trace(stat: Any, xs: Any, ts: Any = None) -> np.ndarray:
    out = []
    for i, x in enumerate(xs):
        if ts is None:
            stat.update(float(x))
        else:
            stat.update(float(x), t=float(ts[i]))
        out.append(stat.get())
    return np.array(out, dtype=float)


def close(a: Any, b: Any, rtol: float = 1e-9, atol: float = 1e-12) -> None:
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=rtol, atol=atol)


def stream(n: int = 300, seed: int = 0, offset: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return offset + rng.standard_normal(n) * rng.uniform(0.1, 10.0)


# -- count windows against pandas -----------------------------------------------------------
@pytest.mark.parametrize("window", [1, 2, 3, 7, 50, 400])
@pytest.mark.parametrize("seed", [0, 1])
def test_rolling_count_windows_match_pandas(window: int, seed: int) -> None:
    xs = stream(seed=seed, offset=100.0 * seed)
    r = pd.Series(xs).rolling(window, min_periods=1)
    close(trace(RollingMean(window), xs), r.mean())
    close(trace(RollingSum(window), xs), r.sum(), atol=1e-9)
    close(trace(RollingMin(window), xs), r.min(), rtol=0)
    close(trace(RollingMax(window), xs), r.max(), rtol=0)
    for ddof in (0, 1, 2):
        if ddof >= window:  # never enough observations (pandas refuses min_periods > window)
            assert np.isnan(trace(RollingStd(window, ddof=ddof), xs)).all()
            continue
        rv = pd.Series(xs).rolling(window, min_periods=ddof + 1)
        close(trace(RollingVar(window, ddof=ddof), xs), rv.var(ddof=ddof), rtol=1e-7)
        close(trace(RollingStd(window, ddof=ddof), xs), rv.std(ddof=ddof), rtol=1e-7)
    for q in (0.0, 0.1, 0.5, 0.9, 1.0):
        close(trace(RollingQuantile(q, window), xs), r.quantile(q))


def test_constant_window_has_zero_variance_exactly() -> None:
    xs = [1e9 + 0.1, 1e9 + 7.3, *([1e9 + 0.3] * 5)]
    v = trace(RollingVar(4), xs)
    assert v[-1] == 0.0
    assert v[-2] == 0.0
    assert v[-3] > 0.0  # the last varied value is still in the window


@pytest.mark.parametrize("window", [1, 3, 10])
def test_nan_is_in_the_window_then_leaves(window: int) -> None:
    xs = stream(60, seed=3)
    xs[[5, 30, 31]] = np.nan
    padded = np.concatenate([np.full(window - 1, np.nan), xs])
    views = np.lib.stride_tricks.sliding_window_view(padded, window)
    # numpy propagates NaN; the partial windows at the start use only what was seen
    expected_mean = np.array(
        [np.mean(v[~np.isnan(v)]) if i < window - 1 else np.mean(v) for i, v in enumerate(views)]
    )
    expected_mean[: window - 1] = [np.mean(xs[: i + 1]) for i in range(window - 1)]
    close(trace(RollingMean(window), xs), expected_mean)
    expected_max = np.array([np.max(v) for v in views])
    expected_max[: window - 1] = [np.max(xs[: i + 1]) for i in range(window - 1)]
    close(trace(RollingMax(window), xs), expected_max, rtol=0)
    got_var = trace(RollingVar(window, ddof=0), xs)
    expected_var = np.array([np.var(v) for v in views])
    expected_var[: window - 1] = [np.var(xs[: i + 1]) for i in range(window - 1)]
    close(got_var, expected_var, rtol=1e-7)


# -- time windows against pandas time-based rolling ----------------------------------------
@pytest.mark.parametrize("period", [0.5, 3.0, 25.0])
def test_time_windows_match_pandas(period: float) -> None:
    rng = np.random.default_rng(5)
    ts = np.cumsum(rng.exponential(1.0, 400))  # irregular ticks
    ts[10:13] = ts[10]  # simultaneous ticks
    xs = rng.standard_normal(400) + 50.0
    idx = pd.to_datetime(ts, unit="s")
    r = pd.Series(xs, index=idx).rolling(pd.Timedelta(seconds=period))
    close(trace(RollingMean(period=period), xs, ts), r.mean())
    close(trace(RollingSum(period=period), xs, ts), r.sum(), atol=1e-9)
    close(trace(RollingMin(period=period), xs, ts), r.min(), rtol=0)
    close(trace(RollingMax(period=period), xs, ts), r.max(), rtol=0)
    close(trace(RollingVar(period=period), xs, ts), r.var(), rtol=1e-7)
    close(trace(RollingQuantile(0.25, period=period), xs, ts), r.quantile(0.25))


def test_decreasing_time_is_rejected_and_state_kept() -> None:
    for stat in (RollingMean(period=5.0), RollingVar(period=5.0), RollingQuantile(0.5, period=1)):
        stat.update(1.0, t=10.0)
        with pytest.raises(ValueError, match=r"must not decrease, got t=9\.0 after t=10\.0"):
            stat.update(2.0, t=9.0)
        with pytest.raises(ValueError, match="needs update"):
            stat.update(2.0)
        assert stat.get() == 1.0 or math.isnan(stat.get())
        stat.update(3.0, t=11.0)
        assert stat.n == 2 if hasattr(stat, "n") else True


# -- exponential weights ----------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [0.01, 0.2, 1.0])
def test_ew_mean_and_var_match_pandas(alpha: float) -> None:
    xs = stream(500, seed=2, offset=1e6)
    e = pd.Series(xs).ewm(alpha=alpha, adjust=False)
    close(trace(EWMean(alpha), xs), e.mean(), rtol=1e-12)
    close(trace(EWVar(alpha), xs), e.var(bias=True), rtol=1e-7, atol=1e-9)


def test_halflife_in_observations_matches_pandas() -> None:
    xs = stream(200, seed=4)
    expected = pd.Series(xs).ewm(halflife=7.0, adjust=False).mean()
    close(trace(EWMean(halflife=7.0), xs), expected, rtol=1e-12)


def test_time_decay_matches_the_weights_written_out() -> None:
    rng = np.random.default_rng(8)
    ts = np.cumsum(rng.exponential(2.0, 60))
    xs = rng.standard_normal(60)
    h = 5.0
    got = trace(EWMean(halflife=h), xs, ts)
    for k in (1, 10, 59):  # each observation weighs 2^-(age / h), normalised recursively
        a = 1.0 - 2.0 ** (-np.diff(ts[: k + 1]) / h)
        w = np.empty(k + 1)
        w[0] = np.prod(1.0 - a)
        for i in range(1, k + 1):
            w[i] = a[i - 1] * np.prod(1.0 - a[i:])
        assert math.isclose(got[k], float(w @ xs[: k + 1]), rel_tol=1e-10, abs_tol=1e-12)


# -- whole-stream estimators, revert, VWAP, realized vol --------------------------------------
def test_whole_stream_estimators_match_the_statistics_module() -> None:
    xs = [float(x) for x in stream(101, seed=6, offset=3.0)]
    assert math.isclose(trace(Mean(), xs)[-1], statistics.fmean(xs), rel_tol=1e-12)
    assert math.isclose(trace(Var(), xs)[-1], statistics.variance(xs), rel_tol=1e-10)
    assert math.isclose(trace(Std(ddof=0), xs)[-1], statistics.pstdev(xs), rel_tol=1e-10)
    assert trace(Sum(), xs)[-1] == math.fsum(xs)
    assert trace(Min(), xs)[-1] == min(xs)
    assert trace(Max(), xs)[-1] == max(xs)


def test_revert_undoes_update() -> None:
    xs = [float(x) for x in stream(50, seed=9)]
    for cls in (Mean, Var, Sum):
        stat = cls()
        for x in xs:
            stat.update(x)
        for x in xs[30:]:
            stat.revert(x)
        ref = cls()
        for x in xs[:30]:
            ref.update(x)
        assert math.isclose(stat.get(), ref.get(), rel_tol=1e-9)


@pytest.mark.parametrize("window", [None, 1, 5])
def test_vwap_matches_numpy(window: int | None) -> None:
    rng = np.random.default_rng(10)
    px = 100.0 + rng.standard_normal(80).cumsum()
    sz = rng.integers(1, 500, 80).astype(float)
    v = VWAP(window)
    got = []
    for p, s in zip(px, sz, strict=True):
        v.update(p, s)
        got.append(v.get())
    for i in (0, 4, 79):
        lo = 0 if window is None else max(0, i + 1 - window)
        expected = np.average(px[lo : i + 1], weights=sz[lo : i + 1])
        assert math.isclose(got[i], expected, rel_tol=1e-12)


def test_realized_vol_matches_numpy() -> None:
    px = 100.0 * np.exp(np.random.default_rng(11).normal(0, 0.01, 100).cumsum())
    r = np.diff(np.log(px))
    got = trace(RealizedVol(20), px)
    assert math.isnan(got[0])
    assert math.isclose(got[-1], math.sqrt(np.sum(r[-20:] ** 2)), rel_tol=1e-10)
    ann = trace(RealizedVol(20, annualize=252.0), px)
    assert math.isclose(ann[-1], math.sqrt(252.0 * np.mean(r[-20:] ** 2)), rel_tol=1e-10)


# -- numerical stability (scaled down; benchmarks/stats.py --stability runs 10^7) ---------
@pytest.mark.slow
def test_large_offset_is_exact_to_1e_9() -> None:
    rng = np.random.default_rng(12)
    xs = (1e9 + rng.standard_normal(100_000)).tolist()
    exact = [Fraction(x) for x in xs]
    mean = sum(exact, Fraction(0)) / len(exact)
    var = sum(((x - mean) ** 2 for x in exact), Fraction(0)) / (len(exact) - 1)
    assert abs(trace_last(Mean(), xs) / float(mean) - 1.0) < 1e-9
    assert abs(trace_last(Var(), xs) / float(var) - 1.0) < 1e-9
    assert abs(trace_last(Sum(), xs) / math.fsum(xs) - 1.0) < 1e-15
    batch = Var()
    batch.update_many(np.array(xs[:500]))
    batch.update_many(np.array(xs[500:]))
    assert abs(batch.get() / float(var) - 1.0) < 1e-9
    w = 1000
    tail = exact[-w:]
    tail_mean = sum(tail, Fraction(0)) / w
    tail_var = sum(((x - tail_mean) ** 2 for x in tail), Fraction(0)) / (w - 1)
    assert abs(trace_last(RollingVar(w), xs) / float(tail_var) - 1.0) < 1e-9
    assert abs(trace_last(RollingMean(w), xs) / float(tail_mean) - 1.0) < 1e-9


def trace_last(stat: Any, xs: list[float]) -> float:
    update = stat.update
    for x in xs:
        update(x)
    return float(stat.get())


# -- parameter validation ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: RollingMean(0), "RollingMean: window must be an int >= 1, got window=0"),
        (lambda: RollingMean(2.5), "window must be an int >= 1, got window=2.5"),
        (lambda: RollingMean(), "give exactly one of window or period"),
        (lambda: RollingVar(3, ddof=-1), "RollingVar: ddof must be an int >= 0, got ddof=-1"),
        (lambda: RollingSum(period=0), "period must be a number > 0, got period=0"),
        (lambda: EWMean(0.0), "EWMean: alpha must be in (0, 1], got alpha=0.0"),
        (lambda: EWMean(0.5, halflife=3), "give exactly one of alpha or halflife"),
        (lambda: RollingQuantile(1.5, 3), "q must be in [0, 1], got q=1.5"),
        (lambda: RealizedVol(3, annualize=-1), "annualize must be a number > 0"),
    ],
)
def test_bad_params_name_the_parameter(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_time_windowed_vwap_and_realized_vol_match_numpy() -> None:
    rng = np.random.default_rng(13)
    ts = np.cumsum(rng.exponential(1.0, 200))
    px = 100.0 * np.exp(rng.normal(0, 0.001, 200).cumsum())
    sz = rng.integers(1, 100, 200).astype(float)
    v, rv = VWAP(period=5.0), RealizedVol(period=5.0)
    for i in range(200):
        v.update(px[i], sz[i], t=ts[i])
        rv.update(px[i], t=ts[i])
        inside = ts[: i + 1] > ts[i] - 5.0
        want = np.average(px[: i + 1][inside], weights=sz[: i + 1][inside])
        assert math.isclose(v.get(), want, rel_tol=1e-12)
        if i:  # returns are stamped with the time of their second price
            r = np.diff(np.log(px[: i + 1]))[inside[1:]]
            want_rv = math.sqrt(np.sum(r**2)) if r.size else math.nan
            got = rv.get()
            assert (math.isnan(got) and math.isnan(want_rv)) or math.isclose(
                got, want_rv, rel_tol=1e-9
            )
    with pytest.raises(ValueError, match=r"VWAP: a time window \(period=...\) needs update"):
        v.update(100.0, 1.0)
