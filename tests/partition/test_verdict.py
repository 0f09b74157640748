"""Issue 11, item 4: sources keep their readers together, one meaning of cross edges, the
simulator's async waits and ticks, and the report's verdict (printed from Python)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from fluvius import GraphBuilder
from fluvius.graph import Graph
from fluvius.partition import Calibration, Partition, partition_graph
from fluvius.partition.components import components
from fluvius.partition.profile import Profile, profile_graph
from fluvius.partition.report import Verdict, partition_report
from fluvius.partition.simulate import simulate

FREE = Calibration(
    0.0,
    start_s=0.0,
    worker_node_s=0.0,
    event_node_s=0.0,
    latency_s=0.0,
    byte_s=0.0,
    driver_node_s=0.0,
    gc_item_s=0.0,
)


def _underlyings(count: int, options: int, *, shared: bool = False) -> Graph:
    """Per underlying ``u<i>/spot`` read by a statistic and by ``options`` option nodes that
    only read sources, a sum of the options; with ``shared``, a ``rate`` read by all."""
    b = GraphBuilder()
    rate = b.source("rate", 0.01) if shared else None
    for i in range(count):
        spot = b.source(f"u{i}/spot", 100.0 + i)
        b.node(f"u{i}/stat", lambda s: s * 2.0, spot)
        opts = [
            b.node(f"u{i}/opt/{j}", (lambda s, j=j: s + j), spot)
            if rate is None
            else b.node(f"u{i}/opt/{j}", (lambda s, r, j=j: s + r + j), spot, rate)
            for j in range(options)
        ]
        b.node(f"u{i}/sum", lambda *v: sum(v), *opts)
    return b.build()


def _owners(graph: Graph, part: Partition, prefix: str) -> set[int]:
    return {part.owner[graph.index[k]] for k in graph.keys if k.startswith(prefix)}


@pytest.mark.parametrize("shared", [False, True])
def test_components_keeps_a_source_with_all_its_readers(shared: bool) -> None:
    g = _underlyings(4, 5, shared=shared)
    part = components(g, 2)
    for i in range(4):
        assert len(_owners(g, part, f"u{i}/")) == 1, i  # spot, statistic, options, sum
    # the rate read by every underlying does not glue them onto one worker
    assert {part.owner[g.index[f"u{i}/sum"]] for i in range(4)} == {0, 1}
    if shared:
        assert part.source_readers(g)[g.index["rate"]] == (0, 1)
    assert part.source_readers(g)[g.index["u0/spot"]] == (part.owner[g.index["u0/sum"]],)


def test_cross_edges_are_node_to_node_edges_between_workers() -> None:
    b = GraphBuilder()
    x = b.source("x", 1.0)
    a = b.node("a", lambda v: v, x)
    b.node("b", lambda u, v, w: u + v + w, a, a, x)  # a listed twice, a source edge
    g = b.build()
    part = Partition(2, (0, 0, 1), "hand")
    assert part.cross_edges(g) == [(1, 2)]  # once; the edge from the source x is not one
    assert part.source_readers(g) == {0: (0, 1)}
    assert Partition(2, (1, 0, 0), "hand").cross_edges(g) == []


def _async_fan() -> Graph:
    b = GraphBuilder()
    src = b.source("s", 1.0)

    async def load(v: float) -> float:
        await asyncio.sleep(0)
        return v

    loads = [b.node(f"load{i}", load, src) for i in range(3)]
    b.node("total", lambda *v: sum(v), *loads)
    return b.build()


def test_async_waits_overlap_other_work() -> None:
    g = _async_fan()
    costs = [0.0, 1.0, 1.0, 1.0, 1.0]
    waits = [0.0, 10.0, 10.0, 10.0, 0.0]
    one = Partition(1, (0,) * 5, "one")
    # serially: the three loads compute one after the other, their waits overlap
    assert simulate(g, costs, one, FREE, serial=True, waits=waits).makespan_s == pytest.approx(
        3.0 + 10.0 + 1.0
    )
    assert simulate(g, costs, one, FREE, serial=True).makespan_s == pytest.approx(4.0)
    two = Partition(2, (0, 0, 1, 0, 0), "hand")
    assert simulate(g, costs, two, FREE, waits=waits).makespan_s == pytest.approx(2.0 + 10 + 1)


def test_a_tick_computes_what_its_sources_reach_on_the_workers_involved() -> None:
    g = _underlyings(2, 3)
    costs = [0.0 if r in g.sources else 1.0 for r in range(len(g.items))]
    part = components(g, 2)
    cal = Calibration(0.0, latency_s=0.5, byte_s=0.0, cycle_s=1.0, cycle_node_s=0.5)
    spot = g.index["u0/spot"]
    tick = simulate(g, costs, part, cal, changed=[spot])
    # the round trip, then stat, 3 options and sum, each with its cycle overhead
    assert tick.makespan_s == pytest.approx(1.0 + 5 * 1.5)
    assert tick.messages == 0
    both = simulate(g, costs, part, cal, changed=[spot, g.index["u1/spot"]])
    assert both.makespan_s == pytest.approx(tick.makespan_s)  # one underlying per worker
    serial = simulate(g, costs, Partition(1, (0,) * len(costs), "s"), serial=True, changed=[spot])
    assert serial.makespan_s == pytest.approx(5.0)


def test_verdict_stays_serial_on_cheap_nodes_and_parallel_on_heavy_ones() -> None:
    g = _underlyings(4, 5)
    cheap = [0.0 if r in g.sources else 1e-6 for r in range(len(g.items))]
    cal = Calibration(
        node_s=1e-7,
        worker_node_s=1e-5,
        event_node_s=2e-5,
        latency_s=2e-4,
        spawn_s=0.5,
        cycle_s=3e-4,
        cycle_node_s=2e-6,
    )
    report = partition_report(g, 2, "components", cheap, calibration=cal, scaling=(1, 2, 4))
    v = report.verdict
    assert isinstance(v, Verdict)
    assert v.recommended == 1
    assert v.reason.startswith("stay serial")
    assert [r.workers for r in v.rows] == [1, 2, 4]
    assert v.tick_source == "u0/spot"
    assert v.market_sources == 4
    heavy = [0.0 if r in g.sources else 0.01 for r in range(len(g.items))]
    # 0.28 s serially, 0.14 s on 2 workers: the gain is less than spawning them (0.5 s)
    # and the one-source tick is slower on workers: no reason to use them
    report = partition_report(g, 2, "components", heavy, calibration=cal, scaling=(1, 2, 4))
    v = report.verdict
    assert v is not None
    assert v.recommended == 1
    assert "less than the 500 ms it takes to spawn them" in v.reason
    cal = dataclasses.replace(cal, spawn_s=0.05)  # cheap processes: the gain pays for them
    report = partition_report(g, 2, "components", heavy, calibration=cal, scaling=(1, 2, 4))
    v = report.verdict
    assert v is not None
    assert v.recommended in (2, 4)
    assert v.reason.startswith(f"use {v.recommended} workers")
    serial, two = v.rows[0], v.rows[1]
    assert two.startup_s < serial.startup_s
    assert two.market_tick_s < serial.market_tick_s  # the spots move on both workers at once
    assert two.tick_s > serial.tick_s  # one spot: one worker, plus two messages


def test_report_prints_well_and_profiles_a_python_graph() -> None:
    g = _underlyings(2, 3)
    profile = profile_graph(g, repeats=1)
    report = partition_report(g, 2, costs=profile, scaling=(1, 2))
    assert report.cost_source == "profile"
    text = str(report)
    assert "verdict:" in text
    assert "one-source tick ms" in text
    assert "cross edges" in text
    assert not text.startswith("PartitionReport(")
    with pytest.raises(ValueError, match="tick_source 'u0/stat' is not a source"):
        partition_report(g, 2, costs=profile, tick_source="u0/stat")


def test_the_profile_measures_the_collection_with_the_graph_alive() -> None:
    g = _underlyings(2, 3)
    profile = profile_graph(g, repeats=1)
    assert profile.collect_s is not None  # measured, with this process's heap
    assert profile.collect_s > 0.0


def _profile(g: Graph, node_s: float, collect_s: float, base_s: float) -> Profile:
    costs = tuple(0.0 if r in g.sources else node_s for r in range(len(g.items)))
    return Profile(costs, (9,) * len(costs), 1, 0.0, (), collect_s, base_s)


CHEAP = Calibration(
    node_s=1e-7,
    worker_node_s=1e-6,
    event_node_s=2e-6,
    latency_s=5e-5,
    spawn_s=0.01,
    cycle_s=1e-4,
    cycle_node_s=2e-7,
    start_s=1e-3,
)


def test_the_report_charges_the_measured_collection_like_the_simulator() -> None:
    g = _underlyings(4, 50)
    prof = _profile(g, 2e-5, collect_s=0.4, base_s=0.01)  # the graph's share: 0.39 s
    report = partition_report(g, 2, "components", prof, calibration=CHEAP, scaling=(1, 2))
    one = Partition(1, (0,) * len(g.items), "serial")
    model = simulate(g, prof.costs, one, CHEAP, serial=True, collect_s=0.4).makespan_s
    assert report.serial_s == pytest.approx(model)  # one model: the simulator's
    assert report.serial_s == pytest.approx(sum(prof.costs) + 0.4)
    assert (report.collect_s, report.collect_base_s) == (0.4, 0.01)
    v = report.verdict
    assert v is not None
    assert v.rows[0].startup_s == pytest.approx(report.serial_s)
    # the graph's own collection (0.39 s) is what workers spare the start-up: use them
    assert v.recommended == 2
    assert "10.00 ms of which collects" in v.reason
    estimated = partition_report(g, 2, "components", prof.costs, calibration=CHEAP)
    assert estimated.serial_s == pytest.approx(sum(prof.costs) + CHEAP.gc_item_s * len(g.items))
    assert estimated.collect_base_s == 0.0


def test_a_small_graph_stays_serial_however_large_the_heap_it_lives_in() -> None:
    g = _underlyings(2, 3)
    # the process holds 50 ms of collection besides the graph: not the graph's doing
    prof = _profile(g, 1e-6, collect_s=0.0501, base_s=0.05)
    report = partition_report(g, 2, "components", prof, calibration=CHEAP, scaling=(1, 2, 4))
    v = report.verdict
    assert v is not None
    assert report.serial_s == pytest.approx(sum(prof.costs) + 0.0501)  # still predicted
    assert v.rows[1].startup_s < report.serial_s  # on workers, start() does not collect...
    assert v.recommended == 1  # ...but that is no reason to use them
    assert v.reason.startswith("stay serial")
    assert "50.00 ms of which collects what the process holds besides" in v.reason


def test_a_profiled_small_graph_stays_serial() -> None:
    g = _underlyings(3, 10)
    prof = profile_graph(g, repeats=3)
    assert prof.collect_s is not None
    assert prof.collect_base_s is not None
    assert prof.graph_collect_s == max(0.0, prof.collect_s - prof.collect_base_s)
    report = partition_report(g, 2, costs=prof)
    assert report.collect_base_s == pytest.approx(min(prof.collect_base_s, prof.collect_s))
    assert report.verdict is not None
    assert report.verdict.recommended == 1, report.verdict.reason


def test_partition_graph_auto_still_keeps_underlyings_whole() -> None:
    g = _underlyings(4, 5)
    part = partition_graph(g, 2, "auto")
    for i in range(4):
        assert len(_owners(g, part, f"u{i}/")) == 1, (i, part.partitioner)


def test_profile_counts_blocking_and_keeps_async_waits_apart() -> None:
    import time

    b = GraphBuilder()
    x = b.source("x", 1.0)

    def blocked(v: float) -> float:  # holds its worker for 3 ms, with next to no CPU
        time.sleep(0.003)
        return v

    async def fetched(v: float) -> float:
        await asyncio.sleep(0.003)
        return v

    b.node("blocked", blocked, x)
    b.node("fetched", fetched, x)
    g = b.build()
    profile = profile_graph(g, repeats=3)
    blocked_r, fetched_r = g.index["blocked"], g.index["fetched"]
    assert profile.costs[blocked_r] >= 0.0025  # a blocked synchronous node holds its worker
    assert profile.waits[blocked_r] == 0.0
    assert profile.costs[fetched_r] < 0.002
    assert profile.waits[fetched_r] >= 0.0025


def test_the_report_predicts_on_the_cores_it_is_given() -> None:
    g = _underlyings(4, 20)
    costs = [0.0 if r in g.sources else 1e-3 for r in range(len(g.items))]
    full = partition_report(g, 2, "components", costs, calibration=CHEAP, scaling=(1, 2))
    shared = partition_report(
        g, 2, "components", costs, calibration=CHEAP, scaling=(1, 2), cores=1.25
    )
    assert full.verdict is not None
    assert shared.verdict is not None
    assert shared.cores == 1.25
    # two workers on 1.25 cores compute 1.6x slower than on two
    assert shared.verdict.rows[1].startup_s > 1.5 * full.verdict.rows[1].startup_s - 0.01
    assert shared.verdict.rows[0] == full.verdict.rows[0]  # serial needs one core
    assert "1.25 cores" in str(shared)
    with pytest.raises(ValueError, match="cores must be > 0"):
        partition_report(g, 2, "components", costs, calibration=CHEAP, cores=0)
