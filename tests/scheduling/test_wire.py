"""The transport's channels (``scheduling/_wire.py``)."""

from __future__ import annotations

import os
import socket
from typing import NamedTuple

import numpy as np
import pytest

from fluvius.scheduling._wire import (
    SHM_THRESHOLD,
    Channel,
    ShmArena,
    dumps,
    loads,
    register_tuple_type,
)


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


def test_every_message_type_round_trips_as_itself() -> None:
    """Registered message types travel as plain tuples and come back as their own type,
    fields equal; an unregistered NamedTuple and plain objects travel as before."""
    from fluvius.scheduling import _messages as m

    samples = [
        m.RunCycle(3, 7, frozenset({1, 2}), {1: 1.5, 2: np.float64(2.0)}),
        m.RunCycle(3, 0, None, {}),
        m.Done(1, 3, 7, 812, [], None, (0.1, 0.2, 0.0, 9, 4, 400), [], [(5, m.CHANGED, 1.0)]),
        m.Settle(3, 7, [(5, m.UNCHANGED, None)]),
        m.Stop(3, 7, 11),
        m.Sync(3),
        m.Exit(),
        m.Values(0, 3, [(1, "x")], {}),
    ]
    for msg in samples:
        back = loads(dumps(msg))
        assert type(back) is type(msg)
        assert back == msg
    assert loads(dumps(_Unregistered(1, "a"))) == _Unregistered(1, "a")
    assert loads(dumps({"plain": [1, 2.0]})) == {"plain": [1, 2.0]}


class _Unregistered(NamedTuple):
    a: int
    b: str


def test_a_registered_message_holding_a_large_array_goes_through_shared_memory() -> None:
    from fluvius.scheduling._messages import Settle

    arena = ShmArena(f"fluvius_{os.getpid()}_wiretest2")
    try:
        big = np.arange(SHM_THRESHOLD, dtype=np.float64)
        frame = dumps(Settle(1, 2, [(0, 1, big)]), arena)
        assert len(frame) < big.nbytes  # the array is not in the frame
        back = loads(frame)
        assert type(back) is Settle
        assert back.entries[0][2].tobytes() == big.tobytes()
    finally:
        arena.release()


def test_register_tuple_type_refuses_what_is_not_a_tuple() -> None:
    with pytest.raises(TypeError, match="not a tuple type"):
        register_tuple_type(dict)


def test_a_read_of_many_frames_returns_them_all_in_order() -> None:
    """Frames larger than one read, and many small ones in one read, all come out whole."""
    a, b = socket.socketpair()
    try:
        sender, receiver = Channel(a.fileno()), Channel(b.fileno())
        big = np.arange(300_000, dtype=np.float64)  # 2.4 MB in band: several reads
        sent = [("small", i) for i in range(200)] + [("big", big), ("last", 0)]
        for obj in sent:
            sender.send(obj)
        got: list[object] = []
        while len(got) < len(sent):
            sender.flush()
            got += receiver.receive()
        assert [g[0] for g in got] == [s[0] for s in sent]  # type: ignore[index]
        assert got[200][1].tobytes() == big.tobytes()  # type: ignore[index]
    finally:
        a.close()
        b.close()
