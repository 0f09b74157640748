"""Live decoding to columns: one datagram → event rows per kind, event objects only on demand.

Design note
-----------
One Python object per message costs about 0.65 µs even when built as cheaply as
:class:`~fluvius.feeds.iex.fastlive.FastSegmentDecoder` builds it; a real TOPS datagram of
the pre-market spin carries up to 67 messages, so an object decoder cannot keep its p99
under 20 µs. :class:`ColumnarSegmentDecoder` decodes a datagram into the batch decoder's
columnar form instead, per datagram, in one compiled call
(:mod:`fluvius.feeds.iex._live_kernel_src`): the rows of each kind as a structured array
of :func:`fluvius.feeds.events.dtype_of` (the very rows :func:`~fluvius.feeds.iex.decode_capture`
gives), plus the kind of every event in file order. The decoder owns one workspace: the
datagram is copied in, the kernel writes the rows after it, and the used bytes are copied
out into one ``bytes`` object owned by the :class:`DatagramBatch` (the next datagram
reuses the workspace; a batch stays valid for as long as it is kept).

Semantics are :class:`~fluvius.feeds.iex.SegmentDecoder`'s, and the report is shared the
same way as the fast decoder shares it: a *clean* segment (whole, TOPS 1.6 or DEEP 1.0,
every block a documented type of exactly its documented length, the blocks filling the
payload) is decoded by the kernel, and only then accounted (datagram, segment, sequence
tracking, counts). Anything else (heartbeats, truncated, corrupt, unknown or long
messages, other protocols) goes to the per-event decoder, which reports it and raises
:class:`~fluvius.errors.DecodeError` with the byte offset in strict mode; the batch is then
built from its events. Leading duplicates found by the sequence tracker are dropped from
the rows as from the events.

Event objects are made lazily: iterating a :class:`DatagramBatch`, indexing it or calling
:meth:`DatagramBatch.events` decodes the kept datagram once with the per-event decoder's
generated scan, so the objects are exactly the reference decoder's (the tests check rows
and objects against it on random, damaged and real datagrams). Consumers that only need
numbers (the graph adapter, :class:`fluvius.feeds.adapter.DatagramAdapter`) never pay for
them.

Without numba (or with ``FLUVIUS_NUMBA=0``) every datagram takes the per-event path and
the rows are built from its events: the same results, at the per-event decoder's cost.

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

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from fluvius.feeds.events import dtype_of, events_to_array
from fluvius.feeds.iex._fused import tables
from fluvius.feeds.iex._live_kernel_src import IN_CAP as _IN_CAP
from fluvius.feeds.iex._live_kernel_src import OUT as _OUT
from fluvius.feeds.iex._live_kernel_src import OUT_CAP as _OUT_CAP
from fluvius.feeds.iex._live_kernels import live_kernel
from fluvius.feeds.iex.fastlive import _SCANS, FastSegmentDecoder
from fluvius.feeds.iex.transport import DEEP_PROTOCOL_ID, HEADER, TOPS_PROTOCOL_ID, StreamKey

if TYPE_CHECKING:
    from collections.abc import Iterator

    from numpy.typing import NDArray

    from fluvius.feeds.events import Event
    from fluvius.feeds.iex.report import DecodeReport

__all__ = ["ROW_KINDS", "ColumnarSegmentDecoder", "DatagramBatch"]

ROW_KINDS: tuple[str, ...] = tables().kinds
"""The kinds a datagram's rows can have; :attr:`DatagramBatch.order` indexes this tuple."""

_ITEMSIZE: tuple[int, ...] = tuple(int(x) for x in tables().itemsize)
_DTYPES = tuple(dtype_of(kind) for kind in ROW_KINDS)
_INDEX = {kind: i for i, kind in enumerate(ROW_KINDS)}
_FAMILY = {TOPS_PROTOCOL_ID: 0, DEEP_PROTOCOL_ID: 1}
_NK = len(ROW_KINDS)
_EMPTY_ORDER = np.zeros(0, dtype=np.uint8)
_EMPTY_ORDER.flags.writeable = False


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
        "_data",
        "_drop",
        "_events",
        "_first",
        "_out",
        "_protocol",
        "_rows",
        "recv_ns",
        "venue",
    )

    def __init__(
        self,
        venue: str,
        recv_ns: int,
        events: list[Event] | None,
        data: bytes = b"",
        out: bytes = b"",
        counts: list[int] | tuple[int, ...] = (),
        count: int = 0,
        drop: int = 0,
        protocol: int = 0,
        first: int = 0,
    ) -> None:
        """Use :class:`ColumnarSegmentDecoder` (or :meth:`from_events`) rather than this."""
        self.venue = venue
        self.recv_ns = recv_ns
        self._events = events
        self._data = data
        self._out = out
        self._counts = counts
        self._count = count
        self._drop = drop
        self._protocol = protocol
        self._first = first
        self._rows: dict[str, NDArray[Any]] | None = None

    @classmethod
    def from_events(cls, events: list[Event], venue: str, recv_ns: int) -> DatagramBatch:
        """A batch of already decoded events (the per-event path)."""
        return cls(venue, recv_ns, events)

    def __len__(self) -> int:
        if self._events is not None:
            return len(self._events)
        return self._count - self._drop

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
        """The event objects, in file order (decoded on the first call, then kept)."""
        if self._events is None:
            scan = _SCANS[self._protocol]
            data = self._data
            found = scan(data, len(data), self._count, self.venue, self.recv_ns, self._first)
            if found is None:  # pragma: no cover - the kernel accepted the same bytes
                raise AssertionError("a datagram the kernel decoded was refused by the scan")
            events = found[0]
            self._events = events[self._drop :] if self._drop else events
        return self._events

    @property
    def order(self) -> NDArray[np.uint8]:
        """The kind of each event, in file order, as indices into :data:`ROW_KINDS`."""
        if self._events is not None and not self._out:
            if not self._events:
                return _EMPTY_ORDER
            return np.array([_INDEX[e.kind] for e in self._events], dtype=np.uint8)
        return np.frombuffer(self._out, dtype=np.uint8, count=self._count)[self._drop :]

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of this batch's events, in :data:`ROW_KINDS` order."""
        return tuple(kind for kind in ROW_KINDS if self.kind_count(kind))

    def kind_count(self, kind: str) -> int:
        """How many events of ``kind`` the batch has (without making its rows)."""
        if not self._out:
            return len(self.columns().get(kind, ()))
        k = _INDEX[kind]
        return self._counts[k] - (self._skips()[k] if self._drop else 0)

    def rows(self, kind: str) -> NDArray[Any]:
        """The rows of ``kind`` (read-only; empty when the datagram has none), in file order."""
        if not self._out:
            found = self.columns().get(kind)
            return np.zeros(0, dtype=dtype_of(kind)) if found is None else found
        cache = self._rows
        if cache is None:
            cache = self._rows = {}
        found = cache.get(kind)
        if found is None:
            k = _INDEX[kind]
            c = self._counts[k]
            end = self._counts[_NK + k] - _OUT  # where the kernel's cursor for the kind stopped
            start = end - c * _ITEMSIZE[k]
            found = np.frombuffer(self._out, dtype=_DTYPES[k], count=c, offset=start)
            if self._drop:
                found = found[self._skips()[k] :]
            cache[kind] = found
        return found

    def columns(self) -> dict[str, NDArray[Any]]:
        """Every kind present → its rows (read-only structured arrays), kinds in table order."""
        if not self._out:
            if self._rows is None:
                self._rows = self._event_rows()
            return self._rows
        return {kind: self.rows(kind) for kind in self.kinds}

    def _skips(self) -> list[int]:
        """Per kind: rows among the leading duplicates the tracker dropped."""
        order = np.frombuffer(self._out, dtype=np.uint8, count=self._drop)
        skips: list[int] = np.bincount(order, minlength=_NK).tolist()
        return skips

    def _event_rows(self) -> dict[str, NDArray[Any]]:
        by_kind: dict[str, list[Event]] = {}
        for e in self._events or ():
            by_kind.setdefault(e.kind, []).append(e)
        out: dict[str, NDArray[Any]] = {}
        for kind in ROW_KINDS:
            if kind in by_kind:
                rows = events_to_array(by_kind[kind])
                rows.flags.writeable = False
                out[kind] = rows
        return out


class ColumnarSegmentDecoder:
    """Decodes IEX-TP datagrams into :class:`DatagramBatch` es (see the module doc).

    Same arguments, report and sequence tracking as
    :class:`~fluvius.feeds.iex.SegmentDecoder`; ``compiled=False`` forces the per-event
    path, ``True`` requires the kernel (``ValueError`` when numba is unavailable). One
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
        self.fast = FastSegmentDecoder(venue=venue, strict=strict, report=report)
        self.report = self.fast.report
        self.tracker = self.fast.tracker
        self.venue = venue
        self.strict = strict
        self.kernel = live_kernel() if compiled is not False else None
        if compiled and self.kernel is None:
            raise ValueError(
                "compiled=True needs the numba kernel; numba is not installed or FLUVIUS_NUMBA=0"
            )
        self._ws = np.zeros(_OUT + _OUT_CAP, dtype=np.uint8)
        self._mv = memoryview(self._ws.data)
        self._meta = np.zeros(2 * _NK, dtype=np.int64)

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
        if kernel is None or truncated or n < 40 or n > _IN_CAP:
            return self._per_event(payload, recv_ns, offset, truncated)
        version, _, protocol, channel, session, plen, count, soff, first, _ = HEADER.unpack_from(
            payload, 0
        )
        fam = _FAMILY.get(protocol)
        if version != 1 or fam is None or n != 40 + plen or count == 0:
            return self._per_event(payload, recv_ns, offset, truncated)
        self._mv[:n] = payload
        used = kernel(self._ws, self._meta, n, count, fam, recv_ns, first)
        if used < 0:
            return self._per_event(payload, recv_ns, offset, truncated)
        # a clean segment: account for it exactly as the reference decoder would
        report = self.report
        report.datagrams += 1
        report.segments += 1
        drop = 0
        if not self.tracker.advance_in_order(
            (protocol, channel, session), first, count, soff, plen
        ):
            key = StreamKey(protocol, channel, session)
            drop = self.tracker.observe(key, first, count, soff, plen, offset)
        out = self._ws[_OUT : _OUT + used].tobytes()
        # the row count of each kind, then where its rows end in the workspace
        counts = self._meta.tolist()
        counted = counts[:_NK]
        if drop:
            dropped = np.bincount(self._ws[_OUT : _OUT + drop], minlength=_NK).tolist()
            counted = [c - d for c, d in zip(counted, dropped, strict=True)]
        events = report.events
        for kind, c in zip(ROW_KINDS, counted, strict=True):
            if c:
                events[kind] = events.get(kind, 0) + c
        report.messages += count - drop
        data = payload if isinstance(payload, bytes) else bytes(payload)
        return DatagramBatch(
            self.venue, recv_ns, None, data, out, counts, count, drop, protocol, first
        )

    def _per_event(
        self, payload: bytes | bytearray | memoryview, recv_ns: int, offset: int, truncated: bool
    ) -> DatagramBatch:
        events = self.fast.decode(payload, recv_ns, offset=offset, truncated=truncated)
        return DatagramBatch.from_events(events, self.venue, recv_ns)
