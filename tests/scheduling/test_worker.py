"""A worker's live cycle run straight from the reader's callback (``Worker._run_now``),
in one process: the worker's links are socket pairs read here.

The graph and owners are those of ``test_share.py``: ``s -> a -> c -> total -> alert`` on
worker 0, ``t -> b -> d`` on worker 1, ``total`` reads ``c`` and ``d``. Also the parent's
waits on a pool (``WorkerPool.wait``), which end at the pool's heartbeat.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest
from test_share import ALERT, D, S, T, share

from fluvius.scheduling._messages import Done, RunCycle, Settle
from fluvius.scheduling._pool import WAIT_S, WorkerPool
from fluvius.scheduling._wire import Channel
from fluvius.scheduling._worker import Worker


def _worker() -> tuple[Worker, Channel, Channel, list[socket.socket]]:
    """Worker 0 with its share loaded; the parent's and worker 1's ends of its links."""
    parent_a, parent_b = socket.socketpair()
    peer_a, peer_b = socket.socketpair()
    w = Worker(0, Channel(parent_a.fileno()), {1: Channel(peer_a.fileno())})
    w.share = share(0)
    w.share.state.values[D] = 2.0  # as worker 1's start-up settle would have left it
    return (
        w,
        Channel(parent_b.fileno()),
        Channel(peer_b.fileno()),
        [parent_a, parent_b, peer_a, peer_b],
    )


def _received(ch: Channel) -> list[Any]:
    return ch.receive()


def test_a_local_tick_runs_from_the_readers_callback() -> None:
    w, parent, _, socks = _worker()

    async def go() -> None:
        w.idle = True  # the main loop waits for a command
        parent.send(RunCycle(1, 1, frozenset({S}), {S: 5.0}))
        w._readable(-1, w.parent)
        assert not w.inbox  # consumed: the main loop has nothing to do
        assert not w.wake.is_set()
        (done,) = _received(parent)
        assert type(done) is Done
        assert (done.cycle, done.computed, done.errors, done.stop) == (1, 4, [], None)
        assert w.share is not None
        assert w.share.state.values[ALERT] == -(5.0 + 2.0)  # alert = -(c + d), c = --s

    try:
        asyncio.run(go())
    finally:
        for s in socks:
            s.close()


def test_a_tick_that_waits_for_another_worker_goes_to_the_main_loop() -> None:
    w, parent, _, socks = _worker()
    try:
        w.idle = True
        msg = RunCycle(1, 1, frozenset({T}), {T: 3.0})  # total waits for worker 1's d
        assert not w._run_now(msg)
        assert not w._run_now(RunCycle(1, 0, None, {}))  # start-up: the main loop's
        assert not w._run_now(RunCycle(2, 1, frozenset({S}), {S: 1.0}))  # another session
        assert not w._run_now(Settle(1, 1, []))
        parent.send(msg)
        w._readable(-1, w.parent)
        assert [m for _, m in w.inbox] == [msg]  # left for the main loop
        assert w.wake.is_set()
        assert _received(parent) == []
        w.idle = False  # busy (a command runs): nothing runs from the callback
        w.inbox.clear()
        parent.send(RunCycle(1, 1, frozenset({S}), {S: 5.0}))
        w._readable(-1, w.parent)
        assert len(w.inbox) == 1
    finally:
        for s in socks:
            s.close()


def test_a_failure_in_the_callback_stops_the_worker_like_one_in_the_main_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w, parent, _, socks = _worker()

    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(w, "_local_part", broken)
    try:
        w.idle = True
        parent.send(RunCycle(1, 1, frozenset({S}), {S: 5.0}))
        w._readable(-1, w.parent)
        assert w.exit
        assert isinstance(w.crashed, RuntimeError)

        async def serve() -> None:
            await w.serve()

        with pytest.raises(RuntimeError, match="boom"):
            asyncio.run(serve())
    finally:
        for s in socks:
            s.close()


def test_the_pools_waits_end_at_its_heartbeat_or_their_own_shorter_timeout() -> None:
    """A wait of WAIT_S or more has no timer of its own (the pool's heartbeat ends it);
    a shorter one keeps its own."""

    async def waits(pool: WorkerPool) -> tuple[float, float]:
        t0 = time.monotonic()
        await pool.wait(30 * WAIT_S)  # nothing arrives: only the heartbeat ends it
        t1 = time.monotonic()
        await pool.wait(WAIT_S / 10)
        return t1 - t0, time.monotonic() - t1

    with WorkerPool(1) as pool:
        long, short = asyncio.run(waits(pool))
        assert pool.poll() == []
    assert 0.5 * WAIT_S <= long < 4 * WAIT_S
    assert short < WAIT_S
