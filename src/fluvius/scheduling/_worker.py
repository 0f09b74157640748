"""Worker logic of the process scheduler: one worker's share of every cycle.

A worker holds the whole graph's *structure* (keys, inputs, readers) but the callables of
its own nodes only (the others are a placeholder that raises if ever called); the share
and its tables are in ``_share.py``. Cycle semantics come from :mod:`fluvius.engine.cycle`,
never re-implemented here:

Fast path (``_share.run_fast``)
    When no owned node affected by the cycle reads an affected node of another worker
    (always at one worker; on the overhead and fanout workloads with a good partition),
    every input is known at the start and the worker runs the engine's sync loop
    (``compute_startup`` / ``compute_cycle``) over its share, then tells the readers on
    other workers how each of its exported nodes settled.
Event-driven path (:meth:`Worker._run_events`)
    Otherwise (and whenever tracing or async nodes are involved) the worker runs the
    engine's transitions: ``start_cycle(plan, changed, owned)`` makes owned nodes wait for
    every affected input, owned or not; ``next_ready`` / ``finish_node`` / ``fail_node``
    run what is ready; an input of another worker settles (``settle``) when its message
    arrives. The worker never waits for one particular value: it runs everything ready,
    flushes one message per destination, then waits for *any* message or async result.

Values that cannot be pickled: a message that does not pickle is rebuilt without the
values at fault (``_pickling.value_error``): a settle carries the node's failure instead
(its readers on other workers fail, as under any node failure), the cycle reports it
(fail-fast raises it; isolate lists it), and a sync to the parent reports the node as
failed. Readers on the same worker keep the value: it never had to cross.

What runs now: while a cycle runs, a thread (``_Status``, on ``_watch.CycleWatch``)
writes the ranks this worker is computing into its slot of the pool's status array every
``Load.status_tick_s``, so that the parent can name them (watchdog, cycle timeout,
Ctrl-C) even while this process is stuck in a node. Slot of worker ``w``: ``status[w *
STATUS_SLOT :]`` = session, cycle index, count, then up to ``STATUS_SHOWN`` ranks.

The worker's I/O: an asyncio loop with a reader on the parent's socket and on each
peer's; messages land in one inbox, in arrival order. Commands from the parent run one at
a time; messages of other workers for a cycle not started yet wait in ``Share.pending``;
those of an older cycle or session are dropped (only a fail-fast abort leaves any).
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import os
import signal
import sys
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from fluvius.engine.cycle import (
    fail_node,
    finish_node,
    make_node_error,
    next_ready,
    settle,
    start_cycle,
)
from fluvius.scheduling._pickling import value_error
from fluvius.scheduling._share import (
    CHANGED,
    FAILED,
    UNCHANGED,
    Entries,
    Load,
    Share,
    cycle_tables,
    make_share,
    pack_cause,
    run_fast,
)
from fluvius.scheduling._watch import CycleWatch, watch_loop
from fluvius.scheduling._wire import Channel, ShmArena, dumps, loads

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from fluvius.engine.cycle import CycleState
    from fluvius.errors import NodeError

__all__ = ["STATUS_SHOWN", "STATUS_SLOT", "Worker", "worker_main"]

log = logging.getLogger("fluvius.process")

WAIT_S = 1.0
"""Idle waits wake this often to check that the parent is alive."""

STATUS_SHOWN = 8
"""Running ranks a worker publishes at most."""
STATUS_SLOT = 3 + STATUS_SHOWN
"""Entries per worker in the pool's status array (module docstring)."""


class _Status(CycleWatch):
    """Publishes the ranks this worker runs, for the parent (module docstring)."""

    def __init__(self, wid: int, slots: Any) -> None:
        super().__init__(0.25, "fluvius-status")
        self.slots = slots
        self.base = wid * STATUS_SLOT
        self.session = 0

    def on_tick(self, elapsed_s: float) -> None:
        ranks = self.running()[:STATUS_SHOWN]
        slots, b = self.slots, self.base
        slots[b + 2] = 0  # a reader meanwhile sees no rank rather than a torn list
        slots[b + 3 : b + 3 + len(ranks)] = ranks
        slots[b] = self.session
        slots[b + 1] = self.index
        slots[b + 2] = len(ranks)


class Worker:
    """The event loop of one worker process (see the module docstring)."""

    def __init__(
        self, wid: int, parent: Channel, peers: dict[int, Channel], status: Any = None
    ) -> None:
        self.wid = wid
        self.status = _Status(wid, status) if status is not None else None
        self.parent = parent
        self.peers = peers
        self.arena = parent.arena
        self.inbox: deque[tuple[int, Any]] = deque()
        self.wake = asyncio.Event()
        self.share: Share | None = None
        self.exit = False
        self.ppid = os.getppid()

    # -- i/o --------------------------------------------------------------------------------
    def _readable(self, src: int, ch: Channel) -> None:
        try:
            for msg in ch.receive():
                self.inbox.append((src, msg))
        except EOFError:
            asyncio.get_running_loop().remove_reader(ch.fd)
            if src == -1:
                self.exit = True  # the parent is gone: leave at once
        self.wake.set()

    def _send(self, ch: Channel, obj: Any) -> None:
        ch.send(obj)
        self._watch_write(ch)

    def _send_frame(self, ch: Channel, frame: bytes) -> None:
        ch.send_frame(frame)
        self._watch_write(ch)

    def _watch_write(self, ch: Channel) -> None:
        if ch.pending:
            loop = asyncio.get_running_loop()

            def writable() -> None:
                if ch.flush():
                    loop.remove_writer(ch.fd)

            loop.add_writer(ch.fd, writable)

    async def _wait(self, more: deque[Any] | None = None) -> float:
        """Wait until a message (or, with ``more``, an async result) is there; return the
        seconds waited. Wakes every :data:`WAIT_S` to check that the parent is alive."""
        t0 = time.perf_counter()
        while not self.inbox and not more and not self.exit:
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), WAIT_S)
            except TimeoutError:
                if os.getppid() != self.ppid:
                    self.exit = True
        return time.perf_counter() - t0

    # -- the main loop ---------------------------------------------------------------------
    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self.parent.fd, self._readable, -1, self.parent)
        for w, ch in self.peers.items():
            loop.add_reader(ch.fd, self._readable, w, ch)
        self._send(self.parent, ("hello", self.wid, os.getpid()))
        while not self.exit:
            await self._wait()
            while self.inbox and not self.exit:
                src, msg = self.inbox.popleft()
                if src == -1:
                    await self._command(msg)
                else:
                    self._peer_message(msg)

    def _peer_message(self, msg: tuple[Any, ...]) -> None:
        share = self.share
        if share is not None and msg[1] == share.load.session and msg[2] > share.index:
            share.pending.append(msg)  # for a cycle whose command has not arrived yet

    async def _command(self, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "cycle":
            share = self.share
            if share is None or msg[1] != share.load.session:
                return
            status = self.status
            if status is not None:
                status.begin(msg[2])
            try:
                reply = await self._cycle(share, msg[2], msg[3], msg[4])
            finally:
                if status is not None:
                    status.end()
            self._send(self.parent, reply)
            if msg[2] == 0 and share.load.freeze_gc:  # after the reply: not start-up work
                t0 = time.perf_counter()
                gc.collect()
                gc.freeze()  # no collection pause proportional to the graph on live ticks
                seconds = time.perf_counter() - t0
                self._send(self.parent, ("frozen", self.wid, share.load.session, seconds))
        elif kind == "load":
            self._load(msg[1])
        elif kind == "sync":
            share = self.share
            if share is not None and msg[1] == share.load.session:
                self._send_frame(self.parent, self._sync(share))
        elif kind == "unload":
            self.share = None
            self.arena.release() if self.arena is not None else None
            gc.unfreeze()
            self._send(self.parent, ("unloaded", self.wid, msg[1]))
        elif kind == "exit":
            self.exit = True

    def _load(self, frame: bytes) -> None:
        t0 = time.perf_counter()
        try:
            load: Load = loads(frame)
            self.share = make_share(load, self.wid)
            if self.status is not None:
                self.status.tick_s = load.status_tick_s
                self.status.session = load.session
        except Exception as exc:  # reported as data: the parent raises it
            self._send(self.parent, ("load_failed", self.wid, repr(exc)))
            return
        self._send(self.parent, ("loaded", self.wid, time.perf_counter() - t0))

    def _sync(self, share: Share) -> bytes:
        """The frame of a ``values`` reply; values that do not pickle are failures here."""
        values = share.state.values
        items = [(r, values[r]) for r in sorted(share.unsynced)]
        share.unsynced.clear()
        owned = share.owned
        failed = {r: e for r, e in share.state.failed.items() if owned[r]}
        failed.update(share.unsent)
        msg = ("values", self.wid, share.load.session, items, failed)
        try:
            return dumps(msg, self.arena)
        except Exception:
            pass
        kept = []
        for r, v in items:
            err = self._value_error(share, r, v, "the parent")
            if err is None:
                kept.append((r, v))
            else:
                failed[r] = err
        return dumps(("values", self.wid, share.load.session, kept, failed), self.arena)

    def _value_error(self, share: Share, r: int, value: Any, destination: str) -> NodeError | None:
        plan = share.plan
        return value_error(plan.keys[r], plan.created_at[r], value, share.name, destination)

    # -- cycles ------------------------------------------------------------------------------
    async def _cycle(
        self,
        share: Share,
        index: int,
        changed: frozenset[int] | None,
        sources: dict[int, Any],
    ) -> tuple[Any, ...]:
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        if self.arena is not None:
            self.arena.release()  # every reader of the last cycle's segments has mapped them
        share.index = index
        share.pending = [m for m in share.pending if m[2] >= index]
        state = share.state
        for r, value in sources.items():
            state.values[r] = value
        if index > 0:
            state.cycles = index
        sent0 = sum(ch.messages_sent for ch in self.peers.values())
        idle = 0.0
        if not share.load.trace and cycle_tables(share, changed)[0]:
            recomputed, errors, stop, entries = run_fast(share, changed)
            if stop is not None:
                self._broadcast_stop(share, stop[0])
            for err in self._flush_settles(share, entries):  # values that did not pickle
                f = share.plan.graph.index[err.key]
                if share.load.policy == "isolate":
                    errors.append((err, None))
                elif stop is None or f < stop[0]:
                    stop = (f, err, None)
                    self._broadcast_stop(share, f)
        else:
            recomputed, errors, stop, idle = await self._run_events(share, changed)
        wall = time.perf_counter() - t0
        share.busy_s += wall - idle
        share.cpu_s += time.process_time() - cpu0
        share.idle_s += idle
        share.computed += recomputed
        figures = {
            "nodes": share.nodes,
            "busy_seconds": share.busy_s,
            "cpu_seconds": share.cpu_s,  # CPU this process got: below busy means contention
            "idle_seconds": share.idle_s,
            "computed": share.computed,
            "messages_sent": sum(ch.messages_sent for ch in self.peers.values()),
            "bytes_sent": sum(ch.bytes_sent for ch in self.peers.values()),
            "cycle_messages": sum(ch.messages_sent for ch in self.peers.values()) - sent0,
        }
        spans, share.spans = share.spans, []
        session = share.load.session
        return ("done", self.wid, session, index, recomputed, errors, stop, figures, spans)

    def _broadcast_stop(self, share: Share, rank: int) -> None:
        for ch in self.peers.values():
            self._send(ch, ("stop", share.load.session, share.index, rank))

    def _flush_settles(self, share: Share, entries: Entries) -> list[NodeError]:
        """One message per destination worker (never one per node); returns the errors of
        values that could not be pickled (sent as failures instead)."""
        session, index = share.load.session, share.index
        unsent: dict[int, NodeError] = {}
        for d in sorted(entries):
            ch = self.peers[d]
            try:
                frame = dumps(("settle", session, index, entries[d]), ch.arena)
            except Exception:
                entries[d] = self._sendable(share, entries[d], d, unsent)
                frame = dumps(("settle", session, index, entries[d]), ch.arena)
            else:
                if share.unsent:  # sent fine now: no longer failed for its readers
                    for r, kind, _ in entries[d]:
                        if kind == CHANGED:
                            share.unsent.pop(r, None)
            self._send_frame(ch, frame)
            if share.load.trace:
                now = time.perf_counter()
                for r, kind, _ in entries[d]:
                    if kind == CHANGED:
                        share.spans.append(("send", r, d, index, now))
        return list(unsent.values())

    def _sendable(
        self, share: Share, entries: list[tuple[int, int, Any]], d: int, unsent: dict[int, Any]
    ) -> list[tuple[int, int, Any]]:
        """``entries`` with each value that does not pickle replaced by its node's failure
        (recorded in ``unsent`` and ``share.unsent``)."""
        out = []
        for r, kind, payload in entries:
            if kind == CHANGED:
                err = unsent.get(r) or self._value_error(share, r, payload, f"worker {d}")
                if err is not None:
                    unsent[r] = share.unsent[r] = err
                    out.append((r, FAILED, err))
                    continue
                share.unsent.pop(r, None)
            out.append((r, kind, payload))
        return out

    async def _run_events(
        self, share: Share, changed: frozenset[int] | None
    ) -> tuple[int, list[Any], Any, float]:
        plan, state, policy = share.plan, share.state, share.load.policy
        startup = changed is None
        cs = start_cycle(plan, changed, share.owned)
        cs.settled = []
        share.unsynced.update(cs.waiting)
        share.unsynced.update(cs.ready)
        causes: dict[int, BaseException | None] = {}
        tasks: dict[int, asyncio.Task[None]] = {}
        finished: deque[tuple[int, bool, Any]] = deque()
        exported = 0
        idle = 0.0
        trace = share.load.trace
        spans = share.spans
        index = share.index

        def stop_at(rank: int) -> None:
            if cs.stop_above is None or rank < cs.stop_above:
                cs.stop_above = rank
            for c in [c for c in cs.waiting if c > rank]:
                del cs.waiting[c]
            for other in [t for t in tasks if t > rank]:
                tasks.pop(other).cancel()
                cs.running.discard(other)

        def failed(r: int, exc: BaseException) -> None:
            err = make_node_error(plan, r, exc, share.name)
            log.debug(
                "node %s failed on %s: %s",
                plan.keys[r],
                share.name,
                err,
                extra={"node": plan.keys[r]},
            )
            causes[r] = exc
            first = cs.stop_above is None or r < cs.stop_above
            fail_node(plan, state, cs, r, err, policy)
            if policy == "fail_fast" and first:
                stop_at(r)
                self._broadcast_stop(share, r)

        async def run_async(r: int, call: Any, args: tuple[Any, ...]) -> None:
            t0 = time.perf_counter()
            try:
                value = await call(*args)
            except Exception as exc:
                finished.append((r, False, exc))
            else:
                finished.append((r, True, value))
            if trace:
                spans.append(("node", r, index, t0, time.perf_counter()))
            self.wake.set()

        def apply(msg: tuple[Any, ...]) -> None:
            if msg[0] == "stop":
                stop_at(msg[3])
                return
            t0 = time.perf_counter()
            for r, kind, payload in msg[3]:
                if kind == CHANGED:
                    state.failed.pop(r, None)
                    state.values[r] = payload
                elif kind == FAILED:
                    state.failed[r] = payload
                settle(plan, cs, r, kind != UNCHANGED)
            if trace:
                entries = [(r, kind, None) for r, kind, _ in msg[3]]
                spans.append(("recv", entries, index, t0, time.perf_counter()))

        async with asyncio.TaskGroup() as tg:
            for msg in [m for m in share.pending if m[2] == index]:
                apply(msg)
            share.pending = [m for m in share.pending if m[2] != index]
            while True:
                while finished:
                    r, ok, payload = finished.popleft()
                    if tasks.pop(r, None) is None:
                        continue  # cancelled under fail-fast after it had finished
                    if ok:
                        finish_node(plan, state, cs, r, payload, startup)
                    else:
                        failed(r, payload)
                while (ready := next_ready(plan, state, cs)) is not None:
                    r = ready
                    step = plan.steps[r]
                    assert step is not None
                    _, call, a, g = step
                    values = state.values
                    args = (values[a],) if g is None else tuple(g(values))
                    if plan.is_async[r]:
                        tasks[r] = tg.create_task(run_async(r, call, args))
                        continue
                    t0 = time.perf_counter()
                    try:
                        out = call(*args)
                    except Exception as exc:
                        failed(r, exc)
                        continue
                    finally:
                        if trace:
                            spans.append(("node", r, index, t0, time.perf_counter()))
                    finish_node(plan, state, cs, r, out, startup)
                exported = self._export(share, cs, exported, stop_at)
                if not cs.ready and not cs.running and not cs.waiting and not finished:
                    break
                idle += await self._wait(finished)
                for msg in self._take_peer_messages():
                    if msg[1] != share.load.session or msg[2] < index:
                        continue
                    if msg[2] > index:
                        share.pending.append(msg)
                    else:
                        apply(msg)
                if self.exit or self.inbox:  # a parent command mid-cycle means: abort it
                    for t in tasks.values():
                        t.cancel()
                    break
        errors = [(e, pack_cause(causes.get(plan.graph.index[e.key]))) for e in cs.errors]
        stop = None
        if policy == "fail_fast" and cs.errors:  # stop_above may come from another worker
            f, err = min((plan.graph.index[e.key], e) for e in cs.errors)
            stop = (f, err, pack_cause(causes.get(f)))
            errors = []
        return cs.recomputed, errors, stop, idle

    def _take_peer_messages(self) -> list[tuple[Any, ...]]:
        """Messages of other workers at the front of the inbox (parent commands stay)."""
        taken = []
        inbox = self.inbox
        while inbox and inbox[0][0] != -1:
            taken.append(inbox.popleft()[1])
        return taken

    def _export(self, share: Share, cs: CycleState, done: int, stop_at: Any) -> int:
        """Send the settles of exported nodes logged since ``done``; return the new mark.
        A value that did not pickle counts as a failure of its node in this cycle."""
        log_ = cs.settled
        assert log_ is not None
        if done == len(log_):
            return done
        exports, state = share.exports, share.state
        entries: Entries = {}
        for r, moved in log_[done:]:
            dests = exports.get(r)
            if dests is None:
                continue
            entry: tuple[int, int, Any]
            if r in state.failed:
                entry = (r, FAILED, state.failed[r])
            else:
                entry = (r, CHANGED, state.values[r]) if moved else (r, UNCHANGED, None)
            for d in dests:
                entries.setdefault(d, []).append(entry)
        for err in self._flush_settles(share, entries):
            cs.errors.append(err)
            if share.load.policy == "fail_fast":
                f = share.plan.graph.index[err.key]
                stop_at(f)
                self._broadcast_stop(share, f)
        return len(log_)


watch_loop(Worker._run_events)  # its `r` and `cs` say what runs (_watch.py)


def _die_with_parent() -> None:
    """Linux: have the kernel kill this worker when its parent dies, even in the middle of
    a long node (the EOF watch on the parent's socket only acts between computations).

    The kernel ties this to the parent *thread* that spawned the worker: create worker
    pools from a thread that outlives them (the main thread, normally).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return  # the EOF watch remains
    if os.getppid() == 1:  # the parent died before prctl: do not outlive it
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def worker_main(
    wid: int,
    parent: Connection,
    peers: dict[int, Connection],
    shm_prefix: str,
    status: Any = None,
) -> None:
    """Entry point of a spawned worker process (``status``: the pool's status array)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _die_with_parent()
    arena = ShmArena(f"{shm_prefix}_w{wid}")
    parent_ch = Channel(parent.fileno(), arena)
    peer_chs = {w: Channel(c.fileno(), arena) for w, c in peers.items()}
    worker = Worker(wid, parent_ch, peer_chs, status)
    try:
        asyncio.run(worker.serve())
    finally:
        arena.release()
        del parent, peers  # the connections close with the process
