"""``fluvius live`` on the IEX sample with its dashboard, and a screenshot of the page.

Runs the ingestion → inference pipeline of example 09 (``examples/specs/iex_pipeline.yaml``:
features, an online model, drift monitors, a fallback switch and alerts, per symbol):

    fluvius live examples/specs/iex_pipeline.yaml --feed 'iex+pcap://SAMPLE?speed=X' \
        --http 127.0.0.1:0 --duration 60 --json

(X replays the capture in about 10 s), prints the dashboard's address and a JSON snapshot
from its API and, when a headless chromium is present (Debian's ``/usr/bin/chromium``
driven by playwright, a development dependency), opens the page, drills into the busiest
symbol, waits for its values to change and saves a screenshot. Then it asks the run to
stop (SIGINT, as Ctrl-C would) and prints the run's summary. The real TOPS sample is read
from ``$FLUVIUS_IEX_SAMPLE`` or ``../shared/data/iex`` when present. Without it (a fresh
clone), the same pipeline runs over a synthetic capture's five busiest symbols; its
messages all fall within a few milliseconds, so pacing by timestamps would show one burst:
it is replayed evenly instead, ``iex+pcap://…?speed=0&rate=N`` (N datagrams per second,
the whole capture in about 10 s).

Run: ``python examples/10_live_dashboard.py`` (``--serve`` replays in real time and keeps the
dashboard up, for you to open, until the sample ends or Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import runpy
import signal
import sys
import tempfile
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from fluvius.feeds.iex import iter_events
from fluvius.feeds.iex.encode import synthetic_tops
from fluvius.feeds.iex.replay import iter_datagrams
from fluvius.graph.spec import dump_spec
from fluvius.testing.browser import find_chromium

SAMPLE = Path(
    os.environ.get("FLUVIUS_IEX_SAMPLE")
    or Path(__file__).resolve().parents[2] / "shared/data/iex/TOPS16_20170710_sample.pcap.gz"
)
HERE = Path(__file__).resolve().parent
PIPELINE = HERE / "specs" / "iex_pipeline.yaml"
SCREENSHOT = Path(tempfile.gettempdir()) / "fluvius-dashboard.png"


def busiest(path: Path, n: int) -> tuple[list[str], float]:
    """The ``n`` symbols with the most quotes, and the capture's span in seconds."""
    counts: Counter[str] = Counter()
    first = last = 0
    for e in iter_events(path):
        first, last = first or e.ts_ns, e.ts_ns
        if e.kind == "quote":
            counts[e.symbol] += 1
    return sorted(counts, key=lambda s: (-counts[s], s))[:n], (last - first) / 1e9


async def _dashboard_url(stderr: asyncio.StreamReader) -> str:
    while line := (await asyncio.wait_for(stderr.readline(), 120)).decode():
        if line.startswith("dashboard: "):
            return line.split()[1]
    raise RuntimeError("fluvius live ended before it served the dashboard")


async def _drain(stream: asyncio.StreamReader, tail: collections.deque[bytes]) -> None:
    """Read the process's stderr to its end, keeping its last lines (shown on a failure)."""
    while line := await stream.readline():
        tail.append(line)


async def _screenshot(url: str, chromium: str, symbol: str, path: Path) -> None:
    """Open the page, drill into ``symbol``, wait for its mid to change, save a screenshot."""
    from fluvius.testing.browser import headless_page

    async with headless_page(chromium) as browser:
        page = browser.page
        await page.goto(url)
        await page.click(f'#graph g.box[data-scope="{symbol}"]')
        await page.locator(f'#graph g.box[data-key="model/{symbol}"]').wait_for()
        cell = f'#grid tr[data-key="mid/{symbol}"] td:nth-child(2)'
        await page.locator(cell).wait_for()
        before = await page.inner_text(cell)
        await page.wait_for_function(
            "([sel, v]) => document.querySelector(sel).textContent !== v",
            arg=[cell, before],
            timeout=30_000,
        )
        await asyncio.sleep(1.0)  # a few pushes, so the node boxes show values
        await page.screenshot(path=str(path), full_page=True)


async def run(replay_s: float | None, duration: float, serve: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        real = SAMPLE.exists()  # noqa: ASYNC240 - one stat before anything runs
        if real:
            capture, spec = SAMPLE, PIPELINE
            sources = yaml.safe_load(spec.read_text())["sources"]
            symbols = [k.removeprefix("mid/") for k in sources if k.startswith("mid/")]
        else:
            capture = synthetic_tops(6_000, n_symbols=20, seed=4).write(Path(tmp) / "s.pcap")
            symbols = busiest(capture, 5)[0]
            pipeline_spec = runpy.run_path(str(HERE / "09_live_pipeline.py"))["pipeline_spec"]
            spec = Path(tmp) / "pipeline.yaml"
            dump_spec(pipeline_spec(symbols), spec)
        if real:
            speed = 1.0 if replay_s is None else busiest(capture, 1)[1] / replay_s
            pace = f"speed={speed:g}"
        else:  # evenly paced: the synthetic messages are a few milliseconds apart
            datagrams = sum(1 for _ in iter_datagrams(capture))
            pace = f"speed=0&rate={datagrams / (replay_s or 60.0):.0f}"
        args = ["live", str(spec), "--feed", f"iex+pcap://{capture}?{pace}",
                "--http", "127.0.0.1:0", "--duration", f"{duration:g}", "--json"]  # fmt: skip
        print("fluvius " + " ".join(args))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from fluvius.cli.app import main; main()", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None
        assert proc.stderr is not None
        drain: asyncio.Task[None] | None = None
        tail: collections.deque[bytes] = collections.deque(maxlen=20)
        failed, code = False, None
        try:
            url = await _dashboard_url(proc.stderr)
            drain = asyncio.create_task(_drain(proc.stderr, tail))
            print(f"dashboard: {url}  (metrics: {url}metrics)", flush=True)
            await asyncio.sleep(0.5)  # a few cycles
            query = f"api/values?keys=model/{symbols[0]}"
            with urllib.request.urlopen(url + query) as r:  # noqa: ASYNC210 - one small local request
                print(f"GET /{query} ->", r.read().decode())
            chromium = find_chromium()
            if chromium is None:
                print("no headless chromium here (apt-get install chromium): no screenshot")
            else:
                await _screenshot(url, chromium, symbols[0], SCREENSHOT)
                print(f"screenshot of the dashboard: {SCREENSHOT}")
            if not serve and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):  # it may have ended meanwhile
                    proc.send_signal(signal.SIGINT)
            out = await proc.stdout.read()
            await proc.wait()
        except Exception:  # say what the live process did (it may have ended): below
            failed, code = True, proc.returncode  # None: still running (killed below)
            raise
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            if drain is not None:
                await drain
            if failed:
                print(f"fluvius live: return code {code} at the failure; its last stderr lines:")
                print(b"".join(tail).decode(errors="replace"), end="", flush=True)
        if proc.returncode != 0:
            raise RuntimeError(f"fluvius live exited with {proc.returncode}")
        doc: dict[str, Any] = json.loads(out)
        feed = next(iter(doc["feeds"].values()))
        print(
            f"{doc['stats']['cycles']:,} cycles, {feed['messages']:,} messages replayed, "
            f"{feed['gaps']} gaps, {feed['drops']} drops; fluvius live exited with 0"
        )
        return doc


def main(replay_s: float | None = 10.0, duration: float = 60.0, serve: bool = False) -> Any:
    """Replay the capture in about ``replay_s`` seconds (None: real time)."""
    return asyncio.run(run(replay_s, duration, serve))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--serve", action="store_true", help="replay in real time, until the end or Ctrl-C"
    )
    opts = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        main(None, 3600.0, serve=True) if opts.serve else main()
