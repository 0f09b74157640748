"""The partition report as rich tables: what ``print(report)`` and ``fluvius partition`` show.

Kept apart from :mod:`fluvius.partition.report` (the data and the verdict) so that the
report module stays about what is predicted, not how it is laid out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from fluvius.partition.report import PartitionReport

__all__ = ["render"]


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.2f}"


def render(report: PartitionReport) -> list[Any]:
    """The renderables of :meth:`PartitionReport.__rich__`, in order."""
    waits = f" (async waits {_ms(report.wait_s)} ms)" if report.wait_s else ""
    out: list[Any] = [
        Text(
            f"{report.nodes:,} nodes, {report.sources:,} sources; costs: {report.cost_source}; "
            f"total work {_ms(report.total_work_s)} ms{waits}, critical path "
            f"{_ms(report.critical_path_s)} ms"
        )
    ]
    table = Table(
        "worker", "nodes", "work ms", "edges in", "edges out", "values out", "bytes out",
        title=f"{report.partitioner} on {report.workers} workers: "
        f"{report.cross_edges:,} cross edges",
    )  # fmt: skip
    for s in report.shares:
        table.add_row(
            str(s.worker), f"{s.nodes:,}", _ms(s.work_s), f"{s.edges_in:,}",
            f"{s.edges_out:,}", f"{s.values_out:,}", f"{s.bytes_out:,}",
        )  # fmt: skip
    out.append(table)
    out.append(
        Text(
            f"serial {_ms(report.serial_s)} ms; lower bound {_ms(report.lower_bound_s)} ms; "
            f"predicted start-up {_ms(report.predicted_s)} ms (one core per worker), "
            f"{_ms(report.predicted_here_s)} ms on this machine's {report.cores:g} cores, plus "
            f"{_ms(report.spawn_s)} ms to start the processes"
        )
    )
    counts = sorted({n for row in report.predictions.values() for n in row})
    scaling = Table(
        "partitioner", *(f"{n} w" for n in counts), title="predicted start-up, ms (one core/worker)"
    )
    for name, row in report.predictions.items():
        scaling.add_row(name, *(_ms(row[n]) if n in row else "" for n in counts))
    out.append(scaling)
    v = report.verdict
    if v is not None:
        where = (
            f"this machine ({v.cores:g} cores"
            if v.network == "local"
            else f"network {v.network} ({v.cores:g} cores a host"
        )
        ticks = Table(
            "workers", "start-up ms", "spawn ms", "one-source tick ms", "market-wide tick ms",
            title=f"predicted on {where}, {v.partitioner}); ticks: "
            f"{v.tick_source!r} alone, and {v.market_sources:,} sources like it at once",
        )  # fmt: skip
        for r in v.rows:
            label = "serial" if r.workers == 1 else str(r.workers)
            if r.workers == v.recommended:
                label += " *"
            ticks.add_row(
                label, _ms(r.startup_s), _ms(r.spawn_s), _ms(r.tick_s), _ms(r.market_tick_s)
            )
        out.append(ticks)
        out.append(Text(f"verdict: {v.reason}", style="bold"))
    m = report.measured
    if m is not None:
        busy = Table("worker", "nodes", "busy ms", "idle ms", title="measured start-up")
        for w in m["workers"]:
            busy.add_row(
                str(w["worker"]), str(w["nodes"]),
                _ms(w["busy_seconds"] or 0.0), _ms(w["idle_seconds"] or 0.0),
            )  # fmt: skip
        out.append(busy)
        out.append(
            Text(
                f"measured start-up {_ms(m['startup_seconds'])} ms; efficiency (bound / "
                f"measured) {m['efficiency']:.2f}; prediction error {m['prediction_error']:+.1%}"
            )
        )
    return out
