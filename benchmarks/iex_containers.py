"""IEX batch decoding speed on every capture container (issue 14, item 2).

Usage::

    python benchmarks/iex_containers.py --messages 1000000 --repeats 3 \\
        --out benchmarks/results/iex_containers.json

The same synthetic session (``fluvius.feeds.iex.synthetic``, TOPS 1.6 and DEEP 1.0, 1 to 10
messages per segment) is written in every container the decoder reads: pcapng as IEX's
HIST files are laid out (SHB, an IDB with ``if_name`` then ``if_tsresol``, EPBs), in both
byte orders, with µs and ns interfaces; classic pcap in both byte orders, µs and ns; and
each of them gzipped (python-isal, level 1). Each file is decoded with ``decode_capture``
(the compiled kernels; the file in the page cache) and the figure is messages per second
of CPU time (``time.process_time``, inflation included), the median of ``--repeats``.
Every decode must give the same events as the classic pcap one (checked).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results

TARGET = 15e6  # messages per CPU second, every container (issue 14)
CONTAINERS = [  # (name, container, nanosecond, byte order)
    ("pcapng", "pcapng", False, "<"),
    ("pcapng-ns", "pcapng", True, "<"),
    ("pcapng-big", "pcapng", False, ">"),
    ("pcap", "pcap", False, "<"),
    ("pcap-ns", "pcap", True, "<"),
    ("pcap-big", "pcap", False, ">"),
    ("pcap-big-ns", "pcap", True, ">"),
]


def cpu_median(fn: Any, repeats: int) -> float:
    """Median CPU seconds of ``fn()``."""
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-per-segment", type=int, default=10)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    from isal import igzip

    from fluvius.feeds._kernels import kernels
    from fluvius.feeds._writers import CaptureFormat
    from fluvius.feeds.iex.batch import decode_capture
    from fluvius.feeds.iex.synthetic import synthetic_deep, synthetic_tops

    k = kernels()
    source = "none (reference)" if k is None else ("ahead-of-time" if k.aot else "just-in-time")
    print(f"compiled kernels: {source}; load average {os.getloadavg()}")
    results: dict[str, Any] = {
        "kernels": source,
        "load_average_at_start": os.getloadavg(),
        "target_cpu_messages_per_s": TARGET,
        "max_per_segment": args.max_per_segment,
    }
    worst = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        for feed, make in (("tops", synthetic_tops), ("deep", synthetic_deep)):
            reference: dict[str, Any] | None = None
            rows: dict[str, Any] = {}
            for name, container, nano, order in CONTAINERS:
                fmt = CaptureFormat(container, nano, order)  # type: ignore[arg-type]
                cap = make(args.messages, seed=1, fmt=fmt, max_per_segment=args.max_per_segment)
                plain = cap.write(Path(tmp) / f"{feed}.{name}")
                gz = Path(tmp) / f"{feed}.{name}.gz"
                gz.write_bytes(igzip.compress(plain.read_bytes(), compresslevel=1))
                for path in (plain, gz):
                    path.read_bytes()  # into the page cache
                    decoded = decode_capture(path)
                    got = {kind: b.rows for kind, b in decoded.batches.items()}
                    if reference is None:
                        reference = got
                    same = got.keys() == reference.keys() and all(
                        (got[kind] == reference[kind]).all() for kind in got
                    )
                    if not same and nano:  # a µs container keeps µs capture times only
                        same = all(
                            (got[kind][f] == reference[kind][f]).all()
                            for kind in got
                            for f in got[kind].dtype.names
                            if f != "recv_ns"
                        )
                    assert same, f"{path.name}: events differ from the first container's"
                    messages = decoded.report.messages
                    cpu = cpu_median(lambda p=path: decode_capture(p), args.repeats)
                    rate = messages / cpu
                    worst = min(worst, rate)
                    label = name + (".gz" if path is gz else "")
                    rows[label] = {
                        "file_bytes": path.stat().st_size,
                        "messages": messages,
                        "segments": decoded.report.segments,
                        "cpu_seconds": cpu,
                        "cpu_messages_per_s": rate,
                        "meets_target": rate >= TARGET,
                    }
                    print(
                        f"{feed} {label:16s} {path.stat().st_size / 1e6:7.1f} MB "
                        f"{messages:>10,} msg  {rate / 1e6:6.1f} M msg/s CPU"
                        f"{'' if rate >= TARGET else '  (below target)'}"
                    )
            results[feed] = rows
    results["worst_cpu_messages_per_s"] = worst
    results["load_average_at_end"] = os.getloadavg()
    print(f"worst: {worst / 1e6:.1f} M msg/s CPU (target {TARGET / 1e6:.0f})")
    write_results(args.out, results)


if __name__ == "__main__":
    main()
