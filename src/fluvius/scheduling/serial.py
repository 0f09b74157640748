"""The serial scheduler: one asyncio thread.

Policy
------
* A cycle that affects no async node runs the engine's sync loop
  (:func:`fluvius.engine.cycle.compute_cycle`): no tasks, no awaits, cost proportional to
  the affected nodes. Start-up runs the same loop in chunks of ``chunk`` nodes, reporting
  progress and yielding to the event loop between chunks so that live streams are read
  while a large graph starts.
* A cycle that affects an async node runs the event-driven transitions
  (:class:`fluvius.engine.cycle.CycleState`). Sync nodes compute inline as soon as they are
  ready, in rank order; async nodes become tasks of one ``asyncio.TaskGroup`` per cycle, so
  async nodes that are ready together run concurrently and no task outlives its cycle.
  Start-up begins the async nodes that read sources only before any sync node, so that
  their awaits overlap the sync nodes' computing.
* Fail-fast with async nodes: the first failure cancels the running siblings ranked after
  it and nothing ranked after it starts; siblings ranked before it may finish, so that the
  error raised is the lowest-ranked failure, exactly the error the sync loop and the oracle
  report (determinism beats a few milliseconds of early exit). A cancelled node is not a
  failed node: it is simply not part of the (aborted) cycle.
* Isolate: nothing is cancelled; a failure marks the node and the dependents it reaches.
* Hung nodes (``watchdog_s``, ``cycle_timeout_s``; ``base.py``): a watchdog thread reads
  the running node off this thread's stack. At the timeout a sync node is interrupted
  between two bytecodes (a node stuck inside one C call is stopped only when it returns:
  see ``_watch.py``), a cycle waiting for async nodes is cancelled.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from fluvius.engine.cycle import compute_cycle, compute_startup, first_error, start_cycle
from fluvius.engine.state import CycleResult, ErrorPolicy, check_policy
from fluvius.scheduling._driver import CycleDriver, begin_async, source_fed_async
from fluvius.scheduling.base import ProgressCallback, Session, check_seconds

if TYPE_CHECKING:
    from collections.abc import Mapping

    from fluvius.graph.dag import Graph

__all__ = ["SerialScheduler", "SerialSession"]


class SerialScheduler:
    """Runs graphs on the current thread's event loop.

    Parameters
    ----------
    error_policy
        ``"fail_fast"`` (default) or ``"isolate"``.
    chunk
        Nodes computed between two progress reports (and event-loop yields) at start-up.
    freeze_gc
        After start-up, collect once and freeze the heap (:func:`gc.freeze`) so that no
        garbage-collection pause proportional to the graph lands on a live cycle
        (``fluvius.scheduling._gc``). The heap is unfrozen when the session closes.
    watchdog_s
        Log the nodes running (key, where created) when a cycle has run this long, and
        again every ``watchdog_s`` (logger ``fluvius.scheduling``, level WARNING).
    cycle_timeout_s
        Stop a cycle (not start-up) that runs longer with ``CycleTimeoutError`` naming the
        running nodes; the run is over. Code in Python is stopped at once; a node blocked
        inside one C call (``time.sleep``, a lock, I/O, one long numpy operation) only
        when that call returns.
    """

    name = "serial"

    def __init__(
        self,
        error_policy: ErrorPolicy = "fail_fast",
        chunk: int = 4096,
        *,
        freeze_gc: bool = True,
        watchdog_s: float | None = None,
        cycle_timeout_s: float | None = None,
    ) -> None:
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk=}")
        self.error_policy = check_policy(error_policy)
        self.chunk = chunk
        self.freeze_gc = freeze_gc
        self.watchdog_s = check_seconds("watchdog_s", watchdog_s)
        self.cycle_timeout_s = check_seconds("cycle_timeout_s", cycle_timeout_s)

    def session(self, graph: Graph) -> SerialSession:
        """A new run of ``graph``."""
        return SerialSession(
            graph,
            self.error_policy,
            self.chunk,
            freeze_gc=self.freeze_gc,
            watchdog_s=self.watchdog_s,
            cycle_timeout_s=self.cycle_timeout_s,
        )

    def __repr__(self) -> str:
        return f"SerialScheduler(error_policy={self.error_policy!r})"


class SerialSession(Session):
    """One run on the serial scheduler."""

    worker_name = "serial"

    def __init__(
        self,
        graph: Graph,
        policy: ErrorPolicy,
        chunk: int,
        *,
        freeze_gc: bool = True,
        watchdog_s: float | None = None,
        cycle_timeout_s: float | None = None,
    ) -> None:
        super().__init__(
            graph,
            policy,
            freeze_gc=freeze_gc,
            watchdog_s=watchdog_s,
            cycle_timeout_s=cycle_timeout_s,
        )
        self.chunk = chunk

    @property
    def runs_inline(self) -> bool:
        return not self.plan.has_async

    def cycle_now(self, batch: Mapping[str, Any]) -> CycleResult:
        """:meth:`cycle` run at once (no async node), as a plain call: no coroutine, and the
        per-cycle checks reduced to one test, on the live UDP path (receive -> cycle end).
        A watched session (``watchdog_s``, ``cycle_timeout_s``) or one that cannot run
        takes the general path, which says why."""
        if self._watch is not None or self._broken is not None or self._closed:
            return super().cycle_now(batch)
        if not self.started or self.plan.has_async:
            return super().cycle_now(batch)  # raises: not started, or it would await
        changed = self._apply_batch(batch)
        state = self.state
        state.cycles += 1
        t0 = time.perf_counter()
        try:
            n, errors = compute_cycle(self.plan, state, changed, self.policy, self.worker_name)
        except BaseException as exc:
            self._note_failure(exc, state.cycles)
            raise
        seconds = time.perf_counter() - t0
        self.busy_seconds += seconds
        return CycleResult(state.cycles, n, seconds, tuple(errors) if errors else ())

    async def _start(self, progress: ProgressCallback | None) -> CycleResult:
        plan = self.plan
        if plan.has_async:
            return await self._concurrent(None, progress)
        t0 = time.perf_counter()
        steps = plan.node_steps
        total = len(steps)
        recomputed = 0
        errors = []
        for lo in range(0, total, self.chunk):
            n, errs = compute_startup(
                plan, self.state, steps[lo : lo + self.chunk], self.policy, self.worker_name
            )
            recomputed += n
            errors += errs
            if progress is not None:
                progress(min(lo + self.chunk, total), total)
            if lo + self.chunk < total:
                await asyncio.sleep(0)
        if progress is not None and total == 0:
            progress(0, 0)
        return CycleResult(0, recomputed, time.perf_counter() - t0, tuple(errors))

    async def _cycle(self, changed: frozenset[int]) -> CycleResult:
        if self.plan.reaches_async(changed):
            return await self._concurrent(changed, None)
        t0 = time.perf_counter()
        n, errors = compute_cycle(self.plan, self.state, changed, self.policy, self.worker_name)
        return CycleResult(self.state.cycles, n, time.perf_counter() - t0, tuple(errors))

    async def _concurrent(
        self, changed: frozenset[int] | None, progress: ProgressCallback | None
    ) -> CycleResult:
        t0 = time.perf_counter()
        plan, state = self.plan, self.state
        cs = start_cycle(plan, changed)
        total = len(cs.waiting) + len(cs.ready)
        begun = None  # start-up: async nodes fed by sources begin first (_driver.py)
        if changed is None:
            begun = await begin_async(plan, state, source_fed_async(plan, list(cs.ready)))
        driver = CycleDriver(
            plan, state, cs, self.policy, self.worker_name, startup=changed is None, begun=begun
        )

        async def wait() -> bool:  # only tasks can bring news here
            driver.wake.clear()
            await driver.wake.wait()
            return True

        def report() -> None:
            if progress is not None:
                progress(cs.recomputed, total)

        await driver.run(wait, report)
        err = first_error(plan, cs)
        if progress is not None and err is None:
            progress(total, total)  # every node settled: computed, or marked failed (isolate)
        if err is not None:
            assert cs.stop_above is not None
            raise err from driver.causes[cs.stop_above]
        index = 0 if changed is None else state.cycles
        return CycleResult(index, cs.recomputed, time.perf_counter() - t0, tuple(cs.errors))
