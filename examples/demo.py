"""The end-to-end demonstration run by ``make demo``.

Core (the ``overhead`` workload, docs/reference/workloads.md, ~40,000 nodes):

1. Export the workload as a spec file, build the graph from it, start it (full
   evaluation) with a progress bar.
2. Apply ticks and show what each cycle recomputed and how fast.
3. Run a short live session: async streams whose bursts are conflated into cycles.
4. Check every value against the reference evaluator (the oracle), bit for bit.

Then the other parts, each through its example script (``examples/0N_*.py``):

5. Worker processes: the partition report of a fanout graph, its start-up on the serial
   scheduler, on two worker processes and on a local Dask cluster of two workers side by
   side (examples 04 and 05); then the
   options script (both presets) serial and on two workers, with the report's verdict
   (example 09).
6. IEX: decode the real TOPS sample (a synthetic capture when ``../shared`` is absent),
   drive a per-symbol graph from it, then the same graph over live UDP on 127.0.0.1
   (example 07).
7. The node library as spec ops: statistics, options, a model (example 03).
8. ``fluvius config``: generate a small universe's configuration and check it (example 06).
9. ``fluvius live`` on the sample with ``--http``: the dashboard's address, a JSON snapshot
   from its API, and a screenshot of the page when a headless chromium is present
   (example 10).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import runpy
import struct
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fluvius import ReferenceEvaluator, SerialScheduler, run_live
from fluvius.graph.spec import dump_spec, load_graph, spec_to_graph
from fluvius.workloads import export_workload, tick_stream

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

console = Console()

TICKS: list[dict[str, float]] = [
    {"U000/spot": 101.0},  # the first tick of a source also walks its descendants (cached)
    {"U000/spot": 101.0},  # same value: a tick all the same; the cutoff stops after layer 0
    {"U000/spot": 101.5},  # steady state
    {"U000/rate": 0.051},
    {"U003/spot": 99.5, "U007/spot": 104.0},
]


async def _stream(key: str, values: list[float]) -> AsyncIterator[float]:
    for i, value in enumerate(values):
        yield value
        if i % 5 == 4:  # a burst of five ticks, then a pause: bursts get conflated
            await asyncio.sleep(0.001)


def _bits(value: Any) -> Any:
    return struct.pack("<d", value) if isinstance(value, float) else value


async def demo(spec_path: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    graph = load_graph(spec_path)
    build_s = time.perf_counter() - t0
    console.print(
        f"built [bold]{len(graph):,}[/] nodes, {len(graph.sources)} sources, depth "
        f"{graph.depth()} from {spec_path.name} in {build_s * 1e3:.0f} ms"
    )
    session = SerialScheduler(chunk=500).session(graph)
    with Progress(
        TextColumn("start-up"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("nodes"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("start-up", total=len(graph))
        start = await session.start(lambda done, total: bar.update(task, completed=done))
    console.print(
        f"start-up: {start.recomputed:,} nodes in {start.seconds * 1e3:.1f} ms "
        f"({start.seconds / start.recomputed * 1e6:.3f} µs per node); then one collection "
        f"and gc.freeze() in {session.gc_freeze_seconds * 1e3:.0f} ms, so that no "
        "collection pause lands on a tick"
    )

    table = Table("batch", "recomputed", "cycle µs", "µs per node", title="ticks")
    for batch in TICKS:
        result = await session.cycle(batch)
        table.add_row(
            str(batch),
            f"{result.recomputed:,}",
            f"{result.seconds * 1e6:.0f}",
            f"{result.seconds / max(result.recomputed, 1) * 1e6:.3f}",
        )
    console.print(table)

    streams = {
        "U001/spot": _stream("U001/spot", [100.0 + i / 100 for i in range(20)]),
        "U002/spot": _stream("U002/spot", [90.0 + i / 100 for i in range(20)]),
    }
    live = await run_live(session, streams)
    console.print(
        f"live: {live.ticks} ticks became {live.cycles} cycles "
        f"({live.conflated} merged by conflation, at most {live.max_pending} pending)"
    )
    values = session.values()
    await session.aclose()

    oracle = ReferenceEvaluator(graph)
    await asyncio.to_thread(oracle.start)
    for batch in TICKS:
        await asyncio.to_thread(oracle.cycle, batch)
    await asyncio.to_thread(oracle.cycle, {"U001/spot": 100.19, "U002/spot": 90.19})
    expected = oracle.values()
    same = all(_bits(values[k]) == _bits(v) for k, v in expected.items())
    console.print(
        f"oracle check: {len(expected):,} values "
        f"{'[green]identical bit for bit[/]' if same else '[red]DIFFER[/]'}"
    )
    if not same:
        raise SystemExit(1)
    return values


EXAMPLES = Path(__file__).resolve().parent


def _example(name: str) -> dict[str, Any]:
    """The namespace of ``examples/<name>`` (file names start with a digit: no import)."""
    return runpy.run_path(str(EXAMPLES / name))


def _show(title: str, fn: Any, *args: Any) -> Any:
    """Run one part, printing what it prints under a rule."""
    console.rule(title)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = fn(*args)
    console.print(out.getvalue().rstrip(), markup=False, highlight=False)
    return result


def multiprocess_demo() -> None:
    """Partition report, then serial, 2-process and 2-Dask-worker start-ups of a fanout
    graph."""
    _show(
        "worker processes: partition report and start-up, serial vs 2 workers",
        _example("05_partition_report.py")["demo"],
    )
    spec = export_workload("fanout", {"underlyings": "8", "length": "10", "target_s": "0.002"})
    graph = spec_to_graph(spec)
    ticks = list(tick_stream(spec, 20, seed=1))
    rows = _example("04_process_scheduler.py")["demo"](graph, ticks)
    table = Table("scheduler", "start-up ms", "median tick ms", "values", title="fanout")
    for row in rows:
        table.add_row(
            row["scheduler"],
            f"{row['startup_s'] * 1e3:.1f}",
            f"{row['median_tick_ms']:.2f}",
            "identical" if row["identical"] else "[red]DIFFER[/]",
        )
    console.print(table)
    if not all(row["identical"] for row in rows):
        raise SystemExit(1)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / "overhead.json"
        dump_spec(export_workload("overhead", {}), spec_path)
        console.print(
            f"exported the overhead workload to {spec_path} "
            f"({spec_path.stat().st_size / 1e6:.1f} MB)"
        )
        asyncio.run(demo(spec_path))
    multiprocess_demo()
    _show(
        "the options script: serial vs 2 workers, and the partition report's verdict",
        _example("11_options_parallel.py")["demo"],
    )
    _show(
        "IEX: the TOPS sample drives a graph, offline and over live UDP",
        _example("07_iex_graph.py")["main"],
    )
    _show(
        "IEX live: each datagram decoded to columns, graph values without event objects",
        _example("08_iex_columnar.py")["main"],
    )
    _show(
        "node library: statistics, options and a model as spec ops",
        _example("03_options_models.py")["demo"],
    )
    _show(
        "fluvius config: a small universe's configuration, generated and checked",
        _example("06_config.py")["main"],
    )
    # printed as it happens (not through _show): the dashboard's address comes first
    console.rule("fluvius live on the IEX sample, with its dashboard (address, API, screenshot)")
    _example("10_live_dashboard.py")["main"]()


if __name__ == "__main__":
    main()
