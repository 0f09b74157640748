"""Model monitoring: drift (PSI, Kolmogorov-Smirnov), rolling prediction error,
performance-decay alerts and a fallback switch between two models."""

from __future__ import annotations

from fluvius.nodes.monitoring.decay_alert import DecayAlert as DecayAlert
from fluvius.nodes.monitoring.fallback import FallbackSwitch as FallbackSwitch
from fluvius.nodes.monitoring.fallback import Served as Served
from fluvius.nodes.monitoring.ks import KSDrift as KSDrift
from fluvius.nodes.monitoring.ks import KSResult as KSResult
from fluvius.nodes.monitoring.ks import ks_2samp as ks_2samp
from fluvius.nodes.monitoring.psi import PSIDrift as PSIDrift
from fluvius.nodes.monitoring.psi import population_stability_index as population_stability_index
from fluvius.nodes.monitoring.rolling_error import RollingError as RollingError
from fluvius.nodes.monitoring.rolling_error import RollingMAE as RollingMAE
from fluvius.nodes.monitoring.rolling_error import RollingRMSE as RollingRMSE

__all__ = [
    "DecayAlert",
    "FallbackSwitch",
    "KSDrift",
    "KSResult",
    "PSIDrift",
    "RollingError",
    "RollingMAE",
    "RollingRMSE",
    "Served",
    "ks_2samp",
    "population_stability_index",
]
