"""Monitoring against scipy (KS test), pandas (PSI binning with qcut/cut, rolling errors) and a
state machine written from the alert's specification; the monitoring spec ops via the CLI."""

from __future__ import annotations

import copy
import json
import math
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fluvius.cli.app import app
from fluvius.nodes.monitoring import (
    DecayAlert,
    FallbackSwitch,
    KSDrift,
    PSIDrift,
    RollingError,
    Served,
    ks_2samp,
    population_stability_index,
)

runner = CliRunner()


# -- Kolmogorov-Smirnov -------------------------------------------------------------------------
@settings(max_examples=40)
@given(st.integers(2, 60), st.integers(2, 60), st.floats(0.0, 1.5), st.integers(0, 2**16))
def test_ks_matches_scipy(m: int, n: int, shift: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=m), rng.normal(shift, size=n)
    for method in ("exact", "asymp"):
        got = ks_2samp(a, b, method=method)  # type: ignore[arg-type]
        want = scipy.stats.ks_2samp(a, b, method=method)
        assert got.statistic == pytest.approx(want.statistic, abs=1e-12)
        assert got.pvalue == pytest.approx(want.pvalue, rel=1e-9, abs=1e-300), method


def test_ks_with_ties_and_nans() -> None:
    a = [1.0, 2.0, 2.0, 3.0, math.nan]
    b = [2.0, 2.0, 3.0, 3.0, 4.0]
    got = ks_2samp(a, b, method="exact")
    want = scipy.stats.ks_2samp([1.0, 2.0, 2.0, 3.0], b, method="exact")
    assert got.statistic == pytest.approx(want.statistic)
    assert got.pvalue == pytest.approx(want.pvalue, rel=1e-9)


def test_ks_exact_small_pvalue_keeps_relative_accuracy() -> None:
    rng = np.random.default_rng(9)
    a, b = rng.normal(size=400), rng.normal(0.8, size=300)
    got = ks_2samp(a, b)  # auto -> exact at 400 x 300
    want = scipy.stats.ks_2samp(a, b, method="exact")
    assert want.pvalue < 1e-10
    assert got.pvalue == pytest.approx(want.pvalue, rel=1e-8)


def test_ks_drift_window_equals_the_batch_test() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(size=300)
    drift = KSDrift(ref, window=50, min_count=10, method="exact")
    stream = np.concatenate([rng.normal(size=80), rng.normal(1.0, size=40)])
    assert math.isnan(drift.get().statistic)
    for x in stream:
        drift.update(float(x))
    want = scipy.stats.ks_2samp(ref, stream[-50:], method="exact")
    assert drift.get().statistic == pytest.approx(want.statistic)
    assert drift.get().pvalue == pytest.approx(want.pvalue, rel=1e-9)


# -- population stability index -------------------------------------------------------------
def _psi_pandas(reference: np.ndarray, actual: np.ndarray, bins: int, eps: float) -> float:
    _, edges = pd.qcut(reference, q=bins, retbins=True, duplicates="drop")
    edges = np.concatenate([[-np.inf], edges[1:-1], [np.inf]])
    e = pd.Series(pd.cut(reference, edges, right=False)).value_counts(sort=False).to_numpy()
    a = pd.Series(pd.cut(actual, edges, right=False)).value_counts(sort=False).to_numpy()
    e, a = e / reference.size, a / actual.size
    e, a = np.maximum(e, eps), np.maximum(a, eps)
    return float(np.sum((a - e) * np.log(a / e)))


@pytest.mark.parametrize("shift", [0.0, 0.1, 0.5, 2.0])
def test_psi_matches_a_pandas_qcut_binning(shift: float) -> None:
    rng = np.random.default_rng(2)
    ref, act = rng.normal(size=2000), rng.normal(shift, 1.2, size=700)
    got = population_stability_index(ref, act, bins=10)
    assert got == pytest.approx(_psi_pandas(ref, act, 10, 1e-4), rel=1e-12)


def test_psi_discrete_reference_merges_tied_edges() -> None:
    ref = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 3], dtype=float)
    act = np.array([0, 1, 1, 2, 3, 3, 3, 3], dtype=float)
    got = population_stability_index(ref, act, bins=10)
    assert got == pytest.approx(_psi_pandas(ref, act, 10, 1e-4), rel=1e-12)
    assert population_stability_index(ref, ref) == 0.0


def test_psi_drift_window_equals_batch() -> None:
    rng = np.random.default_rng(3)
    ref = rng.normal(size=500)
    drift = PSIDrift(ref, bins=8, window=100)
    stream = rng.normal(0.3, size=250)
    assert math.isnan(drift.get())
    for x in stream:
        drift.update(float(x))
    drift.update(math.nan)
    assert drift.get() == pytest.approx(population_stability_index(ref, stream[-100:], bins=8))
    with pytest.raises(ValueError, match="bins must be an int >= 2, got bins=1"):
        PSIDrift(ref, bins=1)


# -- rolling error ----------------------------------------------------------------------------
@pytest.mark.parametrize("metric", ["mae", "mse", "rmse"])
def test_rolling_error_matches_pandas(metric: str) -> None:
    rng = np.random.default_rng(4)
    y, p = rng.normal(size=3000), rng.normal(size=3000) * 3 + 1e3
    err = RollingError(window=37, metric=metric)  # type: ignore[arg-type]
    got = []
    for a, b in zip(y, p, strict=True):
        err.update(a, b)
        got.append(err.get())
    e = pd.Series(p - y)
    base = e.abs() if metric == "mae" else e**2
    want = base.rolling(37, min_periods=1).mean()
    want = np.sqrt(want) if metric == "rmse" else want
    np.testing.assert_allclose(got, want.to_numpy(), rtol=1e-10)


def test_rolling_error_skips_nan_pairs() -> None:
    err = RollingError(window=2)
    assert math.isnan(err.get())
    for y, p in [(1.0, 2.0), (math.nan, 5.0), (1.0, math.nan), (0.0, 3.0)]:
        err.update(y, p)
    assert err.get() == 2.0


# -- decay alert and fallback switch ---------------------------------------------------------
def _alert_oracle(
    values: list[float], threshold: float, persistence: int, clear: float
) -> list[bool]:
    """The specification, literally: among the non-NaN values since the last change of
    state, the last `persistence` all above threshold raise; all at or below clear clear."""
    active, since, out = False, 0, []
    for i in range(len(values)):
        recent = [v for v in values[since : i + 1] if not math.isnan(v)][-persistence:]
        crossing = (lambda v: v <= clear) if active else (lambda v: v > threshold)
        if len(recent) == persistence and all(crossing(v) for v in recent):
            active, since = not active, i + 1
        out.append(active)
    return out


@pytest.mark.slow
@settings(max_examples=200)
@given(
    st.lists(st.sampled_from([0.0, 0.4, 0.6, 1.2, math.nan]), max_size=40),
    st.integers(1, 4),
    st.sampled_from([0.5, 0.3]),
)
def test_decay_alert_follows_its_specification(
    values: list[float], persistence: int, clear: float
) -> None:
    alert = DecayAlert(threshold=0.5, persistence=persistence, clear=clear)
    got = []
    for v in values:
        alert.update(v)
        got.append(alert.get())
    assert got == _alert_oracle(list(values), 0.5, persistence, clear)


def test_decay_alert_validation() -> None:
    with pytest.raises(
        ValueError, match=r"clear must be <= threshold=1.0 \(hysteresis\), got clear=2"
    ):
        DecayAlert(1.0, clear=2.0)
    with pytest.raises(ValueError, match="persistence must be an int >= 1, got persistence=0"):
        DecayAlert(1.0, persistence=0)


def test_fallback_switch_hysteresis_persistence_and_report() -> None:
    switch = FallbackSwitch(threshold=1.0, clear=0.5, persistence=2)
    errors = [0.2, 1.5, 0.8, 1.5, 1.5, 0.8, 0.7, 0.4, 0.4, 0.9]
    served = []
    for e in errors:
        switch.update(e, 10.0, 20.0)
        served.append(switch.get().model)
    # B after two breaches in a row (ticks 4, 5); back to A after two values <= 0.5
    assert served == ["a", "a", "a", "a", "b", "b", "b", "b", "a", "a"]
    assert switch.n_switches == 1
    switch.update(math.nan, math.nan, 20.0)  # A's prediction missing: B serves, and says so
    assert switch.get() == Served(20.0, "b")
    assert switch.serving == "a"


def test_monitoring_objects_pickle_copy_and_repr() -> None:
    objs = [
        KSDrift([1.0, 2.0, 3.0], window=5, min_count=1),
        PSIDrift([1.0, 2.0, 3.0, 4.0], bins=2),
        RollingError(3, "rmse"),
        DecayAlert(1.0, persistence=2),
        FallbackSwitch(1.0),
    ]
    for obj in objs:
        if isinstance(obj, FallbackSwitch):
            obj.update(2.0, 1.0, 2.0)
        elif isinstance(obj, RollingError):
            obj.update(1.0, 2.0)
        else:
            obj.update(2.5)
        for clone in (pickle.loads(pickle.dumps(obj)), copy.deepcopy(obj)):
            assert repr(clone) == repr(obj)
            assert str(clone.get()) == str(obj.get())


@pytest.mark.slow
def test_monitoring_ops_through_fluvius_run(tmp_path: Path) -> None:
    spec = {
        "sources": {"y": 0.0, "pa": 0.0, "pb": 0.0},
        "nodes": {
            "err": {"op": "rolling_mae", "inputs": ["y", "pa"], "params": {"window": 3}},
            "rmse": {"op": "rolling_rmse", "inputs": ["y", "pa"], "params": {"window": 3}},
            "alert": {"op": "decay_alert", "inputs": ["err"], "params": {"threshold": 0.5}},
            "serve": {
                "op": "fallback_switch",
                "inputs": ["err", "pa", "pb"],
                "params": {"threshold": 0.5, "clear": 0.2, "persistence": 1},
            },
            "psi": {
                "op": "psi_drift",
                "inputs": ["pa"],
                "params": {"reference": [0.0, 1.0, 2.0, 3.0], "bins": 2},
            },
        },
    }
    ticks = [
        {"y": 1.0, "pa": 1.1, "pb": 1.0},
        {"y": 2.0, "pa": 3.5, "pb": 2.1},
        {"y": 3.0, "pa": 3.2, "pb": 2.9},
    ]
    (tmp_path / "s.json").write_text(json.dumps(spec), encoding="utf-8")
    (tmp_path / "t.jsonl").write_text("\n".join(map(json.dumps, ticks)) + "\n", encoding="utf-8")
    result = runner.invoke(
        app, ["run", str(tmp_path / "s.json"), "--ticks", str(tmp_path / "t.jsonl"), "--json"]
    )
    assert result.exit_code == 0, result.output
    values = json.loads(result.stdout)["values"]
    e = np.array([0.1, 1.5, 0.2])  # |pa - y| of the last three cycles (start-up rolled out)
    assert values["err"] == pytest.approx(e.mean())
    assert values["rmse"] == pytest.approx(math.sqrt((e**2).mean()))
    assert values["alert"] is True
    assert values["serve"] == [2.9, "b"]
    ref, act = np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 1.1, 3.5, 3.2])
    assert values["psi"] == pytest.approx(_psi_pandas(ref, act, 2, 1e-4))


def test_none_means_missing_like_nan() -> None:
    # a JSON null arrives as None: every monitor skips it
    err, alert = RollingError(2), DecayAlert(1.0)
    psi, ks = PSIDrift([1.0, 2.0, 3.0], bins=2), KSDrift([1.0, 2.0], window=3, min_count=1)
    err.update(None, 1.0)
    alert.update(None)
    psi.update(None)
    ks.update(None)
    assert math.isnan(err.get())
    assert not alert.get()
    assert math.isnan(psi.get())
    assert math.isnan(ks.get().statistic)
    switch = FallbackSwitch(1.0)
    switch.update(None, None, 2.0)
    assert switch.get() == Served(2.0, "b")


def test_alerts_take_one_argument_order() -> None:
    """Issue 16: Alert, DecayAlert and FallbackSwitch share threshold, clear, persistence."""
    import inspect

    from fluvius.nodes.anomaly import Alert

    for cls in (Alert, DecayAlert, FallbackSwitch):
        params = inspect.signature(cls).parameters
        assert next(iter(params)) == "threshold", cls
        named = [n for n in params if n in ("clear", "persistence")]
        assert named == ["clear", "persistence"], cls
        assert all(params[n].kind is inspect.Parameter.KEYWORD_ONLY for n in named), cls
    assert DecayAlert(1.0, clear=0.5, persistence=3).onsets == 0


def test_former_argument_orders_still_work_and_warn() -> None:
    with pytest.warns(DeprecationWarning, match=r"DecayAlert\(threshold, persistence, clear\)"):
        old = DecayAlert(1.0, 2, 0.5)
    assert (old.threshold, old.persistence, old.clear) == (1.0, 2, 0.5)
    with pytest.warns(DeprecationWarning, match="n_raised is deprecated; use onsets"):
        assert old.n_raised == 0
    with pytest.warns(DeprecationWarning, match=r"bound=, recover=\) is deprecated"):
        switch = FallbackSwitch(bound=1.0, recover=0.5, persistence=2)
    assert (switch.threshold, switch.clear, switch.persistence) == (1.0, 0.5, 2)
    with pytest.warns(DeprecationWarning, match=r"FallbackSwitch\(threshold, clear, persistence"):
        positional = FallbackSwitch(1.0, 0.5, 2)
    assert (positional.threshold, positional.clear, positional.persistence) == (1.0, 0.5, 2)
    with (
        pytest.raises(TypeError, match="not both"),
        pytest.warns(DeprecationWarning, match="bound"),
    ):
        FallbackSwitch(1.0, bound=2.0)
    with pytest.raises(TypeError, match="missing required argument: 'threshold'"):
        FallbackSwitch()
    with pytest.raises(TypeError, match="got 4 positional arguments"):
        DecayAlert(1.0, 2, 0.5, 7)
