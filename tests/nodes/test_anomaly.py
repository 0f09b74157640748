"""nodes/anomaly against oracles: pandas, scipy.stats, and a reference alert machine."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from fluvius.nodes.anomaly import Alert, Detector, EWZScore, RobustZScore, RollingZScore
from fluvius.nodes.anomaly.evaluate import KINDS, make_stream, run_detector, score_onsets
from fluvius.nodes.anomaly.robust import mad_of_sorted


def scores(scorer: Any, xs: Any) -> np.ndarray:
    out = []
    for x in xs:
        scorer.update(float(x))
        out.append(scorer.get())
    return np.array(out)


@pytest.mark.parametrize("window", [2, 5, 30])
def test_rolling_zscore_matches_numpy(window: int) -> None:
    # numpy per window (two-pass) rather than pandas' online rolling std, which is off by
    # 2e-7 relative on this stream (window 2: the exact answer is +-1/sqrt(2))
    xs = 1e4 + np.random.default_rng(0).standard_normal(200).cumsum()
    want = [math.nan]
    for i in range(1, 200):
        w = xs[max(0, i + 1 - window) : i + 1]
        want.append((xs[i] - np.mean(w)) / np.std(w, ddof=1))
    np.testing.assert_allclose(scores(RollingZScore(window), xs), want, rtol=1e-9)


def test_ew_zscore_scores_against_the_past() -> None:
    xs = np.random.default_rng(1).standard_normal(300)
    e = pd.Series(xs).ewm(alpha=0.1, adjust=False)
    mean, std = e.mean().shift(1), np.sqrt(e.var(bias=True).shift(1))
    want = np.array((pd.Series(xs) - mean) / std)
    want[:10] = np.nan  # min_obs
    np.testing.assert_allclose(scores(EWZScore(0.1, min_obs=10), xs), want, rtol=1e-9)


@pytest.mark.parametrize("window", [4, 5, 31])
def test_robust_zscore_matches_scipy(window: int) -> None:
    xs = np.random.default_rng(2).standard_t(3, 200)
    got = scores(RobustZScore(window), xs)
    assert np.isnan(got[:window]).all()
    for i in range(window, 200):
        past = xs[i - window : i]
        mad = sps.median_abs_deviation(past, scale="normal")
        assert math.isclose(got[i], (xs[i] - np.median(past)) / mad, rel_tol=1e-9)


@pytest.mark.slow
@settings(max_examples=200)
@given(st.lists(st.floats(-100, 100), min_size=1, max_size=40))
def test_mad_walk_matches_numpy(values: list[float]) -> None:
    s = sorted(values)
    med = float(np.median(s))
    want = float(np.median(np.abs(np.array(s) - med)))
    assert math.isclose(mad_of_sorted(s, med), want, rel_tol=1e-12, abs_tol=1e-12)


# -- alert logic against a reference machine written from the docstring -------------------
def reference_alert(
    scores: list[float], threshold: float, clear: float, persistence: int
) -> list[bool]:
    out, on, run = [], False, 0
    for z in scores:
        if math.isnan(z):
            run = 0
        elif on:
            on = abs(z) >= clear
            run = 0
        elif abs(z) >= threshold:
            run += 1
            on = run >= persistence
        else:
            run = 0
        out.append(on)
    return out


@pytest.mark.slow
@settings(max_examples=200)
@given(
    st.lists(st.one_of(st.floats(-6, 6), st.just(math.nan)), max_size=60),
    st.floats(1, 5),
    st.floats(0, 1),
    st.integers(1, 4),
)
def test_alert_matches_the_reference(
    zs: list[float], threshold: float, frac: float, persistence: int
) -> None:
    clear = threshold * frac
    alert = Alert(threshold, clear=clear, persistence=persistence)
    got = []
    for z in zs:
        alert.update(z)
        got.append(alert.get())
    want = reference_alert(zs, threshold, clear, persistence)
    assert got == want
    assert alert.onsets == sum(1 for i, on in enumerate(want) if on and (i == 0 or not want[i - 1]))


def test_alert_validates_its_params() -> None:
    with pytest.raises(ValueError, match=r"clear must be a number <= threshold, got clear=5"):
        Alert(3.0, clear=5)
    with pytest.raises(ValueError, match=r"persistence must be an int >= 1, got persistence=0"):
        Alert(3.0, persistence=0)


# -- the evaluation harness -------------------------------------------------------------------
class _Oracle:
    """A detector that knows the anomalies: on exactly at their starts."""

    def __init__(self, starts: set[int]) -> None:
        self.starts, self.i, self.on = starts, -1, False

    def update(self, x: float) -> None:
        self.i += 1
        self.on = self.i in self.starts

    def get(self) -> bool:
        return self.on


@pytest.mark.parametrize("kind", KINDS)
def test_streams_are_seeded_and_a_perfect_detector_scores_one(kind: str) -> None:
    s1 = make_stream(kind, n=3000, n_anomalies=5, seed=3)
    s2 = make_stream(kind, n=3000, n_anomalies=5, seed=3)
    np.testing.assert_array_equal(s1.values, s2.values)
    starts = {a for a, _ in s1.anomalies}
    r = run_detector(lambda: _Oracle(starts), s1)
    assert (r.precision, r.recall, r.median_delay, r.onsets) == (1.0, 1.0, 0.0, 5)


def test_score_onsets_counts_false_alarms_and_delays() -> None:
    alerts = [False] * 100
    alerts[10] = alerts[11] = True  # one onset, 2 ticks after the anomaly at 8
    alerts[60] = True  # a false alarm
    r = score_onsets(alerts, [(8, 9), (40, 41)], grace=5)
    assert (r.precision, r.recall, r.median_delay, r.onsets) == (0.5, 0.5, 2.0, 2)


def test_detectors_find_injected_spikes() -> None:
    stream = make_stream("spike", n=4000, n_anomalies=8, size=8.0, seed=5)
    for make in (lambda: EWZScore(halflife=20.0, min_obs=20), lambda: RobustZScore(50)):
        r = run_detector(lambda make=make: Detector(make(), Alert(5.0, clear=3.0)), stream)
        assert r.recall == 1.0
        assert r.precision >= 0.8
