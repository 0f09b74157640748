"""The live HTTP server against a LiveState filled by a real session on IEX data.

Every test starts its own server on 127.0.0.1 (a free port) and talks to it with aiohttp's
client over loopback.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from replay_helper import busiest_symbols, capture, per_symbol_graph, replay

from fluvius.errors import NodeError
from fluvius.live import LiveState, graphview, http
from fluvius.live.http import DashboardServer, parse_http_address
from fluvius.live.state import Alert

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[LiveState, list[str], Path]:
    path = capture(tmp_path_factory.mktemp("cap"))
    symbols = busiest_symbols(path, 4)
    state = LiveState()
    asyncio.run(replay(state, per_symbol_graph(symbols), path, symbols))
    return state, symbols, path


async def _get(server: DashboardServer, path: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as http, http.get(server.url + path) as r:
        return r.status, dict(r.headers), await r.read()


def _serve(state: LiveState, path: str, **kw: Any) -> tuple[int, dict[str, str], bytes]:
    async def main() -> tuple[int, dict[str, str], bytes]:
        async with DashboardServer(state, **kw) as server:
            assert server.url.startswith("http://127.0.0.1:")
            return await _get(server, path)

    return asyncio.run(main())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8050", ("127.0.0.1", 8050)),
        (":0", ("127.0.0.1", 0)),
        ("localhost:9", ("localhost", 9)),
        ("0.0.0.0:8050", ("0.0.0.0", 8050)),
        ("[::1]:8050", ("::1", 8050)),
    ],
)
def test_parse_http_address(text: str, expected: tuple[str, int]) -> None:
    assert parse_http_address(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("127.0.0.1:http", "got port 'http'"),
        ("127.0.0.1:70000", r"0\.\.65535"),
        ("::1:80", "IPv6 address in brackets"),
    ],
)
def test_parse_http_address_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_http_address(text)


def test_values_api_is_a_glob_snapshot_with_nan_as_null(
    replayed: tuple[LiveState, list[str], Path],
) -> None:
    state, symbols, _ = replayed
    status, headers, body = _serve(state, "api/values?keys=spread/*")
    assert status == 200, body
    assert headers["Content-Type"].startswith("application/json")
    got = json.loads(body)
    assert sorted(got) == sorted(f"spread/{s}" for s in symbols)
    for key, value in got.items():
        want = state.values[key]
        assert value == (None if math.isnan(want) else want), key
    # every key, with NaN (one-sided quotes) and events written as JSON
    everything = json.loads(_serve(state, "api/values")[2])
    assert set(everything) == set(state.values)
    assert everything["count/" + symbols[0]] == state.values["count/" + symbols[0]] > 0
    assert b"NaN" not in _serve(state, "api/values")[2]
    by_scope = json.loads(_serve(state, f"api/values?scope={symbols[1]}")[2])
    assert sorted(by_scope) == sorted(
        f"{kind}/{symbols[1]}" for kind in ("quote", "mid", "trade", "spread", "last", "count")
    )


def test_metrics_are_prometheus_text_without_per_node_labels(
    replayed: tuple[LiveState, list[str], Path],
) -> None:
    state, _, _ = replayed
    state.record_alert(Alert(state.cycle, "index/mids", "alert", "test alert"))
    status, headers, body = _serve(state, "metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in families.values()
        for s in f.samples
    }
    assert samples["fluvius_cycles_total", ()] == state.cycles_total > 100
    assert samples["fluvius_recomputed_nodes_total", ()] == state.recomputed_total
    assert samples["fluvius_cycle_latency_seconds_count", ()] == state.cycles_total
    assert samples["fluvius_cycle_latency_seconds_sum", ()] == pytest.approx(
        state.cycle_seconds_total
    )
    assert samples["fluvius_feed_messages_total", (("feed", "sample"),)] == (
        state.feeds["sample"].messages
    )
    assert samples["fluvius_worker_busy_seconds_total", (("worker", "main"),)] > 0
    assert samples["fluvius_alerts_total", ()] == state.alerts_total >= 1
    for name in ("gaps", "gap_messages", "drops"):
        assert (f"fluvius_feed_{name}_total", (("feed", "sample"),)) in samples
    assert ("fluvius_feed_lag_seconds", (("feed", "sample"),)) in samples
    assert samples["fluvius_nodes", ()] == len(state.values)
    label_names = {name for (_, labels) in samples for name, _ in labels}
    assert label_names == {"feed", "worker", "le"}  # no per-node label


def test_cycle_latency_histogram_buckets_are_cumulative() -> None:
    state = LiveState()
    for seconds in (0.0001, 0.0001, 0.003, 20.0):
        state.record_cycle(1, seconds, 1)
    text = _serve(state, "metrics")[2].decode()
    bucket = dict(re.findall(r'fluvius_cycle_latency_seconds_bucket\{le="([^"]+)"\} (\S+)', text))
    assert float(bucket["0.0001"]) == 2
    assert float(bucket["0.005"]) == 3
    assert float(bucket["10.0"]) == 3
    assert float(bucket["+Inf"]) == 4


def test_graph_pictures_collapse_per_symbol_and_drill_into_one(
    replayed: tuple[LiveState, list[str], Path],
) -> None:
    state, symbols, _ = replayed
    overview = json.loads(_serve(state, "api/graph")[2])
    assert overview["nodes"] == len(state.values)
    by_id = {s["id"]: s for s in overview["scopes"]}
    assert sorted(by_id) == sorted([*symbols, "index"])
    assert by_id[symbols[0]] == {"id": symbols[0], "nodes": 6, "sources": 3, "layer": 0}
    assert by_id["index"]["layer"] == 1
    index = sorted(by_id).index("index")
    assert sorted(e[0] for e in overview["edges"] if e[1] == index) == [
        i for i, s in enumerate(sorted(by_id)) if s != "index"
    ]
    one = json.loads(_serve(state, f"api/graph?scope={symbols[0]}")[2])
    keys = [n["key"] for n in one["nodes"]]
    assert sorted(keys) == sorted(
        f"{k}/{symbols[0]}" for k in ("quote", "mid", "trade", "spread", "last", "count")
    )
    spread_node = one["nodes"][keys.index(f"spread/{symbols[0]}")]
    assert spread_node["layer"] == 1
    assert spread_node["created_at"].startswith(str(Path(__file__).parent / "replay_helper.py"))
    assert one["external"] == [{"scope": "index", "dir": "out", "layer": 1}]
    status, _, body = _serve(state, "api/graph?scope=NOPE")
    assert status == 404
    assert json.loads(body) == {"error": "no scope 'NOPE' in this graph"}


def test_graph_pictures_are_built_once_for_concurrent_requests(
    replayed: tuple[LiveState, list[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages asking at once share one building (in a worker thread) of each picture, a
    scope's view is found from the overview's members, and a repeated request gets the
    same answer."""
    state, symbols, _ = replayed
    built: list[str] = []

    def counted(name: str, build: Any) -> Any:
        def wrapper(*args: Any, **kw: Any) -> Any:
            built.append(name)
            return build(*args, **kw)

        return wrapper

    monkeypatch.setattr(http, "collapse_members", counted("overview", graphview.collapse_members))
    monkeypatch.setattr(http, "scope_view", counted("scope", graphview.scope_view))

    async def main() -> list[tuple[int, dict[str, str], bytes]]:
        async with DashboardServer(state) as server:
            paths = ["api/graph", f"api/graph?scope={symbols[1]}", "api/graph"] * 3
            first = await asyncio.gather(*(_get(server, p) for p in paths))
            return [*first, await _get(server, "api/graph")]

    answers = asyncio.run(main())
    assert sorted(built) == ["overview", "scope"]
    assert {a[0] for a in answers} == {200}
    overviews = {a[2] for i, a in enumerate(answers) if i % 3 != 1}
    assert len(overviews) == 1
    scope = json.loads(answers[1][2])
    assert {n["key"] for n in scope["nodes"]} == {
        f"{k}/{symbols[1]}" for k in ("quote", "mid", "trade", "spread", "last", "count")
    }


def test_status_reports_latency_feeds_workers_and_errors(
    replayed: tuple[LiveState, list[str], Path],
) -> None:
    state, symbols, _ = replayed
    error = NodeError(
        f"spread/{symbols[0]}",
        worker="serial",
        exc_type="ZeroDivisionError",
        exc_message="division by zero",
        remote_traceback="",
        created_at="spec.yaml:12",
    )
    state.record_cycle(state.cycle + 1, 0.001, 1, errors=[error])
    try:
        status = json.loads(_serve(state, "api/status")[2])
    finally:
        state.record_recovered([error.key])
    ordered = sorted(state.cycle_seconds)
    assert status["latency_ms"]["p50"] == pytest.approx(
        ordered[len(ordered) // 2 - 1] * 1e3, rel=0.5
    )
    assert status["latency_ms"]["p99"] >= status["latency_ms"]["p50"] > 0
    assert status["feeds"][0]["name"] == "sample"
    assert status["feeds"][0]["messages"] == state.feeds["sample"].messages
    assert [w["name"] for w in status["worker_load"]] == ["main"]
    assert status["failed"] == [
        {"key": error.key, "created_at": "spec.yaml:12", "message": str(error)}
    ]
    newest = status["alerts"][0]
    assert (newest["key"], newest["kind"]) == (error.key, "error")
    assert newest["created_at"].endswith(".py:" + newest["created_at"].rsplit(":", 1)[1])


def test_page_and_assets_are_local_only() -> None:
    state = LiveState()
    status, headers, body = _serve(state, "")
    assert status == 200
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    page = body.decode()
    assert "static/app.js" in page
    assert "static/app.css" in page
    static = resources.files("fluvius.live") / "static"
    for name in ("index.html", "app.js", "app.css"):
        text = (static / name).read_text(encoding="utf-8")
        # the one absolute URL allowed is the SVG namespace name (never fetched)
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.\w+[^\s\"')]*", text))
        assert urls <= {"http://www.w3.org/2000/svg"}, (name, urls)
    assert _serve(state, "static/app.js")[0] == 200
    assert _serve(state, "static/../http.py")[0] == 404
    assert _serve(state, "static/nothing.js")[0] == 404


def test_stream_pushes_only_changed_keys_of_the_grid(tmp_path: Path) -> None:
    path = capture(tmp_path)
    symbols = busiest_symbols(path, 3)
    graph = per_symbol_graph(symbols)

    async def main() -> None:
        state = LiveState()
        running = asyncio.Event()
        feeder = replay(state, graph, path, symbols, pace_s=0.0005, running=running)
        async with (
            DashboardServer(state, interval_s=0.05, grid_limit=2) as server,
            asyncio.TaskGroup() as tg,
        ):
            task = tg.create_task(feeder)
            await running.wait()
            url = server.url + "api/stream?keys=count/*"
            events: list[tuple[str, dict[str, Any]]] = []
            async with aiohttp.ClientSession() as http, http.get(url) as r:
                assert r.headers["Content-Type"] == "text/event-stream"
                name = ""
                async for raw in r.content:
                    line = raw.decode().rstrip("\n")
                    if line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: "):
                        events.append((name, json.loads(line[6:])))
                    if sum(n == "values" for n, _ in events) >= 3:
                        break
            task.cancel()
        grid = events[0]
        assert grid[0] == "grid"
        shown = sorted(f"count/{s}" for s in symbols)[:2]
        assert grid[1]["keys"] == shown
        assert grid[1]["total"] == 3
        pushes = [doc for n, doc in events if n == "values"]
        cycles = [doc["cycle"] for doc in pushes]
        assert cycles == sorted(cycles)
        assert cycles[0] > grid[1]["cycle"]
        for doc in pushes:
            assert set(doc["values"]) <= set(shown)
            assert doc["values"]
        assert any(n == "status" for n, _ in events)

    asyncio.run(main())


def test_stream_pushes_the_status_once_a_second_but_alerts_at_once() -> None:
    """The status (whose figures change on every cycle) goes with at most one push per
    ``status_interval_s`` while cycles run; an alert is pushed with the next push."""
    state = LiveState()
    state.record_values(0, {"a": 0.0})
    state.record_cycle(0, 0.0001, 1)

    async def cycles() -> None:
        for cycle in range(1, 10_000):
            state.record_values(cycle, {"a": float(cycle)})
            state.record_cycle(cycle, 0.0001, 1)
            await asyncio.sleep(0.01)

    async def main() -> tuple[list[tuple[float, str]], float]:
        events: list[tuple[float, str]] = []
        alerted = math.inf
        async with (
            DashboardServer(state, interval_s=0.05, status_interval_s=1.0) as server,
            asyncio.TaskGroup() as tg,
        ):
            feeder = tg.create_task(cycles())
            loop = asyncio.get_running_loop()
            async with (
                aiohttp.ClientSession() as client,
                client.get(server.url + "api/stream?keys=*") as r,
            ):
                start = loop.time()
                async for raw in r.content:
                    if raw.startswith(b"event: "):
                        events.append((loop.time() - start, raw[7:].decode().strip()))
                    if alerted == math.inf and events[-1][0] > 2.5:
                        state.record_alert(Alert(state.cycle, "a", "alert", "a is high"))
                        alerted = loop.time() - start
                    if events[-1][0] > alerted + 0.5:
                        break
            feeder.cancel()
        return events, alerted

    events, alerted = asyncio.run(main())
    values = [t for t, name in events if name == "values"]
    status = [t for t, name in events if name == "status"]
    assert len(values) > 30, events  # ~20 pushes of values a second
    regular = [t for t in status if t < alerted]
    assert 3 <= len(regular) <= 4, status  # the first push's, then ~1 a second for 2.5 s
    assert all(b - a > 0.9 for a, b in itertools.pairwise(regular)), status
    assert any(alerted < t < alerted + 0.3 for t in status), (alerted, status)
