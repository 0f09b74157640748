"""Gradient-descent models against scikit-learn: SGDRegressor step for step, LinearRegression
and Ridge at convergence, LogisticRegression (binary and multinomial) on regularised data;
schedules, convergence reports and divergence detection."""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, Ridge, SGDRegressor
from sklearn.linear_model import LogisticRegression as SkLogistic

from fluvius.errors import ModelDivergedError
from fluvius.nodes.models import (
    ConstantRate,
    ExponentialDecayRate,
    GDLinearRegression,
    InverseScalingRate,
    LogisticRegression,
    SoftmaxRegression,
)


def _regression(n: int = 300, d: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = x @ np.arange(1.0, d + 1) + 0.5 + rng.normal(0, 0.1, n)
    return x, y


@pytest.mark.parametrize(
    ("schedule", "sk"),
    [
        (ConstantRate(0.01), {"learning_rate": "constant", "eta0": 0.01}),
        (
            InverseScalingRate(0.05, 0.3),
            {"learning_rate": "invscaling", "eta0": 0.05, "power_t": 0.3},
        ),
    ],
)
def test_learn_one_equals_sklearn_sgdregressor(schedule: object, sk: dict[str, object]) -> None:
    x, y = _regression()
    ours = GDLinearRegression(learning_rate=schedule, l2=0.001)  # type: ignore[arg-type]
    for _ in range(3):
        for row, target in zip(x, y, strict=True):
            ours.learn_one(row, target)
    oracle = SGDRegressor(
        loss="squared_error",
        penalty="l2",
        alpha=0.001,
        shuffle=False,
        max_iter=3,
        tol=None,
        random_state=0,
        **sk,  # type: ignore[arg-type]
    ).fit(x, y)
    np.testing.assert_allclose(ours.coef, oracle.coef_, rtol=1e-10)
    assert ours.intercept == pytest.approx(oracle.intercept_[0], rel=1e-10)
    assert ours.t == oracle.t_ - 1  # sklearn counts from 1


def test_batch_fit_converges_to_linear_regression_and_ridge() -> None:
    x, y = _regression()
    ols = GDLinearRegression(learning_rate=0.3)
    report = ols.fit(x, y, max_iter=5000, tol=0.0, gtol=1e-12)
    assert report.converged, report
    oracle = LinearRegression().fit(x, y)
    np.testing.assert_allclose(ols.coef, oracle.coef_, rtol=1e-9)
    assert ols.intercept == pytest.approx(oracle.intercept_, rel=1e-9)
    np.testing.assert_allclose(ols.predict_many(x), oracle.predict(x), rtol=1e-9, atol=1e-9)
    # 0.5 mean(r^2) + 0.5 l2 |w|^2 is Ridge's objective with alpha = n * l2
    ridge = GDLinearRegression(learning_rate=0.3, l2=0.2)
    assert ridge.fit(x, y, max_iter=5000, tol=0.0, gtol=1e-12).converged
    oracle_r = Ridge(alpha=0.2 * len(y)).fit(x, y)
    np.testing.assert_allclose(ridge.coef, oracle_r.coef_, rtol=1e-9)
    assert ridge.intercept == pytest.approx(oracle_r.intercept_, rel=1e-9)


def test_minibatch_fit_is_reproducible_and_reports_max_iter() -> None:
    x, y = _regression()
    runs = []
    for _ in range(2):
        m = GDLinearRegression(learning_rate=0.2, seed=7)
        report = m.fit(x, y, batch_size=16, max_iter=3, tol=0.0, gtol=0.0)
        runs.append(m.coef)
        assert report.stopped_by == "max_iter"
        assert report.iterations == 3
        assert not report.converged
    np.testing.assert_array_equal(runs[0], runs[1])
    other = GDLinearRegression(learning_rate=0.2, seed=8)
    other.fit(x, y, batch_size=16, max_iter=3, tol=0.0, gtol=0.0)
    assert not np.array_equal(other.coef, runs[0])
    assert np.abs(runs[0] - [1.0, 2.0, 3.0]).max() < 0.1


def test_tol_stops_on_a_flat_loss() -> None:
    x, y = _regression()
    report = GDLinearRegression(learning_rate=0.3).fit(x, y, max_iter=10_000, tol=1e-12, gtol=0.0)
    assert report.stopped_by == "tol"
    assert report.iterations < 10_000


def test_schedules() -> None:
    assert [ExponentialDecayRate(1.0, 0.5, floor=0.2)(t) for t in (1, 2, 3, 4)] == [
        1.0,
        0.5,
        0.25,
        0.2,
    ]
    assert InverseScalingRate(1.0, 1.0)(4) == 0.25
    with pytest.raises(ValueError, match=r"ConstantRate: eta0 must be a number > 0, got eta0=-1"):
        ConstantRate(-1)
    with pytest.raises(ValueError, match="decay must be in"):
        ExponentialDecayRate(0.1, 1.5)
    with pytest.raises(ValueError, match="learning_rate must be a number > 0 or a schedule"):
        GDLinearRegression(learning_rate="fast")  # type: ignore[arg-type]


def test_divergence_raises_names_the_step_and_keeps_finite_parameters() -> None:
    x, y = _regression()
    model = GDLinearRegression(learning_rate=5.0)
    with pytest.raises(
        ModelDivergedError, match=r"diverged at step \d+: loss .* learning rate 5.0"
    ):
        model.fit(x * 10, y, max_iter=1000)
    assert model.diverged
    assert np.isfinite(model.coef).all()
    assert math.isfinite(model.predict_one(x[0]))


def test_divergence_flag_stops_learning_online() -> None:
    x, y = _regression()
    model = GDLinearRegression(learning_rate=3.0, on_divergence="flag")
    for row, target in zip(x * 10, y, strict=True):
        model.learn_one(row, target)
    assert model.diverged
    frozen = model.coef
    model.learn_one(x[0], y[0])
    np.testing.assert_array_equal(model.coef, frozen)
    assert np.isfinite(frozen).all()
    report = GDLinearRegression(learning_rate=5.0, on_divergence="flag").fit(x * 10, y)
    assert report.stopped_by == "diverged"
    assert not report.converged


def _classification(n: int = 400, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    p = 1 / (1 + np.exp(-(1.5 * x[:, 0] - 2.0 * x[:, 1] + 0.3)))
    return x, (rng.random(n) < p).astype(float)


def test_logistic_fit_matches_sklearn_with_l2() -> None:
    x, y = _classification()
    model = LogisticRegression(learning_rate=1.0, l2=0.01)
    assert model.fit(x, y, max_iter=20_000, tol=0.0, gtol=1e-11).converged
    oracle = SkLogistic(C=1 / (len(y) * 0.01), tol=1e-12, max_iter=10_000).fit(x, y)
    np.testing.assert_allclose(model.coef, oracle.coef_[0], rtol=1e-7)
    assert model.intercept == pytest.approx(oracle.intercept_[0], rel=1e-7)
    np.testing.assert_allclose(
        model.predict_proba_many(x), oracle.predict_proba(x)[:, 1], rtol=1e-6, atol=1e-9
    )
    assert model.score_one(x[0], int(y[0])) == pytest.approx(
        -math.log(oracle.predict_proba(x[:1])[0, int(y[0])]), rel=1e-7
    )


def test_online_logistic_learns_the_same_decision() -> None:
    x, y = _classification(2000)
    model = LogisticRegression(learning_rate=InverseScalingRate(0.5, 0.5), l2=0.001)
    for row, target in zip(x, y, strict=True):
        model.learn_one(row, int(target))
    oracle = SkLogistic(C=1 / (len(y) * 0.001)).fit(x, y)
    agree = (model.predict_many(x) == oracle.predict(x)).mean()
    assert agree > 0.97
    with pytest.raises(ValueError, match="label"):
        model.learn_one([0.0, 0.0], 2)


def test_softmax_fit_matches_sklearn_multinomial() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 2))
    scores = x @ np.array([[2.0, -1.0, 0.0], [0.0, 1.5, -1.0]])
    y = np.array(["a", "b", "c"])[np.argmax(scores + rng.gumbel(size=scores.shape), axis=1)]
    model = SoftmaxRegression(["a", "b", "c"], learning_rate=1.0, l2=0.01)
    assert model.fit(x, y, max_iter=20_000, tol=0.0, gtol=1e-10).converged
    oracle = SkLogistic(C=1 / (len(y) * 0.01), tol=1e-12, max_iter=10_000).fit(x, y)
    assert list(oracle.classes_) == ["a", "b", "c"]
    np.testing.assert_allclose(model.predict_proba_many(x), oracle.predict_proba(x), rtol=1e-6)
    assert model.predict_many(x) == list(oracle.predict(x))
    with pytest.raises(ValueError, match="unknown class 'd'"):
        model.learn_one([0.0, 0.0], "d")


def test_learn_many_is_one_step_on_the_mean_gradient() -> None:
    x, y = _regression(20)
    one = GDLinearRegression(learning_rate=0.1)
    one.learn_many(x, y)
    grad = x.T @ (0 - y) / len(y)  # from zero weights
    np.testing.assert_allclose(one.coef, -0.1 * grad, rtol=1e-12)
    assert one.intercept == pytest.approx(0.1 * y.mean())


@pytest.mark.parametrize(
    "model",
    [
        GDLinearRegression(0.05),
        LogisticRegression(0.1),
        SoftmaxRegression([0, 1], learning_rate=0.1),
    ],
    ids=lambda m: type(m).__name__,
)
def test_pickle_copy_repr_and_same_predictions(model: object) -> None:
    for x, y in [([1.0, 2.0], 1), ([0.5, -1.0], 0), ([2.0, 0.0], 1)]:
        model.learn_one(x, y)  # type: ignore[attr-defined]
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert clone.predict_one([1.0, 1.0]) == model.predict_one([1.0, 1.0])  # type: ignore[attr-defined]
        clone.learn_one([1.0, 1.0], 1)
    assert type(model).__name__ in repr(model)


@pytest.mark.parametrize("cls", [GDLinearRegression, LogisticRegression])
def test_one_example_fast_path_equals_the_batch_step(cls: type) -> None:
    x, y = _classification(50)
    fast, batch = cls(0.3, l2=0.01), cls(0.3, l2=0.01)
    for row, target in zip(x, y, strict=True):
        fast.learn_one(row, int(target))
        batch.learn_many(row[None, :], [int(target)])
        assert fast.score_one(row, int(target)) == pytest.approx(
            batch.score_one(row, int(target)), rel=1e-12
        )
    np.testing.assert_allclose(fast.coef, batch.coef, rtol=1e-12)
    assert fast.intercept == pytest.approx(batch.intercept, rel=1e-12)
