"""The live dashboard: does a browser attached to it slow the ticks? Is the page responsive?

Usage::

    python benchmarks/dashboard.py --repeats 4 --out benchmarks/results/dashboard.json
    python benchmarks/dashboard.py --repeats 3 --loops 4 --rate 2500 --modes no-http,browser

The IEX TOPS sample (``--capture``, default the shared sample; a synthetic capture when it
is absent) replays at ``speed=0`` through :class:`fluvius.live.LiveRun` (what ``fluvius
live`` runs) into a per-symbol graph over ``--symbols`` of its symbols (default all of
them, 7,799 on the sample: ~47,000 keys): per symbol the feed's ``quote``, ``mid`` and
``trade`` sources, ``mean`` (rolling mean of the mid over 20), ``high`` (rolling max over
50) and ``dev`` (mid - mean); one ``index/mean`` across symbols. At ``speed=0`` the cycles
are the same on every run (one per datagram), so runs compare cycle for cycle.

**How long a run is.** One pass of the sample is 12,443 cycles in 0.7 s: its p99 is the
124 slowest cycles, and the idle server alone moved it by -9 … +23 %. A run replays the
capture ``--loops`` times (default 6: 74,658 cycles, 4 to 5 s, a p99 of 746 cycles).
``--rate N`` paces the datagrams (``rate=N`` of the feed URL: a live feed's shape, the
loop idle between datagrams; the runner then gives a cycle to whatever arrived since the
last one, ~500 cycles a second at 2,500 datagrams a second). Each run is a process of its
own (``_run``): the p99 grew from run to run in one process (101 → 133 µs over nine runs),
so every run is now a process's first; ``--same-process`` keeps the old way (with one
uncounted warm-up run) to compare. Besides each repeat's ratio, the p99 of every cycle of a
mode's repeats taken together (``pooled_p99_ratio``) is reported. Modes, rotated in each
repeat so that machine load hits them alike:

* ``no-http``: the run alone;
* ``http``: with :class:`fluvius.live.http.DashboardServer` on the same loop, nobody
  connected;
* ``stream``: the server with the page's stream (grid of 1,000 keys, status) read by
  ``curl``: the server's share of the browser's cost, without chromium;
* ``graph``: the server, nobody connected but one ``GET /api/graph`` (``curl``) 0.5 s after
  the datagrams start: the server's side of a page's first load during a live run (it
  builds the collapsed graph, ``api_graph_ms``);
* ``browser``: the server plus a headless chromium with the dashboard open (overview of the
  graph drawn, grid of the first 1,000 keys streaming, four pushes a second) for the whole
  run; after the run, a click on a scope drills into it. The page is driven (playwright)
  from a child process, as a user's browser is another process: the driver's protocol
  traffic is not handled on the run's event loop. ``browser_cpu_s`` is the CPU time that
  child, playwright's node driver and chromium used while the datagrams flowed;
  ``page_pushes`` and ``page_frames`` are the page's own counters over the run (pushes it
  received, animation frames it drew: a push that changes nothing in view draws none).

Each run starts live: the graph is computed and the heap frozen (start-up), then the mode
prepares (``stream``: curl connects; ``browser``: the page is opened and drawn, which builds
the collapsed graph on the server, then chromium is left :data:`SETTLE_S` to finish
drawing and writing its fresh profile), then the capture's datagrams flow (a
:class:`GatedFeed`). So the page is opened during a live session, as a desk opens it, and
what is measured is the session with the page open, not the page's load (its cost is
reported: ``settle_wakeups``). ``--page-before-start`` opens the page before start-up
instead (how this benchmark ran before the evening of 2026-12-07); ``--open-during`` opens
it while the datagrams flow (chromium's start and the page's load are then in the run).

Around the datagrams, the scheduler's counters (``/proc/PID/task/TID/schedstat`` and
``status``) of this process and of its children give, per role (the run; chromium's
browser, renderer, GPU and network-service processes; playwright's driver), the CPU time,
the wake-ups (times a thread was scheduled in), the involuntary context switches and the
time spent waiting for a CPU (``sched`` in the JSON; ``chromium_wakeups``,
``chromium_cpu_s``, ``run_preempted``, ``run_waited_s``); ``--diagnose`` also prints the
busiest threads and the renderer's own counters (CDP ``Performance.getMetrics``).

Figures per run: the cycle latency (each cycle's wall time as the scheduler measures it,
start-up excluded) p50 / p90 / p99 / p99.9 / mean, and the wall time from the first
datagram to the run's end; medians over ``--repeats``, and each repeat's p99 against its
own ``no-http`` run (``p99_ratio_per_repeat``).
With the server pushing (``stream``, ``browser``): ``slow_after_push``, the share of the
slow cycles (>= the run's p99) that started within 5 ms after a push was written, next to
``all_after_push``, the share of all cycles that did: equal shares mean the pushes do not
make cycles slow (the server's work runs between cycles, never inside one).
The criterion (issue 13): with a browser attached the p99 rises by at most 10 %
(``browser`` p99 / ``no-http`` p99 <= 1.10). In ``browser`` mode the page's own figures
are also taken: time from navigation to the overview drawn (the 600 largest scopes'
boxes in the SVG), from a click on a scope to its nodes drawn (both as seen from here,
through playwright), the page script's own drawing time, and the server's time to build
the collapsed graph of every scope.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results
from fluvius.feeds.iex import iter_events
from fluvius.feeds.iex.encode import synthetic_tops
from fluvius.graph.spec import spec_to_graph
from fluvius.live import LiveRun, LiveState
from fluvius.live.feeds import FeedContext, FeedUpdate, open_feed
from fluvius.live.graphview import collapse, scope_function
from fluvius.live.http import DashboardServer
from fluvius.testing.browser import find_chromium, headless_page

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine

_SAMPLE = "shared/data/iex/TOPS16_20170710_sample.pcap.gz"
SAMPLE = Path(os.environ.get("FLUVIUS_IEX_SAMPLE") or Path(__file__).resolve().parents[2] / _SAMPLE)
MODES = ("no-http", "http", "browser", "stream", "graph")


class GatedFeed:
    """A feed whose updates start when ``gate`` is set: the run starts (graph computed,
    heap frozen, :attr:`LiveRun.ready`), the mode prepares (opens the page), then the
    datagrams flow; what is measured is the cycles of a live run with the page open.
    With ``loops`` > 1 the capture is replayed that many times in one run (a new decoder
    each time, so a replay's sequence numbers starting again is no gap): a run long enough
    that its p99 is a few hundred cycles, not the 124 slowest of one pass of the sample."""

    def __init__(self, url: str, context: FeedContext, gate: asyncio.Event, loops: int = 1) -> None:
        self.url = url
        self.context = context
        self.inner = open_feed(url, context)
        self.gate = gate
        self.loops = loops
        self.name = self.inner.name
        self.deterministic = self.inner.deterministic
        self.clocked = self.inner.clocked

    async def updates(self) -> AsyncIterator[FeedUpdate]:
        await self.gate.wait()
        for n in range(self.loops):
            if n:
                self.inner = open_feed(self.url, self.context)
            async for update in self.inner.updates():
                yield update

    def close(self) -> None:
        self.inner.close()


def build_spec(symbols: list[str]) -> dict[str, Any]:
    spec: dict[str, Any] = {"sources": {}, "nodes": {}}
    nodes = spec["nodes"]
    for s in symbols:
        spec["sources"][f"quote/{s}"] = None
        spec["sources"][f"mid/{s}"] = float("nan")  # the adapter's mid before a two-sided quote
        spec["sources"][f"trade/{s}"] = None
        mid = [f"mid/{s}"]
        nodes[f"mean/{s}"] = {"op": "rolling_mean", "inputs": mid, "params": {"window": 20}}
        nodes[f"high/{s}"] = {"op": "rolling_max", "inputs": mid, "params": {"window": 50}}
        nodes[f"dev/{s}"] = {"op": "sub", "inputs": [f"mid/{s}", f"mean/{s}"]}
    return spec


_PAGE_METRICS = (
    "TaskDuration",
    "ScriptDuration",
    "LayoutDuration",
    "RecalcStyleDuration",
    "LayoutCount",
    "RecalcStyleCount",
)


async def _view(
    chromium: str, url: str, n_scopes: int, scope: str, diagnose: bool, grid_in_view: bool
) -> None:
    """Child process of the ``browser`` mode: open the page, wait for the overview, print
    its figures; when stdin closes (the run is over), drill into ``scope``, print. With
    ``diagnose``, the renderer's own counters (CDP ``Performance.getMetrics``: task, script,
    layout and style time and counts) over the run are printed too."""
    async with headless_page(chromium) as browser:
        page = browser.page
        t = time.perf_counter()
        await page.goto(url)
        await page.wait_for_function(
            "n => document.querySelectorAll('#graph g.box').length === n",
            arg=n_scopes,
            timeout=120_000,
        )
        if grid_in_view:  # the window scrolled to the grid: all its box's rows on screen
            await page.eval_on_selector("#grid-box", "b => b.scrollIntoView()")
        ready = {
            "overview_ms": (time.perf_counter() - t) * 1e3,
            "overview_draw_ms": float(await page.get_attribute("#graph", "data-draw-ms") or "nan"),
            "scopes": n_scopes,
        }
        print(json.dumps(ready), flush=True)

        async def metrics() -> dict[str, float]:
            got = await cdp.send("Performance.getMetrics")
            return {m["name"]: m["value"] for m in got["metrics"] if m["name"] in _PAGE_METRICS}

        if diagnose:
            cdp = await page.context.new_cdp_session(page)
            await cdp.send("Performance.enable")
            before = await metrics()
        start = await page.evaluate("window.fluviusDashboard || {}")
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        page_metrics = {}
        if diagnose:
            after = await metrics()
            page_metrics = {k: after[k] - before.get(k, 0.0) for k in after}
        # the page's own counters over the run: pushes received, animation frames drawn
        counted = await page.evaluate("window.fluviusDashboard || {}")
        frames = {f"page_{k}": counted[k] - start[k] for k in ("pushes", "frames") if k in start}
        t = time.perf_counter()
        await page.click(f'#graph g.box[data-scope="{scope}"]')
        await page.locator("#graph g.box[data-key]").first.wait_for()
        done = {
            "drill_ms": (time.perf_counter() - t) * 1e3,
            "drill_draw_ms": float(await page.get_attribute("#graph", "data-draw-ms") or "nan"),
            "requests_outside": [r for r in browser.requests if not r.startswith(url)],
            "page_metrics": page_metrics,
            **frames,
        }
        print(json.dumps(done), flush=True)


SETTLE_S = 5.0
"""Seconds between the page drawn and the run's start (``browser`` mode; see one_run)."""
PUSHES: list[float] = []  # when each push the server wrote ended (perf_counter)
PUSH_BYTES: list[tuple[float, int]] = []  # (when, bytes) of every write to a stream
AFTER_PUSH_S = 0.005


def _count_pushes() -> None:
    """Note the end and size of every push the dashboard server writes (one write per push:
    ``PUSHES``, ``PUSH_BYTES``)."""
    write = web.StreamResponse.write

    async def counted(self: Any, data: bytes) -> None:
        await write(self, data)
        PUSHES.append(time.perf_counter())
        PUSH_BYTES.append((PUSHES[-1], len(data)))

    web.StreamResponse.write = counted  # type: ignore[method-assign]


def _after_push(start: float) -> bool:
    """True when a cycle that started at ``start`` began within AFTER_PUSH_S of a push."""
    i = bisect.bisect_right(PUSHES, start)
    return i > 0 and start - PUSHES[i - 1] < AFTER_PUSH_S


def _role(cmdline: list[str]) -> str:
    """What a process of the page's tree is: chromium's browser, renderer, GPU or network
    service process, playwright's driver, the benchmark's page-driving child."""
    if not cmdline:
        return "?"
    exe = Path(cmdline[0]).name
    kind = next((a.split("=", 1)[1] for a in cmdline if a.startswith("--type=")), None)
    if "chrom" in exe:
        if kind is None:
            return "chromium browser"
        if kind == "utility":
            sub = next((a.split("=", 1)[1] for a in cmdline if a.startswith("--utility-sub")), "")
            return "chromium utility " + sub.rsplit(".", 1)[-1]
        return "chromium " + kind
    if exe == "node" or any("playwright" in a for a in cmdline[:3]):
        return "playwright driver"
    if "_view" in cmdline:
        return "page driver (python)"
    return exe


def _threads(pid: int) -> dict[int, tuple[str, int, int, int, int, int]]:
    """tid -> (name, ns on a CPU, ns waiting for a CPU, times scheduled in, voluntary and
    involuntary context switches) of every thread of ``pid`` (Linux /proc; {} elsewhere)."""
    out: dict[int, tuple[str, int, int, int, int, int]] = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            run, wait, slices = map(int, (task / "schedstat").read_text().split())
            status = (task / "status").read_text()
            name = (task / "comm").read_text().strip()
        except (OSError, ValueError):
            continue
        switches = dict(
            line.split(":", 1) for line in status.splitlines() if "ctxt_switches" in line
        )
        vol = int(switches.get("voluntary_ctxt_switches", 0))
        nonvol = int(switches.get("nonvoluntary_ctxt_switches", 0))
        out[int(task.name)] = (name, run, wait, slices, vol, nonvol)
    return out


Snapshot = dict[int, tuple[str, dict[int, tuple[str, int, int, int, int, int]]]]


def _snapshot(children: bool) -> Snapshot:
    """Per process (this one, or its whole tree of children): role and threads' counters."""
    if not children:
        return {os.getpid(): ("run", _threads(os.getpid()))}
    snap: Snapshot = {}
    for child in psutil.Process().children(recursive=True):
        try:
            snap[child.pid] = (_role(child.cmdline()), _threads(child.pid))
        except psutil.Error:
            continue
    return snap


def _sched_delta(before: Snapshot, after: Snapshot) -> dict[str, dict[str, float]]:
    """Per role: CPU seconds, wake-ups (times scheduled in), involuntary switches
    (preempted), seconds spent waiting for a CPU, threads that ran, between two snapshots."""
    out: dict[str, dict[str, float]] = {}
    for pid, (role, threads) in after.items():
        old = before.get(pid, (role, {}))[1]
        row = out.setdefault(
            role, {"cpu_s": 0.0, "wakeups": 0, "preempted": 0, "wait_s": 0.0, "threads_ran": 0}
        )
        for tid, (_, run, wait, slices, _vol, nonvol) in threads.items():
            o = old.get(tid, ("", 0, 0, 0, 0, 0))
            row["cpu_s"] += (run - o[1]) / 1e9
            row["wait_s"] += (wait - o[2]) / 1e9
            row["wakeups"] += slices - o[3]
            row["preempted"] += nonvol - o[5]
            row["threads_ran"] += slices > o[3]
    return out


def _busy_threads(before: Snapshot, after: Snapshot, top: int = 12) -> list[str]:
    """The threads of the tree that were scheduled in most often, as text (diagnosis)."""
    rows = []
    for pid, (role, threads) in after.items():
        old = before.get(pid, (role, {}))[1]
        for tid, (name, run, _w, slices, _v, _n) in threads.items():
            o = old.get(tid, ("", 0, 0, 0, 0, 0))
            if slices > o[3]:
                rows.append((slices - o[3], (run - o[1]) / 1e6, f"{role}/{name}"))
    rows.sort(reverse=True)
    return [f"{w} wake-ups {ms:.1f} ms {name}" for w, ms, name in rows[:top]]


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.999999) - 1))]


async def one_run(
    mode: str,
    spec: dict[str, Any],
    url: str,
    chromium: str | None,
    diagnose: bool = False,
    page_first: bool = False,
    loops: int = 1,
    overview: tuple[int, str] = (0, ""),
    open_during: bool = False,
    grid_in_view: bool = False,
) -> dict[str, Any]:
    graph = spec_to_graph(spec)
    state = LiveState()
    seconds: list[float] = []
    record_cycle = state.record_cycle

    ends: list[float] = []  # when each cycle ended (perf_counter)

    faults = [0, 0]  # minor page faults of this process at the first and the last cycle

    def keep(cycle: int, s: float, *args: Any, **kw: Any) -> None:
        if cycle > 0:
            seconds.append(s)
            ends.append(time.perf_counter())
            faults[len(seconds) > 1] = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        record_cycle(cycle, s, *args, **kw)

    state.record_cycle = keep  # type: ignore[method-assign]
    health = state.feed(url)
    health.url = url
    gate = asyncio.Event()
    feed = GatedFeed(url, FeedContext(url, frozenset(graph.source_keys), health), gate, loops)
    run = LiveRun(graph, [feed], state=state)
    page_figures: dict[str, Any] = {}
    sched: dict[str, dict[str, float]] = {}
    busy: list[str] = []

    async def measured(
        prepare: Callable[[], Awaitable[None]] | None = None,
        during: Callable[[], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        """The run: start-up (the graph computed, the heap frozen), then ``prepare`` (open
        the page), then the feed's datagrams, with the scheduler's counters of this process
        and its children around them (what the page's processes and the run did while the
        cycles were measured)."""
        task = asyncio.create_task(run.run())
        ready = asyncio.create_task(run.ready.wait())
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            ready.cancel()
            await task  # the run failed before its first datagram: raise
        if prepare is not None:
            await prepare()
        own, tree = _snapshot(False), _snapshot(True)
        t = time.perf_counter()
        gate.set()
        side = asyncio.create_task(during()) if during is not None else None
        await task
        end = time.perf_counter()
        if side is not None:
            await side
        page_figures["wall_s"] = end - t
        writes = [n for when, n in PUSH_BYTES if t <= when <= end]
        if mode != "no-http":
            page_figures["pushes"] = sum(1 for p in PUSHES if t <= p <= end)
            page_figures["push_kb"] = sum(writes) / 1e3
        own_after, tree_after = _snapshot(False), _snapshot(True)
        sched.update(_sched_delta(own, own_after))
        sched.update(_sched_delta(tree, tree_after))
        busy.extend(_busy_threads(tree, tree_after))

    kind, _, every = mode.partition("@")  # browser@0.5: the server pushes every 0.5 s
    if kind == "no-http":
        await measured()
    else:
        async with DashboardServer(state, interval_s=float(every or 0.25)) as server:
            if kind == "http":
                await measured()
            elif kind == "graph":  # a page's first load, the server's side: /api/graph

                async def get_graph() -> None:
                    await asyncio.sleep(0.5)  # the datagrams flow
                    t = time.perf_counter()
                    got = await asyncio.create_subprocess_exec(
                        "curl", "-sf", "-o", os.devnull, server.url + "api/graph"
                    )
                    if await got.wait():
                        raise RuntimeError("curl: GET /api/graph failed")
                    page_figures["api_graph_ms"] = (time.perf_counter() - t) * 1e3

                await measured(during=get_graph)
            elif kind == "stream":  # the page's stream read by curl: the server's work alone
                curl: asyncio.subprocess.Process | None = None

                async def connect() -> None:
                    nonlocal curl
                    curl = await asyncio.create_subprocess_exec(
                        "curl", "-sN", server.url + "api/stream?keys=*",
                        stdout=asyncio.subprocess.DEVNULL,
                    )  # fmt: skip
                    while not server.streams:  # noqa: ASYNC110 - a count, no event to wait on
                        await asyncio.sleep(0.01)

                try:
                    await measured(connect)
                finally:
                    if curl is not None:
                        curl.terminate()
                        await curl.wait()
            else:
                assert chromium is not None
                viewer: asyncio.subprocess.Process | None = None

                async def open_page(settle: bool = True) -> None:
                    """The page opened while the run is live (started, before the first
                    datagram), as a desk opens it; the run's cycles start once the page is
                    drawn and chromium has settled. ``settle=False``: the page is opened
                    while the datagrams flow (``--open-during``), its load measured too."""
                    nonlocal viewer
                    n_scopes, scope = overview  # the page builds the server's picture
                    # the page is driven from another process, as a user's browser is: the
                    # driver's protocol traffic (playwright) is not on the run's event loop
                    viewer = await asyncio.create_subprocess_exec(
                        sys.executable, __file__, "_view", chromium, server.url, str(n_scopes),
                        scope, str(int(diagnose)), str(int(grid_in_view)),
                        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                    )  # fmt: skip
                    assert viewer.stdout is not None
                    line = await asyncio.wait_for(viewer.stdout.readline(), 180)
                    page_figures.update(json.loads(line))
                    if not settle:
                        return
                    # the page has been drawn; chromium then finishes rastering and
                    # compositing it and writes its fresh profile for seconds (measured:
                    # ~1,000 wake-ups of its processes in the first 3 s, ~40 a second after
                    # 5 s). A desk's page has been open long before the moment measured:
                    # the datagrams start once that is over (SETTLE_S), and what settling
                    # cost is reported (settle_wakeups, settle_cpu_s)
                    before_settle = _snapshot(True)
                    await asyncio.sleep(SETTLE_S)
                    settled = _sched_delta(before_settle, _snapshot(True))
                    page_figures["settle_wakeups"] = sum(r["wakeups"] for r in settled.values())
                    page_figures["settle_cpu_s"] = sum(r["cpu_s"] for r in settled.values())

                if page_first:  # the earlier method: the page opened before the run starts
                    await open_page()
                    await measured()
                elif open_during:
                    await measured(during=lambda: open_page(settle=False))
                else:
                    await measured(open_page)
                assert viewer is not None
                assert viewer.stdin is not None
                assert viewer.stdout is not None
                page_figures["browser_cpu_s"] = sum(
                    r["cpu_s"] for role, r in sched.items() if role != "run"
                )
                viewer.stdin.close()  # the page is asked to drill into a scope, then leaves
                page_figures.update(json.loads(await asyncio.wait_for(viewer.stdout.read(), 180)))
                await viewer.wait()
    ordered = sorted(seconds)
    per_pass = len(seconds) // loops
    if PUSHES:  # are the slow cycles the ones right after a push (the server's work)?
        slow = _quantile(ordered, 0.99)
        after = [_after_push(e - c) for e, c in zip(ends, seconds, strict=True)]
        n_slow = sum(1 for c in seconds if c >= slow)
        page_figures["slow_after_push"] = sum(
            1 for a, c in zip(after, seconds, strict=True) if a and c >= slow
        ) / max(n_slow, 1)
        page_figures["all_after_push"] = sum(after) / max(len(after), 1)
        PUSHES.clear()
        PUSH_BYTES.clear()
    return {
        "mode": mode,
        "keys": len(graph.keys),
        "cycles": len(seconds),
        "p50_us": _quantile(ordered, 0.50) * 1e6,
        "p90_us": _quantile(ordered, 0.90) * 1e6,
        "p99_us": _quantile(ordered, 0.99) * 1e6,
        "p999_us": _quantile(ordered, 0.999) * 1e6,
        "mean_us": statistics.fmean(ordered) * 1e6,
        # each pass of the capture's p99: the first pass (cold: windows filling, memory
        # allocated) against the later ones
        "p99_per_pass_us": [
            _quantile(sorted(seconds[i * per_pass : (i + 1) * per_pass]), 0.99) * 1e6
            for i in range(loops)
        ],
        **page_figures,
        "page_faults": faults[1] - faults[0],
        "run_preempted": sched["run"]["preempted"],
        "run_waited_s": sched["run"]["wait_s"],
        **_page_totals(sched),
        "sched": sched,
        "busy_threads": busy,
        "_seconds": seconds,  # pooled over the repeats in main(), not written out
    }


def _page_totals(sched: dict[str, dict[str, float]]) -> dict[str, float]:
    """Chromium's processes' wake-ups and CPU during the run (the page driver's excluded)."""
    mine = [r for role, r in sched.items() if role.startswith("chromium")]
    if not mine:
        return {}
    return {
        "chromium_wakeups": sum(r["wakeups"] for r in mine),
        "chromium_cpu_s": sum(r["cpu_s"] for r in mine),
    }


async def _configured_run(
    mode: str, config: dict[str, Any], spec: dict[str, Any]
) -> dict[str, Any]:
    return await one_run(
        mode,
        spec,
        config["url"],
        config["chromium"],
        config["diagnose"],
        config["page_first"],
        config["loops"],
        (int(config["overview"][0]), str(config["overview"][1])),
        config["open_during"],
        config["grid_in_view"],
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_view":
        chromium, url, n_scopes, scope, diagnose, grid_in_view = sys.argv[2:8]
        asyncio.run(
            _view(chromium, url, int(n_scopes), scope, diagnose == "1", grid_in_view == "1")
        )
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_run":  # one run, in a process of its own
        logging.getLogger("fluvius.live").setLevel(logging.ERROR)
        config = json.loads(Path(sys.argv[3]).read_text())
        _count_pushes()
        result = asyncio.run(_configured_run(sys.argv[2], config, build_spec(config["symbols"])))
        print(json.dumps(result), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--capture", type=Path, default=SAMPLE)
    parser.add_argument("--symbols", type=int, default=0, help="busiest N symbols (0: all)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None)
    parser.add_argument(
        "--modes",
        default=",".join(MODES),
        help=f"comma-separated subset of {', '.join(MODES)}; MODE@S: the server pushes every "
        "S seconds (default 0.25), e.g. browser@0.5",
    )
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help="print the page's busiest threads and the renderer's counters after each run",
    )
    parser.add_argument(
        "--loops",
        type=int,
        default=6,
        help="replay the capture this many times in each run (1: one pass, 0.7 s, as before "
        "the night of 2026-12-07; 6: ~75,000 cycles, a p99 of ~750 cycles)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="datagrams per second, evenly paced (a live feed's shape: the loop idles between "
        "datagrams); 0: as fast as possible (a replay's shape)",
    )
    parser.add_argument(
        "--open-during",
        action="store_true",
        help="browser mode: open the page while the datagrams flow (its load, the server's "
        "graph picture included, is measured with the run), not before they start",
    )
    parser.add_argument(
        "--grid-in-view",
        action="store_true",
        help="browser mode: scroll the window to the grid (the 17 rows of its box on screen) "
        "before the run, not leave the page at its top (the header, the graph and the grid's "
        "first ~8 rows in a 1400 x 1000 window)",
    )
    parser.add_argument(
        "--same-process",
        action="store_true",
        help="run every run in this process (how this benchmark ran before the night of "
        "2026-12-07; the p99 then grows from run to run), not each in a fresh one",
    )
    parser.add_argument(
        "--page-before-start",
        action="store_true",
        help="open the page before the run starts (graph computed, heap frozen), not after",
    )
    opts = parser.parse_args()
    # each pass of the capture logs its feed lag once (receive time = capture time): quiet
    logging.getLogger("fluvius.live").setLevel(logging.ERROR)
    wanted = opts.modes.split(",")
    kinds = [m.partition("@")[0] for m in wanted]
    if "no-http" not in wanted or not set(kinds) <= set(MODES):
        parser.error(
            f"--modes: a subset of {', '.join(MODES)} that includes no-http (a server's mode "
            "may name its push interval: browser@0.5)"
        )
    capture = opts.capture
    if not capture.exists():
        capture = synthetic_tops(200_000, 2000, seed=1).write(Path("/tmp/fluvius-dash-bench.pcap"))
    counts = Counter(e.symbol for e in iter_events(capture) if e.kind in ("quote", "trade"))
    symbols = sorted(counts, key=lambda s: (-counts[s], s))
    if opts.symbols:
        symbols = symbols[: opts.symbols]
    spec = build_spec(sorted(symbols))
    _count_pushes()
    chromium = find_chromium()
    curl = shutil.which("curl")
    modes = tuple(
        m
        for m, kind in zip(wanted, kinds, strict=True)
        if (kind != "browser" or chromium) and (kind not in ("stream", "graph") or curl)
    )
    if chromium is None:
        print("no chromium: the browser mode is skipped")
    url = f"iex+pcap://{capture}?speed=0" + (f"&rate={opts.rate:g}" if opts.rate else "")
    if opts.loops < 1:
        parser.error("--loops: at least 1")
    print(f"capture {capture}, {len(symbols)} symbols; load {os.getloadavg()}")
    whole = spec_to_graph(spec)  # what the page will draw: the overview's boxes, a scope
    picture = collapse(whole, scope_function(whole.keys))
    overview = (min(600, len(picture["scopes"])), picture["scopes"][0]["id"])
    del picture, whole
    config = {
        "symbols": sorted(symbols),
        "url": url,
        "chromium": chromium,
        "diagnose": opts.diagnose,
        "page_first": opts.page_before_start,
        "loops": opts.loops,
        "overview": overview,
        "open_during": opts.open_during,
        "grid_in_view": opts.grid_in_view,
    }
    if opts.same_process:
        # the first run in a process is faster than the later ones (its heap is fresh): one
        # no-http run first, not counted, so that no mode gains from coming first
        asyncio.run(one_run("no-http", spec, url, chromium, loops=1))
        PUSHES.clear()
        PUSH_BYTES.clear()
    else:
        config_file = Path(tempfile.mkdtemp(prefix="fluvius-dash-")) / "config.json"
        config_file.write_text(json.dumps(config))
    runs: list[dict[str, Any]] = []
    for r in range(opts.repeats):
        order = modes[r % len(modes) :] + modes[: r % len(modes)]
        for mode in order:
            if opts.same_process:
                result = asyncio.run(_configured_run(mode, config, spec))
            else:  # each run in a process of its own: every run is a process's first
                done = subprocess.run(
                    [sys.executable, __file__, "_run", mode, str(config_file)],
                    stdout=subprocess.PIPE,
                    check=True,
                )
                result = json.loads(done.stdout.splitlines()[-1])
            result["repeat"] = r
            runs.append(result)
            extra = "".join(
                f", {k} {result[k]:.2f}"
                for k in (
                    "pushes",
                    "push_kb",
                    "browser_cpu_s",
                    "chromium_wakeups",
                    "chromium_cpu_s",
                    "page_pushes",
                    "page_frames",
                    "settle_wakeups",
                    "overview_ms",
                    "drill_ms",
                    "slow_after_push",
                )
                if k in result
            )
            print(
                f"  {mode:8s} {result['cycles']:,} cycles  p50 {result['p50_us']:.1f} µs  "
                f"p99 {result['p99_us']:.1f} µs  mean {result['mean_us']:.1f} µs  "
                f"wall {result['wall_s']:.2f} s{extra}"
                + (
                    f", p99 per pass {[round(x) for x in result['p99_per_pass_us']]}"
                    if "p99_per_pass_us" in result and len(result["p99_per_pass_us"]) > 1
                    else ""
                ),
                flush=True,
            )
            for role, f in sorted(result["sched"].items()):
                print(
                    f"      {role:32s} cpu {f['cpu_s'] * 1e3:7.1f} ms  "
                    f"wake-ups {f['wakeups']:6.0f}  preempted {f['preempted']:5.0f}  "
                    f"waited for a CPU {f['wait_s'] * 1e3:6.1f} ms  threads {f['threads_ran']:.0f}"
                )
            if opts.diagnose:
                for line in result["busy_threads"]:
                    print("        " + line)
                if result.get("page_metrics"):
                    print("      renderer: " + json.dumps(result["page_metrics"]))
    summary: dict[str, Any] = {}
    for mode in modes:
        mine = [r for r in runs if r["mode"] == mode]
        summary[mode] = {
            k: statistics.median(r[k] for r in mine)
            for k in (
                "p50_us",
                "p90_us",
                "p99_us",
                "p999_us",
                "mean_us",
                "wall_s",
                "page_faults",
                "run_preempted",
                "run_waited_s",
                "chromium_wakeups",
                "chromium_cpu_s",
                "page_pushes",
                "page_frames",
                "settle_wakeups",
                "api_graph_ms",
                "overview_ms",
                "overview_draw_ms",
                "drill_ms",
                "drill_draw_ms",
                "slow_after_push",
                "all_after_push",
            )
            if k in mine[0]
        }
    base = summary["no-http"]["p99_us"]
    pooled: dict[str, float] = {}  # p99 of every cycle of a mode's runs taken together
    for mode in modes:
        every = sorted(c for run in runs if run["mode"] == mode for c in run["_seconds"])
        pooled[mode] = _quantile(every, 0.99) * 1e6
    for run in runs:
        del run["_seconds"]
    for mode in modes:
        summary[mode]["p99_ratio"] = summary[mode]["p99_us"] / base
        summary[mode]["pooled_p99_us"] = pooled[mode]
        summary[mode]["pooled_p99_ratio"] = pooled[mode] / pooled["no-http"]
    per_repeat: dict[str, list[float]] = {}  # each repeat's p99 against its own no-http run
    for r in range(opts.repeats):
        mine = {run["mode"]: run["p99_us"] for run in runs if run["repeat"] == r}
        for mode in modes:
            per_repeat.setdefault(mode, []).append(mine[mode] / mine["no-http"])
    for mode in modes:
        summary[mode]["p99_ratio_per_repeat"] = per_repeat[mode]
    print("medians:")
    for mode, s in summary.items():
        print(
            f"  {mode:8s} "
            + "  ".join(
                f"{k} {[round(x, 3) for x in v]}" if isinstance(v, list) else f"{k} {v:.3f}"
                for k, v in s.items()
            )
        )
    if "browser" in summary:
        ratio = summary["browser"]["p99_ratio"]
        print(f"browser p99 / no-http p99 = {ratio:.3f} (target <= 1.10)")
        pooled_ratio = summary["browser"]["pooled_p99_ratio"]
        print(f"browser / no-http, p99 of the repeats' cycles pooled = {pooled_ratio:.3f}")
    write_results(
        opts.out,
        {
            "capture": str(capture),
            "symbols": len(symbols),
            "loops": opts.loops,
            "rate": opts.rate,
            "load_before": os.getloadavg(),
            "load_after": os.getloadavg(),
            "runs": runs,
            "summary": summary,
        },
    )


if __name__ == "__main__":
    main()
