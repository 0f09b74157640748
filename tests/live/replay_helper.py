"""Shared pieces of the live tests: a real session on real (or synthetic) IEX data that
fills a :class:`LiveState` the way the runner does, without the runner.

The graph is per symbol, keyed ``kind/SYM`` as the feed adapter keys its sources:
``spread/SYM`` (ask - bid of the latest quote, NaN while a side is empty), ``last/SYM``
(the price of the cycle's last trade) and ``count/SYM`` (quotes seen, a stateful node), plus
``index/mids`` (the sum of the symbols' mids) across them.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from fluvius.feeds.adapter import batches, declare_sources
from fluvius.feeds.events import PRICE_SCALE
from fluvius.feeds.iex import iter_events
from fluvius.graph import Graph, GraphBuilder
from fluvius.live import LiveState
from fluvius.scheduling import SerialScheduler

_NAME = "shared/data/iex/TOPS16_20170710_sample.pcap.gz"
# CI lays shared/ beside the clone; developers' worktrees read it from /work/shared
SAMPLE = next(
    (p for p in (Path(__file__).resolve().parents[3] / _NAME, Path("/work") / _NAME) if p.exists()),
    Path(__file__).resolve().parents[3] / _NAME,
)
CHROMIUM = "/usr/bin/chromium"


def chromium_or_skip() -> str:
    """The path of Debian's chromium; a missing one FAILS under CI=true, skips elsewhere."""
    if Path(CHROMIUM).exists() or shutil.which("chromium"):
        return CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))
    message = f"no headless browser: {CHROMIUM} is missing (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def capture(tmp_path: Path) -> Path:
    """The real TOPS sample, or a synthetic capture when the shared data is absent."""
    if SAMPLE.exists():
        return SAMPLE
    from fluvius.feeds.iex.synthetic import synthetic_tops

    return synthetic_tops(20_000, n_symbols=20, seed=3).write(tmp_path / "synthetic.pcap")


def busiest_symbols(path: Path, n: int) -> list[str]:
    counts: dict[str, int] = {}
    for event in iter_events(path):
        if event.kind == "quote":
            counts[event.symbol] = counts.get(event.symbol, 0) + 1
    return sorted(counts, key=lambda s: (-counts[s], s))[:n]


def spread(quote: Any) -> float:
    if quote is None or not quote.bid_px or not quote.ask_px:
        return math.nan
    return float((quote.ask_px - quote.bid_px) / PRICE_SCALE)


def last_price(trades: Any) -> float:
    """The price of the cycle's last trade (``trade/SYM`` is the trades of the cycle)."""
    return float(trades[-1].px / PRICE_SCALE) if trades else math.nan


class Count:
    def __init__(self) -> None:
        self.n = 0

    def update(self, quote: Any) -> None:
        self.n += quote is not None

    def get(self) -> int:
        return self.n


def mids_sum(*mids: float) -> float:
    return math.fsum(m for m in mids if not math.isnan(m))


def per_symbol_graph(symbols: list[str]) -> Graph:
    b = GraphBuilder()
    refs = declare_sources(b, symbols)
    for sym in symbols:
        b.node(f"spread/{sym}", spread, refs["quote"][sym])
        b.node(f"last/{sym}", last_price, refs["trade"][sym])
        b.node(f"count/{sym}", Count(), refs["quote"][sym])
    b.node("index/mids", mids_sum, *refs["mid"].values())
    return b.build()


_MISSING = object()


async def replay(
    state: LiveState,
    graph: Graph,
    path: Path,
    symbols: list[str],
    *,
    pace_s: float = 0.0,
    loops: int = 1,
    running: asyncio.Event | None = None,
) -> None:
    """Run ``graph`` on the capture's datagrams, recording into ``state`` as the runner does.

    ``pace_s`` sleeps between cycles (0: only yield to the loop); ``loops`` replays the
    capture that many times (0: until cancelled); ``running`` is set after start-up.
    """
    feed = state.feed("sample")
    async with SerialScheduler().session(graph) as run:
        start = await run.start()
        state.graph = graph
        state.started_ns = time.time_ns()
        values = run.values()
        state.record_values(0, values)
        state.record_cycle(0, start.seconds, start.recomputed)
        previous = dict(values)
        if running is not None:
            running.set()
        n = 0
        while loops == 0 or n < loops:
            n += 1
            for batch in batches(iter_events(path), symbols, per="recv"):
                result = await run.cycle(batch)
                values = run.values()
                changed = {k: v for k, v in values.items() if previous.get(k, _MISSING) is not v}
                previous = values
                state.record_values(result.index, changed)
                state.record_cycle(result.index, result.seconds, result.recomputed)
                state.worker_busy_seconds["main"] = run.busy_seconds
                feed.messages += len(batch)
                await asyncio.sleep(pace_s)
        feed.ended = True
        state.ended = True
