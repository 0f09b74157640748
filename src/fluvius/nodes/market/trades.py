"""Trade features over the cycle's trades: VWAP, volume, signed-volume imbalance."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from fluvius.feeds.events import PRICE_SCALE, Price, TimestampNs, Trade
from fluvius.nodes.stats.rolling_sum import RollingSum
from fluvius.nodes.stats.vwap import VWAP

if TYPE_CHECKING:
    import numpy as np

__all__ = ["TradeImbalance", "TradeVWAP", "TradeVolume", "random_trades"]


def random_trades(rng: np.random.Generator, n: int) -> list[tuple[Trade, ...] | None]:
    """``n`` cycles' trades (0 to 3 each, prices near 100, some ``None``): a test stream."""
    out: list[tuple[Trade, ...] | None] = []
    px = 100 * PRICE_SCALE
    for i in range(n):
        k = int(rng.integers(0, 4))
        if k == 0 and rng.random() < 0.3:
            out.append(None)
            continue
        cycle = []
        for j in range(k):
            px += int(rng.integers(-3, 4)) * 10_000_000
            t = TimestampNs(i)
            size = int(rng.integers(1, 500))
            cycle.append(Trade("IEX", "AB", t, t, i * 4 + j, Price(px), size, j, 0))
        out.append(tuple(cycle))
    return out


class TradeVWAP:
    """Volume-weighted average price of every trade, in currency units.

    Parameters
    ----------
    window
        Count window in trades (default: the whole session); see :class:`~fluvius.nodes.stats.VWAP`.

    Notes
    -----
    Each update takes the cycle's trades (a tuple of trade events with ``px`` in 1e-9
    units and ``sz``; ``None`` or ``()`` change nothing) and passes every one of them to a
    :class:`~fluvius.nodes.stats.VWAP`, in order. NaN before the first trade.

    Examples
    --------
    >>> from fluvius.feeds.events import Trade
    >>> t = lambda px, sz: Trade("IEX", "AB", 1, 1, 1, int(px * PRICE_SCALE), sz, 0, 0)
    >>> v = TradeVWAP()
    >>> for trades in (None, (t(100.0, 200), t(101.0, 100)), (), (t(99.0, 100),)):
    ...     v.update(trades)
    ...     print(round(v.get(), 6))
    nan
    100.333333
    100.333333
    100.0
    """

    __slots__ = ("_vwap", "window")

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        return [{}, {"window": 5}]

    @classmethod
    def _unit_test_stream(cls, rng: np.random.Generator, n: int) -> list[tuple[Any, ...]]:
        return [(t,) for t in random_trades(rng, n)]

    def __init__(self, window: int | None = None) -> None:
        self.window = window
        self._vwap = VWAP(window)

    def update(self, trades: Any) -> None:
        """Take the cycle's trades."""
        update = self._vwap.update
        for trade in trades or ():
            update(trade.px / PRICE_SCALE, trade.sz)

    def get(self) -> float:
        """The VWAP (NaN before any trade)."""
        return self._vwap.get()

    def __repr__(self) -> str:
        return f"TradeVWAP(window={self.window!r}): {self.get():.6g}"


class TradeVolume:
    """Shares traded over the session (every trade of every cycle).

    >>> from fluvius.feeds.events import Trade
    >>> v = TradeVolume()
    >>> t = lambda sz: Trade("IEX", "AB", 1, 1, 1, 10 * PRICE_SCALE, sz, 0, 0)
    >>> v.update((t(100), t(50)))
    >>> v.get()
    150
    """

    __slots__ = ("shares",)

    @classmethod
    def _unit_test_stream(cls, rng: np.random.Generator, n: int) -> list[tuple[Any, ...]]:
        return [(t,) for t in random_trades(rng, n)]

    def __init__(self) -> None:
        self.shares = 0

    def update(self, trades: Any) -> None:
        """Take the cycle's trades."""
        for trade in trades or ():
            self.shares += trade.sz

    def get(self) -> int:
        """Shares traded so far."""
        return self.shares

    def __repr__(self) -> str:
        return f"TradeVolume(): {self.shares}"


class TradeImbalance:
    """Signed-volume imbalance ``(buy - sell) / (buy + sell)`` over the last ``window`` trades.

    Parameters
    ----------
    window
        Trades in the window.

    Notes
    -----
    Each update takes the cycle's trades and the mid. A trade above the mid is a buy,
    below it a sell (the quote rule); at the mid, or without a valid mid, the tick rule
    decides (above the previous trade's price: buy; below: sell; equal: as the previous
    trade). In [-1, 1]; NaN before the first signed trade.

    Examples
    --------
    >>> from fluvius.feeds.events import Trade
    >>> t = lambda px, sz: Trade("IEX", "AB", 1, 1, 1, px * PRICE_SCALE, sz, 0, 0)
    >>> imb = TradeImbalance(window=3)
    >>> for trades, mid in [((t(101, 100),), 100.0), ((t(99, 100), t(99, 200)), 100.0),
    ...                     ((t(100, 100),), float("nan"))]:
    ...     imb.update(trades, mid)
    ...     print(round(imb.get(), 4))
    1.0
    -0.5
    -0.5
    """

    __slots__ = ("_last_px", "_last_sign", "_signed", "_total", "window")

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        return [{"window": 5}]

    @classmethod
    def _unit_test_stream(cls, rng: np.random.Generator, n: int) -> list[tuple[Any, ...]]:
        mids = 100.0 + rng.standard_normal(n).cumsum() * 0.01
        mids[rng.random(n) < 0.2] = float("nan")
        return [(t, float(m)) for t, m in zip(random_trades(rng, n), mids, strict=True)]

    def __init__(self, window: int = 100) -> None:
        self.window = window
        self._signed = RollingSum(window)
        self._total = RollingSum(window)
        self._last_px = 0
        self._last_sign = 0

    def update(self, trades: Any, mid: float | None = None) -> None:
        """Take the cycle's trades and the current mid (NaN or None: tick rule only)."""
        mid_px = mid * PRICE_SCALE if mid is not None and mid == mid else None
        for trade in trades or ():
            px = trade.px
            sign = 0
            if mid_px is not None and px != mid_px:
                sign = 1 if px > mid_px else -1
            elif self._last_px and px != self._last_px:
                sign = 1 if px > self._last_px else -1
            else:
                sign = self._last_sign
            self._last_px, self._last_sign = px, sign
            self._signed.update(float(sign * trade.sz))
            self._total.update(float(trade.sz) if sign else 0.0)

    def get(self) -> float:
        """The imbalance over the window (NaN before a signed trade)."""
        total = self._total.get()
        return self._signed.get() / total if total else math.nan

    def __repr__(self) -> str:
        return f"TradeImbalance(window={self.window}): {self.get():.6g}"
