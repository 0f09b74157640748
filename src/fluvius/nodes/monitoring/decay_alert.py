"""Performance-decay alert: an error that stays above its bound raises an alert.

Its arguments are those of :class:`fluvius.nodes.anomaly.Alert`, in the same order:
``DecayAlert(threshold, *, clear=None, persistence=1)``. The former positional order
``DecayAlert(threshold, persistence, clear)`` still works and warns (DeprecationWarning).

An alert is *raised* when the monitored value has been above ``threshold`` for
``persistence`` consecutive updates, and *cleared* when it has been at or below ``clear``
(default ``threshold``; set it lower for hysteresis) for ``persistence`` consecutive
updates. Persistence filters single spikes; the gap between ``threshold`` and ``clear``
stops an error hovering at the bound from flapping the alert. NaN values change nothing.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

__all__ = ["DecayAlert"]


def legacy_positional(
    cls: str, args: tuple[Any, ...], names: tuple[str, str], given: dict[str, Any]
) -> dict[str, Any]:
    """Map deprecated positional arguments (after the threshold) onto their keywords."""
    if len(args) > len(names):
        raise TypeError(
            f"{cls}() takes the threshold and keyword arguments; got {1 + len(args)} "
            "positional arguments"
        )
    warnings.warn(
        f"{cls}(threshold, {', '.join(names)}) by position is deprecated; pass "
        "clear= and persistence= by keyword (the order of Alert)",
        DeprecationWarning,
        stacklevel=3,
    )
    return {**given, **dict(zip(names, args, strict=False))}


class DecayAlert:
    """Threshold alert with persistence and hysteresis (module notes).

    Parameters
    ----------
    threshold
        Raise above this.
    clear
        Clear at or below this (``<= threshold``; default ``threshold``).
    persistence
        Consecutive updates needed to raise, and to clear.

    Attributes
    ----------
    active
        Whether the alert is raised.
    onsets
        How many times it was raised (``n_raised`` is a deprecated alias).

    Examples
    --------
    >>> alert = DecayAlert(threshold=1.0, clear=0.5, persistence=2)
    >>> [alert.update(e) or alert.get() for e in [2.0, 0.8, 2.0, 2.0, 0.8, 0.4, 0.4]]
    [False, False, False, True, True, True, False]
    """

    def __init__(
        self,
        threshold: float,
        *legacy: Any,
        clear: float | None = None,
        persistence: int = 1,
    ) -> None:
        if legacy:
            old = legacy_positional(
                "DecayAlert",
                legacy,
                ("persistence", "clear"),
                {"clear": clear, "persistence": persistence},
            )
            clear, persistence = old["clear"], old["persistence"]
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
        self.onsets = 0
        self._streak = 0

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        return [{"threshold": 100.0}, {"threshold": 100.5, "clear": 99.5, "persistence": 2}]

    @property
    def n_raised(self) -> int:
        """Deprecated alias of :attr:`onsets`."""
        warnings.warn(
            "DecayAlert.n_raised is deprecated; use onsets (as Alert)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.onsets

    def update(self, value: float | None) -> None:
        """Feed one monitored value (e.g. a rolling error)."""
        if value is None or math.isnan(value):
            return
        crossing = value <= self.clear if self.active else value > self.threshold
        self._streak = self._streak + 1 if crossing else 0
        if self._streak >= self.persistence:
            self.active = not self.active
            self.onsets += self.active
            self._streak = 0

    def get(self) -> bool:
        """True while the alert is raised."""
        return self.active

    def __repr__(self) -> str:
        return (
            f"DecayAlert(threshold={self.threshold!r}, clear={self.clear!r}, "
            f"persistence={self.persistence}, active={self.active})"
        )
