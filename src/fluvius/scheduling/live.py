"""Live mode: sources are async streams; cycles are formed by conflation.

Policy
------
Ticks from every stream go, in arrival order, into one pending queue. Whenever the session
is idle, the next cycle's batch is taken from the front of the queue by
:func:`take_batch`: ticks of a *conflating* source that arrived while the previous cycle
ran are merged (the latest value wins; the source still counts as changed once). A source
that is upstream of a node created with ``every_tick=True`` does not conflate: a second
tick of it ends the batch, so it gets a cycle of its own. Nothing is ever reordered: a batch
is always a prefix of the queue.

Events that accumulate are never conflated away: ticks of a trade source
(:func:`fluvius.feeds.adapter.accumulates`) carry tuples of trades, and merging two of them
concatenates the tuples (:func:`fluvius.feeds.adapter.merge_tick`), so the cycle sees every
trade since the previous one; a trade source set by the previous cycle and without trades
in this one is set to ``()`` (:func:`fluvius.feeds.adapter.clear_trades`).

Why per-source and not per-node: a node cannot see "all the ticks" of a source within one
cycle without changing what a cycle means for every other node. Splitting batches keeps
the graph semantics intact (one value per source per cycle) and gives a stateful node
exactly one ``update`` per tick, in order, at the price of more cycles while that source
is busy. The choice is made by the graph (``every_tick=True`` on the node that needs it)
and derived at build time (:attr:`fluvius.graph.SourceSpec.conflate`).

Streams are read by pump tasks owned by one TaskGroup: when the run ends or fails, they
are cancelled and awaited, never left behind.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from fluvius.engine.state import CycleResult
    from fluvius.scheduling.base import Session

__all__ = ["Inbox", "LiveReport", "run_live", "take_batch"]

T = TypeVar("T")

Tick = tuple[str, Any]


def take_batch(pending: deque[Tick], conflates: Callable[[str], bool]) -> dict[str, Any]:
    """Remove and return the next batch from the front of ``pending`` (see module doc).

    >>> q = deque([("a", 1), ("b", 1), ("a", 2), ("n", 1), ("n", 2), ("a", 3)])
    >>> take_batch(q, lambda k: k != "n"), take_batch(q, lambda k: k != "n")
    ({'a': 2, 'b': 1, 'n': 1}, {'n': 2, 'a': 3})
    >>> take_batch(deque([("trade/X", (1,)), ("trade/X", (2,))]), lambda k: True)
    {'trade/X': (1, 2)}
    """
    # imported here, not at the top: every worker process imports this package, and the
    # feed adapter (numpy, the compiled row readers) would double its import time
    from fluvius.feeds.adapter import merge_tick

    batch: dict[str, Any] = {}
    while pending:
        key, value = pending[0]
        if key in batch and not conflates(key):
            break
        pending.popleft()
        merge_tick(batch, key, value)
    return batch


class Inbox(Generic[T]):
    """Items of several async iterables in one deque, in arrival order, appended by pump
    tasks of the caller's TaskGroup; the cycle loop takes from :attr:`pending`.

    The loop calls :meth:`arrived` before each cycle: it lets the pumps deliver what has
    arrived, and when nothing is pending it waits for the next item, for the end of every
    stream (then it returns False: the run is over) or for :meth:`wake` (a stop request:
    the loop checks its own condition). :meth:`cancel` stops the pumps.
    """

    def __init__(self) -> None:
        self.pending: deque[T] = deque()
        self.received = 0
        self._open = 0
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def pump(
        self,
        tg: asyncio.TaskGroup,
        stream: AsyncIterable[Any],
        wrap: Callable[[Any], T] | None = None,
    ) -> None:
        """Read ``stream`` into :attr:`pending` (each item through ``wrap`` when given)."""
        self._open += 1
        self._tasks.append(tg.create_task(self._pump(stream, wrap)))

    async def _pump(self, stream: AsyncIterable[Any], wrap: Callable[[Any], T] | None) -> None:
        try:
            async for item in stream:
                self.pending.append(item if wrap is None else wrap(item))
                self.received += 1
                self._wake.set()
        finally:
            self._open -= 1
            self._wake.set()

    async def arrived(self) -> bool:
        """False once every stream has ended and nothing is pending (see the class doc)."""
        await asyncio.sleep(0)  # let the pumps deliver what has arrived
        if self.pending:
            return True
        if self._open == 0:
            return False
        self._wake.clear()
        await self._wake.wait()
        return True

    def wake(self) -> None:
        """Make a waiting :meth:`arrived` return (with nothing pending, perhaps)."""
        self._wake.set()

    def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()


def _keyed(key: str) -> Callable[[Any], Tick]:
    """The tick ``(key, value)`` of each value of source ``key``'s stream."""
    return lambda value: (key, value)


@dataclass(frozen=True, slots=True)
class LiveReport:
    """What a live run did: ticks received, cycles run, ticks merged by conflation."""

    ticks: int
    cycles: int
    conflated: int
    max_pending: int


async def run_live(
    session: Session,
    streams: Mapping[str, AsyncIterable[Any]] | AsyncIterable[Tick],
    *,
    on_cycle: Callable[[CycleResult, Mapping[str, Any]], None] | None = None,
    max_cycles: int | None = None,
) -> LiveReport:
    """Run cycles from live streams until they end (or ``max_cycles`` cycles ran).

    ``streams`` is either ``{source key: async iterable of values}`` or one async iterable
    of ``(source key, value)`` ticks (a feed handler). The session must have started.
    """
    from fluvius.feeds.adapter import clear_trades  # see take_batch

    inbox: Inbox[Tick] = Inbox()
    pending = inbox.pending
    cycles = conflated = max_pending = 0
    traded: set[str] = set()  # trade sources set by the previous cycle
    failure: BaseException | None = None  # raised after the pumps are gone, as itself
    async with asyncio.TaskGroup() as tg:
        if isinstance(streams, Mapping):
            for key, stream in streams.items():
                inbox.pump(tg, stream, _keyed(key))
        else:
            inbox.pump(tg, streams)
        try:
            while max_cycles is None or cycles < max_cycles:
                if not await inbox.arrived():
                    break
                if not pending:
                    continue
                max_pending = max(max_pending, len(pending))
                before = len(pending)
                batch = take_batch(pending, session.source_conflates)
                conflated += before - len(pending) - len(batch)
                traded = clear_trades(batch, traded)
                try:
                    result = await session.cycle(batch)
                except Exception as exc:
                    failure = exc  # not raised here: the TaskGroup would wrap it in a group
                    break
                cycles += 1
                if on_cycle is not None:
                    on_cycle(result, batch)
        finally:
            inbox.cancel()
    if failure is not None:
        raise failure
    return LiveReport(inbox.received, cycles, conflated, max_pending)
