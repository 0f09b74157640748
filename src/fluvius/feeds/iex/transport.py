"""IEX-TP, the IEX Transport Protocol: segment headers and sequence tracking.

From IEX Transport Specification v1.26 in ``shared/reference/iex-specs/``: one UDP datagram
carries one segment, a 40-byte little-endian header (Version 1, Reserved, Message Protocol
ID, Channel ID, Session ID, Payload Length, Message Count, Stream Offset, First Message
Sequence Number, Send Time) followed by Message Count blocks of ``u16 length`` + message.
A heartbeat has no messages: its first sequence number is the *next* one to be used and
its stream offset the next byte.

Sequence tracking (:class:`SequenceTracker`) keeps, per stream — (protocol, channel,
session) — the next expected sequence number and stream offset:

* ``first == expected``: in order; a stream offset other than the expected one is an
  *offset mismatch* (reported, then followed);
* ``first == 1 < expected``: a *restart* (the 2017 DEEP sample restarts 11 times in one
  session); the stream starts again;
* ``first > expected``: a *gap* of ``first - expected`` missing messages;
* ``first < expected``: a *duplicate*: the messages already seen are dropped and counted,
  any newer tail is kept.

Nothing here is fatal: a feed handler must survive every one of these.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from fluvius.feeds.iex.report import MAX_LISTED

if TYPE_CHECKING:
    from fluvius.feeds.iex.report import DecodeReport

__all__ = [
    "DEEP_PLUS_PROTOCOL_ID",
    "DEEP_PROTOCOL_ID",
    "HEADER",
    "HEADER_SIZE",
    "PROTOCOLS",
    "TOPS15_PROTOCOL_ID",
    "TOPS_PROTOCOL_ID",
    "SegmentHeader",
    "SequenceTracker",
    "StreamKey",
]

HEADER = struct.Struct("<BBHIIHHqqq")
HEADER_SIZE = 40
TOPS15_PROTOCOL_ID = 0x8002
TOPS_PROTOCOL_ID = 0x8003
DEEP_PROTOCOL_ID = 0x8004
DEEP_PLUS_PROTOCOL_ID = 0x8005

PROTOCOLS: dict[int, str] = {
    TOPS15_PROTOCOL_ID: "TOPS 1.5",
    TOPS_PROTOCOL_ID: "TOPS 1.6",
    DEEP_PROTOCOL_ID: "DEEP 1.0",
    DEEP_PLUS_PROTOCOL_ID: "DEEP+ 1.0",
}
"""Message Protocol IDs of IEX feeds; DEEP+ is recognised (and counted) but not decoded."""


class SegmentHeader(NamedTuple):
    """The 40-byte IEX-TP segment header."""

    version: int
    reserved: int
    protocol: int
    channel: int
    session: int
    payload_length: int
    message_count: int
    stream_offset: int
    first_seq: int
    send_time: int

    @classmethod
    def parse(cls, buf: bytes | bytearray | memoryview, off: int = 0) -> SegmentHeader:
        """The header at ``buf[off:off+40]``.

        >>> h = SegmentHeader.parse(bytes.fromhex(
        ...     "010004800100000000008742480002008ca6210000000000cac3000000000000ec45c22096866d14"))
        >>> hex(h.protocol), hex(h.session), h.payload_length, h.message_count, h.first_seq
        ('0x8004', '0x42870000', 72, 2, 50122)
        """
        return cls(*HEADER.unpack_from(buf, off))


class StreamKey(NamedTuple):
    """One sequenced stream: messages are numbered per (protocol, channel, session)."""

    protocol: int
    channel: int
    session: int


@dataclass(slots=True)
class _StreamState:
    next_seq: int
    next_offset: int


@dataclass(slots=True)
class SequenceTracker:
    """Per-stream expected sequence number and stream offset; reports into ``report``."""

    report: DecodeReport
    streams: dict[tuple[int, int, int], _StreamState] = field(default_factory=dict)

    def expected(self, key: StreamKey) -> tuple[int, int] | None:
        """(next sequence number, next stream offset) of ``key``, or None if unseen."""
        st = self.streams.get(key)
        return None if st is None else (st.next_seq, st.next_offset)

    def set_expected(self, key: StreamKey, next_seq: int, next_offset: int) -> None:
        """Set the state of ``key`` (the batch decoder's fast path for in-order segments)."""
        self.streams[key] = _StreamState(next_seq, next_offset)

    def advance_in_order(
        self, key: tuple[int, int, int], first: int, count: int, stream_offset: int, length: int
    ) -> bool:
        """Account for a segment if it is exactly the next of its known stream, else do nothing.

        True when ``key`` (a :class:`StreamKey` or the plain tuple) is known and the segment
        starts at its expected sequence number and stream offset: nothing to report, the
        state advances. Otherwise returns False, and the caller calls :meth:`observe`. The
        live decoder's fast path: no key object, no report look-ups.
        """
        st = self.streams.get(key)
        if st is None or st.next_seq != first or st.next_offset != stream_offset:
            return False
        st.next_seq, st.next_offset = first + count, stream_offset + length
        return True

    def observe(
        self, key: StreamKey, first: int, count: int, stream_offset: int, length: int, at: int
    ) -> int:
        """Account for one segment; returns how many of its leading messages are duplicates.

        ``at`` is the file (or datagram) byte offset of the segment, for the report.
        """
        end = first + count
        st = self.streams.get(key)
        if st is None:
            self.streams[key] = _StreamState(end, stream_offset + length)
            return 0
        expected = st.next_seq
        report = self.report
        where = {"protocol": key.protocol, "channel": key.channel, "session": key.session}
        if first == expected:
            if stream_offset != st.next_offset:
                report.offset_mismatch_count += 1
                if len(report.offset_mismatches) < MAX_LISTED:
                    report.offset_mismatches.append(
                        {
                            **where,
                            "seq": first,
                            "expected_offset": st.next_offset,
                            "stream_offset": stream_offset,
                            "at": at,
                        }
                    )
            st.next_seq, st.next_offset = end, stream_offset + length
            return 0
        if first == 1:  # first < expected here: the sequence starts again
            report.restart_count += 1
            if len(report.restarts) < MAX_LISTED:
                report.restarts.append({**where, "after_seq": expected - 1, "at": at})
            st.next_seq, st.next_offset = end, stream_offset + length
            return 0
        if first > expected:
            report.gap_count += 1
            report.missing_messages += first - expected
            if len(report.gaps) < MAX_LISTED:
                report.gaps.append(
                    {**where, "first_missing": expected, "last_missing": first - 1, "at": at}
                )
            st.next_seq, st.next_offset = end, stream_offset + length
            return 0
        duplicates = min(count, expected - first)
        report.duplicate_messages += duplicates
        if end > expected:
            st.next_seq, st.next_offset = end, stream_offset + length
        return duplicates
