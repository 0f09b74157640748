"""Inputs by keyword: builder ``inputs={name: node}``, spec ``inputs`` mappings, every scheduler.

The issue's case: ``bs_delta(spot, strike, years, rate, vol, kind)`` with ``spot`` and
``vol`` from nodes and the rest fixed, without a lambda.
"""

from __future__ import annotations

import asyncio
import pickle
from typing import TYPE_CHECKING, Any

import pytest

from fluvius import GraphBuilder, ProcessScheduler, ReferenceEvaluator, SerialScheduler, run_graph
from fluvius.errors import BadParamsError, SpecError
from fluvius.graph.spec import dump_spec, load_graph, load_spec, spec_to_graph
from fluvius.nodes.options import bs_delta

if TYPE_CHECKING:
    from pathlib import Path

    from fluvius.graph import Graph

FIXED = {"strike": 150.0, "years": 0.5, "rate": 0.04, "kind": "put"}


def _delta_graph() -> Graph:
    g = GraphBuilder()
    spot = g.source("AAPL/spot", 148.0)
    iv = g.node("AAPL/iv", lambda v: v / 100, g.source("AAPL/iv_pct", 25.0))
    g.node("AAPL/delta", bs_delta, inputs={"spot": spot, "vol": iv}, params=FIXED)
    return g.build()


def _expected(spot: float, vol_pct: float) -> float:
    return float(bs_delta(spot, vol=vol_pct / 100, **FIXED))


def test_builder_passes_inputs_by_keyword_with_fixed_params() -> None:
    graph = _delta_graph()
    assert graph.spec("AAPL/delta").keywords == ("spot", "vol")
    assert graph.spec("AAPL/delta").inputs == ("AAPL/spot", "AAPL/iv")
    report = run_graph(graph, [{"AAPL/spot": 151.0}, {"AAPL/iv_pct": 30.0}])
    assert report.values["AAPL/delta"] == _expected(151.0, 30.0)


def test_positional_and_keyword_inputs_mix_on_scopes() -> None:
    def weighted(a: float, b: float, *, w: float, bias: float = 0.0) -> float:
        return a * w + b * (1 - w) + bias

    g = GraphBuilder()
    s = g.scope("X")
    a, b, w = s.source("a", 1.0), s.source("b", 3.0), s.source("w", 0.25)
    s.node("mix", weighted, a, inputs={"b": b, "w": w}, params={"bias": 10.0})
    report = run_graph(g.build(), [{"X/w": 0.5}])
    assert report.values["X/mix"] == 1.0 * 0.5 + 3.0 * 0.5 + 10.0


def test_async_and_stateful_nodes_take_keyword_inputs() -> None:
    async def scaled(x: float, *, factor: float) -> float:
        await asyncio.sleep(0)
        return x * factor

    class Spread:
        def __init__(self) -> None:
            self.last = 0.0

        def update(self, bid: float, ask: float) -> None:
            self.last = ask - bid

        def get(self) -> float:
            return self.last

    g = GraphBuilder()
    bid, ask = g.source("bid", 99.0), g.source("ask", 101.0)
    g.node("scaled", scaled, inputs={"x": bid, "factor": ask})
    g.node("spread", Spread(), inputs={"ask": ask, "bid": bid})
    report = run_graph(g.build(), [{"ask": 102.0}])
    assert report.values["scaled"] == 99.0 * 102.0
    assert report.values["spread"] == 3.0


@pytest.mark.parametrize(
    ("inputs", "params", "match"),
    [
        ({"spot": "s", "volx": "v"}, FIXED, r"takes no argument 'volx' \(did you mean 'vol'\?\)"),
        ({"spot": "s", "vol": "v"}, {**FIXED, "vol": 0.2}, r"'vol' is given both as an input"),
        ({"spot": "s", "vol": 0.2}, FIXED, r"inputs\['vol'\] must be a key or NodeRef, got 0.2"),
        ({"spot": "s", "2x": "v"}, FIXED, r"input name '2x' is not a Python identifier"),
        ({"spot": "s"}, FIXED, r"missing a required argument: 'vol'"),
    ],
)
def test_bad_keyword_inputs_fail_at_build_time_naming_them(
    inputs: dict[str, Any], params: dict[str, Any], match: str
) -> None:
    g = GraphBuilder()
    g.source("s", 100.0)
    g.source("v", 0.2)
    with pytest.raises(BadParamsError, match=rf"^node 'delta': .*{match}"):
        g.node("delta", bs_delta, inputs=inputs, params=params)
    assert "delta" not in g


def test_stateful_update_keyword_is_checked() -> None:
    class One:
        def update(self, x: float) -> None: ...

        def get(self) -> float:
            return 0.0

    g = GraphBuilder()
    g.source("s", 1.0)
    with pytest.raises(BadParamsError, match=r"One.update takes no argument 'y'"):
        g.node("n", One(), inputs={"y": "s"})


SPEC = {
    "sources": {"AAPL/spot": 148.0, "AAPL/vol": 0.25},
    "nodes": {
        "AAPL/delta": {
            "op": "bs_delta",
            "inputs": {"spot": "AAPL/spot", "vol": "AAPL/vol"},
            "params": FIXED,
        },
        "AAPL/mean": {"op": "rolling_mean", "inputs": {"x": "AAPL/spot"}, "params": {"window": 2}},
        "AAPL/sum": {"op": "add", "inputs": ["AAPL/delta", "AAPL/mean"]},
    },
}


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_spec_inputs_mapping_builds_and_round_trips(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"delta{suffix}"
    dump_spec(SPEC, path)
    assert load_spec(path) == SPEC
    graph = load_graph(path)
    assert graph.spec("AAPL/delta").keywords == ("spot", "vol")
    report = run_graph(graph, [{"AAPL/spot": 151.0}])
    assert report.values["AAPL/delta"] == float(bs_delta(151.0, vol=0.25, **FIXED))
    assert report.values["AAPL/mean"] == (148.0 + 151.0) / 2


def test_spec_keyword_errors_name_the_file_node_and_argument() -> None:
    bad = {
        "sources": {"s": 1.0},
        "nodes": {"d": {"op": "bs_delta", "inputs": {"spto": "s"}, "params": FIXED}},
    }
    with pytest.raises(SpecError, match=r"^f.yaml: node 'd': .*no argument 'spto'.*'spot'"):
        spec_to_graph(bad, origin="f.yaml")
    builtin = {"sources": {"s": 1.0}, "nodes": {"n": {"op": "add", "inputs": {"a": "s"}}}}
    with pytest.raises(SpecError, match=r"op 'add' takes its inputs in order; give 'inputs' as"):
        spec_to_graph(builtin, origin="f.yaml")
    not_key = {"sources": {"s": 1.0}, "nodes": {"n": {"op": "math:hypot", "inputs": {"x": 1}}}}
    with pytest.raises(SpecError, match=r"f.yaml: node 'n': input 'x' is 1, not a string key"):
        spec_to_graph(not_key, origin="f.yaml")


def test_keyword_nodes_pickle_for_worker_processes() -> None:
    graph = spec_to_graph(SPEC)
    item = graph.spec("AAPL/delta")
    assert pickle.loads(pickle.dumps(item)) == item


def test_keyword_inputs_on_every_scheduler_match_the_oracle() -> None:
    graph = spec_to_graph(SPEC)
    ticks = [{"AAPL/spot": 150.0 + i, "AAPL/vol": 0.2 + i / 100} for i in range(4)]
    oracle = ReferenceEvaluator(graph)
    oracle.start()
    for batch in ticks:
        oracle.cycle(batch)
    expected = oracle.values()
    serial = run_graph(graph, ticks, SerialScheduler())
    assert serial.values == expected
    process = run_graph(graph, ticks, ProcessScheduler(2, "round_robin"))
    assert process.values == expected
