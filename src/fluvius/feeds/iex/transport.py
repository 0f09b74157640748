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
* ``expected < first <= expected + PLAUSIBLE_JUMP``: a *gap* of ``first - expected``
  missing messages; the stream continues after the segment;
* ``first == 1 < expected``: a *restart* (the 2017 DEEP sample restarts 11 times in one
  session), reported at once; the stream follows it once confirmed (below);
* ``first > expected + PLAUSIBLE_JUMP``: an implausible jump, a sequence *anomaly*
  (reported at once; ``strict`` raises :class:`~fluvius.errors.DecodeError`);
* ``first < expected``: a *duplicate*: the messages already seen are dropped and counted,
  any newer tail is kept.

Resynchronisation. A restart or an implausible jump is not taken as the new expected
sequence on its own word: one corrupt or forged header (a 40-byte heartbeat is enough)
would otherwise make every later message a "duplicate" and drop it. The segment's own
messages are kept, and the jump is held as a *candidate* until the stream's next segment:

* it continues from the candidate (its first number is between the candidate's first and
  its end + ``PLAUSIBLE_JUMP``, and is not exactly the expected one): the jump was real. A forward
  jump is then also reported as a gap (the messages in between are missing), and the
  stream follows it;
* the next segment starts where the held segment's messages would end had it come in
  order (``expected + its message count``): its number was wrong (a bit flip); the
  stream goes on after it, no gap;
* anything else (in particular the next segment at the expected number): the jump is
  rejected, the expected number stays. A rejected restart is reported as an anomaly then
  (``strict`` raises). Duplicates are thus judged against the messages actually taken.

A segment of a stream not seen before starts it (nothing to compare with). At most
``max_streams`` streams (:data:`MAX_STREAMS`) are tracked: streams seen once (forged
sessions look like that) are dropped first, oldest first, then the least recently used;
every stream dropped is reported (``stream_evictions``, ``evicted_streams``). A dropped
stream seen again starts afresh.

Nothing here is fatal in lenient mode: a feed handler must survive every one of these.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from fluvius.errors import DecodeError
from fluvius.feeds.iex.report import MAX_LISTED

if TYPE_CHECKING:
    from fluvius.feeds.iex.report import DecodeReport

__all__ = [
    "DEEP_PLUS_PROTOCOL_ID",
    "DEEP_PROTOCOL_ID",
    "HEADER",
    "HEADER_SIZE",
    "MAX_STREAMS",
    "PLAUSIBLE_JUMP",
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


PLAUSIBLE_JUMP = 1 << 16
"""The largest forward jump of the sequence taken at once as a gap of lost messages.

A larger one (a corrupt or forged header is the likelier cause: one bad segment would
otherwise make every later message look old) is an *anomaly*: it is reported, and the
stream moves to it only when the next segment of the stream continues from it. 65,536
messages is about a thousand full segments (real data has 1-67 messages per segment)."""

MAX_STREAMS = 64
"""Streams tracked at once by default. A feed has one per (protocol, channel, session):
one or two per day and feed; the bound keeps forged sessions from growing the state."""


class StreamKey(NamedTuple):
    """One sequenced stream: messages are numbered per (protocol, channel, session)."""

    protocol: int
    channel: int
    session: int


@dataclass(slots=True)
class _Candidate:
    """A jump held until the stream's next segment confirms or rejects it."""

    first: int  # the jumping segment's first sequence number
    count: int  # its messages
    length: int  # its payload length
    next_seq: int  # where the stream continues if the jump is real
    next_offset: int
    at: int  # byte offset of the jumping segment
    restart: bool  # a restart at 1 (already reported as one) rather than a forward jump


@dataclass(slots=True)
class _StreamState:
    next_seq: int
    next_offset: int
    candidate: _Candidate | None = None
    last_used: int = 0


@dataclass(slots=True)
class SequenceTracker:
    """Per-stream expected sequence number and stream offset; reports into ``report``.

    ``strict`` raises :class:`~fluvius.errors.DecodeError` on a sequence anomaly;
    ``max_streams`` bounds the streams tracked (see the module doc).
    """

    report: DecodeReport
    strict: bool = False
    max_streams: int = MAX_STREAMS
    streams: dict[tuple[int, int, int], _StreamState] = field(default_factory=dict)
    _new: dict[tuple[int, int, int], _StreamState] = field(default_factory=dict)
    _clock: int = 0

    def __post_init__(self) -> None:
        if self.max_streams < 1:
            raise ValueError(f"max_streams must be >= 1, got {self.max_streams=}")

    def __len__(self) -> int:
        """Streams tracked now (at most ``max_streams``)."""
        return len(self.streams) + len(self._new)

    def expected(self, key: StreamKey) -> tuple[int, int] | None:
        """(next sequence number, next stream offset) of ``key``, or None if unseen."""
        st = self.streams.get(key) or self._new.get(key)
        return None if st is None else (st.next_seq, st.next_offset)

    def set_expected(self, key: StreamKey, next_seq: int, next_offset: int) -> None:
        """Set the state of ``key`` (any held jump is forgotten)."""
        st = self._state(key)
        if st is None:
            self._add(key, next_seq, next_offset, 0)
        else:
            st.next_seq, st.next_offset, st.candidate = next_seq, next_offset, None

    def advance_in_order(
        self, key: tuple[int, int, int], first: int, count: int, stream_offset: int, length: int
    ) -> bool:
        """Account for a segment if it is exactly the next of its known stream, else do nothing.

        True when ``key`` (a :class:`StreamKey` or the plain tuple) is known, holds no
        jump, and the segment starts at its expected sequence number and stream offset:
        nothing to report, the state advances. Otherwise returns False, and the caller
        calls :meth:`observe`. The live decoder's fast path: no key object, no report
        look-ups.
        """
        st = self.streams.get(key)
        if (
            st is None
            or st.next_seq != first
            or st.next_offset != stream_offset
            or st.candidate is not None
        ):
            return False
        st.next_seq, st.next_offset = first + count, stream_offset + length
        self._clock += 1
        st.last_used = self._clock
        return True

    def advance_chunk(
        self,
        key: StreamKey,
        first: int,
        stream_offset: int,
        next_seq: int,
        next_offset: int,
        *,
        segments: int,
        at: int,
    ) -> bool:
        """:meth:`advance_in_order` for a run of in-order segments (the batch decoder's).

        The run of ``segments`` segments starts at ``first`` / ``stream_offset`` (byte
        offset ``at``) and ends before ``next_seq`` / ``next_offset``. A stream not seen
        before starts with the run.
        """
        st = self._state(key)
        if st is None:
            self._add(key, next_seq, next_offset, at)
            if segments > 1:
                self._state(key)  # seen more than once: established, as observe would make it
            return True
        if st.next_seq != first or st.next_offset != stream_offset or st.candidate is not None:
            return False
        st.next_seq, st.next_offset = next_seq, next_offset
        return True

    def _state(self, key: tuple[int, int, int]) -> _StreamState | None:
        """The state of ``key``, promoted to the established streams when seen before."""
        st = self.streams.get(key)
        if st is None:
            st = self._new.pop(key, None)
            if st is None:
                return None
            self.streams[key] = st
        self._clock += 1
        st.last_used = self._clock
        return st

    def _add(self, key: tuple[int, int, int], next_seq: int, next_offset: int, at: int) -> None:
        """Track a new stream, dropping (and reporting) one when ``max_streams`` are tracked."""
        if len(self.streams) + len(self._new) >= self.max_streams:
            if self._new:
                old = next(iter(self._new))
                gone = self._new.pop(old)
            else:
                old = min(self.streams, key=lambda k: self.streams[k].last_used)
                gone = self.streams.pop(old)
            report = self.report
            report.stream_evictions += 1
            if len(report.evicted_streams) < MAX_LISTED:
                p, c, s = old
                report.evicted_streams.append(
                    {"protocol": p, "channel": c, "session": s, "next_seq": gone.next_seq,
                     "at": at}
                )  # fmt: skip
        self._clock += 1
        self._new[key] = _StreamState(next_seq, next_offset, None, self._clock)

    def _anomaly(self, key: StreamKey, seq: int, expected: int, at: int, what: str) -> None:
        report = self.report
        report.sequence_anomaly_count += 1
        if len(report.sequence_anomalies) < MAX_LISTED:
            report.sequence_anomalies.append(
                {"protocol": key.protocol, "channel": key.channel, "session": key.session,
                 "seq": seq, "expected_seq": expected, "at": at}
            )  # fmt: skip
        if self.strict:
            raise DecodeError(
                f"IEX-TP stream (protocol {key.protocol:#06x}, channel {key.channel}, "
                f"session {key.session}): {what}",
                offset=at,
                expected=f"sequence number {expected} (or a jump of at most {PLAUSIBLE_JUMP})",
            )

    def observe(
        self, key: StreamKey, first: int, count: int, stream_offset: int, length: int, at: int
    ) -> int:
        """Account for one segment; returns how many of its leading messages are duplicates.

        ``at`` is the file (or datagram) byte offset of the segment, for the report.
        """
        end = first + count
        st = self._state(key)
        if st is None:
            self._add(key, end, stream_offset + length, at)
            return 0
        report = self.report
        where = {"protocol": key.protocol, "channel": key.channel, "session": key.session}
        cand = st.candidate
        if cand is not None:
            st.candidate = None
            expected = st.next_seq
            if first != expected and cand.first <= first <= cand.next_seq + PLAUSIBLE_JUMP:
                if not cand.restart:  # the jump was real: the messages between are missing
                    report.gap_count += 1
                    report.missing_messages += cand.first - expected
                    if len(report.gaps) < MAX_LISTED:
                        report.gaps.append(
                            {**where, "first_missing": expected,
                             "last_missing": cand.first - 1, "at": cand.at}
                        )  # fmt: skip
                st.next_seq, st.next_offset = cand.next_seq, cand.next_offset
            elif not cand.restart and first == expected + cand.count:
                # the held segment took the expected place (its number was wrong, e.g. a
                # bit flip): the stream goes on after it
                st.next_seq, st.next_offset = first, st.next_offset + cand.length
            elif cand.restart:
                self._anomaly(
                    key,
                    cand.first,
                    expected,
                    at,
                    f"the restart at sequence 1 (byte offset {cand.at}) is not followed: "
                    f"this segment starts at {first}, the stream expected {expected}",
                )
        expected = st.next_seq
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
        if first == 1:  # first < expected here: the sequence starts again (held until confirmed)
            report.restart_count += 1
            if len(report.restarts) < MAX_LISTED:
                report.restarts.append({**where, "after_seq": expected - 1, "at": at})
            st.candidate = _Candidate(first, count, length, end, stream_offset + length, at, True)
            return 0
        if first > expected + PLAUSIBLE_JUMP:  # implausible: held, the messages kept
            st.candidate = _Candidate(first, count, length, end, stream_offset + length, at, False)
            self._anomaly(
                key,
                first,
                expected,
                at,
                f"sequence number jumps from {expected} to {first}, "
                f"more than {PLAUSIBLE_JUMP} messages ahead",
            )
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
