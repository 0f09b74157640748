"""The start-up work of a real options script: history loads and per-expiry calibrations.

The ``options`` workload's ``heavy`` preset adds these two ops to the graph (as dotted
paths, so an exported spec names them and any fluvius process can import them):

``load_history`` (``async``, one per underlying)
    Waits ``load_ms`` milliseconds, the round trip of a query to a history database (an
    ``await asyncio.sleep``: the worker's thread is free meanwhile, as it would be while
    waiting on a socket), then returns ``days`` daily log returns drawn from
    ``random.Random(seed)``: a Gaussian walk whose volatility drifts slowly around
    ``vol`` (volatility clusters, so the calibration has something to find).
``calibrate_expiry`` (CPU, one per expiry)
    Fits the decay ``lambda`` of an exponentially weighted variance to the returns by
    maximum likelihood over a grid of ``grid`` values in [0.90, 0.995], then forecasts the
    mean variance over the expiry's horizon (mean reversion towards the sample variance at
    the fitted decay) and returns it as an annual volatility. Pure Python: its cost grows
    as ``grid x days`` (about 10 ms of CPU for ``grid=115`` and ``days=750`` on the development
    VM), and it holds the GIL throughout, like a real calibration loop.

Both are deterministic functions of their inputs and params, so every scheduler gives
bit-identical values.

>>> import asyncio
>>> returns = asyncio.run(load_history(20, seed=1, vol=0.3, load_ms=0.0))
>>> len(returns), round(returns[0], 6)
(20, 0.030365)
>>> vol = calibrate_expiry(returns, 0.25, grid=5)
>>> 0.0 < vol < 1.0
True
"""

from __future__ import annotations

import asyncio
import math
import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["calibrate_expiry", "load_history"]

TRADING_DAYS = 252
"""Trading days per year: the unit change between daily returns and annual volatility."""


async def load_history(days: int, *, seed: int, vol: float, load_ms: float) -> tuple[float, ...]:
    """``days`` daily log returns after ``load_ms`` ms of simulated I/O (module docstring).

    Parameters
    ----------
    days
        How many daily returns (the node's input: a source, so the load happens once).
    seed
        Seed of the returns' ``random.Random``.
    vol
        The annual volatility the returns' volatility drifts around.
    load_ms
        Milliseconds of waiting (``asyncio.sleep``) before the data arrives.
    """
    if isinstance(days, bool) or not isinstance(days, int) or days < 2:
        raise ValueError(f"load_history: days must be an int >= 2, got {days!r}")
    if not (math.isfinite(vol) and vol > 0):
        raise ValueError(f"load_history: vol must be a positive number, got {vol!r}")
    if not (math.isfinite(load_ms) and load_ms >= 0):
        raise ValueError(f"load_history: load_ms must be >= 0, got {load_ms!r}")
    await asyncio.sleep(load_ms / 1000.0)
    rng = random.Random(seed)
    daily = vol / math.sqrt(TRADING_DAYS)
    log_level = 0.0
    out = []
    for _ in range(days):
        log_level = 0.97 * log_level + rng.gauss(0.0, 0.08)  # slow volatility regimes
        out.append(rng.gauss(0.0, daily * math.exp(log_level)))
    return tuple(out)


def calibrate_expiry(returns: Sequence[float], years: float, *, grid: int) -> float:
    """Annual volatility forecast over ``years`` from an EWMA fit to ``returns``.

    Parameters
    ----------
    returns
        Daily log returns (at least 2).
    years
        The horizon (the expiry's years to expiry), > 0.
    grid
        Decay values tried, evenly spaced in [0.90, 0.995] (>= 1; the cost knob).

    Notes
    -----
    For each decay ``lam`` the variance follows ``v = lam * v + (1 - lam) * r**2``,
    started at the sample variance, and the Gaussian log-likelihood
    ``-sum(log v + r**2 / v)`` (each return scored against the variance before it) picks
    the best ``lam`` (the first on ties). Over ``h = years * 252`` days the forecast
    variance decays from the last ``v`` towards the sample variance ``s``:
    ``s + (v - s) * (1 - lam**h) / (h * (1 - lam))``.
    """
    if isinstance(grid, bool) or not isinstance(grid, int) or grid < 1:
        raise ValueError(f"calibrate_expiry: grid must be an int >= 1, got {grid!r}")
    if len(returns) < 2:
        raise ValueError(f"calibrate_expiry: needs >= 2 returns, got {len(returns)}")
    if not (math.isfinite(years) and years > 0):
        raise ValueError(f"calibrate_expiry: years must be > 0, got {years!r}")
    squares = [r * r for r in returns]
    sample = math.fsum(squares) / len(squares)
    if sample <= 0.0:
        return 0.0
    log = math.log
    best_ll, best_lam, best_v = -math.inf, 0.0, sample
    for i in range(grid):
        lam = 0.90 + 0.095 * (i / (grid - 1) if grid > 1 else 1.0)
        keep = 1.0 - lam
        v = sample
        ll = 0.0
        for sq in squares:
            ll -= log(v) + sq / v
            v = lam * v + keep * sq
        if ll > best_ll:
            best_ll, best_lam, best_v = ll, lam, v
    h = years * TRADING_DAYS
    mean_var = sample + (best_v - sample) * (1.0 - best_lam**h) / (h * (1.0 - best_lam))
    return math.sqrt(max(mean_var, 0.0) * TRADING_DAYS)
