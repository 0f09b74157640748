"""IEX batch decoding speed on every capture container, plain and gzipped (issue 14).

Usage::

    python benchmarks/iex_containers.py --messages 1000000 --repeats 3 \\
        --out benchmarks/results/iex_containers.json

Three sessions, each written in every container the decoder reads (pcapng as IEX's HIST
files are laid out: SHB, an IDB with ``if_name`` then ``if_tsresol``, EPBs; in both byte
orders, with µs and ns interfaces; classic pcap in both byte orders, µs and ns), and each
of those gzipped at ``--gzip-level`` (6 by default: gzip's default, which IEX's HIST files
use):

* ``tops`` and ``deep``: the synthetic sessions of :mod:`fluvius.feeds.iex.synthetic`
  (TOPS 1.6 and DEEP 1.0, ``--messages`` messages, 1 to 10 per segment);
* ``real``: the real sample (``TOPS16_20170710_sample.pcap.gz``, 57,674 messages) when
  present, its IEX-TP datagrams laid out again in each container.

Each file is decoded with ``decode_capture`` (the compiled kernels; the file in the page
cache). A row gives messages per second of CPU time (``time.process_time``, every thread,
inflation included; the median of ``--repeats``) and whether it meets the target, 15 M
msg/s; a gzipped row also gives the compression ratio and the ceilings that inflation alone
puts on it (messages per CPU second of python-isal streaming the file into a reused buffer,
and of libdeflate inflating it whole as ``decode_capture`` does; decoding free).
Every decode must give the same events as the session's first container (checked).
"""

from __future__ import annotations

import argparse
import gzip
import os
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results

TARGET = 15e6  # messages per CPU second, every container (issue 14)
SAMPLE_FILE = next(  # shared/data/iex of the nearest ancestor (a worktree's too)
    (
        p / "shared" / "data" / "iex" / "TOPS16_20170710_sample.pcap.gz"
        for p in Path(__file__).resolve().parents
        if (p / "shared" / "data" / "iex").is_dir()
    ),
    Path("shared/data/iex/TOPS16_20170710_sample.pcap.gz"),
)
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
    """Median CPU seconds of ``fn()`` (every thread of the process)."""
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return sorted(times)[len(times) // 2]


def inflate_only(path: Path) -> None:
    """Inflate ``path`` with python-isal into a reused buffer, as the decoder reads."""
    from isal import isal_zlib

    buf = memoryview(bytearray(1 << 20))
    with open(path, "rb") as raw:
        reader = isal_zlib._GzipReader(raw)
        while reader.readinto(buf):
            pass


def sample_datagrams(path: Path) -> tuple[list[bytes], list[int]]:
    """The UDP payloads (IEX-TP segments) and capture times (ns) of a classic
    little-endian pcap of Ethernet/IPv4/UDP frames, gzipped (the real sample)."""
    data = gzip.decompress(path.read_bytes())
    if data[:4] != bytes.fromhex("d4c3b2a1"):
        raise SystemExit(f"{path}: expected a little-endian microsecond pcap")
    payloads, times = [], []
    pos = 24
    while pos + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack_from("<IIII", data, pos)
        frame = data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        udp = 14 + (frame[14] & 0x0F) * 4
        (length,) = struct.unpack_from(">H", frame, udp + 4)
        payloads.append(frame[udp + 8 : udp + length])
        times.append(sec * 1_000_000_000 + usec * 1000)
    return payloads, times


def sessions(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """(name, fmt -> capture bytes) for each session measured."""
    from fluvius.feeds._writers import capture_bytes
    from fluvius.feeds.iex.synthetic import synthetic_deep, synthetic_tops

    found: list[tuple[str, Any]] = []
    for feed, make in (("tops", synthetic_tops), ("deep", synthetic_deep)):
        found.append(
            (
                feed,
                lambda fmt, make=make: make(
                    args.messages, seed=1, fmt=fmt, max_per_segment=args.max_per_segment
                ).tobytes(),
            )
        )
    if args.sample.exists():
        payloads, times = sample_datagrams(args.sample)
        found.append(("real", lambda fmt: capture_bytes(payloads, times, fmt)))
    else:
        print(f"{args.sample} not found: the real sample is left out")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="Prints one row per file (M msg/s of CPU, target check) and a summary table.",
    )
    parser.add_argument("--messages", type=int, default=1_000_000, help="synthetic messages")
    parser.add_argument("--repeats", type=int, default=3, help="decodes per file (median)")
    parser.add_argument("--max-per-segment", type=int, default=10)
    parser.add_argument("--gzip-level", type=int, default=6, help="gzip's level (IEX: 6)")
    parser.add_argument("--sample", type=Path, default=SAMPLE_FILE, help="the real sample")
    parser.add_argument("--out", default="", help="write the figures as JSON here")
    args = parser.parse_args()

    from fluvius.feeds._inflate import inflate_whole
    from fluvius.feeds._kernels import kernels
    from fluvius.feeds._writers import CaptureFormat
    from fluvius.feeds.iex.batch import decode_capture

    k = kernels()
    source = "none (reference)" if k is None else ("ahead-of-time" if k.aot else "just-in-time")
    print(f"compiled kernels: {source}; load average {os.getloadavg()}")
    results: dict[str, Any] = {
        "kernels": source,
        "load_average_at_start": os.getloadavg(),
        "target_cpu_messages_per_s": TARGET,
        "max_per_segment": args.max_per_segment,
        "gzip_level": args.gzip_level,
    }
    worst = float("inf")
    summary: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for feed, build in sessions(args):
            reference: dict[str, Any] | None = None
            rows: dict[str, Any] = {}
            repeats = args.repeats if feed != "real" else max(args.repeats * 5, 9)
            for name, container, nano, order in CONTAINERS:
                fmt = CaptureFormat(container, nano, order)  # type: ignore[arg-type]
                data = build(fmt)
                plain = Path(tmp) / f"{feed}.{name}"
                plain.write_bytes(data)
                gz = Path(tmp) / f"{feed}.{name}.gz"
                gz.write_bytes(gzip.compress(data, compresslevel=args.gzip_level, mtime=0))
                del data
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
                    cpu = cpu_median(lambda p=path: decode_capture(p), repeats)
                    rate = messages / cpu
                    worst = min(worst, rate)
                    label = name + (".gz" if path is gz else "")
                    row: dict[str, Any] = {
                        "file_bytes": path.stat().st_size,
                        "messages": messages,
                        "segments": decoded.report.segments,
                        "cpu_seconds": cpu,
                        "cpu_messages_per_s": rate,
                        "meets_target": rate >= TARGET,
                    }
                    extra = ""
                    if path is gz:
                        inflate = cpu_median(lambda p=path: inflate_only(p), repeats)
                        size = plain.stat().st_size
                        whole = cpu_median(lambda p=path, n=size: inflate_whole(p, n), repeats)
                        row["compression_ratio"] = size / gz.stat().st_size
                        row["inflate_cpu_seconds"] = inflate
                        row["inflate_ceiling_messages_per_s"] = messages / inflate
                        row["inflate_whole_cpu_seconds"] = whole
                        row["inflate_whole_ceiling_messages_per_s"] = messages / whole
                        extra = (
                            f"  ratio {row['compression_ratio']:.2f}x, inflation alone "
                            f"{messages / inflate / 1e6:5.1f} (isal stream) "
                            f"{messages / whole / 1e6:5.1f} (libdeflate whole) M msg/s"
                        )
                    rows[label] = row
                    print(
                        f"{feed} {label:16s} {path.stat().st_size / 1e6:7.1f} MB "
                        f"{messages:>10,} msg  {rate / 1e6:6.1f} M msg/s CPU  "
                        f"{'meets' if rate >= TARGET else 'MISSES'} {TARGET / 1e6:.0f}{extra}",
                        flush=True,
                    )
            results[feed] = rows
            for suffix in ("", ".gz"):
                cells = " | ".join(
                    f"{rows[name + suffix]['cpu_messages_per_s'] / 1e6:.1f}"
                    for name, *_ in CONTAINERS
                )
                summary.append(f"| {feed}{', gzip' if suffix else ''} | {cells} |")
    results["worst_cpu_messages_per_s"] = worst
    results["load_average_at_end"] = os.getloadavg()
    print(f"\nM msg/s CPU (target >= {TARGET / 1e6:.0f}); load average {os.getloadavg()}")
    print("| session | " + " | ".join(name for name, *_ in CONTAINERS) + " |")
    print("| --- |" + " ---: |" * len(CONTAINERS))
    print("\n".join(summary))
    print(f"worst: {worst / 1e6:.1f} M msg/s CPU (target {TARGET / 1e6:.0f})")
    write_results(args.out, results)


if __name__ == "__main__":
    main()
