"""Overhead benchmark (docs/reference/workloads.md, "overhead"): scheduling cost per node.

Figures, each the median over repeats, each next to a plain-Python loop over the very same
node functions measured in the same run (ratio = fluvius / plain):

* build, per node: a Python script's GraphBuilder calls + validation, and a spec dict ->
  validated Graph (plain: a dict of inputs + graphlib's topological order);
* start-up: full evaluation per node (plain: ``for fn, ins in order: v[k] = fn(*[...])``);
  session creation (compiling the plan) is reported on its own line;
* tick: one tick of one source (``U000/spot``), latency of the cycle and time per recomputed
  node (plain: the same loop over the source's precomputed descendants, no cutoff checks).

Run: ``make bench`` or ``python benchmarks/overhead.py --out benchmarks/results/overhead.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import graphlib
import statistics
import time
from typing import Any

from _common import median_time, write_results
from fluvius.graph import GraphBuilder, SourceSpec
from fluvius.graph.spec import spec_to_graph
from fluvius.scheduling.serial import SerialScheduler
from fluvius.workloads import export_workload

TARGETS_US = {"build": 5.0, "startup": 0.5, "tick_per_node": 0.3, "tick_fixed": 50.0}


def plain_loops(spec: dict[str, Any], graph: Any, tick_source: str) -> tuple[Any, Any, Any]:
    """Hand-written evaluators over the graph's own node functions (no fluvius engine)."""
    index = graph.index
    order = [
        (index[k], graph.spec(k).fn, [index[i] for i in graph.spec(k).inputs])
        for k in graph.node_keys
    ]
    values: list[Any] = [None] * len(graph.keys)
    for k, v in spec["sources"].items():
        values[index[k]] = v

    def startup() -> None:
        v = values
        for r, fn, ins in order:
            v[r] = fn(*[v[j] for j in ins])

    affected = set(graph.descendants(tick_source))
    tick_order = [(r, fn, ins) for r, fn, ins in order if graph.keys[r] in affected]
    src = index[tick_source]

    def tick(value: float) -> int:
        v = values
        v[src] = value
        for r, fn, ins in tick_order:
            v[r] = fn(*[v[j] for j in ins])
        return len(tick_order)

    def build() -> Any:
        deps = {k: tuple(n["inputs"]) for k, n in spec["nodes"].items()}
        deps.update(dict.fromkeys(spec["sources"], ()))
        return list(graphlib.TopologicalSorter(deps).static_order())

    return build, startup, tick


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--underlyings", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=7, help="repeats for build/start-up")
    parser.add_argument("--ticks", type=int, default=201, help="ticks timed")
    parser.add_argument("--out", default="", help="write the figures as JSON here")
    args = parser.parse_args()

    spec = export_workload("overhead", {"underlyings": str(args.underlyings)})
    graph = spec_to_graph(spec)
    n_nodes = len(graph)
    tick_source = graph.source_keys[0]
    plain_build, plain_startup, plain_tick = plain_loops(spec, graph, tick_source)

    build_s = median_time(lambda: spec_to_graph(spec), args.repeats)
    items = [graph.spec(k) for k in graph.keys]

    def builder_api() -> None:  # what a Python script does: one call per source and node
        g = GraphBuilder()
        for item in items:
            if isinstance(item, SourceSpec):
                g.source(item.key, item.value)
            else:
                g.node(item.key, item.fn, *item.inputs)
        g.build()

    builder_s = median_time(builder_api, args.repeats)
    plain_build_s = median_time(plain_build, args.repeats)

    async def fluvius_runs() -> tuple[float, float, list[float], int]:
        sched = SerialScheduler()
        sessions, evals = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            session = sched.session(graph)
            sessions.append(time.perf_counter() - t0)
            result = await session.start()
            evals.append(result.seconds)
        ticks, recomputed = [], 0
        for i in range(args.ticks):
            result = await session.cycle({tick_source: 100.0 + 0.01 * (i + 1)})
            ticks.append(result.seconds)
            recomputed = result.recomputed
        return statistics.median(sessions), statistics.median(evals), ticks, recomputed

    session_s, startup_s, tick_times, recomputed = asyncio.run(fluvius_runs())
    plain_startup_s = median_time(plain_startup, args.repeats)
    plain_ticks = []
    for i in range(args.ticks):
        t0 = time.perf_counter()
        plain_n = plain_tick(100.0 + 0.01 * (i + 1))
        plain_ticks.append(time.perf_counter() - t0)
    tick_s = statistics.median(tick_times)
    plain_tick_s = statistics.median(plain_ticks)

    us = 1e6
    rows = [
        (
            "build (builder API), per node",
            builder_s / n_nodes * us,
            plain_build_s / n_nodes * us,
            TARGETS_US["build"],
        ),
        (
            "build (from spec dict), per node",
            build_s / n_nodes * us,
            plain_build_s / n_nodes * us,
            TARGETS_US["build"],
        ),
        ("session (compile plan), per node", session_s / n_nodes * us, None, None),
        (
            "start-up evaluation, per node",
            startup_s / n_nodes * us,
            plain_startup_s / n_nodes * us,
            TARGETS_US["startup"],
        ),
        (
            "tick latency (whole cycle)",
            tick_s * us,
            plain_tick_s * us,
            TARGETS_US["tick_per_node"] * recomputed + TARGETS_US["tick_fixed"],
        ),
        (
            "tick, per recomputed node",
            tick_s / recomputed * us,
            plain_tick_s / plain_n * us,
            TARGETS_US["tick_per_node"],
        ),
    ]
    print(
        f"overhead workload: {n_nodes:,} nodes, {len(graph.sources)} sources; one tick of "
        f"{tick_source} recomputes {recomputed:,} nodes (plain loop: {plain_n:,})"
    )
    print(f"medians over {args.repeats} repeats (build, start-up) and {args.ticks} ticks\n")
    header = f"{'figure':34} {'fluvius µs':>11} {'plain µs':>10} {'ratio':>7} {'target µs':>10}"
    print(header)
    print("-" * len(header))
    results = []
    for name, ours, plain, target in rows:
        ratio = ours / plain if plain else None
        print(
            f"{name:34} {ours:11.3f} {plain if plain is not None else float('nan'):10.3f} "
            f"{ratio if ratio is not None else float('nan'):7.2f} "
            f"{target if target is not None else float('nan'):10.1f}"
        )
        results.append(
            {
                "figure": name,
                "fluvius_us": ours,
                "plain_us": plain,
                "ratio": ratio,
                "target_us": target,
                "meets_target": None if target is None else ours <= target,
            }
        )
    write_results(
        args.out,
        {
            "workload": "overhead",
            "params": spec["meta"]["params"],
            "nodes": n_nodes,
            "tick_source": tick_source,
            "tick_recomputed": recomputed,
            "repeats": args.repeats,
            "ticks": args.ticks,
            "figures": results,
        },
    )


if __name__ == "__main__":
    main()
