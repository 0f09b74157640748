"""The dashboard in a real headless chromium, while a capture replays into a live session.

Under CI=true a missing chromium fails these tests (``chromium_or_skip``); elsewhere they
skip. The page must load, show values that change, drill into a scope, and make no request
outside the test server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import runpy
import signal
import sys
from pathlib import Path

import aiohttp
import pytest
from replay_helper import busiest_symbols, capture, chromium_or_skip, per_symbol_graph, replay

from fluvius.graph.spec import dump_spec, spec_to_graph
from fluvius.live import LiveState
from fluvius.live.http import DashboardServer
from fluvius.testing.browser import headless_page

pytestmark = pytest.mark.slow

_CHANGED = """([key, before]) => {
  const row = document.querySelector(`#grid tr[data-key="${key}"]`);
  return row !== null && row.cells[1].textContent !== before;
}"""


def test_dashboard_shows_changing_values_and_drills_down(tmp_path: Path) -> None:
    chromium = chromium_or_skip()
    path = capture(tmp_path)
    symbols = busiest_symbols(path, 4)
    graph = per_symbol_graph(symbols)
    shot = Path(os.environ.get("FLUVIUS_DASHBOARD_SCREENSHOT", tmp_path / "dashboard.png"))

    async def main() -> tuple[str, list[str]]:
        state = LiveState()
        running = asyncio.Event()
        feeder = replay(state, graph, path, symbols, pace_s=0.002, loops=0, running=running)
        async with (
            DashboardServer(state, interval_s=0.1) as server,
            asyncio.TaskGroup() as tg,
            headless_page(chromium) as browser,
        ):
            task = tg.create_task(feeder)
            await running.wait()
            page = browser.page
            # the page loads, with its grid, its status figures and the collapsed graph
            await page.goto(server.url)
            key = f"count/{symbols[0]}"
            row = page.locator(f'#grid tr[data-key="{key}"]')
            await row.wait_for()
            assert await page.locator("#grid tbody tr").count() == len(state.values)
            await page.locator(f'#graph g.box[data-scope="{symbols[0]}"]').wait_for()
            assert await page.locator("#graph g.box").count() == len(symbols) + 1
            assert await page.locator("#feeds tbody tr[data-feed=sample]").count() == 1
            # values appear and change while the capture replays
            before = await row.locator("td").nth(1).inner_text()
            await page.wait_for_function(_CHANGED, arg=[key, before], timeout=10_000)
            assert int((await page.inner_text("#st-cycle")).replace(",", "")) > 0
            assert (await page.inner_text("#st-p99")).endswith(" ms")
            # drill into one scope: its nodes are drawn, and the grid shows only that scope
            await page.click(f'#graph g.box[data-scope="{symbols[0]}"]')
            spread = page.locator(f'#graph g.box[data-key="spread/{symbols[0]}"]')
            await spread.wait_for()
            assert await page.locator('#graph g.box[data-external="index"]').count() == 1
            assert await page.inner_text("#crumb") == f"scope {symbols[0]}"
            await page.wait_for_function(
                "n => document.querySelectorAll('#grid tbody tr').length === n", arg=6
            )
            grid_keys = await page.eval_on_selector_all(
                "#grid tbody tr", "rows => rows.map(r => r.dataset.key)"
            )
            assert all(k.endswith("/" + symbols[0]) for k in grid_keys), grid_keys
            count_value = page.locator(f'#graph g.box[data-key="{key}"] text.value')
            await page.wait_for_function(
                'k => document.querySelector(`#graph g.box[data-key="${k}"] text.value`)'
                ".textContent.length > 0",
                arg=key,
            )
            assert int(await count_value.text_content() or "0") > 0
            await page.screenshot(path=str(shot), full_page=True)
            # and back to the overview
            await page.click("#back")
            await page.locator(f'#graph g.box[data-scope="{symbols[1]}"]').wait_for()
            task.cancel()
        return server.url, browser.requests

    url, requests = asyncio.run(main())
    assert url.startswith("http://127.0.0.1:")
    assert requests, "the browser made no request at all"
    outside = [r for r in requests if not r.startswith(url)]
    assert not outside, f"requests that left the test server: {outside}"
    assert shot.stat().st_size > 10_000


def _pipeline_spec(symbols: list[str], path: Path) -> Path:
    """The ingestion -> inference pipeline of example 09 (make demo's spec) for ``symbols``."""
    example = Path(__file__).resolve().parents[2] / "examples" / "09_live_pipeline.py"
    dump_spec(runpy.run_path(str(example))["pipeline_spec"](symbols), path)
    return path


async def _dashboard_url(proc: asyncio.subprocess.Process) -> str:
    assert proc.stderr is not None
    lines = []
    while True:
        line = (await asyncio.wait_for(proc.stderr.readline(), 60)).decode()
        lines.append(line)
        if not line:
            raise AssertionError("fluvius live ended before serving:\n" + "".join(lines))
        if line.startswith("dashboard: "):
            return line.split()[1]


def test_fluvius_live_http_serves_the_dashboard_end_to_end(tmp_path: Path) -> None:
    chromium = chromium_or_skip()
    path = capture(tmp_path)
    symbols = busiest_symbols(path, 3)
    spec = _pipeline_spec(symbols, tmp_path / "spec.yaml")
    cmd = [
        sys.executable, "-c", "from fluvius.cli.app import main; main()", "live", str(spec),
        "--feed", f"iex+pcap://{path}?speed=20", "--http", ":0", "--duration", "120", "--json",
    ]  # fmt: skip

    async def main() -> tuple[str, list[str], int, bytes]:
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        try:
            url = await _dashboard_url(proc)
            async with headless_page(chromium) as browser:
                page = browser.page
                await page.goto(url)
                key = f"mid/{symbols[0]}"
                await page.fill("#glob", "mid/*")  # the grid filters by glob
                await page.wait_for_function(
                    "n => document.querySelectorAll('#grid tbody tr').length === n",
                    arg=len(symbols),
                )
                row = page.locator(f'#grid tr[data-key="{key}"]')
                await row.wait_for()
                await page.locator(f'#graph g.box[data-scope="{symbols[0]}"]').wait_for()
                before = await row.locator("td").nth(1).inner_text()
                await page.wait_for_function(_CHANGED, arg=[key, before], timeout=30_000)
                await page.click(f'#graph g.box[data-scope="{symbols[0]}"]')
                await page.locator(f'#graph g.box[data-key="model/{symbols[0]}"]').wait_for()
                async with aiohttp.ClientSession() as http:
                    async with http.get(url + "api/values?keys=model/*") as r:
                        values = await r.json()
                    async with http.get(url + "metrics") as r:
                        metrics = await r.text()
                assert sorted(values) == sorted(f"model/{s}" for s in symbols)
                assert "fluvius_cycles_total" in metrics
            proc.send_signal(signal.SIGINT)
            out, _ = await asyncio.wait_for(proc.communicate(), 60)
            return url, browser.requests, await proc.wait(), out
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    url, requests, code, out = asyncio.run(main())
    assert url.startswith("http://127.0.0.1:")
    assert code == 0
    assert json.loads(out)["stats"]["cycles"] > 1
    outside = [r for r in requests if not r.startswith(url)]
    assert requests
    assert not outside, f"requests that left the test server: {outside}"


_TOP_ROW_IS = """key => {
  const box = document.getElementById("grid-box").getBoundingClientRect();
  const head = document.querySelector("#grid th").getBoundingClientRect();
  const cell = document.elementFromPoint(box.left + 20, head.bottom + 4);
  return cell !== null && cell.closest("tr") !== null && cell.closest("tr").dataset.key === key;
}"""


def test_grid_holds_only_the_rows_in_view(tmp_path: Path) -> None:
    chromium = chromium_or_skip()
    keys = [f"k/{i:04d}" for i in range(1500)]

    async def main() -> None:
        state = LiveState()
        state.record_values(0, {k: float(i) for i, k in enumerate(keys)})
        state.record_cycle(0, 0.0001, 1)
        async with (
            DashboardServer(state, interval_s=0.05) as server,
            headless_page(chromium) as browser,
        ):
            page = browser.page
            await page.goto(server.url)
            await page.locator('#grid tr[data-key="k/0000"]').wait_for()
            assert await page.inner_text("#grid-count") == "first 1,000 of 1,500 keys"
            rows = await page.locator("#grid tbody tr").count()
            assert 10 < rows < 60, rows  # the rows in view and a few around, not 1,000
            heights = await page.eval_on_selector_all(
                "#grid tbody tr", "rows => rows.map(r => r.getBoundingClientRect().height)"
            )
            assert set(heights) == {24}, heights  # app.js's ROW_H: margins stand for the rest
            # the scroll range is the whole grid's, and scrolling shows the rows there
            height = await page.eval_on_selector("#grid-box", "b => b.scrollHeight")
            assert 1000 * 24 <= height < 1000 * 24 + 60, height
            await page.eval_on_selector("#grid-box", "b => b.scrollIntoView()")
            await page.eval_on_selector("#grid-box", "b => { b.scrollTop = 500 * 24; }")
            await page.wait_for_function(_TOP_ROW_IS, arg="k/0500")  # under the sticky head
            # a value pushed while its row was out of view shows when the row comes in
            state.record_values(1, {"k/0003": -1.5, "k/0510": -2.5})
            state.record_cycle(1, 0.0001, 1)
            await page.wait_for_function(
                "() => document.querySelector('#grid tr[data-key=\"k/0510\"]')"
                ".cells[1].textContent === '-2.5'"
            )
            assert await page.locator('#grid tr[data-key="k/0003"]').count() == 0
            await page.eval_on_selector("#grid-box", "b => { b.scrollTop = 0; }")
            await page.wait_for_function(
                "() => document.querySelector('#grid tr[data-key=\"k/0003\"]')"
                "?.cells[1].textContent === '-1.5'"
            )
            assert await page.locator("#grid tbody tr").count() == rows

    asyncio.run(main())


# counts the page's animation-frame requests (the page asks for one per push it draws)
_COUNT_FRAMES = """
window.framesAsked = 0;
const ask = window.requestAnimationFrame.bind(window);
window.requestAnimationFrame = (callback) => { window.framesAsked++; return ask(callback); };
"""
# records what the page writes from now on: the key of the row (or the id of the element)
# of every text written
_WATCH_WRITES = """() => {
  window.written = [];
  const where = (node) => {
    const row = node.parentElement?.closest("tr[data-key], g.box[data-scope], g.box[data-key]");
    return row ? (row.dataset.key || row.dataset.scope) + "#" + [...row.children].indexOf(
      node.parentElement.closest("td, text") ?? node.parentElement) : node.parentElement?.id;
  };
  new MutationObserver((records) => {
    for (const r of records) window.written.push(where(r.target.nodeType === 1
      ? r.target.firstChild ?? r.target : r.target));
  }).observe(document.body, { subtree: true, childList: true, characterData: true });
}"""


def test_a_push_draws_only_the_values_in_view_that_changed(tmp_path: Path) -> None:
    """A push whose values are all out of view asks for no frame and writes nothing; a push
    writes only the cells whose value changed (not the others of its push, not the graph
    picture, not the status figures between two status pushes)."""
    chromium = chromium_or_skip()
    keys = [f"k/{i:04d}" for i in range(1500)]
    graph = spec_to_graph({"sources": dict.fromkeys(keys, 0.0), "nodes": {}})

    async def main() -> tuple[int, int, list[str], list[str]]:
        state = LiveState(graph=graph)
        state.record_values(0, {k: float(i) for i, k in enumerate(keys)})
        state.record_cycle(0, 0.0001, 1)
        cycle = 0

        def push(values: dict[str, float]) -> None:
            nonlocal cycle
            cycle += 1
            state.record_values(cycle, values)
            state.record_cycle(cycle, 0.0001, 1)

        async with (
            DashboardServer(state, interval_s=0.05, status_interval_s=3600) as server,
            headless_page(chromium) as browser,
        ):
            page = browser.page
            await page.add_init_script(_COUNT_FRAMES)
            await page.goto(server.url)
            await page.locator('#grid tr[data-key="k/0000"]').wait_for()
            await page.locator("#graph g.box").first.wait_for()
            await page.eval_on_selector("#grid-box", "b => b.scrollIntoView()")
            await asyncio.sleep(0.3)  # the page has drawn what it got
            await page.evaluate(_WATCH_WRITES)
            asked = await page.evaluate("window.framesAsked")
            # pushes of values out of view: rows 1,200 (below the box's view) and 1,400 (not
            # in the grid, which holds the first 1,000 keys)
            pushes = await page.evaluate("window.fluviusDashboard.pushes")
            for n in range(5):
                push({"k/1200": -1.0 - n, "k/0990": -1.0 - n, "k/1400": 7.0 + n})
                await page.wait_for_function(  # polled on a timer: playwright's default
                    "n => window.fluviusDashboard.pushes > n", arg=pushes + n, polling=20
                )  # polls in animation frames
            idle_asked = await page.evaluate("window.framesAsked") - asked
            idle_written = await page.evaluate("window.written")
            # a push with two rows in view: one value changed, one pushed again unchanged
            push({"k/0001": -5.5, "k/0002": 2.0})
            await page.wait_for_function(
                "() => document.querySelector('#grid tr[data-key=\"k/0001\"]')"
                ".cells[1].textContent === '-5.5'"
            )
            await asyncio.sleep(0.3)
            written = await page.evaluate("window.written")
            # the row out of view shows its newest value once it is scrolled to
            await page.eval_on_selector("#grid-box", "b => { b.scrollTop = 985 * 24; }")
            await page.wait_for_function(
                "() => document.querySelector('#grid tr[data-key=\"k/0990\"]')"
                "?.cells[1].textContent === '-5'"
            )
            # the grid box below the window's bottom edge: its rows are not drawn, until
            # the window is scrolled to them
            await page.eval_on_selector("#grid-box", "b => { b.scrollTop = 0; }")
            await page.set_viewport_size({"width": 1400, "height": 300})
            await page.evaluate("window.scrollTo(0, 0)")
            await page.wait_for_function(
                "() => document.getElementById('grid-box').getBoundingClientRect().top > 300"
            )
            await asyncio.sleep(0.3)
            before = await page.evaluate("[window.framesAsked, window.fluviusDashboard.pushes]")
            push({"k/0001": 8.25})
            await page.wait_for_function(
                "n => window.fluviusDashboard.pushes > n", arg=before[1], polling=20
            )
            below = await page.evaluate("window.framesAsked") - before[0]
            await page.eval_on_selector("#grid-box", "b => b.scrollIntoView()")
            await page.wait_for_function(
                "() => document.querySelector('#grid tr[data-key=\"k/0001\"]')"
                ".cells[1].textContent === '8.25'"
            )
        assert below == 0, below
        return asked, idle_asked, idle_written, written

    asked, idle_asked, idle_written, written = asyncio.run(main())
    assert asked > 0  # the counter counts
    assert idle_asked == 0, idle_asked
    assert idle_written == [], idle_written
    # k/0001's value and cycle; k/0002 (same value) its cycle only: nothing else
    assert sorted(written) == ["k/0001#1", "k/0001#2", "k/0002#2"], written
