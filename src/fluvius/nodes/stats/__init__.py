"""Streaming statistics: O(1) amortised per update, over count windows and time windows.

Every class shares the vocabulary of :mod:`fluvius.nodes.stats.base` (``update``/``get``,
``update_many``, optionally ``revert`` and ``merge``) and knows nothing of graphs.
"""

from __future__ import annotations

from fluvius.nodes.stats.base import Bivariate as Bivariate
from fluvius.nodes.stats.base import Statistic as Statistic
from fluvius.nodes.stats.base import Univariate as Univariate
from fluvius.nodes.stats.ewmean import EWMean as EWMean
from fluvius.nodes.stats.rolling_mean import RollingMean as RollingMean
from fluvius.nodes.stats.rolling_minmax import RollingMax as RollingMax
from fluvius.nodes.stats.rolling_minmax import RollingMin as RollingMin
from fluvius.nodes.stats.rolling_sum import RollingSum as RollingSum
from fluvius.nodes.stats.rolling_var import RollingStd as RollingStd
from fluvius.nodes.stats.rolling_var import RollingVar as RollingVar

__all__ = [
    "Bivariate",
    "EWMean",
    "RollingMax",
    "RollingMean",
    "RollingMin",
    "RollingStd",
    "RollingSum",
    "RollingVar",
    "Statistic",
    "Univariate",
]
