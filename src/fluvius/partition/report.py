"""The partition report: is this assignment of nodes to workers good, how far would it scale?

:func:`partition_report` gathers, for one graph, costs and worker count:

* per worker: nodes owned, estimated work (sum of costs), cross-partition edges in and out,
  and the values and bytes it sends (one value per destination worker, however many
  readers it has there; sources come with the graph and are never sent);
* the lower bound on the start-up makespan, ``max(critical path, total work / workers)``:
  no schedule on that many workers can beat it, so ``bound / makespan`` is an efficiency;
* the simulator's predicted makespan (:mod:`fluvius.partition.simulate`) for each
  partitioner at 1, 2, 4, 8, 16 and 64 worker processes, with one core per worker (the
  graph's own scalability) and with the cores of this machine; and the serial scheduler's
  (the sum of the costs), which the process figures are to be compared with.

* the *verdict* (:class:`Verdict`): for the serial scheduler and 2, 4 ... 64 workers on
  this machine's cores, the predicted start-up, the latency of a single-source tick (the
  source whose tick reaches the most nodes, e.g. one underlying's spot) and of a
  market-wide tick (every source named like it, e.g. all the spots in one batch), and a
  recommended worker count. The serial start-up is what ``start()`` measures: the nodes
  and the closing collection of the heap (a :class:`~fluvius.partition.profile.Profile`'s
  measured ``collect_s``, else ``gc_item_s`` per item: the same call to
  :func:`~fluvius.partition.simulate.simulate` a benchmark makes). Compared with workers,
  it is taken less ``Profile.collect_base_s``, the collection of what the process holds
  besides the started graph, which is there whichever scheduler runs the graph. A worker
  count pays when its start-up beats that by more than 5 % and, if its one-source tick is
  slower than serial's, by more than spawning its processes costs; the recommendation is
  the fewest paying workers within 5 % of the fastest, else "stay serial". All of it
  comes from the simulator with the calibrated per-node and per-message figures
  (:mod:`fluvius.partition.calibrate`), on this machine's cores or the ``cores`` given
  (:func:`~fluvius.partition.calibrate.measure_parallelism`).

Cross edges have one meaning everywhere (:meth:`Partition.cross_edges
<fluvius.partition.Partition.cross_edges>`): node-to-node edges whose ends are on different
workers; edges from sources are not counted (a source's value goes from the parent to each
worker that reads it).

The report is data (:class:`PartitionReport`, :meth:`PartitionReport.to_dict` for JSON)
that prints well: ``print(report)`` gives the text tables, and it is a rich renderable
(``rich.print(report)``); ``fluvius partition`` prints the same and can add a measured run
(``--run``). Costs may be a :class:`~fluvius.partition.profile.Profile`, so a graph built in
Python is profiled and reported on without a spec file::

    report = partition_report(graph, 2, costs=profile_graph(graph))
    print(report)
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group

from fluvius.partition._ticks import tick_sources
from fluvius.partition.base import Partition
from fluvius.partition.calibrate import Calibration, default_calibration
from fluvius.partition.cost import check_costs, critical_path_s, estimate_costs
from fluvius.partition.network import NETWORKS, Network, parse_network, shipping_bytes
from fluvius.partition.profile import Profile
from fluvius.partition.registry import auto_candidates, partition_graph
from fluvius.partition.simulate import FLOAT_BYTES, simulate

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from fluvius.graph.dag import Graph
    from fluvius.partition.base import Partitioner

__all__ = [
    "SCALING_WORKERS",
    "PartitionReport",
    "Verdict",
    "VerdictRow",
    "WorkerShare",
    "partition_report",
]

SCALING_WORKERS = (1, 2, 4, 8, 16, 64)
"""The worker counts the report predicts a makespan for."""


@dataclass(frozen=True, slots=True)
class WorkerShare:
    """One worker's part of a partition."""

    worker: int
    nodes: int
    work_s: float
    edges_in: int
    edges_out: int
    values_out: int
    bytes_out: int


SERIAL_MARGIN = 0.05
"""A worker count is recommended over the serial scheduler only when its predicted start-up
is more than this fraction faster."""


@dataclass(frozen=True, slots=True)
class VerdictRow:
    """Predicted seconds for one worker count on this machine (``workers == 1``: serial)."""

    workers: int
    startup_s: float
    tick_s: float
    market_tick_s: float
    spawn_s: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """The predicted start-up and tick latencies per worker count, and the recommendation.

    Attributes
    ----------
    rows
        One :class:`VerdictRow` per worker count; the first is the serial scheduler.
    recommended
        The recommended worker count; 1 means stay serial.
    reason
        One sentence that says why, with the figures.
    tick_source
        The source of the single-source tick (the one reaching the most nodes).
    market_sources
        How many sources the market-wide tick changes (those named like ``tick_source``).
    partitioner
        The partitioner the rows of 2 workers and more were predicted with.
    cores
        The cores the predictions assume per host (this machine's, or the ``cores`` given
        to :func:`partition_report`).
    network
        The network the rows were predicted on (:mod:`fluvius.partition.network`).
    """

    rows: tuple[VerdictRow, ...]
    recommended: int
    reason: str
    tick_source: str
    market_sources: int
    partitioner: str
    cores: float
    network: str = "local"


@dataclass(slots=True)
class PartitionReport:
    """See the module docstring; ``predictions[name][n]`` is a predicted makespan in seconds
    (one core per worker) and ``predictions_here`` the same on this machine's cores (per
    host, on a network of several hosts); ``network`` names the network of every
    prediction and ``hosts`` the hosts that ``workers`` workers occupy on it;
    ``partition_costs`` says which costs the partitions were made with ("estimates",
    "given"): those the scheduler partitions with (:func:`partition_report`)."""

    workers: int
    partitioner: str
    cost_source: str
    nodes: int
    sources: int
    total_work_s: float
    critical_path_s: float
    lower_bound_s: float
    serial_s: float
    predicted_s: float
    predicted_here_s: float
    spawn_s: float
    cores: float
    shares: list[WorkerShare]
    predictions: dict[str, dict[int, float]]
    predictions_here: dict[str, dict[int, float]]
    calibration: dict[str, float]
    cross_edges: int = 0
    wait_s: float = 0.0
    verdict: Verdict | None = None
    measured: dict[str, Any] | None = field(default=None)
    network: str = "local"
    hosts: int = 1
    collect_s: float = 0.0
    collect_base_s: float = 0.0
    partition_costs: str = "estimates"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (worker counts become string keys)."""
        doc = asdict(self)
        for key in ("predictions", "predictions_here"):
            doc[key] = {name: {str(n): s for n, s in row.items()} for name, row in doc[key].items()}
        return doc

    def __rich__(self) -> Group:
        """The report as rich tables (``rich.print(report)``, ``fluvius partition``)."""
        from fluvius.partition._report_text import render

        return Group(*render(self))

    def __str__(self) -> str:
        out = io.StringIO()
        Console(file=out, width=100, color_system=None, force_terminal=False).print(self)
        return out.getvalue().rstrip("\n")


def worker_shares(
    graph: Graph, partition: Partition, costs: Sequence[float], sizes: Sequence[int]
) -> list[WorkerShare]:
    """Per-worker nodes, work and cross-partition traffic of ``partition``."""
    owner = partition.owner
    sources = frozenset(graph.sources)
    nodes = [0] * partition.workers
    work = [0.0] * partition.workers
    edges_in = [0] * partition.workers
    edges_out = [0] * partition.workers
    sent: set[tuple[int, int]] = set()
    for r in range(len(graph.items)):
        if r not in sources:
            nodes[owner[r]] += 1
            work[owner[r]] += costs[r]
    for i, r in partition.cross_edges(graph):
        if i in sources:
            continue
        edges_out[owner[i]] += 1
        edges_in[owner[r]] += 1
        sent.add((i, owner[r]))
    values_out = [0] * partition.workers
    bytes_out = [0] * partition.workers
    for i, _ in sent:
        values_out[owner[i]] += 1
        bytes_out[owner[i]] += sizes[i]
    return [
        WorkerShare(w, nodes[w], work[w], edges_in[w], edges_out[w], values_out[w], bytes_out[w])
        for w in range(partition.workers)
    ]


def partition_report(
    graph: Graph,
    workers: int,
    partitioner: str | Partitioner = "auto",
    costs: Sequence[float] | Profile | None = None,
    *,
    sizes: Sequence[int] | None = None,
    calibration: Calibration | None = None,
    cost_source: str = "",
    scaling: Sequence[int] = SCALING_WORKERS,
    waits: Sequence[float] | None = None,
    tick_source: str | None = None,
    network: Network | str | None = None,
    cores: float | None = None,
    partition_costs: Sequence[float] | str | None = "scheduler",
) -> PartitionReport:
    """Report on partitioning ``graph`` for ``workers`` workers (see the module docstring).

    Parameters
    ----------
    graph, workers, partitioner
        As for :func:`~fluvius.partition.partition_graph`.
    costs
        Seconds per item by rank, or a :class:`~fluvius.partition.profile.Profile` (its
        costs, sizes and async waits); default: estimates.
    sizes
        Bytes of each value when sent, by rank (e.g. from a profile); default: a float each.
    calibration
        Machine figures; default :func:`default_calibration`.
    cost_source
        Where the costs came from, for the reader (default: "estimates", "profile" or
        "given").
    scaling
        Worker counts to predict for.
    waits
        Seconds each async node waits without computing, by rank (default: the profile's,
        else none).
    tick_source
        The source key of the single-source tick (default: the source reaching the most
        nodes); the market-wide tick changes every source named like it.
    network
        Where the workers run (a :class:`~fluvius.partition.network.Network` or its spec:
        ``"local"``, ``"loopback"``, ``"10gbit:50us"``, ``"10gbit:50us:8"``); default
        ``local``, the process scheduler on this machine. On several hosts, each host is
        taken to have this machine's cores.
    cores
        The cores the workers share on a host (may be fractional); default this machine's
        count. On a shared machine (a VM, other programs busy) two busy processes get
        less: :func:`~fluvius.partition.calibrate.measure_parallelism` measures what they
        get, and passing it predicts the workers' start-up and ticks as they will run.
    partition_costs
        The costs the partitions are made with, so that the report describes the
        partition the scheduler will use: by default (``"scheduler"``) those
        ``ProcessScheduler`` gets from the same inputs, i.e. ``costs`` when they are a
        sequence (``fluvius partition --costs FILE`` and ``fluvius run --costs FILE``) and
        its estimates when ``costs`` is a profile or None (``ProcessScheduler(n)`` without
        ``costs=``). Pass ``profile.costs`` when the scheduler is given them
        (``ProcessScheduler(n, costs=profile.costs)``), or None for the estimates. The
        predictions always compute with ``costs``.

    Examples
    --------
    >>> from fluvius import GraphBuilder
    >>> b = GraphBuilder()
    >>> ends = [b.node(f"c{i}", lambda v: v, b.source(f"s{i}", 1.0)) for i in range(4)]
    >>> _ = b.node("total", lambda *v: sum(v), *ends)
    >>> r = partition_report(b.build(), 2, "components", [0, 1, 0, 1, 0, 1, 0, 1, 0.5])
    >>> [s.work_s for s in r.shares], r.lower_bound_s, r.cross_edges
    ([2.5, 2.0], 2.25, 2)
    """
    cal = calibration or default_calibration()
    collect: float | None = None  # the serial start-up's collection: measured, else estimated
    tick_extra = costs.tick_extra_s if isinstance(costs, Profile) else None
    base = 0.0  # the part of it that is not the graph's (Profile.collect_base_s)
    if isinstance(costs, Profile):
        sizes = costs.sizes if sizes is None else sizes
        waits = (costs.waits or None) if waits is None else waits
        resolved = check_costs(graph, costs.costs)
        cost_source = cost_source or "profile"
        collect, base = costs.collect_s, costs.collect_base_s or 0.0
    elif costs is None:
        resolved = estimate_costs(graph, cal)
        cost_source = cost_source or "estimates"
    else:
        resolved = check_costs(graph, costs)
        cost_source = cost_source or "given"
    size = tuple(sizes) if sizes is not None else (FLOAT_BYTES,) * len(graph.items)
    if cores is not None and not cores > 0:
        raise ValueError(f"cores must be > 0, got {cores!r}")
    cores = float(cores) if cores is not None else float(os.cpu_count() or 1)
    net = parse_network(network) if network is not None else NETWORKS["local"]
    many_hosts = any(net.hosts(n) > 1 for n in (*scaling, workers))
    ship = shipping_bytes(graph) if many_hosts else None
    if isinstance(partition_costs, str):
        if partition_costs != "scheduler":
            raise ValueError(
                f"partition_costs must be costs, None or 'scheduler', got {partition_costs!r}"
            )
        split: Sequence[float] | None = (
            None if isinstance(costs, Profile) or costs is None else resolved
        )
    else:
        split = None if partition_costs is None else check_costs(graph, partition_costs)
    chosen = partition_graph(graph, workers, partitioner, split)
    names = list(dict.fromkeys([*auto_candidates(), chosen.partitioner]))
    predictions: dict[str, dict[int, float]] = {}
    here: dict[str, dict[int, float]] = {}
    parts: dict[tuple[str, int], Partition] = {}

    def sim(part: Partition, **kw: Any) -> float:
        return simulate(
            graph, resolved, part, cal, sizes=size, waits=waits, network=net, ship_bytes=ship,
            **kw,
        ).makespan_s  # fmt: skip

    for name in names:
        predictions[name], here[name] = {}, {}
        for n in scaling:
            part = chosen if (n == workers and name == chosen.partitioner) else None
            if part is None:
                if name not in auto_candidates():
                    continue  # a partitioner function given by the caller: only at ``workers``
                part = partition_graph(graph, n, name, split)
            parts[name, n] = part
            predictions[name][n] = sim(part)
            avail = cores * net.hosts(n)
            # enough cores: the same simulation
            here[name][n] = predictions[name][n] if n <= avail else sim(part, cores=avail)
    total = sum(resolved)
    critical = critical_path_s(
        graph, resolved if not waits else [c + w for c, w in zip(resolved, waits, strict=True)]
    )
    mine = simulate(
        graph, resolved, chosen, cal, sizes=size, waits=waits, network=net, ship_bytes=ship
    )
    mine_here = simulate(
        graph, resolved, chosen, cal, sizes=size, cores=cores * net.hosts(workers),
        waits=waits, network=net, ship_bytes=ship,
    )  # fmt: skip
    if collect is None:
        collect = cal.gc_item_s * len(graph.items)
    serial = simulate(
        graph, resolved, Partition(1, (0,) * len(graph.items), "serial"), cal, serial=True,
        waits=waits, collect_s=collect,
    )  # fmt: skip
    report = PartitionReport(
        workers=workers,
        partitioner=chosen.partitioner,
        cost_source=cost_source,
        nodes=len(graph),
        sources=len(graph.sources),
        total_work_s=total,
        critical_path_s=critical,
        lower_bound_s=max(critical, total / workers),
        serial_s=serial.makespan_s,
        predicted_s=mine.makespan_s,
        predicted_here_s=mine_here.makespan_s,
        spawn_s=mine_here.spawn_s,
        cores=cores,
        shares=worker_shares(graph, chosen, resolved, size),
        predictions=predictions,
        predictions_here=here,
        calibration=cal.to_dict(),
        cross_edges=len(chosen.cross_edges(graph)),
        wait_s=sum(waits) if waits else 0.0,
        network=net.name,
        hosts=net.hosts(workers),
        collect_s=collect,
        collect_base_s=min(base, collect),
        partition_costs="estimates" if split is None else "given",
    )
    if graph.sources:
        report.verdict = _verdict(
            graph, resolved, size, waits, cal, report, parts, tick_source, net, tick_extra
        )
    return report


def _verdict(
    graph: Graph,
    costs: Sequence[float],
    sizes: Sequence[int],
    waits: Sequence[float] | None,
    cal: Calibration,
    report: PartitionReport,
    parts: dict[tuple[str, int], Partition],
    tick_source: str | None,
    net: Network,
    tick_extra: Callable[[int], float | None] | None,
) -> Verdict:
    one, market = tick_sources(graph, tick_source)
    single = Partition(1, (0,) * len(graph.items), "serial")
    name = report.partitioner if report.partitioner in auto_candidates() else "auto"
    cores = report.cores

    # the process scheduler computes the cheap totals across workers in the parent
    # (simulate's parent_nodes); on other networks (Dask, hosts) workers compute them
    here = net.name == "local"

    def run(part: Partition, changed: list[int] | None, serial: bool = False) -> float:
        return simulate(
            graph, costs, part, cal, sizes=sizes,
            cores=None if serial else cores * net.hosts(part.workers),
            serial=serial, waits=waits, changed=changed, network=net,
            parent_nodes=here and not serial, tick_extra=tick_extra,
        ).makespan_s  # fmt: skip

    rows = [
        VerdictRow(1, report.serial_s, run(single, [one], True), run(single, market, True), 0.0)
    ]
    for n in sorted(report.predictions_here.get(name, {})):
        if n < 2:
            continue
        part = parts[name, n]
        start = run(part, None) if here else report.predictions_here[name][n]
        per_host = n if net.workers_per_host is None else min(n, net.workers_per_host)
        # hosts start their workers at once, on whole cores (simulate's spawn rounds)
        rounds = -(-per_host // max(1, math.ceil(cores - 1e-9)))
        spawn = cal.spawn_s * rounds
        rows.append(VerdictRow(n, start, run(part, [one]), run(part, market), spawn))
    serial_row = rows[0]
    # The serial start-up collects the whole heap; what the process holds besides the
    # started graph (imports, the graph's definition: report.collect_base_s) is there
    # whichever scheduler runs the graph: the comparison leaves it out.
    serial_cmp = serial_row.startup_s - report.collect_base_s
    base = (
        f", {report.collect_base_s * 1e3:,.2f} ms of which collects what the process holds "
        f"besides the started graph (left out of the comparison)"
        if report.collect_base_s
        else ""
    )

    def pays(r: VerdictRow) -> bool:
        """Faster to start by the margin, and, when its one-source tick is slower than
        serial's, by more than spawning its processes costs (else ticks lose for a gain a
        cold start does not even see)."""
        gain = serial_cmp - r.startup_s
        return gain > SERIAL_MARGIN * serial_cmp and (
            r.tick_s <= serial_row.tick_s or gain > r.spawn_s
        )

    good = [r for r in rows[1:] if pays(r)]
    if not good:
        best = serial_row
        parallel = rows[1:]
        alt = min(parallel, key=lambda r: (r.startup_s, r.workers)) if parallel else None
        if alt is None or serial_cmp - alt.startup_s <= SERIAL_MARGIN * serial_cmp:
            reason = (
                f"stay serial: no worker count is predicted to start more than "
                f"{SERIAL_MARGIN:.0%} faster than the serial scheduler's "
                f"{serial_row.startup_s * 1e3:,.2f} ms{base}"
            )
            if alt is not None:
                reason += (
                    f" (best: {alt.workers} workers, {alt.startup_s * 1e3:,.2f} ms; one-source "
                    f"tick {alt.tick_s * 1e3:,.2f} ms vs {serial_row.tick_s * 1e3:,.2f} ms serial)"
                )
        else:
            reason = (
                f"stay serial: {alt.workers} workers would start "
                f"{(serial_cmp - alt.startup_s) * 1e3:,.2f} ms sooner on running processes "
                f"({alt.startup_s * 1e3:,.2f} ms vs {serial_row.startup_s * 1e3:,.2f} ms "
                f"serial{base}), less than the {alt.spawn_s * 1e3:,.0f} ms it takes to spawn "
                f"them, and their one-source tick is slower ({alt.tick_s * 1e3:,.2f} ms vs "
                f"{serial_row.tick_s * 1e3:,.2f} ms)"
            )
    else:
        fastest = min(r.startup_s for r in good)
        # the fewest workers within the margin of the fastest: processes cost spawns, memory
        best = min(
            (r for r in good if r.startup_s <= (1.0 + SERIAL_MARGIN) * fastest),
            key=lambda r: r.workers,
        )
        on = "" if net.name == "local" else f" on {net.name}"
        reason = (
            f"use {best.workers} workers{on} ({name}): start-up {best.startup_s * 1e3:,.2f} ms vs "
            f"{serial_row.startup_s * 1e3:,.2f} ms serial{base} "
            f"({serial_cmp / best.startup_s:.2f}x), plus {best.spawn_s * 1e3:,.0f} ms "
            f"to spawn the processes once; one-source tick {best.tick_s * 1e3:,.2f} ms vs "
            f"{serial_row.tick_s * 1e3:,.2f} ms serial; market-wide tick "
            f"{best.market_tick_s * 1e3:,.2f} ms vs {serial_row.market_tick_s * 1e3:,.2f} ms"
        )
    return Verdict(
        tuple(rows), best.workers, reason, graph.keys[one], len(market), name, cores, net.name
    )
