"""Partition hosts: the part of the Dask scheduler that lives in each Dask worker process.

The parent places one host per Dask worker with ``Client.run`` (:func:`start_host`, run
on the worker's event loop), so nothing of a run is ever a task, an actor or a plugin in
the Dask scheduler's state: when the run ends, however it ends, there is nothing to
remove there. A host holds, for one pool (``token``):

- a listener (``distributed.comm.listen`` on the worker's host, scheme and ``Security``:
  TLS when the cluster uses it) that the parent and the other hosts connect to, once per
  pair: the parent first, with the listeners' addresses in its hello; then each host
  connects to the hosts of lower index (hello ``{"fluvius": token, "role": ..., ...}``);
- one :class:`~fluvius.scheduling._comm.CommLink` per peer and one to the parent, whose
  I/O runs on the Dask worker's event loop;
- a thread running the process scheduler's worker runtime unchanged
  (:class:`fluvius.scheduling._worker.Worker`: the same messages, the same cycle driver)
  over those links, with its own asyncio loop, so nodes never block the Dask worker's
  loop (its heartbeats to the Dask scheduler go on during a long node);
- a heartbeat task on the Dask worker's loop that sends the parent a beat every
  ``beat_s`` with the worker's status slot (the ranks it computes, published by the
  runtime's status thread): the parent names running nodes and detects a silent host
  without relying on the Dask scheduler's much longer timeouts. The parent beats too: a
  host that hears nothing from its parent for ``parent_timeout_s`` (its machine vanished
  without closing the connection) ends itself.

Life cycle: the host ends when its parent link closes (the parent exited, was killed, or
closed the pool) or on ``Exit``; it then stops its listener, closes its links, re-enables
and unfreezes the garbage collector and removes itself from :data:`HOSTS`. A host whose
parent never connects closes itself after ``connect_timeout_s``. :func:`stop_host` does
the same on request (the parent calls it when it closes a pool, to be sure). The runtime
starts once every peer link is connected; a peer that cannot be reached (or does not
connect within ``connect_timeout_s``) is reported to the parent as ``LoadFailed``, which
the pool raises while it waits for the partitions' hellos.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from fluvius.scheduling._comm import CommLink
from fluvius.scheduling._messages import Exit, LoadFailed
from fluvius.scheduling._wire import dumps
from fluvius.scheduling._worker import STATUS_SLOT, Worker

if TYPE_CHECKING:
    from distributed import Worker as DaskWorker
    from distributed.comm import Comm

    from fluvius.scheduling._wire import Transport

__all__ = ["HOSTS", "PartitionHost", "host_report", "start_host", "stop_host"]

log = logging.getLogger("fluvius.dask")

HOSTS: dict[str, PartitionHost] = {}
"""The hosts of this process, by pool token."""


class PartitionHost:
    """One partition's place on a Dask worker (see the module docstring)."""

    def __init__(
        self,
        token: str,
        wid: int,
        n: int,
        beat_s: float,
        dask_worker: DaskWorker,
        parent_timeout_s: float = 10.0,
    ) -> None:
        self.token = token
        self.wid = wid
        self.beat_s = beat_s
        self.parent_timeout_s = parent_timeout_s
        self.loop = asyncio.get_running_loop()
        self.security = dask_worker.security
        self.worker_address: str = dask_worker.address
        self.parent = CommLink(self.loop, "parent")
        self.peers = {j: CommLink(self.loop, f"worker {j}") for j in range(n) if j != wid}
        self.status: list[int] = [0] * ((wid + 1) * STATUS_SLOT)
        self.thread: threading.Thread | None = None
        self.listener: Any = None
        self.closed = False
        self.connect_timeout_s = 60.0
        self._tasks: set[asyncio.Task[None]] = set()

    async def open(self, connect_timeout_s: float) -> str:
        """Listen, start the runtime's thread and the heartbeat; return the address to
        connect to."""
        from distributed.comm import listen
        from distributed.comm.addressing import get_address_host, parse_address

        scheme = parse_address(self.worker_address)[0]
        host = get_address_host(self.worker_address)
        self.listener = listen(
            f"{scheme}://{host}:0", self._on_comm, **self.security.get_listen_args("worker")
        )
        await self.listener.start()
        self.connect_timeout_s = connect_timeout_s
        self._spawn(self._beat())
        self._spawn(self._expect_links(connect_timeout_s))
        self._start_when_linked()
        address: str = self.listener.contact_address
        return address

    def _start_when_linked(self) -> None:
        """Start the runtime's thread once every peer link is connected (its first message,
        Hello, tells the parent that this partition is fully linked)."""
        if self.thread is not None or self.closed:
            return
        if any(link.comm is None for link in self.peers.values()):
            return
        self.thread = threading.Thread(
            target=self._serve, name=f"fluvius-partition-{self.wid}", daemon=True
        )
        self.thread.start()

    async def _fail(self, text: str) -> None:
        """Tell the parent why this partition cannot run (it raises it), then close."""
        log.warning("%s", text)
        self.parent.push(dumps(LoadFailed(self.wid, 0, text)))
        await self.aclose()

    def _spawn(self, coro: Any) -> None:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_comm(self, comm: Comm) -> None:
        try:
            hello = await asyncio.wait_for(comm.read(), 10.0)
        except Exception:
            comm.abort()
            return
        if self.closed or not isinstance(hello, dict) or hello.get("fluvius") != self.token:
            comm.abort()  # another pool's, or not ours at all
            return
        if hello.get("role") == "parent" and self.parent.comm is None:
            self.parent.attach(comm)
            for j, address in enumerate(hello["peers"]):
                if j < self.wid:
                    self._spawn(self._connect_peer(j, address))
            return
        link = self.peers.get(hello.get("wid", -1))
        if hello.get("role") == "peer" and link is not None and link.comm is None:
            link.attach(comm)
            self._start_when_linked()
            return
        comm.abort()

    async def _connect_peer(self, j: int, address: str) -> None:
        from distributed.comm import connect

        link = self.peers[j]
        try:
            comm = await connect(
                address,
                timeout=self.connect_timeout_s / 2,  # before _expect_links gives up on it
                **self.security.get_connection_args("worker"),
            )
            await comm.write({"fluvius": self.token, "role": "peer", "wid": self.wid})
        except Exception as exc:
            await self._fail(
                f"partition {self.wid} on Dask worker {self.worker_address} cannot reach "
                f"partition {j} at {address}: {exc}"
            )
            return
        link.attach(comm)
        self._start_when_linked()

    async def _expect_links(self, timeout_s: float) -> None:
        await asyncio.sleep(timeout_s)
        if self.closed or self.thread is not None:
            return
        if self.parent.comm is None:
            log.warning("no parent connected to partition %d within %g s", self.wid, timeout_s)
            await self.aclose()
            return
        missing = sorted(j for j, link in self.peers.items() if link.comm is None)
        await self._fail(
            f"partition {self.wid} on Dask worker {self.worker_address}: no connection with "
            f"partition(s) {missing} within {timeout_s:g} s"
        )

    async def _beat(self) -> None:
        base = self.wid * STATUS_SLOT
        parent = self.parent
        while not self.closed:
            parent.beat(tuple(self.status[base : base + STATUS_SLOT]))
            silent = time.monotonic() - parent.heard
            if parent.comm is not None and silent > self.parent_timeout_s:
                log.warning("partition %d: no word from its parent for %.0f s", self.wid, silent)
                parent.deliver(Exit())
                return
            await asyncio.sleep(self.beat_s)

    def _serve(self) -> None:
        """The runtime's thread: the process scheduler's worker loop over comm links."""
        peers: dict[int, Transport] = dict(self.peers)
        worker = Worker(self.wid, self.parent, peers, self.status)
        try:
            asyncio.run(worker.serve())
        except Exception:
            log.exception("partition %d stopped on an internal error", self.wid)
        finally:
            if worker.status is not None:
                worker.status.close()
            gc.enable()  # the runtime pauses collection while it loads a share
            gc.unfreeze()
            with contextlib.suppress(RuntimeError):  # the Dask worker's loop is closing
                self.loop.call_soon_threadsafe(self._spawn, self.aclose())

    async def aclose(self, join_s: float = 5.0) -> bool:
        """Stop listening, close the links, forget this host; wait up to ``join_s`` for the
        runtime's thread. True when that thread is still in a node. Idempotent."""
        if self.closed:
            return self.thread is not None and self.thread.is_alive()
        self.closed = True
        HOSTS.pop(self.token, None)
        if self.listener is not None:
            self.listener.stop()
        self.parent.deliver(Exit())  # the runtime's thread leaves (if it has not yet)
        for link in (self.parent, *self.peers.values()):
            await link.aclose()
        thread = self.thread
        if thread is not None:
            await asyncio.to_thread(thread.join, join_s)
            if thread.is_alive():
                log.warning("partition %d is still computing a node", self.wid)
                return True
        for link in (self.parent, *self.peers.values()):
            link.close_fds()
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        gc.collect()
        return False


async def start_host(
    token: str,
    addresses: list[str],
    beat_s: float,
    connect_timeout_s: float,
    dask_worker: DaskWorker,
) -> tuple[str, int]:
    """Run by ``Client.run`` on each chosen Dask worker: place partition
    ``addresses.index(this worker)`` here; return its listener's address and the pid."""
    wid = addresses.index(dask_worker.address)
    host = PartitionHost(token, wid, len(addresses), beat_s, dask_worker)
    HOSTS[token] = host
    try:
        address = await host.open(connect_timeout_s)
    except BaseException:
        await host.aclose()
        raise
    return address, os.getpid()


async def stop_host(token: str, join_s: float = 2.0) -> bool:
    """Run by ``Client.run``: close this process's host of pool ``token``; True when its
    thread is still inside a node after ``join_s`` (only a restart of the worker stops it)."""
    host = HOSTS.get(token)
    if host is None:
        return False
    return await host.aclose(join_s)


def host_report() -> dict[str, Any]:
    """What fluvius holds in this process (tests: nothing once runs are over):
    hosts, fluvius threads, the garbage collector's state, and ``run_objects``, the
    objects of a run's classes still alive (hosts, links, runtimes, shares, plans, run
    and cycle states)."""
    from fluvius.engine.cycle import CycleState
    from fluvius.engine.plan import Plan
    from fluvius.engine.state import RunState
    from fluvius.scheduling._share import Share

    kinds = (PartitionHost, CommLink, Worker, Share, Plan, RunState, CycleState)
    gc.collect()
    return {
        "run_objects": sum(1 for o in gc.get_objects() if isinstance(o, kinds)),
        "hosts": sorted(HOSTS),
        "threads": sorted(t.name for t in threading.enumerate() if t.name.startswith("fluvius")),
        "gc_enabled": gc.isenabled(),
        "gc_frozen": gc.get_freeze_count(),
    }
