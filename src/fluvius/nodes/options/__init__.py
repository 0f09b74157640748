"""Options analytics: Black-Scholes-Merton price and greeks, implied volatility, smile fits.

Plain functions over floats or numpy arrays (vectorised); the spec ops ``bs_price``,
``bs_delta``, ``bs_gamma``, ``bs_vega``, ``bs_theta``, ``bs_rho`` and ``implied_vol`` call
them with one option per node; ``smile_vol`` fits one expiry's smile per node.
"""

from __future__ import annotations

from fluvius.nodes.options._reasons import IVReason as IVReason
from fluvius.nodes.options.bsm import bs_delta as bs_delta
from fluvius.nodes.options.bsm import bs_gamma as bs_gamma
from fluvius.nodes.options.bsm import bs_price as bs_price
from fluvius.nodes.options.bsm import bs_rho as bs_rho
from fluvius.nodes.options.bsm import bs_theta as bs_theta
from fluvius.nodes.options.bsm import bs_vega as bs_vega
from fluvius.nodes.options.implied import IVResult as IVResult
from fluvius.nodes.options.implied import implied_vol as implied_vol
from fluvius.nodes.options.implied import solve_implied_vol as solve_implied_vol
from fluvius.nodes.options.smile import SmileFit as SmileFit
from fluvius.nodes.options.smile import fit_smile as fit_smile
from fluvius.nodes.options.smile import fit_smiles as fit_smiles
from fluvius.nodes.options.smile import smile_vol as smile_vol

__all__ = [
    "IVReason",
    "IVResult",
    "SmileFit",
    "bs_delta",
    "bs_gamma",
    "bs_price",
    "bs_rho",
    "bs_theta",
    "bs_vega",
    "fit_smile",
    "fit_smiles",
    "implied_vol",
    "smile_vol",
    "solve_implied_vol",
]
