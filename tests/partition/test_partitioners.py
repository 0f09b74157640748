"""Every partitioner: a valid, deterministic assignment; each one's own promise."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fluvius.graph import Graph, GraphBuilder
from fluvius.partition import Calibration, Partition, partition_graph, partitioner_names
from fluvius.partition.components import components, lpt
from fluvius.partition.critical_path import critical_path
from fluvius.partition.metis import metis_available
from fluvius.partition.registry import PARTITIONERS, auto_candidates
from fluvius.partition.simulate import simulate
from fluvius.testing.strategies import graph_recipes

if TYPE_CHECKING:
    from conftest import Chains

NAMES = [n for n in PARTITIONERS if n != "metis" or metis_available()]


@pytest.mark.slow
@settings(max_examples=40)
@given(
    recipe=graph_recipes(max_nodes=25, async_nodes=False, errors=False),
    workers=st.integers(1, 6),
    data=st.data(),
)
def test_every_item_once_in_range_and_deterministic(recipe, workers, data) -> None:  # type: ignore[no-untyped-def]
    graph = recipe.build()
    costs = data.draw(
        st.lists(st.floats(0, 1e-2), min_size=len(graph.items), max_size=len(graph.items))
    )
    for s in graph.sources:
        costs[s] = 0.0
    for name in [*NAMES, "auto"]:
        p = partition_graph(graph, workers, name, costs)
        assert len(p.owner) == len(graph.items)
        assert all(0 <= w < workers for w in p.owner)
        assert p == partition_graph(recipe.build(), workers, name, costs), name


def test_unknown_name_lists_the_known_ones(chains: Chains) -> None:
    with pytest.raises(ValueError, match=r"unknown partitioner 'best'.*round_robin, components"):
        partition_graph(chains(2, 2), 2, "best")
    assert partitioner_names()[0] == "auto"


@pytest.mark.parametrize("workers", [0, -1, True])
def test_bad_worker_counts(workers: int, chains: Chains) -> None:
    with pytest.raises(ValueError, match="workers must be an int >= 1"):
        partition_graph(chains(2, 2), workers)


def test_costs_of_the_wrong_length_are_refused(chains: Chains) -> None:
    with pytest.raises(ValueError, match="one cost per graph item"):
        partition_graph(chains(2, 2), 2, "components", [1.0])


def test_auto_keeps_the_best_predicted(chains: Chains) -> None:
    g = chains(6, 5)
    costs = [0.0 if r in g.sources else 1e-3 for r in range(len(g.items))]
    chosen = partition_graph(g, 2, "auto", costs)
    predicted = {
        name: simulate(g, costs, partition_graph(g, 2, name, costs)).makespan_s
        for name in auto_candidates()
    }
    assert simulate(g, costs, chosen).makespan_s == min(predicted.values())


def test_auto_takes_a_balanced_components_partition_without_simulating(
    chains: Chains, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fluvius.partition.registry as registry

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("auto simulated although components is at the lower bound")

    monkeypatch.setattr(registry, "simulate", refuse)
    g = chains(6, 5, total=False)  # 3 whole chains per worker, nothing crosses
    assert partition_graph(g, 2, "auto") == partition_graph(g, 2, "components")
    with pytest.raises(AssertionError, match="auto simulated"):
        partition_graph(chains(3, 5, total=False), 2, "auto")  # 3 chains on 2: unbalanced
    with pytest.raises(AssertionError, match="auto simulated"):
        partition_graph(chains(6, 5), 2, "auto")  # the total's 6 inputs: 3 of 30 edges cross


def test_sources_go_with_their_first_reader(chains: Chains) -> None:
    g = chains(4, 3)
    for name in NAMES:
        p = partition_graph(g, 3, name)
        for s in g.sources:
            assert p.owner[s] == p.owner[g.children[s][0]], name


# -- components ------------------------------------------------------------------------------
def _chain_of(key: str) -> str:
    return key.split("/")[0]


def test_components_keeps_chains_whole_despite_the_global_join(chains: Chains) -> None:
    g = chains(20, 5)
    p = components(g, 4)
    owners_by_chain: dict[str, set[int]] = {}
    for key, w in zip(g.keys, p.owner, strict=True):
        if key != "total":
            owners_by_chain.setdefault(_chain_of(key), set()).add(w)
    assert all(len(ws) == 1 for ws in owners_by_chain.values())
    per_worker = [sum(1 for ws in owners_by_chain.values() if w in ws) for w in range(4)]
    assert per_worker == [5, 5, 5, 5]


def test_components_merges_a_join_that_fits_a_share() -> None:
    # two halves of one underlying meet at its aggregator; two underlyings, two workers
    b = GraphBuilder()
    aggs = []
    for u in ("A", "B"):
        spot, rate = b.source(f"{u}/spot", 1.0), b.source(f"{u}/rate", 0.1)
        s1 = b.node(f"{u}/s1", lambda v: v, spot)
        r1 = b.node(f"{u}/r1", lambda v: v, rate)
        aggs.append(b.node(f"{u}/agg", lambda x, y: x + y, s1, r1))
    b.node("total", lambda x, y: x + y, *aggs)
    g = b.build()
    p = components(g, 2)
    own = dict(zip(g.keys, p.owner, strict=True))
    assert own["A/s1"] == own["A/r1"] == own["A/agg"]
    assert own["B/s1"] == own["B/r1"] == own["B/agg"]
    assert own["A/agg"] != own["B/agg"]


@settings(max_examples=60)
@given(weights=st.lists(st.integers(1, 20), min_size=1, max_size=7), workers=st.integers(1, 3))
def test_lpt_is_within_four_thirds_of_the_optimum(weights: list[int], workers: int) -> None:
    groups = [[i] for i in range(len(weights))]
    costs = [float(w) for w in weights]
    placed = lpt(groups, costs, workers)
    loads = [0.0] * workers
    for g, w in enumerate(placed):
        loads[w] += costs[g]
    best = min(  # brute force over every assignment: the independent oracle
        max(sum(c for c, w in zip(costs, a, strict=True) if w == k) for k in range(workers))
        for a in itertools.product(range(workers), repeat=len(costs))
    )
    assert max(loads) <= 4 / 3 * best + 1e-9


# -- critical path ---------------------------------------------------------------------------
def test_critical_path_keeps_a_chain_on_one_worker(chains: Chains) -> None:
    g = chains(1, 30, total=False)
    costs = [0.0] + [1e-3] * 30
    assert len(set(critical_path(g, 4, costs).owner)) == 1


def test_critical_path_spreads_heavy_independent_chains(chains: Chains) -> None:
    g = chains(4, 10, total=False)
    costs = [0.0 if r in g.sources else 1e-3 for r in range(len(g.items))]
    p = critical_path(g, 4, costs, Calibration(latency_s=1e-5))
    ends = [p.owner[g.index[f"c{i}/9"]] for i in range(4)]
    assert sorted(ends) == [0, 1, 2, 3]


def test_critical_path_keeps_cheap_work_local_when_messages_cost_more() -> None:
    # x -> a -> (b, c): running c on the idle worker would wait 10 ms for a's value
    b = GraphBuilder()
    a = b.node("a", lambda v: v, b.source("x", 1.0))
    b.node("b", lambda v: v, a)
    b.node("c", lambda v: v, a)
    g = b.build()
    costs = [0.0, 1e-6, 1e-6, 1e-6]
    assert set(critical_path(g, 2, costs, Calibration(latency_s=1e-2)).owner) == {0}
    assert set(critical_path(g, 2, [0.0, 1e-6, 1.0, 1.0], Calibration(latency_s=1e-2)).owner) == {
        0,
        1,
    }


# -- metis -----------------------------------------------------------------------------------
def test_metis_cuts_between_the_two_halves(chains: Chains) -> None:
    pytest.importorskip("pymetis")
    g = chains(2, 40, total=False)
    p = partition_graph(g, 2, "metis")
    assert p.cross_edges(g) == []
    assert sorted(p.owner.count(w) for w in (0, 1)) == [41, 41]


def test_metis_with_one_worker(chains: Chains) -> None:
    pytest.importorskip("pymetis")
    assert set(partition_graph(chains(2, 3), 1, "metis").owner) == {0}


def test_partition_records_its_partitioner(chains: Chains) -> None:
    for name in NAMES:
        assert partition_graph(chains(2, 2), 2, name).partitioner == name
    p = partition_graph(chains(2, 2), 2, lambda g, w, c: Partition(w, (0,) * len(g.items), "me"))
    assert p.partitioner == "me"


def test_graph_without_edges_between_nodes() -> None:
    b = GraphBuilder()
    for i in range(5):
        b.node(f"const{i}", lambda: 1.0)
    g: Graph = b.build()
    for name in NAMES:
        assert len(partition_graph(g, 3, name).owner) == 5
