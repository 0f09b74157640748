"""Garbage collection between datagrams, not in the middle of one (live UDP runs).

Python collects its youngest generation when its allocation count crosses a threshold
(700 by default): at whichever allocation that happens, so on a live feed it is always
inside some datagram's path (decode, adapt, cycle), which pays the whole pause. The heap
is frozen after start-up (:mod:`fluvius.scheduling._gc`), so a young collection is short,
but it still costs tens of microseconds, up to milliseconds for an older generation: the
tail of the receive -> cycle-end latency.

:class:`IdleCollector` pauses the automatic collector for the duration of a run and
collects at the moments the feed is idle instead: the socket was drained and the cycles of
what it held have run (:attr:`fluvius.feeds.iex.live.LiveFeed.on_idle`). It collects what
the automatic collector would have collected by then (the same thresholds, generation by
generation). A feed that never goes idle still collects: :meth:`IdleCollector.busy` runs a
young collection once the count reaches ``busy_factor`` times the threshold, so memory stays
bounded at any rate.

>>> import gc
>>> with IdleCollector() as collector:
...     paused = not gc.isenabled()
...     _ = [[] for _ in range(2000)]
...     collector.idle()
>>> paused, gc.isenabled() == collector.was_enabled, collector.collections[0] >= 1
(True, True, True)
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["IdleCollector"]


class IdleCollector:
    """Collect when the feed is idle (see the module doc); a context manager that pauses
    Python's automatic collection and restores it on exit."""

    def __init__(
        self, thresholds: tuple[int, int, int] | None = None, busy_factor: int = 8
    ) -> None:
        t0, t1, t2 = thresholds if thresholds is not None else gc.get_threshold()
        if t0 < 1 or busy_factor < 1:
            raise ValueError(
                f"need thresholds[0] >= 1 and busy_factor >= 1, got {t0=} {busy_factor=}"
            )
        self.thresholds = (t0, max(t1, 1), max(t2, 1))
        self.busy_factor = busy_factor
        self.collections = [0, 0, 0]
        """Collections run by this collector, per generation."""
        self.was_enabled = False

    def idle(self) -> None:
        """The feed is idle: collect each generation whose count has crossed its threshold
        (the oldest such one, which includes the younger ones), as Python would have."""
        c0, c1, c2 = gc.get_count()
        t0, t1, t2 = self.thresholds
        if c0 < t0:
            return
        generation = 0
        if c1 >= t1:  # gen-0 collections since the last gen-1 one
            generation = 2 if c2 >= t2 else 1
        gc.collect(generation)
        self.collections[generation] += 1

    def busy(self) -> None:
        """The feed has not been idle for long: collect the young generation once its count
        reaches ``busy_factor`` thresholds (memory stays bounded at any rate)."""
        if gc.get_count()[0] >= self.thresholds[0] * self.busy_factor:
            self.idle()

    def __enter__(self) -> IdleCollector:
        self.was_enabled = gc.isenabled()
        gc.disable()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.was_enabled:
            gc.enable()
