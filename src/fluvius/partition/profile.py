"""Measure each node's compute time: the costs of a profiling run.

:func:`profile_graph` runs the start-up (every node once, in rank order) serially in this
process, timing each node's call alone with :func:`time.perf_counter`, and repeats the
whole start-up ``repeats`` times on fresh state (a fresh :class:`~fluvius.engine.Plan`,
so stateful nodes start over). A node's cost is the median of its times, which discards
the odd preemption or collection; the median of several short timings is stable where
one timing of a microsecond-scale node is mostly noise. The engine's own per-node
overhead is *not* in the figure (it is ``Calibration.node_s``, which the profile adds so
profiled and estimated costs mean the same thing).

A node is timed with :func:`time.perf_counter` (a wall clock: ~0.1 µs a call, right for
microsecond nodes, which a preemption rarely hits and the median then drops). A node that
took more than :data:`HEAVY_S` (0.2 ms) in the first start-up is timed in the later ones
(and only those count) as its wall time *less the time the thread waited on the run queue*
meanwhile (Linux: ``/proc/thread-self/schedstat``; elsewhere the wall time): on a shared
machine a millisecond node is often preempted, and its wall time would then hold other
processes' work, which the simulator accounts for apart (``cores=``). Time a synchronous
node spends blocked (on a socket, in ``time.sleep``) still counts: its worker is held.

An ``async`` node is timed twice: its wall time and the CPU time of this thread while it
ran (:func:`time.thread_time`). Its cost is the CPU part; the rest is its *wait*
(``Profile.waits``: a database round trip, a sleep), time in which a worker's thread is free
to compute other nodes, which the simulator models as such. A synchronous node's wait is 0.

The last repeat's values also give the byte size of each value a worker would send
(``len(pickle.dumps(value, 5))``; values that do not pickle count :data:`FLOAT_BYTES`),
which the partition report uses for cross-partition bytes.

With the last start-up's plan and values still alive, the profile times a full garbage
collection (``Profile.collect_s``, the median of :data:`COLLECTIONS`): the serial
scheduler's start-up ends with one (``scheduling/_gc.py``), and its cost is the whole
heap's, not the graph's alone. On the ``options`` workload's light preset it was as long
as computing the 28,903 nodes (70-90 ms each), and it grows with whatever else the
process holds (more graphs, more imported modules), which no per-item calibration of a
test graph can know. The simulator charges it to a serial start-up instead of
``Calibration.gc_item_s`` per item.

With the last start-up's values, it also times ticks of the sizes a verdict predicts
(:func:`~fluvius.partition._ticks.tick_sources`: the most-reaching source alone, every
source named like it at once, and 2, 4, 8 ... of them, the sizes a worker's share of a
tick takes) through the engine's cycle loop, :data:`TICK_REPEATS` each (the fastest: the
least disturbed on a shared machine, as the node costs' medians of short timings are;
float sources move by a part in a thousand, so the cutoff lets the change through as a
real tick does). ``Profile.ticks`` keeps, per tick, the nodes it recomputed
and its seconds *per node beyond their profiled costs*: what a cycle costs a node more
than its call and the start-up's ``node_s``. It is the cycle loop's own work (marks, the
cutoff's comparison, ``Calibration.tick_node_s``) and, on a cycle too large for the CPU
caches, the nodes' objects coming from memory again, which the profile's per-call timings
do not see: on the ``overhead`` workload (trivial nodes) a one-source tick of 1,102 nodes
cost 0.01-0.09 µs per node more than its profile, the 20 sources' tick of 22,021 nodes
0.29-0.5 µs more (measured 2026-12-08 01:17-01:19). The simulator charges a cycle of ``n``
nodes :meth:`Profile.tick_extra_s` per node, interpolated between the measured ticks; a
cycle that reaches an async node is not timed (the serial scheduler runs those on the
event-driven transitions, ``Calibration.driver_node_s``).

Then, with the plan and values dropped, it times the same collections again: what the
process holds besides the started graph (imported modules, other graphs, the graph's own
definition). The started graph's share (``Profile.graph_collect_s``) is the difference of
the fastest collection of each set (the least disturbed: medians of a few collections
on a shared machine differ by more than a small graph's share), and
``Profile.collect_base_s`` is ``collect_s`` less that share. In a fresh process with
fluvius imported the base is a few milliseconds to tens of milliseconds: on a small graph
it outweighs the graph's work, and a verdict that counted it would send microsecond
nodes to workers only because the serial scheduler's start-up collects the whole heap
(:func:`~fluvius.partition.report.partition_report` keeps the base out of its
recommendation, not out of the serial start-up it predicts).
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import os
import pickle
import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fluvius.engine.cycle import compute_cycle, make_node_error
from fluvius.engine.plan import Plan
from fluvius.engine.state import RunState
from fluvius.partition._ticks import tick_sources
from fluvius.partition.calibrate import Calibration, default_calibration
from fluvius.partition.simulate import FLOAT_BYTES

if TYPE_CHECKING:
    from collections.abc import Callable

    from fluvius.graph.dag import Graph

__all__ = ["Profile", "profile_graph", "value_sizes"]


@dataclass(frozen=True, slots=True)
class Profile:
    """What a profiling run measured.

    Attributes
    ----------
    costs
        Per rank, the median compute seconds plus the engine's per-node overhead (sources 0).
    sizes
        Per rank, the pickled size in bytes of the item's start-up value.
    repeats
        How many start-ups were timed.
    seconds
        Wall time of the profiling run.
    waits
        Per rank, the median seconds an async node waited without computing (wall time
        minus CPU time; 0 for every other item).
    collect_s
        Seconds of a full garbage collection in this process with a started copy of the
        graph alive (module docstring); None when not measured.
    collect_base_s
        Seconds of the same collection once the started copy is dropped: the heap the
        process held besides the started graph (module docstring); None when not measured.
    """

    costs: tuple[float, ...]
    sizes: tuple[int, ...]
    repeats: int
    seconds: float
    waits: tuple[float, ...] = ()
    collect_s: float | None = None
    collect_base_s: float | None = None
    ticks: tuple[tuple[int, float], ...] = ()

    def tick_extra_s(self, nodes: int) -> float | None:
        """Seconds per node that a cycle of ``nodes`` nodes costs beyond their ``costs``
        (module docstring), from the measured ``ticks`` made non-decreasing in the cycle's
        size (a bigger cycle costs a node no less: neighbours out of order, a disturbed
        timing on a shared machine, are pooled), linear between them, the nearest one's
        figure outside them; None when no tick was measured.

        >>> p = Profile((), (), 1, 0.0, ticks=((1_000, 1e-8), (21_000, 3.1e-7)))
        >>> round(p.tick_extra_s(11_000) * 1e9, 6), round(p.tick_extra_s(50) * 1e9, 6)
        (160.0, 10.0)
        >>> q = Profile((), (), 1, 0.0, ticks=((1_000, 1e-8), (2_000, 5e-7), (4_000, 1e-7)))
        >>> [round(q.tick_extra_s(n) * 1e9, 6) for n in (1_000, 2_000, 4_000)]
        [10.0, 300.0, 300.0]
        """
        points = _monotone(sorted(self.ticks))
        if not points:
            return None
        if nodes <= points[0][0]:
            return points[0][1]
        for (n0, e0), (n1, e1) in itertools.pairwise(points):
            if nodes <= n1:
                return e0 + (e1 - e0) * (nodes - n0) / (n1 - n0)
        return points[-1][1]

    @property
    def graph_collect_s(self) -> float | None:
        """The started graph's share of ``collect_s`` (less ``collect_base_s``, at least 0);
        None when not measured."""
        if self.collect_s is None:
            return None
        return max(0.0, self.collect_s - (self.collect_base_s or 0.0))


def _monotone(points: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """``(x, y)`` points sorted by x, their y made non-decreasing by pooling adjacent
    violators (each pool takes the mean of its points' y)."""
    pools: list[tuple[list[int], float]] = []  # (xs, mean y)
    for x, y in points:
        xs, mean = [x], y
        while pools and pools[-1][1] > mean:
            before, prev = pools.pop()
            mean = (prev * len(before) + mean * len(xs)) / (len(before) + len(xs))
            xs = before + xs
        pools.append((xs, mean))
    return [(x, mean) for xs, mean in pools for x in xs]


# protocol, frame header and stop opcode of a stand-alone pickle: not paid per value in a batch
_FRAMING = len(pickle.dumps(1.0, protocol=5)) - FLOAT_BYTES


def value_sizes(values: list[Any]) -> tuple[int, ...]:
    """Pickled byte size of each value, framing left out (:data:`FLOAT_BYTES` when it does
    not pickle)."""
    sizes = []
    for v in values:
        try:
            sizes.append(max(1, len(pickle.dumps(v, protocol=5)) - _FRAMING))
        except Exception:
            sizes.append(FLOAT_BYTES)
    return tuple(sizes)


def _timer_overhead(samples: int = 2001) -> float:
    """Median seconds that an empty ``t0 = clock(); clock() - t0`` measures."""
    clock = time.perf_counter
    times = []
    for _ in range(samples):
        t0 = clock()
        times.append(clock() - t0)
    return statistics.median(times)


_PROGRESS_EVERY = 1000  # nodes between two progress calls


def _one_startup(
    plan: Plan,
    loop: asyncio.AbstractEventLoop,
    times: list[list[float]],
    waits: list[list[float]],
    tick: Callable[[int], None] | None,
    heavy: frozenset[int] = frozenset(),
    queued: Callable[[], float] | None = None,
) -> list[Any]:
    """One timed start-up; ``heavy`` ranks less the time queued (module docstring)."""
    values = plan.initial_values()
    clock = time.perf_counter
    cpu_clock = time.thread_time
    for done, (r, call, a, g) in enumerate(plan.node_steps, 1):
        if tick is not None and done % _PROGRESS_EVERY == 0:
            tick(_PROGRESS_EVERY)
        args = (values[a],) if g is None else g(values)
        try:
            if plan.is_async[r]:
                c0, t0 = cpu_clock(), clock()
                value = loop.run_until_complete(call(*args))
                dt, cpu = clock() - t0, cpu_clock() - c0
                cpu = min(cpu, dt)
                times[r].append(cpu)
                waits[r].append(dt - cpu)
            elif r in heavy and queued is not None:
                q0, t0 = queued(), clock()
                value = call(*args)
                dt = clock() - t0
                times[r].append(max(0.0, dt - (queued() - q0)))
            else:
                t0 = clock()
                value = call(*args)
                times[r].append(clock() - t0)
        except Exception as exc:
            raise make_node_error(plan, r, exc, "profile") from exc
        values[r] = value
    return values


COLLECTIONS = 3
"""Full collections timed after the last start-up (``Profile.collect_s`` is their median)."""


def _collections() -> list[float]:
    """Seconds of each of :data:`COLLECTIONS` full collections of this process's heap."""
    times = []
    for _ in range(COLLECTIONS):
        t0 = time.perf_counter()
        gc.collect()
        times.append(time.perf_counter() - t0)
    return times


HEAVY_S = 2e-4
"""A node slower than this in the first start-up is timed less its run-queue delay."""


class _RunQueue:
    """Seconds this thread has waited on a run queue (Linux ``/proc/thread-self/schedstat``,
    second field): time it was ready to run while other processes held the cores."""

    def __init__(self) -> None:
        self.fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)

    def __call__(self) -> float:
        return int(os.pread(self.fd, 64, 0).split()[1]) * 1e-9

    def close(self) -> None:
        os.close(self.fd)


def profile_graph(
    graph: Graph,
    *,
    repeats: int = 5,
    calibration: Calibration | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Profile:
    """Time every node of ``graph`` (see the module docstring).

    Parameters
    ----------
    graph
        The graph.
    repeats
        Start-ups to time; each node's cost is the median over them.
    calibration
        Gives the per-node engine overhead added to every node; default
        :func:`default_calibration`.
    progress
        Called with ``(node computations done, repeats x nodes)`` every 1,000 nodes and
        after each start-up.

    Raises
    ------
    NodeError
        A node raised (the profile needs every node to compute).

    Examples
    --------
    >>> from fluvius import GraphBuilder
    >>> b = GraphBuilder()
    >>> x = b.source("x", 1.0)
    >>> _ = b.node("y", lambda v: v * 2, x)
    >>> p = profile_graph(b.build(), repeats=3)
    >>> p.costs[0], p.costs[1] > 0, p.sizes
    (0.0, True, (9, 9))
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be an int >= 1, got {repeats!r}")
    cal = calibration or default_calibration()
    t0 = time.perf_counter()
    times: list[list[float]] = [[] for _ in graph.items]
    waits: list[list[float]] = [[] for _ in graph.items]
    values: list[Any] = []
    loop = asyncio.new_event_loop()
    try:
        queued: _RunQueue | None = _RunQueue()
    except OSError:  # not Linux: heavy nodes keep their wall time
        queued = None
    try:
        total = repeats * len(graph)
        counted = 0

        def tick(n: int) -> None:
            nonlocal counted
            counted += n
            if progress is not None:
                progress(counted, total)

        heavy: frozenset[int] = frozenset()
        plan = Plan(graph)
        for done in range(repeats):
            if done:
                plan = Plan(graph)
            values = _one_startup(
                plan, loop, times, waits, tick if progress else None, heavy, queued
            )
            if done == 0 and repeats > 1:  # from now on, slow nodes in CPU time (docstring)
                heavy = frozenset(r for r, t in enumerate(times) if t and t[0] > HEAVY_S)
                for r in heavy:
                    times[r].clear()
            counted = (done + 1) * len(graph)
            if progress is not None:
                progress(counted, total)
        # the per-node timings are two lists a node (80,000 containers on a 40,000-node
        # graph) that the collector would scan too: neither the graph's nor the process's
        # once profiled, they added 16-19 ms to each timed collection (80,000 small lists,
        # 2026-12-08 01:45), which start() does not pay. Reduced to tuples first.
        sources = frozenset(graph.sources)
        timer = _timer_overhead()
        costs = tuple(
            0.0 if r in sources else max(0.0, statistics.median(t) - timer) + cal.node_s
            for r, t in enumerate(times)
        )
        waited = tuple(statistics.median(w) if w else 0.0 for w in waits)
        times.clear()
        waits.clear()
        timed = _time_ticks(graph, plan, values)  # before the collections: they are timed
        ticks = tuple(
            sorted(
                (len(ranks), (seconds - sum(costs[r] for r in ranks)) / len(ranks))
                for ranks, seconds in timed
            )
        )
        del timed
        alive = _collections()  # the last start-up's plan and values alive (docstring)
        sizes = value_sizes(values)
        del plan, values
        gc.collect()  # the dropped start-up's cycles, if any, go now: not in the base
        without = _collections()  # what the process holds besides them
        collect_s = statistics.median(alive)
        # the graph's share from the least disturbed of each (a difference of two noisy
        # medians can be as large as the share on a small graph)
        share = max(0.0, min(alive) - min(without))
        collect_base_s = max(0.0, collect_s - share)
    finally:
        loop.close()
        if queued is not None:
            queued.close()
    return Profile(
        costs, sizes, repeats, time.perf_counter() - t0, waited, collect_s, collect_base_s,
        ticks,
    )  # fmt: skip


TICK_REPEATS = 5
"""Cycles timed per tick of the profile (``Profile.ticks`` keeps the fastest)."""


def _time_ticks(graph: Graph, plan: Plan, values: list[Any]) -> list[tuple[list[int], float]]:
    """(the nodes recomputed, fastest seconds) of each tick a verdict predicts (module
    docstring), through the engine's cycle loop on the started ``values`` (modified)."""
    if not graph.sources:
        return []
    one, market = tick_sources(graph)
    sources = frozenset(graph.sources)
    state = RunState(values)
    out = []
    ordered = [one, *(s for s in market if s != one)]
    sizes = [k for k in (2**i for i in range(len(ordered).bit_length())) if k < len(ordered)]
    for batch in dict.fromkeys(frozenset(ordered[:k]) for k in (*sizes, len(ordered))):
        if plan.reaches_async(batch):
            continue
        base = {s: values[s] for s in batch}
        ranks = [r for r in plan.affected(batch) if r not in sources]
        if not ranks:
            continue
        times = []
        for i in range(TICK_REPEATS + 1):  # the first walks the batch: not counted
            for s, v in base.items():
                if v.__class__ is float:
                    values[s] = v * (1.0 + (i % 5 + 1) / 997)
            state.cycles += 1
            t0 = time.perf_counter()
            compute_cycle(plan, state, batch, "isolate", "profile")  # a tick's errors: its own
            times.append(time.perf_counter() - t0)
        out.append((ranks, min(times[1:])))
    return out
