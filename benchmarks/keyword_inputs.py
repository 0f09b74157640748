"""Inputs by keyword: what a node pays for ``inputs={...}`` against positional inputs.

Three graphs of ``--nodes`` nodes each compute ``bs_delta(spot, strike, years, rate, vol,
kind)`` with spot and vol from two sources and the rest fixed:

* ``keyword``: ``g.node(k, bs_delta, inputs={"spot": s, "vol": v}, params={...})``;
* ``lambda``: ``g.node(k, lambda s, v: bs_delta(s, K, T, r, v, kind), s, v)`` (what users
  wrote before);
* ``positional``: a two-argument wrapper function of spot and vol with the rest fixed by
  ``params``, the cheapest form the builder had.

Figures (medians over ``--repeats``; the ratios come from the same run): build time per
node, start-up time per node (every node once) and the time per recomputed node of one
tick of spot (every node recomputed).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from _common import median_time, write_results
from fluvius import GraphBuilder, SerialScheduler
from fluvius.nodes.options import bs_delta
from fluvius.testing import GraphBench

FIXED = {"strike": 150.0, "years": 0.5, "rate": 0.04, "kind": "put"}


def _wrapper(
    spot: float, vol: float, *, strike: float, years: float, rate: float, kind: str
) -> Any:
    return bs_delta(spot, strike, years, rate, vol, kind)


def build(form: str, n: int) -> GraphBuilder:
    g = GraphBuilder()
    spot = g.source("spot", 148.0)
    vol = g.source("vol", 0.25)
    strike, years, rate, kind = FIXED.values()
    for i in range(n):
        key = f"delta/{i}"
        if form == "keyword":
            g.node(key, bs_delta, inputs={"spot": spot, "vol": vol}, params=FIXED)
        elif form == "lambda":
            g.node(key, lambda s, v: bs_delta(s, strike, years, rate, v, kind), spot, vol)
        else:
            g.node(key, _wrapper, spot, vol, params=FIXED)
    return g


def measure(form: str, n: int, repeats: int) -> dict[str, Any]:
    build_s = median_time(lambda: build(form, n).build(), repeats)
    graph = build(form, n).build()

    def startup() -> None:
        with GraphBench(graph, SerialScheduler(freeze_gc=False)) as bench:
            bench.start()

    startup_s = median_time(startup, repeats)
    with GraphBench(graph, SerialScheduler(freeze_gc=False)) as bench:
        bench.start()
        prices = iter(148.0 + 0.01 * i for i in range(10 * repeats + 10))
        tick_s = median_time(lambda: bench.cycle({"spot": next(prices)}), repeats)
    return {
        "form": form,
        "nodes": n,
        "build_us_per_node": build_s / n * 1e6,
        "startup_us_per_node": startup_s / n * 1e6,
        "tick_us_per_node": tick_s / n * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    rows = [measure(form, args.nodes, args.repeats) for form in ("positional", "lambda", "keyword")]
    base = rows[0]
    print(f"{args.nodes:,} bs_delta nodes, medians of {args.repeats}; ratios to positional")
    print(f"{'form':<11}{'build µs/node':>16}{'start-up µs/node':>19}{'tick µs/node':>15}")
    for row in rows:
        row["startup_ratio"] = row["startup_us_per_node"] / base["startup_us_per_node"]
        row["tick_ratio"] = row["tick_us_per_node"] / base["tick_us_per_node"]
        print(
            f"{row['form']:<11}{row['build_us_per_node']:>16.2f}"
            f"{row['startup_us_per_node']:>12.2f} ({row['startup_ratio']:.2f}x)"
            f"{row['tick_us_per_node']:>8.2f} ({row['tick_ratio']:.2f}x)"
        )
    write_results(args.out, {"load": os.getloadavg(), "rows": rows})


if __name__ == "__main__":
    main()
