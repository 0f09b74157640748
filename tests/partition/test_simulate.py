"""The simulator against hand-computed schedules and independent bounds."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fluvius import GraphBuilder
from fluvius.graph.spec import spec_to_graph
from fluvius.partition import Calibration, Partition, partition_graph
from fluvius.partition.cost import critical_path_s, lower_bound
from fluvius.partition.registry import auto_candidates
from fluvius.partition.simulate import simulate
from fluvius.testing.strategies import graph_recipes

if TYPE_CHECKING:
    from conftest import Chains

FREE = Calibration(
    start_s=0.0,
    node_s=0.0,
    worker_node_s=0.0,
    event_node_s=0.0,
    latency_s=0.0,
    byte_s=0.0,
    driver_node_s=0.0,
    gc_item_s=0.0,
)


def test_one_worker_takes_the_sum_of_costs(chains: Chains) -> None:
    g = chains(3, 4)
    costs = [0.0 if r in g.sources else 0.5 + r for r in range(len(g.items))]
    one = Partition(1, (0,) * len(g.items), "one")
    assert simulate(g, costs, one, serial=True).makespan_s == pytest.approx(sum(costs))
    cal = Calibration(
        node_s=1e-6, worker_node_s=3e-6, event_node_s=9.0, latency_s=0.25, start_s=0.125
    )
    p = simulate(g, costs, one, cal)  # one worker process: its overhead, two messages
    assert p.makespan_s == pytest.approx(sum(costs) + len(g) * 2e-6 + 0.5 + 0.125)
    assert (p.messages, p.values_sent, p.bytes_sent) == (0, 0, 0)


def test_independent_chains_take_the_heaviest_worker(chains: Chains) -> None:
    g = chains(3, 4, total=False)
    owner = tuple(int(k[1]) % 2 for k in g.keys)  # c0, c2 on worker 0; c1 on worker 1
    costs = [0.0 if r in g.sources else 1.0 for r in range(len(g.items))]
    p = simulate(g, costs, Partition(2, owner, "hand"), FREE)
    assert p.makespan_s == pytest.approx(8.0)
    assert p.busy_s == pytest.approx((8.0, 4.0))


def test_a_message_waits_for_the_flush_and_the_latency() -> None:
    # x -> a -> b and x -> c, a and c on worker 0, b on worker 1; a is sent only when
    # worker 0 has run out of work, i.e. after c (batch flush), then takes the latency
    from fluvius import GraphBuilder

    bld = GraphBuilder()
    x = bld.source("x", 1.0)
    a = bld.node("a", lambda v: v, x)
    bld.node("b", lambda v: v, a)
    bld.node("c", lambda v: v, x)
    g = bld.build()
    owner = {"x": 0, "a": 0, "b": 1, "c": 0}
    part = Partition(2, tuple(owner[k] for k in g.keys), "hand")
    costs = [0.0, 1.0, 1.0, 1.0]
    cal = Calibration(
        node_s=0.0, worker_node_s=0.0, event_node_s=0.0, latency_s=0.2, byte_s=0.01, start_s=0.0
    )
    p = simulate(g, costs, part, cal, sizes=[0, 10, 10, 10])
    # start 0.2; a [0.2, 1.2], c [1.2, 2.2], send: 0.1 + 10 * 0.01 = 0.2 -> 2.4, arrives
    # 2.5, b [2.5, 3.5], the parent hears at 3.7
    assert p.makespan_s == pytest.approx(3.7)
    assert (p.messages, p.values_sent, p.bytes_sent) == (1, 1, 10)


@pytest.mark.slow
@settings(max_examples=40)
@given(
    recipe=graph_recipes(max_nodes=25, async_nodes=False, errors=False),
    workers=st.integers(1, 5),
    latency=st.sampled_from([0.0, 1e-4, 1e-2]),
    data=st.data(),
)
def test_predictions_respect_the_bounds(recipe, workers, latency, data) -> None:  # type: ignore[no-untyped-def]
    g = recipe.build()
    costs = data.draw(st.lists(st.floats(0, 1e-2), min_size=len(g.items), max_size=len(g.items)))
    for s in g.sources:
        costs[s] = 0.0
    cal = Calibration(
        node_s=0.0, worker_node_s=0.0, event_node_s=0.0, latency_s=latency, byte_s=0.0, start_s=0
    )
    for name in auto_candidates():
        part = partition_graph(g, workers, name, costs)
        p = simulate(g, costs, part, cal)
        # never faster than the lower bound, never slower than doing everything on
        # one worker with every edge paid twice (a send and a message in flight)
        assert p.makespan_s >= lower_bound(g, costs, workers) * (1 - 1e-9)
        edges = sum(len(ins) for ins in g.inputs)
        assert p.makespan_s <= sum(costs) + 2 * latency * (edges + 2) + 1e-9
        # one value per (value, destination worker) crossing, whatever the batching
        # (sources come with the graph: known on every worker, never sent)
        crossing = {(i, part.owner[r]) for i, r in part.cross_edges(g) if i not in g.sources}
        assert p.values_sent == len(crossing)
        assert sum(p.busy_s) >= sum(costs) * (1 - 1e-9)


def test_no_latency_and_enough_workers_reach_the_critical_path(chains: Chains) -> None:
    g = chains(4, 5)
    costs = [0.0 if r in g.sources else 1.0 for r in range(len(g.items))]
    part = partition_graph(g, 4, "components", costs)
    assert simulate(g, costs, part, FREE).makespan_s == pytest.approx(critical_path_s(g, costs))


def test_fewer_cores_than_workers_slow_the_work_down(chains: Chains) -> None:
    g = chains(4, 5, total=False)
    costs = [0.0 if r in g.sources else 1.0 for r in range(len(g.items))]
    part = partition_graph(g, 4, "components", costs)
    assert simulate(g, costs, part, FREE, cores=2).makespan_s == pytest.approx(10.0)
    assert simulate(g, costs, part, Calibration(spawn_s=0.1), cores=2).spawn_s == 0.2


def test_only_the_nodes_waiting_for_remote_values_pay_the_event_driven_overhead(
    chains: Chains,
) -> None:
    g = chains(2, 3)  # c0 -> worker 0 with the total, c1 -> worker 1
    owner = tuple(1 if k.startswith("c1") else 0 for k in g.keys)
    costs = [0.0] * len(g.items)
    cal = Calibration(
        node_s=0.0, worker_node_s=1.0, event_node_s=10.0, latency_s=0.0, byte_s=0.0, start_s=0.0
    )
    p = simulate(g, costs, Partition(2, owner, "hand"), cal)
    # worker 0: its 3 chain nodes in the sync loop at 1, the total (reads c1) at 10
    assert p.busy_s == pytest.approx((13.0, 3.0))
    # the local part runs first: c1's value arrives at 3, the total runs [3, 13]
    assert p.makespan_s == pytest.approx(13.0)


def test_the_serial_start_up_pays_its_collection(
    chains: Chains,
) -> None:
    g = chains(2, 3)
    costs = [0.0 if r in g.sources else 1.0 for r in range(len(g.items))]
    one = Partition(1, (0,) * len(g.items), "one")
    cal = Calibration(node_s=0.5, driver_node_s=2.5, gc_item_s=0.25)
    start = simulate(g, costs, one, cal, serial=True)
    assert start.makespan_s == pytest.approx(len(g) + 0.25 * len(g.items))
    tick = simulate(g, costs, one, cal, serial=True, changed=[g.sources[0]])
    assert tick.makespan_s == pytest.approx(4.0)  # a chain of 3 and the total, no collection
    assert tick.makespan_s < start.makespan_s


def test_the_parent_computes_the_cheap_totals_after_the_workers() -> None:
    spec = {
        "sources": {"a": 1.0, "b": 1.0},
        "nodes": {
            "x": {"op": "scale", "inputs": ["a"], "params": {"factor": 2.0}},
            "y": {"op": "scale", "inputs": ["b"], "params": {"factor": 2.0}},
            "total": {"op": "sum", "inputs": ["x", "y"]},
        },
    }
    g = spec_to_graph(spec, origin="totals")
    costs = [0.0, 0.0, 1.0, 2.0, 0.5]  # a, b, x, y, total
    part = Partition(2, (0, 1, 0, 1, 0), "hand")
    cal = Calibration(
        0.0,
        worker_node_s=0.0,
        event_node_s=0.0,
        latency_s=0.1,
        byte_s=0.0,
        start_s=0.25,
        cycle_node_s=0.0,
    )
    p = simulate(g, costs, part, cal, parent_nodes=True)
    # y ends at 2.1 on worker 1, the parent hears at 2.2 and computes the total: no message
    # between workers; plus the fixed start
    assert p.makespan_s == pytest.approx(2.2 + 0.5 + 0.25)
    assert p.messages == 0
    q = simulate(g, costs, part, cal)  # the total on worker 0 (as on Dask)
    # y's value leaves at 2.15 and arrives at 2.2; the total [2.2, 2.7]; the parent hears 2.8
    assert q.makespan_s == pytest.approx(2.8 + 0.25)
    assert q.messages == 1
    tick = simulate(g, costs, part, cal, changed=[g.index["b"]], parent_nodes=True)
    assert tick.makespan_s == pytest.approx(cal.cycle_s + 2.0 + 0.5)


def test_a_measured_collection_replaces_the_per_item_estimate(chains: Chains) -> None:
    g = chains(2, 3)
    costs = [0.0 if r in g.sources else 1.0 for r in range(len(g.items))]
    one = Partition(1, (0,) * len(g.items), "one")
    cal = Calibration(node_s=0.5, driver_node_s=2.5, gc_item_s=0.25)
    start = simulate(g, costs, one, cal, serial=True, collect_s=7.0)
    assert start.makespan_s == pytest.approx(len(g) + 7.0)
    tick = simulate(g, costs, one, cal, serial=True, changed=[g.sources[0]], collect_s=7.0)
    assert tick.makespan_s == pytest.approx(4.0)  # a tick collects nothing
    two = Partition(2, tuple(r % 2 for r in range(len(g.items))), "two")
    workers = simulate(g, costs, two, cal, collect_s=7.0).makespan_s
    assert workers == pytest.approx(simulate(g, costs, two, cal).makespan_s)  # workers: none


def test_start_up_begins_the_source_fed_loads_before_the_local_part() -> None:
    """As the runtime (``_driver.begin_async``): a load reading a source only waits while
    the worker's local part computes; a tick still begins it after the sync nodes."""

    async def load(days: float) -> float:
        return days

    b = GraphBuilder()
    local = b.node("local", lambda v: v, b.source("x", 1.0))
    history = b.node("history", load, b.source("days", 4.0))
    b.node("use", lambda u, v: u + v, history, local)
    g = b.build()
    costs = [0.0] * len(g.items)
    costs[g.index["local"]] = 3.0
    costs[g.index["history"]] = 0.5  # its CPU part, then a wait of 2
    costs[g.index["use"]] = 1.0
    waits = [0.0] * len(g.items)
    waits[g.index["history"]] = 2.0
    one = Partition(1, (0,) * len(g.items), "one")
    # the load computes [0, 0.5], waits until 2.5; the local part runs [0.5, 3.5]; then use
    assert simulate(g, costs, one, FREE, waits=waits).makespan_s == pytest.approx(4.5)
    assert simulate(g, costs, one, FREE, serial=True, waits=waits).makespan_s == pytest.approx(4.5)
    # a tick of days and x: the load begins when the worker first waits, after "local"
    tick = simulate(g, costs, one, FREE, waits=waits, changed=list(g.sources))
    assert tick.makespan_s == pytest.approx(3.0 + 0.5 + 2.0 + 1.0, abs=1e-3)  # + cycle_s
