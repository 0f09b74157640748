"""The live runner: a graph on feeds, cycle after cycle, until the feeds end or it is stopped.

Design note
-----------
:class:`LiveRun` owns one session (serial or process scheduler), the feeds
(:mod:`fluvius.live.feeds`), an optional :class:`~fluvius.live.record.Recorder` and one
:class:`~fluvius.live.state.LiveState`, which it writes after start-up and after every
cycle and which the HTTP side only reads::

    run = LiveRun("spec.yaml", ["iex+pcap://sample.pcap.gz?speed=0"], state=LiveState())
    report = await run.run()          # or: asyncio.run(run.run())
    run.stop("why")                   # from a signal handler, a timer, another task

Forming cycles. Two modes, chosen from the feeds:

* *Deterministic* (every feed ``deterministic``: replays at ``speed=0``): no task reads
  ahead; the runner takes the next update of the feed whose update has the earliest receive
  time (ties: the feed listed first) and gives it a cycle of its own. The same spec, feeds
  and options therefore give the same cycles and values on every run: a backtest.
* *Live* (any other feed): one pump task per feed appends updates to a queue as they
  arrive; whenever the session is idle, the next cycle takes updates from the front of the
  queue and merges them (:func:`take_updates`): the latest quote or mid wins, trades
  concatenate (:func:`fluvius.feeds.adapter.merge_tick`), and a source that must not
  conflate (``every_tick=True`` downstream) ends the batch at its second update. An update
  is never split, nothing is reordered, no trade is dropped. With one UDP feed there is no
  pump task: when the session runs inline (serial scheduler, no async node,
  :attr:`~fluvius.scheduling.base.Session.runs_inline`), the cycle runs in the socket
  callback itself, as soon as the feed has read a datagram that sets a declared source
  (:meth:`~fluvius.live.feeds.IexUdpFeed.serve`,
  :meth:`~fluvius.scheduling.base.Session.cycle_now`): no task switch or queue between a
  datagram and its cycle, and no datagram behind it read first (each such datagram has a
  cycle of its own while the cycles keep up, :data:`~fluvius.feeds.iex.live.EARLY_S`; the
  others wait in the socket); otherwise the runner's task polls the
  feed, one event-loop step after the callback.

In both modes a trade source set by the previous cycle and without trades in this one is set
to ``()`` (:func:`fluvius.feeds.adapter.clear_trades`): ``trade/SYM`` is the trades of the
cycle.

After each cycle. The values that changed (the sources set, and the affected nodes whose
value is a new object: the change cutoff keeps the old object when the new value is equal)
go to ``state.record_values`` and the recorder; the cycle's figures and errors to
``state.record_cycle``; nodes leaving the failed state to ``state.record_recovered``; alert
nodes that turn on or off to ``state.record_alert``. Alert nodes are the library's
:class:`fluvius.nodes.anomaly.Alert` and :class:`fluvius.nodes.monitoring.DecayAlert` (on
while their value is true) and :class:`fluvius.nodes.monitoring.FallbackSwitch` (on while
it serves model ``"b"``). For feeds with this machine's receive clock (UDP), the latency of
each update from receive to the end of its cycle goes to ``state.latency_ns``.

Errors. The default policy is ``isolate``: a failing node is marked failed with its
dependents, logged on the ``fluvius.live`` logger with its key and where it was created
(``extra``: ``key``, ``created_at``, ``cycle``), and the other nodes keep serving; it
recovers when a later cycle computes it cleanly. ``fail_fast`` ends the run with the error.

Ending. The run ends when every feed has ended, ``duration_s`` has passed, or :meth:`stop`
is called (the CLI calls it on SIGINT/SIGTERM). Every way out closes the feeds, flushes and
completes the recordings, closes the session (worker processes included) and sets
``state.ended``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from array import array
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fluvius.engine.state import CycleResult, ErrorPolicy, check_policy
from fluvius.errors import FluviusError
from fluvius.feeds.adapter import clear_trades, merge_tick
from fluvius.graph.dag import Graph
from fluvius.graph.spec import load_graph
from fluvius.live._gc import IdleCollector
from fluvius.live.feeds import Feed, FeedContext, FeedUpdate, open_feed
from fluvius.live.state import Alert, LiveState
from fluvius.nodes.anomaly import Alert as AnomalyAlert
from fluvius.nodes.monitoring import DecayAlert, FallbackSwitch
from fluvius.scheduling.dask import DaskScheduler
from fluvius.scheduling.live import Inbox
from fluvius.scheduling.process import ProcessScheduler
from fluvius.scheduling.runner import RunReport
from fluvius.scheduling.serial import SerialScheduler

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence

    from fluvius.errors import NodeError
    from fluvius.live.record import Recorder
    from fluvius.scheduling.base import Scheduler, Session

__all__ = ["LiveReport", "LiveRun", "take_updates"]

log = logging.getLogger("fluvius.live")

SCHEDULERS = ("serial", "process", "dask")
WORKER_STATS_EVERY_S = 0.25


def take_updates(
    pending: deque[FeedUpdate], conflates: Callable[[str], bool]
) -> tuple[dict[str, Any], list[FeedUpdate]]:
    """Remove the next cycle's updates from the front of ``pending`` and merge them.

    >>> u = lambda v: FeedUpdate(v, 0, 0)
    >>> q = deque([u({"m": 1.0}), u({"trade/A": (1,)}), u({"m": 2.0, "trade/A": (2,)}),
    ...            u({"n": 1}), u({"n": 2})])
    >>> batch, used = take_updates(q, lambda k: k != "n")
    >>> batch, len(used), len(q)
    ({'m': 2.0, 'trade/A': (1, 2), 'n': 1}, 4, 1)
    """
    if len(pending) == 1:  # the usual case live: one update, nothing to merge
        update = pending.popleft()
        return dict(update.values), [update]
    batch: dict[str, Any] = {}
    used: list[FeedUpdate] = []
    while pending:
        update = pending[0]
        if used and any(k in batch and not conflates(k) for k in update.values):
            break
        pending.popleft()
        used.append(update)
        for key, value in update.values.items():
            merge_tick(batch, key, value)
    return batch, used


@dataclass(slots=True)
class LiveReport:
    """What a live run did: the run report (``fluvius run``'s), feed health, why it ended."""

    run: RunReport
    feeds: dict[str, dict[str, Any]]
    ended_by: str
    seconds: float
    state: LiveState = field(repr=False, default_factory=LiveState)


def _alert_kind(fn: Any) -> str | None:
    """``"flag"`` for alert objects (on while true), ``"fallback"`` for a fallback switch."""
    for _ in range(4):  # unwrap Adapted / SkipMissing-style wrappers
        if isinstance(fn, AnomalyAlert | DecayAlert):
            return "flag"
        if isinstance(fn, FallbackSwitch):
            return "fallback"
        inner = getattr(fn, "obj", None) or getattr(fn, "stat", None)
        if inner is None:
            return None
        fn = inner
    return None


def _alert_on(kind: str, value: Any) -> bool:
    if kind == "fallback":
        return getattr(value, "model", "a") == "b"
    return bool(value)


class LiveRun:
    """A graph on live or replayed feeds (see the module doc).

    Parameters
    ----------
    graph
        A built :class:`~fluvius.graph.Graph`, or the path of a spec file.
    feeds
        Feed URLs (:mod:`fluvius.live.feeds`) or opened :class:`~fluvius.live.feeds.Feed` s.
    scheduler
        ``"serial"``, ``"process"`` (``workers`` processes, default 2), ``"dask"`` (a Dask
        cluster: ``address``, or a local cluster of ``workers``, default 2) or a scheduler
        object.
    address
        The Dask scheduler's address (``tcp://HOST:PORT`` or ``tls://…``) for ``"dask"``.
    error_policy
        ``"isolate"`` (default) or ``"fail_fast"``.
    state
        The :class:`LiveState` to write (a new one by default; :attr:`state`).
    recorder
        Where chosen changed values go (:class:`~fluvius.live.record.Recorder`), or None.
    duration_s
        Stop after this many seconds (None: when the feeds end or :meth:`stop` is called).
    lag_warn_s
        Log a feed when its receive - exchange time first exceeds this.
    """

    def __init__(
        self,
        graph: Graph | str | Path,
        feeds: Sequence[str | Feed],
        *,
        scheduler: str | Scheduler = "serial",
        workers: int | None = None,
        address: str | None = None,
        error_policy: str = "isolate",
        state: LiveState | None = None,
        recorder: Recorder | None = None,
        duration_s: float | None = None,
        lag_warn_s: float = 1.0,
    ) -> None:
        self.graph = graph if isinstance(graph, Graph) else load_graph(Path(graph))
        if not feeds:
            raise FluviusError("a live run needs at least one feed, e.g. iex+pcap://x.pcap?speed=0")
        if duration_s is not None and not duration_s > 0:
            raise ValueError(f"duration_s must be > 0, got {duration_s=}")
        self.policy: ErrorPolicy = check_policy(error_policy)
        self.scheduler = self._scheduler(scheduler, workers, self.policy, address)
        self.state = state if state is not None else LiveState()
        self.state.graph = self.graph
        self.state.scheduler = self.scheduler.name
        self.state.workers = workers or (2 if scheduler in ("process", "dask") else 1)
        self.recorder = recorder
        self.duration_s = duration_s
        sources = frozenset(self.graph.source_keys)
        self.feeds: list[Feed] = []
        names: set[str] = set()
        for i, feed in enumerate(feeds):
            name = feed if isinstance(feed, str) else getattr(feed, "name", f"feed{i}")
            while name in names:
                name = f"{name}#{i}"
            names.add(name)
            if isinstance(feed, str):
                health = self.state.feed(name)
                health.url = feed
                feed = open_feed(feed, FeedContext(name, sources, health, lag_warn_s))
            self.feeds.append(feed)
        self.ready = asyncio.Event()
        """Set once the graph has started and the feeds are open (a UDP feed's port bound)."""
        self._stop = asyncio.Event()
        self._stopped = False  # self._stop is set (read in the socket callback)
        self._ended_by = ""
        self._inbox: Inbox[FeedUpdate] | None = None
        keys = self.graph.keys
        self._alerts = {
            r: kind
            for r, item in enumerate(self.graph.items)
            if (kind := _alert_kind(getattr(item, "fn", None))) is not None
        }
        self._alert_on: dict[int, bool] = {}
        self._keys = keys
        self._cycles_recomputed = array("q")
        self._cycles_seconds = array("d")
        self._cycle_errors: dict[int, tuple[NodeError, ...]] = {}
        self._gc_collections: list[int] | None = None  # by the idle collector (direct runs)

    @staticmethod
    def _scheduler(
        scheduler: str | Scheduler,
        workers: int | None,
        policy: ErrorPolicy,
        address: str | None = None,
    ) -> Scheduler:
        if not isinstance(scheduler, str):
            return scheduler
        if address is not None and scheduler != "dask":
            raise ValueError("address applies to the dask scheduler")
        if scheduler not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {scheduler!r}; expected one of {SCHEDULERS}")
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers=}")
        if scheduler == "process":
            return ProcessScheduler(workers or 2, "auto", None, error_policy=policy)
        if scheduler == "dask":
            if address is None:
                workers = workers or 2
            return DaskScheduler(workers, "auto", None, error_policy=policy, address=address)
        if workers not in (None, 1):
            raise ValueError("workers applies to the process scheduler")
        return SerialScheduler(error_policy=policy)

    # -- control ----------------------------------------------------------------------------
    def stop(self, reason: str = "stopped") -> None:
        """End the run after the current cycle (safe from signal handlers and other tasks)."""
        if not self._ended_by:
            self._ended_by = reason
        self._stopped = True
        self._stop.set()
        if self._inbox is not None:
            self._inbox.wake()
        for feed in self.feeds:
            if getattr(feed, "serve", None) is not None:
                feed.close()  # ends a polled or direct feed's wait

    # -- the run ----------------------------------------------------------------------------
    async def run(self) -> LiveReport:
        """Start the graph, run cycles from the feeds until the end, close everything."""
        wall0 = time.perf_counter()
        scheduler = self.scheduler
        timer: asyncio.TimerHandle | None = None
        state = self.state
        state.started_ns = time.time_ns()
        try:
            async with scheduler.session(self.graph) as session:
                startup = await session.start()
                self._startup(session, startup)
                for feed in self.feeds:
                    start = getattr(feed, "start", None)
                    if start is not None:
                        await start()
                self.ready.set()
                if self.duration_s is not None:
                    loop = asyncio.get_running_loop()
                    timer = loop.call_later(self.duration_s, self.stop, "duration")
                loop0 = time.perf_counter()
                if all(f.deterministic for f in self.feeds):
                    await self._run_deterministic(session)
                elif len(self.feeds) == 1 and callable(getattr(self.feeds[0], "serve", None)):
                    if session.runs_inline:
                        await self._run_direct(session, self.feeds[0])
                    else:
                        await self._run_polled(session, self.feeds[0])
                else:
                    await self._run_live(session)
                self._ended_by = self._ended_by or "feeds ended"
                report = self._report(session, startup, wall0)
                report.run.stats["loop_seconds"] = time.perf_counter() - loop0
        finally:
            if timer is not None:
                timer.cancel()
            for feed in self.feeds:
                feed.close()
            if self.recorder is not None:
                self.recorder.close()
            state.ended = True
        return report

    async def _run_deterministic(self, session: Session) -> None:
        streams: list[Any] = [f.updates() for f in self.feeds]  # async generators
        heads: list[FeedUpdate | None] = [await _next(s) for s in streams]
        traded: set[str] = set()
        try:
            while not self._stop.is_set():
                live = [(h.recv_ns, i) for i, h in enumerate(heads) if h is not None]
                if not live:
                    return
                _, i = min(live)
                update = heads[i]
                assert update is not None
                heads[i] = await _next(streams[i])
                batch = dict(update.values)
                traded = clear_trades(batch, traded)
                await self._cycle(session, batch, [update], clocked=False)
        finally:
            for s in streams:
                await s.aclose()

    async def _run_direct(self, session: Session, feed: Any) -> None:
        """Live mode, one feed that calls back (UDP) and a session that runs inline (serial,
        no async node): the cycle runs in the socket callback as soon as the feed has read a
        datagram that sets a source; no task and no event-loop step between a datagram and
        its cycle. The usual case, one datagram, takes the short path: its values are the
        cycle's batch at once (no merge), the latency is stamped when the nodes are
        computed, and the feed's bookkeeping (health, lag: ``feed.update_of``) comes after
        it. Several datagrams (a consumer that fell behind:
        :data:`~fluvius.feeds.iex.live.EARLY_S`) are merged as in :func:`take_updates`.
        This task only waits for the end:
        the feed closed (:meth:`stop`) or idle, or a cycle failed (raised here)."""
        pending: deque[FeedUpdate] = deque()
        conflates = session.source_conflates
        clocked = bool(feed.clocked)
        traded: set[str] = set()
        failure: list[BaseException] = []
        collector = IdleCollector()
        cycle_now, update_of, after = session.cycle_now, feed.update_of, self._after_cycle
        latency, clock = self.state.latency_ns, time.time_ns

        def on_ready(pairs: list[tuple[dict[str, Any], Any]]) -> None:
            nonlocal traded
            if failure or self._stopped:
                return  # the run is ending: what arrives now is not applied
            try:
                if len(pairs) == 1:  # one datagram: its own cycle, nothing to merge
                    values, batch = pairs[0]
                    cycle = values.copy()  # the update keeps the feed's values
                    traded = clear_trades(cycle, traded)
                    result = cycle_now(cycle)
                    if clocked:  # the latency ends when the nodes are computed
                        latency.append(clock() - batch.recv_ns)
                    after(session, result, cycle, [update_of(values, batch)], clocked=False)
                else:
                    pending.extend(update_of(values, batch) for values, batch in pairs)
                    while pending:
                        merged, used = take_updates(pending, conflates)
                        traded = clear_trades(merged, traded)
                        result = cycle_now(merged)
                        after(session, result, merged, used, clocked=clocked)
                collector.busy()  # a feed that is never idle still collects
            except BaseException as exc:  # raised by the waiting task, not the event loop's
                failure.append(exc)
                feed.close()

        with collector:  # garbage collected between datagrams, not in their path
            await feed.serve(on_ready, collector.idle)
        self._gc_collections = collector.collections
        if failure:
            raise failure[0]

    async def _run_polled(self, session: Session, feed: Any) -> None:
        """Live mode, one feed that can be polled (UDP): no pump task, so an update reaches
        its cycle one event-loop step after it arrives. :meth:`stop` closes the feed, which
        ends the wait."""
        stream = feed.updates()
        pending: deque[FeedUpdate] = deque()
        traded: set[str] = set()
        conflates = session.source_conflates
        clocked = bool(feed.clocked)
        try:
            while not self._stop.is_set():
                if not pending:
                    first = await _next(stream)
                    if first is None:
                        break
                    pending.append(first)
                pending.extend(feed.poll())  # what arrived meanwhile: one cycle, conflated
                batch, used = take_updates(pending, conflates)
                traded = clear_trades(batch, traded)
                await self._cycle(session, batch, used, clocked=clocked)
        finally:
            await stream.aclose()

    async def _run_live(self, session: Session) -> None:
        inbox: Inbox[FeedUpdate] = Inbox()
        self._inbox = inbox
        pending = inbox.pending
        clocked = any(f.clocked for f in self.feeds)
        traded: set[str] = set()
        conflates = session.source_conflates
        async with asyncio.TaskGroup() as tg:
            for feed in self.feeds:
                inbox.pump(tg, feed.updates())
            try:
                while not self._stop.is_set():
                    if not await inbox.arrived():
                        break
                    if not pending:
                        continue
                    batch, used = take_updates(pending, conflates)
                    traded = clear_trades(batch, traded)
                    await self._cycle(session, batch, used, clocked=clocked)
            finally:
                inbox.cancel()

    # -- after start-up and each cycle ---------------------------------------------------------
    def _startup(self, session: Session, startup: CycleResult) -> None:
        session.refresh()
        values = session.state.values
        self._last = list(values)
        self._failed = set(session.state.failed)
        every = dict(zip(self._keys, values, strict=True))
        state = self.state
        state.record_values(0, every)
        state.record_cycle(0, startup.seconds, startup.recomputed, startup.errors)
        self._log_errors(0, startup.errors)
        for r, kind in self._alerts.items():
            self._alert_on[r] = on = _alert_on(kind, values[r])
            if on:
                state.record_alert(Alert(0, self._keys[r], "alert", f"{kind} on at start-up"))
        if self.recorder is not None:
            self.recorder.write(0, 0, 0, every)
        self._busy_checked = 0.0
        self._worker_stats(session)

    async def _cycle(
        self, session: Session, batch: dict[str, Any], used: list[FeedUpdate], *, clocked: bool
    ) -> None:
        self._after_cycle(session, await session.cycle(batch), batch, used, clocked=clocked)

    def _after_cycle(
        self,
        session: Session,
        result: CycleResult,
        batch: dict[str, Any],
        used: list[FeedUpdate],
        *,
        clocked: bool,
    ) -> None:
        state = self.state
        if clocked:  # first: the latency ends when the nodes are computed
            end = time.time_ns()
            lat = state.latency_ns
            for u in used:
                lat.append(end - u.recv_ns)
        index = result.index
        self._cycles_recomputed.append(result.recomputed)
        self._cycles_seconds.append(result.seconds)
        if result.errors:
            self._cycle_errors[index] = result.errors
        ts_ns = max(u.ts_ns for u in used)
        recv_ns = max(u.recv_ns for u in used)
        session.refresh()
        values, keys, last = session.state.values, self._keys, self._last
        index_of = self.graph.index
        changed: dict[str, Any] = {}
        ranks = []
        for key in batch:
            r = index_of[key]
            ranks.append(r)
            v = changed[key] = last[r] = values[r]
        for r in session.plan.affected(frozenset(ranks)):
            v = values[r]
            if v is not last[r]:
                last[r] = v
                changed[keys[r]] = v
        state.record_values(index, changed)
        state.record_cycle(index, result.seconds, result.recomputed, result.errors, ts_ns)
        failed = session.state.failed
        if result.errors:
            self._log_errors(index, result.errors)
        if self._failed or failed:
            recovered = [keys[r] for r in self._failed if r not in failed]
            if recovered:
                state.record_recovered(recovered)
                log.info("recovered: %s", ", ".join(recovered), extra={"cycle": index})
            self._failed = set(failed)
        if self._alerts:
            self._check_alerts(index, changed, ts_ns)
        if self.recorder is not None:
            self.recorder.write(index, ts_ns, recv_ns, changed)
        self._worker_stats(session)

    def _check_alerts(self, index: int, changed: dict[str, Any], ts_ns: int) -> None:
        index_of = self.graph.index
        for key, value in changed.items():
            r = index_of[key]
            kind = self._alerts.get(r)
            if kind is None:
                continue
            on = _alert_on(kind, value)
            if on != self._alert_on.get(r, False):
                self._alert_on[r] = on
                what = "alert" if on else "clear"
                text = f"{key}: {kind} {'on' if on else 'off'}"
                self.state.record_alert(Alert(index, key, what, text, ts_ns))
                log.info(text, extra={"key": key, "cycle": index, "alert": what})

    def _log_errors(self, index: int, errors: Sequence[NodeError]) -> None:
        for err in errors:
            log.error(
                "node %r failed in cycle %d (created at %s): %s: %s",
                err.key,
                index,
                err.created_at or "?",
                err.exc_type,
                err.exc_message,
                extra={"key": err.key, "created_at": err.created_at, "cycle": index},
            )

    def _worker_stats(self, session: Session) -> None:
        now = time.monotonic()
        if now - self._busy_checked < WORKER_STATS_EVERY_S:
            return
        self._busy_checked = now
        self.state.worker_busy_seconds = {
            str(w["worker"]): float(w.get("busy_seconds", 0.0)) for w in session.worker_stats()
        }

    def _report(self, session: Session, startup: CycleResult, wall0: float) -> LiveReport:
        self._busy_checked = 0.0
        self._worker_stats(session)
        cycles = [
            CycleResult(i + 1, n, s, self._cycle_errors.get(i + 1, ()))
            for i, (n, s) in enumerate(
                zip(self._cycles_recomputed, self._cycles_seconds, strict=True)
            )
        ]
        wall = time.perf_counter() - wall0
        stats = {
            "scheduler": self.scheduler.name,
            "error_policy": session.policy,
            "nodes": len(self.graph),
            "sources": len(self.graph.sources),
            "startup_seconds": startup.seconds,
            "startup_recomputed": startup.recomputed,
            "gc_freeze_seconds": session.gc_freeze_seconds,
            "cycles": len(cycles),
            "wall_seconds": wall,
            "workers": session.worker_stats(),
            **session.run_stats(),
            "ended_by": self._ended_by,
        }
        if self._gc_collections is not None:
            stats["idle_gc_collections"] = list(self._gc_collections)
        lat = self.state.latency_ns
        if lat:
            ordered = sorted(lat)
            stats["latency_us"] = {  # receive -> cycle end, per update (UDP feeds)
                "count": len(ordered),
                "p50": ordered[len(ordered) // 2] / 1e3,
                "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1e3,
                "max": ordered[-1] / 1e3,
            }
        if self.recorder is not None:
            self.recorder.close()
            stats["recorded_rows"] = self.recorder.rows_total
            stats["recorded_files"] = [str(p) for p in self.recorder.files]
        run = RunReport(session.values(), session.failed, startup, cycles, stats)
        feeds = {name: h.as_dict() for name, h in self.state.feeds.items()}
        return LiveReport(run, feeds, self._ended_by, wall, self.state)


async def _next(stream: AsyncIterator[FeedUpdate]) -> FeedUpdate | None:
    try:
        return await anext(stream)
    except StopAsyncIteration:
        return None
