"""Feed URLs, the registry, and losses that are logged and counted (never silent)."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import Any

import pytest

from fluvius.feeds.adapter import declare_sources
from fluvius.feeds.iex.encode import synthetic_tops
from fluvius.feeds.iex.replay import iter_datagrams
from fluvius.graph import GraphBuilder
from fluvius.graph.dag import Graph
from fluvius.live import FeedContext, FeedHealth, LiveRun, register_feed
from fluvius.live.feeds import FeedError, parse_feed_url, symbols_of, udp_kernel_drops


def _graph(symbols: list[str]) -> Graph:
    g = GraphBuilder()
    refs = declare_sources(g, symbols)
    for s in symbols:
        g.node(f"n/{s}", lambda trades: len(trades or ()), refs["trade"][s])
    return g.build()


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    cap = synthetic_tops(1_500, n_symbols=8, seed=11)
    return cap.write(tmp_path_factory.mktemp("cap") / "t.pcap"), list(cap.symbols[:4])


def test_urls_parse() -> None:
    u = parse_feed_url("iex+udp://127.0.0.1:10377?group=233.215.21.3&interface=10.0.0.5")
    assert (u.scheme, u.host, u.port) == ("iex+udp", "127.0.0.1", 10377)
    assert u.options == {"group": "233.215.21.3", "interface": "10.0.0.5"}
    assert parse_feed_url("iex+pcap://d/x.pcap.gz?speed=2").path == "d/x.pcap.gz"
    with pytest.raises(FeedError, match="not a URL"):
        parse_feed_url("x.pcap")
    with pytest.raises(FeedError, match="port is not a number"):
        parse_feed_url("iex+udp://127.0.0.1:99999")
    assert symbols_of(["mid/B", "quote/A", "trade/A", "zero", "vwap/C"]) == ["A", "B"]


def test_registry_rejects_duplicates_and_bad_schemes() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_feed("iex+pcap", lambda url, ctx: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="a feed scheme is"):
        register_feed("bad scheme", lambda url, ctx: None)  # type: ignore[arg-type,return-value]


def test_udp_options_are_checked(capture: Any) -> None:
    _, symbols = capture
    with pytest.raises(FeedError, match=r"unknown option\(s\) \['grup'\]"):
        LiveRun(_graph(symbols), ["iex+udp://127.0.0.1:0?grup=x"])
    with pytest.raises(FeedError, match="expected iex\\+udp://HOST:PORT"):
        LiveRun(_graph(symbols), ["iex+udp://127.0.0.1"])


def test_kernel_drops_are_read_from_the_udp_table(tmp_path: Path) -> None:
    table = tmp_path / "udp"
    table.write_text(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode ref pointer drops\n"
        "  1: 0100007F:2889 00000000:0000 07 00000000:00000000 00:00000000 00000000     0"
        "        0 1 2 0000000000000000 17\n"
        "  2: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0"
        "        0 3 2 0000000000000000 5\n"
    )
    assert udp_kernel_drops(0x2889, str(table)) == 17
    assert udp_kernel_drops(1, str(table)) == 0
    assert udp_kernel_drops(1, str(tmp_path / "absent")) is None


@pytest.mark.slow
def test_a_sequence_gap_is_logged_with_feed_and_stream_and_counted(
    capture: Any, caplog: pytest.LogCaptureFixture
) -> None:
    path, symbols = capture
    payloads = [p for _, p in iter_datagrams(path)]

    async def main() -> Any:
        run = LiveRun(_graph(symbols), ["iex+udp://127.0.0.1:0?idle=0.5"])
        task = asyncio.create_task(run.run())
        feed: Any = run.feeds[0]
        await asyncio.wait_for(run.ready.wait(), 30)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i, payload in enumerate(payloads):
            if i != 10:  # one datagram lost on the way
                sock.sendto(payload, ("127.0.0.1", feed.port))
            if i % 50 == 0:
                await asyncio.sleep(0.001)
        sock.close()
        return await task

    with caplog.at_level(logging.WARNING, logger="fluvius.live"):
        report = asyncio.run(main())
    (health,) = report.feeds.values()
    assert health["gaps"] == 1
    assert health["gap_messages"] > 0
    gap = next(r for r in caplog.records if "sequence gap" in r.getMessage())
    assert gap.feed == "iex+udp://127.0.0.1:0?idle=0.5"  # type: ignore[attr-defined]
    assert gap.stream.count("/") == 2  # type: ignore[attr-defined]  # protocol/channel/session


def test_lag_above_the_bound_is_logged_once_and_counted(
    capture: Any, caplog: pytest.LogCaptureFixture
) -> None:
    path, symbols = capture
    url = f"iex+pcap://{path}?speed=0"
    with caplog.at_level(logging.WARNING, logger="fluvius.live"):
        report = asyncio.run(LiveRun(_graph(symbols), [url], lag_warn_s=-1.0).run())
    assert report.feeds[url]["lag_warnings"] == 1  # lags all along: one transition
    record = next(r for r in caplog.records if "lags" in r.getMessage())
    assert record.feed == url  # type: ignore[attr-defined]


def test_a_custom_feed_gets_its_context() -> None:
    seen: dict[str, Any] = {}

    class Once:
        deterministic, clocked = True, False

        def __init__(self, url: Any, context: FeedContext) -> None:
            seen["sources"], seen["health"] = context.sources, context.health
            self.name = context.name

        async def updates(self) -> Any:
            from fluvius.live import FeedUpdate

            yield FeedUpdate({"mid/X": 2.0}, 1, 1)

        def close(self) -> None:
            seen["closed"] = True

    register_feed("once-test", Once, replace=True)
    g = GraphBuilder()
    g.node("twice", lambda m: None if m is None else 2 * m, g.source("mid/X", None))
    report = asyncio.run(LiveRun(g.build(), ["once-test://"]).run())
    assert report.run.values["twice"] == 4.0
    assert seen["sources"] == frozenset({"mid/X"})
    assert isinstance(seen["health"], FeedHealth)
    assert seen["closed"]


def test_the_replayers_default_rate_is_one_constant() -> None:
    """docs/benchmarks.md (issue 13): the default never exceeds the measured lossless rate."""
    import inspect

    from fluvius.cli.iex_replay import replay as cli_replay
    from fluvius.feeds.iex.replay import DEFAULT_MAX_RATE, replay

    assert inspect.signature(replay).parameters["max_rate"].default == DEFAULT_MAX_RATE
    assert inspect.signature(cli_replay).parameters["rate"].default == DEFAULT_MAX_RATE


def test_allow_list_drops_other_sources_and_counts_them(capture: Any) -> None:
    path, symbols = capture
    payloads = [p for _, p in iter_datagrams(path)][:20]

    async def main() -> Any:
        run = LiveRun(_graph(symbols), ["iex+udp://127.0.0.1:0?allow=127.0.0.2"])
        task = asyncio.create_task(run.run())
        await asyncio.wait_for(run.ready.wait(), 30)
        feed: Any = run.feeds[0]
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for payload in payloads:  # from 127.0.0.1: not allowed
            sock.sendto(payload, ("127.0.0.1", feed.port))
        sock.close()
        for _ in range(100):
            await asyncio.sleep(0.02)
            if feed.feed.stats.foreign_drops == len(payloads):
                break
        run.stop("test")
        return await task

    report = asyncio.run(main())
    (health,) = report.feeds.values()
    assert health["foreign_drops"] == len(payloads)
    assert health["messages"] == 0
    with pytest.raises(FeedError, match="not an IPv4 address"):
        asyncio.run(LiveRun(_graph(symbols), ["iex+udp://127.0.0.1:0?allow=nope"]).run())
