"""Feed → graph adapter: ticks and batches; one graph on a capture and on live UDP alike."""

from __future__ import annotations

import asyncio
import math
from collections import deque
from pathlib import Path
from typing import Any

import pytest
from capture_builder import shared_sample

from fluvius.feeds.adapter import aticks, batches, declare_sources, event_ticks, source_key
from fluvius.feeds.book import BestBidOffer
from fluvius.feeds.events import Event, Quote, SystemEvent, Trade
from fluvius.feeds.iex import iter_events
from fluvius.feeds.iex.encode import synthetic_tops
from fluvius.feeds.iex.live import LiveFeed
from fluvius.feeds.iex.replay import replay
from fluvius.graph import GraphBuilder
from fluvius.graph.dag import Graph
from fluvius.scheduling import SerialScheduler, run_graph, run_live

B = 1_000_000_000


def test_ticks_per_kind() -> None:
    q = Quote("IEX", "AB", 1, 7, 1, 10 * B, 1, 12 * B, 2, 0)
    bbo = BestBidOffer("IEX", "AB", 1, 7, 2, 0, 0, 12 * B, 2)
    t = Trade("IEX", "AB", 1, 7, 3, 11 * B, 5, 9, 0)
    assert event_ticks(q) == [("quote/AB", q), ("mid/AB", 11.0)]
    (quote_tick, (mid_key, mid)) = event_ticks(bbo)
    assert (quote_tick, mid_key, math.isnan(mid)) == (("quote/AB", bbo), "mid/AB", True)
    assert event_ticks(t) == [("trade/AB", (t,))]
    assert event_ticks(SystemEvent("IEX", "", 1, 7, 4, "O")) == []
    with pytest.raises(ValueError, match="unknown source kind 'bid'"):
        source_key("bid", "AB")


def test_batches_per_event_or_per_datagram_and_symbol_filter() -> None:
    q1 = Quote("IEX", "AB", 1, 7, 1, 10 * B, 1, 12 * B, 2, 0)
    q2 = Quote("IEX", "AB", 2, 7, 2, 10 * B, 1, 14 * B, 2, 0)
    t = Trade("IEX", "CD", 3, 8, 3, 11 * B, 5, 9, 0)
    assert list(batches([q1, q2, t], ["AB"])) == [
        {"quote/AB": q1, "mid/AB": 11.0},
        {"quote/AB": q2, "mid/AB": 12.0},
    ]
    assert list(batches([q1, q2, t], per="recv")) == [
        {"quote/AB": q2, "mid/AB": 12.0},
        {"trade/CD": (t,)},
    ]
    with pytest.raises(ValueError, match="per must be"):
        list(batches([], per="tick"))


def test_trades_accumulate_and_are_the_trades_of_the_cycle() -> None:
    """Issue 13: every trade of a datagram reaches the graph, and a cycle without trades of a
    symbol sets its trade source to () so nothing is seen twice."""
    t1 = Trade("IEX", "AB", 1, 7, 1, 11 * B, 5, 1, 0)
    t2 = Trade("IEX", "AB", 2, 7, 2, 12 * B, 7, 2, 0)
    q = Quote("IEX", "AB", 3, 8, 3, 10 * B, 1, 12 * B, 2, 0)
    assert list(batches([t1, t2, q], per="recv")) == [
        {"trade/AB": (t1, t2)},
        {"quote/AB": q, "mid/AB": 11.0, "trade/AB": ()},
    ]
    assert list(batches([t1, q])) == [
        {"trade/AB": (t1,)},
        {"quote/AB": q, "mid/AB": 11.0, "trade/AB": ()},
    ]


class RollingMean:
    """Mean of the last ``window`` finite values (a stateful node)."""

    def __init__(self, window: int) -> None:
        self.values: deque[float] = deque(maxlen=window)

    def update(self, x: float) -> None:
        if not math.isnan(x):
            self.values.append(x)

    def get(self) -> float:
        return sum(self.values) / len(self.values) if self.values else math.nan


class Count:
    def __init__(self) -> None:
        self.n = 0

    def update(self, trades: Any) -> None:
        self.n += len(trades or ())

    def get(self) -> int:
        return self.n


def spread(quote: Any) -> float:
    return math.nan if quote is None else (quote.ask_px - quote.bid_px) / B


def _graph(symbols: list[str]) -> Graph:
    g = GraphBuilder()
    refs = declare_sources(g, symbols)
    for s in symbols:
        g.node(f"spread/{s}", spread, refs["quote"][s])
        g.node(f"avg_mid/{s}", RollingMean(20), refs["mid"][s], every_tick=True)
        g.node(f"trades/{s}", Count(), refs["trade"][s], every_tick=True)
    return g.build()


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    for k, v in a.items():
        w = b[k]
        if isinstance(v, float) and math.isnan(v):
            if not (isinstance(w, float) and math.isnan(w)):
                return False
        elif isinstance(v, Event):
            if v.seq != w.seq:
                return False
        elif k.startswith("trade/"):  # the last cycle's trades depend on its batching
            if not (isinstance(v, tuple) and isinstance(w, tuple)):
                return False
        elif v != w:
            return False
    return True


def _live_values(path: Path, symbols: list[str], ticks_of: Any) -> dict[str, Any]:
    """The graph's values after a replay of ``path`` received by a LiveFeed and fed to
    ``run_live`` as ``ticks_of(feed)``."""

    async def live() -> dict[str, Any]:
        async with (
            await LiveFeed.bind("127.0.0.1", 0) as feed,
            SerialScheduler().session(_graph(symbols)) as session,
        ):
            await session.start()

            async def send() -> None:
                await replay(path, "127.0.0.1", feed.port, speed=0)
                await asyncio.sleep(0.05)
                feed.close()

            async with asyncio.TaskGroup() as tg:
                tg.create_task(send())
                await run_live(session, ticks_of(feed))
            assert feed.report.gap_count == 0
            return session.values()

    return asyncio.run(live())


@pytest.mark.slow
def test_one_graph_on_a_capture_and_on_live_udp(tmp_path: Path) -> None:
    cap = synthetic_tops(5_000, n_symbols=100, seed=2)
    path = cap.write(tmp_path / "t.pcap")
    symbols = list(cap.symbols[:10])
    offline = run_graph(_graph(symbols), batches(iter_events(path), symbols))
    online = _live_values(
        path, symbols, lambda feed: aticks(feed.events(idle_timeout_s=2.0), symbols)
    )
    assert offline.values["trades/" + symbols[0]] > 0
    assert _same(offline.values, online)


def test_aticks_accepts_a_plain_iterable() -> None:
    q = Quote("IEX", "AB", 1, 7, 1, 10 * B, 1, 12 * B, 2, 0)

    async def collect() -> list[tuple[str, Any]]:
        return [t async for t in aticks([q, q], ["AB"])]

    assert [k for k, _ in asyncio.run(collect())] == ["quote/AB", "mid/AB"] * 2


def test_deep_books_drive_the_quote_sources() -> None:
    from fluvius.feeds.book import with_books
    from fluvius.feeds.events import BookLevelUpdate

    plus = [
        BookLevelUpdate("IEX", "AB", 1, 1, 1, "B", 10 * B, 100, False),
        BookLevelUpdate("IEX", "AB", 1, 1, 2, "S", 12 * B, 200, True),
        BookLevelUpdate("IEX", "AB", 2, 2, 3, "S", 11 * B, 50, True),
    ]
    mids = [b["mid/AB"] for b in batches(with_books(plus, depth=0), ["AB"])]
    assert mids == [11.0, 10.5]


SAMPLE = shared_sample() or Path("shared/data/iex/TOPS16_20170710_sample.pcap.gz")


def _columnar_equals_per_event(path: Path, symbols: list[str] | None) -> int:
    """Per datagram: DatagramAdapter on the columnar batch == batches(per="recv") on its
    events (compared exactly: event objects by ==, mids by value or both NaN)."""
    from fluvius.feeds.adapter import DatagramAdapter
    from fluvius.feeds.iex.datagram import ColumnarSegmentDecoder
    from fluvius.feeds.iex.replay import iter_datagrams

    decoder, adapter = ColumnarSegmentDecoder(), DatagramAdapter(symbols)
    updates = 0
    for recv, payload in iter_datagrams(path):
        batch = decoder.decode(payload, recv)
        got = adapter.batch(batch)
        expected = list(batches(list(batch), symbols, per="recv"))
        assert [got] == expected if got else expected == []
        for key, value in got.items():
            want = expected[0][key]
            assert (value == want) or (math.isnan(value) and math.isnan(want)), key
        updates += len(got)
    return updates


@pytest.mark.slow
def test_datagram_adapter_equals_the_per_event_adapter(tmp_path: Path) -> None:
    cap = synthetic_tops(4_000, n_symbols=50, seed=8)
    path = cap.write(tmp_path / "t.pcap")
    assert _columnar_equals_per_event(path, None) > 0
    few = [*cap.symbols[:5], "NOTTHERE", "TOOLONGNAME", "É"]
    assert _columnar_equals_per_event(path, few) > 0
    assert _columnar_equals_per_event(path, []) == 0


@pytest.mark.slow
@pytest.mark.skipif(not SAMPLE.exists(), reason="the shared IEX sample is not present")
def test_datagram_adapter_on_the_real_sample() -> None:
    assert _columnar_equals_per_event(SAMPLE, None) > 0
    assert _columnar_equals_per_event(SAMPLE, ["AAPL", "SPY", "ZIEXT"]) > 0


@pytest.mark.slow
def test_one_graph_on_a_capture_and_on_live_columnar_batches(tmp_path: Path) -> None:
    from fluvius.feeds.adapter import adatagram_ticks

    cap = synthetic_tops(5_000, n_symbols=100, seed=2)
    path = cap.write(tmp_path / "t.pcap")
    symbols = list(cap.symbols[:10])
    # offline: the per-event adapter, one batch per datagram (as the columnar one conflates)
    from fluvius.feeds.iex import SegmentDecoder
    from fluvius.feeds.iex.replay import iter_datagrams

    ref = SegmentDecoder()
    per_datagram = [
        b
        for recv, p in iter_datagrams(path)
        for b in batches(ref.decode(p, recv), symbols, per="recv")
    ]
    offline = run_graph(_graph(symbols), per_datagram)
    online = _live_values(
        path, symbols, lambda feed: adatagram_ticks(feed.batches(idle_timeout_s=2.0), symbols)
    )
    assert offline.values["trades/" + symbols[0]] > 0
    assert _same(offline.values, online)
