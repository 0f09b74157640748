"""One worker's share, without processes: what it compiles, and how a cycle splits into the
local part (the sync loop) and the event-driven part.

The graph, its ranks, and the owner of each node::

    s(0) ──> a(2) w0 ──> c(3) w0 ──┐
                                   ├──> total(6) w0 ──> alert(7) w0
    t(1) ──> b(4) w1 ──> d(5) w1 ──┘
"""

from __future__ import annotations

import pickle

from fluvius.engine.plan import Plan, graph_tables, node_row
from fluvius.graph import GraphBuilder
from fluvius.graph.dag import Graph
from fluvius.graph.node import NodeSpec
from fluvius.scheduling._messages import CHANGED, UNCHANGED, LoadShare
from fluvius.scheduling._share import (
    Share,
    cycle_tables,
    make_share,
    mark_unsynced,
    run_local,
    stored,
    take_unsynced,
)
from fluvius.testing.strategies import FloatOp

S, T, A, C, B, D, TOTAL, ALERT = range(8)
OWNER = (0, 1, 0, 0, 1, 1, 0, 0)


def graph() -> Graph:
    g = GraphBuilder()
    s, t = g.source("s", 1.0), g.source("t", 2.0)
    c = g.node("c", FloatOp("neg"), g.node("a", FloatOp("neg"), s))
    d = g.node("d", FloatOp("neg"), g.node("b", FloatOp("neg"), t))
    g.node("alert", FloatOp("neg"), g.node("total", FloatOp("sum"), c, d))
    return g.build()


def share(worker: int) -> Share:
    g = graph()
    rows = [
        node_row(r, item)
        for r, item in enumerate(g.items)
        if isinstance(item, NodeSpec) and OWNER[r] == worker
    ]
    load = LoadShare(1, worker, OWNER, rows, "fail_fast", False, True)
    tables = pickle.loads(pickle.dumps(graph_tables(g)))
    return make_share(Plan.from_tables(tables, ()), pickle.loads(pickle.dumps(load)))


def test_a_share_compiles_only_its_own_nodes() -> None:
    sh = share(1)
    assert [s[0] for s in sh.plan.node_steps] == [B, D]
    assert sh.owned == [False, False, False, False, True, True, False, False]
    assert sh.exports == {D: (0,)}
    assert sh.nodes == 2


def test_startup_tables_split_local_and_waiting_nodes() -> None:
    t = cycle_tables(share(0), None)
    assert t.mine == [A, C, TOTAL, ALERT]
    assert [s[0] for s in t.local] == [A, C]
    assert t.events is not None
    assert [r for r, e in enumerate(t.events) if e] == [TOTAL, ALERT]
    assert t.boundary == [C]
    assert t.exported == []
    t1 = cycle_tables(share(1), None)
    assert ([s[0] for s in t1.local], t1.events, t1.exported) == ([B, D], None, [D])


def test_cycle_tables_of_a_tick() -> None:
    sh = share(0)
    only_s = cycle_tables(sh, frozenset({S}))  # d is not affected: total waits for no one
    assert [s[0] for s in only_s.local] == [A, C, TOTAL, ALERT]
    assert only_s.events is None
    only_t = cycle_tables(sh, frozenset({T}))  # total waits for d
    assert only_t.local == []
    assert only_t.events is not None
    assert [r for r, e in enumerate(only_t.events) if e] == [TOTAL, ALERT]
    assert cycle_tables(sh, frozenset({T})) is only_t  # cached


def test_run_local_reports_how_exported_nodes_settled() -> None:
    sh = share(1)
    n, errors, stop, entries, moved = run_local(sh, None, cycle_tables(sh, None))
    assert (n, errors, stop) == (2, [], None)
    assert entries == {0: [(D, CHANGED, 2.0)]}
    sh.state.cycles = 1
    sh.state.values[T] = 2.0  # an equal tick: b is cut off, d not computed
    n, _, _, entries, moved = run_local(sh, frozenset({T}), cycle_tables(sh, frozenset({T})))
    assert (n, moved, entries) == (1, [], {0: [(D, UNCHANGED, None)]})
    sh.state.cycles = 2
    sh.state.values[T] = 3.0
    n, _, _, entries, moved = run_local(sh, frozenset({T}), cycle_tables(sh, frozenset({T})))
    assert (n, moved, entries) == (2, [B, D], {0: [(D, CHANGED, 3.0)]})
    assert [stored(moved, r) for r in (B, D, T)] == [True, True, False]
    assert take_unsynced(sh) == [B, D]
    assert take_unsynced(sh) == []


def test_unsynced_ranks_merge_past_many_tick_patterns() -> None:
    sh = share(1)
    lists = [[i, i + 100] for i in range(70)]  # 70 distinct patterns since the last fetch
    for ranks in lists:
        mark_unsynced(sh, ranks)
    mark_unsynced(sh, lists[0])  # a repeated pattern
    assert len(sh.unsynced) <= 64
    assert take_unsynced(sh) == sorted({r for ranks in lists for r in ranks})
