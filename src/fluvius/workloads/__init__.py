"""The benchmark workloads as graph spec dicts, deterministic from params + seed.

The workloads are described in docs/reference/workloads.md.

(This file runs to about 600 lines: the three builders, their shared checks and the
registry read best together, against the exact descriptions below that other engines
rebuild the graphs from; the heavy preset's node functions live in :mod:`.script`.)

Every workload is a function of keyword params returning a spec dict (``sources``,
``nodes``, ``meta``) that :func:`fluvius.graph.spec.spec_to_graph` builds and
:func:`fluvius.graph.spec.dump_spec` writes, so other engines can load the very same graph.
:data:`WORKLOADS` lists each workload's params, defaults and description;
:func:`export_workload` takes the params as CLI ``k=v`` strings.

overhead — scheduling cost per node
    Per underlying ``U000`` ... (``underlyings``, default 20): sources ``U000/spot``
    (initial ``100.0 + i``) and ``U000/rate`` (0.05); a layered sub-DAG of ``width`` (40)
    columns x ``depth`` (50) layers of ``add`` nodes keyed ``U000/n/<layer>/<col>``. The
    first ``spot_cols`` columns (default 55 % of the width, so 22) form the spot group, the
    others the rate group. A layer-0 node reads its group's source; a node of layer k > 0
    reads 1 to 3 distinct nodes of layer k-1 in its own group, listed in ascending column
    order. Every ``add`` node has param ``c``, a constant in [-1, 1] rounded to 3 decimals
    (the layer-0 nodes too: every node is "inputs plus a constant"). ``U000/agg`` (``sum``)
    reads the last layer in column order, and ``total`` (``sum``) reads the aggregators in
    order. Defaults: 20 x 2,001 + 1 = 40,021 nodes and 40 sources; one tick of
    ``U000/spot`` recomputes 22 x 50 + 1 + 1 = 1,102 nodes.

    Random draws, from one ``random.Random(seed)``, in underlying, layer, column order: a
    layer-0 node draws ``c``; a deeper node draws its input count ``randint(1, min(3,
    group size))``, then the inputs ``sample(group columns, count)``, then ``c =
    round(uniform(-1, 1), 3)``. The first underlyings of a bigger graph therefore equal
    those of a smaller one with the same seed, width, depth and spot_cols.

fanout — the ideal shape for parallelism
    Per underlying: a source ``U000/src`` (initial ``round(uniform(50, 150), 2)``) and a
    chain of ``length`` (50) ``spin`` nodes ``U000/spin/<j>``, the first reading the source,
    each next one the previous; ``total`` (``sum``) reads every chain's last node. The spin
    count ``n`` is ``spin_n`` when given, else :func:`calibrate_spin` (``target_s``, 2 ms
    per node by default) measured on this machine; ``meta`` records it either way, so an
    exported file replays the same work elsewhere.

options — a realistic single-stock-options script
    Per underlying (``underlyings``, default 50): sources ``U000/spot`` (initial
    ``round(uniform(20, 500), 2)``), ``U000/rate`` (``round(uniform(0.01, 0.05), 4)``), one
    ``U000/strike/<j>`` per strike (``strikes``, 25, evenly from 0.9 to 1.1 x spot, 2
    decimals) and one ``U000/years/<e>`` per expiry (``expiries``, 4: 0.25, 0.5, 0.75, ...
    years); ``U000/spot/mean`` and ``U000/spot/std`` (``rolling_mean``, ``rolling_std`` over
    ``window`` = 20). Per option (expiry, strike, ``C``/``P``): a source ``mid/U000/<e>/<j>/C``
    (the Black-Scholes price at a smile ``level + skew*m + curve*m**2`` of log-moneyness
    ``m = ln(K/S)``, rounded to 4 decimals), ``iv/...`` (``implied_vol`` of mid, spot,
    strike, years, rate) and ``delta/...``, ``gamma/...``, ``vega/...`` (``bs_*`` of spot,
    strike, years, rate, iv). Per expiry ``smile/U000/<e>`` (``smile_vol``: the at-the-money
    volatility of the quadratic fit to the calls' ivs); per underlying ``U000/delta``,
    ``U000/gamma``, ``U000/vega`` (``sum``); across underlyings ``risk/delta``,
    ``risk/gamma``, ``risk/vega``. Defaults: 50 x 809 + 3 = 40,453 nodes. One tick of
    ``U000/spot`` recomputes that underlying's 2 statistics, 800 option nodes, 4 smiles, 3
    aggregates and the 3 risk totals: 812 nodes.

    The defaults are the ``light`` preset. The ``heavy`` preset (:data:`HEAVY_OPTIONS`:
    ``history_days=750``, ``load_ms=30``, ``calib_grid=115``) adds a real script's
    start-up: per underlying a source ``U000/history/days`` and an async history load
    ``U000/history`` (:func:`fluvius.workloads.script.load_history`: waits ``load_ms``,
    then returns ``history_days`` daily returns; params ``seed = seed * 100003 + i`` and
    ``vol``, the smile level rounded to 4 decimals), and per expiry ``calib/U000/<e>``
    (:func:`~fluvius.workloads.script.calibrate_expiry` of the history and the years, about
    10 ms of pure Python) and ``premium/U000/<e>`` (``sub``: the smile minus the
    calibrated volatility). Heavy: 50 x 818 + 3 = 40,903 nodes; a spot tick recomputes
    the 812 nodes above and the 4 premiums (816), never a load or a calibration. No random
    draw is added, so every other value equals the light preset's.

>>> spec = overhead_spec(underlyings=1, width=4, depth=2, spot_cols=2, seed=1)
>>> len(spec["nodes"]), spec["nodes"]["U000/n/1/0"]["inputs"]
(10, ['U000/n/0/0', 'U000/n/0/1'])
"""

from __future__ import annotations

import math
import random
import statistics
import time
from dataclasses import dataclass, field
from importlib import metadata
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from fluvius.errors import ConfigError
from fluvius.graph.keys import make_key
from fluvius.graph.ops import BUILTIN_OPS
from fluvius.workloads.chain import GREEKS, option_nodes, smile_node

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

__all__ = [
    "HEAVY_OPTIONS",
    "WORKLOADS",
    "Workload",
    "WorkloadParam",
    "calibrate_spin",
    "export_workload",
    "fanout_spec",
    "options_spec",
    "overhead_spec",
    "tick_stream",
]


def _fluvius_version() -> str:
    try:
        return metadata.version("fluvius")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "unknown"


def _underlying(i: int) -> str:
    return make_key(f"U{i:03d}")


def _check_int(workload: str, name: str, value: int, low: int, high: int | None = None) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        allowed = f"an int >= {low}" if high is None else f"an int in [{low}, {high}]"
        raise ConfigError(f"workload {workload!r}: param {name!r} must be {allowed}, got {value!r}")


def _meta(workload: str, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "workload": workload,
        "params": params,
        "seed": params["seed"],
        "fluvius_version": _fluvius_version(),
    }


# -- overhead ------------------------------------------------------------------------------
def overhead_spec(
    *,
    underlyings: int = 20,
    width: int = 40,
    depth: int = 50,
    spot_cols: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The ``overhead`` workload's spec (see the module docstring).

    ``spot_cols=None`` means 55 % of ``width``, rounded (22 of the default 40 columns).
    """
    _check_int("overhead", "underlyings", underlyings, 1)
    _check_int("overhead", "width", width, 1)
    _check_int("overhead", "depth", depth, 1)
    if spot_cols is None:
        spot_cols = max(1, (width * 11 + 10) // 20)
    _check_int("overhead", "spot_cols", spot_cols, 1, width)
    _check_int("overhead", "seed", seed, 0)
    rng = random.Random(seed)
    sources: dict[str, Any] = {}
    nodes: dict[str, Any] = {}
    groups = [(0, spot_cols), (spot_cols, width)]
    aggregators = []
    for i in range(underlyings):
        und = _underlying(i)
        spot, rate = make_key(und, "spot"), make_key(und, "rate")
        sources[spot] = 100.0 + i
        sources[rate] = 0.05
        prev: list[str] = []
        for layer in range(depth):
            row = [make_key(und, "n", layer, col) for col in range(width)]
            for lo, hi in groups:
                for col in range(lo, hi):
                    if layer == 0:
                        inputs = [spot if lo == 0 else rate]
                    else:
                        count = rng.randint(1, min(3, hi - lo))
                        inputs = [prev[j] for j in sorted(rng.sample(range(lo, hi), count))]
                    c = round(rng.uniform(-1.0, 1.0), 3)
                    nodes[row[col]] = {"op": "add", "inputs": inputs, "params": {"c": c}}
            prev = row
        agg = make_key(und, "agg")
        nodes[agg] = {"op": "sum", "inputs": prev}
        aggregators.append(agg)
    nodes[make_key("total")] = {"op": "sum", "inputs": aggregators}
    params = {
        "underlyings": underlyings,
        "width": width,
        "depth": depth,
        "spot_cols": spot_cols,
        "seed": seed,
    }
    return {"sources": sources, "nodes": nodes, "meta": _meta("overhead", params)}


# -- fanout -------------------------------------------------------------------------------
def calibrate_spin(target_s: float = 0.002, *, repeats: int = 5) -> int:
    """The ``spin`` op's ``n`` that makes one call last about ``target_s`` seconds here.

    Times the real op (median of ``repeats`` runs after a rough first estimate), so the
    result includes the call overhead a node pays.

    >>> calibrate_spin(0.0001) > 0
    True
    """
    if not (isinstance(target_s, int | float) and math.isfinite(target_s) and target_s > 0):
        raise ConfigError(f"calibrate_spin: target_s must be a positive number, got {target_s!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(f"calibrate_spin: repeats must be an int >= 1, got {repeats!r}")

    def seconds_per_iteration(n: int) -> float:
        fn = BUILTIN_OPS["spin"](1, {"n": n})
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn(0.0)
            times.append(time.perf_counter() - start)
        return max(statistics.median(times), 1e-9) / n

    rough = max(1, round(target_s / seconds_per_iteration(1000)))
    return max(1, round(target_s / seconds_per_iteration(rough)))


def fanout_spec(
    *,
    underlyings: int = 20,
    length: int = 50,
    spin_n: int | None = None,
    target_s: float = 0.002,
    seed: int = 0,
) -> dict[str, Any]:
    """The ``fanout`` workload's spec; ``spin_n=None`` calibrates it for ``target_s``."""
    _check_int("fanout", "underlyings", underlyings, 1)
    _check_int("fanout", "length", length, 1)
    _check_int("fanout", "seed", seed, 0)
    calibrated = spin_n is None
    if spin_n is None:
        spin_n = calibrate_spin(target_s)
    _check_int("fanout", "spin_n", spin_n, 0)
    rng = random.Random(seed)
    sources: dict[str, Any] = {}
    nodes: dict[str, Any] = {}
    ends = []
    for i in range(underlyings):
        und = _underlying(i)
        prev = make_key(und, "src")
        sources[prev] = round(rng.uniform(50.0, 150.0), 2)
        for j in range(length):
            key = make_key(und, "spin", j)
            nodes[key] = {"op": "spin", "inputs": [prev], "params": {"n": spin_n}}
            prev = key
        ends.append(prev)
    nodes[make_key("total")] = {"op": "sum", "inputs": ends}
    params = {
        "underlyings": underlyings,
        "length": length,
        "spin_n": spin_n,
        "target_s": target_s,
        "seed": seed,
    }
    meta = _meta("fanout", params)
    meta.update(spin_n=spin_n, target_s=target_s, spin_calibrated=calibrated)
    return {"sources": sources, "nodes": nodes, "meta": meta}


# -- options ------------------------------------------------------------------------------


def options_spec(
    *,
    underlyings: int = 50,
    expiries: int = 4,
    strikes: int = 25,
    window: int = 20,
    history_days: int = 0,
    load_ms: float = 30.0,
    calib_grid: int = 115,
    seed: int = 0,
) -> dict[str, Any]:
    """The ``options`` workload's spec (see the module docstring).

    ``history_days=0`` (the ``light`` preset) adds no history load and no calibration;
    ``history_days > 0`` adds them (the ``heavy`` preset), and ``calib_grid=0`` then keeps
    the loads but leaves the calibrations out.
    """
    # imported here, not at the top: scipy costs half a second of every CLI start-up
    from fluvius.nodes.options.bsm import bs_price

    _check_int("options", "underlyings", underlyings, 1)
    _check_int("options", "expiries", expiries, 1)
    _check_int("options", "strikes", strikes, 3)
    _check_int("options", "window", window, 2)
    _check_int("options", "history_days", history_days, 0)
    if history_days:
        _check_int("options", "history_days", history_days, 2)
    if not (isinstance(load_ms, int | float) and math.isfinite(load_ms) and load_ms >= 0):
        raise ConfigError(f"workload 'options': param 'load_ms' must be >= 0, got {load_ms!r}")
    _check_int("options", "calib_grid", calib_grid, 0)
    _check_int("options", "seed", seed, 0)
    rng = random.Random(seed)
    sources: dict[str, Any] = {}
    nodes: dict[str, Any] = {}
    totals: dict[str, list[str]] = {g: [] for g in GREEKS}
    for i in range(underlyings):
        und = _underlying(i)
        spot, rate = make_key(und, "spot"), make_key(und, "rate")
        s0 = round(rng.uniform(20.0, 500.0), 2)
        r = round(rng.uniform(0.01, 0.05), 4)
        sources[spot], sources[rate] = s0, r
        for stat in ("mean", "std"):
            nodes[make_key(und, "spot", stat)] = {
                "op": f"rolling_{stat}",
                "inputs": [spot],
                "params": {"window": window},
            }
        level, skew, curve = rng.uniform(0.15, 0.45), rng.uniform(-0.3, 0.0), rng.uniform(0.1, 0.6)
        if history_days:
            days = make_key(und, "history", "days")
            sources[days] = history_days
            history_params = {"seed": seed * 100_003 + i, "vol": round(level, 4)}
            nodes[make_key(und, "history")] = {
                "op": f"{_SCRIPT}:load_history",
                "inputs": [days],
                "params": {**history_params, "load_ms": load_ms},
            }
        strike_keys: list[str] = []
        strike_values: list[float] = []
        for j in range(strikes):
            k = round(s0 * (0.9 + 0.2 * j / (strikes - 1)), 2)
            key = make_key(und, "strike", j)
            sources[key] = k
            strike_keys.append(key)
            strike_values.append(k)
        per_greek: dict[str, list[str]] = {g: [] for g in GREEKS}
        for e in range(expiries):
            years = round(0.25 * (e + 1), 4)
            tkey = make_key(und, "years", e)
            sources[tkey] = years
            call_ivs: list[str] = []
            for j, (kkey, k) in enumerate(zip(strike_keys, strike_values, strict=True)):
                m = math.log(k / s0)
                vol = level + skew * m + curve * m * m
                for kind in ("call", "put"):
                    opt = make_key(und, e, j, kind[0].upper())
                    mid = make_key("mid", opt)
                    sources[mid] = round(bs_price(s0, k, years, r, vol, kind), 4)
                    nodes.update(
                        option_nodes(
                            opt, mid=mid, spot=spot, strike=kkey, years=tkey, rate=rate, kind=kind
                        )
                    )
                    if kind == "call":
                        call_ivs.append(make_key("iv", opt))
                    for greek in GREEKS:
                        per_greek[greek].append(make_key(greek, opt))
            smile = make_key("smile", und, e)
            nodes[smile] = smile_node(
                spot=spot, years=tkey, rate=rate, ivs=call_ivs, strikes=strike_values
            )
            if history_days and calib_grid:
                _add_calibration(nodes, und, e, tkey, smile, calib_grid)
        for greek in GREEKS:
            agg = make_key(und, greek)
            nodes[agg] = {"op": "sum", "inputs": per_greek[greek]}
            totals[greek].append(agg)
    for greek in GREEKS:
        nodes[make_key("risk", greek)] = {"op": "sum", "inputs": totals[greek]}
    params = {
        "underlyings": underlyings,
        "expiries": expiries,
        "strikes": strikes,
        "window": window,
        "history_days": history_days,
        "load_ms": load_ms,
        "calib_grid": calib_grid,
        "seed": seed,
    }
    return {"sources": sources, "nodes": nodes, "meta": _meta("options", params)}


_SCRIPT = "fluvius.workloads.script"


def _add_calibration(
    nodes: dict[str, Any], und: str, e: int, tkey: str, smile: str, grid: int
) -> None:
    """The heavy preset's per-expiry nodes: the calibration and the smile's premium over it."""
    calib = make_key("calib", und, e)
    nodes[calib] = {
        "op": f"{_SCRIPT}:calibrate_expiry",
        "inputs": [make_key(und, "history"), tkey],
        "params": {"grid": grid},
    }
    nodes[make_key("premium", und, e)] = {"op": "sub", "inputs": [smile, calib]}


# -- registry and CLI-facing export -------------------------------------------------------
def _parse_int(text: str) -> int:
    return int(text)


def _parse_float(text: str) -> float:
    return float(text)


def _parse_int_or_auto(text: str) -> int | None:
    return None if text.strip().lower() == "auto" else int(text)


@dataclass(frozen=True, slots=True)
class WorkloadParam:
    """One workload parameter: how to parse it from a CLI string, its default and meaning."""

    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str


@dataclass(frozen=True, slots=True)
class Workload:
    """A named workload: its description, params and spec builder (keyword params)."""

    name: str
    description: str
    params: tuple[WorkloadParam, ...]
    build: Callable[..., dict[str, Any]]
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Preset name → the params it overrides (the defaults are the preset ``light``)."""

    def defaults(self) -> dict[str, Any]:
        """Param name → default value."""
        return {p.name: p.default for p in self.params}


HEAVY_OPTIONS: Mapping[str, Any] = MappingProxyType(
    {"history_days": 750, "load_ms": 30.0, "calib_grid": 115}
)
"""The ``options`` workload's ``heavy`` preset: a real script's start-up (module docstring)."""

_SEED = WorkloadParam("seed", _parse_int, 0, "seed of random.Random for every random choice")
_UNDERLYINGS = WorkloadParam("underlyings", _parse_int, 20, "number of underlyings")

WORKLOADS: Mapping[str, Workload] = MappingProxyType(
    {
        "overhead": Workload(
            "overhead",
            "scheduling cost per node: 20 layered sub-DAGs of 2,000 add nodes (~40,000 nodes)",
            (
                _UNDERLYINGS,
                WorkloadParam("width", _parse_int, 40, "columns per layer"),
                WorkloadParam("depth", _parse_int, 50, "layers per underlying"),
                WorkloadParam(
                    "spot_cols",
                    _parse_int_or_auto,
                    None,
                    "columns fed by spot; None or 'auto': 55 % of width",
                ),
                _SEED,
            ),
            overhead_spec,
        ),
        "fanout": Workload(
            "fanout",
            "ideal parallelism: 20 independent chains of 50 spin nodes of ~2 ms, one merge",
            (
                _UNDERLYINGS,
                WorkloadParam("length", _parse_int, 50, "spin nodes per chain"),
                WorkloadParam(
                    "spin_n",
                    _parse_int_or_auto,
                    None,
                    "spin iterations; None or 'auto': calibrated",
                ),
                WorkloadParam("target_s", _parse_float, 0.002, "seconds per spin when auto"),
                _SEED,
            ),
            fanout_spec,
        ),
        "options": Workload(
            "options",
            "a single-stock-options script: 50 underlyings x 4 expiries x 25 strikes x "
            "call/put, implied vol and greeks per option, a smile per expiry (~40,000 nodes)",
            (
                WorkloadParam("underlyings", _parse_int, 50, "number of underlyings"),
                WorkloadParam("expiries", _parse_int, 4, "expiries per underlying"),
                WorkloadParam("strikes", _parse_int, 25, "strikes per expiry (>= 3)"),
                WorkloadParam("window", _parse_int, 20, "window of the rolling spot statistics"),
                WorkloadParam(
                    "history_days",
                    _parse_int,
                    0,
                    "daily returns per history load (one async load per underlying); "
                    "0: no loads, no calibrations",
                ),
                WorkloadParam(
                    "load_ms", _parse_float, 30.0, "ms each history load waits (async I/O)"
                ),
                WorkloadParam(
                    "calib_grid",
                    _parse_int,
                    115,
                    "decays tried by each per-expiry calibration (cost ~ grid x days); "
                    "0: no calibrations",
                ),
                _SEED,
            ),
            options_spec,
            MappingProxyType({"light": MappingProxyType({}), "heavy": HEAVY_OPTIONS}),
        ),
    }
)
"""Workload name → :class:`Workload`."""


def export_workload(
    name: str, params: Mapping[str, object] | None = None, *, preset: str | None = None
) -> dict[str, Any]:
    """Build a workload's spec from CLI-style params (``{"seed": "3"}``; typed values pass).

    ``preset`` starts from a named set of params (``options``: ``light``, the defaults, or
    ``heavy``); ``params`` override it. The spec's ``meta`` records the preset.

    >>> spec = export_workload("overhead", {"underlyings": "1", "depth": "2"})
    >>> spec["meta"]["params"]
    {'underlyings': 1, 'width': 40, 'depth': 2, 'spot_cols': 22, 'seed': 0}
    >>> export_workload("overhead", {"widht": "3"})
    Traceback (most recent call last):
    ...
    fluvius.errors.ConfigError: workload 'overhead': unknown param 'widht'; valid params: \
underlyings, width, depth, spot_cols, seed
    >>> export_workload("options", {"underlyings": "1"}, preset="heavy")["meta"]["preset"]
    'heavy'
    """
    workload = WORKLOADS.get(name)
    if workload is None:
        raise ConfigError(f"unknown workload {name!r}; workloads: {', '.join(WORKLOADS)}")
    by_name = {p.name: p for p in workload.params}
    kwargs = workload.defaults()
    if preset is not None:
        chosen = workload.presets.get(preset)
        if chosen is None:
            known = ", ".join(workload.presets) or "none"
            raise ConfigError(f"workload {name!r}: unknown preset {preset!r}; presets: {known}")
        kwargs.update(chosen)
    for key, raw in (params or {}).items():
        param = by_name.get(key)
        if param is None:
            raise ConfigError(
                f"workload {name!r}: unknown param {key!r}; valid params: {', '.join(by_name)}"
            )
        if isinstance(raw, str):
            try:
                kwargs[key] = param.parse(raw)
            except ValueError:
                raise ConfigError(
                    f"workload {name!r}: param {key!r} ({param.help}) cannot be {raw!r}"
                ) from None
        else:
            kwargs[key] = raw
    spec = workload.build(**kwargs)
    if preset is not None:
        spec["meta"]["preset"] = preset
    return spec


def tick_stream(
    spec: Mapping[str, Any], n_ticks: int, seed: int = 0, *, sources_per_tick: int = 1
) -> Iterator[dict[str, float]]:
    """Yield ``n_ticks`` source batches: a random walk of the price-like sources.

    Price-like sources are those whose key ends in ``/spot`` or ``/src`` (all numeric
    sources when there are none). Each tick moves ``sources_per_tick`` of them, chosen at
    random, by a Gaussian step of 0.1 % of their value, rounded to 4 decimals.

    >>> spec = overhead_spec(underlyings=2, width=2, depth=1, spot_cols=1)
    >>> list(tick_stream(spec, 2, seed=1))
    [{'U000/spot': 99.8367}, {'U000/spot': 99.761}]
    """
    _check_int("tick_stream", "n_ticks", n_ticks, 0)
    values = {
        k: v
        for k, v in spec["sources"].items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    keys = [k for k in values if k.rsplit("/", 1)[-1] in ("spot", "src")] or list(values)
    if not keys:
        raise ConfigError("tick_stream: the spec has no numeric source to tick")
    _check_int("tick_stream", "sources_per_tick", sources_per_tick, 1, len(keys))
    rng = random.Random(seed)
    for _ in range(n_ticks):
        tick: dict[str, float] = {}
        for j in sorted(rng.sample(range(len(keys)), sources_per_tick)):
            key = keys[j]
            value = values[key]
            value = round(value + rng.gauss(0.0, 0.001) * max(abs(value), 1.0), 4)
            values[key] = tick[key] = value
        yield tick
