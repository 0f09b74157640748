"""Ingestion → inference, end to end: the spec that ``fluvius live`` runs in ``make demo``.

Per symbol, from the IEX feed's ``quote/``, ``mid/`` and ``trade/`` sources, with the node
library only (``fluvius.nodes``; op names as in spec files):

- features: spread in bp (``spread_bp``), mid log returns in bp (``mid_return``), rolling
  volatility of the returns (``rolling_std``, skipping one-sided quotes), trade imbalance
  over the last 50 trades (``trade_imbalance``), plus VWAP and volume of every trade;
- an online model: recursive least squares (``rls``) predicting each quote's mid move from
  the features seen before it (``next_move_sample``), evaluated prequentially
  (``rolling_mae`` of its predictions against the moves, and of the naive "no move" model);
- drift monitors on its inputs: PSI of the spread and KS of the returns against the
  first 50 values (``psi_drift``, ``ks_drift`` with ``warmup``);
- a fallback switch (``fallback_switch``) that serves the naive model while the RLS model's
  error exceeds the naive one's or the spread's PSI exceeds 0.25, and alerts
  (``decay_alert``) on drift and on error.

``pipeline_spec(symbols)`` builds the spec; ``examples/specs/iex_pipeline.yaml`` is its
output for five symbols of the IEX sample (a test keeps the two in step). ``main()`` runs
the spec twice through :class:`fluvius.live.LiveRun` on a replay at ``speed=0`` (the real
sample when ``../shared/data/iex`` holds it, else a synthetic capture) and shows that both
runs give the same predictions, switches and alerts.

Run: ``python examples/09_live_pipeline.py`` (``--write`` regenerates the YAML file).
"""

from __future__ import annotations

import asyncio
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

from fluvius.feeds.iex.encode import synthetic_tops
from fluvius.graph.spec import dump_spec, spec_to_graph
from fluvius.live import LiveRun, LiveState

HERE = Path(__file__).resolve().parent
SPEC_FILE = HERE / "specs" / "iex_pipeline.yaml"
SAMPLE = HERE.parents[1] / "shared" / "data" / "iex" / "TOPS16_20170710_sample.pcap.gz"
SYMBOLS = ["PPP", "IRS", "TWO", "FB", "ELLO"]  # the sample's busiest quoted symbols
WINDOW = 50


def pipeline_spec(symbols: list[str]) -> dict[str, Any]:
    """The ingestion → inference spec for ``symbols`` (see the module doc)."""
    sources: dict[str, Any] = {"zero": 0.0}
    nodes: dict[str, Any] = {}

    def node(key: str, op: str, inputs: list[str], **params: Any) -> None:
        nodes[key] = {"op": op, "inputs": inputs}
        if params:
            nodes[key]["params"] = params

    for s in symbols:
        quote, mid, trade = f"quote/{s}", f"mid/{s}", f"trade/{s}"
        sources.update({quote: None, mid: None, trade: None})
        # features
        node(f"spread_bp/{s}", "spread_bp", [quote])
        node(f"ret/{s}", "mid_return", [mid])
        nodes[f"ret/{s}"]["cutoff"] = False  # two unchanged mids are two 0.0 returns
        node(f"vol/{s}", "rolling_std", [f"ret/{s}"], window=WINDOW, min_periods=10)
        node(f"imbalance/{s}", "trade_imbalance", [trade, mid], window=WINDOW)
        node(f"vwap/{s}", "trade_vwap", [trade])
        node(f"volume/{s}", "trade_volume", [trade])
        # the online model, evaluated prequentially against the naive "no move" model
        features = [f"ret/{s}", f"spread_bp/{s}", f"vol/{s}", f"imbalance/{s}"]
        node(f"sample/{s}", "next_move_sample", [quote, *features])
        node(f"x/{s}", "sample_features", [f"sample/{s}"])
        node(f"y/{s}", "sample_target", [f"sample/{s}"])
        node(f"model/{s}", "rls", [f"x/{s}", f"y/{s}"], forgetting=0.99, delta=1.0)
        node(f"error/{s}", "rolling_mae", [f"y/{s}", f"model/{s}"], window=WINDOW)
        node(f"naive_error/{s}", "rolling_mae", [f"y/{s}", "zero"], window=WINDOW)
        node(f"excess_error/{s}", "sub", [f"error/{s}", f"naive_error/{s}"])
        # drift monitors on the inputs
        node(f"psi/{s}", "psi_drift", [f"spread_bp/{s}"], bins=5, window=WINDOW, warmup=WINDOW)
        node(f"ks/{s}", "ks_drift", [f"ret/{s}"], window=WINDOW, min_count=20, warmup=WINDOW)
        node(f"ks_stat/{s}", "get_field", [f"ks/{s}"], name="statistic")
        # the fallback switch and the alerts
        node(f"psi_excess/{s}", "add", [f"psi/{s}"], c=-0.25)
        node(f"trigger/{s}", "max", [f"excess_error/{s}", f"psi_excess/{s}"])
        node(
            f"served/{s}", "fallback_switch", [f"trigger/{s}", f"model/{s}", "zero"],
            bound=0.0, recover=-0.05, persistence=5,
        )  # fmt: skip
        node(f"drift_alert/{s}", "decay_alert", [f"psi/{s}"], threshold=0.25, persistence=3)
        node(f"ks_alert/{s}", "decay_alert", [f"ks_stat/{s}"], threshold=0.5, persistence=3)
        node(
            f"error_alert/{s}", "decay_alert", [f"excess_error/{s}"], threshold=0.0,
            persistence=20,
        )  # fmt: skip
    return {"sources": sources, "nodes": nodes}


def capture(tmp: Path) -> tuple[Path, list[str]]:
    """The real sample and its busy symbols, else a synthetic capture and its symbols."""
    if SAMPLE.exists():
        return SAMPLE, SYMBOLS
    cap = synthetic_tops(6_000, n_symbols=20, seed=4)
    return cap.write(tmp / "synthetic.pcap"), list(cap.symbols[:5])


def run_once(spec: dict[str, Any], path: Path) -> tuple[dict[str, Any], LiveState]:
    """One replay of ``path`` at speed 0 through ``fluvius live``'s runner."""
    state = LiveState()
    run = LiveRun(spec_to_graph(spec), [f"iex+pcap://{path}?speed=0"], state=state)
    report = asyncio.run(run.run())
    return report.run.values, state


def main() -> None:
    if "--write" in sys.argv[1:]:
        dump_spec(pipeline_spec(SYMBOLS), SPEC_FILE)
        print(f"wrote {SPEC_FILE}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path, symbols = capture(Path(tmp))
        spec = pipeline_spec(symbols)
        print(f"{path.name}: {len(spec['nodes'])} nodes for {symbols}")
        first, state = run_once(spec, path)
        second, _ = run_once(spec, path)
    print(f"  {state.cycles_total:,} cycles; {len(state.alerts)} alert events")
    print(
        f"  {'symbol':6} {'samples':>7} {'rls mae':>8} {'naive mae':>9} {'served':>6} "
        f"{'switches':>8}"
    )
    for s in symbols:
        served = first[f"served/{s}"]
        mae, naive = first[f"error/{s}"], first[f"naive_error/{s}"]
        switches = sum(1 for a in state.alerts if a.key == f"served/{s}" and a.kind == "alert")
        print(
            f"  {s:6} {first[f'sample/{s}'].n:7} {mae:8.3f} {naive:9.3f} {served.model:>6} "
            f"{switches:8}"
        )
    kinds: dict[str, int] = {}
    for a in state.alerts:
        name = a.key.split("/")[0]
        kinds[name] = kinds.get(name, 0) + (a.kind == "alert")
    print(f"  alerts raised, by node kind: {dict(sorted(kinds.items()))}")
    same = all(repr(first[k]) == repr(second[k]) or _both_nan(first[k], second[k]) for k in first)
    print(f"  a second replay gives the same predictions, switches and alerts: {same}")
    if not same:
        raise SystemExit("a replay at speed=0 must be deterministic")


def _both_nan(a: Any, b: Any) -> bool:
    return isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)


if __name__ == "__main__":
    main()
