"""Per-call time of the scalar options ops, before and after, in one run.

A graph node computes one option per tick, so a tick of the ``options`` workload pays the
scalar paths of ``implied_vol`` and ``bs_delta``/``bs_gamma``/``bs_vega`` once per option.
This program times them on the workload's own options (light preset, ``--underlyings``
underlyings: every option's iv inputs, then its greeks at the solved iv) with two
implementations loaded side by side:

* **before**: the package ``fluvius/nodes/options`` as it was at ``--baseline`` (a git
  revision, default the commit issue 11 started from), checked out of this repository
  with ``git show`` into a temporary directory and imported under another name
  (``_baseline_options``; its ``fluvius.nodes.options`` imports are rewritten to it);
* **after**: the working tree's ``fluvius.nodes.options``.

The two are timed alternately, ``--repeats`` times each; figures are medians of the
per-call time (the loop over all options divided by their number), as CPU time of this
thread (:func:`time.thread_time`: on a shared, loaded machine the wall clock also counts
the time other processes hold the core) and as wall time. It also prints the
largest relative difference between before and after and between the scalar and the
vectorised path (after), over the same options.

Run: ``python benchmarks/options_scalar.py --out benchmarks/results/options_scalar.json``.
"""

from __future__ import annotations

import argparse
import importlib
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from _common import write_results
from fluvius.nodes import options as after
from fluvius.workloads import options_spec

if TYPE_CHECKING:
    from types import ModuleType

BASELINE = "9068899"  # main when issue 11 started: the scalar paths before this change
PACKAGE = "src/fluvius/nodes/options"
FILES = ("__init__.py", "_reasons.py", "_scalar_iv.py", "bsm.py", "implied.py", "smile.py")
GREEKS = ("bs_delta", "bs_gamma", "bs_vega")


def load_baseline(rev: str, into: Path) -> ModuleType:
    """The options package at ``rev``, importable as ``_baseline_options``."""
    root = Path(__file__).resolve().parent.parent
    pkg = into / "_baseline_options"
    pkg.mkdir()
    for name in FILES:
        text = subprocess.run(
            ["git", "show", f"{rev}:{PACKAGE}/{name}"],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        (pkg / name).write_text(
            text.replace("fluvius.nodes.options", "_baseline_options"), encoding="utf-8"
        )
    sys.path.insert(0, str(into))
    return importlib.import_module("_baseline_options")


def workload_options(underlyings: int) -> list[tuple[Any, ...]]:
    """(mid, spot, strike, years, rate, kind) of every option of the light workload."""
    spec = options_spec(underlyings=underlyings)
    src = spec["sources"]
    return [
        (*(src[k] for k in node["inputs"]), node["params"]["kind"])
        for node in spec["nodes"].values()
        if node["op"] == "implied_vol"
    ]


def per_call_us(fn: Any, rows: list[tuple[Any, ...]]) -> tuple[float, float]:
    """(CPU, wall) microseconds per call of ``fn`` over ``rows``."""
    c0, t0 = time.thread_time(), time.perf_counter()
    for row in rows:
        fn(*row)
    wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
    return cpu / len(rows) * 1e6, wall / len(rows) * 1e6


def max_rel_diff(a: list[float], b: list[float]) -> float:
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        if math.isnan(x) and math.isnan(y):
            continue
        if math.isnan(x) != math.isnan(y):
            return math.inf
        worst = max(worst, abs(x - y) / max(abs(y), 1e-300))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE, help="git revision of 'before'")
    parser.add_argument("--underlyings", type=int, default=10, help="workload underlyings")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", default="", help="write the figures as JSON here")
    args = parser.parse_args()

    ivs = workload_options(args.underlyings)
    with tempfile.TemporaryDirectory() as tmp:
        before = load_baseline(args.baseline, Path(tmp))
        solved = [after.implied_vol(*row) for row in ivs]
        greeks = [
            (s, k, t, r, v, kind) for (_, s, k, t, r, kind), v in zip(ivs, solved, strict=True)
        ]
        cases: dict[str, tuple[list[tuple[Any, ...]], Any, Any]] = {
            "implied_vol": (ivs, before.implied_vol, after.implied_vol),
            "bs_price": (greeks, before.bs_price, after.bs_price),
            **{g: (greeks, getattr(before, g), getattr(after, g)) for g in GREEKS},
        }
        times: dict[str, dict[str, list[tuple[float, float]]]] = {
            n: {"before": [], "after": []} for n in cases
        }
        for _ in range(args.repeats):
            for name, (rows, old, new) in cases.items():
                times[name]["before"].append(per_call_us(old, rows))
                times[name]["after"].append(per_call_us(new, rows))
        results: dict[str, Any] = {}
        for name, (rows, old, new) in cases.items():
            fig: dict[str, Any] = {"calls": len(rows)}
            for when in ("before", "after"):
                fig[f"{when}_cpu_us"] = statistics.median(c for c, _ in times[name][when])
                fig[f"{when}_wall_us"] = statistics.median(w for _, w in times[name][when])
            fig["speedup_cpu"] = fig["before_cpu_us"] / fig["after_cpu_us"]
            fig["speedup_wall"] = fig["before_wall_us"] / fig["after_wall_us"]
            new_values = [new(*row) for row in rows]
            vector = new(*(np.array(col) for col in zip(*rows, strict=True)))
            fig["max_rel_diff_before_after"] = max_rel_diff(new_values, [old(*r) for r in rows])
            fig["max_rel_diff_scalar_vector"] = max_rel_diff(new_values, vector.tolist())
            results[name] = fig
            print(
                f"{name:>12}: CPU {fig['before_cpu_us']:5.2f} -> {fig['after_cpu_us']:4.2f} us "
                f"per call ({fig['speedup_cpu']:.1f}x); wall {fig['before_wall_us']:5.2f} -> "
                f"{fig['after_wall_us']:4.2f} us ({fig['speedup_wall']:.1f}x); {len(rows)} calls; "
                f"max rel diff before/after {fig['max_rel_diff_before_after']:.1e}, "
                f"scalar/vector {fig['max_rel_diff_scalar_vector']:.1e}"
            )
    with open("/proc/loadavg", encoding="utf-8") as fh:
        load = fh.read().split()[:3]
    print(f"load average {' '.join(load)}; baseline {args.baseline}")
    write_results(
        args.out,
        {"baseline": args.baseline, "repeats": args.repeats, "ops": results, "load_average": load},
    )


if __name__ == "__main__":
    main()
