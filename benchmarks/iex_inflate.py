"""Where the time of decoding a gzipped capture goes: inflation against decoding (issue 14).

Usage::

    python benchmarks/iex_inflate.py --messages 1000000 --repeats 5 \\
        --out benchmarks/results/iex_inflate.json

The same synthetic sessions as ``iex_containers.py`` (TOPS 1.6 and DEEP 1.0, 1 to 10
messages per segment, pcapng laid out as IEX's HIST files and classic pcap), each gzipped
twice: python-isal level 1 (what ``iex_containers.py`` measures) and gzip's default level
6 (what IEX's own HIST files use: their gzip header says so). For each file:

* **inflation alone**, CPU seconds (median of ``--repeats``), with every inflater
  installed: python-isal (``IgzipDecompressor`` fed 1 MiB pieces; the ``IGzipFile`` the
  decoder reads through), zlib-ng (``zlib_ng``), libdeflate (``deflate``, whole buffer
  only: it cannot stream) and the standard library's ``zlib``; and the ceiling this puts
  on decoding: messages per CPU second of inflation alone, even if decoding cost nothing;
* **the decoder** (``decode_capture``, compiled kernels), CPU and wall seconds, as it
  reads today (inflation on the decoding thread) and with inflation moved to a
  background thread (``isal.igzip_threaded``, which releases the GIL while it
  inflates): the overlap shortens the wall time on an idle core, never the CPU time.

The plain file's decode is measured in the same run for the split inflation / decoding.
The real sample (``TOPS16_20170710_sample.pcap.gz``) is measured too when present.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results

TARGET = 15e6  # messages per CPU second (issue 14)
STEP = 1 << 20  # compressed bytes fed per call, as the decoder reads
SAMPLE_FILE = next(  # shared/data/iex of the nearest ancestor (a worktree's too)
    (
        p / "shared" / "data" / "iex" / "TOPS16_20170710_sample.pcap.gz"
        for p in Path(__file__).resolve().parents
        if (p / "shared" / "data" / "iex").is_dir()
    ),
    Path("shared/data/iex/TOPS16_20170710_sample.pcap.gz"),
)


def timed(fn: Any, repeats: int) -> tuple[float, float]:
    """Median (CPU seconds, wall seconds) of ``fn()``; CPU of every thread of the process."""
    cpu, wall = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    return statistics.median(cpu), statistics.median(wall)


def inflaters(path: Path) -> dict[str, Any]:
    """name -> a function inflating the gzip file at ``path`` (output dropped)."""
    from isal import igzip, igzip_lib

    def isal_decompressor() -> None:
        d = igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_GZIP)
        with open(path, "rb") as fh:
            while piece := fh.read(STEP):
                d.decompress(piece)

    def isal_file() -> None:
        buf = memoryview(bytearray(STEP))
        with igzip.IGzipFile(path, "rb") as fh:  # type: ignore[no-untyped-call]
            while fh.readinto(buf):
                pass

    def stdlib_zlib() -> None:
        d = zlib.decompressobj(31)
        with open(path, "rb") as fh:
            while piece := fh.read(STEP):
                d.decompress(piece)

    found: dict[str, Any] = {
        "isal IgzipDecompressor": isal_decompressor,
        "isal IGzipFile (the decoder's)": isal_file,
        "zlib (standard library)": stdlib_zlib,
    }
    try:
        from zlib_ng import zlib_ng

        def zlibng() -> None:
            d = zlib_ng.decompressobj(31)
            with open(path, "rb") as fh:
                while piece := fh.read(STEP):
                    d.decompress(piece)

        found["zlib-ng"] = zlibng
    except ImportError:
        pass
    try:
        import deflate

        data = path.read_bytes()
        found["libdeflate (whole file)"] = lambda: deflate.gzip_decompress(data)
    except ImportError:
        pass
    return found


def threaded_decode(path: Path) -> Any:
    """``decode_capture(path)`` with inflation in isal's background thread."""
    from isal import igzip_threaded

    from fluvius.feeds import _capture
    from fluvius.feeds.iex.batch import decode_capture

    def open_threaded(p: str | Path) -> tuple[Any, str, Any]:
        raw = open(p, "rb")  # noqa: SIM115 - closed by the chunk reader
        return igzip_threaded.open(raw, "rb", threads=1), "isal-threaded", raw

    def run() -> None:
        plain = _capture.open_stream
        _capture.open_stream = open_threaded  # type: ignore[assignment]
        try:
            decode_capture(path)
        finally:
            _capture.open_stream = plain

    return run


def measure(gz: Path, plain: Path | None, messages: int, repeats: int) -> dict[str, Any]:
    """Inflation alone (each inflater) and the decoder, on one gzipped file."""
    from fluvius.feeds.iex.batch import decode_capture

    doc: dict[str, Any] = {"file_bytes": gz.stat().st_size, "messages": messages}
    inflate: dict[str, float] = {}
    for name, fn in inflaters(gz).items():
        inflate[name] = timed(fn, repeats)[0]
    best = min(inflate.values())
    doc["inflate_cpu_seconds"] = inflate
    doc["ceiling_cpu_messages_per_s"] = messages / best
    cpu, wall = timed(lambda: decode_capture(gz), repeats)
    tcpu, twall = timed(threaded_decode(gz), repeats)
    doc["decode"] = {"cpu_seconds": cpu, "wall_seconds": wall, "cpu_messages_per_s": messages / cpu}
    doc["decode_inflating_in_a_thread"] = {
        "cpu_seconds": tcpu,
        "wall_seconds": twall,
        "cpu_messages_per_s": messages / tcpu,
        "wall_messages_per_s": messages / twall,
    }
    if plain is not None:
        doc["plain_decode_cpu_seconds"] = timed(lambda: decode_capture(plain), repeats)[0]
    rows = "  ".join(f"{k.split(' (')[0]} {v:.3f}" for k, v in inflate.items())
    print(
        f"{gz.name:24s} inflate CPU s: {rows}\n{'':24s} "
        f"ceiling {messages / best / 1e6:5.1f} M msg/s;"
        f" decode {messages / cpu / 1e6:5.1f} M msg/s CPU ({wall:.3f} s wall);"
        f" inflating in a thread {messages / tcpu / 1e6:5.1f} M msg/s CPU"
        f" ({twall:.3f} s wall)"
        + (f"; plain file {doc['plain_decode_cpu_seconds']:.3f} s CPU" if plain else ""),
        flush=True,
    )
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="")
    parser.add_argument("--sample", type=Path, default=SAMPLE_FILE, help="the real sample")
    args = parser.parse_args()
    from isal import igzip

    from fluvius.feeds._writers import CaptureFormat
    from fluvius.feeds.iex.batch import decode_capture
    from fluvius.feeds.iex.synthetic import synthetic_deep, synthetic_tops

    results: dict[str, Any] = {
        "load_average_at_start": os.getloadavg(),
        "target_cpu_messages_per_s": TARGET,
    }
    with tempfile.TemporaryDirectory() as tmp:
        for feed, make in (("tops", synthetic_tops), ("deep", synthetic_deep)):
            for container in ("pcapng", "pcap"):
                fmt = CaptureFormat(container)  # type: ignore[arg-type]
                cap = make(args.messages, seed=1, fmt=fmt, max_per_segment=10)
                plain = cap.write(Path(tmp) / f"{feed}.{container}")
                data = plain.read_bytes()
                messages = decode_capture(plain).report.messages
                for label, squeeze in (
                    ("isal1", lambda d: igzip.compress(d, compresslevel=1)),
                    ("gzip6", lambda d: gzip.compress(d, compresslevel=6, mtime=0)),
                ):
                    gz = Path(tmp) / f"{feed}.{container}.{label}.gz"
                    gz.write_bytes(squeeze(data))
                    results[gz.name] = measure(gz, plain, messages, args.repeats)
                del data
    if args.sample.exists():
        messages = decode_capture(args.sample).report.messages
        results[args.sample.name] = measure(args.sample, None, messages, args.repeats * 5)
    results["load_average_at_end"] = os.getloadavg()
    write_results(args.out, results)


if __name__ == "__main__":
    main()
