"""What every scheduler offers: the Scheduler protocol and the Session base class.

A scheduler makes sessions; a session is one run of one graph::

    async with SerialScheduler().session(graph) as run:
        await run.start()                      # full evaluation (cycle 0)
        result = await run.cycle({"spot/AAPL": 101.0})
        run.values()["mid/AAPL"]

The base class owns what does not depend on *where* nodes run: the compiled plan, the run
state, turning a batch of source changes into ranks, value access, and the rule that a
run which failed under fail-fast (or timed out) is over (every later call says why).

Hung nodes: ``watchdog_s`` logs the running nodes of a cycle (key, where created) once
it has run that long, and again every ``watchdog_s``; ``cycle_timeout_s`` stops a cycle
(not start-up) that runs longer, with :class:`CycleTimeoutError` naming them; Ctrl-C
(KeyboardInterrupt, or the cancellation ``asyncio.run`` makes of it) in a cycle logs what
was running. In-process sessions watch with a thread (``_watch.Watchdog``); the process
scheduler watches from the parent's own waits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from fluvius.engine.plan import Plan
from fluvius.engine.state import CycleResult, ErrorPolicy, RunState, check_policy
from fluvius.errors import CycleTimeoutError, FluviusError, NodeError, UnknownSourceError
from fluvius.graph.validate import did_you_mean
from fluvius.scheduling._gc import freeze_after_startup, release_freeze
from fluvius.scheduling._watch import (
    Watchdog,
    describe_running,
    running_ranks,
    traceback_frames,
)

if TYPE_CHECKING:
    from types import TracebackType

    from fluvius.graph.dag import Graph

__all__ = ["ProgressCallback", "Scheduler", "Session"]

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` during start-up."""

log = logging.getLogger("fluvius.scheduling")


def check_seconds(name: str, value: float | None) -> float | None:
    """None, or a number of seconds > 0 (``name`` is used in the error)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a number of seconds > 0 or None, got {value!r}")
    return float(value)


class Scheduler(Protocol):
    """Makes sessions that run graphs."""

    name: str

    def session(self, graph: Graph) -> Session:
        """A new (not yet started) run of ``graph``."""
        ...


class Session:
    """One run of one graph; subclasses implement :meth:`_start` and :meth:`_cycle`."""

    worker_name = "main"
    computes_here = True
    """False when nodes run elsewhere: the session's plan then holds the structure only."""

    def __init__(
        self,
        graph: Graph,
        policy: ErrorPolicy = "fail_fast",
        *,
        freeze_gc: bool = True,
        watchdog_s: float | None = None,
        cycle_timeout_s: float | None = None,
    ) -> None:
        self.graph = graph
        self.watchdog_s = check_seconds("watchdog_s", watchdog_s)
        self.cycle_timeout_s = check_seconds("cycle_timeout_s", cycle_timeout_s)
        self.freeze_gc = freeze_gc
        self.gc_freeze_seconds = 0.0
        self._froze = False
        self.policy = check_policy(policy)
        self.plan = Plan(graph, calls=self.computes_here)
        self.state = RunState(self.plan.initial_values())
        self.started = False
        self.busy_seconds = 0.0
        self.startup_seconds = 0.0
        """Wall time of :meth:`start`: shipping and loading the graph where workers are
        used, computing every node, freezing the heap; what the user waits for. Creating
        workers is not in it (``spawn_seconds``)."""
        self.spawn_seconds = 0.0
        """Wall time of creating worker processes or a cluster for this session (0 when
        it runs on existing ones, or in this process)."""
        self.spawn_wait_seconds = 0.0  # the part of start() spent waiting for new workers
        self._source_rank = {key: self.graph.index[key] for key in graph.source_keys}
        self._broken: FluviusError | None = None
        self._closed = False
        self._watch = self._make_watch()

    # -- the run ----------------------------------------------------------------------------
    async def start(self, progress: ProgressCallback | None = None) -> CycleResult:
        """Full evaluation: compute every node once."""
        self._check_usable()
        if self.started:
            raise FluviusError("this session has already started")
        self.started = True
        t0 = time.perf_counter()
        result = await self._guard(self._start(progress), 0, timed=False)
        self.busy_seconds += result.seconds
        if self.freeze_gc:
            self.gc_freeze_seconds = freeze_after_startup()
            self._froze = True
        self.startup_seconds = time.perf_counter() - t0 - self.spawn_wait_seconds
        return result

    async def cycle(self, batch: Mapping[str, Any]) -> CycleResult:
        """Apply one batch of source changes (``{source key: new value}``)."""
        self._check_usable()
        if not self.started:
            raise FluviusError("call start() before cycle(): the graph has not been evaluated")
        changed = self._apply_batch(batch)
        self.state.cycles += 1
        result = await self._guard(self._cycle(changed), self.state.cycles, timed=True)
        self.busy_seconds += result.seconds
        return result

    @property
    def runs_inline(self) -> bool:
        """True when every cycle completes without awaiting (nodes computed in this thread,
        no async node): :meth:`cycle_now` may then be called from plain callbacks."""
        return False

    def cycle_now(self, batch: Mapping[str, Any]) -> CycleResult:
        """:meth:`cycle` run to its end at once, without an event-loop step, for a session
        that :attr:`runs_inline` (the live runner calls it from the socket callback)."""
        if not self.runs_inline:
            raise FluviusError(
                f"a {self.worker_name} session cannot run a cycle without awaiting; "
                "use 'await session.cycle(batch)'"
            )
        work = self.cycle(batch)
        try:
            work.send(None)
        except StopIteration as done:
            result: CycleResult = done.value
            return result
        work.close()  # unreachable while runs_inline holds: nothing in a cycle awaits
        raise FluviusError("a cycle of a session that runs inline awaited something")

    async def aclose(self) -> None:
        """Release what the session holds (processes, loops, the frozen heap). Idempotent."""
        self._closed = True
        if self._watch is not None:
            self._watch.close()
        if self._froze:
            self._froze = False
            release_freeze()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- reading values ---------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """Key -> value of every source and every node that is not failed."""
        failed = self.state.failed
        return {
            k: v
            for r, (k, v) in enumerate(zip(self.graph.keys, self.state.values, strict=True))
            if r not in failed
        }

    def value(self, key: str) -> Any:
        """The value of one node or source; raises the NodeError of a failed node."""
        r = self.graph.index.get(key)
        if r is None:
            raise KeyError(f"no node or source {key!r} in this graph")
        err = self.state.failed.get(r)
        if err is not None:
            raise err
        return self.state.values[r]

    @property
    def failed(self) -> dict[str, NodeError]:
        """Key -> error of every node currently failed (isolate policy)."""
        return {self.graph.keys[r]: e for r, e in sorted(self.state.failed.items())}

    def refresh(self) -> None:
        """Bring ``state.values`` and ``state.failed`` up to date in this process.

        A no-op where nodes run in this process; sessions whose nodes run elsewhere fetch the
        values that changed since the last call (the live runner reads ``state`` after each
        cycle, without building the :meth:`values` dict of every node).
        """

    def worker_stats(self) -> list[dict[str, Any]]:
        """Per-worker figures for run reports (one entry: this process)."""
        return [
            {
                "worker": self.worker_name,
                "nodes": len(self.graph),
                "busy_seconds": self.busy_seconds,
            }
        ]

    def run_stats(self) -> dict[str, Any]:
        """Scheduler-specific figures added to run reports (none here)."""
        return {}

    def source_conflates(self, key: str) -> bool:
        """False when live mode must give every tick of this source its own cycle."""
        return bool(getattr(self.graph.spec(key), "conflate", True))

    # -- for subclasses -----------------------------------------------------------------------
    async def _start(self, progress: ProgressCallback | None) -> CycleResult:
        raise NotImplementedError

    async def _cycle(self, changed: frozenset[int]) -> CycleResult:
        raise NotImplementedError

    def _apply_batch(self, batch: Mapping[str, Any]) -> frozenset[int]:
        """Store the batch's source values (all keys checked first); their ranks."""
        rank_of = self._source_rank
        try:
            ranks = list(map(rank_of.__getitem__, batch))
        except (KeyError, TypeError):
            raise self._not_a_source(batch) from None
        values = self.state.values
        for r, value in zip(ranks, batch.values(), strict=True):
            values[r] = value
        return frozenset(ranks)

    def _not_a_source(self, batch: Mapping[str, Any]) -> UnknownSourceError:
        """The error of the first key of ``batch`` that is not a source of this graph."""
        index = self.graph.index
        for key in batch:
            r = index.get(key)
            if r is None or not self.plan.is_source[r]:
                what = (
                    "a node, not a source"
                    if r is not None
                    else f"not in this graph{did_you_mean(key, self.graph.source_keys)}"
                )
                return UnknownSourceError(f"cannot set {key!r}: it is {what}")
        raise AssertionError("every key of the batch is a source")  # pragma: no cover

    def _make_watch(self) -> Watchdog | None:
        """The watchdog thread of an in-process session (None when nothing is watched)."""
        if self.watchdog_s is None and self.cycle_timeout_s is None:
            return None
        return Watchdog(self._describe, self.watchdog_s, self.cycle_timeout_s, log)

    async def _guard(self, work: Any, index: int, *, timed: bool) -> CycleResult:
        """Run one cycle's ``work``: watched, failures recorded, interruptions reported."""
        watch = self._watch
        try:
            if watch is None:
                result: CycleResult = await work
            else:
                watch.begin(index, timed)
                try:
                    result = await work
                finally:
                    watch.end()
        except BaseException as exc:
            stopped = watch is not None and watch.fired is not None  # at its timeout
            if stopped and not isinstance(exc, KeyboardInterrupt | SystemExit):
                assert watch is not None
                raise self._timed_out(watch, exc) from None
            self._note_failure(exc, index)
            raise
        return result

    def _note_failure(self, exc: BaseException, index: int) -> None:
        """A cycle raised ``exc``: a node's failure (fail-fast) ends the run; an
        interruption logs what was running."""
        if isinstance(exc, NodeError | CycleTimeoutError):
            self._broken = exc
        elif isinstance(exc, KeyboardInterrupt | asyncio.CancelledError):
            log.warning("cycle %d interrupted; running: %s", index, self._running_at(exc))

    def _timed_out(self, watch: Watchdog, exc: BaseException) -> CycleTimeoutError:
        if isinstance(exc, asyncio.CancelledError | BaseExceptionGroup):
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                task.uncancel()  # the watchdog's cancellation, consumed here
        ranks = watch.fired or []
        err = CycleTimeoutError(
            f"cycle {watch.index} did not finish within its timeout of {watch.timeout_s:g} s; "
            f"it was stopped while running {self._describe(ranks)}; the run cannot go on "
            "(its state is half-updated): start a new session",
            index=watch.index,
            timeout_s=watch.timeout_s or 0.0,
            running=tuple(self.plan.keys[r] for r in ranks),
        )
        self._broken = err
        return err

    def _running_at(self, exc: BaseException) -> str:
        """What was running when ``exc`` (Ctrl-C) interrupted the cycle."""
        return self._describe(running_ranks(traceback_frames(exc.__traceback__)))

    def _describe(self, ranks: list[int]) -> str:
        return describe_running(self.plan.keys, self.plan.created_at, ranks)

    def _check_usable(self) -> None:
        if self._closed:
            raise FluviusError("this session is closed")
        if isinstance(self._broken, NodeError):
            raise FluviusError(
                f"this run stopped when node {self._broken.key!r} failed (fail_fast policy); "
                "start a new session, or use error_policy='isolate' to keep runs alive"
            )
        if self._broken is not None:
            raise FluviusError(f"this run stopped: {self._broken}")
