"""The tick terms of the model: the cycle's cost per node beyond the profile (calibrated and
measured on the graph), the cores a tick's workers share, spawn rounds on whole cores, and
the report describing the partition the scheduler uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from fluvius import GraphBuilder
from fluvius.partition import Calibration, Partition, partition_graph
from fluvius.partition._ticks import tick_sources
from fluvius.partition.calibrate import _measure_tick_node
from fluvius.partition.profile import Profile, profile_graph
from fluvius.partition.report import partition_report
from fluvius.partition.simulate import _affected, simulate

if TYPE_CHECKING:
    from conftest import Chains
    from fluvius.graph import Graph

QUIET = Calibration(
    node_s=0.0,
    worker_node_s=0.0,
    event_node_s=0.0,
    latency_s=0.0,
    byte_s=0.0,
    start_s=0.0,
    cycle_s=0.0,
    cycle_node_s=0.0,
    tick_node_s=0.0,
)


def _costs(g: Graph, each: float) -> list[float]:
    return [0.0 if r in g.sources else each for r in range(len(g.items))]


def test_a_serial_tick_pays_the_calibrated_cycle_cost_per_node(chains: Chains) -> None:
    g = chains(2, 5)
    costs = _costs(g, 1e-3)
    one = Partition(1, (0,) * len(g.items), "one")
    src = g.index["c0/src"]
    reached = len(_affected(g, [src]))  # c0's 5 nodes and the total
    base = simulate(g, costs, one, QUIET, serial=True, changed=[src]).makespan_s
    assert base == pytest.approx(reached * 1e-3)
    cal = Calibration(tick_node_s=2e-4)
    tick = simulate(g, costs, one, cal, serial=True, changed=[src]).makespan_s
    assert tick == pytest.approx(reached * (1e-3 + 2e-4))
    # the start-up is not a cycle: it does not pay it
    start = simulate(g, costs, one, cal, serial=True, collect_s=0.0).makespan_s
    assert start == pytest.approx(sum(costs))


def test_a_profiled_tick_cost_depends_on_the_cycle_size(chains: Chains) -> None:
    g = chains(4, 5, total=False)
    costs = _costs(g, 1e-3)
    one = Partition(1, (0,) * len(g.items), "one")
    seen: list[int] = []

    def extra(n: int) -> float:
        seen.append(n)
        return 1e-4 * n  # more per node on a bigger cycle

    srcs = [g.index[f"c{i}/src"] for i in range(4)]
    small = simulate(g, costs, one, QUIET, serial=True, changed=srcs[:1], tick_extra=extra)
    big = simulate(g, costs, one, QUIET, serial=True, changed=srcs, tick_extra=extra)
    assert seen == [5, 20]
    assert small.makespan_s == pytest.approx(5 * (1e-3 + 5e-4))
    assert big.makespan_s == pytest.approx(20 * (1e-3 + 20e-4))
    # None from the profile (no tick measured) falls back to the calibration
    cal = Calibration(tick_node_s=3e-4)
    back = simulate(g, costs, one, cal, serial=True, changed=srcs[:1], tick_extra=lambda n: None)
    assert back.makespan_s == pytest.approx(5 * 1.3e-3)


def test_a_worker_pays_the_cycle_cost_of_its_own_share(chains: Chains) -> None:
    g = chains(2, 5, total=False)
    costs = _costs(g, 1e-3)
    owner = tuple(int(k[1]) for k in g.keys)  # chain c0 on worker 0, c1 on worker 1
    part = Partition(2, owner, "hand")
    srcs = [g.index["c0/src"], g.index["c1/src"]]
    sizes: list[int] = []

    def extra(n: int) -> float:
        sizes.append(n)
        return 4e-4

    # cycle_node_s - node_s - tick_node_s = 1e-4: the worker's own beyond the serial engine
    cal = Calibration(node_s=0.0, cycle_s=0.0, cycle_node_s=2e-4, tick_node_s=1e-4, latency_s=0.0)
    p = simulate(g, costs, part, cal, changed=srcs, tick_extra=extra)
    assert sorted(sizes) == [5, 5]  # each worker's share, not the whole cycle's 10
    assert p.makespan_s == pytest.approx(5 * (1e-3 + 4e-4 + 1e-4))
    # never below the calibrated cycle cost per node
    low = simulate(g, costs, part, cal, changed=srcs, tick_extra=lambda n: -5e-4)
    assert low.makespan_s == pytest.approx(5 * (1e-3 + 2e-4))


def test_a_tick_on_one_worker_is_not_slowed_by_the_other_workers_share(chains: Chains) -> None:
    g = chains(2, 5, total=False)
    costs = _costs(g, 1e-3)
    part = Partition(2, tuple(int(k[1]) for k in g.keys), "hand")
    one = [g.index["c0/src"]]
    both = [g.index["c0/src"], g.index["c1/src"]]
    alone = simulate(g, costs, part, QUIET, changed=one, cores=1.0).makespan_s
    assert alone == pytest.approx(5e-3)  # one worker computes: a whole core
    shared = simulate(g, costs, part, QUIET, changed=both, cores=1.0).makespan_s
    assert shared == pytest.approx(10e-3)  # two compute on one core
    start = simulate(g, costs, part, QUIET, cores=1.0).makespan_s
    assert start == pytest.approx(10e-3)  # the start-up: both workers


@pytest.mark.parametrize(("cores", "rounds"), [(1.0, 2), (1.44, 1), (2.0, 1), (None, 1)])
def test_processes_spawn_on_whole_cores(chains: Chains, cores: float | None, rounds: int) -> None:
    g = chains(2, 3, total=False)
    part = Partition(2, tuple(int(k[1]) for k in g.keys), "hand")
    p = simulate(g, _costs(g, 1e-3), part, Calibration(spawn_s=0.25), cores=cores)
    assert p.spawn_s == pytest.approx(0.25 * rounds)


def test_profile_tick_extra_interpolates_and_never_falls_with_size() -> None:
    p = Profile((), (), 1, 0.0, ticks=((100, 1e-7), (300, 5e-7), (700, 3e-7), (900, 9e-7)))
    # 5e-7 and 3e-7 out of order: pooled to 4e-7 at 300 and 700
    assert p.tick_extra_s(100) == pytest.approx(1e-7)
    assert p.tick_extra_s(300) == pytest.approx(4e-7)
    assert p.tick_extra_s(700) == pytest.approx(4e-7)
    assert p.tick_extra_s(800) == pytest.approx(6.5e-7)
    assert p.tick_extra_s(10) == pytest.approx(1e-7)
    assert p.tick_extra_s(10_000) == pytest.approx(9e-7)
    assert Profile((), (), 1, 0.0).tick_extra_s(5) is None


def _underlyings(count: int, nodes: int) -> GraphBuilder:
    b = GraphBuilder()
    for u in range(count):
        spot = b.source(f"U{u}/spot", 100.0 + u)
        rate = b.source(f"U{u}/rate", 0.05)
        for j in range(nodes):
            b.node(f"U{u}/n{j}", lambda s, r, j=j: s * (1.0 + r) + j, spot, rate)
    return b


def test_the_profile_times_the_ticks_a_verdict_predicts() -> None:
    g = _underlyings(4, 30).build()
    p = profile_graph(g, repeats=2)
    one, market = tick_sources(g)
    assert g.keys[one].endswith("/spot")
    assert len(market) == 4
    sizes = [n for n, _ in p.ticks]
    # 1, 2 spots, then all 4: the nodes each tick recomputed
    assert sizes == [30, 60, 120]
    assert all(isinstance(e, float) for _, e in p.ticks)
    report = partition_report(g, 2, "components", p, cores=2.0)
    assert report.verdict is not None
    serial_tick = report.verdict.rows[0].tick_s
    expected = sum(p.costs[r] for r in _affected(g, [one]))
    extra = p.tick_extra_s(30)
    assert extra is not None
    assert serial_tick == pytest.approx(max(0.0, expected + 30 * extra))


def test_the_report_partitions_as_the_scheduler_does() -> None:
    g = _underlyings(6, 8).build()
    # costs that make another partition than the estimates: one underlying is heavy
    heavy = [
        0.0 if r in g.sources else (5e-3 if g.keys[r].startswith("U0/") else 1e-6)
        for r in range(len(g.items))
    ]
    prof = Profile(tuple(heavy), (9,) * len(g.items), 1, 0.0)
    ours = partition_graph(g, 2, "auto", None)  # what ProcessScheduler(2) uses
    theirs = partition_graph(g, 2, "auto", heavy)
    assert ours.owner != theirs.owner  # the two differ on this graph
    by_default = partition_report(g, 2, "auto", prof, cores=2.0)
    assert by_default.partition_costs == "estimates"
    assert [s.nodes for s in by_default.shares] == [
        sum(1 for r, w in enumerate(ours.owner) if w == k and r not in g.sources) for k in range(2)
    ]
    given = partition_report(g, 2, "auto", prof, cores=2.0, partition_costs=heavy)
    assert given.partition_costs == "given"
    assert given.to_dict()["partition_costs"] == "given"
    # a costs sequence is what `fluvius run --costs` gives the scheduler: used as is
    assert partition_report(g, 2, "auto", heavy).partition_costs == "given"
    with pytest.raises(ValueError, match="partition_costs"):
        partition_report(g, 2, "auto", prof, partition_costs="profile")


def test_tick_node_is_measured_and_stored() -> None:
    got = _measure_tick_node(n=500, repeats=3)
    assert 0.0 <= got < 1e-4
    cal = Calibration(tick_node_s=got)
    assert Calibration(**cal.to_dict()).tick_node_s == got
    # files written before the field existed still load
    assert "tick_node_s" in cal.to_dict()
