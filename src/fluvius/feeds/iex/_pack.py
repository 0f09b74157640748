"""Vectorised IEX-TP packing: message rows + segment boundaries → a whole capture file.

Design
------
A capture is described by a :class:`MessageTable` (one type byte per message, in feed
order, and per type a numpy structured array of that type's rows, in the same order) and
per-segment arrays: message count (0 = heartbeat), send time and capture time. Packing
computes every byte offset first (block sizes → segment payload lengths → the container's
layout), then writes the frame headers, the 40-byte IEX-TP headers, the message-length
prefixes and each type's rows with one fancy-indexed store per array. Nothing loops over
messages in Python: :func:`~fluvius.feeds.iex.encode.synthetic_tops` packs about a million
messages per second this way (the fancy-indexed stores are about 40 % of the time).

Transport fields follow IEX Transport 1.26 ("Outbound Segment Format", "Heartbeats"):
sequence numbers are consecutive from ``first_seq`` (a segment's first message number;
a heartbeat carries the *next* number), the stream offset of a segment is the sum of the
payload lengths before it, and a heartbeat's offset is the next byte of the stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fluvius.feeds._writers import CaptureFormat, UdpFlow, fill_frames, layout_capture, put_rows
from fluvius.feeds.iex._wire_out import MESSAGE_DTYPES, SEGMENT_HEADER

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "MAX_PAYLOAD",
    "MessageTable",
    "SegmentPlan",
    "pack_capture",
    "pack_segments",
    "plan_segments",
]

MAX_PAYLOAD = 65507 - SEGMENT_HEADER.itemsize  # a UDP datagram over IPv4 holds 65,507 bytes
_BLOCK_CHUNK = 1 << 20  # messages per block-row copy

_LENGTH = np.zeros(256, dtype=np.int64)
for _t, _dt in MESSAGE_DTYPES.items():
    _LENGTH[_t[0]] = _dt.itemsize


@dataclass(frozen=True, slots=True)
class MessageTable:
    """Messages in feed order: ``types[i]`` is message i's type byte (uint8);
    ``rows[t]`` holds the messages of type ``t`` (``MESSAGE_DTYPES[t]`` rows), in order."""

    types: NDArray[np.uint8]
    rows: dict[bytes, NDArray[np.void]]

    def __post_init__(self) -> None:
        for t, rows in self.rows.items():
            want = int(np.count_nonzero(self.types == t[0]))
            if len(rows) != want:
                raise ValueError(f"type {t!r}: {len(rows)} rows but {want} messages of that type")
            if rows.dtype != MESSAGE_DTYPES[t]:
                raise ValueError(f"type {t!r}: rows of dtype {rows.dtype}, expected the wire dtype")

    def block_sizes(self) -> NDArray[np.int64]:
        """Bytes of each message block (2-byte length + message)."""
        return _LENGTH[self.types] + 2


@dataclass(frozen=True, slots=True)
class SegmentPlan:
    """Per segment: message count, send time (ns), capture time (ns), first sequence number."""

    counts: NDArray[np.int64]
    send_ns: NDArray[np.int64]
    recv_ns: NDArray[np.int64]
    first_seq: NDArray[np.int64]


def plan_segments(
    counts: NDArray[np.int64],
    send_ns: NDArray[np.int64],
    recv_ns: NDArray[np.int64] | None = None,
    first_seq: int = 1,
) -> SegmentPlan:
    """A gap-free plan: sequence numbers run on from ``first_seq`` (heartbeats: the next one)."""
    counts = np.asarray(counts, dtype=np.int64)
    seq = np.empty(len(counts), dtype=np.int64)
    if len(counts):
        seq[0] = first_seq
        np.cumsum(counts[:-1], out=seq[1:])
        seq[1:] += first_seq
    send = np.asarray(send_ns, dtype=np.int64)
    recv = send if recv_ns is None else np.asarray(recv_ns, dtype=np.int64)
    return SegmentPlan(counts, send, recv, seq)


def pack_capture(
    table: MessageTable,
    plan: SegmentPlan,
    *,
    protocol_id: int,
    session_id: int,
    channel_id: int = 1,
    fmt: CaptureFormat | None = None,
    flow: UdpFlow | None = None,
) -> NDArray[np.uint8]:
    """The bytes of a capture file holding ``table``'s messages cut into ``plan``'s segments."""
    fmt = fmt or CaptureFormat()
    payload = _payload_lengths(table, plan)
    size, seg_at = layout_capture(payload + SEGMENT_HEADER.itemsize, fmt)
    buf = np.zeros(size, dtype=np.uint8)
    fill_frames(buf, seg_at, payload + SEGMENT_HEADER.itemsize, plan.recv_ns, fmt, flow)
    _fill_segments(buf, seg_at, payload, table, plan, protocol_id, session_id, channel_id)
    return buf


def pack_segments(
    table: MessageTable,
    plan: SegmentPlan,
    *,
    protocol_id: int,
    session_id: int,
    channel_id: int = 1,
) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.int64]]:
    """The segments back to back (no capture framing): bytes, each one's offset and length."""
    payload = _payload_lengths(table, plan)
    length = payload + SEGMENT_HEADER.itemsize
    seg_at = np.cumsum(length) - length
    buf = np.zeros(int(length.sum()), dtype=np.uint8)
    _fill_segments(buf, seg_at, payload, table, plan, protocol_id, session_id, channel_id)
    return buf, seg_at, length


def _payload_lengths(table: MessageTable, plan: SegmentPlan) -> NDArray[np.int64]:
    if int(plan.counts.sum()) != len(table.types):
        raise ValueError(
            f"the plan holds {int(plan.counts.sum())} messages, the table {len(table.types)}"
        )
    cum = np.zeros(len(table.types) + 1, dtype=np.int64)
    np.cumsum(table.block_sizes(), out=cum[1:])
    ends = np.cumsum(plan.counts)
    payload: NDArray[np.int64] = cum[ends] - cum[ends - plan.counts]
    if len(payload) and int(payload.max()) > MAX_PAYLOAD:
        worst = int(np.argmax(payload))
        raise ValueError(
            f"segment {worst} would carry {int(payload[worst])} payload bytes; "
            f"a UDP datagram holds at most {MAX_PAYLOAD} after the IEX-TP header"
        )
    return payload


def _fill_segments(
    buf: NDArray[np.uint8],
    seg_at: NDArray[np.int64],
    payload: NDArray[np.int64],
    table: MessageTable,
    plan: SegmentPlan,
    protocol_id: int,
    session_id: int,
    channel_id: int,
) -> None:
    n_seg = len(plan.counts)
    header = np.zeros(n_seg, dtype=SEGMENT_HEADER)
    header["version"] = 1
    header["protocol_id"] = protocol_id
    header["channel_id"] = channel_id
    header["session_id"] = session_id
    header["payload_length"] = payload
    header["message_count"] = plan.counts
    header["stream_offset"] = np.cumsum(payload) - payload
    header["first_seq"] = plan.first_seq
    header["send_time"] = plan.send_ns
    put_rows(buf, seg_at, header)

    block = table.block_sizes()
    cum = np.zeros(len(block) + 1, dtype=np.int64)
    np.cumsum(block, out=cum[1:])
    starts = np.cumsum(plan.counts) - plan.counts
    seg_of = np.repeat(np.arange(n_seg, dtype=np.int64), plan.counts)
    block_at = seg_at[seg_of] + SEGMENT_HEADER.itemsize + (cum[:-1] - cum[starts][seg_of])
    for t, rows in table.rows.items():  # length prefix and message as one block row
        where = np.flatnonzero(table.types == t[0])
        block_dtype = np.dtype([("length", "<u2"), ("message", rows.dtype)])
        for lo in range(0, len(rows), _BLOCK_CHUNK):  # bounded copies
            part = rows[lo : lo + _BLOCK_CHUNK]
            blocks = np.empty(len(part), dtype=block_dtype)
            blocks["length"] = rows.dtype.itemsize
            blocks["message"] = part
            put_rows(buf, block_at[where[lo : lo + _BLOCK_CHUNK]], blocks)
