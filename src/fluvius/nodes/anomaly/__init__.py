"""Real-time anomaly detection: scores of each observation, and alert logic over the scores."""

from __future__ import annotations

from fluvius.nodes.anomaly.zscore import RollingZScore as RollingZScore

__all__ = ["RollingZScore"]
