"""Performance-decay alert: an error that stays above its bound raises an alert.

An alert is *raised* when the monitored value has been above ``threshold`` for
``persistence`` consecutive updates, and *cleared* when it has been at or below ``clear``
(default ``threshold``; set it lower for hysteresis) for ``persistence`` consecutive
updates. Persistence filters single spikes; the gap between ``threshold`` and ``clear``
stops an error hovering at the bound from flapping the alert. NaN values change nothing.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["DecayAlert"]


class DecayAlert:
    """Threshold alert with persistence and hysteresis (module notes).

    Parameters
    ----------
    threshold
        Raise above this.
    persistence
        Consecutive updates needed to raise, and to clear.
    clear
        Clear at or below this (``<= threshold``; default ``threshold``).

    Attributes
    ----------
    active
        Whether the alert is raised.
    n_raised
        How many times it was raised.

    Examples
    --------
    >>> alert = DecayAlert(threshold=1.0, persistence=2, clear=0.5)
    >>> [alert.update(e) or alert.get() for e in [2.0, 0.8, 2.0, 2.0, 0.8, 0.4, 0.4]]
    [False, False, False, True, True, True, False]
    """

    def __init__(self, threshold: float, persistence: int = 1, clear: float | None = None) -> None:
        if not math.isfinite(threshold):
            raise ValueError(f"DecayAlert: threshold must be finite, got {threshold=}")
        if isinstance(persistence, bool) or not isinstance(persistence, int) or persistence < 1:
            raise ValueError(f"DecayAlert: persistence must be an int >= 1, got {persistence=}")
        clear = threshold if clear is None else clear
        if not clear <= threshold:
            raise ValueError(
                f"DecayAlert: clear must be <= threshold={threshold!r} (hysteresis), got {clear=}"
            )
        self.threshold = float(threshold)
        self.persistence = persistence
        self.clear = float(clear)
        self.active = False
        self.n_raised = 0
        self._streak = 0

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        return [{"threshold": 100.0}, {"threshold": 100.5, "persistence": 2, "clear": 99.5}]

    def update(self, value: float | None) -> None:
        """Feed one monitored value (e.g. a rolling error)."""
        if value is None or math.isnan(value):
            return
        crossing = value <= self.clear if self.active else value > self.threshold
        self._streak = self._streak + 1 if crossing else 0
        if self._streak >= self.persistence:
            self.active = not self.active
            self.n_raised += self.active
            self._streak = 0

    def get(self) -> bool:
        """True while the alert is raised."""
        return self.active

    def __repr__(self) -> str:
        return (
            f"DecayAlert(threshold={self.threshold!r}, persistence={self.persistence}, "
            f"clear={self.clear!r}, active={self.active})"
        )
