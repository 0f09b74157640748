"""``fluvius live``: run a spec on market-data feeds until they end, a duration, or a signal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fluvius.cli.errors import fail, user_errors
from fluvius.cli.output import err_console, print_json
from fluvius.cli.run import (
    AddressOption,
    SchedulerOption,
    WorkersOption,
    check_scheduler,
    report_document,
)
from fluvius.engine.state import ERROR_POLICIES
from fluvius.live import LiveReport, LiveRun, LiveState, Recorder, feed_schemes
from fluvius.live.address import parse_http_address

__all__ = ["EPILOG", "HELP", "live", "live_document"]

HELP = """Run the graph of SPEC on live or replayed market data, cycle after cycle.

Feeds are URLs: `iex+pcap://PATH?speed=X` replays a capture (speed=1 real time, the
default; 0 as fast as possible, the same cycles on every run) and
`iex+udp://HOST:PORT[?group=G&interface=I]` receives IEX-TP datagrams. A feed sets the
sources SPEC declares, keyed `quote/SYM` (latest quote), `mid/SYM` (float, NaN while a side
is empty) and `trade/SYM` (the trades of the cycle, a list: none is ever dropped); declare
them with null initial values. The run ends when every feed ends, after --duration, or on
Ctrl-C/SIGTERM, with recordings flushed and workers closed (exit code 0). Failing nodes are
isolated by default: logged with their key and where they were created; the others keep
serving. With --json, one JSON document goes to stdout at the end: what `fluvius run
--json` prints, plus `feeds` (per feed: messages, gaps, drops, lag).
"""

EPILOG = """Examples:

  fluvius live examples/specs/iex_pipeline.yaml \
      --feed 'iex+pcap://capture.pcap.gz?speed=0' --json | jq .feeds

  fluvius live spec.yaml --feed 'iex+udp://127.0.0.1:10377' --duration 60 \
      --record rec/ --record-keys 'vwap/*' --record-keys 'mid/*'

  duckdb -c "SELECT key, count(*), avg(value) FROM 'rec/*.parquet' GROUP BY key"

  # busy-poll the socket (one core kept busy) for the lowest receive -> cycle latency
  fluvius live spec.yaml --feed 'iex+udp://127.0.0.1:10377?poll=busy' --json

Docs: docs/how-to/live.md; feed URLs and how to add one: docs/reference/live.md.
"""

_EXTRA_FIELDS = ("feed", "stream", "key", "created_at", "cycle", "missing", "drops", "lag_ns")


class _Fields(logging.Formatter):
    """``LEVEL logger: message  feed=… stream=…``: the structured fields, greppable."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = [
            f"{name}={getattr(record, name)}"
            for name in _EXTRA_FIELDS
            if getattr(record, name, None) not in (None, "")
        ]
        return f"{text}  {' '.join(extra)}" if extra else text


def _log_to_stderr(verbose: bool) -> logging.Handler:
    handler = logging.StreamHandler()
    handler.setFormatter(_Fields("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("fluvius")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    return handler


def live_document(report: LiveReport) -> dict[str, Any]:
    """The ``--json`` document: ``fluvius run --json``'s, plus ``feeds``."""
    doc = report_document(report.run, report.state.graph.node_keys if report.state.graph else [])
    doc["feeds"] = report.feeds
    return doc


def live(
    ctx: typer.Context,
    spec: Annotated[
        Path, typer.Argument(help="Graph spec file (YAML or JSON).", show_default=False)
    ],
    *,
    feed: Annotated[
        list[str],
        typer.Option(
            help="Feed URL (repeat for several): iex+pcap://PATH?speed=X or "
            "iex+udp://HOST:PORT[?group=G&interface=I]; add &poll=busy (or &spin=SECONDS) to "
            "busy-poll the UDP socket: lower latency for a core's CPU time "
            "(docs/how-to/live.md).",
            show_default=False,
        ),
    ],
    scheduler: SchedulerOption = "serial",
    workers: WorkersOption = None,
    address: AddressOption = None,
    record: Annotated[
        Path | None,
        typer.Option(help="Write the chosen nodes' changed values to Parquet files here."),
    ] = None,
    record_keys: Annotated[
        list[str] | None,
        typer.Option(help="Key glob of nodes to record (repeat; default: every key)."),
    ] = None,
    http: Annotated[
        str | None,
        typer.Option(
            help="Serve the dashboard (GET /), /metrics and /api/values?keys=GLOB at "
            "HOST:PORT; loopback (127.0.0.1) unless you name another address; port 0 picks "
            "a free one. The address is printed on stderr.",
            show_default=False,
        ),
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds.", min=0.0)
    ] = None,
    error_policy: Annotated[
        str,
        typer.Option(help=f"{' or '.join(ERROR_POLICIES)}: failing nodes end the run, or not."),
    ] = "isolate",
    json_out: Annotated[
        bool, typer.Option("--json", help="Write one JSON document to stdout at the end.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show tracebacks and INFO logs.")
    ] = False,
) -> None:
    verbose = verbose or bool(ctx.obj and ctx.obj.get("verbose"))
    with user_errors(verbose):
        check_scheduler(scheduler, workers, address)
        if record_keys and record is None:
            fail("--record-keys needs --record DIR", code=2)
        if error_policy not in ERROR_POLICIES:
            fail(f"unknown error policy {error_policy!r}; expected one of {ERROR_POLICIES}", code=2)
        if duration is not None and duration <= 0:
            fail(f"--duration must be > 0 seconds, got {duration}", code=2)
        listen = None
        if http is not None:
            try:
                listen = parse_http_address(http)
            except ValueError as exc:
                fail(str(exc), code=2)
        schemes = feed_schemes()
        for url in feed:
            if url.partition("://")[0] not in schemes:
                fail(
                    f"feed {url!r}: unknown scheme; expected one of {', '.join(schemes)}",
                    "e.g. --feed 'iex+pcap://capture.pcap?speed=0'",
                    code=2,
                )
        handler = _log_to_stderr(verbose)
        try:
            report = asyncio.run(
                _run(spec, feed, scheduler, workers, record, record_keys or [], duration,
                     error_policy, listen, address)
            )  # fmt: skip
        finally:
            logging.getLogger("fluvius").removeHandler(handler)
        if json_out:
            print_json(live_document(report))
        else:
            _print_summary(report)


async def _run(
    spec: Path,
    feeds: list[str],
    scheduler: str,
    workers: int | None,
    record: Path | None,
    record_keys: list[str],
    duration: float | None,
    error_policy: str,
    listen: tuple[str, int] | None = None,
    address: str | None = None,
) -> LiveReport:
    recorder = Recorder(record, record_keys) if record is not None else None
    run = LiveRun(
        spec,
        feeds,
        scheduler=scheduler,
        workers=workers,
        address=address,
        error_policy=error_policy,
        state=LiveState(),
        recorder=recorder,
        duration_s=duration,
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, run.stop, sig.name)

    async def announce() -> None:
        await run.ready.wait()
        graph = run.graph
        err_console.print(
            f"fluvius live: {len(graph.node_keys):,} nodes started on {len(run.feeds)} feed(s); "
            "Ctrl-C or SIGTERM stops (recordings flushed)"
        )

    told = asyncio.create_task(announce())  # owned here: cancelled and awaited below
    try:
        if listen is None:
            return await run.run()
        from fluvius.live.http import DashboardServer  # aiohttp: imported only when serving

        async with DashboardServer(run.state, *listen) as server:
            err_console.print(f"dashboard: {server.url}  (metrics: {server.url}metrics)")
            err_console.file.flush()
            return await run.run()
    finally:
        told.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await told
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _print_summary(report: LiveReport) -> None:
    stats = report.run.stats
    err_console.print(
        f"{stats['nodes']:,} nodes; {stats['cycles']:,} cycles in {report.seconds:.2f} s; "
        f"ended: {report.ended_by}"
    )
    table = Table("feed", "messages", "datagrams", "gaps", "drops", "lag max ms", title="feeds")
    for name, h in report.feeds.items():
        table.add_row(
            name, f"{h['messages']:,}", f"{h['datagrams']:,}", str(h["gaps"]), str(h["drops"]),
            f"{h['lag_ns_max'] / 1e6:.3f}",
        )  # fmt: skip
    err_console.print(table)
    if "recorded_rows" in stats:
        err_console.print(f"recorded {stats['recorded_rows']:,} rows in {stats['recorded_files']}")
    for key, err in report.run.failed.items():
        err_console.print(f"[red]failed[/] {key}: {err}", markup=True)
