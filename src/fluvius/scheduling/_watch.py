"""Seeing a hung cycle: which nodes are running now, and a thread that looks while it runs.

What is running now
    The loops that compute nodes (the engine's sync loop, the serial scheduler's and a
    worker's event-driven loops) hold the rank being computed in a local ``r`` and, for
    the event-driven ones, the cycle's :class:`~fluvius.engine.cycle.CycleState` in a
    local ``cs`` (whose ``running`` set holds the async nodes in flight).
    :func:`running_ranks` reads them off frames: the stack of the thread running the
    cycle, the frames of a traceback (Ctrl-C), or the suspended coroutines of the cycle's
    task. Nothing is recorded per node, so watching costs nothing per node.
:class:`CycleWatch`
    A daemon thread that wakes every ``tick_s`` while a cycle is in flight and hands the
    subclass the cycle's age and what is running. The serial scheduler's watchdog and
    timeout (``serial.py``) and the status a worker publishes for its parent
    (``_worker.py``) are built on it.
Interrupting sync code
    CPython raises an exception in another thread only between bytecodes
    (:func:`interrupt_thread`, ``PyThreadState_SetAsyncExc``). A node looping in Python is
    stopped at once; a node blocked inside one C call (``time.sleep``, a lock, a socket
    read, one long numpy operation) is stopped only when that call returns; a node that
    never returns cannot be stopped in its process (a worker process can be killed).
"""

from __future__ import annotations

import asyncio
import ctypes
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from fluvius.engine.cycle import compute_cycle, compute_startup

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from types import CodeType, FrameType, TracebackType

__all__ = [
    "CycleInterrupted",
    "CycleWatch",
    "Watchdog",
    "describe_running",
    "interrupt_thread",
    "running_ranks",
    "task_frames",
    "thread_stack",
    "traceback_frames",
    "watch_loop",
]

_LOOPS: set[CodeType] = {compute_cycle.__code__, compute_startup.__code__}


def watch_loop(fn: Callable[..., Any]) -> None:
    """Register a function whose local ``r`` (and ``cs``) say which nodes it runs."""
    _LOOPS.add(fn.__code__)


def _stack(frame: FrameType | None) -> Iterator[FrameType]:
    while frame is not None:
        yield frame
        frame = frame.f_back


def traceback_frames(tb: TracebackType | None) -> list[FrameType]:
    """The frames an exception went through (where the running code was)."""
    out = []
    while tb is not None:
        out.append(tb.tb_frame)
        tb = tb.tb_next
    return out


def task_frames(task: asyncio.Task[Any] | None) -> list[FrameType]:
    """The frames of a task's suspended coroutine chain (empty when it is running)."""
    out: list[FrameType] = []
    coro: Any = task.get_coro() if task is not None else None
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        out.append(frame)
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return out


def running_ranks(live: Iterable[FrameType], suspended: Iterable[FrameType] = ()) -> list[int]:
    """Ranks being computed, read off ``live`` frames (a thread's stack, a traceback: their
    ``r`` is the node in hand) and ``suspended`` coroutine frames (whose ``r`` may be stale:
    only their CycleState's ``running`` set counts)."""
    found: set[int] = set()
    for frames, live_r in ((live, True), (suspended, False)):
        for frame in frames:
            if frame.f_code not in _LOOPS:
                continue
            local = frame.f_locals
            r = local.get("r")
            if live_r and type(r) is int and r >= 0:
                found.add(r)
            running = getattr(local.get("cs"), "running", None)
            if isinstance(running, set):
                found.update(x for x in set(running) if type(x) is int)  # copied at once
    return sorted(found)


def thread_stack(tid: int) -> list[FrameType]:
    """The frames of thread ``tid``, innermost first (empty when it is gone)."""
    return list(_stack(sys._current_frames().get(tid)))


def interrupt_thread(tid: int, exc: type[BaseException] | None) -> None:
    """Raise ``exc`` in thread ``tid`` at its next bytecode (None: cancel a pending one)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), ctypes.py_object(exc))


def describe_running(keys: Sequence[str], created_at: Sequence[str], ranks: Iterable[int]) -> str:
    """``'risk/AAPL' (created at book.py:12), 'b'``, or a note that none is known."""
    parts = []
    for r in ranks:
        where = f" (created at {created_at[r]})" if created_at[r] else ""
        parts.append(f"{keys[r]!r}{where}")
    return ", ".join(parts) if parts else "no node known (between nodes)"


class CycleWatch:
    """A daemon thread looking at the cycle in flight every ``tick_s`` (module docstring).

    The cycle's thread calls :meth:`begin` and :meth:`end` around each cycle;
    :meth:`on_tick` runs on the watch thread with the cycle's age in seconds.
    """

    def __init__(self, tick_s: float, name: str) -> None:
        self.tick_s = tick_s
        self.name = name
        self.tid = 0
        self.task: asyncio.Task[Any] | None = None
        self.index = -1
        self.t0 = 0.0
        self.active = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def begin(self, index: int) -> None:
        """A cycle starts on the calling thread (in the current task, if any)."""
        self.tid = threading.get_ident()
        try:
            self.task = asyncio.current_task()
        except RuntimeError:
            self.task = None
        self.index = index
        self.t0 = time.monotonic()
        self.active = True
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def end(self) -> None:
        self.active = False

    def running(self) -> list[int]:
        """Ranks running now in the watched cycle."""
        if not self.active:
            return []
        return running_ranks(thread_stack(self.tid), task_frames(self.task))

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(1.0)

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            if self.active:
                self.on_tick(time.monotonic() - self.t0)

    def on_tick(self, elapsed_s: float) -> None:
        raise NotImplementedError


class CycleInterrupted(BaseException):
    """Raised inside a cycle's thread to stop it at its timeout (never seen by users: the
    session turns it into CycleTimeoutError). A BaseException, so that a node's
    ``except Exception`` does not swallow it."""


class Watchdog(CycleWatch):
    """In-process watchdog (serial scheduler): logs what runs after ``warn_after_s`` (and
    every ``warn_after_s`` after that); after ``timeout_s`` stops the cycle: a sync node is
    interrupted with :class:`CycleInterrupted` (see the module docstring for what cannot
    be), a cycle waiting for async nodes is cancelled. ``fired`` then holds the ranks that
    were running."""

    def __init__(
        self,
        describe: Callable[[list[int]], str],
        warn_after_s: float | None,
        timeout_s: float | None,
        log: logging.Logger,
    ) -> None:
        shortest = min(s for s in (warn_after_s, timeout_s, 1.0) if s)
        super().__init__(max(0.01, min(0.25, shortest / 4)), "fluvius-watchdog")
        self.describe = describe
        self.warn_after_s = warn_after_s
        self.timeout_s = timeout_s
        self.log = log
        self.timed = False
        self.fired: list[int] | None = None
        self._next_warn = 0.0
        self._injected = False
        self._lock = threading.Lock()

    def begin(self, index: int, timed: bool = True) -> None:
        self.timed = timed and self.timeout_s is not None
        self.fired = None
        self._injected = False
        self._next_warn = self.warn_after_s or 0.0
        super().begin(index)

    def end(self) -> None:
        with self._lock:
            self.active = False
            if self._injected:  # not raised yet (the node returned first): drop it
                interrupt_thread(self.tid, None)
                self._injected = False

    def on_tick(self, elapsed_s: float) -> None:
        if self.warn_after_s and elapsed_s >= self._next_warn:
            self._next_warn += self.warn_after_s
            self.log.warning(
                "cycle %d has been running for %.1f s; running: %s",
                self.index,
                elapsed_s,
                self.describe(self.running()),
            )
        if self.timed and self.fired is None and elapsed_s >= (self.timeout_s or 0.0):
            self._stop_cycle(elapsed_s)

    def _stop_cycle(self, elapsed_s: float) -> None:
        with self._lock:
            if not self.active:
                return
            live = thread_stack(self.tid)
            suspended = task_frames(self.task)
            in_loop = any(f.f_code in _LOOPS for f in live)
            waiting = not in_loop and any(f.f_code in _LOOPS for f in suspended)
            if not in_loop and not waiting:
                return  # between the loop and the session's code: look again next tick
            self.fired = running_ranks(live, suspended)
            if in_loop:
                interrupt_thread(self.tid, CycleInterrupted)
                self._injected = True
            elif self.task is not None:
                task, index = self.task, self.index

                def cancel() -> None:  # on the loop's thread: the cycle cannot end meanwhile
                    if self.active and self.index == index:
                        task.cancel()

                task.get_loop().call_soon_threadsafe(cancel)
        self.log.warning(
            "cycle %d exceeded its timeout of %g s after %.1f s; stopping: %s",
            self.index,
            self.timeout_s,
            elapsed_s,
            self.describe(self.fired),
        )
