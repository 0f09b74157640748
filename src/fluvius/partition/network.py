"""The network model of the simulator: how long a message takes between two workers.

A message of ``b`` bytes from one process to another takes, one way,

    transport latency + wire latency + b x (transport seconds per byte + 8 / bandwidth)

* The *transport* is the software on both ends, measured on this machine's loopback
  (:mod:`fluvius.partition.calibrate`): ``"pipe"``, the process scheduler's pipes between
  the processes of one host (``Calibration.latency_s`` and ``byte_s``, fitted through the
  real scheduler), or ``"tcp"``, a ``distributed.comm`` TCP connection (what Dask workers
  use, also between two workers of one host: ``Calibration.tcp_latency_s`` and
  ``tcp_byte_s``, a ping-pong with a spawned process on 127.0.0.1, see
  :func:`measure_tcp`). The sender pays half the latency and the per-byte part in CPU
  (serialising, writing); the receiver sees the message the other half later.
* The *wire* exists only between two hosts: ``latency_s`` one way and ``bandwidth_bps``
  bits per second per link, as given (e.g. 10 Gb/s and 50 µs).
* Workers ``0 .. workers_per_host - 1`` share host 0 with the parent (the client), the
  next ones host 1, and so on; ``workers_per_host=None`` puts every worker on one host.
  Start-up ships the graph to every worker: over the wire, the parent's link sends the
  structure to each remote worker and then each one's own rows, one after the other, so
  a remote worker starts when its last byte has arrived (on one host, that cost is part
  of the calibrated per-node figures).

A :class:`Network` is chosen by a spec string (:func:`parse_network`, the ``--network``
option of ``fluvius partition``):

``local``
    The process scheduler on this machine (pipes, one host): the default.
``loopback``
    TCP on 127.0.0.1 between processes of this machine (a Dask ``LocalCluster``).
``BANDWIDTH:LATENCY[:WORKERS_PER_HOST]``
    TCP between hosts, e.g. ``10gbit:50us`` (one worker per host: every message crosses
    the wire) or ``25gbit:20us:8`` (8 workers per host). Bandwidth in ``gbit``, ``mbit``
    or ``kbit`` (per second); latency in ``ns``, ``us``, ``ms`` or ``s``.

>>> parse_network("10gbit:50us")
Network(name='10gbit:50us', transport='tcp', latency_s=5e-05, bandwidth_bps=10000000000.0, \
workers_per_host=1)
>>> n = parse_network("1gbit:0.2ms:4")
>>> n.host_of(5), n.hosts(9)
(1, 3)
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing
import re
import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from multiprocessing.connection import Connection

    from fluvius.graph.dag import Graph
    from fluvius.partition.calibrate import Calibration

__all__ = [
    "NETWORKS",
    "ROW_BYTES",
    "Link",
    "Network",
    "measure_tcp",
    "parse_network",
    "shipping_bytes",
]

Transport = Literal["pipe", "tcp"]


@dataclass(frozen=True, slots=True)
class Link:
    """One-way cost of a message on one link. The sender's CPU pays ``latency_s / 2 +
    bytes * byte_s`` (serialising, writing: :meth:`cpu_s`); the message then arrives
    ``latency_s / 2 + wire_latency_s + bytes * wire_byte_s`` later (:meth:`flight_s`)."""

    latency_s: float
    byte_s: float
    wire_latency_s: float = 0.0
    wire_byte_s: float = 0.0

    def cpu_s(self, nbytes: int) -> float:
        """The sender's share: serialising and writing."""
        return self.latency_s / 2 + nbytes * self.byte_s

    def flight_s(self, nbytes: int) -> float:
        """From the end of the sender's share to the message's arrival."""
        return self.latency_s / 2 + self.wire_latency_s + nbytes * self.wire_byte_s

    @property
    def one_way_s(self) -> float:
        """A small message's whole one-way time."""
        return self.latency_s + self.wire_latency_s


@dataclass(frozen=True, slots=True)
class Network:
    """Where workers run and how they reach each other (see the module docstring).

    Attributes
    ----------
    name
        The spec it was made from (``local``, ``loopback``, ``10gbit:50us``).
    transport
        ``"pipe"`` (the process scheduler) or ``"tcp"`` (``distributed.comm``).
    latency_s
        Wire latency between two hosts, one way (0 on one host).
    bandwidth_bps
        Wire bandwidth of a link, bits per second (``inf`` on one host).
    workers_per_host
        Workers per host (host 0 also runs the parent); None: all on one host.
    """

    name: str
    transport: Transport = "pipe"
    latency_s: float = 0.0
    bandwidth_bps: float = math.inf
    workers_per_host: int | None = None

    def __post_init__(self) -> None:
        if self.transport not in ("pipe", "tcp"):
            raise ValueError(f"Network.transport must be 'pipe' or 'tcp', got {self.transport!r}")
        if not self.latency_s >= 0 or not math.isfinite(self.latency_s):
            raise ValueError(f"Network.latency_s must be seconds >= 0, got {self.latency_s!r}")
        if not self.bandwidth_bps > 0:
            raise ValueError(
                f"Network.bandwidth_bps must be bits per second > 0, got {self.bandwidth_bps!r}"
            )
        per = self.workers_per_host
        if per is not None and (isinstance(per, bool) or not isinstance(per, int) or per < 1):
            raise ValueError(f"Network.workers_per_host must be an int >= 1, got {per!r}")

    def host_of(self, worker: int) -> int:
        """The host of ``worker`` (the parent is on host 0)."""
        return 0 if self.workers_per_host is None else worker // self.workers_per_host

    def hosts(self, workers: int) -> int:
        """Hosts that ``workers`` workers occupy."""
        return 1 if self.workers_per_host is None else -(-workers // self.workers_per_host)

    def link(self, cal: Calibration, a: int, b: int) -> Link:
        """The link from host ``a`` to host ``b`` (the same host: the transport alone).

        The pipe transport is the process scheduler's fitted ``latency_s`` (the runtime's
        own work on both ends included); TCP is the raw ``tcp_latency_s`` plus that same
        runtime work, ``latency_s - pipe_latency_s`` (one worker runtime, two transports).
        """
        if self.transport == "pipe":
            latency, byte_s = cal.latency_s, cal.byte_s
        else:
            runtime = max(0.0, cal.latency_s - cal.pipe_latency_s)
            latency, byte_s = cal.tcp_latency_s + runtime, cal.tcp_byte_s
        if a == b:
            return Link(latency, byte_s)
        return Link(latency, byte_s, self.latency_s, 8.0 / self.bandwidth_bps)


NETWORKS = {
    "local": Network("local"),
    "loopback": Network("loopback", "tcp"),
}
"""The named networks: ``local`` (process scheduler, pipes) and ``loopback`` (TCP, one host)."""

_BANDWIDTH = {"gbit": 1e9, "mbit": 1e6, "kbit": 1e3}
_PER_SECOND = {"ns": 1e9, "us": 1e6, "µs": 1e6, "ms": 1e3, "s": 1.0}  # divisors: 50us is 50e-6
_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"


def parse_network(spec: str | Network) -> Network:
    """The :class:`Network` of a spec string (module docstring); a Network is returned as is.

    Raises
    ------
    ValueError
        The spec is not ``local``, ``loopback`` or ``BANDWIDTH:LATENCY[:WORKERS_PER_HOST]``;
        the message says which part is wrong.
    """
    if isinstance(spec, Network):
        return spec
    text = spec.strip().lower()
    if text in NETWORKS:
        return NETWORKS[text]
    parts = text.split(":")
    hint = "expected local, loopback or BANDWIDTH:LATENCY[:WORKERS_PER_HOST], e.g. 10gbit:50us"
    if len(parts) not in (2, 3):
        raise ValueError(f"network {spec!r}: {hint}")
    bw = re.fullmatch(_NUMBER + r"\s*(gbit|mbit|kbit)(?:/s)?", parts[0])
    if bw is None or float(bw.group(1)) <= 0:
        raise ValueError(
            f"network {spec!r}: bandwidth {parts[0]!r} is not a positive number of "
            f"gbit, mbit or kbit (per second); {hint}"
        )
    lat = re.fullmatch(_NUMBER + r"\s*(ns|us|µs|ms|s)", parts[1])
    if lat is None:
        raise ValueError(
            f"network {spec!r}: latency {parts[1]!r} is not a number of ns, us, ms or s; {hint}"
        )
    per = 1
    if len(parts) == 3:
        if not parts[2].isdigit() or int(parts[2]) < 1:
            raise ValueError(
                f"network {spec!r}: workers per host {parts[2]!r} is not an integer >= 1; {hint}"
            )
        per = int(parts[2])
    return Network(
        spec.strip(),
        "tcp",
        float(lat.group(1)) / _PER_SECOND[lat.group(2)],
        float(bw.group(1)) * _BANDWIDTH[bw.group(2)],
        per,
    )


# -- measuring the TCP transport on loopback ------------------------------------------------
def _tcp_echo(conn: Connection) -> None:
    """Child: a ``distributed.comm`` listener on 127.0.0.1 that sends every message back."""
    asyncio.run(_serve_echo(conn))


async def _serve_echo(conn: Connection) -> None:
    from distributed.comm import listen
    from distributed.comm.core import CommClosedError

    closed = asyncio.Event()

    async def echo(comm: object) -> None:
        try:
            while True:
                await comm.write(await comm.read())  # type: ignore[attr-defined]
        except CommClosedError:
            closed.set()

    listener = listen("tcp://127.0.0.1:0", echo)
    await listener.start()
    conn.send(listener.contact_address)
    await closed.wait()
    listener.stop()


async def _ping(address: str, repeats: int) -> tuple[float, float, int]:
    from distributed.comm import connect

    comm = await connect(address)
    try:
        big_size = 1 << 20

        async def round_trip(payload: bytes, n: int) -> float:
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                await comm.write(payload)
                await comm.read()
                times.append(time.perf_counter() - t0)
            return statistics.median(times)

        await round_trip(b"x" * 64, 5)  # warm up
        small = await round_trip(b"x" * 64, repeats)
        big = await round_trip(b"x" * big_size, max(5, repeats // 20))
    finally:
        await comm.close()
    return small, big, big_size


@contextlib.contextmanager
def spawned_child(target: Callable[[Connection], None], *, join_s: float) -> Iterator[Connection]:
    """A spawned daemon process running ``target(its end of a pipe)``; yields the parent's
    end. On a normal exit the child gets ``join_s`` to end; whatever happens, a child still
    alive then is killed and both ends are closed. The echo partners of the calibration's
    ping-pongs (:func:`measure_tcp`, :mod:`fluvius.partition.calibrate`) run this way."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=target, args=(child,), daemon=True)
    proc.start()
    try:
        yield parent
        proc.join(join_s)
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()
        parent.close()
        child.close()


def measure_tcp(repeats: int = 200) -> tuple[float, float]:
    """``(tcp_latency_s, tcp_byte_s)`` of a ``distributed.comm`` TCP connection on
    127.0.0.1: half the median round trip of a 64-byte message with a spawned echo
    process, and half the extra round-trip time per byte of a 1 MiB one.

    Raises
    ------
    ImportError
        ``distributed`` is not installed.
    """
    import distributed.comm  # noqa: F401  (fail here, before spawning, when it is missing)

    with spawned_child(_tcp_echo, join_s=10) as parent:
        if not parent.poll(60):
            raise RuntimeError("measure_tcp: the echo process did not start within 60 s")
        address = parent.recv()
        small, big, size = asyncio.run(_ping(address, repeats))
    return small / 2, max(0.0, big - small) / 2 / size


def shipping_bytes(graph: Graph) -> tuple[int, float]:
    """``(structure bytes, bytes per node)`` that start-up ships to workers: the pickled
    structure (keys, inputs, readers, source values: the same for every worker) and the
    mean pickled row of a node (callable, params; shared objects counted once). A graph
    whose callables do not pickle (a lambda in a notebook) counts :data:`ROW_BYTES` a
    node."""
    import pickle

    from fluvius.engine.plan import graph_tables, node_row
    from fluvius.graph.node import NodeSpec

    structure = len(pickle.dumps(graph_tables(graph), protocol=5))
    rows = [node_row(r, it) for r, it in enumerate(graph.items) if isinstance(it, NodeSpec)]
    try:
        per_node = len(pickle.dumps(rows, protocol=5)) / max(1, len(rows))
    except Exception:
        per_node = float(ROW_BYTES)
    return structure, per_node


ROW_BYTES = 100
"""Bytes a node's row is counted when the graph's callables do not pickle."""
