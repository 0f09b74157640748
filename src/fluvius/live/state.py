"""What a live run shows the world: the one object the runner writes and the HTTP side reads.

Design note
-----------
``fluvius live`` has two halves that never call each other: the *runner* (feeds →
cycles of a session, recordings) and the *server* (dashboard page, ``/metrics``,
``/api/values``). Both run on the same asyncio loop, in one thread, and meet only here:
the runner calls the ``record_*`` methods after each cycle, the server reads. No lock is
needed, and the runner never waits for a reader.

Changed values are tracked by a per-key version (the cycle that last changed the key),
so a reader that remembers the cycle it last saw asks :meth:`LiveState.changed_since`
for what it must push, however many cycles ran in between (throttling is the reader's
business; the runner never buffers per reader).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from fluvius.errors import NodeError
    from fluvius.graph import Graph

__all__ = ["LATENCY_BUCKETS_S", "Alert", "FeedHealth", "LiveState"]

LATENCY_BUCKETS_S: tuple[float, ...] = (
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3,
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""Upper bounds of the cycle latency histogram (seconds; 1 µs to 10 s, 1-2.5-5 steps)."""


@dataclass(slots=True)
class FeedHealth:
    """Counters of one feed (one ``--feed`` URL), updated by the runner as it reads."""

    name: str
    messages: int = 0
    datagrams: int = 0
    gaps: int = 0  # sequence gaps seen (events)
    gap_messages: int = 0  # messages missing in those gaps
    drops: int = 0  # receive drops (kernel or queue), where the transport can tell
    lag_ns_last: int = 0  # receive time - exchange time of the last message
    lag_ns_max: int = 0
    ended: bool = False
    lag_warnings: int = 0  # times the lag went above the warning bound (fluvius.live.feeds)
    url: str = ""
    foreign_drops: int = 0  # datagrams from sources outside the feed's allow-list

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "datagrams": self.datagrams,
            "gaps": self.gaps,
            "gap_messages": self.gap_messages,
            "drops": self.drops,
            "lag_ns_last": self.lag_ns_last,
            "lag_ns_max": self.lag_ns_max,
            "ended": self.ended,
            "lag_warnings": self.lag_warnings,
            "url": self.url,
            "foreign_drops": self.foreign_drops,
        }


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert raised (or cleared) by a node, or a node error, at a given cycle."""

    cycle: int
    key: str
    kind: str  # "alert", "clear" or "error"
    message: str
    ts_ns: int = 0  # exchange time of the cycle's data, 0 when unknown


@dataclass
class LiveState:
    """The live run's shared view (see module doc). Written only by the runner.

    >>> s = LiveState()
    >>> s.record_values(0, {"a": 1.0, "b": 2.0})
    >>> s.record_values(1, {"a": 1.5})
    >>> s.changed_since(0), s.changed_since(-1)["b"]
    ({'a': 1.5}, 2.0)
    """

    graph: Graph | None = None
    scheduler: str = "serial"
    workers: int = 1
    cycle: int = -1  # index of the last cycle recorded; 0 is start-up
    values: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    feeds: dict[str, FeedHealth] = field(default_factory=dict)
    alerts: deque[Alert] = field(default_factory=lambda: deque(maxlen=1000))
    errors: dict[str, NodeError] = field(default_factory=dict)  # failed now, by key
    cycle_seconds: deque[float] = field(default_factory=lambda: deque(maxlen=4096))
    cycles_total: int = 0
    # cumulative cycle latency histogram: counts per LATENCY_BUCKETS_S bound (+ the overflow)
    latency_counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_S) + 1))
    cycle_seconds_total: float = 0.0
    recomputed_total: int = 0
    node_errors_total: int = 0
    alerts_total: int = 0  # alerts ever recorded (``alerts`` keeps the last 1000)
    worker_busy_seconds: dict[str, float] = field(default_factory=dict)  # by worker name
    started_ns: int = 0
    ended: bool = False
    # receive -> cycle-end latency of each update, ns (feeds on this machine's clock: UDP)
    latency_ns: deque[int] = field(default_factory=lambda: deque(maxlen=65536))

    def record_values(self, cycle: int, changed: Mapping[str, Any]) -> None:
        """Values that changed in ``cycle`` (all of them at start-up, cycle 0)."""
        self.cycle = max(self.cycle, cycle)
        self.values.update(changed)
        for key in changed:
            self.versions[key] = cycle

    def record_cycle(
        self,
        cycle: int,
        seconds: float,
        recomputed: int,
        errors: Iterable[NodeError] = (),
        ts_ns: int = 0,
    ) -> None:
        """One cycle ran; ``errors`` are the node failures of that cycle (isolate policy).

        Every failure counts in ``node_errors_total``; an alert is raised only when a node
        starts failing (not again on each cycle it keeps failing), so the alerts list is not
        flooded by one broken node.

        >>> from fluvius.errors import NodeError
        >>> s = LiveState()
        >>> e = NodeError("x", worker="serial", exc_type="ValueError", exc_message="boom",
        ...               remote_traceback="")
        >>> for c in (1, 2, 3):
        ...     s.record_cycle(c, 0.001, 1, [e])
        >>> s.node_errors_total, len(s.alerts)
        (3, 1)
        """
        self.cycle = max(self.cycle, cycle)
        self.cycles_total += 1
        self.recomputed_total += recomputed
        self.cycle_seconds.append(seconds)
        self.cycle_seconds_total += seconds
        self.latency_counts[bisect_left(LATENCY_BUCKETS_S, seconds)] += 1
        for error in errors:
            self.node_errors_total += 1
            known = error.key in self.errors
            self.errors[error.key] = error
            if known:
                continue
            self.alerts_total += 1
            self.alerts.append(Alert(cycle, error.key, "error", str(error), ts_ns))

    def record_recovered(self, keys: Iterable[str]) -> None:
        """Nodes that computed cleanly again after failing."""
        for key in keys:
            self.errors.pop(key, None)

    def record_alert(self, alert: Alert) -> None:
        self.alerts_total += 1
        self.alerts.append(alert)

    def feed(self, name: str) -> FeedHealth:
        """The health record of feed ``name``, created on first use."""
        health = self.feeds.get(name)
        if health is None:
            health = self.feeds[name] = FeedHealth(name)
        return health

    def changed_since(self, cycle: int) -> dict[str, Any]:
        """Key → value of every key changed in a cycle after ``cycle`` (-1: everything)."""
        return {k: self.values[k] for k, v in self.versions.items() if v > cycle}
