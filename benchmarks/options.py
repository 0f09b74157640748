"""Options and models benchmark: vectorised implied volatility, Black-Scholes throughput, and
the per-update cost of the online models.

Figures (medians over repeats, all from one run):

* implied volatility of N options (default 10,000; target <= 5 ms), a mixed book: calls and
  puts, log-moneyness uniform in [-1, 1] (deep in and out of the money), expiries from one
  week to five years, vols 5 %-150 %, rates 0-8 %, dividend yields 0-3 %; prices computed
  by ``bs_price`` from the true vols; reported with the reason-code counts, Newton rounds
  and the worst round-trip vol error on the solved options;
* for comparison, the same book solved option by option with ``scipy.optimize.brentq``
  (on a sample, scaled to N);
* ``bs_price`` and all five greeks on N options (vectorised), and the scalar path per call;
* ``learn_one`` + ``predict_one`` per update of each online model (3 features), and the
  spec-op style prequential node update.

Run: ``python benchmarks/options.py --out benchmarks/results/options.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import time
from typing import Any

import numpy as np
from scipy.optimize import brentq

from _common import median_time, write_results
from fluvius.nodes.models import (
    GDLinearRegression,
    LeastSquares,
    LogisticRegression,
    PrequentialRLS,
    RecursiveLeastSquares,
    SoftmaxRegression,
)
from fluvius.nodes.options import (
    bs_delta,
    bs_gamma,
    bs_price,
    bs_rho,
    bs_theta,
    bs_vega,
    implied_vol,
    solve_implied_vol,
)

TARGET_IV_MS = 5.0


def median_cpu_time(fn: Any, repeats: int, setup: Any = None) -> float:
    """Median process CPU time of ``fn()``: robust to other processes on a shared machine
    (everything here is single-threaded)."""
    times = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def book(n: int, seed: int) -> dict[str, Any]:
    """The mixed option book described in the module docstring."""
    rng = np.random.default_rng(seed)
    spot = np.full(n, 100.0)
    b = {
        "spot": spot,
        "strike": spot * np.exp(rng.uniform(-1.0, 1.0, n)),
        "years": rng.choice([7 / 365, 30 / 365, 91 / 365, 0.5, 1.0, 2.0, 5.0], n),
        "rate": rng.uniform(0.0, 0.08, n),
        "q": rng.uniform(0.0, 0.03, n),
        "vol": rng.uniform(0.05, 1.5, n),
        "is_call": rng.random(n) < 0.5,
    }
    b["price"] = bs_price(
        b["spot"], b["strike"], b["years"], b["rate"], b["vol"], b["is_call"], dividend_yield=b["q"]
    )
    return b


def bench_iv(b: dict[str, Any], repeats: int) -> dict[str, Any]:
    args = (b["price"], b["spot"], b["strike"], b["years"], b["rate"], b["is_call"])

    def run() -> Any:
        return solve_implied_vol(*args, dividend_yield=b["q"])

    res = run()
    seconds = median_time(run, repeats)
    cpu_seconds = median_cpu_time(run, repeats)
    ok = res.reason == 0
    vega = bs_vega(
        b["spot"], b["strike"], b["years"], b["rate"], b["vol"], b["is_call"], dividend_yield=b["q"]
    )
    pinned = ok & (vega > 1e-6 * b["price"])  # where the price determines the vol well
    n = b["price"].size
    counts = {
        int(code): int(c)
        for code, c in zip(*np.unique(res.reason, return_counts=True), strict=True)
    }
    return {
        "n": n,
        "median_ms": seconds * 1e3,
        "median_cpu_ms": cpu_seconds * 1e3,
        "target_ms": TARGET_IV_MS,
        "ns_per_option": seconds / n * 1e9,
        "rounds": res.rounds,
        "reason_counts": counts,
        "max_abs_vol_error_solved": float(np.max(np.abs(res.vol[ok] - b["vol"][ok]))),
        "max_rel_vol_error_pinned": float(np.max(np.abs(res.vol[pinned] / b["vol"][pinned] - 1))),
        "pinned": int(pinned.sum()),
    }


def _excess(
    v: float, s: float, k: float, t: float, r: float, q: float, kind: str, target: float
) -> float:
    return float(bs_price(s, k, t, r, v, kind, dividend_yield=q)) - target


def bench_brentq(b: dict[str, Any], sample: int) -> dict[str, Any]:
    idx = np.arange(sample)
    t0 = time.perf_counter()
    for i in idx:
        s, k, t, r, q = (float(b[name][i]) for name in ("spot", "strike", "years", "rate", "q"))
        kind = "call" if b["is_call"][i] else "put"
        target = float(b["price"][i])
        with contextlib.suppress(ValueError):  # no sign change: no time value left
            brentq(_excess, 1e-6, 10.0, args=(s, k, t, r, q, kind, target), xtol=1e-14)
    per = (time.perf_counter() - t0) / sample
    return {"sample": sample, "us_per_option": per * 1e6, "scaled_ms": per * b["price"].size * 1e3}


def bench_bs(b: dict[str, Any], repeats: int) -> dict[str, Any]:
    args = (b["spot"], b["strike"], b["years"], b["rate"], b["vol"], b["is_call"])
    out: dict[str, Any] = {}
    for fn in (bs_price, bs_delta, bs_gamma, bs_vega, bs_theta, bs_rho):
        seconds = median_time(lambda fn=fn: fn(*args, dividend_yield=b["q"]), repeats)
        out[fn.__name__] = {
            "median_ms": seconds * 1e3,
            "ns_per_option": seconds / len(args[0]) * 1e9,
        }

    def scalar() -> None:
        for _ in range(1000):
            bs_price(42.0, 40.0, 0.5, 0.1, 0.2, "call")

    out["bs_price_scalar_us"] = median_time(scalar, repeats) / 1000 * 1e6

    def scalar_iv() -> None:
        for _ in range(200):
            implied_vol(4.759422392871532, 42.0, 40.0, 0.5, 0.1, "call")

    out["implied_vol_scalar_us"] = median_time(scalar_iv, repeats) / 200 * 1e6
    return out


def bench_models(n: int, repeats: int) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.standard_normal(n)
    labels = (y > 0).astype(int)
    xs = [row for row in x]  # noqa: C416 - rows as separate arrays, as a stream delivers them
    cases = {
        "GDLinearRegression": (lambda: GDLinearRegression(0.01), y.tolist()),
        "LeastSquares": (lambda: LeastSquares(), y.tolist()),
        "RecursiveLeastSquares": (lambda: RecursiveLeastSquares(), y.tolist()),
        "LogisticRegression": (lambda: LogisticRegression(0.1), labels.tolist()),
        "SoftmaxRegression": (
            lambda: SoftmaxRegression([0, 1], learning_rate=0.1),
            labels.tolist(),
        ),
    }
    out: dict[str, Any] = {}
    holder: dict[str, Any] = {}
    for name, (factory, targets) in cases.items():

        def setup(factory: Any = factory) -> None:
            holder["m"] = factory()

        def run(targets: list[Any] = targets) -> None:
            m = holder["m"]
            for row, t in zip(xs, targets, strict=True):
                m.predict_one(row)
                m.learn_one(row, t)

        seconds = median_time(run, repeats, setup)
        cpu = median_cpu_time(run, repeats, setup)
        out[name] = {"us_per_update": seconds / n * 1e6, "cpu_us_per_update": cpu / n * 1e6}
    node_rows = [(*row.tolist(), float(t)) for row, t in zip(x, y, strict=True)]

    def prequential() -> None:
        node = PrequentialRLS()
        for row in node_rows:
            node.update(*row)
            node.get()

    out["PrequentialRLS node (update+get)"] = {
        "us_per_update": median_time(prequential, repeats) / n * 1e6,
        "cpu_us_per_update": median_cpu_time(prequential, repeats) / n * 1e6,
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="options in the book")
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--updates", type=int, default=2000, help="model updates timed")
    parser.add_argument("--brentq-sample", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default="", help="write the figures as JSON here")
    args = parser.parse_args()

    b = book(args.n, args.seed)
    iv = bench_iv(b, args.repeats)
    print(
        f"implied vol, {iv['n']} options: {iv['median_ms']:.2f} ms median wall, "
        f"{iv['median_cpu_ms']:.2f} ms CPU "
        f"(target <= {TARGET_IV_MS} ms; {iv['ns_per_option']:.0f} ns/option, "
        f"{iv['rounds']} Newton rounds), reasons {iv['reason_counts']}, "
        f"max |vol error| on solved {iv['max_abs_vol_error_solved']:.2e}, max relative vol "
        f"error where vega > 1e-6 price ({iv['pinned']}) {iv['max_rel_vol_error_pinned']:.1e}"
    )
    br = bench_brentq(b, args.brentq_sample)
    print(
        f"  brentq one by one: {br['us_per_option']:.0f} us/option -> {br['scaled_ms']:.0f} ms "
        f"for {args.n} (x{br['scaled_ms'] / iv['median_ms']:.0f})"
    )
    bs = bench_bs(b, args.repeats)
    for name in ("bs_price", "bs_delta", "bs_gamma", "bs_vega", "bs_theta", "bs_rho"):
        fig = bs[name]
        print(f"{name:>9}: {fig['median_ms']:.2f} ms ({fig['ns_per_option']:.0f} ns/option)")
    print(
        f"bs_price scalar: {bs['bs_price_scalar_us']:.2f} us/call; "
        f"implied_vol scalar: {bs['implied_vol_scalar_us']:.1f} us/call"
    )
    models = bench_models(args.updates, max(3, args.repeats // 4))
    for name, fig in models.items():
        print(
            f"{name:>34}: {fig['us_per_update']:.1f} us wall, {fig['cpu_us_per_update']:.1f} us CPU"
            " per predict_one + learn_one"
        )
    with open("/proc/loadavg", encoding="utf-8") as fh:
        load = fh.read().split()[:3]
    write_results(
        args.out,
        {
            "implied_vol": iv,
            "brentq_loop": br,
            "black_scholes": bs,
            "models": models,
            "load_average": load,
            "meets_target": iv["median_ms"] <= TARGET_IV_MS,
        },
    )
    if not math.isfinite(iv["median_ms"]):
        raise SystemExit("no figure")


if __name__ == "__main__":
    main()
