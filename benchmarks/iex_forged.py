"""Forged datagrams against the live decoder's state (issue 15, items 1 and 6).

Usage::

    python benchmarks/iex_forged.py --forged 300000 --out benchmarks/results/iex_forged.json

Feeds a live decoder (:class:`~fluvius.feeds.iex.datagram.ColumnarSegmentDecoder`, what
``LiveFeed`` uses) the datagrams of a synthetic TOPS capture with ``--forged`` spoofed
40-byte heartbeats mixed in, each of a new session (the attack on per-stream state), and
reports the memory the decoder's state grew by (``tracemalloc``), the streams it tracks,
the time per datagram, and whether the real stream's messages all came through.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tempfile

from _common import write_results
from fluvius.feeds.iex.datagram import ColumnarSegmentDecoder
from fluvius.feeds.iex.replay import iter_datagrams
from fluvius.feeds.iex.synthetic import synthetic_tops
from fluvius.feeds.iex.transport import HEADER


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--forged", type=int, default=300_000)
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = synthetic_tops(args.messages, seed=7).write(Path(tmp) / "c.pcap")
        real = [payload for _, payload in iter_datagrams(path)]
    protocol = HEADER.unpack(real[0][:40])[2]
    mixed: list[bytes] = []
    forged = 0
    for i, payload in enumerate(real):  # the forged ones spread evenly between the real ones
        mixed.append(payload)
        while forged < (i + 1) * args.forged // len(real):
            forged += 1
            mixed.append(HEADER.pack(1, 0, protocol, 1, 10**6 + forged, 0, 0, 0, 1, 0))
    decoder = ColumnarSegmentDecoder()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    messages = 0
    for i, payload in enumerate(mixed):
        messages += len(decoder.decode(payload, i))
    seconds = time.perf_counter() - t0
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    report = decoder.report
    tracked = len(decoder.tracker.streams) + len(getattr(decoder.tracker, "_new", {}))
    result: dict[str, Any] = {
        "forged": forged,
        "datagrams": len(mixed),
        "real_messages": sum(HEADER.unpack(p[:40])[6] for p in real),
        "messages_received": messages,
        "state_growth_bytes": grown,
        "streams_tracked": tracked,
        "stream_evictions": getattr(report, "stream_evictions", None),
        "us_per_datagram": seconds / len(mixed) * 1e6,
    }
    print(
        f"{forged:,} forged heartbeats among {len(real):,} real datagrams: state grew "
        f"{grown / 1e6:.1f} MB, {tracked:,} streams tracked, "
        f"{result['stream_evictions']} dropped; {messages:,} of "
        f"{result['real_messages']:,} real messages received; "
        f"{result['us_per_datagram']:.2f} us per datagram"
    )
    write_results(args.out, result)


if __name__ == "__main__":
    main()
