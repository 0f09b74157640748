"""Live IEX over UDP: an asyncio datagram receiver that decodes each segment as it arrives.

Design note
-----------
:class:`LiveFeed` binds a UDP socket (optionally joining a multicast group, as the IEX feeds
are published), watches it with ``loop.add_reader`` and, on each wake-up, drains every
datagram waiting (asyncio's datagram transport reads one per loop iteration, too few for a
burst of market data), decoding each one *in the callback* with
:class:`~fluvius.feeds.iex.datagram.ColumnarSegmentDecoder` (one compiled call per clean
segment, the reference decoder for anything else): one datagram is one IEX-TP segment, its
events are stamped with the receive time (``time.time_ns()`` by default) and its
:class:`~fluvius.feeds.iex.datagram.DatagramBatch` (rows per kind; event objects made only
when asked for) is appended to a queue. Consumers iterate :meth:`LiveFeed.batches` (the
columnar batches, what :class:`fluvius.feeds.adapter.DatagramAdapter` turns into graph
source values without an object per message), :meth:`LiveFeed.datagrams` (the event
objects of one datagram together, the natural unit for a graph cycle) or
:meth:`LiveFeed.events` (one event at a time). The three give the same events; the objects
are built in the consumer's loop, not in the socket callback.

Losses are never silent. The decoder's sequence tracking (per protocol, channel and
session) turns lost datagrams into *gaps* and repeated ones into *duplicates* in
:attr:`LiveFeed.report`, exactly as for a capture. When consumers fall behind by more than
``max_pending`` events, new datagrams are dropped *before* decoding (counted in
:attr:`LiveStats.overflow_drops`), so the tracker reports them as gaps too; memory stays
bounded. A datagram that is not IEX-TP is counted by the report (``not_iex``). In strict
mode a corrupt segment ends iteration with its :class:`~fluvius.errors.DecodeError`.

Iteration ends when the feed is closed, or after ``idle_timeout_s`` seconds without a
datagram (a replay that finished, a feed that went quiet).

Direct consumers. Iterating wakes the consumer's task once per socket wake-up: one more
event-loop step between a datagram and its use. A consumer that can act at once sets
:attr:`LiveFeed.on_ready` instead: it is called in the socket callback, after the drain,
whenever batches are queued, and takes them with :meth:`LiveFeed.take_ready` (``fluvius
live`` runs the graph's cycle right there); :meth:`LiveFeed.until_done` waits for the end
without consuming anything. After ``on_ready`` the socket is drained again (what arrived
during the cycle is read at once, not after one more turn of the event loop, up to
:data:`REDRAIN` times); when it is found empty, :attr:`LiveFeed.on_idle` is called: the
moment to do deferred work without delaying a datagram (``fluvius live`` collects garbage
there, :mod:`fluvius.live._gc`). A busy-polling receiver calls it too, when a spin finds the
socket empty after a drain that was handed to ``on_ready``. A direct consumer may also set
:attr:`LiveFeed.on_batch`: each decoded batch then goes to it as it is read (nothing is
queued), and when it returns True the drain stops at that datagram and ``on_ready`` runs at
once, before the datagrams behind it are read (``fluvius live`` adapts each datagram there
and runs a cycle for the first one that sets a source: that datagram's latency does not
include reading and decoding a burst behind it).

Receive time. By default each datagram is stamped with ``clock()`` when the process has
read it from the socket (after the kernel woke the process). ``kernel_stamps=True`` asks
the kernel for its own receive time (``SO_TIMESTAMPNS``, read with ``recvmsg``): the time
the datagram reached the socket, which also counts the wake-up of a sleeping process.

Busy polling. By default the process sleeps in the event loop's ``epoll_wait`` between
datagrams: the kernel wakes it for each one, and after an idle gap the CPU, its caches and
TLB are cold (a virtual CPU may even have halted), so the first datagram's path runs several
times slower than back to back. ``spin_s`` (``iex+udp://…?spin=SECONDS`` or ``?poll=busy``,
which spins without end) keeps reading the non-blocking socket in a loop after each drain,
for up to ``spin_s`` seconds without a datagram, before it goes back to ``epoll_wait``:
a datagram is read as soon as it lands, on a core that never went to sleep. The spin runs
in slices of at most :data:`SPIN_SLICE_S`; between slices the callback reschedules itself
with ``loop.call_soon``, so the event loop still polls its other file descriptors (the
dashboard's HTTP server, the signal wake-up), runs its timers (``--duration``) and its
other tasks after every slice, and :meth:`close` stops the spin. The price is CPU: a whole
core while spinning (``poll=busy``: always), and every other process on that core waits.

Exposure (issue 15). :meth:`LiveFeed.bind` listens on loopback unless told otherwise;
with a multicast ``group`` it binds the group's address, so it receives that group's
datagrams only (not unicast sent to any address of the host). ``allow_from`` keeps the
datagrams of the listed source addresses only; the others are counted
(:attr:`LiveStats.foreign_drops`) and dropped before decoding. One forged datagram cannot
blind the feed (the tracker holds an implausible sequence jump until the stream confirms
it), and forged sessions cannot grow its state: at most ``max_streams`` streams are
tracked, the ones dropped are reported (``report.evicted_streams``).

>>> async def main():
...     async with await LiveFeed.bind("127.0.0.1", 0) as feed:
...         return feed.port > 0
>>> asyncio.run(main())
True
"""

from __future__ import annotations

import asyncio
import math
import socket
import struct
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fluvius.errors import DecodeError
from fluvius.feeds.iex.datagram import ColumnarSegmentDecoder
from fluvius.feeds.iex.report import DecodeReport
from fluvius.feeds.iex.transport import MAX_STREAMS

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable
    from types import TracebackType

    from fluvius.feeds.events import Event
    from fluvius.feeds.iex.datagram import DatagramBatch

__all__ = ["DRAIN", "REDRAIN", "SPIN_SLICE_S", "LiveFeed", "LiveStats"]

DRAIN = 256
"""Datagrams read per socket wake-up at most (asyncio's own transport reads only one)."""

REDRAIN = 16
"""After :attr:`LiveFeed.on_ready`, the socket is drained again (what arrived meanwhile) up to
this many times before the callback returns to the event loop."""

SPIN_SLICE_S = 0.001
"""A busy-polling receiver hands the event loop back at least this often (seconds)."""


@dataclass(slots=True)
class LiveStats:
    """Receive-side counts (the decode counts, gaps and duplicates are in the report)."""

    datagrams: int = 0
    bytes: int = 0
    events: int = 0
    overflow_drops: int = 0
    max_pending: int = 0
    foreign_drops: int = 0  # datagrams from a source not in ``allow_from``
    spin_slices: int = 0  # busy-polling slices run (``spin_s``)

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict."""
        return {n: getattr(self, n) for n in self.__slots__}


class LiveFeed:
    """A bound UDP socket decoding IEX-TP datagrams into events (see the module doc).

    Create with :meth:`bind`; use as an async context manager (closing on exit).
    """

    def __init__(
        self,
        *,
        strict: bool = False,
        max_pending: int = 1_000_000,
        clock: Callable[[], int] = time.time_ns,
        venue: str = "IEX",
        max_streams: int = MAX_STREAMS,
        allow_from: Iterable[str] | None = None,
        kernel_stamps: bool = False,
        spin_s: float = 0.0,
    ) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {max_pending=}")
        if max_streams < 1:
            raise ValueError(f"max_streams must be >= 1, got {max_streams=}")
        if not spin_s >= 0:
            raise ValueError(f"spin_s must be >= 0 (math.inf: always), got {spin_s=}")
        self.report = DecodeReport()
        self.decoder = ColumnarSegmentDecoder(venue=venue, strict=strict, report=self.report)
        self.decoder.tracker.max_streams = max_streams
        self.allow_from = _addresses(allow_from)
        self.stats = LiveStats()
        self.max_pending = max_pending
        self.clock = clock
        self.kernel_stamps = kernel_stamps
        self.spin_s = spin_s
        """Busy-poll the socket for this long after each datagram (see the module doc)."""
        self.on_ready: Callable[[], None] | None = None
        """Called in the socket callback when batches are queued (see the module doc)."""
        self.on_idle: Callable[[], None] | None = None
        """Called in the socket callback when the socket is found empty after
        :attr:`on_ready` ran (see the module doc)."""
        self.on_batch: Callable[[DatagramBatch], bool] | None = None
        """A direct consumer's hook: each decoded batch goes to it as it is read, instead of
        the queue; when it returns True (the batch is worth a cycle), the drain stops there
        and :attr:`on_ready` runs at once (see the module doc)."""
        self._handed = False  # on_batch asked for on_ready: the drain stops
        self._queue: deque[DatagramBatch] = deque()
        self._pending = 0
        self._wake = asyncio.Event()
        self._done = asyncio.Event()  # closed or failed
        self._closed = False
        self._error: BaseException | None = None
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._spin_next: asyncio.Handle | None = None  # the next slice, while spinning
        self._spin_until = 0.0  # perf_counter() when an idle spin goes back to epoll_wait
        self.address: tuple[str, int] = ("", 0)

    @classmethod
    async def bind(
        cls,
        host: str | None = None,
        port: int = 0,
        *,
        group: str | None = None,
        interface: str = "0.0.0.0",
        rcvbuf_bytes: int = 8 << 20,
        **options: Any,
    ) -> LiveFeed:
        """Bind ``host:port`` (port 0: any free port) and start receiving.

        ``host`` defaults to loopback (``127.0.0.1``), or to ``group`` when one is joined:
        name an address (``"0.0.0.0"``: every interface) to receive from other hosts.
        ``group`` joins that IPv4 multicast group on ``interface`` (the IEX feeds are
        multicast: TOPS 233.215.21.3:10377, DEEP 233.215.21.4:10378 on the primary site).
        ``rcvbuf_bytes`` asks the kernel for a large socket buffer (it may grant less).
        ``options`` go to the constructor: ``strict``, ``max_pending``, ``clock``,
        ``venue``, ``max_streams`` (streams tracked at once), ``allow_from`` (source
        addresses whose datagrams are kept; None: any), ``kernel_stamps`` (stamp each
        datagram with the kernel's receive time, ``SO_TIMESTAMPNS``; see the module doc),
        ``spin_s`` (busy-poll the socket for this long after each datagram, ``math.inf``:
        always; see the module doc).
        """
        if host is None:
            host = group if group is not None else "127.0.0.1"
        feed = cls(**options)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf_bytes)
            if feed.kernel_stamps:
                sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
            sock.bind((host, port))
            if group is not None:
                mreq = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton(interface))
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
            sock.setblocking(False)
            loop = asyncio.get_running_loop()
            loop.add_reader(sock.fileno(), feed._readable)
        except BaseException:
            sock.close()
            raise
        feed._sock, feed._loop = sock, loop
        feed.address = sock.getsockname()[:2]
        if feed.spin_s == math.inf:  # poll=busy: spin from the start, not from a datagram
            feed._spin_until = math.inf
            feed._spin_next = loop.call_soon(feed._spin)
        return feed

    @property
    def port(self) -> int:
        """The bound port."""
        return self.address[1]

    # -- the socket side --------------------------------------------------------------------
    def _readable(self) -> None:
        """The event loop saw the socket readable: drain it, hand the batches over, and
        busy-poll after it when asked (``spin_s``)."""
        sock = self._sock
        if sock is None:
            return
        read = self._drain(sock)
        if self.on_ready is not None and (self._queue or (read and self.on_batch is not None)):
            self._handed = False
            self.on_ready()
            # what arrived during the cycle: read it now rather than after one more turn of
            # the event loop; the socket found empty is the idle moment (on_idle)
            for _ in range(REDRAIN):
                if self._sock is None or self.on_ready is None:
                    break
                more = self._drain(sock)
                if not more:
                    if self.on_idle is not None:
                        self.on_idle()
                    break
                read += more
                if self._queue or self.on_batch is not None:
                    self._handed = False
                    self.on_ready()
        if self.spin_s and self._sock is not None:
            if read:
                self._spin_until = max(self._spin_until, time.perf_counter() + self.spin_s)
            if self._spin_next is None:  # else: a slice is due; it reads the new deadline
                self._spin()

    def _drain(self, sock: socket.socket) -> int:
        """Read what is waiting, up to :data:`DRAIN` datagrams (to stay fair); how many."""
        if self.allow_from is not None or self.kernel_stamps:
            return self._drain_msg(sock, self.allow_from)
        receive, clock = self._receive, self.clock
        for n in range(DRAIN):
            try:
                data = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return n
            except OSError as exc:  # e.g. ICMP errors reported on the socket
                self._fail(exc)
                return n
            receive(data, clock())
            if self._handed:  # on_batch wants this one served now: the rest can wait
                return n + 1
        return DRAIN

    def _drain_msg(self, sock: socket.socket, allowed: frozenset[str] | None) -> int:
        """:meth:`_drain` keeping only the datagrams of the allowed source addresses
        (all when None), stamped with the kernel's receive time when asked."""
        clock, stamps = self.clock, self.kernel_stamps
        for n in range(DRAIN):
            try:
                data, ancillary, _flags, (source, _port) = sock.recvmsg(65536, _STAMP_SPACE)
            except (BlockingIOError, InterruptedError):
                return n
            except OSError as exc:
                self._fail(exc)
                return n
            if allowed is not None and source not in allowed:
                self.stats.foreign_drops += 1
                continue
            recv_ns = _kernel_ns(ancillary) if stamps else 0
            self._receive(data, recv_ns or clock())
            if self._handed:
                return n + 1
        return DRAIN

    def _spin(self) -> None:
        """One busy-polling slice: read the socket in a loop, handing each drain to
        :attr:`on_ready` at once, until :data:`SPIN_SLICE_S` has passed (then the next slice
        is scheduled with ``call_soon``, after the event loop's other work) or ``spin_s``
        passed without a datagram (then the socket is left to ``epoll_wait`` again). Without
        ``on_ready`` a task consumes the queue: the slice ends at the first datagram, so that
        the task runs at once."""
        self._spin_next = None
        sock, loop = self._sock, self._loop
        if sock is None or loop is None or self._error is not None:
            return
        clock, drain, spin_s = time.perf_counter, self._drain, self.spin_s
        until = self._spin_until
        now = clock()
        if now >= until:
            return
        slice_end = now + SPIN_SLICE_S
        self.stats.spin_slices += 1
        served = False  # on_ready ran since the socket was last found empty
        while now < until:
            if drain(sock):
                if self._sock is None or self._error is not None:
                    return  # failed
                now = clock()
                until = now + spin_s
                if self._queue or self.on_batch is not None:
                    if self.on_ready is None:  # a task consumes: let it run now
                        slice_end = now
                    else:
                        self._handed = False
                        self.on_ready()
                        if self._sock is None:
                            return  # closed by the consumer
                        served = True
                        now = clock()
            else:
                if served and self.on_idle is not None:
                    served = False
                    self.on_idle()
                now = clock()
            if now >= slice_end:
                self._spin_until = until
                if now < until:
                    self._spin_next = loop.call_soon(self._spin)
                return

    def _receive(self, data: bytes, recv_ns: int) -> None:
        stats = self.stats
        stats.datagrams += 1
        stats.bytes += len(data)
        if self._closed or self._error is not None:
            return
        if self._pending >= self.max_pending:
            stats.overflow_drops += 1
            return
        try:
            batch = self.decoder.decode(data, recv_ns)
        except DecodeError as exc:
            self._fail(exc)
            return
        n = len(batch)
        if n:
            stats.events += n
            take = self.on_batch
            if take is not None:
                if take(batch):
                    self._handed = True
                return
            self._queue.append(batch)
            self._pending += n
            stats.max_pending = max(stats.max_pending, self._pending)
        self._wake.set()

    def _fail(self, exc: BaseException) -> None:
        self._error = exc
        self._wake.set()
        self._done.set()

    # -- the consumer side ------------------------------------------------------------------
    async def batches(self, idle_timeout_s: float | None = None) -> AsyncIterator[DatagramBatch]:
        """Each datagram's events as a columnar batch (never empty), in arrival order."""
        while True:
            if self._queue:
                batch = self._queue.popleft()
                self._pending -= len(batch)
                yield batch
                continue
            if self._error is not None:
                raise self._error
            if self._closed:
                return
            self._wake.clear()
            if idle_timeout_s is None:
                await self._wake.wait()
                continue
            try:  # asyncio.timeout: no task per wait, unlike wait_for
                async with asyncio.timeout(idle_timeout_s):
                    await self._wake.wait()
            except TimeoutError:
                return

    def take_ready(self) -> list[DatagramBatch]:
        """The batches received and not consumed yet, in order, taken off the queue; never
        waits (a consumer that merges what arrived into one unit of work: ``fluvius live``)."""
        ready = list(self._queue)
        self._queue.clear()
        self._pending = 0
        return ready

    async def until_done(
        self,
        idle_timeout_s: float | None = None,
        *,
        tick_s: float = 0.5,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        """Wait, consuming nothing, until the feed is closed, fails (its error is raised) or
        receives no datagram for ``idle_timeout_s`` seconds; ``on_tick`` runs every
        ``tick_s``. For direct consumers (:attr:`on_ready`): unlike iterating, it does not
        wake on each datagram."""
        seen, quiet = -1, 0.0
        while not self._done.is_set():
            try:
                async with asyncio.timeout(tick_s):
                    await self._done.wait()
            except TimeoutError:
                pass
            if on_tick is not None:
                on_tick()
            if idle_timeout_s is not None:
                quiet = quiet + tick_s if self.stats.datagrams == seen else 0.0
                seen = self.stats.datagrams
                if quiet >= idle_timeout_s:
                    return
        if self._error is not None:
            raise self._error

    async def datagrams(self, idle_timeout_s: float | None = None) -> AsyncIterator[list[Event]]:
        """The events of each datagram (non-empty lists), in arrival order."""
        async for batch in self.batches(idle_timeout_s):
            yield batch.events()

    async def events(self, idle_timeout_s: float | None = None) -> AsyncIterator[Event]:
        """Every event, one at a time, in arrival order."""
        async for batch in self.batches(idle_timeout_s):
            for event in batch.events():
                yield event

    def close(self) -> None:
        """Stop receiving; iteration drains what is queued, then ends. Idempotent."""
        self._closed = True
        if self._spin_next is not None:
            self._spin_next.cancel()
            self._spin_next = None
        sock, self._sock = self._sock, None
        if sock is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(sock.fileno())
            sock.close()
        self._wake.set()
        self._done.set()

    async def __aenter__(self) -> LiveFeed:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


_SO_TIMESTAMPNS: int = getattr(socket, "SO_TIMESTAMPNS", 35)  # 35 on Linux
_STAMP_SPACE = socket.CMSG_SPACE(16)  # one struct timespec


def _kernel_ns(ancillary: list[tuple[int, int, bytes]]) -> int:
    """The ``SO_TIMESTAMPNS`` receive time in ``recvmsg``'s ancillary data (0: none)."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= 16:
            seconds, nanoseconds = struct.unpack_from("qq", data)
            return int(seconds * 1_000_000_000 + nanoseconds)
    return 0


def _addresses(allow_from: Iterable[str] | None) -> frozenset[str] | None:
    """The allow-list as canonical IPv4 address strings (what ``recvfrom`` reports)."""
    if allow_from is None:
        return None
    if isinstance(allow_from, str):
        allow_from = [allow_from]
    out = set()
    for address in allow_from:
        try:
            out.add(socket.inet_ntoa(socket.inet_aton(address)))
        except OSError:
            raise ValueError(
                f"allow_from: {address!r} is not an IPv4 address (e.g. '10.0.0.5')"
            ) from None
    return frozenset(out)
