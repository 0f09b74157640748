"""Reason codes of the implied-volatility solvers (shared by the vector and scalar paths)."""

from __future__ import annotations

import enum

__all__ = ["NOISE_ULPS", "IVReason"]

NOISE_ULPS = 1e4
"""An in-the-money time value within this many ulps of the price is rounding noise."""


class IVReason(enum.IntEnum):
    """Why an implied volatility is what it is (0 means solved)."""

    OK = 0
    BAD_INPUT = 1
    BELOW_INTRINSIC = 2
    ABOVE_UPPER_BOUND = 3
    NO_CONVERGENCE = 4
