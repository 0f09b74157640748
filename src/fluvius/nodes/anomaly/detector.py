"""A detector: a scorer and an alert in one stateful object (one graph node)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fluvius.nodes.anomaly.alert import Alert

__all__ = ["Detector"]


class Detector:
    """Feed each observation to ``scorer``, its score to ``alert``; the value is the alert.

    Parameters
    ----------
    scorer
        Any univariate estimator whose ``get()`` is a score (:class:`RollingZScore`,
        :class:`EWZScore`, :class:`RobustZScore`).
    alert
        The :class:`Alert` that turns scores into an on/off state.

    Attributes
    ----------
    score
        The latest score.

    Examples
    --------
    >>> from fluvius.nodes.anomaly import Alert, EWZScore
    >>> d = Detector(EWZScore(alpha=0.5, min_obs=2), Alert(threshold=3.0))
    >>> for x in (1.0, 3.0, 3.0, 10.0, 3.0):
    ...     d.update(x)
    ...     print(d.get(), round(d.score, 3))
    False nan
    False nan
    False 1.0
    True 8.66
    False -0.855
    """

    __slots__ = ("alert", "score", "scorer")

    def __init__(self, scorer: Any, alert: Alert) -> None:
        if not (
            callable(getattr(scorer, "update", None)) and callable(getattr(scorer, "get", None))
        ):
            raise TypeError(f"Detector: scorer needs update/get methods, got {scorer!r}")
        self.scorer = scorer
        self.alert = alert
        self.score = float("nan")

    def update(self, x: float, *more: Any) -> None:
        """Score one observation (extra arguments, such as ``t``, go to the scorer)."""
        self.scorer.update(x, *more)
        score = self.scorer.get()
        self.score = score
        self.alert.update(score)

    def get(self) -> bool:
        """Whether the alert is on."""
        return self.alert.get()

    def __repr__(self) -> str:
        return f"Detector({self.scorer!r}, {self.alert!r})"
