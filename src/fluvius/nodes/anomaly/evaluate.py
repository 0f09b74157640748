"""Evaluate detectors on synthetic streams with injected anomalies (seeded, reproducible).

Design
------
A stream is Gaussian noise (mean 0, standard deviation 1) with anomalies of one kind
injected at random, well separated positions:

- ``spike``: one observation moved by ``+-size`` standard deviations;
- ``level_shift``: from the anomaly on, the level moves by ``+-size`` (and stays there);
- ``variance_burst``: for ``burst_len`` observations the noise is ``size`` times larger.

Each anomaly is an interval ``[start, end)`` (one observation for spikes and level shifts,
``burst_len`` for bursts). Scoring is per event, as an operator sees alerts:

- an alert *onset* (the alert turning on) is a true positive when it falls inside an
  anomaly's interval extended by ``grace`` observations (a detector may need a few ticks),
  else a false positive; **precision** = true onsets / all onsets;
- an anomaly is detected when at least one onset falls in its extended interval;
  **recall** = detected anomalies / anomalies;
- **delay** = first onset minus the anomaly's start, in observations (median over
  detected anomalies).

A perfect detector scores precision 1, recall 1 and delay 0; a silent one recall 0 and
precision NaN (no onsets).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["KINDS", "Result", "Stream", "make_stream", "run_detector", "score_onsets"]

KINDS = ("spike", "level_shift", "variance_burst")


@dataclass(frozen=True, slots=True)
class Stream:
    """A synthetic stream and the intervals ``[start, end)`` of its injected anomalies."""

    kind: str
    values: np.ndarray[Any, np.dtype[np.float64]]
    anomalies: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Result:
    """Event-level figures of one detector on one stream (see the module docstring)."""

    precision: float
    recall: float
    median_delay: float
    onsets: int
    anomalies: int


def make_stream(
    kind: str,
    *,
    n: int = 20_000,
    n_anomalies: int = 40,
    size: float = 6.0,
    burst_len: int = 30,
    seed: int = 0,
) -> Stream:
    """A seeded stream of ``n`` observations with ``n_anomalies`` of ``kind`` injected.

    >>> s = make_stream("spike", n=1000, n_anomalies=3, seed=1)
    >>> len(s.values), len(s.anomalies)
    (1000, 3)
    """
    if kind not in KINDS:
        raise ValueError(f"make_stream: kind must be one of {KINDS}, got {kind=}")
    rng = np.random.default_rng(seed)
    gap = n // (n_anomalies + 1)
    if gap < 2 * burst_len + 20:
        raise ValueError(f"make_stream: {n_anomalies=} anomalies do not fit in {n=} points")
    noise = rng.standard_normal(n)
    level = np.zeros(n)
    scale = np.ones(n)
    anomalies = []
    for i in range(n_anomalies):
        # one anomaly per slot, at a random place in the slot's middle half
        start = (i + 1) * gap + int(rng.integers(-gap // 4, gap // 4))
        sign = 1.0 if rng.random() < 0.5 else -1.0
        if kind == "spike":
            level[start] += sign * size
            anomalies.append((start, start + 1))
        elif kind == "level_shift":
            level[start:] += sign * size
            anomalies.append((start, start + 1))
        else:
            scale[start : start + burst_len] = size
            anomalies.append((start, start + burst_len))
    return Stream(kind, level + scale * noise, tuple(anomalies))


def score_onsets(
    alerts: Sequence[bool], anomalies: Sequence[tuple[int, int]], grace: int = 20
) -> Result:
    """Precision, recall and delay of the alert onsets in ``alerts`` (one flag per tick).

    >>> r = score_onsets([False, True, True, False, True], [(1, 2)], grace=0)
    >>> r.precision, r.recall, r.median_delay
    (0.5, 1.0, 0.0)
    """
    onsets = [i for i, on in enumerate(alerts) if on and (i == 0 or not alerts[i - 1])]
    windows = [(start, end + grace) for start, end in anomalies]
    true_onsets = sum(1 for i in onsets if any(a <= i < b for a, b in windows))
    delays = []
    for (start, _), (a, b) in zip(anomalies, windows, strict=True):
        hits = [i for i in onsets if a <= i < b]
        if hits:
            delays.append(hits[0] - start)
    return Result(
        precision=true_onsets / len(onsets) if onsets else math.nan,
        recall=len(delays) / len(anomalies) if anomalies else math.nan,
        median_delay=float(statistics.median(delays)) if delays else math.nan,
        onsets=len(onsets),
        anomalies=len(anomalies),
    )


def run_detector(make: Callable[[], Any], stream: Stream, grace: int = 20) -> Result:
    """Run a fresh detector (``make()``: ``update(x)``, ``get()`` -> bool) over a stream."""
    detector = make()
    update, get = detector.update, detector.get
    alerts = []
    for x in stream.values.tolist():
        update(x)
        alerts.append(bool(get()))
    return score_onsets(alerts, stream.anomalies, grace)
