"""Options, online models and monitoring: the three ways to use the node library.

1. standalone (a notebook): price a book, solve its implied volatilities, fit the smile;
2. as graph nodes: an implied-vol node per option and a prequential model whose error is
   monitored, with a fallback switch to a second model;
3. as spec ops: the same graph written as a spec dict (what ``fluvius run SPEC`` reads).

Run: ``python examples/03_options_models.py``. ``demo()`` is the short part meant for
``make demo``.
"""

from __future__ import annotations

import math

import numpy as np

from fluvius.graph import GraphBuilder
from fluvius.graph.spec import spec_to_graph
from fluvius.nodes import add_stateful
from fluvius.nodes.models import PrequentialRLS, RecursiveLeastSquares
from fluvius.nodes.monitoring import FallbackSwitch, RollingError
from fluvius.nodes.options import IVReason, bs_price, fit_smiles, implied_vol, solve_implied_vol
from fluvius.scheduling import run_graph


def standalone() -> None:
    """A vectorised book: prices -> implied vols (with reasons) -> one smile per expiry."""
    rng = np.random.default_rng(0)
    n = 2000
    spot, rate = 100.0, 0.03
    years = rng.choice([0.25, 0.5, 1.0], n)
    strike = spot * np.exp(rng.uniform(-0.4, 0.4, n))
    forward = spot * np.exp(rate * years)
    k = np.log(strike / forward)
    true_vol = np.sqrt(0.04 - 0.05 * k + 0.2 * k * k)  # a skewed smile
    is_call = strike >= forward  # quote the out-of-the-money side
    price = bs_price(spot, strike, years, rate, true_vol, is_call)
    price[:3] = [0.0, 1e6, -1.0]  # three bad quotes
    res = solve_implied_vol(price, spot, strike, years, rate, is_call)
    counts = {IVReason(c).name: int((res.reason == c).sum()) for c in np.unique(res.reason)}
    print(f"solved {counts.get('OK', 0)} of {n} implied vols; reasons {counts}")
    for expiry, fit in fit_smiles(years, k, res.vol).items():
        print(
            f"  T={expiry:4.2f}: ATM vol {fit.vol(0.0):.4f}, w(k) = {fit.a:.4f} "
            f"{fit.b:+.4f} k {fit.c:+.4f} k^2, rms vol error {fit.rms_vol_error:.1e}"
        )


def as_graph() -> None:
    """Nodes: an implied vol per option; a model, its monitored error, a fallback switch."""
    g = GraphBuilder()
    spot, years, rate = g.source("spot", 100.0), g.source("years", 0.5), g.source("rate", 0.03)
    for strike in (90.0, 100.0, 110.0):
        px = g.source(f"px/{strike:g}", float(bs_price(100.0, strike, 0.5, 0.03, 0.25, "call")))
        k = g.source(f"strike/{strike:g}", strike)
        g.node(f"iv/{strike:g}", implied_vol, px, spot, k, years, rate, params={"kind": "call"})
    x, y = g.source("x", 0.0), g.source("y", 0.0)
    model = add_stateful(g, "pred/rls", PrequentialRLS(forgetting=0.98), x, y)
    add_stateful(g, "err/rls", RollingError(20, "mae"), y, model)
    # model B forgets fast: noisier in calm times, quicker after a break
    fast = add_stateful(g, "pred/fast", PrequentialRLS(forgetting=0.8), x, y)
    add_stateful(g, "served", FallbackSwitch(threshold=0.5, clear=0.3), "err/rls", model, fast)
    rng = np.random.default_rng(1)
    ticks = []
    for i in range(200):
        xi = float(rng.normal())
        beta = 2.0 if i < 150 else -2.0  # the relation flips: the model's error jumps
        ticks.append({"x": xi, "y": beta * xi + 0.1 * float(rng.normal())})
    report = run_graph(g.build(), ticks)
    values = report.values
    print("implied vols:", [round(values[f"iv/{s}"], 6) for s in ("90", "100", "110")])
    print(f"rolling MAE of the RLS model after the flip: {values['err/rls']:.3f}")
    print(f"served: {values['served']} (model b: forgetting 0.8)")


def as_spec() -> None:
    """The same computations as spec ops (what ``fluvius run`` reads from YAML/JSON)."""
    spec = {
        "sources": {"S": 42.0, "K": 40.0, "T": 0.5, "r": 0.1, "vol": 0.2},
        "nodes": {
            "call": {"op": "bs_price", "inputs": ["S", "K", "T", "r", "vol"],
                     "params": {"kind": "call"}},
            "delta": {"op": "bs_delta", "inputs": ["S", "K", "T", "r", "vol"],
                      "params": {"kind": "call"}},
            "iv": {"op": "implied_vol", "inputs": ["call", "S", "K", "T", "r"],
                   "params": {"kind": "call"}},
        },
    }  # fmt: skip
    values = run_graph(spec_to_graph(spec), []).values
    print(
        f"spec ops: call {values['call']:.4f} (Hull: 4.76), delta {values['delta']:.4f}, "
        f"iv {values['iv']:.6f}"
    )


def demo() -> None:
    """The short version for ``make demo``."""
    as_spec()
    model = RecursiveLeastSquares()
    for xi, yi in [(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]:
        model.learn_one([xi], yi)
    print(f"RLS after three points: y = {model.coef[0]:.3f} x + {model.intercept:.3f}")
    assert math.isclose(model.predict_one([3.0]), 7.0, rel_tol=1e-6)


def main() -> None:
    standalone()
    as_graph()
    as_spec()


if __name__ == "__main__":
    main()
