"""``/metrics``: a live run's figures in the Prometheus text format (prometheus-client).

Design note
-----------
The runner never calls into metrics: :class:`LiveCollector` reads :class:`LiveState` when
Prometheus scrapes, so a run with nobody scraping pays nothing, and the counters are the
state's own (no second copy that could disagree with the dashboard). The cycle latency
histogram is cumulative over the whole run (``LiveState.latency_counts``, bounds
:data:`~fluvius.live.state.LATENCY_BUCKETS_S`), not over the recent window the dashboard's
p50/p99 use.

There are no per-node labels: a 40,000-node graph would make 40,000 series. Feeds are
labelled by feed name, workers by worker name (a handful each).

=====================================  =========  =========================================
metric                                 type       meaning
=====================================  =========  =========================================
``fluvius_cycles_total``               counter    cycles run (start-up included)
``fluvius_recomputed_nodes_total``     counter    node computations over all cycles
``fluvius_cycle_latency_seconds``      histogram  wall time of each cycle
``fluvius_nodes``                      gauge      nodes and sources in the graph
``fluvius_node_errors_total``          counter    node failures (isolate policy)
``fluvius_nodes_failed``               gauge      nodes failed now
``fluvius_alerts_total``               counter    alerts, clears and errors recorded
``fluvius_feed_messages_total``        counter    messages read, per ``feed``
``fluvius_feed_gaps_total``            counter    sequence gaps, per ``feed``
``fluvius_feed_gap_messages_total``    counter    messages missing in those gaps
``fluvius_feed_drops_total``           counter    receive drops, per ``feed``
``fluvius_feed_lag_seconds``           gauge      receive - exchange time, last message
``fluvius_feed_lag_max_seconds``       gauge      the largest lag so far
``fluvius_feed_ended``                 gauge      1 once the feed has ended
``fluvius_worker_busy_seconds_total``  counter    time spent computing, per ``worker``
=====================================  =========  =========================================

>>> from prometheus_client import CollectorRegistry, generate_latest
>>> from fluvius.live import LiveState
>>> state = LiveState()
>>> state.record_cycle(1, 0.0003, recomputed=5)
>>> state.feed("tops").messages = 42
>>> registry = CollectorRegistry()
>>> registry.register(LiveCollector(state))
>>> text = generate_latest(registry).decode()
>>> for line in text.splitlines():
...     if line.startswith(("fluvius_cycles_total", "fluvius_feed_messages",
...                         'fluvius_cycle_latency_seconds_bucket{le="0.0005"}')):
...         print(line)
fluvius_cycles_total 1.0
fluvius_cycle_latency_seconds_bucket{le="0.0005"} 1.0
fluvius_feed_messages_total{feed="tops"} 42.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from fluvius.live.state import LATENCY_BUCKETS_S

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client.metrics_core import Metric

    from fluvius.live.state import LiveState

__all__ = ["LiveCollector"]

_NS = 1e-9


class LiveCollector(Collector):
    """A prometheus-client collector reading a :class:`LiveState` at scrape time."""

    def __init__(self, state: LiveState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        s = self.state
        yield CounterMetricFamily(
            "fluvius_cycles", "Cycles run (start-up included)", s.cycles_total
        )
        yield CounterMetricFamily(
            "fluvius_recomputed_nodes", "Node computations over all cycles", s.recomputed_total
        )
        cumulative = 0
        buckets = []
        for bound, count in zip(LATENCY_BUCKETS_S, s.latency_counts, strict=False):
            cumulative += count
            buckets.append((repr(bound), cumulative))
        buckets.append(("+Inf", cumulative + s.latency_counts[-1]))
        yield HistogramMetricFamily(
            "fluvius_cycle_latency_seconds",
            "Wall time of each cycle",
            buckets=buckets,
            sum_value=s.cycle_seconds_total,
        )
        yield GaugeMetricFamily(
            "fluvius_nodes",
            "Nodes and sources in the graph",
            len(s.graph.keys if s.graph is not None else s.values),
        )
        yield CounterMetricFamily(
            "fluvius_node_errors", "Node failures (isolate policy)", s.node_errors_total
        )
        yield GaugeMetricFamily("fluvius_nodes_failed", "Nodes failed now", len(s.errors))
        yield CounterMetricFamily(
            "fluvius_alerts", "Alerts, clears and errors recorded", s.alerts_total
        )
        yield from self._feeds()
        busy = CounterMetricFamily(
            "fluvius_worker_busy_seconds", "Time spent computing", labels=["worker"]
        )
        for name, seconds in sorted(s.worker_busy_seconds.items()):
            busy.add_metric([name], seconds)
        yield busy

    def _feeds(self) -> Iterator[Metric]:
        feeds = sorted(self.state.feeds.items())
        families = [
            (CounterMetricFamily, "feed_messages", "Messages read", "messages", 1),
            (CounterMetricFamily, "feed_gaps", "Sequence gaps seen", "gaps", 1),
            (
                CounterMetricFamily,
                "feed_gap_messages",
                "Messages missing in gaps",
                "gap_messages",
                1,
            ),
            (CounterMetricFamily, "feed_drops", "Receive drops", "drops", 1),
            (GaugeMetricFamily, "feed_lag_seconds", "Receive - exchange time", "lag_ns_last", _NS),
            (GaugeMetricFamily, "feed_lag_max_seconds", "Largest lag so far", "lag_ns_max", _NS),
            (GaugeMetricFamily, "feed_ended", "1 once the feed has ended", "ended", 1),
        ]
        for cls, name, doc, attr, scale in families:
            family = cls(f"fluvius_{name}", doc, labels=["feed"])
            for feed, health in feeds:
                family.add_metric([feed], float(getattr(health, attr)) * scale)
            yield family
