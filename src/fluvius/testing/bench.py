"""GraphBench: drive one session step by step from synchronous code (tests, notebooks).

>>> from fluvius.graph import GraphBuilder
>>> g = GraphBuilder()
>>> _ = g.node("double", lambda v: 2 * v, g.source("x", 1.0))
>>> with GraphBench(g.build()) as bench:
...     _ = bench.start()
...     bench.cycle({"x": 4.0}).recomputed, bench.value("double")
(1, 8.0)
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fluvius.scheduling.serial import SerialScheduler

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

    from fluvius.engine.state import CycleResult
    from fluvius.errors import NodeError
    from fluvius.graph.dag import Graph
    from fluvius.scheduling.base import ProgressCallback, Scheduler, Session

__all__ = ["GraphBench"]


class GraphBench:
    """One session of ``graph`` on ``scheduler`` (serial by default), on a private loop.

    Use it as a context manager: leaving it closes the session and the loop. It must not be
    used from inside a running event loop (use the session API there).
    """

    def __init__(self, graph: Graph, scheduler: Scheduler | None = None) -> None:
        self.graph = graph
        self.scheduler = scheduler if scheduler is not None else SerialScheduler()
        self._runner: asyncio.Runner | None = None
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        """The session (only inside the ``with`` block)."""
        if self._session is None:
            raise RuntimeError("use GraphBench as a context manager: `with GraphBench(g) as b:`")
        return self._session

    def __enter__(self) -> GraphBench:
        self._runner = asyncio.Runner()
        self._session = self.scheduler.session(self.graph)
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        runner, session = self._runner, self._session
        self._runner = self._session = None
        if runner is not None:
            try:
                if session is not None:
                    runner.run(session.aclose())
            finally:
                runner.close()

    def start(self, progress: ProgressCallback | None = None) -> CycleResult:
        """Full evaluation (cycle 0)."""
        return self._run_on_loop(self.session.start(progress))

    def cycle(self, batch: Mapping[str, Any]) -> CycleResult:
        """Apply one batch of source changes."""
        return self._run_on_loop(self.session.cycle(batch))

    def values(self) -> dict[str, Any]:
        """Key -> value of every source and every node that is not failed."""
        return self.session.values()

    def value(self, key: str) -> Any:
        """One value; raises the NodeError of a failed node."""
        return self.session.value(key)

    @property
    def failed(self) -> dict[str, NodeError]:
        """Key -> error of every failed node (isolate policy)."""
        return self.session.failed

    def _run_on_loop(self, coro: Any) -> CycleResult:
        assert self._runner is not None
        result: CycleResult = self._runner.run(coro)
        return result
