"""The library's missing-value policy (issue 13): estimators work on the feed's sources."""

from __future__ import annotations

import math
from typing import Any

import pytest

from fluvius.errors import SpecError
from fluvius.feeds.adapter import batches, declare_sources
from fluvius.feeds.events import PRICE_SCALE, Quote, Trade
from fluvius.graph import GraphBuilder
from fluvius.graph.spec import spec_to_graph
from fluvius.nodes import add_stateful
from fluvius.nodes.market import TradeVWAP
from fluvius.nodes.stats import VWAP, RollingMean, SkipMissing
from fluvius.scheduling import run_graph

NAN = math.nan


def _spec(params: dict[str, Any], initial: Any = None) -> dict[str, Any]:
    return {
        "sources": {"x": initial},
        "nodes": {"m": {"op": "rolling_mean", "inputs": ["x"], "params": params}},
    }


def _run(spec: dict[str, Any], xs: list[Any]) -> Any:
    return run_graph(spec_to_graph(spec), [{"x": x} for x in xs]).values["m"]


def test_spec_estimators_skip_missing_by_default() -> None:
    xs = [1.0, NAN, 3.0, None, 5.0]
    assert _run(_spec({"window": 2}), xs) == 4.0
    assert math.isnan(_run(_spec({"window": 2, "min_periods": 4}), xs))
    propagate = _spec({"window": 5, "missing": "propagate"}, initial=0.0)
    assert math.isnan(_run(propagate, [1.0, NAN, 3.0]))


def test_bad_policy_params_name_the_node() -> None:
    with pytest.raises(SpecError, match=r"node 'm'.*missing must be one of"):
        spec_to_graph(_spec({"window": 2, "missing": "ignore"}))
    with pytest.raises(SpecError, match=r"node 'm'.*min_periods must be an int >= 0"):
        spec_to_graph(_spec({"window": 2, "min_periods": -1}))
    with pytest.raises(SpecError, match="cannot create RollingMean"):
        spec_to_graph(_spec({"windw": 2}))


def test_one_sided_quotes_do_not_poison_a_rolling_mean_of_mids() -> None:
    """The issue's case: RollingMean(50) stayed NaN for 50 ticks after a one-sided quote."""
    g = GraphBuilder()
    src = declare_sources(g, ["AB"])
    add_stateful(g, "avg", RollingMean(50), src["mid"]["AB"])
    g.node("raw", RollingMean(50), src["mid"]["AB"])  # given directly: no policy
    quotes = [
        Quote("IEX", "AB", i, i, i, (0 if i == 3 else 10 * PRICE_SCALE), 1, 12 * PRICE_SCALE, 1, 0)
        for i in range(1, 8)
    ]
    values = run_graph(g.build(), batches(quotes, ["AB"])).values
    assert values["avg"] == 11.0
    assert math.isnan(values["raw"])


def test_every_trade_reaches_a_vwap() -> None:
    trades = [Trade("IEX", "AB", i, 7, i, (100 + i) * PRICE_SCALE, 10 * i, i, 0) for i in (1, 2, 3)]
    g = GraphBuilder()
    src = declare_sources(g, ["AB"])
    g.node("vwap", TradeVWAP(), src["trade"]["AB"])
    # one datagram (same recv_ns): the three trades arrive in one cycle
    values = run_graph(g.build(), batches(trades, ["AB"], per="recv")).values
    reference = VWAP()
    for t in trades:
        reference.update(t.px / PRICE_SCALE, t.sz)
    assert values["vwap"] == reference.get()


def test_skip_missing_checks_its_arguments() -> None:
    with pytest.raises(TypeError, match="no update/get"):
        SkipMissing(object())
    with pytest.raises(ValueError, match="min_periods must be an int >= 0"):
        SkipMissing(RollingMean(2), min_periods=True)  # type: ignore[arg-type]
