"""Capture files: gzip, classic pcap and pcapng, and the one walk of their records.

Design note
-----------
A capture is read as a stream of byte *chunks* (a few MiB each, into one reused buffer),
never whole: a day of IEX HIST data is several GB. :func:`iter_chunks` reads them and
hands each chunk's complete records to a *packet walk*; the incomplete record at the end
of a chunk is carried into the next one. Formats:

* **gzip**, recognised from its magic ``1f 8b``, is inflated on the fly with python-isal
  (``isal.igzip``, several times faster than zlib), else zlib-ng, else the standard library;
* **classic pcap** (libpcap): a 24-byte global header whose magic gives the byte order and
  the time unit (µs or ns) and which names the link type, then records of a 16-byte header
  (seconds, fraction, captured length, original length) and the frame;
* **pcapng** (draft-ietf-opsawg-pcapng): blocks of ``u32 type, u32 total length, body,
  u32 total length``. A Section Header Block's magic gives the byte order of its section
  and forgets the interfaces; an Interface Description Block gives a link type, a snap
  length and the time unit (option ``if_tsresol``, code 9: 10^-v s, or 2^-v s when the
  high bit is set; 10^-6 s when absent; other options skipped). Packets are Enhanced
  Packet Blocks (interface, 64-bit time, captured and original length), Simple Packet
  Blocks (interface 0, no time: 0) and obsolete Packet Blocks; every other block is
  skipped by its length. A packet of an interface never declared (a damaged file) is read
  as Ethernet in µs.

The container is recognised from the first four bytes, never from the file name.
:class:`Container` reads the headers (pcap's global header, pcapng's SHB and IDB, in
Python) and words every container problem; a packet walk only walks packets and stops
before a header block, which :func:`iter_chunks` reads before it resumes the walk. Two
walks keep that contract: the compiled ``survey`` kernel, which goes on to the chunk's
IEX-TP segments (:mod:`fluvius.feeds.iex.batch`), and
:func:`records`, its readable twin (the reference decoder's and the replayer's; the tests
check that both find the same records).

Damage. A file that ends inside a record stops cleanly: the records before it are decoded
and :class:`CaptureStats` names the byte offset of the incomplete record. A *corrupt
container* stops reading too: a record or block length no capture can have, or
compressed data that cannot be inflated (isal's ``IsalError``, zlib's ``zlib.error``, a CRC
mismatch, a stream cut short). The records before the damage are decoded (the stream is
inflated :data:`INFLATE_STEP` bytes at a time, so at most that much is lost), and
``truncated_file`` names the file and the uncompressed byte offset; with ``strict=True`` a
corrupt container raises :class:`~fluvius.errors.DecodeError` instead, after the records
before it. A file that merely ends inside its last record (an interrupted capture, as in
real samples) is no error.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, cast

import numpy as np

from fluvius.errors import DecodeError
from fluvius.feeds._inflate import inflate_whole

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from numpy.typing import NDArray


__all__ = [
    "CHUNK_BYTES",
    "CaptureStats",
    "Container",
    "Record",
    "capture_size",
    "detect_container",
    "iter_chunks",
    "iter_records",
    "open_stream",
    "records",
    "ticks_to_ns",
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

MAX_RECORD = 1 << 18
"""The largest pcap record length accepted (an IPv4 datagram is at most 65,535 bytes): a
longer one means the file is corrupt there and cannot be re-synchronised."""
MAX_BLOCK = 1 << 20
"""The largest pcapng block accepted (bytes); a longer length means the file is corrupt."""

ETHERNET = 1  # the link type of Ethernet II
GZIP_MAGIC = b"\x1f\x8b"
PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": (True, 1_000),  # little-endian, microseconds
    b"\x4d\x3c\xb2\xa1": (True, 1),  # little-endian, nanoseconds
    b"\xa1\xb2\xc3\xd4": (False, 1_000),
    b"\xa1\xb2\x3c\x4d": (False, 1),
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
SHB, IDB, PB, SPB, EPB = 0x0A0D0D0A, 1, 2, 3, 6
END, HEADER, BAD_LENGTH, BAD_PACKET = 0, 1, 2, 3
"""Why a packet walk stopped: the end of the complete records, before a pcapng header
block, at an impossible record or block length, at a packet block too short."""
_WRAP, _HALF = 1 << 64, 1 << 63  # a corrupt timestamp beyond int64 wraps, as in C

Record = tuple[int, int, int, int, int]
"""One packet record: frame offset in the chunk, captured length, original length, capture
time (ns) and link type."""


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


def capture_size(path: str | Path) -> int:
    """The size of the capture in ``path``, inflated when it is gzipped (from the gzip
    trailer's ISIZE, the size modulo 2**32: a hint, to size buffers; a wrong one costs
    time, never a wrong result).

    >>> import gzip, pathlib, tempfile
    >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "c.pcap.gz"
    >>> _ = tmp.write_bytes(gzip.compress(bytes(100_000)))
    >>> capture_size(tmp), tmp.stat().st_size < 1000
    (100000, True)
    """
    size = os.stat(path).st_size
    with open(path, "rb") as fh:
        if size < 18 or fh.read(2) != GZIP_MAGIC:
            return size
        fh.seek(-4, os.SEEK_END)
        inflated = int.from_bytes(fh.read(4), "little")
    while inflated < size:  # more than 4 GiB inflated (or damaged): at least the file
        inflated += 1 << 32
    return inflated


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


def ticks_to_ns(ticks: int, tsresol: int) -> int:
    """A pcapng timestamp in ``if_tsresol`` units as integer ns (exact, floor).

    >>> ticks_to_ns(1_500_000_000_123_456, 6)
    1500000000123456000
    >>> ticks_to_ns(3, 0x81)  # 2^-1 s units
    1500000000
    """
    if tsresol & 0x80:
        return int((ticks * 1_000_000_000) >> (tsresol & 0x7F))
    if tsresol <= 9:
        return int(ticks * 10 ** (9 - tsresol))
    return int(ticks // 10 ** (tsresol - 9))


@dataclass(slots=True)
class Container:
    """What a capture's headers said so far: its container, byte order, time unit and link
    types. Reads the header blocks and words every container problem."""

    name: str
    kind: str  # "pcap" or "pcapng"
    little: bool = True
    ns_per_tick: int = 1_000  # classic pcap
    linktype: int = ETHERNET  # classic pcap
    # pcapng: (link type, snap length, if_tsresol) of each interface of the section
    interfaces: list[tuple[int, int, int]] = field(default_factory=list)
    _units: tuple[NDArray[Any], ...] | None = None

    @classmethod
    def open(cls, head: bytes, name: str) -> Container:
        """The container of a file that starts with ``head`` (its first 24 bytes or fewer)."""
        kind = detect_container(head, name=name)
        if kind == "pcapng":
            return cls(name, kind)
        if len(head) < 24:
            raise DecodeError(
                f"{name}: the pcap global header is cut short ({len(head)} of 24 bytes)",
                offset=len(head),
                expected="24-byte pcap global header",
            )
        little, ns_per_tick = PCAP_MAGICS[bytes(head[:4])]
        (linktype,) = struct.unpack_from("<I" if little else ">I", head, 20)
        return cls(name, kind, little, ns_per_tick, linktype & 0xFFFF)

    @property
    def order(self) -> str:
        """The ``struct`` byte order of the file (of the current pcapng section)."""
        return "<" if self.little else ">"

    def interface(self, i: int) -> tuple[int, int, int]:
        """(link type, snap length, if_tsresol) of interface ``i`` of the section."""
        return self.interfaces[i] if i < len(self.interfaces) else (ETHERNET, 0, 6)

    def units(self) -> tuple[NDArray[Any], ...]:
        """The section's interfaces for the ``survey`` kernel: how each converts ticks to
        ns (0: times a factor, 1: divided by it, 2: times 10^9 shifted right by it), the
        factor, the link type."""
        if self._units is None:
            how, factor = [], []
            for _link, _snap, unit in self.interfaces:
                if unit & 0x80:
                    how.append(2)
                    factor.append(unit & 0x7F)
                elif unit <= 9:
                    how.append(0)
                    factor.append(10 ** (9 - unit))
                else:  # finer than ns: 10^20 and more exceed any 64-bit count of ticks
                    how.append(1)
                    factor.append(10 ** (unit - 9) if unit - 9 <= 19 else 0)
            self._units = (
                np.array(how, dtype=np.int64),
                np.array(factor, dtype=np.uint64),
                np.array([i[0] for i in self.interfaces], dtype=np.int64),
            )
        return self._units

    def header_block(self, buf: memoryview, pos: int, base: int) -> tuple[int, str]:
        """Read the section header or interface description at ``buf[pos]``: (where the
        next block starts, or ``pos`` when this one is not complete; why reading must
        stop, or "")."""
        if pos + 12 > len(buf):
            return pos, ""
        if bytes(buf[pos : pos + 4]) == PCAPNG_MAGIC:
            magic = bytes(buf[pos + 8 : pos + 12])
            if magic not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
                return pos, (
                    f"corrupt pcapng section header at byte offset {base + pos}: "
                    f"byte-order magic {magic.hex()} is neither 1a2b3c4d nor 4d3c2b1a"
                )
            self.little = magic == b"\x4d\x3c\x2b\x1a"
        e = self.order
        btype, blen = struct.unpack_from(e + "II", buf, pos)
        if blen < 12 or blen % 4 or blen > MAX_BLOCK:
            return pos, self.corrupt(buf, pos, base, BAD_LENGTH)
        if pos + blen > len(buf):
            return pos, ""
        self._units = None
        if btype == SHB:
            self.interfaces = []
            return pos + blen, ""
        body = bytes(buf[pos + 8 : pos + blen - 4]).ljust(8, b"\0")
        linktype, _reserved, snaplen = struct.unpack_from(e + "HHI", body)
        tsresol, opt = 6, 8
        while opt + 4 <= len(body):
            code, length = struct.unpack_from(e + "HH", body, opt)
            if code == 0:
                break
            if code == 9 and length >= 1 and opt + 4 < len(body):
                tsresol = body[opt + 4]
            opt += 4 + ((length + 3) & ~3)
        self.interfaces.append((linktype, snaplen, tsresol))
        return pos + blen, ""

    def corrupt(self, buf: memoryview, pos: int, base: int, why: int) -> str:
        """Why reading stops at the record or block at ``buf[pos]`` (``why``: a walk's)."""
        (length,) = struct.unpack_from(
            self.order + "I", buf, pos + (8 if self.kind == "pcap" else 4)
        )
        if self.kind == "pcap":
            return (
                f"corrupt pcap record at byte offset {base + pos}: captured length {length} "
                f"exceeds {MAX_RECORD}; the rest of the file cannot be read"
            )
        if why == BAD_PACKET:
            return f"corrupt pcapng packet block at byte offset {base + pos}: blen={length}"
        return (
            f"corrupt pcapng block at byte offset {base + pos}: total length {length} "
            f"(expected a multiple of 4 between 12 and {MAX_BLOCK})"
        )


def records(
    buf: memoryview, pos: int, c: Container, stats: CaptureStats
) -> tuple[list[Record], int, int]:
    """The readable packet walk: the packet records from ``buf[pos]`` on, where it stopped,
    and why (:data:`END`, :data:`HEADER`, :data:`BAD_LENGTH`, :data:`BAD_PACKET`).

    The twin of the ``survey`` kernel's walk (:mod:`fluvius.feeds._kernel_src`).
    """
    found: list[Record] = []
    end, e, why = len(buf), c.order, END
    if c.kind == "pcap":
        head = struct.Struct(e + "IIII").unpack_from
        while pos + 16 <= end:
            sec, frac, incl, orig = head(buf, pos)
            if incl > MAX_RECORD:
                why = BAD_LENGTH
                break
            if pos + 16 + incl > end:
                break
            found.append(
                (pos + 16, incl, orig, sec * 1_000_000_000 + frac * c.ns_per_tick, c.linktype)
            )
            pos += 16 + incl
    while c.kind == "pcapng" and pos + 12 <= end:
        btype, blen = struct.unpack_from(e + "II", buf, pos)
        if btype in (SHB, IDB):
            why = HEADER
            break
        if blen < 12 or blen % 4 or blen > MAX_BLOCK:
            why = BAD_LENGTH
            break
        if pos + blen > end:
            break
        room = blen - 12
        if btype in (EPB, PB):
            if room < 20:
                why = BAD_PACKET
                break
            if btype == EPB:
                iface, hi, lo, cap, orig = struct.unpack_from(e + "IIIII", buf, pos + 8)
            else:
                iface, _drops, hi, lo, cap, orig = struct.unpack_from(e + "HHIIII", buf, pos + 8)
            link, _snap, unit = c.interface(iface)
            ns = (ticks_to_ns((hi << 32) | lo, unit) + _HALF) % _WRAP - _HALF
            found.append((pos + 28, min(cap, room - 20), orig, ns, link))
        elif btype == SPB:
            (orig,) = struct.unpack_from(e + "I", buf, pos + 8)
            link, snap, _unit = c.interface(0)
            cap = min(orig, room - 4, snap or orig)
            found.append((pos + 12, max(cap, 0), orig, 0, link))
        else:
            stats.skipped_blocks += 1
        pos += blen
    stats.records += len(found)
    stats.truncated_records += sum(1 for r in found if r[1] < r[2])
    return found, pos, why


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


def _refill(
    stream: BinaryIO, store: NDArray[np.uint8], used: int, got: int, size: int
) -> tuple[NDArray[np.uint8], int, str]:
    """Move ``store[used:got]`` to the front of ``store`` and fill the rest from ``stream``:
    (the store, the bytes in it, why reading failed or "").

    The store keeps its size unless it is smaller than ``size`` (the first one was cut to
    a small file) or the carried bytes fill more than half of it (a record longer than half
    a chunk): then it is a new one of ``size`` (carry + ``size``). A new store is
    uninitialised (``numpy.empty``): the inflater writes every byte the walk reads.
    """
    carry = got - used  # less than one record
    want = size if 2 * carry <= size else carry + size
    if len(store) < want:
        grown = np.empty(want, dtype=np.uint8)
        grown[:carry] = store[used:got]
        store = grown
    elif carry:
        store[:carry] = store[used:got].copy()
    got, error = _fill(stream, store.data, carry)
    return store, got, error


T = TypeVar("T")

Walk = Callable[[memoryview, int, Container, CaptureStats], tuple[T, int, int]]
"""A packet walk: ``walk(buf, pos, container, stats)`` -> (what it found from ``buf[pos]``
on, where it stopped, why); it counts ``records``, ``truncated_records`` and
``skipped_blocks`` in the :class:`CaptureStats` itself. :func:`records` is one."""


class _Source:
    """A capture's bytes chunk by chunk: inflated whole (libdeflate, then windows of it, no
    copy) or streamed into one reused store (the carry moved to its front)."""

    def __init__(self, path: str | Path, chunk_bytes: int, whole_below: int) -> None:
        self.size = max(chunk_bytes, 64)
        self.total = os.path.getsize(path)
        self.error = ""  # why inflating failed
        hint = capture_size(path)  # the first store no larger than the capture
        whole = None
        if hint <= whole_below and hint != self.total:  # gzip (a plain file's hint is its size)
            whole = inflate_whole(path, hint)
        self.whole = whole
        self.raw: BinaryIO | None = None
        if whole is None:
            self.stream, self.compressed, self.raw = open_stream(path)
            self.store = np.empty(max(min(self.size, hint), 64), dtype=np.uint8)
        else:
            self.compressed = "libdeflate"

    def first(self) -> memoryview:
        """The first chunk."""
        if self.whole is not None:
            return self.whole.data[: self.size]
        got, self.error = _fill(self.stream, self.store.data, 0)
        return self.store.data[:got]

    def next(self, buf: memoryview, base: int, used: int) -> memoryview:
        """The chunk after ``buf`` (at file offset ``base``), from its byte ``used`` on;
        no longer than ``len(buf) - used`` at the end of the data."""
        if self.whole is not None:
            end = base + len(buf)
            return self.whole.data[base + used : end + self.size]
        self.store, got, self.error = _refill(self.stream, self.store, used, len(buf), self.size)
        return self.store.data[:got]

    def done(self) -> int:
        """The bytes of the (possibly compressed) file read so far."""
        return self.total if self.raw is None else self.raw.tell()

    def close(self) -> None:
        if self.raw is not None:
            self.stream.close()
            self.raw.close()


def iter_chunks(
    path: str | Path,
    stats: CaptureStats,
    walk: Walk[T],
    *,
    chunk_bytes: int = CHUNK_BYTES,
    progress: Callable[[int, int], None] | None = None,
    strict: bool = False,
    whole_below: int = 0,
) -> Iterator[tuple[memoryview, int, list[T]]]:
    """Read ``path`` chunk by chunk and walk each: ``(buffer, its file offset, what the
    walk found)`` per chunk (usually one find; one more after each header block).

    The buffer is reused for the next chunk: keep nothing of it. Raises
    :class:`DecodeError` when the file is not a capture; a file that ends inside a record
    stops with ``stats.truncated_file`` set; so does a corrupt container, or with
    ``strict`` it raises :class:`DecodeError` (file name, byte offset) once the records
    before it are yielded. ``progress(done, total)`` is called after each chunk with the
    bytes of the (possibly compressed) file read so far. A gzip file that inflates to at
    most ``whole_below`` bytes is inflated in one piece (:mod:`fluvius.feeds._inflate`:
    faster, but all of it in memory); others stream, in memory bounded by ``chunk_bytes``.
    """
    name = str(path)
    source = _Source(path, chunk_bytes, whole_below)
    stats.compressed = source.compressed

    def stop(why: str, offset: int) -> None:
        """A corrupt container: reported, or raised in strict mode."""
        if strict:
            raise DecodeError(
                f"{name}: {why}", offset=offset, expected="an intact capture container"
            )
        stats.truncated_file = why

    def damaged(at: int) -> str:
        return (
            "the compressed data is damaged after byte "
            f"{at} of the inflated stream ({source.error})"
        )

    try:
        buf = source.first()
        if source.error and len(buf) < 4:
            raise DecodeError(f"{name}: cannot inflate: {source.error}", offset=0)
        c = Container.open(bytes(buf[:24]), name)
        stats.container = c.kind
        base, pos = 0, (24 if c.kind == "pcap" else 0)
        while True:
            found, reason = [], ""
            while True:
                part, pos, why = walk(buf, pos, c, stats)
                found.append(part)
                if why != HEADER:
                    break
                nxt, reason = c.header_block(buf, pos, base)
                if reason or nxt == pos:
                    break
                pos = nxt
            if why in (BAD_LENGTH, BAD_PACKET):
                reason = c.corrupt(buf, pos, base, why)
            if progress is not None:
                progress(source.done(), source.total)
            yield buf, base, found
            if reason or source.error:
                stats.bytes_read = base + len(buf)
                if reason:
                    stop(reason, base + pos)
                else:  # the records inflated before the damage are decoded: stop here
                    stop(damaged(base + len(buf)), base + len(buf))
                return
            n_carry = len(buf) - pos
            buf = source.next(buf, base, pos)
            base, pos = base + pos, 0
            if len(buf) == n_carry:  # the end of the file
                stats.bytes_read = base + len(buf)
                if source.error:
                    stop(damaged(base + len(buf)), base + len(buf))
                elif len(buf):
                    left = f"{len(buf)} bytes left at byte offset {base}"
                    stats.truncated_file = f"the file ends inside a record: {left}"
                return
    finally:
        source.close()


def iter_records(
    path: str | Path, stats: CaptureStats, **options: Any
) -> Iterator[tuple[memoryview, int, list[Record]]]:
    """:func:`iter_chunks` with the readable walk (:func:`records`): per chunk, its buffer,
    its file offset and its packet records."""
    for buf, base, found in iter_chunks(path, stats, records, **options):
        yield buf, base, [r for part in found for r in part]


def strided_view(
    buf: bytes | bytearray | memoryview | NDArray[Any], dtype: np.dtype[Any]
) -> NDArray[Any]:
    """Every byte offset of ``buf`` viewed as the start of one ``dtype`` item (no copy).

    ``strided_view(buf, dt)[offsets]`` gathers the items at arbitrary, unaligned offsets.
    """
    n = len(buf) - dtype.itemsize + 1
    if n <= 0:
        return np.empty(0, dtype)
    return np.ndarray((n,), dtype=dtype, buffer=buf, offset=0, strides=(1,))
