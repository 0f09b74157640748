"""Worker logic of the process scheduler: one worker's share of every cycle.

A worker holds the whole graph's *structure* (keys, inputs, readers) but compiles its own
nodes only (``Plan.from_tables``); the share and its tables are in ``_share.py``. Cycle
semantics come from :mod:`fluvius.engine.cycle`, never re-implemented here. A cycle runs in
two parts (``_share.CycleTables``, cached per set of changed sources):

Local part (``_share.run_local``)
    The owned affected nodes none of whose affected inputs, however far up, belongs to
    another worker (or is async): every input is known at the start, so the engine's sync
    loop (``compute_startup`` / ``compute_cycle`` over exactly those steps) runs them at
    0.2 to 0.3 µs of overhead per node. The loop lists the nodes that stored a new value
    (``moved``); the worker then tells readers on other workers how each exported node
    settled (changed with its value, unchanged, failed), one Settle per destination.
Event part (:meth:`Worker._run_events`)
    The rest (nodes that wait for another worker's values; async nodes; every node when
    tracing) runs on the shared :class:`~fluvius.scheduling._driver.CycleDriver`:
    ``start_cycle(plan, changed, events)`` makes them wait for every affected input, the
    local inputs are settled at once (``settle``), other workers' values arrive as Settle
    messages (``apply_settles``) and their failures as Stop (``stop_above``). The worker
    never waits for one particular value: it runs everything ready, flushes one message per
    destination, then waits for *any* message or async result.
    At start-up the async nodes that read sources only begin before the local part
    (``_driver.begin_async``), so that their waits (a history query) overlap it.

On the usual trading shapes (one sub-graph per underlying, a few aggregators across them)
nearly everything is local: only the aggregators that read other workers' nodes are
event-driven.

Values that cannot be pickled: a message that does not pickle is rebuilt without the
values at fault (``_pickling.value_error``): a settle carries the node's failure instead
(its readers on other workers fail, as under any node failure), the cycle reports it
(fail-fast raises it; isolate lists it), and a sync to the parent reports the node as
failed. Readers on the same worker keep the value: it never had to cross.

What runs now: while a cycle runs, a thread (``_Status``, on ``_watch.CycleWatch``)
writes the ranks this worker is computing into its slot of the pool's status array every
``LoadShare.status_tick_s``, so that the parent can name them (watchdog, cycle timeout,
Ctrl-C) even while this process is stuck in a node. Slot of worker ``w``: ``status[w *
STATUS_SLOT :]`` = session, cycle index, count, then up to ``STATUS_SHOWN`` ranks.

The worker's I/O goes through ``_wire.Transport`` (send, receive, flush, a file descriptor
to watch): an asyncio loop with a reader on the parent's link and on each peer's;
messages land in one inbox, in arrival order. A live RunCycle that arrives while the worker
is idle and has no event part runs at once in the reader's callback (``_run_now``), without
a round of the loop. Commands from the parent run one at a time;
messages of other workers for a cycle not started yet wait in ``Share.pending`` (or in
``Worker.early`` while this worker's share of their session has not arrived: the parent
sends each worker its share and the start-up command at once, so a fast peer may export
values before a slow one has loaded); those of an older cycle or session are dropped (only
a fail-fast abort leaves any).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import importlib
import logging
import os
import signal
import sys
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from fluvius.engine.cycle import apply_settles, settle, start_cycle
from fluvius.engine.plan import Plan
from fluvius.scheduling._driver import Begun, CycleDriver, begin_async, source_fed_async
from fluvius.scheduling._messages import (
    CHANGED,
    FAILED,
    PARENT,
    UNCHANGED,
    Done,
    Entries,
    Exit,
    Frozen,
    Hello,
    Loaded,
    LoadFailed,
    LoadGraph,
    LoadShare,
    RunCycle,
    Settle,
    Stop,
    Sync,
    Unload,
    Unloaded,
    Values,
)
from fluvius.scheduling._pickling import value_error
from fluvius.scheduling._share import (
    CycleTables,
    Share,
    cycle_tables,
    make_share,
    pack_cause,
    run_local,
    stored,
    take_unsynced,
)
from fluvius.scheduling._watch import CycleWatch
from fluvius.scheduling._wire import Channel, ShmArena, Transport, dumps

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from fluvius.engine.cycle import CycleState
    from fluvius.errors import NodeError

__all__ = ["STATUS_SHOWN", "STATUS_SLOT", "Worker", "worker_main"]

log = logging.getLogger("fluvius.process")

WAIT_S = 1.0
"""Idle waits wake this often to check that the parent is alive."""

_PLAIN = frozenset({float, int, bool, str, type(None)})
"""Value types that always pickle."""

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
        self, wid: int, parent: Transport, peers: dict[int, Transport], status: Any = None
    ) -> None:
        self.wid = wid
        self.status = _Status(wid, status) if status is not None else None
        self.parent = parent
        self.peers = peers
        self.arena = parent.arena
        self.inbox: deque[tuple[int, Any]] = deque()
        self.wake = asyncio.Event()
        self.share: Share | None = None
        self.early: list[Settle | Stop] = []  # peers' messages of a session not loaded yet
        self.structure: tuple[int, Plan] | None = None  # (session, plan) made of LoadGraph
        self.structure_error = ""
        self.exit = False
        self.idle = False  # the main loop waits for a command (see _run_now)
        self.crashed: BaseException | None = None  # raised in _run_now, re-raised by serve
        self.ppid = os.getppid()

    # -- i/o --------------------------------------------------------------------------------
    def _readable(self, src: int, ch: Transport) -> None:
        collecting = gc.isenabled()
        gc.disable()  # unpickling a share allocates ~100,000 containers and no cycle
        try:
            for msg in ch.receive():
                self.inbox.append((src, msg))
        except EOFError:
            asyncio.get_running_loop().remove_reader(ch.fd)
            if src == -1:
                self.exit = True  # the parent is gone: leave at once
        finally:
            if collecting:
                gc.enable()
        inbox = self.inbox
        if self.idle and src == -1 and len(inbox) == 1:
            try:
                if self._run_now(inbox[0][1]):
                    inbox.clear()
                    return  # done: nothing for the main loop, which sleeps on
            except BaseException as exc:  # fatal, as in the main loop (serve raises it)
                self.crashed, self.exit = exc, True
        self.wake.set()

    def _send(self, ch: Transport, obj: Any) -> None:
        ch.send(obj)
        self._watch_write(ch)

    def _send_frame(self, ch: Transport, frame: bytes) -> None:
        ch.send_frame(frame)
        self._watch_write(ch)

    def _watch_write(self, ch: Transport) -> None:
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
        wake = self.wake
        while not self.inbox and not more and not self.exit:
            wake.clear()
            await wake.wait()  # the heartbeat sets it every WAIT_S at the latest
            if not self.inbox and not more and os.getppid() != self.ppid:
                self.exit = True
        return time.perf_counter() - t0

    def _heartbeat(self) -> None:
        """Wake the waits every :data:`WAIT_S` (one timer for the process, not one per
        wait: a tick waits twice)."""
        self.wake.set()
        asyncio.get_running_loop().call_later(WAIT_S, self._heartbeat)

    # -- the main loop ---------------------------------------------------------------------
    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(WAIT_S, self._heartbeat)
        loop.add_reader(self.parent.fd, self._readable, -1, self.parent)
        for w, ch in self.peers.items():
            loop.add_reader(ch.fd, self._readable, w, ch)
        self._send(self.parent, Hello(self.wid, os.getpid()))
        while not self.exit:
            self.idle = True
            await self._wait()
            self.idle = False
            while self.inbox and not self.exit:
                src, msg = self.inbox.popleft()
                if src == -1:
                    await self._command(msg)
                else:
                    self._peer_message(msg)
        if self.crashed is not None:
            raise self.crashed

    def _peer_message(self, msg: Settle | Stop) -> None:
        share = self.share
        if share is not None and msg.session == share.load.session:
            if msg.cycle > share.index:
                share.pending.append(msg)  # for a cycle whose command has not arrived yet
        elif share is None or msg.session > share.load.session:
            # a peer already runs the start-up of a session whose share is still on its way
            # here (the parent sends each worker its share and start-up at once)
            self.early.append(msg)

    async def _command(self, msg: Any) -> None:
        kind = type(msg)
        share = self.share
        if kind is RunCycle:
            if share is None or msg.session != share.load.session:
                return
            status = self.status
            if status is not None:
                status.begin(msg.cycle)
            try:
                reply = await self._cycle(share, msg)
            finally:
                if status is not None:
                    status.end()
            self._send(self.parent, reply)
            if msg.cycle == 0:  # after the reply: not start-up work
                gc.enable()  # paused since the share's load (it creates no cycles)
                if share.load.freeze_gc:
                    t0 = time.perf_counter()
                    gc.collect()
                    gc.freeze()  # no collection pause proportional to the graph on live ticks
                    seconds = time.perf_counter() - t0
                    self._send(self.parent, Frozen(self.wid, share.load.session, seconds))
        elif kind is LoadGraph:
            gc.disable()  # until start-up is over: loading and start-up create no cycles
            self.structure, self.structure_error = None, ""
            try:  # built now, while the parent partitions: the share adds its own nodes
                plan = Plan.from_tables(msg.tables, ())
            except Exception as exc:  # reported when the share comes (LoadFailed)
                self.structure_error = f"the graph's structure could not be loaded: {exc!r}"
            else:
                self.structure = (msg.session, plan)
        elif kind is LoadShare:
            self._load(msg)
        elif kind is Sync:
            if share is not None and msg.session == share.load.session:
                self._send_frame(self.parent, self._sync(share))
        elif kind is Unload:
            gc.enable()
            self.share = self.structure = None
            self.arena.release() if self.arena is not None else None
            gc.unfreeze()
            self._send(self.parent, Unloaded(self.wid, msg.session))
        elif kind is Exit:
            self.exit = True

    def _load(self, load: LoadShare) -> None:
        t0 = time.perf_counter()
        try:
            if self.structure is None or self.structure[0] != load.session:
                raise RuntimeError(
                    self.structure_error or "the graph's structure did not arrive before the share"
                )
            self.share = make_share(self.structure[1], load)
            self.share.pending = [m for m in self.early if m.session == load.session]
            self.early = []
            if self.status is not None:
                self.status.tick_s = load.status_tick_s
                self.status.session = load.session
        except Exception as exc:  # reported as data: the parent raises it
            self._send(self.parent, LoadFailed(self.wid, load.session, repr(exc)))
            return
        self.structure = None
        self._send(self.parent, Loaded(self.wid, load.session, time.perf_counter() - t0))

    def _sync(self, share: Share) -> bytes:
        """The frame of a Values reply; values that do not pickle are failures here."""
        values = share.state.values
        items = [(r, values[r]) for r in take_unsynced(share)]
        owned = share.owned
        failed = {r: e for r, e in share.state.failed.items() if owned[r]}
        failed.update(share.unsent)
        msg = Values(self.wid, share.load.session, items, failed)
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
        return dumps(Values(self.wid, share.load.session, kept, failed), self.arena)

    def _value_error(self, share: Share, r: int, value: Any, destination: str) -> NodeError | None:
        plan = share.plan
        return value_error(plan.keys[r], plan.created_at[r], value, share.name, destination)

    # -- cycles ------------------------------------------------------------------------------
    def _run_now(self, msg: Any) -> bool:
        """Run a live cycle at once, in the reader's callback, when nothing of it waits
        for another worker (no event part: the usual one-underlying tick); False when the
        main loop must run it. This saves an event-loop round on each side of the cycle:
        the reply is the last thing done before the loop sleeps again, so the parent,
        woken by it, does not share the core with the rest of this worker's round."""
        share = self.share
        if (
            type(msg) is not RunCycle
            or msg.cycle == 0
            or share is None
            or msg.session != share.load.session
            or cycle_tables(share, msg.changed).events is not None
        ):
            return False
        status = self.status
        if status is not None:
            status.begin(msg.cycle)
        try:
            cpu0, t0, tables = self._begin(share, msg)
            recomputed, errors, stop, _ = self._local_part(share, msg.changed, tables)
        finally:
            if status is not None:
                status.end()
        self._send(self.parent, self._done(share, cpu0, t0, recomputed, errors, stop, 0.0))
        return True

    async def _cycle(self, share: Share, msg: RunCycle) -> Done:
        cpu0, t0, tables = self._begin(share, msg)
        changed = msg.changed
        begun = None  # start-up: the async nodes fed by sources begin before the local part
        if changed is None and tables.events is not None and not share.load.trace:
            plan = share.plan
            begun = await begin_async(plan, share.state, source_fed_async(plan, tables.mine))
        recomputed, errors, stop, moved = self._local_part(share, changed, tables)
        idle = 0.0
        if tables.events is not None:
            n, more, stop, idle = await self._run_events(share, changed, tables, moved, stop, begun)
            recomputed += n
            errors += more
        return self._done(share, cpu0, t0, recomputed, errors, stop, idle)

    def _begin(self, share: Share, msg: RunCycle) -> tuple[float, float, CycleTables]:
        """The start of a cycle: its index, the sources' values, its tables."""
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        if self.arena is not None:
            self.arena.release()  # every reader of the last cycle's segments has mapped them
        index, changed = msg.cycle, msg.changed
        share.index = index
        share.to_parent = []
        share.pending = [m for m in share.pending if m.cycle >= index]
        state = share.state
        for r, value in msg.sources.items():
            state.values[r] = value
        if index > 0:
            state.cycles = index
        return cpu0, t0, cycle_tables(share, changed)

    def _local_part(
        self, share: Share, changed: frozenset[int] | None, tables: CycleTables
    ) -> tuple[Any, ...]:
        """A cycle's local part (module docstring), settles sent."""
        recomputed, errors, stop, entries, moved = run_local(share, changed, tables)
        if stop is not None:
            self._broadcast_stop(share, stop[0])
        for err in self._flush_settles(share, entries):  # values that did not pickle
            f = share.plan.rank_of(err.key)
            if share.load.policy == "isolate":
                errors.append((err, None))
            elif stop is None or f < stop[0]:
                stop = (f, err, None)
                self._broadcast_stop(share, f)
        return recomputed, errors, stop, moved

    def _done(
        self,
        share: Share,
        cpu0: float,
        t0: float,
        recomputed: int,
        errors: list[Any],
        stop: Any,
        idle: float,
    ) -> Done:
        """The cycle's reply, with the share's totals brought up to date."""
        index = share.index
        wall = time.perf_counter() - t0
        share.busy_s += wall - idle
        share.cpu_s += time.process_time() - cpu0
        share.idle_s += idle
        share.computed += recomputed
        figures = (
            share.busy_s,
            share.cpu_s,  # CPU this process got: below busy means contention
            share.idle_s,
            share.computed,
            sum(ch.messages_sent for ch in self.peers.values()),
            sum(ch.bytes_sent for ch in self.peers.values()),
        )
        spans, share.spans = share.spans, []
        settles, share.to_parent = share.to_parent, []
        return Done(
            self.wid, share.load.session, index, recomputed, errors, stop, figures, spans, settles
        )

    def _broadcast_stop(self, share: Share, rank: int) -> None:
        for ch in self.peers.values():
            self._send(ch, Stop(share.load.session, share.index, rank))

    def _flush_settles(self, share: Share, entries: Entries) -> list[NodeError]:
        """One message per destination worker (never one per node); returns the errors of
        values that could not be pickled (sent as failures instead)."""
        session, index = share.load.session, share.index
        unsent: dict[int, NodeError] = {}
        for d in sorted(entries):
            if d == PARENT:  # the parent's own nodes: the entries go in the Done reply
                self._to_parent(share, entries[d], unsent)
                continue
            ch = self.peers[d]
            try:
                frame = dumps(Settle(session, index, entries[d]), ch.arena)
            except Exception:
                entries[d] = self._sendable(share, entries[d], d, unsent)
                frame = dumps(Settle(session, index, entries[d]), ch.arena)
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

    def _to_parent(
        self, share: Share, entries: list[tuple[int, int, Any]], unsent: dict[int, Any]
    ) -> None:
        """Keep ``entries`` for the Done reply, checked like a Settle's (a value that does
        not pickle becomes its node's failure)."""
        try:
            if not all(type(e[2]) in _PLAIN for e in entries):  # floats always pickle
                dumps(entries)
        except Exception:
            entries = self._sendable(share, entries, PARENT, unsent)
        else:
            if share.unsent:  # sent fine now: no longer failed for its readers
                for r, kind, _ in entries:
                    if kind == CHANGED:
                        share.unsent.pop(r, None)
        share.to_parent += entries

    def _sendable(
        self, share: Share, entries: list[tuple[int, int, Any]], d: int, unsent: dict[int, Any]
    ) -> list[tuple[int, int, Any]]:
        """``entries`` with each value that does not pickle replaced by its node's failure
        (recorded in ``unsent`` and ``share.unsent``)."""
        out = []
        where = "the parent" if d == PARENT else f"worker {d}"
        for r, kind, payload in entries:
            if kind == CHANGED:
                err = unsent.get(r) or self._value_error(share, r, payload, where)
                if err is not None:
                    unsent[r] = share.unsent[r] = err
                    out.append((r, FAILED, err))
                    continue
                share.unsent.pop(r, None)
            out.append((r, kind, payload))
        return out

    async def _run_events(
        self,
        share: Share,
        changed: frozenset[int] | None,
        tables: CycleTables,
        moved: list[int],
        local_stop: Any,
        begun: Begun | None = None,
    ) -> tuple[int, list[Any], Any, float]:
        """The owned nodes that wait for other workers (or are async, or traced), run by
        the shared :class:`CycleDriver` once the local part has settled."""
        plan, state, policy = share.plan, share.state, share.load.policy
        startup = changed is None
        index = share.index
        trace = share.load.trace
        cs = start_cycle(plan, changed, tables.events)
        driver = CycleDriver(
            plan,
            state,
            cs,
            policy,
            share.name,
            startup=startup,
            wake=self.wake,
            on_stop=lambda rank: self._broadcast_stop(share, rank),
            spans=share.spans if trace else None,
            index=index,
            begun=begun,
        )
        if local_stop is not None:
            driver.stop(local_stop[0])
        failed = state.failed
        cs.settled = []  # what settles is logged, and exported by flush()
        for r in tables.boundary:  # computed by the sync loop already
            if local_stop is None or r < local_stop[0]:
                settle(plan, cs, r, startup or stored(moved, r) or r in failed)
        if tables.boundary:  # the sync loop's exports went out already
            boundary = set(tables.boundary)
            cs.settled = [e for e in cs.settled if e[0] not in boundary]
        exported = 0

        def apply(msg: Settle | Stop) -> None:
            if isinstance(msg, Stop):
                driver.stop(msg.rank)
                return
            t0 = time.perf_counter()
            apply_settles(plan, state, cs, msg.entries)
            if trace:
                entries = [(r, kind, None) for r, kind, _ in msg.entries]
                share.spans.append(("recv", entries, index, t0, time.perf_counter()))

        def flush() -> None:
            nonlocal exported
            exported = self._export(share, cs, exported, driver)

        idle = 0.0

        async def wait() -> bool:
            nonlocal idle
            idle += await self._wait(driver.finished)
            for msg in self._take_peer_messages():
                if msg.session != share.load.session or msg.cycle < index:
                    continue
                if msg.cycle > index:
                    share.pending.append(msg)
                else:
                    apply(msg)
            return not (self.exit or self.inbox)  # a parent command mid-cycle: abort it

        for msg in [m for m in share.pending if m.cycle == index]:
            apply(msg)
        share.pending = [m for m in share.pending if m.cycle != index]
        await driver.run(wait, flush)
        causes = driver.causes
        errors = [(e, pack_cause(causes.get(plan.rank_of(e.key)))) for e in cs.errors]
        stop = local_stop
        if policy == "fail_fast" and cs.errors:  # stop_above may come from another worker
            f, err = min((plan.rank_of(e.key), e) for e in cs.errors)
            if stop is None or f < stop[0]:
                stop = (f, err, pack_cause(causes.get(f)))
        if policy == "fail_fast":
            errors = []
        return cs.recomputed, errors, stop, idle

    def _take_peer_messages(self) -> list[Any]:
        """Messages of other workers at the front of the inbox (parent commands stay)."""
        taken = []
        inbox = self.inbox
        while inbox and inbox[0][0] != -1:
            taken.append(inbox.popleft()[1])
        return taken

    def _export(self, share: Share, cs: CycleState, done: int, driver: CycleDriver) -> int:
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
                f = share.plan.rank_of(err.key)
                driver.stop(f)
                self._broadcast_stop(share, f)
        return len(log_)


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
    preload: tuple[str, ...] = (),
) -> None:
    """Entry point of a spawned worker process (``status``: the pool's status array).
    ``preload`` names modules to import before saying hello (the modules of a graph's
    callables: imported while the parent prepares the shares, not when the first share
    is unpickled)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _die_with_parent()
    for name in preload:
        with contextlib.suppress(Exception):  # a failing import fails again, clearly, at load
            importlib.import_module(name)
    arena = ShmArena(f"{shm_prefix}_w{wid}")
    parent_ch = Channel(parent.fileno(), arena)
    peer_chs: dict[int, Transport] = {w: Channel(c.fileno(), arena) for w, c in peers.items()}
    worker = Worker(wid, parent_ch, peer_chs, status)
    try:
        asyncio.run(worker.serve())
    finally:
        arena.release()
        del parent, peers  # the connections close with the process
