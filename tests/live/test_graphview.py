"""The dashboard's graph pictures: scopes of real key layouts, layers, the overview's cut."""

from __future__ import annotations

from typing import Any

import pytest

from fluvius.graph import GraphBuilder
from fluvius.graph.spec import spec_to_graph
from fluvius.live.graphview import collapse, scope_function, scope_view
from fluvius.live.http import _biggest_scopes
from fluvius.workloads import export_workload


@pytest.mark.parametrize(
    ("workload", "params", "expected"),
    [
        # underlying first: U000/spot, U000/n/3/7 ...
        ("overhead", {"underlyings": "3", "width": "2", "depth": "2"}, {"U000", "U001", "U002"}),
        # both: U000/spot beside mid/U000/..., iv/U000/...; and risk/delta across them
        ("options", {"underlyings": "2", "strikes": "3", "expiries": "1"}, {"U000", "U001"}),
    ],
)
def test_scopes_are_the_underlyings_of_the_workloads(
    workload: str, params: dict[str, str], expected: set[str]
) -> None:
    graph = spec_to_graph(export_workload(workload, params))
    scope_of = scope_function(graph.keys)
    scopes = {scope_of(k) for k in graph.keys}
    assert expected <= scopes
    assert len(scopes - expected) <= 1, scopes  # at most one cross-underlying scope (risk)
    for key in graph.keys:
        if key.startswith(("mid/", "iv/")):
            assert scope_of(key) == key.split("/")[1]


def test_feed_keys_are_scoped_by_symbol_even_with_one_symbol() -> None:
    b = GraphBuilder()
    for kind in ("quote", "mid", "trade"):
        b.source(f"{kind}/AAPL", None)
    b.node("spread/AAPL", lambda q: q, "quote/AAPL")
    b.node("vwap/AAPL", lambda t: t, "trade/AAPL")
    graph = b.build()
    scope_of = scope_function(graph.keys)
    assert {scope_of(k) for k in graph.keys} == {"AAPL"}


def _chain_graph() -> Any:
    # A/x -> B/y -> A/z: scopes depend on each other both ways; C/w reads A/z
    b = GraphBuilder()
    b.source("A/x", 1.0)
    b.node("B/y", lambda v: v + 1, "A/x")
    b.node("A/z", lambda v: v * 2, "B/y")
    b.node("C/w", lambda v: -v, "A/z")
    return b.build()


def test_collapse_orders_scopes_in_layers_and_counts_edges() -> None:
    view = collapse(_chain_graph(), scope_function(["A/x", "B/y", "A/z", "C/w"]))
    assert view["scopes"] == [
        {"id": "A", "nodes": 2, "sources": 1, "layer": 0},
        {"id": "B", "nodes": 1, "sources": 0, "layer": 1},
        {"id": "C", "nodes": 1, "sources": 0, "layer": 1},
    ]
    assert view["edges"] == [[0, 1, 1], [0, 2, 1], [1, 0, 1]]  # B -> A drawn backwards


def test_scope_view_layers_its_nodes_and_names_the_scopes_around() -> None:
    graph = _chain_graph()
    view = scope_view(graph, "A", scope_function(graph.keys))
    assert [(n["key"], n["layer"], n["source"]) for n in view["nodes"]] == [
        ("A/x", 0, True),
        ("A/z", 1, False),
    ]
    assert view["external"] == [
        {"scope": "B", "dir": "in", "layer": 0},
        {"scope": "B", "dir": "out", "layer": 1},
        {"scope": "C", "dir": "out", "layer": 2},
    ]
    # A/x -> (out) B, (in) B -> A/z, A/z -> (out) C
    assert view["edges"] == [[0, 3], [1, 4], [2, 1]]
    assert scope_view(graph, "A", scope_function(graph.keys), limit=1)["truncated"]


def test_overview_keeps_the_largest_scopes_and_their_edges() -> None:
    picture = {
        "nodes": 9,
        "scopes": [
            {"id": "a", "nodes": 1, "sources": 1, "layer": 0},
            {"id": "b", "nodes": 5, "sources": 1, "layer": 0},
            {"id": "c", "nodes": 3, "sources": 0, "layer": 1},
        ],
        "edges": [[0, 2, 1], [1, 2, 4]],
    }
    cut = _biggest_scopes(picture, 2)
    assert [s["id"] for s in cut["scopes"]] == ["b", "c"]
    assert cut["edges"] == [[0, 1, 4]]
    assert cut["total_scopes"] == 3
    assert _biggest_scopes(picture, 5)["scopes"] == picture["scopes"]
