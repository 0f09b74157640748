"""Supervised samples for online models: the features before a quote, and the move it made."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

from fluvius.feeds.events import PRICE_SCALE, Price, Quote, TimestampNs
from fluvius.nodes.market.quotes import MidReturn

if TYPE_CHECKING:
    import numpy as np

__all__ = ["NextMoveSample", "Sample", "sample_features", "sample_target"]


class Sample(NamedTuple):
    """Features ``x`` known before an observation, the target ``y`` it brought, its index."""

    x: tuple[float, ...]
    y: float
    n: int


class NextMoveSample:
    """Pairs (features as of the previous quote, mid move of this quote) for a model.

    Notes
    -----
    Inputs: the quote source (``quote/SYM``), then the feature values. The node acts only
    when the quote is a *new* quote object (a new tick of the source; a recomputation caused
    by a feature alone leaves the value, the very same object, unchanged, so the change
    cutoff stops it): the target is the log return of the quote's mid in bp since the last
    valid mid (:class:`MidReturn`), and the features are the latest seen *before* this
    quote (this cycle's features already include the quote's own effect). Then it stores
    the current features for the next quote. The target is NaN (a prequential model then
    predicts without learning) when the mid is missing or a feature was NaN; missing
    features are then given as 0.0, so that the model can still predict.

    Examples
    --------
    >>> from fluvius.feeds.events import Quote
    >>> q = lambda bid, ask: Quote("IEX", "AB", 1, 1, 1, bid * 10**9, 1, ask * 10**9, 1, 0)
    >>> s = NextMoveSample()
    >>> q1, q2 = q(99, 101), q(100, 102)
    >>> for quote, spread in ((q1, 200.0), (q1, 150.0), (q2, 198.0)):
    ...     s.update(quote, spread)
    ...     x, y, n = s.get()
    ...     print(x, round(y, 4), n)
    (0.0,) nan 1
    (0.0,) nan 1
    (150.0,) 99.5033 2
    """

    __slots__ = ("_move", "_n", "_quote", "_value", "_x")

    @classmethod
    def _unit_test_stream(cls, rng: np.random.Generator, n: int) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        quote: Quote | None = None
        bid = 100 * PRICE_SCALE
        for i in range(n):
            if quote is None or rng.random() < 0.7:  # a new quote, else a feature tick
                bid += int(rng.integers(-2, 3)) * 10_000_000
                ask = bid + int(rng.integers(0, 3)) * 10_000_000
                t = TimestampNs(i)
                b = Price(bid if ask > bid else 0)
                quote = Quote("IEX", "AB", t, t, i, b, 100, Price(ask), 100, 0)
            rows.append((quote, float(rng.standard_normal()), float(rng.random())))
        return rows

    def __init__(self) -> None:
        self._quote: Any = None
        self._x: tuple[float, ...] | None = None
        self._move = MidReturn()
        self._n = 0
        self._value: Sample = Sample((), math.nan, 0)

    def update(self, quote: Any, *features: float) -> None:
        """Take the quote source and the features (see the Notes)."""
        current = tuple(math.nan if f is None else float(f) for f in features)
        if quote is None or quote is self._quote:
            self._x = current  # the latest features seen before the next quote
            return
        self._quote = quote
        bid, ask = quote.bid_px, quote.ask_px
        self._move.update((bid + ask) / (2 * PRICE_SCALE) if bid and ask else math.nan)
        y = self._move.get()
        x = self._x if self._x is not None else tuple(math.nan for _ in current)
        if any(v != v for v in x):  # an incomplete sample: predict from zeros, learn nothing
            x, y = tuple(0.0 if v != v else v for v in x), math.nan
        self._n += 1
        self._value = Sample(x, y, self._n)
        self._x = current

    def get(self) -> Sample:
        """The last sample."""
        return self._value

    def __repr__(self) -> str:
        return f"NextMoveSample(n={self._n})"


def sample_features(sample: Sample) -> tuple[float, ...]:
    """The features of a sample (a model's ``x``).

    >>> sample_features(Sample((1.0, 2.0), 0.5, 3))
    (1.0, 2.0)
    """
    return sample.x


def sample_target(sample: Sample) -> float:
    """The target of a sample (a model's ``y``)."""
    return sample.y
