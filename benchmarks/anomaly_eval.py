"""Anomaly detectors on synthetic streams: precision, recall and detection delay.

Every detector (rolling z-score, EW z-score, robust median/MAD score) runs under several
alert settings (threshold, hysteresis, persistence) over seeded streams with injected
spikes, level shifts and variance bursts (fluvius.nodes.anomaly.evaluate explains the
streams and the event-level scoring). Prints a markdown table, writes JSON, and with
``--docs`` rewrites the table in docs/concepts/anomaly-detection.md.

    python benchmarks/anomaly_eval.py --out benchmarks/results/anomaly_eval.json \
        --docs docs/concepts/anomaly-detection.md
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _common import write_results
from fluvius.nodes.anomaly import Alert, Detector, EWZScore, RobustZScore, RollingZScore
from fluvius.nodes.anomaly.evaluate import KINDS, make_stream, run_detector

if TYPE_CHECKING:
    from collections.abc import Callable

SCORERS: dict[str, Callable[[], Any]] = {
    "rolling z (window 50)": lambda: RollingZScore(50),
    "EW z (half-life 20)": lambda: EWZScore(halflife=20.0, min_obs=20),
    "robust MAD (window 50)": lambda: RobustZScore(50),
}
SETTINGS = [  # (threshold, clear, persistence)
    (3.0, 2.0, 1),
    (4.0, 3.0, 1),
    (3.0, 2.0, 3),
    (5.0, 4.0, 1),
]
SIZES = {"spike": 6.0, "level_shift": 6.0, "variance_burst": 4.0}
START, END = "<!-- anomaly-table:start -->", "<!-- anomaly-table:end -->"


def _fmt(x: float, digits: int = 2) -> str:
    return "n/a" if math.isnan(x) else f"{x:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="observations per stream")
    parser.add_argument("--anomalies", type=int, default=40, help="anomalies per stream")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--grace", type=int, default=20, help="ticks allowed after an anomaly")
    parser.add_argument("--out", help="write JSON results here")
    parser.add_argument("--docs", help="rewrite the table between the markers of this page")
    args = parser.parse_args()

    rows: list[dict[str, Any]] = []
    for kind in KINDS:
        stream = make_stream(
            kind, n=args.n, n_anomalies=args.anomalies, size=SIZES[kind], seed=args.seed
        )
        for name, make_scorer in SCORERS.items():
            for threshold, clear, persistence in SETTINGS:

                def make(
                    ms: Callable[[], Any] = make_scorer,
                    th: float = threshold,
                    cl: float = clear,
                    pe: int = persistence,
                ) -> Detector:
                    return Detector(ms(), Alert(th, clear=cl, persistence=pe))

                r = run_detector(make, stream, grace=args.grace)
                rows.append(
                    {
                        "kind": kind,
                        "detector": name,
                        "threshold": threshold,
                        "clear": clear,
                        "persistence": persistence,
                        "precision": r.precision,
                        "recall": r.recall,
                        "median_delay": r.median_delay,
                        "onsets": r.onsets,
                        "anomalies": r.anomalies,
                    }
                )
    lines = [
        f"Streams: {args.n:,} observations of N(0, 1) noise, {args.anomalies} anomalies each "
        f"(spike and level shift {SIZES['spike']:g} sigma, variance burst x"
        f"{SIZES['variance_burst']:g} for 30 ticks), seed {args.seed}, grace {args.grace} ticks.",
        "",
        "| anomaly | detector | threshold / clear / persistence | precision | recall "
        "| median delay (ticks) | alerts |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    lines.extend(
        f"| {r['kind']} | {r['detector']} | {r['threshold']:g} / {r['clear']:g} / "
        f"{r['persistence']} | {_fmt(r['precision'])} | {_fmt(r['recall'])} | "
        f"{_fmt(r['median_delay'], 1)} | {r['onsets']} |"
        for r in rows
    )
    table = "\n".join(lines)
    print(table)
    write_results(args.out, {"n": args.n, "seed": args.seed, "grace": args.grace, "rows": rows})
    if args.docs:
        page = Path(args.docs)
        text = page.read_text(encoding="utf-8")
        pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
        if not pattern.search(text):
            raise SystemExit(f"{page}: markers {START} ... {END} not found")
        page.write_text(pattern.sub(lambda _: f"{START}\n{table}\n{END}", text), encoding="utf-8")
        print(f"rewrote the table in {page}")


if __name__ == "__main__":
    main()
