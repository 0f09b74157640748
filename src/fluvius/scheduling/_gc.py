"""Keeping garbage-collection pauses out of live cycles.

A started graph is tens of thousands of long-lived objects. Python's cyclic collector scans
the older generations again and again as allocations accumulate; on the overhead workload
the first tick after start-up triggered a 24 ms collection (measured; see
docs/concepts/engine.md), a hundred times the tick itself. After start-up the scheduler
therefore collects once and freezes the heap (:func:`gc.freeze`): everything alive is moved
to a permanent generation that the collector ignores, so no pause grows with the graph.
The cost (one full collection) is paid at start-up, where it belongs.

Freezing is process-wide, so it is reference-counted: the heap is unfrozen when the last
session that froze it closes.
"""

from __future__ import annotations

import gc
import time

__all__ = ["freeze_after_startup", "release_freeze"]

_holders = 0


def freeze_after_startup() -> float:
    """Collect, then freeze the heap; returns the seconds it took."""
    global _holders
    t0 = time.perf_counter()
    gc.collect()
    gc.freeze()
    _holders += 1
    return time.perf_counter() - t0


def release_freeze() -> None:
    """One session is done with the frozen heap; unfreeze when it was the last one."""
    global _holders
    _holders = max(_holders - 1, 0)
    if _holders == 0:
        gc.unfreeze()
