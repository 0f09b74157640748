"""Live decoding to columns: one datagram → event rows per kind, event objects only on demand.

Design note (the whole core: docs/reference/iex.md, "The decoder core")
-----------------------------------------------------------------------
One Python object per message costs about 0.65 µs, too much for a 67-message datagram
under a 20 µs p99. :class:`ColumnarSegmentDecoder` runs the batch decoder's kernel
(``decode_rows``, N = 1) in one reused workspace: the datagram is copied in, the kernel
writes the rows of each kind (:func:`fluvius.feeds.events.dtype_of`) after it, and the
used bytes are copied out into the :class:`DatagramBatch` (valid for as long as it is
kept). A clean segment is accounted (report, sequence tracking) as
:class:`~fluvius.feeds.iex.SegmentDecoder` would; anything else, and everything without
numba, goes to that reference decoder and the batch is built from its events. Event
objects are made lazily from the rows (:func:`~fluvius.feeds.events.events_from_array`),
in file order (their sequence numbers'); the graph adapter never needs them.

>>> from fluvius.feeds.events import Trade
>>> from fluvius.feeds.iex.encode import encode_segments
>>> trades = [Trade("IEX", "ZIEXT", 5, 0, i + 1, 25 * 10**9, 100, i, 0) for i in range(3)]
>>> [(_, seg)] = encode_segments(trades, max_per_segment=8)
>>> batch = ColumnarSegmentDecoder().decode(seg, recv_ns=0)
>>> len(batch), batch.kinds, batch.rows("trade")["px"].tolist()
(3, ('trade',), [25000000000, 25000000000, 25000000000])
>>> list(batch) == trades
True
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from fluvius.feeds._capture import strided_view
from fluvius.feeds._kernels import kernels
from fluvius.feeds.events import dtype_of, events_from_array
from fluvius.feeds.iex._layout import BOTH, programs
from fluvius.feeds.iex.reference import SegmentDecoder, rows_of
from fluvius.feeds.iex.transport import DEEP_PROTOCOL_ID, HEADER, TOPS_PROTOCOL_ID, StreamKey

if TYPE_CHECKING:
    from collections.abc import Container, Iterator

    from numpy.typing import NDArray

    from fluvius.feeds.events import Event
    from fluvius.feeds.iex.report import DecodeReport

__all__ = ["ROW_KINDS", "ColumnarSegmentDecoder", "DatagramBatch"]

_P = programs()
ROW_KINDS: tuple[str, ...] = _P.kinds
"""The kinds a datagram's rows can have; :attr:`DatagramBatch.order` indexes this tuple."""

_ITEMSIZE: tuple[int, ...] = tuple(int(x) for x in _P.itemsize)
_DTYPES = tuple(dtype_of(kind) for kind in ROW_KINDS)
_INDEX = {kind: i for i, kind in enumerate(ROW_KINDS)}
_FAMILY = {TOPS_PROTOCOL_ID: 0, DEEP_PROTOCOL_ID: 1}
_NK = len(ROW_KINDS)
_IN_CAP = 65536  # the largest datagram the kernel takes (a UDP payload is at most 65,507)
_OUT = _IN_CAP  # where the output starts in the workspace
_DOC = np.flatnonzero(_P.doc_len)
# worst case: the datagram full of the type with the largest row per wire byte
_OUT_CAP = int(_IN_CAP * float((_P.itemsize[_P.kind_of[_DOC]] / (_P.doc_len[_DOC] + 2)).max()))
_SEQ = attrgetter("seq")
# the row fields struct reads as numpy's tolist() does (not S1 / S4: numpy drops their NULs)
_STRUCT_CODES = {"<i8": "q", "<u4": "I", "|u1": "B", "|S8": "8s"}


def _row_struct(dtype: np.dtype[Any]) -> Any:
    """``struct.Struct(...).unpack_from`` of a packed row dtype (None if a field has no code)."""
    codes = [_STRUCT_CODES.get(dtype.fields[n][0].str) for n in dtype.names or ()]  # type: ignore[index]
    if None in codes or struct.calcsize("<" + "".join(codes)) != dtype.itemsize:  # type: ignore[arg-type]
        return None
    return struct.Struct("<" + "".join(codes)).unpack_from  # type: ignore[arg-type]


_STRUCTS = tuple(_row_struct(d) for d in _DTYPES)


class DatagramBatch(Sequence["Event"]):
    """The events of one datagram: rows per kind, their file order, and event objects lazily.

    A :class:`~collections.abc.Sequence` of events (``len``, indexing, iteration, equal to
    the reference decoder's list), plus the columnar view: :meth:`rows` (a read-only
    structured array of :func:`~fluvius.feeds.events.dtype_of` per kind), :attr:`kinds`
    (the kinds present) and :attr:`order` (the index into :data:`ROW_KINDS` of each event,
    in file order). Made by :class:`ColumnarSegmentDecoder`.
    """

    __slots__ = (
        "_count",
        "_counts",
        "_events",
        "_out",
        "_rows",
        "recv_ns",
        "venue",
    )

    def __init__(
        self,
        venue: str,
        recv_ns: int,
        out: bytes,
        counts: list[int],
        count: int,
        events: list[Event] | None = None,
    ) -> None:
        """Use :class:`ColumnarSegmentDecoder` (or :meth:`from_events`) rather than this.

        ``out``: the rows of each kind in :data:`ROW_KINDS` order; ``counts``: the rows of
        each kind, then where each kind's rows end (plus the workspace offset of ``out``);
        ``count``: the events.
        """
        self.venue = venue
        self.recv_ns = recv_ns
        self._out = out
        self._counts = counts
        self._count = count
        self._events = events
        self._rows: dict[str, NDArray[Any]] = {}

    @classmethod
    def from_events(cls, events: list[Event], venue: str, recv_ns: int) -> DatagramBatch:
        """A batch of already decoded events (the reference decoder's), laid out as the
        kernel lays out a datagram's rows."""
        rows = rows_of(events)
        parts: list[bytes] = []
        counts, ends, at = [0] * _NK, [0] * _NK, 0
        for k, kind in enumerate(ROW_KINDS):
            if kind in rows:
                parts.append(rows[kind].tobytes())
                counts[k], at = len(rows[kind]), at + len(parts[-1])
            ends[k] = _OUT + at
        return cls(venue, recv_ns, b"".join(parts), counts + ends, len(events), events)

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, i: int) -> Event: ...
    @overload
    def __getitem__(self, i: slice) -> list[Event]: ...
    def __getitem__(self, i: int | slice) -> Event | list[Event]:
        return self.events()[i]

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events())

    def __repr__(self) -> str:
        kinds = ", ".join(f"{k}={len(self.rows(k))}" for k in self.kinds)
        return f"DatagramBatch(recv_ns={self.recv_ns}, events={len(self)}, {kinds})"

    def events(self) -> list[Event]:
        """The event objects, in file order (made from the rows on the first call, then kept)."""
        if self._events is None:
            made = [e for k in self.kinds for e in events_from_array(k, self.rows(k), self.venue)]
            made.sort(key=_SEQ)  # file order: a datagram numbers its messages in order
            self._events = made
        return self._events

    @property
    def order(self) -> NDArray[np.uint8]:
        """The kind of each event, in file order, as indices into :data:`ROW_KINDS`."""
        return np.array([_INDEX[e.kind] for e in self.events()], dtype=np.uint8)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of this batch's events, in :data:`ROW_KINDS` order."""
        return tuple(kind for k, kind in enumerate(ROW_KINDS) if self._counts[k])

    def kind_count(self, kind: str) -> int:
        """How many events of ``kind`` the batch has (without making its rows)."""
        return self._counts[_INDEX[kind]]

    def rows(self, kind: str) -> NDArray[Any]:
        """The rows of ``kind`` (read-only; empty when the datagram has none), in file order."""
        found = self._rows.get(kind)
        if found is None:
            k = _INDEX[kind]
            c = self._counts[k]
            end = self._counts[_NK + k] - _OUT  # where the kernel's cursor for the kind stopped
            start = end - c * _ITEMSIZE[k]
            found = np.frombuffer(self._out, dtype=_DTYPES[k], count=c, offset=start)
            self._rows[kind] = found
        return found

    def raw_rows(self, kind: str, symbols: Container[bytes] | None = None) -> list[tuple[Any, ...]]:
        """The rows of ``kind`` as tuples, read with :mod:`struct`: what ``rows(kind).tolist()``
        gives except the symbol, which keeps its 8 NUL-padded bytes. For the few rows of
        one datagram this skips numpy's per-call cost (and its code: after an idle gap the
        live path runs on cold caches, where every call counts). With ``symbols`` (8-byte
        NUL-padded symbols), only the rows of those: each row's symbol (its first 8 bytes)
        is compared where it lies and only the rows kept are read."""
        k = _INDEX[kind]
        c = self._counts[k]
        if not c:
            return []
        unpack = _STRUCTS[k]
        if unpack is None:  # a field struct cannot read: numpy's rows
            rows = [(r[0].ljust(8, b"\0"), *r[1:]) for r in self.rows(kind).tolist()]
            return rows if symbols is None else [r for r in rows if r[0] in symbols]
        size = _ITEMSIZE[k]
        end = self._counts[_NK + k] - _OUT  # where the kernel's cursor for the kind stopped
        out = self._out
        if symbols is None:
            return [unpack(out, at) for at in range(end - c * size, end, size)]
        if c == 1:  # most datagrams: no comprehension (one call less on the live path)
            at = end - size
            return [unpack(out, at)] if out[at : at + 8] in symbols else []
        return [
            unpack(out, at)
            for at in range(end - c * size, end, size)
            if out[at : at + 8] in symbols
        ]

    raw_rows_of = raw_rows  # raw_rows_of(kind, symbols): the graph adapter's name, no extra call


class ColumnarSegmentDecoder:
    """Decodes IEX-TP datagrams into :class:`DatagramBatch` es (see the module doc).

    Same arguments, report and sequence tracking as
    :class:`~fluvius.feeds.iex.SegmentDecoder`; ``compiled=False`` forces the reference
    decoder, ``True`` requires the kernel (``ValueError`` when numba is unavailable). One
    decoder owns one workspace: use it from one thread (the batches it returns are
    independent of it and of each other).
    """

    def __init__(
        self,
        *,
        venue: str = "IEX",
        strict: bool = False,
        report: DecodeReport | None = None,
        compiled: bool | None = None,
    ) -> None:
        self.reference = SegmentDecoder(venue=venue, strict=strict, report=report)
        self.report = self.reference.report
        self.tracker = self.reference.tracker
        self.venue = venue
        self.strict = strict
        k = kernels() if compiled is not False else None
        if compiled and k is None:
            raise ValueError(
                "compiled=True needs the numba kernel; numba is not installed or FLUVIUS_NUMBA=0"
            )
        self.kernel = None if k is None else k.decode_rows
        self._ws = ws = np.zeros(_OUT + _OUT_CAP, dtype=np.uint8)
        self._mv = memoryview(ws.data)
        self._seg = np.zeros((12, 1), dtype=np.int64)  # the survey's table, one segment
        self._drop = np.zeros(1, dtype=np.int64)
        self._place = np.zeros(_NK + 1, dtype=np.int64)
        self._res = np.zeros(_P.res, dtype=np.int64)
        u2, u4, u8 = (strided_view(ws, np.dtype(t)) for t in ("<u2", "<u4", "<u8"))
        # the kernel's arguments: the workspace is both its input and its output
        a = (ws, u2, u4, u8, self._seg, self._drop, 0, 1, BOTH, ws, u4, u8)
        self._args = (*a, self._place, self._res)
        # the same memory as flat memoryviews: what each datagram reads and writes outside
        # the kernel, without numpy's indexing machinery (its code is cold after an idle gap)
        self._seg_mv, self._drop_mv, self._place_mv, self._res_mv = (
            x.data.cast("B").cast("q") for x in (self._seg, self._drop, self._place, self._res)
        )

    def decode(
        self,
        payload: bytes | bytearray | memoryview,
        recv_ns: int,
        *,
        offset: int = 0,
        truncated: bool = False,
    ) -> DatagramBatch:
        """The events of one datagram (arguments as :meth:`SegmentDecoder.decode`)."""
        kernel = self.kernel
        n = len(payload)
        if kernel is None or n < 40 or n > _IN_CAP:
            return self._reference(payload, recv_ns, offset, truncated)
        version, _, protocol, channel, session, plen, count, soff, first, _ = HEADER.unpack_from(
            payload, 0
        )
        if version != 1 or protocol not in _FAMILY:
            return self._reference(payload, recv_ns, offset, truncated)
        self._mv[:n] = payload
        seg = self._seg_mv  # the survey's column: seg[i, 0]
        seg[1] = n - 40
        seg[3] = recv_ns
        self._place_mv[_NK] = _OUT
        if not kernel(*self._args):  # stopped before segment 0: not clean
            return self._reference(payload, recv_ns, offset, truncated)
        # a clean segment: account for it exactly as the reference decoder would
        report = self.report
        report.datagrams += 1
        report.segments += 1
        if count == 0:
            report.heartbeats += 1
        drop = 0
        if not self.tracker.advance_in_order(
            (protocol, channel, session), first, count, soff, plen
        ):
            key = StreamKey(protocol, channel, session)
            drop = self.tracker.observe(key, first, count, soff, plen, offset)
        if drop:  # leading duplicates: the rows again without them
            self._drop_mv[0] = drop
            kernel(*self._args)
            self._drop_mv[0] = 0
        if count == drop:
            return DatagramBatch.from_events([], self.venue, recv_ns)
        res = self._res_mv.tolist()
        report.count_rows(ROW_KINDS, res)
        # the row count of each kind, then where its rows end in the workspace
        counts = res[:_NK] + self._place_mv[:_NK].tolist()
        out = self._mv[_OUT : counts[-1]].tobytes()
        return DatagramBatch(self.venue, recv_ns, out, counts, count - drop)

    def _reference(
        self, payload: bytes | bytearray | memoryview, recv_ns: int, offset: int, truncated: bool
    ) -> DatagramBatch:
        events = self.reference.decode(payload, recv_ns, offset=offset, truncated=truncated)
        return DatagramBatch.from_events(events, self.venue, recv_ns)
