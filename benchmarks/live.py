"""`fluvius live`: replay throughput, UDP receive -> cycle-end latency, maximum lossless rate.

Usage::

    python benchmarks/live.py --repeats 3 --out benchmarks/results/live.json

Figures (medians over ``--repeats`` runs; the load average is printed with them):

* **replay at speed=0** (issue 13): the IEX sample (a synthetic TOPS capture when the sample
  is absent) through :class:`fluvius.live.LiveRun` (what ``fluvius live SPEC --feed
  iex+pcap://…?speed=0`` runs) with a per-symbol graph over *every* symbol that quotes or
  trades (or the ``--symbols N`` busiest): spread in bp, its rolling mean (50), mid returns
  and their rolling std (50),
  VWAP and volume of every trade (library ops only). Events/s end to end = messages of
  the capture / wall seconds of the run (graph build and start-up included), and / the
  seconds of the cycle loop alone (``stats.loop_seconds``). Overhead
  against decoding alone = the loop's time / the time of the same capture through the
  feed's decoder alone (``ColumnarSegmentDecoder`` over every datagram, payloads in
  memory), against reading the capture + decoding (what the feed does before the graph),
  and against decoding + adapting (``DatagramAdapter.batch``).
* **UDP latency**: a child process sends the capture's datagrams to 127.0.0.1, evenly
  paced at ``--rates`` datagrams/s; ``LiveRun`` on ``iex+udp://`` runs a 5-symbol graph
  (the same nodes). Latency per datagram = end of the cycle that applied it
  (``time.time_ns()``) minus its receive stamp: p50 / p99 / max. Two receive stamps
  (``--stamps``): ``read``, the time the process read the datagram off the socket (in the
  socket callback, before decoding; the feed's default), and ``kernel``, the kernel's
  ``SO_TIMESTAMPNS`` receive time (the datagram reached the socket; this also counts the
  kernel waking the sleeping process). Two paths (``--paths``), alternated within each
  repeat: ``direct`` (what ``fluvius live`` does with the serial scheduler: the cycle runs
  in the socket callback) and ``hop`` (the cycle runs in the runner's task, one
  event-loop step after the callback: what the process scheduler does, and what the serial
  one did before). Receive modes (``--polls``, alternated too): ``epoll`` (the default:
  sleep between datagrams), ``busy`` (``?poll=busy``: spin on the socket without end) and
  ``spin=S`` (spin for up to S seconds after each datagram), each with the receiving
  process's CPU seconds per wall second while receiving (``cpu_per_s``: 1.0 is a whole
  core) and the garbage collections it ran (per generation). ``--loops asyncio,uvloop``
  also alternates the event loop (uvloop is not a dependency: install it to compare).
* **stages** (``--parts stages``): where one datagram's time goes on the direct path, with
  the kernel's stamp (``stamp=kernel``) and probes around the feed and the session, per
  datagram that set a source: kernel arrival -> user-space read (the socket callback took
  it) -> decoded -> adapted (``DatagramAdapter``, health) -> cycle start
  (``Session.cycle_now`` entered) -> sources set -> cycle end; p50/p99 of each stage, of
  kernel -> end and read -> end, the mean of each stage over the slowest 1 %, and the
  collections (count, pauses, how many datagrams' paths they overlapped). The probes cost
  a few ``time.time_ns()`` calls per datagram. Rates ``--rates``, modes ``--polls``.
* **maximum lossless rate**: ``fluvius iex replay --speed 0 --rate R`` (the replayer a user
  runs) sends a long synthetic capture (``--messages``) to ``fluvius live``'s receiver
  (5-symbol graph); loss = messages missing in sequence gaps + datagrams dropped on
  receive. The maximum lossless rate is the highest ``R`` of ``--sweep`` with no loss in
  any repeat; the replayer's default must not exceed it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results
from fluvius.feeds.adapter import DatagramAdapter
from fluvius.feeds.iex import ColumnarSegmentDecoder, iter_events
from fluvius.feeds.iex.encode import synthetic_tops
from fluvius.feeds.iex.replay import iter_datagrams
from fluvius.graph.spec import spec_to_graph
from fluvius.live import LiveRun
from fluvius.scheduling.serial import SerialScheduler, SerialSession

SAMPLE = Path(__file__).resolve().parents[2] / "shared/data/iex/TOPS16_20170710_sample.pcap.gz"
WINDOW = 50


def per_symbol_spec(symbols: list[str]) -> dict[str, Any]:
    """Spread, rolling statistics, VWAP and volume per symbol (library ops only)."""
    sources: dict[str, Any] = {}
    nodes: dict[str, Any] = {}
    for s in symbols:
        for kind in ("quote", "mid", "trade"):
            sources[f"{kind}/{s}"] = None
        nodes[f"spread_bp/{s}"] = {"op": "spread_bp", "inputs": [f"quote/{s}"]}
        nodes[f"avg_spread_bp/{s}"] = {
            "op": "rolling_mean", "inputs": [f"spread_bp/{s}"], "params": {"window": WINDOW},
        }  # fmt: skip
        nodes[f"ret/{s}"] = {"op": "mid_return", "inputs": [f"mid/{s}"], "cutoff": False}
        nodes[f"vol/{s}"] = {
            "op": "rolling_std", "inputs": [f"ret/{s}"], "params": {"window": WINDOW},
        }  # fmt: skip
        nodes[f"vwap/{s}"] = {"op": "trade_vwap", "inputs": [f"trade/{s}"]}
        nodes[f"volume/{s}"] = {"op": "trade_volume", "inputs": [f"trade/{s}"]}
    return {"sources": sources, "nodes": nodes}


def busiest(path: Path, n: int | None) -> list[str]:
    """Symbols by quotes + trades, most active first (all of them when ``n`` is None)."""
    counts: Counter[str] = Counter(
        e.symbol for e in iter_events(path) if e.kind in ("quote", "trade")
    )
    return [s for s, _ in counts.most_common(n)]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- replay at speed 0 ------------------------------------------------------------------------
def bench_replay(path: Path, repeats: int, n_symbols: int | None = None) -> dict[str, Any]:
    symbols = busiest(path, n_symbols)
    graph = spec_to_graph(per_symbol_spec(symbols))
    url = f"iex+pcap://{path}?speed=0"
    walls, loops, messages, cycles = [], [], 0, 0
    for _ in range(repeats):
        report = asyncio.run(LiveRun(graph, [url]).run())
        walls.append(report.seconds)
        loops.append(report.run.stats["loop_seconds"])
        messages = next(iter(report.feeds.values()))["messages"]
        cycles = report.run.stats["cycles"]
    datagrams = [p for _, p in iter_datagrams(path)]

    def decode_only() -> float:
        decoder = ColumnarSegmentDecoder()
        t0 = time.perf_counter()
        for i, p in enumerate(datagrams):
            decoder.decode(p, i)
        return time.perf_counter() - t0

    def decode_adapt() -> float:
        decoder, adapter = ColumnarSegmentDecoder(), DatagramAdapter(symbols)
        t0 = time.perf_counter()
        for i, p in enumerate(datagrams):
            adapter.batch(decoder.decode(p, i))
        return time.perf_counter() - t0

    def read_only() -> float:
        t0 = time.perf_counter()
        for _ in iter_datagrams(path):
            pass
        return time.perf_counter() - t0

    read = statistics.median(read_only() for _ in range(repeats))
    decode = statistics.median(decode_only() for _ in range(repeats))
    adapt = statistics.median(decode_adapt() for _ in range(repeats))
    wall, loop = statistics.median(walls), statistics.median(loops)
    return {
        "capture": path.name,
        "symbols": len(symbols),
        "nodes": len(graph.node_keys),
        "messages": messages,
        "datagrams": len(datagrams),
        "cycles": cycles,
        "wall_seconds": wall,
        "loop_seconds": loop,
        "events_per_second": messages / wall,
        "events_per_second_in_cycles": messages / loop,
        "read_seconds": read,
        "decode_seconds": decode,
        "decode_adapt_seconds": adapt,
        "overhead_vs_decode": loop / decode,
        "overhead_vs_read_decode": loop / (read + decode),
        "overhead_vs_decode_adapt": loop / adapt,
        "load": load(),
    }


# -- UDP latency ----------------------------------------------------------------------------
def send_paced(path: str, port: int, rate: float) -> None:
    """Child: send every datagram of ``path`` to 127.0.0.1:port, one each 1/rate s."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payloads = [p for _, p in iter_datagrams(path)]
    gap = 1.0 / rate
    t0 = time.perf_counter()
    spin = os.environ.get("FLUVIUS_BENCH_SENDER") == "spin"  # --sender spin: never sleep
    for i, payload in enumerate(payloads):
        sock.sendto(payload, ("127.0.0.1", port))
        due = t0 + (i + 1) * gap
        if spin:
            while time.perf_counter() < due:
                pass
            continue
        ahead = due - time.perf_counter()
        if ahead > 0:
            time.sleep(ahead)


class _HopSession(SerialSession):
    """A serial session the runner treats as one that must be awaited (the ``hop`` path)."""

    runs_inline = False  # type: ignore[assignment]


class _HopScheduler(SerialScheduler):
    def session(self, graph: Any) -> SerialSession:
        return _HopSession(graph, self.error_policy, self.chunk)


def poll_query(poll: str) -> str:
    """The feed URL options of a receive mode: ``epoll``, ``busy`` or ``spin=SECONDS``."""
    return f"&{poll}" if poll.startswith("spin=") else f"&poll={poll}"


async def _receive(
    graph: Any, sender: list[str], stamp: str = "read", path: str = "direct", poll: str = "epoll"
) -> Any:
    """Run the receiver while ``sender`` sends; the report, with ``stats["receive"]``: CPU
    seconds per wall second of this process while receiving, and collections by generation."""
    scheduler = _HopScheduler("isolate") if path == "hop" else "serial"
    url = f"iex+udp://127.0.0.1:0?stamp={stamp}{poll_query(poll)}"
    run = LiveRun(graph, [url], lag_warn_s=1e9, scheduler=scheduler)
    task = asyncio.create_task(run.run())
    feed: Any = run.feeds[0]
    await asyncio.wait_for(run.ready.wait(), 60)
    collections = [0, 0, 0]

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections[info["generation"]] += 1

    gc.callbacks.append(count)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    child = await asyncio.create_subprocess_exec(
        *[a.replace("{port}", str(feed.port)) for a in sender], stdout=subprocess.PIPE
    )
    await child.communicate()
    (health,) = run.state.feeds.values()
    seen = -1
    while health.datagrams != seen:  # the receiver drains what is queued, then stops
        seen = health.datagrams
        await asyncio.sleep(0.5)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    gc.callbacks.remove(count)
    run.stop("sender done")
    report = await task
    report.run.stats["receive"] = {"cpu_per_s": cpu / wall, "gc_collections": collections}
    return report


def _time_cycles(session: Any, mark: Any) -> None:
    """Stamp ``mark`` with the cycle's start (0), its batch applied (1) and its end (2)."""
    cycle_now, apply_batch, clock = session.cycle_now, session._apply_batch, time.time_ns

    def timed_cycle_now(batch: Any) -> Any:
        mark[0] = clock()
        result = cycle_now(batch)
        mark[2] = clock()
        return result

    def timed_apply(batch: Any) -> Any:
        out = apply_batch(batch)
        mark[1] = clock()
        return out

    session.cycle_now, session._apply_batch = timed_cycle_now, timed_apply


class _Probe:
    """Per-datagram stamps (``time.time_ns()``) along the direct path, for ``--parts stages``:
    kernel arrival (``SO_TIMESTAMPNS``, the feed's ``stamp=kernel``), user-space read (the
    socket callback took it off the socket), decoded, adapted, cycle start
    (``Session.cycle_now`` entered), sources set (``_apply_batch`` returned), cycle end
    (``cycle_now`` returned), and the collector's pauses (``gc.callbacks``)."""

    STAGES = ("kernel", "read", "decoded", "adapted", "cycle_start", "sources_set", "cycle_end")

    def __init__(self, size: int = 1 << 17) -> None:
        # the stamps in flat arrays, not an object per datagram: the probe must not make
        # garbage the collector then scans (it would add collections the run does not have)
        self.stamps = array("q", bytes(8 * len(self.STAGES) * size))
        self.index: dict[int, int] = {}  # kernel stamp -> row of ``stamps``
        self.gc: list[tuple[int, int, int]] = []  # (start, stop, generation)
        self._cycle = array("q", [0, 0, 0])
        self._gc_start = 0

    def wrap_feed(self, udp: Any) -> None:
        live, index, stamps, clock = udp.feed, self.index, self.stamps, time.time_ns
        receive, decode, take = live._receive, live.decoder.decode, live.on_batch
        width = len(self.STAGES)
        limit = len(stamps) // width

        def timed_receive(data: bytes, recv_ns: int) -> None:
            read = clock()
            i = len(index)
            if i < limit:
                index[recv_ns] = i
                stamps[i * width : i * width + 2] = array("q", (recv_ns, read))
            receive(data, recv_ns)

        def timed_decode(data: bytes, recv_ns: int) -> Any:
            batch = decode(data, recv_ns)
            i = index.get(recv_ns)
            if i is not None:
                stamps[i * width + 2] = clock()
            return batch

        def timed_take(batch: Any) -> Any:  # the feed adapts each datagram in on_batch
            out = take(batch)
            i = index.get(batch.recv_ns)
            if i is not None:
                stamps[i * width + 3] = clock()
            return out

        live._receive, live.decoder.decode, live.on_batch = timed_receive, timed_decode, timed_take

    def wrap_session(self, session: Any) -> None:
        _time_cycles(session, self._cycle)

    def after_cycle(self, used: list[Any]) -> None:
        width, stamps = len(self.STAGES), self.stamps
        for u in used:
            i = self.index.get(u.recv_ns)
            if i is not None:
                stamps[i * width + 4 : i * width + 7] = self._cycle

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.time_ns()
        else:
            self.gc.append((self._gc_start, time.time_ns(), info["generation"]))

    def summary(self) -> dict[str, Any]:
        """p50/p99 of each stage's share and of the totals; what the slowest 1 % spent where."""
        width = len(self.STAGES)
        rows = [
            r for i in range(len(self.index)) if (r := self.stamps[i * width : (i + 1) * width])[-1]
        ]
        names = [f"{a}->{b}" for a, b in pairwise(self.STAGES)]
        deltas = [[(b - a) / 1e3 for a, b in pairwise(r)] for r in rows]
        totals = [(r[-1] - r[0]) / 1e3 for r in rows]
        from_read = [(r[-1] - r[1]) / 1e3 for r in rows]
        gcs = sorted(self.gc)
        hit = [any(s < r[-1] and e > r[0] for s, e, _ in gcs) for r in rows]  # naive: few gcs

        def pct(xs: list[float], q: float) -> float:
            xs = sorted(xs)
            return xs[min(len(xs) - 1, int(len(xs) * q))] if xs else math.nan

        order = sorted(range(len(rows)), key=totals.__getitem__)
        tail = order[int(len(order) * 0.99) :]
        return {
            "datagrams": len(rows),
            "stages_us": {
                n: {
                    "p50": pct([d[i] for d in deltas], 0.5),
                    "p99": pct([d[i] for d in deltas], 0.99),
                }
                for i, n in enumerate(names)
            },
            "kernel_to_end_us": {"p50": pct(totals, 0.5), "p99": pct(totals, 0.99)},
            "read_to_end_us": {"p50": pct(from_read, 0.5), "p99": pct(from_read, 0.99)},
            "slowest_1pct_mean_us": {
                n: statistics.fmean(deltas[j][i] for j in tail) if tail else math.nan
                for i, n in enumerate(names)
            },
            "gc_collections": [sum(1 for *_, g in gcs if g == k) for k in range(3)],
            "gc_pause_us": {  # median and max pause per generation
                k: [pct(p, 0.5), max(p)]
                for k in range(3)
                if (p := [(e - s) / 1e3 for s, e, g in gcs if g == k])
            },
            "datagrams_with_gc": sum(hit),
            "slowest_1pct_with_gc": sum(hit[j] for j in tail),
        }


class _TailProbe:
    """Per-datagram attribution of the latency tail, for ``--parts tail``: with the feed's
    ``read`` stamp (the figure of the target), each datagram that set a source gets a row:
    its stamps (read, adapting: the adapter starts on it, adapted, cycle start, sources set,
    cycle end, bookkeeping done), its messages, quotes and trades, the sources and symbols
    its cycle set, the nodes recomputed, the idle gap before it (since the process last
    finished a datagram's work), how many datagrams (with events) were read between the
    previous cycle and its own (``group``) and how many of them before it (``position``:
    the others were read after it, and its cycle waited for them: ``queued``), the garbage
    collections that overlapped its path, and the thread's involuntary context switches and
    minor page faults between its read and the end of its cycle (``getrusage``)."""

    STAMPS = ("read", "adapting", "adapted", "cycle_start", "sources_set", "cycle_end")
    SHOWN = ("messages", "quotes", "trades", "sources", "recomputed", "group", "position")

    COLS = (
        "read", "adapting", "adapted", "cycle_start", "sources_set", "cycle_end", "booked",
        "messages", "quotes", "trades", "sources", "symbols", "recomputed", "gap",
        "group", "position", "preempted", "faults", "gc",
    )  # fmt: skip

    def __init__(self, size: int = 1 << 15) -> None:
        self.rows = array("q", bytes(8 * len(self.COLS) * size))
        self.index: dict[int, int] = {}  # read stamp -> row
        self.gc: list[tuple[int, int, int]] = []
        self._mark = array("q", [0, 0, 0])
        self._last_done = 0  # time the process last finished a datagram's work
        self._since_cycle = 0  # datagrams with events read since the last cycle ended
        self._usage: dict[int, tuple[int, int]] = {}  # row -> (nivcsw, minflt) at read
        self._gc_start = 0

    def _col(self, name: str) -> int:
        return self.COLS.index(name)

    def wrap_feed(self, udp: Any) -> None:
        live, index, rows, clock = udp.feed, self.index, self.rows, time.time_ns
        receive, take, width = live._receive, live.on_batch, len(self.COLS)
        decode = live.decoder.decode
        limit = len(rows) // width
        usage, thread = resource.getrusage, resource.RUSAGE_THREAD
        c = self._col
        adapting_c, adapted_c, msgs_c, gap_c, pos_c = (
            c("adapting"), c("adapted"), c("messages"), c("gap"), c("position"),
        )  # fmt: skip
        quotes_c, trades_c = c("quotes"), c("trades")
        ru_at_read: list[Any] = [None]

        def timed_decode(data: bytes, recv_ns: int) -> Any:
            batch = decode(data, recv_ns)
            i = len(index)
            if len(batch) and i < limit:
                index[recv_ns] = i
                base = i * width
                rows[base] = recv_ns
                rows[base + msgs_c] = len(batch)
                rows[base + quotes_c] = batch.kind_count("quote")
                rows[base + trades_c] = batch.kind_count("trade")
                rows[base + gap_c] = recv_ns - self._last_done if self._last_done else -1
                rows[base + pos_c] = self._since_cycle
                self._since_cycle += 1
                ru = ru_at_read[0]
                self._usage[i] = (ru.ru_nivcsw, ru.ru_minflt)
            return batch

        def timed_receive(data: bytes, recv_ns: int) -> None:
            ru_at_read[0] = usage(thread)
            receive(data, recv_ns)
            if recv_ns not in index:
                self._last_done = clock()  # no event: nothing more to do for it

        def timed_take(batch: Any) -> Any:  # the feed adapts each datagram in on_batch
            i = index.get(batch.recv_ns)
            if i is not None:
                rows[i * width + adapting_c] = clock()
            out = take(batch)
            now = clock()
            if i is not None:
                rows[i * width + adapted_c] = now
            if not out:
                self._last_done = now
            return out

        live._receive, live.decoder.decode, live.on_batch = timed_receive, timed_decode, timed_take

    def wrap_session(self, session: Any) -> None:
        _time_cycles(session, self._mark)

    def after_cycle(self, used: list[Any], batch: Any, result: Any, booked: int) -> None:
        width, rows, c = len(self.COLS), self.rows, self._col
        ru = resource.getrusage(resource.RUSAGE_THREAD)
        symbols = len({k.partition("/")[2] for k in batch})
        gcs = self.gc
        for u in used:
            i = self.index.get(u.recv_ns)
            if i is None:
                continue
            base = i * width
            rows[base + 3 : base + 6] = self._mark
            rows[base + c("booked")] = booked
            rows[base + c("sources")] = len(batch)
            rows[base + c("symbols")] = symbols
            rows[base + c("recomputed")] = result.recomputed
            rows[base + c("group")] = self._since_cycle
            n0, f0 = self._usage.pop(i, (ru.ru_nivcsw, ru.ru_minflt))
            rows[base + c("preempted")] = ru.ru_nivcsw - n0
            rows[base + c("faults")] = ru.ru_minflt - f0
            read = rows[base]
            rows[base + c("gc")] = sum(1 for s, e, _ in gcs[-4:] if s < booked and e > read)
        self._last_done = booked
        self._since_cycle = 0

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.time_ns()
        else:
            self.gc.append((self._gc_start, time.time_ns(), info["generation"]))

    def table(self) -> list[dict[str, int]]:
        width = len(self.COLS)
        out = []
        for i in range(len(self.index)):
            r = self.rows[i * width : (i + 1) * width]
            if r[self._col("booked")]:
                out.append(dict(zip(self.COLS, r, strict=True)))
        return out

    @staticmethod
    def cause(r: dict[str, int], idle_us: float) -> str:
        """The first that applies: the thread was preempted during the datagram's path, a
        collection ran in it, it was read in a wake-up with other datagrams (a burst:
        ``queued``), it took a page fault, it came after an idle gap (``idle``), or none."""
        if r["preempted"] > 0:
            return "preempted"
        if r["gc"] > 0:
            return "gc"
        if r["group"] - r["position"] > 1:  # read before others that its cycle waited for
            return "queued"
        if r["faults"] > 0:
            return "faulted"
        if r["gap"] < 0 or r["gap"] > idle_us * 1e3:
            return "idle"
        return "none"

    def summary(self, idle_us: float = 500.0) -> dict[str, Any]:
        """The slowest 1 % (read -> cycle end >= p99) against the median datagram: what
        they were and where their time went."""
        rows = self.table()
        for r in rows:
            r["latency"] = r["cycle_end"] - r["read"]
        rows.sort(key=lambda r: r["latency"])
        n = len(rows)
        if not n:
            return {"datagrams": 0}
        tail = rows[int(n * 0.99) :]
        body = rows[int(n * 0.25) : int(n * 0.75)]  # the middle half, for comparison

        def describe(group: list[dict[str, int]]) -> dict[str, Any]:
            def med(f: Any) -> float:  # medians: one preempted datagram skews a mean
                return round(statistics.median(f(r) for r in group), 2)

            def share(f: Any) -> float:
                return round(sum(1 for r in group if f(r)) / len(group), 3)

            stages = {
                "read->adapting": lambda r: (r["adapting"] - r["read"]) / 1e3,
                "adapting->adapted": lambda r: (r["adapted"] - r["adapting"]) / 1e3,
                "adapted->cycle_start": lambda r: (r["cycle_start"] - r["adapted"]) / 1e3,
                "cycle_start->sources_set": lambda r: (r["sources_set"] - r["cycle_start"]) / 1e3,
                "sources_set->cycle_end": lambda r: (r["cycle_end"] - r["sources_set"]) / 1e3,
            }
            return {
                "count": len(group),
                "latency_us": med(lambda r: r["latency"] / 1e3),
                "stage_us": {k: med(f) for k, f in stages.items()},
                "bookkeeping_us": med(lambda r: (r["booked"] - r["cycle_end"]) / 1e3),
                "messages": med(lambda r: r["messages"]),
                "quotes": med(lambda r: r["quotes"]),
                "trades": med(lambda r: r["trades"]),
                "sources": med(lambda r: r["sources"]),
                "symbols": med(lambda r: r["symbols"]),
                "recomputed": med(lambda r: r["recomputed"]),
                "after_idle_share": share(lambda r: r["gap"] < 0 or r["gap"] > idle_us * 1e3),
                "gap_us_median": statistics.median(r["gap"] / 1e3 for r in group),
                "queued_share": share(lambda r: r["group"] - r["position"] > 1),
                "behind_another_share": share(lambda r: r["position"] > 0),
                "group": med(lambda r: r["group"]),
                "preempted_share": share(lambda r: r["preempted"] > 0),
                "faulted_share": share(lambda r: r["faults"] > 0),
                "faults": med(lambda r: r["faults"]),
                "gc_share": share(lambda r: r["gc"] > 0),
                "big_share": share(lambda r: r["messages"] > 8),
                "causes": dict(Counter(self.cause(r, idle_us) for r in group)),
            }

        worst = rows[-min(len(tail), 12) :]
        return {
            "datagrams": n,
            "p50_us": rows[n // 2]["latency"] / 1e3,
            "p99_us": rows[int(n * 0.99)]["latency"] / 1e3,
            "tail": describe(tail),
            "middle": describe(body),
            "gc_collections": [sum(1 for *_, g in self.gc if g == k) for k in range(3)],
            "slowest": [
                {
                    "latency_us": round(r["latency"] / 1e3, 1),
                    "stages_us": [round((r[b] - r[a]) / 1e3, 1) for a, b in pairwise(self.STAMPS)],
                    **{k: r[k] for k in (*self.SHOWN, "preempted", "faults", "gc")},
                    "gap_us": round(r["gap"] / 1e3, 1),
                }
                for r in worst
            ],
        }


class _ProbeRun(LiveRun):
    probe: _Probe | _TailProbe

    def _after_cycle(
        self, session: Any, result: Any, batch: Any, used: Any, *, clocked: bool
    ) -> None:
        probe = self.probe
        if isinstance(probe, _Probe):
            probe.after_cycle(used)
            super()._after_cycle(session, result, batch, used, clocked=clocked)
            return
        super()._after_cycle(session, result, batch, used, clocked=clocked)
        probe.after_cycle(used, batch, result, time.time_ns())


class _ProbeScheduler(SerialScheduler):
    def __init__(self, probe: _Probe | _TailProbe) -> None:
        super().__init__(error_policy="isolate")
        self.probe = probe

    def session(self, graph: Any) -> SerialSession:
        session = super().session(graph)
        self.probe.wrap_session(session)
        return session


async def _receive_probed(
    graph: Any, sender: list[str], poll: str, probe: _Probe | _TailProbe | None = None
) -> dict[str, Any]:
    """:func:`_receive` on the direct path with a probe: the stage probe (kernel stamps) by
    default, or the tail probe (read stamps, the feed's default)."""
    probe = probe if probe is not None else _Probe()
    stamp = "kernel" if isinstance(probe, _Probe) else "read"
    url = f"iex+udp://127.0.0.1:0?stamp={stamp}{poll_query(poll)}"
    run = _ProbeRun(graph, [url], lag_warn_s=1e9, scheduler=_ProbeScheduler(probe))
    run.probe = probe
    task = asyncio.create_task(run.run())
    await asyncio.wait_for(run.ready.wait(), 60)
    feed: Any = run.feeds[0]
    assert feed.feed.on_batch is not None  # set by serve() before the run waits
    probe.wrap_feed(feed)
    gc.callbacks.append(probe.on_gc)
    try:
        child = await asyncio.create_subprocess_exec(
            *[a.replace("{port}", str(feed.port)) for a in sender], stdout=subprocess.PIPE
        )
        await child.communicate()
        (health,) = run.state.feeds.values()
        seen = -1
        while health.datagrams != seen:
            seen = health.datagrams
            await asyncio.sleep(0.5)
    finally:
        gc.callbacks.remove(probe.on_gc)
    run.stop("sender done")
    report = await task
    out = probe.summary()
    out["latency_us"] = report.run.stats.get("latency_us")
    return out


def bench_probed(
    path: Path, rates: list[float], repeats: int, polls: tuple[str, ...], part: str
) -> list[dict[str, Any]]:
    """Per repeat, on the direct path: ``stages``, the per-stage breakdown (kernel arrival ->
    cycle end); ``tail``, what the slowest 1 % of datagrams were and where their time went."""
    graph = spec_to_graph(per_symbol_spec(busiest(path, 5)))
    out = []
    for rate in rates:
        for _ in range(repeats):
            for poll in polls:
                cmd = [sys.executable, __file__, "_send", str(path), "{port}", str(rate)]
                probe = _TailProbe() if part == "tail" else None
                probed = asyncio.run(_receive_probed(graph, cmd, poll, probe))
                row = {"rate": rate, "poll": poll, **probed, "load": load()}
                print(f"  {part} at {rate:,.0f}/s, {poll}:", json.dumps(row), flush=True)
                out.append(row if probe is None else {**row, "rows": probe.table()})
    return out


def capture_messages(path: Path) -> int:
    decoder = ColumnarSegmentDecoder()
    for i, payload in iter_datagrams(path):
        decoder.decode(payload, i)
    return int(decoder.report.messages)


def _run_on(loop: str, main: Any) -> Any:
    """``asyncio.run(main)`` on the standard event loop or on uvloop's (if installed)."""
    if loop == "asyncio":
        return asyncio.run(main)
    import uvloop  # not a dependency: pip install uvloop to compare

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def bench_latency(
    path: Path,
    rates: list[float],
    repeats: int,
    stamps: list[str],
    paths: list[str],
    loops: tuple[str, ...] = ("asyncio",),
    polls: tuple[str, ...] = ("epoll",),
) -> list[dict[str, Any]]:
    graph = spec_to_graph(per_symbol_spec(busiest(path, 5)))
    messages = capture_messages(path)
    out = []
    for rate in rates:
        for stamp in stamps:
            variants = [(h, lp, p) for h in paths for lp in loops for p in polls]
            runs: dict[tuple[str, str, str], list[dict[str, Any]]] = {v: [] for v in variants}
            loads = []
            for _ in range(repeats):
                for how, loop, poll in variants:  # alternated: they share the machine's moods
                    cmd = [sys.executable, __file__, "_send", str(path), "{port}", str(rate)]
                    pinned = os.sched_getaffinity(0)
                    if len(pinned) == 1:
                        cmd.append(str(min(pinned)))
                    report = _run_on(loop, _receive(graph, cmd, stamp, how, poll))
                    (health,) = report.feeds.values()
                    lost = messages - int(health["messages"])
                    stats = report.run.stats
                    row = {**stats["latency_us"], **stats["receive"], "loss": lost}
                    runs[how, loop, poll].append({**row, "logged": _loss(health)})
                    loads.append(os.getloadavg()[0])
            for how, loop, poll in variants:
                rows = runs[how, loop, poll]
                out.append(
                    {
                        "rate": rate,
                        "stamp": stamp,
                        "path": how,
                        "loop": loop,
                        "poll": poll,
                        "updates": rows[0]["count"],
                        "p50_us": statistics.median(r["p50"] for r in rows),
                        "p99_us": statistics.median(r["p99"] for r in rows),
                        "max_us": statistics.median(r["max"] for r in rows),
                        "p99_us_runs": [r["p99"] for r in rows],
                        "cpu_per_s": statistics.median(r["cpu_per_s"] for r in rows),
                        "gc_collections_runs": [r["gc_collections"] for r in rows],
                        "loss": sum(r["loss"] for r in rows),
                        "logged_loss": sum(r["logged"] for r in rows),
                        "load": f"{min(loads):.2f}-{max(loads):.2f}",
                    }
                )
                where = f"{stamp} stamp, {how}, {loop}, {poll}"
                print(f"  latency at {rate:,.0f}/s, {where}: {out[-1]}", flush=True)
    return out


def _loss(health: dict[str, Any]) -> int:
    return int(health["gap_messages"]) + int(health["drops"])


# -- maximum lossless rate ------------------------------------------------------------------
def bench_lossless(messages: int, rates: list[float], repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        cap = synthetic_tops(messages, n_symbols=500, seed=13)
        path = cap.write(Path(tmp) / "long.pcap")
        datagrams = sum(1 for _ in iter_datagrams(path))
        graph = spec_to_graph(per_symbol_spec(busiest(path, 5)))
        fluvius = str(Path(sys.executable).with_name("fluvius"))
        rows = []
        for rate in rates:
            losses: list[int] = []
            logged: list[int] = []  # what the feed counted: gap messages + drops
            for _ in range(repeats):
                cmd = [fluvius, "iex", "replay", str(path), "--to", "127.0.0.1:{port}"]
                cmd += ["--speed", "0", "--rate", str(rate), "--json"]
                report = asyncio.run(_receive(graph, cmd))
                (health,) = report.feeds.values()
                losses.append(messages - int(health["messages"]))  # gaps, drops, the tail
                logged.append(_loss(health))
            rows.append({"rate": rate, "losses": losses, "logged": logged, "load": load()})
            print(f"  lossless sweep {rate:,.0f}/s: losses {losses}", flush=True)
    lossless = [r["rate"] for r in rows if not any(r["losses"])]
    bad = [r["rate"] for r in rows if any(r["losses"])]
    below_first_loss = [r for r in lossless if not bad or r < min(bad)]
    return {
        "messages": messages,
        "datagrams": datagrams,
        "sweep": rows,
        "max_lossless_rate": max(below_first_loss) if below_first_loss else None,
        "rcvbuf_bytes_granted": _granted_rcvbuf(),
    }


def _granted_rcvbuf() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    sock.close()
    return int(granted)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_send":
        if len(sys.argv) > 5:  # the receiver is pinned: keep off its CPU
            cpus = set(range(os.cpu_count() or 1)) - {int(sys.argv[5])}
            os.sched_setaffinity(0, cpus or {0})
        send_paced(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rates", default="1000,5000", help="paced rates of the latency runs")
    ap.add_argument("--stamps", default="read", help="receive stamps: read, kernel")
    ap.add_argument("--paths", default="direct", help="cycle paths: direct, hop")
    ap.add_argument(
        "--polls", default="epoll,busy,spin=0.002", help="receive modes: epoll, busy, spin=S"
    )
    ap.add_argument("--loops", default="asyncio", help="event loops: asyncio, uvloop")
    ap.add_argument(
        "--pin", type=int, default=None, help="latency: run the receiver on this CPU only"
    )
    ap.add_argument(
        "--sender",
        default="sleep",
        choices=("sleep", "spin"),
        help="latency: the sender sleeps between datagrams, or spins (its CPU never idles)",
    )
    ap.add_argument("--sweep", default="25000,50000,100000,200000,1000000")
    ap.add_argument("--messages", type=int, default=400_000, help="lossless-sweep capture")
    ap.add_argument(
        "--parts",
        default="replay,latency,lossless",
        help="comma-separated: replay, latency, stages (per-stage breakdown), tail (what the "
        "slowest 1 %% were), lossless",
    )
    ap.add_argument("--symbols", type=int, default=None, help="replay graph: N busiest symbols")
    ap.add_argument("--capture", default=None, help="capture to replay (default: the sample)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    os.environ["FLUVIUS_BENCH_SENDER"] = args.sender  # the sender children read it
    with tempfile.TemporaryDirectory() as tmp:
        if args.capture:
            path = Path(args.capture)
        elif SAMPLE.exists():
            path = SAMPLE
        else:
            path = synthetic_tops(60_000, n_symbols=2000, seed=1).write(Path(tmp) / "s.pcap")
        doc: dict[str, Any] = {}
        print(f"load average {load()}", flush=True)
        if "replay" in parts:
            doc["replay"] = bench_replay(path, args.repeats, args.symbols)
            print("replay at speed=0:", json.dumps(doc["replay"], indent=1), flush=True)
        if "latency" in parts:
            rates = [float(r) for r in args.rates.split(",")]
            stamps, paths = args.stamps.split(","), args.paths.split(",")
            loops, polls = tuple(args.loops.split(",")), tuple(args.polls.split(","))
            if args.pin is not None:
                os.sched_setaffinity(0, {args.pin})
            doc["latency"] = bench_latency(path, rates, args.repeats, stamps, paths, loops, polls)
        if "stages" in parts:
            rates = [float(r) for r in args.rates.split(",")]
            polls = tuple(args.polls.split(","))
            doc["stages"] = bench_probed(path, rates, args.repeats, polls, "stages")
        if "tail" in parts:
            rates = [float(r) for r in args.rates.split(",")]
            polls = tuple(args.polls.split(","))
            doc["tail"] = bench_probed(path, rates, args.repeats, polls, "tail")
    if "lossless" in parts:
        rates = [float(r) for r in args.sweep.split(",")]
        doc["lossless"] = bench_lossless(args.messages, rates, args.repeats)
        print("lossless:", json.dumps(doc["lossless"], indent=1), flush=True)
    write_results(args.out, doc)


if __name__ == "__main__":
    main()
