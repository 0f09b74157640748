"""The scheduler conformance suite: one class of pytest tests every scheduler passes.

Usage
-----
A scheduler's test module subclasses :class:`SchedulerSuite` and sets only a factory (as
dask's ``utils_test.GetFunctionTestMixin``)::

    class TestSerialScheduler(SchedulerSuite):
        def make_scheduler(self, error_policy):
            return SerialScheduler(error_policy=error_policy)

Hooks a subclass may set:

``worker_counts``
    For multi-process schedulers: a tuple of worker counts, e.g. ``(1, 2, 4)``. Every test
    then runs once per count, and the suite calls ``make_scheduler(error_policy,
    workers=n)`` (so the factory must accept ``workers``). Empty (the default) means one run
    per test and ``make_scheduler(error_policy)``.
``shares_memory``
    True (default) when nodes run in the test's own process and event loop. Tests that
    observe nodes through shared Python objects (``asyncio.Event`` handshakes, a list that
    records cancellation, ``warnings`` raised in the event loop) need it and are skipped
    when it is False. Every other test observes nodes only through their values (stateful
    nodes such as :class:`~fluvius.testing.strategies.History` report what they saw), so it
    holds for schedulers whose nodes live in worker processes too.
``max_examples``
    Hypothesis examples per random-graph test (default 100); lower it for slow schedulers.

The random-graph tests carry ``@pytest.mark.slow``: a project running pytest with
``--strict-markers`` registers that marker (fluvius does, in ``pyproject.toml``). They take
their other Hypothesis settings (``derandomize``, ``database``) from the loaded profile.

What is checked (docs/concepts/semantics.md): random graphs against
:class:`~fluvius.engine.ReferenceEvaluator` (bit-identical values, identical per-cycle
recomputed counts, failed nodes and errors, under both error policies); the change cutoff
(equal values stop propagation, ``cutoff=False`` opts out, NaN always propagates, ``-0.0``
keeps the previous bits); equal ticks count as changed; no glitches; each node at most once
per cycle; async nodes of one cycle run concurrently; fail-fast cancellation and the
lowest-ranked error; isolate marking and recovery; stateful nodes see each computation once
and in order; errors carry key, creation site, traceback and cause; session life cycle.

Errors listed by a cycle are compared sorted by key: a concurrent scheduler may apply them
in another order than the oracle.
"""

from __future__ import annotations

import asyncio
import gc
import math
import struct
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import pytest
from hypothesis import HealthCheck, given, note, settings

from fluvius.engine.reference import ReferenceEvaluator
from fluvius.errors import FluviusError, NodeError, UnknownSourceError
from fluvius.graph.builder import GraphBuilder
from fluvius.scheduling.runner import run_graph
from fluvius.testing.strategies import (
    AsyncFloatOp,
    FloatOp,
    History,
    RunningCount,
    Scenario,
    scenarios,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Mapping, Sequence

    from fluvius.engine.state import CycleResult, ErrorPolicy
    from fluvius.graph.dag import Graph
    from fluvius.scheduling.base import Scheduler

__all__ = [
    "CycleOutcome",
    "SchedulerSuite",
    "assert_same_values",
    "canonical",
    "run_oracle",
    "run_session",
]

T = TypeVar("T")

_GUARD_S = 5.0
"""Bound on a handshake wait: reached only when the scheduler is wrong (then it fails)."""


# -- comparing runs -----------------------------------------------------------------------------
def canonical(value: Any) -> Any:
    """A comparable form of ``value`` that tells apart everything "bit-identical" does.

    Floats compare by their IEEE bytes (so ``-0.0`` differs from ``0.0`` and NaN equals a
    NaN with the same bits) and by type; sequences and arrays element-wise.

    >>> canonical(0.0) == canonical(-0.0), canonical(math.nan) == canonical(math.nan)
    (False, True)
    """
    if isinstance(value, float):
        return (type(value).__name__, repr(value), struct.pack("<d", value).hex())
    if isinstance(value, tuple | list):
        return (type(value).__name__, tuple(canonical(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((repr(k), canonical(v)) for k, v in value.items())))
    if hasattr(value, "dtype") and hasattr(value, "tobytes") and hasattr(value, "shape"):
        return ("array", str(value.dtype), tuple(value.shape), value.tobytes().hex())
    return (type(value).__name__, repr(value))


def assert_same_values(actual: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
    """Assert both mappings have the same keys and bit-identical values, naming differences."""
    assert sorted(actual) == sorted(expected), "different keys"
    wrong = {
        k: (actual[k], expected[k])
        for k in expected
        if canonical(actual[k]) != canonical(expected[k])
    }
    assert not wrong, f"values differ (key: (actual, expected)): {wrong!r}"


ErrorFacts = tuple[str, str, str, str]
"""``(key, exc_type, exc_message, created_at)`` of a NodeError."""


def _facts(err: NodeError) -> ErrorFacts:
    return (err.key, err.exc_type, err.exc_message, err.created_at)


def _check_error(err: NodeError) -> None:
    """A NodeError's own consistency: cause, traceback text and message agree."""
    cause = err.__cause__
    if cause is not None:  # the cause may not survive a trip between processes
        assert type(cause).__qualname__ == err.exc_type, (cause, err)
        assert str(cause) == err.exc_message, (cause, err)
    assert err.exc_type in err.remote_traceback, err.remote_traceback
    assert err.key in str(err), str(err)
    assert err.worker, str(err)


@dataclass(frozen=True, slots=True)
class CycleOutcome:
    """What one cycle (``index`` 0: start-up) did, in comparable form.

    ``raised`` holds the facts of the NodeError the cycle raised (fail-fast); then the other
    fields are empty, since the state of an aborted run is not specified.
    """

    index: int
    recomputed: int = -1
    values: Mapping[str, Any] = field(default_factory=dict)
    failed: Mapping[str, ErrorFacts] = field(default_factory=dict)
    errors: tuple[ErrorFacts, ...] = ()
    raised: ErrorFacts | None = None


def _outcome(
    index: int, result: CycleResult, values: Mapping[str, Any], failed: Mapping[str, NodeError]
) -> CycleOutcome:
    for err in result.errors:
        _check_error(err)
    return CycleOutcome(
        index,
        result.recomputed,
        {k: canonical(v) for k, v in values.items()},
        {k: _facts(e) for k, e in failed.items()},
        tuple(sorted(_facts(e) for e in result.errors)),
    )


def _raised(index: int, err: NodeError) -> CycleOutcome:
    _check_error(err)
    return CycleOutcome(index, raised=_facts(err))


def run_oracle(
    graph: Graph, batches: Sequence[Mapping[str, Any]], policy: ErrorPolicy
) -> list[CycleOutcome]:
    """Start-up then each batch on the reference evaluator; stops at a raised NodeError."""
    oracle = ReferenceEvaluator(graph, policy)
    try:
        outcomes: list[CycleOutcome] = []
        for index, batch in enumerate([None, *batches]):
            try:
                result = oracle.start() if batch is None else oracle.cycle(batch)
            except NodeError as err:
                outcomes.append(_raised(index, err))
                break
            outcomes.append(_outcome(index, result, oracle.values(), oracle.failed))
        return outcomes
    finally:
        oracle.close()


async def run_session(
    scheduler: Scheduler, graph: Graph, batches: Sequence[Mapping[str, Any]]
) -> list[CycleOutcome]:
    """As :func:`run_oracle`, on a session of ``scheduler``; checks ``CycleResult.index``."""
    outcomes: list[CycleOutcome] = []
    async with scheduler.session(graph) as session:
        for index, batch in enumerate([None, *batches]):
            try:
                result = await (session.start() if batch is None else session.cycle(batch))
            except NodeError as err:
                outcomes.append(_raised(index, err))
                break
            assert result.index == index, (result.index, index)
            outcomes.append(_outcome(index, result, session.values(), session.failed))
    return outcomes


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _run_watching_coroutines(coro: Coroutine[Any, Any, T]) -> tuple[T, list[str]]:
    """Run ``coro``; also return the "coroutine ... was never awaited" warnings it caused.

    Such a coroutine may only be freed by the garbage collector, so one collection runs
    before returning; ``gc.freeze`` keeps it to the objects this run created (cheap, and
    garbage of earlier runs is not blamed on this one).
    """
    gc.freeze()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = _run(coro)
            gc.collect()
    finally:
        gc.unfreeze()
    leaked = []
    for w in caught:
        if "never awaited" in str(w.message):
            leaked.append(str(w.message))
        else:  # not ours to judge: let the caller's warning filters see it
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    return result, leaked


# -- nodes the suite builds (module level: they pickle) -----------------------------------------
class _RaiseAfterYields:
    """Async node: yields ``n`` times to the event loop, then raises ValueError."""

    def __init__(self, n: int, message: str) -> None:
        self.n = n
        self.message = message

    async def __call__(self, x: float) -> float:
        for _ in range(self.n):
            await asyncio.sleep(0)
        raise ValueError(self.message)


class _Immediate:
    """Async node that returns without awaiting anything (finishes on its first step)."""

    async def __call__(self, x: float) -> float:
        return x + 1.0


def _constant() -> float:
    return 42.0


def _pair(a: float, b: float) -> tuple[float, float]:
    return (a, b)


def _weighted(a: float, b: float, *, w: float, bias: float = 0.0) -> float:
    return a * w + b * (1.0 - w) + bias


async def _async_weighted(a: float, *, w: float) -> float:
    await asyncio.sleep(0)
    return a * w


class _KeywordHistory:
    """Stateful node whose ``update`` takes its inputs by keyword."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, float]] = []

    def update(self, *, a: float, w: float) -> None:
        self.seen.append((a, w))

    def get(self) -> tuple[tuple[float, float], ...]:
        return tuple(self.seen)


# -- the suite ----------------------------------------------------------------------------------
class SchedulerSuite:
    """Conformance tests for a scheduler; subclass and implement :meth:`make_scheduler`."""

    worker_counts: ClassVar[tuple[int, ...]] = ()
    shares_memory: ClassVar[bool] = True
    max_examples: ClassVar[int] = 100

    def make_scheduler(self, error_policy: ErrorPolicy) -> Scheduler:
        """A scheduler running under ``error_policy`` (see the module docstring)."""
        raise NotImplementedError("a SchedulerSuite subclass must implement make_scheduler")

    # -- plumbing ---------------------------------------------------------------------------
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Run every test once per entry of ``worker_counts`` (when set)."""
        if self.worker_counts and "scheduler_factory" in metafunc.fixturenames:
            metafunc.parametrize(
                "scheduler_factory",
                self.worker_counts,
                indirect=True,
                ids=[f"workers={n}" for n in self.worker_counts],
            )

    @pytest.fixture
    def scheduler_factory(self, request: pytest.FixtureRequest) -> Callable[[str], Scheduler]:
        """``factory(error_policy)`` -> a scheduler (for the current worker count)."""
        workers: int | None = getattr(request, "param", None)
        make: Any = self.make_scheduler

        def factory(policy: str) -> Scheduler:
            scheduler: Scheduler = (
                make(policy) if workers is None else make(policy, workers=workers)
            )
            return scheduler

        return factory

    def _needs_shared_memory(self) -> None:
        if not self.shares_memory:
            pytest.skip("observes nodes through shared objects; nodes run in other processes")

    def _settings(self, max_examples: int | None = None) -> settings:
        # built when the test runs, so that the profile loaded by conftest applies
        return settings(
            max_examples=max_examples or self.max_examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )

    def _check_against_oracle(
        self, factory: Callable[[str], Scheduler], scenario: Scenario, policy: ErrorPolicy
    ) -> list[CycleOutcome]:
        note(f"graph:\n{scenario.graph.to_code()}\nbatches: {list(scenario.batches)!r}")
        graph = scenario.graph.build()
        expected = run_oracle(graph, scenario.batches, policy)
        actual, leaked = _run_watching_coroutines(
            run_session(factory(policy), graph, scenario.batches)
        )
        assert actual == expected
        assert not leaked, f"coroutines of async nodes left un-awaited: {leaked}"
        return actual

    # -- random graphs against the oracle -------------------------------------------------------
    @pytest.mark.slow
    @pytest.mark.parametrize("policy", ["fail_fast", "isolate"])
    def test_random_graphs_match_oracle(
        self, scheduler_factory: Callable[[str], Scheduler], policy: ErrorPolicy
    ) -> None:
        """Values, recomputed counts, failed nodes and errors equal the oracle's, per cycle."""

        @self._settings()
        @given(scenario=scenarios())
        def check(scenario: Scenario) -> None:
            self._check_against_oracle(scheduler_factory, scenario, policy)

        check()

    @pytest.mark.slow
    def test_random_error_free_graphs_match_oracle(
        self, scheduler_factory: Callable[[str], Scheduler]
    ) -> None:
        """Longer runs of graphs that cannot raise: every cycle's values equal the oracle's."""

        @self._settings()
        @given(scenario=scenarios(errors=False, max_nodes=14, min_batches=3, max_batches=10))
        def check(scenario: Scenario) -> None:
            outcomes = self._check_against_oracle(scheduler_factory, scenario, "fail_fast")
            assert len(outcomes) == len(scenario.batches) + 1

        check()

    @pytest.mark.slow
    def test_random_larger_graphs_match_oracle(
        self, scheduler_factory: Callable[[str], Scheduler]
    ) -> None:
        """Deeper graphs and more cycles, under isolate so that runs outlive their errors."""

        @self._settings(max(self.max_examples // 4, 1))
        @given(scenario=scenarios(min_nodes=8, max_nodes=30, min_batches=4, max_batches=12))
        def check(scenario: Scenario) -> None:
            self._check_against_oracle(scheduler_factory, scenario, "isolate")

        check()

    # -- start-up and cycles ------------------------------------------------------------------
    def test_startup_computes_every_node_once(
        self, scheduler_factory: Callable[[str], Scheduler]
    ) -> None:
        g = GraphBuilder()
        s = g.source("s", 1.0)
        a = g.node("a", RunningCount(), s)
        b = g.node("b", RunningCount(), s, a)
        g.node("c", RunningCount(), a, b, s)
        g.node("k", _constant)  # no inputs: computed at start-up only
        graph = g.build()

        async def main() -> tuple[CycleResult, CycleResult, dict[str, Any]]:
            async with scheduler_factory("fail_fast").session(graph) as run:
                first = await run.start()
                second = await run.cycle({"s": 2.0})
                return first, second, run.values()

        first, second, values = _run(main())
        assert (first.index, first.recomputed, first.errors) == (0, 4, ())
        assert (second.index, second.recomputed) == (1, 3)
        assert_same_values(values, {"s": 2.0, "a": 2.0, "b": 2.0, "c": 2.0, "k": 42.0})

    def test_each_node_at_most_once_per_cycle(
        self, scheduler_factory: Callable[[str], Scheduler]
    ) -> None:
        """Many paths lead to ``d``; it still computes once per cycle (sync and async)."""
        g = GraphBuilder()
        s = g.source("s", 1.0)
        a = g.node("a", FloatOp("add", 1.0), s)
        b = g.node("b", AsyncFloatOp("mul", 2.0), s)
        c = g.node("c", FloatOp("sum"), a, b, s)
        g.node("twice", RunningCount(), s, s)
        g.node("d", RunningCount(), a, b, c, s)
        graph = g.build()
        ticks = [{"s": 1.0}, {"s": 2.0}, {"s": 2.0}]
        report = run_graph(graph, ticks, scheduler_factory("fail_fast"))
        assert [c.recomputed for c in report.cycles] == [5, 5, 5]
        assert report.values["d"] == 4.0
        assert report.values["twice"] == 4.0

    def test_empty_batch_recomputes_nothing(
        self, scheduler_factory: Callable[[str], Scheduler]
    ) -> None:
        g = GraphBuilder()
        g.node("n", RunningCount(), g.source("s", 1.0))
        report = run_graph(g.build(), [{}, {}], scheduler_factory("fail_fast"))
        assert [(c.index, c.recomputed) for c in report.cycles] == [(1, 0), (2, 0)]
        assert report.values == {"s": 1.0, "n": 1.0}

    def test_equal_tick_counts_as_changed(
        self, scheduler_factory: Callable[[str], Scheduler]
    ) -> None:
        """A tick is an event: an equal value recomputes the readers (stateful ones see it)."""
        g = GraphBuilder()
        s = g.source("s", 1.0)
        g.node("h", History(), s)
        g.node("other", RunningCount(), g.source("t", 0.0))
        report = run_graph(
            g.build(), [{"s": 1.0}, {"s": 1.0, "t": 0.0}], scheduler_factory("fail_fast")
        )
        assert [c.recomputed for c in report.cycles] == [1, 2]
        assert report.values["h"] == ((1.0,), (1.0,), (1.0,))
        assert report.values["other"] == 2.0

    # -- the change cutoff ------------------------------------------------------------------
    @pytest.mark.parametrize(("cutoff", "counts"), [(True, [1, 1, 2]), (False, [2, 2, 2])])
    def test_cutoff(
        self,
        scheduler_factory: Callable[[str], Scheduler],
        cutoff: bool,
        counts: list[int],
    ) -> None:
        """An equal recomputed value stops propagation, unless the node opts out."""
        g = GraphBuilder()
        s = g.source("s", 1.0)
        r = g.node("r", FloatOp("round"), s, cutoff=cutoff)
        g.node("after", RunningCount(), r)
        ticks = [{"s": 1.01}, {"s": 0.96}, {"s": 1.5}]
        report = run_graph(g.build(), ticks, scheduler_factory("fail_fast"))
        assert [c.recomputed for c in report.cycles] == counts
        assert report.values["after"] == 1.0 + sum(n - 1 for n in counts)
        assert report.values["r"] == 1.5

    def test_cutoff_keeps_previous_bits(
        self, scheduler_factory: Callable[[str], Scheduler]
    ) -> None:
        """``-0.0 == 0.0``: the node keeps its previous value (``0.0``), readers do not run."""
        g = GraphBuilder()
        s = g.source("s", 1.0)
        z = g.node("z", FloatOp("zero"), s)
        g.node("after", RunningCount(), z)
        report = run_graph(g.build(), [{"s": -1.0}], scheduler_factory("fail_fast"))
        assert report.cycles[0].recomputed == 1
        assert math.copysign(1.0, report.values["z"]) == 1.0
        assert report.values["after"] == 1.0

    @pytest.mark.parametrize("make_op", [FloatOp, AsyncFloatOp])
    def test_nan_always_propagates(
        self, scheduler_factory: Callable[[str], Scheduler], make_op: type[FloatOp]
    ) -> None:
        g = GraphBuilder()
        s = g.source("s", 5.0)
        n = g.node("n", make_op("nan_above", 1.0), s)
        g.node("after", RunningCount(), n)
        report = run_graph(g.build(), [{"s": 6.0}, {"s": 7.0}], scheduler_factory("fail_fast"))
        assert [c.recomputed for c in report.cycles] == [2, 2]
        assert math.isnan(report.values["n"])
        assert report.values["after"] == 3.0

    # -- glitches and concurrency -----------------------------------------------------------
    @pytest.mark.parametrize("make_op", [FloatOp, AsyncFloatOp])
    def test_no_glitches(
        self, scheduler_factory: Callable[[str], Scheduler], make_op: type[FloatOp]
    ) -> None:
        """In a diamond the join sees both inputs of the same cycle, once per cycle."""
        g = GraphBuilder()
        s = g.source("s", 1.0)
        a = g.node("a", make_op("add", 1.0), s)  # s + 1
        b = g.node("b", make_op("mul", 2.0), s)  # 2 s
        r = g.node("r", make_op("round"), a)  # round(s + 1): often unchanged (cutoff)
        g.node("seen", History(), r, b)
        ticks = [{"s": 2.0}, {"s": 2.01}, {"s": 2.0}, {"s": 3.5}]
        report = run_graph(g.build(), ticks, scheduler_factory("fail_fast"))
        svals = [1.0, *(t["s"] for t in ticks)]
        expected = tuple((round(x + 1.0, 1), 2.0 * x) for x in svals)
        assert report.values["seen"] == expected

    def test_async_nodes_of_one_cycle_run_concurrently(
        self, scheduler_factory: Callable[[str], Scheduler]
    ) -> None:
        """Two async nodes ready together both start before either finishes."""
        self._needs_shared_memory()

        async def main() -> dict[str, Any]:
            started = {"a": asyncio.Event(), "b": asyncio.Event()}

            def handshake(me: str, other: str) -> Callable[[float], Coroutine[Any, Any, float]]:
                async def node(x: float) -> float:
                    started[me].set()
                    await asyncio.wait_for(started[other].wait(), _GUARD_S)
                    return x + 1.0

                return node

            g = GraphBuilder()
            s = g.source("s", 1.0)
            g.node("a", handshake("a", "b"), s)
            g.node("b", handshake("b", "a"), s)
            async with scheduler_factory("fail_fast").session(g.build()) as run:
                await run.start()
                for e in started.values():
                    e.clear()
                await run.cycle({"s": 2.0})
                return run.values()

        assert _run(main()) == {"s": 2.0, "a": 3.0, "b": 3.0}

    # -- fail-fast -----------------------------------------------------------------------------
    def test_fail_fast_raises_lowest_ranked_failure(
        self, scheduler_factory: Callable[[str], Scheduler]
    ) -> None:
        """A later-ranked node failing first does not win: the lowest-ranked error is raised."""
        g = GraphBuilder()
        s = g.source("s", 5.0)
        g.node("slow", _RaiseAfterYields(5, "slow failure"), s)  # rank 1, fails last
        g.node("fast", FloatOp("raise_above", 1.0), s)  # rank 2, fails at once
        g.node("async_fast", _RaiseAfterYields(0, "async failure"), s)  # rank 3
        graph = g.build()

        async def main() -> None:
            async with scheduler_factory("fail_fast").session(graph) as run:
                await run.start()

        with pytest.raises(NodeError, match=r"node 'slow'.*ValueError: slow failure") as info:
            _run(main())
        assert isinstance(info.value.__cause__, ValueError)
        assert str(info.value.__cause__) == "slow failure"
        expected = run_oracle(graph, [], "fail_fast")
        assert _run(run_session(scheduler_factory("fail_fast"), graph, [])) == expected

    def test_fail_fast_cancels_later_ranked_async_siblings(
        self, scheduler_factory: Callable[[str], Scheduler]
    ) -> None:
        self._needs_shared_memory()
        seen: list[str] = []

        async def main() -> None:
            b_started = asyncio.Event()
            never = asyncio.Event()

            async def fails(x: float) -> float:
                await asyncio.wait_for(b_started.wait(), _GUARD_S)
                raise ValueError("a failed")

            async def sibling(x: float) -> float:
                b_started.set()
                try:
                    await asyncio.wait_for(never.wait(), _GUARD_S)
                except asyncio.CancelledError:
                    seen.append("cancelled")
                    raise
                seen.append("finished")
                return x

            g = GraphBuilder()
            s = g.source("s", 0.0)
            g.node("a", fails, s)
            g.node("b", sibling, s)
            async with scheduler_factory("fail_fast").session(g.build()) as run:
                await run.start()

        with pytest.raises(NodeError, match=r"node 'a'.*ValueError: a failed"):
            _run(main())
        assert seen == ["cancelled"]

    def test_fail_fast_leaves_no_coroutine_unawaited(
        self, scheduler_factory: Callable[[str], Scheduler]
    ) -> None:
        """An async node cancelled before it started must not leak its coroutine.

        Ranks: ``a`` and ``b`` finish on their first step, together; ``a`` readies ``c``
        (async, rank 4); then ``b`` readies ``bad`` (sync, rank 3), which raises and cancels
        ``c`` before ``c`` ever ran.
        """
        self._needs_shared_memory()
        g = GraphBuilder()
        s = g.source("s", 0.0)
        a = g.node("a", _Immediate(), s)
        b = g.node("b", _Immediate(), s)
        g.node("bad", FloatOp("raise_above", -math.inf), b)
        g.node("c", AsyncFloatOp("add"), a)
        graph = g.build()
        outcomes, leaked = _run_watching_coroutines(
            run_session(scheduler_factory("fail_fast"), graph, [])
        )
        assert outcomes == run_oracle(graph, [], "fail_fast")
        assert not leaked, leaked

    # -- isolate -------------------------------------------------------------------------------
    def test_isolate_marks_dependents_and_recovers(
        self, scheduler_factory: Callable[[str], Scheduler]
    ) -> None:
        g = GraphBuilder()
        s = g.source("s", 0.5)
        bad = g.node("bad", FloatOp("raise_above", 1.0), s)  # s + 1 while s <= 1
        d1 = g.node("d1", FloatOp("add"), bad)
        g.node("d2", History(), d1)
        g.node("good", History(), s)
        graph = g.build()
        ticks = [{"s": 5.0}, {"s": 6.0}, {"s": 0.5}]

        async def main() -> None:
            async with scheduler_factory("isolate").session(graph) as run:
                await run.start()
                first = await run.cycle({"s": 5.0})
                assert first.recomputed == 2  # bad (raised) and good; d1, d2 only marked
                assert [e.key for e in first.errors] == ["bad"]
                assert sorted(run.failed) == ["bad", "d1", "d2"]
                root = _facts(run.failed["bad"])
                assert _facts(run.failed["d1"]) == _facts(run.failed["d2"]) == root
                with pytest.raises(NodeError, match="node 'bad'"):
                    run.value("d2")
                assert run.values()["good"] == ((0.5,), (5.0,))
                assert "d1" not in run.values()
                again = await run.cycle({"s": 6.0})
                assert again.recomputed == 2
                assert sorted(run.failed) == ["bad", "d1", "d2"]
                # recovery: bad computes 1.5, equal to its last good value, yet propagates
                back = await run.cycle({"s": 0.5})
                assert (back.recomputed, back.errors, run.failed) == (4, (), {})
                assert run.values()["d2"] == ((1.5,), (1.5,))

        _run(main())
        expected = run_oracle(graph, ticks, "isolate")
        assert _run(run_session(scheduler_factory("isolate"), graph, ticks)) == expected

    def test_isolate_async_failure_keeps_siblings(
        self, scheduler_factory: Callable[[str], Scheduler]
    ) -> None:
        g = GraphBuilder()
        s = g.source("s", 0.0)
        g.node("bad", AsyncFloatOp("raise_above", 1.0), s)
        g.node("slow_bad", _RaiseAfterYields(3, "slow"), s)
        g.node("ok", AsyncFloatOp("add", 1.0), s)
        g.node("after", FloatOp("sum"), "bad", "ok")
        graph = g.build()
        ticks = [{"s": 2.0}, {"s": 0.0}]
        outcomes = _run(run_session(scheduler_factory("isolate"), graph, ticks))
        assert outcomes == run_oracle(graph, ticks, "isolate")
        assert sorted(outcomes[1].failed) == ["after", "bad", "slow_bad"]
        assert outcomes[1].values["ok"] == canonical(3.0)
        assert sorted(outcomes[2].failed) == ["slow_bad"]

    # -- the node library's specialised calls ---------------------------------------------------
    @pytest.mark.parametrize("policy", ["fail_fast", "isolate"])
    def test_options_nodes_match_oracle(
        self, scheduler_factory: Callable[[str], Scheduler], policy: ErrorPolicy
    ) -> None:
        """The options workload's nodes take the functions' specialised calls
        (``node_call``); the oracle calls ``fn(*values, **params)``. Bit-identical values,
        on ticks that reach every path: floats, ints, numpy floats, the domain's edges."""
        import numpy as np

        from fluvius.graph.spec import spec_to_graph
        from fluvius.workloads import export_workload

        params = {"underlyings": "2", "expiries": "2", "strikes": "3"}
        graph = spec_to_graph(export_workload("options", params), origin="options")
        spot, years, rate = "U000/spot", "U000/years/0", "U001/rate"
        ticks: list[dict[str, Any]] = [
            {spot: graph.spec(spot).value * 1.01},  # type: ignore[union-attr]
            {spot: 250, "U001/strike/1": np.float64(210.5)},  # an int; a numpy float
            {years: 0.0, rate: -0.0},  # at expiry: the limits and NaNs
            {spot: math.nan, years: 0.25},
            {spot: -1.0, "U001/spot": math.inf},  # outside the domain
            {spot: 200.0, "U001/spot": 200.0, rate: 0.03},
        ]
        expected = run_oracle(graph, ticks, policy)
        actual = _run(run_session(scheduler_factory(policy), graph, ticks))
        for got, want in zip(actual, expected, strict=True):
            assert_same_values(got.values, want.values)
        assert actual == expected

    # -- stateful nodes ------------------------------------------------------------------------
    def test_stateful_sees_every_computation_once_in_order(
        self, scheduler_factory: Callable[[str], Scheduler]
    ) -> None:
        g = GraphBuilder()
        s = g.source("s", 1.0)
        g.node("all", History(), s)
        r = g.node("r", FloatOp("round"), s)
        g.node("after_cutoff", History(), r)
        ticks = [{"s": 1.0}, {"s": 1.01}, {"s": math.nan}, {"s": -0.0}, {"s": 2.0}]
        graph = g.build()
        report = run_graph(graph, ticks, scheduler_factory("fail_fast"))
        assert_same_values(
            {"all": report.values["all"]},
            {"all": ((1.0,), (1.0,), (1.01,), (math.nan,), (-0.0,), (2.0,))},
        )
        # r: 1.0, 1.0 (cut), 1.0 (cut), nan, -0.0, 2.0
        assert_same_values(
            {"after": report.values["after_cutoff"]},
            {"after": ((1.0,), (math.nan,), (-0.0,), (2.0,))},
        )

    def test_stateful_objects_are_per_run(
        self, scheduler_factory: Callable[[str], Scheduler]
    ) -> None:
        """Two runs of one graph do not share state; the user's object is left untouched."""
        g = GraphBuilder()
        counter = RunningCount()
        g.node("n", counter, g.source("s", 1.0))
        graph = g.build()
        first = run_graph(graph, [{"s": 2.0}], scheduler_factory("fail_fast"))
        second = run_graph(graph, [{"s": 2.0}], scheduler_factory("fail_fast"))
        assert first.values["n"] == second.values["n"] == 2.0
        assert counter.n == 0

    # -- errors --------------------------------------------------------------------------------
    @pytest.mark.parametrize("policy", ["fail_fast", "isolate"])
    @pytest.mark.parametrize("make_op", [FloatOp, AsyncFloatOp])
    def test_error_names_node_site_traceback_and_cause(
        self,
        scheduler_factory: Callable[[str], Scheduler],
        policy: ErrorPolicy,
        make_op: type[FloatOp],
    ) -> None:
        g = GraphBuilder()
        s = g.source("s", 0.0)
        g.node("ok", FloatOp("add"), s)
        g.node("risk/AAPL", make_op("raise_above", 1.0), s)
        graph = g.build()
        site = graph.spec("risk/AAPL").created_at

        async def main() -> NodeError:
            async with scheduler_factory(policy).session(graph) as run:
                await run.start()
                try:
                    result = await run.cycle({"s": 5.0})
                except NodeError as exc:
                    return exc
                (err,) = result.errors
                return err

        err = _run(main())
        assert err.key == "risk/AAPL"
        assert site, "the builder recorded no creation site"
        assert err.created_at == site, (site, err.created_at)
        assert (err.exc_type, err.exc_message) == ("ValueError", "input 5.0 is above the limit 1.0")
        assert "Traceback" in err.remote_traceback
        assert "_raise_above" in err.remote_traceback
        assert "ValueError: input 5.0 is above the limit 1.0" in err.remote_traceback
        assert f"node 'risk/AAPL' (created at {site}) raised ValueError" in str(err)
        if policy == "fail_fast" or err.__cause__ is not None:
            assert isinstance(err.__cause__, ValueError)
            assert str(err.__cause__) == "input 5.0 is above the limit 1.0"
        oracle = run_oracle(graph, [{"s": 5.0}], policy)[-1]
        assert _facts(err) in (oracle.raised, *oracle.errors)

    # -- sessions ------------------------------------------------------------------------------
    def test_fail_fast_run_refuses_further_cycles(
        self, scheduler_factory: Callable[[str], Scheduler]
    ) -> None:
        g = GraphBuilder()
        g.node("bad", FloatOp("raise_above", 1.0), g.source("s", 0.0))

        async def main() -> None:
            async with scheduler_factory("fail_fast").session(g.build()) as run:
                await run.start()
                with pytest.raises(NodeError, match="node 'bad'"):
                    await run.cycle({"s": 2.0})
                with pytest.raises(
                    FluviusError,
                    match=r"stopped when node 'bad' failed \(fail_fast policy\).*isolate",
                ):
                    await run.cycle({"s": 0.0})

        _run(main())

    def test_unknown_source_in_batch(self, scheduler_factory: Callable[[str], Scheduler]) -> None:
        g = GraphBuilder()
        g.node("n", FloatOp("add"), g.source("s", 0.0))

        async def main() -> None:
            async with scheduler_factory("fail_fast").session(g.build()) as run:
                await run.start()
                with pytest.raises(UnknownSourceError, match=r"'spot/MSFT'.*not in this graph"):
                    await run.cycle({"s": 1.0, "spot/MSFT": 1.0})
                with pytest.raises(UnknownSourceError, match=r"'n'.*a node, not a source"):
                    await run.cycle({"n": 1.0})
                assert run.values() == {"s": 0.0, "n": 0.0}  # nothing of either batch applied
                result = await run.cycle({"s": 2.0})
                assert (result.recomputed, run.values()) == (1, {"s": 2.0, "n": 2.0})

        _run(main())

    def test_session_life_cycle(self, scheduler_factory: Callable[[str], Scheduler]) -> None:
        g = GraphBuilder()
        g.node("n", FloatOp("add"), g.source("s", 0.0))

        async def main() -> None:
            session = scheduler_factory("fail_fast").session(g.build())
            async with session as run:
                with pytest.raises(FluviusError, match=r"call start\(\) before cycle\(\)"):
                    await run.cycle({"s": 1.0})
                await run.start()
                with pytest.raises(FluviusError, match="already started"):
                    await run.start()
            with pytest.raises(FluviusError, match="closed"):
                await session.cycle({"s": 1.0})

        _run(main())

    def test_run_graph_reports_like_the_oracle(
        self, scheduler_factory: Callable[[str], Scheduler]
    ) -> None:
        g = GraphBuilder()
        s = g.source("s", 1.0)
        t = g.source("t", 2.0)
        p = g.node("p", _pair, s, t)
        g.node("h", History(), p)
        graph = g.build()
        ticks = [{"s": 3.0}, {"t": 2.0}]
        report = run_graph(graph, ticks, scheduler_factory("isolate"))
        expected = run_oracle(graph, ticks, "isolate")
        assert report.startup.recomputed == expected[0].recomputed
        assert [c.recomputed for c in report.cycles] == [o.recomputed for o in expected[1:]]
        assert {k: canonical(v) for k, v in report.values.items()} == expected[-1].values
        assert report.stats["error_policy"] == "isolate"

    def test_keyword_inputs_match_the_oracle(
        self, scheduler_factory: Callable[[str], Scheduler]
    ) -> None:
        """Inputs by keyword (``inputs={...}``) reach plain, async and stateful nodes."""
        g = GraphBuilder()
        a, b, w = g.source("a", 1.0), g.source("b", 3.0), g.source("w", 0.25)
        g.node("mix", _weighted, a, inputs={"w": w, "b": b}, params={"bias": 0.5})
        g.node("amix", _async_weighted, inputs={"w": w, "a": a})
        g.node("seen", _KeywordHistory(), inputs={"w": w, "a": a})
        graph = g.build()
        ticks = [{"w": 0.5}, {"a": 2.0, "b": 4.0}, {"b": 5.0}]
        expected = run_oracle(graph, ticks, "fail_fast")
        actual = _run(run_session(scheduler_factory("fail_fast"), graph, ticks))
        assert actual == expected
        assert actual[-1].values["mix"] == canonical(2.0 * 0.5 + 5.0 * 0.5 + 0.5)
        assert actual[-1].values["seen"] == canonical(((1.0, 0.25), (1.0, 0.5), (2.0, 0.5)))
