"""One graph on worker processes: same values as serial, per-worker figures, a trace, faults.

``main()`` runs a small fanout graph (6 chains of 10 ``spin`` nodes, one total) on the
serial scheduler and on ``ProcessScheduler`` with 1 and 2 workers, checks the values are
identical, prints each worker's share, writes a Chrome/Perfetto trace, and shows the error
a failing node gives from inside a worker.

``demo(graph, ticks)`` (for ``make demo``) runs any graph and ticks serial, on two worker
processes and on a local Dask cluster of two workers (started on 127.0.0.1 and closed
again) and returns the rows to print: start-up and median tick per scheduler, and whether
the values agree bit for bit.

Run: ``python examples/04_process_scheduler.py``.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fluvius import GraphBuilder, NodeError, run_graph
from fluvius.graph.spec import spec_to_graph
from fluvius.scheduling import DaskScheduler, ProcessScheduler, SerialScheduler
from fluvius.testing.suite import canonical
from fluvius.workloads import calibrate_spin, fanout_spec

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from fluvius import Graph


def demo(graph: Graph, ticks: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Start-up wall time, median tick and agreement: serial, 2 worker processes, and 2
    workers of a local Dask cluster."""
    rows = []
    reference = None
    for name, sched in (
        ("serial", SerialScheduler()),
        ("process, 2 workers", ProcessScheduler(2, "components")),
        ("dask, 2 workers", DaskScheduler(2, "components")),
    ):
        t0 = time.perf_counter()
        report = run_graph(graph, ticks, sched)
        values = {k: canonical(v) for k, v in report.values.items()}
        reference = values if reference is None else reference
        rows.append(
            {
                "scheduler": name,
                "startup_s": report.startup.seconds,
                "wall_s": time.perf_counter() - t0,
                "median_tick_ms": statistics.median(c.seconds for c in report.cycles) * 1e3
                if report.cycles
                else 0.0,
                "identical": values == reference,
            }
        )
    return rows


def _failing(x: float) -> float:
    raise ValueError(f"no quote for {x!r}")


def main() -> None:
    spin_n = calibrate_spin(0.0005)
    graph = spec_to_graph(fanout_spec(underlyings=6, length=10, spin_n=spin_n))
    ticks = [{"U000/src": 101.0}, {"U003/src": 99.0, "U004/src": 98.0}]
    serial = run_graph(graph, ticks, SerialScheduler())
    print(f"fanout: {len(graph)} nodes; serial start-up {serial.startup.seconds * 1e3:.0f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace.json"
        for workers in (1, 2):
            sched = ProcessScheduler(workers, "components", trace=trace)
            report = run_graph(graph, ticks, sched)
            same = all(
                canonical(report.values[k]) == canonical(v) for k, v in serial.values.items()
            )
            print(
                f"process, {workers} worker(s): start-up {report.startup.seconds * 1e3:.0f} ms, "
                f"values identical to serial: {same}"
            )
            for w in report.stats["workers"]:
                print(
                    f"  {w['worker']}: {w['nodes']} nodes, busy {w['busy_seconds'] * 1e3:.0f} ms, "
                    f"{w['messages_sent']} messages sent"
                )
        events = json.loads(trace.read_text(encoding="utf-8"))["traceEvents"]
        slices = sum(1 for e in events if e["ph"] == "X" and e["cat"] == "node")
        arrows = sum(1 for e in events if e["ph"] == "s")
        print(f"trace: {slices} node slices, {arrows} values crossing workers")

    g = GraphBuilder()
    g.node("quote/AAPL", _failing, g.source("spot/AAPL", 101.0))
    try:
        run_graph(g.build(), [], ProcessScheduler(1))
    except NodeError as err:
        print(f"error from a worker: {err.key} on {err.worker.split('[')[0]}: {err.exc_message}")


if __name__ == "__main__":
    main()
