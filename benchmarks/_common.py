"""Shared helpers of the benchmark programs: machine description, medians, JSON output."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["child_peak_rss", "machine", "median_time", "write_results"]


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


def median_time(
    fn: Callable[[], Any], repeats: int, setup: Callable[[], Any] | None = None
) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs (``setup()`` untimed before each)."""
    times = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def write_results(path: str | None, document: dict[str, Any]) -> None:
    """Write ``document`` (plus the command line and machine) as JSON to ``path``."""
    if not path:
        return
    document = {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "machine": machine(),
        **document,
    }
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


_HWM = (
    "import sys\n"
    "def hwm():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            return int(line.split()[1]) * 1024\n"
)


def child_peak_rss(program: str, *args: str) -> tuple[int, float]:
    """Peak RSS in bytes and wall seconds of a fresh interpreter running ``program``.

    The peak is ``VmHWM`` from ``/proc`` (reset at exec, unlike ``ru_maxrss``); the
    program sees ``args`` as ``sys.argv[1:]``.
    """
    t0 = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-c", _HWM + program + "\nprint(hwm(), file=sys.stderr)\n", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(run.stderr.strip().splitlines()[-1]), time.perf_counter() - t0


def finish_with_targets(
    path: str | None, doc: dict[str, Any], measured: dict[str, float], targets: dict[str, float]
) -> None:
    """Print the measured figures next to their targets with the load and the cores two
    processes got after the run, and write the document (the end of the scheduler
    benchmarks: parallel.py, dask_scheduler.py)."""
    from fluvius.partition.calibrate import measure_parallelism

    doc["measured"] = measured
    doc["targets"] = targets
    doc["load_after"] = os.getloadavg()
    doc["cores_after"] = measure_parallelism(2, 0.2)
    width = max(map(len, measured)) + 2
    print(f"\n{'figure':{width + 2}} measured    target")
    for k, v in measured.items():
        target = targets.get(k)
        shown = "" if target is None else f"{target:g}"
        print(f"  {k:{width}} {v:9.3f}    {shown}")
    print(f"load average {doc['load_after']}; cores for 2 processes {doc['cores_after']:.2f}")
    write_results(path, doc)
