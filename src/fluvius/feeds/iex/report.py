"""What a decode saw: counts, sequence problems, corruption — never silently dropped.

One :class:`DecodeReport` is filled by either decoder (the streaming reference decoder and
the columnar batch decoder fill it identically; the tests compare them). Long lists (gaps,
problems) keep their first :data:`MAX_LISTED` entries; their totals are always exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fluvius.feeds._capture import CaptureStats

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["MAX_LISTED", "DecodeReport"]

MAX_LISTED = 1000
"""How many gaps, restarts, mismatches and problems a report lists (totals stay exact)."""


@dataclass(slots=True)
class DecodeReport:
    """Counts and findings of one decode.

    Attributes
    ----------
    capture
        What the capture layer saw (container, records, truncated records, truncated file).
    datagrams, non_udp, not_iex
        UDP datagrams found; frames without a UDP payload; datagrams that are not IEX-TP.
    unsupported
        Segments of an IEX protocol this decoder does not read (e.g. DEEP+), by protocol id.
    segments, heartbeats
        IEX-TP segments read (heartbeats included) and heartbeats among them.
    messages
        Complete message blocks read, duplicates excluded.
    events
        Events produced, per kind.
    unknown_types
        Messages of a type the protocol does not document, per type (``"0x5a"``).
    long_messages
        Messages longer than documented (decoded; the extra bytes ignored).
    duplicate_messages, gaps, restarts, offset_mismatches
        Sequence tracking per (protocol, channel, session); see
        :class:`~fluvius.feeds.iex.transport.SequenceTracker`.
    sequence_anomaly_count, sequence_anomalies
        Implausible sequence jumps (not taken as the new expected number unless the next
        segment confirms them) and restarts the next segment did not follow.
    stream_evictions, evicted_streams
        Streams the tracker stopped tracking to stay within its bound (forged sessions).
    truncated_segments
        Segments cut short by the capture (captured length < original length).
    corrupt, problems
        Corrupt segments or messages (skipped in lenient mode), with a description each.
    """

    capture: CaptureStats = field(default_factory=CaptureStats)
    datagrams: int = 0
    non_udp: int = 0
    not_iex: int = 0
    unsupported: dict[str, int] = field(default_factory=dict)
    segments: int = 0
    heartbeats: int = 0
    messages: int = 0
    events: dict[str, int] = field(default_factory=dict)
    unknown_types: dict[str, int] = field(default_factory=dict)
    long_messages: int = 0
    duplicate_messages: int = 0
    truncated_segments: int = 0
    corrupt: int = 0
    gap_count: int = 0
    missing_messages: int = 0
    restart_count: int = 0
    offset_mismatch_count: int = 0
    sequence_anomaly_count: int = 0
    stream_evictions: int = 0
    gaps: list[dict[str, int]] = field(default_factory=list)
    restarts: list[dict[str, int]] = field(default_factory=list)
    offset_mismatches: list[dict[str, int]] = field(default_factory=list)
    sequence_anomalies: list[dict[str, int]] = field(default_factory=list)
    evicted_streams: list[dict[str, int]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)

    def add_problem(self, offset: int, what: str) -> None:
        """Count one corrupt segment or message and list it (up to :data:`MAX_LISTED`)."""
        self.corrupt += 1
        if len(self.problems) < MAX_LISTED:
            self.problems.append({"offset": offset, "problem": what})

    def count_event(self, kind: str, n: int = 1) -> None:
        """Count ``n`` events of ``kind``."""
        self.events[kind] = self.events.get(kind, 0) + n

    def count_rows(self, kinds: Sequence[str], res: Sequence[int]) -> None:
        """Count the messages of the compiled kernel's clean segments: ``res`` holds the
        rows of each of ``kinds``, then the long messages (the batch and live decoders')."""
        events, total = self.events, 0
        for kind, n in zip(kinds, res, strict=False):
            if n:
                events[kind] = events.get(kind, 0) + n
                total += n
        self.messages += total
        self.long_messages += res[len(kinds)]

    def count_unknown(self, type_byte: int, n: int = 1) -> None:
        """Count ``n`` messages of an undocumented type."""
        key = f"0x{type_byte:02x}"
        self.unknown_types[key] = self.unknown_types.get(key, 0) + n

    @property
    def total_events(self) -> int:
        """Events of every kind."""
        return sum(self.events.values())

    def as_dict(self) -> dict[str, Any]:
        """Every field as plain JSON-ready data, kinds and types in sorted order."""
        out: dict[str, Any] = {"capture": self.capture.as_dict()}
        for name in self.__slots__:
            if name == "capture":
                continue
            value = getattr(self, name)
            out[name] = dict(sorted(value.items())) if isinstance(value, dict) else value
        out["total_events"] = self.total_events
        return out
