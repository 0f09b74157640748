"""The process scheduler: one graph on N persistent worker processes of one machine.

Design note
-----------
Roles. The parent (this module) partitions the graph, ships each worker its share once,
starts cycles and gathers their results. It computes only the cheap totals that gather
values of several workers (``partition/_placement.py``: a portfolio sum over every underlying),
once every worker of the cycle has replied, so that a tick of one underlying is one round
trip to its owner; its plan holds the structure and those nodes' steps only
(``Plan(graph, calls=False)``, then ``Plan.add_steps``). Each worker (``_worker.py``)
owns a partition of the nodes and their state for the whole session and runs its share
of every cycle with the engine's own transitions (``engine/cycle.py``) and the one
event-driven driver (``_driver.py``), so the semantics (cutoff, glitch freedom, error
policies) are the serial scheduler's. Transport (``_wire.py``: framing, pipes, shared
memory, behind the ``Transport`` protocol) and processes (``_pool.py``) are kept apart
from this protocol: the Dask scheduler (``dask.py``) is this session on a
``_dask_pool.DaskPool`` (partition hosts on Dask workers, ``_comm.CommLink``
transports), through :meth:`ProcessSession._open_pool` and the ``_pool.Pool`` protocol.

Distribution (what a session costs before its first value)
    1. The structure (``engine.plan.GraphTables``: keys, input and reader ranks, source
       values; tuples of ints and strings) is pickled once, and the same bytes go to every
       worker. On an idle running pool they go out at once and the workers unpickle them
       while the parent partitions; a session that spawns its own workers starts them
       first, with the modules of the graph's callables to import (``preload``), so that
       interpreter start-up and imports overlap partitioning and pickling.
    2. Each worker gets the owner table and the rows of its *own* nodes only
       (``NodeRow``: callable, params, kind, cutoff, where created; a callable shared by
       many nodes is pickled once per worker, by reference when it can be), and compiles
       just those (``Plan.from_tables``). The garbage collector is paused from the load to
       the end of start-up (nothing there makes reference cycles); each worker freezes its
       heap after its start-up reply, which ``start()`` does not wait for.

Messages: the NamedTuples of ``_messages.py`` (LoadGraph, LoadShare, RunCycle, Sync,
Unload, Exit; Hello, Loaded, LoadFailed, Done, Frozen, Values, Unloaded; Settle and Stop
between workers). A tick sends RunCycle only to the workers owning an affected node, each
with the new values of the changed sources it reads: a source is replicated to every
worker that reads it, its value sent once per cycle per such worker, never per edge.

State (:class:`ProcessSession`): ``partition``; ``owner`` (the partition's owner table,
``PARENT`` for the parent's own nodes, ``parent_ranks``); ``frames`` (the structure, then
one load payload per worker, made and checked in the constructor); ``reads()[w]`` (source ranks
worker w reads); ``involved`` (per set of changed sources, the workers owning an affected
node: only they take part in a cycle); ``unsynced`` (workers holding values the parent has
not fetched: values cross to the parent only when asked for, through ``values()``).

Figures: ``startup_seconds`` is the wall time of ``start()`` (shipping, loading,
computing), ``spawn_seconds`` the workers' creation (spawn to the last hello; 0 on a
pool given by the caller); ``partition_seconds``, ``pickle_seconds`` and ``load_seconds``
(from sending the shares to the last worker's Loaded) break the first two down.

Why it cannot deadlock
----------------------
1. No blocking I/O: every send is queued and written when the pipe takes it, and every
   process keeps reading while its writes are pending (``_wire.Channel``).
2. Workers are event-driven: a worker runs everything that is ready, flushes, then waits
   for *any* message, never for one particular value.
3. Progress: in every unfinished cycle, the lowest-ranked unsettled affected node has all
   its inputs settled (they have lower ranks), so its owner can run it; and every settle
   is sent to every worker owning a reader (the destinations are static), so a waiting
   node always hears about each input. By induction on rank, every affected node settles.
   Under fail-fast a ``stop`` removes only nodes ranked above the failure, whose readers
   are removed too, so the argument holds for what is left.
4. Every wait has a failure path: the parent's waits watch the worker process sentinels
   (a dead worker is seen at once) and wake every ``WAIT_S``; workers wake every second
   to check their parent, exit when its socket closes, and (Linux) are killed by the
   kernel when it dies.

Hung nodes
----------
The parent's waits for ``done`` wake at least every ``WAIT_S`` and at the watchdog's and
the timeout's deadlines. The running nodes come from the pool's status array, where each
worker's status thread publishes what it computes (``_worker.py``), so they are named even
while a worker is stuck inside a node. At ``cycle_timeout_s`` the workers still in the
cycle are killed (a node cannot be interrupted safely from outside) and the cycle raises
CycleTimeoutError; the run is over, the other workers stop when the session closes.

Determinism: values are computed by the same code on the same inputs; fail-fast reports
the lowest-ranked failure (every node below it still runs, so it is found whatever the
timing); errors of a cycle are listed in rank order.
"""

from __future__ import annotations

import logging
import math
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, overload

from fluvius.engine.cycle import compute_cycle, compute_startup
from fluvius.engine.plan import graph_tables, node_row
from fluvius.engine.state import CycleResult, ErrorPolicy, check_policy
from fluvius.errors import (
    CycleTimeoutError,
    FluviusError,
    NodeError,
    UnpicklableNodeError,
    WorkerDiedError,
)
from fluvius.graph._gc import gc_paused
from fluvius.graph.node import NodeSpec
from fluvius.observe.trace import write_chrome_trace
from fluvius.partition._placement import parent_nodes
from fluvius.partition.base import Partition, Partitioner
from fluvius.partition.registry import partition_graph
from fluvius.scheduling._messages import (
    CHANGED,
    FIGURES,
    PARENT,
    UNCHANGED,
    Done,
    Frozen,
    Loaded,
    LoadFailed,
    LoadGraph,
    LoadShare,
    RunCycle,
    Sync,
    Unload,
    Unloaded,
    Values,
)
from fluvius.scheduling._pickling import check_item
from fluvius.scheduling._pool import WAIT_S, Pool, WorkerPool, _WorkerDied
from fluvius.scheduling._wire import dumps
from fluvius.scheduling.base import ProgressCallback, Session, check_seconds

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence
    from types import TracebackType

    from fluvius.graph.dag import Graph

__all__ = ["ProcessScheduler", "ProcessSession", "WorkerPool"]

_sessions = 0
log = logging.getLogger("fluvius.process")
_SPIN_SHARE = 0.25
"""A one-worker cycle's spin (``spin_s``) starts this share of its expected wait (the last
wait of a cycle of the same sources), plus :data:`_SPIN_MARGIN_S`, before the reply is due;
the parent sleeps until then."""
_SPIN_MARGIN_S = 100e-6
_NONE: frozenset[int] = frozenset()


class ProcessScheduler:
    """Runs graphs on ``workers`` persistent worker processes (spawned).

    Parameters
    ----------
    workers
        Number of worker processes.
    partitioner
        ``"auto"``, a partitioner name (``fluvius.partition.partitioner_names()``) or a
        function ``(graph, workers, costs) -> Partition``.
    costs
        Seconds per item by rank (``fluvius.partition.load_costs``); default: estimates.
    error_policy
        ``"fail_fast"`` (default) or ``"isolate"``.
    trace
        True to record a span per node computation; a path to also write a Chrome/Perfetto
        trace there when the session closes (``session.trace`` holds the events).
    pool
        A :class:`WorkerPool` to run on (kept open after the session); default: each
        session spawns its own workers and stops them when it closes.
    freeze_gc
        After start-up, each worker collects once and freezes its heap
        (``fluvius.scheduling._gc``), keeping collection pauses off live ticks.
    watchdog_s
        Log the nodes running (key, where created, worker) when a cycle has run this
        long, and again every ``watchdog_s`` (logger ``fluvius.process``, WARNING).
    cycle_timeout_s
        Stop a cycle (not start-up) that runs longer: the workers still in it are killed
        and the cycle raises ``CycleTimeoutError`` naming the running nodes; the run is
        over.
    parent_nodes
        Let the parent compute the cheap aggregates that gather values of several workers
        (portfolio totals; ``partition/_placement.py``), so that a tick of one underlying costs one
        round trip to its owner and wakes no other worker. Off when tracing.
    block_s
        How long the parent waits for a live cycle's replies without returning to the
        event loop (one ``select`` call over every worker's pipe and process sentinel: no
        coroutine step, no loop round; a dead worker is still seen at once). A cycle that
        takes longer goes on waiting on the event loop, so other tasks of the program are
        held up at most this long (a serial session holds them for the whole cycle).
        0: always wait on the event loop.
    spin_s
        While a live cycle involves exactly one worker (a tick of one underlying), the
        parent polls for its reply without sleeping for up to this long, then sleeps: the
        reply is read the moment it is written, with no wake-up of a sleeping parent (on
        this project's 2-vCPU VM that is ~40 µs of every round trip). It spends the time
        of one core, the one the other workers, idle in such a cycle, do not use. Cycles
        of several workers never spin. 0: never spin.

    Examples
    --------
    >>> from fluvius import GraphBuilder, run_graph
    >>> g = GraphBuilder()
    >>> x = g.source("x", 1.0)
    >>> _ = g.node("double", lambda v: 2 * v, x)
    >>> run_graph(g.build(), [{"x": 4.0}], ProcessScheduler(workers=2)).values["double"]
    8.0
    """

    name = "process"

    def __init__(
        self,
        workers: int = 2,
        partitioner: str | Partitioner = "auto",
        costs: Sequence[float] | None = None,
        error_policy: ErrorPolicy = "fail_fast",
        trace: bool | str | os.PathLike[str] = False,
        *,
        pool: WorkerPool | None = None,
        freeze_gc: bool = True,
        watchdog_s: float | None = None,
        cycle_timeout_s: float | None = None,
        parent_nodes: bool = True,
        block_s: float = 0.005,
        spin_s: float = 0.002,
    ) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an int >= 1, got {workers=}")
        if pool is not None and pool.workers != workers:
            raise ValueError(f"the pool has {pool.workers} workers, not {workers=}")
        self.workers = workers
        self.partitioner = partitioner
        self.costs = costs
        self.error_policy = check_policy(error_policy)
        self.trace = trace
        self.pool = pool
        self.freeze_gc = freeze_gc
        self.watchdog_s = check_seconds("watchdog_s", watchdog_s)
        self.cycle_timeout_s = check_seconds("cycle_timeout_s", cycle_timeout_s)
        self.parent_nodes = parent_nodes
        for name, seconds in (("block_s", block_s), ("spin_s", spin_s)):
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                raise ValueError(f"{name} must be a number of seconds >= 0, got {seconds!r}")
        self.block_s = float(block_s)
        self.spin_s = float(spin_s)

    def session(self, graph: Graph) -> ProcessSession:
        """A new run of ``graph``; raises UnpicklableNodeError before any process starts."""
        return ProcessSession(graph, self)

    def __repr__(self) -> str:
        return (
            f"ProcessScheduler(workers={self.workers}, partitioner={self.partitioner!r}, "
            f"error_policy={self.error_policy!r})"
        )


class PoolScheduler(Protocol):
    """What a :class:`ProcessSession` reads of its scheduler (process or Dask)."""

    @property
    def workers(self) -> int | None: ...
    @property
    def partitioner(self) -> str | Partitioner: ...
    @property
    def costs(self) -> Sequence[float] | None: ...
    @property
    def error_policy(self) -> ErrorPolicy: ...
    @property
    def trace(self) -> bool | str | os.PathLike[str]: ...
    @property
    def pool(self) -> Pool | None: ...
    @property
    def freeze_gc(self) -> bool: ...
    @property
    def watchdog_s(self) -> float | None: ...
    @property
    def cycle_timeout_s(self) -> float | None: ...
    @property
    def parent_nodes(self) -> bool: ...
    @property
    def block_s(self) -> float: ...
    @property
    def spin_s(self) -> float: ...


def _modules(graph: Graph) -> tuple[str, ...]:
    """The importable modules of the graph's callables (what workers preload)."""
    fns: dict[int, Any] = {}
    for item in graph.items:
        if isinstance(item, NodeSpec):
            fns.setdefault(id(item.fn), item.fn)
    names = {getattr(fn, "__module__", None) for fn in fns.values()}
    return tuple(sorted(n for n in names if isinstance(n, str) and n not in _NOT_PRELOADED))


_NOT_PRELOADED = frozenset({"__main__", "builtins", "__mp_main__"})


class ProcessSession(Session):
    """One run on the process scheduler (see the module docstring)."""

    worker_name = "process"
    computes_here = False  # the parent's plan needs the structure only

    def __init__(self, graph: Graph, scheduler: PoolScheduler) -> None:
        super().__init__(
            graph,
            scheduler.error_policy,
            freeze_gc=False,
            watchdog_s=scheduler.watchdog_s,
            cycle_timeout_s=scheduler.cycle_timeout_s,
        )
        global _sessions
        _sessions += 1
        self.sid = _sessions
        self.scheduler = scheduler
        self.tracing = bool(scheduler.trace)
        self._own_pool = scheduler.pool is None
        self.pool: Pool | None = None
        self._sent_structure = False
        self._reads: list[set[int]] | None = None
        t0 = time.perf_counter()
        with gc_paused():
            structure = dumps(LoadGraph(self.sid, graph_tables(graph)), memo=False)
        self.pickle_seconds = time.perf_counter() - t0
        if self._own_pool:  # the workers start (and import) while the parent partitions
            self.pool = self._open_pool()
            weakref.finalize(self, self.pool.close)  # a session never closed: no orphan
        self.n: int = (self.pool or scheduler.pool).workers  # type: ignore[union-attr]
        if not self._own_pool:
            self._send_structure_early(scheduler.pool, structure)
        try:
            t0 = time.perf_counter()
            if self.n == 1:
                self.partition = Partition(1, (0,) * len(graph.items), "single")
            else:
                self.partition = partition_graph(
                    graph, self.n, scheduler.partitioner, scheduler.costs
                )
            self._place_parent_nodes(graph, scheduler)
            self.partition_seconds = time.perf_counter() - t0
            t0 = time.perf_counter()
            with gc_paused():
                self.frames = [structure, *self._share_frames()]
            self.pickle_seconds += time.perf_counter() - t0
        except BaseException:
            if self._own_pool and self.pool is not None:
                self.pool.close()
            raise
        self._involved: dict[frozenset[int], list[int]] = {}
        # one-worker cycles: how long the last one of each set of changed sources waited
        # for its reply (the spin starts shortly before it is due again: _gather_now)
        self._took: dict[frozenset[int], float] = {}
        self._expect_s = 0.0
        self._sent_at = 0.0
        self.unsynced: set[int] = set()
        self.figures: dict[int, tuple[Any, ...]] = {}  # per worker: Done.figures
        self.spans: dict[int, list[tuple[Any, ...]]] = {w: [] for w in range(self.n)}
        self.trace: dict[str, Any] | None = None
        self.load_seconds = 0.0
        self._failed_by: dict[int, dict[int, NodeError]] = {}
        self._in_flight = False
        self._died: WorkerDiedError | None = None  # once a worker died, every read says so
        self._cycle_in_flight: tuple[int, set[int]] | None = None  # (index, workers in it)

    def _place_parent_nodes(self, graph: Graph, scheduler: PoolScheduler) -> None:
        """The owner table the workers get: the partition's, with ``PARENT`` for the nodes
        the parent computes (``partition/_placement.py``), whose steps go into the parent's plan."""
        self.owner = list(self.partition.owner)
        ranks: list[int] = []
        if scheduler.parent_nodes and not self.tracing and self.n > 1:
            ranks = parent_nodes(graph, self.owner, scheduler.costs)
        for r in ranks:
            self.owner[r] = PARENT
        items = graph.items
        self.plan.add_steps(node_row(r, items[r]) for r in ranks)  # type: ignore[arg-type]
        self.parent_ranks = ranks
        self._failed_here: dict[int, NodeError] = {}  # failures of the parent's own nodes
        self._readers_here: dict[frozenset[int], list[int]] = {}

    def _open_pool(self) -> Pool:
        """The workers of a session that has no pool given (they start while the parent
        partitions)."""
        return WorkerPool(self.scheduler.workers or 1, preload=_modules(self.graph), wait=False)

    def _send_structure_early(self, pool: Pool | None, structure: bytes) -> None:
        """On an idle pool, the structure goes out now: workers unpickle it while the
        parent partitions (it is the same for every partition)."""
        if pool is None or pool.closed or pool.broken or pool.busy or not pool.started:
            return
        try:
            for w in range(self.n):
                pool.send_frame(w, structure)
            pool.drain(WAIT_S * 20)
        except (_WorkerDied, OSError):
            return  # start() finds the pool broken and says so
        self._sent_structure = True

    # -- load payloads ----------------------------------------------------------------------
    def reads(self) -> list[set[int]]:
        """Per worker, the ranks of the sources its nodes read (made at the first tick:
        start-up sends no source value)."""
        if self._reads is None:
            owner = self.owner
            self._reads = [set() for _ in range(self.n)]
            for s in self.graph.sources:
                for c in self.graph.children[s]:
                    if owner[c] != PARENT:
                        self._reads[owner[c]].add(s)
        return self._reads

    def owned_keys(self, w: int) -> list[str]:
        """Keys of the nodes worker ``w`` owns."""
        owner, items = self.owner, self.graph.items
        return [it.key for r, it in enumerate(items) if owner[r] == w and isinstance(it, NodeSpec)]

    def _share_frames(self) -> list[bytes]:
        """One LoadShare frame per worker: the owner table and its own nodes' rows only.
        Also fills ``counts[w]`` (nodes per worker)."""
        graph, owner = self.graph, self.owner
        rows: list[list[Any]] = [[] for _ in range(self.n)]
        for r, item in enumerate(graph.items):
            if isinstance(item, NodeSpec) and owner[r] != PARENT:
                rows[owner[r]].append(node_row(r, item))
        self.counts = [len(rw) for rw in rows]
        ticks = [s / 4 for s in (self.watchdog_s, self.cycle_timeout_s) if s is not None]
        status_tick_s = max(0.01, min([0.25, *ticks]))
        frames = []
        table = tuple(owner)
        for w in range(self.n):
            load = LoadShare(
                self.sid,
                w,
                table,
                rows[w],
                self.policy,
                self.tracing,
                self.scheduler.freeze_gc,
                status_tick_s,
            )
            try:
                frames.append(dumps(load))
            except Exception:
                for r, *_ in rows[w]:
                    item = graph.items[r]
                    assert isinstance(item, NodeSpec)
                    check_item(item.key, "callable", item.fn)
                    check_item(item.key, "params", dict(item.params))
                raise UnpicklableNodeError(
                    f"the graph cannot be sent to worker {w}; no single node was found at fault"
                ) from None
        return frames

    # -- the run ----------------------------------------------------------------------------
    async def _start(self, progress: ProgressCallback | None) -> CycleResult:
        if progress is not None:
            progress(0, len(self.graph))
        pool = self.pool if self._own_pool else self.scheduler.pool
        assert pool is not None
        if self._own_pool:
            t0 = time.perf_counter()
            pool.wait_started()
            self.spawn_wait_seconds = time.perf_counter() - t0
            self.spawn_seconds = pool.spawn_seconds
        elif pool.closed or pool.broken or pool.busy:
            raise FluviusError(f"the worker pool cannot run this session: {pool!r}")
        self.pool = pool
        pool.busy = True
        t0 = time.perf_counter()
        structure, *shares = self.frames
        for w in range(self.n):  # each worker loads its share and starts computing at once
            if not self._sent_structure:  # the same bytes for every worker
                pool.send_frame(w, structure)
            pool.send_frame(w, shares[w])
            pool.send(w, RunCycle(self.sid, 0, None, {}))
        self.frames = []
        self._in_flight = True  # until every worker is done: closing now must stop them
        await self._gather(Loaded, range(self.n), None)
        self.load_seconds = time.perf_counter() - t0
        # each worker freezes its heap after its reply (Frozen comes later, read by _poll):
        # its next command waits for that, the values of start-up do not
        result = await self._finish(None, list(range(self.n)), t0)
        if progress is not None:
            progress(len(self.graph), len(self.graph))
        return result

    async def _cycle(self, changed: frozenset[int]) -> CycleResult:
        involved = self._involved.get(changed)
        if involved is None:
            owner = self.owner
            involved = sorted({owner[r] for r in self.plan.affected(changed)} - {PARENT})
            if len(self._involved) < 1024:
                self._involved[changed] = involved
        if not involved and not self.plan.affected_steps(changed):
            return CycleResult(self.state.cycles, 0, 0.0)
        return await self._run(changed, involved)

    async def _run(self, changed: frozenset[int], involved: list[int]) -> CycleResult:
        t0 = time.perf_counter()
        pool = self.pool
        assert pool is not None
        index = self.state.cycles
        values, reads = self.state.values, self.reads()
        for w in involved:
            mine = reads[w]
            sources = {s: values[s] for s in changed if s in mine}
            pool.send(w, RunCycle(self.sid, index, changed, sources))
        self._in_flight = True  # until every worker is done: closing now must stop them
        self._sent_at = time.perf_counter()
        self._expect_s = self._took.get(changed, 0.0) if len(involved) == 1 else 0.0
        result = await self._finish(changed, involved, t0)
        if len(involved) == 1 and (changed in self._took or len(self._took) < 1024):
            self._took[changed] = time.perf_counter() - self._sent_at
        return result

    async def _finish(
        self, changed: frozenset[int] | None, involved: list[int], t0: float
    ) -> CycleResult:
        """Gather the Done replies of a cycle sent to ``involved`` (start-up when
        ``changed`` is None), then compute the parent's own nodes."""
        pool = self.pool
        assert pool is not None
        index = 0 if changed is None else self.state.cycles
        done = await self._gather(Done, involved, index)
        self._in_flight = False
        if pool.arena is not None:
            pool.arena.release()
        self.unsynced.update(involved)
        recomputed = 0
        errors: list[tuple[int, NodeError]] = []
        stop: tuple[int, NodeError, BaseException | None] | None = None
        for w, msg in done.items():
            recomputed += msg.computed
            self.figures[w] = msg.figures
            self.spans[w] += msg.spans
            for err, cause in msg.errors:
                err.__cause__ = cause
                errors.append((self.graph.index[err.key], err))
            w_stop = msg.stop
            if w_stop is not None and (stop is None or w_stop[0] < stop[0]):
                stop = w_stop
        if self.parent_ranks:
            recomputed += self._compute_here(changed, done, stop, errors)
        if stop is not None:
            _, err, cause = stop
            raise err from cause
        errors.sort(key=lambda e: e[0])
        return CycleResult(index, recomputed, time.perf_counter() - t0, tuple(e for _, e in errors))

    def _compute_here(
        self,
        changed: frozenset[int] | None,
        done: dict[int, Done],
        stop: tuple[int, NodeError, BaseException | None] | None,
        errors: list[tuple[int, NodeError]],
    ) -> int:
        """The parent's own nodes (``partition/_placement.py``), once every worker of the cycle is
        done: apply how their inputs settled (``Done.parent_settles``), then the engine's
        sync loop over them. Under fail-fast only those ranked below a worker's failure
        run (as in the serial loop, which stops there); one of them failing lower wins,
        raised here. Returns the number of computations."""
        plan, state = self.plan, self.state
        values, failed, marks = state.values, state.failed, state.marks
        if len(marks) != plan.size:
            marks[:] = [-1] * plan.size
        stamp = state.cycles
        children = plan.children
        if changed is not None:  # the changed sources' readers that are computed here
            for c in self._source_readers_here(changed):
                marks[c] = stamp
        for w in sorted(done):
            for r, kind, payload in done[w].parent_settles:
                if kind == UNCHANGED:
                    continue
                if kind == CHANGED:
                    failed.pop(r, None)
                    values[r] = payload
                else:
                    failed[r] = payload
                for c in children[r]:
                    marks[c] = stamp
        steps: list[Any] = plan.node_steps if changed is None else plan.affected_steps(changed)
        if stop is not None:
            steps = [st for st in steps if st[0] < stop[0]]
        try:
            if changed is None:
                n, errs = compute_startup(plan, state, steps, self.policy, "parent")
            else:  # the sources' readers here are stamped above (not the workers' ones)
                n, errs = compute_cycle(plan, state, _NONE, self.policy, "parent", None, steps)
        finally:
            if failed or self._failed_here:  # kept apart: _sync rebuilds state.failed
                owner = self.owner
                self._failed_here = {r: e for r, e in failed.items() if owner[r] == PARENT}
        errors += [(plan.rank_of(e.key), e) for e in errs]
        return n

    def _source_readers_here(self, changed: frozenset[int]) -> list[int]:
        found = self._readers_here.get(changed)
        if found is None:
            owner, children = self.owner, self.plan.children
            found = [c for s in changed for c in children[s] if owner[c] == PARENT]
            if len(self._readers_here) < 1024:
                self._readers_here[changed] = found
        return found

    async def _gather(self, kind: type[Any], workers: Any, index: int | None) -> dict[int, Any]:
        """Wait for one ``kind`` message from each of ``workers``, watching liveness. A live
        cycle's replies are first waited for without the event loop, up to ``block_s``
        (:meth:`_gather_now`)."""
        pool = self.pool
        assert pool is not None
        waiting = set(workers)
        got: dict[int, Any] = {}
        t0 = time.monotonic()
        warn_at = deadline = math.inf
        quick = 0.0
        if kind is Done and index is not None:  # a cycle: watched (module docstring)
            self._cycle_in_flight = (index, waiting)
            warn_at = self.watchdog_s or math.inf
            if index > 0 and self.cycle_timeout_s is not None:
                deadline = self.cycle_timeout_s
            if index > 0:
                quick = min(self.scheduler.block_s, warn_at, deadline)
        while waiting:
            self._take(pool, self._poll(pool, read=False), kind, waiting, got, index)
            if waiting and quick > 0:
                self._gather_now(pool, kind, waiting, got, index, quick)
                quick = 0.0
            if waiting:
                elapsed = time.monotonic() - t0
                if elapsed >= warn_at and index is not None:
                    log.warning(
                        "cycle %d has been running for %.1f s; running: %s",
                        index,
                        elapsed,
                        self._running_on(waiting, index),
                    )
                    warn_at += self.watchdog_s or math.inf
                if elapsed >= deadline and index is not None:
                    self._time_out(pool, index, waiting)
                await pool.wait(min(WAIT_S, max(0.005, min(warn_at, deadline) - elapsed)))
        self._cycle_in_flight = None
        return got

    def _gather_now(
        self,
        pool: Pool,
        kind: type[Any],
        waiting: set[int],
        got: dict[int, Any],
        index: int | None,
        budget_s: float,
    ) -> None:
        """The fast path of :meth:`_gather`: block in ``Pool.receive_now`` (every worker's
        pipe and sentinel: a death or another worker's fault is seen at once) until the
        replies are in or ``budget_s`` has passed."""
        end = time.perf_counter() + budget_s
        spin = self.scheduler.spin_s if len(waiting) == 1 else 0.0
        if spin and self._expect_s > 0:  # sleep until the reply is nearly due, then spin
            nap = self._expect_s * (1 - _SPIN_SHARE) - _SPIN_MARGIN_S
            nap = min(nap - (time.perf_counter() - self._sent_at), end - time.perf_counter())
            if nap > 0:
                got_now = self._poll(pool, now_s=nap)
                if got_now is None:
                    return
                self._take(pool, got_now, kind, waiting, got, index)
        spin_end = time.perf_counter() + spin
        while waiting:
            now = time.perf_counter()
            if now >= end:
                return
            got_now = self._poll(pool, now_s=end - now, spin_s=max(spin_end - now, 0.0))
            if got_now is None:
                return  # a write is queued: the event loop's wait flushes it
            self._take(pool, got_now, kind, waiting, got, index)

    def _take(
        self,
        pool: Pool,
        messages: list[tuple[int, Any]],
        kind: type[Any],
        waiting: set[int],
        got: dict[int, Any],
        index: int | None,
    ) -> None:
        """Move the ``kind`` replies of ``waiting`` workers from ``messages`` into ``got``;
        keep the rest for later (``Pool.keep``)."""
        later = []
        msg: Any
        for w, msg in messages:
            if type(msg) is LoadFailed and msg.session == self.sid:
                raise FluviusError(f"worker {w} could not load its share: {msg.text}")
            if type(msg) is not kind or w not in waiting:
                later.append((w, msg))
            elif msg.session != self.sid:
                continue  # a reply to an earlier session on this pool
            elif kind is Done and msg.cycle != index:
                continue
            else:
                got[w] = msg
                waiting.discard(w)
        if later:
            pool.keep(later)

    def _running_on(self, workers: set[int], index: int) -> str:
        """What ``workers`` run in cycle ``index``, from their published status."""
        pool = self.pool
        assert pool is not None
        parts = []
        for w in sorted(workers):
            ranks = pool.running(w, self.sid, index)
            what = "nothing published yet" if ranks is None else self._describe(ranks)
            parts.append(f"{what} on worker {w}")
        return "; ".join(parts)

    def _time_out(self, pool: Pool, index: int, waiting: set[int]) -> None:
        """Kill the workers still in cycle ``index`` and raise CycleTimeoutError."""
        running = self._running_on(waiting, index)
        keys = tuple(
            self.plan.keys[r]
            for w in sorted(waiting)
            for r in pool.running(w, self.sid, index) or []
        )
        for w in waiting:
            pool.kill(w)
        pool.broken = True
        shown = ", ".join(str(w) for w in sorted(waiting))
        self._died = WorkerDiedError(f"worker(s) {shown} were killed when cycle {index} timed out")
        raise CycleTimeoutError(
            f"cycle {index} did not finish within its timeout of {self.cycle_timeout_s:g} s; "
            f"running: {running}; worker(s) {shown} were killed: the run cannot go on, start "
            "a new session",
            index=index,
            timeout_s=self.cycle_timeout_s or 0.0,
            running=keys,
        )

    def _make_watch(self) -> None:
        return None  # watched from the parent's waits (_gather), not by a thread

    def _running_at(self, exc: BaseException) -> str:
        in_flight = self._cycle_in_flight
        if in_flight is None or self.pool is None:
            return "no cycle in flight"
        return self._running_on(in_flight[1], in_flight[0])

    @overload
    def _poll(self, pool: Pool, *, read: bool = True) -> list[tuple[int, Any]]: ...
    @overload
    def _poll(
        self, pool: Pool, *, now_s: float, spin_s: float = 0.0
    ) -> list[tuple[int, Any]] | None: ...
    def _poll(
        self, pool: Pool, *, read: bool = True, now_s: float | None = None, spin_s: float = 0.0
    ) -> list[tuple[int, Any]] | None:
        """``pool.poll(read=)``, or with ``now_s`` ``pool.receive_now(now_s)``; Frozen
        replies consumed, a dead worker turned into the session's WorkerDiedError."""
        try:
            got = pool.poll(read=read) if now_s is None else pool.receive_now(now_s, spin_s)
            if got is None:
                return None
            if any(type(m) is Frozen for _, m in got):
                for _, m in got:
                    if type(m) is Frozen and m.session == self.sid:
                        self.gc_freeze_seconds = max(self.gc_freeze_seconds, m.seconds)
                got = [(w, m) for w, m in got if type(m) is not Frozen]
            return got
        except _WorkerDied as exc:
            if self._died is None:
                keys = self.owned_keys(exc.wid)
                log.warning("%s; it owned %d nodes", exc, len(keys), extra={"worker": exc.wid})
                shown = ", ".join(repr(k) for k in keys[:3]) + (", ..." if len(keys) > 3 else "")
                self._died = WorkerDiedError(
                    f"{exc} during the run; it owned {len(keys)} nodes ({shown}); "
                    "the run cannot go on without them"
                )
            raise WorkerDiedError(str(self._died)) from None

    # -- values -----------------------------------------------------------------------------
    def _sync(self) -> None:
        """Fetch the values (and failures) the parent has not seen yet."""
        if self._died is not None:  # the dead worker's values are lost: never serve them stale
            raise WorkerDiedError(str(self._died))
        pool = self.pool
        if not self.unsynced or pool is None or pool.closed:
            return
        ask = sorted(self.unsynced)
        for w in ask:
            pool.send(w, Sync(self.sid))
        waiting = set(ask)
        values = self.state.values
        while waiting:
            later = []
            for w, msg in self._poll(pool):
                if type(msg) is not Values or msg.session != self.sid or w not in waiting:
                    later.append((w, msg))
                    continue
                waiting.discard(w)
                for r, v in msg.items:
                    values[r] = v
                self._failed_by[w] = msg.failed
            pool.keep(later)
            if waiting:
                pool.wait_blocking(WAIT_S)
        self.unsynced.clear()
        merged = {r: e for f in self._failed_by.values() for r, e in f.items()}
        merged.update(self._failed_here)
        self.state.failed = dict(sorted(merged.items()))

    def refresh(self) -> None:
        self._sync()

    def values(self) -> dict[str, Any]:
        self._sync()
        return super().values()

    def value(self, key: str) -> Any:
        self._sync()
        return super().value(key)

    @property
    def failed(self) -> dict[str, NodeError]:
        self._sync()
        return super().failed

    # -- figures ----------------------------------------------------------------------------
    def worker_stats(self) -> list[dict[str, Any]]:
        """Per worker: pid, nodes owned, busy and idle seconds, CPU seconds (in cycles), node
        computations, messages and bytes sent."""
        pids = self.pool.pids if self.pool is not None else [0] * self.n
        out = []
        for w in range(self.n):
            fig = dict(zip(FIGURES, self.figures.get(w, ()), strict=False))
            out.append(
                {
                    "worker": f"worker-{w}",
                    "pid": pids[w],
                    "nodes": self.counts[w],
                    "busy_seconds": fig.get("busy_seconds", 0.0),
                    "idle_seconds": fig.get("idle_seconds", 0.0),
                    "cpu_seconds": fig.get("cpu_seconds", 0.0),
                    "computed": fig.get("computed", 0),
                    "messages_sent": fig.get("messages_sent", 0),
                    "bytes_sent": fig.get("bytes_sent", 0),
                }
            )
        return out

    def run_stats(self) -> dict[str, Any]:
        """Scheduler-level figures for ``fluvius run --json``."""
        return {
            "workers_count": self.n,
            "partitioner": self.partition.partitioner,
            "cross_edges": len(self.partition.cross_edges(self.graph)),
            "parent_nodes": len(self.parent_ranks),
            "partition_seconds": self.partition_seconds,
            "pickle_seconds": self.pickle_seconds,
            "spawn_seconds": self.spawn_seconds,
            "load_seconds": self.load_seconds,
        }

    # -- closing ----------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Stop the workers (or hand the pool back). Raises WorkerDiedError when a worker
        died since the last call, so that the last values cannot be fetched; a death
        already reported is not raised again."""
        pool, self.pool = self.pool, None
        died: WorkerDiedError | None = None
        if pool is not None:
            if self._in_flight:  # interrupted (Ctrl-C, a dead worker): workers mid-cycle
                pool.broken = True
            try:
                if self.started and not pool.broken and self._died is None:
                    self.pool = pool
                    self._sync()  # the last values stay readable after close
            except WorkerDiedError as exc:
                died = exc
            except (FluviusError, OSError):
                pool.broken = True
            finally:
                self.pool = None
                self._release(pool)
        if self.tracing and self.trace is None:
            self._write_trace(pool)
        await super().aclose()
        if died is not None:
            raise died

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self.aclose()
        except WorkerDiedError:
            if et is None:
                raise  # otherwise the error on its way out says more (and may be this one)

    def _release(self, pool: Pool) -> None:
        pool.busy = False
        if self._own_pool or pool.broken:
            pool.close()
            return
        try:
            for w in range(self.n):
                pool.send(w, Unload(self.sid))
            waiting = set(range(self.n))
            deadline = time.monotonic() + 5.0
            while waiting and time.monotonic() < deadline:
                for w, msg in pool.poll():  # replies of this session not read yet: dropped
                    if type(msg) is Unloaded and msg.session == self.sid:
                        waiting.discard(w)
                if waiting:
                    pool.wait_blocking(WAIT_S)
            if waiting:
                pool.broken = True
        except (_WorkerDied, OSError):
            pool.broken = True
        if pool.broken:
            pool.close()

    def _write_trace(self, pool: Pool | None) -> None:
        pids = pool.pids if pool is not None else [0] * self.n
        self.trace = write_chrome_trace(
            None if self.scheduler.trace is True else Path(str(self.scheduler.trace)),
            self.graph.keys,
            {w: (f"worker-{w}", pids[w]) for w in range(self.n)},
            self.spans,
        )
