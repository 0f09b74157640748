"""IEX encoder speed: synthetic captures of the ``iex`` workload, and events → capture.

Usage::

    python benchmarks/iex_encode.py --sizes 10000,100000,1000000,10000000 --repeats 3 \\
        --out benchmarks/results/iex_encode.json

Figures: seconds to generate a synthetic TOPS and DEEP capture (classic pcap) of each size
(``synthetic_tops`` / ``synthetic_deep``: drawing every field and packing the bytes),
messages/s and MB/s of capture written; and ``encode_capture`` on decoded events (the
round-trip path: unified events → capture bytes), messages/s. Medians over repeats.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median_time, write_results
from fluvius.feeds.iex.batch import decode_capture
from fluvius.feeds.iex.encode import encode_capture, synthetic_deep, synthetic_tops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000,10000000")
    parser.add_argument("--symbols", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    doc: dict[str, Any] = {"symbols": args.symbols, "repeats": args.repeats, "synthetic": []}
    print(f"{'feed':5} {'messages':>11} {'seconds':>8} {'msg/s':>12} {'MB/s':>7} {'MB':>8}")
    for n in [int(s) for s in args.sizes.split(",")]:
        for name, make in (("tops", synthetic_tops), ("deep", synthetic_deep)):
            repeats = args.repeats if n <= 1_000_000 else 1
            size = make(min(n, 10_000), args.symbols, 1).size_bytes  # warm-up
            t0 = time.perf_counter()
            size = make(n, args.symbols, 1).size_bytes
            first = time.perf_counter() - t0
            again = functools.partial(make, n, args.symbols, 1)
            sec = first if repeats == 1 else median_time(again, repeats)
            row = {"feed": name, "messages": n, "seconds": sec, "bytes": size}
            row |= {"messages_per_s": n / sec, "mb_per_s": size / sec / 1e6}
            doc["synthetic"].append(row)
            print(
                f"{name:5} {n:11,} {sec:8.3f} {n / sec:12,.0f} {size / sec / 1e6:7.1f} "
                f"{size / 1e6:8.1f}"
            )
    with tempfile.TemporaryDirectory() as tmp:
        path = synthetic_tops(100_000, args.symbols, 2).write(Path(tmp) / "t.pcap")
        batches = list(decode_capture(path).batches.values())
        sec = median_time(lambda: encode_capture(batches), args.repeats)
        doc["encode_capture"] = {"messages": 100_000, "seconds": sec, "messages_per_s": 1e5 / sec}
        print(f"encode_capture (events -> pcap bytes), 100,000 messages: {1e5 / sec:,.0f} msg/s")
    write_results(args.out, doc)


if __name__ == "__main__":
    main()
