"""Predict the start-up (full evaluation) makespan of a partition by event simulation.

The model follows the workers' event-driven execution:

* The parent starts the cycle with one message to every worker (``latency_s``); source
  values come with it, so a node whose inputs are all sources is ready at once.
* A worker runs its ready nodes one at a time, lowest rank first; a node takes
  ``costs[rank]`` seconds plus the worker's extra per-node overhead (costs already hold
  the serial engine's ``node_s``): ``event_node_s - node_s`` on a worker that owns a
  node reading a value from another worker (the process scheduler runs the event-driven
  transitions for that worker's whole share), else ``worker_node_s - node_s`` (the
  engine's fused loop). When
  it finishes, a reader on the same worker may become ready; a reader on another worker
  needs the value, which goes into the worker's outbox (once per destination worker,
  however many readers it has there).
* Batch flush: a worker sends its outbox when it runs out of ready work, one message per
  destination worker. Sending costs the sender ``send`` seconds (``latency_s`` / 2 per
  message plus ``byte_s`` per byte, the serialisation); the message arrives
  ``latency_s + bytes * byte_s`` after it was sent. Before each node a worker takes in
  every message that has arrived, so a newly ready lower-ranked node runs first.
* The run ends when the last worker has finished and told the parent (one more
  ``latency_s``).
* ``serial=True`` predicts the serial scheduler instead: no messages, no worker overhead,
  the sum of the costs.
* ``cores``: with fewer cores than workers, computing slows by ``workers / cores`` (a
  fair share). ``None`` means one core per worker: how far the graph itself scales.

Worker start-up (``spawn_s`` per process, ``ceil(workers / cores)`` rounds) is reported
apart from the makespan, because schedulers start their processes before they time the
start-up.

The simulation processes actions in global time order (the worker with the earliest next
action goes first), so no message can arrive "in the past" of the worker that receives it:
every later action happens at a time >= the current one and a message takes at least
``latency_s`` > 0.

Worked example: ``x -> a -> b`` with ``a`` on worker 0 and ``b`` on worker 1, costs 1 s
each, latency 0.1 s, no byte cost or worker overhead: the cycle starts at 0.1; worker 0
computes ``a`` in [0.1, 1.1], has no more work, flushes at 1.1 (sending costs 0.05 s) and
the value arrives at 1.2; worker 1 computes ``b`` in [1.2, 2.2]; the parent hears at 2.3.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fluvius.partition.calibrate import Calibration, default_calibration

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fluvius.graph.dag import Graph
    from fluvius.partition.base import Partition

__all__ = ["FLOAT_BYTES", "Prediction", "simulate"]

FLOAT_BYTES = 9
"""Pickled size of a float (``len(pickle.dumps(1.0, 5))`` minus framing): the default size
of a value that crosses workers when no sizes are given."""


@dataclass(frozen=True, slots=True)
class Prediction:
    """What the simulator predicts for one partition.

    Attributes
    ----------
    workers
        The number of workers.
    makespan_s
        Start-up seconds, from the first computation to the parent knowing all is done.
    spawn_s
        Seconds to start the worker processes (not in ``makespan_s``).
    busy_s
        Per worker, seconds spent computing and sending.
    messages
        Messages sent between workers (batches, not values).
    values_sent
        Values sent between workers.
    bytes_sent
        Payload bytes sent between workers.
    """

    workers: int
    makespan_s: float
    spawn_s: float
    busy_s: tuple[float, ...]
    messages: int
    values_sent: int
    bytes_sent: int


def simulate(
    graph: Graph,
    costs: Sequence[float],
    partition: Partition,
    calibration: Calibration | None = None,
    *,
    sizes: Sequence[int] | None = None,
    cores: float | None = None,
    serial: bool = False,
) -> Prediction:
    """Predict the start-up of ``graph`` under ``partition`` (see the module docstring).

    Parameters
    ----------
    graph
        The graph.
    costs
        Compute seconds per item, by rank.
    partition
        The assignment to simulate.
    calibration
        Communication figures; default :func:`default_calibration`.
    sizes
        Bytes of each item's value when sent, by rank; default :data:`FLOAT_BYTES` each.
    cores
        Cores to share among the workers (may be fractional: the cores a loaded machine
        really gives, see :func:`~fluvius.partition.calibrate.measure_parallelism`);
        ``None``: one per worker.
    serial
        Predict the serial scheduler (``partition`` must have one worker).

    Examples
    --------
    The worked example of the module docstring:

    >>> from fluvius import GraphBuilder
    >>> from fluvius.partition import Calibration, Partition
    >>> b = GraphBuilder()
    >>> x = b.source("x", 1.0)
    >>> a = b.node("a", lambda v: v, x)
    >>> _ = b.node("b", lambda v: v, a)
    >>> cal = Calibration(0.0, worker_node_s=0.0, event_node_s=0.0, latency_s=0.1, byte_s=0.0)
    >>> p = simulate(b.build(), [0.0, 1.0, 1.0], Partition(2, (0, 0, 1), "hand"), cal)
    >>> round(p.makespan_s, 6), p.messages
    (2.3, 1)
    """
    cal = calibration or default_calibration()
    if serial:
        if partition.workers != 1:
            raise ValueError(f"serial=True needs a one-worker partition, got {partition.workers}")
        total = float(sum(costs))
        return Prediction(1, total, 0.0, (total,), 0, 0, 0)
    owner_ = partition.owner
    src = frozenset(graph.sources)
    evented = [False] * partition.workers
    for r, ins in enumerate(graph.inputs):
        if any(i not in src and owner_[i] != owner_[r] for i in ins):
            evented[owner_[r]] = True
    extra = [
        max(0.0, (cal.event_node_s if ev else cal.worker_node_s) - cal.node_s) for ev in evented
    ]
    n_workers = partition.workers
    owner = partition.owner
    if cores is not None and cores <= 0:
        raise ValueError(f"cores must be > 0, got {cores!r}")
    slow = 1.0 if cores is None else max(1.0, n_workers / cores)
    size = [FLOAT_BYTES] * len(owner) if sizes is None else list(sizes)
    waiting = [len(dict.fromkeys(ins)) for ins in graph.inputs]
    ready: list[list[int]] = [[] for _ in range(n_workers)]
    for s in graph.sources:
        for c in graph.children[s]:
            waiting[c] -= 1
    sources = frozenset(graph.sources)
    for r, w in enumerate(waiting):
        if w == 0 and r not in sources:
            heapq.heappush(ready[owner[r]], r)
    clock = [cal.latency_s] * n_workers
    busy = [0.0] * n_workers
    outbox: list[dict[int, list[int]]] = [{} for _ in range(n_workers)]
    inbox: list[list[tuple[float, int, list[int]]]] = [[] for _ in range(n_workers)]
    seq = 0
    messages = values_sent = bytes_sent = 0
    children = graph.children

    def arrive(w: int, ranks: list[int]) -> None:
        for r in ranks:
            for c in children[r]:
                if owner[c] == w:
                    waiting[c] -= 1
                    if waiting[c] == 0:
                        heapq.heappush(ready[w], c)

    # agenda: (time of the worker's next action, worker); one entry per worker with work
    agenda = [(cal.latency_s, w) for w in range(n_workers) if ready[w]]
    heapq.heapify(agenda)
    while agenda:
        t, w = heapq.heappop(agenda)
        t = max(t, clock[w])
        box = inbox[w]
        while box and box[0][0] <= t:
            arrive(w, heapq.heappop(box)[2])
        if ready[w]:
            r = heapq.heappop(ready[w])
            dt = (costs[r] + extra[w]) * slow
            t += dt
            busy[w] += dt
            for c in children[r]:
                d = owner[c]
                if d != w:
                    sent = outbox[w].setdefault(d, [])
                    if not sent or sent[-1] != r:
                        sent.append(r)
            for c in children[r]:
                if owner[c] == w:
                    waiting[c] -= 1
                    if waiting[c] == 0:
                        heapq.heappush(ready[w], c)
        if not ready[w] and outbox[w] and not (box and box[0][0] <= t):
            for d in sorted(outbox[w]):
                ranks = outbox[w][d]
                nbytes = sum(size[r] for r in ranks)
                send = cal.latency_s / 2 + nbytes * cal.byte_s
                t += send
                busy[w] += send
                seq += 1
                heapq.heappush(inbox[d], (t + cal.latency_s / 2, seq, ranks))
                heapq.heappush(agenda, (t + cal.latency_s / 2, d))
                messages += 1
                values_sent += len(ranks)
                bytes_sent += nbytes
            outbox[w] = {}
        clock[w] = t
        if ready[w] or (box and box[0][0] <= t):
            heapq.heappush(agenda, (t, w))
    makespan = max(clock, default=0.0) + cal.latency_s
    rounds = math.ceil(n_workers / cores) if cores else 1
    return Prediction(
        workers=n_workers,
        makespan_s=makespan,
        spawn_s=cal.spawn_s * rounds,
        busy_s=tuple(busy),
        messages=messages,
        values_sent=values_sent,
        bytes_sent=bytes_sent,
    )
