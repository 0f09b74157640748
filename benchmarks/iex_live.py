"""Live IEX: decode latency per datagram, and the end-to-end UDP receive rate on loopback.

Usage::

    python benchmarks/iex_live.py --messages 200000 --repeats 5 \\
        --out benchmarks/results/iex_live.json

Figures:

* **decode latency per datagram** (target p99 <= 20 µs): the live receive path minus the
  socket, one ``perf_counter_ns`` pair around each datagram's work, over every datagram of
  a synthetic TOPS and a synthetic DEEP capture (the ``iex`` workload) and of the real
  sample when present; p50 / p99 / p99.9 / max per run, medians over ``--repeats`` runs.
  The decoder keeps its sequence state across datagrams, as live. The paths:

  - ``reference``: ``SegmentDecoder.decode`` (one event object per message, generic);
  - ``columnar`` (b): ``ColumnarSegmentDecoder.decode``, datagram → rows per kind (one
    compiled call; the kernel's origin, ahead-of-time module or JIT, is printed);
  - ``col+adapter`` (c): (b) then ``DatagramAdapter.batch``, the graph's source values
    (quote, mid, trade per symbol; every symbol wanted), and ``col+adapt100`` the same for
    a graph of the capture's 100 most active symbols (most quotes and trades);
  - ``col+objects`` (d): (b) then ``batch.events()``, every event object materialised;
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
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results
from fluvius.feeds.adapter import DatagramAdapter
from fluvius.feeds.iex import ColumnarSegmentDecoder, SegmentDecoder, decode_capture
from fluvius.feeds.iex.encode import synthetic_deep, synthetic_tops
from fluvius.feeds.iex.live import LiveFeed
from fluvius.feeds.iex.replay import iter_datagrams

SAMPLE = next(
    (
        p / "shared/data/iex/TOPS16_20170710_sample.pcap.gz"
        for p in Path(__file__).resolve().parents
        if (p / "shared/data/iex/TOPS16_20170710_sample.pcap.gz").exists()
    ),
    Path("shared/data/iex/TOPS16_20170710_sample.pcap.gz"),
)


def _pct(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1000


def _adapted(decoder: ColumnarSegmentDecoder, symbols: list[str] | None) -> Any:
    decode, adapt = decoder.decode, DatagramAdapter(symbols).batch

    def step(data: bytes, recv_ns: int) -> Any:
        return adapt(decode(data, recv_ns))

    return step


def _materialised(decoder: ColumnarSegmentDecoder, _symbols: Any) -> Any:
    decode = decoder.decode

    def step(data: bytes, recv_ns: int) -> Any:
        return decode(data, recv_ns).events()

    return step


# path name → (decoder factory, the timed step of one datagram given the decoder and the
# most active symbols of the capture)
PATHS: dict[str, tuple[Any, Any]] = {
    "reference": (SegmentDecoder, lambda d, _: d.decode),
    "columnar": (ColumnarSegmentDecoder, lambda d, _: d.decode),
    "col+adapter": (ColumnarSegmentDecoder, lambda d, _: _adapted(d, None)),
    "col+adapt100": (ColumnarSegmentDecoder, _adapted),
    "col+objects": (ColumnarSegmentDecoder, _materialised),
}


def most_active(path: Path, n: int) -> list[str]:
    """The ``n`` symbols with the most quotes and trades in the capture."""
    batches = decode_capture(path).batches
    found = [batches[k].rows["symbol"] for k in ("quote", "trade") if k in batches]
    names, counts = np.unique(np.concatenate(found), return_counts=True)
    top = names[np.argsort(-counts, kind="stable")[:n]]
    return [b.decode("latin-1") for b in top.tolist()]


def decode_latency(
    datagrams: list[bytes], repeats: int, path: str, symbols: list[str]
) -> dict[str, Any]:
    """Per-datagram time percentiles in µs of one path (median over repeats)."""
    make, stepper = PATHS[path]
    warm = stepper(
        make(), symbols
    )  # a JIT kernel compiles (or loads from numba's cache) on first use
    for data in datagrams[:100]:
        warm(data, 0)
    runs = []
    clock, perf = time.time_ns, time.perf_counter_ns
    for _ in range(repeats):
        decoder = make()
        step = stepper(decoder, symbols)
        times = []
        gc.collect()
        for data in datagrams:
            t0 = perf()
            step(data, clock())
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
        kernel = ColumnarSegmentDecoder().kernel
        origin = "none" if kernel is None else "jit" if hasattr(kernel, "py_func") else "aot"
        doc["columnar_kernel"] = origin
        doc["loadavg_before"] = os.getloadavg()
        print(f"decode latency per datagram (µs), median of {args.repeats} runs")
        print(f"columnar kernel: {origin}; load average {os.getloadavg()[0]:.2f}")
        head = ("capture", "path", "datagrams", "msg/dgram", "p50", "p99", "p99.9", "max")
        print("{:8} {:12} {:>9} {:>9} {:>6} {:>6} {:>6} {:>7}".format(*head))
        for name, path in files.items():
            datagrams = [payload for _, payload in iter_datagrams(path)]
            active = most_active(path, 100)
            for path_name in PATHS:
                lat = decode_latency(datagrams, args.repeats, path_name, active)
                doc["latency"][f"{name}/{path_name}"] = lat
                print(
                    f"{name:8} {path_name:12} {lat['datagrams']:9,} "
                    f"{lat['messages_per_datagram']:9.2f} "
                    f"{lat['p50_us']:6.2f} {lat['p99_us']:6.2f} {lat['p999_us']:6.2f} "
                    f"{lat['max_us']:7.1f}"
                )
        doc["loadavg_after"] = os.getloadavg()
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
