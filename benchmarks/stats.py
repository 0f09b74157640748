"""Per-update cost of fluvius.nodes.stats against river's equivalents, same stream, same run.

For each statistic: the median over ``--repeats`` of the wall time of a plain loop of
``update`` over ``--n`` observations (the same Python floats for both libraries), divided by
``--n``; the ratio river / fluvius comes from the same run. Targets (issue 5): at least 2x
faster than river for Mean, Var and EWMean. Statistics river lacks are timed alone.

``--stability`` also runs the long-run accuracy check: 10^7 updates of ``1e9 + N(0, 1)``,
compared with an exact reference (``math.fsum`` of the values; of the squared deviations
from the correctly rounded mean, which is exact to about 1e-15 relative).

    python benchmarks/stats.py --out benchmarks/results/stats.json --stability
"""

from __future__ import annotations

import argparse
import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
from river import stats as rs
from river import utils as ru

from _common import median_time, write_results
from fluvius.nodes.anomaly import Alert, EWZScore, RobustZScore, RollingZScore
from fluvius.nodes.stats import (
    VWAP,
    Beta,
    Corr,
    Cov,
    EWMean,
    EWVar,
    Max,
    Mean,
    Min,
    RealizedVol,
    RollingMax,
    RollingMean,
    RollingMin,
    RollingQuantile,
    RollingStd,
    RollingSum,
    RollingVar,
    Sum,
    Var,
)

if TYPE_CHECKING:
    from collections.abc import Callable

W = 50  # the window of the rolling statistics
# name -> (fluvius factory, river factory or None, arity of update)
CASES: dict[str, tuple[Callable[[], Any], Callable[[], Any] | None, int]] = {
    "Mean": (Mean, rs.Mean, 1),
    "Var": (Var, rs.Var, 1),
    "EWMean": (lambda: EWMean(0.1), lambda: rs.EWMean(fading_factor=0.1), 1),
    "EWVar": (lambda: EWVar(0.1), lambda: rs.EWVar(fading_factor=0.1), 1),
    "Sum": (Sum, rs.Sum, 1),
    "Min": (Min, rs.Min, 1),
    "Max": (Max, rs.Max, 1),
    f"RollingMean({W})": (lambda: RollingMean(W), lambda: ru.Rolling(rs.Mean, window_size=W), 1),
    f"RollingSum({W})": (lambda: RollingSum(W), lambda: ru.Rolling(rs.Sum, window_size=W), 1),
    f"RollingVar({W})": (lambda: RollingVar(W), lambda: ru.Rolling(rs.Var, window_size=W), 1),
    f"RollingStd({W})": (lambda: RollingStd(W), None, 1),
    f"RollingMin({W})": (lambda: RollingMin(W), lambda: rs.RollingMin(W), 1),
    f"RollingMax({W})": (lambda: RollingMax(W), lambda: rs.RollingMax(W), 1),
    f"RollingQuantile(0.5, {W})": (
        lambda: RollingQuantile(0.5, W),
        lambda: rs.RollingQuantile(q=0.5, window_size=W),
        1,
    ),
    "Cov": (Cov, rs.Cov, 2),
    "Corr": (Corr, rs.PearsonCorr, 2),
    f"Cov({W})": (lambda: Cov(W), lambda: ru.Rolling(rs.Cov, window_size=W), 2),
    "Beta": (Beta, None, 2),
    "VWAP": (VWAP, None, 2),
    f"RealizedVol({W})": (lambda: RealizedVol(W), None, 1),
    f"RollingZScore({W})": (lambda: RollingZScore(W), None, 1),
    "EWZScore": (lambda: EWZScore(0.1), None, 1),
    f"RobustZScore({W})": (lambda: RobustZScore(W), None, 1),
    "Alert": (lambda: Alert(3.0, clear=2.0, persistence=2), None, 1),
}
TARGETS = {"Mean": 2.0, "Var": 2.0, "EWMean": 2.0}


def _loop1(make: Callable[[], Any], xs: list[float]) -> Callable[[], None]:
    def run() -> None:
        update = make().update
        for x in xs:
            update(x)

    return run


def _loop2(make: Callable[[], Any], xs: list[float], ys: list[float]) -> Callable[[], None]:
    def run() -> None:
        update = make().update
        for x, y in zip(xs, ys, strict=True):
            update(x, y)

    return run


def per_update(args: argparse.Namespace) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    xs = (100.0 + rng.standard_normal(args.n).cumsum() * 0.01).tolist()
    ys = (rng.integers(1, 1000, args.n)).astype(float).tolist()
    rows = []
    for name, (ours, theirs, arity) in CASES.items():
        timed: list[float | None] = []
        for make in (ours, theirs):
            if make is None:
                timed.append(None)
                continue
            fn = _loop1(make, xs) if arity == 1 else _loop2(make, xs, ys)
            timed.append(median_time(fn, args.repeats) / args.n * 1e9)
        ns, river_ns = timed
        assert ns is not None
        ratio = river_ns / ns if river_ns else None
        target = TARGETS.get(name)
        rows.append(
            {
                "statistic": name,
                "fluvius_ns": round(ns, 1),
                "river_ns": None if river_ns is None else round(river_ns, 1),
                "speedup": None if ratio is None else round(ratio, 2),
                "target_speedup": target,
                "met": None if target is None or ratio is None else ratio >= target,
            }
        )
        shown = "n/a" if river_ns is None else f"{river_ns:8.0f}"
        sp = "" if ratio is None else f"{ratio:5.2f}x"
        mark = (
            ""
            if target is None
            else (
                " (target >= 2x: met)" if ratio and ratio >= target else " (target >= 2x: NOT met)"
            )
        )
        print(f"{name:<24} fluvius {ns:8.0f} ns  river {shown:>8} ns  {sp}{mark}")
    return rows


def floor(args: argparse.Namespace) -> float:
    """The cost of the loop and of one Python method call doing nothing: no pure-Python
    ``update`` can go below it."""

    class Empty:
        __slots__ = ()

        def update(self, x: float) -> None:
            pass

    xs = [1.0] * args.n
    ns = median_time(_loop1(Empty, xs), args.repeats) / args.n * 1e9
    print(f"{'(empty update method)':<24} {ns:8.0f} ns: the floor of any Python update")
    return round(ns, 1)


def batch(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Per-observation cost of ``update_many`` on one numpy batch of ``--n`` observations.

    river has ``update_many`` for Mean and Var (numpy, like ours); its EWMean has none, so
    its figure is the loop of single updates.
    """
    xs = 100.0 + np.random.default_rng(0).standard_normal(args.n).cumsum() * 0.01
    listed = xs.tolist()
    rows = []
    pairs: list[tuple[str, Callable[[], Any], Callable[[], Any], bool]] = [
        ("Mean", Mean, rs.Mean, True),
        ("Var", Var, rs.Var, True),
        ("EWMean", lambda: EWMean(0.1), lambda: rs.EWMean(fading_factor=0.1), False),
    ]
    inner = 20  # one batch takes well under a millisecond: time 20 in a row per sample

    def repeated(fn: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            for _ in range(inner):
                fn()

        return run

    for name, ours, theirs, river_batch in pairs:
        ns = (
            median_time(repeated(lambda ours=ours: ours().update_many(xs)), args.repeats)
            / (inner * args.n)
            * 1e9
        )
        if river_batch:
            river_ns = (
                median_time(repeated(lambda theirs=theirs: theirs().update_many(xs)), args.repeats)
                / (inner * args.n)
                * 1e9
            )
        else:
            river_ns = median_time(_loop1(theirs, listed), args.repeats) / args.n * 1e9
        ratio = river_ns / ns
        rows.append(
            {
                "statistic": name,
                "fluvius_ns": round(ns, 2),
                "river_ns": round(river_ns, 2),
                "river_path": "update_many" if river_batch else "loop of update",
                "speedup": round(ratio, 1),
            }
        )
        path = "update_many" if river_batch else "update loop"
        print(
            f"batch {name:<18} fluvius {ns:8.2f} ns  river ({path}) {river_ns:8.2f} ns  "
            f"{ratio:6.1f}x"
        )
    return rows


def stability(n: int) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    xs = (1e9 + rng.standard_normal(n)).tolist()
    t0 = time.perf_counter()
    exact_sum = math.fsum(xs)
    mean = exact_sum / n  # correctly rounded
    var = math.fsum([(x - mean) * (x - mean) for x in xs]) / (n - 1)
    w = 1000
    tail = xs[-w:]
    tail_mean = math.fsum(tail) / w
    tail_var = math.fsum([(x - tail_mean) * (x - tail_mean) for x in tail]) / (w - 1)
    out: dict[str, Any] = {"n": n, "reference_seconds": round(time.perf_counter() - t0, 2)}
    for name, stat, ref in (
        ("Mean", Mean(), mean),
        ("Var", Var(), var),
        ("Sum", Sum(), exact_sum),
        (f"RollingVar({w})", RollingVar(w), tail_var),
        (f"RollingMean({w})", RollingMean(w), tail_mean),
    ):
        update = stat.update
        for x in xs:
            update(x)
        rel = abs(stat.get() / ref - 1.0)
        out[name] = {
            "value": stat.get(),
            "reference": ref,
            "relative_error": rel,
            "within_1e-9": rel <= 1e-9,
        }
        print(f"stability {name:<18} relative error {rel:.2e} (limit 1e-9)")
    naive_sum = naive_sq = 0.0
    for x in xs:  # the textbook formula, to show what the care buys
        naive_sum += x
        naive_sq += x * x
    naive = (naive_sq - naive_sum * naive_sum / n) / (n - 1)
    out["naive_var_relative_error"] = abs(naive / var - 1.0)
    print(f"stability naive sum-of-squares variance: relative error {abs(naive / var - 1):.2e}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="updates per timed loop")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--stability", action="store_true", help="also run the 10^7 check")
    parser.add_argument("--stability-n", type=int, default=10_000_000)
    parser.add_argument("--out", help="write JSON results here")
    args = parser.parse_args()
    document: dict[str, Any] = {"n": args.n, "repeats": args.repeats, "window": W}
    document["empty_update_ns"] = floor(args)
    document["per_update"] = per_update(args)
    document["batch"] = batch(args)
    if args.stability:
        document["stability"] = stability(args.stability_n)
    write_results(args.out, document)


if __name__ == "__main__":
    main()
