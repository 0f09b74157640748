"""Run a graph over a list of tick batches and collect what the CLI reports."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fluvius.scheduling.serial import SerialScheduler

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from fluvius.engine.state import CycleResult
    from fluvius.errors import NodeError
    from fluvius.graph.dag import Graph
    from fluvius.scheduling.base import ProgressCallback, Scheduler

__all__ = ["RunReport", "run_graph"]


@dataclass(frozen=True, slots=True)
class RunReport:
    """Values after the last cycle, the start-up and per-cycle results, and run figures."""

    values: dict[str, Any]
    failed: dict[str, NodeError]
    startup: CycleResult
    cycles: list[CycleResult]
    stats: dict[str, Any] = field(default_factory=dict)


async def run_graph_async(
    graph: Graph,
    ticks: Iterable[Mapping[str, Any]] = (),
    scheduler: Scheduler | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> RunReport:
    """Start ``graph`` on ``scheduler`` (serial by default), apply each batch of ``ticks``."""
    scheduler = scheduler if scheduler is not None else SerialScheduler()
    wall0 = time.perf_counter()
    async with scheduler.session(graph) as session:
        startup = await session.start(progress)
        cycles = [await session.cycle(batch) for batch in ticks]
        stats = {
            "scheduler": scheduler.name,
            "error_policy": session.policy,
            "nodes": len(graph),
            "sources": len(graph.sources),
            "startup_seconds": session.startup_seconds,
            "spawn_seconds": session.spawn_seconds,
            "startup_recomputed": startup.recomputed,
            "gc_freeze_seconds": session.gc_freeze_seconds,
            "cycles": len(cycles),
            "wall_seconds": time.perf_counter() - wall0,
            "workers": session.worker_stats(),
            **session.run_stats(),
        }
        return RunReport(session.values(), session.failed, startup, cycles, stats)


def run_graph(
    graph: Graph,
    ticks: Iterable[Mapping[str, Any]] = (),
    scheduler: Scheduler | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> RunReport:
    """Synchronous :func:`run_graph_async` (runs its own event loop).

    >>> from fluvius.graph import GraphBuilder
    >>> g = GraphBuilder()
    >>> x = g.source("x", 1.0)
    >>> _ = g.node("double", lambda v: 2 * v, x)
    >>> report = run_graph(g.build(), [{"x": 2.0}, {"x": 2.0}])
    >>> report.values["double"], [c.recomputed for c in report.cycles]
    (4.0, [1, 1])
    """
    with _ctrl_c_raises():
        return asyncio.run(run_graph_async(graph, ticks, scheduler, progress=progress))


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextmanager
def _ctrl_c_raises() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt where the program is, as in plain Python.

    ``asyncio.run`` would instead cancel its task, which a sync node that never returns
    never sees: the first Ctrl-C would do nothing. Raised inside the node, it stops it and
    the session logs what was running (``base.py``); the sessions close on the way out.
    """
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    signal.signal(signal.SIGINT, _raise_interrupt)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGINT) is _raise_interrupt:
            signal.signal(signal.SIGINT, signal.default_int_handler)
