"""Replay a capture's IEX-TP segments over UDP at the recorded pace times speed, or flat out.

Design note
-----------
The replayer reads the capture as the decoders do (chunk by chunk, bounded memory; gzip and
every container), takes each frame's UDP payload, which is one IEX-TP segment, and sends it
to ``host:port`` from one connected asyncio datagram socket. Frames without a UDP payload
and frames the capture cut short (captured < original length) are skipped and counted:
resending a partial segment would only corrupt the receiver's stream.

Pacing. Datagram *i* is due at ``start + (ts_i - ts_0) / speed`` on the loop's clock, where
``ts`` is the capture timestamp; ``speed=0`` (or infinity) means no pacing. Independently,
``max_rate`` (datagrams per second) bounds the send rate, so that a flat-out replay does
not overflow a receiver's socket buffer on loopback, where the kernel drops silently. The
default, :data:`DEFAULT_MAX_RATE`, is never above the maximum lossless rate measured for
``fluvius live`` on a long capture (docs/benchmarks.md, issue 13 section); a short
capture (the IEX sample) fits the receiver's socket buffer and goes through at any rate.
The loop sleeps only when it
is at least :data:`MIN_SLEEP_S` ahead (timers are coarse), so short bursts go out back to
back and the average pace is kept. Every ``burst`` datagrams it yields to the event loop,
so a receiver in the same loop drains its socket. Backpressure: when the transport's
buffer is over its high-water mark (``pause_writing``), sending waits for
``resume_writing``. ICMP "port unreachable" errors (nobody listening) are counted, not
fatal: UDP has no connection to lose.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fluvius.feeds._capture import ETHERNET, CaptureStats, iter_records
from fluvius.feeds.net import udp_payload

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from pathlib import Path

__all__ = ["DEFAULT_MAX_RATE", "MIN_SLEEP_S", "ReplayReport", "iter_datagrams", "replay"]

MIN_SLEEP_S = 0.001
DEFAULT_MAX_RATE = 5_000.0
"""Datagrams per second sent at most by default (see the module doc)."""


@dataclass(slots=True)
class ReplayReport:
    """What a replay sent and skipped."""

    datagrams: int = 0
    bytes: int = 0
    seconds: float = 0.0
    capture_seconds: float = 0.0
    skipped_truncated: int = 0
    skipped_non_udp: int = 0
    send_errors: int = 0
    capture: CaptureStats = field(default_factory=CaptureStats)

    def as_dict(self) -> dict[str, Any]:
        """Every field as plain JSON-ready data."""
        out: dict[str, Any] = {n: getattr(self, n) for n in self.__slots__ if n != "capture"}
        out["capture"] = self.capture.as_dict()
        out["datagrams_per_second"] = self.datagrams / self.seconds if self.seconds else 0.0
        return out


def iter_datagrams(
    path: str | Path,
    report: ReplayReport | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[int, bytes]]:
    """``(capture time ns, UDP payload)`` of every complete UDP frame of a capture.

    Frames cut short by the capture, and frames without a UDP payload (other protocols,
    other link types), are counted in ``report`` and skipped.
    """
    report = report if report is not None else ReplayReport()
    for buf, _base, found in iter_records(path, report.capture, progress=progress):
        for off, cap, orig, ts, link in found:
            if cap < orig:
                report.skipped_truncated += 1
                continue
            payload = udp_payload(buf, off, cap) if link == ETHERNET else None
            if payload is None:
                report.skipped_non_udp += 1
                continue
            at, n = payload
            yield ts, bytes(buf[at : at + n])


class _Sender(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.writable = asyncio.Event()
        self.writable.set()
        self.errors = 0

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def error_received(self, exc: Exception) -> None:
        self.errors += 1


async def replay(
    source: str | Path | Iterable[tuple[int, bytes]],
    host: str,
    port: int,
    *,
    speed: float = 1.0,
    max_rate: float | None = DEFAULT_MAX_RATE,
    burst: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayReport:
    """Send every segment of ``source`` (a capture file, or ``(ts_ns, payload)`` pairs).

    Parameters
    ----------
    source
        A capture path (read with :func:`iter_datagrams`) or an iterable of
        ``(capture time ns, UDP payload)``, e.g. from
        :func:`fluvius.feeds.iex.encode.encode_segments`.
    host, port
        Where to send (unicast or a multicast group).
    speed
        Recorded pace times ``speed``; 0 or ``math.inf``: as fast as ``max_rate`` allows.
    max_rate
        Upper bound in datagrams per second (None: unbounded).
    burst
        Datagrams sent between two yields to the event loop.
    progress
        ``progress(done, total)`` in bytes of the capture file read (files only).
    """
    if speed < 0 or math.isnan(speed):
        raise ValueError(f"speed must be >= 0 (0 = as fast as possible), got {speed=}")
    if max_rate is not None and not max_rate > 0:
        raise ValueError(f"max_rate must be > 0 datagrams/s or None, got {max_rate=}")
    if burst < 1:
        raise ValueError(f"burst must be >= 1, got {burst=}")
    report = ReplayReport()
    datagrams: Iterable[tuple[int, bytes]]
    if isinstance(source, str | os.PathLike):
        datagrams = iter_datagrams(source, report, progress=progress)
    else:
        datagrams = source
    paced = 0 < speed < math.inf
    loop = asyncio.get_running_loop()
    transport, sender = await loop.create_datagram_endpoint(_Sender, remote_addr=(host, port))
    wall0 = time.perf_counter()
    try:
        start = loop.time()
        first_ts = last_ts = None
        for i, (ts, payload) in enumerate(datagrams):
            if first_ts is None:
                first_ts = ts
            last_ts = ts
            due = start
            if paced:
                due = start + (ts - first_ts) / 1e9 / speed
            if max_rate is not None:
                due = max(due, start + i / max_rate)
            ahead = due - loop.time()
            if ahead >= MIN_SLEEP_S:
                await asyncio.sleep(ahead)
            elif i % burst == burst - 1:
                await asyncio.sleep(0)
            if not sender.writable.is_set():
                await sender.writable.wait()
            transport.sendto(payload)
            report.datagrams += 1
            report.bytes += len(payload)
        await asyncio.sleep(0)
    finally:
        transport.close()
    report.seconds = time.perf_counter() - wall0
    report.send_errors = sender.errors
    if first_ts is not None and last_ts is not None:
        report.capture_seconds = (last_ts - first_ts) / 1e9
    return report
