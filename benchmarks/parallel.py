"""Parallel that pays (issue 11): the options script serial and on 2 worker processes,
every figure of the issue side by side, from one run.

Figures (medians over ``--repeats``; serial and process runs interleaved, so a change of
load hits both alike):

* options workload, defaults (the ``light`` preset): time to first value, i.e. the
  session's creation (partitioning, pickling) plus ``start()``: serial; 2 workers on a
  running pool (``warm``: spawned and used once beforehand); 2 workers spawning their own
  (``cold``). With the scheduler's own breakdown (partition, pickling, spawn, load), and
  each repeat's ratio to the serial run just before it.
* one-spot tick p50 (one underlying's spot moves; the underlyings in turn, the first
  round not counted) and the market-wide tick (all spots in one batch): serial vs 2
  workers, ``--tick-repeats`` sessions each in turn, the median of the sessions' medians;
  the speed ratio is serial's over the process one. Also the CPU of a one-spot tick
  (serial; the parent's and the workers', p50 per tick, and the workers' mean per tick),
  which the machine's load inflates less.
* the same tick figures in pairs: a serial and a 2-worker session open at once, their
  rounds over the spots alternated (A B B A ...), and market-wide ticks alternated one by
  one; per pair the difference of the one-spot p50s and the market-wide speed ratio, and
  the medians over the pairs (``paired_*`` keys). A slow phase of the host lasts longer
  than a round, so it lands on both halves of a pair instead of on one session.
* the floor of a tick on 2 workers: a graph of two sources, one node on each worker and
  their sum (computed by the parent); a tick of one source is one round trip parent ->
  worker -> parent around one trivial node, i.e. what the runtime adds to any tick
  (p50 over 2,000 ticks, with the parent's CPU per tick).
* overhead workload (40,021 trivial nodes): distribution overhead per node = (2 workers'
  time to first value - serial's) / nodes, on a running pool.
* heavy preset: time to first value serial vs 2 workers (running pool) and the speed-up;
  unless ``--no-predict``, the simulator's predictions against the measured figures: the
  heavy preset's ``start()`` serial and on 2 workers, and the light preset's ``start()``,
  one-spot and market-wide ticks (profiles of 3 serial start-ups; the calibration measured
  in this run through the process scheduler, as ``fluvius partition --calibrate`` does,
  or ``--calibration FILE``).
* fanout workload: start-up speed-up of 2 workers (running pool) over serial.
* the cores two busy processes really get (``measure_parallelism``) and the load average,
  before and after: the machine is shared.

Run: ``python benchmarks/parallel.py --out benchmarks/results/parallel.json``;
``--ticks-only`` measures the tick figures alone, ``--heavy-only`` the heavy preset's
first value (and its prediction) alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from typing import TYPE_CHECKING, Any

from _common import finish_with_targets, write_results
from fluvius.graph.spec import spec_to_graph
from fluvius.partition import Partition
from fluvius.partition.calibrate import measure_parallelism
from fluvius.scheduling import ProcessScheduler, SerialScheduler, WorkerPool
from fluvius.workloads import export_workload

if TYPE_CHECKING:
    from collections.abc import Callable

    from fluvius.graph.dag import Graph
    from fluvius.scheduling.base import Scheduler

TARGETS = {
    "warm_ttfv_over_serial": 1.0,  # <= serial's
    "cold_ttfv_extra_s": 0.5,  # <= serial + 0.5 s
    "overhead_us_per_node": 3.0,
    "spot_tick_extra_ms": 0.3,
    "market_speed_ratio": 1.7,
    "heavy_speedup": 1.85,
    "fanout_speedup": 1.85,
}


async def _first_value(scheduler: Scheduler, graph: Graph) -> dict[str, float]:
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    session = scheduler.session(graph)
    created = time.perf_counter() - t0
    created_cpu = time.process_time() - cpu0
    async with session:
        await session.start()
        out = {"ttfv_s": time.perf_counter() - t0, "created_s": created}
        out["created_cpu_s"] = created_cpu  # the parent's CPU: robust to a loaded machine
        out["startup_s"] = session.startup_seconds
        out["spawn_s"] = session.spawn_seconds
        for k, v in session.run_stats().items():
            if k.endswith("_seconds"):
                out[k.removesuffix("_seconds") + "_s"] = v
        return out


def first_values(
    schedulers: dict[str, Callable[[], Scheduler]], graph: Graph, repeats: int
) -> dict[str, dict[str, float]]:
    runs: dict[str, list[dict[str, float]]] = {}
    for _ in range(repeats):
        for name, make in schedulers.items():
            runs.setdefault(name, []).append(asyncio.run(_first_value(make(), graph)))
    out = {
        name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()
    }
    for name, rs in runs.items():  # each repeat's time to first value, in run order
        out[name]["ttfv_each_s"] = [r["ttfv_s"] for r in rs]  # type: ignore[assignment]
    return out


def _worker_cpu_s(session: Any) -> float:
    return float(sum(w.get("cpu_seconds", 0.0) for w in session.worker_stats()))


async def _ticks(scheduler: Scheduler, graph: Graph, spots: list[str], rounds: int) -> Any:
    """Medians of the one-spot tick and the market-wide tick (seconds); also the CPU of a
    one-spot tick: this thread's (p50; serial: all of it; process: the parent's) and the
    workers' inside their cycles (mean per tick): figures the machine's load inflates less
    than wall time."""
    async with scheduler.session(graph) as session:
        await session.start()
        one: list[float] = []
        cpu: list[float] = []
        each: list[float] = []  # the workers' CPU in each tick
        workers0 = 0.0
        for i in range(rounds + 1):
            if i == 1:
                workers0 = _worker_cpu_s(session)
            for spot in spots:
                w0 = _worker_cpu_s(session)
                c0, t0 = time.thread_time(), time.perf_counter()
                await session.cycle({spot: 100.0 + 0.01 * i})
                if i:  # the first round walks and caches each spot's descendants
                    one.append(time.perf_counter() - t0)
                    cpu.append(time.thread_time() - c0)
                    each.append(_worker_cpu_s(session) - w0)
        workers_cpu = (_worker_cpu_s(session) - workers0) / len(one)
        market: list[float] = []
        for i in range(rounds + 5):
            t0 = time.perf_counter()
            await session.cycle(dict.fromkeys(spots, 101.0 + 0.01 * i))
            if i >= 5:
                market.append(time.perf_counter() - t0)
        medians = statistics.median(one), statistics.median(market), statistics.median(cpu)
        return (*medians, workers_cpu, statistics.median(each))


_FLOOR_SPEC = {
    "sources": {"a": 1.0, "b": 1.0},
    "nodes": {
        "x": {"op": "scale", "inputs": ["a"], "params": {"factor": 2.0}},
        "y": {"op": "scale", "inputs": ["b"], "params": {"factor": 2.0}},
        "total": {"op": "sum", "inputs": ["x", "y"]},
    },
}


def _split(graph: Graph, workers: int, costs: object) -> Partition:
    """``b`` and ``y`` on worker 1, the rest on worker 0."""
    return Partition(workers, tuple(int(k in ("b", "y")) for k in graph.keys), "split")


async def _floor(scheduler: Scheduler, ticks: int = 2000) -> tuple[float, float]:
    """p50 wall and parent CPU seconds of a tick of source ``a`` of :data:`_FLOOR_SPEC`."""
    graph = spec_to_graph(_FLOOR_SPEC, origin="floor")
    async with scheduler.session(graph) as session:
        await session.start()
        wall: list[float] = []
        cpu: list[float] = []
        for i in range(ticks + 100):
            c0, t0 = time.thread_time(), time.perf_counter()
            await session.cycle({"a": float(i)})
            if i >= 100:
                wall.append(time.perf_counter() - t0)
                cpu.append(time.thread_time() - c0)
        return statistics.median(wall), statistics.median(cpu)


def _show(label: str, figures: dict[str, dict[str, Any]]) -> None:
    for name, f in figures.items():
        parts = "  ".join(f"{k} {v:.3f}" for k, v in f.items() if k not in _NOT_SHOWN)
        print(f"  {label:8} {name:14} first value {f['ttfv_s']:.3f} s  ({parts})")
    serial = figures["serial"]["ttfv_each_s"]
    for name, f in figures.items():
        if name != "serial":  # the same repeat's serial run came just before
            each = [p / s for p, s in zip(f["ttfv_each_s"], serial, strict=True)]
            print(f"  {label:8} {name:14} over serial, each repeat: {[round(x, 3) for x in each]}")


_NOT_SHOWN = frozenset({"ttfv_s", "ttfv_each_s"})


async def _tick_round(session: Any, spots: list[str], value: float) -> float:
    """One round over the spots, one spot per tick: the p50 of the ticks, seconds."""
    times = []
    for spot in spots:
        t0 = time.perf_counter()
        await session.cycle({spot: value})
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


async def _paired_ticks(
    serial: Scheduler, process: Scheduler, graph: Graph, spots: list[str], rounds: int
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Both sessions open at once, their rounds alternated (serial first in odd rounds,
    second in even ones: A B B A ...), so that a slow phase of the host, which lasts
    longer than a round (~0.1 s), lands on both of a pair. Returns each round's pair of
    one-spot p50s and each market-wide pair (a tick of each, alternated likewise)."""
    async with serial.session(graph) as ser, process.session(graph) as pro:
        await ser.start()
        await pro.start()
        for s in (ser, pro):  # the first round walks and caches each spot's descendants
            await _tick_round(s, spots, 100.0)
        spot_pairs = []
        for i in range(1, rounds + 1):
            order = (ser, pro) if i % 2 else (pro, ser)
            first = await _tick_round(order[0], spots, 100.0 + 0.01 * i)
            second = await _tick_round(order[1], spots, 100.0 + 0.01 * i)
            spot_pairs.append((first, second) if i % 2 else (second, first))
        market_pairs = []
        for i in range(rounds + 5):
            pair = []
            for s in (ser, pro) if i % 2 else (pro, ser):
                t0 = time.perf_counter()
                await s.cycle(dict.fromkeys(spots, 101.0 + 0.01 * i))
                pair.append(time.perf_counter() - t0)
            if i >= 5:
                market_pairs.append((pair[0], pair[1]) if i % 2 else (pair[1], pair[0]))
        return spot_pairs, market_pairs


def paired_figures(
    pool: WorkerPool, part: str, light: Graph, rounds: int, repeats: int
) -> dict[str, Any]:
    """The tick figures as pairs (:func:`_paired_ticks`), ``repeats`` runs of ``rounds``
    rounds: each pair's difference (one spot) and speed ratio (market-wide), and their
    medians over every pair. The same figures as :func:`tick_figures`, measured so that
    the host's slow phases cancel out of the comparison."""
    spots = [k for k in light.source_keys if k.endswith("/spot")]
    spot_pairs: list[tuple[float, float]] = []
    market_pairs: list[tuple[float, float]] = []
    for _ in range(repeats):
        warm = ProcessScheduler(2, part, pool=pool)
        sp, mp = asyncio.run(_paired_ticks(SerialScheduler(), warm, light, spots, rounds))
        spot_pairs += sp
        market_pairs += mp
    extra = [(p - s) * 1e3 for s, p in spot_pairs]
    ratio = [s / p for s, p in market_pairs]
    out = {
        "paired_spot_ms": [[round(s * 1e3, 4), round(p * 1e3, 4)] for s, p in spot_pairs],
        "paired_market_ms": [[round(s * 1e3, 3), round(p * 1e3, 3)] for s, p in market_pairs],
        "paired_serial_spot_p50_ms": statistics.median(s for s, _ in spot_pairs) * 1e3,
        "paired_spot_extra_ms": statistics.median(extra),
        "paired_spot_extra_ms_max": max(extra),
        "paired_market_ratio": statistics.median(ratio),
        "paired_market_ratio_min": min(ratio),
    }
    print(
        f"  paired   one spot, 2 workers over serial, each round (ms): "
        f"{[round(x, 3) for x in extra]}; median {out['paired_spot_extra_ms']:+.3f} ms "
        f"(serial p50 {out['paired_serial_spot_p50_ms']:.3f} ms)"
    )
    print(
        f"  paired   market-wide speed over serial, each pair: {[round(x, 2) for x in ratio]}; "
        f"median {out['paired_market_ratio']:.3f}x"
    )
    return out


def tick_figures(
    pool: WorkerPool, part: str, light: Graph, rounds: int, repeats: int
) -> dict[str, Any]:
    """The tick figures, serial and 2 workers (a running pool) in turn, ``repeats`` sessions
    each: medians over the sessions of each session's median (module docstring)."""
    spots = [k for k in light.source_keys if k.endswith("/spot")]
    runs: dict[str, list[tuple[float, ...]]] = {"serial": [], "process2": []}
    for _ in range(repeats):
        runs["serial"].append(asyncio.run(_ticks(SerialScheduler(), light, spots, rounds)))
        warm = ProcessScheduler(2, part, pool=pool)
        runs["process2"].append(asyncio.run(_ticks(warm, light, spots, rounds)))
    s_one, s_market, s_cpu, _, _ = (statistics.median(x) for x in zip(*runs["serial"], strict=True))
    p_one, p_market, p_cpu, w_cpu, w_cpu_p50 = (
        statistics.median(x) for x in zip(*runs["process2"], strict=True)
    )
    s_floor, _ = asyncio.run(_floor(SerialScheduler()))
    p_floor, p_floor_cpu = asyncio.run(_floor(ProcessScheduler(2, _split, pool=pool)))
    print(
        f"  ticks    one spot p50: serial {s_one * 1e3:.3f} ms, 2 workers {p_one * 1e3:.3f} ms"
        f" (each session: serial {[round(r[0] * 1e3, 3) for r in runs['serial']]}, 2 workers "
        f"{[round(r[0] * 1e3, 3) for r in runs['process2']]}); market-wide: serial "
        f"{s_market * 1e3:.2f} ms, 2 workers {p_market * 1e3:.2f} ms"
    )
    print(
        f"  ticks    one spot CPU, p50: serial {s_cpu * 1e3:.3f} ms; 2 workers: parent "
        f"{p_cpu * 1e3:.3f} ms + workers {w_cpu_p50 * 1e3:.3f} ms (workers' mean per tick "
        f"{w_cpu * 1e3:.3f} ms)"
    )
    print(
        f"  floor    one-node tick p50: serial {s_floor * 1e6:.0f} us, 2 workers "
        f"{p_floor * 1e6:.0f} us (parent CPU {p_floor_cpu * 1e6:.0f} us)"
    )
    each = [
        (p[0] - s[0]) * 1e3 for s, p in zip(runs["serial"], runs["process2"], strict=True)
    ]  # each repeat's 2-worker session against the serial one just before it
    each_ratio = [s[1] / p[1] for s, p in zip(runs["serial"], runs["process2"], strict=True)]
    print(
        f"  ticks    one spot over serial, each session pair: {[round(x, 3) for x in each]} ms;"
        f" market-wide: {[round(x, 2) for x in each_ratio]}x"
    )
    return {
        "session_spot_extra_ms": each,
        "session_market_ratio": each_ratio,
        "serial_spot_p50_ms": s_one * 1e3,
        "process2_spot_p50_ms": p_one * 1e3,
        "serial_market_ms": s_market * 1e3,
        "process2_market_ms": p_market * 1e3,
        "serial_spot_cpu_ms": s_cpu * 1e3,
        "process2_spot_parent_cpu_ms": p_cpu * 1e3,
        "process2_spot_workers_cpu_ms": w_cpu * 1e3,  # a mean: outliers count
        "process2_spot_workers_cpu_p50_ms": w_cpu_p50 * 1e3,  # the p50, like serial's
        "serial_floor_us": s_floor * 1e6,
        "process2_floor_us": p_floor * 1e6,
        "process2_floor_parent_cpu_us": p_floor_cpu * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=4, help="tick rounds over every spot")
    parser.add_argument("--partitioner", default="auto")
    parser.add_argument("--no-predict", action="store_true", help="skip the predictions")
    parser.add_argument(
        "--calibration", default="", help="calibration JSON (default: measured in this run)"
    )
    parser.add_argument(
        "--tick-repeats", type=int, default=3, help="tick sessions, serial and 2 workers in turn"
    )
    parser.add_argument(
        "--ticks-only", action="store_true", help="measure the tick figures only (~1 min)"
    )
    parser.add_argument(
        "--heavy-only",
        action="store_true",
        help="measure the heavy preset's first value and its prediction only (~1 min)",
    )
    parser.add_argument("--out", default="", help="write the figures as JSON here")
    args = parser.parse_args()
    doc: dict[str, Any] = {"repeats": args.repeats, "partitioner": args.partitioner}
    doc["load_before"] = os.getloadavg()
    doc["cores_before"] = measure_parallelism(2, 0.2)
    print(f"load average {doc['load_before']}; cores for 2 processes {doc['cores_before']:.2f}")
    part = args.partitioner
    light = spec_to_graph(export_workload("options"), origin="options")
    if args.ticks_only:
        with WorkerPool(2) as pool:
            asyncio.run(_first_value(ProcessScheduler(2, part, pool=pool), light))  # warm
            doc["ticks"] = tick_figures(pool, part, light, args.rounds, args.tick_repeats)
            doc["ticks"] |= paired_figures(pool, part, light, args.rounds, args.tick_repeats)
        t = doc["ticks"]
        print(
            f"one spot over serial: {t['process2_spot_p50_ms'] - t['serial_spot_p50_ms']:+.3f} ms"
            f" (sessions), {t['paired_spot_extra_ms']:+.3f} ms (paired rounds); target "
            f"+{TARGETS['spot_tick_extra_ms']} ms. Market-wide: "
            f"{t['serial_market_ms'] / t['process2_market_ms']:.3f}x (sessions), "
            f"{t['paired_market_ratio']:.3f}x (pairs); target {TARGETS['market_speed_ratio']}x"
        )
        doc["load_after"] = os.getloadavg()
        print(f"load average {doc['load_after']}")
        write_results(args.out, doc)
        return
    heavy = spec_to_graph(export_workload("options", preset="heavy"), origin="options-heavy")
    if args.heavy_only:
        heavy_only(heavy, part, args, doc)
        return
    over = spec_to_graph(export_workload("overhead"), origin="overhead")
    fan = spec_to_graph(export_workload("fanout"), origin="fanout")
    with WorkerPool(2) as pool:
        warm_up = ProcessScheduler(2, part, pool=pool)
        for g in (light, heavy, over, fan):  # a running pool has imported the node library
            asyncio.run(_first_value(warm_up, g))

        def serial() -> Scheduler:
            return SerialScheduler()

        def warm() -> Scheduler:
            return ProcessScheduler(2, part, pool=pool)

        def cold() -> Scheduler:
            return ProcessScheduler(2, part)

        print(f"options (light): {len(light):,} nodes, {len(light.sources):,} sources")
        opt = first_values({"serial": serial, "process2_warm": warm, "process2_cold": cold},
                           light, args.repeats)  # fmt: skip
        _show("options", opt)
        ticks = tick_figures(pool, part, light, args.rounds, args.tick_repeats)
        ticks |= paired_figures(pool, part, light, args.rounds, args.tick_repeats)
        print(f"overhead: {len(over):,} nodes")
        ovh = first_values({"serial": serial, "process2_warm": warm}, over, args.repeats)
        _show("overhead", ovh)
        print(f"heavy preset: {len(heavy):,} nodes")
        hvy = first_values({"serial": serial, "process2_warm": warm}, heavy, args.repeats)
        _show("heavy", hvy)
        print(f"fanout: {len(fan):,} nodes")
        fno = first_values({"serial": serial, "process2_warm": warm}, fan, args.repeats)
        _show("fanout", fno)
    doc.update(options=opt, ticks=ticks, overhead=ovh, heavy=hvy, fanout=fno)
    measured = {
        "warm_ttfv_over_serial": opt["process2_warm"]["ttfv_s"] / opt["serial"]["ttfv_s"],
        "cold_ttfv_extra_s": opt["process2_cold"]["ttfv_s"] - opt["serial"]["ttfv_s"],
        "overhead_us_per_node": (ovh["process2_warm"]["ttfv_s"] - ovh["serial"]["ttfv_s"])
        / len(over)
        * 1e6,
        "spot_tick_extra_ms": ticks["process2_spot_p50_ms"] - ticks["serial_spot_p50_ms"],
        "market_speed_ratio": ticks["serial_market_ms"] / ticks["process2_market_ms"],
        "paired_spot_tick_extra_ms": ticks["paired_spot_extra_ms"],  # the same, in pairs
        "paired_market_speed_ratio": ticks["paired_market_ratio"],
        "heavy_speedup": hvy["serial"]["ttfv_s"] / hvy["process2_warm"]["ttfv_s"],
        "fanout_speedup": fno["serial"]["ttfv_s"] / fno["process2_warm"]["ttfv_s"],
    }
    if not args.no_predict:
        doc["predictions"] = predict(heavy, light, part, args.calibration, doc)
        measured["heavy_predicted_s"] = doc["predictions"]["heavy_process2_startup_s"]
        started = hvy["process2_warm"]["startup_s"]  # the simulator models start()
        measured["heavy_prediction_error"] = (measured["heavy_predicted_s"] - started) / started
    finish_with_targets(args.out, doc, measured, TARGETS)


def heavy_only(heavy: Graph, part: str, args: Any, doc: dict[str, Any]) -> None:
    """``--heavy-only``: the heavy preset's time to first value, serial and 2 workers on a
    running pool, and (unless ``--no-predict``) the simulator's error on its ``start()``."""
    with WorkerPool(2) as pool:
        asyncio.run(_first_value(ProcessScheduler(2, part, pool=pool), heavy))  # warm

        def serial() -> Scheduler:
            return SerialScheduler()

        def warm() -> Scheduler:
            return ProcessScheduler(2, part, pool=pool)

        print(f"heavy preset: {len(heavy):,} nodes")
        hvy = first_values({"serial": serial, "process2_warm": warm}, heavy, args.repeats)
        _show("heavy", hvy)
    doc["heavy"] = hvy
    measured = {"heavy_speedup": hvy["serial"]["ttfv_s"] / hvy["process2_warm"]["ttfv_s"]}
    if not args.no_predict:
        doc["predictions"] = predict(heavy, None, part, args.calibration, doc)
        started = hvy["process2_warm"]["startup_s"]
        measured["heavy_predicted_s"] = doc["predictions"]["heavy_process2_startup_s"]
        measured["heavy_prediction_error"] = (measured["heavy_predicted_s"] - started) / started
    targets = {"heavy_speedup": TARGETS["heavy_speedup"]}
    finish_with_targets(args.out, doc, measured, targets)


def predict(
    heavy: Graph, light: Graph | None, partitioner: str, calibration: str, doc: dict[str, Any]
) -> dict[str, float]:
    """The simulator's predictions of this run's measured figures (module docstring): each
    for the partition the scheduler makes, with node costs from 3 serial start-ups."""
    from fluvius.cli.partition import process_startup, process_tick
    from fluvius.partition import Calibration, Partition, calibrate
    from fluvius.partition.profile import profile_graph
    from fluvius.partition.registry import partition_graph
    from fluvius.partition.simulate import simulate

    if calibration:
        cal = Calibration.load(calibration)
    else:
        cal = calibrate(run_startup=process_startup, run_tick=process_tick)
    doc["calibration"] = cal.to_dict()
    print(f"calibration: {cal}")
    out: dict[str, float] = {}
    graphs = (("heavy", heavy),) if light is None else (("heavy", heavy), ("light", light))
    for name, graph in graphs:
        profile = profile_graph(graph, repeats=3, calibration=cal)
        two = partition_graph(graph, 2, partitioner)  # the scheduler's own, from estimates
        one = Partition(1, (0,) * len(graph.items), "serial")
        spots = [graph.index[k] for k in graph.source_keys if k.endswith("/spot")]
        for label, part, serial in (("serial", one, True), ("process2", two, False)):
            sim: dict[str, Any] = {"sizes": profile.sizes, "waits": profile.waits, "serial": serial}
            sim["collect_s"] = profile.collect_s  # the serial start-up's collection, measured
            sim["parent_nodes"] = not serial  # the process scheduler computes its totals
            out[f"{name}_{label}_startup_s"] = simulate(
                graph, profile.costs, part, cal, **sim
            ).makespan_s
            if name == "light":  # the ticks: one spot (the first), all spots at once
                out[f"{name}_{label}_spot_ms"] = 1e3 * statistics.median(
                    simulate(graph, profile.costs, part, cal, changed=[s], **sim).makespan_s
                    for s in spots
                )
                out[f"{name}_{label}_market_ms"] = (
                    1e3 * simulate(graph, profile.costs, part, cal, changed=spots, **sim).makespan_s
                )
    measured = {
        "heavy_serial_startup_s": doc["heavy"]["serial"]["startup_s"],
        "heavy_process2_startup_s": doc["heavy"]["process2_warm"]["startup_s"],
    }
    if light is not None:
        measured |= light_measured(doc)
    print("\nprediction                     predicted    measured    error")
    for k, m in measured.items():
        p = out[k]
        out[k.removesuffix("_ms").removesuffix("_s") + "_error"] = (p - m) / m
        print(f"  {k:28} {p:9.4f}   {m:9.4f}   {(p - m) / m:+6.1%}")
    return out


def light_measured(doc: dict[str, Any]) -> dict[str, float]:
    """The light preset's measured figures the simulator predicts (:func:`predict`)."""
    return {
        "light_serial_startup_s": doc["options"]["serial"]["startup_s"],
        "light_process2_startup_s": doc["options"]["process2_warm"]["startup_s"],
        "light_serial_spot_ms": doc["ticks"]["serial_spot_p50_ms"],
        "light_process2_spot_ms": doc["ticks"]["process2_spot_p50_ms"],
        "light_serial_market_ms": doc["ticks"]["serial_market_ms"],
        "light_process2_market_ms": doc["ticks"]["process2_market_ms"],
    }


if __name__ == "__main__":
    main()
