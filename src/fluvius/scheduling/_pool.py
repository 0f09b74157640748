"""Worker processes of the process scheduler: spawning, waiting, liveness, shutdown.

A :class:`WorkerPool` is a set of spawned worker processes, fully connected: one socket
pair between the parent and each worker, one between every two workers (made by the
parent before the workers start, so that workers exchange values directly, one hop).
A pool runs one session at a time and can run many in turn (tests, notebooks).

Liveness: every wait of the parent also watches each worker's process sentinel, so a
worker that dies, even by SIGKILL, is seen as soon as the kernel reaps it, and no wait is
longer than :data:`WAIT_S` without a check. Workers watch the parent's socket: when the
parent dies they read EOF and exit. Shutdown is bounded: ask, wait ``grace_s``, terminate,
wait, kill.

Signals: while a pool is open, SIGTERM to the parent raises ``SystemExit(143)`` in its
main thread (when SIGTERM still had its default action), so that ``finally`` blocks and
context managers close the pool as they do for Ctrl-C's KeyboardInterrupt, instead of the
process vanishing with its workers' shared memory; the previous action comes back when
the last pool closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import secrets
import select
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

from fluvius.errors import FluviusError, WorkerDiedError
from fluvius.scheduling._messages import Exit, Hello
from fluvius.scheduling._wire import Channel, ShmArena, remove_segments, sweep_dead_runs
from fluvius.scheduling._worker import STATUS_SLOT, worker_main

if TYPE_CHECKING:
    from collections.abc import Sequence
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

__all__ = ["WAIT_S", "Pool", "WorkerPool"]

WAIT_S = 0.5
"""Longest wait without a liveness check."""

_HASH_SEED = "0"


class Pool(Protocol):
    """What a session needs of its workers (``WorkerPool`` here; ``DaskPool`` on a Dask
    cluster): messages, liveness, status, shutdown."""

    workers: int
    busy: bool
    broken: bool
    closed: bool
    started: bool
    spawn_seconds: float
    pids: list[int]

    @property
    def arena(self) -> ShmArena | None: ...

    def wait_started(self, timeout_s: float = 60.0) -> None: ...

    def send(self, wid: int, obj: Any) -> None: ...

    def send_frame(self, wid: int, frame: bytes) -> None: ...

    def drain(self, timeout_s: float) -> None: ...

    def poll(self, *, read: bool = True) -> list[tuple[int, Any]]: ...

    def keep(self, messages: list[tuple[int, Any]]) -> None: ...

    def running(self, wid: int, session: int, index: int) -> list[int] | None: ...

    def kill(self, wid: int) -> None: ...

    def wait_blocking(self, timeout_s: float) -> None: ...

    def receive_now(
        self, timeout_s: float, spin_s: float = 0.0
    ) -> list[tuple[int, Any]] | None: ...

    async def wait(self, timeout_s: float) -> None: ...

    def close(self, grace_s: float = ...) -> None: ...


class WorkerPool:
    """``workers`` spawned worker processes (see the module docstring).

    Use it as a context manager, or call :meth:`close`; pass it to
    ``ProcessScheduler(pool=...)`` to run several sessions on the same processes.
    """

    def __init__(
        self,
        workers: int,
        *,
        start_timeout_s: float = 60.0,
        preload: Sequence[str] = (),
        wait: bool = True,
    ) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an int >= 1, got {workers=}")
        self.workers = workers
        sweep_dead_runs()
        self.prefix = f"fluvius_{os.getpid()}_{secrets.token_hex(3)}"
        self.arena = ShmArena(f"{self.prefix}_p")
        self.busy = False
        self.broken = False
        self.closed = False
        self.pids: list[int] = []
        self._conns: list[Connection] = []
        self._kept: list[tuple[int, Any]] = []
        self.channels: list[Channel] = []
        self.procs: list[BaseProcess] = []
        self.status: Any = None
        self.preload = tuple(preload)
        self.started = False
        self._t0 = time.perf_counter()
        self.spawn_seconds = 0.0
        self._term = _exit_on_sigterm()
        self._loop: asyncio.AbstractEventLoop | None = None  # where the readers are (wait)
        self._waiter: asyncio.Future[None] | None = None
        self._heartbeat: asyncio.TimerHandle | None = None  # wakes waits (_beat)
        self._queue: list[tuple[int, Any]] = []
        self._eof: set[int] = set()
        self._exited: set[int] = set()  # sentinels the loop saw readable (see _on_exit)
        self._arrived = False
        self._fds_now: list[int] = []  # every pipe and sentinel (receive_now)
        self._fd_wid: dict[int, int] = {}
        try:
            self._spawn()
        except BaseException:
            self.close()
            raise
        if wait:
            self.wait_started(start_timeout_s)

    def wait_started(self, timeout_s: float = 60.0) -> None:
        """Wait for every worker's hello (they have imported ``preload``); a pool made with
        ``wait=False`` spawns its processes and returns at once, so that the caller works
        while they start. ``spawn_seconds``: from the spawn to the last hello."""
        if self.started:
            return
        try:
            self._hello(timeout_s)
        except BaseException:
            self.close()
            raise
        self.started = True
        self.spawn_seconds = time.perf_counter() - self._t0

    def _spawn(self) -> None:
        ctx = mp.get_context("spawn")
        n = self.workers
        self.status = ctx.RawArray("q", n * STATUS_SLOT)  # what each worker runs now
        pairs = [ctx.Pipe(duplex=True) for _ in range(n)]
        peers: list[dict[int, Connection]] = [{} for _ in range(n)]
        links = []
        for i in range(n):
            for j in range(i + 1, n):
                a, b = ctx.Pipe(duplex=True)
                peers[i][j], peers[j][i] = a, b
                links += [a, b]
        main = sys.modules.get("__main__")
        saved: dict[str, Any] = {
            a: main.__dict__[a] for a in ("__spec__", "__file__") if main and a in main.__dict__
        }
        if main is not None:  # workers must not re-run the user's script: nodes travel by value
            main.__dict__.pop("__file__", None)
            main.__dict__["__spec__"] = None
        previous = os.environ.get("PYTHONHASHSEED")
        # pinned: the same hash seed in every worker, whatever the parent's
        os.environ["PYTHONHASHSEED"] = previous if previous is not None else _HASH_SEED
        try:
            for wid in range(n):
                proc = ctx.Process(
                    target=worker_main,
                    args=(
                        wid,
                        pairs[wid][1],
                        peers[wid],
                        self.prefix,
                        self.status,
                        self.preload,
                    ),
                    name=f"fluvius-worker-{wid}",
                    daemon=True,
                )
                proc.start()
                self.procs.append(proc)
        finally:
            if main is not None:
                main.__dict__.update(saved)
                if "__spec__" not in saved:
                    main.__dict__.pop("__spec__", None)
            if previous is None:
                del os.environ["PYTHONHASHSEED"]
            else:
                os.environ["PYTHONHASHSEED"] = previous
            for _, child in pairs[: len(self.procs)]:
                child.close()
            for conn in links:
                conn.close()
        self._conns = [p for p, _ in pairs]
        self.channels = [Channel(c.fileno(), self.arena) for c in self._conns]
        self.pids = [p.pid or 0 for p in self.procs]

    def _hello(self, timeout_s: float) -> None:
        waiting = set(range(self.workers))
        deadline = time.monotonic() + timeout_s
        while waiting:
            for wid, msg in self.poll():
                if type(msg) is Hello:
                    waiting.discard(wid)
            if waiting:
                if time.monotonic() > deadline:
                    raise WorkerDiedError(
                        f"workers {sorted(waiting)} did not start within {timeout_s} s"
                    )
                self.wait_blocking(WAIT_S)

    # -- messages ---------------------------------------------------------------------------
    def send(self, wid: int, obj: Any) -> None:
        """Queue ``obj`` for worker ``wid`` (written without blocking)."""
        self.channels[wid].send(obj)

    def send_frame(self, wid: int, frame: bytes) -> None:
        """Queue a ready-made frame (see :func:`fluvius.scheduling._wire.dumps`)."""
        self.channels[wid].send_frame(frame)

    def drain(self, timeout_s: float) -> None:
        """Block until every queued byte is written (or ``timeout_s`` passes), watching
        liveness; messages read meanwhile are kept for the next :meth:`poll`."""
        deadline = time.monotonic() + timeout_s
        while any(ch.pending for ch in self.channels) and time.monotonic() < deadline:
            self.keep(self.poll())  # flushes, and raises on a dead worker
            if any(ch.pending for ch in self.channels):
                self.wait_blocking(WAIT_S)

    def poll(self, *, read: bool = True) -> list[tuple[int, Any]]:
        """Messages put back with :meth:`keep`, then every message readable now, as
        ``(worker, message)``; raises on a dead worker.

        ``read=False`` is for a caller that waits with :meth:`wait` (on an event loop): the
        loop's reader callbacks have read whatever arrived, and seen any worker's exit, so
        the messages are taken from the queue without a system call per worker (on a
        tick, the parent's largest cost after pickling); what arrives later makes the
        next ``wait`` return at once.
        """
        out = self._taken()
        if not read and self._loop is not None:
            for ch in self.channels:
                if ch.pending:
                    ch.flush()
            self._reap(out)
            return out
        for wid, ch in enumerate(self.channels):
            ch.flush()
            if wid in self._eof:
                self._died(wid)
            try:
                out += [(wid, m) for m in ch.receive()]
            except EOFError:
                self._died(wid)
            if self.procs[wid].exitcode is not None:
                out += [(wid, m) for m in self._drain(ch)]
                self._died(wid)
        return out

    def running(self, wid: int, session: int, index: int) -> list[int] | None:
        """Ranks worker ``wid`` was computing at its last status tick in cycle ``index`` of
        ``session`` (``_worker.py``); None when it has published nothing for that cycle."""
        b = wid * STATUS_SLOT
        slot = self.status[b : b + STATUS_SLOT]
        if slot[0] != session or slot[1] != index:
            return None
        return list(slot[3 : 3 + slot[2]])

    def kill(self, wid: int) -> None:
        """Kill worker ``wid`` at once (a node cannot be interrupted from outside)."""
        self.procs[wid].kill()

    def keep(self, messages: list[tuple[int, Any]]) -> None:
        """Put back messages a caller read but does not consume yet (the next poll
        returns them first): two replies read in one go must not lose the second."""
        self._kept = messages + self._kept

    def _taken(self) -> list[tuple[int, Any]]:
        """The messages put back with :meth:`keep`, then those the event loop's reader
        callbacks read (see :meth:`wait`), taken from the pool's queues."""
        out, self._kept = self._kept, []
        self._arrived = False
        if self._queue:
            out += self._queue
            self._queue = []
        return out

    def _reap(self, out: list[tuple[int, Any]]) -> None:
        """Raise for a worker whose pipe reached EOF or whose process exited (seen by the
        loop's callbacks), after adding to ``out`` what it wrote before it went."""
        for wid in sorted(self._eof | self._exited):
            out += [(wid, m) for m in self._drain(self.channels[wid])]
            self._died(wid)

    def _drain(self, ch: Channel) -> list[Any]:
        with contextlib.suppress(EOFError):
            return ch.receive()
        return []

    def _died(self, wid: int) -> None:
        self.broken = True
        proc = self.procs[wid]
        proc.join(1.0)
        code = proc.exitcode
        if code is None:
            how = "closed its connection"
        elif code < 0:
            how = f"was killed by {signal.Signals(-code).name}"
        else:
            how = f"exited with code {code}"
        raise _WorkerDied(wid, f"worker {wid} (pid {self.pids[wid]}) {how}")

    def _fds(self) -> tuple[list[int], list[int]]:
        readers = [ch.fd for ch in self.channels] + [p.sentinel for p in self.procs]
        writers = [ch.fd for ch in self.channels if ch.pending]
        return readers, writers

    def wait_blocking(self, timeout_s: float) -> None:
        """Block until a worker wrote, a pipe took queued bytes, or a worker exited."""
        readers, writers = self._fds()
        select.select(readers, writers, [], timeout_s)

    def receive_now(self, timeout_s: float, spin_s: float = 0.0) -> list[tuple[int, Any]] | None:
        """What :meth:`poll` returns, waiting up to ``timeout_s`` for it without an event
        loop: one ``select`` call over every worker's pipe and process sentinel, then
        a read of the pipes that are readable only; raises on a dead worker, whichever it
        is. The session's fast path for a live cycle (``ProcessScheduler(block_s=...)``):
        no event-loop round, no coroutine step, no ``epoll`` call of the loop (whose
        readers stay registered: a pipe read here is simply empty for them). None, at
        once, when a write is still queued (the event loop's wait flushes it).

        ``spin_s``: first poll without sleeping for up to that long (within ``timeout_s``),
        so that a reply due soon is read the moment it is written, without the wake-up of
        a sleeping parent (``ProcessScheduler(spin_s=...)``)."""
        out = self._taken()
        self._reap(out)
        if out:
            return out
        for ch in self.channels:
            if ch.pending and not ch.flush():
                return None
        fds = self._fds_now
        if not fds:
            for wid, (ch, proc) in enumerate(zip(self.channels, self.procs, strict=True)):
                fds += [ch.fd, proc.sentinel]
                self._fd_wid[ch.fd] = self._fd_wid[proc.sentinel] = wid
        events: list[int] = []
        if spin_s > 0:
            now = time.perf_counter
            end = now() + min(spin_s, timeout_s)
            while not events and now() < end:
                events = select.select(fds, [], [], 0)[0]
            timeout_s -= spin_s
        if not events and timeout_s > 0:  # select: microseconds (poll and epoll round to ms)
            events = select.select(fds, [], [], timeout_s)[0]
        for fd in events:
            wid = self._fd_wid[fd]
            ch = self.channels[wid]
            if fd != ch.fd or wid in self._eof:  # its sentinel (or a pipe at EOF): dead
                out += [(wid, m) for m in self._drain(ch)]
                self._died(wid)
            try:
                out += [(wid, m) for m in ch.receive()]
            except EOFError:
                self._eof.add(wid)
                self._died(wid)
        return out

    async def wait(self, timeout_s: float) -> None:
        """:meth:`wait_blocking` on the running event loop (other tasks keep running).

        The readers stay registered on the loop between waits (adding and removing four
        descriptors per wait was a good part of the parent's cost of a tick): whatever a
        worker writes meanwhile is read at once into the pool's queue, which the next
        :meth:`poll` returns, so no descriptor stays readable unread; a worker's exit is
        watched once (its sentinel stays readable).
        """
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._watch(loop)
        if self._arrived:
            return
        fut: asyncio.Future[None] = loop.create_future()
        self._waiter = fut
        writers = [ch.fd for ch in self.channels if ch.pending]
        for fd in writers:
            loop.add_writer(fd, self._wake)
        # a wait of WAIT_S or more ends at the pool's heartbeat (_beat) at the latest: no
        # timer made and cancelled per wait (two waits per tick)
        handle = loop.call_later(timeout_s, self._wake) if timeout_s < WAIT_S else None
        try:
            await fut
        finally:
            if handle is not None:
                handle.cancel()
            self._waiter = None
            for fd in writers:
                loop.remove_writer(fd)

    def _beat(self) -> None:
        """Wake the wait in progress every :data:`WAIT_S` (one timer per pool)."""
        self._wake()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            self._heartbeat = loop.call_later(WAIT_S, self._beat)

    def _wake(self) -> None:
        self._arrived = True
        fut = self._waiter
        if fut is not None and not fut.done():
            fut.set_result(None)

    def _on_readable(self, wid: int) -> None:
        ch = self.channels[wid]
        try:
            self._queue += [(wid, m) for m in ch.receive()]
        except EOFError:
            self._eof.add(wid)
            if self._loop is not None:
                self._loop.remove_reader(ch.fd)
        self._wake()

    def _on_exit(self, wid: int) -> None:
        self._exited.add(wid)
        if self._loop is not None:
            self._loop.remove_reader(self.procs[wid].sentinel)
        self._wake()

    def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        self._unwatch()
        for wid, ch in enumerate(self.channels):
            if wid not in self._eof:
                loop.add_reader(ch.fd, self._on_readable, wid)
            loop.add_reader(self.procs[wid].sentinel, self._on_exit, wid)
        self._loop = loop
        self._heartbeat = loop.call_later(WAIT_S, self._beat)

    def _unwatch(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        loop, self._loop = self._loop, None
        if loop is None or loop.is_closed():
            return
        for ch, proc in zip(self.channels, self.procs, strict=True):
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(ch.fd)
                loop.remove_reader(proc.sentinel)

    # -- shutdown ---------------------------------------------------------------------------
    def close(self, grace_s: float = 1.0) -> None:
        """Stop every worker within bounded time; remove shared memory. Idempotent."""
        if self.closed:
            return
        self.closed = True
        self._unwatch()
        for ch in self.channels:
            with contextlib.suppress(OSError):
                ch.send(Exit())
        deadline = time.monotonic() + grace_s
        for proc in self.procs:
            proc.join(max(deadline - time.monotonic(), 0.0))
        for proc in self.procs:
            if proc.exitcode is None:
                proc.terminate()
        for proc in self.procs:
            proc.join(grace_s)
            if proc.exitcode is None:
                proc.kill()
                proc.join(grace_s)
        for conn in self._conns:
            conn.close()
        for proc in self.procs:
            with contextlib.suppress(ValueError):
                proc.close()
        self.arena.release()
        remove_segments(self.prefix)
        if self._term:
            _restore_sigterm()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "broken" if self.broken else "ready"
        return f"<WorkerPool {self.workers} workers, {state}>"


_term_users = 0
_term_previous: Any = None


def _on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _exit_on_sigterm() -> bool:
    """Make SIGTERM raise SystemExit while pools are open (module docstring); True when
    this pool counts as a user of the handler."""
    global _term_users, _term_previous
    if threading.current_thread() is not threading.main_thread():
        return False
    if _term_users == 0:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return False  # the program handles SIGTERM itself
        _term_previous = signal.signal(signal.SIGTERM, _on_sigterm)
    _term_users += 1
    return True


def _restore_sigterm() -> None:
    global _term_users
    _term_users -= 1
    if _term_users == 0 and signal.getsignal(signal.SIGTERM) is _on_sigterm:
        with contextlib.suppress(ValueError):  # not the main thread: leave it
            signal.signal(signal.SIGTERM, _term_previous)


class _WorkerDied(FluviusError):
    """Internal: worker ``wid`` died; the session turns it into a WorkerDiedError."""

    def __init__(self, wid: int, message: str) -> None:
        self.wid = wid
        super().__init__(message)
