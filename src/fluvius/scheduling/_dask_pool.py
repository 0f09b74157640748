"""Partitions placed on a Dask cluster: the Dask scheduler's counterpart of ``WorkerPool``.

A :class:`DaskPool` offers the process scheduler's session (``process.ProcessSession``)
what a ``WorkerPool`` offers (send, poll, wait, liveness, close), so the two schedulers
share the parent's protocol, the worker runtime and the cycle driver: only placement and
transport differ.

Placement
    One partition per Dask worker (the first ``workers`` in ``_dask_place`` order: those
    pinned with the resource ``fluvius-partition-<i>`` by pin, then the others by address),
    placed with ``Client.run`` (``_dask_host.start_host``): each Dask worker gets a
    partition host, listening on its own host with the cluster's ``Security``. The parent
    connects to every host once (the hello carries every host's address), and the hosts
    connect to each other once per pair; values then go worker to worker, one batched
    message per peer per flush (``_comm.CommLink``), never through the Dask scheduler.
    Without ``address`` (and without ``client``) the pool starts a ``LocalCluster`` of
    ``workers`` processes bound to 127.0.0.1, its HTTP server (dashboard, metrics) on a
    free loopback port unless ``dashboard_address`` names another, and closes it with the
    pool.
Liveness (every wait of the session watches it)
    A host's link closing (its process died: the kernel closes its sockets, even on
    SIGKILL) is seen at once; a host that sends nothing, not even its heartbeat, for
    ``heartbeat_timeout_s`` counts as dead too (a frozen machine, a cut network). Either
    way the pool is broken: a Dask nanny may restart the worker, but its partition's state
    is gone, so the run raises ``WorkerDiedError`` naming the worker's address and nodes
    and never continues on a resurrected worker. The parent beats too (every ``beat_s``,
    from the Dask client's I/O loop), so that hosts whose parent vanished end themselves.
Leaving the cluster as found
    :meth:`DaskPool.close` asks every host to exit, waits for their links to close, then
    runs ``_dask_host.stop_host`` on each worker still there (stopping any host left),
    and closes what it opened (client, local cluster). A parent that dies without closing
    (SIGKILL) leaves nothing either: its links close and every host ends itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import select
import time
from typing import TYPE_CHECKING, Any

from fluvius.errors import FluviusError
from fluvius.scheduling._comm import CommLink
from fluvius.scheduling._dask_host import start_host, stop_host
from fluvius.scheduling._dask_place import placement_order
from fluvius.scheduling._messages import Exit, Hello, LoadFailed
from fluvius.scheduling._pool import WAIT_S, _WorkerDied
from fluvius.scheduling._worker import STATUS_SLOT

if TYPE_CHECKING:
    from distributed import Client, Security

__all__ = ["DaskPool"]

log = logging.getLogger("fluvius.dask")


class DaskPool:
    """``workers`` partition hosts on a Dask cluster (see the module docstring).

    Parameters
    ----------
    workers
        Partitions (one per Dask worker). Default: every worker of the cluster at
        ``address``, or 2 for a local cluster.
    address
        An existing cluster's scheduler (``tcp://HOST:PORT`` or ``tls://…``); the pool
        leaves it as it found it.
    security
        ``distributed.Security`` for a TLS cluster; default: Dask's configuration.
    client
        An existing ``distributed.Client`` to use (left open); excludes ``address``.
    dashboard_address
        A local cluster's dashboard address; default: a free port on 127.0.0.1 (the
        dashboard's pages need ``bokeh``; metrics are served either way).
    heartbeat_timeout_s
        A host silent for this long counts as dead (it beats every ``beat_s``).
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        address: str | None = None,
        security: Security | None = None,
        client: Client | None = None,
        dashboard_address: str = "127.0.0.1:0",
        start_timeout_s: float = 60.0,
        heartbeat_timeout_s: float = 3.0,
        beat_s: float = 0.5,
    ) -> None:
        if workers is not None and (
            isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
        ):
            raise ValueError(f"workers must be an int >= 1 or None, got {workers=}")
        if client is not None and address is not None:
            raise ValueError("give a client or an address, not both")
        from distributed import Client, LocalCluster

        t0 = time.perf_counter()
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.busy = False
        self.broken = False
        self.closed = False
        self.started = False
        self.arena = None
        self.cluster: LocalCluster | None = None
        self._own_client = client is None
        self.links: list[CommLink] = []
        self.addresses: list[str] = []
        self.listen: list[str] = []
        self.pids: list[int] = []
        self.token = secrets.token_hex(8)
        self._kept: list[tuple[int, Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._arrived = False
        self._dead: set[int] = set()
        try:
            if client is None:
                if address is None:
                    self.cluster = LocalCluster(
                        n_workers=workers or 2,
                        threads_per_worker=1,
                        processes=True,
                        host="127.0.0.1",
                        dashboard_address=dashboard_address,
                        security=security,
                        protocol="tls://" if security is not None else None,
                    )
                    client = Client(self.cluster, security=security, set_as_default=False)
                else:
                    client = Client(
                        address, security=security, set_as_default=False, timeout=start_timeout_s
                    )
            self.client = client
            self.scheduler_address: str = client.scheduler.address
            self._place(workers, beat_s, start_timeout_s)
        except BaseException:
            self.close()
            raise
        self.workers = len(self.addresses)
        self.started = True
        self.spawn_seconds = time.perf_counter() - t0

    # -- placement ---------------------------------------------------------------------------
    def _place(self, workers: int | None, beat_s: float, timeout_s: float) -> None:
        client = self.client
        found = placement_order(client.scheduler_info()["workers"])  # pins first (_dask_place)
        if workers is not None and len(found) < workers:
            raise FluviusError(
                f"the Dask cluster at {client.scheduler.address} has {len(found)} worker(s), "
                f"fewer than the {workers} asked for; start more workers or ask for fewer"
            )
        if not found:
            raise FluviusError(f"the Dask cluster at {client.scheduler.address} has no worker")
        addresses = found[:workers] if workers is not None else found
        self.addresses = addresses
        replies = client.run(
            start_host, self.token, addresses, beat_s, timeout_s, workers=addresses
        )
        listen = [replies[a][0] for a in addresses]
        self.listen = listen  # the partition hosts' own listeners
        self.pids = [replies[a][1] for a in addresses]
        self.io_loop: asyncio.AbstractEventLoop = client.loop.asyncio_loop
        self.links = [CommLink(self.io_loop, f"worker {w}") for w in range(len(addresses))]
        security = client.security
        future = asyncio.run_coroutine_threadsafe(
            self._connect(listen, security.get_connection_args("client")), self.io_loop
        )
        future.result(timeout_s)
        self._beats = asyncio.run_coroutine_threadsafe(self._beat(beat_s), self.io_loop)
        self._hello(timeout_s)

    async def _beat(self, beat_s: float) -> None:
        """The parent's heartbeat to every host (they end themselves when it stops)."""
        while True:
            for link in self.links:
                link.beat()
            await asyncio.sleep(beat_s)

    async def _connect(self, listen: list[str], args: dict[str, Any]) -> None:
        from distributed.comm import connect

        async def one(w: int) -> None:
            comm = await connect(listen[w], **args)
            await comm.write({"fluvius": self.token, "role": "parent", "peers": listen})
            self.links[w].attach(comm)

        await asyncio.gather(*(one(w) for w in range(len(listen))))

    def _hello(self, timeout_s: float) -> None:
        waiting = set(range(len(self.links)))
        deadline = time.monotonic() + timeout_s
        while waiting:
            for wid, msg in self.poll():
                if type(msg) is Hello:
                    waiting.discard(wid)
                elif type(msg) is LoadFailed:
                    raise FluviusError(f"{msg.text}; check that the workers reach each other")
            if waiting:
                if time.monotonic() > deadline:
                    raise FluviusError(
                        f"partitions {sorted(waiting)} did not start within {timeout_s} s"
                    )
                self.wait_blocking(WAIT_S)

    def wait_started(self, timeout_s: float = 60.0) -> None:
        """The pool is ready once made (the session's interface)."""

    # -- messages ----------------------------------------------------------------------------
    def send(self, wid: int, obj: Any) -> None:
        self.links[wid].send(obj)

    def send_frame(self, wid: int, frame: bytes) -> None:
        self.links[wid].send_frame(frame)

    def drain(self, timeout_s: float) -> None:
        """Nothing waits in the parent: the I/O loop writes every frame."""

    def poll(self, *, read: bool = True) -> list[tuple[int, Any]]:
        """Messages put back with :meth:`keep`, then every message arrived, as ``(worker,
        message)``; raises on a dead or silent host. Heartbeats are consumed here.
        ``read`` (the ``Pool`` protocol's) changes nothing: the links' I/O loop has read
        whatever arrived."""
        out, self._kept = self._kept, []
        self._arrived = False
        now = time.monotonic()
        for wid, link in enumerate(self.links):
            try:
                got = link.receive()
            except EOFError:
                self._died(wid, "closed its connection (its process exited or was killed)")
            out += [(wid, msg) for msg in got]
            silent = now - link.heard
            if silent > self.heartbeat_timeout_s:
                self._died(wid, f"sent nothing, not even a heartbeat, for {silent:.1f} s")
        return out

    def keep(self, messages: list[tuple[int, Any]]) -> None:
        self._kept = messages + self._kept

    def running(self, wid: int, session: int, index: int) -> list[int] | None:
        """Ranks worker ``wid`` was computing at its last heartbeat in cycle ``index`` of
        ``session``; None when it has said nothing of that cycle."""
        slot = self.links[wid].status
        if len(slot) < STATUS_SLOT or slot[0] != session or slot[1] != index:
            return None
        return list(slot[3 : 3 + slot[2]])

    def describe(self, wid: int) -> str:
        """``worker 1 (tcp://127.0.0.1:4321, pid 123)``."""
        return f"worker {wid} ({self.addresses[wid]}, pid {self.pids[wid]})"

    def _died(self, wid: int, how: str) -> None:
        self.broken = True
        self._dead.add(wid)
        raise _WorkerDied(wid, f"Dask {self.describe(wid)} {how}")

    def kill(self, wid: int) -> None:
        """Stop worker ``wid``'s partition even in the middle of a node: its Dask worker is
        restarted by its nanny (the only way to stop a thread stuck in a node)."""
        self.broken = True
        self._dead.add(wid)
        with contextlib.suppress(Exception):
            self.client.restart_workers([self.addresses[wid]], timeout=30)

    # -- waiting -----------------------------------------------------------------------------
    def wait_blocking(self, timeout_s: float) -> None:
        """Block until a host wrote (or ``timeout_s`` passed)."""
        select.select([link.fd for link in self.links], [], [], timeout_s)

    def receive_now(self, timeout_s: float, spin_s: float = 0.0) -> list[tuple[int, Any]] | None:
        """:meth:`wait_blocking`, then :meth:`poll` (the ``Pool`` protocol's; the Dask
        session does not block its loop: ``DaskScheduler.block_s`` is 0; no spinning)."""
        if not self._kept:
            self.wait_blocking(timeout_s)
        return self.poll()

    async def wait(self, timeout_s: float) -> None:
        """:meth:`wait_blocking` on the running event loop (readers stay registered)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._watch(loop)
        if self._arrived:
            return
        fut: asyncio.Future[None] = loop.create_future()
        self._waiter = fut
        handle = loop.call_later(timeout_s, self._wake)
        try:
            await fut
        finally:
            handle.cancel()
            self._waiter = None

    def _wake(self) -> None:
        self._arrived = True
        fut = self._waiter
        if fut is not None and not fut.done():
            fut.set_result(None)

    def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        self._unwatch()
        for link in self.links:
            loop.add_reader(link.fd, self._wake)
        self._loop = loop

    def _unwatch(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None or loop.is_closed():
            return
        for link in self.links:
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(link.fd)

    # -- shutdown ----------------------------------------------------------------------------
    def close(self, grace_s: float = 2.0) -> None:
        """End every partition, leave the cluster as found (module docstring). Idempotent."""
        if self.closed:
            return
        self.closed = True
        self._unwatch()
        beats = getattr(self, "_beats", None)
        if beats is not None:
            beats.cancel()
        for link in self.links:
            with contextlib.suppress(Exception):
                link.send(Exit())
        deadline = time.monotonic() + grace_s
        open_links = [link for link in self.links if not link.closed]
        while open_links and time.monotonic() < deadline:
            select.select([link.fd for link in open_links], [], [], 0.05)
            for link in open_links:
                with contextlib.suppress(Exception):
                    link.receive()
            open_links = [link for link in open_links if not link.closed]
        client = getattr(self, "client", None)
        if client is not None and self.addresses:
            with contextlib.suppress(Exception):  # workers gone meanwhile have nothing left
                alive = set(client.nthreads())
                left = [a for a in self.addresses if a in alive]
                stuck = []
                if left:
                    busy = client.run(stop_host, self.token, workers=left, on_error="ignore")
                    stuck = [a for a in left if busy.get(a) is True]
                if stuck:  # a thread inside a node cannot be stopped: restart its worker
                    log.warning("restarting Dask worker(s) %s: a node is still running there",
                                ", ".join(stuck))  # fmt: skip
                    client.restart_workers(stuck, timeout=30)
        if self.links:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._close_links(), self.io_loop).result(5.0)
        for link in self.links:
            link.close_fds()
        if client is not None and self._own_client:
            with contextlib.suppress(Exception):
                client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()

    async def _close_links(self) -> None:
        for link in self.links:
            await link.aclose()

    def __enter__(self) -> DaskPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "broken" if self.broken else "ready"
        return f"<DaskPool {len(self.addresses)} workers, {state}>"
