"""The options script serial and on 2 worker processes, with the partition report's verdict.

``compare(graph)`` runs one graph serially and on ``ProcessScheduler(workers=2)`` and
returns a row per scheduler: time to first value (the session's creation, i.e.
partitioning and pickling, plus ``start()``), ``stats.startup_seconds`` and
``stats.spawn_seconds`` as ``run --json`` reports them, the median one-spot tick, the
market-wide tick (every spot in one batch), and whether the values agree bit for bit.

``verdict(graph)`` profiles the graph once serially and asks
:func:`~fluvius.partition.partition_report` what to do: stay serial, or how many workers.

``main()`` does both for a small ``options`` graph of each preset (``light``: the
microsecond nodes of a live options book; ``heavy``: the same plus history loads and
per-expiry calibrations, a real script's start-up); ``make demo`` calls ``demo()`` with
more underlyings.

Run: ``python examples/09_options_parallel.py``.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import TYPE_CHECKING, Any

from fluvius.graph.spec import spec_to_graph
from fluvius.partition.profile import profile_graph
from fluvius.partition.report import partition_report
from fluvius.scheduling import ProcessScheduler, SerialScheduler
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
        t = time.perf_counter()
        await session.cycle(dict.fromkeys(spots, 99.0))
        market = time.perf_counter() - t
        return {
            "first_value_s": first,
            "startup_s": session.startup_seconds,
            "spawn_s": session.spawn_seconds,
            "spot_tick_ms": statistics.median(one[len(spots) :]) * 1e3,  # first round: caching
            "market_tick_ms": market * 1e3,
            "values": {k: canonical(v) for k, v in session.values().items()},
        }


def compare(graph: Graph) -> list[dict[str, Any]]:
    """One row per scheduler (see the module docstring)."""
    spots = [k for k in graph.source_keys if k.endswith("/spot")]
    rows = []
    for name, scheduler in (
        ("serial", SerialScheduler()),
        ("process, 2 workers", ProcessScheduler(2)),
    ):
        row = asyncio.run(_run(scheduler, graph, spots))
        row["scheduler"] = name
        rows.append(row)
    reference = rows[0].pop("values")
    for row in rows[1:]:
        row["identical"] = row.pop("values") == reference
    rows[0]["identical"] = True
    return rows


def verdict(graph: Graph) -> str:
    """The partition report's verdict for 2 workers, from one serial profile."""
    report = partition_report(graph, 2, costs=profile_graph(graph, repeats=1))
    assert report.verdict is not None
    return f"verdict: {report.verdict.reason}"


def show(title: str, rows: list[dict[str, Any]]) -> None:
    print(title)
    for r in rows:
        print(
            f"  {r['scheduler']:19} first value {r['first_value_s'] * 1e3:7.0f} ms "
            f"(start() {r['startup_s'] * 1e3:.0f} ms, spawn {r['spawn_s'] * 1e3:.0f} ms); "
            f"one-spot tick {r['spot_tick_ms']:.2f} ms; market-wide tick "
            f"{r['market_tick_ms']:.1f} ms; values "
            f"{'identical' if r['identical'] else 'DIFFER'}"
        )


def demo(underlyings: int = 10) -> list[dict[str, Any]]:
    """Both presets with ``underlyings`` underlyings: rows and verdicts printed."""
    out = []
    for preset in ("light", "heavy"):
        spec = export_workload("options", {"underlyings": str(underlyings)}, preset=preset)
        graph = spec_to_graph(spec, origin=f"options-{preset}")
        rows = compare(graph)
        show(f"options --preset {preset}: {len(graph):,} nodes", rows)
        print(f"  {verdict(graph)}")
        out += rows
    return out


def main() -> None:
    rows = demo(2)
    assert all(r["identical"] for r in rows)


if __name__ == "__main__":
    main()
