"""Real-time anomaly detection: scores of each observation, and alert logic over the scores.

Scorers (``update(x)``/``get()`` a score): :class:`RollingZScore` (window including ``x``;
the ``zscore`` spec op), :class:`EWZScore` and :class:`RobustZScore` (against the past
only). :class:`Alert` turns scores into an on/off state with a threshold, hysteresis and a
minimum persistence; :class:`Detector` chains a scorer and an alert in one node.
:mod:`fluvius.nodes.anomaly.evaluate` measures detectors on synthetic streams with
injected anomalies (docs/concepts/anomaly-detection.md).
"""

from __future__ import annotations

from fluvius.nodes.anomaly.alert import Alert as Alert
from fluvius.nodes.anomaly.detector import Detector as Detector
from fluvius.nodes.anomaly.ewzscore import EWZScore as EWZScore
from fluvius.nodes.anomaly.robust import RobustZScore as RobustZScore
from fluvius.nodes.anomaly.zscore import RollingZScore as RollingZScore

__all__ = ["Alert", "Detector", "EWZScore", "RobustZScore", "RollingZScore"]
