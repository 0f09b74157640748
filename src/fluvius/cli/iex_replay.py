"""``fluvius iex replay``: send a capture's IEX-TP segments to a UDP address.

Thin: the work is :func:`fluvius.feeds.iex.replay.replay`. Registered in the ``iex`` group
(:mod:`fluvius.cli.iex`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from fluvius.cli.errors import fail, user_errors
from fluvius.cli.output import err_console, out_console, print_json

__all__ = ["EPILOG", "parse_address", "replay"]

EPILOG = """Examples:

  fluvius iex replay TOPS16_20170710_sample.pcap.gz --to 127.0.0.1:10377

  fluvius iex replay day.pcap.gz --to 233.215.21.3:10377 --speed 10

  fluvius iex replay day.pcap --to 127.0.0.1:9000 --speed 0 --json

Each frame's UDP payload (one IEX-TP segment) is sent as one datagram, at the recorded \
pace times --speed (0: as fast as --rate allows). Frames the capture cut short and non-UDP \
frames are skipped and counted. Receive with fluvius.feeds.iex.live.LiveFeed \
(docs/how-to/iex-live.md).
"""


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` → (host, port); raises ValueError with the expected form.

    >>> parse_address("127.0.0.1:10377")
    ('127.0.0.1', 10377)
    """
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--to expects HOST:PORT with a port in 1..65535, got {text!r}")
    return host, int(port)


def replay(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Capture file (pcap or pcapng, gzip or not).")],
    *,
    to: Annotated[str, typer.Option("--to", help="Destination HOST:PORT (unicast or multicast).")],
    speed: Annotated[
        float,
        typer.Option(help="Recorded pace times this factor; 0 = as fast as --rate allows."),
    ] = 1.0,
    rate: Annotated[
        float, typer.Option(help="At most this many datagrams per second (0 = no bound).")
    ] = 50_000.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Write the summary as one JSON document to stdout.")
    ] = False,
) -> None:
    """Replay capture FILE's IEX-TP segments as UDP datagrams to HOST:PORT."""
    root = ctx.find_root()
    verbose = bool(root.obj and root.obj.get("verbose"))
    with user_errors(verbose):
        from fluvius.feeds.iex.replay import replay as run_replay

        try:
            host, port = parse_address(to)
        except ValueError as exc:
            fail(str(exc), code=2)
        if speed < 0:
            fail(f"--speed must be >= 0, got {speed}", code=2)
        if rate < 0:
            fail(f"--rate must be >= 0, got {rate}", code=2)
        if not file.is_file():
            raise FileNotFoundError(2, "No such file", str(file))
        import asyncio

        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        columns = (TextColumn("replaying"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
        show = err_console.is_terminal and not as_json
        with Progress(*columns, console=err_console, transient=True, disable=not show) as bar:
            task = bar.add_task("replay", total=os.path.getsize(file))

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = asyncio.run(
                run_replay(file, host, port, speed=speed, max_rate=rate or None, progress=progress)
            )
        doc = {"file": str(file), "to": f"{host}:{port}", "speed": speed, **report.as_dict()}
        if as_json:
            print_json(doc)
            return
        skipped = report.skipped_truncated + report.skipped_non_udp
        out_console.print(
            f"{file}: sent {report.datagrams:,} segments, {report.bytes:,} bytes to "
            f"{host}:{port} in {report.seconds:.2f} s "
            f"({doc['datagrams_per_second']:,.0f} segments/s; capture span "
            f"{report.capture_seconds:.2f} s)"
            + (f"; skipped {skipped:,} frames" if skipped else "")
            + (
                f"; {report.send_errors:,} send errors (is anything listening?)"
                if report.send_errors
                else ""
            ),
            markup=False,
        )
