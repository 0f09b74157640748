"""Predict the start-up (full evaluation) or one cycle of a partition by event simulation.

The model follows the workers' execution (``scheduling/_worker.py``):

* The parent starts the cycle with one message to every worker (``latency_s``); source
  values come with it, so a node whose inputs are all sources is ready at once.
* A worker's nodes are *local* or *event-driven*, as the runtime splits them: a node is
  event-driven when it is async or when one of its inputs (among the nodes computed) is
  another worker's or event-driven itself, i.e. when it waits, however far up, for a
  value from elsewhere or for an async result; the rest are local.
* Local part: the worker first computes all its local nodes in rank order (the engine's
  sync loop), each for ``costs[rank]`` plus ``worker_node_s - node_s`` (costs already hold
  the serial engine's ``node_s``), then sends their values to the workers that read them.
* Event part: then it runs its ready event-driven nodes one at a time, lowest rank first,
  each for its cost plus ``event_node_s - node_s``. When a node finishes, a reader on the
  same worker may become ready; a reader on another worker needs the value, which goes
  into the worker's outbox (once per destination worker, however many readers it has
  there).
* Batch flush: a worker sends its outbox when it runs out of ready work, one message per
  destination worker. Sending costs the sender ``latency_s / 2`` per message plus
  ``byte_s`` per byte (the serialisation); the message arrives ``latency_s / 2`` after the
  send. Before each node a worker takes in every message that has arrived, so a newly
  ready lower-ranked node runs first.
* The run ends when the last worker has finished and told the parent (one more
  ``latency_s``).
* An async node (``waits[rank] > 0``, from a profile) becomes a task when it is ready; the
  task begins when its worker next waits (as on an asyncio loop: after the ready sync
  nodes and the flush), computes for its cost, then waits: its worker goes on with other
  ready nodes, and the node's value exists ``waits[rank]`` later (readers on other
  workers get it sent then). At start-up, the async nodes that read sources only begin
  first, before the local part (``scheduling/_driver.begin_async``), serially too.
* ``changed`` simulates one cycle instead of the start-up: only the nodes the changed
  sources reach are computed (split into local and event-driven parts the same way), only
  the workers that own some of them take part, and the cycle ends when the last of them
  has told the parent. A cycle's round trip is the calibrated ``cycle_s`` (half out, half
  back) and a worker's cost per node beyond its work is ``cycle_node_s - node_s`` (no
  loading) or, when it is larger, what the serial engine's cycle costs a node of a cycle
  of that size (``tick_extra``, below) plus the worker's own share of ``cycle_node_s``
  beyond ``node_s + tick_node_s``; values between workers still take ``latency_s``. A
  single-source tick on a partition that keeps each underlying on one worker involves
  one worker; a market-wide tick involves all.
* With ``parent_nodes=True``, the parent's own nodes (``_placement.py``: the cheap totals that
  gather values of several workers, as the process scheduler places them): no worker
  computes them and no message between workers carries their inputs (the workers' replies
  do); the parent computes them one after the other, for their costs, once the last worker
  has told it that it is done.
* Start-up only: ``start_s``, the calibrated fixed cost of a multi-process ``start()`` (the
  parent's sending and bookkeeping, a worker's set-up beyond its nodes), is added once.
* ``serial=True`` predicts the serial scheduler instead: no messages, no worker overhead;
  the sum of the costs when the cycle reaches no async node (the engine's sync loop; a
  tick adds ``tick_extra(n)`` per node of a cycle of ``n`` nodes: a profile's measure on
  the graph, :meth:`~fluvius.partition.profile.Profile.tick_extra_s`, else the calibrated
  ``tick_node_s``),
  else every node on the event-driven transitions at ``driver_node_s`` (async waits
  overlap other work, as the serial scheduler runs ready async nodes concurrently). Its
  start-up ends with a full garbage collection: ``collect_s`` when given (a profile's
  measure of this process's heap, ``Profile.collect_s``), else ``gc_item_s`` per graph
  item.
* ``cores``: with fewer cores than the workers that compute, computing slows by
  ``workers / cores`` (a fair share); a tick counts only the workers it involves (a
  one-source tick on one worker runs at full speed). ``None`` means one core per worker:
  how far the graph itself scales.
* ``network`` (:mod:`fluvius.partition.network`): where the workers run. Messages take
  the link's transport and, between hosts, its wire latency and bandwidth; the parent's
  messages to a remote worker too; at start-up a remote worker begins when the graph's
  bytes have crossed the parent's link.

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

from fluvius.graph.node import NodeSpec
from fluvius.partition._placement import parent_nodes as choose_parent_nodes
from fluvius.partition.calibrate import Calibration, default_calibration
from fluvius.partition.network import NETWORKS, Network, parse_network, shipping_bytes

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

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
    waits: Sequence[float] | None = None,
    changed: Iterable[int] | None = None,
    network: Network | str | None = None,
    ship_bytes: tuple[int, float] | None = None,
    parent_nodes: bool = False,
    collect_s: float | None = None,
    tick_extra: Callable[[int], float | None] | None = None,
) -> Prediction:
    """Predict the start-up (or one cycle) of ``graph`` under ``partition`` (module docstring).

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
        Predict the serial scheduler (``partition`` must have one worker): no messages and
        no worker overhead; async waits still overlap other work.
    waits
        Per rank, seconds an async node waits without computing after its ``costs`` (a
        profile's ``waits``): its worker computes other nodes meanwhile. Default: none.
    changed
        Source ranks of one cycle's batch (a tick): only the nodes they reach are computed,
        and only the workers owning those take part. Default: the start-up.
    network
        Where the workers run and how they talk (:class:`~fluvius.partition.network.Network`
        or its spec, e.g. ``"10gbit:50us"``); default ``local``: the process scheduler's
        pipes on this machine.
    ship_bytes
        ``(structure bytes, bytes per node)`` of the graph as shipped at start-up (only
        used when a worker is on another host); default
        :func:`~fluvius.partition.network.shipping_bytes` of the graph.
    parent_nodes
        Whether the parent computes the cheap totals across workers itself (module
        docstring), as the process scheduler does (``ProcessScheduler(parent_nodes=True)``,
        its default); the Dask scheduler does not. Off by default: partitioners are
        compared (``auto``, the report's table) on the workers' share alone, for both.
    collect_s
        Seconds of the full collection that ends a serial start-up (a profile's
        ``collect_s``); default ``gc_item_s`` per graph item.
    tick_extra
        Seconds per node that a cycle of ``n`` nodes costs beyond their ``costs`` on the
        serial engine (a profile's :meth:`~fluvius.partition.profile.Profile.tick_extra_s`);
        default (or when it returns None) the calibrated ``tick_node_s``. Cycles only.

    Examples
    --------
    The worked example of the module docstring:

    >>> from fluvius import GraphBuilder
    >>> from fluvius.partition import Calibration, Partition
    >>> b = GraphBuilder()
    >>> x = b.source("x", 1.0)
    >>> a = b.node("a", lambda v: v, x)
    >>> _ = b.node("b", lambda v: v, a)
    >>> cal = Calibration(
    ...     0.0, worker_node_s=0.0, event_node_s=0.0, latency_s=0.1, byte_s=0.0, start_s=0.0
    ... )
    >>> p = simulate(b.build(), [0.0, 1.0, 1.0], Partition(2, (0, 0, 1), "hand"), cal)
    >>> round(p.makespan_s, 6), p.messages
    (2.3, 1)
    """
    cal = calibration or default_calibration()
    n_workers = partition.workers
    owner = partition.owner
    src = frozenset(graph.sources)
    if serial and n_workers != 1:
        raise ValueError(f"serial=True needs a one-worker partition, got {partition.workers}")
    if cores is not None and cores <= 0:
        raise ValueError(f"cores must be > 0, got {cores!r}")
    todo = (
        frozenset(r for r in range(len(owner)) if r not in src)
        if changed is None
        else _affected(graph, changed)
    )
    is_async = [isinstance(it, NodeSpec) and it.kind == "async" for it in graph.items]
    # the serial start-up ends with a full collection of the heap (scheduling/_gc.py)
    collect = 0.0
    if serial and changed is None:
        collect = cal.gc_item_s * len(owner) if collect_s is None else collect_s

    def extra(nodes: int) -> float:
        """Per node, what a cycle of ``nodes`` nodes costs the serial engine beyond costs."""
        got = tick_extra(nodes) if tick_extra is not None else None
        return cal.tick_node_s if got is None else got

    if serial and not any(is_async[r] for r in todo):  # the sync loop: the sum of the costs
        total = float(sum(costs[r] for r in todo))
        if changed is not None and todo:  # a tick: the cycle loop's cost per node
            total = max(0.0, total + len(todo) * extra(len(todo)))
        return Prediction(1, total + collect, 0.0, (total,), 0, 0, 0)
    net = NETWORKS["local"] if network is None else parse_network(network)
    here_last: list[int] = []  # the parent's own nodes, computed after the workers
    if parent_nodes and not serial and n_workers > 1:
        mine = frozenset(choose_parent_nodes(graph, owner))
        here_last = sorted(todo & mine)
        todo = todo - mine
    if changed is None and not serial:
        collect += cal.start_s  # the fixed cost of a multi-process start-up
    host = [net.host_of(w) for w in range(n_workers)]
    # evented[r]: r waits (itself or through an input) for another worker or an async
    # node, so its worker runs it on the event-driven transitions after its local part
    evented = [False] * len(owner)
    for r in sorted(todo):
        evented[r] = (
            serial
            or is_async[r]
            or any(i in todo and (evented[i] or owner[i] != owner[r]) for i in graph.inputs[r])
        )
    if serial:
        local_extra, event_extra = 0.0, max(0.0, cal.driver_node_s - cal.node_s)
    elif changed is None:
        local_extra = max(0.0, cal.worker_node_s - cal.node_s)
        event_extra = max(0.0, cal.event_node_s - cal.node_s)
    else:  # a cycle: the calibrated per-node cost of a tick (no loading), set per worker below
        local_extra = event_extra = max(0.0, cal.cycle_node_s - cal.node_s)
    involved = sorted({owner[r] for r in todo})
    computing = n_workers if changed is None or serial else len(involved)
    slow = 1.0 if cores is None else max(1.0, computing / cores)
    size = [FLOAT_BYTES] * len(owner) if sizes is None else list(sizes)
    wait = [0.0] * len(owner) if waits is None else list(waits)
    children = graph.children
    extra_of = [(local_extra, event_extra)] * n_workers
    if changed is not None and not serial:  # a tick: the cycle's size on each worker
        own = cal.cycle_node_s - cal.node_s - cal.tick_node_s  # the worker's beyond serial
        counts = [0] * n_workers
        for r in todo:
            counts[owner[r]] += 1
        for w in involved:
            per = max(local_extra, extra(counts[w]) + max(0.0, own))
            extra_of[w] = (per, per)
    # the parent's messages to each worker and back (``edge`` one way), and a remote
    # worker's wait for its share's bytes at start-up (module docstring of .network)
    edge = [0.0] * n_workers
    if not serial:
        here = net.link(cal, 0, 0)
        for w in involved:
            link = net.link(cal, 0, host[w])
            if changed is None:
                edge[w] = link.one_way_s
            else:  # the calibrated round trip of a tick, on this network's transport
                edge[w] = cal.cycle_s / 2 + (here.latency_s - cal.latency_s) + link.wire_latency_s
    start = list(edge)
    if changed is None and not serial and any(host[w] for w in involved):
        structure_b, node_b = ship_bytes if ship_bytes is not None else shipping_bytes(graph)
        wire_byte_s = 8.0 / net.bandwidth_bps
        nodes = [0] * n_workers
        for r in todo:
            nodes[owner[r]] += 1
        remote = [w for w in involved if host[w]]
        sent = float(len(remote) * structure_b)  # the structure to every remote worker first
        for w in remote:
            sent += nodes[w] * node_b
            start[w] += sent * wire_byte_s
    waiting = [0] * len(owner)
    for r in todo:
        waiting[r] = sum(1 for i in dict.fromkeys(graph.inputs[r]) if i in todo)
    local: list[list[int]] = [[] for _ in range(n_workers)]
    ready: list[list[int]] = [[] for _ in range(n_workers)]
    for r in sorted(todo):
        if not evented[r]:
            local[owner[r]].append(r)
        elif waiting[r] == 0:
            ready[owner[r]].append(r)
    for heap in ready:
        heapq.heapify(heap)
    clock = list(start)
    busy = [0.0] * n_workers
    launched: list[list[int]] = [[] for _ in range(n_workers)]  # async nodes not yet begun
    outbox: list[dict[int, list[int]]] = [{} for _ in range(n_workers)]
    # per worker: (time, seq, ranks, local) — values arriving (local=False) or async nodes
    # finishing their wait on this worker (local=True)
    inbox: list[list[tuple[float, int, list[int], bool]]] = [[] for _ in range(n_workers)]
    seq = 0
    messages = values_sent = bytes_sent = 0

    def release(w: int, r: int) -> None:
        """``r``'s value exists on ``w``: readers there may start, others get it sent."""
        for c in children[r]:
            if c not in todo:
                continue
            d = owner[c]
            if d == w:
                waiting[c] -= 1
                if waiting[c] == 0 and evented[c]:
                    heapq.heappush(ready[w], c)
            else:
                sent = outbox[w].setdefault(d, [])
                if not sent or sent[-1] != r:
                    sent.append(r)

    def arrive(w: int, ranks: list[int]) -> None:
        for r in ranks:
            for c in children[r]:
                if c in todo and owner[c] == w:
                    waiting[c] -= 1
                    if waiting[c] == 0:
                        heapq.heappush(ready[w], c)

    def flush(w: int, t: float) -> float:
        """Send ``w``'s outbox, one message per destination; the time after sending."""
        nonlocal seq, messages, values_sent, bytes_sent
        for d in sorted(outbox[w]):
            ranks = outbox[w][d]
            nbytes = sum(size[r] for r in ranks)
            link = net.link(cal, host[w], host[d])
            send = link.cpu_s(nbytes)
            t += send
            busy[w] += send
            seq += 1
            arrival = t + link.flight_s(nbytes)
            heapq.heappush(inbox[d], (arrival, seq, ranks, False))
            heapq.heappush(agenda, (arrival, d))
            messages += 1
            values_sent += len(ranks)
            bytes_sent += nbytes
        outbox[w] = {}
        return t

    # agenda: (time of the worker's next action, worker); one entry per worker with work
    agenda = [(start[w], w) for w in involved if ready[w] or local[w]]
    if changed is None:  # start-up begins the async nodes fed by sources before anything
        for w in involved:
            begun = [r for r in ready[w] if is_async[r]]
            if not begun:
                continue
            ready[w] = [r for r in ready[w] if not is_async[r]]
            heapq.heapify(ready[w])
            t = start[w]
            for r in sorted(begun):
                dt = (costs[r] + extra_of[w][1]) * slow
                t += dt
                busy[w] += dt
                seq += 1
                heapq.heappush(inbox[w], (t + wait[r], seq, [r], True))
                agenda.append((t + wait[r], w))
            clock[w] = t
    heapq.heapify(agenda)
    while agenda:
        t, w = heapq.heappop(agenda)
        t = max(t, clock[w])
        if local[w]:  # the local part first, in one sync loop, then its exports go out
            dt = sum(costs[r] + extra_of[w][0] for r in local[w]) * slow
            t += dt
            busy[w] += dt
            for r in local[w]:
                release(w, r)
            local[w] = []
            t = flush(w, t)
        box = inbox[w]
        while box and box[0][0] <= t:
            _, _, ranks, own = heapq.heappop(box)
            if own:
                release(w, ranks[0])
            else:
                arrive(w, ranks)
        if ready[w]:
            r = heapq.heappop(ready[w])
            if is_async[r]:  # a task: it begins when the worker next waits
                launched[w].append(r)
            else:
                dt = (costs[r] + extra_of[w][1]) * slow
                t += dt
                busy[w] += dt
                release(w, r)
        if not ready[w] and not (box and box[0][0] <= t):
            t = flush(w, t)
            for r in launched[w]:  # the worker waits: its new tasks run to their awaits
                dt = (costs[r] + extra_of[w][1]) * slow
                t += dt
                busy[w] += dt
                seq += 1
                heapq.heappush(box, (t + wait[r], seq, [r], True))
                heapq.heappush(agenda, (t + wait[r], w))
            launched[w] = []
        clock[w] = max(clock[w], t)
        if ready[w] or (box and box[0][0] <= t):
            heapq.heappush(agenda, (t, w))
    makespan = max((clock[w] + edge[w] for w in involved), default=0.0) + collect
    makespan += float(sum(costs[r] for r in here_last))  # the parent's own, after the workers
    # processes spawn on whole cores: a share above one core (1.44 of 2 measured) still
    # spawns two at once (make demo: 2 spawned in 270 ms where one takes 200)
    rounds = math.ceil(n_workers / max(1, math.ceil(cores - 1e-9))) if cores else 1
    return Prediction(
        workers=n_workers,
        makespan_s=makespan,
        spawn_s=0.0 if serial else cal.spawn_s * rounds,
        busy_s=tuple(busy),
        messages=messages,
        values_sent=values_sent,
        bytes_sent=bytes_sent,
    )


def _affected(graph: Graph, changed: Iterable[int]) -> frozenset[int]:
    """The nodes a batch of source ranks reaches (the sources themselves left out)."""
    seen: set[int] = set()
    stack = list(changed)
    while stack:
        for c in graph.children[stack.pop()]:
            if c not in seen:
                seen.add(c)
                stack.append(c)
    return frozenset(seen)
