"""Alert logic over a stream of scores: threshold, hysteresis and minimum persistence."""

from __future__ import annotations

from fluvius.nodes.stats.base import check_window

__all__ = ["Alert"]


class Alert:
    """An on/off alert raised by scores at or above a threshold, cleared below another.

    ``update(score)`` takes one score (a z-score, say); ``get()`` is True while the alert
    is on.

    Parameters
    ----------
    threshold
        The alert turns on once ``persistence`` consecutive scores have ``|score| >=
        threshold`` (``score >= threshold`` when ``two_sided`` is False).
    clear
        The alert turns off at the first score with ``|score| < clear`` (hysteresis: a
        score wandering around the threshold does not flap the alert). Default:
        ``threshold``.
    persistence
        Consecutive scores beyond the threshold needed to turn the alert on: 1 reacts to
        a single spike, more ignores isolated outliers (fewer false positives, more delay).
    two_sided
        Whether large negative scores count as well.

    Attributes
    ----------
    onsets
        How many times the alert has turned on.

    Notes
    -----
    A NaN score (a detector warming up) neither raises nor clears the alert; it breaks a
    run of scores beyond the threshold.

    Examples
    --------
    >>> a = Alert(threshold=3.0, clear=1.0, persistence=2)
    >>> for score in (3.5, 0.0, 3.2, 4.0, 2.0, 0.5):
    ...     a.update(score)
    ...     print(a.get())
    False
    False
    False
    True
    True
    False
    """

    __slots__ = ("_on", "_run", "clear", "onsets", "persistence", "threshold", "two_sided")

    def __init__(
        self,
        threshold: float,
        *,
        clear: float | None = None,
        persistence: int = 1,
        two_sided: bool = True,
    ) -> None:
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or threshold != threshold
        ):
            raise ValueError(f"Alert: threshold must be a number, got {threshold=}")
        clear = threshold if clear is None else clear
        if isinstance(clear, bool) or not isinstance(clear, int | float) or clear > threshold:
            raise ValueError(f"Alert: clear must be a number <= threshold, got {clear=}")
        self.threshold = threshold
        self.clear = clear
        self.persistence = check_window("Alert", persistence, name="persistence")
        self.two_sided = two_sided
        self.onsets = 0
        self._on = False
        self._run = 0

    def update(self, score: float) -> None:
        """Take one score."""
        if score != score:
            self._run = 0
            return
        level = abs(score) if self.two_sided else score
        if self._on:
            if level < self.clear:
                self._on = False
                self._run = 0
            return
        if level >= self.threshold:
            self._run += 1
            if self._run >= self.persistence:
                self._on = True
                self.onsets += 1
        else:
            self._run = 0

    def get(self) -> bool:
        """Whether the alert is on."""
        return self._on

    def __repr__(self) -> str:
        return (
            f"Alert(threshold={self.threshold!r}, clear={self.clear!r}, "
            f"persistence={self.persistence!r}, two_sided={self.two_sided!r}): "
            f"{'on' if self._on else 'off'}"
        )
