"""The introspective suite: every public class of ``fluvius.nodes.*``, found by walking the
packages' ``__all__`` (river's ``test_estimators.py`` is the model).

For each class with an ``update`` or ``learn_one`` method, on instances built from the
parameter sets below (or the class's own ``_unit_test_params()`` classmethod, a list of
keyword dicts, or the no-argument constructor):

- it pickles and deep-copies *with its state*: the copy, fed the same observations,
  gives the same values as the original (state must travel to worker processes);
- it has a repr naming the class;
- ``update_many`` (where it exists) equals a loop of single updates;
- ``merge`` (where it exists and the instance allows it) is associative and equals one
  estimator over the concatenated stream;
- as a graph node (``add_stateful``), run over ticks, it gives the standalone values.

Streams: ``update(x)`` / ``update(x, y)`` get float prices (positive, near 100). A class
whose inputs are not floats (models' ``learn_one(x, y)`` with a feature vector) provides
``_unit_test_stream(rng, n)``: a list of argument tuples for its update method. Without one
it gets the checks that need no stream (pickle, copy and repr of a fresh instance).
"""

from __future__ import annotations

import copy
import importlib
import inspect
import math
import pickle
import pkgutil
from typing import Any

import numpy as np
import pytest

import fluvius.nodes
from fluvius.graph import GraphBuilder
from fluvius.nodes import Adapted, add_stateful
from fluvius.nodes.anomaly import Alert, EWZScore
from fluvius.nodes.stats import Mean, RollingMean
from fluvius.scheduling import run_graph

PARAMS: dict[str, list[dict[str, Any]]] = {
    "RollingMean": [{"window": 5}, {"window": 1}],
    "RollingSum": [{"window": 5}],
    "RollingVar": [{"window": 5}, {"window": 4, "ddof": 0}],
    "RollingStd": [{"window": 5}],
    "RollingMin": [{"window": 5}],
    "RollingMax": [{"window": 5}],
    "RollingQuantile": [{"q": 0.3, "window": 5}],
    "EWMean": [{"alpha": 0.3}, {"halflife": 4.0}],
    "EWVar": [{"alpha": 0.3}],
    "RealizedVol": [{"window": 5}, {"window": 5, "annualize": 252.0}],
    "Cov": [{}, {"window": 5}],
    "Corr": [{}, {"window": 5}],
    "Beta": [{}, {"window": 5}],
    "VWAP": [{}, {"window": 5}],
    "Var": [{}, {"ddof": 0}],
    "RollingZScore": [{"window": 5}],
    "EWZScore": [{"alpha": 0.2, "min_obs": 3}],
    "RobustZScore": [{"window": 5}],
    "Alert": [{"threshold": 101.0, "clear": 99.0, "persistence": 2}],
    "Detector": [{"scorer": EWZScore(0.2, min_obs=3), "alert": Alert(1.0, clear=0.5)}],
    "Adapted": [{"obj": RollingMean(3)}],
}


def public_classes() -> dict[str, type]:
    found: dict[str, type] = {}
    packages = [fluvius.nodes]
    packages += [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(fluvius.nodes.__path__, "fluvius.nodes.")
        if info.ispkg and not any(p.startswith("_") for p in info.name.split("."))
    ]
    for mod in packages:
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if (
                inspect.isclass(obj)
                and not inspect.isabstract(obj)
                and (hasattr(obj, "update") or hasattr(obj, "learn_one"))
            ):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return dict(sorted(found.items()))


def instances(having: str = "") -> list[Any]:
    cases = []
    for qualname, cls in public_classes().items():
        if having and not hasattr(cls, having):
            continue
        if cls.__name__ in PARAMS:
            param_sets = PARAMS[cls.__name__]
        elif hasattr(cls, "_unit_test_params"):
            param_sets = list(cls._unit_test_params())
        else:
            param_sets = [{}]
        for i, params in enumerate(param_sets):
            cases.append(pytest.param(cls, params, id=f"{qualname.split('.', 2)[2]}-{i}"))
    return cases


def arity(cls: type) -> int:
    method = cls.update if hasattr(cls, "update") else cls.learn_one  # type: ignore[attr-defined]
    sig = inspect.signature(method)
    params = list(sig.parameters.values())[1:]
    required = sum(
        1
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    )
    if not required and any(p.kind is p.VAR_POSITIONAL for p in params):
        return 2  # update(*values): features then a target (models' Prequential nodes)
    return required or 1


def make(cls: type, params: dict[str, Any]) -> Any:
    try:
        return cls(**copy.deepcopy(params))
    except TypeError as exc:
        pytest.skip(f"{cls.__name__}: give it _unit_test_params() ({exc})")


def stream(cls: type, n: int, seed: int = 0) -> list[tuple[Any, ...]] | None:
    rng = np.random.default_rng(seed)
    if hasattr(cls, "_unit_test_stream"):
        return list(cls._unit_test_stream(rng, n))
    if not hasattr(cls, "update"):
        return None
    k = arity(cls)
    cols = [100.0 + rng.standard_normal(n).cumsum() for _ in range(k)]
    return [tuple(float(c[i]) for c in cols) for i in range(n)]


OURS = ("fluvius.nodes.stats", "fluvius.nodes.anomaly", "fluvius.nodes._adapt")


def feed(obj: Any, rows: list[tuple[Any, ...]]) -> list[Any]:
    method = obj.update if hasattr(obj, "update") else obj.learn_one
    out = []
    for row in rows:
        try:
            method(*row)
        except (TypeError, ValueError, Warning) as exc:  # warnings are errors in pytest
            if type(obj).__module__.startswith(OURS) or hasattr(obj, "_unit_test_stream"):
                raise
            pytest.skip(
                f"{type(obj).__name__}: float prices do not suit it; give it "
                f"_unit_test_stream(rng, n) ({exc})"
            )
        out.append(value(obj))
    return out


def value(obj: Any) -> Any:
    if hasattr(obj, "get"):
        return obj.get()
    return pickle.dumps(obj)  # a model without get: its whole state stands for its value


def same(a: Any, b: Any, exact: bool = True) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b if exact else math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(a == b)


def test_the_suite_sees_every_package() -> None:
    modules = {cls.__module__.split(".")[2] for cls in public_classes().values()}
    assert {"stats", "anomaly", "_adapt"} <= modules


@pytest.mark.parametrize(("cls", "params"), instances())
def test_pickles_and_copies_with_state(cls: type, params: dict[str, Any]) -> None:
    obj = make(cls, params)
    assert cls.__name__ in repr(obj)
    for clone in (pickle.loads(pickle.dumps(obj)), copy.deepcopy(obj)):
        assert type(clone) is cls
    rows = stream(cls, 60)
    if rows is None:
        return
    feed(obj, rows[:40])
    assert cls.__name__ in repr(obj)
    clones = [pickle.loads(pickle.dumps(obj)), copy.deepcopy(obj)]
    want = feed(obj, rows[40:])
    for clone in clones:
        got = feed(clone, rows[40:])
        assert all(same(a, b) for a, b in zip(got, want, strict=True)), (cls, got, want)


@pytest.mark.parametrize(("cls", "params"), instances(having="update_many"))
def test_batch_equals_a_loop(cls: type, params: dict[str, Any]) -> None:
    rows = stream(cls, 50)
    assert rows is not None
    loop, batch = make(cls, params), make(cls, params)
    feed(loop, rows[:20])
    feed(batch, rows[:20])  # a batch after single updates, too
    feed(loop, rows[20:])
    batch.update_many(*(np.array(col) for col in zip(*rows[20:], strict=True)))
    assert same(value(batch), value(loop), exact=False), (value(batch), value(loop))


@pytest.mark.parametrize(("cls", "params"), instances(having="merge"))
def test_merge_is_associative(cls: type, params: dict[str, Any]) -> None:
    rows = stream(cls, 45, seed=1)
    assert rows is not None
    parts = [make(cls, params) for _ in range(3)]
    for part, chunk in zip(parts, (rows[:10], rows[10:30], rows[30:]), strict=True):
        feed(part, chunk)
    if params.get("window") is not None or params.get("period") is not None:
        with pytest.raises(TypeError, match="window"):  # windows do not merge
            parts[0].merge(parts[1])
        return
    left = parts[0].merge(parts[1]).merge(parts[2])
    right = parts[0].merge(parts[1].merge(parts[2]))
    whole = make(cls, params)
    feed(whole, rows)
    assert same(value(left), value(right), exact=False)
    assert same(value(left), value(whole), exact=False)


@pytest.mark.parametrize(("cls", "params"), instances())
def test_as_a_graph_node_it_gives_the_standalone_values(cls: type, params: dict[str, Any]) -> None:
    rows = stream(cls, 12)
    if rows is None or not hasattr(cls, "update") or not hasattr(cls, "get"):
        pytest.skip(f"{cls.__name__}: no update/get stream")
    standalone = feed(make(cls, params), rows)[-1]
    g = GraphBuilder()
    srcs = [g.source(f"in/{i}", v) for i, v in enumerate(rows[0])]
    add_stateful(g, "node", make(cls, params), *srcs)
    ticks = [{f"in/{i}": v for i, v in enumerate(row)} for row in rows[1:]]
    report = run_graph(g.build(), ticks)
    assert same(report.values["node"], standalone), (report.values["node"], standalone)


def test_add_stateful_refuses_what_does_not_pickle() -> None:
    from fluvius.errors import UnpicklableNodeError

    class Local:  # a local class does not pickle
        def update(self, x: float) -> None: ...

        def get(self) -> float:
            return 0.0

    g = GraphBuilder()
    x = g.source("x", 1.0)
    with pytest.raises(UnpicklableNodeError, match=r"node 'bad': the stateful object .* pickle"):
        add_stateful(g, "bad", Local(), x)


def test_adapted_renames_methods_and_pickles() -> None:
    a = Adapted(Mean(), update="update", get="get")
    a.update(1.0)
    b = pickle.loads(pickle.dumps(a))
    b.update(3.0)
    assert (a.get(), b.get()) == (1.0, 2.0)
    with pytest.raises(TypeError, match=r"Mean has no method 'learn_one'"):
        Adapted(Mean(), update="learn_one")


def _continue_elsewhere(obj: Any, rows: list[tuple[float, ...]]) -> list[Any]:
    return feed(obj, rows)


@pytest.mark.slow
def test_state_continues_on_a_worker_process() -> None:
    """What a multi-process scheduler does: the fed object travels to a spawned process and
    carries on there exactly as it would have here."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from fluvius.nodes.anomaly import RobustZScore
    from fluvius.nodes.stats import Cov, RollingQuantile, RollingVar

    objects = [RollingVar(7), RollingQuantile(0.9, 5), Cov(4), RobustZScore(6)]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        for obj in objects:
            rows = stream(type(obj), 40, seed=4)
            assert rows is not None
            feed(obj, rows[:25])
            remote = pool.submit(_continue_elsewhere, obj, rows[25:]).result(timeout=60)
            local = feed(obj, rows[25:])
            assert all(same(a, b) for a, b in zip(remote, local, strict=True)), type(obj)
