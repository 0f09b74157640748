"""Pausing the cyclic garbage collector around bulk construction.

Building a 40,000-node graph allocates a few hundred thousand small containers; every
700 allocations the collector scans the young generation, and the older generations ever
more often as they grow, although construction creates no reference cycles. Measured on
the overhead workload: 8.5 µs per node with the collector running, 6.7 µs paused.
Reference counting still frees everything at once; only the cycle search waits.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block; restore its previous state after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
