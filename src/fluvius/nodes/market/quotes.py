"""Quote features: spread (currency units, basis points) and the mid's log return."""

from __future__ import annotations

import math
from typing import Any

from fluvius.feeds.events import PRICE_SCALE

__all__ = ["MidReturn", "spread", "spread_bp"]

NAN = math.nan


def spread(quote: Any) -> float:
    """Ask minus bid in currency units; NaN without a two-sided quote (or before one).

    >>> from fluvius.feeds.events import Quote
    >>> spread(Quote("IEX", "AB", 1, 1, 1, 10 * PRICE_SCALE, 1, 10_020_000_000, 1, 0))
    0.02
    >>> spread(None)
    nan
    """
    if quote is None or not quote.bid_px or not quote.ask_px:
        return NAN
    return float((quote.ask_px - quote.bid_px) / PRICE_SCALE)


def spread_bp(quote: Any) -> float:
    """The spread in basis points of the mid; NaN without a two-sided quote.

    >>> from fluvius.feeds.events import Quote
    >>> q = Quote("IEX", "AB", 1, 1, 1, 99 * PRICE_SCALE, 1, 101 * PRICE_SCALE, 1, 0)
    >>> round(spread_bp(q), 6)
    200.0
    """
    if quote is None or not quote.bid_px or not quote.ask_px:
        return NAN
    return float((quote.ask_px - quote.bid_px) * 2e4 / (quote.ask_px + quote.bid_px))


class MidReturn:
    """Log return of the mid, in basis points, since the last valid mid.

    Notes
    -----
    Each update takes one mid (a float; NaN or ``None`` while a side is empty). The value is
    ``1e4 * log(mid / previous valid mid)``; NaN for the first valid mid and for a missing
    one (the next valid mid is compared with the last valid one, so a one-sided spell
    neither breaks the series nor invents a return). A node of it should have
    ``cutoff=False`` when repeated equal returns (two unchanged mids: 0.0, 0.0) must each
    reach the statistics downstream.

    Examples
    --------
    >>> r = MidReturn()
    >>> for mid in (100.0, 101.0, float("nan"), 101.0, 100.0):
    ...     r.update(mid)
    ...     print(round(r.get(), 4))
    nan
    99.5033
    nan
    0.0
    -99.5033
    """

    __slots__ = ("_last", "_value")

    def __init__(self) -> None:
        self._last = NAN
        self._value = NAN

    def update(self, mid: float | None) -> None:
        """Take one mid."""
        if mid is None or not mid > 0:  # NaN, None, or a nonsense price
            self._value = NAN
            return
        last, self._last = self._last, mid
        self._value = NAN if last != last else 1e4 * math.log(mid / last)

    def get(self) -> float:
        """The last return in bp (NaN when undefined)."""
        return self._value

    def __repr__(self) -> str:
        return f"MidReturn(): {self._value:.6g}"
