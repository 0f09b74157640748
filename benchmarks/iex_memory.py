"""IEX decoding: peak memory against capture size, for the CLI and for ``decode_capture``.

Usage::

    python benchmarks/iex_memory.py --sizes 1000,100000,1000000,10000000 \\
        --out benchmarks/results/iex_memory.json

For each size, a synthetic TOPS capture (``fluvius.feeds.iex.synthetic.synthetic_tops``,
classic pcap, not gzipped) is decoded by fresh child processes, and each child's peak
resident memory (``VmHWM``, reset at exec) is read from ``/proc``:

* ``fluvius iex decode FILE --format parquet`` (the console script, as a user runs it):
  it streams, so its memory should not grow with the file;
* ``decode_capture(FILE)``: every event in memory at once, so it grows with the file.

The smallest size shows the fixed cost (the interpreter, numpy, pyarrow, the command line);
``over_base`` subtracts the CLI's peak on the smallest file from each peak, which is the
memory the decoding itself uses. The ratio to the file size is the issue's measure
(peak memory <= 2x the capture).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import child_peak_rss, write_results

_CLI = (
    "import sys\nfrom fluvius.cli.app import main\n"
    "try:\n    main(['iex', 'decode', sys.argv[1], '-f', 'parquet', '-o', sys.argv[2]])\n"
    "except SystemExit:\n    pass\n"
)
_DECODE = (
    "import sys\nfrom fluvius.feeds.iex.batch import decode_capture\ndecode_capture(sys.argv[1])\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000", help="messages per capture")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    from fluvius.feeds.iex.synthetic import synthetic_tops

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"tops_{n}.pcap"
            synthetic_tops(n, seed=1).write(path)
            size = path.stat().st_size
            path.read_bytes()  # into the page cache
            cli, cli_s = child_peak_rss(_CLI, str(path), str(Path(tmp) / f"out_{n}"))
            dec, dec_s = child_peak_rss(_DECODE, str(path))
            rows.append(
                {
                    "messages": n,
                    "file_bytes": size,
                    "cli_peak_rss_bytes": cli,
                    "cli_seconds": cli_s,
                    "decode_capture_peak_rss_bytes": dec,
                    "decode_capture_seconds": dec_s,
                }
            )
            path.unlink()
    base = rows[0]["cli_peak_rss_bytes"]
    print(f"fixed cost (CLI on {rows[0]['messages']:,} messages): {base / 1e6:.0f} MB")
    print(f"{'messages':>11} {'file MB':>8} {'CLI MB':>7} {'/file':>6} {'-base MB':>9} "
          f"{'-base/file':>10} {'decode MB':>10} {'/file':>6}")  # fmt: skip
    for r in rows:
        size, cli = r["file_bytes"], r["cli_peak_rss_bytes"]
        dec = r["decode_capture_peak_rss_bytes"]
        r["cli_over_file"] = cli / size
        r["cli_over_base_bytes"] = cli - base
        r["cli_over_base_over_file"] = (cli - base) / size
        r["decode_capture_over_file"] = dec / size
        print(
            f"{r['messages']:>11,} {size / 1e6:>8.1f} {cli / 1e6:>7.0f} {cli / size:>6.2f} "
            f"{(cli - base) / 1e6:>9.0f} {(cli - base) / size:>10.2f} {dec / 1e6:>10.0f} "
            f"{dec / size:>6.2f}"
        )
    write_results(
        args.out,
        {"rows": rows, "cli_fixed_cost_bytes": base, "load_average": os.getloadavg()},
    )


if __name__ == "__main__":
    main()
