"""The first IEX decode of a fresh install against a warm one (issue 14, item 3).

Usage::

    python benchmarks/iex_cold_start.py --messages 1000000 --repeats 3 \\
        --out benchmarks/results/iex_cold_start.json

A synthetic TOPS capture laid out as IEX's HIST files (pcapng) is decoded by the whole
command ``fluvius iex decode FILE --format parquet --out DIR`` in a child process, with an
empty kernel cache directory (``FLUVIUS_CACHE_DIR``) each time the install is "fresh":

* **make install**: the cache is filled by the install step (``python -m
  fluvius.feeds._aot``, what ``make`` runs after ``pip install``; its time is reported),
  then the first command and the warm ones;
* **pip install alone**: nothing built; the first command falls back (and starts the build
  in the background); the command after the build finished is the warm one.

Figures: wall seconds of each command; the first run over the median warm run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results

TARGET = 1.5  # first run / warm run


def run(cmd: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one command."""
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def wait_for_build(cache: Path, timeout: float = 600) -> float:
    """Seconds until the background build's lock is gone."""
    t0 = time.perf_counter()
    lock = cache / "building.lock"
    while lock.exists() and time.perf_counter() - t0 < timeout:
        time.sleep(0.2)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    from fluvius.feeds._writers import CaptureFormat
    from fluvius.feeds.iex.synthetic import synthetic_tops

    fluvius = str(Path(sys.executable).with_name("fluvius"))
    results: dict[str, Any] = {"load_average_at_start": os.getloadavg(), "target": TARGET}
    with tempfile.TemporaryDirectory() as tmp:
        capture = synthetic_tops(args.messages, seed=1, fmt=CaptureFormat("pcapng"))
        path = capture.write(Path(tmp) / "tops.pcapng")
        out = Path(tmp) / "out"
        cmd = [fluvius, "iex", "decode", str(path), "--format", "parquet", "--out", str(out)]
        for scenario in ("make install", "pip install alone"):
            cache = Path(tempfile.mkdtemp(dir=tmp))
            env = {**os.environ, "FLUVIUS_CACHE_DIR": str(cache)}
            env.pop("FLUVIUS_NUMBA", None)
            env.pop("FLUVIUS_AOT_BUILD", None)
            doc: dict[str, Any] = {}
            if scenario == "make install":
                doc["install_step_seconds"] = run([sys.executable, "-m", "fluvius.feeds._aot"], env)
            doc["first_seconds"] = run(cmd, env)
            if scenario != "make install":
                doc["background_build_seconds_after_first"] = wait_for_build(cache)
            warm = [run(cmd, env) for _ in range(args.repeats)]
            doc["warm_seconds"] = warm
            doc["first_over_warm"] = doc["first_seconds"] / sorted(warm)[len(warm) // 2]
            doc["meets_target"] = doc["first_over_warm"] <= TARGET
            results[scenario] = doc
            print(
                f"{scenario}: first {doc['first_seconds']:.2f} s, warm "
                f"{', '.join(f'{w:.2f}' for w in warm)} s: first/warm "
                f"{doc['first_over_warm']:.2f} (target <= {TARGET})"
                + (
                    f"; install step {doc['install_step_seconds']:.1f} s"
                    if "install_step_seconds" in doc
                    else "; background build done "
                    f"{doc['background_build_seconds_after_first']:.1f} s after the first command"
                )
            )
        results["messages"] = capture.messages
        results["file_bytes"] = capture.size_bytes
    results["load_average_at_end"] = os.getloadavg()
    write_results(args.out, results)


if __name__ == "__main__":
    main()
