"""Streaming statistics: O(1) amortised per update, over count windows and time windows.

Every class shares the vocabulary of :mod:`fluvius.nodes.stats.base` (``update``/``get``,
``update_many``, optionally ``revert`` and ``merge``) and knows nothing of graphs.

=================  ==============================================  ======  ======
class              what                                            window  merge
=================  ==============================================  ======  ======
Mean, Sum          whole stream (Welford; Neumaier)                no      yes
Var, Std           whole stream (Welford; Chan et al.)             no      yes
Min, Max           whole stream                                    no      yes
RollingMean/Sum    running sum, exact recompute once per window    c / t   no
RollingVar/Std     Welford with windowed removal                   c / t   no
RollingMin/Max     monotonic deque                                 c / t   no
RollingQuantile    sorted list + bisect                            c / t   no
EWMean, EWVar      exponential weights (alpha or half-life)        time    no
Cov, Corr, Beta    bivariate Welford                               opt.    yes*
VWAP               sum(price * size) / sum(size)                   opt.    yes*
RealizedVol        root of summed squared log returns              c / t   no
SkipMissing        any of them, skipping None/NaN observations     (its)   no
=================  ==============================================  ======  ======

Missing values: every class takes every observation (a NaN propagates as each class's
Notes say); :class:`SkipMissing` (what spec ops and :func:`fluvius.nodes.add_stateful` use
by default, see :mod:`fluvius.nodes.stats.missing`) skips ``None``/NaN observations and
gives NaN until ``min_periods`` observations.

(c: count window ``window=``; t: time window ``period=`` with ``update(x, t=...)``;
time: decay in time with ``halflife=`` and ``update(x, t=...)``; opt.: no window by
default; yes*: without a window.)
"""

from __future__ import annotations

from fluvius.nodes.stats.base import Bivariate as Bivariate
from fluvius.nodes.stats.base import Statistic as Statistic
from fluvius.nodes.stats.base import Univariate as Univariate
from fluvius.nodes.stats.cov import Beta as Beta
from fluvius.nodes.stats.cov import Corr as Corr
from fluvius.nodes.stats.cov import Cov as Cov
from fluvius.nodes.stats.ewmean import EWMean as EWMean
from fluvius.nodes.stats.ewvar import EWVar as EWVar
from fluvius.nodes.stats.mean import Mean as Mean
from fluvius.nodes.stats.minmax import Max as Max
from fluvius.nodes.stats.minmax import Min as Min
from fluvius.nodes.stats.missing import SkipMissing as SkipMissing
from fluvius.nodes.stats.missing import is_missing as is_missing
from fluvius.nodes.stats.missing import with_missing_policy as with_missing_policy
from fluvius.nodes.stats.quantile import RollingQuantile as RollingQuantile
from fluvius.nodes.stats.realized_vol import RealizedVol as RealizedVol
from fluvius.nodes.stats.rolling_mean import RollingMean as RollingMean
from fluvius.nodes.stats.rolling_minmax import RollingMax as RollingMax
from fluvius.nodes.stats.rolling_minmax import RollingMin as RollingMin
from fluvius.nodes.stats.rolling_sum import RollingSum as RollingSum
from fluvius.nodes.stats.rolling_var import RollingStd as RollingStd
from fluvius.nodes.stats.rolling_var import RollingVar as RollingVar
from fluvius.nodes.stats.sum import Sum as Sum
from fluvius.nodes.stats.var import Std as Std
from fluvius.nodes.stats.var import Var as Var
from fluvius.nodes.stats.vwap import VWAP as VWAP

__all__ = [
    "Beta",
    "Bivariate",
    "Corr",
    "Cov",
    "EWMean",
    "EWVar",
    "Max",
    "Mean",
    "Min",
    "RealizedVol",
    "RollingMax",
    "RollingMean",
    "RollingMin",
    "RollingQuantile",
    "RollingStd",
    "RollingSum",
    "RollingVar",
    "SkipMissing",
    "Statistic",
    "Std",
    "Sum",
    "Univariate",
    "VWAP",
    "Var",
    "is_missing",
    "with_missing_policy",
]
