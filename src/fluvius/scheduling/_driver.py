"""The one event-driven cycle driver: serial sessions and worker processes both run it.

A :class:`CycleDriver` steps a cycle (``fluvius.engine.cycle.CycleState``) through the
engine's transitions until nothing is ready, running or waiting:

1. apply what finished (``finish_node``; a failure goes through :meth:`CycleDriver.fail`);
2. run every ready node (``next_ready``) in rank order: a sync node inline, an async node
   as a task of the cycle's ``asyncio.TaskGroup`` (ready async nodes run concurrently and
   no task outlives its cycle);
3. ``flush()`` (a worker sends the settles of its exported nodes: one message per
   destination);
4. when nothing has finished meanwhile, await ``wait()``: the caller's way of hearing
   news. The serial scheduler's wait sleeps until a task finishes; a worker's also wakes
   for other workers' messages and applies them (``apply_settles``, :meth:`stop`).

Start-up begins the async nodes that read sources only before anything else
(:func:`begin_async`, then one turn of the event loop), and the driver adopts those tasks
when it reaches them: their awaits (a history query, a download) then overlap the sync
nodes computed meanwhile, instead of starting after all of them. In a worker the sync
loop of the local part runs first, for tens of milliseconds on a large share; serially,
every ready sync node runs before the loop first waits.

Policy and adapters come in as arguments, so the loop exists once. Fail-fast: the first
failure stops everything ranked above it (``stop_above``; running tasks above it are
cancelled) and calls ``on_stop(rank)`` (a worker tells the others); lower-ranked work
finishes, so the reported error is the lowest-ranked failure, as in the sync loop.
A cancelled node is not a failed node.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from fluvius.engine.cycle import (
    fail_node,
    finish_node,
    make_node_error,
    next_ready,
    stop_above,
)
from fluvius.scheduling._watch import watch_loop

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from fluvius.engine.cycle import CycleState
    from fluvius.engine.plan import Plan
    from fluvius.engine.state import ErrorPolicy, RunState

__all__ = ["Begun", "CycleDriver", "begin_async", "source_fed_async"]

Begun = dict[int, tuple["asyncio.Task[Any]", float]]
"""Async nodes begun ahead of the driver: rank -> (its task, when it began)."""


async def begin_async(plan: Plan, state: RunState, ranks: list[int]) -> Begun:
    """Begin the async nodes ``ranks`` now (every input of each must be a source, whose
    value is known at start-up), and let each run to its first await; the driver adopts
    the tasks (``CycleDriver(begun=...)``). Returns ``{}`` when there is none."""
    if not ranks:
        return {}
    begun: Begun = {}
    values, steps = state.values, plan.steps
    for r in ranks:
        step = steps[r]
        assert step is not None
        _, call, a, g = step
        args = (values[a],) if g is None else tuple(g(values))
        begun[r] = (asyncio.ensure_future(call(*args)), time.perf_counter())
    await asyncio.sleep(0)  # each runs to its first await (sends its query)
    return begun


def source_fed_async(plan: Plan, ranks: list[int]) -> list[int]:
    """The async nodes among ``ranks`` whose inputs are all sources (start-up begins them
    first, :func:`begin_async`)."""
    is_async, is_source, inputs = plan.is_async, plan.is_source, plan.inputs
    return [r for r in ranks if is_async[r] and all(is_source[j] for j in inputs[r])]


class CycleDriver:
    """Runs one cycle's event-driven part (see the module docstring).

    ``causes[r]`` keeps the original exception of each failed rank; ``spans``, when a
    list, receives ``("node", rank, index, t0, t1)`` per computation (tracing).
    """

    def __init__(
        self,
        plan: Plan,
        state: RunState,
        cs: CycleState,
        policy: ErrorPolicy,
        worker: str,
        *,
        startup: bool,
        wake: asyncio.Event | None = None,
        on_stop: Callable[[int], None] | None = None,
        spans: list[tuple[Any, ...]] | None = None,
        index: int = 0,
        begun: Begun | None = None,
    ) -> None:
        self.plan = plan
        self.state = state
        self.cs = cs
        self.policy = policy
        self.worker = worker
        self.startup = startup
        self.wake = wake if wake is not None else asyncio.Event()
        self.on_stop = on_stop
        self.spans = spans
        self.index = index
        self.causes: dict[int, BaseException] = {}
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.finished: deque[tuple[int, bool, Any]] = deque()
        self.begun: Begun = begun or {}

    # -- transitions with side effects ---------------------------------------------------------
    def fail(self, r: int, exc: BaseException) -> None:
        """Rank ``r`` raised ``exc``."""
        cs = self.cs
        self.causes[r] = exc
        first = cs.stop_above is None or r < cs.stop_above
        err = make_node_error(self.plan, r, exc, self.worker)
        fail_node(self.plan, self.state, cs, r, err, self.policy)
        if self.policy == "fail_fast" and first:
            self.stop(r)
            if self.on_stop is not None:
                self.on_stop(r)

    def stop(self, rank: int) -> None:
        """Fail-fast: a failure at ``rank``; cancel the running tasks above it."""
        for r in stop_above(self.cs, rank):
            task = self.tasks.pop(r, None)
            if task is not None:
                task.cancel()

    def cancel_all(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        self.tasks.clear()

    @property
    def idle(self) -> bool:
        """Nothing ready, running, waiting or finished-but-unapplied: the cycle is over."""
        cs = self.cs
        return not cs.ready and not cs.running and not cs.waiting and not self.finished

    # -- the loop ------------------------------------------------------------------------------
    async def run(
        self,
        wait: Callable[[], Awaitable[bool]],
        flush: Callable[[], None] | None = None,
    ) -> None:
        """Step the cycle until it is over. ``wait()`` returns False to abort the cycle
        (its running tasks are cancelled)."""
        plan, state, cs = self.plan, self.state, self.cs
        startup, spans, index = self.startup, self.spans, self.index
        finished, tasks, begun = self.finished, self.tasks, self.begun
        try:
            async with asyncio.TaskGroup() as tg:
                while True:
                    while finished:
                        r, ok, payload = finished.popleft()
                        if tasks.pop(r, None) is None:
                            continue  # cancelled under fail-fast after it had finished
                        if ok:
                            finish_node(plan, state, cs, r, payload, startup)
                        else:
                            self.fail(r, payload)
                    while (r := next_ready(plan, state, cs)) is not None:  # type: ignore[assignment]
                        step = plan.steps[r]
                        assert step is not None
                        _, call, a, g = step
                        values = state.values
                        if plan.is_async[r]:
                            early = begun.pop(r, None) if begun else None
                            if early is not None:  # begun at start-up: adopted
                                tasks[r] = tg.create_task(self._adopt(r, *early))
                                continue
                            # the coroutine is created inside its task, so a task cancelled
                            # before its first step leaves no coroutine un-awaited
                            args = (values[a],) if g is None else tuple(g(values))
                            tasks[r] = tg.create_task(self._run_async(r, call, args))
                            continue
                        t0 = time.perf_counter()
                        try:
                            out = call(values[a]) if g is None else call(*g(values))
                        except Exception as exc:
                            self.fail(r, exc)
                            continue
                        finally:
                            if spans is not None:
                                spans.append(("node", r, index, t0, time.perf_counter()))
                        finish_node(plan, state, cs, r, out, startup)
                    if flush is not None:
                        flush()
                    if self.idle:
                        break
                    if not finished and not await wait():
                        self.cancel_all()
                        break
        finally:
            self._drop_begun()

    def _drop_begun(self) -> None:
        """Tasks begun ahead that the cycle never reached (stopped, aborted): cancelled."""
        for task, _ in self.begun.values():
            if task.done():
                if not task.cancelled():
                    task.exception()  # retrieved: no "never retrieved" warning
            else:
                task.cancel()
        self.begun.clear()

    async def _adopt(self, r: int, task: asyncio.Task[Any], t0: float) -> None:
        """An async node begun ahead (:func:`begin_async`); as :meth:`_run_async`."""
        await self._await(r, lambda: task, t0)

    async def _run_async(self, r: int, call: Any, args: tuple[Any, ...]) -> None:
        """One async node; its outcome becomes data (never raises but cancellation)."""
        await self._await(r, lambda: call(*args), time.perf_counter())

    async def _await(self, r: int, pending: Callable[[], Awaitable[Any]], t0: float) -> None:
        try:
            value = await pending()
        except Exception as exc:
            self.finished.append((r, False, exc))
        else:
            self.finished.append((r, True, value))
        if self.spans is not None:
            self.spans.append(("node", r, self.index, t0, time.perf_counter()))
        self.wake.set()


watch_loop(CycleDriver.run)  # its `r` and `cs` say what runs (_watch.py)
