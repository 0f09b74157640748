"""The readable IEX decoder: one datagram at a time, one event object per message.

This is the oracle: the only code that words problems and fills the report for anything
unclean. The compiled kernel (:mod:`fluvius.feeds._kernel_src`), used by the batch decoder
(:mod:`fluvius.feeds.iex.batch`) and the live one (:mod:`fluvius.feeds.iex.datagram`),
decodes clean segments and hands every other segment here (:meth:`SegmentDecoder.decode_segment`);
without numba, this decoder does everything. The tests check that all give the same
events and the same :class:`~fluvius.feeds.iex.report.DecodeReport`.

Rules, per datagram (UDP payload), in this order:

1. shorter than the 40-byte header, Version not 1, or an unknown Message Protocol ID:
   not IEX-TP (counted; or a truncated segment when the frame was captured short);
   DEEP+ is counted as unsupported;
2. message blocks are walked within ``min(Payload Length, bytes present)``; a block that
   does not fit ends the walk. Fewer blocks than Message Count, or blocks that do not end
   exactly at Payload Length, make the segment **corrupt** unless the capture cut it short
   (then it is a truncated segment). The complete blocks are decoded either way;
3. sequence tracking (:class:`~fluvius.feeds.iex.transport.SequenceTracker`) drops
   messages already seen;
4. each message: an empty block or one shorter than its type's documented length is
   corrupt; an undocumented type is skipped and counted; a longer one is decoded.

Corruption raises :class:`~fluvius.errors.DecodeError` (byte offset, what was expected) in
strict mode; in lenient mode it is counted and listed in the report.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from fluvius.errors import DecodeError
from fluvius.feeds._capture import ETHERNET, iter_records
from fluvius.feeds.events import events_to_array
from fluvius.feeds.iex.deep import DEEP_LAYOUTS
from fluvius.feeds.iex.report import DecodeReport
from fluvius.feeds.iex.tops import TOPS_LAYOUTS
from fluvius.feeds.iex.transport import (
    DEEP_PLUS_PROTOCOL_ID,
    DEEP_PROTOCOL_ID,
    HEADER,
    HEADER_SIZE,
    PROTOCOLS,
    SequenceTracker,
    StreamKey,
)
from fluvius.feeds.net import udp_payload

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from numpy.typing import NDArray

    from fluvius.feeds._capture import Record
    from fluvius.feeds.events import Event

__all__ = ["SegmentDecoder", "decode_records", "iter_events", "rows_of"]

_U16 = struct.Struct("<H").unpack_from


class SegmentDecoder:
    """Decodes IEX-TP datagrams into events, tracking sequence numbers across calls.

    >>> seg = bytes.fromhex(
    ...     "010003800100000001000000" "0c00" "0100" + "00" * 8 + "0100000000000000" + "00" * 8
    ...     + "0a00" + "534f" + "0100000000000000")
    >>> dec = SegmentDecoder()
    >>> dec.decode(seg, recv_ns=5)
    [SystemEvent(venue='IEX', symbol='', ts_ns=1, recv_ns=5, seq=1, system_event='O')]
    """

    def __init__(
        self, *, venue: str = "IEX", strict: bool = False, report: DecodeReport | None = None
    ) -> None:
        self.venue = venue
        self.strict = strict
        self.report = report if report is not None else DecodeReport()
        self.tracker = SequenceTracker(self.report, strict=strict)

    def _problem(self, offset: int, what: str, expected: str) -> None:
        if self.strict:
            raise DecodeError(f"{what} (expected {expected})", offset=offset, expected=expected)
        self.report.add_problem(offset, f"{what} (expected {expected})")

    def decode(
        self,
        payload: bytes | bytearray | memoryview,
        recv_ns: int,
        *,
        offset: int = 0,
        truncated: bool = False,
    ) -> list[Event]:
        """The events of one datagram.

        ``offset`` is the byte offset of ``payload[0]`` in its file (for reports and errors);
        ``truncated`` says the capture kept only the first bytes of the frame.
        """
        report = self.report
        report.datagrams += 1
        n = len(payload)
        if n < HEADER_SIZE:
            if truncated:
                report.truncated_segments += 1
            else:
                report.not_iex += 1
            return []
        version, _, protocol, *_, count, _, _, _ = HEADER.unpack_from(payload, 0)
        if version != 1 or protocol not in PROTOCOLS:
            report.not_iex += 1
            return []
        if protocol == DEEP_PLUS_PROTOCOL_ID:
            name = f"0x{protocol:04x}"
            report.unsupported[name] = report.unsupported.get(name, 0) + 1
            return []
        report.segments += 1
        if count == 0:
            report.heartbeats += 1
        return self.decode_segment(payload, recv_ns, offset=offset, truncated=truncated)

    def decode_segment(
        self,
        payload: bytes | bytearray | memoryview,
        recv_ns: int,
        *,
        offset: int = 0,
        truncated: bool = False,
    ) -> list[Event]:
        """The events of one IEX-TP segment of TOPS or DEEP (its datagram already counted).

        The batch and live decoders hand over each segment their kernel finds not clean.
        """
        report = self.report
        n = len(payload)
        (_v, _res, protocol, channel, session, plen, count, soff, first, _send) = (
            HEADER.unpack_from(payload, 0)
        )
        # walk the blocks that fit in the payload present
        end = HEADER_SIZE + min(plen, n - HEADER_SIZE)
        blocks: list[tuple[int, int]] = []
        pos = HEADER_SIZE
        while len(blocks) < count and pos + 2 <= end:
            (mlen,) = _U16(payload, pos)
            if pos + 2 + mlen > end:
                break
            blocks.append((pos + 2, mlen))
            pos += 2 + mlen
        if plen > n - HEADER_SIZE or len(blocks) < count:
            if truncated:
                report.truncated_segments += 1
            elif plen > n - HEADER_SIZE:
                self._problem(
                    offset,
                    f"IEX-TP segment declares payload length {plen}, "
                    f"the datagram holds {n - HEADER_SIZE} bytes",
                    "payload length <= datagram length - 40",
                )
            else:
                self._problem(
                    offset,
                    f"IEX-TP segment declares {count} messages, "
                    f"{len(blocks)} message blocks fit its payload length {plen}",
                    "message blocks filling the payload",
                )
        elif pos != HEADER_SIZE + plen:
            self._problem(
                offset,
                f"IEX-TP segment's {count} message blocks end at payload byte {pos - 40}, "
                f"its payload length is {plen}",
                "message blocks ending at the payload length",
            )
        drop = self.tracker.observe(
            StreamKey(protocol, channel, session), first, count, soff, plen, offset
        )
        layouts = DEEP_LAYOUTS if protocol == DEEP_PROTOCOL_ID else TOPS_LAYOUTS
        events: list[Event] = []
        for k in range(drop, len(blocks)):
            report.messages += 1
            mpos, mlen = blocks[k]
            if mlen == 0:
                self._problem(offset + mpos, "empty message block", "a message type byte")
                continue
            type_byte = payload[mpos]
            layout = layouts.get(type_byte)
            if layout is None:
                report.count_unknown(type_byte)
                continue
            if mlen < layout.length:
                self._problem(
                    offset + mpos,
                    f"{layout.name} message ({type_byte:#04x}) of {mlen} bytes",
                    f"at least {layout.length} bytes",
                )
                continue
            if mlen > layout.length:
                report.long_messages += 1
            event = layout.decode(payload, mpos, self.venue, recv_ns, first + k)
            report.count_event(layout.kind)
            events.append(event)
        return events


def iter_events(
    path: str | Path,
    *,
    strict: bool = False,
    report: DecodeReport | None = None,
    venue: str = "IEX",
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[Event]:
    """Every event of a capture file, in file order, one at a time (bounded memory).

    ``report`` (a :class:`DecodeReport`, filled as the iterator advances) receives the
    counts; pass one to read them after the loop. ``progress(done, total)`` is called
    after each chunk of the file.
    """
    report = report if report is not None else DecodeReport()
    decoder = SegmentDecoder(venue=venue, strict=strict, report=report)
    for buf, base, found in iter_records(path, report.capture, progress=progress, strict=strict):
        yield from decode_records(decoder, buf, base, found)


def decode_records(
    decoder: SegmentDecoder, buf: memoryview, base: int, records: list[Record]
) -> Iterator[Event]:
    """The events of a chunk's packet records (``buf`` starts at file offset ``base``)."""
    report = decoder.report
    view = memoryview(buf)
    for off, cap, orig, ts, link in records:
        if link != ETHERNET:
            report.capture.non_ethernet += 1
            continue
        found = udp_payload(view, off, cap)
        if found is None:
            report.non_udp += 1
            continue
        start, length = found
        yield from decoder.decode(
            view[start : start + length], ts, offset=base + start, truncated=cap < orig
        )


def rows_of(events: list[Event]) -> dict[str, NDArray[Any]]:
    """Events (this decoder's) as rows per kind (:func:`~fluvius.feeds.events.dtype_of`),
    kinds in order of first appearance: how the compiled decoders take them in."""
    by_kind: dict[str, list[Event]] = {}
    for e in events:
        by_kind.setdefault(e.kind, []).append(e)
    return {kind: events_to_array(evs) for kind, evs in by_kind.items()}
