"""Machine figures for the cost model and the simulator, measured by :func:`calibrate`.

A :class:`Calibration` holds sixteen numbers, all in seconds:

``node_s``
    The serial engine's cost per node beyond the node's own work (the loop, the call, the
    value store), measured as the start-up time of a graph of trivial ``add`` nodes divided
    by its node count. Also the default cost of a node when no costs are given.
``spin_iter_s``
    Seconds per iteration of the ``spin`` op's loop (estimates for ``spin`` nodes).
``worker_node_s``
    A worker process's start-up cost per *local* node (loading it included): a node none
    of whose inputs, however far up, is another worker's or async, which the worker
    computes at once in the engine's sync loop (``scheduling/_worker.py``): the start-up of
    a 4,000-node chain on one worker process, divided by 4,000.
``event_node_s``
    A worker's start-up cost per *event-driven* node (loading it included): a node that
    waits, directly or through its inputs, for another worker's value or an async node,
    and runs on the event-driven transitions after the worker's local part: measured on a
    2,000-node chain on worker 0 hanging from one node on worker 1 (so that all 2,000 wait
    for worker 1), less three messages, divided by 2,000.
``driver_node_s``
    The serial scheduler's cost per node on the event-driven transitions, which it runs
    for a whole cycle (start-up too) when that cycle reaches an async node: a 4,000-node
    chain stepped through ``start_cycle``/``next_ready``/``finish_node`` in this process,
    divided by 4,000. (Without async nodes the serial scheduler runs the sync loop:
    ``node_s``.)
``latency_s``
    One-way latency of one message between two workers. Measured through the real
    scheduler when it is given: the start-up of a 200-node chain whose links alternate
    between two workers, so that every link is one message, minus the nodes' own cost
    (``event_node_s`` each) and the start and end messages, divided by the links.
    ``event_node_s`` and ``latency_s`` are solved together (a fixed point: each
    measurement holds a little of the other). Otherwise the raw transport: half the median
    round trip of a small message over a :func:`multiprocessing.Pipe` between this
    process and a spawned child (ping-pong), which is a lower bound.
``byte_s``
    Extra seconds per byte of message payload: the slope of the round trip between a small
    message and a 1 MiB one, halved.
``gc_item_s``
    Per graph item, the full garbage collection (and heap freeze) that the serial scheduler
    runs at the end of its start-up (``scheduling/_gc.py``; a worker runs it after its
    reply, outside ``start()``): the time of ``gc.collect()`` with a started 20,000-node
    graph alive, less that without it, divided by its items. The whole heap of the process
    is scanned, so a program that holds other large objects pays more.
``pipe_latency_s``
    The raw pipe latency (the ping-pong above), kept apart from ``latency_s``: the
    difference is the worker runtime's own work per message, which the network model adds
    to the TCP transport's raw figure.
``tcp_latency_s``, ``tcp_byte_s``
    The same two figures for a ``distributed.comm`` TCP connection on 127.0.0.1 (what Dask
    workers use), measured by :func:`fluvius.partition.network.measure_tcp` when
    ``distributed`` is installed (else the defaults): the transport of the network model
    (:mod:`fluvius.partition.network`), to which a network adds its wire latency and
    bandwidth between hosts.
``start_s``
    The fixed cost of a multi-process start-up (``start()`` on a running pool) beyond the
    messages and the nodes: the parent sending the shares and gathering the replies, each
    worker setting up its share. Measured through the real scheduler when it is given, on
    two workers, as the report's rows use workers: the start-up of a two-node graph (a
    source and a node on each worker), less two ``latency_s``. On one worker the same
    costs 0.2-1 ms here; on two it was 2-7 ms (the second worker's share and reply, and
    each worker's collection of the previous session's heap), which the per-node and
    latency figures, measured on two workers, are net of. ``worker_node_s`` is measured
    on one worker above the one-node graph (the 4,000-node chain less it). Otherwise the
    documented default.
``spawn_s``
    Time to start one worker process (spawn start method, up to its first reply): the fixed
    price of a multi-process start-up.
``cycle_s``
    The fixed cost of one cycle (a tick) on the multi-process scheduler: the median wall
    time of a tick of a one-node graph on one worker process, from the batch leaving the
    parent to the parent knowing the cycle is done (two messages and the bookkeeping).
``cycle_node_s``
    A worker's cost per node recomputed in a cycle: ticks of a 2,000-node chain on one
    worker, minus ``cycle_s``, divided by 2,000 (unlike ``worker_node_s`` it holds no
    loading). Both are measured through the real scheduler when :func:`calibrate` is given
    ``run_tick(graph, workers, partitioner) -> seconds of one cycle``; otherwise
    ``cycle_s`` is two ``latency_s`` and ``cycle_node_s`` is ``node_s``.
``tick_node_s``
    The serial engine's cost per node recomputed in a cycle beyond its start-up cost per
    node (``node_s``): the cycle loop's marks and the cutoff's comparison with the old
    value, which a start-up does not make. Measured in this process on a 2,000-node chain
    (small enough to stay in the CPU caches): the median tick, per node, less the median
    start-up per node. A cycle whose nodes do not stay in the caches costs more per node
    again; that depends on the graph, and a profile measures it on the graph itself
    (``Profile.ticks``, :mod:`fluvius.partition.profile`).

The partition layer may not import the schedulers (they sit above it), so
:func:`calibrate` takes the scheduler as a function, ``run_startup(graph, workers,
partitioner) -> start-up seconds``; ``fluvius partition --calibrate`` passes the process
scheduler's.

Without a calibration file the documented defaults below are used (the figures
``fluvius partition --calibrate`` measured on the 2-core development VM, CPython 3.11,
rounded: see docs/concepts/partitioning.md). :func:`calibrate` measures them here (a few
seconds);
:meth:`Calibration.save` stores them where :func:`default_calibration` finds them again:
``$FLUVIUS_CALIBRATION`` when set, else ``$XDG_CACHE_HOME/fluvius/calibration.json``
(``~/.cache/fluvius/calibration.json``).
"""

from __future__ import annotations

import contextlib
import gc
import json
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fluvius.engine.cycle import (
    compute_cycle,
    compute_startup,
    finish_node,
    next_ready,
    start_cycle,
)
from fluvius.engine.plan import Plan
from fluvius.engine.state import RunState
from fluvius.errors import SpecError
from fluvius.graph.builder import GraphBuilder
from fluvius.graph.ops import BUILTIN_OPS, spin_loop
from fluvius.partition.base import Partition
from fluvius.partition.network import measure_tcp, spawned_child

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from fluvius.graph.dag import Graph
    from fluvius.partition.base import Partitioner

RunStartup = Callable[["Graph", int, "Partitioner | None"], float]
"""``run_startup(graph, workers, partitioner) -> start-up seconds`` on a real scheduler."""

RunTick = Callable[["Graph", int, "Partitioner | None"], float]
"""``run_tick(graph, workers, partitioner) -> seconds of one cycle`` (a tick of the graph's
first source, after its start-up) on a real scheduler."""

__all__ = [
    "Calibration",
    "RunStartup",
    "RunTick",
    "calibrate",
    "calibration_path",
    "default_calibration",
    "measure_parallelism",
]

_DEFAULTS = {  # measured here on 2026-12-07, 22:11-22:28 (load 1-3): medians of 3, rounded
    "node_s": 1.0e-7,
    "spin_iter_s": 1.0e-7,
    "worker_node_s": 1.25e-6,
    "event_node_s": 2.5e-6,
    "latency_s": 6.5e-5,
    "byte_s": 1.0e-9,
    "spawn_s": 0.2,  # calibrate: 0.16 s (quiet, 12-07 23:49); make demo: 2-worker pools 0.21-0.24 s
    "cycle_s": 1.25e-4,
    "cycle_node_s": 2.0e-7,
    "driver_node_s": 1.2e-6,
    "gc_item_s": 9.0e-7,
    "start_s": 1.0e-3,
    "pipe_latency_s": 1.7e-5,
    "tcp_latency_s": 1.1e-4,
    "tcp_byte_s": 1.0e-9,
    "tick_node_s": 1.0e-7,  # _measure_tick_node: 0.096-0.113 us (12-08 01:27, load 1.5)
}


@dataclass(frozen=True, slots=True)
class Calibration:
    """The machine figures of the cost model and the simulator (see the module docstring)."""

    node_s: float = _DEFAULTS["node_s"]
    spin_iter_s: float = _DEFAULTS["spin_iter_s"]
    worker_node_s: float = _DEFAULTS["worker_node_s"]
    event_node_s: float = _DEFAULTS["event_node_s"]
    latency_s: float = _DEFAULTS["latency_s"]
    byte_s: float = _DEFAULTS["byte_s"]
    spawn_s: float = _DEFAULTS["spawn_s"]
    cycle_s: float = _DEFAULTS["cycle_s"]
    cycle_node_s: float = _DEFAULTS["cycle_node_s"]
    driver_node_s: float = _DEFAULTS["driver_node_s"]
    gc_item_s: float = _DEFAULTS["gc_item_s"]
    start_s: float = _DEFAULTS["start_s"]
    pipe_latency_s: float = _DEFAULTS["pipe_latency_s"]
    tcp_latency_s: float = _DEFAULTS["tcp_latency_s"]
    tcp_byte_s: float = _DEFAULTS["tcp_byte_s"]
    tick_node_s: float = _DEFAULTS["tick_node_s"]

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Calibration.{f.name} must be seconds >= 0, got {value!r}")

    def to_dict(self) -> dict[str, float]:
        """The figures as a plain dict (the JSON file's content)."""
        return asdict(self)

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the figures as JSON (default: :func:`calibration_path`); return the path."""
        target = Path(path) if path is not None else calibration_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Calibration:
        """Read figures written by :meth:`save`; unknown or bad fields are a SpecError."""
        try:
            data: Any = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SpecError(f"{path}: cannot read the calibration file: {exc}") from exc
        if not isinstance(data, dict):
            raise SpecError(f"{path}: expected a JSON object of calibration figures")
        names = {f.name for f in fields(cls)}
        for key in data:
            if key not in names:
                raise SpecError(
                    f"{path}: unknown calibration field {key!r}; expected {sorted(names)}"
                )
        try:
            return cls(**data)
        except (TypeError, ValueError) as exc:
            raise SpecError(f"{path}: {exc}") from exc


def calibration_path() -> Path:
    """Where calibration figures are stored (see the module docstring)."""
    env = os.environ.get("FLUVIUS_CALIBRATION")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "fluvius" / "calibration.json"


def default_calibration() -> Calibration:
    """The stored calibration of this machine when there is one, else the defaults."""
    path = calibration_path()
    if path.is_file():
        return Calibration.load(path)
    return Calibration()


# -- measurement -----------------------------------------------------------------------------
def _echo(conn: Connection) -> None:
    """Child side of the ping-pong: send back every message until ``None``."""
    while True:
        msg = conn.recv_bytes()
        if not msg:
            break
        conn.send_bytes(msg)
    conn.close()


def _round_trip(conn: Connection, payload: bytes, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        conn.send_bytes(payload)
        conn.recv_bytes()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _measure_pipe(repeats: int) -> tuple[float, float, float]:
    """(latency_s, byte_s, spawn_s) by ping-pong with a spawned child."""
    t0 = time.perf_counter()
    with spawned_child(_echo, join_s=5) as parent:
        parent.send_bytes(b"x")
        parent.recv_bytes()
        spawn_s = time.perf_counter() - t0
        small = _round_trip(parent, b"x" * 64, repeats)
        big_size = 1 << 20
        big = _round_trip(parent, b"x" * big_size, max(5, repeats // 20))
        parent.send_bytes(b"")
    return small / 2, max(0.0, big - small) / 2 / big_size, spawn_s


def _chain(n: int) -> Graph:
    b = GraphBuilder()
    prev = b.source("x", 1.0)
    for i in range(n):
        prev = b.node(f"n{i}", BUILTIN_OPS["add"](1, {"c": 1.0}), prev)
    return b.build()


def _alternate(graph: Graph, workers: int, costs: object = None) -> Partition:
    """Every link of a chain crosses workers: rank r goes to worker r % workers."""
    return Partition(workers, tuple(r % workers for r in range(len(graph.items))), "alternate")


def _measure_node(n: int = 4000, repeats: int = 5) -> float:
    """The serial engine's per-node cost on trivial ``add`` nodes."""
    return statistics.median(_startup_times(Plan(_chain(n)), repeats)[0]) / n


def _startup_times(plan: Plan, repeats: int) -> tuple[list[float], RunState]:
    """Seconds of each of ``repeats`` serial start-ups of ``plan``, from fresh values, and
    the last start-up's state."""
    times = []
    state = RunState(plan.initial_values())
    for _ in range(repeats):
        state = RunState(plan.initial_values())
        t0 = time.perf_counter()
        compute_startup(plan, state, plan.node_steps, "fail_fast", "calibrate")
        times.append(time.perf_counter() - t0)
    return times, state


def _measure_tick_node(n: int = 2000, repeats: int = 9) -> float:
    """``tick_node_s``: a tick of an ``n``-node chain in this process, per node, less its
    start-up per node (medians; module docstring)."""
    plan = Plan(_chain(n))
    starts, state = _startup_times(plan, repeats)
    changed = frozenset({0})  # the chain's source
    ticks = []
    for i in range(repeats + 1):  # the first walks the batch (the plan's cache): not counted
        state.values[0] = 1.0 + (i + 1) / 997
        state.cycles += 1
        t0 = time.perf_counter()
        compute_cycle(plan, state, changed, "fail_fast", "calibrate")
        ticks.append(time.perf_counter() - t0)
    return max(0.0, statistics.median(ticks[1:]) - statistics.median(starts)) / n


def _measure_driver(n: int = 4000, repeats: int = 5) -> float:
    """The event-driven transitions' per-node cost in this process (``driver_node_s``)."""
    plan = Plan(_chain(n))
    steps = plan.steps
    times = []
    for _ in range(repeats):
        state = RunState(plan.initial_values())
        values = state.values
        t0 = time.perf_counter()
        cs = start_cycle(plan, None)
        while (r := next_ready(plan, state, cs)) is not None:
            step = steps[r]
            assert step is not None
            _, call, a, g = step
            out = call(values[a]) if g is None else call(*g(values))
            finish_node(plan, state, cs, r, out, True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / n


def _collect_s() -> float:
    t0 = time.perf_counter()
    gc.collect()
    return time.perf_counter() - t0


def _measure_gc(n: int = 20_000, repeats: int = 3) -> float:
    """``gc_item_s``: a full collection with a started ``n``-node chain alive, less one
    without it, per item (module docstring)."""
    base = min(_collect_s() for _ in range(repeats))
    graph = _chain(n)
    plan = Plan(graph)
    state = RunState(plan.initial_values())
    compute_startup(plan, state, plan.node_steps, "fail_fast", "calibrate")
    full = min(_collect_s() for _ in range(repeats))
    del graph, plan, state
    return max(0.0, full - base) / (n + 1)


def _hanging(graph: Graph, workers: int, costs: object = None) -> Partition:
    """The node ``h`` on worker 1, everything else on worker 0."""
    return Partition(workers, tuple(int(k == "h") for k in graph.keys), "hanging")


def _hanging_chain(n: int) -> Graph:
    """``x -> h -> a0 -> ... -> a{n-1}``: with ``h`` alone on worker 1, every ``a`` waits."""
    b = GraphBuilder()
    prev = b.node("h", BUILTIN_OPS["add"](1, {"c": 1.0}), b.source("x", 1.0))
    for i in range(n):
        prev = b.node(f"a{i}", BUILTIN_OPS["add"](1, {"c": 1.0}), prev)
    return b.build()


def _pair(graph: Graph, workers: int, costs: object = None) -> Partition:
    """Item ``r`` of a :func:`_pairs` graph on worker ``(r // 2) % workers``."""
    return Partition(workers, tuple((r // 2) % workers for r in range(len(graph.items))), "pair")


def _pairs(n: int) -> Graph:
    """``n`` times a source and one node reading it."""
    b = GraphBuilder()
    for i in range(n):
        b.node(f"n{i}", BUILTIN_OPS["add"](1, {"c": 1.0}), b.source(f"x{i}", 1.0))
    return b.build()


def _measure_scheduler(run: RunStartup, repeats: int = 5) -> tuple[float, float, float, float]:
    """(worker_node_s, event_node_s, latency_s, start_s) through a real multi-process
    scheduler.

    Each figure is the minimum over ``repeats`` runs: the least disturbed run is the best
    estimate of what the operation costs on a machine shared with other work.
    """
    nodes, hops = 4000, 200
    tiny = min(run(_chain(1), 1, None) for _ in range(repeats))
    both = min(run(_pairs(2), 2, _pair) for _ in range(repeats))
    one = min(run(_chain(nodes), 1, None) for _ in range(repeats))
    hanging = min(run(_hanging_chain(nodes // 2), 2, _hanging) for _ in range(repeats))
    links = _chain(hops)
    alt = min(run(links, 2, _alternate) for _ in range(repeats))
    # both = start + 2 latencies (start, end) + one node a worker (two workers: start_s);
    # hanging = start + 3 latencies (start, h -> a0, end) + nodes/2 event-driven nodes;
    # alt = start + 2 latencies (start, end) + hops - 1 links + hops nodes (all event-driven
    # but the first)
    latency = start = 0.0
    event = hanging / (nodes // 2)
    for _ in range(20):
        start = max(0.0, both - 2 * latency)
        event = max(0.0, hanging - start - 3 * latency) / (nodes // 2)
        latency = max(0.0, alt - start - hops * event) / (hops + 1)
    return max(0.0, one - tiny) / (nodes - 1), event, latency, start


def _measure_spin(n: int = 200_000, repeats: int = 5) -> float:
    fn = BUILTIN_OPS["spin"](1, {"n": n})
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(0.0)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / n


def _measure_ticks(run: RunTick, repeats: int = 3) -> tuple[float, float]:
    """(cycle_s, cycle_node_s) from ticks on one worker process (module docstring); each
    the minimum over ``repeats`` sessions, as for the start-ups."""
    nodes = 2000
    small = min(run(_chain(1), 1, None) for _ in range(repeats))
    big = min(run(_chain(nodes), 1, None) for _ in range(repeats))
    return small, max(0.0, big - small) / nodes


def calibrate(
    *,
    repeats: int = 200,
    run_startup: RunStartup | None = None,
    run_tick: RunTick | None = None,
    tcp: bool = True,
) -> Calibration:
    """Measure this machine's :class:`Calibration` (a few seconds; spawns processes).

    Parameters
    ----------
    repeats
        Small ping-pong round trips over a pipe (the median is kept).
    run_startup
        Runs a graph's start-up on a real multi-process scheduler and returns its seconds;
        it gives ``worker_node_s``, ``event_node_s``, ``latency_s`` and ``start_s`` (see
        the module docstring). Without it, both per-node figures are ``node_s`` and ``latency_s`` is
        the raw pipe latency.
    run_tick
        Runs ticks of a graph on a real multi-process scheduler and returns the seconds of
        one: it gives ``cycle_s`` and ``cycle_node_s``. Without it, ``2 * latency_s`` and
        ``node_s``.
    tcp
        Also measure ``tcp_latency_s`` and ``tcp_byte_s`` (spawns an echo process; needs
        ``distributed``, else the defaults are kept).
    """
    pipe_latency_s, byte_s, spawn_s = _measure_pipe(repeats)
    node_s = _measure_node()
    worker_node_s, event_node_s, latency_s = node_s, node_s, pipe_latency_s
    start_s = _DEFAULTS["start_s"]
    if run_startup is not None:
        worker_node_s, event_node_s, latency_s, start_s = _measure_scheduler(run_startup)
    cycle_s, cycle_node_s = 2.0 * latency_s, node_s
    if run_tick is not None:
        cycle_s, cycle_node_s = _measure_ticks(run_tick)
    tcp_latency_s, tcp_byte_s = _DEFAULTS["tcp_latency_s"], _DEFAULTS["tcp_byte_s"]
    if tcp:
        with contextlib.suppress(ImportError):  # no distributed here: the defaults
            tcp_latency_s, tcp_byte_s = measure_tcp(repeats)
    return Calibration(
        driver_node_s=_measure_driver(),
        gc_item_s=_measure_gc(),
        start_s=start_s,
        pipe_latency_s=pipe_latency_s,
        tcp_latency_s=tcp_latency_s,
        tcp_byte_s=tcp_byte_s,
        cycle_s=cycle_s,
        cycle_node_s=cycle_node_s,
        node_s=node_s,
        spin_iter_s=_measure_spin(),
        worker_node_s=worker_node_s,
        event_node_s=event_node_s,
        latency_s=latency_s,
        byte_s=byte_s,
        spawn_s=spawn_s,
        tick_node_s=_measure_tick_node(),
    )


def _spin_for(n: int) -> float:
    t0 = time.perf_counter()
    spin_loop(n)
    return time.perf_counter() - t0


def measure_parallelism(processes: int = 2, seconds: float = 0.2) -> float:
    """How many cores ``processes`` CPU-bound processes really get here, now.

    Times a ``spin`` loop of about ``seconds`` alone in this process, then the same loop in
    ``processes`` spawned processes at once: the result is ``processes * alone / together``
    (``processes`` on an idle machine with enough cores; about 1 when other work takes the
    other cores). The simulator's ``cores`` argument takes it, to predict a loaded machine.
    """
    n = max(1, round(seconds / _measure_spin(50_000, 3)))
    alone = min(_spin_for(n) for _ in range(3))
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes) as pool:
        pool.map(_spin_for, [1] * processes)  # started and warm before timing
        together = max(pool.map(_spin_for, [n] * processes))
    return processes * alone / together
