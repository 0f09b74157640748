"""The options script serial and on 2 worker processes, next to the partition report's
predictions and its verdict.

``compare(graph)`` runs one graph serially and on ``ProcessScheduler(workers=2)`` twice:
on new processes (what ``ProcessScheduler(2)`` alone does: the first session spawns them
and loads the node code in them) and again on the same, running processes (a
``WorkerPool`` kept open). A row per run: time to first value (the session's creation,
i.e. partitioning and pickling, plus ``start()``), ``stats.startup_seconds`` and
``stats.spawn_seconds`` as ``run --json`` reports them, the median one-spot tick, the
market-wide tick (every spot in one batch, median of 3), and whether the values agree bit for bit.

``verdict(graph)`` profiles the graph serially (3 start-ups), measures the cores two
busy processes get on this machine now, and asks
:func:`~fluvius.partition.partition_report` what to do: stay serial, or how many workers.
Its predictions are ``start()`` on running processes (the spawn apart, once) and the
ticks; ``show`` prints them under the measured rows they predict.

``main()`` does both for a small ``options`` graph of each preset (``light``: the
microsecond nodes of a live options book; ``heavy``: the same plus history loads and
per-expiry calibrations, a real script's start-up); ``make demo`` calls ``demo()`` with
more underlyings.

Run: ``python examples/11_options_parallel.py``.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import TYPE_CHECKING, Any

from fluvius.graph.spec import spec_to_graph
from fluvius.partition.calibrate import measure_parallelism
from fluvius.partition.profile import profile_graph
from fluvius.partition.report import PartitionReport, partition_report
from fluvius.scheduling import ProcessScheduler, SerialScheduler, WorkerPool
from fluvius.testing.suite import canonical
from fluvius.workloads import export_workload

if TYPE_CHECKING:
    from fluvius import Graph
    from fluvius.scheduling.base import Scheduler


async def _run(scheduler: Scheduler, graph: Graph, spots: list[str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    async with scheduler.session(graph) as session:
        await session.start()
        first = time.perf_counter() - t0
        one = []
        for i, spot in enumerate(spots * 3):
            t = time.perf_counter()
            await session.cycle({spot: 100.0 + i / 100})
            one.append(time.perf_counter() - t)
        wide = []
        for i in range(4):  # the first batch of all spots walks what they reach: not timed
            t = time.perf_counter()
            await session.cycle(dict.fromkeys(spots, 99.0 + i / 100))
            wide.append(time.perf_counter() - t)
        market = statistics.median(wide[1:])
        return {
            "first_value_s": first,
            "startup_s": session.startup_seconds,
            "spawn_s": session.spawn_seconds,
            "spot_tick_ms": statistics.median(one[len(spots) :]) * 1e3,  # first round: caching
            "market_tick_ms": market * 1e3,
            "values": {k: canonical(v) for k, v in session.values().items()},
        }


def compare(graph: Graph) -> list[dict[str, Any]]:
    """One row per run (see the module docstring)."""
    spots = [k for k in graph.source_keys if k.endswith("/spot")]
    rows = []
    with WorkerPool(2) as pool:
        asyncio.run(_run(ProcessScheduler(2, pool=pool), graph, spots))  # now they run
        for name, scheduler in (
            ("serial", SerialScheduler()),
            ("2 workers, new processes", ProcessScheduler(2)),
            ("2 workers, running", ProcessScheduler(2, pool=pool)),
        ):
            row = asyncio.run(_run(scheduler, graph, spots))
            row["scheduler"] = name
            rows.append(row)
    reference = rows[0].pop("values")
    for row in rows[1:]:
        row["identical"] = row.pop("values") == reference
    rows[0]["identical"] = True
    return rows


def verdict(graph: Graph) -> PartitionReport:
    """The partition report for 2 workers, from a serial profile of 3 start-ups, on the
    cores two busy processes get here now (on a shared machine, fewer than it has)."""
    cores = measure_parallelism(2, 0.2)
    return partition_report(graph, 2, costs=profile_graph(graph, repeats=3), cores=cores)


def show(title: str, rows: list[dict[str, Any]], report: PartitionReport | None = None) -> None:
    """The measured rows, each followed by what the report predicted for it."""
    print(title)
    predicted = {r.workers: r for r in report.verdict.rows} if report and report.verdict else {}
    for r in rows:
        print(
            f"  {r['scheduler']:25} first value {r['first_value_s'] * 1e3:6.0f} ms "
            f"(start() {r['startup_s'] * 1e3:.0f} ms, spawn {r['spawn_s'] * 1e3:.0f} ms); "
            f"one-spot tick {r['spot_tick_ms']:.2f} ms; market-wide tick "
            f"{r['market_tick_ms']:.1f} ms; values "
            f"{'identical' if r['identical'] else 'DIFFER'}"
        )
        p = predicted.get(1 if r["scheduler"] == "serial" else 2)
        if p is not None and r["scheduler"] != "2 workers, new processes":
            spawn = "" if p.workers == 1 else f" (spawn {p.spawn_s * 1e3:.0f} ms, once)"
            print(
                f"  {'  predicted':25} start() {p.startup_s * 1e3:.0f} ms{spawn}; one-spot tick "
                f"{p.tick_s * 1e3:.2f} ms; market-wide tick {p.market_tick_s * 1e3:.1f} ms"
            )


def demo(underlyings: int = 10) -> list[dict[str, Any]]:
    """Both presets with ``underlyings`` underlyings: rows, predictions and verdicts."""
    out = []
    for preset in ("light", "heavy"):
        spec = export_workload("options", {"underlyings": str(underlyings)}, preset=preset)
        graph = spec_to_graph(spec, origin=f"options-{preset}")
        report = verdict(graph)
        rows = compare(graph)
        show(f"options --preset {preset}: {len(graph):,} nodes", rows, report)
        assert report.verdict is not None
        print(f"  verdict: {report.verdict.reason}")
        out += rows
    return out


def main() -> None:
    rows = demo(2)
    assert all(r["identical"] for r in rows)


if __name__ == "__main__":
    main()
