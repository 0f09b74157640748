"""The oracle: the evaluation rules written as plainly as possible.

Every scheduler is tested against this evaluator. It keeps nodes in rank (topological)
order and, each cycle, walks *all* of them in one loop (beavers ``Dag.execute``): a node is
computed when one of its inputs changed in this cycle. It is O(graph) per cycle on purpose:
no cached descendant lists, no dirty flags, no concurrency: nothing clever to get wrong.

Async nodes are awaited one at a time on a private event loop, so the oracle must not be
called from inside a running event loop.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import TYPE_CHECKING, Any

from fluvius.engine.cycle import make_node_error, values_equal
from fluvius.engine.plan import Plan
from fluvius.engine.state import CycleResult, ErrorPolicy, check_policy
from fluvius.errors import NodeError, UnknownSourceError
from fluvius.graph.validate import did_you_mean

if TYPE_CHECKING:
    from collections.abc import Mapping

    from fluvius.graph.dag import Graph

__all__ = ["ReferenceEvaluator"]


class ReferenceEvaluator:
    """Evaluate a graph by the book.

    >>> from fluvius.graph import GraphBuilder
    >>> g = GraphBuilder()
    >>> x = g.source("x", 1.0)
    >>> y = g.node("y", lambda v: v * 2, x)
    >>> oracle = ReferenceEvaluator(g.build())
    >>> oracle.start().recomputed, oracle.values()["y"]
    (1, 2.0)
    >>> oracle.cycle({"x": 5.0}).recomputed, oracle.values()["y"]
    (1, 10.0)
    """

    worker = "oracle"

    def __init__(self, graph: Graph, policy: ErrorPolicy = "fail_fast") -> None:
        self.graph = graph
        self.policy = check_policy(policy)
        # only for its calls (stateful objects copied per run), each fn(*values, **params):
        # the schedulers take the functions' specialised calls, checked against these
        self._plan = Plan(graph, specialise=False)
        self._values: list[Any] = self._plan.initial_values()
        self._failed: dict[int, NodeError] = {}
        self._cycles = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> CycleResult:
        """Full evaluation: every node once."""
        return self._run(None)

    def cycle(self, batch: Mapping[str, Any]) -> CycleResult:
        """Apply one batch of source changes."""
        changed: set[int] = set()
        for key in batch:  # check every key before changing anything
            r = self.graph.index.get(key)
            if r is None or not self._plan.is_source[r]:
                hint = "" if r is not None else did_you_mean(key, self.graph.source_keys)
                raise UnknownSourceError(f"{key!r} is not a source of this graph{hint}")
            changed.add(r)
        for key, value in batch.items():
            self._values[self.graph.index[key]] = value
        self._cycles += 1
        return self._run(changed)

    def values(self) -> dict[str, Any]:
        """Key -> value of every source and every node that is not failed."""
        return {
            k: v
            for r, (k, v) in enumerate(zip(self.graph.keys, self._values, strict=True))
            if r not in self._failed
        }

    @property
    def failed(self) -> dict[str, NodeError]:
        """Key -> error of every node currently failed (isolate policy)."""
        return {self.graph.keys[r]: e for r, e in sorted(self._failed.items())}

    def close(self) -> None:
        """Close the private event loop, if async nodes made one."""
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    def _call(self, r: int) -> Any:
        step = self._plan.steps[r]
        assert step is not None
        args = [self._values[j] for j in self.graph.inputs[r]]
        result = step[1](*args)
        if inspect.iscoroutine(result):
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
            result = self._loop.run_until_complete(result)
        return result

    def _run(self, changed: set[int] | None) -> CycleResult:
        t0 = time.perf_counter()
        errors: list[NodeError] = []
        recomputed = 0
        for r, item_inputs in enumerate(self.graph.inputs):
            if self._plan.is_source[r]:
                continue
            if changed is not None and not any(j in changed for j in item_inputs):
                continue
            upstream = next((self._failed[j] for j in item_inputs if j in self._failed), None)
            if upstream is not None:
                self._failed[r] = upstream
                if changed is not None:
                    changed.add(r)
                continue
            recomputed += 1
            try:
                new = self._call(r)
            except Exception as exc:
                err = make_node_error(self._plan, r, exc, self.worker)
                if self.policy == "fail_fast":
                    raise err from exc
                self._failed[r] = err
                errors.append(err)
                if changed is not None:
                    changed.add(r)
                continue
            recovering = self._failed.pop(r, None) is not None
            if (
                changed is not None
                and self._plan.cutoff[r]
                and not recovering
                and values_equal(new, self._values[r])
            ):
                continue
            self._values[r] = new
            if changed is not None:
                changed.add(r)
        index = 0 if changed is None else self._cycles
        return CycleResult(index, recomputed, time.perf_counter() - t0, tuple(errors))
