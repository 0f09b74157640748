"""Fallback switch: serve model B while model A's monitored error breaches its bound."""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

from fluvius.nodes.monitoring.decay_alert import DecayAlert, legacy_positional

__all__ = ["FallbackSwitch", "Served"]


class Served(NamedTuple):
    """A served prediction and the model that served it (``"a"`` or ``"b"``)."""

    value: Any
    model: str


class FallbackSwitch:
    """Serve model A's prediction unless A's error breaches ``threshold``; then serve B's.

    Parameters
    ----------
    threshold
        Switch to B when A's monitored error is above this for ``persistence`` updates.
    clear
        Switch back to A when the error is at or below this (``<= threshold``) for
        ``persistence`` updates (default ``threshold``): the hysteresis band.
    persistence
        Consecutive updates needed to switch either way.
    bound, recover
        Deprecated names of ``threshold`` and ``clear`` (they warn); the former positional
        form ``FallbackSwitch(bound, recover, persistence)`` also warns.

    The arguments are those of :class:`fluvius.nodes.anomaly.Alert` and
    :class:`DecayAlert`, in the same order.

    Attributes
    ----------
    serving
        ``"a"`` or ``"b"``.
    n_switches
        Switches to B so far.

    Notes
    -----
    Each update takes A's monitored error (typically a :class:`RollingError` of A's
    prequential predictions, computed upstream in the graph), A's prediction and B's
    prediction. The switch decides first, then serves, so the tick that confirms a breach
    is already served by B. A NaN error leaves the decision unchanged. If the chosen
    model's prediction is NaN, the other one's is served (and reported) instead.

    Examples
    --------
    >>> switch = FallbackSwitch(threshold=1.0, clear=0.5, persistence=1)
    >>> for err in [0.2, 1.5, 0.8, 0.3]:
    ...     switch.update(err, 10.0, 20.0)
    ...     print(switch.get())
    Served(value=10.0, model='a')
    Served(value=20.0, model='b')
    Served(value=20.0, model='b')
    Served(value=10.0, model='a')
    """

    def __init__(
        self,
        threshold: float | None = None,
        *legacy: Any,
        clear: float | None = None,
        persistence: int = 1,
        bound: float | None = None,
        recover: float | None = None,
    ) -> None:
        if legacy:
            old = legacy_positional(
                "FallbackSwitch",
                legacy,
                ("clear", "persistence"),
                {"clear": clear, "persistence": persistence},
            )
            clear, persistence = old["clear"], old["persistence"]
        if bound is not None or recover is not None:
            warnings.warn(
                "FallbackSwitch(bound=, recover=) is deprecated; use threshold= and clear= "
                "(the names of Alert and DecayAlert)",
                DeprecationWarning,
                stacklevel=2,
            )
            if (bound is not None and threshold is not None) or (
                recover is not None and clear is not None
            ):
                raise TypeError("FallbackSwitch: give threshold/clear or bound/recover, not both")
            threshold = bound if bound is not None else threshold
            clear = recover if recover is not None else clear
        if threshold is None:
            raise TypeError("FallbackSwitch() missing required argument: 'threshold'")
        self._alert = DecayAlert(threshold, clear=clear, persistence=persistence)
        self.threshold = self._alert.threshold
        self.clear = self._alert.clear
        self.persistence = persistence
        self._served = Served(math.nan, "a")

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        return [{"threshold": 100.0}, {"threshold": 100.5, "clear": 99.5, "persistence": 2}]

    @property
    def serving(self) -> str:
        """The model chosen by the error so far: ``"a"`` or ``"b"``."""
        return "b" if self._alert.active else "a"

    @property
    def n_switches(self) -> int:
        """Switches from A to B so far."""
        return self._alert.onsets

    def update(self, error_a: float | None, pred_a: Any, pred_b: Any) -> None:
        """Feed A's monitored error and both predictions of this tick."""
        self._alert.update(error_a)
        first, second = (pred_b, pred_a) if self._alert.active else (pred_a, pred_b)
        names = ("b", "a") if self._alert.active else ("a", "b")
        if _is_nan(first) and not _is_nan(second):
            self._served = Served(second, names[1])
        else:
            self._served = Served(first, names[0])

    def get(self) -> Served:
        """The prediction served at the last update and which model served it."""
        return self._served

    def __repr__(self) -> str:
        return (
            f"FallbackSwitch(threshold={self.threshold!r}, clear={self.clear!r}, "
            f"persistence={self.persistence}, serving={self.serving!r})"
        )


def _is_nan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))
