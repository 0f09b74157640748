"""Closed-form least squares and recursive least squares against numpy and scikit-learn;
the model spec ops through ``fluvius run --json``."""

from __future__ import annotations

import copy
import itertools
import json
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression, Ridge
from typer.testing import CliRunner

from fluvius.cli.app import app
from fluvius.errors import IllConditionedWarning
from fluvius.nodes.models import LeastSquares, PrequentialRLS, RecursiveLeastSquares

runner = CliRunner()


def _data(n: int = 200, d: int = 4, seed: int = 0, offset: float = 0.0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) + offset
    y = x @ rng.normal(size=d) + 3.0 + rng.normal(0, 0.5, n)
    return x, y


@pytest.mark.parametrize("ridge", [0.0, 0.5, 20.0])
def test_least_squares_matches_sklearn(ridge: float) -> None:
    x, y = _data()
    model = LeastSquares(ridge=ridge)
    for row, target in zip(x, y, strict=True):
        model.learn_one(row, target)
    oracle = Ridge(alpha=ridge).fit(x, y) if ridge else LinearRegression().fit(x, y)
    np.testing.assert_allclose(model.coef, oracle.coef_, rtol=1e-10)
    assert model.intercept == pytest.approx(oracle.intercept_, rel=1e-10)
    np.testing.assert_allclose(model.predict_many(x), oracle.predict(x), rtol=1e-10, atol=1e-12)
    assert model.solver == "cholesky"


def test_least_squares_without_intercept_matches_numpy_lstsq() -> None:
    x, y = _data()
    model = LeastSquares(fit_intercept=False).fit(x, y)
    np.testing.assert_allclose(model.coef, np.linalg.lstsq(x, y, rcond=None)[0], rtol=1e-10)
    assert model.intercept == 0.0


def test_large_offset_keeps_precision() -> None:
    # Welford co-moments: a 1e6 offset on the features does not square into the sums
    x, y = _data(offset=1e6)
    model = LeastSquares()
    for row, target in zip(x, y, strict=True):
        model.learn_one(row, target)
    oracle = LinearRegression().fit(x, y)
    np.testing.assert_allclose(model.coef, oracle.coef_, rtol=1e-7)


@pytest.mark.slow
@settings(max_examples=25)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=5))
def test_learn_many_equals_a_loop_of_learn_one(cuts: list[int]) -> None:
    x, y = _data(n=60)
    loop, batched = LeastSquares(ridge=0.1), LeastSquares(ridge=0.1)
    for row, target in zip(x, y, strict=True):
        loop.learn_one(row, target)
    edges = [0, *sorted(set(cuts)), 60]
    for a, b in itertools.pairwise(edges):
        batched.learn_many(x[a:b], y[a:b])
    assert batched.n == loop.n == 60
    np.testing.assert_allclose(batched.coef, loop.coef, rtol=1e-11)
    assert batched.intercept == pytest.approx(loop.intercept, rel=1e-11)


def test_collinear_features_warn_and_fall_back_to_svd_minimum_norm() -> None:
    x, y = _data()
    x = np.column_stack([x, x[:, 0] + x[:, 1]])  # exactly collinear fifth column
    model = LeastSquares().fit(x, y)
    with pytest.warns(IllConditionedWarning, match=r"condition number .* solved by SVD"):
        coef = model.coef
    assert model.solver == "svd"
    xc, yc = x - x.mean(axis=0), y - y.mean()
    oracle = np.linalg.lstsq(xc, yc, rcond=1e-10)[0]  # the minimum-norm solution
    np.testing.assert_allclose(coef, oracle, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(
        model.predict_many(x), LinearRegression().fit(x, y).predict(x), rtol=1e-8
    )
    # a ridge penalty cures it: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert LeastSquares(ridge=1.0).fit(x, y).coef.shape == (5,)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_rls_with_no_forgetting_equals_the_closed_form_at_every_step(fit_intercept: bool) -> None:
    x, y = _data(n=80, d=3)
    delta = 1e-3
    rls = RecursiveLeastSquares(forgetting=1.0, delta=delta, fit_intercept=fit_intercept)
    z = np.column_stack([x, np.ones(len(y))]) if fit_intercept else x
    for i, (row, target) in enumerate(zip(x, y, strict=True), start=1):
        rls.learn_one(row, target)
        if i % 10 == 0:
            w = np.linalg.solve(delta * np.eye(z.shape[1]) + z[:i].T @ z[:i], z[:i].T @ y[:i])
            got = np.append(rls.coef, rls.intercept) if fit_intercept else rls.coef
            np.testing.assert_allclose(got, w, rtol=1e-8, atol=1e-10)
    # and, with delta -> 0, ordinary least squares (LeastSquares, LinearRegression)
    if fit_intercept:
        ols = LinearRegression().fit(x, y)
        np.testing.assert_allclose(rls.coef, ols.coef_, rtol=1e-4)


def test_rls_forgetting_equals_exponentially_weighted_least_squares() -> None:
    x, y = _data(n=100, d=2)
    lam, delta = 0.95, 1e-4
    rls = RecursiveLeastSquares(forgetting=lam, delta=delta)
    rls.learn_many(x, y)
    z = np.column_stack([x, np.ones(len(y))])
    wts = lam ** np.arange(len(y) - 1, -1, -1)
    a = lam ** len(y) * delta * np.eye(3) + (z * wts[:, None]).T @ z
    w = np.linalg.solve(a, (z * wts[:, None]).T @ y)
    np.testing.assert_allclose(np.append(rls.coef, rls.intercept), w, rtol=1e-8)


def test_rls_tracks_a_coefficient_change() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(600, 1))
    beta = np.where(np.arange(600) < 300, 1.0, -2.0)
    y = beta * x[:, 0] + rng.normal(0, 0.05, 600)
    fast, slow = RecursiveLeastSquares(forgetting=0.95), RecursiveLeastSquares()
    fast.learn_many(x, y)
    slow.learn_many(x, y)
    assert abs(fast.coef[0] - (-2.0)) < 0.05
    assert abs(slow.coef[0] - (-0.5)) < 0.2  # remembers both regimes


def test_validation_messages() -> None:
    with pytest.raises(ValueError, match=r"forgetting must be in \(0, 1\], got forgetting=1.5"):
        RecursiveLeastSquares(forgetting=1.5)
    with pytest.raises(ValueError, match="ridge must be a finite number >= 0"):
        LeastSquares(ridge=-1.0)
    model = LeastSquares()
    model.learn_one([1.0, 2.0], 1.0)
    with pytest.raises(ValueError, match=r"x has 3 feature\(s\), the model has 2"):
        model.learn_one([1.0, 2.0, 3.0], 1.0)


@pytest.mark.parametrize("model", [LeastSquares(ridge=0.1), RecursiveLeastSquares()], ids=repr)
def test_pickle_copy_repr(model: object) -> None:
    x, y = _data(n=10, d=2)
    model.learn_many(x, y)  # type: ignore[attr-defined]
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert clone.predict_one([0.3, 0.1]) == model.predict_one([0.3, 0.1])  # type: ignore[attr-defined]
    assert repr(model).startswith(type(model).__name__)


# -- as graph nodes and spec ops ---------------------------------------------------------------
def test_prequential_node_predicts_before_learning() -> None:
    x, y = _data(n=30, d=2)
    node, oracle = PrequentialRLS(delta=1e-6), RecursiveLeastSquares(delta=1e-6)
    for row, target in zip(x, y, strict=True):
        node.update(row[0], row[1], target)
        assert node.get() == oracle.predict_one(row)
        oracle.learn_one(row, target)
    node.update(1.0, 2.0, float("nan"))  # unknown target: predict only
    assert node.model.n == 30


@pytest.mark.slow
def test_model_ops_through_fluvius_run(tmp_path: Path) -> None:
    x, y = _data(n=25, d=2, seed=3)
    spec = {
        "sources": {"x1": 0.0, "x2": 0.0, "y": float("nan")},
        "nodes": {
            "ls": {"op": "least_squares", "inputs": ["x1", "x2", "y"], "params": {"ridge": 0.5}},
            "rls": {"op": "rls", "inputs": ["x1", "x2", "y"], "params": {"delta": 1e-3}},
            "sgd": {
                "op": "sgd_regression",
                "inputs": ["x1", "x2", "y"],
                "params": {"learning_rate": 0.05, "schedule": "invscaling", "power": 0.5},
            },
        },
    }
    spec_file = tmp_path / "s.json"
    spec_file.write_text(json.dumps(spec).replace("NaN", "null"), encoding="utf-8")
    spec_file.write_text(spec_file.read_text().replace('"y": null', '"y": 0.0'), encoding="utf-8")
    lines = [json.dumps({"x1": a, "x2": b, "y": t}) for (a, b), t in zip(x, y, strict=True)]
    lines.append(json.dumps({"x1": 1.0, "x2": -1.0}))  # predict at a new point
    ticks = tmp_path / "t.jsonl"
    ticks.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["run", str(spec_file), "--ticks", str(ticks), "--json"])
    assert result.exit_code == 0, result.output
    values = json.loads(result.stdout)["values"]
    # the start-up computation learned (0, 0) -> 0 once, then each tick learned its row; the
    # last tick re-learned the last target at the new point (a tick is an event)
    xs = np.vstack([[0.0, 0.0], x, [1.0, -1.0]])
    ys = np.concatenate([[0.0], y, [y[-1]]])
    oracle = Ridge(alpha=0.5).fit(xs[:-1], ys[:-1])
    assert values["ls"] == pytest.approx(float(oracle.predict([[1.0, -1.0]])[0]), rel=1e-9)
    z = np.column_stack([xs[:-1], np.ones(len(ys) - 1)])
    w = np.linalg.solve(1e-3 * np.eye(3) + z.T @ z, z.T @ ys[:-1])
    assert values["rls"] == pytest.approx(float(np.array([1.0, -1.0, 1.0]) @ w), rel=1e-8)
    assert np.isfinite(values["sgd"])
