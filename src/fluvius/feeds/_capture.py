"""Capture files: gzip, container detection, chunked reading into indexed capture records.

Design note
-----------
A capture is read as a stream of byte *chunks* (a few MiB each), never whole: a day of
IEX HIST data is several GB. Each chunk is indexed by the container's indexer
(:func:`fluvius.feeds.pcap.index_pcap`, :func:`fluvius.feeds.pcapng.index_pcapng`), which
walks the complete records and returns their frames as arrays (:class:`RecordChunk`); the
incomplete record at the end of the chunk is carried into the next one. Both decoders, the
streaming reference decoder and the columnar batch decoder, read captures through here.

* gzip is recognised from its magic ``1f 8b`` and inflated on the fly with python-isal
  (``isal.igzip``, several times faster than zlib), else zlib-ng, else the standard library;
* the container is recognised from its first four bytes (pcap in either byte order, µs or ns;
  pcapng), never from the file name;
* a file that ends inside a record stops cleanly: the records before it are decoded and
  :class:`CaptureStats` names the byte offset of the incomplete record;
* a *corrupt container* stops reading too: a record or block length no capture can have,
  or compressed data that cannot be inflated (a bit flip: isal's ``IsalError``, zlib's
  ``zlib.error``, a CRC mismatch, a stream cut short). The records before the damage are
  decoded (the stream is inflated :data:`INFLATE_STEP` bytes at a time, so at most that
  much is lost before the damage), and ``truncated_file`` names the file and the
  uncompressed byte offset. With ``strict=True`` a corrupt container raises
  :class:`~fluvius.errors.DecodeError` instead, after the records before it; a file that
  merely ends inside its last record (an interrupted capture, as in real samples) does not.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, TypeVar, cast, overload

import numpy as np

from fluvius.errors import DecodeError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from numpy.typing import NDArray


__all__ = [
    "CHUNK_BYTES",
    "CaptureStats",
    "ContainerWalk",
    "Indexer",
    "RecordChunk",
    "detect_container",
    "iter_record_chunks",
    "open_stream",
]

INFLATE_STEP = 1 << 20
"""Bytes asked of the (inflating) stream per read: what a damaged stream can lose at most."""


def _inflate_errors() -> tuple[type[BaseException], ...]:
    """What reading a damaged compressed stream can raise (isal's error is no OSError)."""
    errors: list[type[BaseException]] = [OSError, EOFError, zlib.error]
    try:
        from isal.isal_zlib import IsalError

        errors.append(cast("type[BaseException]", IsalError))  # typed as an instance
    except ImportError:  # pragma: no cover - isal is a dependency
        pass
    return tuple(errors)


INFLATE_ERRORS = _inflate_errors()

CHUNK_BYTES = 16 << 20
"""Bytes read per chunk: large enough to amortise the per-chunk numpy work, small enough
to keep the decoder's memory a small multiple of it."""

GZIP_MAGIC = b"\x1f\x8b"
PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000),  # little-endian, microseconds
    b"\x4d\x3c\xb2\xa1": ("<", 1),  # little-endian, nanoseconds
    b"\xa1\xb2\xc3\xd4": (">", 1_000),
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"


@dataclass(slots=True)
class CaptureStats:
    """What the capture layer saw; part of every decode report."""

    container: str = ""
    compressed: str = ""  # "" (plain) or the gzip inflater used
    bytes_read: int = 0  # uncompressed bytes
    records: int = 0  # packet records (pcap records, pcapng EPB/SPB/PB)
    truncated_records: int = 0  # captured length < original length
    skipped_blocks: int = 0  # pcapng blocks that carry no packet (NRB, ISB, custom, ...)
    non_ethernet: int = 0  # packets of an interface whose link type is not Ethernet
    truncated_file: str = ""  # why the file stopped early, with the byte offset; "" if it did not

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (JSON-ready)."""
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class RecordChunk:
    """The complete packet records of one chunk of a capture.

    ``buf`` holds the chunk's bytes; ``base`` is the file offset of ``buf[0]``. Per record:
    ``frame_off`` (into ``buf``), ``cap_len`` (bytes captured), ``orig_len`` (bytes on the
    wire), ``ts_ns`` (capture time) and ``link`` (link type, 1 = Ethernet).
    """

    buf: bytes | bytearray
    base: int
    frame_off: NDArray[np.int64]
    cap_len: NDArray[np.int64]
    orig_len: NDArray[np.int64]
    ts_ns: NDArray[np.int64]
    link: NDArray[np.int32]

    def __len__(self) -> int:
        return len(self.frame_off)


@dataclass(slots=True)
class IndexResult:
    """What an indexer found in a buffer: records from ``buf[start:]`` up to ``used``."""

    frame_off: list[int] = field(default_factory=list)
    cap_len: list[int] = field(default_factory=list)
    orig_len: list[int] = field(default_factory=list)
    ts_ns: list[int] = field(default_factory=list)
    link: list[int] = field(default_factory=list)
    used: int = 0
    stop: str = ""  # set when the rest of the file cannot be read (corrupt record length)
    starts: NDArray[np.int64] | None = None  # record starts found by a vectorised walk


class Indexer(Protocol):
    """A container's record indexer: keeps its state (byte order, interfaces) across chunks."""

    def index(self, buf: bytes | bytearray, start: int, base: int, stats: CaptureStats) -> Any:
        """Index complete records of ``buf[start:]``; ``base`` is the file offset of buf[0]."""
        ...

    def to_chunk(self, buf: bytes | bytearray, base: int, found: Any) -> RecordChunk:
        """Turn what :meth:`index` found into a :class:`RecordChunk`."""
        ...


def open_stream(path: str | Path) -> tuple[BinaryIO, str, BinaryIO]:
    """Open ``path``, inflating gzip on the fly: (stream, inflater name or "", raw file).

    The raw file's position tells how far through the file the stream is (progress bars).
    """
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    head = raw.read(2)
    raw.seek(0)
    if head != GZIP_MAGIC:
        return raw, "", raw
    stream: Any
    try:
        from isal import igzip

        stream, name = igzip.IGzipFile(fileobj=raw, mode="rb"), "isal"  # type: ignore[no-untyped-call]
    except ImportError:  # pragma: no cover - isal is a dependency; kept for odd platforms
        try:
            from zlib_ng import gzip_ng  # type: ignore[import-not-found,unused-ignore]

            stream, name = gzip_ng.GzipFile(fileobj=raw, mode="rb"), "zlib-ng"  # type: ignore[no-untyped-call,unused-ignore]
        except ImportError:
            stream, name = gzip.GzipFile(fileobj=raw, mode="rb"), "gzip"
    return stream, name, raw


def detect_container(head: bytes, *, name: str = "capture") -> str:
    """``"pcap"`` or ``"pcapng"`` from the first four bytes, else a :class:`DecodeError`.

    >>> detect_container(bytes.fromhex("d4c3b2a1"))
    'pcap'
    >>> detect_container(b"\\x0a\\x0d\\x0d\\x0a")
    'pcapng'
    """
    magic = bytes(head[:4])
    if magic in PCAP_MAGICS:
        return "pcap"
    if magic == PCAPNG_MAGIC:
        return "pcapng"
    raise DecodeError(
        f"{name}: not a pcap or pcapng capture (first bytes {magic.hex(' ') or 'none'})",
        offset=0,
        expected="pcap magic a1b2c3d4/a1b23c4d (either byte order) or pcapng 0a0d0d0a",
    )


T = TypeVar("T")

ContainerWalk = Callable[[bytearray, int, int, Any], tuple[T | None, int, str]]
"""A consumer's own walk of a container's records: ``walk(buf, start, base, indexer)``
(the indexer of the file's container, holding its byte order and interfaces) returns
(what to yield for ``buf[start:]``, or None; bytes of ``buf`` used by complete records;
why reading must stop, or ""). It counts ``records``, ``truncated_records`` (and pcapng's
``skipped_blocks``) in the :class:`CaptureStats` itself."""


def _make_indexer(container: str, head: bytes, name: str) -> Indexer:
    from fluvius.feeds.pcap import PcapIndexer
    from fluvius.feeds.pcapng import PcapngIndexer

    if container == "pcap":
        return PcapIndexer.from_header(head, name=name)
    return PcapngIndexer(name=name)


def _fill(stream: BinaryIO, view: memoryview, got: int) -> tuple[int, str]:
    """Read into ``view[got:]`` until full or the end: (bytes in view, why reading failed).

    Reads :data:`INFLATE_STEP` bytes at a time, so that a damaged compressed stream keeps
    what was inflated before the damage.
    """
    size = len(view)
    try:
        while got < size:
            n = stream.readinto(view[got : min(size, got + INFLATE_STEP)])  # type: ignore[attr-defined]
            if not n:
                break
            got += n
    except INFLATE_ERRORS as exc:
        return got, f"{type(exc).__name__}: {exc}"
    return got, ""


def _read_into(
    stream: BinaryIO, carry: bytes | bytearray | memoryview, size: int
) -> tuple[bytearray, str]:
    buf = bytearray(len(carry) + size)
    buf[: len(carry)] = carry
    view = memoryview(buf)
    got, error = _fill(stream, view, len(carry))
    view.release()
    del buf[got:]
    return buf, error


def _refill(stream: BinaryIO, buf: bytearray, used: int, size: int) -> tuple[bytearray, str]:
    """Move ``buf[used:]`` to the front of ``buf`` and fill the rest from ``stream``.

    The buffer keeps its size unless the carried bytes fill more than half of it (a record
    longer than half a chunk: it grows to carry + ``size``); at the end of the file it is
    cut to the bytes read. Should
    something still view the buffer, a resize makes a new one instead.
    Also returns why reading failed ("" if it did not).
    """
    carry = bytes(buf[used:])  # less than one record
    if 2 * len(carry) > len(buf) and len(carry) + size > len(buf):  # a long record: make room
        try:
            buf.extend(bytes(len(carry) + size - len(buf)))
        except BufferError:
            buf = bytearray(len(carry) + size)
    buf[: len(carry)] = carry
    view = memoryview(buf)
    got, error = _fill(stream, view, len(carry))
    view.release()
    if got < len(buf):
        try:
            del buf[got:]
        except BufferError:
            return bytearray(buf[:got]), error
    return buf, error


@overload
def iter_record_chunks(
    path: str | Path,
    stats: CaptureStats,
    *,
    chunk_bytes: int = ...,
    progress: Callable[[int, int], None] | None = ...,
    reuse_buffer: bool = ...,
    walk: None = ...,
    strict: bool = ...,
) -> Iterator[RecordChunk]: ...


@overload
def iter_record_chunks(
    path: str | Path,
    stats: CaptureStats,
    *,
    chunk_bytes: int = ...,
    progress: Callable[[int, int], None] | None = ...,
    reuse_buffer: bool = ...,
    walk: ContainerWalk[T],
    strict: bool = ...,
) -> Iterator[RecordChunk | T]: ...


def iter_record_chunks(
    path: str | Path,
    stats: CaptureStats,
    *,
    chunk_bytes: int = CHUNK_BYTES,
    progress: Callable[[int, int], None] | None = None,
    reuse_buffer: bool = False,
    walk: ContainerWalk[Any] | None = None,
    strict: bool = False,
) -> Iterator[Any]:
    """Read ``path`` chunk by chunk and yield each chunk's complete packet records.

    Raises :class:`DecodeError` when the file is not a capture; a file that ends inside a
    record stops with ``stats.truncated_file`` set; so does a corrupt container (an
    impossible record length, damaged compressed data), or with ``strict`` it raises
    :class:`DecodeError` (file name, byte offset) once the records before it are yielded.
    ``progress(done, total)`` is called
    after each chunk with the bytes of the (possibly compressed) file read so far.
    ``reuse_buffer`` reads every chunk into the same buffer (no fresh buffer per chunk):
    only for consumers that keep nothing of a chunk's buffer once they ask for the next.
    ``walk`` (:data:`PcapWalk`) replaces the record indexer of classic pcap files: what it
    returns is yielded instead of a :class:`RecordChunk` (pcapng still gives those).
    """
    name = str(path)
    total = os.path.getsize(path)
    stream, inflater, raw = open_stream(path)
    stats.compressed = inflater

    def corrupt(why: str, offset: int) -> None:
        """A corrupt container: reported, or raised in strict mode."""
        if strict:
            raise DecodeError(
                f"{name}: {why}",
                offset=offset,
                expected="an intact capture container",
            )
        stats.truncated_file = why

    with stream, raw:
        buf, error = _read_into(stream, b"", max(chunk_bytes, 64))
        if error and len(buf) < 4:
            raise DecodeError(f"{name}: cannot inflate: {error}", offset=0)
        stats.container = detect_container(bytes(buf[:4]), name=name)
        indexer = _make_indexer(stats.container, bytes(buf[:24]), name)
        own_walk = walk
        base = 0
        start = 24 if stats.container == "pcap" else 0
        if len(buf) < start:
            stats.truncated_file = f"the file ends inside the pcap header at byte offset {len(buf)}"
            stats.bytes_read = len(buf)
            if error:
                corrupt(f"the compressed data is damaged after byte {len(buf)} ({error})", len(buf))
            return
        while True:
            if own_walk is not None:
                item, used, stop = own_walk(buf, start, base, indexer)
            else:
                found = indexer.index(buf, start, base, stats)
                chunk = indexer.to_chunk(buf, base, found)
                stats.records += len(chunk)
                stats.truncated_records += int(np.count_nonzero(chunk.cap_len < chunk.orig_len))
                item, used, stop = (chunk if len(chunk) else None), found.used, found.stop
            if progress is not None:
                progress(raw.tell(), total)
            if item is not None:
                yield item
            if stop:
                stats.bytes_read = base + len(buf)
                corrupt(stop, base + used)
                return
            if error:  # the records inflated before the damage are decoded: stop here
                stats.bytes_read = base + len(buf)
                corrupt(
                    f"the compressed data is damaged after byte {base + len(buf)} of the "
                    f"inflated stream ({error})",
                    base + len(buf),
                )
                return
            n_carry = len(buf) - used
            carry = None if reuse_buffer else memoryview(buf)[used:]
            if carry is None:
                nxt, error = _refill(stream, buf, used, chunk_bytes)
            else:
                nxt, error = _read_into(stream, carry, chunk_bytes)
                carry.release()
            eof = len(nxt) == n_carry
            base += used
            if eof:
                stats.bytes_read = base + len(nxt)
                if error:
                    corrupt(
                        f"the compressed data is damaged after byte {base + len(nxt)} of the "
                        f"inflated stream ({error})",
                        base + len(nxt),
                    )
                elif len(nxt):
                    stats.truncated_file = (
                        f"the file ends inside a record: {len(nxt)} bytes left "
                        f"at byte offset {base}"
                    )
                return
            buf = nxt
            start = 0


def as_int64(values: list[int]) -> NDArray[np.int64]:
    """A list of ints as an int64 array (empty lists included)."""
    return np.fromiter(values, dtype=np.int64, count=len(values))


def strided_view(buf: bytes | bytearray | NDArray[Any], dtype: np.dtype[Any]) -> NDArray[Any]:
    """Every byte offset of ``buf`` viewed as the start of one ``dtype`` item (no copy).

    ``strided_view(buf, dt)[offsets]`` gathers the items at arbitrary, unaligned offsets.
    """
    n = len(buf) - dtype.itemsize + 1
    if n <= 0:
        return np.empty(0, dtype)
    return np.ndarray((n,), dtype=dtype, buffer=buf, offset=0, strides=(1,))
