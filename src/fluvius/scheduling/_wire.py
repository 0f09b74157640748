"""Transport of the process scheduler: framing over pipes, serialisation, shared memory.

Nothing here knows about graphs or cycles: a :class:`Channel` moves whole messages (any
picklable object) between two processes over one end of a socket pair, and
:class:`ShmArena` moves large buffers through POSIX shared memory. The worker logic
(``_worker.py``) and the parent (``process.py``) only call :meth:`Channel.send`,
:meth:`Channel.flush` and :meth:`Channel.receive`, so another transport (a Dask actor, TCP)
could replace this module without touching the protocol.

Framing
    A frame is ``<u32 payload bytes><u16 segment names bytes><u8 type code>``, the
    shared-memory segment names (NUL-separated, ASCII), then the payload: a pickle
    (protocol 5). Writes never block:
    the file descriptors are non-blocking, a frame that does not fit the kernel buffer
    stays in the channel's outbox, and :meth:`Channel.flush` writes more when the caller's
    event loop says the pipe is writable. A process therefore never stops reading while
    it writes, which is what rules out the classic deadlock of two processes each blocked
    writing a full pipe to the other.
Serialisation
    ``pickle`` (protocol 5, C), or ``cloudpickle`` when pickle fails or the pickle names
    ``__main__``, so that lambdas, closures and classes of ``__main__`` travel by value
    (workers never import the user's script). Buffers of :data:`SHM_THRESHOLD` bytes or
    more (large numpy arrays, through pickle protocol 5's out-of-band buffers) are copied
    once into a shared-memory segment; the receiver maps the segment copy-on-write and
    the array is rebuilt as a view on that mapping: one copy in all, however many
    readers. A NamedTuple message type registered with :func:`register_tuple_type`
    travels as the plain tuple of its fields, the frame's type code naming the type:
    pickle reduces a NamedTuple through Python-level calls (``__getnewargs__``, the
    class's ``__new__``), which cost 3-5 µs per message each way, a tuple none.
Segment lifetime
    The sender owns its segments. It unlinks them with :meth:`ShmArena.release`, which
    the scheduler calls when a cycle is over for every process (a mapped segment stays
    valid after unlink). Names carry a per-pool prefix ``fluvius_<parent pid>_<token>``,
    so the parent removes whatever a killed worker left behind with
    :func:`remove_segments`. A killed *parent* runs no clean-up at all (SIGKILL), so every
    segment is also registered, before it exists, with multiprocessing's resource
    tracker, the helper process that every ``spawn`` start shares and that outlives the
    whole process tree: when the last process holding it dies, it unlinks what is still
    registered (and warns about it). :func:`sweep_dead_runs`, called when a pool starts,
    removes the segments of runs whose parent pid is gone (should the tracker have been
    killed too).
Peer gone
    Writing to a peer that has exited drops the bytes (the peer is gone; there is no one
    to tell) and marks the channel closed: the liveness checks of the reading side report
    the death (EOF, process sentinel) with the worker's name, never a ``BrokenPipeError``.
"""

from __future__ import annotations

import contextlib
import io
import mmap
import os
import pickle
import struct
import threading
from collections import deque
from multiprocessing import resource_tracker
from pathlib import Path
from typing import Any, Protocol

import cloudpickle

__all__ = [
    "SHM_THRESHOLD",
    "Channel",
    "Transport",
    "ShmArena",
    "dumps",
    "loads",
    "register_tuple_type",
    "remove_segments",
    "sweep_dead_runs",
]

SHM_THRESHOLD = 1 << 16
"""Buffers at least this large travel through shared memory (64 KiB)."""

_SHM_DIR = Path("/dev/shm")
_HEADER = struct.Struct("<IHB")
_READ_CHUNK = 1 << 20


class ShmArena:
    """Creates the shared-memory segments of one process and unlinks them on release."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.enabled = _SHM_DIR.is_dir()
        self._count = 0
        self._live: list[str] = []

    def put(self, data: memoryview) -> str:
        """Copy ``data`` into a new segment; return its name."""
        self._count += 1
        name = f"{self.prefix}_{self._count}"
        resource_tracker.register(f"/{name}", "shared_memory")  # before it exists
        self._live.append(name)
        fd = os.open(_SHM_DIR / name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, max(data.nbytes, 1))
            with mmap.mmap(fd, max(data.nbytes, 1)) as m:
                m[: data.nbytes] = data.cast("B")
        finally:
            os.close(fd)
        return name

    def release_last(self, n: int) -> None:
        """Unlink the ``n`` segments made last (their frame was abandoned)."""
        if n:
            dropped, self._live = self._live[-n:], self._live[:-n]
            for name in dropped:
                _unlink(name)

    def release(self) -> None:
        """Unlink every segment made so far (receivers keep their mappings)."""
        for name in self._live:
            _unlink(name)
        self._live.clear()


def _unlink(name: str) -> None:
    """Unlink a segment of this run and tell the resource tracker it is gone (once: only
    the process whose unlink succeeds does, as the tracker rejects a second notice)."""
    try:
        os.unlink(_SHM_DIR / name)
    except FileNotFoundError:
        return
    resource_tracker.unregister(f"/{name}", "shared_memory")


def remove_segments(prefix: str) -> int:
    """Unlink every segment whose name starts with ``prefix`` (segments of this run, made
    by any of its processes); return how many."""
    if not _SHM_DIR.is_dir():
        return 0
    n = 0
    for path in _SHM_DIR.glob(f"{prefix}*"):
        _unlink(path.name)
        n += 1
    return n


def sweep_dead_runs() -> int:
    """Unlink the segments of runs whose parent process is gone (names
    ``fluvius_<pid>_...``); return how many. Segments of live runs and of other users
    are left alone."""
    if not _SHM_DIR.is_dir():
        return 0
    n = 0
    for path in _SHM_DIR.glob("fluvius_*_*"):
        pid = path.name.split("_")[1]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        with contextlib.suppress(OSError):  # gone meanwhile, or another user's
            path.unlink()
            n += 1
    return n


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _map(name: str) -> memoryview:
    fd = os.open(_SHM_DIR / name, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        m = mmap.mmap(fd, size, access=mmap.ACCESS_COPY)
    finally:
        os.close(fd)
    return memoryview(m)


_TYPES: list[type] = [object]
_CODES: dict[type, int] = {}


def register_tuple_type(cls: type) -> None:
    """Let instances of the tuple subclass ``cls`` (a NamedTuple message) travel as the
    plain tuple of their fields plus a one-byte code (module docstring). Every process must
    register the same types in the same order: do it at the import of the module that
    defines them."""
    if not issubclass(cls, tuple):
        raise TypeError(f"{cls!r} is not a tuple type")
    if cls not in _CODES:
        if len(_TYPES) > 255:
            raise ValueError("at most 255 tuple types can be registered")
        _CODES[cls] = len(_TYPES)
        _TYPES.append(cls)


def dumps(obj: Any, arena: ShmArena | None = None, *, memo: bool = True) -> bytes:
    """One frame holding ``obj`` (see the module docstring).

    ``memo=False`` pickles without the memo (``Pickler.fast``): each object is written
    where it occurs, shared ones as often as they occur. For a large tree of unique tuples
    and strings (a graph's structure tables) that is ~3x faster, since the memo would hold
    every one of them; it is used only when that succeeds, names no ``__main__``, and no
    buffer goes to shared memory (``arena`` is None), else the usual pickle is made.
    """
    code = _CODES.get(obj.__class__, 0)
    if code:
        obj = tuple(obj)  # a registered type: its fields, rebuilt by loads
    if not memo and arena is None:
        fast = _dumps_fast(obj)
        if fast is not None:
            return _HEADER.pack(len(fast), 0, code) + fast
    names: list[str] = []

    def out_of_band(buf: pickle.PickleBuffer) -> bool:
        raw = buf.raw()
        if raw.nbytes < SHM_THRESHOLD:
            return True  # in band
        names.append(arena.put(raw))  # type: ignore[union-attr]
        return False

    # no callback (every buffer in band) when there is no shared memory to put one in
    oob = out_of_band if arena is not None and arena.enabled else None
    # pickle (C) first: a third faster than cloudpickle on a graph of 40,000 op objects.
    # cloudpickle when pickle fails (lambdas, closures) or names __main__, which workers
    # do not import (they do not re-run the user's script): it sends those by value.
    payload: bytes
    try:
        payload = pickle.dumps(obj, protocol=5, buffer_callback=oob)
    except Exception:
        payload = b"__main__"
    if b"__main__" in payload:
        arena.release_last(len(names)) if arena is not None else None
        names.clear()
        payload = cloudpickle.dumps(obj, protocol=5, buffer_callback=oob)
    if not names:
        return _HEADER.pack(len(payload), 0, code) + payload
    joined = "\0".join(names).encode("ascii")
    return _HEADER.pack(len(payload), len(joined), code) + joined + payload


def _dumps_fast(obj: Any) -> bytes | None:
    """``obj`` pickled without the memo, or None when that fails (a recursive object) or
    names ``__main__`` (see :func:`dumps`)."""
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=5)
    pickler.fast = True  # no memo: a recursive object raises instead of looping
    try:
        pickler.dump(obj)
    except Exception:
        return None
    payload = out.getvalue()
    return None if b"__main__" in payload else payload


def loads(frame: bytes | memoryview) -> Any:
    """The object of one frame made by :func:`dumps` (header included)."""
    size, nlen, code = _HEADER.unpack_from(frame, 0)
    start = _HEADER.size + nlen
    view = memoryview(frame)
    if not nlen:
        obj = pickle.loads(view[start : start + size])
    else:
        names = bytes(view[_HEADER.size : start]).decode("ascii").split("\0")
        obj = pickle.loads(view[start : start + size], buffers=[_map(name) for name in names])
    return tuple.__new__(_TYPES[code], obj) if code else obj


class Transport(Protocol):
    """What the worker runtime (``_worker.py``) and the parent need of a link to one peer.

    :class:`Channel` (socket pairs on one machine) is the one implementation here; another
    transport (a Dask actor, TCP) provides these members and the runtime stays as it is.
    ``fd`` is a file descriptor that becomes readable when :meth:`receive` has something
    (the event loop watches it).
    """

    fd: int
    arena: ShmArena | None
    messages_sent: int
    bytes_sent: int

    def send(self, obj: Any) -> None: ...

    def send_frame(self, frame: bytes) -> None: ...

    @property
    def pending(self) -> bool: ...

    def flush(self) -> bool: ...

    def receive(self) -> list[Any]: ...


class Channel:
    """Whole messages over one end of a socket pair, without blocking (module docstring).

    Attributes
    ----------
    messages_sent, bytes_sent
        Frames queued for sending and their bytes, since the channel was made.
    """

    def __init__(self, fd: int, arena: ShmArena | None = None) -> None:
        os.set_blocking(fd, False)
        self.fd = fd
        self.arena = arena
        self._out: deque[memoryview] = deque()
        self._in = bytearray()
        self.messages_sent = 0
        self.bytes_sent = 0
        self.stale = 0  # messages dropped because their segment was released (receive)
        self.closed = False

    def send(self, obj: Any) -> None:
        """Queue ``obj`` and write what the pipe takes now."""
        self.send_frame(dumps(obj, self.arena))

    def send_frame(self, frame: bytes) -> None:
        """Queue a frame made by :func:`dumps` (one frame may go to several channels)."""
        self.messages_sent += 1
        self.bytes_sent += len(frame)
        self._out.append(memoryview(frame))
        self.flush()

    @property
    def pending(self) -> bool:
        """True while queued bytes wait for the pipe to take them."""
        return bool(self._out)

    def flush(self) -> bool:
        """Write queued bytes until the pipe is full; True when nothing is left queued."""
        out = self._out
        while out:
            head = out[0]
            try:
                n = os.write(self.fd, head)
            except BlockingIOError:
                return False
            except (BrokenPipeError, ConnectionResetError):  # the peer is gone (docstring)
                out.clear()
                self.closed = True
                return True
            if n == len(head):
                out.popleft()
            else:
                out[0] = head[n:]
        return True

    def receive(self) -> list[Any]:
        """Every whole message readable now (possibly none); EOFError when the peer is gone.

        Reads go into this thread's reusable buffer (``os.readv``): ``os.read`` of a large
        size allocates (and, above glibc's mmap threshold, maps and unmaps) that many bytes
        on every call, ~50 µs per tick message on this project's 2-core VM."""
        buf = self._in
        chunk = _read_buffer()
        while True:
            try:
                n = os.readv(self.fd, [chunk])
            except BlockingIOError:
                break
            except ConnectionResetError:
                n = 0
            if not n:
                self.closed = True
                break
            with memoryview(chunk) as view:
                buf += view[:n]
            if n < _READ_CHUNK:
                break
        messages = []
        pos = 0
        with memoryview(buf) as view:
            while len(buf) - pos >= _HEADER.size:
                size, nlen, _ = _HEADER.unpack_from(buf, pos)
                end = pos + _HEADER.size + nlen + size
                if len(buf) < end:
                    break
                try:
                    messages.append(loads(view[pos:end]))
                except FileNotFoundError:
                    # its shared-memory segment is gone: the sender released it, which it
                    # does once the cycle is over for every process or when it exits, so
                    # the message belongs to a cycle that is over (e.g. one aborted at a
                    # shutdown): dropped
                    self.stale += 1
                pos = end
        if pos:
            del buf[:pos]
        if self.closed and not messages:
            raise EOFError("the other end of the channel is closed")
        return messages


_local = threading.local()


def _read_buffer() -> bytearray:
    """This thread's read buffer (one per thread: the parent and a Dask host may read
    channels from several threads)."""
    chunk: bytearray | None = getattr(_local, "chunk", None)
    if chunk is None:
        chunk = _local.chunk = bytearray(_READ_CHUNK)
    return chunk
