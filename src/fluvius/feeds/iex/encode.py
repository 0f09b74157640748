"""IEX encoder: unified events → TOPS 1.6 / DEEP 1.0 messages → IEX-TP segments → captures.

Design
------
The inverse of the decoder, for round-trip tests, for the synthetic captures of the ``iex``
workload (:func:`synthetic_tops`, :func:`synthetic_deep`) and for replaying events over UDP.

* **Messages.** Each event kind maps to one message type (``quote`` → ``Q``, ``trade`` →
  ``T``, ``book_level_update`` → ``8`` buy / ``5`` sell, ...; :data:`KIND_TO_TYPE`).
  Conversion is columnar: a kind's rows (:func:`fluvius.feeds.events.dtype_of`) become the
  wire's rows (:mod:`fluvius.feeds.iex._wire_out`) with numpy operations. Prices go from
  1e-9 units back to IEX's 1e-4 and the auction time from ns back to seconds; a value that
  does not convert exactly raises ``ValueError`` naming the field (never a silent rounding).
* **Segments.** Events already carry the transport's view: messages of one segment share
  ``recv_ns`` and have consecutive ``seq``. So a new segment starts when ``recv_ns``
  changes, when ``seq`` is not the previous one plus 1 (a gap stays a gap), or after
  ``max_per_segment`` messages. The send time of a segment is its ``recv_ns`` (events do
  not carry one), the stream offset counts payload bytes from 0.
* **Captures.** :mod:`fluvius.feeds._writers` frames each segment in Ethernet/IPv4/UDP and
  writes classic pcap (µs or ns, either byte order) or pcapng. A microsecond container
  keeps ``recv_ns`` only to the microsecond, as a real capture would.

>>> from fluvius.feeds.events import Trade
>>> t = Trade("IEX", "ZIEXT", 1471980683662974915, 0, 1, 990500 * 100_000, 100, 429974, 0)
>>> encode_message(t).hex()  # the Trade Report example of the DEEP 1.08 specification
'5400c3dff705a2866d145a4945585420202064000000241d0f0000000000968f060000000000'
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from fluvius.feeds._writers import CaptureFormat, UdpFlow
from fluvius.feeds.events import (
    IEX_PRICE_FACTOR,
    Event,
    EventBatch,
    dtype_of,
    events_to_array,
)
from fluvius.feeds.iex._pack import MessageTable, SegmentPlan, pack_capture, pack_segments
from fluvius.feeds.iex._wire_out import (
    DEEP_PROTOCOL_ID,
    MESSAGE_DTYPES,
    TOPS_PROTOCOL_ID,
)
from fluvius.feeds.iex.synthetic import SyntheticCapture, synthetic_deep, synthetic_tops

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from numpy.typing import NDArray

__all__ = [
    "KIND_TO_TYPE",
    "CaptureFormat",
    "SyntheticCapture",
    "UdpFlow",
    "encode_capture",
    "encode_message",
    "encode_segments",
    "synthetic_deep",
    "synthetic_tops",
    "wire_rows",
    "write_capture",
]

Feed = Literal["tops", "deep"]

KIND_TO_TYPE: dict[str, bytes] = {
    "system_event": b"S",
    "security_directory": b"D",
    "trading_status": b"H",
    "retail_liquidity_indicator": b"I",
    "operational_halt": b"O",
    "short_sale_status": b"P",
    "security_event": b"E",
    "quote": b"Q",
    "trade": b"T",
    "trade_break": b"B",
    "official_price": b"X",
    "book_level_update": b"8",  # or b"5": the side picks the type byte
    "auction_information": b"A",
}
"""Event kind → IEX message type."""

_DEEP_ONLY = frozenset({"book_level_update", "security_event"})
_TOPS_ONLY = frozenset({"quote"})

# wire field ← event field, per message type; prices are scaled, codes copied
_SAME = "same"
_PRICE = "price"
_FIELD_MAP: dict[str, dict[str, tuple[str, str]]] = {
    "system_event": {"system_event": ("system_event", _SAME)},
    "trading_status": {"trading_status": ("trading_status", _SAME)},
    "retail_liquidity_indicator": {
        "retail_liquidity_indicator": ("retail_liquidity_indicator", _SAME)
    },
    "operational_halt": {"operational_halt_status": ("operational_halt_status", _SAME)},
    "short_sale_status": {
        "short_sale_price_test_status": ("short_sale_price_test_status", _SAME),
        "detail": ("detail", _SAME),
    },
    "security_event": {"security_event": ("security_event", _SAME)},
    "quote": {
        "flags": ("flags", _SAME),
        "bid_size": ("bid_sz", _SAME),
        "bid_price": ("bid_px", _PRICE),
        "ask_price": ("ask_px", _PRICE),
        "ask_size": ("ask_sz", _SAME),
    },
    "trade": {
        "flags": ("flags", _SAME),
        "size": ("sz", _SAME),
        "price": ("px", _PRICE),
        "trade_id": ("trade_id", _SAME),
    },
    "trade_break": {
        "flags": ("sale_condition_flags", _SAME),
        "size": ("size", _SAME),
        "price": ("price", _PRICE),
        "trade_id": ("trade_id", _SAME),
    },
    "book_level_update": {"size": ("sz", _SAME), "price": ("px", _PRICE)},
    "security_directory": {
        "flags": ("flags", _SAME),
        "round_lot_size": ("round_lot_size", _SAME),
        "adjusted_poc_price": ("adjusted_poc_price", _PRICE),
        "luld_tier": ("luld_tier", _SAME),
    },
    "official_price": {
        "price_type": ("price_type", _SAME),
        "official_price": ("official_price", _PRICE),
    },
    "auction_information": {
        name: (name, _PRICE if name.endswith(("price", "collar")) else _SAME)
        for name in MESSAGE_DTYPES[b"A"].names or ()
        if name not in ("message_type", "timestamp", "symbol", "scheduled_auction_time")
    },
}


def _exact(values: NDArray[Any], factor: int, what: str) -> NDArray[np.int64]:
    out, rest = np.divmod(values.astype(np.int64), factor)
    if rest.any():
        bad = int(values[np.flatnonzero(rest)[0]])
        raise ValueError(f"{what}={bad} is not a whole multiple of {factor}: not representable")
    return out


def _spaced(col: NDArray[Any], width: int) -> NDArray[Any]:
    """Fixed-width text with NUL padding turned back into the wire's space padding."""
    raw = np.ascontiguousarray(col, dtype=f"S{width}").view(np.uint8).reshape(-1, width).copy()
    raw[raw == 0] = 0x20
    return raw.view(f"S{width}").reshape(-1)


def wire_rows(kind: str, rows: NDArray[Any]) -> tuple[NDArray[np.uint8], dict[bytes, NDArray[Any]]]:
    """One kind's event rows as wire messages: per-row type bytes and per-type wire rows."""
    if kind not in KIND_TO_TYPE:
        raise ValueError(f"no IEX message for event kind {kind!r}")
    if rows.dtype != dtype_of(kind):
        raise ValueError(f"rows of dtype {rows.dtype} are not {kind!r} rows ({dtype_of(kind)})")
    if kind == "book_level_update":
        side = rows["side"]
        if not np.isin(side, [b"B", b"S"]).all():
            bad = side[~np.isin(side, [b"B", b"S"])][0]
            raise ValueError(f"book_level_update side must be 'B' or 'S', got {bad!r}")
        types = np.where(side == b"B", ord("8"), ord("5")).astype(np.uint8)
        out: dict[bytes, NDArray[Any]] = {}
        for t, s in ((b"8", b"B"), (b"5", b"S")):
            sub = rows[side == s]
            if len(sub):
                wire = _common(t, sub)
                wire["event_flags"] = sub["event_end"]
                _copy(wire, sub, _FIELD_MAP[kind])
                out[t] = wire
        return types, out
    t = KIND_TO_TYPE[kind]
    wire = _common(t, rows)
    _copy(wire, rows, _FIELD_MAP[kind])
    if kind == "trading_status":
        wire["reason"] = _spaced(rows["reason"], 4)
    elif kind == "auction_information":
        wire["scheduled_auction_time"] = _exact(
            rows["scheduled_auction_time"], 1_000_000_000, "scheduled_auction_time"
        )
    return np.full(len(rows), t[0], dtype=np.uint8), {t: wire}


def _common(t: bytes, rows: NDArray[Any]) -> NDArray[Any]:
    wire = np.zeros(len(rows), dtype=MESSAGE_DTYPES[t])
    wire["message_type"] = t
    wire["timestamp"] = rows["ts_ns"]
    if "symbol" in (wire.dtype.names or ()):
        wire["symbol"] = _spaced(rows["symbol"], 8)
    return wire


def _copy(wire: NDArray[Any], rows: NDArray[Any], fields: dict[str, tuple[str, str]]) -> None:
    for dst, (src, how) in fields.items():
        wire[dst] = _exact(rows[src], IEX_PRICE_FACTOR, src) if how == _PRICE else rows[src]


def encode_message(event: Event) -> bytes:
    """The wire bytes of one event's message (without the 2-byte block length)."""
    _, rows = wire_rows(event.kind, events_to_array([event]))
    (wire,) = rows.values()
    return wire.tobytes()


def _merge(
    batches: Sequence[EventBatch],
) -> tuple[MessageTable, NDArray[np.int64], NDArray[np.int64]]:
    """All batches' messages in ``seq`` order: the table, and each message's seq and recv_ns."""
    seqs = np.concatenate([b.rows["seq"] for b in batches]) if batches else np.zeros(0, np.int64)
    recv = np.concatenate([b.rows["recv_ns"] for b in batches]) if batches else seqs
    types_parts: list[NDArray[np.uint8]] = []
    per_type: dict[bytes, list[NDArray[Any]]] = {}
    for b in batches:
        t, wire_by_type = wire_rows(b.kind, b.rows)
        types_parts.append(t)
        for code, wire in wire_by_type.items():
            per_type.setdefault(code, []).append(wire)
    types = np.concatenate(types_parts) if types_parts else np.zeros(0, np.uint8)
    order = np.argsort(seqs, kind="stable")
    if len(seqs) > 1 and (np.diff(seqs[order]) == 0).any():
        dup = int(seqs[order][np.flatnonzero(np.diff(seqs[order]) == 0)[0]])
        raise ValueError(f"two events carry seq={dup}; sequence numbers must be unique")
    # rows of one type keep their relative order when sorted by seq
    rows: dict[bytes, NDArray[Any]] = {}
    for code, parts in per_type.items():
        wire = np.concatenate(parts)
        where = types == code[0]
        rows[code] = wire[np.argsort(seqs[where], kind="stable")]
    return MessageTable(types[order], rows), seqs[order], recv[order]


def _split(
    seqs: NDArray[np.int64], recv: NDArray[np.int64], max_per_segment: int
) -> NDArray[np.int64]:
    """Segment message counts: cut where recv_ns changes or seq jumps, and every N messages."""
    n = len(seqs)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    cut = np.ones(n, dtype=bool)
    cut[1:] = (np.diff(seqs) != 1) | (np.diff(recv) != 0)
    run_start = np.flatnonzero(cut)
    run_len = np.diff(np.append(run_start, n))
    pieces = -(-run_len // max_per_segment)
    counts = np.full(int(pieces.sum()), max_per_segment, dtype=np.int64)
    last = np.cumsum(pieces) - 1
    counts[last] = run_len - (pieces - 1) * max_per_segment
    return counts


def _protocol_of(batches: Sequence[EventBatch], protocol: Feed | None) -> int:
    kinds = {b.kind for b in batches if len(b)}
    if protocol is None:
        deep, tops = kinds & _DEEP_ONLY, kinds & _TOPS_ONLY
        if deep and tops:
            raise ValueError(f"events mix TOPS-only {sorted(tops)} and DEEP-only {sorted(deep)}")
        protocol = "deep" if deep else "tops"
    forbidden = _DEEP_ONLY if protocol == "tops" else _TOPS_ONLY
    if kinds & forbidden:
        raise ValueError(f"{protocol.upper()} has no message for {sorted(kinds & forbidden)}")
    return TOPS_PROTOCOL_ID if protocol == "tops" else DEEP_PROTOCOL_ID


def _as_batches(events: Iterable[Event] | Sequence[EventBatch]) -> list[EventBatch]:
    items = list(events)
    if all(isinstance(e, EventBatch) for e in items):
        return [e for e in items if isinstance(e, EventBatch)]
    by_kind: dict[str, list[Event]] = {}
    for e in items:
        if not isinstance(e, Event):
            raise TypeError(f"expected events or EventBatches, got {type(e).__name__}")
        by_kind.setdefault(e.kind, []).append(e)
    return [EventBatch(k, "IEX", events_to_array(evs)) for k, evs in by_kind.items()]


def _prepare(
    events: Iterable[Event] | Sequence[EventBatch], protocol: Feed | None, max_per_segment: int
) -> tuple[MessageTable, SegmentPlan, int]:
    if not 1 <= max_per_segment <= 65535:
        raise ValueError(f"max_per_segment must be in 1..65535, got {max_per_segment=}")
    batches = _as_batches(events)
    protocol_id = _protocol_of(batches, protocol)
    table, seqs, recv = _merge(batches)
    counts = _split(seqs, recv, max_per_segment)
    first = np.cumsum(counts) - counts  # index of each segment's first message
    return table, SegmentPlan(counts, recv[first], recv[first], seqs[first]), protocol_id


def encode_segments(
    events: Iterable[Event] | Sequence[EventBatch],
    *,
    protocol: Feed | None = None,
    session_id: int = 1,
    max_per_segment: int = 16,
) -> list[tuple[int, bytes]]:
    """The IEX-TP segments (UDP payloads) carrying ``events``, as ``(recv_ns, bytes)``.

    ``protocol`` is inferred from the kinds when None (quotes → TOPS, book updates → DEEP).
    """
    table, plan, protocol_id = _prepare(events, protocol, max_per_segment)
    buf, at, length = pack_segments(table, plan, protocol_id=protocol_id, session_id=session_id)
    data = buf.tobytes()
    return [
        (ts, data[a : a + n])
        for ts, a, n in zip(plan.recv_ns.tolist(), at.tolist(), length.tolist(), strict=True)
    ]


def encode_capture(
    events: Iterable[Event] | Sequence[EventBatch],
    *,
    protocol: Feed | None = None,
    session_id: int = 1,
    max_per_segment: int = 16,
    fmt: CaptureFormat | None = None,
    flow: UdpFlow | None = None,
) -> bytes:
    """A whole capture file (pcap or pcapng, see :class:`CaptureFormat`) carrying ``events``."""
    table, plan, protocol_id = _prepare(events, protocol, max_per_segment)
    return pack_capture(
        table, plan, protocol_id=protocol_id, session_id=session_id, fmt=fmt, flow=flow
    ).tobytes()


def write_capture(
    path: str | Path,
    events: Iterable[Event] | Sequence[EventBatch],
    **options: Any,
) -> Path:
    """Write :func:`encode_capture`'s bytes to ``path`` (options as there); returns the path."""
    out = Path(path)
    out.write_bytes(encode_capture(events, **options))
    return out
