"""A ``Transport`` over one ``distributed.comm`` connection, for the Dask scheduler.

The worker runtime (``_worker.py``) and the parent (``process.py``) see a link to a peer as
a ``_wire.Transport``: ``send``/``send_frame`` queue a whole message, ``receive`` returns
the messages arrived, and ``fd`` becomes readable when there are some. :class:`CommLink`
gives exactly that over a ``distributed.comm`` ``Comm`` (TCP, or TLS with the cluster's
``Security``), whose reads and writes are coroutines of an *I/O loop* running in another
thread (a Dask worker's own event loop; in the parent, the Dask client's loop):

- the thread that owns the link (a partition's compute thread, the parent's main thread)
  pickles each message (``_wire.dumps``, no shared memory) and hands the frame to the I/O
  loop with ``call_soon_threadsafe``; a writer task there sends every frame queued since
  its last write in one ``comm.write`` (a list of frames): one batched message per peer
  per flush;
- a reader task appends the frames it reads to a deque and writes one byte to a pipe,
  whose read end is ``fd``: the owner's event loop (or ``select``) wakes on it, and
  ``receive`` drains the pipe and unpickles the frames, in arrival order;
- a link is made before its connection exists (frames wait in its outbox) and gets it
  with :meth:`CommLink.attach`; when the connection closes (the peer's process died, or
  the peer closed it), ``receive`` raises ``EOFError`` once everything read is consumed,
  as ``_wire.Channel`` does.

Heartbeats
    :meth:`CommLink.beat` (on the I/O loop) sends a small ``{"beat": status}`` message
    after the frames queued; the reading side keeps the last ``status`` and never queues
    beats for the owner, so an idle link costs nothing however long it stays open.
    ``heard`` is the monotonic time of the last message read, beats included: both ends
    of a link beat every half second and count the other silent after a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from fluvius.scheduling._wire import dumps, loads

if TYPE_CHECKING:
    from distributed.comm import Comm

    from fluvius.scheduling._wire import ShmArena

__all__ = ["CommLink"]


class CommLink:
    """Whole messages over one ``distributed.comm`` connection (see the module docstring)."""

    def __init__(self, io_loop: asyncio.AbstractEventLoop, name: str = "") -> None:
        self.io_loop = io_loop
        self.name = name
        self.fd, self._signal = os.pipe()
        os.set_blocking(self.fd, False)
        os.set_blocking(self._signal, False)
        self.arena: ShmArena | None = None  # no shared memory between machines
        self.messages_sent = 0
        self.bytes_sent = 0
        self.closed = False
        self.heard = time.monotonic()
        self.status: tuple[int, ...] = ()  # the peer's last heartbeat
        self._beat: tuple[int, ...] | None = None
        self.comm: Comm | None = None
        self._in: deque[bytes] = deque()
        self._out: list[bytes] = []
        self._more = asyncio.Event()  # used on the I/O loop only
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []
        self._fds_open = True

    # -- the owner's side ----------------------------------------------------------------------
    def send(self, obj: Any) -> None:
        """Queue ``obj`` (pickled here, sent by the I/O loop)."""
        self.send_frame(dumps(obj))

    def send_frame(self, frame: bytes) -> None:
        """Queue a frame made by :func:`fluvius.scheduling._wire.dumps`."""
        self.messages_sent += 1
        self.bytes_sent += len(frame)
        with contextlib.suppress(RuntimeError):  # the I/O loop is closed: the peer is gone
            self.io_loop.call_soon_threadsafe(self.push, frame)

    @property
    def pending(self) -> bool:
        return False  # the I/O loop owns the outbox: nothing for the owner to flush

    def flush(self) -> bool:
        return True

    def receive(self) -> list[Any]:
        """Every message arrived (possibly none); EOFError once the connection is closed and
        everything read has been returned."""
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self.fd, 4096):
                pass
        frames = self._in
        messages = []
        while frames:
            messages.append(loads(frames.popleft()))
        if self.closed and not messages:
            raise EOFError(f"the connection {self.name} is closed")
        return messages

    def close_fds(self) -> None:
        """Close the pipe (after the connection is closed and nobody watches ``fd``)."""
        if self._fds_open:
            self._fds_open = False
            os.close(self.fd)
            os.close(self._signal)

    # -- the I/O loop's side ----------------------------------------------------------------------
    def push(self, frame: bytes) -> None:
        """Queue a frame (on the I/O loop)."""
        self._out.append(frame)
        self._more.set()

    def beat(self, status: tuple[int, ...] = ()) -> None:
        """Send a heartbeat carrying ``status`` (on the I/O loop)."""
        self._beat = status
        self._more.set()

    def attach(self, comm: Comm) -> None:
        """Start reading and writing on ``comm`` (on the I/O loop)."""
        self.comm = comm
        self.heard = time.monotonic()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._reader(comm)), loop.create_task(self._writer(comm))]

    async def _reader(self, comm: Comm) -> None:
        try:
            while True:
                msg = await comm.read()
                self.heard = time.monotonic()
                if isinstance(msg, dict):
                    self.status = tuple(msg.get("beat", ()))
                    continue
                self._in.extend(msg)
                self._wake()
        except Exception:  # CommClosedError, or a broken stream: the peer is gone
            pass
        finally:
            self.mark_closed()

    async def _writer(self, comm: Comm) -> None:
        more = self._more
        try:
            while True:
                await more.wait()
                more.clear()
                frames, self._out = self._out, []
                beat, self._beat = self._beat, None
                if frames:
                    await comm.write(frames)
                if beat is not None:
                    await comm.write({"beat": list(beat)})
                if self._closing and not self._out:
                    return  # everything queued before aclose() is written
        except Exception:  # the connection closed: the reader reports it
            self.mark_closed()

    def deliver(self, obj: Any) -> None:
        """Hand ``obj`` to this link's owner as if it had arrived (thread-safe)."""
        self._in.append(dumps(obj))
        self._wake()

    def mark_closed(self) -> None:
        """The connection is gone (or never came): the owner reads EOF."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._signal, b"x")

    async def aclose(self) -> None:
        """Let the writer send what is queued (within a second), then close the connection
        (on the I/O loop). Tasks are not cancelled mid-read or mid-write: distributed aborts
        a comm whose read or write is cancelled, dropping what was queued."""
        self._closing = True
        self._more.set()
        if len(self._tasks) == 2 and not self._tasks[1].done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._tasks[1]), 1.0)
        comm, self.comm = self.comm, None
        if comm is not None:
            with contextlib.suppress(Exception):
                comm.abort()  # the reader ends on it
        for task in self._tasks:
            task.cancel()
        self.mark_closed()
