"""Spec nodes of an options chain: one option's implied vol and greeks, one expiry's smile.

The one place that says how a spec builds an options chain from the library ops
(docs/reference/nodes-options.md): the ``options`` workload (:func:`options_spec
<fluvius.workloads.options_spec>`) and the ``fluvius-deployment`` config component (its
per-underlying graphs) both call it, so a chain means the same thing in both.

Per option, keyed after the option's own key part ``OPT`` (e.g. ``AAPL/2026-12-18/C/150``):

* ``iv/OPT``: ``implied_vol`` of the option's mid, the spot, the strike, the years to
  expiry and the rate (NaN outside the no-arbitrage bounds);
* ``delta/OPT``, ``gamma/OPT``, ``vega/OPT``: ``bs_delta``, ``bs_gamma``, ``bs_vega`` of
  the spot, strike, years, rate and that implied vol.

Per expiry, a ``smile_vol`` node: the at-the-money volatility of the quadratic smile
fitted to the expiry's implied vols (NaN with fewer than three finite ones).

A strike is either a source key (the workload's shared strike sources) or a number fixed
in the node's params (a deployment's instruments): with a number, the node's ``inputs``
are a mapping of argument name to key and ``strike`` is a param, as the spec format allows.

>>> nodes = option_nodes("A/0/C", mid="mid/A/0/C", spot="A/spot", strike=100.0,
...                      years="A/years/0", rate="A/rate", kind="call")
>>> sorted(nodes)
['delta/A/0/C', 'gamma/A/0/C', 'iv/A/0/C', 'vega/A/0/C']
>>> nodes["iv/A/0/C"]["params"]
{'kind': 'call', 'strike': 100.0}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fluvius.errors import ConfigError
from fluvius.graph.keys import make_key

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["GREEKS", "option_nodes", "smile_node"]

GREEKS = ("delta", "gamma", "vega")
"""The greeks :func:`option_nodes` computes per option (``bs_<greek>`` ops)."""

_KINDS = ("call", "put")


def _node(op: str, named: dict[str, str | float], params: dict[str, Any]) -> dict[str, Any]:
    """A node of ``op`` over ``named`` (argument name -> key, in the op's positional order):
    positional inputs when every argument is a key; otherwise keyword inputs for the keys,
    and the numbers (a fixed strike) join the params."""
    if all(isinstance(v, str) for v in named.values()):
        return {"op": op, "inputs": list(named.values()), "params": params}
    keys = {name: v for name, v in named.items() if isinstance(v, str)}
    fixed = {name: float(v) for name, v in named.items() if not isinstance(v, str)}
    return {"op": op, "inputs": keys, "params": {**params, **fixed}}


def option_nodes(
    option: str,
    *,
    mid: str,
    spot: str,
    strike: str | float,
    years: str,
    rate: str,
    kind: str,
    greeks: Sequence[str] = GREEKS,
) -> dict[str, dict[str, Any]]:
    """The spec nodes ``iv/<option>`` and ``<greek>/<option>`` of one option.

    Parameters
    ----------
    option
        The option's key part (``AAPL/2026-12-18/C/150``); node keys are built on it.
    mid, spot, years, rate
        Keys of the option's price, the underlying's spot, the years to expiry and the rate.
    strike
        A key (a source holding the strike) or the strike itself.
    kind
        ``"call"`` or ``"put"``.
    greeks
        Which of :data:`GREEKS` to add.
    """
    if kind not in _KINDS:
        raise ConfigError(f"option {option!r}: kind must be 'call' or 'put', got {kind!r}")
    unknown = [g for g in greeks if g not in GREEKS]
    if unknown:
        raise ConfigError(f"option {option!r}: unknown greek {unknown[0]!r}; known: {GREEKS}")
    if not isinstance(strike, str) and not float(strike) > 0.0:
        raise ConfigError(f"option {option!r}: strike must be > 0, got {strike!r}")
    iv = make_key("iv", option)
    priced = {"price": mid, "spot": spot, "strike": strike, "years": years, "rate": rate}
    nodes = {iv: _node("implied_vol", priced, {"kind": kind})}
    for greek in greeks:
        nodes[make_key(greek, option)] = _node(
            f"bs_{greek}",
            {"spot": spot, "strike": strike, "years": years, "rate": rate, "vol": iv},
            {"kind": kind},
        )
    return nodes


def smile_node(
    *, spot: str, years: str, rate: str, ivs: Sequence[str], strikes: Sequence[float]
) -> dict[str, Any]:
    """The spec node of one expiry's smile: ``smile_vol`` of the spot, years, rate and the
    implied vols ``ivs`` at ``strikes`` (the same order)."""
    if len(ivs) != len(strikes):
        raise ConfigError(f"smile over {len(ivs)} implied vols but {len(strikes)} strikes")
    return {
        "op": "smile_vol",
        "inputs": [spot, years, rate, *ivs],
        "params": {"strikes": [float(k) for k in strikes]},
    }
