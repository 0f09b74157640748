"""Feed → graph: unified market events as source ticks and batches of a fluvius graph.

Design note
-----------
A graph sees market data through three sources per symbol, keyed with
:func:`fluvius.graph.make_key`:

========================  ================================================================
``quote/<SYMBOL>``        the latest quote event: a TOPS :class:`~fluvius.feeds.events.Quote`
                          or a DEEP-derived :class:`~fluvius.feeds.book.BestBidOffer`
                          (both have ``bid_px``, ``bid_sz``, ``ask_px``, ``ask_sz``)
``mid/<SYMBOL>``          the mid price as a float in currency units,
                          ``(bid_px + ask_px) / 2 / PRICE_SCALE``; NaN when a side is empty
``trade/<SYMBOL>``        the latest :class:`~fluvius.feeds.events.Trade`
========================  ================================================================

Initial values (before the first tick): ``None`` for quote and trade, NaN for mid, so a
node must accept them at start-up. The mid is a float because it feeds analytics (rolling
statistics, models); prices on events stay int64 fixed point.

The adapter does not run anything: feeds (rank 1) may not import scheduling (rank 4). It
gives ticks, ``(source key, value)`` pairs, which is what
:func:`fluvius.scheduling.run_live` consumes from one async iterable (it forms cycles
itself, conflating busy sources), and batches, ``{source key: value}`` dicts, for
:func:`fluvius.scheduling.run_graph` or ``Session.cycle``. So the *same graph* runs

* on a capture:  ``run_graph(graph, batches(iter_events(path), symbols))``;
* on live UDP:   ``run_live(session, aticks(feed.events(), symbols))`` where ``feed`` is a
  :class:`fluvius.feeds.iex.live.LiveFeed` (a replay of the same capture gives the same
  values, see ``examples/`` and ``docs/how-to/iex-live.md``).

Events of other kinds, and of symbols the graph did not declare, are skipped. A DEEP feed
has no quotes: pass its events through :func:`fluvius.feeds.book.with_books` first, and the
BBO events it adds drive ``quote/`` and ``mid/`` as TOPS quotes do.

>>> from fluvius.feeds.events import Quote
>>> q = Quote("IEX", "ZIEXT", 1, 2, 3, 99_050_000_000, 100, 99_070_000_000, 200, 0)
>>> event_ticks(q)
[('quote/ZIEXT', Quote(...)), ('mid/ZIEXT', 99.06)]
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from fluvius.feeds.events import PRICE_SCALE, Event
from fluvius.graph.keys import make_key

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

    from fluvius.graph.builder import GraphBuilder
    from fluvius.graph.node import NodeRef

__all__ = [
    "SOURCE_KINDS",
    "aticks",
    "batches",
    "declare_sources",
    "event_ticks",
    "mid_of",
    "source_key",
]

SOURCE_KINDS = ("quote", "mid", "trade")
"""The per-symbol sources, in declaration order."""

_QUOTE_KINDS = frozenset({"quote", "bbo"})
_INITIAL: dict[str, Any] = {"quote": None, "mid": math.nan, "trade": None}


def source_key(kind: str, symbol: str) -> str:
    """The source key of ``kind`` (quote, mid or trade) for ``symbol``.

    >>> source_key("mid", "BRK.B")
    'mid/BRK.B'
    """
    if kind not in _INITIAL:
        raise ValueError(f"unknown source kind {kind!r}; expected one of {SOURCE_KINDS}")
    return make_key(kind, symbol)


def declare_sources(
    builder: GraphBuilder,
    symbols: Iterable[str],
    kinds: Iterable[str] = SOURCE_KINDS,
) -> dict[str, dict[str, NodeRef]]:
    """Add the market-data sources of ``symbols`` to ``builder``.

    Returns ``refs[kind][symbol]``, the :class:`~fluvius.graph.NodeRef` of each source.
    """
    kinds = tuple(kinds)
    refs: dict[str, dict[str, NodeRef]] = {k: {} for k in kinds}
    for symbol in symbols:
        for kind in kinds:
            refs[kind][symbol] = builder.source(source_key(kind, symbol), _INITIAL[kind])
    return refs


def mid_of(bid_px: int, ask_px: int) -> float:
    """Mid price in currency units; NaN when either side is empty (price 0).

    >>> mid_of(99_050_000_000, 99_070_000_000), mid_of(0, 99_070_000_000)
    (99.06, nan)
    """
    if not bid_px or not ask_px:
        return math.nan
    return (bid_px + ask_px) / (2 * PRICE_SCALE)


def event_ticks(event: Event) -> list[tuple[str, Any]]:
    """The source ticks one event makes: quote and mid for a quote or BBO, trade for a trade."""
    kind = event.kind
    if kind in _QUOTE_KINDS:
        q: Any = event
        return [
            (make_key("quote", event.symbol), event),
            (make_key("mid", event.symbol), mid_of(q.bid_px, q.ask_px)),
        ]
    if kind == "trade":
        return [(make_key("trade", event.symbol), event)]
    return []


def _wanted(symbols: Iterable[str] | None) -> frozenset[str] | None:
    return None if symbols is None else frozenset(symbols)


def batches(
    events: Iterable[Event], symbols: Iterable[str] | None = None, *, per: str = "event"
) -> Iterator[dict[str, Any]]:
    """Source batches from events: one per event (``per="event"``), or one per group of
    events received together (``per="recv"``: same ``recv_ns``, i.e. one datagram; a later
    tick of a source in the group replaces an earlier one)."""
    if per not in ("event", "recv"):
        raise ValueError(f"per must be 'event' or 'recv', got {per!r}")
    wanted = _wanted(symbols)
    batch: dict[str, Any] = {}
    recv: int | None = None
    for event in events:
        if wanted is not None and event.symbol not in wanted:
            continue
        ticks = event_ticks(event)
        if not ticks:
            continue
        if per == "event":
            yield dict(ticks)
            continue
        if batch and event.recv_ns != recv:
            yield batch
            batch = {}
        recv = event.recv_ns
        batch.update(ticks)
    if batch:
        yield batch


async def aticks(
    events: AsyncIterable[Event] | Iterable[Event], symbols: Iterable[str] | None = None
) -> AsyncIterator[tuple[str, Any]]:
    """Source ticks from an async (live) or plain (capture) event stream, for ``run_live``."""
    wanted = _wanted(symbols)
    if hasattr(events, "__aiter__"):
        async for event in events:
            if wanted is None or event.symbol in wanted:
                for tick in event_ticks(event):
                    yield tick
    else:
        for event in events:
            if wanted is None or event.symbol in wanted:
                for tick in event_ticks(event):
                    yield tick
