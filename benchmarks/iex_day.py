"""A whole synthetic TOPS trading day, gzipped pcapng in, Parquet dataset out (issue 14, item 4).

Usage::

    python benchmarks/iex_day.py --messages 20000000 --out benchmarks/results/iex_day.json

The day (``--messages``, ~20 M is a full TOPS day) is generated here and never kept: the
synthetic generator (``fluvius.feeds.iex.synthetic.synthetic_tops``, laid out as IEX's HIST
files: pcapng, an IDB with ``if_name`` then ``if_tsresol`` 6) makes it in parts of
``--part`` messages, one IEX-TP session each, streamed into one gzip file (python-isal,
level 1), so the generator's memory stays that of one part. Then the whole command
``fluvius iex decode DAY.pcapng.gz --format parquet --out DIR`` runs as a child process:
wall time, CPU time and peak resident memory (``VmHWM``) are reported, and the dataset is
read back with ``pyarrow.dataset`` to check the row count. Target: peak RSS <= 400 MB.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results

RSS_TARGET = 400 << 20

_CLI = (
    "import sys\nfrom fluvius.cli.app import main\n"
    "try:\n    main(['iex', 'decode', sys.argv[1], '-f', 'parquet', '-o', sys.argv[2]])\n"
    "except SystemExit:\n    pass\n"
    "for line in open('/proc/self/status'):\n"
    "    if line.startswith('VmHWM:'):\n"
    "        print(int(line.split()[1]) * 1024, file=sys.stderr)\n"
)


def write_day(path: Path, messages: int, part: int) -> dict[str, Any]:
    """Generate the day in parts of ``part`` messages into one gzipped pcapng file."""
    from isal import igzip

    from fluvius.feeds._writers import CaptureFormat, file_header
    from fluvius.feeds.iex.synthetic import synthetic_tops

    fmt = CaptureFormat("pcapng")
    head = len(file_header(fmt))
    written = 0
    t0 = time.perf_counter()
    with igzip.open(path, "wb", compresslevel=1) as out:
        session = 1
        while written < messages:
            n = min(part, messages - written)
            if n < 20_000:  # the generator needs room for its preamble: fold into the last
                break
            cap = synthetic_tops(n, seed=session, fmt=fmt, session_id=session)
            data = cap.data if session == 1 else cap.data[head:]  # one SHB + IDB per file
            out.write(memoryview(data))
            written += cap.messages
            session += 1
            del cap, data
    return {"messages": written, "sessions": session - 1, "seconds": time.perf_counter() - t0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000_000)
    parser.add_argument("--part", type=int, default=2_000_000)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    results: dict[str, Any] = {"load_average_at_start": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        day = Path(tmp) / "day.pcapng.gz"
        made = write_day(day, args.messages, args.part)
        results["generated"] = {**made, "file_bytes": day.stat().st_size}
        print(
            f"generated {made['messages']:,} messages in {made['sessions']} sessions, "
            f"{day.stat().st_size / 1e6:.0f} MB gzipped, in {made['seconds']:.0f} s"
        )
        out = Path(tmp) / "events"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        run = subprocess.run(
            [sys.executable, "-c", _CLI, str(day), str(out)],
            check=True,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        peak = int(run.stderr.strip().splitlines()[-1])
        import pyarrow.dataset as ds

        rows = ds.dataset(out, format="parquet", partitioning="hive").count_rows()
        out_bytes = sum(f.stat().st_size for f in out.rglob("*.parquet"))
        messages = made["messages"]
        results["decode"] = {
            "command": "fluvius iex decode DAY.pcapng.gz --format parquet --out DIR",
            "wall_seconds": wall,
            "cpu_seconds": cpu,
            "messages_per_s_wall": messages / wall,
            "peak_rss_bytes": peak,
            "meets_rss_target": peak <= RSS_TARGET,
            "rows_written": rows,
            "parquet_bytes": out_bytes,
            "summary": run.stderr.strip().splitlines()[-2],
        }
        print(
            f"fluvius iex decode -f parquet: {wall:.1f} s wall, {cpu:.1f} s CPU "
            f"({messages / wall / 1e6:.2f} M msg/s wall), peak RSS {peak / 2**20:.0f} MiB "
            f"(target <= {RSS_TARGET >> 20}), {rows:,} rows, {out_bytes / 1e6:.0f} MB Parquet"
        )
    results["load_average_at_end"] = os.getloadavg()
    write_results(args.out, results)


if __name__ == "__main__":
    main()
