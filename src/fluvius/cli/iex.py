"""``fluvius iex``: decode IEX captures (pcap/pcapng, gzip or not) and describe them.

The commands are thin: the work is in :mod:`fluvius.feeds.iex.export`. Heavy imports
(numpy, pyarrow) happen inside the commands so ``fluvius --help`` stays quick.
"""

from __future__ import annotations

import enum
import gc
import os
import sys
import time
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fluvius.cli import iex_replay
from fluvius.cli.errors import fail, user_errors
from fluvius.cli.output import err_console, exit_fast_when_done, out_console, print_json

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from fluvius.feeds.iex.report import DecodeReport

__all__ = ["app"]

PROGRESS_MIN_BYTES = 32 << 20  # smaller files decode before a bar would help


def _process_settings(*, arrow: bool = False) -> None:
    """Settings of this process's libraries that suit decoding; explicit ones are kept.

    * numpy's OpenBLAS gets one thread: decoding does no linear algebra, and OpenBLAS
      starts one spinning thread per core at ``import numpy`` (25-50 ms of CPU on this
      2-core machine, taken from the threads that decode and write Parquet);
    * Arrow allocates with malloc rather than mimalloc, which keeps freed pages: about
      30 MB less peak memory writing Parquet, at the same speed;
    * the decoder's modules (numpy, the event classes; pyarrow and its Parquet writer
      with ``arrow``) are imported with the garbage collector off, then frozen: their
      objects all live to the end, and collecting them over and over while they load
      (and, for pyarrow's, again in every full collection of the run) cost about 10 ms
      of CPU, 3% of a whole ``iex decode`` of a million messages;
    * glibc's malloc keeps the memory freed by a row group for the next ones
      (:func:`_reuse_freed_memory`).
    """
    _reuse_freed_memory()
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if "pyarrow" not in sys.modules:
        os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    if gc.isenabled() and "fluvius.feeds.iex.export" not in sys.modules:
        gc.disable()
        try:
            import fluvius.feeds.iex.export  # noqa: F401  (loaded here, used by the command)

            if arrow:
                with suppress(ImportError):  # a pyarrow without it: export falls back
                    import pyarrow._parquet  # noqa: F401  (the writer of export._parquet_writer)
        finally:
            gc.freeze()
            gc.enable()


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def _reuse_freed_memory() -> None:
    """Make glibc's malloc keep freed memory for reuse rather than give it back at once.

    By default a block of 128 KiB or more is its own mapping, unmapped when freed, and the
    free top of a heap is returned to the system; the next row group's columns, Arrow
    buffers and Parquet pages then fault in fresh zeroed pages (about 2,500 page faults
    and 10 ms of CPU per million messages, most in the Parquet thread). Blocks up to 32 MiB
    now come from the heaps, which keep up to 256 MiB free: the memory of one row group
    serves the next, and the peak is the same (the command streams). Settings made through
    the environment (``MALLOC_*_``, ``GLIBC_TUNABLES``) are kept; other C libraries are
    left alone.
    """
    if any(k.startswith(("MALLOC_", "GLIBC_TUNABLES")) for k in os.environ):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # not glibc
        return
    mallopt(_M_TRIM_THRESHOLD, 256 << 20)
    mallopt(_M_MMAP_THRESHOLD, 32 << 20)


app = typer.Typer(
    add_completion=False,  # a subcommand group: completion belongs to the root
    help="IEX market data: decode TOPS 1.6 / DEEP 1.0 captures into unified events.",
    no_args_is_help=True,
)

DECODE_EPILOG = """Examples:

  fluvius iex decode TOPS16_20170710_sample.pcap.gz | head -3

  fluvius iex decode day.pcap.gz --format parquet --out day_events/

  fluvius iex decode day.pcap --strict --out events.jsonl

  fluvius iex decode day.pcap.gz -f parquet --kinds quote,trade --symbols AAPL,MSFT

The container (pcap either byte order, µs or ns; pcapng) and gzip are detected from the \
file's first bytes, not its name. JSON Lines: one event per line, every field, "kind" \
first, in file order. Parquet: a dataset partitioned by kind (kind=quote/part-0.parquet, \
kind=trade/part-0.parquet, ...; timestamps typed timestamp[ns, UTC], prices int64 in \
units of 1e-9, as the schema metadata says), default FILE's name + "_events". Lenient \
by default: corrupt segments and messages are skipped, counted and reported on stderr; \
--strict stops at the first one with its byte offset, and also fails on an implausible \
sequence jump and on a corrupt container (an impossible record length, damaged gzip data).
"""

INFO_EPILOG = """Examples:

  fluvius iex info TOPS16_20170710_sample.pcap.gz

  fluvius iex info day.pcap.gz --json | jq '.events.quote, .report.gap_count'
"""


STRICT_HELP = (
    "Fail at the first corrupt segment, message or container (a bad record length, damaged "
    "gzip data), or implausible sequence jump."
)


class Format(enum.StrEnum):
    """Output formats of ``fluvius iex decode``."""

    jsonl = "jsonl"
    parquet = "parquet"


class Compression(enum.StrEnum):
    """Parquet page compression of ``fluvius iex decode --format parquet``."""

    lz4 = "lz4"
    zstd = "zstd"
    snappy = "snappy"
    none = "none"


def _verbose(ctx: typer.Context) -> bool:
    root = ctx.find_root()
    return bool(root.obj and root.obj.get("verbose"))


def _default_out(file: Path) -> Path:
    name = file.name
    for suffix in (".gz", ".pcapng", ".pcap"):
        name = name.removesuffix(suffix)
    return file.with_name(name + "_events")


@contextmanager
def _progress(
    file: Path, label: str, report: DecodeReport | None = None
) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar when the file is big and stderr a terminal.

    It shows the (compressed) bytes read of the file, their rate, the messages decoded per
    second (from ``report``, filled as the decode goes) and the time left.
    """
    if os.path.getsize(file) < PROGRESS_MIN_BYTES or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn(label),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    t0 = time.perf_counter()
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(label, total=os.path.getsize(file), rate="")

        def update(done: int, total: int) -> None:
            rate = ""
            if report is not None and (elapsed := time.perf_counter() - t0) > 0:
                rate = f"{report.messages / elapsed / 1e6:.1f} M msg/s"
            bar.update(task, completed=done, total=total, rate=rate)

        yield update


def _summary_line(report: DecodeReport) -> str:
    parts = [f"{report.messages:,} messages", f"{report.total_events:,} events"]
    for label, value in (
        ("gaps", report.gap_count),
        ("restarts", report.restart_count),
        ("duplicates", report.duplicate_messages),
        ("sequence anomalies", report.sequence_anomaly_count),
        ("streams no longer tracked", report.stream_evictions),
        ("corrupt", report.corrupt),
        ("truncated segments", report.truncated_segments),
        ("unknown", sum(report.unknown_types.values())),
    ):
        if value:
            parts.append(f"{value:,} {label}")
    if report.capture.truncated_file:
        parts.append(f"stopped early: {report.capture.truncated_file}")
    return ", ".join(parts)


def _split(values: str | None) -> list[str] | None:
    """A comma-separated option as a list (None when absent)."""
    if values is None:
        return None
    return [v.strip() for v in values.split(",") if v.strip()]


@app.command("decode", epilog=DECODE_EPILOG)
def decode(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Capture file (pcap or pcapng, gzip or not).")],
    *,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="jsonl (one event per line) or parquet.")
    ] = Format.jsonl,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="jsonl: file to write ('-' or absent: stdout). "
            "parquet: directory of one file per kind (default FILE's name + '_events').",
        ),
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help=STRICT_HELP)] = False,
    compression: Annotated[
        Compression,
        typer.Option(
            "--compression",
            help="parquet: page compression (lz4: fast; zstd: smaller files, slower).",
        ),
    ] = Compression.lz4,
    symbols: Annotated[
        str | None,
        typer.Option(
            "--symbols",
            help="Only events of these symbols, comma-separated (e.g. AAPL,ZIEXT); "
            "events without a symbol (system events) are left out.",
        ),
    ] = None,
    kinds: Annotated[
        str | None,
        typer.Option(
            "--kinds",
            help="Only events of these kinds, comma-separated (e.g. quote,trade); "
            "see docs/reference/iex.md for the kinds.",
        ),
    ] = None,
) -> None:
    """Decode capture FILE into unified market events (JSON Lines or Parquet)."""
    with user_errors(_verbose(ctx)):
        _process_settings(arrow=fmt is Format.parquet)
        from fluvius.feeds.iex.export import check_kinds, write_jsonl, write_parquet
        from fluvius.feeds.iex.report import DecodeReport

        wanted_symbols = _split(symbols)
        wanted_kinds = None
        try:
            wanted_kinds = check_kinds(_split(kinds))
        except ValueError as exc:
            fail(f"--kinds: {exc}", "comma-separated event kinds, e.g. quote,trade")
        filters: dict[str, Any] = {"symbols": wanted_symbols, "kinds": wanted_kinds}
        report = DecodeReport()
        with _progress(file, "decoding", report) as progress:
            if fmt is Format.parquet:
                target = out if out is not None else _default_out(file)
                if target.exists() and not target.is_dir():
                    fail(
                        f"--out {target} exists and is not a directory",
                        "parquet writes a directory",
                    )
                report, files = write_parquet(
                    file,
                    target,
                    strict=strict,
                    progress=progress,
                    compression=compression.value,
                    report=report,
                    **filters,
                )
                written = f"{len(files)} Parquet files in {target}/"
            elif out is None or str(out) == "-":
                write_jsonl(
                    file, sys.stdout, strict=strict, progress=progress, report=report, **filters
                )
                sys.stdout.flush()
                written = "stdout"
            else:
                with open(out, "w", encoding="utf-8") as fh:
                    write_jsonl(
                        file, fh, strict=strict, progress=progress, report=report, **filters
                    )
                written = str(out)
        print(f"{file}: {_summary_line(report)} -> {written}", file=sys.stderr)
        exit_fast_when_done()  # every file is closed, every thread joined


@app.command("info", epilog=INFO_EPILOG)
def info(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Capture file (pcap or pcapng, gzip or not).")],
    *,
    as_json: Annotated[
        bool, typer.Option("--json", help="Write one JSON document to stdout.")
    ] = False,
    strict: Annotated[bool, typer.Option("--strict", help=STRICT_HELP)] = False,
) -> None:
    """Describe capture FILE: counts per kind, symbols, time range, gaps, truncation, speed."""
    with user_errors(_verbose(ctx)):
        _process_settings()
        from fluvius.feeds.iex.export import summarize

        with _progress(file, "reading") as progress:
            summary = summarize(file, strict=strict, progress=progress)
        doc = summary.as_dict()
        if as_json:
            print_json(doc)
            return
        _print_info(doc)


def _iso(ts_ns: int | None) -> str:
    if ts_ns is None:
        return "-"
    sec, ns = divmod(ts_ns, 1_000_000_000)
    return datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ns:09d}Z"


def _print_info(doc: dict[str, Any]) -> None:
    from rich.table import Table

    rep = doc["report"]
    cap = rep["capture"]
    table = Table("kind", "events", title=Path(doc["file"]).name, title_justify="left")
    for kind, n in doc["events"].items():
        table.add_row(kind, f"{n:,}")
    table.add_row("[bold]all[/]", f"[bold]{rep['total_events']:,}[/]")
    out_console.print(table)
    inflated = f" ({cap['compressed']})" if cap["compressed"] else ""
    rate = doc["messages_per_second"]
    lines = [
        f"container      {cap['container']}{inflated}, {cap['bytes_read']:,} bytes, "
        f"{cap['records']:,} records",
        f"segments       {rep['segments']:,} ({rep['heartbeats']:,} heartbeats), "
        f"{doc['messages']:,} messages",
        f"symbols        {doc['symbols']:,}",
        f"time range     {_iso(doc['first_ts_ns'])} .. {_iso(doc['last_ts_ns'])}",
        f"gaps           {rep['gap_count']:,} ({rep['missing_messages']:,} messages missing)",
        f"restarts       {rep['restart_count']:,}",
        f"duplicates     {rep['duplicate_messages']:,}",
        f"offset errors  {rep['offset_mismatch_count']:,}",
        f"anomalies      {rep['sequence_anomaly_count']:,} implausible sequence jumps; "
        f"{rep['stream_evictions']:,} streams no longer tracked",
        f"truncation     {cap['truncated_records']:,} records cut by snaplen, "
        f"{rep['truncated_segments']:,} segments; file: {cap['truncated_file'] or 'complete'}",
        f"corrupt        {rep['corrupt']:,}; unknown types {rep['unknown_types'] or 'none'}",
        f"not IEX        {rep['non_udp'] + rep['not_iex']:,} frames",
        f"decode speed   {rate:,.0f} messages/s" if rate else "decode speed   -",
    ]
    for line in lines:
        out_console.print(line, markup=False, soft_wrap=True)
    for problem in rep["problems"][:5]:
        out_console.print(f"  at byte {problem['offset']}: {problem['problem']}", markup=False)


app.command("replay", epilog=iex_replay.EPILOG, no_args_is_help=True)(iex_replay.replay)
