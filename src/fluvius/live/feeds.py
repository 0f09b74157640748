"""Feeds of ``fluvius live``: a URL names a feed; a registry maps URL schemes to openers.

Design note
-----------
A *feed* is an async stream of :class:`FeedUpdate`: the source values one arrival of
market data sets (``{source key: value}``, only keys the graph declares), with the
exchange time of its newest event and the receive time. The runner
(:mod:`fluvius.live.runner`) turns updates into cycles; a feed never runs the graph.

Built in (both decode with :class:`~fluvius.feeds.iex.datagram.ColumnarSegmentDecoder` and
adapt with :class:`~fluvius.feeds.adapter.DatagramAdapter`, so a replay and the live feed
give the same values for the same datagrams):

=====================================================  ======================================
``iex+pcap://PATH?speed=X``                             replay a capture (pcap/pcapng, gzip or
                                                        not); ``speed=1`` (default) real time
                                                        from the capture's timestamps, ``2``
                                                        twice as fast, ``0`` as fast as
                                                        possible. The receive time of each
                                                        update is the capture's timestamp, so
                                                        at ``speed=0`` a run is a
                                                        deterministic backtest. ``rate=N``
                                                        sends at most ``N`` datagrams per
                                                        second (with ``speed=0``: evenly
                                                        paced, whatever the timestamps).
``iex+udp://HOST:PORT?group=G&interface=I``             receive IEX-TP datagrams on
                                                        ``HOST:PORT`` (joining multicast group
                                                        ``G`` on interface ``I`` when given).
                                                        Options: ``allow=IP[,IP…]`` (keep
                                                        only these sources' datagrams),
                                                        ``rcvbuf=BYTES`` (socket
                                                        buffer asked for, default 8 MiB),
                                                        ``idle=SECONDS`` (end after that long
                                                        without a datagram; default: never),
                                                        ``stamp=read|kernel`` (receive time:
                                                        when the process read the datagram,
                                                        the default, or the kernel's
                                                        ``SO_TIMESTAMPNS``, when it reached
                                                        the socket); ``poll=epoll|busy``
                                                        and ``spin=SECONDS`` (busy polling:
                                                        see below).
=====================================================  ======================================

A relative capture path is written ``iex+pcap://data/x.pcap`` (host and path joined); an
absolute one ``iex+pcap:///abs/x.pcap``.

Busy polling (``iex+udp``). By default (``poll=epoll``) the process sleeps between
datagrams and the kernel wakes it for each one; after an idle gap its path runs on cold
caches. ``spin=SECONDS`` keeps reading the socket in a loop for up to that long after each
datagram before sleeping again; ``poll=busy`` never sleeps (it spins from the start). The
event loop still runs between slices of at most a millisecond (the dashboard, timers,
signals; :class:`fluvius.feeds.iex.live.LiveFeed`), and values are the same in every mode.
The price: one core kept busy while spinning (``poll=busy``: always).

Health and losses. Each feed updates its :class:`~fluvius.live.state.FeedHealth` as it
reads: messages, datagrams, sequence gaps and the messages they miss (the decoder's
per-stream tracking), receive drops (the receiver's own queue overflow plus the kernel's
count of datagrams dropped on the socket, from ``/proc/net/udp``) and lag (receive time
minus exchange time). Each gap, each new receive drop and each time the lag first exceeds
``lag_warn_s`` is logged on the ``fluvius.live`` logger at WARNING with ``extra`` fields
``feed``, ``stream`` and the counts, so a log pipeline can count them too.

Adding a feed. Write an opener ``(url: FeedURL, context: FeedContext) -> Feed`` and
register it under its scheme::

    register_feed("mycsv", open_my_csv_feed)      # then: fluvius live spec.yaml --feed mycsv://...

A :class:`Feed` has a ``name``, ``deterministic`` (True when its updates and their order
never depend on timing, e.g. a replay at speed 0: the runner then gives each update its own
cycle), ``clocked`` (True when receive times are this machine's ``time.time_ns()``, so the
runner can measure receive → cycle-end latency), ``updates()`` and ``close()``. Only the
keys in ``context.sources`` may be set; trade-like sources carry tuples of events that the
runner concatenates when it merges updates (:func:`fluvius.feeds.adapter.merge_tick`).

>>> {"iex+pcap", "iex+udp"} <= set(feed_schemes())
True
>>> parse_feed_url("iex+pcap://data/x.pcap?speed=0").path, parse_feed_url("iex+pcap:///x.pcap").path
('data/x.pcap', '/x.pcap')
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from fluvius.errors import FluviusError
from fluvius.feeds.adapter import SOURCE_KINDS, DatagramAdapter, source_key
from fluvius.feeds.iex.datagram import ColumnarSegmentDecoder
from fluvius.feeds.iex.live import LiveFeed
from fluvius.feeds.iex.replay import MIN_SLEEP_S, ReplayReport, iter_datagrams

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from fluvius.feeds.iex.datagram import DatagramBatch
    from fluvius.feeds.iex.report import DecodeReport
    from fluvius.live.state import FeedHealth

__all__ = [
    "Feed",
    "FeedContext",
    "FeedError",
    "FeedOpener",
    "FeedURL",
    "FeedUpdate",
    "feed_schemes",
    "open_feed",
    "parse_feed_url",
    "register_feed",
    "udp_kernel_drops",
]

log = logging.getLogger("fluvius.live")

YIELD_EVERY = 64
"""A replay at speed 0 lets the event loop run (signals, the HTTP server) this often."""


class FeedError(FluviusError):
    """A feed URL that cannot be opened: unknown scheme, bad option, missing file."""


@dataclass(frozen=True, slots=True)
class FeedUpdate:
    """The source values one arrival of data sets, and when (0 when unknown)."""

    values: dict[str, Any]
    ts_ns: int  # exchange time of the newest event in it
    recv_ns: int  # receive time (capture time for a replay)


@dataclass(frozen=True, slots=True)
class FeedURL:
    """A parsed feed URL: ``scheme://host:port/path?options``."""

    url: str
    scheme: str
    host: str
    port: int | None
    path: str
    options: dict[str, str]

    def option(self, name: str, default: str | None = None) -> str | None:
        return self.options.get(name, default)

    def number(self, name: str, default: float, *, least: float = 0.0) -> float:
        """Option ``name`` as a float >= ``least`` (``default`` when absent)."""
        raw = self.options.get(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not value >= least:
            raise FeedError(f"feed {self.url!r}: {name} must be a number >= {least}, got {raw!r}")
        return value


@dataclass(slots=True)
class FeedContext:
    """What an opener gets besides the URL: the feed's name, the declared sources, health."""

    name: str
    sources: frozenset[str]
    health: FeedHealth
    lag_warn_s: float = 1.0


class Feed(Protocol):
    """A stream of :class:`FeedUpdate` (see the module doc)."""

    name: str
    deterministic: bool
    clocked: bool

    def updates(self) -> AsyncIterator[FeedUpdate]:
        """The updates, in arrival order, until the feed ends or is closed."""
        ...

    def close(self) -> None:
        """Stop: release sockets and files; ``updates`` ends soon after. Idempotent."""
        ...


FeedOpener = Callable[[FeedURL, FeedContext], "Feed"]
"""What :func:`register_feed` takes: ``(url, context) -> Feed``."""
_OPENERS: dict[str, FeedOpener] = {}


def register_feed(scheme: str, opener: FeedOpener, *, replace: bool = False) -> None:
    """Make ``scheme://…`` URLs open with ``opener`` (see the module doc)."""
    if not scheme or not all(c.isalnum() or c in "+-." for c in scheme):
        raise ValueError(f"a feed scheme is letters, digits, '+', '-' or '.', got {scheme!r}")
    if scheme in _OPENERS and not replace:
        raise ValueError(f"feed scheme {scheme!r} is already registered (pass replace=True)")
    _OPENERS[scheme] = opener


def feed_schemes() -> list[str]:
    """The registered feed URL schemes."""
    return list(_OPENERS)


def parse_feed_url(url: str) -> FeedURL:
    """Split a feed URL; options are the query's ``name=value`` pairs."""
    parts = urlsplit(url)
    if not parts.scheme or "://" not in url:
        raise FeedError(
            f"feed {url!r} is not a URL; expected SCHEME://…, e.g. iex+pcap://capture.pcap?speed=0"
        )
    try:
        port = parts.port
    except ValueError:
        raise FeedError(f"feed {url!r}: the port is not a number in 0-65535") from None
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    host = parts.hostname or ""
    # iex+pcap://data/x.pcap: the "host" is the first path component of a relative path
    path = parts.netloc + parts.path if parts.scheme.endswith("pcap") else parts.path
    return FeedURL(url, parts.scheme, host, port, path, options)


def open_feed(url: str, context: FeedContext) -> Feed:
    """Open the feed ``url`` names (see :func:`register_feed`)."""
    parsed = parse_feed_url(url)
    opener = _OPENERS.get(parsed.scheme)
    if opener is None:
        raise FeedError(
            f"feed {url!r}: unknown scheme {parsed.scheme!r}; registered: "
            f"{', '.join(sorted(_OPENERS))}"
        )
    return opener(parsed, context)


def symbols_of(sources: Iterable[str]) -> list[str]:
    """The symbols of the declared market-data sources (``quote/SYM``, ``mid/SYM`` …)."""
    found: dict[str, None] = {}
    for key in sources:
        kind, sep, symbol = key.partition("/")
        if sep and kind in SOURCE_KINDS and symbol:
            found[symbol] = None
    return sorted(found)


class _IexDecoding:
    """What both IEX feeds share: decode → adapt → keep only declared sources; health."""

    def __init__(self, url: FeedURL, context: FeedContext) -> None:
        self.name = context.name
        self.context = context
        self.health = context.health
        self.sources = context.sources
        symbols = symbols_of(context.sources)
        self.adapter = DatagramAdapter(symbols)
        # every source the adapter can make is declared: its batches need no filtering
        declared = self.sources
        self._unfiltered = all(source_key(k, s) in declared for s in symbols for k in SOURCE_KINDS)
        self._lag_warn_ns = int(context.lag_warn_s * 1e9)
        self._lagging = False
        self._gaps = 0

    def adapt(self, batch: DatagramBatch, report: DecodeReport) -> FeedUpdate | None:
        """The update of one decoded datagram (None when it sets no declared source)."""
        values = self.values_of(batch)
        if values is None:
            self.count(report)
            return None
        return self.finish(values, batch, report)

    def values_of(self, batch: DatagramBatch) -> dict[str, Any] | None:
        """The declared source values one decoded datagram sets (None: it sets none); no
        bookkeeping (:meth:`count`, :meth:`finish`)."""
        out = self.adapter.batch(batch)
        if not out:
            return None
        if self._unfiltered:
            return out
        sources = self.sources
        values = {k: v for k, v in out.items() if k in sources}
        return values or None

    def count(self, report: DecodeReport) -> None:
        """Bring the health's counts up to the decoder's report; log new sequence gaps."""
        health = self.health
        health.datagrams = report.datagrams
        health.messages = report.messages
        if report.gap_count != self._gaps:
            self._log_gaps(report)

    def finish(
        self, values: dict[str, Any], batch: DatagramBatch, report: DecodeReport
    ) -> FeedUpdate:
        """The update of ``values`` (:meth:`values_of` of ``batch``): health counts, the
        exchange time of its newest event, the feed's lag (logged when it first exceeds
        ``lag_warn_s``)."""
        self.count(report)
        health = self.health
        ts = 0
        for v in values.values():
            if type(v) is float:  # a mid: no time of its own
                continue
            event = v[-1] if type(v) is tuple else v
            t = getattr(event, "ts_ns", 0)
            if t > ts:
                ts = t
        recv = batch.recv_ns
        if ts:
            lag = recv - ts
            health.lag_ns_last = lag
            if lag > health.lag_ns_max:
                health.lag_ns_max = lag
            if lag > self._lag_warn_ns:
                if not self._lagging:
                    self._lagging = True
                    health.lag_warnings += 1
                    log.warning(
                        "feed %s lags: receive - exchange time = %.3f s",
                        self.name,
                        lag / 1e9,
                        extra={"feed": self.name, "stream": "", "lag_ns": lag},
                    )
            elif self._lagging:
                self._lagging = False
        return FeedUpdate(values, ts, recv)

    def _log_gaps(self, report: DecodeReport) -> None:
        new = report.gap_count - self._gaps
        self._gaps = report.gap_count
        self.health.gaps = report.gap_count
        missing = report.missing_messages - self.health.gap_messages
        self.health.gap_messages = report.missing_messages
        last = report.gaps[-1] if report.gaps else {}
        stream = "/".join(str(last.get(k, "?")) for k in ("protocol", "channel", "session"))
        log.warning(
            "feed %s: %d sequence gap(s) on stream %s, %d message(s) missing",
            self.name,
            new,
            stream,
            missing,
            extra={"feed": self.name, "stream": stream, "gaps": new, "missing": missing},
        )


class IexPcapFeed(_IexDecoding):
    """``iex+pcap://PATH?speed=X``: replay a capture (see the module doc)."""

    clocked = False

    def __init__(self, url: FeedURL, context: FeedContext) -> None:
        super().__init__(url, context)
        self.path = Path(url.path)
        if not url.path:
            raise FeedError(f"feed {url.url!r}: no capture path; e.g. iex+pcap://capture.pcap")
        if not self.path.is_file():
            raise FeedError(f"feed {url.url!r}: no such capture file {str(self.path)!r}")
        unknown = set(url.options) - {"speed", "rate"}
        if unknown:
            raise FeedError(
                f"feed {url.url!r}: unknown option(s) {sorted(unknown)}; known: speed, rate"
            )
        self.speed = url.number("speed", 1.0)
        self.rate = url.number("rate", 0.0)
        self.deterministic = (self.speed == 0 or math.isinf(self.speed)) and self.rate == 0
        self.decoder = ColumnarSegmentDecoder()
        self.replay_report = ReplayReport()
        self._closed = False

    async def updates(self) -> AsyncIterator[FeedUpdate]:
        loop = asyncio.get_running_loop()
        decode, adapt, report = self.decoder.decode, self.adapt, self.decoder.report
        paced = not self.deterministic
        by_time = 0 < self.speed < math.inf
        gap_s = 1 / self.rate if self.rate else 0.0
        start = ts0 = 0.0
        n = 0
        try:
            for ts_ns, payload in iter_datagrams(self.path, self.replay_report):
                if self._closed:
                    return
                n += 1
                if paced:
                    if n == 1:
                        start, ts0 = loop.time(), ts_ns
                    due = start + (n - 1) * gap_s
                    if by_time:
                        due = max(due, start + (ts_ns - ts0) / 1e9 / self.speed)
                    ahead = due - loop.time()
                    if ahead >= MIN_SLEEP_S:
                        await asyncio.sleep(ahead)
                    elif n % YIELD_EVERY == 0:  # behind (a burst): let the cycles run
                        await asyncio.sleep(0)
                elif n % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
                update = adapt(decode(payload, ts_ns), report)
                if update is not None:
                    yield update
        finally:
            self.health.datagrams = report.datagrams
            self.health.messages = report.messages
            self.health.ended = True

    def close(self) -> None:
        self._closed = True


class IexUdpFeed(_IexDecoding):
    """``iex+udp://HOST:PORT?group=G&interface=I``: IEX-TP over UDP (see the module doc)."""

    deterministic = False
    clocked = True
    KERNEL_CHECK_S = 0.5

    def __init__(self, url: FeedURL, context: FeedContext) -> None:
        super().__init__(url, context)
        if not url.host or url.port is None:
            raise FeedError(f"feed {url.url!r}: expected iex+udp://HOST:PORT, e.g. 127.0.0.1:10377")
        known = ("group", "interface", "rcvbuf", "idle", "allow", "stamp", "poll", "spin")
        unknown = set(url.options) - set(known)
        if unknown:
            raise FeedError(
                f"feed {url.url!r}: unknown option(s) {sorted(unknown)}; known: {', '.join(known)}"
            )
        stamp = url.option("stamp", "read")
        if stamp not in ("read", "kernel"):
            raise FeedError(f"feed {url.url!r}: stamp must be 'read' or 'kernel', got {stamp!r}")
        self.kernel_stamps = stamp == "kernel"
        self.spin_s = _spin_option(url)
        allow = url.option("allow")
        self.allow_from = None if allow is None else [a for a in allow.split(",") if a]
        self.url = url
        self.rcvbuf_bytes = int(url.number("rcvbuf", 8 << 20, least=1))
        idle = url.option("idle")
        self.idle_s = None if idle is None else url.number("idle", 0.0)
        self.feed: LiveFeed | None = None
        self._closed = False
        self._kernel_drops = 0
        self._checked = 0.0

    async def start(self) -> None:
        """Bind the socket (the runner calls this before the first cycle)."""
        if self.feed is None:
            url = self.url
            try:
                self.feed = await LiveFeed.bind(
                    url.host,
                    url.port or 0,
                    group=url.option("group"),
                    interface=url.option("interface", "0.0.0.0") or "0.0.0.0",
                    rcvbuf_bytes=self.rcvbuf_bytes,
                    allow_from=self.allow_from,
                    kernel_stamps=self.kernel_stamps,
                    spin_s=self.spin_s,
                )
            except ValueError as exc:  # a bad allow-list address
                raise FeedError(f"feed {url.url!r}: {exc}") from None

    @property
    def port(self) -> int:
        return self.feed.port if self.feed is not None else 0

    async def updates(self) -> AsyncIterator[FeedUpdate]:
        await self.start()
        feed = self.feed
        assert feed is not None
        adapt, report = self.adapt, feed.report
        try:
            async for batch in feed.batches(self.idle_s):
                update = adapt(batch, report)
                now = time.monotonic()
                if now - self._checked >= self.KERNEL_CHECK_S:
                    self._checked = now
                    self.check_drops()
                if update is not None:
                    yield update
        finally:
            self.check_drops()
            self.health.ended = True

    async def serve(
        self,
        on_ready: Callable[[list[tuple[dict[str, Any], DatagramBatch]]], None],
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        """Hand each socket wake-up's datagrams that set a declared source to ``on_ready``,
        called in the socket callback (no task in between: ``fluvius live`` runs the cycle
        there), as ``(values, batch)`` pairs: the source values (:meth:`values_of`) and the
        decoded datagram. Nothing else is done before: the consumer applies the values
        first, then makes each pair's :class:`FeedUpdate` with :meth:`update_of` (health, lag),
        so that bookkeeping is not in the datagram's path. ``on_idle`` is called there when
        the socket is found empty after them
        (:attr:`~fluvius.feeds.iex.live.LiveFeed.on_idle`), and at least every
        :attr:`KERNEL_CHECK_S` seconds. Return when the feed is closed or idle (``idle=``),
        raise its error when it fails. Health is kept as by :meth:`updates`."""
        await self.start()
        feed = self.feed
        assert feed is not None
        report = feed.report
        # every source the adapter makes is declared: its batch is the values (or empty)
        values_of = self.adapter.batch if self._unfiltered else self.values_of
        count = self.count
        taken: list[tuple[dict[str, Any], DatagramBatch]] = []

        def take(batch: DatagramBatch) -> bool:
            """Adapt each datagram as it is read; one that sets a source ends the drain."""
            values = values_of(batch)
            if not values:  # most datagrams set no declared source
                count(report)
                return False
            taken.append((values, batch))
            return True

        def ready() -> None:
            if taken:
                pairs = taken.copy()
                taken.clear()
                on_ready(pairs)

        feed.on_batch = take
        feed.on_ready = ready
        feed.on_idle = on_idle

        def tick() -> None:
            self.check_drops()
            if on_idle is not None:
                on_idle()

        try:
            await feed.until_done(self.idle_s, tick_s=self.KERNEL_CHECK_S, on_tick=tick)
        finally:
            feed.on_ready = feed.on_idle = feed.on_batch = None
            self.count(report)
            self.check_drops()
            self.health.ended = True

    def update_of(self, values: dict[str, Any], batch: DatagramBatch) -> FeedUpdate:
        """The update of a pair :meth:`serve` handed over (:meth:`finish`)."""
        feed = self.feed
        assert feed is not None
        return self.finish(values, batch, feed.report)

    def poll(self) -> list[FeedUpdate]:
        """The updates of every datagram received and not consumed yet (never waits)."""
        feed = self.feed
        if feed is None:
            return []
        adapt, report = self.adapt, feed.report
        return [u for b in feed.take_ready() if (u := adapt(b, report)) is not None]

    def check_drops(self) -> None:
        """Add new receive drops (queue overflow, kernel) to the health; log them."""
        feed = self.feed
        if feed is None:
            return
        kernel = udp_kernel_drops(feed.port) if feed.port else None
        if kernel is not None:
            self._kernel_drops = max(self._kernel_drops, kernel)
        foreign = feed.stats.foreign_drops - self.health.foreign_drops
        if foreign > 0:
            self.health.foreign_drops = feed.stats.foreign_drops
            log.warning(
                "feed %s: %d datagram(s) from sources outside allow= dropped",
                self.name,
                foreign,
                extra={"feed": self.name, "stream": f"udp:{feed.port}", "drops": foreign},
            )
        drops = feed.stats.overflow_drops + self._kernel_drops
        new = drops - self.health.drops
        if new > 0:
            self.health.drops = drops
            log.warning(
                "feed %s: %d datagram(s) dropped on receive (socket buffer or queue full)",
                self.name,
                new,
                extra={"feed": self.name, "stream": f"udp:{feed.port}", "drops": new},
            )

    def close(self) -> None:
        self._closed = True
        if self.feed is not None:
            self.check_drops()
            self.feed.close()


def _spin_option(url: FeedURL) -> float:
    """The busy-polling time of ``poll=`` and ``spin=`` (seconds; ``math.inf``: always)."""
    poll = url.option("poll", "epoll")
    if poll not in ("epoll", "busy"):
        raise FeedError(f"feed {url.url!r}: poll must be 'epoll' or 'busy', got {poll!r}")
    spin = url.number("spin", 0.0)
    if poll == "busy":
        if "spin" in url.options:
            raise FeedError(
                f"feed {url.url!r}: poll=busy spins without end; spin=SECONDS bounds the "
                "spin after each datagram (use one or the other)"
            )
        return math.inf
    if math.isinf(spin):
        raise FeedError(f"feed {url.url!r}: spin must be a finite number of seconds (or poll=busy)")
    return spin


def udp_kernel_drops(port: int, table: str = "/proc/net/udp") -> int | None:
    """Datagrams the kernel dropped on the UDP socket(s) bound to local ``port`` (Linux; None
    elsewhere): the ``drops`` column of ``/proc/net/udp``."""
    try:
        lines = Path(table).read_text().splitlines()[1:]
    except OSError:
        return None
    want = f":{port:04X}"
    total = 0
    for line in lines:
        fields = line.split()
        if len(fields) >= 13 and fields[1].endswith(want):
            total += int(fields[-1])
    return total


def _pcap(url: FeedURL, context: FeedContext) -> Feed:
    return IexPcapFeed(url, context)


def _udp(url: FeedURL, context: FeedContext) -> Feed:
    return IexUdpFeed(url, context)


register_feed("iex+pcap", _pcap)
register_feed("iex+udp", _udp)
