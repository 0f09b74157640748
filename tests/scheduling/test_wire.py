"""The transport's channels (``scheduling/_wire.py``)."""

from __future__ import annotations

import os
import socket

import numpy as np

from fluvius.scheduling._wire import SHM_THRESHOLD, Channel, ShmArena


def test_a_message_whose_segment_was_released_is_dropped_not_stuck() -> None:
    """A stale message (its sender released the segment: a cycle over, a shutdown) must
    not block the messages behind it in the same read."""
    a, b = socket.socketpair()
    arena = ShmArena(f"fluvius_{os.getpid()}_wiretest")
    try:
        sender, receiver = Channel(a.fileno(), arena), Channel(b.fileno())
        big = np.arange(SHM_THRESHOLD, dtype=np.float64)  # through shared memory
        sender.send(("stale", big))
        sender.send(("fresh", 1.0))
        arena.release()  # the sender is done with the first message's segment
        assert receiver.receive() == [("fresh", 1.0)]
        assert receiver.stale == 1
        sender.send(("after", big))
        (got,) = receiver.receive()
        assert got[0] == "after"
        assert got[1].tobytes() == big.tobytes()
    finally:
        arena.release()
        a.close()
        b.close()
