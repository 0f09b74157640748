"""Live IEX: decode latency per datagram, and the end-to-end UDP receive rate on loopback.

Usage::

    python benchmarks/iex_live.py --messages 200000 --repeats 5 \\
        --out benchmarks/results/iex_live.json

Figures:

* **decode latency per datagram** (target p99 <= 20 µs): the live receive path minus the
  socket, i.e. ``decoder.decode(datagram, time.time_ns())`` for the live decoder
  (``FastSegmentDecoder``) and the reference ``SegmentDecoder``, one
  ``perf_counter_ns`` pair around each call, over every datagram of a synthetic TOPS and a
  synthetic DEEP capture (the ``iex`` workload) and of the real sample when present;
  p50 / p99 / p99.9 / max per run, medians over ``--repeats`` runs. The decoder keeps its
  sequence state across datagrams, as live;
* **end-to-end receive rate**: ``fluvius iex replay --speed 0 --rate R`` in a child process
  sends the synthetic TOPS capture to 127.0.0.1; this process receives it with
  :class:`fluvius.feeds.iex.live.LiveFeed` and counts datagrams, messages, gaps (lost
  datagrams show up as sequence gaps) and the rate between the first and the last datagram.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results
from fluvius.feeds.iex import SegmentDecoder
from fluvius.feeds.iex.encode import synthetic_deep, synthetic_tops
from fluvius.feeds.iex.fastlive import FastSegmentDecoder
from fluvius.feeds.iex.live import LiveFeed
from fluvius.feeds.iex.replay import iter_datagrams

SAMPLE = Path(__file__).resolve().parents[2] / "shared/data/iex/TOPS16_20170710_sample.pcap.gz"


def _pct(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1000


def decode_latency(datagrams: list[bytes], repeats: int, make: Any) -> dict[str, Any]:
    """Per-datagram decode time percentiles in µs (median over repeats)."""
    runs = []
    clock, perf = time.time_ns, time.perf_counter_ns
    for _ in range(repeats):
        decoder = make()
        times = []
        gc.collect()
        for data in datagrams:
            t0 = perf()
            decoder.decode(data, clock())
            times.append(perf() - t0)
        times.sort()
        runs.append(
            {
                "p50_us": _pct(times, 0.50),
                "p99_us": _pct(times, 0.99),
                "p999_us": _pct(times, 0.999),
                "max_us": times[-1] / 1000,
                "mean_us": sum(times) / len(times) / 1000,
            }
        )
    out = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    out["runs"] = runs
    out["datagrams"] = len(datagrams)
    out["messages_per_datagram"] = decoder.report.messages / max(1, len(datagrams))
    return out


async def _receive(path: Path, rate: float, timeout_s: float) -> dict[str, Any]:
    async with await LiveFeed.bind("127.0.0.1", 0) as feed:
        cmd = [
            sys.executable,
            "-c",
            "from fluvius.cli.app import main; main()",
            "iex",
            "replay",
            str(path),
            "--to",
            f"127.0.0.1:{feed.port}",
            "--speed",
            "0",
            "--rate",
            str(rate),
            "--json",
        ]
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        first = last = 0.0
        n = 0
        try:
            async for _batch in feed.datagrams(idle_timeout_s=timeout_s):
                now = time.perf_counter()
                first = first or now
                last = now
                n += 1
        finally:
            out, err = await proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"replay failed: {err.decode()}")
        span = max(last - first, 1e-9)
        return {
            "rate_limit": rate or None,
            "sent": int(json.loads(out)["datagrams"]),
            "received": feed.stats.datagrams,
            "messages": feed.report.messages,
            "gaps": feed.report.gap_count,
            "missing_messages": feed.report.missing_messages,
            "datagrams_per_s": n / span,
            "messages_per_s": feed.report.messages / span,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--symbols", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rates", default="20000,50000,100000,0")
    parser.add_argument("--out", default="")
    args = parser.parse_args()

    doc: dict[str, Any] = {"messages": args.messages, "repeats": args.repeats, "latency": {}}
    with tempfile.TemporaryDirectory() as tmp:
        files = {
            "tops": synthetic_tops(args.messages, args.symbols, seed=1).write(Path(tmp) / "t.pcap"),
            "deep": synthetic_deep(args.messages, args.symbols, seed=1).write(Path(tmp) / "d.pcap"),
        }
        if SAMPLE.exists():
            files["sample"] = SAMPLE
        print(f"decode latency per datagram (µs), median of {args.repeats} runs")
        head = ("capture", "decoder", "datagrams", "msg/dgram", "p50", "p99", "p99.9")
        print("{:8} {:9} {:>9} {:>9} {:>6} {:>6} {:>6}".format(*head))
        decoders = {"reference": SegmentDecoder, "fast": FastSegmentDecoder}
        for name, path in files.items():
            datagrams = [payload for _, payload in iter_datagrams(path)]
            for dec_name, make in decoders.items():
                lat = decode_latency(datagrams, args.repeats, make)
                doc["latency"][f"{name}/{dec_name}"] = lat
                print(
                    f"{name:8} {dec_name:9} {lat['datagrams']:9,} "
                    f"{lat['messages_per_datagram']:9.2f} "
                    f"{lat['p50_us']:6.2f} {lat['p99_us']:6.2f} {lat['p999_us']:6.2f}"
                )
        print("end-to-end over 127.0.0.1 (replay in a child process, LiveFeed here)")
        header = ("rate limit", "sent", "received", "gaps", "dgram/s", "msg/s")
        print("{:>10} {:>8} {:>8} {:>5} {:>9} {:>9}".format(*header))
        doc["receive"] = []
        for rate in [float(r) for r in args.rates.split(",")]:
            row = asyncio.run(_receive(files["tops"], rate, timeout_s=2.0))
            doc["receive"].append(row)
            limit = f"{rate:,.0f}/s" if rate else "none"
            print(
                f"{limit:>10} {row['sent']:8,} {row['received']:8,} {row['gaps']:5} "
                f"{row['datagrams_per_s']:9,.0f} {row['messages_per_s']:9,.0f}"
            )
    write_results(args.out, doc)


if __name__ == "__main__":
    main()
