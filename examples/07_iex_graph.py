"""IEX market data driving a graph: a capture, then the same graph over live UDP.

Decodes the real IEX TOPS sample when ``../shared/data/iex`` holds it (else a synthetic
capture made by the project's encoder), declares per-symbol ``quote``/``mid``/``trade``
sources for the busiest symbols, and computes per symbol, with the node library only, the
spread in basis points (``spread_bp``), its rolling mean over the last 50 two-sided quotes
(``RollingMean``, which skips the NaN of one-sided quotes under the library's missing-value
policy), the traded volume and volume-weighted price of every trade (``TradeVolume``,
``TradeVWAP``: ``trade/SYM`` carries all the trades of a cycle); one node averages the
spreads across symbols. The graph runs once over the capture's events, then again on
events received over UDP on 127.0.0.1 while the capture is replayed to it, and the two runs
are compared.

Run: ``python examples/07_iex_graph.py``
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from fluvius.feeds.adapter import aticks, batches, declare_sources
from fluvius.feeds.iex import iter_events
from fluvius.feeds.iex.batch import decode_capture
from fluvius.feeds.iex.encode import synthetic_tops
from fluvius.feeds.iex.live import LiveFeed
from fluvius.feeds.iex.replay import replay
from fluvius.graph import Graph, GraphBuilder, make_key
from fluvius.nodes import add_stateful
from fluvius.nodes.market import TradeVolume, TradeVWAP, spread_bp
from fluvius.nodes.stats import RollingMean
from fluvius.scheduling import SerialScheduler, run_graph, run_live

SAMPLE = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "data"
    / "iex"
    / "TOPS16_20170710_sample.pcap.gz"
)
N_SYMBOLS = 5


def nanmean(*xs: float) -> float:
    """Mean of the finite inputs."""
    finite = [x for x in xs if not math.isnan(x)]
    return sum(finite) / len(finite) if finite else math.nan


def build_graph(symbols: list[str]) -> Graph:
    """Per-symbol spread and VWAP nodes over the feed's sources, plus a cross-symbol mean."""
    g = GraphBuilder()
    src = declare_sources(g, symbols)
    means = []
    for s in symbols:
        bp = g.node(make_key("spread_bp", s), spread_bp, src["quote"][s])
        avg = add_stateful(g, make_key("avg_spread_bp", s), RollingMean(50), bp, every_tick=True)
        means.append(avg)
        g.node(make_key("vwap", s), TradeVWAP(), src["trade"][s])
        g.node(make_key("volume", s), TradeVolume(), src["trade"][s])
    g.node("avg_spread_bp/all", nanmean, *means)
    return g.build()


def capture_path(tmp: Path) -> tuple[Path, str]:
    """The real sample if present, else a synthetic TOPS capture written to ``tmp``."""
    if SAMPLE.exists():
        return SAMPLE, "the IEX TOPS sample of 2017-07-10"
    synthetic = synthetic_tops(20_000, n_symbols=200, seed=1)
    return synthetic.write(tmp / "synthetic_tops.pcap"), "a synthetic TOPS capture"


async def run_on_live_udp(path: Path, graph: Graph, symbols: list[str]) -> dict[str, Any]:
    """Replay ``path`` to a local UDP port and run ``graph`` on what arrives there."""
    async with (
        await LiveFeed.bind("127.0.0.1", 0) as feed,
        SerialScheduler().session(graph) as session,
    ):
        await session.start()

        async def send() -> None:
            await replay(path, "127.0.0.1", feed.port, speed=0)
            await asyncio.sleep(0.05)
            feed.close()

        async with asyncio.TaskGroup() as tg:
            tg.create_task(send())
            await run_live(session, aticks(feed.events(idle_timeout_s=5.0), symbols))
        if feed.report.gap_count:
            print(f"  live: {feed.report.gap_count} gaps ({feed.report.missing_messages} lost)")
        return session.values()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path, what = capture_path(Path(tmp))
        decoded = decode_capture(path)
        report = decoded.report
        print(f"{path.name}: {what}")
        print(
            f"  {report.messages:,} messages, {report.segments:,} segments, events {report.events}"
        )
        names, counts = np.unique(decoded.batches["quote"].rows["symbol"], return_counts=True)
        symbols = [n.decode() for n in names[np.argsort(-counts, kind="stable")][:N_SYMBOLS]]
        graph = build_graph(symbols)

        offline = run_graph(graph, batches(iter_events(path), symbols)).values
        print(f"  graph: {len(graph)} nodes over {len(symbols) * 3} sources, symbols {symbols}")
        print(f"  {'symbol':8} {'avg(50) spread bp':>18} {'volume':>8} {'vwap $':>9}")
        for s in symbols:
            avg = offline[make_key("avg_spread_bp", s)]
            volume, vwap = offline[make_key("volume", s)], offline[make_key("vwap", s)]
            print(f"  {s:8} {avg:18.2f} {volume:8,} {vwap:9.4f}")
        print(f"  mean of the rolling spreads: {offline['avg_spread_bp/all']:.2f} bp")

        online = asyncio.run(run_on_live_udp(path, build_graph(symbols), symbols))
        same = all(
            (a == b) or (isinstance(a, float) and math.isnan(a) and math.isnan(b))
            for a, b in ((offline[k], online[k]) for k in graph.node_keys)
        )
        print(f"  the same graph on live UDP (replayed over 127.0.0.1): identical values: {same}")


if __name__ == "__main__":
    main()
