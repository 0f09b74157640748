"""Degenerate capture input against a clean capture of the same size (issue 15, item 9).

Usage::

    python benchmarks/iex_degenerate.py --mb 64 --repeats 3 \\
        --out benchmarks/results/iex_degenerate.json

Inputs, all of the same uncompressed size (``--mb``):

* **clean**: a synthetic TOPS capture (classic pcap);
* **empty records**: a pcap header followed by zero-length records (16 bytes each);
* **gzip bomb**: a pcap header followed by zeros, gzip-compressed (tens of KB on disk;
  inflated, the zeros read as empty records);
* **clean pcap.gz**: the clean capture gzip-compressed, the fair comparison for the bomb;
* **clean pcapng**: the synthetic capture as pcapng (SHB, IDB, EPBs);
* **pcapng empty EPBs** and **pcapng 12-byte blocks**: an SHB and IDB followed by
  packet blocks of no bytes (32 bytes each), or by empty custom blocks.

``--only`` picks some of them (comma-separated names).

Each is decoded by the compiled path (``decode_capture``, the kernels) and the streaming
reference decoder (``iter_events``, also what ``decode_capture`` falls back to without
numba); medians over ``--repeats`` runs, in MB (10^6 bytes of uncompressed
capture) per second, and each degenerate input's speed as a ratio of the clean one's of
the same path and compression.
"""

from __future__ import annotations

import argparse
import gzip
import os
import struct
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median_time, write_results
from fluvius.feeds.iex import iter_events
from fluvius.feeds.iex.batch import decode_capture
from fluvius.feeds.iex.encode import CaptureFormat
from fluvius.feeds.iex.synthetic import synthetic_tops

_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
BASELINE = {
    "empty records": "clean",
    "gzip bomb": "clean pcap.gz",
    "pcapng empty EPBs": "clean pcapng",
    "pcapng 12-byte blocks": "clean pcapng",
}
"""The clean input each degenerate one is compared with (same container and compression)."""


def _block(block_type: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    return struct.pack("<II", block_type, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def _synthetic(path: Path, size: int, fmt: CaptureFormat) -> bytes:
    """A synthetic TOPS capture of about ``size`` bytes, cut at a record or block boundary."""
    n = 50_000
    while True:
        synthetic_tops(n, n_symbols=500, seed=1, fmt=fmt).write(path)
        if os.path.getsize(path) >= size:
            break
        n = int(n * size / os.path.getsize(path) * 1.05) + 1
    data = path.read_bytes()
    pos, header = (24, 16) if fmt.container == "pcap" else (0, 0)
    while pos + 16 <= len(data):
        length = struct.unpack_from("<I", data, pos + (8 if header else 4))[0]
        nxt = pos + header + length
        if nxt > size:
            break
        pos = nxt
    path.write_bytes(data[:pos])
    return data[:pos]


def _inputs(tmp: Path, size: int) -> dict[str, Path]:
    clean = tmp / "clean.pcap"
    data = _synthetic(clean, size, CaptureFormat("pcap"))
    size = len(data)
    empty = tmp / "empty_records.pcap"
    empty.write_bytes(_PCAP_HEADER + bytes(size - 24))  # all-zero record headers: incl 0
    bomb = tmp / "gzip_bomb.pcap.gz"
    bomb.write_bytes(gzip.compress(_PCAP_HEADER + bytes(size - 24), 9))
    clean_gz = tmp / "clean.pcap.gz"
    clean_gz.write_bytes(gzip.compress(data, 6))
    clean_ng = tmp / "clean.pcapng"
    head = _synthetic(clean_ng, size, CaptureFormat("pcapng"))[:28]  # SHB
    head += _block(1, struct.pack("<HHI", 1, 0, 0))
    empty_epbs = tmp / "empty_epbs.pcapng"
    epb = _block(6, bytes(20))
    empty_epbs.write_bytes(head + epb * ((size - len(head)) // len(epb)))
    blocks = tmp / "blocks.pcapng"
    blocks.write_bytes(head + _block(0xBAD, b"") * ((size - len(head)) // 12))
    return {
        "clean": clean,
        "empty records": empty,
        "clean pcap.gz": clean_gz,
        "gzip bomb": bomb,
        "clean pcapng": clean_ng,
        "pcapng empty EPBs": empty_epbs,
        "pcapng 12-byte blocks": blocks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=64.0, help="uncompressed size, MiB")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--reference-mb",
        type=float,
        default=16.0,
        help="the (slow) reference decoder reads only inputs up to this size (MiB)",
    )
    parser.add_argument("--only", default="", help="comma-separated input names (default: all)")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    paths: dict[str, Any] = {
        "compiled": lambda p: decode_capture(p),
        "reference": lambda p: sum(1 for _ in iter_events(p)),
    }
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = _inputs(Path(tmp), int(args.mb * (1 << 20)))
        size = os.path.getsize(inputs["clean"])
        decode_capture(inputs["clean"])  # compile (or load) the kernels outside the timing
        if args.only:
            wanted = set(args.only.split(","))
            wanted |= {BASELINE[name] for name in wanted if name in BASELINE}
            inputs = {name: path for name, path in inputs.items() if name in wanted}
        for path_name, fn in paths.items():
            if path_name == "reference" and size > args.reference_mb * (1 << 20):
                continue
            speeds: dict[str, float] = {}
            for name, path in inputs.items():
                seconds = median_time(lambda fn=fn, path=path: fn(path), args.repeats)
                raw = size if path.suffix == ".gz" else os.path.getsize(path)  # uncompressed
                speeds[name] = raw / 1e6 / seconds
                base = speeds[BASELINE.get(name, name)]
                row = {
                    "path": path_name,
                    "input": name,
                    "file_bytes": os.path.getsize(path),
                    "capture_bytes": raw,
                    "seconds": seconds,
                    "mb_per_s": speeds[name],
                    "vs_clean": speeds[name] / base,
                }
                rows.append(row)
                print(
                    f"{path_name:9s} {name:21s} {raw / 1e6:7.1f} MB  {seconds:7.3f} s  "
                    f"{speeds[name]:8.1f} MB/s  x{row['vs_clean']:.2f} of clean",
                    flush=True,
                )
    write_results(args.out, {"capture_bytes": size, "repeats": args.repeats, "rows": rows})


if __name__ == "__main__":
    main()
